"""The demo's users and projects, and each user's habits.

Project accounts look like university ones (``b105dc``), user names append two digits to
their project's (``b105dc12``). A few users submit most jobs: job shares follow a Zipf
law, and project sizes one as well. Each user mostly works on one kind of node (CPU or
GPU) and with two or three favourite applications.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from cc_backend.demo.apps import APPS

__all__ = ["Population", "draw_population"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Exponent of the Zipf law of the users' job shares.
USER_ZIPF = 1.1
#: Share of users who mostly run on GPU nodes.
GPU_USERS = 0.3
#: How many favourite applications a user has.
FAVOURITES = 3


@dataclass(frozen=True, slots=True)
class Population:
    """Users and projects; arrays are indexed by user."""

    users: tuple[str, ...]
    projects: tuple[str, ...]
    #: The project each user belongs to.
    project: IntArray
    #: The share of all jobs each user submits (sums to 1).
    weight: FloatArray
    #: Probability that a job of the user runs on the GPU cluster.
    gpu_share: FloatArray
    #: Favourite applications (indexes into ``APPS``) per user: ``users x FAVOURITES``.
    apps: IntArray
    #: Cumulative weights of the favourites per user (last column 1).
    app_cum: FloatArray


def _project_names(rng: np.random.Generator, count: int) -> list[str]:
    letters = np.array(list(string.ascii_lowercase))
    names: dict[str, None] = {}
    while len(names) < count:
        head = str(rng.choice(letters))
        tail = "".join(rng.choice(letters, size=2))
        names.setdefault(f"{head}{int(rng.integers(100, 200))}{tail}", None)
    return list(names)


def _favourites(rng: np.random.Generator, gpu_user: npt.NDArray[np.bool_]) -> IntArray:
    """Three different applications per user, from those that run on the user's nodes."""
    cpu = np.array([i for i, app in enumerate(APPS) if app.cpu_lines])
    gpu = np.array([i for i, app in enumerate(APPS) if app.gpu_lines])
    popularity = 1.0 / np.arange(1, len(APPS) + 1) ** 0.5  # earlier apps are more popular
    result = np.empty((len(gpu_user), FAVOURITES), dtype=np.int64)
    for user, on_gpu in enumerate(gpu_user.tolist()):
        pool = gpu if on_gpu else cpu
        p = popularity[pool]
        result[user] = rng.choice(pool, size=FAVOURITES, replace=False, p=p / p.sum())
    return result


def draw_population(rng: np.random.Generator, users: int, projects: int) -> Population:
    """``users`` users in ``projects`` projects (every project gets at least one user)."""
    if projects < 1 or users < projects:
        raise ValueError(f"need at least one project and one user per project: {users}/{projects}")
    names = _project_names(rng, projects)
    size = 1.0 / np.arange(1, projects + 1) ** 0.9
    project = np.concatenate(
        [np.arange(projects), rng.choice(projects, users - projects, p=size / size.sum())]
    ).astype(np.int64)
    rng.shuffle(project)
    members: dict[int, int] = {}
    user_names = []
    for p in project.tolist():
        members[p] = members.get(p, 9) + 1
        user_names.append(f"{names[p]}{members[p]}")
    weight = 1.0 / np.arange(1, users + 1) ** USER_ZIPF
    weight = rng.permutation(weight / weight.sum())
    gpu_user = rng.random(users) < GPU_USERS
    gpu_share = np.where(gpu_user, 0.9, 0.03)
    favourite_weights = rng.dirichlet(np.ones(FAVOURITES) * 0.8, users)
    app_cum = np.cumsum(favourite_weights, axis=1)
    app_cum[:, -1] = 1.0
    return Population(
        users=tuple(user_names),
        projects=tuple(names),
        project=project,
        weight=weight.astype(np.float64),
        gpu_share=gpu_share,
        apps=_favourites(rng, gpu_user),
        app_cum=app_cum,
    )
