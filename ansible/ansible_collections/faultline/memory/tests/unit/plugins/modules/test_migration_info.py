# -*- coding: utf-8 -*-
"""The migration_info module against a scripted service speaking docs/api-migrations.md."""

import unittest

from ansible_collections.faultline.memory.plugins.module_utils.results import snake_case_keys as returned
from ansible_collections.faultline.memory.plugins.modules import migration_info
from ansible_collections.faultline.memory.tests.unit.scripted_api import ScriptedApi, problem, reply, run_module

M1 = dict(id='m1', regionId='r1', phase='COMPLETED')
M2 = dict(id='m2', regionId='r1', phase='FAILED', error='peer gone')


def page(path, items, number=0, total_pages=1):
    return reply('GET', path, json_body=dict(items=items, page=number, size=500, totalItems=0, totalPages=total_pages))


class MigrationInfoTest(unittest.TestCase):

    def test_every_page_and_nothing_changes(self):
        api = ScriptedApi(page('/api/v1/migrations?page=0&size=500', [M1], 0, 2),
                          page('/api/v1/migrations?page=1&size=500', [M2], 1, 2))

        result = run_module(migration_info.main, {}, api, check_mode=True)

        api.assert_done()
        self.assertFalse(result['changed'])
        self.assertEqual(result['migrations'], returned([M1, M2]))

    def test_the_push_connections_asked_for_and_those_pushed_on_are_shown(self):
        pushed = dict(M1, options=dict(pushConnections=4), stats=dict(pushConnections=1))
        api = ScriptedApi(reply('GET', '/api/v1/migrations/m1', json_body=pushed))

        shown = run_module(migration_info.main, dict(id='m1'), api)['migrations'][0]

        api.assert_done()
        self.assertEqual(shown['options']['push_connections'], 4)
        self.assertEqual(shown['stats']['push_connections'], 1, 'the destination agent took no more')

    def test_the_region_by_name_a_phase_and_a_limit(self):
        api = ScriptedApi(page('/api/v1/regions?page=0&size=500', [dict(id='r1', name='db', state='ATTACHED')]),
                          page('/api/v1/migrations?page=0&phase=FAILED&regionId=r1&size=1', [M2]))

        result = run_module(migration_info.main, dict(region='db', phase='FAILED', limit=1), api)

        api.assert_done()
        self.assertEqual(result['migrations'], returned([M2]))

    def test_by_id_one_or_none(self):
        api = ScriptedApi(reply('GET', '/api/v1/migrations/m1', json_body=M1),
                          problem('GET', '/api/v1/migrations/m9', 404, 'not-found', 'Not found', 'no migration m9'))

        self.assertEqual(run_module(migration_info.main, dict(id='m1'), api)['migrations'], returned([M1]))
        self.assertEqual(run_module(migration_info.main, dict(id='m9'), api)['migrations'], [])


if __name__ == '__main__':
    unittest.main()
