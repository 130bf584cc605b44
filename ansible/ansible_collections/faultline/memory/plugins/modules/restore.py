#!/usr/bin/python
# -*- coding: utf-8 -*-

DOCUMENTATION = r'''
module: restore
short_description: Open and close Faultline restore sessions, and wait for them
version_added: 0.1.0
description:
  - A restore session serves a memory image to a workload that starts before its memory is there; pages arrive on
    first touch. The session's I(socket) is handed to the workload (C(FAULTLINE_HANDOFF)) or to Firecracker (the
    UFFD memory backend's C(backend_path)).
  - Opens a session for an I(image) in one of the service's image directories, or for a I(snapshot_id) (the service
    checks the snapshot's chain and checksums first), waits until the session reaches a state, or closes it.
  - Idempotent. A session is known by its I(name); C(state=present) opens one only when there is no open session
    (not C(CLOSED) or C(FAILED)) of that name; C(state=absent) closes the open ones.
  - A session's image, node, labels and options cannot change once it is open. A task that asks for other ones fails,
    unless I(replace=true), which closes the session and opens a new one.
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
      - C(present) makes sure a session of this I(name) is open (and, with I(wait), has reached I(wait_for)).
      - C(absent) closes the open session named by I(name) or I(id). The service refuses while a region of the session
        is attached and not every page is present yet; detach the region first (M(faultline.memory.region)).
    type: str
    choices: [present, absent]
    default: present
  name:
    description:
      - The session's name, which the restored region gets too (1-128 letters, digits, C(.), C(_) or C(-)).
      - Required with I(state=present).
    type: str
  id:
    description:
      - With I(state=absent), the id of the session to close, instead of I(name).
    type: str
  image:
    description:
      - Absolute path of the memory image on the service's host, inside one of its image directories
        (C(faultline.agent.image-dirs)). The service records the path with its symbolic links resolved; the task
        compares by that path, or by this one resolved on the host the module runs on.
      - One of I(image) and I(snapshot_id) is required to open a session.
    type: path
  snapshot_id:
    description:
      - Id of a C(COMPLETED) snapshot to restore (with the incremental snapshots' chain it ends).
      - The session is opened by a restore operation on the snapshot; the task waits for that operation and returns it
        as I(operation), then waits for the session (listed by the service like every restore session, with the
        snapshot's id in I(snapshot_id)) to reach I(wait_for). I(state=absent) closes it like any other session, which
        also removes the agent's flat copy of the snapshot's chain.
      - A session of the name that is still open is no change; once it is closed or failed, the task restores the
        snapshot again.
    type: str
  labels:
    description:
      - The labels the restored region gets. For an I(image), no labels by default; for a I(snapshot_id), the
        snapshot's region's labels.
    type: dict
  node:
    description:
      - The node whose agent opens the session (C(GET /api/v1/nodes) lists them); by default the node of the instance
        that I(url) reaches. Only for an I(image).
    type: str
  fault_around_pages:
    description:
      - Pages installed with each faulting page (0-512). The service's default is C(16). Only for an I(image).
    type: int
  populate_delay_ms:
    description:
      - Milliseconds after which a background populator fills in the pages not touched yet; C(-1) never. The
        service's default is C(1000). Only for an I(image).
    type: int
  working_set:
    description:
      - C(record) the order of first touches and keep it with the image, C(replay) it on the next restore, C(auto)
        (replay if recorded, else record; the service's default), or C(off). Only for an I(image).
    type: str
    choices: [auto, record, replay, 'off']
  mode:
    description:
      - C(copy) copies every page into the workload's own memory (the service's default). C(clone) keeps one copy of
        the image in shared memory for every workload restored from it, each of which maps it copy-on-write and holds
        privately only the pages it writes (libfaultline workloads; Firecracker's handshake is served by C(copy)
        sessions). Only for an I(image).
    type: str
    choices: [copy, clone]
  replace:
    description:
      - Whether a session of this name whose image, node, labels or options differ from the task's is closed and a
        new one opened, instead of failing the task.
    type: bool
    default: false
  wait:
    description:
      - Whether to wait for the session to reach I(wait_for). A session that FAILED, or was closed meanwhile, fails the
        task with its error.
    type: bool
    default: true
  wait_for:
    description:
      - The state to wait for, with I(wait=true). Sessions go C(REQUESTED) (opened through an instance that does not
        manage its node) > C(WAITING) (socket open, no workload yet) > C(ACTIVE) (a workload attached) > C(COMPLETE)
        (every page present); a session past the state is done waiting.
    type: str
    choices: [WAITING, ACTIVE, COMPLETE]
    default: WAITING
  wait_timeout:
    description:
      - How many seconds to wait before failing the task.
    type: int
    default: 300
notes:
  - The session lives in the agent; closing it closes its socket. A workload whose pages are all present keeps running
    after its session is closed.
seealso:
  - module: faultline.memory.restore_info
  - module: faultline.memory.snapshot
  - module: faultline.memory.region
'''

EXAMPLES = r'''
- name: Open a restore session for the database's memory image
  faultline.memory.restore:
    url: https://faultline.example.com:8080
    token: "{{ faultline_operator_token }}"
    name: db-cache
    image: /var/lib/faultline/images/db-cache.img
    labels:
      app: db
    working_set: replay
  register: session

- name: Start the workload on the session's socket
  ansible.builtin.command:
    cmd: /usr/local/bin/db-cache --memory-from {{ session.restore.socket }}

- name: Wait until every page of its memory is present
  faultline.memory.restore:
    name: db-cache
    image: /var/lib/faultline/images/db-cache.img
    labels:
      app: db
    working_set: replay
    wait_for: COMPLETE
    wait_timeout: 1800

- name: Restore last night's snapshot under another name
  faultline.memory.restore:
    name: db-cache-yesterday
    snapshot_id: 68eeb537-b2d9-4191-8a4a-d2906abecc6e
  register: from_snapshot

- name: Close the session
  faultline.memory.restore:
    name: db-cache
    state: absent
'''

RETURN = r'''
restore:
  description:
    - The session after the task, as the service shows it (with I(state=absent), as it was closed).
    - In check mode, when a session would be opened, only the fields the task determines.
    - For a I(snapshot_id), the session the operation opened (its I(restore_id)).
  returned: when there is a session
  type: dict
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
      description:
        - The image, C(path) (symbolic links resolved) and C(size) in bytes.
        - For a snapshot's session, the agent's flat copy of the snapshot's chain, removed when the session is closed.
      type: dict
      sample: {"path": "/var/lib/faultline/images/db-cache.img", "size": 268435456}
    snapshot_id:
      description: The snapshot the session serves; null for an image's session.
      type: str
      sample: null
    socket:
      description: The handoff socket to give the workload or Firecracker.
      type: str
      sample: /var/lib/faultline/agent/restore/5e1f0000-0000-4000-8000-000000000001.sock
    state:
      description: C(REQUESTED), C(WAITING), C(ACTIVE), C(COMPLETE), C(FAILED) or C(CLOSED).
      type: str
      sample: WAITING
    created_at:
      description: When it was opened.
      type: str
      sample: "2026-11-24T22:46:03.137885Z"
    closed_at:
      description: When it was closed; null while open.
      type: str
      sample: null
    options:
      description: Its options, C(fault_around_pages), C(populate_delay_ms), C(working_set) and C(mode).
      type: dict
      sample: {"fault_around_pages": 16, "populate_delay_ms": 1000, "working_set": "auto", "mode": "copy"}
    clones:
      description:
        - With I(mode=clone), the image's shared copy (C(shared_bytes), C(shared_resident_bytes)) and what the clones
          hold beside it (C(private_bytes), C(pss_bytes), and each clone's in C(clones)); null for C(copy).
      type: dict
      sample: {"shared_bytes": 268435456, "shared_resident_bytes": 268435456, "private_bytes": 4096,
               "pss_bytes": 134221824, "clones": []}
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
      sample: {"mode": "record", "file": "/var/lib/faultline/images/db-cache.img.wset", "recorded_pages": 0,
               "replayed_pages": 0}
    error:
      description: Why it FAILED.
      type: str
      sample: null
operation:
  description: With I(snapshot_id), the snapshot's restore operation that opened (or is opening) the session.
  returned: when the task restores a snapshot
  type: dict
  contains:
    id:
      description: The operation's id.
      type: str
      sample: 2b9c0e57-5d0f-4f8e-9a43-8b1de1b7c6a2
    snapshot_id:
      description: The snapshot it restores.
      type: str
      sample: 68eeb537-b2d9-4191-8a4a-d2906abecc6e
    state:
      description: C(PENDING), C(RUNNING), C(SUCCEEDED) or C(FAILED).
      type: str
      sample: SUCCEEDED
    restore_name:
      description: The name of the session and of the restored region.
      type: str
      sample: db-cache-yesterday
    restore_id:
      description: The id of the session the agent opened, once it SUCCEEDED.
      type: str
      sample: 9a3c1d2e-0000-4000-8000-000000000002
    error:
      description: Why it FAILED.
      type: str
      sample: null
'''

import os

from ansible.module_utils.common.text.converters import to_text
from ansible_collections.faultline.memory.plugins.module_utils.api import (
    FaultlineClient,
    FaultlineError,
    api_path,
    faultline_argument_spec,
)
from ansible_collections.faultline.memory.plugins.module_utils.results import FaultlineModule
from ansible_collections.faultline.memory.plugins.module_utils.wait import WaitError, wait_for

OPEN = ('REQUESTED', 'WAITING', 'ACTIVE', 'COMPLETE')
PROGRESS = list(OPEN)
OPERATION_DONE = ('SUCCEEDED', 'FAILED')
# What the diff leaves out: the live progress, which changes while the task reads it.
VOLATILE = ('pages', 'progress', 'workingSet', 'regions', 'clones')
# (API field of the session's options, module option)
OPTIONS = (('faultAroundPages', 'fault_around_pages'), ('populateDelayMs', 'populate_delay_ms'),
           ('workingSet', 'working_set'), ('mode', 'mode'))


class StepFailed(FaultlineError):
    """The session or its snapshot's restore ended another way than the task wanted, in the service's words."""


def view(session):
    return dict((k, v) for k, v in (session or {}).items() if k not in VOLATILE)


def operation_view(operation):
    """A snapshot's restore as the diff shows it: what it restores, under which name, whatever its progress."""
    if not operation:
        return {}
    return dict(snapshotId=operation.get('snapshotId'), name=operation.get('restoreName'),
                labels=operation.get('restoreLabels'))


def describe(session):
    return "restore session %s '%s'" % (session.get('id'), session.get('name'))


class Outcome(object):
    """What the task did so far: reported as the result, or with the failure when a later step fails."""

    def __init__(self):
        self.changed = False
        self.before = {}  # as the diff shows it
        self.session = None
        self.operation = None

    def result(self, **extra):
        after = operation_view(self.operation) if self.operation is not None else view(self.session)
        result = dict(changed=self.changed, diff=dict(before=self.before, after=after))
        if self.session is not None:
            result['restore'] = self.session
        if self.operation is not None:
            result['operation'] = self.operation
        result.update(extra)
        return result


def open_sessions(client, name):
    """The open sessions of this name, newest first (the service lists sessions newest first)."""
    found = client.get_items(api_path('restores'), query=dict(name=name, state=list(OPEN)))
    # filtered again: a service from before the paged list ignores the query
    return [s for s in found if s.get('name') == name and s.get('state') in OPEN]


def same_image(current, wanted):
    path = (current or {}).get('path')
    return path is not None and path in (wanted, os.path.realpath(wanted))


def differences(module, session):
    """What of the task differs from the open session: ['image is ..., the task wants ...', ...]."""
    params = module.params
    found = []
    if session.get('snapshotId'):
        found.append('it restores snapshot %s, the task wants the image %s' % (session['snapshotId'], params['image']))
    elif params['image'] is not None and not same_image(session.get('image'), params['image']):
        found.append('image is %s, the task wants %s' % ((session.get('image') or {}).get('path'), params['image']))
    if params['node'] is not None and session.get('node') != params['node']:
        found.append('node is %s, the task wants %s' % (session.get('node'), params['node']))
    if params['labels'] is not None and (session.get('labels') or {}) != params['labels']:
        found.append('labels are %s, the task wants %s' % (session.get('labels'), params['labels']))
    options = session.get('options') or {}
    for api, option in OPTIONS:
        if params[option] is not None and options.get(api) != params[option]:
            found.append('%s is %s, the task wants %s' % (option, options.get(api), params[option]))
    return found


def create_request(module):
    params = module.params
    request = dict(image=params['image'], name=params['name'], labels=params['labels'], node=params['node'])
    request.update((api, params[option]) for api, option in OPTIONS)
    return dict((k, v) for k, v in request.items() if v is not None)


def await_state(module, client, outcome):
    wanted = module.params['wait_for']
    session = outcome.session

    def failed(s):
        if s.get('state') not in OPEN:
            return '%s is %s%s' % (describe(s), s.get('state'), ': ' + s['error'] if s.get('error') else '')
        return None

    def reached(s):
        return s.get('state') in PROGRESS and PROGRESS.index(s['state']) >= PROGRESS.index(wanted)

    if reached(session):
        return
    reason = failed(session)
    if reason:
        raise StepFailed(reason)
    try:
        outcome.session = wait_for(lambda: client.get(api_path('restores', session['id'])).body, done=reached,
                                   failed=failed, timeout=module.params['wait_timeout'],
                                   what='%s to be %s' % (describe(session), wanted),
                                   describe=lambda s: 'state %s, progress %s' % (s.get('state'), s.get('progress')))
    except WaitError as e:
        outcome.session = e.last  # the result shows the session as the task last saw it
        raise


def close(module, client, outcome, session):
    outcome.changed = True
    if module.check_mode:
        outcome.session = dict(session, state='CLOSED')
        return
    client.delete(api_path('restores', session['id']))
    outcome.session = client.get(api_path('restores', session['id'])).body


def present_from_image(module, client, outcome):
    params = module.params
    sessions = open_sessions(client, params['name'])
    session = outcome.session = sessions[0] if sessions else None
    outcome.before = view(session)
    if session is not None:
        different = differences(module, session)
        if different and not params['replace']:
            raise StepFailed('%s cannot be changed (%s); set replace: true to close it and open a new one'
                             % (describe(session), '; '.join(different)))
        if not different:
            if params['wait'] and not module.check_mode:
                await_state(module, client, outcome)
            return
        close(module, client, outcome, session)
    outcome.changed = True
    request = create_request(module)
    if module.check_mode:
        # the service assigns the id, the socket and the defaults; what it will have is what the task asked for
        outcome.session = dict(name=params['name'], labels=params['labels'] or {}, image=dict(path=params['image']),
                               state='WAITING')
        options = dict((api, params[option]) for api, option in OPTIONS if params[option] is not None)
        if options:
            outcome.session['options'] = options
        if params['node'] is not None:
            outcome.session['node'] = params['node']
        return
    outcome.session = client.post(api_path('restores'), request).body
    if params['wait']:
        await_state(module, client, outcome)


def await_operation(module, client, operation):
    if operation['state'] not in OPERATION_DONE:
        path = api_path('snapshots', operation['snapshotId'], 'operations', operation['id'])
        operation = wait_for(lambda: client.get(path).body, done=lambda o: o['state'] in OPERATION_DONE,
                             timeout=module.params['wait_timeout'],
                             what='the restore of snapshot %s' % operation['snapshotId'],
                             describe=lambda o: 'state ' + o['state'])
    return operation


def listed_session(client, operation):
    """The session the operation opened; None before it succeeded or when the service has no record of it."""
    if not operation.get('restoreId'):
        return None
    found = client.get_or_none(api_path('restores', operation['restoreId']))
    return found.body if found is not None else None


def present_from_snapshot(module, client, outcome):
    params = module.params
    snapshot_id = params['snapshot_id']
    if client.get_or_none(api_path('snapshots', snapshot_id)) is None:
        raise FaultlineError('there is no snapshot with id %s' % snapshot_id, status=404)
    restores = [o for o in client.get(api_path('snapshots', snapshot_id, 'operations')).body or []
                if o.get('kind') == 'RESTORE' and o.get('restoreName') == params['name'] and o.get('state') != 'FAILED']
    for operation in restores:  # newest first
        # one still running is waited for; a finished one counts while its session is open
        session = listed_session(client, operation)
        if operation.get('state') != 'SUCCEEDED' or (session is not None and session.get('state') in OPEN):
            outcome.operation = operation
            outcome.session = session
            outcome.before = operation_view(operation)
            break
    if outcome.operation is None:
        outcome.changed = True
        if module.check_mode:
            outcome.operation = dict(snapshotId=snapshot_id, kind='RESTORE', restoreName=params['name'],
                                     restoreLabels=params['labels'], state='PENDING')
            return
        request = dict(name=params['name'], labels=params['labels'])
        outcome.operation = client.post(api_path('snapshots', snapshot_id, 'restore'),
                                        dict((k, v) for k, v in request.items() if v is not None)).body
    elif params['labels'] is not None and (outcome.operation.get('restoreLabels') or {}) != params['labels']:
        raise StepFailed("the restore of snapshot %s as '%s' has the labels %s, the task wants %s; close its session "
                         "first" % (snapshot_id, params['name'], outcome.operation.get('restoreLabels'), params['labels']))
    if not params['wait'] or module.check_mode:
        return
    outcome.operation = await_operation(module, client, outcome.operation)
    if outcome.operation['state'] == 'FAILED':
        raise StepFailed('restoring snapshot %s FAILED: %s' % (snapshot_id, outcome.operation.get('error')))
    outcome.session = listed_session(client, outcome.operation)
    if outcome.session is None:
        raise StepFailed('restoring snapshot %s opened restore session %s, but the service has no record of it'
                         % (snapshot_id, outcome.operation.get('restoreId')))
    await_state(module, client, outcome)


def absent(module, client, outcome):
    params = module.params
    if params['id'] is not None:
        found = client.get_or_none(api_path('restores', params['id']))
        sessions = [found.body] if found is not None and found.body.get('state') in OPEN else []
    else:
        sessions = open_sessions(client, params['name'])
    if not sessions:
        return
    # the newest shows in the result; every open one of the name is closed
    outcome.before = view(sessions[0])
    for session in reversed(sessions):
        close(module, client, outcome, session)


def main():
    module = FaultlineModule(
        argument_spec=faultline_argument_spec(
            state=dict(type='str', default='present', choices=['present', 'absent']),
            name=dict(type='str'),
            id=dict(type='str'),
            image=dict(type='path'),
            snapshot_id=dict(type='str'),
            labels=dict(type='dict'),
            node=dict(type='str'),
            fault_around_pages=dict(type='int'),
            populate_delay_ms=dict(type='int'),
            working_set=dict(type='str', choices=['auto', 'record', 'replay', 'off']),
            mode=dict(type='str', choices=['copy', 'clone']),
            replace=dict(type='bool', default=False),
            wait=dict(type='bool', default=True),
            wait_for=dict(type='str', default='WAITING', choices=['WAITING', 'ACTIVE', 'COMPLETE']),
            wait_timeout=dict(type='int', default=300),
        ),
        required_if=[('state', 'present', ['name']), ('state', 'present', ['image', 'snapshot_id'], True),
                     ('state', 'absent', ['name', 'id'], True)],
        mutually_exclusive=[('image', 'snapshot_id'), ('name', 'id'), ('snapshot_id', 'node'),
                            ('snapshot_id', 'fault_around_pages'), ('snapshot_id', 'populate_delay_ms'),
                            ('snapshot_id', 'working_set'), ('snapshot_id', 'mode'), ('snapshot_id', 'replace')],
        supports_check_mode=True,
    )
    if module.params['labels'] is not None:
        # label values are strings in the service; a YAML number or boolean compares as the string it becomes
        module.params['labels'] = dict((to_text(k), to_text(v)) for k, v in module.params['labels'].items())
    client = FaultlineClient(module)
    outcome = Outcome()
    try:
        if module.params['state'] == 'absent':
            absent(module, client, outcome)
        elif module.params['snapshot_id'] is not None:
            present_from_snapshot(module, client, outcome)
        else:
            present_from_image(module, client, outcome)
    except FaultlineError as e:
        # what the task did before the failure (a session opened, closed) is still reported
        module.fail_json(**outcome.result(**e.fail_kwargs()))
    module.exit_json(**outcome.result())


if __name__ == '__main__':
    main()
