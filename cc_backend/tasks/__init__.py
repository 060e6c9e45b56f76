"""Periodic background work of the server (durations, footprints, metric store upkeep)."""
