"""Test support for the GitHub side: a seeded sandbox scenario, clients, and the cassette
switch the contract tests and tests/cassettes/record_github.py share.

The scenario is deterministic (fixed sandbox clock, fixed ids), so a cassette recorded from
it replays the same answers the live sandbox gives.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import vcr

from forumsync.config import GithubConfig
from forumsync.repo import RepoClient
from forumsync.sandbox.core import ServiceServer
from forumsync.sandbox.github import FakeGitHub

# A made-up token; it only ever goes to 127.0.0.1 and is filtered out of cassettes.
TOKEN = "sandbox-only-not-a-real-token"  # the fake GitHub accepts any token
COMMITTEE = ("alice-committee", "bob-committee")
TEAM = "spec-steering-committee"
CASSETTES = Path(__file__).parent / "cassettes" / "github"
REPLAY_URL = "http://github.sandbox.invalid"  # recorded origin; .invalid never resolves
RECORD_ENV = "FORUMSYNC_RECORD_GITHUB"  # set to 1 by record_github.py

# Pull request numbers the scenario creates, in order.
MERGED_SPEC, OPEN_SPEC, WITHDRAWN, ENDORSEMENT, REOPENED = 1, 2, 3, 4, 5

SPEC0 = """---
title: "SPEC 0 — Minimum Supported Dependencies"
number: 0
date: 2020-02-02
author:
  - "Alice Example <alice@example.org>"
  - "Bob Example <bob@example.org>"
discussion: https://discuss.scientific-python.org/t/spec-0-minimum-supported-versions/33
endorsed-by:
  - numpy
  - scipy
---

## Description

Support Python versions for 36 months.
"""

SPEC1 = """---
title: "SPEC 1 — Lazy Loading of Submodules and Functions"
number: 1
date: 2022-02-10
author:
  - "Carol Author <carol@example.org>"
  - "Dave Author <dave@example.org>"
is-draft: true
endorsed-by:
---

## Description

Load submodules lazily.
"""

SPEC4 = """---
title: "SPEC 4 — Using and Creating Nightly Wheels"
number: 4
date: 2026-10-01
author:
  - "Dave Author <dave@example.org>"
  - "Erin Author <erin@example.org>"
is-draft: true
endorsed-by:
---

## Description

Test against nightly wheels.
"""

OLD_SPEC2 = """---
title: "SPEC 2 — API Dispatch"
number: 2
author:
  - "Frank Author <frank@example.org>"
discussion: https://discuss.scientific-python.org/t/spec-2-api-dispatch/173
endorsed-by:
---

Older single-file layout.
"""

MALFORMED = """---
title: "SPEC 5 — Broken: front matter
author: [unclosed
---

The YAML above does not parse.
"""

CORE_PROJECTS = {"numpy": "NumPy", "scipy": "SciPy", "scikit-image": "scikit-image"}


def seed(fake: FakeGitHub) -> FakeGitHub:
    """The repository as the contract tests and cassettes expect it."""
    for login in COMMITTEE:
        fake.add_team_member(TEAM, login)
    fake.set_file("core-projects/_index.md", "---\ntitle: Core Projects\n---\n")
    fake.set_file("core-projects/register.py", "print('register')\n")
    for slug, title in CORE_PROJECTS.items():
        fake.set_file(f"core-projects/{slug}.md", f'---\ntitle: "{title}"\n---\n')
    fake.set_file("spec-0000/index.md", SPEC0)
    fake.set_file("spec-0000/chart.md", "A chart, not a SPEC.\n")
    fake.set_file("spec-0002.md", OLD_SPEC2)
    fake.set_file("spec-template.md", "---\ntitle: template\n---\n")
    thread = "https://discuss.scientific-python.org/t/spec-1-lazy-loading/123"
    numbers = [
        fake.open_pull("carol-author", "SPEC 1: Lazy loading", f"Viability thread: {thread}",
                       {"spec-0001/index.md": SPEC1}, labels=["New SPEC"]),
        fake.open_pull("dave-author", "SPEC 4: Nightly wheels", "",
                       {"spec-0004/index.md": SPEC4}, labels=["New SPEC"]),
        fake.open_pull("erin-author", "SPEC 5: An idea withdrawn", "Withdrawn later.",
                       {"spec-0005/index.md": MALFORMED}),
        fake.open_pull("frank-author", "Endorse SPEC 0 for scikit-image", "",
                       {"spec-0000/index.md": SPEC0.replace("  - scipy\n",
                                                            "  - scipy\n  - scikit-image\n"),
                        "spec-0000/chart.md": None},
                       labels=["SPEC endorsement"]),
        fake.open_pull("carol-author", "Fix typo in README", "", {"README.md": "# specs\n"}),
    ]
    assert numbers == [MERGED_SPEC, OPEN_SPEC, WITHDRAWN, ENDORSEMENT, REOPENED]
    fake.add_label("alice-committee", MERGED_SPEC, "spec-draft")
    fake.merge_pull("alice-committee", MERGED_SPEC)
    fake.add_label("bob-committee", OPEN_SPEC, "spec-accepted")
    fake.remove_label("bob-committee", OPEN_SPEC, "spec-accepted")
    fake.add_label("bob-committee", OPEN_SPEC, "spec-draft")
    fake.comment("alice-committee", OPEN_SPEC, "Thanks! Please link the viability thread.")
    fake.comment("dave-author", OPEN_SPEC, "Done: https://discuss.scientific-python.org/t/x/9")
    fake.close_pull("erin-author", WITHDRAWN)
    fake.close_pull("carol-author", REOPENED)
    fake.reopen_pull("carol-author", REOPENED)
    fake.review("bob-committee", ENDORSEMENT, "APPROVED", "The endorsement is recorded right.")
    return fake


def github_config(api_url: str, token: str | None = TOKEN, **overrides: Any) -> GithubConfig:
    """No pauses between requests in tests; a 1 s timeout (PyGithub takes whole seconds)."""
    values = dict(api_url=api_url, token=token, seconds_between_requests=0.0,
                  seconds_between_writes=0.0, timeout_seconds=1.0)
    return GithubConfig(**(values | overrides))


@dataclass
class GithubSide:
    """What a contract test gets: clients for one backend, and the waits they asked for."""

    mode: str  # "cassette" or "sandbox"
    api_url: str
    fake: FakeGitHub | None = None
    sleeps: list[float] = field(default_factory=list)

    def client(self, token: str | None = TOKEN, **kwargs: Any) -> RepoClient:
        kwargs.setdefault("sleep", self.sleeps.append)
        return RepoClient(github_config(self.api_url, token), **kwargs)


@contextmanager
def sandbox() -> Iterator[tuple[FakeGitHub, ServiceServer]]:
    """A freshly seeded fake GitHub served on 127.0.0.1."""
    fake = seed(FakeGitHub())
    with ServiceServer(fake) as server:
        yield fake, server


def recording() -> bool:
    return os.environ.get(RECORD_ENV) == "1"


def _replace_origin(origin: str, secret: str) -> tuple[Any, Any]:
    """Hooks that rewrite the sandbox's ephemeral origin to REPLAY_URL (bodies, Link headers)
    and blank any token text, so cassettes are stable and safe to commit."""

    def fix(text: str) -> str:
        return text.replace(origin, REPLAY_URL).replace(secret, "[token]")

    def request_hook(request: Any) -> Any:
        request.uri = fix(request.uri)
        return request

    def response_hook(response: dict[str, Any]) -> dict[str, Any]:
        body = response["body"].get("string")
        if isinstance(body, bytes):
            response["body"]["string"] = fix(body.decode("utf-8")).encode("utf-8")
        elif isinstance(body, str):
            response["body"]["string"] = fix(body)
        response["headers"] = {k: [fix(v) for v in values]
                               for k, values in response["headers"].items()}
        return response

    return request_hook, response_hook


def github_vcr(*, record: bool, origin: str = REPLAY_URL, secret: str = TOKEN,
               library: Path = CASSETTES) -> vcr.VCR:
    """vcrpy set up as the contract tests replay (record_mode none) or record (all)."""
    request_hook, response_hook = _replace_origin(origin, secret)
    return vcr.VCR(
        cassette_library_dir=str(library),
        record_mode="all" if record else "none",
        match_on=("method", "path", "query"),  # not host/port: the sandbox port changes
        filter_headers=["authorization", "cookie", "set-cookie"],
        filter_query_parameters=["access_token", "client_secret"],
        before_record_request=request_hook,
        before_record_response=response_hook,
        decode_compressed_response=True,
    )


@contextmanager
def github_side(mode: str, name: str) -> Iterator[GithubSide]:
    """The contract tests' backend: the live sandbox, or the cassette `name`.yaml (recorded
    from a live sandbox instead when FORUMSYNC_RECORD_GITHUB=1)."""
    if mode == "sandbox":
        with sandbox() as (fake, server):
            yield GithubSide("sandbox", server.url, fake)
        return
    path = CASSETTES / f"{name}.yaml"
    if recording():
        path.unlink(missing_ok=True)
        with sandbox() as (fake, server), github_vcr(
                record=True, origin=server.url).use_cassette(path.name):
            yield GithubSide("cassette", server.url, fake)
        return
    with github_vcr(record=False).use_cassette(path.name):
        yield GithubSide("cassette", REPLAY_URL)
