"""Placing demo jobs on nodes, so that jobs running at the same time rarely share a node.

Jobs are placed in the order they start, like a scheduler that keeps, per node and slot
(socket or GPU), the time the slot becomes free. A job asking for whole nodes gets a run of
nodes that are free at its start; a job asking for some slots of one node gets the
fullest node that still has enough free slots (on CPU nodes only next to jobs of the
same user, since such nodes are shared among one user's jobs). When the cluster is full
the job takes the nodes that become free first, so an overloaded period shows overlaps
instead of moving jobs in time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["NodeSet", "Placement", "place_jobs"]

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Placement:
    """Where one job runs: node indexes in its pool and slot indexes on each node."""

    nodes: list[int]
    slots: list[int]


@dataclass(frozen=True, slots=True)
class NodeSet:
    """The nodes of one subcluster: how many, and slots per node."""

    nodes: int
    slots: int
    #: Whether nodes partly used by a job may take jobs of other users.
    multi_user: bool


class _State:
    """Free times and owners of every slot of a node set (plain lists: the sets are small
    and one job touches few entries, where numpy's per-call cost would dominate)."""

    def __init__(self, pool: NodeSet) -> None:
        self.pool = pool
        self.free_at = [[0] * pool.slots for _ in range(pool.nodes)]
        self.node_free = [0] * pool.nodes
        self.owner = [[-1] * pool.slots for _ in range(pool.nodes)]

    def whole(self, count: int, start: int, draw: float) -> list[int]:
        """``count`` nodes free at ``start``, found from a random node on."""
        total = self.pool.nodes
        offset = int(draw * total)
        chosen = []
        for step in range(total):
            node = (offset + step) % total
            if self.node_free[node] <= start:
                chosen.append(node)
                if len(chosen) == count:
                    return sorted(chosen)
        return sorted(sorted(range(total), key=self.node_free.__getitem__)[:count])

    def partial(self, count: int, start: int, user: int) -> tuple[int, list[int]]:
        best, best_free = -1, self.pool.slots + 1
        for node, slots in enumerate(self.free_at):
            free = sum(1 for at in slots if at <= start)
            if count <= free < best_free and (
                self.pool.multi_user
                or all(
                    at <= start or o == user for at, o in zip(slots, self.owner[node], strict=True)
                )
            ):
                best, best_free = node, free
        if best >= 0:
            chosen = [s for s, at in enumerate(self.free_at[best]) if at <= start][:count]
            return best, chosen
        node = min(range(self.pool.nodes), key=self.node_free.__getitem__)
        earliest = sorted(range(self.pool.slots), key=self.free_at[node].__getitem__)
        return node, sorted(earliest[:count])

    def take(self, nodes: list[int], slots: list[int], stop: int, user: int) -> None:
        for node in nodes:
            free_at, owner = self.free_at[node], self.owner[node]
            for slot in slots:
                free_at[slot], owner[slot] = stop, user
            self.node_free[node] = max(free_at)


def place_jobs(
    rng: np.random.Generator,
    pools: list[NodeSet],
    jobs: tuple[IntArray, IntArray, IntArray, IntArray, IntArray, IntArray],
) -> list[Placement]:
    """Placements of jobs given as columns ``(pool, start, stop, nodes, slots, user)``.

    ``slots`` is the number of slots asked for on each node; a job asking for every slot
    of a node has its nodes exclusively (and may span several nodes).
    """
    states = [_State(p) for p in pools]
    draws = rng.random(len(jobs[0])).tolist()
    pool, start, stop, nodes, slots, user = (column.tolist() for column in jobs)
    result: list[Placement | None] = [None] * len(pool)
    for i in np.argsort(jobs[1], kind="stable").tolist():
        state = states[pool[i]]
        if slots[i] >= state.pool.slots:
            chosen = state.whole(nodes[i], start[i], draws[i])
            taken = list(range(state.pool.slots))
        else:
            node, taken = state.partial(slots[i], start[i], user[i])
            chosen = [node]
        state.take(chosen, taken, stop[i], user[i])
        result[i] = Placement(chosen, taken)
    return [p for p in result if p is not None]
