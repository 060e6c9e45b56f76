"""Which slots of a subcluster's nodes the live demo's jobs hold right now.

A slot is a socket of a CPU node or a GPU of a GPU node (as in
:mod:`cc_backend.demo.allocation`). A job asking for every slot of a node gets whole nodes
that are completely free, so no node is ever in two exclusive jobs; a job asking for some
slots of one node gets the fullest node that still has them free (on CPU nodes only next
to jobs of the same user). Unlike the archive generator, which places jobs in the past
and lets an overloaded period overlap, a request that does not fit is refused.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from cc_backend.demo.allocation import Placement

__all__ = ["Occupancy"]

_FREE = -1


class Occupancy:
    """The slots of ``nodes`` nodes with ``slots`` slots each, and who holds them.

    ``multi_user`` allows jobs of different users on one partly used node.
    """

    def __init__(self, nodes: int, slots: int, *, multi_user: bool) -> None:
        self.slots = slots
        self.multi_user = multi_user
        #: The user holding each slot, ``-1`` when it is free: ``(nodes, slots)``.
        self.owner = np.full((nodes, slots), _FREE, dtype=np.int64)

    def place(
        self, nodes: int, slots: int, user: int, rng: np.random.Generator
    ) -> Placement | None:
        """Take ``slots`` slots on each of ``nodes`` nodes for a job of ``user``; ``None``
        (and nothing taken) when they are not free. All slots means whole nodes, found
        from a random node on; fewer slots are taken on a single node."""
        if nodes < 1 or not 1 <= slots <= self.slots:
            raise ValueError(f"cannot place {nodes} node(s) x {slots} slot(s)")
        free = self.owner == _FREE
        if slots == self.slots:
            placement = self._whole(free, nodes, rng)
        elif nodes == 1:
            placement = self._partial(free, slots, user)
        else:
            raise ValueError("a job with some slots of a node runs on one node")
        if placement is not None:
            self.claim(placement, user)
        return placement

    def _whole(
        self, free: npt.NDArray[np.bool_], nodes: int, rng: np.random.Generator
    ) -> Placement | None:
        whole = np.flatnonzero(free.all(axis=1))
        if len(whole) < nodes:
            return None
        offset = int(rng.integers(len(whole)))
        return Placement(sorted(np.roll(whole, -offset)[:nodes].tolist()), list(range(self.slots)))

    def _partial(self, free: npt.NDArray[np.bool_], slots: int, user: int) -> Placement | None:
        count = free.sum(axis=1)
        fits = count >= slots
        if not self.multi_user:
            fits &= ((self.owner == user) | free).all(axis=1)
        candidates = np.flatnonzero(fits)
        if not len(candidates):
            return None
        node = int(candidates[np.argmin(count[candidates])])
        return Placement([node], np.flatnonzero(free[node])[:slots].tolist())

    def is_free(self, placement: Placement) -> bool:
        """Whether every slot of ``placement`` is free."""
        return bool((self.owner[np.ix_(placement.nodes, placement.slots)] == _FREE).all())

    def claim(self, placement: Placement, user: int) -> None:
        """Mark the slots of ``placement`` as held by ``user`` (ValueError if one is not
        free)."""
        if not self.is_free(placement):
            raise ValueError(f"slots of {placement} are taken")
        self.owner[np.ix_(placement.nodes, placement.slots)] = user

    def release(self, placement: Placement) -> None:
        """Free the slots of ``placement``."""
        self.owner[np.ix_(placement.nodes, placement.slots)] = _FREE

    def free_share(self) -> npt.NDArray[np.float64]:
        """Per node, the share of its slots that are free."""
        share: npt.NDArray[np.float64] = (self.owner == _FREE).mean(axis=1)
        return share

    def busy(self) -> npt.NDArray[np.bool_]:
        """Per node, whether any job holds a slot of it."""
        busy: npt.NDArray[np.bool_] = (self.owner != _FREE).any(axis=1)
        return busy
