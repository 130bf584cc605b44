# -*- coding: utf-8 -*-
"""The token module against a scripted service: which requests it makes, and what it reports."""

import unittest

from ansible_collections.faultline.memory.plugins.module_utils.results import snake_case_keys as returned
from ansible_collections.faultline.memory.plugins.modules import token
from ansible_collections.faultline.memory.tests.unit.scripted_api import (
    ADMIN_TOKEN,
    ScriptedApi,
    problem,
    reply,
    run_module,
)

TOKENS = '/api/v1/tokens'
ADMIN = dict(id='a0', name='admin', role='ADMIN', prefix='flt_AdMiN123', createdAt='2025-01-01T00:00:00Z',
             createdBy=None, expiresAt=None, lastUsedAt='2025-01-02T00:00:00Z')
GRAFANA = dict(id='g1', name='grafana', role='VIEWER', prefix='flt_GrAfAnA1', createdAt='2025-01-03T10:00:00.123456Z',
               createdBy='admin', expiresAt=None, lastUsedAt=None)
NEW_SECRET = 'flt_newly-issued-secret-shown-once'


def issued(**fields):
    token_fields = dict(GRAFANA, id='g2', prefix=NEW_SECRET[:12], token=NEW_SECRET)
    token_fields.update(fields)
    return token_fields


def listing(*tokens):
    return reply('GET', TOKENS, json_body=list(tokens))


class PresentTest(unittest.TestCase):

    def run_token(self, api, check_mode=False, **args):
        result = run_module(token.main, args, api, check_mode=check_mode, diff=True)
        api.assert_done()
        return result

    def test_a_missing_token_is_issued_and_its_secret_returned_once(self):
        api = ScriptedApi(listing(ADMIN),
                          reply('POST', TOKENS, 201, issued(), expect=dict(name='grafana', role='VIEWER')))

        result = self.run_token(api, name='grafana', role='VIEWER')

        self.assertTrue(result['changed'])
        self.assertEqual(result['secret'], NEW_SECRET)
        self.assertNotIn('token', result['token'], 'the secret is only in secret')
        self.assertEqual(result['token']['id'], 'g2')
        self.assertEqual(result['diff']['before'], {})
        self.assertEqual(result['diff']['after']['name'], 'grafana')
        self.assertNotIn(NEW_SECRET, str(result['diff']))

    def test_an_existing_token_with_the_role_asked_for_is_left_alone(self):
        api = ScriptedApi(listing(ADMIN, GRAFANA))

        result = self.run_token(api, name='grafana', role='VIEWER')

        self.assertFalse(result['changed'])
        self.assertNotIn('secret', result)
        self.assertEqual(result['token'], returned(GRAFANA))
        self.assertEqual(result['diff']['before'], result['diff']['after'])

    def test_check_mode_reports_the_token_it_would_issue_and_issues_none(self):
        api = ScriptedApi(listing(ADMIN))

        result = self.run_token(api, check_mode=True, name='grafana', role='VIEWER')

        self.assertTrue(result['changed'])
        self.assertNotIn('secret', result)
        self.assertEqual(result['token'], dict(name='grafana', role='VIEWER'))
        self.assertEqual(api.requests(), [('GET', TOKENS)])

    def test_another_role_fails_without_replace_and_touches_nothing(self):
        api = ScriptedApi(listing(ADMIN, GRAFANA))

        result = self.run_token(api, name='grafana', role='OPERATOR')

        self.assertTrue(result['failed'])
        self.assertEqual(result['msg'], "token 'grafana' cannot be changed in place (role is VIEWER, the task wants "
                                        "OPERATOR); set replace: true to revoke it and issue a new one with a new secret")
        self.assertEqual(api.requests(), [('GET', TOKENS)])

    def test_replace_revokes_the_token_and_issues_a_new_one(self):
        api = ScriptedApi(listing(ADMIN, GRAFANA),
                          reply('GET', '/api/v1/whoami', json_body=dict(tokenId='a0', name='admin', role='ADMIN')),
                          reply('DELETE', TOKENS + '/g1', 204),
                          reply('POST', TOKENS, 201, issued(role='OPERATOR'), expect=dict(name='grafana', role='OPERATOR')))

        result = self.run_token(api, name='grafana', role='OPERATOR', replace=True)

        self.assertTrue(result['changed'])
        self.assertEqual(result['secret'], NEW_SECRET)
        self.assertEqual(result['diff']['before']['role'], 'VIEWER')
        self.assertEqual(result['diff']['after']['role'], 'OPERATOR')

    def test_replace_in_check_mode_neither_revokes_nor_issues(self):
        api = ScriptedApi(listing(ADMIN, GRAFANA),
                          reply('GET', '/api/v1/whoami', json_body=dict(tokenId='a0', name='admin', role='ADMIN')))

        result = self.run_token(api, check_mode=True, name='grafana', role='OPERATOR', replace=True)

        self.assertTrue(result['changed'])
        self.assertNotIn('secret', result)

    def test_the_token_the_task_authenticates_with_is_never_replaced(self):
        api = ScriptedApi(listing(ADMIN),
                          reply('GET', '/api/v1/whoami', json_body=dict(tokenId='a0', name='admin', role='ADMIN')))

        result = self.run_token(api, name='admin', role='OPERATOR', replace=True)

        self.assertTrue(result['failed'])
        self.assertIn("token 'admin' is the one this task authenticates with", result['msg'])

    def test_an_expiry_is_sent_in_utc_and_compared_as_an_instant(self):
        api = ScriptedApi(listing(ADMIN),
                          reply('POST', TOKENS, 201, issued(expiresAt='2030-01-01T00:00:00Z'),
                                expect=dict(name='grafana', role='VIEWER', expiresAt='2030-01-01T00:00:00Z')))
        self.assertTrue(self.run_token(api, name='grafana', role='VIEWER', expires_at='2030-01-01T01:00:00+01:00')['changed'])

        existing = dict(GRAFANA, expiresAt='2030-01-01T00:00:00Z')
        again = ScriptedApi(listing(ADMIN, existing))
        self.assertFalse(self.run_token(again, name='grafana', role='VIEWER', expires_at='2030-01-01T00:00:00.000Z')['changed'])

    def test_another_expiry_is_a_change_that_needs_replace(self):
        api = ScriptedApi(listing(ADMIN, dict(GRAFANA, expiresAt='2030-01-01T00:00:00Z')))

        result = self.run_token(api, name='grafana', role='VIEWER', expires_at='2031-01-01T00:00:00Z')

        self.assertTrue(result['failed'])
        self.assertIn('expiresAt is 2030-01-01T00:00:00Z, the task wants 2031-01-01T00:00:00Z', result['msg'])

    def test_an_expiry_that_is_not_an_instant_or_is_past_fails_before_any_write(self):
        for expires_at, message in (('next tuesday', 'is not an ISO 8601 instant with a time zone'),
                                    ('2030-01-01T00:00:00', 'is not an ISO 8601 instant with a time zone'),
                                    ('2001-01-01T00:00:00Z', 'is not in the future')):
            with self.subTest(expires_at=expires_at):
                api = ScriptedApi(listing(ADMIN))
                result = self.run_token(api, name='grafana', role='VIEWER', expires_at=expires_at)
                self.assertTrue(result['failed'])
                self.assertIn(message, result['msg'])

    def test_present_needs_a_role(self):
        result = run_module(token.main, dict(name='grafana'), ScriptedApi())

        self.assertTrue(result['failed'])
        self.assertIn('state is present but all of the following are missing: role', result['msg'])

    def test_a_refusal_by_the_service_fails_with_its_problem(self):
        api = ScriptedApi(problem('GET', TOKENS, 403, 'forbidden', 'Not allowed', "Your token's role does not allow this"))

        result = self.run_token(api, name='grafana', role='VIEWER')

        self.assertTrue(result['failed'])
        self.assertEqual(result['msg'], "GET /api/v1/tokens: 403 Not allowed: Your token's role does not allow this "
                                        "[forbidden]; use a token whose role allows this")
        self.assertEqual(result['status'], 403)
        self.assertEqual(result['problem']['type'], 'https://faultline.dev/problems/forbidden')

    def test_the_token_option_never_appears_in_the_result(self):
        api = ScriptedApi(problem('GET', TOKENS, 401, 'unauthorized', 'Authentication required',
                                  'The bearer token is unknown, revoked or expired'))

        result = self.run_token(api, name='grafana', role='VIEWER')

        self.assertNotIn(ADMIN_TOKEN, str(result))


class AbsentTest(unittest.TestCase):

    def test_an_existing_token_is_revoked(self):
        api = ScriptedApi(listing(ADMIN, GRAFANA), reply('DELETE', TOKENS + '/g1', 204))

        result = run_module(token.main, dict(name='grafana', state='absent'), api, diff=True)

        api.assert_done()
        self.assertTrue(result['changed'])
        self.assertEqual(result['diff'], dict(before=returned(GRAFANA), after={}))

    def test_a_missing_token_is_not_a_change(self):
        api = ScriptedApi(listing(ADMIN))

        result = run_module(token.main, dict(name='grafana', state='absent'), api)

        api.assert_done()
        self.assertFalse(result['changed'])

    def test_check_mode_revokes_nothing(self):
        api = ScriptedApi(listing(ADMIN, GRAFANA))

        result = run_module(token.main, dict(name='grafana', state='absent'), api, check_mode=True)

        api.assert_done()
        self.assertTrue(result['changed'])

    def test_the_last_admin_token_refusal_is_passed_on(self):
        api = ScriptedApi(listing(ADMIN),
                          problem('DELETE', TOKENS + '/a0', 409, 'last-admin-token', 'Last admin token',
                                  "'admin' is the last admin token; create another admin token first"))

        result = run_module(token.main, dict(name='admin', state='absent'), api)

        self.assertTrue(result['failed'])
        self.assertIn("409 Last admin token: 'admin' is the last admin token; create another admin token first "
                      "[last-admin-token]", result['msg'])


class InstantTest(unittest.TestCase):

    def test_instants_in_their_usual_spellings(self):
        for text, expected in (('2030-01-01T00:00:00Z', '2030-01-01T00:00:00Z'),
                               ('2030-01-01t00:00z', '2030-01-01T00:00:00Z'),
                               ('2030-01-01 02:30:00+02:30', '2030-01-01T00:00:00Z'),
                               ('2029-12-31T23:00:00-0100', '2030-01-01T00:00:00Z'),
                               ('2030-01-01T00:00:00.5Z', '2030-01-01T00:00:00.5Z'),
                               ('2030-01-01T00:00:00.123456789Z', '2030-01-01T00:00:00.123456Z')):
            with self.subTest(text=text):
                self.assertEqual(token.format_instant(token.parse_instant(text)), expected)

    def test_not_instants(self):
        for text in ('2030-01-01', '2030-01-01T00:00:00', '2030-13-01T00:00:00Z', 'soon', ''):
            with self.subTest(text=text):
                self.assertIsNone(token.parse_instant(text))


if __name__ == '__main__':
    unittest.main()
