# -*- coding: utf-8 -*-
"""Test doubles for the faultline.memory unit tests: a scripted Faultline API and a module runner.

ScriptedApi stands in for open_url in module_utils/api.py. It answers the requests a test
expects, in order, with the responses the test scripts, and fails the test on any request it
did not expect, so a test also proves which writes a module does *not* make.

run_module() runs a module's main() the way Ansible does -- arguments in, one JSON document
out on stdout, exit status -- so no_log masking and argument validation are the real ones.
While it runs, module_utils/wait.py sees a FakeTime: a module waiting for a job polls the
scripted service without sleeping, and a timeout comes after the polls that fit into it.
"""

import contextlib
import io
import json
import os
from email.message import Message
from unittest import mock
from urllib.error import HTTPError
from urllib.parse import urlsplit

from ansible.module_utils import basic
from ansible.module_utils.common.text.converters import to_bytes

URL = 'https://faultline.test:8443'
ADMIN_TOKEN = 'flt_unit-test-admin-secret'
PROBLEM_BASE = 'https://faultline.dev/problems/'

ANY_BODY = object()


def _headers(content_type, extra=None):
    message = Message()
    if content_type:
        message['Content-Type'] = content_type
    for name, value in (extra or {}).items():
        message[name] = value
    return message


class Reply(object):
    """One expected request and the response the scripted service gives to it."""

    def __init__(self, method, path, status=200, json_body=None, text=None, expect=ANY_BODY, headers=None,
                 content_type=None):
        self.method = method
        self.path = path
        self.status = status
        self.expect = expect
        if text is not None:
            self.raw = to_bytes(text)
            self.content_type = content_type or 'text/html'
        elif json_body is not None:
            self.raw = to_bytes(json.dumps(json_body))
            self.content_type = content_type or 'application/json'
        else:
            self.raw = b''
            self.content_type = content_type
        self.headers = headers or {}


def reply(method, path, status=200, json_body=None, **kwargs):
    return Reply(method, path, status, json_body, **kwargs)


def problem(method, path, status, slug, title, detail, errors=None, expect=ANY_BODY):
    """A reply in the service's RFC 9457 problem+json form."""
    body = dict(type=PROBLEM_BASE + slug, title=title, status=status, detail=detail, instance=path.split('?')[0])
    if errors is not None:
        body['errors'] = errors
    return Reply(method, path, status, body, expect=expect, content_type='application/problem+json')


class FakeResponse(object):
    def __init__(self, scripted):
        self._scripted = scripted
        self.headers = _headers(scripted.content_type, scripted.headers)

    def read(self):
        return self._scripted.raw

    def getcode(self):
        return self._scripted.status


class SentRequest(object):
    def __init__(self, method, path, body, headers, options):
        self.method = method
        self.path = path
        self.body = body
        self.headers = headers
        self.options = options


class ScriptedApi(object):
    """Replaces open_url; see the module docstring."""

    def __init__(self, *replies):
        self.pending = list(replies)
        self.sent = []

    def __call__(self, url, data=None, headers=None, method=None, **options):
        parts = urlsplit(url)
        path = parts.path + ('?' + parts.query if parts.query else '')
        body = json.loads(data) if data is not None else None
        self.sent.append(SentRequest(method, path, body, dict(headers or {}), options))
        if not self.pending:
            raise AssertionError('unexpected request %s %s with %r: the script has no more replies' % (method, path, body))
        scripted = self.pending.pop(0)
        if (method, path) != (scripted.method, scripted.path):
            raise AssertionError('expected %s %s, got %s %s' % (scripted.method, scripted.path, method, path))
        if scripted.expect is not ANY_BODY and body != scripted.expect:
            raise AssertionError('%s %s sent %r, expected %r' % (method, path, body, scripted.expect))
        if scripted.status >= 400:
            raise HTTPError(url, scripted.status, 'scripted %d' % scripted.status,
                            _headers(scripted.content_type, scripted.headers), io.BytesIO(scripted.raw))
        return FakeResponse(scripted)

    def requests(self):
        """(method, path) of every request made, in order."""
        return [(r.method, r.path) for r in self.sent]

    def assert_done(self):
        if self.pending:
            raise AssertionError('the module never made these requests: %s'
                                 % ', '.join('%s %s' % (r.method, r.path) for r in self.pending))


class FakeTime(object):
    """Stands in for the time module in module_utils/wait.py: time passes only when the code sleeps."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps = []

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def patch_api(api):
    """Routes module_utils/api.py's HTTP through the scripted api."""
    return mock.patch('ansible_collections.faultline.memory.plugins.module_utils.api.open_url', api)


def module_args(args, check_mode=False, diff=False):
    """Bytes as Ansible hands them to a module, with the connection options filled in.

    An option given as None is left out, as Ansible leaves out what a task does not set.
    """
    full = dict(url=URL, token=ADMIN_TOKEN)
    full.update(args)
    full = dict((k, v) for k, v in full.items() if v is not None)
    full.update(_ansible_check_mode=check_mode, _ansible_diff=diff, _ansible_remote_tmp='/tmp',
                _ansible_keep_remote_files=False)
    return to_bytes(json.dumps(dict(ANSIBLE_MODULE_ARGS=full)))


def run_module(main, args, api, check_mode=False, diff=False, clock=None):
    """Runs a module's main() against a scripted api; returns its result (with 'failed' when it failed).

    clock is the FakeTime the module's waits see (a new one unless given, to look at its sleeps).
    """
    stdout = io.StringIO()
    with patch_api(api), \
            mock.patch('ansible_collections.faultline.memory.plugins.module_utils.wait.time', clock or FakeTime()), \
            mock.patch.object(basic, '_ANSIBLE_ARGS', module_args(args, check_mode, diff)), \
            contextlib.redirect_stdout(stdout):
        status = None
        try:
            main()
        except SystemExit as e:
            status = e.code
        if status is None:
            raise AssertionError('the module returned without exit_json or fail_json')
    result = json.loads(stdout.getvalue())
    if bool(status) != bool(result.get('failed')):
        raise AssertionError('exit status %r does not match the result %r' % (status, result))
    return result


@contextlib.contextmanager
def environment(**variables):
    """Sets environment variables for a test (None removes one)."""
    with mock.patch.dict(os.environ):
        for name, value in variables.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        yield
