"""The sandbox: stateful stand-ins for Discourse and GitHub on 127.0.0.1.

`Sandbox` runs both on one shared clock and hands out a `Config` that points the service at
them, so the demo, the end-to-end tests and the benchmarks drive the real adapters over HTTP.
"""

from __future__ import annotations

from dataclasses import replace

from forumsync.config import Config, DatabaseConfig, load_config
from forumsync.sandbox.core import Clock, Fault, ServiceServer
from forumsync.sandbox.discourse import FakeDiscourse
from forumsync.sandbox.github import FakeGitHub

__all__ = ["Clock", "FakeDiscourse", "FakeGitHub", "Fault", "Sandbox"]

SANDBOX_GITHUB_TOKEN = "sandbox-github-token"


class Sandbox:
    """Both fake services, started together; use as a context manager."""

    def __init__(self, repo: str = "scientific-python/specs", clock: Clock | None = None,
                 forum_prefix: str = "") -> None:
        self.clock = clock or Clock()
        self.discourse = FakeDiscourse(self.clock)
        self.github = FakeGitHub(repo, self.clock)
        self._servers = [ServiceServer(self.discourse, forum_prefix),
                         ServiceServer(self.github)]
        self.discourse.add_user("forumsync")  # the service's own forum account

    def __enter__(self) -> Sandbox:
        for server in self._servers:
            server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for server in self._servers:
            server.stop()

    def config(self, database_url: str, **sync: int) -> Config:
        """The default configuration, pointed at this sandbox, with its credentials."""
        base = load_config(None, environ={
            "FORUMSYNC_DISCOURSE_API_KEY": self.discourse.api_key,
            "FORUMSYNC_GITHUB_TOKEN": SANDBOX_GITHUB_TOKEN,
        })
        return replace(
            base,
            database=DatabaseConfig(url=database_url),
            discourse=replace(base.discourse, url=self.discourse.base_url, timeout_seconds=5.0,
                              requests_per_minute=0),
            github=replace(base.github, api_url=self.github.base_url, repo=self.github.full_name,
                           seconds_between_requests=0.0, seconds_between_writes=0.0,
                           timeout_seconds=5.0),
            sync=replace(base.sync, **sync),
            source="(sandbox)",
        )

    def populate(self, people: tuple[str, ...] = ("ada", "grace", "chair", "mallory"),
                 committee: tuple[str, ...] = ("chair",),
                 core_projects: tuple[str, ...] = ("numpy", "scipy", "matplotlib"),
                 committee_name: str = "spec-steering-committee") -> None:
        """People on both sites, the committee (forum group and GitHub team, one name as in
        the default configuration) and the Core Project files on the default branch."""
        for name in people:
            self.discourse.add_user(name, groups=[committee_name] if name in committee else [])
            self.github.add_user(name)
        for name in committee:
            self.github.add_team_member(committee_name, name)
        for project in core_projects:
            self.github.set_file(f"core-projects/{project}.md", f"# {project}\n")

    def send_webhooks(self, base_url: str, github_secret: str, discourse_secret: str) -> None:
        """From now on both services deliver signed webhooks to forumsync at `base_url`
        (`/webhooks/github`, `/webhooks/discourse`), as the real ones do once configured."""
        self.github.webhooks.subscribe(f"{base_url}/webhooks/github", github_secret)
        self.discourse.webhooks.subscribe(f"{base_url}/webhooks/discourse", discourse_secret)

    def request_total(self) -> int:
        return self.discourse.request_total() + self.github.request_total()

    def reset_counts(self) -> None:
        self.discourse.reset_counts()
        self.github.reset_counts()
