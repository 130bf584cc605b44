# -*- coding: utf-8 -*-
"""The HTTP helper: what it sends, and how the service's answers -- problem+json above all -- reach the user."""

import unittest
from unittest import mock
from urllib.error import URLError

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.faultline.memory.plugins.module_utils.api import (
    FaultlineClient,
    FaultlineError,
    api_path,
    faultline_argument_spec,
)
from ansible_collections.faultline.memory.tests.unit.scripted_api import (
    ADMIN_TOKEN,
    URL,
    ScriptedApi,
    environment,
    module_args,
    patch_api,
    problem,
    reply,
)


def client(**params):
    module = mock.Mock()
    module.params = dict(url=URL + '/', token=ADMIN_TOKEN, validate_certs=True, timeout=30)
    module.params.update(params)
    return FaultlineClient(module)


class RequestTest(unittest.TestCase):

    def test_a_request_carries_the_bearer_token_json_and_the_connection_options(self):
        api = ScriptedApi(reply('POST', '/api/v1/tokens', 201, dict(id='t1'), expect=dict(name='ci', role='VIEWER')))
        with patch_api(api):
            response = client(validate_certs=False, timeout=7).post(api_path('tokens'), dict(name='ci', role='VIEWER'))

        self.assertEqual(response.status, 201)
        self.assertEqual(response.body, dict(id='t1'))
        sent = api.sent[0]
        self.assertEqual(sent.headers['Authorization'], 'Bearer ' + ADMIN_TOKEN)
        self.assertEqual(sent.headers['Content-Type'], 'application/json')
        self.assertIn('application/problem+json', sent.headers['Accept'])
        self.assertEqual(sent.options['validate_certs'], False)
        self.assertEqual(sent.options['timeout'], 7)
        self.assertEqual(sent.options['use_netrc'], False, 'a ~/.netrc entry must not replace the bearer token')
        api.assert_done()

    def test_an_etag_is_read_from_the_response_and_sent_back_as_if_match(self):
        api = ScriptedApi(reply('GET', '/api/v1/regions/r1', json_body=dict(id='r1'), headers={'ETag': '"7"'}),
                          reply('PATCH', '/api/v1/regions/r1', json_body=dict(id='r1'), expect=dict(labels={'a': 'b'})))
        with patch_api(api):
            c = client()
            etag = c.get(api_path('regions', 'r1')).etag
            c.patch(api_path('regions', 'r1'), dict(labels={'a': 'b'}), if_match=etag)

        self.assertEqual(etag, '"7"')
        self.assertEqual(api.sent[1].headers['If-Match'], '"7"')
        self.assertNotIn('If-Match', api.sent[0].headers)

    def test_path_segments_are_percent_encoded_and_query_parameters_without_a_value_are_left_out(self):
        self.assertEqual(api_path('regions', 'a/b c'), '/api/v1/regions/a%2Fb%20c')
        api = ScriptedApi(reply('GET', '/api/v1/regions?label=tier%3Ddb&limit=5', json_body=[]))
        with patch_api(api):
            client().get(api_path('regions'), query=dict(limit=5, label='tier=db', after=None))
        api.assert_done()

    def test_a_merge_patch_says_so_in_its_content_type(self):
        api = ScriptedApi(reply('PATCH', '/api/v1/regions/r1', json_body=dict(id='r1'), expect=dict(labels={'a': None})))
        with patch_api(api):
            client().merge_patch(api_path('regions', 'r1'), dict(labels={'a': None}), if_match='"3"')

        self.assertEqual(api.sent[0].headers['Content-Type'], 'application/merge-patch+json')
        self.assertEqual(api.sent[0].headers['If-Match'], '"3"')

    def test_get_items_reads_every_page_of_a_list(self):
        def page(number, items, total_pages):
            return reply('GET', '/api/v1/regions?page=%d&selector=app%%3Ddb&size=500' % number,
                         json_body=dict(items=items, page=number, size=500, totalItems=3, totalPages=total_pages))
        api = ScriptedApi(page(0, [1, 2], 2), page(1, [3], 2))
        with patch_api(api):
            items = client().get_items(api_path('regions'), query=dict(selector='app=db', state=None))

        self.assertEqual(items, [1, 2, 3])
        api.assert_done()

    def test_get_items_stops_at_the_limit_and_asks_for_no_more_than_it_needs(self):
        api = ScriptedApi(reply('GET', '/api/v1/snapshots?page=0&size=2',
                                json_body=dict(items=[1, 2], page=0, size=2, totalItems=9, totalPages=5)))
        with patch_api(api):
            self.assertEqual(client().get_items(api_path('snapshots'), limit=2), [1, 2])
        api.assert_done()

    def test_get_items_of_an_empty_list(self):
        api = ScriptedApi(reply('GET', '/api/v1/regions?page=0&size=500',
                                json_body=dict(items=[], page=0, size=500, totalItems=0, totalPages=0)))
        with patch_api(api):
            self.assertEqual(client().get_items(api_path('regions')), [])

    def test_repeated_query_parameters_are_sent_once_per_value(self):
        api = ScriptedApi(reply('DELETE', '/api/v1/snapshots/s1?consolidate=true', 204),
                          reply('GET', '/api/v1/snapshots?state=COMPLETED&state=FAILED', json_body=[]))
        with patch_api(api):
            client().delete(api_path('snapshots', 's1'), query=dict(consolidate='true'))
            client().get(api_path('snapshots'), query=dict(state=['COMPLETED', 'FAILED']))
        api.assert_done()

    def test_an_empty_response_has_no_body(self):
        api = ScriptedApi(reply('DELETE', '/api/v1/tokens/t1', 204))
        with patch_api(api):
            self.assertIsNone(client().delete(api_path('tokens', 't1')).body)

    def test_get_or_none_treats_404_as_absent_but_not_other_errors(self):
        api = ScriptedApi(problem('GET', '/api/v1/regions/x', 404, 'not-found', 'Not found', "region 'x' does not exist"),
                          problem('GET', '/api/v1/regions/y', 403, 'forbidden', 'Not allowed', 'nope'))
        with patch_api(api):
            self.assertIsNone(client().get_or_none(api_path('regions', 'x')))
            with self.assertRaises(FaultlineError) as raised:
                client().get_or_none(api_path('regions', 'y'))
        self.assertEqual(raised.exception.status, 403)


class ErrorTest(unittest.TestCase):

    def fail_with(self, *replies):
        api = ScriptedApi(*replies)
        with patch_api(api), self.assertRaises(FaultlineError) as raised:
            client().request(replies[0].method, replies[0].path, body={} if replies[0].method == 'POST' else None)
        return raised.exception

    def test_a_problem_becomes_one_line_with_method_path_status_title_detail_and_type(self):
        error = self.fail_with(problem('GET', '/api/v1/tokens', 403, 'forbidden', 'Not allowed',
                                       "Your token's role does not allow this"))

        self.assertEqual(str(error), "GET /api/v1/tokens: 403 Not allowed: Your token's role does not allow this "
                                     "[forbidden]; use a token whose role allows this")
        self.assertEqual(error.status, 403)
        self.assertEqual(error.problem_type, 'forbidden')
        self.assertEqual(error.fail_kwargs()['problem']['type'], 'https://faultline.dev/problems/forbidden')

    def test_field_errors_of_a_validation_problem_are_listed(self):
        error = self.fail_with(problem('POST', '/api/v1/tokens', 400, 'validation', 'Invalid request',
                                       'Request has invalid fields',
                                       errors=[dict(field='name', message='must be 1-64 lower-case letters'),
                                               dict(field='role', message='must not be null')]))

        self.assertEqual(str(error), 'POST /api/v1/tokens: 400 Invalid request: Request has invalid fields '
                                     '(name: must be 1-64 lower-case letters; role: must not be null) [validation]')

    def test_an_unknown_token_gets_a_hint_about_the_token_option(self):
        error = self.fail_with(problem('GET', '/api/v1/tokens', 401, 'unauthorized', 'Authentication required',
                                       'The bearer token is unknown, revoked or expired'))

        self.assertIn('unknown, revoked or expired [unauthorized]; check the token option (or FAULTLINE_TOKEN)', str(error))

    def test_a_stale_etag_says_to_run_the_task_again(self):
        error = self.fail_with(problem('PATCH', '/api/v1/regions/r1', 412, 'precondition-failed', 'Precondition failed',
                                       'If-Match did not match'))

        self.assertIn('[precondition-failed]; it was changed by someone else while this task ran', str(error))

    def test_an_error_that_is_not_a_problem_shows_the_status_and_the_start_of_the_body(self):
        error = self.fail_with(reply('GET', '/api/v1/tokens', 502, text='<html>Bad Gateway from the proxy</html>'))

        self.assertEqual(str(error), 'GET /api/v1/tokens: 502 scripted 502: <html>Bad Gateway from the proxy</html>')
        self.assertEqual(error.status, 502)
        self.assertNotIn('problem', error.fail_kwargs())

    def test_an_error_without_a_body_still_has_its_status(self):
        error = self.fail_with(reply('GET', '/api/v1/tokens', 500))

        self.assertEqual(str(error), 'GET /api/v1/tokens: 500 scripted 500')

    def test_a_success_that_is_not_json_points_at_the_url_option(self):
        error = self.fail_with(reply('GET', '/api/v1/tokens', 200, text='<!doctype html><title>Faultline</title>'))

        self.assertIn("answered 200 with text/html instead of JSON; is url the service's base URL?", str(error))

    def test_an_unreachable_service_is_named_with_the_reason(self):
        def refuse(url, **kwargs):
            raise URLError(ConnectionRefusedError(111, 'Connection refused'))

        with patch_api(refuse), self.assertRaises(FaultlineError) as raised:
            client().get(api_path('tokens'))

        self.assertEqual(str(raised.exception),
                         'GET /api/v1/tokens: cannot reach Faultline at %s: [Errno 111] Connection refused' % URL)
        self.assertIsNone(raised.exception.status)


class ArgumentSpecTest(unittest.TestCase):

    def module(self, args):
        with mock.patch('ansible.module_utils.basic._ANSIBLE_ARGS', module_args(args)):
            return AnsibleModule(argument_spec=faultline_argument_spec(name=dict(type='str')))

    def test_url_and_token_come_from_the_environment_when_the_task_does_not_set_them(self):
        with environment(FAULTLINE_URL='http://from-env:8080', FAULTLINE_TOKEN='flt_from-env'):
            module = self.module(dict(url=None, token=None, name='x'))

        self.assertEqual(module.params['url'], 'http://from-env:8080')
        self.assertEqual(module.params['token'], 'flt_from-env')
        self.assertEqual(module.params['name'], 'x')
        self.assertTrue(module.params['validate_certs'])
        self.assertEqual(module.params['timeout'], 30)

    def test_the_task_wins_over_the_environment(self):
        with environment(FAULTLINE_URL='http://from-env:8080', FAULTLINE_TOKEN='flt_from-env'):
            module = self.module(dict(url='http://from-task:8080', token='flt_from-task'))

        self.assertEqual(module.params['url'], 'http://from-task:8080')
        self.assertEqual(module.params['token'], 'flt_from-task')

    def test_the_token_is_never_logged(self):
        self.assertTrue(faultline_argument_spec()['token']['no_log'])


if __name__ == '__main__':
    unittest.main()
