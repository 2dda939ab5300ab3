"""The GitHub side, in four parts: `parse` (payloads to records, pure), `transport` (rate
limits and the retry policy PyGithub's Requester runs), `api` (`GithubApi`: requests sent,
paced and guarded) and `client` (`RepoClient`: the operations the service uses). Import
from here.
"""

from forumsync.repo.client import LABEL_COLOR, SERVICE, SHA_MEDIA_TYPE, RepoClient
from forumsync.repo.parse import (
    EVENT_KINDS,
    activity_from_timeline,
    added_text,
    comment_from_json,
    core_projects_from_listing,
    decode_content,
    etag_of,
    event_from_json,
    issue_number_of,
    latest_activity,
    login_of,
    lower_keys,
    next_page,
    page_number,
    parse_links,
    pull_file_from_json,
    pull_from_json,
    spec_document_from_text,
    spec_files_from_tree,
)
from forumsync.repo.transport import DEFAULT_MAX_WAIT, SECONDARY_WAIT, rate_limit_wait

__all__ = [
    "DEFAULT_MAX_WAIT",
    "EVENT_KINDS",
    "LABEL_COLOR",
    "SECONDARY_WAIT",
    "SERVICE",
    "SHA_MEDIA_TYPE",
    "RepoClient",
    "activity_from_timeline",
    "added_text",
    "comment_from_json",
    "core_projects_from_listing",
    "decode_content",
    "etag_of",
    "event_from_json",
    "issue_number_of",
    "latest_activity",
    "login_of",
    "lower_keys",
    "next_page",
    "page_number",
    "parse_links",
    "pull_file_from_json",
    "pull_from_json",
    "rate_limit_wait",
    "spec_document_from_text",
    "spec_files_from_tree",
]
