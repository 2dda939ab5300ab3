"""The worker as an operator runs it: real processes, real signals, real locks.

Each test starts `python -m forumsync run` (or `sync`) against the sandbox served from this
process, on SQLite or on a real PostgreSQL server, and watches what it does.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from forumsync.db import open_database
from forumsync.sandbox import Clock, Fault, Sandbox
from forumsync.timeutil import utcnow
from forumsync.worker_lock import LOCK_NAME
from tests.test_e2e import World

INTERVAL_MINUTES = 0.05  # a cycle every 3 s: several cycles in one test


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with Sandbox(clock=Clock(utcnow())) as box:
        yield World(box, tmp_path / "worker.db")


def use_database(world: World, url: str) -> None:
    world.db_url, world.config = url, world.box.config(url)
    world.sessions = open_database(url)


def write_config(world: World, tmp_path: Path, **extra: str) -> tuple[Path, dict[str, str]]:
    config = world.config
    path = tmp_path / "forumsync.toml"
    discourse = extra.get("discourse_url", config.discourse.url)
    github = extra.get("github_url", config.github.api_url)
    path.write_text(
        f'[database]\nurl = "{config.database.url}"\n'
        f'[discourse]\nurl = "{discourse}"\nrequests_per_minute = 0\n'
        f'[github]\napi_url = "{github}"\nrepo = "{config.github.repo}"\n'
        "seconds_between_requests = 0\nseconds_between_writes = 0\n"
        f"[schedule]\nsync_every_minutes = {INTERVAL_MINUTES}\n", encoding="utf-8")
    env = {**os.environ, "FORUMSYNC_DISCOURSE_API_KEY": config.discourse.api_key or "",
           "FORUMSYNC_GITHUB_TOKEN": config.github.token or ""}
    env.pop("FORUMSYNC_CONFIG", None)
    return path, env


def start(path: Path, env: dict[str, str], *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "forumsync", "--config", str(path), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)


def forumsync(path: Path, env: dict[str, str], *args: str,
              timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "forumsync", "--config", str(path), *args],
                          capture_output=True, text=True, env=env, timeout=timeout, check=False)


def wait_for(condition: Callable[[], bool], timeout: float = 30, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what or condition}")


def finish(process: subprocess.Popen, timeout: float = 30) -> tuple[int, str]:
    try:
        out, _ = process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    return process.returncode, out


def lease_holder(world: World) -> str | None:
    from forumsync import store

    with world.sessions() as session:
        row = store.get_cursor(session, LOCK_NAME)
        return row.value if row else None


def last_success(world: World) -> str | None:
    from forumsync import health

    with world.sessions() as session:
        return health.worker_state(session)["last_success"]


def specs(world: World, count: int) -> list[tuple[int, int]]:
    """`count` ideas, each with its SPEC pull request linking it: (topic, pr)."""
    pairs = []
    for n in range(count):
        topic = world.idea(f"SPEC idea number {n}")
        pairs.append((topic, world.open_spec_pr(topic, number=20 + n)))
    return pairs


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_rerun_right_after_kill_9_proceeds_at_once(world: World, tmp_path: Path,
                                                     backend: str,
                                                     request: pytest.FixtureRequest) -> None:
    if backend == "postgresql":
        use_database(world, request.getfixturevalue("postgres_url"))
    [(topic, pr)] = specs(world, 1)
    path, env = write_config(world, tmp_path)
    worker = start(path, env, "run")
    try:
        wait_for(lambda: last_success(world) is not None, what="the first cycle")
        assert world.comments(pr) != []
        assert lease_holder(world) == f"{os.uname().nodename}:{worker.pid}"
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        finish(worker)
    world.github.add_label("chair", pr, "spec-withdrawn")  # something for the rerun to do
    began = time.monotonic()
    done = forumsync(path, env, "sync")
    elapsed = time.monotonic() - began
    assert done.returncode == 0, done.stdout + done.stderr
    assert "spec-withdrawn" in world.tags(topic)
    assert elapsed < 10, elapsed  # not three sync intervals of a stale lease
    assert len(world.comments(pr)) == 1 and len(world.replies(topic)) == 2  # no duplicates


def test_sigterm_mid_cycle_finishes_the_current_spec_then_stops_within_10_s(
        world: World, tmp_path: Path) -> None:
    pairs = specs(world, 6)
    # every comment takes a second to post: the cycle is writing for several seconds
    world.github.inject(Fault(match=r"POST /repos/.*/issues/\d+/comments", delay=1.0,
                              passthrough=True, times=1000))
    path, env = write_config(world, tmp_path)
    worker = start(path, env, "run")
    try:
        wait_for(lambda: any(world.comments(pr) for _, pr in pairs), what="a first comment")
        signalled = time.monotonic()
        worker.send_signal(signal.SIGTERM)
        code, out = finish(worker)
        stopped_after = time.monotonic() - signalled
    finally:
        finish(worker)
    assert code == 0, out
    assert "Traceback" not in out
    assert stopped_after < 10, stopped_after
    print(f"stopped {stopped_after:.2f} s after SIGTERM")
    done = [(topic, pr) for topic, pr in pairs if world.comments(pr)]
    assert 0 < len(done) < len(pairs)  # it stopped mid-cycle, not at the end
    for topic, pr in pairs:  # no SPEC is left half-written
        assert bool(world.comments(pr)) == bool(world.replies(topic)), (topic, pr)
    world.box.github.faults.clear()
    again = forumsync(path, env, "sync")  # the next run completes the rest, exactly once
    assert again.returncode == 0, again.stdout + again.stderr
    for topic, pr in pairs:
        assert len(world.comments(pr)) == 1 and len(world.replies(topic)) == 1


def signalled_while_reading(world: World, tmp_path: Path, read_seconds: float,
                            *signals: signal.Signals) -> tuple[int, str, float]:
    """Start a worker whose reads of PR files are slow, send `signals` (0.3 s apart) once it
    reads; exit code, output and seconds from the last signal to the exit."""
    specs(world, 6)
    slow = world.github.inject(Fault(match=r"GET /repos/.*/pulls/\d+/files",
                                     delay=read_seconds, passthrough=True, times=1000))
    path, env = write_config(world, tmp_path)
    worker = start(path, env, "run")
    try:  # a slow read has arrived at the sandbox and is being answered
        wait_for(lambda: slow.times < 1000, what="reading pull request files")
        for n, sig in enumerate(signals):
            time.sleep(0.3 if n else 0)
            signalled = time.monotonic()
            worker.send_signal(sig)
        code, out = finish(worker)
        return code, out, time.monotonic() - signalled
    finally:
        finish(worker)


def test_sigterm_while_reading_stops_at_once_and_writes_nothing(world: World,
                                                                tmp_path: Path) -> None:
    code, out, stopped_after = signalled_while_reading(world, tmp_path, 1.0, signal.SIGTERM)
    assert code == 0 and "Traceback" not in out, out
    print(f"stopped {stopped_after:.2f} s after SIGTERM while reading")
    assert stopped_after < 3, stopped_after  # the read in flight, then nothing more
    writes = [r for r in world.box.discourse.log + world.box.github.log if r[0] != "GET"]
    assert writes == []


def test_the_lease_is_renewed_during_a_long_read(world: World, tmp_path: Path) -> None:
    from forumsync import health

    specs(world, 8)
    world.github.inject(Fault(match=r"GET /repos/.*/pulls/\d+/files", delay=1.0,
                              passthrough=True, times=1000))
    path, env = write_config(world, tmp_path)
    worker = start(path, env, "run")
    try:
        wait_for(lambda: lease_holder(world) is not None, what="the lease")
        with world.sessions() as session:
            first = health.worker_state(session)["lease_heartbeat"]
        time.sleep(4.5)  # heartbeats every 3 s (a third of three 3-second intervals)
        with world.sessions() as session:
            later = health.worker_state(session)["lease_heartbeat"]
        writes = [r for r in world.box.discourse.log + world.box.github.log if r[0] != "GET"]
        assert writes == []  # still reading
        assert later > first
    finally:
        worker.send_signal(signal.SIGTERM)
        finish(worker)


def test_a_second_signal_exits_at_once_without_a_traceback(world: World,
                                                           tmp_path: Path) -> None:
    code, out, stopped_after = signalled_while_reading(world, tmp_path, 5.0, signal.SIGTERM,
                                                       signal.SIGINT)
    assert stopped_after < 2, stopped_after  # did not wait for the 5 s read
    assert code == 128 + signal.SIGINT
    assert "Traceback" not in out and "second signal" in out, out


def test_two_workers_on_postgresql_one_works_one_stands_by_no_double_posts(
        world: World, tmp_path: Path, postgres_url: str) -> None:
    use_database(world, postgres_url)
    path, env = write_config(world, tmp_path)
    first, second = start(path, env, "run"), start(path, env, "run")
    workers = {first.pid: first, second.pid: second}
    pairs: list[tuple[int, int]] = []
    try:
        for _ in range(3):  # a new SPEC for each of several cycles
            pairs += specs(world, 1)
            pr = pairs[-1][1]
            wait_for(lambda pr=pr: world.comments(pr) != [], what=f"PR {pr} announced")
        leader = workers[int(lease_holder(world).rsplit(":", 1)[1])]
        standby = second if leader is first else first
        assert standby.poll() is None  # waiting, not gone
        leader.send_signal(signal.SIGKILL)
        leader.wait(timeout=10)
        for _ in range(2):  # the standby takes over and works the next cycles
            pairs += specs(world, 1)
            pr = pairs[-1][1]
            wait_for(lambda pr=pr: world.comments(pr) != [], timeout=20,
                     what=f"PR {pr} announced by the standby")
        assert lease_holder(world).endswith(f":{standby.pid}")
        standby.send_signal(signal.SIGTERM)
        code, out = finish(standby)
        assert code == 0, out
        assert "standby" in out and "took_over=True" in out, out
    finally:
        for worker in workers.values():
            finish(worker)
    for topic, pr in pairs:
        assert len(world.comments(pr)) == 1, (pr, world.comments(pr))
        assert len(world.replies(topic)) == 1, (topic, world.replies(topic))


def test_a_lost_lease_stops_the_worker_with_an_error(world: World, tmp_path: Path) -> None:
    specs(world, 1)
    path, env = write_config(world, tmp_path)
    worker = start(path, env, "run")
    try:
        wait_for(lambda: last_success(world) is not None, what="the first cycle")
        from forumsync import store

        with world.sessions.begin() as session:  # someone else's record now
            store.set_cursor(session, LOCK_NAME, "intruder:1")
        code, out = finish(worker, timeout=20)
    finally:
        finish(worker)
    assert code == 1, out
    assert "the database lease is now held by intruder:1" in out
    assert "Traceback" not in out


def test_dead_network_is_reported_in_under_10_s_with_exit_3(world: World,
                                                            tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]  # nothing listens here once the socket closes
    path, env = write_config(world, tmp_path, discourse_url="http://forum.invalid",
                             github_url=f"http://127.0.0.1:{closed}")
    began = time.monotonic()
    done = forumsync(path, env, "sync", "--dry-run")
    elapsed = time.monotonic() - began
    print(f"dead network reported in {elapsed:.2f} s")
    assert done.returncode == 3, done.stdout + done.stderr
    assert elapsed < 10
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 2, lines
    assert "discourse unreachable at http://forum.invalid: name does not resolve" in lines[0]
    assert f"github unreachable at http://127.0.0.1:{closed}: connection refused" in lines[1]
    assert all("hint:" in line for line in lines)


def test_metrics_health_and_logs_of_a_running_worker(world: World, tmp_path: Path) -> None:
    import socket
    import urllib.request

    [(_, pr)] = specs(world, 1)
    path, env = write_config(world, tmp_path)
    assert forumsync(path, env, "status", "--check").returncode == 1  # never synced yet
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    worker = start(path, env, "--log-format", "json", "run", "--metrics-port", str(port))
    try:
        wait_for(lambda: world.comments(pr) != [], what="the first cycle")

        def scraped() -> str:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics") as answer:
                    return answer.read().decode()
            except OSError:
                return ""

        wait_for(lambda: 'forumsync_cycles_total{outcome="ok"}' in scraped(), what="metrics")
        text = scraped()
        assert 'forumsync_requests_total{service="github",status="200"}' in text
        assert 'forumsync_requests_total{service="discourse",status="200"}' in text
        assert "forumsync_cycle_duration_seconds_count" in text
        assert "forumsync_open_problems" in text
        check = forumsync(path, env, "status", "--check")
        assert check.returncode == 0 and check.stdout.startswith("healthy"), check.stdout
        state = json.loads(forumsync(path, env, "status", "--json").stdout)["worker"]
        assert state["lease_holder"].endswith(f":{worker.pid}")
        assert state["last_success"] and state["consecutive_failures"] == 0
        assert state["next_digest"] and state["last_cycle_start"] and state["last_cycle_end"]
        worker.send_signal(signal.SIGTERM)
        code, out = finish(worker)
    finally:
        finish(worker)
    assert code == 0
    entries = [json.loads(line) for line in out.splitlines()]  # every line is one JSON object
    assert all({"time", "level", "event"} <= set(e) for e in entries)
    assert any(e["event"] == "cycle finished" and e["outcome"] == "ok" for e in entries)
    label = f"github: PR #{pr} labels +spec-draft"
    assert sum(label in json.dumps(e) for e in entries) == 1  # each action logged once


def test_a_write_that_hangs_cannot_hold_the_stop_past_the_deadline(world: World,
                                                                    tmp_path: Path) -> None:
    """A server that takes a write and never answers: the worker still exits within 10 s of
    SIGTERM (its stop deadline), and the rerun finds what was written by its key."""
    pairs = specs(world, 2)
    hung = world.github.inject(Fault(match=r"POST /repos/.*/issues/\d+/comments", hang=True,
                                     times=1))
    path, env = write_config(world, tmp_path)
    worker = start(path, env, "run")
    try:
        wait_for(lambda: hung.times < 1, what="a write that hangs")
        signalled = time.monotonic()
        worker.send_signal(signal.SIGTERM)
        code, out = finish(worker, timeout=30)
        stopped_after = time.monotonic() - signalled
    finally:
        finish(worker)
    print(f"stopped {stopped_after:.2f} s after SIGTERM with a write hanging")
    assert stopped_after < 10, stopped_after
    assert code == 128 + signal.SIGTERM and "Traceback" not in out, out
    again = forumsync(path, env, "sync")
    assert again.returncode == 0, again.stdout + again.stderr
    for topic, pr in pairs:
        assert len(world.comments(pr)) == 1 and len(world.replies(topic)) == 1


def test_a_server_that_never_answers_is_reported_with_exit_3(world: World,
                                                             tmp_path: Path) -> None:
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)  # accepts connections (the kernel does), never answers
    port = listener.getsockname()[1]
    try:
        path, env = write_config(world, tmp_path, github_url=f"http://127.0.0.1:{port}")
        text = path.read_text(encoding="utf-8").replace(
            "seconds_between_requests = 0", "seconds_between_requests = 0\ntimeout_seconds = 2")
        path.write_text(text, encoding="utf-8")
        began = time.monotonic()
        done = forumsync(path, env, "sync", "--dry-run")
        elapsed = time.monotonic() - began
    finally:
        listener.close()
    print(f"a silent server reported in {elapsed:.2f} s")
    assert done.returncode == 3, done.stdout + done.stderr
    assert f"github unreachable at http://127.0.0.1:{port}: no answer" in done.stderr
    assert elapsed < 10, elapsed
