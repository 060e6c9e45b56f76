"""The registry of pages: every page of the web app is one :class:`PageSpec` here.

To add a page, write ``app/pages/<name>.py`` with a builder
``def my_page(context: PageContext) -> Viewable`` and add its spec to :data:`PAGES`::

    PageSpec("/monitoring/jobs/", "Jobs", jobs_page),
    PageSpec("/monitoring/job/{id}", "Job {id}", job_page),
    PageSpec("/monitoring/users/", "Users", users_page, roles=MANAGER_ROLES),

The server mounts each spec at its route, checks the roles before the page is built (403
otherwise) and puts the builder's content into the site's template (see ``app/README.md``).
cc-backend's routes still to come: ``/monitoring/jobs/``, ``/monitoring/job/{id}``,
``/monitoring/user/{name}``, ``/monitoring/users/``, ``/monitoring/projects/``,
``/monitoring/tags/`` and ``/config`` (settings).
"""

from __future__ import annotations

from app.pages.analysis import analysis_page
from app.pages.dashboard import dashboard_page
from app.pages.home import home_page
from app.pages.job import job_page
from app.pages.jobs import jobs_page
from app.pages.node import node_page
from app.pages.projects import projects_page
from app.pages.settings import settings_page
from app.pages.status import status_page
from app.pages.systems import systems_list_page, systems_page
from app.pages.tags import tags_page
from app.pages.user import user_page
from app.pages.users import users_page
from app.routing import MANAGER_ROLES, STAFF_ROLES, VIEWER_ROLES, PageSpec

__all__ = ["MANAGER_ROLES", "PAGES", "STAFF_ROLES", "VIEWER_ROLES", "PageSpec"]

#: Every page, by route. The order decides which page a path opens when two could.
PAGES: list[PageSpec] = [
    PageSpec("/", "ClusterCockpit", home_page),
    PageSpec("/monitoring/jobs/", "Jobs", jobs_page),
    PageSpec("/monitoring/job/{id}", "Job {id}", job_page),
    PageSpec("/monitoring/user/{name}", "User {name}", user_page),
    PageSpec("/monitoring/users/", "Users", users_page, roles=MANAGER_ROLES),
    PageSpec("/monitoring/projects/", "Projects", projects_page, roles=MANAGER_ROLES),
    PageSpec("/monitoring/tags/", "Tags", tags_page),
    PageSpec("/config", "Settings", settings_page),
    PageSpec(
        "/monitoring/analysis/{cluster}", "{cluster} Analysis", analysis_page, roles=STAFF_ROLES
    ),
    PageSpec("/monitoring/status/{cluster}", "{cluster} Dashboard", status_page, roles=STAFF_ROLES),
    PageSpec(
        "/monitoring/dashboard/{cluster}",
        "{cluster} Dashboard",
        dashboard_page,
        roles=STAFF_ROLES,
        public_layout=True,  # a wall screen: no navigation, no user name
    ),
    PageSpec(
        "/monitoring/systems/{cluster}",
        "Cluster {cluster} Node Overview",
        systems_page,
        roles=STAFF_ROLES,
    ),
    PageSpec(
        "/monitoring/systems/list/{cluster}",
        "Cluster {cluster} Node List",
        systems_list_page,
        roles=STAFF_ROLES,
    ),
    PageSpec(
        "/monitoring/systems/list/{cluster}/{subcluster}",
        "Cluster {cluster} {subcluster} Node List",
        systems_list_page,
        roles=STAFF_ROLES,
    ),
    PageSpec(
        "/monitoring/node/{cluster}/{hostname}",
        "Node {cluster} ({hostname})",
        node_page,
        roles=STAFF_ROLES,
    ),
]
