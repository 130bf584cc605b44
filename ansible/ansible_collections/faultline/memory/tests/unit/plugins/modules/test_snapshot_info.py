# -*- coding: utf-8 -*-
"""The snapshot_info module against a scripted service: the list's filters, every page, a limit."""

import unittest
from urllib.parse import parse_qs, urlsplit

from ansible_collections.faultline.memory.plugins.module_utils.results import snake_case_keys as returned
from ansible_collections.faultline.memory.plugins.modules import snapshot_info
from ansible_collections.faultline.memory.tests.unit.scripted_api import ScriptedApi, problem, reply, run_module

S1 = dict(id='s1', regionId='r1', state='COMPLETED')
S2 = dict(id='s2', regionId='r1', state='FAILED', error='snapshot engine not available in this agent version')


def page(path, items, number=0, total_pages=1):
    return reply('GET', path, json_body=dict(items=items, page=number, size=500, totalItems=0, totalPages=total_pages))


class SnapshotInfoTest(unittest.TestCase):

    def test_every_page_and_nothing_changes(self):
        api = ScriptedApi(page('/api/v1/snapshots?page=0&size=500', [S1], 0, 2),
                          page('/api/v1/snapshots?page=1&size=500', [S2], 1, 2))

        result = run_module(snapshot_info.main, {}, api, check_mode=True)

        api.assert_done()
        self.assertFalse(result['changed'])
        self.assertEqual(result['snapshots'], returned([S1, S2]))

    def test_the_filters_are_the_service_s(self):
        api = ScriptedApi(page('/api/v1/snapshots?createdFrom=2026-11-01T00%3A00%3A00Z&createdTo=2026-12-01T00%3A00%3A00Z'
                               '&kind=FULL&page=0&policyId=p1&regionId=r1&size=500&state=COMPLETED&state=FAILED', returned([S1, S2])))

        result = run_module(snapshot_info.main, dict(region_id='r1', policy_id='p1', state=['COMPLETED', 'FAILED'],
                                                     kind='FULL', created_from='2026-11-01T00:00:00Z',
                                                     created_to='2026-12-01T00:00:00Z'), api)

        api.assert_done()
        self.assertEqual(len(result['snapshots']), 2)

    def test_a_region_and_a_policy_by_name(self):
        api = ScriptedApi(page('/api/v1/regions?page=0&size=500', [dict(id='r1', name='db', state='ATTACHED')]),
                          reply('GET', '/api/v1/snapshot-policies', json_body=[dict(id='p1', name='db-hourly')]),
                          page('/api/v1/snapshots?page=0&policyId=p1&regionId=r1&size=1', [S1]))

        result = run_module(snapshot_info.main, dict(region='db', policy='db-hourly', limit=1), api)

        api.assert_done()
        self.assertEqual(result['snapshots'], returned([S1]))
        self.assertEqual(parse_qs(urlsplit(api.sent[2].path).query)['size'], ['1'])

    def test_an_unknown_policy_name_has_no_snapshots(self):
        api = ScriptedApi(reply('GET', '/api/v1/snapshot-policies', json_body=[]))

        self.assertEqual(run_module(snapshot_info.main, dict(policy='nope'), api)['snapshots'], [])

    def test_by_id_one_or_none(self):
        api = ScriptedApi(reply('GET', '/api/v1/snapshots/s1', json_body=S1),
                          problem('GET', '/api/v1/snapshots/s9', 404, 'not-found', 'Not found', 'no snapshot s9'))

        self.assertEqual(run_module(snapshot_info.main, dict(id='s1'), api)['snapshots'], returned([S1]))
        self.assertEqual(run_module(snapshot_info.main, dict(id='s9'), api)['snapshots'], [])

    def test_a_bad_filter_is_the_service_s_refusal(self):
        api = ScriptedApi(problem('GET', '/api/v1/snapshots?createdFrom=2026-12-01T00%3A00%3A00Z'
                                  '&createdTo=2026-11-01T00%3A00%3A00Z&page=0&size=500', 400, 'bad-request', 'Bad request',
                                  'createdFrom must be before createdTo'))

        result = run_module(snapshot_info.main, dict(created_from='2026-12-01T00:00:00Z',
                                                     created_to='2026-11-01T00:00:00Z'), api)

        self.assertTrue(result['failed'])
        self.assertIn('createdFrom must be before createdTo [bad-request]', result['msg'])


if __name__ == '__main__':
    unittest.main()
