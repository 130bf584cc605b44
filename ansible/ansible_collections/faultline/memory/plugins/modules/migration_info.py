#!/usr/bin/python
# -*- coding: utf-8 -*-

DOCUMENTATION = r'''
module: migration_info
short_description: List Faultline migrations with their progress
version_added: 0.1.0
description:
  - Lists migrations, newest first, with their phase, timeline and statistics.
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
      - Only the migration with this id; the list is empty when there is none.
    type: str
  region_id:
    description:
      - Only migrations of the region with this id.
    type: str
  region:
    description:
      - Only migrations of the region with this name. It must name one region (see C(faultline.memory.region)).
    type: str
  region_selector:
    description:
      - A label selector the region named by I(region) must match.
    type: str
  phase:
    description:
      - Only migrations in this phase.
    type: str
    choices: [PENDING, PRECOPY, SWITCHOVER, POSTCOPY, COMPLETED, PAUSED, FAILED, CANCELLED]
  limit:
    description:
      - At most this many migrations, the newest.
    type: int
seealso:
  - module: faultline.memory.migration
'''

EXAMPLES = r'''
- name: The latest migration of the database's region
  faultline.memory.migration_info:
    url: https://faultline.example.com:8080
    token: "{{ faultline_viewer_token }}"
    region: db-cache
    limit: 1
  register: latest

- name: How long was the workload stopped?
  ansible.builtin.debug:
    msg: "{{ latest.migrations[0].stats.downtime_ms }} ms"
  when: latest.migrations | length > 0

- name: Every migration that failed
  faultline.memory.migration_info:
    phase: FAILED
  register: failed_migrations
'''

RETURN = r'''
migrations:
  description: The migrations, newest first, as the service shows them (see C(faultline.memory.migration)).
  returned: success
  type: list
  elements: dict
  contains:
    id:
      description: The migration's id.
      type: str
      sample: 7c1d9a4e-3b2f-4e8a-9c1d-5f6e7a8b9c0d
    region_id:
      description: The id of the region being migrated (on the source node).
      type: str
      sample: 0b0f6c1e-2a8e-4c1f-9d55-6f1a3b7e9c21
    region_name:
      description: The region's name.
      type: str
      sample: db-cache
    source_node:
      description: The node the region is migrated from.
      type: str
      sample: node-a
    destination_node:
      description: The node the region is migrated to.
      type: str
      sample: node-b
    destination_region_id:
      description: The id of the region on the destination node, once it exists.
      type: str
      sample: null
    phase:
      description: C(PENDING), C(PRECOPY), C(SWITCHOVER), C(POSTCOPY), C(COMPLETED), C(PAUSED), C(FAILED) or C(CANCELLED).
      type: str
      sample: POSTCOPY
    paused_in:
      description: The phase a PAUSED migration paused in.
      type: str
      sample: null
    options:
      description: The options the migration runs with.
      type: dict
      sample: {"max_downtime_ms": 10, "bandwidth_limit_bytes_per_sec": 0, "max_precopy_rounds": 10, "postcopy": "auto",
               "postcopy_after_ms": 30000, "compress": "none", "auto_converge": false, "skip_unchanged": true,
               "push_connections": 1}
    error:
      description: Why it FAILED.
      type: str
      sample: null
    timeline:
      description: When it entered each phase.
      type: list
      elements: dict
      sample: [{"phase": "PENDING", "at": "2026-11-24T20:00:00Z"}]
    stats:
      description:
        - Its statistics (bytes transferred by phase, remaining bytes, dirty rate, downtime, demand latency).
        - C(demand_latency) is how long faults on the destination waited for their page, in nanoseconds, as a latency
          summary (C(count), C(p50_ns), C(p99_ns), C(p999_ns), C(max_ns); C(p999_ns) is null, it is not measured).
          Rates are C(dirty_rate_bytes_per_sec) and C(throughput_bytes_per_sec).
        - C(transferred.compressed_pages) and C(transferred.compressed_bytes) are the pages that travelled compressed
          (option C(compress=zstd)) and what they took on the wire; C(transferred.unchanged_pages) (option
          C(skip_unchanged)) the pages not sent again because their bytes were those last sent.
        - C(throttle) (with option C(auto_converge)) is how the source throttles the workload, as C(state), C(pct),
          C(throttled_ms).
        - C(push_connections) is the number of connections the source pushes pages on (option C(push_connections),
          or 1 where the destination agent takes no more); null from agents older than the option.
      type: dict
      sample: {"region_bytes": 2147483648, "remaining_bytes": 0, "downtime_ms": 8,
               "demand_latency": {"count": 40, "p50_ns": 90000, "p99_ns": 400000, "p999_ns": null, "max_ns": 512000}}
'''

from ansible_collections.faultline.memory.plugins.module_utils.api import (
    FaultlineClient,
    FaultlineError,
    api_path,
    faultline_argument_spec,
)
from ansible_collections.faultline.memory.plugins.module_utils.regions import find_region
from ansible_collections.faultline.memory.plugins.module_utils.results import FaultlineModule

PHASES = ['PENDING', 'PRECOPY', 'SWITCHOVER', 'POSTCOPY', 'COMPLETED', 'PAUSED', 'FAILED', 'CANCELLED']


def read(module, client):
    params = module.params
    if params['id'] is not None:
        found = client.get_or_none(api_path('migrations', params['id']))
        return [found.body] if found is not None else []
    region_id = params['region_id']
    if params['region'] is not None:
        region_id = find_region(client, name=params['region'], selector=params['region_selector'])['id']
    return client.get_items(api_path('migrations'), query=dict(regionId=region_id, phase=params['phase']),
                            limit=params['limit'])


def main():
    module = FaultlineModule(
        argument_spec=faultline_argument_spec(
            id=dict(type='str'),
            region_id=dict(type='str'),
            region=dict(type='str'),
            region_selector=dict(type='str'),
            phase=dict(type='str', choices=PHASES),
            limit=dict(type='int'),
        ),
        mutually_exclusive=[('id', 'region_id', 'region'), ('id', 'phase'), ('id', 'limit'),
                            ('region_id', 'region_selector')],
        required_by=dict(region_selector='region'),
        supports_check_mode=True,
    )
    try:
        migrations = read(module, FaultlineClient(module))
    except FaultlineError as e:
        module.fail_json(**e.fail_kwargs())
    module.exit_json(changed=False, migrations=migrations)


if __name__ == '__main__':
    main()
