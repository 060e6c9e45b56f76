"""Argument types shared by the command lines (``cc-backend``, ``cc-archive``, benchmarks)."""

from __future__ import annotations

import argparse

__all__ = ["positive_int"]


def positive_int(text: str) -> int:
    """``text`` as an integer of at least 1; argparse reports anything else as the
    argument's error (``must be at least 1, not 0``; ``invalid positive_int value``)."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value
