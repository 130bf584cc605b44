# -*- coding: utf-8 -*-
"""The snapshot module against a scripted service: take (and its idempotent form), wait, verify, delete."""

import datetime
import unittest
from unittest import mock
from urllib.parse import parse_qs, urlsplit

from ansible_collections.faultline.memory.plugins.module_utils.results import snake_case_keys as returned
from ansible_collections.faultline.memory.plugins.modules import snapshot
from ansible_collections.faultline.memory.tests.unit.scripted_api import ScriptedApi, problem, reply, run_module

REGION_ID = '7c2230fb-1e82-41fc-bcdd-5ad9ae12f20f'
SNAPSHOTS = '/api/v1/snapshots'
PATH = SNAPSHOTS + '/s1'
REGION = dict(id=REGION_ID, name='db', state='ATTACHED', labels={'app': 'db'})
PENDING = dict(id='s1', regionId=REGION_ID, regionName='db', kind='FULL', parentId=None, state='PENDING',
               createdAt='2026-11-24T22:46:03.137885Z', verification=dict(state='UNVERIFIED', lastVerifiedAt=None),
               error=None)
NOW = datetime.datetime(2026, 11, 24, 23, 0, 0, tzinfo=datetime.timezone.utc)
ENGINE_MISSING = 'snapshot engine not available in this agent version'


def snap(**fields):
    copy = dict(PENDING)
    copy.update(fields)
    return copy


def region_by_id():
    return reply('GET', '/api/v1/regions/' + REGION_ID, json_body=REGION)


def recent(*items, **query):
    """The list unless_newer_than asks for: the region's newest snapshot that counts, since an hour before NOW."""
    params = dict(createdFrom='2026-11-24T22%3A00%3A00Z', page=0, regionId=REGION_ID, size=1)
    params.update(query)
    path = SNAPSHOTS + '?' + '&'.join('%s=%s' % kv for kv in sorted(params.items()))
    path = path.replace('&size=1', '&size=1&state=PENDING&state=RUNNING&state=COMPLETED')
    return reply('GET', path, json_body=dict(items=list(items), page=0, size=1, totalItems=len(items),
                                             totalPages=len(items)))


def get(**fields):
    return reply('GET', PATH, json_body=snap(**fields))


def operation(state, kind='VERIFY', **fields):
    op = dict(id='o1', snapshotId='s1', kind=kind, state=state, result=None, error=None)
    op.update(fields)
    return op


class FrozenDatetime(datetime.datetime):
    @classmethod
    def now(cls, tz=None):
        return NOW


def run_snapshot(api, check_mode=False, **args):
    with mock.patch.object(snapshot.datetime, 'datetime', FrozenDatetime):
        result = run_module(snapshot.main, args, api, check_mode=check_mode, diff=True)
    api.assert_done()
    return result


class TakeTest(unittest.TestCase):

    def test_every_run_takes_a_snapshot_and_waits_until_it_completed(self):
        api = ScriptedApi(region_by_id(), reply('POST', SNAPSHOTS, 202, PENDING, expect=dict(regionId=REGION_ID)),
                          get(state='RUNNING'), get(state='COMPLETED', sizeBytes=16777216))

        result = run_snapshot(api, region_id=REGION_ID)

        self.assertTrue(result['changed'])
        self.assertEqual(result['snapshot']['state'], 'COMPLETED')
        self.assertEqual(result['diff']['before'], {})
        self.assertEqual(result['diff']['after']['id'], 's1')

    def test_a_failed_snapshot_fails_the_task_with_the_service_s_reason_and_is_reported_as_taken(self):
        api = ScriptedApi(region_by_id(), reply('POST', SNAPSHOTS, 202, PENDING),
                          get(state='FAILED', error=ENGINE_MISSING))

        result = run_snapshot(api, region_id=REGION_ID)

        self.assertTrue(result['failed'])
        self.assertEqual(result['msg'], "snapshot s1 of region 'db' FAILED: " + ENGINE_MISSING)
        self.assertTrue(result['changed'], 'the catalog has a new (failed) snapshot')
        self.assertEqual(result['snapshot']['error'], ENGINE_MISSING)

    def test_without_wait_the_pending_snapshot_is_returned(self):
        api = ScriptedApi(region_by_id(), reply('POST', SNAPSHOTS, 202, PENDING))

        result = run_snapshot(api, region_id=REGION_ID, wait=False)

        self.assertTrue(result['changed'])
        self.assertEqual(result['snapshot']['state'], 'PENDING')

    def test_a_snapshot_that_never_ends_times_out(self):
        api = ScriptedApi(region_by_id(), reply('POST', SNAPSHOTS, 202, PENDING), get(state='RUNNING'),
                          get(state='RUNNING'))

        result = run_snapshot(api, region_id=REGION_ID, wait_timeout=2)

        self.assertTrue(result['failed'])
        self.assertEqual(result['msg'], "timed out after 2s waiting for snapshot s1 of region 'db' to complete; "
                                        "last seen: state RUNNING")
        self.assertEqual(result['last_state']['state'], 'RUNNING')

    def test_the_region_by_name_kind_and_parent_are_sent(self):
        api = ScriptedApi(reply('GET', '/api/v1/regions?page=0&selector=app%3Ddb&size=500',
                                json_body=dict(items=[REGION], page=0, size=500, totalItems=1, totalPages=1)),
                          reply('POST', SNAPSHOTS, 202, snap(kind='INCREMENTAL', parentId='s0'),
                                expect=dict(regionId=REGION_ID, kind='INCREMENTAL', parentId='s0')))

        result = run_snapshot(api, region='db', region_selector='app=db', kind='INCREMENTAL', parent_id='s0', wait=False)

        self.assertTrue(result['changed'])

    def test_check_mode_takes_nothing(self):
        api = ScriptedApi(region_by_id())

        result = run_snapshot(api, check_mode=True, region_id=REGION_ID)

        self.assertTrue(result['changed'])
        self.assertEqual(result['snapshot'], dict(region_id=REGION_ID, region_name='db', kind='FULL', parent_id=None))

    def test_one_job_per_region_is_the_service_s_refusal(self):
        api = ScriptedApi(region_by_id(), problem('POST', SNAPSHOTS, 409, 'snapshot-in-progress', 'Snapshot in progress',
                                                  'snapshot s0 of region %s is still RUNNING' % REGION_ID))

        result = run_snapshot(api, region_id=REGION_ID)

        self.assertTrue(result['failed'])
        self.assertFalse(result['changed'])
        self.assertIn('is still RUNNING [snapshot-in-progress]', result['msg'])


class UnlessNewerThanTest(unittest.TestCase):

    def test_a_recent_completed_snapshot_means_none_is_taken(self):
        done = snap(state='COMPLETED')
        api = ScriptedApi(region_by_id(), recent(done))

        result = run_snapshot(api, region_id=REGION_ID, unless_newer_than='1h')

        self.assertFalse(result['changed'])
        self.assertEqual(result['snapshot'], returned(done))
        self.assertEqual(result['diff']['before'], result['diff']['after'])

    def test_no_recent_snapshot_means_one_is_taken(self):
        api = ScriptedApi(region_by_id(), recent(), reply('POST', SNAPSHOTS, 202, PENDING), get(state='COMPLETED'))

        self.assertTrue(run_snapshot(api, region_id=REGION_ID, unless_newer_than='PT1H')['changed'])

    def test_a_recent_snapshot_still_being_taken_counts_and_is_waited_for(self):
        api = ScriptedApi(region_by_id(), recent(snap(state='RUNNING')), get(state='COMPLETED'))

        result = run_snapshot(api, region_id=REGION_ID, unless_newer_than='60m')

        self.assertFalse(result['changed'])
        self.assertEqual(result['snapshot']['state'], 'COMPLETED')

    def test_the_window_is_asked_of_the_service_in_utc_with_the_kind_when_given(self):
        api = ScriptedApi(region_by_id(), recent(snap(state='COMPLETED', kind='INCREMENTAL'), kind='INCREMENTAL'))

        run_snapshot(api, region_id=REGION_ID, unless_newer_than='1h', kind='INCREMENTAL')

        query = parse_qs(urlsplit(api.sent[1].path).query)
        self.assertEqual(query['createdFrom'], ['2026-11-24T22:00:00Z'])
        self.assertEqual(query['state'], ['PENDING', 'RUNNING', 'COMPLETED'], 'a FAILED snapshot does not count')
        self.assertEqual(query['kind'], ['INCREMENTAL'])

    def test_a_duration_that_is_not_one_fails_before_any_write(self):
        api = ScriptedApi(region_by_id())

        result = run_snapshot(api, region_id=REGION_ID, unless_newer_than='an hour')

        self.assertTrue(result['failed'])
        self.assertEqual(result['msg'], "unless_newer_than 'an hour' is not a positive duration such as 30m, 1h, 1d or PT1H")


class ExistingSnapshotTest(unittest.TestCase):

    def test_by_id_a_completed_snapshot_is_no_change(self):
        api = ScriptedApi(get(state='COMPLETED'))

        result = run_snapshot(api, id='s1')

        self.assertFalse(result['changed'])

    def test_by_id_a_failed_snapshot_fails_the_task_when_waiting(self):
        api = ScriptedApi(get(state='FAILED', error=ENGINE_MISSING))

        result = run_snapshot(api, id='s1')

        self.assertTrue(result['failed'])
        self.assertFalse(result['changed'])
        self.assertIn(ENGINE_MISSING, result['msg'])

    def test_an_unknown_id_fails(self):
        api = ScriptedApi(problem('GET', PATH, 404, 'not-found', 'Not found', 'snapshot s1 does not exist'))

        result = run_snapshot(api, id='s1')

        self.assertEqual(result['msg'], 'there is no snapshot with id s1')

    def test_verify_runs_a_verification_and_waits_for_its_outcome(self):
        verified = dict(state='VERIFIED', lastVerifiedAt='2026-11-24T23:00:00Z')
        api = ScriptedApi(get(state='COMPLETED'),
                          reply('POST', PATH + '/verify', 202, operation('PENDING')),
                          reply('GET', PATH + '/operations/o1', json_body=operation('RUNNING')),
                          reply('GET', PATH + '/operations/o1', json_body=operation('SUCCEEDED', result='VERIFIED')),
                          get(state='COMPLETED', verification=verified))

        result = run_snapshot(api, id='s1', verify=True)

        self.assertTrue(result['changed'])
        self.assertEqual(result['operation']['result'], 'VERIFIED')
        self.assertEqual(result['diff']['before']['verification']['state'], 'UNVERIFIED')
        self.assertEqual(result['diff']['after']['verification'], returned(verified))

    def test_a_corrupt_snapshot_fails_the_task(self):
        corrupt = dict(state='CORRUPT', lastVerifiedAt='2026-11-24T23:00:00Z')
        api = ScriptedApi(get(state='COMPLETED'),
                          reply('POST', PATH + '/verify', 202, operation('SUCCEEDED', result='CORRUPT: page 17')),
                          get(state='COMPLETED', verification=corrupt))

        result = run_snapshot(api, id='s1', verify=True)

        self.assertTrue(result['failed'])
        self.assertEqual(result['msg'], "verifying snapshot s1 of region 'db' found it CORRUPT: page 17")
        self.assertEqual(result['snapshot']['verification'], returned(corrupt))

    def test_a_verification_that_failed_fails_with_its_error(self):
        api = ScriptedApi(get(state='COMPLETED'),
                          reply('POST', PATH + '/verify', 202, operation('FAILED', error=ENGINE_MISSING)),
                          get(state='COMPLETED'))

        result = run_snapshot(api, id='s1', verify=True)

        self.assertTrue(result['failed'])
        self.assertEqual(result['msg'], "verifying snapshot s1 of region 'db' FAILED: " + ENGINE_MISSING)

    def test_verify_waits_for_a_new_snapshot_even_without_wait(self):
        api = ScriptedApi(region_by_id(), reply('POST', SNAPSHOTS, 202, PENDING), get(state='FAILED', error=ENGINE_MISSING))

        result = run_snapshot(api, region_id=REGION_ID, wait=False, verify=True)

        self.assertTrue(result['failed'])
        self.assertIn('FAILED: ' + ENGINE_MISSING, result['msg'])

    def test_a_snapshot_that_cannot_be_verified_is_the_service_s_refusal_and_no_change(self):
        api = ScriptedApi(get(state='COMPLETED'), problem('POST', PATH + '/verify', 409, 'conflict', 'Conflict',
                                                          'snapshot s1 has a RESTORE operation (o0) in progress'))

        result = run_snapshot(api, id='s1', verify=True)

        self.assertTrue(result['failed'])
        self.assertFalse(result['changed'])

    def test_verify_in_check_mode_reports_a_change_and_runs_none(self):
        api = ScriptedApi(get(state='COMPLETED'))

        self.assertTrue(run_snapshot(api, check_mode=True, id='s1', verify=True)['changed'])


class DeleteTest(unittest.TestCase):

    def test_a_snapshot_is_deleted_and_waited_for(self):
        api = ScriptedApi(get(state='COMPLETED'),
                          reply('DELETE', PATH, 202, operation('PENDING', kind='DELETE')),
                          reply('GET', PATH + '/operations/o1', json_body=operation('SUCCEEDED', kind='DELETE')),
                          get(state='DELETED'))

        result = run_snapshot(api, id='s1', state='absent')

        self.assertTrue(result['changed'])
        self.assertEqual(result['snapshot']['state'], 'DELETED')
        self.assertEqual(result['diff']['before']['state'], 'COMPLETED')
        self.assertEqual(result['operation']['state'], 'SUCCEEDED')

    def test_consolidate_is_asked_for(self):
        api = ScriptedApi(get(state='COMPLETED'),
                          reply('DELETE', PATH + '?consolidate=true', 202, operation('PENDING', kind='DELETE')),
                          get(state='COMPLETED'))

        result = run_snapshot(api, id='s1', state='absent', consolidate=True, wait=False)

        self.assertTrue(result['changed'])

    def test_a_deleted_or_unknown_snapshot_is_no_change(self):
        for found in (get(state='DELETED'), problem('GET', PATH, 404, 'not-found', 'Not found', 'no snapshot s1')):
            with self.subTest(found=found.status):
                self.assertFalse(run_snapshot(ScriptedApi(found), id='s1', state='absent')['changed'])

    def test_a_deletion_under_way_is_waited_for_and_not_asked_for_again(self):
        api = ScriptedApi(get(state='DELETING'),
                          reply('GET', PATH + '/operations', json_body=[operation('RUNNING', kind='DELETE'),
                                                                        operation('SUCCEEDED', id='o0')]),
                          reply('GET', PATH + '/operations/o1', json_body=operation('SUCCEEDED', kind='DELETE')),
                          get(state='DELETED'))

        result = run_snapshot(api, id='s1', state='absent')

        self.assertFalse(result['changed'])
        self.assertEqual(result['snapshot']['state'], 'DELETED')

    def test_a_deletion_that_failed_earlier_is_retried(self):
        api = ScriptedApi(get(state='DELETING'),
                          reply('GET', PATH + '/operations', json_body=[operation('FAILED', kind='DELETE', error='io')]),
                          reply('DELETE', PATH, 202, operation('PENDING', kind='DELETE', id='o2')),
                          reply('GET', PATH + '/operations/o2', json_body=operation('SUCCEEDED', kind='DELETE', id='o2')),
                          get(state='DELETED'))

        self.assertTrue(run_snapshot(api, id='s1', state='absent')['changed'])

    def test_a_failed_deletion_fails_with_its_error(self):
        api = ScriptedApi(get(state='COMPLETED'),
                          reply('DELETE', PATH + '?consolidate=true', 202,
                                operation('FAILED', kind='DELETE', error=ENGINE_MISSING)),
                          get(state='COMPLETED'))

        result = run_snapshot(api, id='s1', state='absent', consolidate=True)

        self.assertTrue(result['failed'])
        self.assertTrue(result['changed'])
        self.assertEqual(result['msg'], "deleting snapshot s1 of region 'db' FAILED: " + ENGINE_MISSING)

    def test_dependents_are_the_service_s_refusal(self):
        api = ScriptedApi(get(state='COMPLETED'), problem(
            'DELETE', PATH, 409, 'snapshot-has-dependents', 'Snapshot has dependents',
            'incremental snapshot(s) s2 depend on snapshot s1; delete them first, or delete with ?consolidate=true'))

        result = run_snapshot(api, id='s1', state='absent')

        self.assertTrue(result['failed'])
        self.assertFalse(result['changed'])
        self.assertIn('[snapshot-has-dependents]', result['msg'])

    def test_a_deletion_finished_by_someone_else_meanwhile_is_no_change(self):
        api = ScriptedApi(get(state='COMPLETED'), reply('DELETE', PATH, 204), get(state='DELETED'))

        result = run_snapshot(api, id='s1', state='absent')

        self.assertFalse(result['changed'])
        self.assertEqual(result['snapshot']['state'], 'DELETED')

    def test_check_mode_deletes_nothing(self):
        api = ScriptedApi(get(state='FAILED'))

        result = run_snapshot(api, check_mode=True, id='s1', state='absent')

        self.assertTrue(result['changed'])
        self.assertEqual(result['snapshot']['state'], 'DELETED')

    def test_absent_needs_an_id(self):
        result = run_module(snapshot.main, dict(region_id=REGION_ID, state='absent'), ScriptedApi())

        self.assertIn('state is absent but all of the following are missing: id', result['msg'])


if __name__ == '__main__':
    unittest.main()
