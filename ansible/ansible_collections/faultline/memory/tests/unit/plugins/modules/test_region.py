# -*- coding: utf-8 -*-
"""The region module against a scripted service: labels by merge patch with If-Match, and detach."""

import unittest

from ansible_collections.faultline.memory.plugins.modules import region
from ansible_collections.faultline.memory.tests.unit.scripted_api import (
    FakeTime,
    ScriptedApi,
    problem,
    reply,
    run_module,
)

REGION_ID = '7c2230fb-1e82-41fc-bcdd-5ad9ae12f20f'
PATH = '/api/v1/regions/' + REGION_ID
LISTING = '/api/v1/regions?page=0&size=500'
DB = dict(id=REGION_ID, node='node-a', name='db', labels={'app': 'db', 'suite': 'it'}, state='ATTACHED',
          owner=dict(pid=42, uid=0, command='demo'), length=16777216, pageSize=4096,
          pages=dict(total=4096, present=100), stats=dict(faults=dict(missing=3)))


def db(**fields):
    copy = dict(DB)
    copy.update(fields)
    return copy


def listing(*regions):
    body = dict(items=list(regions), page=0, size=500, totalItems=len(regions), totalPages=1)
    return reply('GET', LISTING, json_body=body)


def get(etag='"3"', **fields):
    return reply('GET', PATH, json_body=db(**fields), headers={'ETag': etag})


def patched(labels, expect, etag='"3"'):
    return reply('PATCH', PATH, json_body=db(labels=labels), expect=dict(labels=expect), headers={'ETag': etag})


def run_region(api, check_mode=False, clock=None, **args):
    result = run_module(region.main, args, api, check_mode=check_mode, diff=True, clock=clock)
    api.assert_done()
    return result


class LabelsTest(unittest.TestCase):

    def test_a_missing_label_is_added_by_merge_patch_with_the_etag(self):
        api = ScriptedApi(listing(DB), get(), patched({'app': 'db', 'suite': 'it', 'tier': 'gold'}, {'tier': 'gold'}))

        result = run_region(api, name='db', labels={'tier': 'gold'})

        self.assertTrue(result['changed'])
        sent = api.sent[2]
        self.assertEqual(sent.headers['If-Match'], '"3"')
        self.assertEqual(sent.headers['Content-Type'], 'application/merge-patch+json')
        self.assertEqual(result['diff']['before']['labels'], {'app': 'db', 'suite': 'it'})
        self.assertEqual(result['diff']['after']['labels'], {'app': 'db', 'suite': 'it', 'tier': 'gold'})
        self.assertNotIn('stats', result['diff']['before'], 'live counters would make every diff non-empty')
        self.assertNotIn('pages', result['region'])
        self.assertEqual(result['region']['id'], REGION_ID)

    def test_labels_already_there_are_no_change_and_no_write(self):
        api = ScriptedApi(listing(DB), get())

        result = run_region(api, name='db', labels={'app': 'db'})

        self.assertFalse(result['changed'])
        self.assertEqual(result['diff']['before'], result['diff']['after'])

    def test_check_mode_predicts_the_labels_and_writes_nothing(self):
        api = ScriptedApi(listing(DB), get())

        result = run_region(api, check_mode=True, name='db', labels={'tier': 'gold', 'suite': None})

        self.assertTrue(result['changed'])
        self.assertEqual(result['region']['labels'], {'app': 'db', 'tier': 'gold'})
        self.assertEqual([m for m, p in api.requests()], ['GET', 'GET'])

    def test_purge_removes_every_label_not_listed(self):
        api = ScriptedApi(get(), patched({'tier': 'gold'}, {'app': None, 'suite': None, 'tier': 'gold'}))

        result = run_region(api, id=REGION_ID, labels={'tier': 'gold'}, purge_labels=True)

        self.assertTrue(result['changed'])
        self.assertEqual(result['region']['labels'], {'tier': 'gold'})

    def test_purge_with_exactly_the_current_labels_is_no_change(self):
        api = ScriptedApi(get())

        self.assertFalse(run_region(api, id=REGION_ID, labels={'app': 'db', 'suite': 'it'}, purge_labels=True)['changed'])

    def test_a_null_label_is_removed_and_a_missing_null_label_is_no_change(self):
        api = ScriptedApi(get(), patched({'app': 'db'}, {'suite': None}))
        self.assertTrue(run_region(api, id=REGION_ID, labels={'suite': None})['changed'])

        again = ScriptedApi(get(labels={'app': 'db'}))
        self.assertFalse(run_region(again, id=REGION_ID, labels={'suite': None})['changed'])

    def test_numbers_are_sent_as_text_and_booleans_are_refused(self):
        api = ScriptedApi(get(), patched(dict(DB['labels'], version='2'), {'version': '2'}))
        self.assertTrue(run_region(api, id=REGION_ID, labels={'version': 2})['changed'])

        refused = ScriptedApi(get())
        result = run_region(refused, id=REGION_ID, labels={'enabled': True})
        self.assertTrue(result['failed'])
        self.assertEqual(result['msg'], 'labels.enabled must be a string, a number or null, not True; quote it')

    def test_without_labels_nothing_is_compared_or_written(self):
        api = ScriptedApi(get())

        result = run_region(api, id=REGION_ID)

        self.assertFalse(result['changed'])
        self.assertEqual(result['region']['labels'], DB['labels'])

    def test_a_stale_etag_is_read_again_and_only_the_task_s_labels_are_written(self):
        someone_elses = {'app': 'db', 'suite': 'it', 'owner': 'ops'}
        api = ScriptedApi(get(),
                          problem('PATCH', PATH, 412, 'precondition-failed', 'Precondition failed', 'region changed'),
                          get(etag='"4"', labels=someone_elses),
                          patched(dict(someone_elses, tier='gold'), {'tier': 'gold'}, etag='"5"'))

        result = run_region(api, id=REGION_ID, labels={'tier': 'gold'})

        self.assertTrue(result['changed'])
        self.assertEqual(api.sent[3].headers['If-Match'], '"4"')
        self.assertEqual(result['region']['labels'], dict(someone_elses, tier='gold'))

    def test_a_stale_etag_whose_fresh_read_already_has_the_labels_writes_nothing_more(self):
        api = ScriptedApi(get(),
                          problem('PATCH', PATH, 412, 'precondition-failed', 'Precondition failed', 'region changed'),
                          get(etag='"4"', labels={'app': 'db', 'suite': 'it', 'tier': 'gold'}))

        result = run_region(api, id=REGION_ID, labels={'tier': 'gold'})

        self.assertTrue(result['changed'], 'the region did not have the label when the task read it')
        self.assertEqual(result['region']['labels']['tier'], 'gold')

    def test_two_stale_etags_fail_with_the_service_s_problem(self):
        stale = problem('PATCH', PATH, 412, 'precondition-failed', 'Precondition failed', 'region changed since version 4')
        api = ScriptedApi(get(), stale, get(etag='"4"'), stale)

        result = run_region(api, id=REGION_ID, labels={'tier': 'gold'})

        self.assertTrue(result['failed'])
        self.assertIn('412 Precondition failed: region changed since version 4 [precondition-failed]', result['msg'])

    def test_an_ambiguous_name_fails_before_any_write(self):
        api = ScriptedApi(listing(DB, db(id='r2', labels={'app': 'web'})))

        result = run_region(api, name='db', labels={'tier': 'gold'})

        self.assertTrue(result['failed'])
        self.assertIn("2 regions are named 'db'", result['msg'])
        self.assertIn('r2 (ATTACHED, app=web)', result['msg'])

    def test_a_refused_label_fails_with_the_service_s_words(self):
        api = ScriptedApi(get(), problem('PATCH', PATH, 400, 'validation', 'Invalid request',
                                         "labels: 'Bad Key' is not a valid label key"))

        result = run_region(api, id=REGION_ID, labels={'Bad Key': 'x'})

        self.assertTrue(result['failed'])
        self.assertIn("'Bad Key' is not a valid label key [validation]", result['msg'])

    def test_id_and_name_exclude_each_other_and_one_is_needed(self):
        self.assertIn('mutually exclusive', run_module(region.main, dict(id='x', name='db'), ScriptedApi())['msg'])
        self.assertIn('one of the following is required: id, name', run_module(region.main, {}, ScriptedApi())['msg'])


class DetachTest(unittest.TestCase):

    def test_an_attached_region_is_detached_and_waited_for(self):
        clock = FakeTime()
        api = ScriptedApi(get(), reply('DELETE', PATH, 202, db(state='DETACHING')),
                          get(state='DETACHING'), get(state='DETACHED', pages=None, stats=None))

        result = run_region(api, clock=clock, id=REGION_ID, state='detached')

        self.assertTrue(result['changed'])
        self.assertEqual(result['region']['state'], 'DETACHED')
        self.assertEqual(result['diff']['before']['state'], 'ATTACHED')
        self.assertEqual(result['diff']['after']['state'], 'DETACHED')
        self.assertEqual(clock.sleeps, [2.0])

    def test_labels_are_set_before_the_region_is_detached(self):
        api = ScriptedApi(get(), patched(dict(DB['labels'], retired='yes'), {'retired': 'yes'}),
                          reply('DELETE', PATH, 202, db(state='DETACHING')), get(state='DETACHED'))

        result = run_region(api, id=REGION_ID, labels={'retired': 'yes'}, state='detached')

        self.assertTrue(result['changed'])
        self.assertEqual([m for m, p in api.requests()], ['GET', 'PATCH', 'DELETE', 'GET'])

    def test_a_detached_region_is_no_change(self):
        api = ScriptedApi(get(state='DETACHED'))

        result = run_region(api, id=REGION_ID, state='detached')

        self.assertFalse(result['changed'])

    def test_a_detaching_region_is_waited_for_but_not_detached_again(self):
        api = ScriptedApi(get(state='DETACHING'), get(state='DETACHED'))

        result = run_region(api, id=REGION_ID, state='detached')

        self.assertFalse(result['changed'])
        self.assertEqual(result['region']['state'], 'DETACHED')

    def test_check_mode_detaches_nothing(self):
        api = ScriptedApi(get())

        result = run_region(api, check_mode=True, id=REGION_ID, state='detached')

        self.assertTrue(result['changed'])
        self.assertEqual(result['region']['state'], 'DETACHED')

    def test_without_populate_and_wait_the_region_is_released_at_once_and_left_detaching(self):
        api = ScriptedApi(get(), reply('DELETE', PATH + '?populate=false', 202, db(state='DETACHING')))

        result = run_region(api, id=REGION_ID, state='detached', populate=False, wait=False)

        self.assertTrue(result['changed'])
        self.assertEqual(result['region']['state'], 'DETACHING')

    def test_a_region_that_stays_detaching_times_out_and_the_detach_is_still_reported(self):
        api = ScriptedApi(get(), reply('DELETE', PATH, 202, db(state='DETACHING')),
                          get(state='DETACHING'), get(state='DETACHING'), get(state='DETACHING'))

        result = run_region(api, id=REGION_ID, state='detached', wait_timeout=4)

        self.assertTrue(result['failed'])
        self.assertTrue(result['changed'])
        self.assertEqual(result['msg'], 'timed out after 4s waiting for region %s to be DETACHED; last seen: state '
                                        'DETACHING' % REGION_ID)
        self.assertEqual(result['last_state']['state'], 'DETACHING')
        self.assertEqual(result['diff']['before']['state'], 'ATTACHED')

    def test_an_agent_that_is_not_ready_fails_with_the_service_s_hint(self):
        api = ScriptedApi(get(), problem('DELETE', PATH, 503, 'agent-unavailable', 'Agent unavailable',
                                         'the agent is STARTING; try again when it is READY'))

        result = run_region(api, id=REGION_ID, state='detached')

        self.assertTrue(result['failed'])
        self.assertFalse(result['changed'])
        self.assertIn('[agent-unavailable]; the agent is not READY', result['msg'])


if __name__ == '__main__':
    unittest.main()
