"""Failures against the sandbox: retries, rate limits, timeouts, and errors without secrets."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from forumsync.errors import NotFound, ServiceError
from forumsync.forum import MAX_WAIT
from forumsync.sandbox.core import Fault, ServiceServer
from forumsync.sandbox.discourse import FakeDiscourse
from forumsync.transport import Unreachable
from tests.forum_support import forum_for, seeded_sandbox

SECRET = "s3cr3t-k3y-never-shown"


@pytest.fixture
def fake() -> FakeDiscourse:
    fake = seeded_sandbox()
    fake.api_key = SECRET
    return fake


@pytest.fixture
def server(fake: FakeDiscourse) -> Iterator[ServiceServer]:
    with ServiceServer(fake) as server:
        yield server


def hits(fake: FakeDiscourse, method: str, path: str) -> list[int]:
    """Statuses answered for one path, faults included (request counts skip faults)."""
    return [status for m, p, status in fake.log if (m, p) == (method, path)]


def test_server_errors_then_success_are_retried_with_backoff(
    fake: FakeDiscourse, server: ServiceServer
) -> None:
    topic_id, _ = fake.create_topic("alice", "Retry me please", "Body of the topic here.", 9)
    fake.inject(Fault(match=rf"GET /t/{topic_id}\.json", status=502, times=2,
                      body=b"<html><body>502 Bad Gateway</body></html>"))
    sleeps: list[float] = []

    topic = forum_for(server.url, api_key=SECRET, sleeps=sleeps).topic(topic_id)

    assert topic is not None and topic.title == "Retry me please"
    assert hits(fake, "GET", f"/t/{topic_id}.json") == [502, 502, 200]
    assert sleeps == [1.0, 2.0]


def test_rate_limit_waits_what_discourse_asks_then_posts_once(
    fake: FakeDiscourse, server: ServiceServer
) -> None:
    topic_id, _ = fake.create_topic("alice", "A rate limited topic", "Body of the topic here.", 9)
    fake.rate_limit(r"POST /posts", wait_seconds=7)
    sleeps: list[float] = []

    post_id = forum_for(server.url, api_key=SECRET, sleeps=sleeps).reply(
        topic_id, "A reply that first met a rate limit.")

    assert sleeps == [7.0]
    assert hits(fake, "POST", "/posts.json") == [429, 200]
    assert [p.id for p in fake.posts_in(topic_id)][-1] == post_id
    assert len(fake.posts_in(topic_id)) == 2


def test_a_rate_limit_longer_than_the_cap_is_not_waited_out(
    fake: FakeDiscourse, server: ServiceServer
) -> None:
    fake.rate_limit(r"GET /groups/", wait_seconds=int(MAX_WAIT) + 600)
    sleeps: list[float] = []

    forum = forum_for(server.url, api_key=SECRET, sleeps=sleeps)
    with pytest.raises(ServiceError) as failure:
        forum.group_members("spec-steering-committee")

    assert sleeps == []
    assert failure.value.status == 429 and failure.value.transient
    assert "Please wait" in failure.value.detail


def test_persistent_server_errors_end_as_a_service_error_without_the_key(
    fake: FakeDiscourse, server: ServiceServer
) -> None:
    topic_id, _ = fake.create_topic("alice", "Never readable", "Body of the topic here.", 9)
    fake.inject(Fault(match=r"GET /t/", status=503, times=100,
                      body={"errors": [f"upstream said {SECRET}"]}))
    sleeps: list[float] = []

    with pytest.raises(ServiceError) as failure:
        forum_for(server.url, api_key=SECRET, sleeps=sleeps).topic(topic_id)

    error = failure.value
    assert (error.service, error.operation, error.item) == ("discourse", "read topic",
                                                           f"topic {topic_id}")
    assert error.status == 503 and error.transient
    assert hits(fake, "GET", f"/t/{topic_id}.json") == [503] * 4  # 1 try + 3 retries
    assert sleeps == [1.0, 2.0, 4.0]
    assert SECRET not in str(error) and SECRET not in repr(error) and SECRET not in error.detail
    assert error.__cause__ is None and error.__context__ is None  # no pydiscourse object leaks


def test_error_bodies_are_scrubbed_of_the_key(fake: FakeDiscourse, server: ServiceServer) -> None:
    fake.inject(Fault(match=r"PUT /t/", status=400, body={"errors": [f"bad key {SECRET}"]}))
    with pytest.raises(ServiceError) as failure:
        forum_for(server.url, api_key=SECRET).set_tags(1, ["x"])
    assert SECRET not in str(failure.value)
    assert "***" in str(failure.value) and not failure.value.transient


def test_a_hang_times_out_and_is_retried(fake: FakeDiscourse, server: ServiceServer) -> None:
    fake.inject(Fault(match=r"GET /groups/", hang=True, times=1))
    sleeps: list[float] = []
    forum = forum_for(server.url, api_key=SECRET, timeout=0.2, sleeps=sleeps)

    members = forum.group_members("spec-steering-committee")

    assert members == {"alice", "bob", "carol"}
    assert sleeps == [1.0]


def test_hanging_for_good_ends_cleanly_and_quickly(
    fake: FakeDiscourse, server: ServiceServer
) -> None:
    fake.inject(Fault(match=r"GET /groups/", hang=True, times=10))
    sleeps: list[float] = []
    forum = forum_for(server.url, api_key=SECRET, timeout=0.2, retries=2, sleeps=sleeps)
    started = time.monotonic()

    with pytest.raises(ServiceError) as failure:
        forum.group_members("spec-steering-committee")

    assert time.monotonic() - started < 3
    # tried once more, then the forum is down for the rest of the cycle (no third wait)
    assert failure.value.detail == "no answer" and failure.value.transient
    assert failure.value.status is None and sleeps == [1.0]
    with pytest.raises(ServiceError):  # later calls this cycle fail at once
        forum.group_members("spec-steering-committee")
    assert time.monotonic() - started < 3


def test_a_timed_out_post_that_still_landed_is_not_posted_twice(
    fake: FakeDiscourse, server: ServiceServer
) -> None:
    """The first POST is answered too late; the retry meets Discourse's 120 s de-duplication."""
    topic_id, _ = fake.create_topic("alice", "Slow server topic", "Body of the topic here.", 9)
    fake.inject(Fault(match=r"POST /posts", delay=0.4, passthrough=True))
    sleeps: list[float] = []
    forum = forum_for(server.url, api_key=SECRET, timeout=0.2, sleeps=sleeps)

    post_id = forum.reply(topic_id, "A reply sent to a slow server, once.")
    time.sleep(0.4)  # let the late first request finish on the server

    assert sleeps == [1.0]
    posts = fake.posts_in(topic_id)
    assert len(posts) == 2 and posts[1].id == post_id


def test_connection_refused_is_not_retried_and_skips_the_rest() -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sleeps: list[float] = []
    forum = forum_for(f"http://127.0.0.1:{port}", sleeps=sleeps, retries=1)
    with pytest.raises(Unreachable) as failure:
        forum.topic(1)
    assert failure.value.detail == "connection refused" and failure.value.transient
    assert sleeps == []
    with pytest.raises(Unreachable):
        forum.topic(2)


def test_not_found_and_refusals_are_not_retried(fake: FakeDiscourse, server: ServiceServer) -> None:
    sleeps: list[float] = []
    forum = forum_for(server.url, api_key=SECRET, sleeps=sleeps)

    assert forum.topic(4242) is None
    with pytest.raises(NotFound) as missing:
        forum.set_category(4242, 15)
    assert missing.value.status == 404 and not missing.value.transient

    forum.create_topic("SPEC idea: a unique title", "The body of a first topic.", 9)
    with pytest.raises(ServiceError) as duplicate:
        forum.create_topic("SPEC idea: a unique title", "Another body for the same title.", 9)
    assert duplicate.value.status == 422
    assert "Title has already been used" in duplicate.value.detail

    with pytest.raises(ServiceError) as wrong_key:
        forum_for(server.url, api_key="not-the-key", sleeps=sleeps).topic(1)
    assert wrong_key.value.status == 403
    assert sleeps == []


def test_no_retries_means_one_attempt(fake: FakeDiscourse, server: ServiceServer) -> None:
    fake.inject(Fault(match=r"GET /c/", status=500, times=5))
    with pytest.raises(ServiceError):
        forum_for(server.url, api_key=SECRET, retries=0).category_topics(9)
    assert hits(fake, "GET", "/c/9.json") == [500]


def test_anonymous_reads_of_public_data_work(fake: FakeDiscourse, server: ServiceServer) -> None:
    topic_id, _ = fake.create_topic("alice", "Public idea thread", "Readable without a key.", 9)
    forum = forum_for(server.url, api_key=None)
    assert topic_id in [t.id for t in forum.category_topics(9)]
    assert forum.group_members("spec-steering-committee") == {"alice", "bob", "carol"}
