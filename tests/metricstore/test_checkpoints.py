"""Checkpoints: atomic files in cc-metric-store's JSON layout, restore, restarts."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from cc_backend.config.services import MetricStoreConfig
from cc_backend.metricstore import ApiQueryRequest, MetricStore
from tests.metricstore.conftest import T0, Clock, MakeStore, below, lines, node

HOUR = 3600


def answer(store: MetricStore, host: str = "f0101") -> bytes:
    """The JSON answer to a query of every kind of series of ``host`` over two hours."""
    request = ApiQueryRequest.model_validate(
        {
            "cluster": "fritz",
            "from": T0,
            "to": T0 + 2 * HOUR,
            "queries": [
                {"metric": "mem_used", "host": host},
                {"metric": "cpu_user", "host": host},
                {"metric": "cpu_user", "host": host, "type": "hwthread", "type-ids": ["0", "1"]},
                {"metric": "mem_bw", "host": host, "type": "socket", "type-ids": ["0"]},
            ],
        }
    )
    return store.query(request).to_json()


def ingest_minutes(store: MetricStore, first: int, last: int, host: str = "f0101") -> None:
    """Samples of minutes ``first`` to ``last`` (inclusive), with a gap at minute 7."""
    samples = []
    for i in range(first, last + 1):
        if i == 7:
            continue
        t = T0 + 60 * i
        samples.append((node(host, "mem_used"), float(i), t))
        samples += [(below(host, "cpu_user", f"hwthread{h}"), h + i / 10, t) for h in range(2)]
        samples.append((below(host, "mem_bw", "socket0", "memoryDomain1"), 2.0 * i, t))
    assert store.ingest(lines(*samples)).rejected == 0


def files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_a_new_store_restores_what_was_checkpointed(make_store: MakeStore, tmp_path: Path) -> None:
    first = make_store()
    ingest_minutes(first, 0, 59)
    ingest_minutes(first, 0, 9, host="f0102")
    assert first.checkpoint(tmp_path / "cp") == 2
    second = make_store()
    report = second.restore(tmp_path / "cp")
    assert (report.files, report.hosts, report.series) == (2, 2, 8)
    assert (report.first, report.last) == (T0, T0 + 59 * 60)
    assert answer(second) == answer(first)
    assert answer(second, "f0102") == answer(first, "f0102")


def test_checkpoint_files_use_cc_metric_store_layout(store: MetricStore, tmp_path: Path) -> None:
    ingest_minutes(store, 5, 8)
    store.checkpoint(tmp_path)
    [name] = files(tmp_path)
    assert Path(name).parent == Path("fritz/f0101")
    assert Path(name).suffix == ".json"
    document = json.loads((tmp_path / name).read_text())
    assert set(document) == {"from", "to", "metrics", "children"}
    assert document["metrics"]["mem_used"] == {
        "frequency": 60,
        "start": T0 + 5 * 60 - 30,
        "data": [5.0, 6.0, None, 8.0],
    }
    assert sorted(document["children"]) == ["hwthread0", "hwthread1", "socket0"]
    domain = document["children"]["socket0"]["children"]["memoryDomain1"]
    assert domain["metrics"]["mem_bw"]["data"] == [10.0, 12.0, None, 16.0]
    assert (document["from"], document["to"]) == (T0 + 5 * 60 - 30, T0 + 9 * 60 - 30)


def test_each_checkpoint_holds_only_changes_including_late_values(
    store: MetricStore, make_store: MakeStore, tmp_path: Path, clock: Clock
) -> None:
    ingest_minutes(store, 0, 29)
    assert store.checkpoint(tmp_path) == 1
    assert store.checkpoint(tmp_path) == 0  # nothing changed
    ingest_minutes(store, 30, 39)
    store.ingest(lines((node("f0101", "mem_used"), 99.0, T0 + 20 * 60)))  # late correction
    clock.now += 1
    assert store.checkpoint(tmp_path) == 1
    names = files(tmp_path)
    assert len(names) == 2
    newest = json.loads((tmp_path / names[-1]).read_text())
    assert newest["metrics"]["mem_used"]["start"] == T0 + 20 * 60 - 30
    hwthread = newest["children"]["hwthread0"]["metrics"]["cpu_user"]
    assert hwthread["start"] == T0 + 20 * 60 - 30
    restored = make_store()
    restored.restore(tmp_path)
    assert answer(restored) == answer(store)


def test_restart_in_the_middle_of_ingestion_loses_only_what_came_after_the_checkpoint(
    make_store: MakeStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    before = make_store()
    ingest_minutes(before, 0, 29)
    before.checkpoint(tmp_path)
    saved = answer(before)
    ingest_minutes(before, 30, 44)  # never checkpointed: the process "dies" here
    del before

    after = make_store()
    with caplog.at_level(logging.INFO, logger="cc_backend.metricstore"):
        report = after.restore(tmp_path)
    assert answer(after) == saved
    assert report.series == 4
    messages = "\n".join(record.getMessage() for record in caplog.records)
    assert "restored 4 series of 1 hosts" in messages
    assert "covering 2023-11-14T22:13:20+00:00 to 2023-11-14T22:42:20+00:00" in messages
    assert "were not saved before the restart and are lost" in messages

    ingest_minutes(after, 30, 59)
    after.checkpoint(tmp_path)
    again = make_store()
    again.restore(tmp_path)
    assert answer(again) == answer(after)


def test_restore_skips_what_is_older_than_the_window(
    make_store: MakeStore, tmp_path: Path, clock: Clock
) -> None:
    store = make_store()
    ingest_minutes(store, 0, 59)
    store.checkpoint(tmp_path)
    clock.now = T0 + 2 * HOUR
    short = make_store(checkpoints={"restore": "90m", "directory": str(tmp_path)})
    report = short.restore()
    assert report.first == T0 + 30 * 60
    clock.now = T0 + 10 * HOUR
    assert make_store().restore(tmp_path).series == 4  # 48 h retention
    assert make_store(retention_in_memory="1h").restore(tmp_path).series == 0


def test_reads_a_checkpoint_written_by_cc_metric_store(store: MetricStore, tmp_path: Path) -> None:
    folder = tmp_path / "fritz" / "f0101"
    folder.mkdir(parents=True)
    level = {"from": T0 - 30, "to": T0 + 150, "metrics": {}, "children": {}}
    document = {
        **level,
        "metrics": {
            "mem_used": {"frequency": 60, "start": T0 - 30, "data": [1.0, None, 3.0]},
            "no_such_metric": {"frequency": 60, "start": T0 - 30, "data": [1.0]},
        },
        "children": {
            "hwthread0": {
                **level,
                "metrics": {"cpu_user": {"frequency": 60, "start": T0 - 30, "data": [50.0]}},
            }
        },
    }
    (folder / f"{T0 - 30}.json").write_text(json.dumps(document))
    report = store.restore(tmp_path)
    assert (report.series, report.values) == (2, 3)
    result = json.loads(answer(store))["results"]
    assert result[0][0]["data"] == [1.0, None, 3.0]
    assert result[2][0]["data"] == [50.0]


def test_unreadable_files_are_reported_and_the_rest_restored(
    make_store: MakeStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = make_store()
    ingest_minutes(store, 0, 9)
    ingest_minutes(store, 0, 9, host="f0102")
    store.checkpoint(tmp_path)
    broken = tmp_path / "fritz" / "f0102"
    [good] = broken.glob("*.json")
    (broken / f"{int(good.stem) + 1}.json").write_text('{"metrics": {"mem_used": {"data": 5}}}')
    (tmp_path / "fritz" / "f0103").mkdir()
    (tmp_path / "fritz" / "f0103" / "1.json").write_bytes(b"\x00not json")
    (tmp_path / "nope" / "f0101").mkdir(parents=True)
    restored = make_store()
    with caplog.at_level(logging.WARNING, logger="cc_backend.metricstore"):
        report = restored.restore(tmp_path)
    assert len(report.failed) == 2
    assert answer(restored) == answer(store)
    assert "checkpoints of unknown cluster 'nope' ignored" in caplog.text
    assert "not restored" in caplog.text


def test_checkpoints_are_written_atomically_with_increasing_names(
    store: MetricStore, tmp_path: Path
) -> None:
    ingest_minutes(store, 0, 1)
    store.checkpoint(tmp_path)
    ingest_minutes(store, 2, 3)
    store.checkpoint(tmp_path)  # same clock second: the name moves past the first file
    names = files(tmp_path)
    assert len(names) == 2
    assert not any(name.endswith(".tmp") or "/." in name for name in names)
    stamps = [int(Path(name).stem) for name in names]
    assert stamps[1] == stamps[0] + 1


def test_a_failed_checkpoint_keeps_the_changes_for_the_next_one(
    store: MetricStore, make_store: MakeStore, tmp_path: Path
) -> None:
    ingest_minutes(store, 0, 9)
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the folder should be")
    with pytest.raises(OSError):  # noqa: PT011 - any OS error of the file system
        store.checkpoint(blocked)
    assert store.last_checkpoint is None
    assert store.checkpoint(tmp_path / "ok") == 1
    restored = make_store()
    restored.restore(tmp_path / "ok")
    assert answer(restored) == answer(store)


def test_open_restores_from_the_configured_folder(
    make_store: MakeStore, clusters: list, clock: Clock, tmp_path: Path
) -> None:
    store = make_store()
    ingest_minutes(store, 0, 9)
    store.checkpoint()
    assert files(tmp_path / "checkpoints")
    config = MetricStoreConfig.model_validate(
        {"checkpoints": {"directory": str(tmp_path / "checkpoints"), "file-format": "json"}}
    )
    reopened = MetricStore.open(clusters, config, clock=clock)
    assert answer(reopened) == answer(store)
    assert reopened.checkpoint() == 0  # restored values are not written again
