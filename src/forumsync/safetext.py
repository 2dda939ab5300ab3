"""Text copied from one side to the other is untrusted: no pings, no HTML, bounded length."""

from __future__ import annotations

import html
import re

_TAG = re.compile(r"<[^>]*>")
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
# @name and @org/team, not inside an e-mail address or a word.
_MENTION = re.compile(r"(?<![\w`])@(?=[\w][\w.-]*)")


def neutralise_mentions(text: str) -> str:
    """Put a zero-width joiner after each `@` so neither site turns it into a mention."""
    return _MENTION.sub("@\u200d", text)


def strip_html(text: str) -> str:
    """Entities are decoded first, so an escaped `&lt;img …&gt;` cannot come back as a tag."""
    decoded = html.unescape(text)
    return _TAG.sub("", _COMMENT.sub("", decoded)).replace("<", "\u2039").replace(">", "\u203a")


def safe_copy(text: str, limit: int = 300) -> str:
    """Untrusted text made fit to quote: HTML stripped, mentions neutralised, one line, bounded."""
    flat = " ".join(strip_html(text).split())
    flat = flat.replace("[", "\\[").replace("]", "\\]")
    if len(flat) > limit:
        flat = flat[: limit - 1].rstrip() + "…"
    return neutralise_mentions(flat)
