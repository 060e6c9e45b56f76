"""A host's series table: where samples land in time, gaps, overwrites, chunks and freeing."""

from __future__ import annotations

import numpy as np
import pytest

from cc_backend.metricstore.buffers import CHUNK, SeriesTable

T0 = 1_700_000_000
NODE = ((), "mem_used")


def write(table: SeriesTable, row: int, stamps: list[int], values: list[float]) -> None:
    table.write(
        np.full(len(stamps), row, np.int64),
        np.array(stamps, np.int64),
        np.array(values, np.float64),
    )


def series(table: SeriesTable, row: int) -> list[float | None]:
    rows = np.array([row], np.int64)
    extent = table.extent(rows)
    assert extent is not None
    values = table.read(rows, *extent)[0].tolist()
    return [None if np.isnan(v) else v for v in values]


def test_samples_land_on_the_grid_of_the_first_timestamp_despite_jitter() -> None:
    table = SeriesTable(60)
    row = table.row(NODE)
    write(table, row, [T0, T0 + 62, T0 + 118, T0 + 181], [1, 2, 3, 4])
    assert series(table, row) == [1, 2, 3, 4]
    assert table.time(table.cell(T0 + 118)) == T0 + 120


def test_a_missing_step_is_a_gap() -> None:
    table = SeriesTable(60)
    row = table.row(NODE)
    write(table, row, [T0, T0 + 60, T0 + 240], [1, 2, 5])
    assert series(table, row) == [1, 2, None, None, 5]


def test_late_and_repeated_samples_overwrite_their_step() -> None:
    table = SeriesTable(60)
    row = table.row(NODE)
    write(table, row, [T0, T0 + 60, T0 + 120], [1, 2, 3])
    write(table, row, [T0 + 60], [20])
    write(table, row, [T0 - 60], [0])
    assert series(table, row) == [0, 1, 20, 3]


def test_of_two_samples_for_one_step_in_a_batch_the_last_wins() -> None:
    table = SeriesTable(60)
    first, second = table.row(NODE), table.row(((), "cpu_load"))
    table.write(
        np.array([first, second, first, first], np.int64),
        np.array([T0, T0, T0 + 10, T0 + 60], np.int64),
        np.array([1.0, 7.0, 2.0, 3.0]),
    )
    assert series(table, first) == [2, 3]
    assert series(table, second) == [7]


def test_of_two_samples_for_one_series_at_one_time_the_last_wins() -> None:
    table = SeriesTable(60)
    first, second = table.row(NODE), table.row(((), "cpu_load"))
    table.write(
        np.array([first, second, first], np.int64),
        np.full(3, T0, np.int64),
        np.array([1.0, 7.0, 2.0]),
    )
    assert series(table, first) == [2]
    assert series(table, second) == [7]


def test_series_spanning_chunks_and_added_later_read_back() -> None:
    table = SeriesTable(10)
    early = table.row(NODE)
    stamps = [T0 + 10 * i for i in range(3 * CHUNK)]
    write(table, early, stamps, [float(i) for i in range(3 * CHUNK)])
    late = [table.row(((f"hwthread{i}",), "cpu_user")) for i in range(40)]
    write(table, late[-1], stamps[-5:], [1.0] * 5)
    assert series(table, early) == [float(i) for i in range(3 * CHUNK)]
    assert series(table, late[-1]) == [1.0] * 5
    rows = np.array([early, late[0]], np.int64)
    both = table.read(rows, table.cell(T0), table.cell(T0 + 20))
    assert both[0].tolist() == [0.0, 1.0, 2.0]
    assert np.isnan(both[1]).all()


def test_free_drops_old_values_and_series_left_without_any() -> None:
    table = SeriesTable(60)
    old, current = table.row(NODE), table.row(((), "cpu_load"))
    stamps = [T0 + 60 * i for i in range(2 * CHUNK + 10)]
    write(table, old, stamps[:5], [1.0] * 5)
    write(table, current, stamps, [2.0] * len(stamps))
    held = table.nbytes()
    removed = table.free(table.cell(stamps[CHUNK + 3]))
    assert removed == [NODE]
    assert table.find(NODE) is None
    assert series(table, current) == [2.0] * (len(stamps) - CHUNK - 3)
    assert table.nbytes() < held
    reused = table.row(((), "nfs4_read"))
    assert reused == old
    assert table.extent(np.array([reused], np.int64)) is None


def test_dirty_range_tracks_the_oldest_change() -> None:
    table = SeriesTable(60)
    row = table.row(NODE)
    assert table.dirty_from is None
    write(table, row, [T0 + 120], [1])
    table.mark_clean()
    write(table, row, [T0 + 180, T0 + 60], [2, 3])
    assert table.dirty_from == table.cell(T0 + 60)


def test_frequency_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        SeriesTable(0)
