"""Cassettes built from recorded payloads (tests/fixtures), not from our own sandbox.

Each cassette lists where every answer comes from: a copied real recording (MIT or
Apache-2.0, see tests/fixtures/*/SOURCES.md), an API documentation example, or one of our
own files that reproduce the shape of a recording we may not copy, or of the service's
published source where no recording exists. `python tests/cassettes/build_from_fixtures.py`
writes them; `tests/test_fixture_cassettes.py` replays them through the adapters and checks
that the committed files are what this module builds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import yaml

TESTS = Path(__file__).parent
FIXTURES = TESTS / "fixtures"
LIBRARY = TESTS / "cassettes" / "fixtures"
DISCOURSE_ORIGIN = "http://discourse.fixtures.invalid"
GITHUB_ORIGIN = "http://github.fixtures.invalid"
JSON_TYPE = "application/json; charset=utf-8"
GITHUB_NOT_FOUND = {"message": "Not Found",
                    "documentation_url": "https://docs.github.com/rest"}


@dataclass(frozen=True)
class Answer:
    """One request and the recorded answer served for it, and where that answer is from."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    status: int
    body: Any
    source: str
    headers: tuple[tuple[str, str], ...] = ()


def _load(side: str, name: str) -> Any:
    return json.loads((FIXTURES / side / name).read_text(encoding="utf-8"))


def _discourse(method: str, path: str, fixture: str, source: str,
               query: tuple[tuple[str, str], ...] = ()) -> Answer:
    return Answer(method, path, query, 200, _load("discourse", fixture),
                  f"tests/fixtures/discourse/{fixture}: {source}")


def _triagebot(fixture: str) -> Answer:
    """A rust-lang/triagebot recording (real traffic, Feb 2023; no headers were kept)."""
    data = _load("github", fixture)
    return Answer(data["method"], data["path"], (), int(data["response_code"]),
                  data["response_body"],
                  f"tests/fixtures/github/{fixture}: real, rust-lang/triagebot (MIT OR Apache-2.0)")


def _octokit(fixture: str, index: int) -> Answer:
    """One interaction of an octokit/fixtures recording (real, normalised; headers kept)."""
    data = _load("github", fixture)[index]
    headers = tuple((k, str(v)) for k, v in data["headers"].items()
                    if k not in ("content-length", "connection"))
    return Answer(data["method"].upper(), data["path"], (), int(data["status"]),
                  data["response"], f"tests/fixtures/github/{fixture}[{index}]: real, "
                  "octokit/fixtures (MIT)", headers)


def _github_file(fixture: str, source: str, query: tuple[tuple[str, str], ...] = ()) -> Answer:
    """One of our own files in the `{note, request, response}` form (`own_*`: shapes of
    recordings we may not copy; `docs_*`: shaped from GitHub's documentation). The query is
    given as the client sends it (it adds per_page)."""
    data = _load("github", fixture)
    headers = tuple((k, str(v)) for k, v in data["response"]["headers"].items())
    return Answer(data["request"]["method"], urlsplit(data["request"]["uri"]).path, query,
                  int(data["response"]["status"]), data["response"]["body"],
                  f"tests/fixtures/github/{fixture}: {source}", headers)


def _chunk_query() -> tuple[tuple[str, str], ...]:
    view = _load("discourse", "topic_view_22_posts_20_loaded.json")
    loaded = {p["id"] for p in view["post_stream"]["posts"]}
    missing = [str(i) for i in view["post_stream"]["stream"] if i not in loaded]
    return (*(("post_ids[]", i) for i in missing), ("include_raw", "1"))


RAW = (("include_raw", "1"),)
REAL_API = "copied from the discourse/discourse_api gem's test fixtures (MIT)"
API_DOCS = "example from discourse/discourse_api_docs (MIT), the published API documentation"
OWN = "own file reproducing the shape of recordings we may not copy (see SOURCES.md)"
DOCS = "own file shaped from GitHub's documentation (no recording exists; link in its note)"
PER_PAGE = (("per_page", "100"),)

CASSETTES: dict[str, tuple[str, list[Answer]]] = {
    "discourse_category_listing": (DISCOURSE_ORIGIN, [
        _discourse("GET", "/c/9.json", "category_topics.json", REAL_API),
    ]),
    "discourse_topic_view_2013": (DISCOURSE_ORIGIN, [
        _discourse("GET", "/t/57.json", "topic_legacy_2013.json", REAL_API, RAW),
    ]),
    "discourse_topic_view_documented": (DISCOURSE_ORIGIN, [
        _discourse("GET", "/t/13.json", "topic_docs_example.json", API_DOCS, RAW),
    ]),
    "discourse_posts_beyond_the_first_chunk": (DISCOURSE_ORIGIN, [
        _discourse("GET", "/t/512.json", "topic_view_22_posts_20_loaded.json", OWN, RAW),
        _discourse("GET", "/t/512/posts.json", "topic_posts_by_ids_newest_first.json", OWN,
                   _chunk_query()),
    ]),
    "discourse_create_topic": (DISCOURSE_ORIGIN, [
        _discourse("POST", "/posts.json", "posts_create_response.json", API_DOCS),
    ]),
    "discourse_reply": (DISCOURSE_ORIGIN, [
        _discourse("POST", "/posts.json", "posts_create_response_2020.json", REAL_API),
    ]),
    "discourse_set_tags": (DISCOURSE_ORIGIN, [
        _discourse("PUT", "/t/-/15.json", "update_topic_response.json", API_DOCS),
    ]),
    "discourse_group_members": (DISCOURSE_ORIGIN, [
        _discourse("GET", "/groups/spec-steering-committee/members.json",
                   "group_members.json", API_DOCS, (("offset", "0"), ("limit", "50"))),
    ]),
    "discourse_revisions": (DISCOURSE_ORIGIN, [
        _discourse("GET", "/posts/8801/revisions/latest.json", "revision_tags_change.json",
                   "own file shaped from Discourse's PostRevisionSerializer (no recording "
                   "exists)"),
    ]),
    "github_add_an_existing_label": (GITHUB_ORIGIN, [
        _triagebot("repo_label_get.json"),
        _triagebot("issue_labels_add.json"),
    ]),
    "github_remove_label": (GITHUB_ORIGIN, [_triagebot("issue_label_remove.json")]),
    "github_create_comment": (GITHUB_ORIGIN, [_triagebot("issue_comment_create.json")]),
    "github_single_pull": (GITHUB_ORIGIN, [
        _github_file("own_pull_single_merged.json", OWN)]),
    "github_spec_file": (GITHUB_ORIGIN, [
        _github_file("own_contents_spec_file.json", OWN, (("ref", "main"),))]),
    "github_core_projects": (GITHUB_ORIGIN, [
        _github_file("own_contents_core_projects_dir.json", OWN)]),
    "github_spec_files_in_the_tree": (GITHUB_ORIGIN, [
        _github_file("own_git_tree_recursive.json", OWN, (("recursive", "1"),))]),
    "github_issue_events": (GITHUB_ORIGIN, [
        _github_file("own_issue_events.json", OWN, PER_PAGE)]),
    "github_pull_files": (GITHUB_ORIGIN, [_github_file("docs_pull_files.json", DOCS, PER_PAGE)]),
    "github_default_branch_head": (GITHUB_ORIGIN, [
        _github_file("docs_repository.json", DOCS),
        _github_file("docs_commit_sha.json", DOCS),
        replace(_github_file("own_not_modified.json", OWN),
                path="/repos/example-org/specs/commits/main"),
    ]),
    "github_label_validation_failure": (GITHUB_ORIGIN, [
        Answer("GET", "/repos/octokit-fixture-org/errors/labels/foo", (), 404,
               GITHUB_NOT_FOUND, "GitHub's documented 404 body "
               "(https://docs.github.com/rest/issues/labels#get-a-label); no recording"),
        _octokit("octokit_error_422_validation.json", 0),
    ]),
}


def _interaction(origin: str, answer: Answer) -> dict[str, Any]:
    query = f"?{urlencode(answer.query)}" if answer.query else ""
    headers = {"X-Fixture-Source": [answer.source]}
    for name, value in answer.headers:
        headers[name] = [value]
    content_type = next((v[0] for k, v in headers.items() if k.lower() == "content-type"), "")
    if not content_type and answer.body is not None:
        headers["Content-Type"] = [content_type := JSON_TYPE]
    if answer.body is None or answer.body == "":
        body = ""
    elif isinstance(answer.body, str) and "json" not in content_type:
        body = answer.body  # a text answer, such as the bare sha
    else:
        body = json.dumps(answer.body)
    return {
        "request": {"body": None, "headers": {}, "method": answer.method,
                    "uri": f"{origin}{answer.path}{query}"},
        "response": {"body": {"string": body}, "headers": headers,
                     "status": {"code": answer.status, "message": ""}},
    }


def cassette_text(name: str) -> str:
    origin, answers = CASSETTES[name]
    sources = "".join(f"#   {a.method} {a.path}: {a.source}\n" for a in answers)
    data = {"interactions": [_interaction(origin, a) for a in answers], "version": 1}
    return (f"# Built by tests/cassettes/build_from_fixtures.py; do not edit.\n"
            f"# Answers:\n{sources}" + yaml.safe_dump(data, sort_keys=True, width=100))


def write_all() -> list[Path]:
    LIBRARY.mkdir(parents=True, exist_ok=True)
    written = []
    for name in CASSETTES:
        path = LIBRARY / f"{name}.yaml"
        path.write_text(cassette_text(name), encoding="utf-8")
        written.append(path)
    return written
