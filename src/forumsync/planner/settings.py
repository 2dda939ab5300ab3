"""What the planner needs from the configuration: addresses, categories and stage names."""

from __future__ import annotations

from dataclasses import dataclass

from forumsync.config import Config
from forumsync.stages import Stage


@dataclass(frozen=True)
class PlanSettings:
    forum_url: str
    repo: str
    github_url: str  # the web address: github.com or a GitHub Enterprise host
    ideas_category_id: int
    accepted_category_id: int
    stage_labels: dict[str, str]
    stage_tags: dict[str, str]
    announce_window_days: int = 7

    @classmethod
    def from_config(cls, config: Config) -> PlanSettings:
        return cls(
            forum_url=config.discourse.url,
            repo=config.github.repo,
            github_url=config.github.web_url,
            ideas_category_id=config.discourse.ideas_category_id,
            accepted_category_id=config.discourse.accepted_category_id,
            stage_labels=dict(config.github.stage_labels),
            stage_tags=dict(config.discourse.stage_tags),
            announce_window_days=config.sync.announce_window_days,
        )

    def label(self, stage: Stage) -> str | None:
        return self.stage_labels.get(stage.value)

    def tag(self, stage: Stage) -> str | None:
        return self.stage_tags.get(stage.value)

    def stage_of_label(self, name: str) -> Stage | None:
        """The stage a label names, compared without regard to case, as GitHub does."""
        folded = name.casefold()
        return next((Stage(s) for s, n in self.stage_labels.items() if n.casefold() == folded),
                    None)

    def stage_of_tag(self, name: str) -> Stage | None:
        """The stage a tag names (Discourse stores tags lower-cased)."""
        folded = name.casefold()
        return next((Stage(s) for s, n in self.stage_tags.items() if n.casefold() == folded),
                    None)

    def thread_url(self, topic_id: int, slug: str = "") -> str:
        return f"{self.forum_url.rstrip('/')}/t/{slug or 'topic'}/{topic_id}"

    def pull_url(self, number: int) -> str:
        return f"{self.github_url}/{self.repo}/pull/{number}"

    def doc_url(self, path: str) -> str:
        return f"{self.github_url}/{self.repo}/blob/HEAD/{path}"
