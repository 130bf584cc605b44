#!/usr/bin/python
# -*- coding: utf-8 -*-

DOCUMENTATION = r'''
module: token
short_description: Issue and revoke Faultline API tokens
version_added: 0.1.0
description:
  - Makes sure an API token with a given name exists with a given role, or does not exist.
  - A token cannot be changed once it is issued. When the existing token has another role or
    expiry than the task asks for, the module fails unless I(replace=true), which revokes the
    token and issues a new one under the same name, with a new secret.
  - The service shows a token's secret only once, when it issues it; this module returns it in
    C(secret) then, and never again.
  - Needs an C(ADMIN) token in I(token).
author:
  - Faultline maintainers (!UNKNOWN)
extends_documentation_fragment:
  - faultline.memory.connection
  - faultline.memory.attributes
  - faultline.memory.attributes.ACTIONGROUP_FAULTLINE
options:
  name:
    description:
      - Name of the token; 1 to 64 lower-case letters, digits, C(.), C(_) or C(-), starting with a letter or digit.
      - Names are unique, so the name identifies the token.
    type: str
    required: true
  state:
    description:
      - C(present) issues the token if there is none with this name.
      - C(absent) revokes it. The service refuses to revoke the last admin token.
    type: str
    choices: [present, absent]
    default: present
  role:
    description:
      - What the token may do; each role includes the ones before it.
      - C(VIEWER) reads, C(OPERATOR) also changes regions, policies, snapshots and migrations,
        C(ADMIN) also manages tokens.
      - Required when I(state=present).
    type: str
    choices: [VIEWER, OPERATOR, ADMIN]
  expires_at:
    description:
      - When the token stops working, as an ISO 8601 instant with a time zone, for example C(2030-01-01T00:00:00Z).
      - It must be in the future when the token is issued. Without it the token does not expire.
      - Use a fixed value; one computed from the current time differs on every run, so every run
        would have to replace the token.
      - When omitted, the expiry of an existing token is left as it is.
    type: str
  replace:
    description:
      - What to do when the existing token has another role or expiry than the task asks for.
      - C(false) fails the task and leaves the token alone.
      - C(true) revokes the token and issues a new one; everyone using the old secret loses access.
      - The token the task itself authenticates with is never replaced.
    type: bool
    default: false
notes:
  - An expired token still holds its name. Give a new I(expires_at) with I(replace=true) to issue a fresh one,
    or revoke it with I(state=absent).
seealso:
  - module: faultline.memory.token_info
'''

EXAMPLES = r'''
- name: Issue a read-only token for the dashboard
  faultline.memory.token:
    url: https://faultline.example.com:8080
    token: "{{ faultline_admin_token }}"
    name: grafana
    role: VIEWER
  register: grafana_token
  no_log: true  # the result carries the new secret

- name: Store the secret where the dashboard reads it
  ansible.builtin.copy:
    content: "{{ grafana_token.secret }}"
    dest: /etc/grafana/faultline-token
    mode: "0600"
  when: grafana_token.secret is defined
  no_log: true

- name: Give CI an operator token that expires, replacing one with another role
  faultline.memory.token:
    name: ci
    role: OPERATOR
    expires_at: "2030-01-01T00:00:00Z"
    replace: true
  environment:
    FAULTLINE_URL: https://faultline.example.com:8080
    FAULTLINE_TOKEN: "{{ faultline_admin_token }}"
  register: ci_token
  no_log: true

- name: Revoke a token
  faultline.memory.token:
    url: https://faultline.example.com:8080
    token: "{{ faultline_admin_token }}"
    name: old-dashboard
    state: absent
'''

RETURN = r'''
token:
  description:
    - The token as the service lists it after the task; never its secret.
    - In check mode, when the token would be issued, only the fields the task sets.
  returned: when I(state=present)
  type: dict
  contains:
    id:
      description: The token's id.
      type: str
      sample: 3f8e2c1a-9b7d-4c6e-8a5f-1d2e3f4a5b6c
    name:
      description: The token's name.
      type: str
      sample: grafana
    role:
      description: What the token may do.
      type: str
      sample: VIEWER
    prefix:
      description: The first characters of the secret, to tell tokens apart.
      type: str
      sample: flt_AbCdEfGh
    created_at:
      description: When the token was issued.
      type: str
      sample: "2025-11-24T20:30:00.123456Z"
    created_by:
      description: Name of the token that issued it.
      type: str
      sample: admin
    expires_at:
      description: When the token stops working; null when it does not expire.
      type: str
      sample: "2030-01-01T00:00:00Z"
    last_used_at:
      description: When the token was last used (to the minute); null when never.
      type: str
      sample: null
secret:
  description:
    - "The token's secret, to send in the header C(Authorization: Bearer <secret>)."
    - Sensitive. Returned only when the task issued the token (not in check mode), because the service never shows it again.
      Use C(no_log) on the task and keep it in a vault or a file only its user can read.
  returned: when a token was issued
  type: str
  sample: flt_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefg
'''

import datetime
import re

from ansible_collections.faultline.memory.plugins.module_utils.api import (
    FaultlineClient,
    FaultlineError,
    api_path,
    faultline_argument_spec,
)
from ansible_collections.faultline.memory.plugins.module_utils.state import ResourceState
from ansible_collections.faultline.memory.plugins.module_utils.results import FaultlineModule

ROLES = ['VIEWER', 'OPERATOR', 'ADMIN']

_INSTANT = re.compile(r'^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?'
                      r'(?:([Zz])|([+-])(\d{2}):?(\d{2}))$')


def parse_instant(value):
    """An ISO 8601 instant with a time zone as an aware UTC datetime (to the microsecond), or None."""
    match = _INSTANT.match(value or '')
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, zulu, sign, off_h, off_m = match.groups()
    try:
        moment = datetime.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0),
                                   int((fraction or '0')[:6].ljust(6, '0')), tzinfo=datetime.timezone.utc)
    except ValueError:
        return None
    if not zulu:
        offset = datetime.timedelta(hours=int(off_h), minutes=int(off_m))
        moment = moment - offset if sign == '+' else moment + offset
    return moment


def format_instant(moment):
    """The form the service's Instant fields take: UTC with a Z, fractions only when there are any."""
    text = moment.strftime('%Y-%m-%dT%H:%M:%S')
    if moment.microsecond:
        text += ('.%06d' % moment.microsecond).rstrip('0')
    return text + 'Z'


def same_instant(current, desired):
    if current is None or desired is None:
        return current == desired
    return parse_instant(current) == parse_instant(desired)


def token_view(token):
    """A token as results and diffs show it: everything but the secret."""
    return dict((k, v) for k, v in token.items() if k != 'token')


def find_token(client, name):
    for token in client.get(api_path('tokens')).body:
        if token.get('name') == name:
            return token
    return None


def run(module, client):
    params = module.params
    current = find_token(client, params['name'])
    state = ResourceState(module, 'token', params['name'], current, view=token_view)

    def revoke(token):
        client.delete(api_path('tokens', token['id']))

    if params['state'] == 'absent':
        state.absent(delete=revoke)
        return state.result()

    expires_at = None
    if params['expires_at'] is not None:
        moment = parse_instant(params['expires_at'])
        if moment is None:
            module.fail_json(msg='expires_at %r is not an ISO 8601 instant with a time zone, such as 2030-01-01T00:00:00Z'
                             % params['expires_at'])
        expires_at = format_instant(moment)
        issuing = current is None or not same_instant(current.get('expiresAt'), expires_at)
        if issuing and moment <= datetime.datetime.now(datetime.timezone.utc):
            module.fail_json(msg='expires_at %s is not in the future; a token cannot be issued already expired' % expires_at)

    desired = dict(name=params['name'], role=params['role'], expiresAt=expires_at)
    equal = dict(expiresAt=same_instant)
    if current is not None and params['replace'] and state.differences(desired, equal):
        caller = client.get(api_path('whoami')).body
        if caller.get('tokenId') == current.get('id'):
            module.fail_json(msg='token %r is the one this task authenticates with; replacing it would lock the task out. '
                                 'Run the task with another admin token.' % params['name'])

    def issue(wanted):
        return client.post(api_path('tokens'), wanted).body

    state.present(desired, create=issue, delete=revoke, replace=params['replace'],
                  replace_hint='revoke it and issue a new one with a new secret', equal=equal)
    result = state.result(token=state.after)
    if state.created is not None:
        result['secret'] = state.created.get('token')
    return result


def main():
    module = FaultlineModule(
        argument_spec=faultline_argument_spec(
            name=dict(type='str', required=True),
            state=dict(type='str', default='present', choices=['present', 'absent']),
            role=dict(type='str', choices=ROLES),
            expires_at=dict(type='str'),
            replace=dict(type='bool', default=False),
        ),
        required_if=[('state', 'present', ['role'])],
        supports_check_mode=True,
    )
    try:
        module.exit_json(**run(module, FaultlineClient(module)))
    except FaultlineError as e:
        module.fail_json(**e.fail_kwargs())


if __name__ == '__main__':
    main()
