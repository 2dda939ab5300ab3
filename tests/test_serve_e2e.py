"""End to end: `forumsync run --serve` beside the sandbox, which sends signed deliveries as the
real services do. A committee relabel on one side is mirrored on the other within 2 s of the
delivery, with polling set far out of the way (one sync an hour)."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from forumsync.sandbox import Clock, Sandbox
from forumsync.timeutil import utcnow
from tests.test_e2e import World
from tests.test_worker import finish, last_success, start, wait_for, write_config

TARGET_SECONDS = 2.0
HOUR = 60


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with Sandbox(clock=Clock(utcnow())) as box:
        yield World(box, tmp_path / "serve.db")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def deliveries(base: str) -> list[dict]:
    with urllib.request.urlopen(f"{base}/api/deliveries") as answer:
        return json.load(answer)["deliveries"]


def settled(base: str) -> bool:
    """Every delivery so far was followed by a cycle (the service's own writes send some)."""
    try:
        return all(d["processed_at"] for d in deliveries(base))
    except OSError:
        return False


def serving(world: World, tmp_path: Path) -> tuple[subprocess.Popen, str]:
    """`forumsync run --serve` on a free port, polling once an hour, the sandbox sending
    signed deliveries to it; the process and the app's base URL."""
    path, env, port, base = configured(world, tmp_path)
    return start(path, env, "run", "--serve", "--port", str(port)), base


def configured(world: World, tmp_path: Path) -> tuple[Path, dict[str, str], int, str]:
    """A configuration polling once an hour, the webhook secrets, a free port, and the
    sandbox sending signed deliveries to that port."""
    path, env = write_config(world, tmp_path)
    path.write_text(path.read_text().replace("sync_every_minutes = 0.05",
                                             f"sync_every_minutes = {HOUR}"))
    env.update(FORUMSYNC_GITHUB_WEBHOOK_SECRET="gh-hook-secret",
               FORUMSYNC_DISCOURSE_WEBHOOK_SECRET="dc-hook-secret")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    world.box.send_webhooks(base, "gh-hook-secret", "dc-hook-secret")
    return path, env, port, base


def mirrored_within(world: World, act, seen, what: str) -> float:
    """Seconds from the delivery of `act` to `seen()` being true on the other side."""
    sender = world.github.webhooks if "github" in what else world.forum.webhooks
    before = len(sender.sent)
    act()
    wait_for(lambda: len(sender.sent) > before, timeout=10, what=f"{what}: delivery sent")
    sent_at = sender.sent[before].at
    wait_for(seen, timeout=15, what=what)
    return time.monotonic() - sent_at


def test_a_committee_relabel_is_mirrored_within_2_s_of_the_delivery(
        world: World, tmp_path: Path) -> None:
    topic = world.idea()
    pr = world.open_spec_pr(topic)
    worker, base = serving(world, tmp_path)
    try:
        wait_for(lambda: last_success(world) is not None, what="the first cycle")  # at start
        wait_for(lambda: settled(base), what="the deliveries of the first cycle's own writes")

        github = mirrored_within(
            world, lambda: world.github.add_label("chair", pr, "spec-withdrawn"),
            lambda: world.tags(topic) == ("spec-withdrawn",), "github label -> forum tag")
        wait_for(lambda: settled(base), what="settled")
        forum = mirrored_within(
            world, lambda: world.forum.retag("chair", topic, ["spec-accepted"]),
            lambda: "spec-accepted" in world.github.labels_on(pr), "forum tag -> github label")
        wait_for(lambda: settled(base), what="settled")
        assert world.github.webhooks.sent and all(
            s.status in (200, 202) for s in world.github.webhooks.sent + world.forum.webhooks.sent)
        print(f"mirror latency after the delivery: GitHub->forum {github:.2f} s, "
              f"forum->GitHub {forum:.2f} s")
        assert github < TARGET_SECONDS, github
        assert forum < TARGET_SECONDS, forum
        # the mirror said who did it, once (exactly once holds on the webhook path too)
        assert sum("withdrawn" in r for r in world.replies(topic)) == 1
    finally:
        worker.send_signal(signal.SIGTERM)
        code, out = finish(worker)
        print(out)
    assert code == 0, out
    assert "webhook sync" in out
    assert "gh-hook-secret" not in out and "dc-hook-secret" not in out


def test_a_redelivery_from_the_sandbox_is_answered_200_and_runs_no_cycle(
        world: World, tmp_path: Path) -> None:
    topic = world.idea()
    worker, base = serving(world, tmp_path)
    try:
        wait_for(lambda: last_success(world) is not None, what="the first cycle")
        world.forum.reply("grace", topic, "I like it.")
        world.forum.webhooks.wait()
        wait_for(lambda: settled(base), what="settled")
        first = world.forum.webhooks.sent[-1]
        count = len(deliveries(base))
        payload = {"post": {"id": 1, "topic_id": topic}}
        assert world.forum.webhooks.redeliver(first.event, first.delivery, payload) == 200
        assert len(deliveries(base)) == count
    finally:
        worker.send_signal(signal.SIGTERM)
        code, out = finish(worker)
    assert code == 0, out
    assert out.count("webhook sync") == 1, out  # the reply's delivery; not its redelivery


def test_serve_alone_stores_deliveries_that_a_separate_worker_syncs(
        world: World, tmp_path: Path) -> None:
    """`forumsync serve` in one process, `forumsync run` in another on the same database: the
    worker finds the stored delivery by polling the table (every second)."""
    topic = world.idea()
    pr = world.open_spec_pr(topic)
    path, env, port, base = configured(world, tmp_path)
    server = start(path, env, "serve", "--port", str(port))
    worker = start(path, env, "run")
    try:
        # the first cycle ended (its SPECs committed), and so did the cycles its writes woke
        wait_for(lambda: last_success(world) is not None, what="the first cycle")
        wait_for(lambda: settled(base), what="the first deliveries")
        with urllib.request.urlopen(f"{base}/") as answer:
            assert "SPEC 10" in answer.read().decode()
        seconds = mirrored_within(
            world, lambda: world.github.add_label("chair", pr, "spec-withdrawn"),
            lambda: world.tags(topic) == ("spec-withdrawn",), "github label -> forum tag")
        print(f"mirror latency, web app and worker in two processes: {seconds:.2f} s")
        assert seconds < TARGET_SECONDS, seconds
    finally:
        for process in (server, worker):
            process.send_signal(signal.SIGTERM)
        server_code, server_out = finish(server)
        worker_code, worker_out = finish(worker)
    assert (server_code, worker_code) == (0, 0), (server_code, server_out, worker_out)
    assert "webhook sync" in worker_out
