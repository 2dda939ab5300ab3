"""RepoClient under injected failures on the live sandbox: what is retried, what is waited
for (through the injected sleep, never really), what fails fast, and that errors never carry
the token. The sandbox's request log proves how many requests were made."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from forumsync.errors import NotFound, ServiceError
from forumsync.repo import RepoClient
from forumsync.sandbox.core import Fault
from forumsync.sandbox.github import FakeGitHub
from forumsync.transport import Unreachable
from tests.repo_support import OPEN_SPEC, TOKEN, github_config, sandbox

PULL = rf"GET /repos/[^/]+/[^/]+/pulls/{OPEN_SPEC}$"


class World:
    def __init__(self, fake: FakeGitHub, url: str) -> None:
        self.fake, self.url, self.sleeps = fake, url, []

    def client(self, token: str | None = TOKEN, **kwargs: object) -> RepoClient:
        return RepoClient(github_config(self.url, token), sleep=self.sleeps.append, **kwargs)

    def hits(self, method: str, path_end: str) -> list[int]:
        """Statuses the sandbox answered (faults included) for requests ending in path_end."""
        return [s for m, p, s in self.fake.log if m == method and p.endswith(path_end)]


@pytest.fixture
def world() -> Iterator[World]:
    with sandbox() as (fake, server):
        fake.reset_counts()
        yield World(fake, server.url)


def test_5xx_then_success_is_retried_with_backoff(world: World) -> None:
    world.fake.inject(Fault(match=PULL, status=502, times=2))

    pull = world.client().pull(OPEN_SPEC)

    assert pull.number == OPEN_SPEC
    assert world.hits("GET", f"/pulls/{OPEN_SPEC}") == [502, 502, 200]
    assert world.sleeps == [1.0, 2.0]


def test_persistent_5xx_is_a_transient_error_naming_the_call(world: World) -> None:
    world.fake.inject(Fault(match=PULL, status=503, times=10,
                            body={"message": f"upstream said {TOKEN}"}))

    with pytest.raises(ServiceError) as caught:
        world.client(retries=2).pull(OPEN_SPEC)

    error = caught.value
    assert (error.service, error.operation, error.status) == ("github", "read pull request", 503)
    assert error.item == f"scientific-python/specs#{OPEN_SPEC}" and error.transient
    assert TOKEN not in str(error) and TOKEN not in error.detail and TOKEN not in repr(error)
    assert error.__cause__ is None and error.__suppress_context__
    assert world.hits("GET", f"/pulls/{OPEN_SPEC}") == [503, 503, 503]
    assert world.sleeps == [1.0, 2.0]


def test_secondary_rate_limit_waits_retry_after(world: World) -> None:
    world.fake.inject(Fault(match=PULL, status=403, headers={"Retry-After": "42"}, body={
        "message": "You have exceeded a secondary rate limit. Please wait a few minutes "
                   "before you try again.", "documentation_url": "https://docs.github.com/rest"}))

    assert world.client().pull(OPEN_SPEC).number == OPEN_SPEC
    assert world.sleeps == [42.0]
    assert world.hits("GET", f"/pulls/{OPEN_SPEC}") == [403, 200]


def test_429_with_retry_after_is_waited_too(world: World) -> None:
    world.fake.inject(Fault(match=PULL, status=429, headers={"retry-after": "5"}))

    assert world.client().pull(OPEN_SPEC).number == OPEN_SPEC
    assert world.sleeps == [5.0]


def test_secondary_limit_named_only_by_its_message_waits_a_minute(world: World) -> None:
    world.fake.inject(Fault(match=PULL, status=403, body={
        "message": "You have exceeded a secondary rate limit and have been temporarily blocked "
                   "from content creation. Please retry your request again later."}))

    assert world.client().pull(OPEN_SPEC).number == OPEN_SPEC
    assert world.sleeps == [60.0]


def test_primary_limit_with_near_reset_is_waited(world: World) -> None:
    reset = int(time.time()) + 3
    world.fake.inject(Fault(match=PULL, status=403, headers={
        "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)},
        body={"message": "API rate limit exceeded for user ID 1."}))

    assert world.client().pull(OPEN_SPEC).number == OPEN_SPEC
    assert len(world.sleeps) == 1 and 2.0 <= world.sleeps[0] <= 4.5


def test_primary_limit_with_far_reset_fails_fast(world: World) -> None:
    reset = int(time.time()) + 3600
    world.fake.inject(Fault(match=PULL, status=403, times=5, headers={
        "X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": str(reset)}, body={"message": "API rate limit exceeded"}))

    with pytest.raises(ServiceError) as caught:
        world.client().pull(OPEN_SPEC)

    assert caught.value.transient and caught.value.status == 403
    assert "rate limited" in caught.value.detail and "cap" in caught.value.detail
    assert world.sleeps == []
    assert world.hits("GET", f"/pulls/{OPEN_SPEC}") == [403]


def test_rate_limit_that_never_lifts_ends_as_transient_error(world: World) -> None:
    world.fake.inject(Fault(match=PULL, status=429, times=10, headers={"Retry-After": "1"}))

    with pytest.raises(ServiceError) as caught:
        world.client(retries=2).pull(OPEN_SPEC)

    assert caught.value.transient and caught.value.status == 429
    assert world.sleeps == [1.0, 1.0]


def test_a_refusal_403_is_not_retried(world: World) -> None:
    world.fake.inject(Fault(match=PULL, status=403, body={
        "message": "Resource not accessible by integration",
        "documentation_url": "https://docs.github.com/rest"}))

    with pytest.raises(ServiceError) as caught:
        world.client().pull(OPEN_SPEC)

    assert not caught.value.transient and caught.value.status == 403
    assert "Resource not accessible by integration" in caught.value.detail
    assert world.hits("GET", f"/pulls/{OPEN_SPEC}") == [403] and world.sleeps == []


def test_a_comment_post_is_never_repeated_after_a_5xx(world: World) -> None:
    world.fake.inject(Fault(match=r"POST /repos/.*/comments$", status=502))

    with pytest.raises(ServiceError) as caught:
        world.client().create_comment(OPEN_SPEC, "<!-- forumsync:x -->")

    assert caught.value.transient and caught.value.status == 502
    assert world.hits("POST", "/comments") == [502]


def test_label_writes_are_retried(world: World) -> None:
    world.fake.inject(Fault(match=r"POST /repos/.*/issues/\d+/labels$", status=500))

    world.client().add_label(OPEN_SPEC, "spec-accepted")

    assert "spec-accepted" in world.fake.labels_on(OPEN_SPEC)
    assert world.hits("POST", f"/issues/{OPEN_SPEC}/labels") == [500, 200]


def test_304_on_the_pull_list_returns_nothing_and_is_free(world: World) -> None:
    client = world.client()
    pulls, etag = client.pulls_updated_since(None)
    used = world.fake.rate_used[TOKEN]
    world.fake.reset_counts()

    assert client.pulls_updated_since(None, etag) == ([], etag)

    assert world.fake.requests["GET /repos/{owner}/{name}/pulls"] == 1
    assert world.fake.log == [("GET", "/repos/scientific-python/specs/pulls", 304)]
    assert world.fake.rate_used[TOKEN] == used  # a 304 does not count
    assert pulls


def test_a_change_breaks_the_etag(world: World) -> None:
    client = world.client()
    _, etag = client.pulls_updated_since(None)
    world.fake.comment("someone", OPEN_SPEC, "A new comment moves the pull up.")

    pulls, new_etag = client.pulls_updated_since(None, etag)

    assert pulls[0].number == OPEN_SPEC and new_etag != etag


def test_weak_etag_from_a_proxy_still_matches(world: World) -> None:
    client = world.client()
    _, etag = client.pulls_updated_since(None)

    assert client.pulls_updated_since(None, f"W/{etag}") == ([], f"W/{etag}")


def test_connection_refused_is_not_retried_and_skips_the_rest(world: World) -> None:
    url = world.url
    world.url = "http://127.0.0.1:9"  # discard port: nothing listens
    client = world.client(retries=2)

    with pytest.raises(Unreachable) as caught:
        client.pull(OPEN_SPEC)
    assert caught.value.transient and caught.value.status is None
    assert caught.value.detail == "connection refused"
    assert world.sleeps == []  # no retry: waiting does not open a port
    with pytest.raises(Unreachable):  # the rest of the cycle skips the service
        client.pull_files(OPEN_SPEC)
    client.link.reset()  # the next cycle tries again
    world.url = url


def test_read_timeout_is_retried(world: World) -> None:
    world.fake.inject(Fault(match=PULL, delay=1.1, passthrough=True))  # timeout is 1 s

    assert world.client().pull(OPEN_SPEC).number == OPEN_SPEC
    assert world.sleeps == [1.0]  # one retry, after the read timed out


def test_bad_credentials_never_show_the_token(world: World) -> None:
    world.fake.tokens = {"the-right-token": "forumsync-bot"}

    with pytest.raises(ServiceError) as caught:
        world.client(token=TOKEN).add_label(OPEN_SPEC, "spec-draft")

    assert caught.value.status == 401 and not caught.value.transient
    assert "Bad credentials" in caught.value.detail
    assert TOKEN not in str(caught.value) and TOKEN not in repr(caught.value)


def test_missing_spec_file_is_none_but_missing_folder_is_not_found(world: World) -> None:
    client = world.client()

    assert client.spec_document("spec-0404/index.md", "main") is None
    with pytest.raises(NotFound):
        RepoClient(github_config(world.url, TOKEN, core_projects_path="nowhere")).core_projects()


def test_own_login_is_none_when_the_token_may_not_read_user(world: World) -> None:
    world.fake.inject(Fault(match=r"GET /user$", status=403, body={
        "message": "Resource not accessible by integration"}))
    client = world.client()

    assert client.own_login() is None
    assert client.own_login() is None and world.hits("GET", "/user") == [403]  # asked once


def test_pull_activity_reads_the_newest_end_first_each_page_once(world: World) -> None:
    fake, client = world.fake, world.client()  # 100 items a page
    number = fake.open_pull("ada", "SPEC 9", "", {"spec-0009/index.md": "x\n"})
    fake.review("bob", number, body="Looks fine so far.")
    for index in range(250):  # the service's own marked comments are not activity
        fake.comment("forumsync-bot", number, f"Status {index}\n\n<!-- forumsync:s:{index} -->")
    timeline = f"/issues/{number}/timeline"
    fake.reset_counts()

    walked = client.pull_activity(number)  # pages 1, 3 (empty of activity), 2; 1 kept
    assert walked and (walked.kind, walked.actor) == ("reviewed", "bob")
    assert world.hits("GET", timeline) == [200, 200, 200]

    fake.comment("carol", number, "Any news?")
    fake.reset_counts()
    latest = client.pull_activity(number)  # page 1 for the Link, then the last page
    assert latest and (latest.kind, latest.actor, latest.at) == (
        "commented", "carol", fake.clock.now())
    assert world.hits("GET", timeline) == [200, 200]

    fake.reset_counts()
    used = fake.rate_used[TOKEN]
    one = client.pull_activity(OPEN_SPEC)  # fits one page: one request
    assert one and one.actor == "dave-author" and world.hits("GET", "/timeline") == [200]
    assert fake.rate_used[TOKEN] == used + 1


def test_pull_activity_failing_mid_walk_is_a_transient_error(world: World) -> None:
    number = world.fake.open_pull("ada", "SPEC 9", "", {"spec-0009/index.md": "x\n"})
    for index in range(3):
        world.fake.comment("ada", number, f"comment {index}")
    world.fake.inject(Fault(match=r"GET /repositories/\d+/issues/\d+/timeline$", status=502,
                            times=10))

    with pytest.raises(ServiceError) as caught:
        world.client(per_page=2, retries=1).pull_activity(number)

    error = caught.value
    assert (error.operation, error.status, error.transient) == (
        "read pull request activity", 502, True)
    assert error.item == f"scientific-python/specs#{number}"
    assert world.hits("GET", f"/issues/{number}/timeline") == [200, 502, 502]


def test_pull_activity_without_rel_last_reads_every_page_forwards(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = world.client(per_page=2)
    expected = client.pull_activity(OPEN_SPEC, exclude=["dave-author"])  # walked back
    answer = client._list_page

    def without_last(url: str, params: object = None) -> tuple[list, dict[str, str]]:
        page, links = answer(url, params)  # type: ignore[arg-type]
        return page, {rel: u for rel, u in links.items() if rel != "last"}

    monkeypatch.setattr(client, "_list_page", without_last)
    world.fake.reset_counts()

    assert client.pull_activity(OPEN_SPEC, exclude=["dave-author"]) == expected
    assert expected and expected.actor == "alice-committee"
    assert world.hits("GET", "/timeline") == [200] * 4  # seven items, two a page
