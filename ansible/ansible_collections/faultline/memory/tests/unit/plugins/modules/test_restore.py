# -*- coding: utf-8 -*-
"""The restore module against a scripted service: open a session for an image or a snapshot, wait, close."""

import unittest

from ansible_collections.faultline.memory.plugins.modules import restore
from ansible_collections.faultline.memory.tests.unit.scripted_api import ScriptedApi, problem, reply, run_module

RESTORES = '/api/v1/restores'
IMAGE = '/var/lib/faultline/images/db.img'
SESSION = dict(id='r1', node='node-a', name='db', labels={'app': 'db'}, image=dict(path=IMAGE, size=16777216),
               socket='/var/lib/faultline/agent/restore/r1.sock', state='WAITING', createdAt='2026-11-24T22:46:03Z',
               closedAt=None, options=dict(faultAroundPages=16, populateDelayMs=1000, workingSet='auto'), regions=[],
               source=None, pages=None, progress=None, workingSet=None, error=None)
SNAPSHOT = '/api/v1/snapshots/s1'


def session(**fields):
    copy = dict(SESSION)
    copy.update(fields)
    return copy


# the open sessions of the task's name, filtered by the service
OPEN_OF_DB = RESTORES + '?name=db&page=0&size=500&state=REQUESTED&state=WAITING&state=ACTIVE&state=COMPLETE'


def listing(*sessions):
    return reply('GET', OPEN_OF_DB, json_body=dict(items=list(sessions), page=0, size=500,
                                                   totalItems=len(sessions), totalPages=1))


def get(**fields):
    return reply('GET', RESTORES + '/r1', json_body=session(**fields))


def run_restore(api, check_mode=False, **args):
    result = run_module(restore.main, args, api, check_mode=check_mode, diff=True)
    api.assert_done()
    return result


TASK = dict(name='db', image=IMAGE, labels={'app': 'db'})


class FromAnImageTest(unittest.TestCase):

    def test_a_missing_session_is_opened_with_the_options_the_task_sets(self):
        api = ScriptedApi(listing(session(id='r0', state='CLOSED')),
                          reply('POST', RESTORES, 201, SESSION,
                                expect=dict(image=IMAGE, name='db', labels={'app': 'db'}, workingSet='replay')))

        result = run_restore(api, working_set='replay', **TASK)

        self.assertTrue(result['changed'])
        self.assertEqual(result['restore']['socket'], SESSION['socket'])
        self.assertEqual(result['restore']['options']['fault_around_pages'], 16)
        self.assertEqual(result['diff']['before'], {})
        self.assertEqual(result['diff']['after']['state'], 'WAITING')

    def test_a_clone_session_is_opened_with_its_mode_and_another_mode_is_a_difference(self):
        clone = session(options=dict(SESSION['options'], mode='clone'),
                        clones=dict(sharedBytes=16777216, sharedResidentBytes=16777216, privateBytes=0, pssBytes=0,
                                    clones=[]))
        api = ScriptedApi(listing(), reply('POST', RESTORES, 201, clone,
                                           expect=dict(image=IMAGE, name='db', labels={'app': 'db'}, mode='clone')))

        result = run_restore(api, mode='clone', **TASK)

        self.assertTrue(result['changed'])
        self.assertEqual(result['restore']['options']['mode'], 'clone')
        self.assertEqual(result['restore']['clones']['shared_bytes'], 16777216)
        self.assertNotIn('clones', result['diff']['after'], 'the diff leaves out the live accounting')

        again = run_restore(ScriptedApi(listing(clone)), mode='clone', **TASK)
        self.assertFalse(again['changed'])
        refused = run_restore(ScriptedApi(listing(clone)), mode='copy', **TASK)
        self.assertTrue(refused['failed'])
        self.assertIn('mode is clone, the task wants copy', refused['msg'])

    def test_an_open_session_of_the_name_is_no_change(self):
        api = ScriptedApi(listing(session(state='ACTIVE', progress=0.5, pages=dict(total=4, present=2))))

        result = run_restore(api, **TASK)

        self.assertFalse(result['changed'])
        self.assertEqual(result['restore']['progress'], 0.5)
        self.assertEqual(result['diff']['before'], result['diff']['after'])
        self.assertNotIn('progress', result['diff']['after'], 'the diff leaves out the live progress')

    def test_a_label_a_session_does_not_have_fails_the_task_without_replace(self):
        api = ScriptedApi(listing(SESSION))

        result = run_restore(api, name='db', image=IMAGE, labels={'app': 'db', 'tier': 'gold'})

        self.assertTrue(result['failed'])
        self.assertFalse(result['changed'])
        self.assertIn("restore session r1 'db' cannot be changed (labels are", result['msg'])
        self.assertIn('set replace: true', result['msg'])

    def test_replace_closes_the_session_and_opens_another(self):
        api = ScriptedApi(listing(SESSION), reply('DELETE', RESTORES + '/r1', 204), get(state='CLOSED'),
                          reply('POST', RESTORES, 201, session(id='r2', options=dict(SESSION['options'],
                                                                                     faultAroundPages=64))))

        result = run_restore(api, fault_around_pages=64, replace=True, **TASK)

        self.assertTrue(result['changed'])
        self.assertEqual(result['restore']['id'], 'r2')
        self.assertEqual(result['diff']['before']['id'], 'r1')

    def test_waits_until_the_session_is_complete(self):
        api = ScriptedApi(listing(SESSION), get(state='ACTIVE', progress=0.3), get(state='COMPLETE', progress=1.0))

        result = run_restore(api, wait_for='COMPLETE', **TASK)

        self.assertFalse(result['changed'])
        self.assertEqual(result['restore']['state'], 'COMPLETE')

    def test_a_session_that_failed_while_waited_for_fails_the_task_with_its_error(self):
        api = ScriptedApi(listing(SESSION), get(state='FAILED', error='image changed under the session'))

        result = run_restore(api, wait_for='ACTIVE', **TASK)

        self.assertTrue(result['failed'])
        self.assertIn("restore session r1 'db' is FAILED: image changed under the session", result['msg'])
        self.assertEqual(result['restore']['state'], 'FAILED')

    def test_check_mode_opens_nothing(self):
        api = ScriptedApi(listing())

        result = run_restore(api, check_mode=True, populate_delay_ms=-1, **TASK)

        self.assertTrue(result['changed'])
        self.assertEqual(result['restore'], dict(name='db', labels={'app': 'db'}, image=dict(path=IMAGE),
                                                 state='WAITING', options=dict(populate_delay_ms=-1)))

    def test_the_service_s_refusal_fails_the_task_in_its_words(self):
        api = ScriptedApi(listing(), problem('POST', RESTORES, 403, 'image-not-allowed', 'Image not allowed',
                                             'image /etc/passwd is outside the allowed directories'))

        result = run_restore(api, name='db', image='/etc/passwd')

        self.assertTrue(result['failed'])
        self.assertIn('is outside the allowed directories [image-not-allowed]', result['msg'])


class FromASnapshotTest(unittest.TestCase):

    def operation(self, state, **fields):
        op = dict(id='o1', snapshotId='s1', kind='RESTORE', state=state, restoreName='db-copy', restoreLabels=None,
                  restoreId=None, error=None)
        op.update(fields)
        return op

    def snapshot_session(self, state='WAITING'):
        return session(id='r9', name='db-copy', snapshotId='s1', state=state,
                       image=dict(path='/var/lib/faultline/agent/snaprestore/r9.mem', size=16777216))

    def test_the_snapshot_is_restored_its_operation_waited_for_and_its_session_returned(self):
        api = ScriptedApi(reply('GET', SNAPSHOT, json_body=dict(id='s1', state='COMPLETED')),
                          reply('GET', SNAPSHOT + '/operations', json_body=[self.operation('FAILED')]),
                          reply('POST', SNAPSHOT + '/restore', 202, self.operation('PENDING'), expect=dict(name='db-copy')),
                          reply('GET', SNAPSHOT + '/operations/o1', json_body=self.operation('SUCCEEDED', restoreId='r9')),
                          reply('GET', RESTORES + '/r9', json_body=self.snapshot_session()))

        result = run_restore(api, name='db-copy', snapshot_id='s1')

        self.assertTrue(result['changed'])
        self.assertEqual(result['operation']['restore_id'], 'r9')
        self.assertEqual(result['restore']['snapshot_id'], 's1')
        self.assertEqual(result['restore']['state'], 'WAITING')
        self.assertEqual(result['diff']['after'], dict(snapshot_id='s1', name='db-copy', labels=None))

    def test_an_earlier_restore_of_the_snapshot_under_the_name_whose_session_is_open_is_no_change(self):
        done = self.operation('SUCCEEDED', restoreId='r9')
        api = ScriptedApi(reply('GET', SNAPSHOT, json_body=dict(id='s1', state='COMPLETED')),
                          reply('GET', SNAPSHOT + '/operations', json_body=[done]),
                          reply('GET', RESTORES + '/r9', json_body=self.snapshot_session()),
                          reply('GET', RESTORES + '/r9', json_body=self.snapshot_session()))

        result = run_restore(api, name='db-copy', snapshot_id='s1')

        self.assertFalse(result['changed'])
        self.assertEqual(result['diff']['before'], result['diff']['after'])

    def test_an_earlier_restore_whose_session_was_closed_restores_the_snapshot_again(self):
        done = self.operation('SUCCEEDED', restoreId='r8')
        api = ScriptedApi(reply('GET', SNAPSHOT, json_body=dict(id='s1', state='COMPLETED')),
                          reply('GET', SNAPSHOT + '/operations', json_body=[done]),
                          reply('GET', RESTORES + '/r8', json_body=session(id='r8', name='db-copy', snapshotId='s1',
                                                                           state='CLOSED')),
                          reply('POST', SNAPSHOT + '/restore', 202, self.operation('PENDING', id='o2'),
                                expect=dict(name='db-copy')),
                          reply('GET', SNAPSHOT + '/operations/o2',
                                json_body=self.operation('SUCCEEDED', id='o2', restoreId='r9')),
                          reply('GET', RESTORES + '/r9', json_body=self.snapshot_session()))

        result = run_restore(api, name='db-copy', snapshot_id='s1')

        self.assertTrue(result['changed'])
        self.assertEqual(result['operation']['restore_id'], 'r9')

    def test_waits_for_a_snapshot_s_session_to_be_complete(self):
        done = self.operation('SUCCEEDED', restoreId='r9')
        api = ScriptedApi(reply('GET', SNAPSHOT, json_body=dict(id='s1', state='COMPLETED')),
                          reply('GET', SNAPSHOT + '/operations', json_body=[done]),
                          reply('GET', RESTORES + '/r9', json_body=self.snapshot_session()),
                          reply('GET', RESTORES + '/r9', json_body=self.snapshot_session('ACTIVE')),
                          reply('GET', RESTORES + '/r9', json_body=self.snapshot_session('COMPLETE')))

        result = run_restore(api, name='db-copy', snapshot_id='s1', wait_for='COMPLETE')

        self.assertFalse(result['changed'])
        self.assertEqual(result['restore']['state'], 'COMPLETE')

    def test_a_snapshot_s_session_the_service_has_no_record_of_fails_the_task(self):
        api = ScriptedApi(reply('GET', SNAPSHOT, json_body=dict(id='s1', state='COMPLETED')),
                          reply('GET', SNAPSHOT + '/operations', json_body=[self.operation('RUNNING')]),
                          reply('GET', SNAPSHOT + '/operations/o1', json_body=self.operation('SUCCEEDED', restoreId='r9')),
                          problem('GET', RESTORES + '/r9', 404, 'not-found', 'Not found', 'no restore session r9'))

        result = run_restore(api, name='db-copy', snapshot_id='s1')

        self.assertTrue(result['failed'])
        self.assertIn('has no record of it', result['msg'])

    def test_check_mode_restores_nothing(self):
        api = ScriptedApi(reply('GET', SNAPSHOT, json_body=dict(id='s1', state='COMPLETED')),
                          reply('GET', SNAPSHOT + '/operations', json_body=[]))

        result = run_restore(api, check_mode=True, name='db-copy', snapshot_id='s1', labels={'app': 'copy'})

        self.assertTrue(result['changed'])
        self.assertEqual(result['diff']['after'], dict(snapshot_id='s1', name='db-copy', labels={'app': 'copy'}))


class AbsentTest(unittest.TestCase):

    def test_the_open_session_of_the_name_is_closed(self):
        api = ScriptedApi(listing(SESSION, session(id='r0', state='CLOSED')), reply('DELETE', RESTORES + '/r1', 204),
                          get(state='CLOSED', closedAt='2026-11-24T23:00:00Z'))

        result = run_restore(api, name='db', state='absent')

        self.assertTrue(result['changed'])
        self.assertEqual(result['restore']['state'], 'CLOSED')
        self.assertEqual(result['diff']['before']['state'], 'WAITING')

    def test_no_open_session_is_no_change(self):
        api = ScriptedApi(listing(session(state='CLOSED')))

        self.assertFalse(run_restore(api, name='db', state='absent')['changed'])

    def test_by_id_in_check_mode_closes_nothing(self):
        api = ScriptedApi(get())

        result = run_restore(api, check_mode=True, id='r1', state='absent')

        self.assertTrue(result['changed'])
        self.assertEqual(result['diff']['after']['state'], 'CLOSED')

    def test_a_session_still_being_populated_is_the_service_s_refusal(self):
        api = ScriptedApi(listing(session(state='ACTIVE')),
                          problem('DELETE', RESTORES + '/r1', 409, 'conflict', 'Conflict',
                                  'region 7c22 of restore session r1 is attached and not fully populated'))

        result = run_restore(api, name='db', state='absent')

        self.assertTrue(result['failed'])
        self.assertIn('not fully populated [conflict]', result['msg'])


if __name__ == '__main__':
    unittest.main()
