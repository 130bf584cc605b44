# -*- coding: utf-8 -*-
"""Results in snake_case, as Ansible modules return them, from the service's camelCase JSON.

The REST API names its fields in camelCase (regionId, sizeBytes); Ansible options and return
values are snake_case everywhere else (region_id, size_bytes). Modules work with the API's
objects as the service sends them, and every module is a FaultlineModule, whose exit_json and
fail_json rename the keys of everything they return, the diff's before and after included. So
the renaming happens here once, and a module cannot return one camelCase key by forgetting it.

Maps whose keys are the user's own data, not field names (a region's labels), are returned
as they are: a label 'myTier' stays 'myTier'.
"""

import re

from ansible.module_utils.basic import AnsibleModule

# Fields whose value is a map keyed by the user's data, in either spelling.
USER_KEYED = frozenset(('labels', 'regionLabels', 'region_labels'))

_HUMP = re.compile(r'(?<=[a-z0-9])([A-Z]+)')


def snake_case(name):
    """regionId -> region_id, bandwidthLimitBytesPerSec -> bandwidth_limit_bytes_per_sec, p99Us -> p99_us.

    A key that does not start in lower case (an enum value such as PRECOPY used as a key) is left alone.
    """
    if not name[:1].islower():
        return name
    return _HUMP.sub(lambda m: '_' + m.group(1).lower(), name)


def snake_case_keys(value):
    """value with every dict key in snake_case, recursively, except inside USER_KEYED maps."""
    if isinstance(value, dict):
        return dict((snake_case(k) if isinstance(k, str) else k,
                     v if k in USER_KEYED else snake_case_keys(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return [snake_case_keys(v) for v in value]
    return value


class FaultlineModule(AnsibleModule):
    """The AnsibleModule of every faultline.memory module: what it returns has snake_case keys."""

    def exit_json(self, **kwargs):
        super(FaultlineModule, self).exit_json(**snake_case_keys(kwargs))

    def fail_json(self, msg, **kwargs):
        super(FaultlineModule, self).fail_json(msg=msg, **snake_case_keys(kwargs))
