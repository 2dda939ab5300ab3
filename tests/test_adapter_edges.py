"""Answers the services should not give but sometimes do, and forums installed under a path:
a 200 that is not JSON is an error naming the call (never "no such file"), a surprise
inside an adapter is a ServiceError, and redirects under a path are cached correctly."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from forumsync.errors import ServiceError
from forumsync.repo import decode_content, spec_document_from_text
from forumsync.sandbox.core import Fault, ServiceServer
from forumsync.sandbox.discourse import FakeDiscourse
from tests.forum_support import forum_for, seeded_sandbox
from tests.repo_support import github_config, sandbox

HTML_PAGE = b"<html><body>502 Bad Gateway (from a proxy)</body></html>"
SPEC_TEXT = "---\ntitle: SPEC 9 \u2014 Byte order marks\nnumber: 9\n---\nBody.\n"


# --- GitHub --------------------------------------------------------------------------------


def test_a_200_that_is_not_json_is_an_error_not_a_missing_file() -> None:
    from forumsync.repo import RepoClient

    with sandbox() as (fake, server):
        fake.set_file("spec-0009/index.md", SPEC_TEXT)
        client = RepoClient(github_config(server.url), sleep=lambda _: None)
        assert client.spec_document("spec-0009/index.md", "main") is not None
        for body in (HTML_PAGE, b""):
            fake.inject(Fault(match=r"GET .*/contents/spec-0009/index\.md$", status=200,
                              body=body))
            with pytest.raises(ServiceError) as caught:
                client.spec_document("spec-0009/index.md", "main")
            error = caught.value
            assert (error.service, error.operation) == ("github", "read SPEC file")
            assert "not JSON" in error.detail and not error.transient


def test_an_unexpected_exception_inside_the_github_adapter_is_a_service_error() -> None:
    from forumsync.repo import RepoClient

    client = RepoClient(github_config("http://127.0.0.1:9"), sleep=lambda _: None)

    def explode(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a library bug")

    client._requester.requestJson = explode  # type: ignore[method-assign]
    with pytest.raises(ServiceError) as caught:
        client.pull(3)
    assert (caught.value.service, caught.value.operation) == ("github", "read pull request")
    assert "RuntimeError" in caught.value.detail


def test_a_byte_order_mark_before_the_front_matter_is_accepted() -> None:
    for text in ("\ufeff" + SPEC_TEXT, SPEC_TEXT):
        doc = spec_document_from_text("spec-0009/index.md", text)
        assert (doc.number, doc.title) == (9, "SPEC 9 \u2014 Byte order marks")
    encoded = base64.b64encode(("\ufeff" + SPEC_TEXT).encode("utf-8")).decode()
    decoded = decode_content({"encoding": "base64", "content": encoded})
    assert spec_document_from_text("spec-0009/index.md", decoded).number == 9


# --- Discourse -----------------------------------------------------------------------------


@pytest.fixture
def forum_server() -> Iterator[tuple[FakeDiscourse, ServiceServer]]:
    fake = seeded_sandbox()
    with ServiceServer(fake) as server:
        yield fake, server


def test_a_forum_200_that_is_not_json_is_an_error_naming_the_call(
    forum_server: tuple[FakeDiscourse, ServiceServer],
) -> None:
    fake, server = forum_server
    topic_id = next(iter(fake.topics))
    client = forum_for(server.url)
    assert client.topic(topic_id) is not None
    for body in (HTML_PAGE, b""):
        fake.inject(Fault(match=rf"GET /t/{topic_id}\.json$", status=200, body=body,
                          headers={"X-Note": "the default content type is JSON"}))
        with pytest.raises(ServiceError) as caught:
            client.topic(topic_id)
        assert (caught.value.service, caught.value.operation) == ("discourse", "read topic")


def test_an_unexpected_exception_inside_the_forum_adapter_is_a_service_error() -> None:
    client = forum_for("http://127.0.0.1:9")

    def explode(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a library bug")

    client._api.session.request = explode  # type: ignore[method-assign]
    with pytest.raises(ServiceError) as caught:
        client.topic(5)
    assert (caught.value.service, caught.value.operation) == ("discourse", "read topic")
    assert "RuntimeError" in caught.value.detail


class _Redirecting:
    """A session standing in for a forum at https://example.org/forum whose category URL
    redirects to its slugged form, as Discourse's does; records every URL asked for."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def request(self, verb: str, url: str, **kwargs: Any) -> requests.Response:
        self.asked.append(url.split("?", 1)[0])
        response = requests.Response()
        response.status_code = 200
        response.headers["Content-Type"] = "application/json"
        response._content = json.dumps({"topic_list": {"topics": []}}).encode()
        response.url = "https://example.org/forum/c/specs/ideas/9.json?page=0"
        if url.startswith("https://example.org/forum/c/9.json"):
            hop = requests.Response()
            hop.status_code = 301  # it came through a permanent redirect
            response.history = [hop]
        elif not url.startswith("https://example.org/forum/c/specs/ideas/9.json"):
            response.status_code = 404
        return response


def test_a_forum_under_a_path_caches_redirects_without_doubling_the_path() -> None:
    client = forum_for("https://example.org/forum")
    session = _Redirecting()
    client._api.session = session  # type: ignore[assignment]
    assert client.category_topics(9) == []
    assert client.category_topics(9) == []
    assert session.asked == ["https://example.org/forum/c/9.json",
                             "https://example.org/forum/c/specs/ideas/9.json"]


class _Maintenance:
    """A forum that once answered a topic through a temporary redirect to an HTML page."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.down = True

    def request(self, verb: str, url: str, **kwargs: Any) -> requests.Response:
        self.asked.append(url.split("?", 1)[0])
        response, hop = requests.Response(), requests.Response()
        hop.status_code = 302
        if self.down:
            response.status_code, response.history = 200, [hop]
            response.headers["Content-Type"] = "text/html"
            response._content = b"<html>Down for maintenance</html>"
            response.url = "https://example.org/forum/maintenance"
        else:
            response.status_code = 200
            response.headers["Content-Type"] = "application/json"
            response._content = json.dumps({"id": 5}).encode()
            response.url = url
        return response


def test_a_redirect_to_a_failing_page_is_not_remembered() -> None:
    client = forum_for("https://example.org/forum", retries=0)
    session = _Maintenance()
    client._api.session = session  # type: ignore[assignment]
    with pytest.raises(ServiceError):
        client.topic_by_external_id("forumsync-x")
    session.down = False
    assert client.topic_by_external_id("forumsync-x") == 5
    assert session.asked[-1] == "https://example.org/forum/t/external_id/forumsync-x.json"


class _Answering:
    """A session answering every request 200 with one JSON body."""

    def __init__(self, body: Any) -> None:
        self.body = body

    def request(self, verb: str, url: str, **kwargs: Any) -> requests.Response:
        response = requests.Response()
        response.status_code = 200
        response.headers["Content-Type"] = "application/json"
        response._content = json.dumps(self.body).encode()
        response.url = url
        return response


@pytest.mark.parametrize("payload", [[5], {"topic_list": []}, {"id": "x"}])
def test_an_own_topic_answer_of_the_wrong_shape_is_a_service_error(payload: Any) -> None:
    client = forum_for("http://127.0.0.1:9")
    client._api.session = _Answering(payload)  # type: ignore[assignment]
    with pytest.raises(ServiceError) as caught:
        client.topic_by_external_id("forumsync-newthread-pr-1")
    assert (caught.value.service, caught.value.operation) == ("discourse", "find own topic")


# --- Both: the environment, read once per host -------------------------------------------------

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY",
                   "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


def _environment(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    for name, value in values.items():
        monkeypatch.setenv(name, value)


@pytest.mark.parametrize("environ", [
    {},
    {"HTTPS_PROXY": "http://proxy.example:3128", "HTTP_PROXY": "http://proxy.example:8080",
     "NO_PROXY": "127.0.0.1,forum.example.org"},
    {"https_proxy": "http://proxy.example:3128", "no_proxy": "api.github.com:443"},
    {"REQUESTS_CA_BUNDLE": "/etc/ca.pem"},
    {"CURL_CA_BUNDLE": "/etc/curl-ca.pem", "ALL_PROXY": "socks5://proxy.example:1080"},
])
def test_the_environment_read_once_is_what_requests_reads_on_every_call(
    monkeypatch: pytest.MonkeyPatch, environ: dict[str, str],
) -> None:
    from forumsync.transport import EnvironmentOnce

    _environment(monkeypatch, **environ)
    once, plain = EnvironmentOnce(), requests.Session()
    for url in ("https://api.github.com/repos/a/b/pulls", "http://127.0.0.1:8000/c/9.json",
                "https://forum.example.org/t/1.json", "https://forum.example.org:8443/t/1"):
        for verify in (True, False, None, "/own-ca.pem"):
            for proxies in ({}, {"https": "http://given.example:1"},
                            {"no_proxy": "forum.example.org"}):
                for _ in range(2):  # the second answer comes from what was read first
                    assert once.merge_environment_settings(
                        url, dict(proxies), None, verify, None) == \
                        plain.merge_environment_settings(url, dict(proxies), None, verify, None)


def test_both_adapters_use_the_proxy_the_environment_names_unless_no_proxy_names_the_host(
    monkeypatch: pytest.MonkeyPatch, forum_server: tuple[FakeDiscourse, ServiceServer],
) -> None:
    from forumsync.repo import RepoClient

    fake_forum, forum = forum_server
    topic_id = next(iter(fake_forum.topics))
    with sandbox() as (fake_github, github):
        fake_github.set_file("spec-0009/index.md", SPEC_TEXT)

        def read_both() -> None:
            repo = RepoClient(github_config(github.url), sleep=lambda _: None)
            assert repo.spec_document("spec-0009/index.md", "main") is not None
            assert forum_for(forum.url, retries=0).topic(topic_id) is not None

        _environment(monkeypatch, HTTP_PROXY="http://127.0.0.1:9")  # nothing listens there
        with pytest.raises(ServiceError) as caught:
            RepoClient(github_config(github.url), sleep=lambda _: None).spec_document(
                "spec-0009/index.md", "main")
        assert caught.value.service == "github"
        with pytest.raises(ServiceError) as caught:
            forum_for(forum.url, retries=0).topic(topic_id)
        assert caught.value.service == "discourse"
        _environment(monkeypatch, HTTP_PROXY="http://127.0.0.1:9", NO_PROXY="127.0.0.1")
        read_both()
