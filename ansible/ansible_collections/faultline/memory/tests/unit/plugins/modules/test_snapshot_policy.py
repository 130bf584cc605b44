# -*- coding: utf-8 -*-
"""The snapshot_policy module against a scripted service: normalized comparison, merge patch with If-Match."""

import unittest

from ansible_collections.faultline.memory.plugins.module_utils.results import snake_case_keys as returned
from ansible_collections.faultline.memory.plugins.modules import snapshot_policy
from ansible_collections.faultline.memory.tests.unit.scripted_api import ScriptedApi, problem, reply, run_module

POLICIES = '/api/v1/snapshot-policies'
PATH = POLICIES + '/p1'
KEEP_EVERYTHING = dict(keepLast=0, hourly=0, daily=0, weekly=0, monthly=0, maxAge=None, keepVerified=0)
POLICY = dict(id='p1', name='db-hourly', selector='app=db,tier in (prod,staging)', schedule='0 * * * *',
              timeZone='Europe/Berlin', fullEvery=24,
              retention=dict(keepLast=3, hourly=24, daily=7, weekly=4, monthly=12, maxAge='P400D', keepVerified=2),
              paused=False, requireQuiesce=False, version=3, createdAt='2026-11-24T22:42:44.816807234Z',
              updatedAt='2026-11-24T22:42:44.816807234Z', lastFireTime=None, nextRunAt='2026-11-25T03:00:00Z')
TASK = dict(name='db-hourly', selector='app == db, tier in (prod, staging)', schedule=' 0 * * * * ',
            time_zone='Europe/Berlin', full_every=24,
            retention=dict(keep_last=3, hourly=24, daily=7, weekly=4, monthly=12, max_age='400d', keep_verified=2))


def policy(**fields):
    copy = dict(POLICY)
    copy.update(fields)
    return copy


def listing(*policies):
    return reply('GET', POLICIES, json_body=list(policies))


def get(etag='"3"', **fields):
    return reply('GET', PATH, json_body=policy(**fields), headers={'ETag': etag})


def task(**changes):
    args = dict(TASK)
    args.update(changes)
    return args


def run_policy(api, check_mode=False, **args):
    result = run_module(snapshot_policy.main, args, api, check_mode=check_mode, diff=True)
    api.assert_done()
    return result


class PresentTest(unittest.TestCase):

    def test_a_missing_policy_is_created_with_the_fields_the_task_sets(self):
        created = policy(version=0)
        api = ScriptedApi(listing(), reply('POST', POLICIES, 201, created, expect=dict(
            name='db-hourly', selector='app=db,tier in (prod,staging)', schedule='0 * * * *', timeZone='Europe/Berlin',
            fullEvery=24, retention=dict(keepLast=3, hourly=24, daily=7, weekly=4, monthly=12, maxAge='P400D',
                                         keepVerified=2))))

        result = run_policy(api, **TASK)

        self.assertTrue(result['changed'])
        self.assertEqual(result['policy'], returned(created))
        self.assertEqual(result['diff']['before'], {})
        self.assertNotIn('next_run_at', result['diff']['after'], 'the diff leaves out what changes by itself')

    def test_the_same_policy_spelled_differently_is_no_change(self):
        api = ScriptedApi(listing(POLICY), get())

        result = run_policy(api, **TASK)

        self.assertFalse(result['changed'])
        self.assertEqual(result['policy'], returned(POLICY))
        self.assertEqual(result['diff']['before'], result['diff']['after'])

    def test_max_age_in_either_style_is_compared_as_a_duration(self):
        for max_age in ('P400D', '400d', '9600h', 'p400d'):
            with self.subTest(max_age=max_age):
                api = ScriptedApi(listing(POLICY), get())
                retention = dict(TASK['retention'], max_age=max_age)
                self.assertFalse(run_policy(api, **task(retention=retention))['changed'])

    def test_a_changed_field_is_sent_alone_as_a_merge_patch_with_the_etag(self):
        api = ScriptedApi(listing(POLICY), get(),
                          reply('PATCH', PATH, json_body=policy(schedule='30 * * * *', version=4),
                                expect=dict(schedule='30 * * * *')))

        result = run_policy(api, **task(schedule='30 * * * *'))

        self.assertTrue(result['changed'])
        self.assertEqual(api.sent[2].headers['If-Match'], '"3"')
        self.assertEqual(api.sent[2].headers['Content-Type'], 'application/merge-patch+json')
        self.assertEqual(result['diff']['before']['schedule'], '0 * * * *')
        self.assertEqual(result['diff']['after']['schedule'], '30 * * * *')
        self.assertEqual(result['policy']['version'], 4)

    def test_options_the_task_leaves_out_keep_their_values(self):
        api = ScriptedApi(listing(POLICY), get(), reply('PATCH', PATH, json_body=policy(paused=True),
                                                        expect=dict(paused=True)))

        self.assertTrue(run_policy(api, name='db-hourly', paused=True)['changed'])

    def test_retention_is_compared_and_sent_as_a_whole(self):
        # only keep_last given: the other rules go to their defaults, and the age limit goes (null removes it)
        wanted = dict(KEEP_EVERYTHING, keepLast=5)
        api = ScriptedApi(listing(POLICY), get(), reply('PATCH', PATH, json_body=policy(retention=wanted),
                                                        expect=dict(retention=wanted)))

        result = run_policy(api, name='db-hourly', retention=dict(keep_last=5))

        self.assertTrue(result['changed'])
        self.assertEqual(result['policy']['retention'], returned(wanted))

    def test_check_mode_predicts_the_change_and_writes_nothing(self):
        api = ScriptedApi(listing(POLICY), get())

        result = run_policy(api, check_mode=True, **task(full_every=6, require_quiesce=True))

        self.assertTrue(result['changed'])
        self.assertEqual(result['policy']['full_every'], 6)
        self.assertEqual(result['policy']['require_quiesce'], True)
        self.assertEqual(result['diff']['before']['full_every'], 24)

    def test_check_mode_of_a_new_policy_creates_nothing(self):
        api = ScriptedApi(listing())

        result = run_policy(api, check_mode=True, **TASK)

        self.assertTrue(result['changed'])
        self.assertEqual(result['policy']['selector'], 'app=db,tier in (prod,staging)')
        self.assertEqual(result['policy']['retention']['max_age'], 'P400D')

    def test_creating_needs_selector_schedule_and_time_zone(self):
        api = ScriptedApi(listing())

        result = run_policy(api, name='db-hourly', schedule='@daily')

        self.assertTrue(result['failed'])
        self.assertEqual(result['msg'], "snapshot policy 'db-hourly' does not exist; to create it, the task needs "
                                        "selector, time_zone")

    def test_an_empty_selector_selects_every_region_and_is_a_value(self):
        api = ScriptedApi(listing(), reply('POST', POLICIES, 201, policy(selector=''), expect=dict(
            name='all', selector='', schedule='@daily', timeZone='UTC')))

        self.assertTrue(run_policy(api, name='all', selector='', schedule='@daily', time_zone='UTC')['changed'])

    def test_a_stale_etag_is_read_again_and_only_the_differences_are_sent(self):
        api = ScriptedApi(listing(POLICY), get(),
                          problem('PATCH', PATH, 412, 'precondition-failed', 'Precondition failed', 'stale'),
                          get(etag='"4"', version=4, paused=True),
                          reply('PATCH', PATH, json_body=policy(version=5, paused=True, fullEvery=6),
                                expect=dict(fullEvery=6)))

        result = run_policy(api, name='db-hourly', full_every=6)

        self.assertTrue(result['changed'])
        self.assertEqual(api.sent[4].headers['If-Match'], '"4"')
        self.assertTrue(result['policy']['paused'], 'the concurrent change was kept')

    def test_a_refused_definition_fails_with_the_field_errors(self):
        api = ScriptedApi(listing(POLICY), get(), problem(
            'PATCH', PATH, 400, 'validation', 'Invalid request', 'Request has invalid fields',
            errors=[dict(field='schedule', message='cron expression must consist of 5 or 6 fields')]))

        result = run_policy(api, name='db-hourly', schedule='every hour')

        self.assertTrue(result['failed'])
        self.assertIn('(schedule: cron expression must consist of 5 or 6 fields) [validation]', result['msg'])


class AbsentTest(unittest.TestCase):

    def test_an_existing_policy_is_deleted(self):
        api = ScriptedApi(listing(POLICY), get(), reply('DELETE', PATH, 204))

        result = run_policy(api, name='db-hourly', state='absent')

        self.assertTrue(result['changed'])
        self.assertEqual(result['diff']['after'], {})
        self.assertEqual(result['diff']['before']['name'], 'db-hourly')
        self.assertNotIn('If-Match', api.sent[2].headers, 'absent deletes whatever version there is')

    def test_a_missing_policy_is_no_change(self):
        api = ScriptedApi(listing())

        self.assertFalse(run_policy(api, name='db-hourly', state='absent')['changed'])

    def test_check_mode_deletes_nothing(self):
        api = ScriptedApi(listing(POLICY), get())

        self.assertTrue(run_policy(api, check_mode=True, name='db-hourly', state='absent')['changed'])

    def test_a_policy_deleted_by_someone_else_meanwhile_is_absent_as_asked(self):
        api = ScriptedApi(listing(POLICY), get(),
                          problem('DELETE', PATH, 404, 'not-found', 'Not found', 'snapshot policy p1 does not exist'))

        result = run_policy(api, name='db-hourly', state='absent')

        self.assertNotIn('failed', result)


if __name__ == '__main__':
    unittest.main()
