#!/usr/bin/python
# -*- coding: utf-8 -*-

DOCUMENTATION = r'''
module: migration
short_description: Migrate a Faultline memory region to another node, and pause, resume or cancel the migration
version_added: 0.1.0
description:
  - Moves a memory region to another node with postcopy live migration, and waits for it to reach a phase or to
    complete.
  - A migration runs C(PENDING) > C(PRECOPY) > C(SWITCHOVER) > C(POSTCOPY) > C(COMPLETED); it may be C(PAUSED), and
    ends C(FAILED) or C(CANCELLED) instead.
  - It is C(COMPLETED) once the destination workload (attached on the migration's C(destination_socket)) holds every
    page; until a workload attaches there it stays C(POSTCOPY) and the source keeps its copy.
  - Idempotent. C(state=started) starts a migration only when the region is neither on I(destination_node) already,
    nor being migrated there, nor migrated there by an earlier migration; a PAUSED migration is resumed. A migration
    that FAILED or was CANCELLED does not count, so the next run starts a new one.
    C(state=paused) and C(state=cancelled) change a migration only when it is not paused or cancelled yet.
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
      - C(started) makes sure the region is migrated, or being migrated, to I(destination_node); it starts a migration
        when there is none, and resumes a PAUSED one.
      - C(paused) pauses the running migration (it continues where it stopped when resumed). A migration that has
        ended cannot be paused; the task fails.
      - C(cancelled) cancels the running migration; the source region stays untouched. Only possible before
        switchover (the service refuses later). A migration that has FAILED or is CANCELLED already is no change; a
        COMPLETED one fails the task.
    type: str
    choices: [started, paused, cancelled]
    default: started
  id:
    description:
      - Id of an existing migration to wait for, pause, resume or cancel.
    type: str
  region_id:
    description:
      - Id of the region to migrate (or whose migration to pause, resume or cancel).
    type: str
  region:
    description:
      - Name of the region. Names are not unique; when several regions have this name, a DETACHED one is passed over
        for one still attached, and if that leaves more than one the task fails and lists them. While a region is in
        switchover or postcopy, its source and its destination are both attached under the same name; use
        I(region_id), I(id) or I(region_selector) then.
    type: str
  region_selector:
    description:
      - A label selector the region named by I(region) must match, for example C(app=db).
    type: str
  destination_node:
    description:
      - Name of the node to migrate the region to (C(GET /api/v1/nodes) lists the nodes).
      - Required to start a migration; with I(state=paused) or I(state=cancelled) it narrows which migration is meant.
    type: str
  max_downtime_ms:
    description:
      - The longest the workload may be stopped at switchover, in milliseconds. The service's default is C(10).
      - This and the other migration options apply when the task starts a migration; a migration that is already
        running keeps the options it was started with.
    type: int
  bandwidth_limit_bytes_per_sec:
    description:
      - Bytes per second the migration may send; C(0) is unlimited, the service's default.
      - The REST API's C(options.bandwidthLimitBytesPerSec); C(bandwidth_limit) is the name earlier versions used.
    type: int
    aliases: [bandwidth_limit]
  max_precopy_rounds:
    description:
      - How many rounds of copying dirty pages precopy runs at most. The service's default is C(10).
    type: int
  postcopy:
    description:
      - C(auto) switches over when the dirty set converges, after I(max_precopy_rounds), or after I(postcopy_after_ms);
        C(manual) only when asked (I(start_postcopy=true)). The service's default is C(auto).
    type: str
    choices: [auto, manual]
  postcopy_after_ms:
    description:
      - With I(postcopy=auto), switch over after this many milliseconds of precopy at the latest. The service's
        default is C(30000).
    type: int
  compress:
    description:
      - C(zstd) has the source agent compress the pages it sends (zstd, per frame of pages; a frame that does not get
        smaller is sent as it is); C(none) sends them as they are. The service's default is C(none).
      - It pays on links slower than the compressor; memory that does not compress costs the attempt. The
        migration's C(stats.transferred) shows what it saved (C(compressed_pages), C(compressed_bytes)).
    type: str
    choices: [none, zstd]
  auto_converge:
    description:
      - With I(postcopy=auto), let the source agent throttle the workload while precopy rounds do not converge (the
        workload writes about as fast as its pages are sent); it stops every thread of it for 20% of every 100 ms,
        10% more per such round, at most 99%, so that the switchover can fit I(max_downtime_ms). The service's default
        is C(false).
      - The migration's C(stats.throttle) shows the throttle (C(state), C(pct), C(throttled_ms)); C(state) is
        C(unavailable) where the source agent may not stop the workload.
    type: bool
  skip_unchanged:
    description:
      - Let the source agent leave out a page due to be sent again (written since it was sent) whose bytes are those
        it last sent, found by comparing a fingerprint of the page (XXH3-128, seeded per migration). The service's
        default is C(true).
      - XXH3 is fast, not collision resistant. Where the region's memory is shared by parties that do not trust each
        other, set C(false); every written page is then sent again. See the agent's PROTOCOL.md section 1.9.
      - The migration's C(stats.transferred.unchanged_pages) counts the pages left out.
    type: bool
  push_connections:
    description:
      - How many TCP connections carry the pages the source agent pushes (precopy and background postcopy), from
        C(1) to C(8); they are the page channel and I(push_connections) - 1 more. Demand requests (faults on the
        destination) keep a connection of their own. The service's default is C(1).
      - More connections pay where one connection is limited on its own (a rate limit per flow, one core busy with
        one stream); a destination agent too old for more takes one, and the source goes on with one.
      - The migration's C(stats.push_connections) is the number the source pushes on.
    type: int
  start_postcopy:
    description:
      - With I(state=started), switch over now when the migration is in PRECOPY (the way on for I(postcopy=manual)).
      - A migration that has not reached PRECOPY yet is waited for first, up to I(wait_timeout).
    type: bool
    default: false
  wait:
    description:
      - Whether to wait, with I(state=started) until the migration has reached the phase I(wait_for), with
        I(state=paused) until it is PAUSED, with I(state=cancelled) until it is CANCELLED.
      - A migration that FAILED, or was CANCELLED while the task waited for another phase, fails the task with the
        service's reason.
    type: bool
    default: true
  wait_for:
    description:
      - With I(state=started) and I(wait=true), the phase to wait for; a migration past it is done waiting.
    type: str
    choices: [PRECOPY, SWITCHOVER, POSTCOPY, COMPLETED]
    default: COMPLETED
  wait_timeout:
    description:
      - How many seconds to wait before failing the task.
    type: int
    default: 1800
seealso:
  - module: faultline.memory.migration_info
  - module: faultline.memory.region
'''

EXAMPLES = r'''
- name: Move the database's region to node-b and wait until it is there
  faultline.memory.migration:
    url: https://faultline.example.com:8080
    token: "{{ faultline_operator_token }}"
    region: db-cache
    destination_node: node-b
    max_downtime_ms: 20
    wait_timeout: 3600
  register: moved

- name: Move a large region over a slow link with its pages compressed
  faultline.memory.migration:
    region: analytics-cache
    destination_node: node-c
    bandwidth_limit_bytes_per_sec: 52428800
    compress: zstd

- name: Move a region whose writer outruns the link, throttling it until precopy converges
  faultline.memory.migration:
    region: session-store
    destination_node: node-b
    max_precopy_rounds: 30
    auto_converge: true

- name: Move a region shared by parties that do not trust each other, sending every written page again
  faultline.memory.migration:
    region: shared-ledger
    destination_node: node-b
    skip_unchanged: false

- name: Move a large region over a link that limits each connection, pushing its pages on four
  faultline.memory.migration:
    region: analytics-cache
    destination_node: node-c
    push_connections: 4

- name: Start a migration that switches over only when asked, and wait until its precopy runs
  faultline.memory.migration:
    region_id: 0b0f6c1e-2a8e-4c1f-9d55-6f1a3b7e9c21
    destination_node: node-b
    postcopy: manual
    wait_for: PRECOPY
  register: precopy

- name: Switch it over now and wait for it to complete
  faultline.memory.migration:
    id: "{{ precopy.migration.id }}"
    start_postcopy: true

- name: Pause a migration during business hours
  faultline.memory.migration:
    region: db-cache
    state: paused

- name: Cancel it (before switchover)
  faultline.memory.migration:
    region: db-cache
    state: cancelled
'''

RETURN = r'''
migration:
  description:
    - The migration after the task, as the service shows it, with its live statistics.
    - Null when the region is on I(destination_node) already and no migration of it is known.
    - In check mode, when a migration would be started, only the fields the task determines.
  returned: success
  type: dict
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
      sample: COMPLETED
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
      sample: [{"phase": "PENDING", "at": "2026-11-24T20:00:00Z"}, {"phase": "PRECOPY", "at": "2026-11-24T20:00:01Z"}]
    stats:
      description:
        - Its statistics (bytes transferred by phase, downtime, dirty rate, demand latency), named after
          libvirt's and QEMU's.
        - C(demand_latency) is how long faults on the destination waited for their page, in nanoseconds, as a latency
          summary (C(count), C(p50_ns), C(p99_ns), C(p999_ns), C(max_ns); C(p999_ns) is null, it is not measured).
          Rates are C(dirty_rate_bytes_per_sec) and C(throughput_bytes_per_sec).
        - C(transferred) has the bytes and pages sent by phase and, with I(compress=zstd), C(compressed_pages) (pages
          that travelled compressed) and C(compressed_bytes) (what they took on the wire; they saved
          C(compressed_pages) x 4096 - C(compressed_bytes) bytes) and, with I(skip_unchanged), C(unchanged_pages)
          (pages due to be sent again that were not, their bytes being those last sent; counted per round).
        - C(throttle) is null without I(auto_converge), else C(state) (C(ready), C(throttling), C(stopped),
          C(unavailable)), C(pct) (the share of every 100 ms the workload is stopped, or was at the switchover) and
          C(throttled_ms) (how long it was held in all).
        - C(push_connections) is the number of connections the source pushes pages on (I(push_connections), or 1
          where the destination agent takes no more); null until an agent has said, and from agents older than the
          option.
      type: dict
      sample: {"region_bytes": 2147483648, "downtime_ms": 8, "rounds": 3,
               "transferred": {"precopy_bytes": 2147483648, "precopy_pages": 524288, "compressed_pages": 524288,
                               "compressed_bytes": 67108864},
               "demand_latency": {"count": 40, "p50_ns": 90000, "p99_ns": 400000, "p999_ns": null, "max_ns": 512000}}
region:
  description: The region the task resolved, without its live statistics.
  returned: when the task named a region
  type: dict
  sample: {"id": "0b0f6c1e-2a8e-4c1f-9d55-6f1a3b7e9c21", "name": "db-cache", "node": "node-a", "state": "ATTACHED"}
'''

from ansible_collections.faultline.memory.plugins.module_utils.api import (
    FaultlineClient,
    FaultlineError,
    api_path,
    faultline_argument_spec,
)
from ansible_collections.faultline.memory.plugins.module_utils.regions import find_region
from ansible_collections.faultline.memory.plugins.module_utils.wait import wait_for
from ansible_collections.faultline.memory.plugins.module_utils.results import FaultlineModule

# The way forward, in order; PAUSED, FAILED and CANCELLED are off it.
PROGRESS = ['PENDING', 'PRECOPY', 'SWITCHOVER', 'POSTCOPY', 'COMPLETED']
ENDED = ('COMPLETED', 'FAILED', 'CANCELLED')
OPTIONS = (('maxDowntimeMs', 'max_downtime_ms'), ('bandwidthLimitBytesPerSec', 'bandwidth_limit_bytes_per_sec'),
           ('maxPrecopyRounds', 'max_precopy_rounds'), ('postcopy', 'postcopy'), ('postcopyAfterMs', 'postcopy_after_ms'),
           ('compress', 'compress'), ('autoConverge', 'auto_converge'), ('skipUnchanged', 'skip_unchanged'),
           ('pushConnections', 'push_connections'))
# The agent's bounds (PROTOCOL.md, migration_out); the service refuses others too, naming options.pushConnections.
PUSH_CONNECTIONS = (1, 8)


class StepFailed(FaultlineError):
    """The migration ended another way than the task wanted; the message says how, in the service's words."""


def migration_view(job):
    """A migration as the diff shows it: without the statistics that change every second while it runs."""
    return dict((k, v) for k, v in (job or {}).items() if k != 'stats')


def describe(job):
    text = 'phase %s' % job.get('phase')
    if job.get('pausedIn'):
        text += ' (paused in %s)' % job['pausedIn']
    return text


def name_of(job):
    return "migration %s of region '%s' to %s" % (job.get('id'), job.get('regionName') or job.get('regionId'),
                                                  job.get('destinationNode'))


class Outcome(object):
    """What the task did so far: reported as the result, or with the failure when a later step fails."""

    def __init__(self):
        self.changed = False
        self.before = None
        self.job = None
        self.region = None

    def result(self, **extra):
        result = dict(changed=self.changed, migration=self.job,
                      diff=dict(before=migration_view(self.before), after=migration_view(self.job)))
        if self.region is not None:
            result['region'] = dict((k, v) for k, v in self.region.items() if k not in ('pages', 'stats'))
        result.update(extra)
        return result


def migrations_of(client, region_id):
    """The region's migrations, newest first."""
    return client.get_items(api_path('migrations'), query=dict(regionId=region_id))


def find_job(module, client, outcome):
    """The migration the task is about, or None; outcome.region is the region the task names, if it names one."""
    params = module.params
    if params['id'] is not None:
        found = client.get_or_none(api_path('migrations', params['id']))
        if found is None:
            raise FaultlineError('there is no migration with id %s' % params['id'], status=404)
        return check_destination(module, found.body)
    outcome.region = find_region(client, region_id=params['region_id'], name=params['region'],
                                 selector=params['region_selector'])
    jobs = migrations_of(client, outcome.region['id'])
    running = [j for j in jobs if j.get('phase') not in ENDED]
    if running:
        # the service runs one migration of a region at a time, wherever it goes
        return check_destination(module, running[0])
    jobs = [j for j in jobs if params['destination_node'] in (None, j.get('destinationNode'))]
    if params['state'] == 'started':
        # an earlier migration to the destination has done the work
        done = [j for j in jobs if j.get('phase') == 'COMPLETED']
        return done[0] if done else None
    return jobs[0] if jobs else None


def check_destination(module, job):
    destination = module.params['destination_node']
    if destination not in (None, job.get('destinationNode')):
        raise StepFailed('%s is %s, and does not go to %s%s' % (
            name_of(job), job.get('phase'), destination,
            '' if job.get('phase') in ENDED else '; cancel it before migrating the region elsewhere'))
    return job


def act(module, client, outcome, action):
    """POSTs start-postcopy, pause, resume or cancel (202), and reads the migration afterwards."""
    if module.check_mode:
        outcome.changed = True
        return
    client.post(api_path('migrations', outcome.job['id'], action))
    outcome.changed = True
    outcome.job = client.get(api_path('migrations', outcome.job['id'])).body


def await_phase(module, client, outcome, reached, what):
    job_id = outcome.job['id']

    def poll():
        return client.get(api_path('migrations', job_id)).body

    def failed(job):
        if job.get('phase') == 'FAILED':
            return 'it FAILED: %s' % (job.get('error') or 'the service gave no reason')
        if job.get('phase') in ENDED:
            return 'it is %s' % job.get('phase')
        return None

    outcome.job = wait_for(poll, done=reached, failed=failed, timeout=module.params['wait_timeout'],
                           what='%s %s' % (name_of(outcome.job), what), describe=describe)


def at_least(phase):
    return lambda job: job.get('phase') in PROGRESS and PROGRESS.index(job['phase']) >= PROGRESS.index(phase)


def start(module, client, outcome):
    params = module.params
    if params['destination_node'] is None:
        module.fail_json(msg='destination_node is required to start a migration of region %s' % outcome.region['id'])
    options = dict((api, params[option]) for api, option in OPTIONS if params[option] is not None)
    request = dict(regionId=outcome.region['id'], destinationNode=params['destination_node'])
    if options:
        request['options'] = options
    if module.check_mode:
        outcome.job = dict(request, regionName=outcome.region.get('name'), sourceNode=outcome.region.get('node'),
                           phase='PENDING')
    else:
        outcome.job = client.post(api_path('migrations'), request).body
    outcome.changed = True


def started(module, client, outcome):
    params = module.params
    job = outcome.before = outcome.job = find_job(module, client, outcome)
    if job is None:
        if params['id'] is None and outcome.region.get('node') == params['destination_node']:
            return  # already there, and no migration of it is known (it may have come another way)
        start(module, client, outcome)
    elif job.get('phase') in ('FAILED', 'CANCELLED'):
        # found by id: a migration that ended without completing cannot be continued
        raise StepFailed('%s is %s%s; start a new one by naming the region' % (
            name_of(job), job['phase'], ': ' + job['error'] if job.get('error') else ''))
    elif job.get('phase') == 'PAUSED':
        act(module, client, outcome, 'resume')
    elif any(params[option] is not None for api, option in OPTIONS):
        module.warn('%s was started before this task; its options stay as they were started' % name_of(job))

    if module.check_mode:
        if params['start_postcopy'] and outcome.job.get('phase') in ('PENDING', 'PRECOPY', 'PAUSED'):
            outcome.changed = True
        return
    if params['start_postcopy'] and outcome.job.get('phase') != 'COMPLETED':
        if outcome.job.get('phase') in ('PENDING', 'PAUSED'):
            await_phase(module, client, outcome, at_least('PRECOPY'), 'to reach PRECOPY before its switchover')
        if outcome.job.get('phase') == 'PRECOPY':
            act(module, client, outcome, 'start-postcopy')
    if params['wait']:
        await_phase(module, client, outcome, at_least(params['wait_for']), 'to reach ' + params['wait_for'])


def paused(module, client, outcome):
    job = outcome.before = outcome.job = find_job(module, client, outcome)
    if job is None:
        raise StepFailed('there is no migration of region %s to pause' % outcome.region['id'])
    if job.get('phase') in ENDED:
        raise StepFailed('%s is %s; only a running migration can be paused' % (name_of(job), job['phase']))
    if job.get('phase') != 'PAUSED':
        act(module, client, outcome, 'pause')
    if module.params['wait'] and not module.check_mode:
        await_phase(module, client, outcome, lambda j: j.get('phase') == 'PAUSED', 'to be PAUSED')


def cancelled(module, client, outcome):
    job = outcome.before = outcome.job = find_job(module, client, outcome)
    if job is None or job.get('phase') in ('FAILED', 'CANCELLED'):
        return
    if job.get('phase') == 'COMPLETED':
        raise StepFailed('%s is COMPLETED; a completed migration cannot be cancelled' % name_of(job))
    act(module, client, outcome, 'cancel')
    if module.params['wait'] and not module.check_mode:
        outcome.job = wait_for(lambda: client.get(api_path('migrations', job['id'])).body,
                               done=lambda j: j.get('phase') == 'CANCELLED',
                               failed=lambda j: 'it is %s' % j['phase'] if j.get('phase') in ('COMPLETED', 'FAILED') else None,
                               timeout=module.params['wait_timeout'], what='%s to be CANCELLED' % name_of(job),
                               describe=describe)


def main():
    module = FaultlineModule(
        argument_spec=faultline_argument_spec(
            state=dict(type='str', default='started', choices=['started', 'paused', 'cancelled']),
            id=dict(type='str'),
            region_id=dict(type='str'),
            region=dict(type='str'),
            region_selector=dict(type='str'),
            destination_node=dict(type='str'),
            max_downtime_ms=dict(type='int'),
            bandwidth_limit_bytes_per_sec=dict(type='int', aliases=['bandwidth_limit']),
            max_precopy_rounds=dict(type='int'),
            postcopy=dict(type='str', choices=['auto', 'manual']),
            postcopy_after_ms=dict(type='int'),
            compress=dict(type='str', choices=['none', 'zstd']),
            auto_converge=dict(type='bool'),
            skip_unchanged=dict(type='bool'),
            push_connections=dict(type='int'),
            start_postcopy=dict(type='bool', default=False),
            wait=dict(type='bool', default=True),
            wait_for=dict(type='str', default='COMPLETED', choices=['PRECOPY', 'SWITCHOVER', 'POSTCOPY', 'COMPLETED']),
            wait_timeout=dict(type='int', default=1800),
        ),
        required_one_of=[('id', 'region_id', 'region')],
        mutually_exclusive=[('id', 'region_id', 'region'), ('region_id', 'region_selector')],
        required_by=dict(region_selector='region'),
        supports_check_mode=True,
    )
    connections = module.params['push_connections']
    if connections is not None and not PUSH_CONNECTIONS[0] <= connections <= PUSH_CONNECTIONS[1]:
        module.fail_json(msg='push_connections must be from %d to %d, not %d' % (PUSH_CONNECTIONS + (connections,)))
    client = FaultlineClient(module)
    outcome = Outcome()
    try:
        dict(started=started, paused=paused, cancelled=cancelled)[module.params['state']](module, client, outcome)
    except FaultlineError as e:
        # what the task did before the failure (a migration started, resumed or paused) is still reported
        module.fail_json(**outcome.result(**e.fail_kwargs()))
    module.exit_json(**outcome.result())


if __name__ == '__main__':
    main()
