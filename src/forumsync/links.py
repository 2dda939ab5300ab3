"""Reading links out of text: forum thread URLs and pull request URLs (pure functions).

Forum URLs come in the shapes seen in the real repository: `/t/<slug>/<id>`, `/t/<id>`,
`/t/<slug>/<id>/<post>`, `/t/<slug>` (no id: resolved later by slug) and the empty
placeholder `/t/`. Anything not on the configured forum links nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

_URL = re.compile(r"https?://[^\s<>()\[\]\"'`]+")
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)


@dataclass(frozen=True)
class ThreadRef:
    """A reference to a forum thread: by id, or only by slug."""

    topic_id: int | None
    slug: str | None
    url: str


@dataclass(frozen=True)
class BadThreadRef:
    """A discussion link that links nothing: a placeholder or a page off the forum."""

    url: str
    reason: str
    kind: str = "other"  # placeholder, off-forum, not-a-thread, empty


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def parse_thread_url(url: str, forum_url: str) -> ThreadRef | BadThreadRef:
    """Classify one discussion URL against the forum at `forum_url`."""
    url = url.strip().rstrip(".,;:")
    if not url:
        return BadThreadRef(url, "the discussion link is empty", "empty")
    if _host(url) != _host(forum_url):
        return BadThreadRef(url, f"the discussion link {url} is not on the forum", "off-forum")
    segments = [s for s in urlsplit(url).path.split("/") if s]
    if not segments or segments[0] != "t":
        return BadThreadRef(url, f"the discussion link {url} is not a forum thread",
                            "not-a-thread")
    rest = segments[1:]
    if not rest:
        return BadThreadRef(url, f"the discussion link {url} is a placeholder", "placeholder")
    if rest[0].isdigit():
        return ThreadRef(int(rest[0]), None, url)
    if len(rest) >= 2 and rest[1].isdigit():
        return ThreadRef(int(rest[1]), rest[0], url)
    return ThreadRef(None, rest[0], url)


def thread_refs_in(text: str, forum_url: str) -> list[ThreadRef | BadThreadRef]:
    """Every forum-thread URL (`/t/…`) in `text`, in order. Other URLs are left out, and so
    is text inside HTML comments (the PR template's hints link the Ideas category there)."""
    found: list[ThreadRef | BadThreadRef] = []
    for match in _URL.finditer(_COMMENT.sub("", text or "")):
        url = match.group(0)
        if _host(url) != _host(forum_url):
            continue
        ref = parse_thread_url(url, forum_url)
        if isinstance(ref, ThreadRef) or ref.kind == "placeholder":
            found.append(ref)
    return found


def pull_numbers_in(text: str, repo: str) -> set[int]:
    """Numbers of the pull requests of `repo` that `text` links to."""
    pattern = re.compile(
        rf"https?://github\.com/{re.escape(repo)}/pull/(\d+)", re.IGNORECASE
    )
    return {int(n) for n in pattern.findall(text or "")}
