"""GitHub payloads to records: pure functions, no HTTP, so each is tested on recorded
payloads alone (tests/fixtures/github). They raise only KeyError, TypeError or ValueError,
which the client turns into a ServiceError naming the call.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Collection, Iterable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import frontmatter
import yaml
from frontmatter.default_handlers import YAMLHandler

from forumsync.markers import is_own
from forumsync.records import (
    Activity,
    CommentRecord,
    IssueEvent,
    PullFile,
    PullRecord,
    SpecDocument,
)
from forumsync.specfiles import is_spec_path
from forumsync.timeutil import parse_iso

EVENT_KINDS = frozenset({"labeled", "unlabeled", "closed", "reopened", "merged"})
_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="?([^",]+)"?')
# The only hunk of an added file's patch; N is left out when it is 1 (git's own form)
SYMLINK_MODE = "120000"  # a git tree entry that is a symbolic link, not a document
_ADDED_HUNK = re.compile(r"@@ -0,0 \+1(?:,([0-9]{1,9}))? @@")
_SPEC_TITLE_NUMBER = re.compile(r"\bSPEC\s*0*(\d+)", re.IGNORECASE)
# GitHub's no-reply commit addresses, `ID+login@...` (since 2017) or `login@...` (older)
_NOREPLY = re.compile(r"^(?:\d+\+)?([^@\s]+)@users\.noreply\.github\.com$", re.IGNORECASE)


def lower_keys(headers: Mapping[str, Any]) -> dict[str, str]:
    """Header names in one case: GitHub has sent Title-Case and lower-case over the years."""
    return {str(k).lower(): str(v) for k, v in headers.items()}


def parse_links(header: str | None) -> dict[str, str]:
    """rel -> URL from a Link header. The URLs may change path between pages
    (`/repos/o/r/pulls` -> `/repositories/123/pulls?page=2`): follow them as given."""
    return {rel: url for url, rel in _LINK.findall(header or "")}


def next_page(headers: Mapping[str, Any]) -> str | None:
    return parse_links(lower_keys(headers).get("link")).get("next")


def etag_of(headers: Mapping[str, Any]) -> str | None:
    """The ETag exactly as sent, weak `W/"..."` or strong, to be echoed in If-None-Match."""
    return lower_keys(headers).get("etag") or None


def login_of(user: Mapping[str, Any] | None) -> str:
    """A deleted account comes back as null; GitHub shows it as `ghost`."""
    return str(user["login"]) if user and user.get("login") else "ghost"


def _time(value: str | None) -> datetime | None:
    return parse_iso(value) if value else None


def pull_from_json(data: Mapping[str, Any]) -> PullRecord:
    """A pull from the list or the single endpoint. List items carry `merged_at` but no
    `merged` (only the single pull has it, with `merged_by`), so merged is derived."""
    merged = data.get("merged")
    if merged is None:
        merged = data.get("merged_at") is not None
    return PullRecord(
        number=int(data["number"]),
        title=data.get("title") or "",
        body=data.get("body") or "",
        state=str(data["state"]),
        merged=bool(merged),
        author=login_of(data.get("user")),
        labels=tuple(label["name"] for label in data.get("labels") or ()),
        created_at=parse_iso(data["created_at"]),
        updated_at=parse_iso(data["updated_at"]),
        merged_at=_time(data.get("merged_at")),
        closed_at=_time(data.get("closed_at")),
        merged_by=login_of(data["merged_by"]) if data.get("merged_by") else None,
        head_sha=(data.get("head") or {}).get("sha") or "",
        html_url=data.get("html_url") or "",
    )


def pull_file_from_json(data: Mapping[str, Any]) -> PullFile:
    """A row of a PR's files; an added SPEC file's text from its patch (see `added_text`),
    with the commit the row describes (the `ref` of its `contents_url`)."""
    status, filename = str(data["status"]), str(data["filename"])
    text = ref = None
    if status == "added" and is_spec_path(filename):
        text = added_text(data.get("patch"), data.get("additions"))
        refs = parse_qs(urlsplit(str(data.get("contents_url") or "")).query).get("ref")
        ref = refs[0] if refs else None
    return PullFile(filename=filename, status=status,
                    previous_filename=data.get("previous_filename"), text=text, ref=ref)


def added_text(patch: Any, additions: Any = None) -> str | None:
    """An added file's whole text from its patch, or None unless the patch is exactly one
    complete hunk from nothing: `@@ -0,0 +1,N @@` (`+1 @@` for one line), N lines each
    starting with `+`, then at most git's `\\ No newline at end of file`. GitHub leaves the
    patch out for binary files and large diffs; a cut patch, or a count that disagrees with
    `additions`, is None as well, and the caller reads the file instead."""
    if not isinstance(patch, str):
        return None
    lines = patch.split("\n")
    if lines[-1] == "":  # ended by a newline
        lines.pop()
    header = _ADDED_HUNK.fullmatch(lines[0]) if lines else None
    if header is None:
        return None
    count = int(header.group(1)) if header.group(1) is not None else 1
    body, rest = lines[1 : count + 1], lines[count + 1 :]
    if count < 1 or len(body) != count or not all(line.startswith("+") for line in body):
        return None
    if rest and (len(rest) > 1 or not rest[0].startswith("\\ ")):
        return None
    if additions is not None and (type(additions) is not int or additions != count):
        return None
    text = "\n".join(line[1:] for line in body)
    return text if rest else text + "\n"


def event_from_json(data: Mapping[str, Any]) -> IssueEvent | None:
    """An issue event the engine reads (label changes, close, reopen, merge); else None."""
    if data.get("event") not in EVENT_KINDS:
        return None
    label = data.get("label") or {}
    return IssueEvent(
        id=int(data["id"]),
        event=str(data["event"]),
        actor=login_of(data.get("actor")),
        created_at=parse_iso(data["created_at"]),
        label=label.get("name"),
    )


def issue_number_of(comment: Mapping[str, Any]) -> int | None:
    """The issue or PR a comment belongs to, from its `issue_url` (…/issues/{n})."""
    tail = str(comment.get("issue_url") or "").rstrip("/").rsplit("/", 2)
    if len(tail) == 3 and tail[1] == "issues" and tail[2].isascii() and tail[2].isdigit():
        return int(tail[2])
    return None


def comment_from_json(data: Mapping[str, Any]) -> CommentRecord:
    return CommentRecord(
        id=int(data["id"]),
        author=login_of(data.get("user")),
        body=data.get("body") or "",
        created_at=parse_iso(data["created_at"]),
    )


def _git_person_name(person: Mapping[str, Any]) -> str:
    """Who made a commit, from its git `author` {name, email, date}: a login when the payload
    has one (a `login` key, or a GitHub no-reply address), else the name as typed in git."""
    if person.get("login"):
        return str(person["login"])
    noreply = _NOREPLY.match(str(person.get("email") or ""))
    if noreply:
        return noreply.group(1)
    return str(person.get("name") or person.get("email") or "unknown")


def _lowered(logins: Collection[str]) -> frozenset[str]:
    """Logins to compare in any case; a lone string is one login, not its letters."""
    return frozenset(login.lower() for login in ((logins,) if isinstance(logins, str) else logins))


def activity_from_timeline(
    data: Mapping[str, Any], exclude: Collection[str] = ()
) -> Activity | None:
    """One issue-timeline item as human activity, or None.

    The three kinds carry their facts differently: `commented` has `user` (and `actor`),
    `created_at` and `body`; `reviewed` has `user` and `submitted_at` (none while pending),
    no actor; `committed` has neither actor nor id, only git's `author` / `committer`
    {name, email, date}: the author's date and login (see `_git_person_name`) are used.
    Everything else (labels, close, merge, references, subscriptions, line comments that
    belong to a review) is not activity. Comments carrying the service's hidden marker, and
    actors whose login is in `exclude` (any case), are skipped.
    """
    kind = data.get("event")
    if kind == "commented":
        if is_own(data.get("body") or ""):
            return None
        actor = login_of(data.get("user") or data.get("actor"))
        at = _time(data.get("created_at"))
    elif kind == "reviewed":
        if str(data.get("state") or "").lower() == "pending":
            return None
        actor, at = login_of(data.get("user")), _time(data.get("submitted_at"))
    elif kind == "committed":
        person = data.get("author") or data.get("committer") or {}
        actor, at = _git_person_name(person), _time(person.get("date"))
    else:
        return None
    if at is None or actor.lower() in _lowered(exclude):
        return None
    return Activity(at=at, actor=actor, kind=str(kind))


def latest_activity(
    items: Iterable[Mapping[str, Any]], exclude: Collection[str] = ()
) -> Activity | None:
    """The latest activity among timeline items (on equal times, the later item)."""
    skip = _lowered(exclude)
    found = [a for a in (activity_from_timeline(item, skip) for item in items) if a]
    if not found:
        return None
    return max(enumerate(found), key=lambda pair: (pair[1].at, pair[0]))[1]


def timeline_comments(items: Iterable[Mapping[str, Any]]) -> tuple[CommentRecord, ...]:
    """The comments among timeline items (each `commented` item is the comment itself)."""
    return tuple(comment_from_json(item) for item in items if item.get("event") == "commented")


def page_number(url: str) -> int | None:
    """The `page` a Link URL asks for; None when it names none (a cursor, say)."""
    values = parse_qs(urlsplit(url).query).get("page")
    return int(values[-1]) if values and values[-1].isdigit() else None


def decode_content(data: Any) -> str:
    """The text of a contents-API file: base64 with a newline every 60 characters."""
    if isinstance(data, list):
        raise ValueError("is a directory, not a file")
    if data.get("encoding") != "base64":
        raise ValueError(f"content not served as base64 (encoding {data.get('encoding')!r})")
    return base64.b64decode(data.get("content") or "").decode("utf-8")


class _NoAliasLoader(yaml.SafeLoader):
    """YAML without anchors and aliases: a few hundred bytes of nested aliases expand to
    gigabytes ("billion laughs"), and SPEC front matter never needs them."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.events.AliasEvent):
            raise yaml.composer.ComposerError(None, None, "aliases are not allowed",
                                              self.peek_event().start_mark)
        return super().compose_node(parent, index)


class _FrontMatterYAML(YAMLHandler):
    def load(self, fm: str, **kwargs: Any) -> Any:
        return yaml.load(fm, Loader=_NoAliasLoader)


def _strings(value: Any, separator: str | None = None) -> tuple[str, ...]:
    """`author` / `endorsed-by`: a YAML list, a single value (split on `separator`, as in
    `numpy, scipy`), or empty (None or "")."""
    if value is None or value == "":
        return ()
    if not isinstance(value, list | tuple):
        value = str(value).split(separator) if separator else [value]
    return tuple(text for item in value if item is not None
                 and not isinstance(item, dict | list) and (text := str(item).strip()))


def _spec_number(meta: Mapping[str, Any]) -> int | None:
    number = meta.get("number")
    if isinstance(number, int) and not isinstance(number, bool):
        return number
    if isinstance(number, str) and number.strip().isascii() and number.strip().isdigit():
        return int(number)
    found = _SPEC_TITLE_NUMBER.search(str(meta.get("title") or ""))
    return int(found.group(1)) if found else None


def spec_document_from_text(path: str, text: str) -> SpecDocument:
    """Parse a SPEC file's YAML front matter; ValueError when it is missing or malformed,
    so a broken file is reported instead of passing as a SPEC without number or title.
    A UTF-8 byte order mark before the front matter (some editors write one) is skipped."""
    text = text.removeprefix("\ufeff")
    try:
        post = frontmatter.loads(text, handler=_FrontMatterYAML())
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(f"YAML front matter does not parse ({first})") from None
    meta = dict(post.metadata)
    if not meta:
        starts = text.startswith("---")
        raise ValueError("front matter is empty or not a mapping" if starts else "no front matter")
    title = meta.get("title")
    if not isinstance(title, str) or not title.strip():
        raise ValueError("front matter has no title")
    draft = meta.get("is-draft")
    discussion = meta.get("discussion")
    return SpecDocument(
        path=path,
        number=_spec_number(meta),
        title=title.strip(),
        authors=_strings(meta.get("author")),
        is_draft=draft is True or str(draft).strip().lower() == "true",
        endorsed_by=_strings(meta.get("endorsed-by"), separator=","),
        discussion=str(discussion) if discussion else None,
        front_matter=meta,
    )


def spec_files_from_tree(entries: list[Mapping[str, Any]]) -> dict[str, str]:
    """path -> blob sha of the SPEC documents in a recursive git tree listing."""
    return {
        str(e["path"]): str(e["sha"])
        for e in entries
        if e.get("type") == "blob" and e.get("mode") != SYMLINK_MODE
        and is_spec_path(str(e["path"]))
    }


def core_projects_from_listing(entries: list[Mapping[str, Any]]) -> list[str]:
    """Project slugs from the core-projects folder: `numpy.md` -> numpy; `_index.md`,
    `register.py` and sub-folders are not projects."""
    names = {
        str(e["name"])[: -len(".md")]
        for e in entries
        if e.get("type") == "file"
        and str(e["name"]).endswith(".md")
        and not str(e["name"]).startswith(("_", "."))
        and str(e["name"]).lower() not in ("index.md", "readme.md")
    }
    return sorted(names)


def already_exists(error: Any) -> bool:
    """Whether a 422 body says the thing being created exists (`code: already_exists`), as
    opposed to another validation failure (`code: invalid`, a bad name or colour)."""
    errors = error.get("errors") if isinstance(error, Mapping) else None
    return any(isinstance(e, Mapping) and e.get("code") == "already_exists"
               for e in errors or ())
