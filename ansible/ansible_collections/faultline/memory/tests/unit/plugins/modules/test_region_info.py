# -*- coding: utf-8 -*-
"""The region_info module against a scripted service: filters, and every page of the list."""

import unittest

from ansible_collections.faultline.memory.plugins.modules import region_info
from ansible_collections.faultline.memory.tests.unit.scripted_api import ScriptedApi, problem, reply, run_module

DB = dict(id='r1', name='db', state='ATTACHED', labels={'app': 'db'}, stats=dict(faults=dict(missing=3)))
WEB = dict(id='r2', name='web', state='ATTACHED', labels={'app': 'web'})
OLD_DB = dict(id='r0', name='db', state='DETACHED', labels={'app': 'db'}, stats=None)


def page(number, items, total_pages, **query):
    query.update(page=number, size=500)
    path = '/api/v1/regions?' + '&'.join('%s=%s' % kv for kv in sorted(query.items()))
    return reply('GET', path, json_body=dict(items=items, page=number, size=500, totalItems=0, totalPages=total_pages))


def run_info(api, **args):
    result = run_module(region_info.main, args, api, check_mode=True)
    api.assert_done()
    return result


class RegionInfoTest(unittest.TestCase):

    def test_every_page_is_read_and_nothing_changes(self):
        api = ScriptedApi(page(0, [DB, WEB], 2), page(1, [OLD_DB], 2))

        result = run_info(api)

        self.assertFalse(result['changed'])
        self.assertEqual([r['id'] for r in result['regions']], ['r1', 'r2', 'r0'])
        self.assertEqual(result['regions'][0]['stats'], DB['stats'], 'info shows the live statistics')

    def test_selector_and_state_are_filters_of_the_service(self):
        api = ScriptedApi(page(0, [DB], 1, selector='app%3Ddb', state='ATTACHED'))

        self.assertEqual(run_info(api, selector='app=db', state='ATTACHED')['regions'], [DB])

    def test_a_name_may_have_several_regions(self):
        api = ScriptedApi(page(0, [DB, WEB, OLD_DB], 1))

        self.assertEqual([r['id'] for r in run_info(api, name='db')['regions']], ['r1', 'r0'])

    def test_by_id_one_or_none(self):
        api = ScriptedApi(reply('GET', '/api/v1/regions/r1', json_body=DB),
                          problem('GET', '/api/v1/regions/r9', 404, 'not-found', 'Not found', 'region r9 does not exist'))

        self.assertEqual(run_module(region_info.main, dict(id='r1'), api)['regions'], [DB])
        self.assertEqual(run_module(region_info.main, dict(id='r9'), api)['regions'], [])

    def test_by_id_the_state_still_filters(self):
        api = ScriptedApi(reply('GET', '/api/v1/regions/r1', json_body=DB))

        self.assertEqual(run_info(api, id='r1', state='DETACHED')['regions'], [])

    def test_a_bad_selector_fails_with_the_service_s_position(self):
        api = ScriptedApi(problem('GET', '/api/v1/regions?page=0&selector=tier+in+%28&size=500', 400, 'validation',
                                  'Invalid request', "selector: at position 8: expected '(' after 'in'"))

        result = run_info(api, selector='tier in (')

        self.assertTrue(result['failed'])
        self.assertIn("selector: at position 8", result['msg'])


if __name__ == '__main__':
    unittest.main()
