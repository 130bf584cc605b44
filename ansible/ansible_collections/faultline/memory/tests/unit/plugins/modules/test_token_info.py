# -*- coding: utf-8 -*-
"""The token_info module against a scripted service."""

import unittest

from ansible_collections.faultline.memory.plugins.modules import token_info
from ansible_collections.faultline.memory.tests.unit.scripted_api import ScriptedApi, problem, reply, run_module

ADMIN = dict(id='a0', name='admin', role='ADMIN')
GRAFANA = dict(id='g1', name='grafana', role='VIEWER')


class TokenInfoTest(unittest.TestCase):

    def test_lists_every_token_and_changes_nothing(self):
        api = ScriptedApi(reply('GET', '/api/v1/tokens', json_body=[ADMIN, GRAFANA]))

        result = run_module(token_info.main, {}, api, check_mode=True)

        api.assert_done()
        self.assertFalse(result['changed'])
        self.assertEqual(result['tokens'], [ADMIN, GRAFANA])

    def test_name_picks_one_token_or_none(self):
        for name, expected in (('grafana', [GRAFANA]), ('nobody', [])):
            with self.subTest(name=name):
                api = ScriptedApi(reply('GET', '/api/v1/tokens', json_body=[ADMIN, GRAFANA]))
                self.assertEqual(run_module(token_info.main, dict(name=name), api)['tokens'], expected)

    def test_a_viewer_gets_the_readable_refusal(self):
        api = ScriptedApi(problem('GET', '/api/v1/tokens', 403, 'forbidden', 'Not allowed',
                                  "Your token's role does not allow this"))

        result = run_module(token_info.main, {}, api)

        self.assertTrue(result['failed'])
        self.assertIn("403 Not allowed: Your token's role does not allow this [forbidden]", result['msg'])
        self.assertEqual(result['status'], 403)


if __name__ == '__main__':
    unittest.main()
