"""Python access to a site: one :class:`Client` protocol, two implementations.

- :class:`LocalClient` (``cc_backend.client.local``): the site's services in this
  process, acting as one user; what the web app's pages use.
- :class:`HttpClient` (``cc_backend.client.http``): a running server's API with an API
  token; what notebooks use.

See :mod:`cc_backend.client.base` for the contract both follow.
"""

from cc_backend.client.base import Client, JobList, NotSupported
from cc_backend.client.http import HttpClient
from cc_backend.client.local import LocalClient

__all__ = ["Client", "HttpClient", "JobList", "LocalClient", "NotSupported"]
