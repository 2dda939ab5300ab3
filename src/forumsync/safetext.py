"""Text copied from one side to the other is untrusted: no pings, no live markup, bounded.

Three kinds of output, one per place text lands:
- `plain_title`: a title field (Discourse shows it as text): one line, bounded, no pings.
- `markdown_text`: plain text placed inside Markdown (a title in a link, a login): every
  character that could start markup is escaped, so it renders as typed (`Array<T>` too).
- `safe_copy`: Markdown written by a person (a PR body), read with markdown-it-py and
  written back as one line of escaped text in which only links to http(s) and mailto
  targets stay links; HTML elements are dropped (nh3 removes `<script>` with its content).

Everything here runs in time linear in the input: no regex that can backtrack over the
input, and Markdown is parsed only on a bounded prefix (comments are removed from the whole
text first, with `str.find`).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

import nh3
from markdown_it import MarkdownIt

ZWJ = "\u200d"
# What text after a kept code span or link reads as: both sites start a new text node
# there, so a mention right after one (`` `x`@team ``) is a mention.
BOUNDARY = " "
ELLIPSIS = "…"
LINK_SCHEMES = frozenset({"http", "https", "mailto"})

# `@name` and `@org/team`, but not the `@` of an e-mail address (a letter or digit before).
_MENTION = re.compile(r"(?<![A-Za-z0-9])@(?=\w)")
# `owner/repo#12` and `repo#12` (GitHub cross-references); `#12` alone names our own repo.
_CROSSREF = re.compile(r"(?<=[\w.-])#(?=\d)")
# C0/C1 controls (tabs and newlines are turned into spaces first) and bidi overrides.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_SPACE = re.compile(r"\s+")
_LIST_NUMBER = re.compile(r"\d{1,9}[.)]")
_TAG_NAME = re.compile(r"</?([A-Za-z][A-Za-z0-9-]*)")
_ESCAPES = {c: "\\" + c for c in "\\`*_[]~$!"} | {"<": "&lt;", ">": "&gt;", "&": "&amp;"}
# Markdown past this many characters per character of output is never read: bounds the cost.
PREFIX_FACTOR = 2
PREFIX_EXTRA = 128

_MD = MarkdownIt("commonmark")
# Known HTML element names: a tag among these is markup and is dropped from a copied body;
# anything else that looks like a tag (`Array<T>`) is text and is kept, escaped.
_HTML_ELEMENTS = frozenset(nh3.ALLOWED_TAGS) | {
    "script", "style", "iframe", "object", "embed", "form", "input", "button", "textarea",
    "select", "option", "link", "meta", "base", "svg", "math", "video", "audio", "source",
    "html", "head", "body", "title", "frame", "frameset", "noscript", "template", "slot",
    "marquee", "picture", "dialog", "canvas",
}


def neutralise_mentions(text: str) -> str:
    """Put a zero-width joiner after each mention's `@` so neither site pings anyone."""
    return _MENTION.sub("@" + ZWJ, text)


def neutralise_crossrefs(text: str) -> str:
    """Put a zero-width joiner after the `#` of `owner/repo#12`, so GitHub does not link
    (and notify) another repository's issue."""
    return _CROSSREF.sub("#" + ZWJ, text)


_TERMINAL_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def terminal_safe(text: str) -> str:
    """`text` fit for an operator's terminal: no escape sequences (a title cannot clear the
    screen, retitle the window or plant a hyperlink), newlines and tabs kept."""
    return _TERMINAL_CONTROL.sub("", text)


def neutralise(text: str) -> str:
    return neutralise_crossrefs(neutralise_mentions(text))


def strip_html_comments(text: str) -> str:
    """`text` without `<!-- … -->`. An unclosed `<!--` hides the rest only where Markdown
    starts an HTML block with it (at the start of a line); in the middle of a line (``
    `<!--` `` in prose) it is text. Linear: each `find` starts where the last one ended."""
    parts: list[str] = []
    position = 0
    while True:
        start = text.find("<!--", position)
        if start < 0:
            parts.append(text[position:])
            return "".join(parts)
        end = text.find("-->", start + 4)
        if end < 0:
            line_start = text.rfind("\n", 0, start) + 1
            opens_block = len(text[line_start:start]) <= 3 and not text[line_start:start].strip()
            parts.append(text[position:start] if opens_block else text[position:])
            return "".join(parts)
        parts.append(text[position:start])
        position = end + 3


def _one_line(text: str) -> str:
    return _SPACE.sub(" ", _CONTROL.sub("", _SPACE.sub(" ", text)))


def _bounded(pieces: list[str], limit: int, cut: bool = False) -> str:
    """Whole pieces (an escape is never split) up to `limit` characters, `…` when cut
    here or (`cut`) before."""
    total = sum(len(p) for p in pieces)
    if total <= limit and not cut:
        return "".join(pieces).strip()
    kept: list[str] = []
    used = 0
    for piece in pieces:
        if used + len(piece) > limit - 1:
            break
        kept.append(piece)
        used += len(piece)
    return "".join(kept).rstrip() + ELLIPSIS


def _line_start_safe(text: str) -> str:
    """Escape what would start a heading, list or rule at the start of a line (`#`, `-`,
    `+`, `=`, `1.`): the text is often placed at one, after `> ` or `- `."""
    if text[:1] in ("#", "-", "+", "="):
        return "\\" + text
    number = _LIST_NUMBER.match(text)
    if number:
        return text[: number.end() - 1] + "\\" + text[number.end() - 1 :]
    return text


def _escaped(text: str) -> list[str]:
    return [_ESCAPES.get(c, c) for c in text]


def plain_title(text: str, limit: int = 250) -> str:
    """A title for a field shown as plain text: one line, no control characters, no pings,
    at most `limit` characters. Nothing is removed: `<script>` stays readable text."""
    flat = _one_line((text or "")[: limit * PREFIX_FACTOR + PREFIX_EXTRA]).strip()
    return _bounded(list(neutralise(flat)), limit)


def markdown_text(text: str, limit: int = 300) -> str:
    """Plain text to put inside Markdown: renders exactly as given (`Use Array<T>`), with
    no markup, links, pings or cross-references of its own; one line, `limit` characters."""
    flat = _one_line((text or "")[: limit * PREFIX_FACTOR + PREFIX_EXTRA]).strip()
    return _line_start_safe(_bounded(_escaped(neutralise(flat)), limit - 1))


# --- safe_copy: Markdown in, one inert line out --------------------------------------------


@dataclass
class _Segment:
    kind: str  # text, link, code
    text: str
    href: str = ""


def _allowed_href(href: str) -> bool:
    try:
        return urlsplit(href).scheme.lower() in LINK_SCHEMES
    except ValueError:
        return False


def _html_text(fragment: str) -> str:
    """What an HTML block shows as text: tags dropped (scripts and styles with their
    content), entities decoded; the result is escaped again when written."""
    return html.unescape(nh3.clean(fragment, tags=set()))


def _inline_html(markup: str) -> str:
    """A known HTML tag is dropped; `<T>` in `Array<T>` is text, not an element."""
    name = _TAG_NAME.match(markup)
    return "" if name and name.group(1).lower() in _HTML_ELEMENTS else markup


def _segments(source: str) -> list[_Segment]:
    found: list[_Segment] = []

    def add(kind: str, text: str, href: str = "") -> None:
        if kind == "text" and found and found[-1].kind == "text":
            found[-1].text += text  # one run, so a mention split by `*@*bob` is still seen
        else:
            found.append(_Segment(kind, text, href))

    link: _Segment | None = None
    for block in _MD.parse(source):
        if block.type in ("fence", "code_block"):
            add("code", block.content)
        elif block.type == "html_block":
            add("text", " " + _html_text(block.content) + " ")
        elif block.type == "inline":
            for token in block.children or ():
                if link is not None:
                    if token.type == "link_close":
                        add("link", link.text, link.href)
                        link = None
                    elif token.type in ("text", "code_inline", "image"):
                        link.text += token.content
                    continue
                if token.type == "link_open":
                    href = str(token.attrs.get("href", ""))
                    if _allowed_href(href):
                        link = _Segment("link", "", href)
                elif token.type in ("text", "image"):  # an image: its alt text, no image
                    add("text", token.content)
                elif token.type == "code_inline":
                    add("code", token.content)
                elif token.type in ("softbreak", "hardbreak"):
                    add("text", " ")
                elif token.type == "html_inline":
                    add("text", _inline_html(token.content))
        else:
            add("text", " ")  # between blocks
    return found


def _code_span(content: str) -> str:
    """A code span whose fence is longer than any backtick run inside it, so it closes."""
    longest = run = 0
    for char in content:
        run = run + 1 if char == "`" else 0
        longest = max(longest, run)
    fence = "`" * (longest + 1)
    pad = " " if content.startswith("`") or content.endswith("`") else ""
    return f"{fence}{pad}{content}{pad}{fence}"


def _neutral_after(before: str, text: str) -> str:
    """`text` neutralised as it reads after `before` (the last characters of the previous
    segment), so `@` + a link's text or `o/r#` + `1` cannot form a mention or reference."""
    return neutralise(before + text)[len(before):] if before else neutralise(text)


def _code_cut(content: str, room: int) -> str:
    """The longest start of `content` whose code span fits `room` (its fence and padding
    depend on the backticks kept, so trim until it fits)."""
    kept = content
    while kept and len(_code_span(kept)) > room:
        kept = kept[: len(kept) - max(1, len(_code_span(kept)) - room)].rstrip()
    return kept


def _rendered(segment: _Segment, room: int, before: str) -> tuple[list[str], bool, str]:
    """A segment as pieces, whether it had to be cut to fit `room`, and the last two
    visible characters so far. A link or a code span is one piece, so truncation never
    leaves one open (a cut code span is closed)."""
    if segment.kind == "text":
        plain = _neutral_after(before, _one_line(segment.text))
        return _escaped(plain), False, (before + plain)[-2:]
    if segment.kind == "code":
        content = _neutral_after(before, _one_line(segment.text).strip())
        if not content:
            return [], False, before
        if len(_code_span(content)) <= room:
            return [_code_span(content)], False, BOUNDARY
        kept = _code_cut(content, room)
        return ([_code_span(kept)] if kept else []), True, before
    plain = _neutral_after(before, _one_line(segment.text).strip())
    label = "".join(_escaped(plain)) or "".join(_escaped(segment.href))
    whole = f"[{label}](<{segment.href}>)"
    if len(whole) <= room:
        return [whole], False, BOUNDARY
    plain = _neutral_after(before, _one_line(segment.text))
    return _escaped(plain), False, (before + plain)[-2:]


def safe_copy(text: str, limit: int = 300) -> str:
    """Untrusted Markdown made fit to quote on either site: one line of at most `limit`
    characters; HTML comments and elements dropped, other markup shown as text; links kept
    only to http(s) and mailto targets; mentions and cross-references neutralised."""
    source = strip_html_comments(text or "")[: limit * PREFIX_FACTOR + PREFIX_EXTRA]
    pieces: list[str] = []
    used = 0
    before = ""
    cut = False
    for segment in _segments(source):
        rendered, cut, before = _rendered(segment, max(0, limit - 2 - used), before)
        pieces.extend(rendered)
        used += sum(len(p) for p in rendered)
        if cut or used > limit:
            break
    return _line_start_safe(_bounded(_collapse(pieces), limit - 1, cut))


def _collapse(pieces: list[str]) -> list[str]:
    """No leading space, and no space after a space (segments each bring their own)."""
    kept: list[str] = []
    previous = " "
    for piece in pieces:
        if piece == " " and previous.endswith(" "):
            continue
        kept.append(piece)
        previous = piece
    return kept
