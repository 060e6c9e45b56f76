"""Combining series in a query: the store's answer equals a plain per-cell computation.

The store combines the selected series chunk by chunk of its table, over views where the
rows lie at regular distances and over small copies where they do not. Whatever the layout
of the rows (which follows the order series first arrived in), the answer must be what a
per-cell computation over the written samples gives: the sum or the mean of the series
(by the metric's aggregation), NaN wherever one of them has no value, trimmed to the cells
where any selected series has values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import numpy.typing as npt
import pytest

from cc_backend.metricstore import ApiQueryRequest, MetricStore
from cc_backend.metricstore.buffers import CHUNK
from cc_backend.metricstore.models import ApiMetricData
from cc_backend.metricstore.query import pick_rows
from tests.metricstore.conftest import T0, MakeStore, below

STEP = 60
#: Cells written: several chunks, the last one partly.
CELLS = 3 * CHUNK + 50
THREADS = 12
#: hardware-thread metrics of fritz: flops_any sums, the others average.
METRICS = ["flops_any", "cpu_user", "clock"]
#: Cells of no series at all: chunk 1 is never allocated.
HOLE = range(CHUNK, 2 * CHUNK)

Samples = dict[tuple[str, int], npt.NDArray[np.float64]]


def samples(seed: int) -> Samples:
    """Per (metric, thread): random values with random gaps, one series missing its first
    chunk, and nothing in :data:`HOLE`."""
    rng = np.random.default_rng(seed)
    written: Samples = {}
    for metric in METRICS:
        for thread in range(THREADS):
            values = np.round(rng.uniform(0, 100, CELLS), 3)
            values[rng.random(CELLS) < 0.03] = np.nan
            values[HOLE.start : HOLE.stop] = np.nan
            if thread == 5:
                values[:CHUNK] = np.nan
            written[metric, thread] = values
    return written


def fill(store: MetricStore, written: Samples, order: list[tuple[str, int]]) -> None:
    """Load every series, in ``order`` (which decides the rows of the table)."""
    stamps = T0 + STEP * np.arange(CELLS, dtype=np.int64)
    for metric, thread in order:
        key = below("f0101", metric, f"hwthread{thread}")
        store.load(key, stamps, written[metric, thread])


def layouts() -> dict[str, list[tuple[str, int]]]:
    by_metric = [(m, t) for m in METRICS for t in range(THREADS)]
    by_thread = [(m, t) for t in range(THREADS) for m in METRICS]
    rng = np.random.default_rng(7)
    shuffled = [by_metric[i] for i in rng.permutation(len(by_metric))]
    return {"consecutive": by_metric, "strided": by_thread, "irregular": shuffled}


def expected(
    written: Samples, metric: str, threads: list[int], first: int, last: int
) -> npt.NDArray[np.float64]:
    """Cells ``first``..``last`` combined one by one in plain Python."""
    out = []
    for cell in range(first, last + 1):
        values = [float(written[metric, t][cell]) for t in threads]
        if any(math.isnan(v) for v in values):
            out.append(math.nan)
        elif metric == "flops_any":
            out.append(sum(values))
        else:
            out.append(sum(values) / len(values))
    return np.array(out)


def ask(
    store: MetricStore, query: Mapping[str, object], first: int, last: int
) -> list[ApiMetricData]:
    request = ApiQueryRequest.model_validate(
        {
            "cluster": "fritz",
            "from": T0 + STEP * first,
            "to": T0 + STEP * (last + 1),
            "with-padding": False,
            "queries": [{"host": "f0101", **query}],
        }
    )
    [results] = store.query(request).results
    return results


def check(
    result: ApiMetricData,
    written: Samples,
    metric: str,
    threads: list[int],
    window: tuple[int, int],
) -> None:
    """``result`` is the per-cell combination over ``window``, trimmed to the cells from
    the first to the last value of any of ``threads``."""
    assert result.error is None
    assert result.data is not None
    cells = [np.flatnonzero(~np.isnan(written[metric, t])) for t in threads]
    start = max(window[0], min(int(c[0]) for c in cells))
    stop = min(window[1], max(int(c[-1]) for c in cells))
    if start > stop:
        assert len(result.data) == 0
        assert math.isnan(result.avg)
        return
    assert (result.from_, result.to) == (T0 + STEP * start, T0 + STEP * (stop + 1))
    want = expected(written, metric, threads, start, stop)
    np.testing.assert_allclose(result.data, want, rtol=1e-12, equal_nan=True)
    values = want[~np.isnan(want)]
    if len(values) == 0:  # e.g. thread 5 has no values in the first chunk
        assert all(math.isnan(x) for x in (result.avg, result.min, result.max))
        return
    assert result.avg == pytest.approx(values.mean(), rel=1e-12)
    assert result.min == pytest.approx(values.min())
    assert result.max == pytest.approx(values.max())


WINDOWS = {
    "all": (0, CELLS - 1),
    "within a chunk": (10, 100),
    "across the hole": (CHUNK - 30, 2 * CHUNK + 40),
    "ending in the last chunk": (2 * CHUNK + 5, CELLS - 3),
}


@pytest.mark.parametrize("layout", list(layouts()))
@pytest.mark.parametrize("window", list(WINDOWS))
@pytest.mark.parametrize("metric", ["flops_any", "cpu_user"])
class TestCombining:
    def test_a_node_query_combines_every_thread(
        self, make_store: MakeStore, layout: str, window: str, metric: str
    ) -> None:
        store, written = make_store(), samples(1)
        fill(store, written, layouts()[layout])
        [result] = ask(store, {"metric": metric}, *WINDOWS[window])
        check(result, written, metric, list(range(THREADS)), WINDOWS[window])

    @pytest.mark.parametrize(
        "threads",
        [[2, 3, 4, 5], [0, 2, 4, 6, 8], [1, 7, 8, 11], [5], [0, 6, 5]],
        ids=["a run", "every other", "irregular", "one", "unsorted"],
    )
    def test_an_aggregated_id_list_combines_those_threads(
        self, make_store: MakeStore, layout: str, window: str, metric: str, threads: list[int]
    ) -> None:
        store, written = make_store(), samples(2)
        fill(store, written, layouts()[layout])
        query = {"metric": metric, "type": "hwthread", "type-ids": threads, "aggreg": True}
        [result] = ask(store, query, *WINDOWS[window])
        check(result, written, metric, threads, WINDOWS[window])

    def test_an_id_list_without_aggregation_gives_each_thread(
        self, make_store: MakeStore, layout: str, window: str, metric: str
    ) -> None:
        store, written = make_store(), samples(3)
        fill(store, written, layouts()[layout])
        threads = [4, 0, 5, 11]
        query = {"metric": metric, "type": "hwthread", "type-ids": threads}
        results = ask(store, query, *WINDOWS[window])
        assert len(results) == len(threads)
        for thread, result in zip(threads, results, strict=True):
            check(result, written, metric, [thread], WINDOWS[window])


def test_series_added_after_a_chunk_was_allocated_count_as_missing_there(
    make_store: MakeStore,
) -> None:
    """The first chunk holds rows for the series known when it was written; a series that
    appears later has no cells in it, so every combined cell there is NaN."""
    store = make_store()
    stamps = T0 + STEP * np.arange(CELLS, dtype=np.int64)
    early = {t: np.arange(CELLS, dtype=np.float64) + t for t in range(8)}
    for thread, values in early.items():
        store.load(below("f0101", "flops_any", f"hwthread{thread}"), stamps, values)
    late = np.arange(CELLS, dtype=np.float64)
    store.load(below("f0101", "flops_any", "hwthread8"), stamps[2 * CHUNK :], late[2 * CHUNK :])
    [result] = ask(store, {"metric": "flops_any"}, 0, CELLS - 1)
    assert result.data is not None
    assert np.isnan(result.data[: 2 * CHUNK]).all()
    want = sum(early.values()) + late
    np.testing.assert_array_equal(result.data[2 * CHUNK :], want[2 * CHUNK :])


def test_a_window_without_values_is_empty(make_store: MakeStore) -> None:
    store, written = make_store(), samples(4)
    fill(store, written, layouts()["consecutive"])
    [result] = ask(store, {"metric": "flops_any"}, CELLS + 10, CELLS + 100)
    assert result.error is None
    assert result.data is not None
    assert len(result.data) == 0
    assert math.isnan(result.avg)


def test_cells_between_values_stay_in_the_answer_as_gaps(make_store: MakeStore) -> None:
    store, written = make_store(), samples(4)
    fill(store, written, layouts()["consecutive"])
    [result] = ask(store, {"metric": "flops_any"}, HOLE.start + 1, HOLE.stop - 2)
    assert result.data is not None
    assert len(result.data) == len(HOLE) - 2
    assert np.isnan(result.data).all()


#: Series of one metric below a host: row by path. Sockets 0 and 1 have their own series
#: and memory-domain series below them; socket 2 has only memory-domain series.
PATHS = {
    ("socket0",): 0,
    ("socket1",): 1,
    ("socket0", "memoryDomain0"): 2,
    ("socket1", "memoryDomain2"): 3,
    ("socket2", "memoryDomain4"): 5,
    ("socket2", "memoryDomain5"): 4,
}


@pytest.mark.parametrize(
    ("levels", "rows"),
    [
        pytest.param((), [0, 1, 5, 4], id="node: the highest series below it, by path"),
        pytest.param((frozenset({"socket1"}),), [1], id="a level with its own series"),
        pytest.param((frozenset({"socket2"}),), [5, 4], id="a level without: its children"),
        pytest.param(
            (frozenset({"socket0", "socket2"}),), [0, 5, 4], id="several levels, each its way"
        ),
        pytest.param(
            (frozenset({"socket0", "socket1"}), frozenset({"memoryDomain2"})),
            [3],
            id="a subtype level",
        ),
        pytest.param((frozenset({"socket7"}),), [], id="nothing there"),
    ],
)
def test_pick_rows_takes_the_highest_series_below_each_selected_level(
    levels: tuple[frozenset[str], ...], rows: list[int]
) -> None:
    assert pick_rows(PATHS, levels) == rows
