# -*- coding: utf-8 -*-
"""The restore_info module against a scripted service."""

import unittest

from ansible_collections.faultline.memory.plugins.modules import restore_info
from ansible_collections.faultline.memory.tests.unit.scripted_api import ScriptedApi, problem, reply, run_module

R1 = dict(id='r1', node='node-a', name='db', state='ACTIVE', labels={'appTier': 'gold'}, workingSet=dict(mode='record'))
R2 = dict(id='r2', node='node-b', name='db', state='CLOSED', labels={}, workingSet=None)
R3 = dict(id='r3', node='node-a', name='web', state='WAITING', labels={}, workingSet=None, snapshotId='s1')


def listing():
    return reply('GET', '/api/v1/restores', json_body=[R1, R2, R3])


class RestoreInfoTest(unittest.TestCase):

    def test_every_session_in_snake_case_with_labels_as_they_are(self):
        api = ScriptedApi(listing())

        result = run_module(restore_info.main, {}, api, check_mode=True)

        api.assert_done()
        self.assertFalse(result['changed'])
        self.assertEqual([r['id'] for r in result['restores']], ['r1', 'r2', 'r3'])
        self.assertEqual(result['restores'][0]['working_set'], dict(mode='record'))
        self.assertEqual(result['restores'][0]['labels'], {'appTier': 'gold'})

    def test_filters_by_name_state_node_and_snapshot(self):
        for args, ids in ((dict(name='db'), ['r1', 'r2']), (dict(state=['WAITING', 'ACTIVE']), ['r1', 'r3']),
                          (dict(node='node-a', name='db'), ['r1']), (dict(snapshot_id='s1'), ['r3'])):
            with self.subTest(args=args):
                result = run_module(restore_info.main, args, ScriptedApi(listing()))
                self.assertEqual([r['id'] for r in result['restores']], ids)

    def test_by_id_one_or_none(self):
        api = ScriptedApi(reply('GET', '/api/v1/restores/r1', json_body=R1),
                          problem('GET', '/api/v1/restores/r9', 404, 'not-found', 'Not found', 'no restore session r9'))

        self.assertEqual(len(run_module(restore_info.main, dict(id='r1'), api)['restores']), 1)
        self.assertEqual(run_module(restore_info.main, dict(id='r9'), api)['restores'], [])


if __name__ == '__main__':
    unittest.main()
