"""Plain typed records the adapters make of each side; the planner reads only these.

Nothing from pydiscourse or PyGithub passes beyond the adapters: every field here is a
Python value, every time is timezone-aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

# --- Discourse -------------------------------------------------------------------------


@dataclass(frozen=True)
class TopicSummary:
    """A topic as a category listing shows it (no posts)."""

    id: int
    slug: str
    title: str
    category_id: int | None
    tags: tuple[str, ...]
    created_at: datetime
    last_posted_at: datetime | None
    posts_count: int


@dataclass(frozen=True)
class ForumPost:
    id: int
    topic_id: int
    post_number: int
    username: str
    created_at: datetime
    raw: str  # markdown source when the API gives it, else the cooked HTML
    post_type: int = 1  # 1 regular; 2 moderator action, 3 small action, 4 whisper

    @property
    def is_regular(self) -> bool:
        """A post a person wrote, not a moderator action, a system notice or a whisper."""
        return self.post_type == 1


@dataclass(frozen=True)
class ForumTopic:
    """A topic with all its posts, in post_number order."""

    id: int
    slug: str
    title: str
    category_id: int | None
    tags: tuple[str, ...]
    created_at: datetime
    last_posted_at: datetime | None
    posts: tuple[ForumPost, ...]

    @property
    def first_post(self) -> ForumPost | None:
        return self.posts[0] if self.posts else None


@dataclass(frozen=True)
class TopicRevision:
    """One revision of a topic's first post: who changed tags or category, and when."""

    post_id: int
    number: int
    username: str
    created_at: datetime
    tags_before: tuple[str, ...] | None  # None: the revision did not touch tags
    tags_after: tuple[str, ...] | None
    category_before: int | None = None  # None: the revision did not touch the category
    category_after: int | None = None


@dataclass(frozen=True)
class CreatedTopic:
    topic_id: int
    post_id: int
    # what the answer also says of the new post (compared by ids only)
    post_number: int | None = field(default=None, compare=False)
    created_at: datetime | None = field(default=None, compare=False)


# Discourse's Post.types: only a regular post is someone writing in the thread; the others
# are a moderator's notice, a "closed/moved/tagged" line, or a whisper staff alone can see.
REGULAR_POST = 1
MODERATOR_ACTION_POST = 2
SMALL_ACTION_POST = 3
WHISPER_POST = 4
# Discourse's own accounts (user ids -1 and -2): their posts are never a person's activity.
DISCOURSE_BOTS = frozenset({"system", "discobot"})


def is_regular_post(post: ForumPost) -> bool:
    """Whether a post counts as a person's activity: a regular post (post_type 1) by an
    account other than Discourse's own. Moderator actions, small actions ("closed",
    "tagged", "moved") and whispers do not count."""
    return post.is_regular and post.username.lower() not in DISCOURSE_BOTS


# --- GitHub ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PullRecord:
    number: int
    title: str
    body: str
    state: str  # "open" or "closed"
    merged: bool
    author: str
    labels: tuple[str, ...]
    created_at: datetime
    updated_at: datetime
    merged_at: datetime | None = None
    closed_at: datetime | None = None
    merged_by: str | None = None
    head_sha: str = ""
    html_url: str = ""


@dataclass(frozen=True)
class PullFile:
    """A file a PR changes. `text` is the whole new file when the PR adds a SPEC file and
    GitHub's patch for it is complete (it spares reading the file), as of commit `ref`."""

    filename: str
    status: str  # added, modified, removed, renamed
    previous_filename: str | None = None
    text: str | None = field(default=None, compare=False, repr=False)
    ref: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class SpecDocument:
    """A SPEC file and its YAML front matter."""

    path: str
    number: int | None
    title: str
    authors: tuple[str, ...] = ()
    is_draft: bool = False
    endorsed_by: tuple[str, ...] = ()
    discussion: str | None = None
    front_matter: dict = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class IssueEvent:
    """An issue event on a PR: labeled, unlabeled, closed, reopened, merged."""

    id: int
    event: str
    actor: str
    created_at: datetime
    label: str | None = None


@dataclass(frozen=True)
class CommentRecord:
    id: int
    author: str
    body: str
    created_at: datetime


@dataclass(frozen=True)
class Activity:
    """The latest human activity on a thread or PR: who, what and when."""

    at: datetime
    actor: str
    kind: str  # post, commented, reviewed, committed
