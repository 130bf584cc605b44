#!/usr/bin/python
# -*- coding: utf-8 -*-

DOCUMENTATION = r'''
module: snapshot
short_description: Take, verify and delete Faultline snapshots
version_added: 0.1.0
description:
  - Takes a snapshot of a memory region, verifies a snapshot, or deletes one.
  - Taking a snapshot is an action, not a state, so by default B(every run takes a new snapshot and reports a change),
    like M(ansible.builtin.command). Give I(unless_newer_than) to make it idempotent, for example C(1h), which takes
    a snapshot only when the region has none that is COMPLETED, or still being taken, and was created within the
    last hour.
  - With I(wait=true) (the default) the task waits for the snapshot to be COMPLETED, and fails with the service's
    reason when it FAILED.
  - I(verify=true) has the agent re-read the snapshot's image and check every page checksum; the task waits for the
    verification and fails when the snapshot is CORRUPT. Each verification is recorded, so it reports a change.
  - I(state=absent) deletes a snapshot by id. The service keeps a deleted snapshot in its catalog as DELETED.
  - Needs an C(OPERATOR) token in I(token), a C(VIEWER) token when nothing changes.
author:
  - Faultline maintainers (!UNKNOWN)
extends_documentation_fragment:
  - faultline.memory.connection
  - faultline.memory.attributes
  - faultline.memory.attributes.ACTIONGROUP_FAULTLINE
options:
  state:
    description:
      - C(present) takes a snapshot of the region named by I(region_id) or I(region), or, with I(id), works on an
        existing snapshot (waits for it, verifies it).
      - C(absent) deletes the snapshot I(id). A snapshot that does not exist or is already DELETED is no change.
    type: str
    choices: [present, absent]
    default: present
  id:
    description:
      - An existing snapshot's id.
      - Required with I(state=absent).
    type: str
  region_id:
    description:
      - Id of the region to take a snapshot of.
    type: str
  region:
    description:
      - Name of the region to take a snapshot of. Names are not unique; when several regions have this name, a
        DETACHED one is passed over for one still attached, and if that leaves more than one the task fails and lists
        them. Use I(region_selector) or I(region_id) to tell them apart.
    type: str
  region_selector:
    description:
      - A label selector the region named by I(region) must match, for example C(app=db).
    type: str
  kind:
    description:
      - C(FULL) saves every present page; C(INCREMENTAL) only the pages changed since its parent.
      - When omitted, the service takes a C(FULL) one.
    type: str
    choices: [FULL, INCREMENTAL]
  parent_id:
    description:
      - For an C(INCREMENTAL) snapshot, the snapshot to base it on. By default the region's latest COMPLETED one.
    type: str
  unless_newer_than:
    description:
      - Makes taking idempotent. Takes no snapshot when the region has one created within this time that is
        COMPLETED, or PENDING or RUNNING (then I(wait) waits for that one); a FAILED one does not count. With I(kind),
        only snapshots of that kind count.
      - ISO 8601 (C(PT1H), C(P1D)) or a number and a unit (C(30m), C(1h), C(1d)).
      - Measured with the clock of the host the module runs on.
      - Without it, every run takes a snapshot.
    type: str
  wait:
    description:
      - Whether to wait until the snapshot is COMPLETED (with I(state=present)) or deleted (with I(state=absent)).
      - A snapshot that FAILED then fails the task, with the snapshot's error.
    type: bool
    default: true
  wait_timeout:
    description:
      - How many seconds to wait, for the snapshot and then for its verification, before failing the task.
    type: int
    default: 600
  verify:
    description:
      - Whether to verify the snapshot (it must be, or become, COMPLETED; a snapshot just taken is waited for first,
        whatever I(wait) says).
      - Fails the task when the verification finds the snapshot CORRUPT.
    type: bool
    default: false
  consolidate:
    description:
      - With I(state=absent), whether to delete a snapshot that incremental snapshots are based on, by first folding
        it into each of them. Without it, the service refuses to delete such a snapshot.
    type: bool
    default: false
notes:
  - The service runs one snapshot job per region at a time. Taking a snapshot while another one of the region is
    PENDING or RUNNING fails with the service's C(snapshot-in-progress) problem, unless I(unless_newer_than) covers
    that one.
seealso:
  - module: faultline.memory.snapshot_info
  - module: faultline.memory.snapshot_policy
'''

EXAMPLES = r'''
- name: Snapshot the database's region before the upgrade, unless one is less than an hour old
  faultline.memory.snapshot:
    url: https://faultline.example.com:8080
    token: "{{ faultline_operator_token }}"
    region: db-cache
    unless_newer_than: 1h
    wait_timeout: 1800
  register: before_upgrade

- name: Take an incremental snapshot on every run, without waiting for it
  faultline.memory.snapshot:
    region_id: 7c2230fb-1e82-41fc-bcdd-5ad9ae12f20f
    kind: INCREMENTAL
    wait: false

- name: Verify the snapshot taken before the upgrade
  faultline.memory.snapshot:
    id: "{{ before_upgrade.snapshot.id }}"
    verify: true

- name: Delete a snapshot, folding it into the incremental snapshots based on it
  faultline.memory.snapshot:
    id: 68eeb537-b2d9-4191-8a4a-d2906abecc6e
    state: absent
    consolidate: true
'''

RETURN = r'''
snapshot:
  description:
    - The snapshot after the task, as the service shows it (for a deleted one, with state C(DELETING) or C(DELETED)).
    - In check mode, when a snapshot would be taken, only the fields the task determines.
  returned: when there is a snapshot
  type: dict
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
    region_labels:
      description: The region's labels when the snapshot was taken.
      type: dict
      sample: {"app": "db"}
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
    requested_by:
      description: The name of the token that asked for it, or C(policy:<name>).
      type: str
      sample: ci
    created_at:
      description: When it was asked for.
      type: str
      sample: "2026-11-24T22:46:03.137885Z"
    completed_at:
      description: When it completed or failed.
      type: str
      sample: "2026-11-24T22:46:04.169226Z"
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
      description: The outcome of the last verification (C(state) C(UNVERIFIED), C(VERIFIED) or C(CORRUPT), and
        C(last_verified_at)).
      type: dict
      sample: {"state": "VERIFIED", "last_verified_at": "2026-11-24T23:00:00Z"}
    error:
      description: Why it failed; null unless it FAILED.
      type: str
      sample: null
operation:
  description: The verification or deletion the task started or waited for, as the service shows it.
  returned: when the task verified or deleted a snapshot
  type: dict
  contains:
    id:
      description: The operation's id.
      type: str
      sample: 2b9c0e57-5d0f-4f8e-9a43-8b1de1b7c6a2
    kind:
      description: C(VERIFY) or C(DELETE).
      type: str
      sample: VERIFY
    state:
      description: C(PENDING), C(RUNNING), C(SUCCEEDED) or C(FAILED).
      type: str
      sample: SUCCEEDED
    result:
      description: What it found or did, once it SUCCEEDED.
      type: str
      sample: VERIFIED
    error:
      description: Why it FAILED.
      type: str
      sample: null
'''

import datetime

from ansible_collections.faultline.memory.plugins.module_utils.api import (
    FaultlineClient,
    FaultlineError,
    api_path,
    faultline_argument_spec,
)
from ansible_collections.faultline.memory.plugins.module_utils.duration import duration_seconds
from ansible_collections.faultline.memory.plugins.module_utils.regions import find_region
from ansible_collections.faultline.memory.plugins.module_utils.wait import wait_for
from ansible_collections.faultline.memory.plugins.module_utils.results import FaultlineModule

BEING_TAKEN = ('PENDING', 'RUNNING')
OPERATION_DONE = ('SUCCEEDED', 'FAILED')


class Outcome(object):
    """What the task did so far: reported as the result, or with the failure when a later step fails."""

    def __init__(self):
        self.changed = False
        self.before = {}
        self.snapshot = None
        self.operation = None

    def result(self, **extra):
        result = dict(changed=self.changed, diff=dict(before=self.before, after=self.snapshot or {}))
        if self.snapshot is not None:
            result['snapshot'] = self.snapshot
        if self.operation is not None:
            result['operation'] = self.operation
        result.update(extra)
        return result


class StepFailed(FaultlineError):
    """A snapshot or an operation ended badly; the message says how, in the service's words."""


def snapshot_path(snapshot_id, *rest):
    return api_path('snapshots', snapshot_id, *rest)


def describe(snapshot):
    return "snapshot %s of region '%s'" % (snapshot.get('id'), snapshot.get('regionName') or snapshot.get('regionId'))


def recent_snapshot(module, client, region_id):
    """The newest snapshot of the region that unless_newer_than counts, or None."""
    params = module.params
    seconds = duration_seconds(params['unless_newer_than'])
    if seconds is None or seconds <= 0:
        module.fail_json(msg='unless_newer_than %r is not a positive duration such as 30m, 1h, 1d or PT1H'
                         % params['unless_newer_than'])
    since = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=seconds)
    found = client.get_items(api_path('snapshots'), limit=1, query=dict(
        regionId=region_id, kind=params['kind'], state=['PENDING', 'RUNNING', 'COMPLETED'],
        createdFrom=since.strftime('%Y-%m-%dT%H:%M:%SZ')))
    return found[0] if found else None


def await_snapshot(module, client, outcome):
    """Waits until the snapshot is COMPLETED; raises StepFailed when it FAILED or was deleted instead."""
    snapshot = outcome.snapshot
    if snapshot['state'] in BEING_TAKEN:
        snapshot = outcome.snapshot = wait_for(
            lambda: client.get(snapshot_path(snapshot['id'])).body, done=lambda s: s['state'] not in BEING_TAKEN,
            timeout=module.params['wait_timeout'], what='%s to complete' % describe(snapshot),
            describe=lambda s: 'state ' + s['state'])
    if snapshot['state'] != 'COMPLETED':
        reason = snapshot.get('error') or 'the service gave no reason'
        raise StepFailed('%s %s: %s' % (describe(snapshot), snapshot['state'], reason))
    return snapshot


def await_operation(module, client, operation):
    if operation['state'] not in OPERATION_DONE:
        path = snapshot_path(operation['snapshotId'], 'operations', operation['id'])
        operation = wait_for(lambda: client.get(path).body, done=lambda o: o['state'] in OPERATION_DONE,
                             timeout=module.params['wait_timeout'],
                             what='%s of snapshot %s' % (operation['kind'].lower(), operation['snapshotId']),
                             describe=lambda o: 'state ' + o['state'])
    return operation


def present(module, client, outcome):
    params = module.params
    snapshot = None
    if params['id'] is not None:
        found = client.get_or_none(snapshot_path(params['id']))
        if found is None:
            raise FaultlineError('there is no snapshot with id %s' % params['id'], status=404)
        snapshot = outcome.before = outcome.snapshot = found.body
    else:
        region = find_region(client, region_id=params['region_id'], name=params['region'],
                             selector=params['region_selector'])
        if params['unless_newer_than'] is not None:
            snapshot = recent_snapshot(module, client, region['id'])
        if snapshot is not None:
            outcome.before = outcome.snapshot = snapshot
        elif module.check_mode:
            outcome.changed = True
            outcome.snapshot = dict(regionId=region['id'], regionName=region.get('name'), kind=params['kind'] or 'FULL',
                                    parentId=params['parent_id'])
            return
        else:
            request = dict(regionId=region['id'], kind=params['kind'], parentId=params['parent_id'])
            outcome.snapshot = client.post(api_path('snapshots'),
                                           dict((k, v) for k, v in request.items() if v is not None)).body
            outcome.changed = True

    if (params['wait'] or params['verify']) and not module.check_mode:
        snapshot = await_snapshot(module, client, outcome)

    if params['verify']:
        if module.check_mode:
            outcome.changed = True
            return
        outcome.operation = client.post(snapshot_path(snapshot['id'], 'verify')).body
        outcome.changed = True  # a verification is recorded, whatever it finds
        outcome.operation = await_operation(module, client, outcome.operation)
        outcome.snapshot = client.get(snapshot_path(snapshot['id'])).body
        if outcome.operation['state'] == 'FAILED':
            raise StepFailed('verifying %s FAILED: %s' % (describe(snapshot), outcome.operation.get('error')))
        if outcome.snapshot['verification']['state'] != 'VERIFIED':
            raise StepFailed('verifying %s found it %s' % (
                describe(snapshot), outcome.operation.get('result') or outcome.snapshot['verification']['state']))


def deleting_operation(client, snapshot_id):
    """The deletion of the snapshot that is still running, or None."""
    for operation in client.get(snapshot_path(snapshot_id, 'operations')).body:
        if operation['kind'] == 'DELETE' and operation['state'] not in OPERATION_DONE:
            return operation
    return None


def absent(module, client, outcome):
    params = module.params
    found = client.get_or_none(snapshot_path(params['id']))
    if found is None or found.body['state'] == 'DELETED':
        if found is not None:
            outcome.before = outcome.snapshot = found.body
        return
    snapshot = outcome.before = outcome.snapshot = found.body
    operation = deleting_operation(client, snapshot['id']) if snapshot['state'] == 'DELETING' else None
    if operation is None:
        # not being deleted, or DELETING after a deletion that failed: DELETE starts (or retries) it
        if module.check_mode:
            outcome.changed = True
            outcome.snapshot = dict(snapshot, state='DELETED' if params['wait'] else 'DELETING')
            return
        query = dict(consolidate='true') if params['consolidate'] else None
        operation = client.delete(snapshot_path(snapshot['id']), query=query).body
        # 204 and no operation: someone else's deletion finished meanwhile
        outcome.changed = operation is not None
    if operation is not None and params['wait'] and not module.check_mode:
        outcome.operation = operation = await_operation(module, client, operation)
        if operation['state'] == 'FAILED':
            outcome.snapshot = client.get(snapshot_path(snapshot['id'])).body
            raise StepFailed('deleting %s FAILED: %s' % (describe(snapshot), operation.get('error')))
    else:
        outcome.operation = operation
    if not module.check_mode:
        outcome.snapshot = client.get(snapshot_path(snapshot['id'])).body


def main():
    module = FaultlineModule(
        argument_spec=faultline_argument_spec(
            state=dict(type='str', default='present', choices=['present', 'absent']),
            id=dict(type='str'),
            region_id=dict(type='str'),
            region=dict(type='str'),
            region_selector=dict(type='str'),
            kind=dict(type='str', choices=['FULL', 'INCREMENTAL']),
            parent_id=dict(type='str'),
            unless_newer_than=dict(type='str'),
            wait=dict(type='bool', default=True),
            wait_timeout=dict(type='int', default=600),
            verify=dict(type='bool', default=False),
            consolidate=dict(type='bool', default=False),
        ),
        required_if=[('state', 'absent', ['id']), ('state', 'present', ['id', 'region_id', 'region'], True)],
        mutually_exclusive=[('id', 'region_id', 'region'), ('region_id', 'region_selector'),
                            ('id', 'kind'), ('id', 'parent_id'), ('id', 'unless_newer_than')],
        required_by=dict(region_selector='region'),
        supports_check_mode=True,
    )
    client = FaultlineClient(module)
    outcome = Outcome()
    try:
        if module.params['state'] == 'present':
            present(module, client, outcome)
        else:
            absent(module, client, outcome)
    except FaultlineError as e:
        # what the task did before the failure (a snapshot taken, a deletion started) is still reported
        failure = outcome.result(**e.fail_kwargs())
        module.fail_json(**failure)
    module.exit_json(**outcome.result())


if __name__ == '__main__':
    main()
