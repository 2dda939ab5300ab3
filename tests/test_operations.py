"""Help, global options, logging, health verdicts and the worker's job set-up."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import Result

from forumsync import health
from forumsync.cli import hoist_global_options
from forumsync.config import load_config
from forumsync.logs import event, setup

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


def test_help_names_the_environment_and_the_exit_codes(run_cli: Callable[..., Result]) -> None:
    text = run_cli("--help").output
    for name in ("FORUMSYNC_CONFIG", "FORUMSYNC_DISCOURSE_API_KEY", "FORUMSYNC_GITHUB_TOKEN"):
        assert name in text
    assert "Exit codes:" in text
    assert "3  a service could not be reached" in text
    assert "--log-format" in text and "--verbose" in text and "--quiet" in text
    for command in ("sync", "run", "status", "digest"):
        assert "FORUMSYNC_GITHUB_TOKEN" in run_cli(command, "--help").output


def test_config_and_log_options_are_accepted_after_the_command(
        run_cli: Callable[..., Result], config_file: Callable[..., Path]) -> None:
    path = config_file()
    result = run_cli("config", "check", "--config", str(path), "-q", "--log-format=json")
    assert result.exit_code == 0, result.output
    assert str(path) in result.output
    assert hoist_global_options(["sync", "--dry-run", "--config", "f.toml", "-v"]) == [
        "--config", "f.toml", "-v", "sync", "--dry-run"]


def test_json_logs_are_one_object_per_line_with_time_level_event_and_fields() -> None:
    out = io.StringIO()
    setup(1, "json", stream=out)
    try:
        event(logging.getLogger("forumsync.test"), "cycle finished", outcome="ok", seconds=1.5)
        logging.getLogger("forumsync.test").debug("not shown at -v")
    finally:
        setup()
    [line] = out.getvalue().splitlines()
    entry = json.loads(line)
    assert entry["event"] == "cycle finished" and entry["level"] == "info"
    assert entry["outcome"] == "ok" and entry["seconds"] == 1.5 and "time" in entry


def test_text_logs_carry_fields_and_quiet_hides_info() -> None:
    out = io.StringIO()
    setup(0, "text", stream=out, default=logging.INFO)
    try:
        event(logging.getLogger("forumsync.test"), "service unreachable", service="github",
              cause="connection refused")
        setup(-1, "text", stream=out, default=logging.INFO)  # -q
        event(logging.getLogger("forumsync.test"), "hidden")
    finally:
        setup()
    assert out.getvalue().endswith(
        "INFO service unreachable service=github cause=\"connection refused\"\n")
    assert "hidden" not in out.getvalue()


def test_health_check_wants_a_completed_cycle_within_two_intervals() -> None:
    assert health.check({}, NOW, 5) == (False, "unhealthy: no completed sync recorded yet")
    fresh = {"last_success": (NOW - timedelta(minutes=9)).isoformat()}
    stale = {"last_success": (NOW - timedelta(minutes=11)).isoformat()}
    assert health.check(fresh, NOW, 5)[0] is True
    healthy, message = health.check(stale, NOW, 5)
    assert healthy is False and message.startswith("unhealthy: last completed sync 660 s")


def test_one_item_that_keeps_failing_is_degraded_not_unhealthy(tmp_path: Path) -> None:
    from forumsync.db import open_database

    sessions = open_database(f"sqlite:///{tmp_path / 'h.db'}")
    for minutes in (30, 20, 10):
        health.cycle_finished(sessions, NOW - timedelta(minutes=minutes), "failed")
    with sessions() as session:
        state = health.worker_state(session)
    healthy, message = health.check(state, NOW, 5)
    assert healthy is True and "degraded" in message
    assert state["last_success"] is None and state["consecutive_failures"] == 3
    health.cycle_finished(sessions, NOW - timedelta(minutes=5), "unreachable")
    with sessions() as session:
        assert health.check(health.worker_state(session), NOW + timedelta(minutes=10), 5)[0] \
            is False  # nothing completed for 15 minutes


def test_consecutive_failures_count_until_a_success(tmp_path: Path) -> None:
    from forumsync.db import open_database

    sessions = open_database(f"sqlite:///{tmp_path / 'h.db'}")
    health.cycle_finished(sessions, NOW, "unreachable")
    assert health.cycle_finished(sessions, NOW, "failed")["consecutive_failures"] == 2
    state = health.cycle_finished(sessions, NOW, "ok")
    assert state["consecutive_failures"] == 0 and state["last_success"] == NOW.isoformat()


def test_sync_and_digest_share_one_thread_and_never_pile_up(tmp_path: Path) -> None:
    from forumsync.cycle import build_clients
    from forumsync.db import open_database
    from forumsync.worker import Worker, lease_for

    config = load_config(None, environ={})
    sessions = open_database(f"sqlite:///{tmp_path / 'w.db'}")
    worker = Worker(config, sessions, build_clients(config), lease_for(config, sessions))
    scheduler = worker._schedule()
    scheduler.start(paused=True)  # job defaults apply once started
    jobs = {job.id: job for job in scheduler.get_jobs()}
    scheduler.shutdown(wait=False)
    assert set(jobs) == {"sync", "digest"}
    assert {job.name for job in jobs.values()} == {"sync", "digest"}
    assert all(job.max_instances == 1 and job.coalesce for job in jobs.values())
    assert scheduler._executors["default"]._pool._max_workers == 1


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_shows_on_a_terminal_for_long_reads_only() -> None:
    from forumsync.logs import progress

    terminal, pipe = _Terminal(), io.StringIO()
    for done in (1, 40, 312):
        progress("pull requests", done, 312, terminal)
        progress("pull requests", done, 312, pipe)
    progress("forum topics", 3, 5, terminal)  # short lists: no progress line
    assert terminal.getvalue() == ("\rpull requests 1/312\rpull requests 40/312"
                                   "\rpull requests 312/312\n")
    assert pipe.getvalue() == ""


def test_metrics_count_requests_and_keep_the_rate_limit_remaining() -> None:
    from forumsync.metrics import Metrics

    metrics = Metrics()
    metrics.on_response("github", "200", {"X-RateLimit-Remaining": "4987"})
    metrics.on_response("github", "304", {})
    metrics.on_response("discourse", "unreachable", {})
    metrics.cycle("ok", 1.5, 3, 1_700_000_000.0)
    value = metrics.registry.get_sample_value
    assert value("forumsync_rate_limit_remaining", {"service": "github"}) == 4987
    assert value("forumsync_requests_total", {"service": "github", "status": "304"}) == 1
    assert value("forumsync_requests_total",
                 {"service": "discourse", "status": "unreachable"}) == 1
    assert value("forumsync_cycles_total", {"outcome": "ok"}) == 1
    assert value("forumsync_open_problems") == 3
    assert value("forumsync_last_success_timestamp_seconds") == 1_700_000_000.0


def test_connections_must_open_within_3_s_while_reads_keep_their_timeout() -> None:
    """A black-holed host cannot be made on loopback, so the timeouts handed to requests
    are checked: (connect, read) for both adapters."""
    from forumsync.cycle import build_clients
    from forumsync.transport import CONNECT_TIMEOUT

    clients = build_clients(load_config(None, environ={}))
    assert CONNECT_TIMEOUT == 3.0
    assert clients.forum._api.timeout == (3.0, 30.0)
    assert clients.repo._requester._Requester__timeout == (3, 30)
