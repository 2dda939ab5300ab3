"""Command line: help, exit codes, status on an empty database, links made by hand."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from forumsync.db import open_database
from forumsync.models import Link, ManualLink, Spec, Thread
from forumsync.timeutil import utcnow


def test_help_lists_the_commands(run_cli) -> None:
    result = run_cli("--help")
    assert result.exit_code == 0
    for command in ("config", "db", "status", "link", "unlink"):
        assert command in result.output


def test_unknown_option_is_a_usage_error(run_cli) -> None:
    assert run_cli("status", "--frobnicate").exit_code == 2
    assert run_cli("link", "--topic", "x", "--pr", "3").exit_code == 2
    assert run_cli("link", "--topic", "0", "--pr", "3").exit_code == 2


def test_status_on_a_new_database(config_file, run_cli) -> None:
    path = config_file()
    result = run_cli("--config", str(path), "status")
    assert result.exit_code == 0
    assert result.output.splitlines()[0].split()[:3] == ["SPEC", "title", "stage"]
    assert "no SPECs tracked yet" in result.output
    as_json = json.loads(run_cli("--config", str(path), "status", "--json").output)
    assert as_json == {"specs": [], "problems": [], "worker": {
        "last_cycle_start": None, "last_cycle_end": None, "last_success": None,
        "last_completed": None,
        "last_outcome": None, "next_digest": None, "consecutive_failures": 0,
        "lease_holder": None, "lease_heartbeat": None}}


def test_db_upgrade_creates_the_schema(config_file, run_cli, tmp_path: Path) -> None:
    result = run_cli("--config", str(config_file()), "db", "upgrade")
    assert result.exit_code == 0
    assert (tmp_path / "forumsync.db").exists()
    assert run_cli("--config", str(config_file()), "db", "upgrade").exit_code == 0  # idempotent


def test_config_from_environment_variable(config_file, run_cli) -> None:
    path = config_file("[digest]\nstalled_after_days = 12")
    result = run_cli("config", "check", env={"FORUMSYNC_CONFIG": str(path)})
    assert result.exit_code == 0
    assert "stalled_after_days = 12" in result.output


def test_link_and_unlink_by_hand(config_file, run_cli, tmp_path: Path) -> None:
    path = config_file()
    db_url = f"sqlite:///{tmp_path / 'forumsync.db'}"
    sessions = open_database(db_url)
    with sessions.begin() as session:  # a SPEC already linked automatically
        spec = Spec(stage="draft", introducing_pr=7, created_at=utcnow())
        session.add_all([spec, Thread(id=40)])
        session.flush()
        session.add(Link(spec_id=spec.id, thread_id=40, method="pr_body", created_at=utcnow()))

    result = run_cli("--config", str(path), "link", "--topic", "41", "--pr", "7")
    assert result.exit_code == 0, result.output
    with sessions() as session:
        assert session.get(ManualLink, 7).topic_id == 41
        # the next sync applies it, as it applies any change of link (the old thread
        # loses its stage tag then: tests/test_e2e.py)
        assert [link.thread_id for link in session.scalars(select(Link))] == [40]

    clash = run_cli("--config", str(path), "link", "--topic", "41", "--pr", "8")
    assert clash.exit_code == 2
    assert "already linked by hand to PR #7" in clash.output

    result = run_cli("--config", str(path), "unlink", "--pr", "7")
    assert result.exit_code == 0
    with sessions() as session:
        assert session.get(ManualLink, 7).topic_id is None


def test_console_script_exits_2_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[discourse]\nurl = 3\n[github]\nrepo = \"a/b\"\n")
    done = subprocess.run(
        [sys.executable, "-m", "forumsync", "--config", str(bad), "status"],
        capture_output=True, text=True, check=False,
    )
    assert done.returncode == 2
    assert "[discourse] url" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_unreachable_database_is_one_line_and_exit_3(tmp_path: Path) -> None:
    with __import__("socket").socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    path = tmp_path / "forumsync.toml"
    path.write_text(f'[database]\nurl = "postgresql+psycopg://fs:hunter2pw@127.0.0.1:{closed}/fs"'
                    '\n[discourse]\nurl = "http://127.0.0.1:9"\n[github]\nrepo = "a/b"\n',
                    encoding="utf-8")
    for command in (["status"], ["status", "--check"], ["sync"], ["--log-format", "json", "sync"]):
        done = subprocess.run([sys.executable, "-m", "forumsync", "--config", str(path),
                               *command], capture_output=True, text=True, timeout=60,
                              check=False)
        assert done.returncode == 3, (command, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and "database unreachable" in lines[0], (command, done.stderr)
        assert "hunter2pw" not in done.stderr and "Traceback" not in done.stderr
        if "json" in command:
            assert json.loads(lines[0])["level"] == "error"


def test_the_health_check_reads_the_database_as_it_is(config_file, run_cli,
                                                       tmp_path: Path) -> None:
    from forumsync.db import make_engine, upgrade

    path = config_file()
    engine = make_engine(f"sqlite:///{tmp_path / 'forumsync.db'}")
    upgrade(engine, "0002")
    assert run_cli("--config", str(path), "status", "--check").exit_code == 1  # never synced
    with engine.connect() as connection:
        from sqlalchemy import text

        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() \
            == "0002"  # not migrated under a running worker
