# -*- coding: utf-8 -*-
"""ResourceState: read, compare, write only on a difference and never in check mode, keep before/after."""

import unittest

from ansible_collections.faultline.memory.plugins.module_utils.api import FaultlineError
from ansible_collections.faultline.memory.plugins.module_utils.state import ResourceState, write_if_match


class Failed(Exception):
    pass


class FakeModule(object):
    def __init__(self, check_mode=False):
        self.check_mode = check_mode

    def fail_json(self, **kwargs):
        raise Failed(kwargs['msg'])


class Api(object):
    """Records the writes a ResourceState makes and answers them like a service would."""

    def __init__(self):
        self.calls = []

    def create(self, wanted):
        self.calls.append(('create', wanted))
        created = dict(wanted, id='new', secret='s3cret')
        return created

    def update(self, current, changes):
        self.calls.append(('update', current['id'], changes))
        return dict(current, **changes)

    def delete(self, current):
        self.calls.append(('delete', current['id']))


REGION = dict(id='r1', name='db', labels={'tier': 'db'}, pageSize=4096)


def without_secret(resource):
    return dict((k, v) for k, v in resource.items() if k != 'secret')


class PresentTest(unittest.TestCase):

    def setUp(self):
        self.api = Api()

    def state(self, current, check_mode=False):
        return ResourceState(FakeModule(check_mode), 'region', 'db', current, view=without_secret)

    def test_a_missing_resource_is_created_from_the_fields_the_task_sets(self):
        state = self.state(None)

        state.present(dict(name='db', labels={'tier': 'db'}, pageSize=None), create=self.api.create)

        self.assertTrue(state.changed)
        self.assertEqual(self.api.calls, [('create', dict(name='db', labels={'tier': 'db'}))])
        self.assertEqual(state.result()['diff'], dict(before={}, after=dict(name='db', labels={'tier': 'db'}, id='new')))
        self.assertEqual(state.created['secret'], 's3cret', 'the module can still read what only creation returns')

    def test_check_mode_predicts_the_creation_without_making_it(self):
        state = self.state(None, check_mode=True)

        state.present(dict(name='db', labels={'tier': 'db'}), create=self.api.create)

        self.assertTrue(state.changed)
        self.assertEqual(self.api.calls, [])
        self.assertEqual(state.after, dict(name='db', labels={'tier': 'db'}))
        self.assertIsNone(state.created)

    def test_nothing_is_written_when_nothing_differs_and_unset_fields_are_no_opinion(self):
        state = self.state(dict(REGION))

        state.present(dict(name='db', labels={'tier': 'db'}, pageSize=None), create=self.api.create, update=self.api.update)

        self.assertFalse(state.changed)
        self.assertEqual(self.api.calls, [])
        self.assertEqual(state.result()['diff']['before'], state.result()['diff']['after'])

    def test_an_update_gets_only_the_fields_that_differ(self):
        state = self.state(dict(REGION))

        state.present(dict(name='db', labels={'tier': 'cache'}), create=self.api.create, update=self.api.update)

        self.assertTrue(state.changed)
        self.assertEqual(self.api.calls, [('update', 'r1', dict(labels={'tier': 'cache'}))])
        self.assertEqual(state.before['labels'], {'tier': 'db'})
        self.assertEqual(state.after['labels'], {'tier': 'cache'})

    def test_check_mode_predicts_the_update_without_making_it(self):
        state = self.state(dict(REGION), check_mode=True)

        state.present(dict(labels={'tier': 'cache'}), create=self.api.create, update=self.api.update)

        self.assertTrue(state.changed)
        self.assertEqual(self.api.calls, [])
        self.assertEqual(state.after, dict(REGION, labels={'tier': 'cache'}))
        self.assertEqual(state.before, REGION, 'the prediction does not leak into before')

    def test_an_immutable_difference_fails_with_both_values_and_the_way_out(self):
        state = self.state(dict(REGION))

        with self.assertRaises(Failed) as failed:
            state.present(dict(pageSize=2097152), create=self.api.create, update=self.api.update,
                          delete=self.api.delete, immutable=('pageSize',), replace_hint='re-register it')

        self.assertEqual(str(failed.exception), "region 'db' cannot be changed in place (pageSize is 4096, the task "
                                                "wants 2097152); set replace: true to re-register it")
        self.assertEqual(self.api.calls, [])

    def test_without_an_update_every_field_is_immutable(self):
        state = self.state(dict(REGION))

        with self.assertRaises(Failed):
            state.present(dict(labels={}), create=self.api.create)

    def test_replace_deletes_then_creates(self):
        state = self.state(dict(REGION))

        state.present(dict(name='db', pageSize=2097152), create=self.api.create, delete=self.api.delete,
                      immutable=('pageSize',), replace=True)

        self.assertTrue(state.changed)
        self.assertEqual(self.api.calls, [('delete', 'r1'), ('create', dict(name='db', pageSize=2097152))])
        self.assertEqual(state.before['id'], 'r1')
        self.assertEqual(state.after['id'], 'new')

    def test_replace_in_check_mode_writes_nothing(self):
        state = self.state(dict(REGION), check_mode=True)

        state.present(dict(name='db', pageSize=2097152), create=self.api.create, delete=self.api.delete, replace=True)

        self.assertTrue(state.changed)
        self.assertEqual(self.api.calls, [])
        self.assertEqual(state.after, dict(name='db', pageSize=2097152))

    def test_a_field_can_bring_its_own_idea_of_equal(self):
        state = self.state(dict(REGION, labels={'Tier': 'db'}))

        state.present(dict(labels={'tier': 'db'}), create=self.api.create, update=self.api.update,
                      equal=dict(labels=lambda a, b: {k.lower(): v for k, v in a.items()} == b))

        self.assertFalse(state.changed)

    def test_secrets_stay_out_of_the_diff(self):
        state = self.state(dict(REGION, secret='old'))

        self.assertNotIn('secret', state.before)
        state.present(dict(labels={'x': 'y'}), create=self.api.create, update=self.api.update)
        self.assertNotIn('secret', state.after)


class AbsentTest(unittest.TestCase):

    def setUp(self):
        self.api = Api()

    def test_an_existing_resource_is_deleted(self):
        state = ResourceState(FakeModule(), 'region', 'db', dict(REGION))

        state.absent(delete=self.api.delete)

        self.assertTrue(state.changed)
        self.assertEqual(self.api.calls, [('delete', 'r1')])
        self.assertEqual(state.result(), dict(changed=True, diff=dict(before=REGION, after={})))

    def test_a_missing_resource_is_left_alone(self):
        state = ResourceState(FakeModule(), 'region', 'db', None)

        state.absent(delete=self.api.delete)

        self.assertFalse(state.changed)
        self.assertEqual(self.api.calls, [])

    def test_check_mode_reports_the_deletion_without_making_it(self):
        state = ResourceState(FakeModule(check_mode=True), 'region', 'db', dict(REGION))

        state.absent(delete=self.api.delete)

        self.assertTrue(state.changed)
        self.assertEqual(self.api.calls, [])
        self.assertEqual(state.after, {})

    def test_result_carries_the_module_s_own_values(self):
        state = ResourceState(FakeModule(), 'region', 'db', None)

        self.assertEqual(state.result(region=None)['region'], None)


class WriteIfMatchTest(unittest.TestCase):

    def test_a_write_that_is_not_stale_happens_once(self):
        writes = []

        def write(resource, etag):
            writes.append(etag)
            return dict(resource, labels={'tier': 'gold'})

        after = write_if_match(write, dict(REGION), '"1"', reread=lambda: self.fail('nothing was stale'))

        self.assertEqual(writes, ['"1"'])
        self.assertEqual(after['labels'], {'tier': 'gold'})

    def test_a_stale_etag_rereads_and_writes_once_more_against_the_fresh_resource(self):
        seen = []

        def write(resource, etag):
            seen.append((resource['version'], etag))
            if etag == '"1"':
                raise FaultlineError('PATCH /api/v1/regions/r1: 412 Precondition failed', status=412)
            return resource

        after = write_if_match(write, dict(REGION, version=1), '"1"', reread=lambda: (dict(REGION, version=2), '"2"'))

        self.assertEqual(seen, [(1, '"1"'), (2, '"2"')])
        self.assertEqual(after['version'], 2)

    def test_a_second_stale_etag_fails(self):
        def write(resource, etag):
            raise FaultlineError('412 again', status=412)

        with self.assertRaises(FaultlineError) as raised:
            write_if_match(write, dict(REGION), '"1"', reread=lambda: (dict(REGION), '"2"'))
        self.assertEqual(raised.exception.status, 412)

    def test_other_failures_are_not_retried(self):
        def write(resource, etag):
            raise FaultlineError('400 Invalid request', status=400)

        with self.assertRaises(FaultlineError):
            write_if_match(write, dict(REGION), '"1"', reread=lambda: self.fail('only a 412 is retried'))


if __name__ == '__main__':
    unittest.main()
