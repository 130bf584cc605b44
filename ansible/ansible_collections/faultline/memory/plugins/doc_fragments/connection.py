# -*- coding: utf-8 -*-
"""The connection options every faultline.memory module shares (module_utils/api.py faultline_argument_spec)."""


class ModuleDocFragment(object):

    DOCUMENTATION = r'''
options:
  url:
    description:
      - Base URL of the Faultline service, for example C(https://faultline.example.com:8080), without C(/api/v1).
      - When the task does not set it, the environment variable C(FAULTLINE_URL) is used.
    type: str
    required: true
  token:
    description:
      - API token, sent as a bearer token. Reading needs a C(VIEWER) token, changing regions, policies,
        snapshots and migrations an C(OPERATOR) token, managing tokens an C(ADMIN) token.
      - When the task does not set it, the environment variable C(FAULTLINE_TOKEN) is used.
      - Set it once for all modules of the collection with C(module_defaults) and the action group
        C(group/faultline.memory.faultline).
    type: str
    required: true
  validate_certs:
    description:
      - Whether to verify the service's TLS certificate when I(url) is C(https).
      - Turn this off only for a service whose certificate you cannot verify, such as a test service with a self-signed certificate.
    type: bool
    default: true
  timeout:
    description:
      - Seconds to wait for each HTTP request to the service.
      - This bounds one request; modules that wait for a job have their own option for how long to wait.
    type: int
    default: 30
'''
