# -*- coding: utf-8 -*-
"""HTTP access to the Faultline REST API, shared by every module of faultline.memory.

Modules build their argument spec with faultline_argument_spec() and talk to the service
through one FaultlineClient, so connection options, TLS, timeouts and the way the service's
RFC 9457 problem+json errors reach the user are the same everywhere. Only the Python standard
library and Ansible's own module_utils are used: the modules run wherever Ansible runs.
"""

import json
from http.client import HTTPException
from urllib.error import HTTPError, URLError
from urllib.parse import quote, urlencode

from ansible.module_utils.basic import env_fallback
from ansible.module_utils.common.text.converters import to_native, to_text
from ansible.module_utils.urls import ConnectionError as UrlsConnectionError
from ansible.module_utils.urls import open_url

API_PREFIX = '/api/v1'
MERGE_PATCH = 'application/merge-patch+json'
# The largest page the list endpoints serve; fewer round trips when a module reads a whole list.
MAX_PAGE_SIZE = 500
PROBLEM_TYPE_BASE = 'https://faultline.dev/problems/'
USER_AGENT = 'faultline.memory-ansible'

# What a person can do about a problem, by its stable type (docs/api-errors.md); the
# service's own detail says what went wrong.
PROBLEM_HINTS = {
    'unauthorized': 'check the token option (or FAULTLINE_TOKEN)',
    'forbidden': 'use a token whose role allows this',
    'precondition-failed': 'it was changed by someone else while this task ran; run the task again',
    'agent-unavailable': 'the agent is not READY; GET /api/v1/host shows its state',
}


def faultline_argument_spec(**options):
    """The connection options every module shares (doc fragment faultline.memory.connection), plus the module's own."""
    spec = dict(
        url=dict(type='str', required=True, fallback=(env_fallback, ['FAULTLINE_URL'])),
        token=dict(type='str', required=True, no_log=True, fallback=(env_fallback, ['FAULTLINE_TOKEN'])),
        validate_certs=dict(type='bool', default=True),
        timeout=dict(type='int', default=30),
    )
    spec.update(options)
    return spec


def api_path(*segments):
    """'/api/v1/<segment>/...' with each segment percent-encoded, so names and ids can never change the path."""
    return API_PREFIX + ''.join('/' + quote(to_text(s), safe='') for s in segments)


class FaultlineError(Exception):
    """A request the service refused, or that never reached it. str() is the message for the user."""

    def __init__(self, message, status=None, problem=None):
        super(FaultlineError, self).__init__(message)
        self.status = status
        self.problem = problem

    @property
    def problem_type(self):
        """The problem type without its base URI ('forbidden', 'not-found', ...), or None."""
        return problem_type(self.problem)

    def fail_kwargs(self):
        """What module.fail_json() gets: the message, plus the HTTP status and the problem for failed_when."""
        result = dict(msg=str(self))
        if self.status is not None:
            result['status'] = self.status
        if self.problem is not None:
            result['problem'] = self.problem
        return result


class ApiResponse(object):
    """One HTTP response: status, headers (case-insensitive) and the decoded body."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def etag(self):
        return self.headers.get('ETag') if self.headers is not None else None


def problem_type(problem):
    """A problem's type without the base URI ('forbidden', 'not-found', ...); a foreign type stays whole."""
    type_uri = to_text((problem or {}).get('type') or '')
    if type_uri.startswith(PROBLEM_TYPE_BASE):
        return type_uri[len(PROBLEM_TYPE_BASE):]
    return type_uri or None


def problem_message(method, path, status, reason, problem):
    """One readable line from a problem+json document, e.g.
    "POST /api/v1/tokens: 400 Invalid request: Request has invalid fields (name: must be ...) [validation]"."""
    title = problem.get('title') or reason or ''
    text = '%s %s: %s %s' % (method, path, status, title)
    detail = problem.get('detail')
    if detail and detail != title:
        text += ': ' + to_text(detail)
    errors = problem.get('errors')
    if isinstance(errors, list) and errors:
        text += ' (' + '; '.join(_field_error(e) for e in errors) + ')'
    slug = problem_type(problem)
    if slug:
        text += ' [%s]' % slug
        hint = PROBLEM_HINTS.get(slug)
        if hint:
            text += '; ' + hint
    return text


def _field_error(error):
    if isinstance(error, dict):
        return '%s: %s' % (error.get('field', '?'), error.get('message', 'is invalid'))
    return to_text(error)


def _decode(headers, raw):
    """The body as JSON when it says it is JSON (or looks like it), else as text; None when empty."""
    if not raw:
        return None
    text = to_text(raw, errors='surrogate_or_replace')
    content_type = (headers.get('Content-Type') if headers is not None else None) or ''
    if 'json' in content_type or text.lstrip()[:1] in ('{', '['):
        try:
            return json.loads(text)
        except ValueError:
            pass
    return text


class FaultlineClient(object):
    """Calls the Faultline REST API with the module's connection options.

    Every method raises FaultlineError on failure; modules turn it into fail_json with
    `except FaultlineError as e: module.fail_json(**e.fail_kwargs())`.
    """

    def __init__(self, module):
        self.base_url = module.params['url'].rstrip('/')
        self.token = module.params['token']
        self.validate_certs = module.params['validate_certs']
        self.timeout = module.params['timeout']

    def request(self, method, path, body=None, query=None, if_match=None, content_type='application/json'):
        """Sends one request; returns an ApiResponse for 2xx, raises FaultlineError otherwise.

        body is sent as JSON (content_type says which kind, e.g. MERGE_PATCH); if_match sends an
        ETag back so a concurrent change is a 412 rather than a lost update.
        """
        url = self.base_url + path
        if query:
            url += '?' + urlencode(sorted((k, v) for k, v in query.items() if v is not None), doseq=True)
        headers = {
            'Accept': 'application/json, application/problem+json',
            'Authorization': 'Bearer ' + self.token,
        }
        data = None
        if body is not None:
            data = json.dumps(body)
            headers['Content-Type'] = content_type
        if if_match is not None:
            headers['If-Match'] = if_match
        try:
            response = open_url(url, data=data, headers=headers, method=method, validate_certs=self.validate_certs,
                                timeout=self.timeout, http_agent=USER_AGENT,
                                # a ~/.netrc entry for the host would replace the bearer token with basic auth
                                use_netrc=False)
            raw = response.read()
            status = response.getcode()
            response_headers = response.headers
        except HTTPError as e:
            raise self._http_error(method, path, e)
        except (URLError, UrlsConnectionError, HTTPException, OSError) as e:
            reason = getattr(e, 'reason', None) or e
            raise FaultlineError('%s %s: cannot reach Faultline at %s: %s' % (method, path, self.base_url, to_native(reason)))
        decoded = _decode(response_headers, raw)
        if decoded is not None and not isinstance(decoded, (dict, list)):
            raise FaultlineError('%s %s: %s answered %s with %s instead of JSON; is url the service\'s base URL?'
                                 % (method, path, self.base_url, status,
                                    response_headers.get('Content-Type') or 'no content type'),
                                 status=status)
        return ApiResponse(status, response_headers, decoded)

    def _http_error(self, method, path, error):
        try:
            raw = error.read()
        except (AttributeError, OSError, HTTPException):
            raw = b''  # some errors carry no body at all
        body = _decode(error.headers, raw)
        if isinstance(body, dict) and ('type' in body or 'title' in body or 'detail' in body):
            return FaultlineError(problem_message(method, path, error.code, error.reason, body),
                                  status=error.code, problem=body)
        text = '%s %s: %s %s' % (method, path, error.code, to_text(error.reason or ''))
        if body:
            text += ': ' + to_text(body if not isinstance(body, (dict, list)) else json.dumps(body))[:300]
        return FaultlineError(text.rstrip(': '), status=error.code)

    def get(self, path, query=None):
        return self.request('GET', path, query=query)

    def get_or_none(self, path, query=None):
        """GET, but a 404 means 'there is none' rather than a failure."""
        try:
            return self.request('GET', path, query=query)
        except FaultlineError as e:
            if e.status == 404:
                return None
            raise

    def post(self, path, body=None):
        return self.request('POST', path, body=body)

    def put(self, path, body, if_match=None):
        return self.request('PUT', path, body=body, if_match=if_match)

    def patch(self, path, body, if_match=None):
        return self.request('PATCH', path, body=body, if_match=if_match)

    def merge_patch(self, path, body, if_match=None):
        """PATCH with an RFC 7396 JSON merge patch: members replace, null removes, objects merge."""
        return self.request('PATCH', path, body=body, if_match=if_match, content_type=MERGE_PATCH)

    def delete(self, path, if_match=None, query=None):
        return self.request('DELETE', path, if_match=if_match, query=query)

    def get_items(self, path, query=None, limit=None):
        """Every item of a paged list ({items, page, size, totalItems, totalPages}), in the service's order.

        Reads page after page until the last one, or until limit items are in hand. Items added or
        removed while the pages are read may shift an item into a page already read or out of
        one not yet read; a module that must not miss one filters on the server instead.
        """
        query = dict(query or {})
        size = MAX_PAGE_SIZE if limit is None else max(1, min(limit, MAX_PAGE_SIZE))
        items = []
        page = 0
        while True:
            query.update(page=page, size=size)
            body = self.get(path, query=query).body or {}
            if isinstance(body, list):
                # a service from before this list was paged answers every item, ignoring the query
                return body if limit is None else body[:limit]
            items.extend(body.get('items') or [])
            if limit is not None and len(items) >= limit:
                return items[:limit]
            page += 1
            if page >= (body.get('totalPages') or 0):
                return items
