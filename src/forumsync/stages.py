"""The SPEC stage model: one stage per SPEC, in the order the process moves through them."""

from __future__ import annotations

from enum import StrEnum


class Stage(StrEnum):
    IDEA = "idea"
    ACCEPTED = "accepted"
    DRAFT = "draft"
    PUBLISHED = "published"
    ENDORSED = "endorsed"
    WITHDRAWN = "withdrawn"

    @property
    def is_final(self) -> bool:
        """Final stages are never reported as stalled."""
        return self in (Stage.ENDORSED, Stage.WITHDRAWN)
