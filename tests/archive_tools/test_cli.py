"""``cc-archive`` run as an operator would run it, on copies of the reference archive."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from archive_tools.cli import main, parse_time

pytestmark = pytest.mark.reference

#: Start times of the two reference jobs (both on cluster emmy).
FIRST, SECOND = 1608923076, 1609300556


@pytest.fixture
def archive(reference_dir: Path, tmp_path: Path) -> Path:
    """A writable copy of the reference archive."""
    copy = tmp_path / "archive"
    shutil.copytree(reference_dir / "job-archive", copy)
    for path in copy.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return copy


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["--quiet", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_info_as_json(archive: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "info", "--json", str(archive))
    assert code == 0
    info = json.loads(out)
    assert info["version"] == 3
    assert info["jobs"] == 2
    emmy = next(c for c in info["clusters"] if c["name"] == "emmy")
    assert (emmy["firstStart"], emmy["lastStart"]) == (FIRST, SECOND)
    assert {c["name"] for c in info["clusters"]} == {"alex", "emmy", "fritz"}


def test_info_as_a_table(archive: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "info", str(archive))
    assert code == 0
    assert "emmy" in out
    assert "TOTAL" in out


def test_a_missing_archive_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "info", str(tmp_path / "nothing"))
    assert code == 2
    assert "no archive at" in err
    assert not (tmp_path / "nothing").exists()


def test_clean_dry_run_counts_and_keeps(archive: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "clean", "--dry-run", "--before", str(SECOND), str(archive))
    assert code == 0
    assert "1 jobs would be removed" in out
    assert len(list(archive.glob("emmy/*/*/*/meta.json"))) == 2


def test_clean_removes_jobs_started_before(
    archive: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "clean", "--before", "2020-12-28", str(archive))
    assert code == 0
    assert "removed 1 jobs" in out
    remaining = list(archive.glob("emmy/*/*/*/meta.json"))
    assert [p.parent.name for p in remaining] == [str(SECOND)]


def test_clean_without_bounds_is_refused(archive: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "clean", str(archive))
    assert code == 2
    assert "--before" in err


def test_move_to_an_sqlite_archive(
    archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "old-jobs.db"
    code, out, _ = run(capsys, "move", str(archive), str(target), "--before", "2020-12-28")
    assert code == 0
    assert "moved 1 jobs" in out
    code, out, _ = run(capsys, "info", "--json", str(target))
    moved = json.loads(out)
    assert moved["jobs"] == 1
    assert moved["clusters"][0]["firstStart"] == FIRST
    assert len(list(archive.glob("emmy/*/*/*/meta.json"))) == 1


def test_compress_reports_what_it_did(archive: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "compress", str(archive))
    assert code == 0
    assert "compressed the data of 0 jobs" in out  # the reference data is gzipped already


def test_a_broken_job_makes_the_exit_code_1(
    archive: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    next(archive.glob("emmy/*/*/*/meta.json")).write_text("{broken")
    code, _, err = run(capsys, "clean", "--dry-run", "--before", str(SECOND + 1), str(archive))
    assert code == 1
    assert "unreadable" in err


def test_migrate_refuses_a_current_archive(
    archive: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "migrate", str(archive))
    assert code == 2
    assert "only version 2 can be migrated" in err


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1609300556", 1609300556),
        ("2020-12-30", 1609286400),
        ("2020-12-30T01:00:00+01:00", 1609286400),
    ],
)
def test_times_on_the_command_line(text: str, expected: int) -> None:
    assert parse_time(text) == expected


def test_validate_finds_no_errors_in_the_reference_archive(
    archive: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "validate", "--json", "--warnings", str(archive))
    assert code == 0
    report = json.loads(out)
    assert (report["clusters"], report["jobs"], report["errors"]) == (3, 2, 0)
    # The reference jobs use a metric their cluster.json does not configure.
    assert any("rapl_power" in p["message"] for p in report["problems"])


def test_validate_reports_a_broken_job_with_its_location(
    archive: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = next(archive.glob("emmy/*/*/*/meta.json"))
    broken.write_text('{"jobId": "x"}')
    code, out, _ = run(capsys, "validate", "--meta-only", str(archive))
    assert code == 1
    assert str(broken.parent) in out
    assert "1 jobs" in out


def test_import_into_a_job_database_is_idempotent(
    archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "job.db"
    code, out, _ = run(capsys, "import", str(archive), "--db", str(db))
    assert code == 0
    assert "imported 2 jobs" in out
    code, out, _ = run(capsys, "import", str(archive), "--db", str(db))
    assert code == 0
    assert "imported 0 jobs" in out
    assert "2 already there" in out


def test_stats_builds_the_index_and_answers(
    archive: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "stats", "--json", str(archive))
    assert code == 0
    stats = json.loads(out)
    assert stats["totals"]["jobs"] == 2
    assert stats["groups"][0]["id"] == "emmyUser6"
    durations = [json.loads(p.read_text())["duration"] for p in archive.glob("*/*/*/*/meta.json")]
    within_a_day = sum(d < 24 * 3600 for d in durations)
    assert sum(p["count"] for p in stats["durationHistogram"]) == within_a_day
    assert (archive.parent / "archive-index").is_dir()


def test_stats_filters(archive: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "stats", "--json", "--cluster", "fritz", str(archive))
    assert code == 0
    assert json.loads(out)["totals"]["jobs"] == 0


def test_clean_keeps_the_index_in_step(archive: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "index", str(archive))[0] == 0
    run(capsys, "clean", "--before", "2020-12-28", str(archive))
    code, out, _ = run(capsys, "stats", "--json", str(archive))
    assert code == 0
    assert json.loads(out)["totals"]["jobs"] == 1


def test_move_keeps_the_index_in_step(
    archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "index", str(archive))[0] == 0
    run(capsys, "move", str(archive), str(tmp_path / "old.db"), "--before", "2020-12-28")
    code, out, _ = run(capsys, "stats", "--json", str(archive))
    assert code == 0
    assert json.loads(out)["totals"]["jobs"] == 1


@pytest.mark.parametrize("workers", ["1", "2"])
def test_the_index_counts_roofline_time_steps_with_any_number_of_workers(
    archive: Path, capsys: pytest.CaptureFixture[str], workers: str
) -> None:
    code, out, _ = run(capsys, "index", "--workers", workers, str(archive))
    assert code == 0
    assert out.startswith("indexed 2 jobs")


def test_the_index_refuses_fewer_than_one_worker(
    archive: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run(capsys, "index", "--workers", "0", str(archive))
    assert exit_info.value.code == 2
    assert "must be at least 1, not 0" in capsys.readouterr().err
