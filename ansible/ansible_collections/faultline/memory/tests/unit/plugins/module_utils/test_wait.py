# -*- coding: utf-8 -*-
"""wait_for: poll until a job gets there, stop at once when it cannot, never wait past the deadline."""

import unittest

from ansible_collections.faultline.memory.plugins.module_utils.api import FaultlineError
from ansible_collections.faultline.memory.plugins.module_utils.wait import WaitError, wait_for


class FakeClock(object):
    """Time that passes only when the code under test sleeps."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def phases(*names):
    remaining = list(names)

    def poll():
        return dict(phase=remaining.pop(0) if len(remaining) > 1 else remaining[0])
    return poll


class WaitTest(unittest.TestCase):

    def setUp(self):
        self.clock = FakeClock()

    def wait(self, poll, timeout=10, failed=None):
        return wait_for(poll, done=lambda job: job['phase'] == 'COMPLETED', timeout=timeout,
                        what='migration m1 to complete', failed=failed, describe=lambda job: 'phase ' + job['phase'],
                        interval=2, clock=self.clock, sleep=self.clock.sleep)

    def test_returns_the_state_that_is_done(self):
        job = self.wait(phases('PRECOPY', 'SWITCHOVER', 'COMPLETED'))

        self.assertEqual(job, dict(phase='COMPLETED'))
        self.assertEqual(self.clock.sleeps, [2, 2])

    def test_done_at_once_never_sleeps(self):
        self.wait(phases('COMPLETED'))

        self.assertEqual(self.clock.sleeps, [])

    def test_a_job_that_cannot_get_there_stops_the_wait_at_once(self):
        with self.assertRaises(WaitError) as raised:
            self.wait(phases('PRECOPY', 'FAILED'),
                      failed=lambda job: 'the job failed: link lost' if job['phase'] == 'FAILED' else None)

        self.assertEqual(str(raised.exception), 'gave up waiting for migration m1 to complete: the job failed: link lost')
        self.assertEqual(raised.exception.last, dict(phase='FAILED'))
        self.assertEqual(self.clock.sleeps, [2])

    def test_a_timeout_names_what_was_awaited_and_the_last_state_and_never_oversleeps(self):
        with self.assertRaises(WaitError) as raised:
            self.wait(phases('PRECOPY'), timeout=5)

        self.assertEqual(str(raised.exception),
                         'timed out after 5s waiting for migration m1 to complete; last seen: phase PRECOPY')
        self.assertEqual(self.clock.sleeps, [2, 2, 1])
        self.assertEqual(raised.exception.fail_kwargs(),
                         dict(msg=str(raised.exception), last_state=dict(phase='PRECOPY')))

    def test_a_wait_error_is_a_faultline_error_so_modules_need_one_except(self):
        self.assertTrue(issubclass(WaitError, FaultlineError))


if __name__ == '__main__':
    unittest.main()
