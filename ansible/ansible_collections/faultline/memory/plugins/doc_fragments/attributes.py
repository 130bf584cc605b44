# -*- coding: utf-8 -*-
"""Attributes the faultline.memory modules declare, in the form ansible-doc shows."""


class ModuleDocFragment(object):

    # Modules that change something.
    DOCUMENTATION = r'''
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check mode), when in diff mode.
    support: full
'''

    # Modules that only read (*_info).
    INFO_MODULE = r'''
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
    support: full
    details:
      - This action only reads, so it runs the same way in check mode.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check mode), when in diff mode.
    support: N/A
    details:
      - This action does not modify state.
'''

    ACTIONGROUP_FAULTLINE = r'''
attributes:
  action_group:
    description: Use C(group/faultline.memory.faultline) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - faultline.memory.faultline
'''
