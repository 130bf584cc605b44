# -*- coding: utf-8 -*-
"""find_region: one region by id, or by name (and selector), or a failure that says why not."""

import unittest
from unittest import mock

from ansible_collections.faultline.memory.plugins.module_utils.api import FaultlineClient, FaultlineError
from ansible_collections.faultline.memory.plugins.module_utils.regions import find_region
from ansible_collections.faultline.memory.tests.unit.scripted_api import (
    ADMIN_TOKEN,
    URL,
    ScriptedApi,
    patch_api,
    problem,
    reply,
)


def region(region_id, name='db', state='ATTACHED', **labels):
    return dict(id=region_id, name=name, state=state, labels=labels)


def regions_page(*items, **query):
    query.update(page=0, size=500)
    path = '/api/v1/regions?' + '&'.join('%s=%s' % kv for kv in sorted(query.items()))
    return reply('GET', path, json_body=dict(items=list(items), page=0, size=500, totalItems=len(items),
                                             totalPages=1 if items else 0))


def find(api, **kwargs):
    module = mock.Mock()
    module.params = dict(url=URL, token=ADMIN_TOKEN, validate_certs=True, timeout=30)
    with patch_api(api):
        return find_region(FaultlineClient(module), **kwargs)


class FindRegionTest(unittest.TestCase):

    def test_by_id(self):
        api = ScriptedApi(reply('GET', '/api/v1/regions/r1', json_body=region('r1')))

        self.assertEqual(find(api, region_id='r1')['id'], 'r1')

    def test_an_unknown_id_says_so(self):
        api = ScriptedApi(problem('GET', '/api/v1/regions/r9', 404, 'not-found', 'Not found', 'region r9 does not exist'))

        with self.assertRaises(FaultlineError) as raised:
            find(api, region_id='r9')
        self.assertEqual(str(raised.exception), 'there is no region with id r9')

    def test_by_name_among_other_names(self):
        api = ScriptedApi(regions_page(region('r1', 'web'), region('r2', 'db')))

        self.assertEqual(find(api, name='db')['id'], 'r2')

    def test_the_selector_is_applied_by_the_service(self):
        api = ScriptedApi(regions_page(region('r2', 'db'), selector='app%3Ddb'))

        self.assertEqual(find(api, name='db', selector='app=db')['id'], 'r2')
        api.assert_done()

    def test_a_detached_namesake_is_passed_over_for_the_attached_region(self):
        api = ScriptedApi(regions_page(region('new', 'db'), region('old', 'db', 'DETACHED')))

        self.assertEqual(find(api, name='db')['id'], 'new')

    def test_a_detached_region_alone_is_found(self):
        api = ScriptedApi(regions_page(region('old', 'db', 'DETACHED')))

        self.assertEqual(find(api, name='db')['id'], 'old')

    def test_two_attached_regions_of_one_name_fail_and_are_listed(self):
        api = ScriptedApi(regions_page(region('r1', 'db', app='a'), region('r2', 'db', 'DETACHING'),
                                       region('r0', 'db', 'DETACHED')))

        with self.assertRaises(FaultlineError) as raised:
            find(api, name='db')
        self.assertEqual(str(raised.exception), "2 regions are named 'db': r1 (ATTACHED, app=a); r2 (DETACHING); "
                                                "give the region's id, or a selector that tells them apart")

    def test_no_region_of_that_name_says_where_regions_come_from(self):
        api = ScriptedApi(regions_page(region('r1', 'web'), selector='tier%3Dgold'))

        with self.assertRaises(FaultlineError) as raised:
            find(api, name='db', selector='tier=gold')
        self.assertIn("no region is named 'db' matching selector 'tier=gold'; regions are created by their workloads",
                      str(raised.exception))
        self.assertEqual(raised.exception.status, 404)


if __name__ == '__main__':
    unittest.main()
