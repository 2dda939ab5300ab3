"""The adapter's pure parsing functions on real payload shapes (tests/fixtures/github/)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from forumsync.errors import backoff_delay, scrub
from forumsync.records import Activity
from forumsync.repo import (
    activity_from_timeline,
    added_text,
    comment_from_json,
    core_projects_from_listing,
    decode_content,
    etag_of,
    event_from_json,
    issue_number_of,
    latest_activity,
    lower_keys,
    next_page,
    page_number,
    parse_links,
    pull_file_from_json,
    pull_from_json,
    rate_limit_wait,
    spec_document_from_text,
    spec_files_from_tree,
)

FIXTURES = Path(__file__).parent / "fixtures" / "github"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def body(name: str) -> Any:
    return load(name)["response"]["body"]


# --- pulls ---------------------------------------------------------------------------------


def test_list_items_derive_merged_from_merged_at() -> None:
    merged, open_ = (pull_from_json(item) for item in body("own_pulls_list_page.json"))

    assert merged.merged and merged.merged_at == datetime(2024, 3, 2, 10, tzinfo=UTC)
    assert merged.merged_by is None  # list items never say who merged
    assert merged.labels == ("New SPEC",) and merged.author == "carol-author"
    assert "t/spec-7-seeding/1234" in merged.body
    assert not open_.merged and open_.state == "open" and open_.closed_at is None
    assert open_.body == "" and open_.author == "ghost"  # body null, deleted account
    assert len(open_.head_sha) == 40  # head.repo null (deleted fork) does not matter


def test_single_pull_has_merged_and_merged_by() -> None:
    pull = pull_from_json(body("own_pull_single_merged.json"))

    assert pull.merged and pull.merged_by == "alice-committee"
    assert pull.html_url == "https://github.com/example-org/specs/pull/7"
    assert pull.created_at.tzinfo is not None


def test_real_created_pull_and_webhook_pull_parse() -> None:
    created = pull_from_json(load("pull_create.json")["response_body"])
    labeled = pull_from_json(load("webhook_pull_request_labeled_real.json")["payload"]
                             ["pull_request"])

    assert created.state == "open" and not created.merged and created.merged_by is None
    assert created.head_sha == "88a426017fa4635ba42203c3b1d1c19f6a028184"
    assert labeled.labels == ("S-waiting-on-review",) and not labeled.merged


def test_pull_files() -> None:
    renamed = pull_file_from_json({"filename": "spec-0004/index.md", "status": "renamed",
                                   "previous_filename": "spec-0099/index.md"})
    assert renamed.previous_filename == "spec-0099/index.md"
    assert pull_file_from_json({"filename": "a.md", "status": "added"}).previous_filename is None


SPEC_TEXT = '---\ntitle: "SPEC 7 — Seeding"\nnumber: 7\nis-draft: true\n---\n\nBody.\n'


def added_entry(text: str, **extra: Any) -> dict[str, Any]:
    """A files entry as GitHub answers it for an added file (git's `diff` of it, cut to the
    hunk: GitHub's patch has no `diff --git`, `---` or `+++` lines and no final newline)."""
    lines = text.splitlines(keepends=True)
    body = [f"+{line.removesuffix(chr(10))}" for line in lines]
    if not text.endswith("\n"):
        body.append("\\ No newline at end of file")
    count = "" if len(lines) == 1 else f",{len(lines)}"
    entry = {"sha": "bbcd538c8e72b8c175046e27cc8f907076331401",
             "filename": "spec-0007/index.md", "status": "added",
             "additions": len(lines), "deletions": 0, "changes": len(lines),
             "patch": "\n".join([f"@@ -0,0 +1{count} @@", *body]),
             "contents_url": "https://api.github.com/repos/o/r/contents/spec-0007/index.md"
                             "?ref=6dcb09b5b57875f334f61aebed695e2e4193db5e"}
    return entry | extra


@pytest.mark.parametrize("text", [
    SPEC_TEXT,
    "---\ntitle: SPEC 1\n---",  # no newline at the end: git's marker line follows
    "one line\n",  # `@@ -0,0 +1 @@`
    "one line, no newline",
    SPEC_TEXT.replace("\n", "\r\n"),  # CRLF: the `\r` stays in each line
    "+++ a line that looks like a header\n\n\n@@ -1 +1 @@\n",
])
def test_an_added_files_text_comes_whole_from_its_patch(text: str) -> None:
    assert pull_file_from_json(added_entry(text)).text == text


def test_the_spec_from_a_patch_is_the_spec_the_contents_api_gives() -> None:
    assert spec_document_from_text("spec-0007/index.md",
                                   pull_file_from_json(added_entry(SPEC_TEXT)).text) == \
        spec_document_from_text("spec-0007/index.md", SPEC_TEXT)


def test_real_shaped_single_line_patch() -> None:
    entry = {"filename": "spec-0001/index.md", "status": "added", "additions": 1,
             "deletions": 0, "changes": 1, "patch": "@@ -0,0 +1 @@\n+Hello, world"}
    assert pull_file_from_json(entry).text == "Hello, world\n"  # no marker: a final newline
    assert pull_file_from_json(entry | {"filename": "README.md"}).text is None  # not a SPEC


def test_a_patch_row_names_the_commit_it_describes() -> None:
    entry = added_entry(SPEC_TEXT)
    assert pull_file_from_json(entry).ref == "6dcb09b5b57875f334f61aebed695e2e4193db5e"
    assert pull_file_from_json(entry | {"contents_url": None}).ref is None


def test_odd_counts_give_no_text() -> None:
    patch = "@@ -0,0 +1,2 @@\n+a\n+b"
    assert added_text(patch, 2) == "a\nb\n"
    for additions in (2.0, True, "2"):
        assert added_text(patch, additions) is None
    assert added_text("@@ -0,0 +1,\u0662 @@\n+a\n+b") is None  # digits are ASCII
    assert added_text("@@ -0,0 +1," + "9" * 5000 + " @@\n+a") is None  # no ValueError


@pytest.mark.parametrize(("entry", "why"), [
    ({"patch": None}, "binary or too large: GitHub leaves the patch out"),
    ({"patch": ""}, "empty"),
    ({"patch": None, "additions": 0, "changes": 0}, "past the response's diff limit"),
    ({"additions": 8}, "counts disagree"),
    ({"patch": "@@ -0,0 +1,3 @@\n+---\n+title: x"}, "cut short"),
    ({"patch": "@@ -0,0 +1,2 @@\n+a\n+b\n+c"}, "more lines than the header says"),
    ({"patch": "@@ -0,0 +1,2 @@\n+a\n b"}, "a context line"),
    ({"patch": "@@ -1,0 +1,1 @@\n+a"}, "not from nothing"),
    ({"patch": "@@ -0,0 +1,1 @@ heading\n+a"}, "text after the header"),
    ({"patch": "@@ -0,0 +1,0 @@"}, "no lines"),
    ({"patch": "@@ -0,0 +1,1 @@\n+a\n\\ No newline at end of file\n+b"}, "marker mid-way"),
    ({"patch": "@@ -0,0 +1,1 @@\n+a\n@@ -0,0 +1,1 @@\n+a"}, "two hunks"),
    ({"patch": "@@ -0,0 +1,1 @@\r\n+a"}, "a header ended by CR LF"),
    ({"patch": "garbage"}, "no header"),
])
def test_anything_odd_in_an_added_patch_gives_no_text(entry: dict[str, Any], why: str) -> None:
    data = added_entry(SPEC_TEXT) | entry
    if data["patch"] is None:
        del data["patch"]
    assert pull_file_from_json(data).text is None, why


def test_only_an_added_file_carries_text() -> None:
    modified = {"filename": "spec-0007/index.md", "status": "modified", "additions": 1,
                "deletions": 1, "changes": 2,
                "patch": "@@ -1,3 +1,3 @@\n ---\n-title: SPEC 7\n+title: SPEC 7 — Seeding\n ---"}
    assert pull_file_from_json(modified).text is None
    assert pull_file_from_json(added_entry("a\n", status="renamed")).text is None
    assert added_text("@@ -0,0 +1,2 @@\n+a\n+b") == "a\nb\n"  # `additions` is optional


def test_the_documented_example_patch_is_cut_so_it_gives_no_text() -> None:
    added, _renamed = body("docs_pull_files.json")  # header says 103 lines, 2 follow
    assert pull_file_from_json(added).text is None


# --- pagination, ETags, headers ------------------------------------------------------------


def test_link_urls_change_path_between_pages() -> None:
    pages = load("octokit_paginate_issues_link_headers.json")
    first, *later = pages

    assert first["path"].startswith("/repos/octokit-fixture-org/paginate-issues/issues")
    assert next_page(first["headers"]) == (
        "https://api.github.com/repositories/1000/issues?per_page=3&page=2")
    for page, following in pairwise(later):
        assert next_page(page["headers"]).endswith(following["path"])
    assert next_page(later[-1]["headers"]) is None  # the last page has prev/first only
    assert parse_links(later[0]["headers"]["link"])["first"].endswith("page=1")


def test_link_header_from_own_page_and_case() -> None:
    headers = load("own_pulls_list_page.json")["response"]["headers"]

    assert next_page(headers) is not None
    assert next_page({"Link": headers["link"]}) == next_page(headers)
    assert "/repositories/458300001/pulls" in next_page(headers)
    assert next_page({}) is None and parse_links("") == {}


def test_etags_weak_and_strong_are_kept_as_sent() -> None:
    weak = load("own_pull_single_merged.json")["response"]["headers"]  # Title-Case "ETag"
    strong = load("own_not_modified.json")["response"]["headers"]  # lower-case "etag"

    assert etag_of(weak) == 'W/"9a0364b9e99bb480dd25e1f0284c8555"'
    assert etag_of(strong) == '"8f14e45fceea167a5a36dedd4bea2543"'
    assert etag_of({}) is None
    assert lower_keys(weak)["x-ratelimit-remaining"] == "4321"


def test_not_modified_has_no_body() -> None:
    response = load("own_not_modified.json")["response"]
    assert response["status"] == 304 and response["body"] is None


# --- contents and front matter -------------------------------------------------------------


def test_base64_content_with_newlines_decodes() -> None:
    data = body("own_contents_spec_file.json")
    lines = data["content"].split("\n")

    assert all(len(line) == 60 for line in lines[:-2]) and lines[-1] == ""
    text = decode_content(data)
    doc = spec_document_from_text(data["path"], text)

    assert "café, naïve, 乱数" in text
    assert doc.number == 7 and doc.title.startswith("SPEC 7 — Seeding")
    assert doc.is_draft and doc.endorsed_by == ()
    assert doc.authors == ("Carol Author <carol@example.org>", "Dave Author <dave@example.org>")
    assert doc.discussion == "https://discuss.scientific-python.org/t/spec-7-seeding/1234"


def test_directory_and_non_base64_content_are_refused() -> None:
    with pytest.raises(ValueError, match="directory"):
        decode_content(body("own_contents_core_projects_dir.json"))
    with pytest.raises(ValueError, match="base64"):
        decode_content({"type": "file", "encoding": "none", "content": ""})


@pytest.mark.parametrize(
    ("front", "expected"),
    [
        ('title: "SPEC 3 — X"\nnumber: 3\nendorsed-by:\n  - numpy\n  - scipy', (3, False, 2)),
        ('title: "SPEC 12 — Published"\nendorsed-by: ""', (12, False, 0)),  # number from title
        ('title: "SPEC 9 — Y"\nnumber: "9"\nis-draft: "true"\nendorsed-by: numpy', (9, True, 1)),
        ('title: "A proposal"\nauthor: Someone', (None, False, 0)),
    ],
)
def test_front_matter_variants(front: str, expected: tuple[int | None, bool, int]) -> None:
    doc = spec_document_from_text("spec-0003/index.md", f"---\n{front}\n---\n\nBody.\n")
    assert (doc.number, doc.is_draft, len(doc.endorsed_by)) == expected
    assert doc.front_matter["title"] == doc.title


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('---\ntitle: "SPEC 5 — Broken\nauthor: [a\n---\n', "does not parse"),
        ("---\n- a\n- b\n---\nbody\n", "not a mapping"),
        ("# Just markdown\n", "no front matter"),
        ("---\nnumber: 5\n---\n", "no title"),
    ],
)
def test_malformed_front_matter_is_an_error(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        spec_document_from_text("spec-0005/index.md", text)


def test_spec_files_from_a_recursive_tree() -> None:
    files = spec_files_from_tree(body("own_git_tree_recursive.json")["tree"])

    assert sorted(files) == [
        "spec-0000/index.md", "spec-0001.md", "spec-0001/index.md", "spec-0013/index.md",
    ]
    assert all(len(sha) == 40 for sha in files.values())
    link = {"path": "spec-0014/index.md", "mode": "120000", "type": "blob", "sha": "a" * 40}
    assert "spec-0014/index.md" not in spec_files_from_tree([link])  # a symlink is no SPEC
    assert spec_files_from_tree([link | {"mode": "100644"}]) == {"spec-0014/index.md": "a" * 40}


def test_core_projects_skip_index_scripts_and_folders() -> None:
    listing = body("own_contents_core_projects_dir.json")
    assert core_projects_from_listing(listing) == ["ipython", "numpy", "scikit-image"]


# --- events, comments, labels --------------------------------------------------------------


def test_issue_events_keep_stage_relevant_kinds_in_order() -> None:
    events = [e for e in map(event_from_json, body("own_issue_events.json")) if e]

    assert [(e.event, e.label, e.actor) for e in events] == [
        ("labeled", "New SPEC", "carol-author"),
        ("labeled", "spec-accepted", "alice-committee"),
        ("unlabeled", "spec-accepted", "ghost"),
        ("closed", None, "carol-author"),
        ("reopened", None, "carol-author"),
        ("merged", None, "alice-committee"),
        ("closed", None, "alice-committee"),
    ]
    assert events[-1].created_at == events[-2].created_at  # merged and closed: same second


def _at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2024, 3, day, hour, minute, tzinfo=UTC)


def test_timeline_kinds_carry_who_and_when_in_different_fields() -> None:
    items = body("own_issue_timeline.json")
    found = [(item["event"], activity_from_timeline(item)) for item in items]

    assert found == [
        # web edit: the author's name and date, not GitHub the committer nor its later date
        ("committed", Activity(_at(1, 8, 55), "Carol Author", "committed")),
        ("labeled", None),
        ("commented", Activity(_at(2, 10), "alice-committee", "commented")),
        ("subscribed", None),
        # a no-reply address names the login, though git's name is "Dave A."
        ("committed", Activity(_at(4, 12), "dave-author", "committed")),
        ("cross-referenced", None),
        ("reviewed", Activity(_at(6, 15), "bob-committee", "reviewed")),
        ("line-commented", None),  # its review is the activity
        ("commented", None),  # the service's hidden marker
        ("commented", Activity(_at(8, 11), "ghost", "commented")),  # deleted account
        ("commented", Activity(_at(9, 6), "forumsync-bot", "commented")),  # no marker
        ("merged", None),
        ("closed", None),
    ]
    assert all("actor" not in item for item in items if item["event"] == "committed")
    assert all("actor" not in item and item["state"] == item["state"].lower()
               for item in items if item["event"] == "reviewed")


def test_latest_activity_skips_excluded_logins_in_any_case() -> None:
    items = body("own_issue_timeline.json")
    exclude: list[str] = []

    def latest() -> tuple[str, str] | None:
        found = latest_activity(items, exclude)
        return (found.kind, found.actor) if found else None

    assert latest() == ("commented", "forumsync-bot")
    for login, then in [
        ("ForumSync-Bot", ("commented", "ghost")),
        ("ghost", ("reviewed", "bob-committee")),
        ("BOB-committee", ("committed", "dave-author")),
        ("dave-author", ("commented", "alice-committee")),
        ("alice-committee", ("committed", "Carol Author")),
        ("carol author", None),  # a git name is matched like a login
    ]:
        exclude.append(login)
        assert latest() == then, login
    assert latest_activity([], ()) is None
    assert latest_activity(items, "forumsync-bot") == latest_activity(items, ["forumsync-bot"])


def test_timeline_items_without_a_time_or_author_are_handled() -> None:
    pending = {"event": "reviewed", "user": {"login": "bob"}, "state": "pending",
               "submitted_at": None}
    unsubmitted = {"event": "reviewed", "user": {"login": "bob"}, "state": "commented"}
    committer_only = {"event": "committed", "committer": {"name": "Eve", "email": "e@x.org",
                                                          "date": "2024-03-01T00:00:00Z"}}
    with_login = {"event": "committed",
                  "author": {"login": "eve-dev", "name": "Eve", "date": "2024-03-02T00:00:00Z"}}
    old_noreply = {"event": "committed", "author": {"name": "Eve", "date": "2024-03-03T00:00:00Z",
                                                    "email": "eve-dev@users.noreply.github.com"}}
    same_second = [{"event": "commented", "user": {"login": login}, "body": "x",
                    "created_at": "2024-03-04T00:00:00Z"} for login in ("first", "second")]

    assert activity_from_timeline(pending) is None
    assert activity_from_timeline(unsubmitted) is None
    assert activity_from_timeline(committer_only) == Activity(_at(1, 0), "Eve", "committed")
    assert activity_from_timeline(with_login).actor == "eve-dev"  # type: ignore[union-attr]
    assert activity_from_timeline(old_noreply).actor == "eve-dev"  # type: ignore[union-attr]
    assert latest_activity(same_second).actor == "second"  # type: ignore[union-attr]


def test_timeline_page_links_and_page_numbers() -> None:
    links = parse_links(load("own_issue_timeline.json")["response"]["headers"]["Link"])

    assert set(links) == {"prev", "first"} and links["prev"] == links["first"]
    assert "/repositories/458300001/issues/7/timeline?" in links["prev"]
    assert page_number(links["prev"]) == 1
    assert page_number("https://api.github.com/repositories/1/issues/2/timeline?page=12") == 12
    assert page_number("/repos/o/r/issues/2/timeline?per_page=100") is None


def test_real_comment_create_response() -> None:
    comment = comment_from_json(load("issue_comment_create.json")["response_body"])

    assert comment.id == 1437480477 and comment.author == "ehuss"
    assert comment.created_at == datetime(2023, 2, 20, 19, 42, 33, tzinfo=UTC)


def test_a_comment_belongs_to_the_issue_its_issue_url_names() -> None:
    real = load("issue_comment_create.json")["response_body"]
    assert issue_number_of(real) == 81
    api = "https://ghe.example.org/api/v3/repos/o/r"
    assert issue_number_of({"issue_url": f"{api}/issues/7/"}) == 7
    for odd in ({}, {"issue_url": None}, {"issue_url": f"{api}/pulls/7"},
                {"issue_url": f"{api}/issues/\u0667"}, {"issue_url": "7"}):
        assert issue_number_of(odd) is None


def test_real_label_payloads_have_the_label_object_shape() -> None:
    keys = {"id", "node_id", "url", "name", "color", "default", "description"}
    added = load("issue_labels_add.json")["response_body"]
    got = load("repo_label_get.json")["response_body"]
    crud = load("octokit_labels_crud.json")
    octo_added = load("octokit_add_labels_to_issue.json")[1]["response"]

    assert set(added[0]) == keys and set(got) == keys
    assert all(set(label) == keys for label in crud[0]["response"] + octo_added)
    assert crud[1]["status"] == 201 and crud[1]["response"]["description"] is None
    assert load("issue_label_remove.json")["response_code"] == 200  # DELETE answers a list


def test_real_validation_error_body() -> None:
    error = load("octokit_error_422_validation.json")[0]["response"]
    assert set(error) == {"message", "errors", "documentation_url"}
    assert error["errors"][0]["code"] == "invalid"


# --- rate limits and backoff ---------------------------------------------------------------

NOW = 1_767_225_000.0


def test_primary_limit_waits_until_reset() -> None:
    headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(NOW) + 30)}
    assert rate_limit_wait(403, headers, None, NOW) == 31.0
    assert rate_limit_wait(429, lower_keys(headers), None, NOW) == 31.0
    past = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) - 5)}
    assert rate_limit_wait(403, past, None, NOW) == 1.0


def test_primary_limit_without_reset_header_waits_the_default() -> None:
    response = load("own_rate_limit_primary_no_reset.json")["response"]
    wait = rate_limit_wait(response["status"], response["headers"],
                           response["body"]["message"], NOW, default=60)
    assert wait == 60


def test_secondary_limit_uses_retry_after() -> None:
    response = load("own_rate_limit_secondary.json")["response"]
    assert rate_limit_wait(403, response["headers"], response["body"]["message"], NOW) == 60.0
    assert rate_limit_wait(403, {"retry-after": "7"}, None, NOW) == 7.0


def test_message_only_secondary_limit_and_bare_429() -> None:
    message = ("You have exceeded a secondary rate limit. "
               "Please wait a few minutes before you try again.")
    assert rate_limit_wait(403, {}, message, NOW, default=60) == 60
    assert rate_limit_wait(429, {}, None, NOW, default=60) == 60


def test_refusals_and_other_statuses_are_not_rate_limits() -> None:
    refusal = {"x-ratelimit-remaining": "4980"}
    assert rate_limit_wait(403, refusal, "Must have push access to view collaborator permission.",
                           NOW) is None
    assert rate_limit_wait(500, {"Retry-After": "5"}, None, NOW) is None
    assert rate_limit_wait(404, {}, "Not Found", NOW) is None


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff_delay(n, 30.0) for n in (0, 1, 2, 3)] == [1.0, 2.0, 4.0, 8.0]
    assert backoff_delay(10, cap=30.0) == 30.0


def test_scrub_removes_the_token() -> None:
    assert scrub("token abc123 leaked", "abc123") == "token *** leaked"
    assert scrub("nothing", None) == "nothing"
