"""Hidden markers: every post and comment the service writes carries its idempotency key,
so the service can find its own writes again after a crash or a lost database."""

from __future__ import annotations

PREFIX = "forumsync:"


def marker(key: str) -> str:
    """An HTML comment: invisible on GitHub, kept in the raw markdown on Discourse."""
    return f"<!-- {PREFIX}{key} -->"


def with_marker(body: str, key: str) -> str:
    return f"{body.rstrip()}\n\n{marker(key)}"


def is_own(text: str) -> bool:
    """Whether a post or comment was written by the service (its own posts are not activity)."""
    return f"<!-- {PREFIX}" in (text or "")
