#!/usr/bin/python
# -*- coding: utf-8 -*-

DOCUMENTATION = r'''
module: region
short_description: Label and detach Faultline memory regions
version_added: 0.1.0
description:
  - Sets the labels of a memory region, and detaches it.
  - A region is created by its workload (a process using libfaultline, a restored process or microVM), never by
    this module, so the region must exist; the task fails when it does not.
  - Labels are changed with a JSON merge patch sent with the region's ETag. When someone else changes the region
    between the read and the write, the module reads it again and applies its changes once more, so only the
    labels the task declares are written.
  - Needs an C(OPERATOR) token in I(token) to change a region, a C(VIEWER) token when nothing changes.
author:
  - Faultline maintainers (!UNKNOWN)
extends_documentation_fragment:
  - faultline.memory.connection
  - faultline.memory.attributes
  - faultline.memory.attributes.ACTIONGROUP_FAULTLINE
options:
  id:
    description:
      - The region's id.
      - Either I(id) or I(name) names the region.
    type: str
  name:
    description:
      - The region's name, as its workload declared it.
      - Names are not unique. When several regions have this name, a DETACHED one (the record of a workload that
        has gone) is passed over for one that is still attached; if that leaves more than one, the task fails and
        lists them. Use I(selector) or I(id) to tell them apart.
    type: str
  selector:
    description:
      - A label selector that the region named by I(name) must match, for example C(app=db,tier in (gold,silver)).
      - Only with I(name).
    type: str
  labels:
    description:
      - Labels the region should have, as a dictionary of keys and values.
      - A label set to null (C(~)) is removed.
      - Numbers are turned into text; other values must be strings (quote C("true") and C("yes")).
      - When omitted, the labels are left as they are.
    type: dict
  purge_labels:
    description:
      - Whether to remove the labels that I(labels) does not list.
      - C(false) adds and changes the labels listed, and leaves the others alone.
      - C(true) makes I(labels) the region's whole label set, removing the labels its workload declared too.
        Unlike C(purge_tags) of the amazon.aws modules, this defaults to C(false), because policies select regions
        by the labels their workloads declare; dropping them silently takes a region out of its snapshot policies.
      - Has no effect when I(labels) is omitted.
    type: bool
    default: false
  state:
    description:
      - C(present) only sets the region's labels. (Only its workload attaches a region; a DETACHED one stays
        detached.)
      - C(detached) detaches it (after setting its labels, when I(labels) is given); a region that is already
        DETACHED, or DETACHING, is left alone.
    type: str
    choices: [present, detached]
    default: present
  populate:
    description:
      - With I(state=detached), whether the agent first installs every page of the region that is still missing,
        so nothing the workload reads later turns into zeros.
      - Set to C(false) only for a region whose missing pages may read as zeros.
    type: bool
    default: true
  wait:
    description:
      - With I(state=detached), whether to wait until the region is DETACHED.
      - Populating a large lazily restored region can take minutes.
    type: bool
    default: true
  wait_timeout:
    description:
      - How many seconds to wait with I(wait=true) before failing the task.
    type: int
    default: 300
notes:
  - Without I(wait), a detached region reports state C(DETACHING); C(faultline.memory.region_info) shows when it is
    DETACHED.
  - The service does not report a detach that the agent refused; such a region stays DETACHING, and a task waiting
    for it times out (the service's log has the agent's reason).
seealso:
  - module: faultline.memory.region_info
'''

EXAMPLES = r'''
- name: Put the database's region in the gold tier
  faultline.memory.region:
    url: https://faultline.example.com:8080
    token: "{{ faultline_operator_token }}"
    name: db-cache
    labels:
      tier: gold
      owner: team-db

- name: Remove one label and keep the others
  faultline.memory.region:
    name: db-cache
    labels:
      old-label: ~

- name: Make these the region's only labels
  faultline.memory.region:
    id: 7c2230fb-1e82-41fc-bcdd-5ad9ae12f20f
    labels:
      app: db
      tier: gold
    purge_labels: true

- name: One of two regions named cache, told apart by a label
  faultline.memory.region:
    name: cache
    selector: app=web
    labels:
      tier: silver

- name: Detach a region safely, once every page is in place
  faultline.memory.region:
    name: db-cache
    state: detached
    wait_timeout: 900
'''

RETURN = r'''
region:
  description:
    - The region after the task, without its live page counts and statistics (C(faultline.memory.region_info) has
      them).
    - In check mode, the region as the task would leave it.
  returned: success
  type: dict
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
'''

from ansible.module_utils.common.text.converters import to_text
from ansible_collections.faultline.memory.plugins.module_utils.api import (
    FaultlineClient,
    FaultlineError,
    api_path,
    faultline_argument_spec,
)
from ansible_collections.faultline.memory.plugins.module_utils.regions import find_region, read_region
from ansible_collections.faultline.memory.plugins.module_utils.state import ResourceState, write_if_match
from ansible_collections.faultline.memory.plugins.module_utils.wait import wait_for
from ansible_collections.faultline.memory.plugins.module_utils.results import FaultlineModule

# Counters that move on their own while a workload runs: a diff of them would never be empty.
LIVE_FIELDS = ('pages', 'stats')


def region_view(region):
    return dict((k, v) for k, v in region.items() if k not in LIVE_FIELDS)


def label_values(module, labels):
    """The task's labels with values as the service takes them (text), None meaning 'remove'."""
    values = {}
    for key, value in (labels or {}).items():
        if value is None or isinstance(value, str):
            values[key] = value
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            values[key] = to_text(value)
        else:
            module.fail_json(msg='labels.%s must be a string, a number or null, not %r; quote it' % (key, value))
    return values


def wanted_labels(current, labels, purge):
    """The whole label set the task asks for, given the region's current labels."""
    wanted = {} if purge else dict(current or {})
    for key, value in labels.items():
        if value is None:
            wanted.pop(key, None)
        else:
            wanted[key] = value
    return wanted


def merge_patch_of(current, wanted):
    """The JSON merge patch that turns the current labels into the wanted ones (null removes a label)."""
    current = current or {}
    patch = dict((k, v) for k, v in wanted.items() if current.get(k) != v)
    patch.update((k, None) for k in current if k not in wanted)
    return patch


def run(module, client):
    params = module.params
    if params['id'] is not None:
        response = read_region(client, params['id'])
    else:
        # the list carries no ETag, and the region may have changed since it was listed
        response = read_region(client, find_region(client, name=params['name'], selector=params['selector'])['id'])
    path = api_path('regions', response.body['id'])
    state = ResourceState(module, 'region', response.body['id'], response.body, view=region_view)

    def read():
        fresh = client.get(path)
        return fresh.body, fresh.etag

    if params['labels'] is not None:
        labels = label_values(module, params['labels'])

        def relabel(region, etag):
            patch = merge_patch_of(region.get('labels'), wanted_labels(region.get('labels'), labels, params['purge_labels']))
            if not patch:
                return region
            return client.merge_patch(path, dict(labels=patch), if_match=etag).body

        def update(current, changes):
            return write_if_match(relabel, current, response.etag, read)

        state.present(dict(labels=wanted_labels(response.body.get('labels'), labels, params['purge_labels'])),
                      create=None, update=update)

    if params['state'] == 'detached':
        try:
            detach(module, client, path, state)
        except FaultlineError as e:
            # what the task did before the failure (labels, the detach request) is still reported
            module.fail_json(**dict(e.fail_kwargs(), **state.result(region=state.after)))
    return state.result(region=state.after)


def detach(module, client, path, state):
    params = module.params
    region_state = state.after.get('state')
    if region_state == 'DETACHED':
        return
    if region_state != 'DETACHING':
        if module.check_mode:
            state.changed = True
            state.after = dict(state.after, state='DETACHED' if params['wait'] else 'DETACHING')
            return
        query = None if params['populate'] else dict(populate='false')
        state.after = region_view(client.delete(path, query=query).body)
        state.changed = True
    if params['wait'] and not module.check_mode:
        region = wait_for(lambda: client.get(path).body, done=lambda r: r.get('state') == 'DETACHED',
                          timeout=params['wait_timeout'], what='region %s to be DETACHED' % state.key,
                          describe=lambda r: 'state %s' % r.get('state'))
        state.after = region_view(region)


def main():
    module = FaultlineModule(
        argument_spec=faultline_argument_spec(
            id=dict(type='str'),
            name=dict(type='str'),
            selector=dict(type='str'),
            labels=dict(type='dict'),
            purge_labels=dict(type='bool', default=False),
            state=dict(type='str', default='present', choices=['present', 'detached']),
            populate=dict(type='bool', default=True),
            wait=dict(type='bool', default=True),
            wait_timeout=dict(type='int', default=300),
        ),
        required_one_of=[('id', 'name')],
        mutually_exclusive=[('id', 'name'), ('id', 'selector')],
        supports_check_mode=True,
    )
    try:
        module.exit_json(**run(module, FaultlineClient(module)))
    except FaultlineError as e:
        module.fail_json(**e.fail_kwargs())


if __name__ == '__main__':
    main()
