# -*- coding: utf-8 -*-
"""The snapshot_policy_info module against a scripted service."""

import unittest

from ansible_collections.faultline.memory.plugins.module_utils.results import snake_case_keys as returned
from ansible_collections.faultline.memory.plugins.modules import snapshot_policy_info
from ansible_collections.faultline.memory.tests.unit.scripted_api import ScriptedApi, reply, run_module

DB = dict(id='p1', name='db-hourly', paused=False)
WEB = dict(id='p2', name='web-daily', paused=True)
PREVIEW = dict(policyId='p1', name='db-hourly', paused=False, timeZone='UTC',
               nextRuns=[dict(at='2026-11-25T03:00:00Z', utc='2026-11-25T03:00:00Z')],
               retention=dict(evaluatedAt='2026-11-24T23:00:00Z', keep=0, prune=0, snapshots=[]))


class SnapshotPolicyInfoTest(unittest.TestCase):

    def test_lists_every_policy_and_changes_nothing(self):
        api = ScriptedApi(reply('GET', '/api/v1/snapshot-policies', json_body=[DB, WEB]))

        result = run_module(snapshot_policy_info.main, {}, api, check_mode=True)

        api.assert_done()
        self.assertFalse(result['changed'])
        self.assertEqual(result['policies'], [DB, WEB])

    def test_one_by_name_with_its_preview(self):
        api = ScriptedApi(reply('GET', '/api/v1/snapshot-policies', json_body=[DB, WEB]),
                          reply('GET', '/api/v1/snapshot-policies/p1/preview?count=3', json_body=PREVIEW))

        result = run_module(snapshot_policy_info.main, dict(name='db-hourly', preview=True, preview_count=3), api)

        api.assert_done()
        self.assertEqual(result['policies'], returned([dict(DB, preview=PREVIEW)]))

    def test_an_unknown_name_is_an_empty_list(self):
        api = ScriptedApi(reply('GET', '/api/v1/snapshot-policies', json_body=[DB]))

        self.assertEqual(run_module(snapshot_policy_info.main, dict(name='nope', preview=True), api)['policies'], [])


if __name__ == '__main__':
    unittest.main()
