#!/usr/bin/python
# -*- coding: utf-8 -*-

DOCUMENTATION = r'''
module: region_info
short_description: List Faultline memory regions with their live statistics
version_added: 0.1.0
description:
  - Lists memory regions, newest first, with their labels, state, page counts and fault statistics.
  - Reads every page of the service's list, so the result holds every region that matches.
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
      - Only the region with this id; the list is empty when there is none.
      - I(name) and I(state) still apply; I(selector) cannot be given with it.
    type: str
  name:
    description:
      - Only regions with this name. Names are not unique, so there may be several.
    type: str
  selector:
    description:
      - Only regions whose labels match this label selector, for example C(app=db,tier!=cache,env in (prod,stage)).
    type: str
  state:
    description:
      - Only regions in this state.
    type: str
    choices: [ATTACHED, DETACHING, DETACHED]
seealso:
  - module: faultline.memory.region
'''

EXAMPLES = r'''
- name: Every attached region of the database
  faultline.memory.region_info:
    url: https://faultline.example.com:8080
    token: "{{ faultline_viewer_token }}"
    selector: app=db
    state: ATTACHED
  register: db_regions

- name: Show how much of each is present
  ansible.builtin.debug:
    msg: "{{ item.name }}: {{ item.pages.present }} of {{ item.pages.total }} pages"
  loop: "{{ db_regions.regions }}"
  when: item.pages is not none

- name: One region by id
  faultline.memory.region_info:
    id: 7c2230fb-1e82-41fc-bcdd-5ad9ae12f20f
  register: one
  failed_when: one.regions | length != 1
'''

RETURN = r'''
regions:
  description: The regions, newest first, as the service shows them.
  returned: success
  type: list
  elements: dict
  contains:
    id:
      description: The region's id.
      type: str
      sample: 7c2230fb-1e82-41fc-bcdd-5ad9ae12f20f
    node:
      description: The node whose agent holds the region.
      type: str
      sample: node-a
    name:
      description: The region's name, as its workload declared it.
      type: str
      sample: db-cache
    labels:
      description: The region's labels.
      type: dict
      sample: {"app": "db", "tier": "gold"}
    state:
      description: C(ATTACHED), C(DETACHING) or C(DETACHED).
      type: str
      sample: ATTACHED
    owner:
      description: The process that registered the region (C(pid), C(uid), C(command)).
      type: dict
      sample: {"pid": 4242, "uid": 1000, "command": "postgres"}
    start:
      description: The region's first address.
      type: int
      sample: 140113782767616
    length:
      description: The region's length in bytes.
      type: int
      sample: 16777216
    page_size:
      description: The region's page size in bytes.
      type: int
      sample: 4096
    modes:
      description: The userfaultfd modes the region is registered with.
      type: list
      elements: str
      sample: [missing]
    source:
      description: How the region was registered, for example C(libfaultline).
      type: str
      sample: libfaultline
    backing:
      description: Where the region's pages come from (C(kind) C(anonymous), C(image) or C(migration), C(path),
        C(offset), C(restore_id)).
      type: dict
      sample: {"kind": "image", "path": "/var/lib/faultline/images/db.img", "offset": 0, "restore_id": null}
    attached_at:
      description: When the region was attached.
      type: str
      sample: "2026-11-24T22:40:08.717Z"
    detached_at:
      description: When the region was detached; null while it is not.
      type: str
      sample: null
    pages:
      description: Page counts (C(total), C(present)); null while the agent is unreachable or the region is detached.
      type: dict
      sample: {"total": 4096, "present": 4096}
    stats:
      description:
        - The agent's live statistics of the region (faults, installed pages by path, fault latency);
          null while the agent is unreachable or the region is detached.
        - C(latency) is the fault latency in nanoseconds as a latency summary (C(count), C(p50_ns), C(p99_ns),
          C(p999_ns), C(max_ns); C(p999_ns) is null, the agent does not compute it), C(latency_buckets) its log2
          histogram (bucket i counts latencies from 2^i to 2^(i+1) ns), C(blocked_ns) how long faulting threads waited.
      type: dict
      sample: {"faults": {"missing": 256, "wp": 0, "minor": 0}, "zero_pages": 512,
               "latency": {"count": 256, "p50_ns": 4096, "p99_ns": 32768, "p999_ns": null, "max_ns": 61440}}
'''

from ansible_collections.faultline.memory.plugins.module_utils.api import (
    FaultlineClient,
    FaultlineError,
    api_path,
    faultline_argument_spec,
)
from ansible_collections.faultline.memory.plugins.module_utils.regions import REGION_STATES, list_regions
from ansible_collections.faultline.memory.plugins.module_utils.results import FaultlineModule


def read(module, client):
    params = module.params
    if params['id'] is not None:
        found = client.get_or_none(api_path('regions', params['id']))
        regions = [found.body] if found is not None else []
        if params['state'] is not None:
            regions = [r for r in regions if r.get('state') == params['state']]
    else:
        regions = list_regions(client, selector=params['selector'], state=params['state'])
    if params['name'] is not None:
        regions = [r for r in regions if r.get('name') == params['name']]
    return regions


def main():
    module = FaultlineModule(
        argument_spec=faultline_argument_spec(
            id=dict(type='str'),
            name=dict(type='str'),
            selector=dict(type='str'),
            state=dict(type='str', choices=REGION_STATES),
        ),
        mutually_exclusive=[('id', 'selector')],
        supports_check_mode=True,
    )
    try:
        regions = read(module, FaultlineClient(module))
    except FaultlineError as e:
        module.fail_json(**e.fail_kwargs())
    module.exit_json(changed=False, regions=regions)


if __name__ == '__main__':
    main()
