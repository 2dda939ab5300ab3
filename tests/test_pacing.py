"""Pacing, on a fake clock: GitHub writes about a second apart, GitHub reads only when its
rate-limit headers say so, Discourse up front to its requests-per-minute limit."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from forumsync.config import ConfigError, load_config
from forumsync.forum import ForumClient
from forumsync.repo import RepoClient
from forumsync.sandbox import Sandbox
from forumsync.transport import IntervalPacer, RateLimitPacer, WindowPacer
from tests.conftest import MINIMAL


class FakeClock:
    """Time that moves only when slept through."""

    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


def test_window_pacer_lets_a_burst_through_and_spreads_a_long_run() -> None:
    clock = FakeClock()
    pacer = WindowPacer(3, 60.0, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        pacer.wait()
    assert clock.slept == []
    clock.now += 10
    pacer.wait()  # the 4th in one minute waits until the 1st leaves the window
    assert clock.slept == [50.0]
    assert WindowPacer(0, clock=clock, sleep=clock.sleep).wait() == 0.0


def test_interval_pacer_keeps_calls_apart() -> None:
    clock = FakeClock()
    pacer = IntervalPacer(1.0, clock=clock, sleep=clock.sleep)
    pacer.wait()
    clock.now += 0.25
    pacer.wait()
    pacer.wait()
    assert clock.slept == [0.75, 1.0]


def test_rate_limit_pacer_waits_only_when_none_is_left() -> None:
    clock = FakeClock(start=10_000.0)
    pacer = RateLimitPacer(120.0, wall=clock, sleep=clock.sleep)
    pacer.update({"X-RateLimit-Remaining": "12", "X-RateLimit-Reset": "10030"})
    assert pacer.wait() == 0.0
    pacer.update({"x-ratelimit-remaining": "0", "x-ratelimit-reset": "10030"})
    assert pacer.wait() == 31.0 and clock.slept == [31.0]
    assert pacer.wait() == 0.0  # once
    pacer.update({"x-ratelimit-remaining": "0", "x-ratelimit-reset": "20000"})
    assert pacer.wait() == 0.0  # longer than max_wait: left to GitHub's refusal


def test_github_writes_are_paced_and_reads_are_not(tmp_path: Path) -> None:
    clock = FakeClock()
    with Sandbox() as box:
        box.populate()
        pr = box.github.open_pull("ada", "SPEC 1", "", {"spec-0001/index.md": "x"})
        config = replace(box.config(f"sqlite:///{tmp_path / 'db'}").github,
                         seconds_between_writes=1.0)
        repo = RepoClient(config, clock=clock, pace=clock.sleep)
        for _ in range(5):
            repo.labels(pr)
            repo.pull_files(pr)
        assert clock.slept == []  # reads: no fixed pause
        repo.add_label(pr, "spec-draft")  # reads the label, creates it, then labels
        repo.create_comment(pr, "Hello there, a comment.")
        assert clock.slept == [1.0, 1.0]  # one write waits for the one before it


def test_github_reads_wait_for_the_reset_when_the_headers_say_none_is_left(
        tmp_path: Path) -> None:
    clock = FakeClock(start=5_000.0)
    with Sandbox() as box:
        box.populate()
        pr = box.github.open_pull("ada", "SPEC 1", "", {"spec-0001/index.md": "x"})
        repo = RepoClient(box.config(f"sqlite:///{tmp_path / 'db'}").github, wall=clock,
                          pace=clock.sleep)
        box.github.rate_reset = 5_040
        repo.labels(pr)
        assert clock.slept == []
        identity = next(iter(box.github.rate_used))
        box.github.rate_used[identity] = 5_000  # the next answer says: none left
        repo.labels(pr)
        repo.labels(pr)  # waits until the reset first
        assert clock.slept == [41.0]


def test_discourse_is_paced_up_front_to_its_limit(tmp_path: Path) -> None:
    clock = FakeClock()
    with Sandbox() as box:
        box.populate()
        topic, _ = box.discourse.create_topic("ada", "An idea for a SPEC", "An idea body.", 9)
        config = replace(box.config(f"sqlite:///{tmp_path / 'db'}").discourse,
                         requests_per_minute=60)
        forum = ForumClient(config, clock=clock, pace=clock.sleep)
        for _ in range(60):
            forum.topic(topic)
        assert clock.slept == [] and box.discourse.request_total() == 60
        forum.topic(topic)
        assert clock.slept == [60.0]  # the 61st request in one minute waits, and no 429


def test_default_pacing_and_its_configuration(config_file) -> None:
    defaults = load_config(None, environ={})
    assert defaults.discourse.requests_per_minute == 60
    assert defaults.github.seconds_between_requests == 0.0
    assert defaults.github.seconds_between_writes == 1.0
    bad = config_file(base=MINIMAL.replace("[discourse]", "[discourse]\nrequests_per_minute = -1"))
    with pytest.raises(ConfigError, match=r"\[discourse\] requests_per_minute"):
        load_config(bad, environ={})
