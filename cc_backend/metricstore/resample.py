"""Coarsening a series for queries that ask for a resolution coarser than the stored one."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

__all__ = ["Resampler", "average", "step_for"]

#: ``resampler(values, step)``: one value for every ``step`` consecutive values (the last
#: group may be shorter); NaN marks missing values in and out.
Resampler = Callable[[npt.NDArray[np.float64], int], npt.NDArray[np.float64]]


def step_for(frequency: int, resolution: int) -> int:
    """How many stored values make one value at ``resolution`` seconds (at least 1).

    A resolution that is not a multiple of the stored frequency is rounded up to one.
    """
    if resolution <= frequency:
        return 1
    return -(-resolution // frequency)


def average(values: npt.NDArray[np.float64], step: int) -> npt.NDArray[np.float64]:
    """The mean of each group of ``step`` values, ignoring NaN (NaN if a group has none).

    The groups start at the first value, like the bucket average of cc-lib's resampler.
    """
    if step <= 1 or len(values) == 0:
        return values
    groups = -(-len(values) // step)
    padded = np.full(groups * step, np.nan)
    padded[: len(values)] = values
    table = padded.reshape(groups, step)
    present = ~np.isnan(table)
    counts = present.sum(axis=1)
    sums = np.where(present, table, 0.0).sum(axis=1)
    out = np.full(groups, np.nan)
    np.divide(sums, counts, out=out, where=counts > 0)
    return out
