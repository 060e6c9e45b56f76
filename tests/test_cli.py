"""The ``cc-backend`` command, run as a user would run it."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from dotenv import dotenv_values

from cc_backend.auth.keys import load_public_key
from cc_backend.auth.tokens import verify_token
from cc_backend.cli import main
from tests.server_processes import free_port

SECRET_ENV = ("JWT_PUBLIC_KEY", "JWT_PRIVATE_KEY", "SESSION_KEY")


def test_init_creates_a_working_site(site: Path) -> None:
    assert (site / "config.json").is_file()
    assert (site / "var" / "job.db").is_file()
    assert (site / "var" / "job-archive" / "version.txt").read_text().strip() == "3"
    env = site / ".env"
    assert env.stat().st_mode & 0o777 == 0o600
    values = dotenv_values(env)
    assert set(SECRET_ENV) <= set(values)


def test_init_refuses_to_overwrite_a_site(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", str(site)]) == 1
    assert "already a site" in capsys.readouterr().err


def test_two_sites_get_different_keys(tmp_path: Path) -> None:
    main(["init", str(tmp_path / "a")])
    main(["init", str(tmp_path / "b")])
    a = dotenv_values(tmp_path / "a" / ".env")
    b = dotenv_values(tmp_path / "b" / ".env")
    assert a["JWT_PRIVATE_KEY"] != b["JWT_PRIVATE_KEY"]
    assert a["SESSION_KEY"] != b["SESSION_KEY"]


def test_add_user_then_jwt_prints_a_token_the_site_key_accepts(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["add-user", "alice:admin,api:s3cr:et"]) == 0
    capsys.readouterr()

    assert main(["jwt", "alice"]) == 0

    token = capsys.readouterr().out.strip()
    public = dotenv_values(site / ".env")["JWT_PUBLIC_KEY"]
    assert public is not None
    claims = verify_token(token, load_public_key(public))
    assert claims["sub"] == "alice"
    assert claims["roles"] == ["admin", "api"]
    assert claims["exp"] - claims["iat"] == 2000 * 3600


def test_jwt_for_an_unknown_user_fails(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["jwt", "nobody"]) == 1
    assert "nobody" in capsys.readouterr().err


def test_del_user(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["add-user", "bob:user:pw"])
    assert main(["del-user", "bob"]) == 0
    assert main(["del-user", "bob"]) == 1
    assert "bob" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("bob:user", "NAME:ROLES:PASSWORD"),
        ("bob:wizard:pw", "unknown role 'wizard'"),
        (":user:pw", "NAME:ROLES:PASSWORD"),
    ],
)
def test_add_user_rejects_bad_specs(
    site: Path, capsys: pytest.CaptureFixture[str], spec: str, message: str
) -> None:
    assert main(["add-user", spec]) == 1
    assert message in capsys.readouterr().err


def test_invalid_config_exits_2_with_every_problem_and_no_traceback(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (site / "config.json").write_text(
        '{"main": {"addr": "127.0.0.1:8080", "dbb": "x"}, "arhcive": {"kind": "file"}}'
    )
    assert main(["migrate-db"]) == 2
    err = capsys.readouterr().err
    assert "did you mean 'archive'" in err
    assert "main.dbb" in err
    assert "Traceback" not in err


def test_commands_outside_a_site_explain_how_to_make_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["migrate-db"]) == 2
    assert "cc-backend init" in capsys.readouterr().err


@pytest.mark.reference
def test_migrate_db_adopts_a_cc_backend_database(
    site: Path, reference_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = site / "var" / "job.db"
    shutil.copyfile(reference_dir / "db" / "job.db", db)
    db.chmod(0o644)

    assert main(["migrate-db"]) == 0
    assert "cc-backend schema 10 -> revision" in capsys.readouterr().out

    assert main(["--config", str(site / "config.json"), "jwt", "demo"]) == 0


@pytest.fixture
def server(site: Path) -> Iterator[tuple[subprocess.Popen[str], int]]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "cc_backend.cli", "serve", "--addr", f"127.0.0.1:{port}"],
        cwd=site,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={k: v for k, v in os.environ.items() if k not in SECRET_ENV},
    )
    yield process, port
    if process.poll() is None:
        process.kill()
        process.wait()


def _get(url: str, deadline: float) -> tuple[int, str]:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.status, response.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.mark.slow
def test_serve_answers_on_its_port_and_stops_cleanly_on_sigterm(
    server: tuple[subprocess.Popen[str], int],
) -> None:
    process, port = server
    status, body = _get(f"http://127.0.0.1:{port}/", time.monotonic() + 60)
    assert status == 200
    assert "ClusterCockpit" in body

    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert "shutting down" in output
    assert "Traceback" not in output


@pytest.mark.slow
def test_serve_on_a_busy_port_says_so(site: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "cc_backend.cli", "serve", "--addr", f"127.0.0.1:{port}"],
            cwd=site,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unreadable_database_is_a_clear_error(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = site / "var" / "job.db"
    db.unlink()
    db.mkdir()
    assert main(["jwt", "alice"]) == 1
    err = capsys.readouterr().err
    assert "cannot open job database" in err
    assert "Traceback" not in err
