"""Reading links out of text: forum thread URLs and pull request URLs (pure functions).

Forum URLs come in the shapes seen in the real repository: `/t/<slug>/<id>`, `/t/<id>`,
`/t/<slug>/<id>/<post>`, `/t/<slug>` (no id: resolved later by slug), any of these with a
`.json` suffix, and the placeholders `/t/`, `/t/<id>` and `/t/...`. A forum installed under
a path (`https://example.org/forum`) has its threads under that path. Anything not on the
configured forum links nothing. A front-matter `discussion:` value and a PR body are read
by the same rule (the first forum URL in the text), so they always agree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from forumsync.safetext import strip_html_comments

_URL = re.compile(r"https?://[^\s<>()\[\]\"'`]+", re.IGNORECASE)
MAX_ID_DIGITS = 12  # topic ids are far smaller; longer digit runs are not ids


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
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:  # a malformed port or IPv6 literal
        return ""


def _segments(url: str) -> list[str]:
    try:
        return [s for s in urlsplit(url).path.split("/") if s]
    except ValueError:
        return []


def _topic_id(segment: str) -> int | None:
    segment = segment.removesuffix(".json")
    if segment.isascii() and segment.isdigit() and len(segment) <= MAX_ID_DIGITS \
            and int(segment) > 0:  # topic ids start at 1
        return int(segment)
    return None


_DISCUSSION = re.compile(r"\bdiscussion\b", re.IGNORECASE)


def _is_placeholder(segment: str) -> bool:
    """`...`, `…` or a `<id>`-style stand-in left from the PR template."""
    return segment.strip(".…") == "" or segment.startswith(("<", "%3C", "%3c", "{"))


def _classify(url: str, forum_url: str) -> ThreadRef | BadThreadRef:
    url = url.strip().rstrip(".,;:")
    if not url:
        return BadThreadRef(url, "the discussion link is empty", "empty")
    if _host(url) != _host(forum_url):
        return BadThreadRef(url, f"the discussion link {url} is not on the forum", "off-forum")
    base = _segments(forum_url)
    segments = _segments(url)
    if segments[: len(base)] != base:
        return BadThreadRef(url, f"the discussion link {url} is not on the forum", "off-forum")
    segments = segments[len(base) :]
    if not segments or segments[0] != "t":
        return BadThreadRef(url, f"the discussion link {url} is not a forum thread",
                            "not-a-thread")
    rest = segments[1:]
    if not rest or _is_placeholder(rest[0]):
        return BadThreadRef(url, f"the discussion link {url} is a placeholder", "placeholder")
    first = _topic_id(rest[0])
    if first is not None:
        return ThreadRef(first, None, url)
    if len(rest) >= 2:
        second = _topic_id(rest[1])
        if second is not None:
            return ThreadRef(second, rest[0], url)
        if _is_placeholder(rest[1]):
            return BadThreadRef(url, f"the discussion link {url} is a placeholder",
                                "placeholder")
    return ThreadRef(None, rest[0].removesuffix(".json"), url)


def thread_refs_in(text: str, forum_url: str) -> list[ThreadRef | BadThreadRef]:
    """Every forum-thread URL (`/t/…`) in `text`, in order, with the placeholders; and when
    there is no thread link, the off-forum URLs a line calls the discussion ("Discussion:
    https://…/issues/5"), which link nothing. Other URLs are left out, and so is text inside
    HTML comments (the PR template's hints link the Ideas category there)."""
    found: list[ThreadRef | BadThreadRef] = []
    elsewhere: list[ThreadRef | BadThreadRef] = []
    visible = strip_html_comments(text or "")
    for match in _URL.finditer(visible):
        url = match.group(0)
        if _host(url) != _host(forum_url):
            line = visible[visible.rfind("\n", 0, match.start()) + 1 : match.start()]
            if _DISCUSSION.search(line):
                elsewhere.append(_classify(url, forum_url))
            continue
        ref = _classify(url, forum_url)
        if isinstance(ref, ThreadRef) or ref.kind == "placeholder":
            found.append(ref)
    if any(isinstance(ref, ThreadRef) for ref in found):
        return found
    return found + elsewhere


def parse_thread_url(url: str, forum_url: str) -> ThreadRef | BadThreadRef:
    """Classify one discussion link (a URL, `<URL>` or `[text](URL)`, as front matter gives
    it) against the forum at `forum_url`, which may sit under a path: the first thread link
    `thread_refs_in` finds in it, so both finders agree; else why it links nothing."""
    refs = thread_refs_in(url or "", forum_url)
    if refs:
        return refs[0]
    first = _URL.search(url or "")
    return _classify(first.group(0) if first else (url or ""), forum_url)


def pull_numbers_in(text: str, repo: str, web_url: str = "https://github.com") -> set[int]:
    """Numbers of the pull requests of `repo` that `text` links to, on the GitHub web host
    `web_url` (a GitHub Enterprise host, possibly under a path) or on github.com."""
    hosts = {"github.com"}
    split = urlsplit(web_url.rstrip("/"))
    hosts.add(f"{split.netloc}{split.path}")
    where = "(?:" + "|".join(re.escape(h) for h in sorted(hosts)) + ")"
    number = rf"(\d{{1,{MAX_ID_DIGITS}}})(?!\d)"
    pattern = re.compile(rf"https?://{where}/{re.escape(repo)}/pull/{number}", re.IGNORECASE)
    return {int(n) for n in pattern.findall(text or "")}
