# -*- coding: utf-8 -*-
"""Finding the region a task means, the same way in every module that names one.

A region is created by its workload, not through the API, so a task names one that exists:
by id, or by name. Names are not unique: a workload restarted under the same name leaves its
old region behind as DETACHED (the service keeps it as a record), and two workloads may pick
the same name. So a name, optionally narrowed by a label selector, must lead to one region:
when it leads to several, the ones still attached (or detaching) are preferred over DETACHED
records, and if that still leaves more than one, the task fails and lists them.
"""

from ansible.module_utils.common.text.converters import to_text
from ansible_collections.faultline.memory.plugins.module_utils.api import FaultlineError, api_path

REGION_STATES = ['ATTACHED', 'DETACHING', 'DETACHED']


def list_regions(client, selector=None, state=None):
    """Every region matching the filters, newest first (the service's order), over all pages."""
    return client.get_items(api_path('regions'), query=dict(selector=selector or None, state=state))


def describe_region(region):
    labels = ','.join('%s=%s' % kv for kv in sorted((region.get('labels') or {}).items()))
    return '%s (%s%s)' % (region.get('id'), region.get('state'), ', ' + labels if labels else '')


def read_region(client, region_id):
    """GET of one region (the response, with its ETag); raises FaultlineError when there is none."""
    found = client.get_or_none(api_path('regions', region_id))
    if found is None:
        raise FaultlineError('there is no region with id %s' % region_id, status=404)
    return found


def find_region(client, region_id=None, name=None, selector=None):
    """The one region a task names, as the API shows it; raises FaultlineError when there is none or no single one."""
    if region_id is not None:
        return read_region(client, region_id).body
    within = " matching selector '%s'" % selector if selector else ''
    named = [r for r in list_regions(client, selector=selector) if r.get('name') == name]
    if not named:
        raise FaultlineError("no region is named '%s'%s; regions are created by their workloads, so start the workload "
                             "first (GET /api/v1/regions lists them)" % (to_text(name), within), status=404)
    if len(named) > 1:
        live = [r for r in named if r.get('state') != 'DETACHED']
        if len(live) == 1:
            return live[0]
        candidates = live or named
        raise FaultlineError("%d regions are named '%s'%s: %s; give the region's id, or a selector that tells them apart"
                             % (len(candidates), to_text(name), within, '; '.join(describe_region(r) for r in candidates)))
    return named[0]
