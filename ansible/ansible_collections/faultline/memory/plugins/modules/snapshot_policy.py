#!/usr/bin/python
# -*- coding: utf-8 -*-

DOCUMENTATION = r'''
module: snapshot_policy
short_description: Declare Faultline snapshot policies
version_added: 0.1.0
description:
  - Makes sure a snapshot policy with a given name exists with the given definition, or does not exist.
  - A policy takes snapshots of the regions its label selector matches, on a cron schedule in a time zone, and
    prunes them by its retention rules. The service's C(docs/snapshots.md) explains each field.
  - Options the task leaves out keep their current values; a new policy gets the service's defaults for them.
  - Values are compared as the service reads them, so a task spelling a value differently from what the service
    stores (C(30d) for C(P30D), C(app == db) for C(app=db), spaces around a schedule) reports no change.
  - A change is sent as a JSON merge patch of the fields that differ, with the policy's ETag. When someone else
    changes the policy between the read and the write, the module reads it again and applies its changes once
    more, so it only writes the fields the task declares.
  - Needs an C(OPERATOR) token in I(token) to change a policy, a C(VIEWER) token when nothing changes.
author:
  - Faultline maintainers (!UNKNOWN)
extends_documentation_fragment:
  - faultline.memory.connection
  - faultline.memory.attributes
  - faultline.memory.attributes.ACTIONGROUP_FAULTLINE
options:
  name:
    description:
      - Name of the policy; 1 to 64 lower-case letters, digits, C(.), C(_) or C(-), starting with a letter or digit.
      - Names are unique, so the name identifies the policy.
    type: str
    required: true
  state:
    description:
      - C(present) creates the policy or changes it to match the task.
      - C(absent) deletes it, with its run history. Its snapshots stay, no longer pruned by it.
    type: str
    choices: [present, absent]
    default: present
  selector:
    description:
      - Label selector of the regions to snapshot, for example C(app=db,tier in (prod,staging)).
      - An empty string selects every region. Only ATTACHED regions are snapshotted.
      - Required to create a policy.
    type: str
  schedule:
    description:
      - When to take snapshots, as a cron expression read in I(time_zone).
      - Five fields (minute hour day-of-month month day-of-week), six fields (seconds first), or a macro such as
        C(@hourly) or C(@daily).
      - Required to create a policy.
    type: str
  time_zone:
    description:
      - IANA time zone the schedule and the period rules of retention are read in, for example C(Europe/Berlin) or
        C(UTC); not an offset such as C(+02:00).
      - Required to create a policy.
    type: str
  full_every:
    description:
      - Every Nth snapshot of a region is full, the others incremental on the previous one, so no chain is longer
        than N. C(1) makes every snapshot full.
      - The service's default for a new policy is C(1).
    type: int
  retention:
    description:
      - What the policy keeps of each region's snapshots. The snapshots a rule does not keep are deleted.
      - Given, it is the policy's whole retention, compared as a whole; sub-options left out take their defaults
        (a count of 0 turns its rule off, no I(retention.max_age) means no age limit).
      - Without any count rule, every snapshot is kept by the rules (up to I(retention.max_age)).
      - Omitted, the policy's retention is left as it is; a new policy keeps everything.
    type: dict
    suboptions:
      keep_last:
        description: Keep the newest N snapshots.
        type: int
        default: 0
      hourly:
        description: Keep the newest snapshot of each of the last N hours that have a snapshot.
        type: int
        default: 0
      daily:
        description: Keep the newest snapshot of each of the last N days that have a snapshot.
        type: int
        default: 0
      weekly:
        description: Keep the newest snapshot of each of the last N ISO weeks that have a snapshot.
        type: int
        default: 0
      monthly:
        description: Keep the newest snapshot of each of the last N months that have a snapshot.
        type: int
        default: 0
      max_age:
        description:
          - Delete snapshots older than this, whatever the count rules say (except I(retention.keep_verified) and
            parents of kept incremental snapshots).
          - ISO 8601 (C(P30D), C(PT12H)) or a number and a unit (C(30d), C(12h), C(90m)); at least one second.
        type: str
      keep_verified:
        description: Keep the newest N verified snapshots, whatever the other rules say.
        type: int
        default: 0
  paused:
    description:
      - A paused policy neither takes snapshots nor prunes them. Fire times missed while paused are not run when it
        is resumed.
      - The service's default for a new policy is C(false).
    type: bool
  require_quiesce:
    description:
      - Whether a snapshot the workload did not confirm as quiescent counts as failed (its image is discarded).
      - The service's default for a new policy is C(false).
    type: bool
seealso:
  - module: faultline.memory.snapshot_policy_info
  - module: faultline.memory.snapshot
'''

EXAMPLES = r'''
- name: Hourly snapshots of the database, a day of hourlies, a week of dailies
  faultline.memory.snapshot_policy:
    url: https://faultline.example.com:8080
    token: "{{ faultline_operator_token }}"
    name: db-hourly
    selector: app=db,tier in (prod,staging)
    schedule: "0 * * * *"
    time_zone: Europe/Berlin
    full_every: 24
    retention:
      keep_last: 3
      hourly: 24
      daily: 7
      weekly: 4
      monthly: 12
      max_age: 400d
      keep_verified: 2

- name: Pause it during maintenance, leaving the rest of its definition alone
  faultline.memory.snapshot_policy:
    name: db-hourly
    paused: true

- name: Delete a policy (its snapshots stay)
  faultline.memory.snapshot_policy:
    name: old-policy
    state: absent
'''

RETURN = r'''
policy:
  description:
    - The policy after the task, as the service shows it.
    - In check mode, the policy as the task would leave it (for a new policy, only the fields the task sets).
  returned: when I(state=present)
  type: dict
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
'''

from ansible_collections.faultline.memory.plugins.module_utils.api import (
    FaultlineClient,
    FaultlineError,
    api_path,
    faultline_argument_spec,
)
from ansible_collections.faultline.memory.plugins.module_utils.duration import canonical_duration
from ansible_collections.faultline.memory.plugins.module_utils.selector import canonical_selector, same_selector
from ansible_collections.faultline.memory.plugins.module_utils.state import (
    ResourceState,
    differences,
    write_if_match,
)
from ansible_collections.faultline.memory.plugins.module_utils.results import FaultlineModule

# Fields that change without the definition changing: the ETag, times, the scheduler's progress.
VOLATILE_FIELDS = ('version', 'createdAt', 'updatedAt', 'lastFireTime', 'nextRunAt')
REQUIRED_TO_CREATE = (('selector', 'selector'), ('schedule', 'schedule'), ('timeZone', 'time_zone'))
RETENTION_FIELDS = (('keepLast', 'keep_last'), ('hourly', 'hourly'), ('daily', 'daily'), ('weekly', 'weekly'),
                    ('monthly', 'monthly'), ('maxAge', 'max_age'), ('keepVerified', 'keep_verified'))


def policy_view(policy):
    return dict((k, v) for k, v in policy.items() if k not in VOLATILE_FIELDS)


def normal_schedule(schedule):
    # the service strips the expression; runs of spaces between fields mean the same
    return ' '.join(schedule.split()) if isinstance(schedule, str) else schedule


def same_schedule(current, desired):
    return normal_schedule(current) == normal_schedule(desired)


def normal_retention(retention):
    if retention is None:
        return None
    normal = dict(retention)
    normal['maxAge'] = canonical_duration(retention.get('maxAge')) if retention.get('maxAge') is not None else None
    return normal


def same_retention(current, desired):
    return normal_retention(current) == normal_retention(desired)


EQUAL = dict(selector=same_selector, schedule=same_schedule, retention=same_retention)


def desired_policy(params):
    """The task's policy in the API's fields, in the form the service stores; None where the task has no opinion."""
    retention = None
    if params['retention'] is not None:
        retention = dict((api, params['retention'][option]) for api, option in RETENTION_FIELDS)
        retention = normal_retention(retention)
    return dict(
        name=params['name'],
        selector=canonical_selector(params['selector']),
        schedule=params['schedule'].strip() if params['schedule'] is not None else None,
        timeZone=params['time_zone'],
        fullEvery=params['full_every'],
        retention=retention,
        paused=params['paused'],
        requireQuiesce=params['require_quiesce'],
    )


def find_policy(client, name):
    for policy in client.get(api_path('snapshot-policies')).body:
        if policy.get('name') == name:
            return policy
    return None


def run(module, client):
    params = module.params
    found = find_policy(client, params['name'])
    etag = None
    current = None
    if found is not None:
        response = client.get_or_none(api_path('snapshot-policies', found['id']))
        if response is not None:  # else it was deleted since the list was read
            current, etag = response.body, response.etag
    state = ResourceState(module, 'snapshot policy', params['name'], current, view=policy_view)
    latest = dict(policy=current)  # the whole policy as last read or written, for the result

    if params['state'] == 'absent':
        def delete(policy):
            try:
                client.delete(api_path('snapshot-policies', policy['id']))
            except FaultlineError as e:
                if e.status != 404:  # someone else deleted it meanwhile: absent is what the task wants
                    raise

        state.absent(delete=delete)
        return state.result()

    desired = desired_policy(params)

    def create(wanted):
        latest['policy'] = client.post(api_path('snapshot-policies'), wanted).body
        return latest['policy']

    def change(policy, policy_etag):
        changes = differences(policy, desired, EQUAL)
        if not changes:
            return policy
        return client.merge_patch(api_path('snapshot-policies', policy['id']),
                                  dict((field, desired[field]) for field in changes), if_match=policy_etag).body

    def reread():
        fresh = client.get(api_path('snapshot-policies', current['id']))
        return fresh.body, fresh.etag

    def update(policy, changes):
        latest['policy'] = write_if_match(change, policy, etag, reread)
        return latest['policy']

    if current is None:
        missing = [option for field, option in REQUIRED_TO_CREATE if desired[field] is None]
        if missing:
            module.fail_json(msg='snapshot policy %r does not exist; to create it, the task needs %s'
                             % (params['name'], ', '.join(missing)))
    state.present(desired, create=create, update=update, equal=EQUAL)
    shown = state.after if module.check_mode and state.changed else latest['policy']
    return state.result(policy=shown)


def main():
    module = FaultlineModule(
        argument_spec=faultline_argument_spec(
            name=dict(type='str', required=True),
            state=dict(type='str', default='present', choices=['present', 'absent']),
            selector=dict(type='str'),
            schedule=dict(type='str'),
            time_zone=dict(type='str'),
            full_every=dict(type='int'),
            retention=dict(type='dict', options=dict(
                keep_last=dict(type='int', default=0),
                hourly=dict(type='int', default=0),
                daily=dict(type='int', default=0),
                weekly=dict(type='int', default=0),
                monthly=dict(type='int', default=0),
                max_age=dict(type='str'),
                keep_verified=dict(type='int', default=0),
            )),
            paused=dict(type='bool'),
            require_quiesce=dict(type='bool'),
        ),
        supports_check_mode=True,
    )
    try:
        module.exit_json(**run(module, FaultlineClient(module)))
    except FaultlineError as e:
        module.fail_json(**e.fail_kwargs())


if __name__ == '__main__':
    main()
