# -*- coding: utf-8 -*-
"""Every module's results in snake_case: the service's camelCase keys renamed once, the user's labels kept."""

import unittest

from ansible_collections.faultline.memory.plugins.module_utils.results import snake_case, snake_case_keys
from ansible_collections.faultline.memory.plugins.modules import token_info
from ansible_collections.faultline.memory.tests.unit.scripted_api import ScriptedApi, problem, reply, run_module


class SnakeCaseTest(unittest.TestCase):

    def test_field_names_of_the_api(self):
        for camel, snake in (('regionId', 'region_id'), ('sizeBytes', 'size_bytes'), ('id', 'id'),
                             ('bandwidthLimitBytesPerSec', 'bandwidth_limit_bytes_per_sec'), ('p99Us', 'p99_us'),
                             ('lastVerifiedAt', 'last_verified_at'), ('already_snake', 'already_snake'),
                             ('wpAsync', 'wp_async'), ('totalHTTP', 'total_http')):
            with self.subTest(camel=camel):
                self.assertEqual(snake_case(camel), snake)

    def test_keys_that_do_not_start_in_lower_case_are_values_and_stay(self):
        self.assertEqual(snake_case('PRECOPY'), 'PRECOPY')
        self.assertEqual(snake_case_keys(dict(bytesByPhase=dict(PRECOPY=1, POSTCOPY=2))),
                         dict(bytes_by_phase=dict(PRECOPY=1, POSTCOPY=2)))

    def test_nested_objects_and_lists_of_objects(self):
        job = dict(regionId='r1', timeline=[dict(phase='PENDING', enteredAt='t')], stats=dict(remainingBytes=0),
                   tags=['keepMe'])
        self.assertEqual(snake_case_keys(job), dict(region_id='r1', timeline=[dict(phase='PENDING', entered_at='t')],
                                                    stats=dict(remaining_bytes=0), tags=['keepMe']))

    def test_labels_are_the_user_s_keys_and_are_not_renamed(self):
        regions = [dict(id='r1', labels={'appTier': 'gold', 'team': 'db'}),
                   dict(id='s1', regionLabels={'appTier': 'gold'})]
        self.assertEqual(snake_case_keys(regions), [dict(id='r1', labels={'appTier': 'gold', 'team': 'db'}),
                                                    dict(id='s1', region_labels={'appTier': 'gold'})])


class FaultlineModuleTest(unittest.TestCase):

    def test_a_module_returns_snake_case_keys(self):
        api = ScriptedApi(reply('GET', '/api/v1/tokens', json_body=[dict(id='t1', name='ci', lastUsedAt=None)]))

        result = run_module(token_info.main, {}, api)

        self.assertEqual(result['tokens'], [dict(id='t1', name='ci', last_used_at=None)])

    def test_a_failure_returns_snake_case_keys_and_the_problem_as_it_came(self):
        api = ScriptedApi(problem('GET', '/api/v1/tokens', 403, 'forbidden', 'Not allowed', 'role VIEWER',
                                  errors=[dict(field='expiresAt', message='must be in the future')]))

        result = run_module(token_info.main, {}, api)

        self.assertTrue(result['failed'])
        self.assertEqual(result['problem']['errors'], [dict(field='expiresAt', message='must be in the future')])
        self.assertEqual(result['status'], 403)


if __name__ == '__main__':
    unittest.main()
