"""The webhooks: signatures (with the services' own test vectors), rotation, bounds, dedupe,
redelivery, unknown events; and the end-to-end mirror of a committee relabel within 2 s."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from forumsync.config import Config, ServeConfig, load_config
from forumsync.db import open_database
from forumsync.models import Delivery
from forumsync.serve import create_app
from forumsync.serve.webhooks import MAX_BODY_BYTES, verify

VECTORS = json.loads((Path(__file__).parent / "fixtures" / "webhooks" /
                      "webhook_signature_vectors.json").read_text(encoding="utf-8"))
GITHUB_SECRET, DISCOURSE_SECRET = "gh-current-secret", "dc-current-secret"


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class Hooks:
    def __init__(self, tmp_path: Path, **serve: str) -> None:
        base = load_config(None, environ={})
        self.config: Config = replace(
            base, serve=ServeConfig(github_webhook_secret=GITHUB_SECRET,
                                    discourse_webhook_secret=DISCOURSE_SECRET, **serve))
        self.sessions = open_database(f"sqlite:///{tmp_path / 'hooks.db'}")
        self.wakes = 0
        self.client = TestClient(create_app(self.config, self.sessions, wake=self._wake))

    def _wake(self) -> None:
        self.wakes += 1

    def github(self, payload: object = None, *, event: str = "pull_request",
               delivery: str = "72d3162e-cc78-11e3-81ab-4c9367dc0958",
               secret: str | None = GITHUB_SECRET, body: bytes | None = None,
               signature: str | None = None):
        body = body if body is not None else json.dumps(
            payload if payload is not None else {"action": "labeled", "number": 3,
                                                 "pull_request": {"number": 3}}).encode()
        headers = {"X-GitHub-Event": event, "X-GitHub-Delivery": delivery,
                   "Content-Type": "application/json"}
        if signature is not None or secret is not None:
            headers["X-Hub-Signature-256"] = signature or sign(secret or "", body)
        return self.client.post("/webhooks/github", content=body, headers=headers)

    def discourse(self, payload: object = None, *, event: str = "topic_edited",
                  delivery: str = "17", secret: str = DISCOURSE_SECRET):
        body = json.dumps(payload if payload is not None else
                          {"topic": {"id": 41, "tags": ["spec-accepted"]}}).encode()
        return self.client.post("/webhooks/discourse", content=body, headers={
            "X-Discourse-Event": event, "X-Discourse-Event-Type": "topic",
            "X-Discourse-Event-Id": delivery, "X-Discourse-Instance": "https://forum.example",
            "X-Discourse-Event-Signature": sign(secret, body),
            "Content-Type": "application/json"})

    def stored(self) -> list[tuple[str, str, str, str, bool]]:
        with self.sessions() as session:
            return [(d.source, d.delivery_id, d.event, d.subject, d.processed_at is None)
                    for d in session.scalars(select(Delivery).order_by(Delivery.id))]


@pytest.fixture
def hooks(tmp_path: Path) -> Iterator[Hooks]:
    yield Hooks(tmp_path)


@pytest.mark.parametrize("service", ["github", "discourse"])
def test_the_services_own_signature_vectors_verify(service: str) -> None:
    vector = VECTORS[service]
    body, secret = vector["body"].encode(), vector["secret"].encode()
    assert verify([secret], body, vector["expected"])
    assert not verify([secret], body + b" ", vector["expected"])
    assert not verify([b"another secret"], body, vector["expected"])
    assert not verify([secret], body, vector["expected"].upper().replace("SHA256", "sha256"))
    assert not verify([secret], body, "")


def test_a_signed_delivery_is_stored_before_the_answer_and_wakes_the_worker(
        hooks: Hooks) -> None:
    answer = hooks.github()
    assert answer.status_code == 202, answer.text
    assert answer.json() == {"delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958", "queued": True}
    assert hooks.stored() == [("github", "72d3162e-cc78-11e3-81ab-4c9367dc0958",
                               "pull_request.labeled", "pr-3", True)]
    assert hooks.wakes == 1
    answer = hooks.discourse()
    assert answer.status_code == 202
    assert hooks.stored()[-1] == ("discourse", "17", "topic_edited", "t-41", True)
    assert hooks.wakes == 2


@pytest.mark.parametrize("signature", [None, "", "sha256=" + "0" * 64, "sha1=abc",
                                       "sha256=not-hex"])
def test_a_bad_or_missing_signature_is_401_and_changes_nothing(hooks: Hooks,
                                                                signature: str | None) -> None:
    answer = hooks.github(secret=None, signature=signature) if signature is not None else \
        hooks.github(secret=None)
    assert answer.status_code == 401
    assert hooks.stored() == [] and hooks.wakes == 0
    assert GITHUB_SECRET not in answer.text


def test_a_delivery_signed_with_the_other_services_secret_is_refused(hooks: Hooks) -> None:
    assert hooks.github(secret=DISCOURSE_SECRET).status_code == 401
    assert hooks.discourse(secret=GITHUB_SECRET).status_code == 401
    assert hooks.stored() == []


def test_rotation_accepts_the_previous_secret_until_it_is_removed(tmp_path: Path) -> None:
    rotating = Hooks(tmp_path, github_webhook_secret_previous="gh-old-secret")
    assert rotating.github(secret="gh-old-secret", delivery="a").status_code == 202
    assert rotating.github(secret=GITHUB_SECRET, delivery="b").status_code == 202
    assert rotating.github(secret="gh-older-secret", delivery="c").status_code == 401
    rotated = Hooks(tmp_path / "..")  # the old secret is gone from the environment
    assert rotated.github(secret="gh-old-secret", delivery="d").status_code == 401


def test_a_redelivery_does_nothing_twice(hooks: Hooks) -> None:
    assert hooks.github(delivery="same").status_code == 202
    again = hooks.github(delivery="same")
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert len(hooks.stored()) == 1 and hooks.wakes == 1
    # the same id from the other service is another delivery
    assert hooks.discourse(delivery="same").status_code == 202
    assert len(hooks.stored()) == 2


def test_an_unknown_event_is_recorded_but_needs_no_sync(hooks: Hooks) -> None:
    answer = hooks.github({"zen": "Keep it logically awesome.", "hook_id": 1}, event="ping")
    assert answer.status_code == 202 and answer.json()["queued"] is False
    assert hooks.github({"action": "created"}, event="star", delivery="s").status_code == 202
    assert hooks.discourse({"user": {"id": 5}}, event="user_logged_in").json()["queued"] is False
    assert [row[4] for row in hooks.stored()] == [False, False, False]  # processed already
    assert hooks.wakes == 0


def test_a_1_mib_body_is_accepted_and_one_byte_more_is_413(hooks: Hooks) -> None:
    padding = "x" * (MAX_BODY_BYTES - 100)
    body = json.dumps({"action": "edited", "number": 5, "pull_request": {"number": 5},
                       "pad": padding}).encode()
    body += b" " * (MAX_BODY_BYTES - len(body))
    assert len(body) == MAX_BODY_BYTES == 1024 * 1024
    assert hooks.github(body=body, delivery="big").status_code == 202
    answer = hooks.github(body=body + b" ", delivery="too-big")
    assert answer.status_code == 413
    assert [row[1] for row in hooks.stored()] == ["big"]


def test_a_body_over_the_bound_without_a_length_is_cut_off_at_the_bound(hooks: Hooks) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(3):
            yield b"x" * (MAX_BODY_BYTES // 2 + 1)

    answer = hooks.client.post("/webhooks/github", content=chunks(), headers={
        "X-GitHub-Event": "pull_request", "X-GitHub-Delivery": "stream",
        "X-Hub-Signature-256": "sha256=" + "0" * 64})
    assert answer.status_code == 413
    assert hooks.stored() == []


def test_webhooks_without_a_secret_are_off(tmp_path: Path) -> None:
    config = load_config(None, environ={})
    client = TestClient(create_app(config, open_database(f"sqlite:///{tmp_path / 'x.db'}")))
    answer = client.post("/webhooks/github", content=b"{}", headers={
        "X-GitHub-Event": "ping", "X-GitHub-Delivery": "1",
        "X-Hub-Signature-256": sign("", b"{}")})
    assert answer.status_code == 404


def test_missing_delivery_id_or_a_body_that_is_not_json_is_400(hooks: Hooks) -> None:
    assert hooks.github(delivery="").status_code == 400
    assert hooks.github(body=b"not json", delivery="x").status_code == 400
    with hooks.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Delivery)) == 0


def test_secrets_come_from_the_environment_only(tmp_path: Path) -> None:
    from forumsync.config import ConfigError

    env = {"FORUMSYNC_GITHUB_WEBHOOK_SECRET": "s1", "FORUMSYNC_DISCOURSE_WEBHOOK_SECRET": "s2",
           "FORUMSYNC_GITHUB_WEBHOOK_SECRET_PREVIOUS": "s0"}
    config = load_config(None, environ=env)
    assert (config.serve.github_webhook_secret, config.serve.discourse_webhook_secret,
            config.serve.github_webhook_secret_previous) == ("s1", "s2", "s0")
    assert "s1" not in json.dumps(config.masked()) and "s1" not in repr(config)
    path = tmp_path / "f.toml"
    path.write_text('[discourse]\nurl = "https://f.example"\n[github]\nrepo = "a/b"\n'
                    '[serve]\ngithub_webhook_secret = "oops"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="FORUMSYNC_GITHUB_WEBHOOK_SECRET"):
        load_config(path, environ={})


def test_processed_deliveries_are_forgotten_after_a_week(hooks: Hooks) -> None:
    from datetime import timedelta

    from forumsync.serve import deliveries
    from forumsync.timeutil import utcnow

    now = utcnow()
    assert deliveries.record(hooks.sessions, "github", "old", "ping", "", now - timedelta(days=8),
                             needs_sync=False)  # a ping: stored done, no sync ever follows
    assert deliveries.record(hooks.sessions, "github", "new", "pull_request", "pr-1", now,
                             needs_sync=True)
    deliveries.prune(hooks.sessions, now)
    assert [row[1] for row in hooks.stored()] == ["new"]  # pending, and young: kept
    with hooks.sessions() as session:
        newest = deliveries.pending(session)
    assert deliveries.mark_processed(hooks.sessions, newest, now - timedelta(days=8)) == 1
    deliveries.prune(hooks.sessions, now)
    assert [row[1] for row in hooks.stored()] == []  # done 8 days before `now`
    assert deliveries.record(hooks.sessions, "github", "new2", "pull_request", "", now,
                             needs_sync=True)
    deliveries.mark_processed(hooks.sessions, 10**9, now)
    deliveries.prune(hooks.sessions, now)
    assert [row[1] for row in hooks.stored()] == ["new2"]  # done now: kept


def test_a_failed_webhook_cycle_leaves_its_deliveries_pending_and_backs_off(hooks: Hooks) -> None:
    import threading

    from forumsync.serve import deliveries
    from forumsync.timeutil import utcnow

    assert deliveries.record(hooks.sessions, "github", "d1", "pull_request", "pr-1", utcnow(),
                             needs_sync=True)
    outcomes = ["unreachable", "failed", "ok"]
    runs: list[str] = []

    def sync() -> str:
        runs.append(outcomes[len(runs)])
        return runs[-1]

    watcher = deliveries.DeliveryWatcher(hooks.sessions, sync, lambda work: work(),
                                         threading.Event())
    with hooks.sessions() as session:
        newest = deliveries.pending(session)
    watcher._sync_up_to(newest)
    with hooks.sessions() as session:
        assert deliveries.pending(session) == newest  # still pending after a failed cycle
    assert watcher.attempts == 1 and watcher.retry_at > 0
    watcher._sync_up_to(newest)
    assert watcher.attempts == 2
    watcher._sync_up_to(newest)
    with hooks.sessions() as session:
        assert deliveries.pending(session) == 0  # settled by the cycle that went well
    assert runs == outcomes and watcher.attempts == 0
