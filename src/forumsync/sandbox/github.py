"""A stateful fake of the GitHub REST endpoints forumsync uses, served on 127.0.0.1.

One repository with a `main` branch of text files and real git blob shas; pull requests with
their commits, labels, issue events, comments, reviews and issue timeline; org teams. Shapes
follow recorded GitHub traffic: list items carry `merged_at` but no `merged`; Link headers
page through `/repositories/{id}/...`; strong ETags and 304s that cost no rate limit; base64
file content wrapped every 60 chars; rate-limit headers in GitHub's Title-Case; timeline
commits with git's author {name, email, date} and no actor. Tests act as people through plain
methods (`open_pull`, `add_label`, `review`, `merge_pull`, ...); the service acts through HTTP.
"""

from __future__ import annotations

import base64
import difflib
import hashlib
import itertools
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote, urlencode

from forumsync.sandbox.core import Clock, FakeService, Request, Response, iso, route
from forumsync.sandbox.webhooks import WebhookSender

DOCS = "https://docs.github.com/rest"
HTML = "https://github.com"
SHA_MEDIA_TYPE = "application/vnd.github.sha"
REPO = "/repos/{owner}/{name}"
BY_ID = "/repositories/{repo_id}"  # where GitHub's Link headers point for later pages


def blob_sha(text: str) -> str:
    """Git's blob id, as GitHub reports it for a file."""
    data = text.encode("utf-8")
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def wrapped_base64(text: str) -> str:
    """The contents API's encoding: base64 with a newline after every 60 characters."""
    flat = base64.b64encode(text.encode("utf-8")).decode("ascii")
    return "".join(flat[i : i + 60] + "\n" for i in range(0, len(flat), 60))


def _git_lines(text: str) -> list[str]:
    """Lines as git splits them: at `\\n` only, each keeping it (the last may lack it)."""
    parts = text.split("\n")
    return [part + "\n" for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def git_patch(old: str, new: str) -> str:
    """A file's diff as GitHub's files listing gives it in `patch`: the hunks of a unified
    diff with three lines of context and no file header, git's marker after a last line
    without a newline, and no newline at the end."""
    out: list[str] = []
    diff = difflib.unified_diff(_git_lines(old), _git_lines(new), lineterm="", n=3)
    for line in itertools.islice(diff, 2, None):  # past the `---` and `+++` lines
        if line.startswith("@@") or line.endswith("\n"):
            out.append(line.removesuffix("\n"))
        else:
            out += [line, "\\ No newline at end of file"]
    return "\n".join(out)


def _sha(*parts: object) -> str:
    return hashlib.sha1("\n".join(map(str, parts)).encode("utf-8")).hexdigest()


def error(status: int, message: str, doc: str = "", **extra: Any) -> Response:
    return Response(status, {"message": message, **extra, "documentation_url": f"{DOCS}{doc}"})


def _invalid(resource: str, code: str, name: str, doc: str) -> _Reply:
    return _Reply(error(422, "Validation Failed", doc,
                        errors=[{"resource": resource, "code": code, "field": name}]))


class _Reply(Exception):
    """Raised by a handler to answer at once (404, 401, 422)."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


@dataclass
class Commit:
    sha: str
    files: dict[str, str]
    message: str
    date: datetime  # the clock time it was made (git author and committer date)
    parents: tuple[str, ...] = ()
    author: str = ""  # the login that made it ("" for the seeded initial commit)
    identity: tuple[str, str] = ("", "")  # git's author (name, email) when it was made


@dataclass
class Pull:
    number: int
    title: str
    body: str
    author: str
    base_sha: str
    head_sha: str
    changes: dict[str, str | None]  # path -> new text, None: deleted
    created_at: datetime
    updated_at: datetime
    labels: list[str] = field(default_factory=list)
    state: str = "open"
    closed_at: datetime | None = None
    merged_at: datetime | None = None
    merged_by: str | None = None
    merge_commit_sha: str | None = None

    @property
    def merged(self) -> bool:
        return self.merged_at is not None


@dataclass
class Comment:
    id: int
    number: int
    author: str
    body: str
    created_at: datetime


@dataclass
class Review:
    id: int
    number: int
    user: str
    state: str  # APPROVED, CHANGES_REQUESTED, COMMENTED
    body: str
    submitted_at: datetime
    commit_id: str


REVIEW_STATES = frozenset({"APPROVED", "CHANGES_REQUESTED", "COMMENTED"})


@dataclass
class Event:
    id: int
    number: int
    event: str
    actor: str
    created_at: datetime
    label: str | None = None
    commit_id: str | None = None


class FakeGitHub(FakeService):
    name = "github"

    def __init__(self, repo: str = "scientific-python/specs", clock: Clock | None = None) -> None:
        super().__init__(clock)
        self.owner, self.repo_name = repo.split("/", 1)
        self.full_name = repo
        self.repo_id, self.org_id = 458_300_001, 73_500_001
        self.by_id = f"/repositories/{self.repo_id}"
        self.default_branch = "main"
        self.api_login = "forumsync-bot"  # who the token acts as
        self.tokens: dict[str, str] = {}  # token -> login; empty: any token is api_login
        self.users: dict[str, int] = {}
        self.teams: dict[str, set[str]] = {}
        self.team_ids: dict[str, int] = {}
        self.repo_labels: dict[str, dict[str, Any]] = {}  # lower-case name -> label
        self.pulls: dict[int, Pull] = {}
        self.comments: list[Comment] = []
        self.reviews: list[Review] = []
        self.events: list[Event] = []
        # login -> git (name, email) for commits made from now on; by default the login and
        # GitHub's no-reply address `{id}+{login}@users.noreply.github.com`
        self.git_identities: dict[str, tuple[str, str]] = {}
        self.commits: dict[str, Commit] = {}
        self.rate_used: Counter[str] = Counter()  # identity -> requests this hour
        # GitHub's per-file diff limit (its documented "repository limits"): a larger diff is
        # listed without its `patch`; tests lower these to see that case
        self.patch_max_lines, self.patch_max_bytes = 20_000, 500_000
        self.rate_reset = int(time.time()) + 3600  # wall clock: clients compare with theirs
        self._ids = itertools.count(1_000_001)
        self._numbers = itertools.count(1)
        first = Commit("", {"README.md": f"# {self.repo_name}\n"}, "Initial commit",
                       self.clock.now())
        self.branch_head = self._store(first)
        self.webhooks = WebhookSender("github")
        self.apps: dict[int, dict[str, Any]] = {}  # GitHub Apps: id -> key, slug, installation

    # --- acting as people (plain methods, not HTTP) --------------------------------------

    def add_user(self, login: str) -> int:
        with self.lock:
            return self.users.setdefault(login, 5_000_000 + len(self.users) + 1)

    def register_app(self, app_id: int, public_key_pem: str, slug: str,
                     installation_id: int) -> None:
        """A GitHub App installed on the repository's owner; its JWTs are checked against
        `public_key_pem`, its installation tokens act as `<slug>[bot]`."""
        with self.lock:
            self.apps[app_id] = {"key": public_key_pem, "slug": slug,
                                 "installation": installation_id}

    def add_team_member(self, team_slug: str, login: str) -> None:
        with self.lock:
            self.add_user(login)
            self.teams.setdefault(team_slug, set()).add(login)
            self.team_ids.setdefault(team_slug, 9_000_001 + len(self.team_ids))

    def set_file(self, path: str, text: str | None, message: str = "") -> str:
        """Commit straight to the default branch (None deletes); the new head sha."""
        with self.lock:
            head = self.commits[self.branch_head]
            files = _apply(head.files, {path: text})
            commit = Commit("", files, message or f"Update {path}", self.clock.tick(), (head.sha,))
            self.branch_head = self._store(commit)
            return self.branch_head

    def open_pull(self, author: str, title: str, body: str, files: dict[str, str | None],
                  labels: tuple[str, ...] | list[str] = ()) -> int:
        with self.lock:
            now, base = self.clock.tick(), self.commits[self.branch_head]
            head = self._store(Commit("", _apply(base.files, files), title, now, (base.sha,),
                                      author))
            number = next(self._numbers)
            self.add_user(author)
            self.pulls[number] = Pull(number, title, body, author, base.sha, head, dict(files),
                                      now, now)
            self._hook(number, "opened", author)
            for name in labels:
                self.add_label(author, number, name)
            return number

    def push_to_pull(self, actor: str, number: int, files: dict[str, str | None]) -> str:
        """A new commit on the pull's branch; the new head sha."""
        with self.lock:
            pull, now = self._pull(number), self.clock.tick()
            pull.changes.update(files)
            base = self.commits[pull.base_sha]
            pull.head_sha = self._store(Commit("", _apply(base.files, pull.changes),
                                               f"Update by {actor}", now, (pull.head_sha,),
                                               actor))
            pull.updated_at = now
            return pull.head_sha

    def edit_pull(self, actor: str, number: int, *, title: str | None = None,
                  body: str | None = None) -> None:
        """Retitle or rewrite the description, as the author (or a maintainer) does."""
        with self.lock:
            pull = self._pull(number)
            pull.title = pull.title if title is None else title
            pull.body = pull.body if body is None else body
            pull.updated_at = self.clock.tick()
            if title is not None:
                self._event(actor, number, "renamed")
            else:
                self._hook(number, "edited", actor)

    def add_label(self, actor: str, number: int, name: str) -> None:
        with self.lock:
            pull, label = self._pull(number), self._label(name, create=True)
            if label["name"] not in pull.labels:
                pull.labels.append(label["name"])
                self._event(actor, number, "labeled", label=label["name"])

    def remove_label(self, actor: str, number: int, name: str) -> bool:
        with self.lock:
            pull = self._pull(number)
            found = [n for n in pull.labels if n.lower() == name.lower()]
            for n in found:
                pull.labels.remove(n)
                self._event(actor, number, "unlabeled", label=n)
            return bool(found)

    def close_pull(self, actor: str, number: int) -> None:
        with self.lock:
            if (pull := self._pull(number)).state == "open":
                pull.state = "closed"
                pull.closed_at = self._event(actor, number, "closed").created_at

    def reopen_pull(self, actor: str, number: int) -> None:
        with self.lock:
            if (pull := self._pull(number)).state == "closed" and not pull.merged:
                pull.state, pull.closed_at = "open", None
                self._event(actor, number, "reopened")

    def merge_pull(self, actor: str, number: int) -> str:
        """Apply the pull's files to the default branch; records merged then closed."""
        with self.lock:
            pull = self._pull(number)
            if pull.state != "open":
                raise ValueError(f"pull {number} is not open")
            head, now = self.commits[self.branch_head], self.clock.tick()
            merge = Commit("", _apply(head.files, pull.changes), f"Merge pull request #{number}",
                           now, (head.sha, pull.head_sha), actor)
            self.branch_head = pull.merge_commit_sha = self._store(merge)
            pull.state, pull.merged_at, pull.closed_at, pull.merged_by = "closed", now, now, actor
            self._event(actor, number, "merged", commit_id=merge.sha, at=now)
            self._event(actor, number, "closed", at=now)
            return merge.sha

    def comment(self, author: str, number: int, body: str) -> int:
        with self.lock:
            pull, now = self._pull(number), self.clock.tick()
            self.add_user(author)
            self.comments.append(Comment(next(self._ids), number, author, body, now))
            pull.updated_at = now
            return self.comments[-1].id

    def review(self, user: str, number: int, state: str = "COMMENTED", body: str = "") -> int:
        """Submit a review (APPROVED, CHANGES_REQUESTED or COMMENTED) of the pull's head.
        As on GitHub, the pull's author may only comment on their own pull."""
        state = state.upper()
        if state not in REVIEW_STATES:
            raise ValueError(f"review state must be one of {sorted(REVIEW_STATES)}")
        with self.lock:
            pull = self._pull(number)
            if state != "COMMENTED" and user == pull.author:
                raise ValueError("a pull's author cannot approve or request changes on it")
            now = self.clock.tick()
            self.add_user(user)
            self.reviews.append(Review(next(self._ids), number, user, state, body, now,
                                       pull.head_sha))
            pull.updated_at = now
            return self.reviews[-1].id

    def reviews_on(self, number: int) -> list[Review]:
        return [r for r in self.reviews if r.number == number]

    def commits_on(self, number: int) -> list[Commit]:
        """The pull's own commits, oldest first: its head back to where it left the base."""
        pull, found = self._pull(number), []
        sha = pull.head_sha
        while sha and sha != pull.base_sha:
            commit = self.commits[sha]
            found.append(commit)
            sha = commit.parents[0] if commit.parents else ""
        return found[::-1]

    def comments_on(self, number: int) -> list[Comment]:
        return [c for c in self.comments if c.number == number]

    def labels_on(self, number: int) -> tuple[str, ...]:
        return tuple(self._pull(number).labels)

    def events_on(self, number: int) -> list[Event]:
        return [e for e in self.events if e.number == number]

    def file(self, path: str, ref: str | None = None) -> str | None:
        return self._commit(ref or self.default_branch).files.get(path)

    # --- state helpers -------------------------------------------------------------------

    def _store(self, commit: Commit) -> str:
        if commit.author and commit.identity == ("", ""):
            commit.identity = self.git_identities.get(commit.author) or (
                commit.author,
                f"{self.add_user(commit.author)}+{commit.author}@users.noreply.github.com")
        tree = _tree_sha(commit.files)
        commit.sha = _sha("commit", tree, *commit.parents, commit.message, iso(commit.date))
        self.commits[commit.sha] = commit
        return commit.sha

    def _commit(self, ref: str) -> Commit:
        ref = ref.removeprefix("refs/").removeprefix("heads/")
        if ref in (self.default_branch, "HEAD"):
            return self.commits[self.branch_head]
        heads = {f"pr-{p.number}": p.head_sha for p in self.pulls.values()}
        if ref in heads:
            return self.commits[heads[ref]]
        found = [c for sha, c in self.commits.items() if len(ref) >= 7 and sha.startswith(ref)]
        if len(found) != 1:
            raise _Reply(error(422, f"No commit found for SHA: {ref}", "/commits/commits"))
        return found[0]

    def _pull(self, number: int | str) -> Pull:
        pull = self.pulls.get(int(number))
        if pull is None:
            raise _Reply(error(404, "Not Found"))
        return pull

    def _label(self, name: str, *, create: bool = False) -> dict[str, Any]:
        label = self.repo_labels.get(name.lower())
        if label is None and create:
            label = self.repo_labels[name.lower()] = {
                "id": next(self._ids), "node_id": _node("LA", name), "url": "", "name": name,
                "color": "ededed", "default": False, "description": None,
            }
        if label is None:
            raise _Reply(error(404, "Not Found", "/issues/labels#get-a-label"))
        return label

    def _event(self, actor: str, number: int, kind: str, *, label: str | None = None,
               commit_id: str | None = None, at: datetime | None = None) -> Event:
        self.add_user(actor)
        now = at or self.clock.tick()
        event = Event(next(self._ids), number, kind, actor, now, label, commit_id)
        self.events.append(event)
        self.pulls[number].updated_at = now
        self._hook(number, {"renamed": "edited"}.get(kind, kind), actor, label)
        return event

    def _hook(self, number: int, action: str, actor: str, label: str | None = None) -> None:
        """A `pull_request` delivery, as GitHub sends for labeled, closed, edited, …
        (a merge is `closed` with `merged: true`: the `merged` event sends nothing)."""
        if not self.webhooks.targets or action == "merged":
            return
        payload = {"action": action, "number": number,
                   "pull_request": self._pull_json(self.pulls[number], single=True),
                   "repository": self._repo_json(), "sender": self._user_json(actor)}
        if label is not None:
            payload["label"] = self._label_json(label)
        self.webhooks.deliver("pull_request", payload)

    # --- JSON shapes ---------------------------------------------------------------------

    @property
    def _api(self) -> str:
        return f"{self.base_url}/repos/{self.full_name}"

    def _user_json(self, login: str) -> dict[str, Any]:
        uid = self.add_user(login)
        return {"login": login, "id": uid, "node_id": _node("U", login),
                "avatar_url": f"https://avatars.githubusercontent.com/u/{uid}?v=4",
                "gravatar_id": "", "url": f"{self.base_url}/users/{login}",
                "html_url": f"{HTML}/{login}", "site_admin": False,
                "type": "Organization" if login == self.owner else "User"}

    def _repo_json(self) -> dict[str, Any]:
        return {"id": self.repo_id, "node_id": _node("R", self.full_name),
                "name": self.repo_name, "full_name": self.full_name, "private": False,
                "owner": self._user_json(self.owner),
                "html_url": f"{HTML}/{self.full_name}", "url": self._api, "fork": False,
                "default_branch": self.default_branch, "visibility": "public"}

    def _label_json(self, name: str) -> dict[str, Any]:
        label = dict(self._label(name, create=True))
        return label | {"url": f"{self._api}/labels/{label['name'].replace(' ', '%20')}"}

    def _pull_json(self, p: Pull, *, single: bool) -> dict[str, Any]:
        api, html = f"{self._api}/pulls/{p.number}", f"{HTML}/{self.full_name}/pull/{p.number}"
        ref = lambda label, sha, who: {  # noqa: E731
            "label": f"{who}:{label}", "ref": label, "sha": sha,
            "user": self._user_json(who), "repo": self._repo_json()}
        data = {
            "url": api, "id": 1_900_000_000 + p.number, "node_id": _node("PR", p.number),
            "html_url": html, "diff_url": f"{html}.diff", "patch_url": f"{html}.patch",
            "issue_url": f"{self._api}/issues/{p.number}", "number": p.number,
            "state": p.state, "locked": False, "title": p.title,
            "user": self._user_json(p.author), "body": p.body or None,
            "created_at": iso(p.created_at), "updated_at": iso(p.updated_at),
            "closed_at": _iso(p.closed_at), "merged_at": _iso(p.merged_at),
            "merge_commit_sha": p.merge_commit_sha, "assignee": None, "assignees": [],
            "requested_reviewers": [], "requested_teams": [],
            "labels": [self._label_json(n) for n in p.labels], "milestone": None,
            "draft": False, "commits_url": f"{api}/commits", "comments_url":
            f"{self._api}/issues/{p.number}/comments", "head": ref(f"pr-{p.number}",
            p.head_sha, p.author), "base": ref(self.default_branch, p.base_sha, self.owner),
            "author_association": "CONTRIBUTOR", "auto_merge": None, "active_lock_reason": None,
        }
        if single:  # only the single-pull endpoint says merged / merged_by / counts
            files = self._files_json(p)
            data |= {
                "merged": p.merged, "mergeable": None if p.state == "closed" else True,
                "mergeable_state": "unknown" if p.state == "closed" else "clean",
                "merged_by": self._user_json(p.merged_by) if p.merged_by else None,
                "comments": len(self.comments_on(p.number)), "review_comments": 0,
                "maintainer_can_modify": False,
                "commits": len(self.commits_on(p.number)),
                "additions": sum(f["additions"] for f in files),
                "deletions": sum(f["deletions"] for f in files), "changed_files": len(files),
            }
        return data

    def _files_json(self, p: Pull) -> list[dict[str, Any]]:
        base, out = self.commits[p.base_sha].files, []
        for path in sorted(p.changes):
            old, new = base.get(path), p.changes[path]
            if old == new or (old is None and new is None):
                continue
            status = "added" if old is None else "removed" if new is None else "modified"
            entry = {"sha": blob_sha(new) if new is not None else "0" * 40,
                     "filename": path, "status": status, "additions": 0, "deletions": 0,
                     "changes": 0,
                     "blob_url": f"{HTML}/{self.full_name}/blob/{p.head_sha}/{path}",
                     "raw_url": f"{HTML}/{self.full_name}/raw/{p.head_sha}/{path}",
                     "contents_url": f"{self._api}/contents/{path}?ref={p.head_sha}"}
            if "\0" in (old or "") + (new or ""):  # binary: no counts, no patch
                out.append(entry)
                continue
            patch = git_patch(old or "", new or "")
            lines = patch.split("\n")
            plus = sum(1 for line in lines if line.startswith("+"))
            minus = sum(1 for line in lines if line.startswith("-"))
            entry |= {"additions": plus, "deletions": minus, "changes": plus + minus}
            if len(lines) <= self.patch_max_lines and \
                    len(patch.encode("utf-8")) <= self.patch_max_bytes:
                entry["patch"] = patch  # a larger diff is listed without it, as on GitHub
            out.append(entry)
        return out

    def _event_json(self, e: Event) -> dict[str, Any]:
        data = {"id": e.id, "node_id": _node(e.event.title() + "Event", e.id),
                "url": f"{self._api}/issues/events/{e.id}", "actor": self._user_json(e.actor),
                "event": e.event, "commit_id": e.commit_id,
                "commit_url": e.commit_id and f"{self._api}/commits/{e.commit_id}",
                "created_at": iso(e.created_at), "performed_via_github_app": None}
        if e.label:
            data["label"] = {"name": e.label, "color": self._label(e.label)["color"]}
        return data

    def _committed_json(self, c: Commit) -> dict[str, Any]:
        """A timeline `committed` item: git's view of the commit, with no actor and no id."""
        git, html = f"{self._api}/git/commits", f"{HTML}/{self.full_name}/commit"
        tree = _tree_sha(c.files)
        name, email = c.identity if c.author else ("GitHub", "noreply@github.com")
        person = {"name": name, "email": email, "date": iso(c.date)}
        return {"sha": c.sha, "node_id": _node("C", c.sha), "url": f"{git}/{c.sha}",
                "html_url": f"{html}/{c.sha}", "author": person, "committer": dict(person),
                "tree": {"sha": tree, "url": f"{self._api}/git/trees/{tree}"},
                "message": c.message,
                "parents": [{"sha": s, "url": f"{git}/{s}", "html_url": f"{html}/{s}"}
                            for s in c.parents],
                "verification": {"verified": False, "reason": "unsigned", "signature": None,
                                 "payload": None, "verified_at": None},
                "event": "committed"}

    def _listed_commit_json(self, c: Commit) -> dict[str, Any]:
        """A commit as GET /repos/{o}/{r}/commits lists it."""
        name, email = c.identity if c.identity != ("", "") else ("GitHub", "noreply@github.com")
        person = {"name": name, "email": email, "date": iso(c.date)}
        return {"sha": c.sha, "node_id": _node("C", c.sha),
                "commit": {"author": person, "committer": person, "message": c.message,
                           "tree": {"sha": _tree_sha(c.files)}, "comment_count": 0},
                "url": f"{self._api}/commits/{c.sha}",
                "html_url": f"https://github.com/{self.full_name}/commit/{c.sha}",
                "author": self._user_json(c.author) if c.author else None,
                "committer": None,
                "parents": [{"sha": s, "url": f"{self._api}/commits/{s}"} for s in c.parents]}

    def _review_json(self, r: Review) -> dict[str, Any]:
        """A timeline `reviewed` item: `user` and `submitted_at` (no actor, no created_at),
        the state in lower case (the reviews endpoint says APPROVED, the timeline approved)."""
        html = f"{HTML}/{self.full_name}/pull/{r.number}#pullrequestreview-{r.id}"
        pull = f"{self._api}/pulls/{r.number}"
        return {"id": r.id, "node_id": _node("PRR", r.id), "user": self._user_json(r.user),
                "body": r.body, "commit_id": r.commit_id, "submitted_at": iso(r.submitted_at),
                "state": r.state.lower(), "html_url": html, "pull_request_url": pull,
                "author_association": "MEMBER" if r.user == self.api_login else "CONTRIBUTOR",
                "_links": {"html": {"href": html}, "pull_request": {"href": pull}},
                "event": "reviewed"}

    def _timeline_json(self, number: int) -> list[dict[str, Any]]:
        """GET /issues/{n}/timeline, oldest first: the pull's commits (at their date), its
        issue events, comments (`commented`, with `actor` too) and reviews."""
        items: list[tuple[datetime, int, dict[str, Any]]] = [
            (c.date, 0, self._committed_json(c)) for c in self.commits_on(number)]
        items += [(e.created_at, e.id, self._event_json(e)) for e in self.events_on(number)]
        items += [(c.created_at, c.id, self._comment_json(c) | {
            "event": "commented", "actor": self._user_json(c.author)})
            for c in self.comments_on(number)]
        items += [(r.submitted_at, r.id, self._review_json(r)) for r in self.reviews_on(number)]
        return [data for _, _, data in sorted(items, key=lambda item: item[:2])]

    def _comment_json(self, c: Comment) -> dict[str, Any]:
        return {"url": f"{self._api}/issues/comments/{c.id}",
                "html_url": f"{HTML}/{self.full_name}/pull/{c.number}#issuecomment-{c.id}",
                "issue_url": f"{self._api}/issues/{c.number}", "id": c.id,
                "node_id": _node("IC", c.id), "user": self._user_json(c.author),
                "created_at": iso(c.created_at), "updated_at": iso(c.created_at),
                "author_association": "MEMBER" if c.author == self.api_login else "CONTRIBUTOR",
                "body": c.body, "performed_via_github_app": None}

    def _content_json(self, path: str, text: str | None, ref: str) -> dict[str, Any]:
        """A contents entry; text None: a folder (type dir, a tree sha, no download_url)."""
        url, is_file = f"{self._api}/contents/{path}?ref={ref}", text is not None
        sha = blob_sha(text) if is_file else _sha("tree", path, ref)
        git = f"{self._api}/git/{'blobs' if is_file else 'trees'}/{sha}"
        html = f"{HTML}/{self.full_name}/{'blob' if is_file else 'tree'}/{ref}/{path}"
        raw = f"https://raw.githubusercontent.com/{self.full_name}/{ref}/{path}"
        return {"name": path.rsplit("/", 1)[-1], "path": path, "sha": sha,
                "size": len(text.encode("utf-8")) if is_file else 0, "url": url,
                "html_url": html, "git_url": git, "download_url": raw if is_file else None,
                "type": "file" if is_file else "dir", "_links": {"self": url, "git": git,
                                                                  "html": html}}

    # --- HTTP plumbing -------------------------------------------------------------------

    def dispatch(self, request: Request) -> Response:
        with self.lock:
            identity = request.headers.get("authorization", "").split(" ", 1)[-1] or None
            try:
                if identity and self.tokens and identity not in self.tokens \
                        and not request.path.startswith("/app"):  # JWTs: checked there
                    self.requests[f"{request.method} (bad credentials)"] += 1
                    raise _Reply(error(401, "Bad credentials"))
                response = super().dispatch(request)
            except _Reply as reply:
                response = reply.response
            return self._finish(request, response, identity)

    def not_found(self, request: Request) -> Response:
        return error(404, "Not Found")

    def _finish(self, request: Request, response: Response, identity: str | None) -> Response:
        """Add what every GitHub answer carries: rate-limit headers, ETag, 304 on a match."""
        h = response.headers
        if request.method == "GET" and response.status == 200:
            body = response.body if isinstance(response.body, bytes) else json.dumps(
                response.body).encode("utf-8")
            h["ETag"] = f'"{hashlib.sha256(body).hexdigest()}"'
            sent = {t.strip().removeprefix("W/") for t in
                    request.headers.get("if-none-match", "").split(",")}
            if h["ETag"] in sent:
                response = Response(304, None, {k: v for k, v in h.items() if k != "Link"})
                h = response.headers
        key = identity or "anonymous"
        limit = 5000 if identity else 60
        if response.status != 304:  # conditional hits are free on GitHub
            self.rate_used[key] += 1
        used = self.rate_used[key]
        h.update({  # names cased as GitHub sends them, the odd lower-case one included
            "X-GitHub-Media-Type": "github.v3; format=json",
            "x-github-api-version-selected": "2022-11-28", "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(max(0, limit - used)),
            "X-RateLimit-Reset": str(self.rate_reset), "X-RateLimit-Used": str(used),
            "X-RateLimit-Resource": "core", "X-GitHub-Request-Id": f"{len(self.log):04X}:{used:X}",
        })
        return response

    def _actor(self, request: Request) -> str:
        """Writes need a token (reads are public); the login the token acts as."""
        token = request.headers.get("authorization", "").split(" ", 1)[-1]
        if not token:
            raise _Reply(error(401, "Requires authentication"))
        return self.tokens.get(token, self.api_login)

    def _repo(self, request: Request) -> None:
        p = request.params
        same = (p.get("owner"), p.get("name")) == (self.owner, self.repo_name)
        if not same and p.get("repo_id") != str(self.repo_id):
            raise _Reply(error(404, "Not Found"))

    def _page(self, request: Request, items: list[Any], tail: str, root: str = "") -> Response:
        """One page of `items` (per_page default 30, at most 100). Link rel prev/next/last/
        first point where GitHub's do, `/repositories/{id}{tail}` for repository lists, with
        the request's other parameters then `page`."""
        per_page = min(100, max(1, int(request.arg("per_page") or 30)))
        page, last = max(1, int(request.arg("page") or 1)), max(1, -(-len(items) // per_page))
        query = [(k, v[-1]) for k, v in request.query.items() if k != "page"]
        where = f"{self.base_url}{root or self.by_id}{tail}"
        rels = [("prev", page - 1)] if page > 1 else []
        rels += [("next", page + 1), ("last", last)] if page < last else []
        rels += [("first", 1)] if page > 1 else []
        links = [f'<{where}?{urlencode([*query, ("page", n)])}>; rel="{r}"' for r, n in rels]
        headers = {"Link": ", ".join(links)} if links else {}
        return Response(200, items[(page - 1) * per_page : page * per_page], headers)

    # --- endpoints -----------------------------------------------------------------------

    @route("GET", "/user")
    def api_user(self, req: Request) -> Response:
        actor = self._actor(req)
        if actor.endswith("[bot]"):  # an App's installation token, as GitHub answers it
            return error(403, "Resource not accessible by integration")
        return Response(200, self._user_json(actor))

    def _app(self, req: Request) -> dict[str, Any]:
        """The App whose JWT (RS256, `iss` its id) signs this request, or a 401."""
        import jwt

        scheme, _, token = req.headers.get("authorization", "").partition(" ")
        try:
            claimed = jwt.decode(token, options={"verify_signature": False})
            app = self.apps[int(claimed["iss"])]
            jwt.decode(token, app["key"], algorithms=["RS256"])
        except (jwt.PyJWTError, KeyError, ValueError, TypeError):
            raise _Reply(error(401, "A JSON web token could not be decoded")) from None
        if scheme.lower() != "bearer":
            raise _Reply(error(401, "A JSON web token could not be decoded"))
        return {**app, "id": int(claimed["iss"])}

    @route("GET", "/app")
    def api_app(self, req: Request) -> Response:
        app = self._app(req)
        return Response(200, {"id": app["id"], "slug": app["slug"], "name": app["slug"],
                              "owner": {"login": self.owner, "type": "Organization"}})

    @route("POST", "/app/installations/{installation_id}/access_tokens")
    def api_installation_token(self, req: Request) -> Response:
        app = self._app(req)
        if req.params["installation_id"] != str(app["installation"]):
            return error(404, "Not Found")
        token = f"ghs_{_sha('installation', app['id'], len(self.tokens))[:36]}"
        self.tokens[token] = f"{app['slug']}[bot]"
        self.add_user(self.tokens[token])
        expires = datetime.now(UTC) + timedelta(hours=1)  # wall clock: PyGithub compares
        return Response(201, {"token": token, "expires_at": iso(expires),
                              "permissions": {"pull_requests": "write", "issues": "write"},
                              "repository_selection": "selected"})

    @route("GET", REPO)
    def api_repo(self, req: Request) -> Response:
        self._repo(req)
        return Response(200, self._repo_json())

    @route("GET", REPO + "/pulls")
    @route("GET", BY_ID + "/pulls")
    def api_pulls(self, req: Request) -> Response:
        self._repo(req)
        state, sort = req.arg("state", "open"), req.arg("sort", "created")
        desc = req.arg("direction", "desc" if sort == "created" else "asc") == "desc"
        key = (lambda p: p.updated_at) if sort == "updated" else (lambda p: p.created_at)
        chosen = [p for p in self.pulls.values() if state in ("all", p.state)]
        chosen.sort(key=lambda p: (key(p), p.number), reverse=desc)
        return self._page(req, [self._pull_json(p, single=False) for p in chosen], "/pulls")

    @route("GET", REPO + "/pulls/{number}")
    def api_pull(self, req: Request) -> Response:
        self._repo(req)
        return Response(200, self._pull_json(self._pull(req.params["number"]), single=True))

    @route("GET", REPO + "/pulls/{number}/files")
    @route("GET", BY_ID + "/pulls/{number}/files")
    def api_pull_files(self, req: Request) -> Response:
        self._repo(req)
        pull = self._pull(req.params["number"])
        return self._page(req, self._files_json(pull), f"/pulls/{pull.number}/files")

    @route("GET", REPO + "/contents/{a}")
    @route("GET", REPO + "/contents/{a}/{b}")
    @route("GET", REPO + "/contents/{a}/{b}/{c}")
    def api_contents(self, req: Request) -> Response:
        self._repo(req)
        path = "/".join(unquote(req.params[k]) for k in "abc" if k in req.params).strip("/")
        ref = req.arg("ref") or self.default_branch
        files = self._commit(ref).files
        if path in files:
            data = self._content_json(path, files[path], ref)
            return Response(200, data | {"content": wrapped_base64(files[path]),
                                         "encoding": "base64"})
        prefix = path + "/"
        children = sorted({p[len(prefix):].split("/", 1)[0] for p in files if p.startswith(prefix)})
        if not children:
            raise _Reply(error(404, "Not Found", "/repos/contents#get-repository-content"))
        return Response(200, [self._content_json(prefix + c, files.get(prefix + c), ref)
                              for c in children])

    @route("GET", REPO + "/commits")
    def api_commits(self, req: Request) -> Response:
        """Commits reachable from `sha` (default branch) along first parents, newest first;
        with `path`, only those that changed it."""
        self._repo(req)
        path, found = req.arg("path"), []
        commit: Commit | None = self._commit(req.arg("sha") or self.default_branch)
        while commit is not None:
            parent = self.commits[commit.parents[0]] if commit.parents else None
            before = parent.files.get(path) if parent and path else None
            if not path or commit.files.get(path) != before:
                found.append(self._listed_commit_json(commit))
            commit = parent
        return self._page(req, found, "/commits")

    @route("GET", REPO + "/commits/{ref}")
    def api_commit(self, req: Request) -> Response:
        self._repo(req)
        commit = self._commit(unquote(req.params["ref"]))
        if SHA_MEDIA_TYPE in req.headers.get("accept", ""):
            return Response(200, commit.sha.encode("ascii"),
                            content_type=f"{SHA_MEDIA_TYPE}; charset=utf-8")
        return Response(200, {"sha": commit.sha, "url": f"{self._api}/commits/{commit.sha}",
                              "commit": {"message": commit.message},
                              "parents": [{"sha": s} for s in commit.parents]})

    @route("GET", REPO + "/git/trees/{ref}")
    def api_tree(self, req: Request) -> Response:
        self._repo(req)
        try:
            commit = self._commit(unquote(req.params["ref"]))
        except _Reply:
            raise _Reply(error(404, "Not Found", "/git/trees#get-a-tree")) from None
        entries: dict[str, dict[str, Any]] = {}  # folders appear as "tree" entries
        for path, text in commit.files.items():
            parts = path.split("/")
            for folder in ("/".join(parts[:d]) for d in range(1, len(parts))):
                sha = _sha("tree", folder, commit.sha)
                entries[folder] = {"path": folder, "mode": "040000", "type": "tree", "sha": sha,
                                   "url": f"{self._api}/git/trees/{sha}"}
            blob = blob_sha(text)
            entries[path] = {"path": path, "mode": "100644", "type": "blob", "sha": blob,
                             "size": len(text.encode()), "url": f"{self._api}/git/blobs/{blob}"}
        recursive = req.arg("recursive") not in (None, "", "0", "false")
        tree = [e for p, e in sorted(entries.items()) if recursive or "/" not in p]
        sha = _sha("tree", commit.sha)
        return Response(200, {"sha": sha, "url": f"{self._api}/git/trees/{sha}",
                              "tree": tree, "truncated": False})

    @route("GET", REPO + "/labels/{label}")
    def api_label(self, req: Request) -> Response:
        self._repo(req)
        return Response(200, self._label_json(self._label(unquote(req.params["label"]))["name"]))

    @route("POST", REPO + "/labels")
    def api_create_label(self, req: Request) -> Response:
        self._repo(req)
        self._actor(req)
        data = req.json() or {}
        name = str(data.get("name") or "")
        if not name or name.lower() in self.repo_labels:
            raise _invalid("Label", "already_exists" if name else "missing_field", "name",
                           "/issues/labels#create-a-label")
        label = self._label(name, create=True)
        label.update(color=data.get("color") or "ededed", description=data.get("description"))
        return Response(201, self._label_json(name))

    @route("GET", REPO + "/issues/comments")
    @route("GET", BY_ID + "/issues/comments")
    def api_repo_comments(self, req: Request) -> Response:
        """Every issue and PR comment of the repository, ascending by id unless `sort`
        (created, updated) and `direction` say otherwise; `since`: updated at or after it."""
        self._repo(req)
        try:
            since = datetime.fromisoformat(req.arg("since")) if req.arg("since") else None
        except ValueError:
            raise _invalid("IssueComment", "invalid", "since",
                           "/issues/comments#list-issue-comments-for-a-repository") from None
        if since is not None and since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        chosen = [c for c in self.comments if since is None or c.created_at >= since]
        if req.arg("sort") in ("created", "updated"):
            chosen.sort(key=lambda c: (c.created_at, c.id),
                        reverse=req.arg("direction", "desc") == "desc")
        return self._page(req, [self._comment_json(c) for c in chosen], "/issues/comments")

    @route("GET", REPO + "/issues/{number}/{kind}")
    @route("GET", BY_ID + "/issues/{number}/{kind}")
    def api_issue_list(self, req: Request) -> Response:
        """The paged lists on an issue: labels, events and timeline (oldest first),
        comments."""
        self._repo(req)
        n, kind = self._pull(req.params["number"]).number, req.params["kind"]
        items = {"labels": lambda: [self._label_json(x) for x in self.pulls[n].labels],
                 "events": lambda: [self._event_json(e) for e in self.events_on(n)],
                 "comments": lambda: [self._comment_json(c) for c in self.comments_on(n)],
                 "timeline": lambda: self._timeline_json(n)}
        if kind not in items:
            raise _Reply(error(404, "Not Found"))
        return self._page(req, items[kind](), f"/issues/{n}/{kind}")

    @route("POST", REPO + "/issues/{number}/labels")
    def api_add_labels(self, req: Request) -> Response:
        self._repo(req)
        actor, pull = self._actor(req), self._pull(req.params["number"])
        data = req.json()
        names = data.get("labels", []) if isinstance(data, dict) else data or []
        for name in names:
            self.add_label(actor, pull.number, str(name))
        return Response(200, [self._label_json(n) for n in pull.labels])

    @route("DELETE", REPO + "/issues/{number}/labels/{label}")
    def api_remove_label(self, req: Request) -> Response:
        self._repo(req)
        actor, pull = self._actor(req), self._pull(req.params["number"])
        if not self.remove_label(actor, pull.number, unquote(req.params["label"])):
            raise _Reply(error(404, "Label does not exist",
                               "/issues/labels#remove-a-label-from-an-issue"))
        return Response(200, [self._label_json(n) for n in pull.labels])

    @route("POST", REPO + "/issues/{number}/comments")
    def api_create_comment(self, req: Request) -> Response:
        self._repo(req)
        actor, pull = self._actor(req), self._pull(req.params["number"])
        body = (req.json() or {}).get("body")
        if not isinstance(body, str) or not body:
            raise _invalid("IssueComment", "missing_field", "body",
                           "/issues/comments#create-an-issue-comment")
        self.comment(actor, pull.number, body)
        comment = self._comment_json(self.comments[-1])
        return Response(201, comment, {"Location": comment["url"]})

    @route("GET", "/orgs/{org}/teams/{slug}/members")
    @route("GET", "/organizations/{org_id}/team/{team_id}/members")
    def api_team_members(self, req: Request) -> Response:
        """Needs a token with org access: 401 anonymous, 404 unknown team. Later pages go
        through `/organizations/{id}/team/{id}/members`, as on GitHub."""
        p, by_id = req.params, {str(i): s for s, i in self.team_ids.items()}
        slug = p.get("slug") or by_id.get(p.get("team_id", ""), "")
        org_ok = p.get("org") == self.owner or p.get("org_id") == str(self.org_id)
        if not org_ok or slug not in self.teams:
            raise _Reply(error(404, "Not Found", "/teams/members#list-team-members"))
        self._actor(req)
        members = [self._user_json(login) for login in sorted(self.teams[slug])]
        team = f"/organizations/{self.org_id}/team/{self.team_ids[slug]}"
        return self._page(req, members, "/members", root=team)

def _apply(files: dict[str, str], changes: dict[str, str | None]) -> dict[str, str]:
    out = dict(files)
    for path, text in changes.items():
        if text is None:
            out.pop(path, None)
        else:
            out[path] = text
    return out


def _tree_sha(files: dict[str, str]) -> str:
    return _sha(*sorted(f"{p} {blob_sha(t)}" for p, t in files.items()))


def _iso(moment: datetime | None) -> str | None:
    return iso(moment) if moment else None


def _node(kind: str, key: object) -> str:
    return kind + "_" + base64.b64encode(f"{kind}{key}".encode()).decode("ascii").rstrip("=")

