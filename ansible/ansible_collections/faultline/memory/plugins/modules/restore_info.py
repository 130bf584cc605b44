#!/usr/bin/python
# -*- coding: utf-8 -*-

DOCUMENTATION = r'''
module: restore_info
short_description: List Faultline restore sessions with their progress
version_added: 0.1.0
description:
  - Lists the service's restore sessions, newest first, with their progress (pages present of total) and working
    set, closed and failed ones included.
  - The service filters and pages the list; the module reads every page of what matches.
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
      - Only the session with this id; the list is empty when there is none.
    type: str
  name:
    description:
      - Only sessions with this name.
    type: str
  state:
    description:
      - Only sessions in these states.
    type: list
    elements: str
    choices: [REQUESTED, WAITING, ACTIVE, COMPLETE, FAILED, CLOSED]
  node:
    description:
      - Only sessions on this node.
    type: str
  snapshot_id:
    description:
      - Only the sessions that serve this snapshot (opened by restoring it).
    type: str
seealso:
  - module: faultline.memory.restore
'''

EXAMPLES = r'''
- name: The open restore sessions
  faultline.memory.restore_info:
    url: https://faultline.example.com:8080
    token: "{{ faultline_viewer_token }}"
    state: [REQUESTED, WAITING, ACTIVE, COMPLETE]
  register: open_sessions

- name: Show how far each has got
  ansible.builtin.debug:
    msg: "{{ item.name }}: {{ item.state }} {{ ((item.progress or 0) * 100) | round(1) }}%"
  loop: "{{ open_sessions.restores }}"
'''

RETURN = r'''
restores:
  description: The sessions, newest first.
  returned: success
  type: list
  elements: dict
  contains:
    id:
      description: The session's id.
      type: str
      sample: 5e1f0000-0000-4000-8000-000000000001
    node:
      description: The node whose agent holds it.
      type: str
      sample: node-a
    name:
      description: Its name, and the restored region's.
      type: str
      sample: db-cache
    labels:
      description: The labels the restored region gets.
      type: dict
      sample: {"app": "db"}
    image:
      description: The image, C(path) and C(size) in bytes.
      type: dict
      sample: {"path": "/var/lib/faultline/images/db-cache.img", "size": 268435456}
    snapshot_id:
      description: The snapshot the session serves; null for an image's session, whose I(image) is then the file given.
      type: str
      sample: null
    socket:
      description: The handoff socket to give the workload or Firecracker.
      type: str
      sample: /var/lib/faultline/agent/restore/5e1f0000-0000-4000-8000-000000000001.sock
    state:
      description: C(REQUESTED), C(WAITING), C(ACTIVE), C(COMPLETE), C(FAILED) or C(CLOSED).
      type: str
      sample: ACTIVE
    created_at:
      description: When it was opened.
      type: str
      sample: "2026-11-24T22:46:03.137885Z"
    closed_at:
      description: When it was closed; null while open.
      type: str
      sample: null
    options:
      description: Its options, C(fault_around_pages), C(populate_delay_ms) and C(working_set).
      type: dict
      sample: {"fault_around_pages": 16, "populate_delay_ms": 1000, "working_set": "auto"}
    regions:
      description: The ids of the regions attached to it.
      type: list
      elements: str
      sample: ["7c2230fb-1e82-41fc-bcdd-5ad9ae12f20f"]
    pages:
      description: Pages C(present) of C(total), once a workload attached.
      type: dict
      sample: {"total": 65536, "present": 1024}
    progress:
      description: Pages present / total, 0 to 1; null until a workload attached.
      type: float
      sample: 0.015625
    working_set:
      description: The working set's C(mode), C(file), C(recorded_pages) and C(replayed_pages).
      type: dict
      sample: {"mode": "replay", "file": "/var/lib/faultline/images/db-cache.img.wset", "recorded_pages": 0,
               "replayed_pages": 812}
    error:
      description: Why it FAILED.
      type: str
      sample: null
'''

from ansible_collections.faultline.memory.plugins.module_utils.api import (
    FaultlineClient,
    FaultlineError,
    api_path,
    faultline_argument_spec,
)
from ansible_collections.faultline.memory.plugins.module_utils.results import FaultlineModule

STATES = ['REQUESTED', 'WAITING', 'ACTIVE', 'COMPLETE', 'FAILED', 'CLOSED']


def read(module, client):
    params = module.params
    if params['id'] is not None:
        found = client.get_or_none(api_path('restores', params['id']))
        return [found.body] if found is not None else []
    # the service filters and pages; the same filters here keep a service from before that right
    query = dict(name=params['name'], node=params['node'], snapshotId=params['snapshot_id'],
                 state=params['state'] or None)
    return [s for s in client.get_items(api_path('restores'), query=query)
            if params['name'] in (None, s.get('name')) and params['node'] in (None, s.get('node'))
            and params['snapshot_id'] in (None, s.get('snapshotId'))
            and (not params['state'] or s.get('state') in params['state'])]


def main():
    module = FaultlineModule(
        argument_spec=faultline_argument_spec(
            id=dict(type='str'),
            name=dict(type='str'),
            state=dict(type='list', elements='str', choices=STATES),
            node=dict(type='str'),
            snapshot_id=dict(type='str'),
        ),
        mutually_exclusive=[('id', 'name'), ('id', 'state'), ('id', 'node'), ('id', 'snapshot_id')],
        supports_check_mode=True,
    )
    try:
        restores = read(module, FaultlineClient(module))
    except FaultlineError as e:
        module.fail_json(**e.fail_kwargs())
    module.exit_json(changed=False, restores=restores)


if __name__ == '__main__':
    main()
