#!/usr/bin/python
# -*- coding: utf-8 -*-

DOCUMENTATION = r'''
module: token_info
short_description: List Faultline API tokens
version_added: 0.1.0
description:
  - Lists the service's API tokens, oldest first, without their secrets.
  - Needs an C(ADMIN) token in I(token).
author:
  - Faultline maintainers (!UNKNOWN)
extends_documentation_fragment:
  - faultline.memory.connection
  - faultline.memory.attributes.INFO_MODULE
  - faultline.memory.attributes.ACTIONGROUP_FAULTLINE
options:
  name:
    description:
      - Only the token with this name; the list is empty when there is none.
    type: str
seealso:
  - module: faultline.memory.token
'''

EXAMPLES = r'''
- name: List all tokens
  faultline.memory.token_info:
    url: https://faultline.example.com:8080
    token: "{{ faultline_admin_token }}"
  register: all_tokens

- name: Show tokens that were never used
  ansible.builtin.debug:
    msg: "{{ all_tokens.tokens | selectattr('last_used_at', 'none') | map(attribute='name') | list }}"

- name: Is there a token for CI?
  faultline.memory.token_info:
    name: ci
  register: ci
  failed_when: ci.tokens | length == 0
'''

RETURN = r'''
tokens:
  description: The tokens, oldest first.
  returned: success
  type: list
  elements: dict
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
      description: What the token may do, C(VIEWER), C(OPERATOR) or C(ADMIN).
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
      sample: null
    last_used_at:
      description: When the token was last used (to the minute); null when never.
      type: str
      sample: "2025-11-24T21:02:00Z"
'''

from ansible_collections.faultline.memory.plugins.module_utils.api import (
    FaultlineClient,
    FaultlineError,
    api_path,
    faultline_argument_spec,
)
from ansible_collections.faultline.memory.plugins.module_utils.results import FaultlineModule


def main():
    module = FaultlineModule(
        argument_spec=faultline_argument_spec(
            name=dict(type='str'),
        ),
        supports_check_mode=True,
    )
    try:
        tokens = FaultlineClient(module).get(api_path('tokens')).body
    except FaultlineError as e:
        module.fail_json(**e.fail_kwargs())
    if module.params['name'] is not None:
        tokens = [t for t in tokens if t.get('name') == module.params['name']]
    module.exit_json(changed=False, tokens=tokens)


if __name__ == '__main__':
    main()
