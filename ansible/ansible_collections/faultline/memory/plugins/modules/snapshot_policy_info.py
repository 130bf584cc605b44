#!/usr/bin/python
# -*- coding: utf-8 -*-

DOCUMENTATION = r'''
module: snapshot_policy_info
short_description: List Faultline snapshot policies, with what they would do next
version_added: 0.1.0
description:
  - Lists snapshot policies by name.
  - With I(preview=true), each policy also gets its preview, which says what the policy would do. It lists the next
    fire times, and a dry run of its retention now (which of its snapshots it keeps, which it prunes, and why).
  - Needs a C(VIEWER) token in I(token).
author:
  - Faultline maintainers (!UNKNOWN)
extends_documentation_fragment:
  - faultline.memory.connection
  - faultline.memory.attributes.INFO_MODULE
  - faultline.memory.attributes.ACTIONGROUP_FAULTLINE
options:
  name:
    description:
      - Only the policy with this name; the list is empty when there is none.
    type: str
  preview:
    description:
      - Whether to add each policy's C(preview).
      - One more request per policy.
    type: bool
    default: false
  preview_count:
    description:
      - How many next fire times the preview lists, 1 to 100.
    type: int
    default: 5
seealso:
  - module: faultline.memory.snapshot_policy
'''

EXAMPLES = r'''
- name: When does the database policy run next, and what would its retention delete now?
  faultline.memory.snapshot_policy_info:
    url: https://faultline.example.com:8080
    token: "{{ faultline_viewer_token }}"
    name: db-hourly
    preview: true
    preview_count: 3
  register: db_policy

- name: Show it
  ansible.builtin.debug:
    msg:
      - "next runs: {{ db_policy.policies[0].preview.next_runs | map(attribute='at') | list }}"
      - "would prune: {{ db_policy.policies[0].preview.retention.prune }}"

- name: Every paused policy
  faultline.memory.snapshot_policy_info:
  register: all_policies

- name: Name them
  ansible.builtin.debug:
    msg: "{{ all_policies.policies | selectattr('paused') | map(attribute='name') | list }}"
'''

RETURN = r'''
policies:
  description: The policies, by name, as the service shows them.
  returned: success
  type: list
  elements: dict
  contains:
    id:
      description: The policy's id.
      type: str
      sample: 10c79f4d-0746-446e-897d-e8a1f4d31e78
    name:
      description: The policy's name.
      type: str
      sample: db-hourly
    selector:
      description: The label selector, in the service's canonical form.
      type: str
      sample: app=db,tier in (prod,staging)
    schedule:
      description: The cron expression.
      type: str
      sample: "0 * * * *"
    time_zone:
      description: The time zone the schedule is read in.
      type: str
      sample: Europe/Berlin
    full_every:
      description: Every Nth snapshot of a region is full.
      type: int
      sample: 24
    retention:
      description: The retention rules (C(keep_last), C(hourly), C(daily), C(weekly), C(monthly), C(max_age) in ISO 8601
        or null, C(keep_verified)).
      type: dict
      sample: {"keep_last": 3, "hourly": 24, "daily": 7, "weekly": 4, "monthly": 12, "max_age": "P400D", "keep_verified": 2}
    paused:
      description: Whether the policy is paused.
      type: bool
      sample: false
    require_quiesce:
      description: Whether an unquiesced snapshot counts as failed.
      type: bool
      sample: false
    version:
      description: The policy's version, which is also its ETag.
      type: int
      sample: 3
    created_at:
      description: When the policy was created.
      type: str
      sample: "2026-11-24T22:42:44.816807234Z"
    updated_at:
      description: When the policy was last changed.
      type: str
      sample: "2026-11-24T22:42:44.816807234Z"
    last_fire_time:
      description: The latest scheduled time that has run; null before the first.
      type: str
      sample: null
    next_run_at:
      description: The next scheduled time (UTC); null while paused.
      type: str
      sample: "2026-11-25T03:00:00Z"
    preview:
      description:
        - What the policy would do, with I(preview=true).
        - C(next_runs) lists the next fire times (C(at) in the policy's zone with its offset, C(utc)).
        - C(retention) is a dry run of retention now, C(evaluated_at), how many snapshots it would C(keep) and
          C(prune), and for each of the policy's C(snapshots) its C(decision) (C(KEEP) or C(PRUNE)) and the
          C(reasons).
      returned: when I(preview=true)
      type: dict
      sample:
        policy_id: 10c79f4d-0746-446e-897d-e8a1f4d31e78
        name: db-hourly
        paused: false
        time_zone: Europe/Berlin
        next_runs: [{"at": "2026-03-29T01:00:00+01:00", "utc": "2026-03-29T00:00:00Z"}]
        retention: {"evaluated_at": "2026-03-28T23:41:07Z", "keep": 0, "prune": 0, "snapshots": []}
'''

from ansible_collections.faultline.memory.plugins.module_utils.api import (
    FaultlineClient,
    FaultlineError,
    api_path,
    faultline_argument_spec,
)
from ansible_collections.faultline.memory.plugins.module_utils.results import FaultlineModule


def read(module, client):
    params = module.params
    policies = client.get(api_path('snapshot-policies')).body
    if params['name'] is not None:
        policies = [p for p in policies if p.get('name') == params['name']]
    if params['preview']:
        for policy in policies:
            policy['preview'] = client.get(api_path('snapshot-policies', policy['id'], 'preview'),
                                           query=dict(count=params['preview_count'])).body
    return policies


def main():
    module = FaultlineModule(
        argument_spec=faultline_argument_spec(
            name=dict(type='str'),
            preview=dict(type='bool', default=False),
            preview_count=dict(type='int', default=5),
        ),
        supports_check_mode=True,
    )
    try:
        policies = read(module, FaultlineClient(module))
    except FaultlineError as e:
        module.fail_json(**e.fail_kwargs())
    module.exit_json(changed=False, policies=policies)


if __name__ == '__main__':
    main()
