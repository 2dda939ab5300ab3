"""The Discourse side, in three parts: `parse` (payloads to records, pure), `transport`
(pydiscourse, one attempt per call, what a failure means) and `client` (`ForumClient`:
retries, paging, the operations the service uses). Import from here.
"""

from forumsync.forum.client import (
    MAX_PAGES,
    MEMBERS_PER_PAGE,
    POSTS_PER_REQUEST,
    SERVICE,
    ForumClient,
)
from forumsync.forum.parse import (
    DETAIL_LIMIT,
    QueuedForReview,
    error_detail,
    is_pinned,
    last_activity,
    loaded_posts,
    missing_post_ids,
    page_since,
    parse_created,
    parse_members,
    parse_post,
    parse_revision,
    parse_topic,
    parse_topic_page,
    parse_topic_summary,
    rate_limit_wait,
    tag_names,
    tag_params,
)
from forumsync.forum.transport import BASE_WAIT, MAX_WAIT, backoff, relative_path

__all__ = [
    "BASE_WAIT", "DETAIL_LIMIT", "MAX_PAGES", "MAX_WAIT", "MEMBERS_PER_PAGE",
    "POSTS_PER_REQUEST", "SERVICE", "ForumClient", "QueuedForReview", "backoff",
    "error_detail", "is_pinned", "last_activity", "loaded_posts", "missing_post_ids",
    "page_since", "parse_created", "parse_members", "parse_post", "parse_revision",
    "parse_topic", "parse_topic_page", "parse_topic_summary", "rate_limit_wait",
    "relative_path", "tag_names", "tag_params",
]
