#!/usr/bin/python
# -*- coding: utf-8 -*-

DOCUMENTATION = r'''
module: snapshot_info
short_description: List Faultline snapshots
version_added: 0.1.0
description:
  - Lists snapshots from the service's catalog, newest first, with the filters of the service's list.
  - Reads every page of the service's list (up to I(limit)).
  - Needs a C(VIEWER) token in I(token).
author:
  - Faultline maintainers (!UNKNOWN)
extends_documentation_fragment:
  - faultline.memory.connection
  - faultline.memory.attributes.INFO_MODULE
  - faultline.memory.attributes.ACTIONGROUP_FAULTLINE
options:
  id:
    description:
      - Only the snapshot with this id (in any state, DELETED too); the list is empty when there is none.
    type: str
  region_id:
    description:
      - Only snapshots of the region with this id.
    type: str
  region:
    description:
      - Only snapshots of the region with this name. It must name one region (see C(faultline.memory.region)).
    type: str
  region_selector:
    description:
      - A label selector the region named by I(region) must match.
    type: str
  policy_id:
    description:
      - Only snapshots taken by the snapshot policy with this id.
    type: str
  policy:
    description:
      - Only snapshots taken by the snapshot policy with this name.
    type: str
  state:
    description:
      - Only snapshots in these states. Without it, every state but C(DELETED).
    type: list
    elements: str
    choices: [PENDING, RUNNING, COMPLETED, FAILED, DELETING, DELETED]
  kind:
    description:
      - Only C(FULL) or only C(INCREMENTAL) snapshots.
    type: str
    choices: [FULL, INCREMENTAL]
  created_from:
    description:
      - Only snapshots created at or after this instant (RFC 3339, for example C(2026-11-24T00:00:00Z)).
    type: str
  created_to:
    description:
      - Only snapshots created before this instant (RFC 3339).
    type: str
  limit:
    description:
      - At most this many snapshots, the newest.
    type: int
seealso:
  - module: faultline.memory.snapshot
'''

EXAMPLES = r'''
- name: The newest completed snapshot of the database's region
  faultline.memory.snapshot_info:
    url: https://faultline.example.com:8080
    token: "{{ faultline_viewer_token }}"
    region: db-cache
    state: [COMPLETED]
    limit: 1
  register: newest

- name: Snapshots that failed in November 2026
  faultline.memory.snapshot_info:
    state: [FAILED]
    created_from: "2026-11-01T00:00:00Z"
    created_to: "2026-12-01T00:00:00Z"
  register: failed_snapshots

- name: Say why
  ansible.builtin.debug:
    msg: "{{ failed_snapshots.snapshots | map(attribute='error') | list }}"
'''

RETURN = r'''
snapshots:
  description: The snapshots, newest first, as the service shows them (see C(faultline.memory.snapshot)).
  returned: success
  type: list
  elements: dict
  contains:
    id:
      description: The snapshot's id.
      type: str
      sample: 68eeb537-b2d9-4191-8a4a-d2906abecc6e
    region_id:
      description: The id of the region it is a snapshot of.
      type: str
      sample: 7c2230fb-1e82-41fc-bcdd-5ad9ae12f20f
    region_name:
      description: The region's name when the snapshot was taken.
      type: str
      sample: db-cache
    kind:
      description: C(FULL) or C(INCREMENTAL).
      type: str
      sample: FULL
    parent_id:
      description: The snapshot an incremental one is based on; null for a full one.
      type: str
      sample: null
    state:
      description: C(PENDING), C(RUNNING), C(COMPLETED), C(FAILED), C(DELETING) or C(DELETED).
      type: str
      sample: COMPLETED
    policy_id:
      description: The policy that took it; null when taken on request.
      type: str
      sample: null
    created_at:
      description: When it was asked for.
      type: str
      sample: "2026-11-24T22:46:03.137885Z"
    size_bytes:
      description: Size of its image; null until it completed.
      type: int
      sample: 16777216
    writer_stall:
      description:
        - How long writes to pages not yet saved were held while the snapshot ran, in nanoseconds, as a latency
          summary (C(count), C(p50_ns), C(p99_ns), C(p999_ns), C(max_ns)); null while it was not measured.
        - A snapshot measures C(p999_ns) and C(max_ns); C(p50_ns) and C(p99_ns) are null.
      type: dict
      sample: {"count": 12, "p50_ns": null, "p99_ns": null, "p999_ns": 48000, "max_ns": 51200}
    verification:
      description: The outcome of the last verification (C(state), C(last_verified_at)).
      type: dict
      sample: {"state": "UNVERIFIED", "last_verified_at": null}
    error:
      description: Why it failed; null unless it FAILED.
      type: str
      sample: null
'''

from ansible_collections.faultline.memory.plugins.module_utils.api import (
    FaultlineClient,
    FaultlineError,
    api_path,
    faultline_argument_spec,
)
from ansible_collections.faultline.memory.plugins.module_utils.regions import find_region
from ansible_collections.faultline.memory.plugins.module_utils.results import FaultlineModule

STATES = ['PENDING', 'RUNNING', 'COMPLETED', 'FAILED', 'DELETING', 'DELETED']


def read(module, client):
    params = module.params
    if params['id'] is not None:
        found = client.get_or_none(api_path('snapshots', params['id']))
        return [found.body] if found is not None else []
    region_id = params['region_id']
    if params['region'] is not None:
        region_id = find_region(client, name=params['region'], selector=params['region_selector'])['id']
    policy_id = params['policy_id']
    if params['policy'] is not None:
        named = [p for p in client.get(api_path('snapshot-policies')).body if p.get('name') == params['policy']]
        if not named:
            return []
        policy_id = named[0]['id']
    query = dict(regionId=region_id, policyId=policy_id, state=params['state'] or None, kind=params['kind'],
                 createdFrom=params['created_from'], createdTo=params['created_to'])
    return client.get_items(api_path('snapshots'), query=query, limit=params['limit'])


def main():
    module = FaultlineModule(
        argument_spec=faultline_argument_spec(
            id=dict(type='str'),
            region_id=dict(type='str'),
            region=dict(type='str'),
            region_selector=dict(type='str'),
            policy_id=dict(type='str'),
            policy=dict(type='str'),
            state=dict(type='list', elements='str', choices=STATES),
            kind=dict(type='str', choices=['FULL', 'INCREMENTAL']),
            created_from=dict(type='str'),
            created_to=dict(type='str'),
            limit=dict(type='int'),
        ),
        mutually_exclusive=[('id', 'region_id', 'region'), ('id', 'policy_id', 'policy'), ('id', 'state'),
                            ('id', 'kind'), ('id', 'created_from'), ('id', 'created_to'), ('id', 'limit'),
                            ('region_id', 'region_selector')],
        required_by=dict(region_selector='region'),
        supports_check_mode=True,
    )
    try:
        snapshots = read(module, FaultlineClient(module))
    except FaultlineError as e:
        module.fail_json(**e.fail_kwargs())
    module.exit_json(changed=False, snapshots=snapshots)


if __name__ == '__main__':
    main()
