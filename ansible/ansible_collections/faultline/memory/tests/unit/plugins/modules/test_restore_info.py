# -*- coding: utf-8 -*-
"""The restore_info module against a scripted service."""

import unittest

from ansible_collections.faultline.memory.plugins.modules import restore_info
from ansible_collections.faultline.memory.tests.unit.scripted_api import ScriptedApi, problem, reply, run_module

R1 = dict(id='r1', node='node-a', name='db', state='ACTIVE', labels={'appTier': 'gold'}, workingSet=dict(mode='record'))
R2 = dict(id='r2', node='node-b', name='db', state='CLOSED', labels={}, workingSet=None)
R3 = dict(id='r3', node='node-a', name='web', state='WAITING', labels={}, workingSet=None, snapshotId='s1')


def listing(query='page=0&size=500', items=(R1, R2, R3)):
    return reply('GET', '/api/v1/restores?' + query, json_body=dict(items=list(items), page=0, size=500,
                                                                    totalItems=len(items), totalPages=1))


# (module arguments, the query the service gets, the sessions the module returns)
CASES = ((dict(name='db'), 'name=db&page=0&size=500', ['r1', 'r2']),
         (dict(state=['WAITING', 'ACTIVE']), 'page=0&size=500&state=WAITING&state=ACTIVE', ['r1', 'r3']),
         (dict(node='node-a', name='db'), 'name=db&node=node-a&page=0&size=500', ['r1']),
         (dict(snapshot_id='s1'), 'page=0&size=500&snapshotId=s1', ['r3']))


class RestoreInfoTest(unittest.TestCase):

    def test_every_session_in_snake_case_with_labels_as_they_are(self):
        api = ScriptedApi(listing())

        result = run_module(restore_info.main, {}, api, check_mode=True)

        api.assert_done()
        self.assertFalse(result['changed'])
        self.assertEqual([r['id'] for r in result['restores']], ['r1', 'r2', 'r3'])
        self.assertEqual(result['restores'][0]['working_set'], dict(mode='record'))
        self.assertEqual(result['restores'][0]['labels'], {'appTier': 'gold'})

    def test_filters_by_name_state_node_and_snapshot_on_the_service(self):
        for args, query, ids in CASES:
            with self.subTest(args=args):
                api = ScriptedApi(listing(query, [r for r in (R1, R2, R3) if r['id'] in ids]))
                result = run_module(restore_info.main, args, api)
                api.assert_done()
                self.assertEqual([r['id'] for r in result['restores']], ids)

    def test_reads_every_page(self):
        api = ScriptedApi(reply('GET', '/api/v1/restores?page=0&size=500',
                                json_body=dict(items=[R1], page=0, size=500, totalItems=501, totalPages=2)),
                          reply('GET', '/api/v1/restores?page=1&size=500',
                                json_body=dict(items=[R2], page=1, size=500, totalItems=501, totalPages=2)))

        result = run_module(restore_info.main, {}, api)

        api.assert_done()
        self.assertEqual([r['id'] for r in result['restores']], ['r1', 'r2'])

    def test_a_service_from_before_the_paged_list_is_filtered_here(self):
        for args, query, ids in CASES:
            with self.subTest(args=args):
                # such a service ignores the query and answers every session as a bare list
                api = ScriptedApi(reply('GET', '/api/v1/restores?' + query, json_body=[R1, R2, R3]))
                result = run_module(restore_info.main, args, api)
                api.assert_done()
                self.assertEqual([r['id'] for r in result['restores']], ids)

    def test_by_id_one_or_none(self):
        api = ScriptedApi(reply('GET', '/api/v1/restores/r1', json_body=R1),
                          problem('GET', '/api/v1/restores/r9', 404, 'not-found', 'Not found', 'no restore session r9'))

        self.assertEqual(len(run_module(restore_info.main, dict(id='r1'), api)['restores']), 1)
        self.assertEqual(run_module(restore_info.main, dict(id='r9'), api)['restores'], [])


if __name__ == '__main__':
    unittest.main()
