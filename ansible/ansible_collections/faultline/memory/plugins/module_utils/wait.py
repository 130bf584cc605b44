# -*- coding: utf-8 -*-
"""Waiting for a Faultline job (a snapshot being taken, a migration reaching a phase) from a module.

    job = wait_for(lambda: client.get(api_path('migrations', job_id)).body,
                   done=lambda job: job['phase'] in ('POSTCOPY', 'COMPLETED'),
                   failed=lambda job: job.get('error') if job['phase'] == 'FAILED' else None,
                   timeout=module.params['wait_timeout'], what='migration %s to reach POSTCOPY' % job_id,
                   describe=lambda job: 'phase ' + job['phase'])

A timeout or a failed job raises WaitError, a FaultlineError, so the module's one
`except FaultlineError` turns it into fail_json with the last state seen.
"""

import time

from ansible_collections.faultline.memory.plugins.module_utils.api import FaultlineError


class WaitError(FaultlineError):
    """The awaited state did not come: the job failed, or the time ran out. last is the last state polled."""

    def __init__(self, message, last):
        super(WaitError, self).__init__(message)
        self.last = last

    def fail_kwargs(self):
        result = super(WaitError, self).fail_kwargs()
        result['last_state'] = self.last
        return result


def wait_for(poll, done, timeout, what, failed=None, describe=None, interval=2.0, clock=None, sleep=None):
    """Calls poll() until done(state) holds and returns that state.

    failed(state) returns a message when the job can no longer get there (stop at once rather
    than wait for the timeout). The deadline is measured with a monotonic clock, and the last
    sleep is cut short so a wait never overshoots it by more than one poll. clock and sleep
    default to this module's time.monotonic and time.sleep, looked up at each call so that a
    module's unit tests can replace the time here.
    """
    clock = clock or time.monotonic
    sleep = sleep or time.sleep
    describe = describe or repr
    deadline = clock() + timeout
    while True:
        state = poll()
        if done(state):
            return state
        reason = failed(state) if failed is not None else None
        if reason:
            raise WaitError('gave up waiting for %s: %s' % (what, reason), state)
        remaining = deadline - clock()
        if remaining <= 0:
            raise WaitError('timed out after %ss waiting for %s; last seen: %s' % (timeout, what, describe(state)), state)
        sleep(min(interval, remaining))
