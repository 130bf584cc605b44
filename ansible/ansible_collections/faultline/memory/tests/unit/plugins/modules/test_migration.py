# -*- coding: utf-8 -*-
"""The migration module against a scripted service speaking docs/api-migrations.md (not implemented yet)."""

import unittest

from ansible_collections.faultline.memory.plugins.modules import migration
from ansible_collections.faultline.memory.tests.unit.scripted_api import ScriptedApi, problem, reply, run_module

REGION_ID = '0b0f6c1e-2a8e-4c1f-9d55-6f1a3b7e9c21'
REGION = dict(id=REGION_ID, node='node-a', name='db', state='ATTACHED', labels={}, stats=dict(faults={}))
MIGRATIONS = '/api/v1/migrations'
PATH = MIGRATIONS + '/m1'
JOB = dict(id='m1', regionId=REGION_ID, regionName='db', sourceNode='node-a', destinationNode='node-b',
           destinationRegionId=None, phase='PENDING', pausedIn=None, error=None,
           options=dict(maxDowntimeMs=10, bandwidthLimitBytesPerSec=0, maxPrecopyRounds=10, postcopy='auto',
                        postcopyAfterMs=30000, compress='none', autoConverge=False, skipUnchanged=True,
                        pushConnections=1),
           timeline=[dict(phase='PENDING', at='2026-11-24T20:00:00Z')], stats=dict(remainingBytes=16777216))


def job(**fields):
    copy = dict(JOB)
    copy.update(fields)
    return copy


def region_by_id(**fields):
    return reply('GET', '/api/v1/regions/' + REGION_ID, json_body=dict(REGION, **fields))


def jobs_of_region(*jobs):
    return reply('GET', MIGRATIONS + '?page=0&regionId=%s&size=500' % REGION_ID,
                 json_body=dict(items=list(jobs), page=0, size=500, totalItems=len(jobs), totalPages=1 if jobs else 0))


def get(**fields):
    return reply('GET', PATH, json_body=job(**fields))


def run_migration(api, check_mode=False, **args):
    result = run_module(migration.main, args, api, check_mode=check_mode, diff=True)
    api.assert_done()
    return result


class StartTest(unittest.TestCase):

    def test_a_region_without_a_migration_is_migrated_and_waited_for(self):
        api = ScriptedApi(region_by_id(), jobs_of_region(),
                          reply('POST', MIGRATIONS, 202, JOB, expect=dict(regionId=REGION_ID, destinationNode='node-b',
                                                                          options=dict(maxDowntimeMs=20, postcopy='manual'))),
                          get(phase='PRECOPY'), get(phase='POSTCOPY'), get(phase='COMPLETED', destinationRegionId='r2'))

        result = run_migration(api, region_id=REGION_ID, destination_node='node-b', max_downtime_ms=20, postcopy='manual')

        self.assertTrue(result['changed'])
        self.assertEqual(result['migration']['phase'], 'COMPLETED')
        self.assertEqual(result['diff']['before'], {})
        self.assertNotIn('stats', result['diff']['after'], 'statistics change every second')
        self.assertIn('stats', result['migration'])
        self.assertNotIn('stats', result['region'])

    def test_the_bandwidth_limit_has_the_glossary_name_and_the_old_one_as_alias(self):
        for option in ('bandwidth_limit_bytes_per_sec', 'bandwidth_limit'):
            api = ScriptedApi(region_by_id(), jobs_of_region(),
                              reply('POST', MIGRATIONS, 202, JOB,
                                    expect=dict(regionId=REGION_ID, destinationNode='node-b',
                                                options=dict(bandwidthLimitBytesPerSec=1048576))))

            result = run_migration(api, region_id=REGION_ID, destination_node='node-b', wait=False,
                                   **{option: 1048576})

            self.assertTrue(result['changed'], option)
            self.assertEqual(result['migration']['options']['bandwidth_limit_bytes_per_sec'], 0, option)

    def test_compression_is_asked_for_with_the_rest_api_s_name_and_shown_in_the_result(self):
        compressed = job(options=dict(JOB['options'], compress='zstd'),
                         stats=dict(remainingBytes=0, transferred=dict(compressedPages=3, compressedBytes=512)))
        api = ScriptedApi(region_by_id(), jobs_of_region(),
                          reply('POST', MIGRATIONS, 202, compressed,
                                expect=dict(regionId=REGION_ID, destinationNode='node-b',
                                            options=dict(compress='zstd'))))

        result = run_migration(api, region_id=REGION_ID, destination_node='node-b', wait=False, compress='zstd')

        self.assertTrue(result['changed'])
        self.assertEqual(result['migration']['options']['compress'], 'zstd')
        self.assertEqual(result['migration']['stats']['transferred'], dict(compressed_pages=3, compressed_bytes=512))

    def test_compression_other_than_none_or_zstd_is_refused_before_the_service_is_asked(self):
        result = run_migration(ScriptedApi(), region_id=REGION_ID, destination_node='node-b', compress='gzip')

        self.assertTrue(result['failed'])
        self.assertIn('compress', result['msg'])
        self.assertIn('none, zstd', result['msg'])

    def test_auto_converge_is_asked_for_with_the_rest_api_s_name_and_its_throttle_shown_in_the_result(self):
        throttled = job(options=dict(JOB['options'], autoConverge=True),
                        stats=dict(remainingBytes=0, throttle=dict(state='throttling', pct=30, throttledMs=1200)))
        api = ScriptedApi(region_by_id(), jobs_of_region(),
                          reply('POST', MIGRATIONS, 202, throttled,
                                expect=dict(regionId=REGION_ID, destinationNode='node-b',
                                            options=dict(autoConverge=True))))

        result = run_migration(api, region_id=REGION_ID, destination_node='node-b', wait=False, auto_converge=True)

        self.assertTrue(result['changed'])
        self.assertIs(result['migration']['options']['auto_converge'], True)
        self.assertEqual(result['migration']['stats']['throttle'], dict(state='throttling', pct=30, throttled_ms=1200))

    def test_auto_converge_false_is_sent_as_a_boolean_too(self):
        api = ScriptedApi(region_by_id(), jobs_of_region(),
                          reply('POST', MIGRATIONS, 202, JOB,
                                expect=dict(regionId=REGION_ID, destinationNode='node-b',
                                            options=dict(autoConverge=False))))

        result = run_migration(api, region_id=REGION_ID, destination_node='node-b', wait=False, auto_converge='no')

        self.assertTrue(result['changed'])

    def test_auto_converge_that_is_not_a_boolean_is_refused_before_the_service_is_asked(self):
        result = run_migration(ScriptedApi(), region_id=REGION_ID, destination_node='node-b', auto_converge='sometimes')

        self.assertTrue(result['failed'])
        self.assertIn('auto_converge', result['msg'])

    def test_skip_unchanged_false_is_sent_as_a_boolean_with_the_rest_api_s_name(self):
        every_page = job(options=dict(JOB['options'], skipUnchanged=False))
        api = ScriptedApi(region_by_id(), jobs_of_region(),
                          reply('POST', MIGRATIONS, 202, every_page,
                                expect=dict(regionId=REGION_ID, destinationNode='node-b',
                                            options=dict(skipUnchanged=False))))

        result = run_migration(api, region_id=REGION_ID, destination_node='node-b', wait=False, skip_unchanged='no')

        self.assertTrue(result['changed'])
        self.assertIs(result['migration']['options']['skip_unchanged'], False)

    def test_skip_unchanged_left_out_is_not_sent_and_the_unchanged_pages_are_shown(self):
        skipped = job(stats=dict(remainingBytes=0, transferred=dict(precopyPages=4096, unchangedPages=512)))
        api = ScriptedApi(region_by_id(), jobs_of_region(),
                          reply('POST', MIGRATIONS, 202, skipped,
                                expect=dict(regionId=REGION_ID, destinationNode='node-b')))

        result = run_migration(api, region_id=REGION_ID, destination_node='node-b', wait=False)

        self.assertTrue(result['changed'])
        self.assertIs(result['migration']['options']['skip_unchanged'], True)
        self.assertEqual(result['migration']['stats']['transferred']['unchanged_pages'], 512)

    def test_skip_unchanged_that_is_not_a_boolean_is_refused_before_the_service_is_asked(self):
        result = run_migration(ScriptedApi(), region_id=REGION_ID, destination_node='node-b', skip_unchanged='often')

        self.assertTrue(result['failed'])
        self.assertIn('skip_unchanged', result['msg'])

    def test_push_connections_are_asked_for_with_the_rest_api_s_name_and_those_pushed_on_shown(self):
        pushed = job(options=dict(JOB['options'], pushConnections=4), stats=dict(remainingBytes=0, pushConnections=4))
        api = ScriptedApi(region_by_id(), jobs_of_region(),
                          reply('POST', MIGRATIONS, 202, pushed,
                                expect=dict(regionId=REGION_ID, destinationNode='node-b',
                                            options=dict(pushConnections=4))))

        result = run_migration(api, region_id=REGION_ID, destination_node='node-b', wait=False, push_connections='4')

        self.assertTrue(result['changed'])
        self.assertEqual(result['migration']['options']['push_connections'], 4)
        self.assertEqual(result['migration']['stats']['push_connections'], 4)

    def test_push_connections_left_out_are_not_sent_and_the_service_s_default_is_shown(self):
        api = ScriptedApi(region_by_id(), jobs_of_region(),
                          reply('POST', MIGRATIONS, 202, JOB, expect=dict(regionId=REGION_ID, destinationNode='node-b')))

        result = run_migration(api, region_id=REGION_ID, destination_node='node-b', wait=False)

        self.assertTrue(result['changed'])
        self.assertEqual(result['migration']['options']['push_connections'], 1)

    def test_push_connections_out_of_range_or_not_whole_are_refused_before_the_service_is_asked(self):
        for value, why in ((0, 'must be from 1 to 8, not 0'), (9, 'must be from 1 to 8, not 9'), (-1, 'not -1'),
                           ('x', 'cannot be converted to an int'), (1.5, 'cannot be converted to an int'),
                           ('1.5', 'cannot be converted to an int')):
            result = run_migration(ScriptedApi(), region_id=REGION_ID, destination_node='node-b',
                                   push_connections=value)

            self.assertTrue(result['failed'], value)
            self.assertIn('push_connections', result['msg'], value)
            self.assertIn(why, result['msg'], value)

    def test_waiting_for_a_phase_stops_there_or_past_it(self):
        api = ScriptedApi(region_by_id(), jobs_of_region(), reply('POST', MIGRATIONS, 202, JOB),
                          get(phase='PRECOPY'), get(phase='POSTCOPY'))

        result = run_migration(api, region_id=REGION_ID, destination_node='node-b', wait_for='SWITCHOVER')

        self.assertEqual(result['migration']['phase'], 'POSTCOPY')

    def test_a_migration_under_way_to_the_destination_is_no_change(self):
        api = ScriptedApi(region_by_id(), jobs_of_region(job(phase='PRECOPY')), get(phase='COMPLETED'))

        result = run_migration(api, region_id=REGION_ID, destination_node='node-b')

        self.assertFalse(result['changed'])

    def test_a_completed_migration_to_the_destination_is_no_change(self):
        api = ScriptedApi(region_by_id(state='DETACHED'), jobs_of_region(job(phase='COMPLETED')))

        result = run_migration(api, region_id=REGION_ID, destination_node='node-b', wait=False)

        self.assertFalse(result['changed'])
        self.assertEqual(result['migration']['id'], 'm1')

    def test_a_region_already_on_the_destination_is_no_change(self):
        api = ScriptedApi(region_by_id(node='node-b'), jobs_of_region())

        result = run_migration(api, region_id=REGION_ID, destination_node='node-b')

        self.assertFalse(result['changed'])
        self.assertIsNone(result['migration'])

    def test_a_failed_or_cancelled_migration_does_not_count(self):
        api = ScriptedApi(region_by_id(), jobs_of_region(job(id='m0', phase='FAILED', error='peer gone')),
                          reply('POST', MIGRATIONS, 202, JOB))

        self.assertTrue(run_migration(api, region_id=REGION_ID, destination_node='node-b', wait=False)['changed'])

    def test_a_paused_migration_is_resumed(self):
        api = ScriptedApi(region_by_id(), jobs_of_region(job(phase='PAUSED', pausedIn='PRECOPY')),
                          reply('POST', PATH + '/resume', 202, job(phase='PAUSED')), get(phase='PRECOPY'))

        result = run_migration(api, region_id=REGION_ID, destination_node='node-b', wait=False)

        self.assertTrue(result['changed'])
        self.assertEqual(result['diff']['before']['phase'], 'PAUSED')
        self.assertEqual(result['diff']['after']['phase'], 'PRECOPY')

    def test_a_migration_to_another_node_fails_and_says_to_cancel_it(self):
        api = ScriptedApi(region_by_id(), jobs_of_region(job(phase='PRECOPY', destinationNode='node-c')))

        result = run_migration(api, region_id=REGION_ID, destination_node='node-b')

        self.assertTrue(result['failed'])
        self.assertEqual(result['msg'], "migration m1 of region 'db' to node-c is PRECOPY, and does not go to node-b; "
                                        "cancel it before migrating the region elsewhere")

    def test_options_of_a_running_migration_are_not_changed_and_the_task_says_so(self):
        api = ScriptedApi(region_by_id(), jobs_of_region(job(phase='PRECOPY')))

        result = run_migration(api, region_id=REGION_ID, destination_node='node-b', max_downtime_ms=50, wait=False)

        self.assertFalse(result['changed'])
        self.assertIn("migration m1 of region 'db' to node-b was started before this task; its options stay as they were "
                      "started", result['warnings'])

    def test_a_failed_migration_fails_the_task_with_its_error(self):
        api = ScriptedApi(region_by_id(), jobs_of_region(), reply('POST', MIGRATIONS, 202, JOB),
                          get(phase='FAILED', error='destination agent unreachable'))

        result = run_migration(api, region_id=REGION_ID, destination_node='node-b')

        self.assertTrue(result['failed'])
        self.assertTrue(result['changed'])
        self.assertEqual(result['msg'], "gave up waiting for migration m1 of region 'db' to node-b to reach COMPLETED: "
                                        "it FAILED: destination agent unreachable")
        self.assertEqual(result['migration']['id'], 'm1')

    def test_a_wait_that_times_out_says_the_phase_it_last_saw(self):
        api = ScriptedApi(region_by_id(), jobs_of_region(job(phase='PAUSED', pausedIn='POSTCOPY')),
                          reply('POST', PATH + '/resume', 202, job()), get(phase='PAUSED', pausedIn='POSTCOPY'),
                          get(phase='PAUSED', pausedIn='POSTCOPY'), get(phase='PAUSED', pausedIn='POSTCOPY'))

        result = run_migration(api, region_id=REGION_ID, destination_node='node-b', wait_timeout=2)

        self.assertTrue(result['failed'])
        self.assertIn('last seen: phase PAUSED (paused in POSTCOPY)', result['msg'])

    def test_check_mode_starts_nothing(self):
        api = ScriptedApi(region_by_id(), jobs_of_region())

        result = run_migration(api, check_mode=True, region_id=REGION_ID, destination_node='node-b')

        self.assertTrue(result['changed'])
        self.assertEqual(result['migration']['phase'], 'PENDING')
        self.assertEqual(result['migration']['destination_node'], 'node-b')

    def test_starting_needs_a_destination(self):
        api = ScriptedApi(region_by_id(), jobs_of_region())

        result = run_migration(api, region_id=REGION_ID)

        self.assertEqual(result['msg'], 'destination_node is required to start a migration of region ' + REGION_ID)

    def test_one_migration_per_region_is_the_service_s_refusal(self):
        api = ScriptedApi(region_by_id(), jobs_of_region(),
                          problem('POST', MIGRATIONS, 409, 'migration-in-progress', 'Migration in progress',
                                  'region %s is being migrated by m0' % REGION_ID))

        result = run_migration(api, region_id=REGION_ID, destination_node='node-b')

        self.assertTrue(result['failed'])
        self.assertFalse(result['changed'])
        self.assertIn('[migration-in-progress]', result['msg'])


class StartPostcopyTest(unittest.TestCase):

    def test_a_migration_in_precopy_is_switched_over(self):
        api = ScriptedApi(get(phase='PRECOPY'), reply('POST', PATH + '/start-postcopy', 202, job(phase='PRECOPY')),
                          get(phase='SWITCHOVER'), get(phase='COMPLETED'))

        result = run_migration(api, id='m1', start_postcopy=True)

        self.assertTrue(result['changed'])
        self.assertEqual(result['migration']['phase'], 'COMPLETED')

    def test_a_pending_migration_is_waited_for_until_precopy_first(self):
        api = ScriptedApi(get(phase='PENDING'), get(phase='PRECOPY'),
                          reply('POST', PATH + '/start-postcopy', 202, job(phase='PRECOPY')), get(phase='SWITCHOVER'),
                          get(phase='POSTCOPY'))

        result = run_migration(api, id='m1', start_postcopy=True, wait_for='POSTCOPY')

        self.assertTrue(result['changed'])

    def test_a_migration_past_precopy_is_no_change(self):
        api = ScriptedApi(get(phase='POSTCOPY'))

        self.assertFalse(run_migration(api, id='m1', start_postcopy=True, wait=False)['changed'])

    def test_a_migration_by_id_that_failed_fails(self):
        api = ScriptedApi(get(phase='FAILED', error='peer gone'))

        result = run_migration(api, id='m1')

        self.assertEqual(result['msg'], "migration m1 of region 'db' to node-b is FAILED: peer gone; start a new one by "
                                        "naming the region")


class PauseTest(unittest.TestCase):

    def test_a_running_migration_is_paused_and_waited_for(self):
        api = ScriptedApi(get(phase='PRECOPY'), reply('POST', PATH + '/pause', 202, job(phase='PRECOPY')),
                          get(phase='PRECOPY'), get(phase='PAUSED', pausedIn='PRECOPY'))

        result = run_migration(api, id='m1', state='paused')

        self.assertTrue(result['changed'])
        self.assertEqual(result['migration']['phase'], 'PAUSED')

    def test_a_paused_migration_is_no_change(self):
        api = ScriptedApi(region_by_id(), jobs_of_region(job(phase='PAUSED', pausedIn='PRECOPY')), get(phase='PAUSED'))

        self.assertFalse(run_migration(api, region_id=REGION_ID, state='paused')['changed'])

    def test_an_ended_migration_cannot_be_paused(self):
        api = ScriptedApi(region_by_id(), jobs_of_region(job(phase='COMPLETED')))

        result = run_migration(api, region_id=REGION_ID, state='paused')

        self.assertEqual(result['msg'], "migration m1 of region 'db' to node-b is COMPLETED; only a running migration "
                                        "can be paused")

    def test_no_migration_to_pause(self):
        api = ScriptedApi(region_by_id(), jobs_of_region())

        self.assertEqual(run_migration(api, region_id=REGION_ID, state='paused')['msg'],
                         'there is no migration of region %s to pause' % REGION_ID)

    def test_check_mode_pauses_nothing(self):
        api = ScriptedApi(get(phase='PRECOPY'))

        self.assertTrue(run_migration(api, check_mode=True, id='m1', state='paused')['changed'])


class CancelTest(unittest.TestCase):

    def test_a_running_migration_is_cancelled_and_waited_for(self):
        api = ScriptedApi(region_by_id(), jobs_of_region(job(phase='PRECOPY')),
                          reply('POST', PATH + '/cancel', 202, job(phase='PRECOPY')), get(phase='PRECOPY'),
                          get(phase='CANCELLED'))

        result = run_migration(api, region_id=REGION_ID, state='cancelled')

        self.assertTrue(result['changed'])
        self.assertEqual(result['migration']['phase'], 'CANCELLED')

    def test_past_switchover_is_the_service_s_refusal(self):
        api = ScriptedApi(get(phase='POSTCOPY'),
                          problem('POST', PATH + '/cancel', 409, 'migration-past-switchover', 'Migration past switchover',
                                  'migration m1 is in POSTCOPY; recovery, not cancel, is the way on'))

        result = run_migration(api, id='m1', state='cancelled')

        self.assertTrue(result['failed'])
        self.assertIn('[migration-past-switchover]', result['msg'])

    def test_an_ended_migration_is_no_change_unless_it_completed(self):
        for phase in ('CANCELLED', 'FAILED'):
            with self.subTest(phase=phase):
                self.assertFalse(run_migration(ScriptedApi(get(phase=phase)), id='m1', state='cancelled')['changed'])
        result = run_migration(ScriptedApi(get(phase='COMPLETED')), id='m1', state='cancelled')
        self.assertEqual(result['msg'], "migration m1 of region 'db' to node-b is COMPLETED; a completed migration cannot "
                                        "be cancelled")

    def test_a_region_never_migrated_is_no_change(self):
        api = ScriptedApi(region_by_id(), jobs_of_region())

        self.assertFalse(run_migration(api, region_id=REGION_ID, state='cancelled')['changed'])


if __name__ == '__main__':
    unittest.main()
