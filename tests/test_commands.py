"""`sync`, `run` and `demo` as a user runs them: real processes against the sandbox."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from forumsync.db import open_database
from forumsync.sandbox import Clock, Sandbox
from forumsync.sandbox.github import FakeGitHub
from forumsync.timeutil import utcnow
from forumsync.worker import lease_for
from forumsync.worker_lock import Lease, LeaseLost
from tests.test_e2e import World


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    """A sandbox on the wall clock: the commands here run with the real time."""
    with Sandbox(clock=Clock(utcnow())) as box:
        yield World(box, tmp_path / "cli.db")


def write_config(world: World, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A configuration file for the sandbox, and the environment holding its secrets."""
    config = world.config
    path = tmp_path / "forumsync.toml"
    path.write_text(
        f'[database]\nurl = "{config.database.url}"\n'
        f'[discourse]\nurl = "{config.discourse.url}"\nrequests_per_minute = 0\n'
        f'[github]\napi_url = "{config.github.api_url}"\nrepo = "{config.github.repo}"\n'
        "seconds_between_requests = 0\nseconds_between_writes = 0\n"
        "[schedule]\nsync_every_minutes = 1\n", encoding="utf-8")
    env = {**os.environ, "FORUMSYNC_DISCOURSE_API_KEY": config.discourse.api_key or "",
           "FORUMSYNC_GITHUB_TOKEN": config.github.token or ""}
    env.pop("FORUMSYNC_CONFIG", None)
    return path, env


def forumsync(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "forumsync", *args], capture_output=True,
                          text=True, env=env, timeout=timeout, check=False)


def test_dry_run_prints_the_plan_and_writes_nothing(world: World, tmp_path: Path) -> None:
    topic = world.idea()
    pr = world.open_spec_pr(topic)
    fresh_db = tmp_path / "never-created.db"
    path, env = write_config(world, tmp_path)
    path.write_text(path.read_text().replace(str(tmp_path / "cli.db"), str(fresh_db)))
    world.box.reset_counts()
    done = forumsync("--config", str(path), "sync", "--dry-run", "--json", env=env)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["dry_run"] is True
    assert f"github: PR #{pr} labels +spec-draft" in report["actions"]
    assert any(a.startswith(f"discourse: reply on topic {topic}") for a in report["actions"])
    writes = [r for r in world.box.discourse.log + world.box.github.log if r[0] != "GET"]
    assert writes == []
    assert not fresh_db.exists()
    assert world.comments(pr) == [] and world.replies(topic) == []


def test_sync_applies_and_exits_1_when_an_item_fails(world: World, tmp_path: Path) -> None:
    pr = world.open_spec_pr(world.idea())
    path, env = write_config(world, tmp_path)
    done = forumsync("--config", str(path), "sync", env=env)
    assert done.returncode == 0, done.stderr
    assert f"did: github: PR #{pr} labels +spec-draft" in done.stdout
    again = forumsync("--config", str(path), "sync", env=env)
    assert again.returncode == 0 and "nothing to do" in again.stdout
    world.github.add_label("chair", pr, "spec-withdrawn")
    world.github.inject(_broken_events(pr))
    failed = forumsync("--config", str(path), "sync", env=env)
    assert failed.returncode == 1
    assert "failed:" in failed.stderr and "github" in failed.stderr
    assert env["FORUMSYNC_GITHUB_TOKEN"] not in failed.stdout + failed.stderr
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("cli.db*"))
    assert stored and env["FORUMSYNC_GITHUB_TOKEN"].encode() not in stored
    assert env["FORUMSYNC_DISCOURSE_API_KEY"].encode() not in stored


def _broken_events(pr: int):
    from forumsync.sandbox import Fault

    """A refusal GitHub does not retry (a 5xx would be retried with real waits here)."""
    return Fault(match=rf"GET /repos/.*/issues/{pr}/events", status=422, times=1000,
                 body={"message": "Validation Failed"})


def test_run_syncs_then_stops_cleanly_on_sigterm(world: World, tmp_path: Path) -> None:
    pr = world.open_spec_pr(world.idea())
    path, env = write_config(world, tmp_path)
    worker = subprocess.Popen([sys.executable, "-m", "forumsync", "--config", str(path), "run"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env=env)
    try:
        deadline = time.monotonic() + 30
        while "spec-draft" not in world.github.labels_on(pr) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "spec-draft" in world.github.labels_on(pr)
        second = forumsync("--config", str(path), "sync", env=env, timeout=30)
        assert second.returncode == 1 and "another forumsync (" in second.stderr
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0, worker.stdout.read() if worker.stdout else ""
    finally:
        if worker.poll() is None:
            worker.kill()
    sessions = open_database(world.db_url)
    assert Lease(sessions, timedelta(minutes=3)).holder() is None  # released


def test_stale_lease_is_taken_over_and_a_lost_lease_stops_the_cycle(tmp_path: Path) -> None:
    sessions = open_database(f"sqlite:///{tmp_path / 'lease.db'}")
    first = Lease(sessions, timedelta(minutes=15), "host:1")
    second = Lease(sessions, timedelta(minutes=15), "host:2")
    then = utcnow() - timedelta(minutes=16)
    assert first.acquire(then) and not second.acquire(then)
    assert second.acquire()  # sixteen minutes without a heartbeat: the first one is gone
    assert second.holder() == "host:2"
    second.renew()  # within a third of the lease: no database round trip needed
    with pytest.raises(LeaseLost):
        first.renew()  # it wakes up: it must stop writing


def test_sync_refuses_while_a_worker_holds_the_database(world: World, tmp_path: Path) -> None:
    world.open_spec_pr(world.idea())
    path, env = write_config(world, tmp_path)
    lease = lease_for(world.config, world.sessions)  # holds the lock, as a worker would
    assert lease.acquire()
    try:
        done = forumsync("--config", str(path), "sync", env=env)
    finally:
        lease.release()
    assert done.returncode == 1 and lease.owner in done.stderr
    assert world.box.github.comments == []


def test_demo_tells_the_story_offline(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORUMSYNC_")}
    done = subprocess.run([sys.executable, "-m", "forumsync", "demo"], capture_output=True,
                          text=True, env=env, cwd=tmp_path, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    for expected in ("idea -> accepted (mirrored, by @chair on discourse)",
                     "reply on topic", "labels -spec-published", "ignored",
                     "draft -> published (mirrored, by @chair on github)",
                     "new topic in category 9", "### Stalled: draft", "Typing stubs",
                     "== forumsync status"):
        assert expected in out, expected
    quiet = out.split("== 8. A quiet cycle")[1].split("==")[0]
    assert "nothing to do" in quiet
    assert list(tmp_path.iterdir()) == []  # the demo leaves no files behind


def test_digest_dry_run_prints_and_sends_nothing(world: World, tmp_path: Path) -> None:
    world.idea("A forgotten idea about typing")
    path, env = write_config(world, tmp_path)
    assert forumsync("--config", str(path), "sync", env=env).returncode == 0
    world.box.reset_counts()
    done = forumsync("--config", str(path), "digest", "--dry-run", env=env)
    assert done.returncode == 0, done.stderr
    assert "### Ideas waiting longest for a committee decision" in done.stdout
    assert "A forgotten idea about typing" in done.stdout
    assert world.box.request_total() == 0 and world.forum.messages == []
    sent = forumsync("--config", str(path), "digest", env=env)
    assert sent.returncode == 0 and "sent: topic" in sent.stdout
    again = forumsync("--config", str(path), "digest", env=env)
    assert "already sent" in again.stdout
    assert len(world.forum.messages) == 1


def test_fake_github_is_importable_standalone() -> None:
    assert FakeGitHub().full_name == "scientific-python/specs"


def test_the_sqlite_lock_holds_through_a_symlink_and_a_deleted_side_file(tmp_path: Path) -> None:
    from forumsync.worker_lock import process_lock_for

    database = tmp_path / "state.db"
    open_database(f"sqlite:///{database}")
    alias = tmp_path / "alias.db"
    alias.symlink_to(database)
    first = process_lock_for(f"sqlite:///{database}")
    second = process_lock_for(f"sqlite:///{alias}")
    assert first is not None and second is not None
    try:
        assert first.try_acquire()
        for stray in tmp_path.glob("*.lock"):
            stray.unlink()  # a restore that cleans up side files
        assert not second.try_acquire()
        first.release()
        assert second.try_acquire()
    finally:
        first.release()
        second.release()
