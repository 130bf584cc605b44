# -*- coding: utf-8 -*-
"""Converging one Faultline resource to what a task declares, the same way in every module.

A module reads the resource (or learns that there is none), says what it wants, and passes
functions that create, update or delete it. ResourceState compares, writes only when something
differs and never in check mode, and keeps the before/after pair for diff mode:

    state = ResourceState(module, 'region', name, current=found, view=region_view)
    if module.params['state'] == 'present':
        state.present(desired, create=create_region, update=update_region)
    else:
        state.absent(delete=delete_region)
    module.exit_json(**state.result(region=state.after or None))
"""

import copy

from ansible_collections.faultline.memory.plugins.module_utils.api import FaultlineError


def _same(current, desired):
    return current == desired


def differences(current, desired, equal=None):
    """ResourceState.differences() for any version of a resource, e.g. one read again after a 412."""
    equal = equal or {}
    current = current or {}
    return dict(
        (field, (current.get(field), value))
        for field, value in desired.items()
        if value is not None and not equal.get(field, _same)(current.get(field), value)
    )


class ResourceState(object):
    """One resource of one kind, identified by key, on its way to the state a task declares.

    current is the resource as the API returned it, or None when it does not exist. view maps
    an API object to what the diff and the result show: it must drop secrets, and may drop
    fields that change on their own (timestamps of last use).
    """

    def __init__(self, module, kind, key, current, view=None):
        self.module = module
        self.kind = kind
        self.key = key
        self.current = current
        self.view = view or (lambda resource: resource)
        self.changed = False
        self.before = self._show(current)
        self.after = self.before
        self.created = None  # what create() returned, e.g. to read a secret shown only once

    def _show(self, resource):
        return copy.deepcopy(self.view(resource)) if resource is not None else {}

    def differences(self, desired, equal=None):
        """The fields of desired (None meaning 'no opinion') whose current value differs: {field: (current, desired)}.

        equal maps a field to a function(current, desired) for values that are equal without
        being ==, e.g. two spellings of one instant.
        """
        return differences(self.current, desired, equal)

    def present(self, desired, create, update=None, delete=None, immutable=(), replace=False, replace_hint=None,
                equal=None):
        """Makes the resource exist with the desired fields; returns what the result shows after.

        create(desired), update(current, changes) and delete(current) call the API; create and
        update return the resource afterwards. update gets only the fields that differ, as
        {field: desired value}. Fields in immutable, or every field when there is no update,
        cannot change in place: a difference there fails the task, or with replace=True
        deletes the resource and creates it anew (replace_hint says so in the failure).
        """
        wanted = dict((k, v) for k, v in desired.items() if v is not None)
        if self.current is None:
            return self._create(wanted, create)
        differences = self.differences(desired, equal)
        if not differences:
            return self.after
        stuck = sorted(f for f in differences if update is None or f in immutable)
        if stuck:
            if not replace:
                self.module.fail_json(msg='%s %r cannot be changed in place (%s); set replace: true to %s' % (
                    self.kind, self.key,
                    ', '.join('%s is %s, the task wants %s' % (f, _show_value(differences[f][0]),
                                                               _show_value(differences[f][1])) for f in stuck),
                    replace_hint or 'delete it and create it anew'))
            if delete is None:
                raise ValueError('replacing a %s needs the function that deletes it' % self.kind)
            self.changed = True
            if not self.module.check_mode:
                delete(self.current)
            return self._create(wanted, create)
        self.changed = True
        changes = dict((f, desired[f]) for f in differences)
        if self.module.check_mode:
            predicted = copy.deepcopy(self.before)
            predicted.update(copy.deepcopy(changes))
            self.after = predicted
        else:
            self.after = self._show(update(self.current, changes))
        return self.after

    def _create(self, wanted, create):
        self.changed = True
        if self.module.check_mode:
            # the service assigns ids and timestamps; what it will have is what the task asked for
            self.after = copy.deepcopy(wanted)
        else:
            self.created = create(wanted)
            self.after = self._show(self.created)
        return self.after

    def absent(self, delete):
        """Makes the resource not exist; delete(current) calls the API."""
        if self.current is None:
            return self.after
        self.changed = True
        if not self.module.check_mode:
            delete(self.current)
        self.after = {}
        return self.after

    def result(self, **extra):
        """What exit_json gets: changed, the before/after diff and the module's own return values."""
        result = dict(changed=self.changed, diff=dict(before=self.before, after=self.after))
        result.update(extra)
        return result


def write_if_match(write, resource, etag, reread):
    """Writes with If-Match, and once more on a 412; returns the resource afterwards.

    write(resource, etag) works out what to change in resource, sends it with If-Match: etag and
    returns the resource afterwards (or resource itself when nothing needs changing). A 412
    means someone changed the resource since it was read: reread() returns (resource, etag)
    anew and write runs once more against that, so a task only overwrites the fields it
    declares and never a change it has not seen. A second 412 fails the task.
    """
    try:
        return write(resource, etag)
    except FaultlineError as e:
        if e.status != 412:
            raise
    resource, etag = reread()
    return write(resource, etag)


def _show_value(value):
    if value is None:
        return 'unset'
    return value if isinstance(value, str) else repr(value)
