"""The fake GitHub on its own, over plain HTTP: response shapes follow the real payloads
(tests/fixtures/github/), and people's actions change its state as on GitHub."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator

import pytest
import requests

from forumsync.sandbox.core import Clock, iso
from forumsync.sandbox.github import FakeGitHub, blob_sha, git_patch, wrapped_base64
from tests.repo_support import (
    ENDORSEMENT,
    MERGED_SPEC,
    OPEN_SPEC,
    REOPENED,
    TOKEN,
    WITHDRAWN,
    sandbox,
)

AUTH = {"Authorization": f"token {TOKEN}"}
LABEL_KEYS = {"id", "node_id", "url", "name", "color", "default", "description"}
RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset",
                "X-RateLimit-Used", "X-RateLimit-Resource")


class Api:
    def __init__(self, fake: FakeGitHub, url: str) -> None:
        self.fake, self.url = fake, url
        self.repo = f"{url}/repos/{fake.full_name}"

    def get(self, path: str, **kwargs: object) -> requests.Response:
        return requests.get(path if path.startswith("http") else self.repo + path,
                            timeout=5, **kwargs)


@pytest.fixture
def api() -> Iterator[Api]:
    with sandbox() as (fake, server):
        yield Api(fake, server.url)


def test_list_items_have_merged_at_but_no_merged(api: Api) -> None:
    items = api.get("/pulls", params={"state": "all"}).json()
    single = api.get(f"/pulls/{MERGED_SPEC}").json()

    assert all("merged" not in item and "merged_by" not in item for item in items)
    assert {item["number"]: item["merged_at"] is not None for item in items}[MERGED_SPEC]
    assert single["merged"] is True and single["merged_by"]["login"] == "alice-committee"
    assert single["changed_files"] == 1 and single["additions"] > 0
    assert api.get(f"/pulls/{OPEN_SPEC}").json()["merged"] is False


def test_pull_list_filters_and_sorts(api: Api) -> None:
    open_numbers = [p["number"] for p in api.get("/pulls").json()]
    updated = api.get("/pulls", params={"state": "all", "sort": "updated",
                                        "direction": "desc"}).json()

    assert open_numbers == [REOPENED, ENDORSEMENT, OPEN_SPEC]  # default: open, newest first
    times = [p["updated_at"] for p in updated]
    assert times == sorted(times, reverse=True) and len(updated) == 5


def test_link_headers_page_through_repositories_id(api: Api) -> None:
    first = api.get("/pulls", params={"state": "all", "per_page": 2})
    links = requests.utils.parse_header_links(first.headers["Link"])

    assert [link["rel"] for link in links] == ["next", "last"]
    assert f"/repositories/{api.fake.repo_id}/pulls?" in links[0]["url"]
    assert links[0]["url"].endswith("state=all&per_page=2&page=2")
    second = api.get(links[0]["url"])
    rels = [link["rel"] for link in requests.utils.parse_header_links(second.headers["Link"])]
    assert rels == ["prev", "next", "last", "first"]
    last = api.get(links[1]["url"])
    assert len(last.json()) == 1 and "next" not in last.headers["Link"]
    assert "Link" not in api.get("/pulls", params={"state": "all"}).headers  # one page


def test_per_page_default_30_and_capped_at_100(api: Api) -> None:
    for number in range(40):
        api.fake.comment("someone", OPEN_SPEC, f"comment {number}")

    assert len(api.get(f"/issues/{OPEN_SPEC}/comments").json()) == 30
    assert len(api.get(f"/issues/{OPEN_SPEC}/comments", params={"per_page": 500}).json()) == 42


def test_strong_etag_and_304_without_body_or_rate_cost(api: Api) -> None:
    first = api.get(f"/pulls/{OPEN_SPEC}", headers=AUTH)
    etag = first.headers["ETag"]
    used = int(first.headers["X-RateLimit-Used"])

    again = api.get(f"/pulls/{OPEN_SPEC}", headers={**AUTH, "If-None-Match": etag})
    weak = api.get(f"/pulls/{OPEN_SPEC}", headers={**AUTH, "If-None-Match": f"W/{etag}"})

    assert re.fullmatch(r'"[0-9a-f]{64}"', etag)
    assert again.status_code == 304 and again.content == b"" and again.headers["ETag"] == etag
    assert weak.status_code == 304
    assert int(again.headers["X-RateLimit-Used"]) == used
    api.fake.add_label("bob-committee", OPEN_SPEC, "spec-published")
    changed = api.get(f"/pulls/{OPEN_SPEC}", headers={**AUTH, "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag


def test_every_answer_carries_rate_limit_headers_in_github_case(api: Api) -> None:
    ok = api.get("")
    missing = api.get("/pulls/404")
    refused = requests.post(f"{api.repo}/issues/{OPEN_SPEC}/comments", json={"body": "x"},
                            timeout=5)

    for response in (ok, missing, refused):
        raw_names = list(response.raw.headers.keys())
        assert all(name in raw_names for name in RATE_HEADERS), raw_names
    assert ok.headers["X-RateLimit-Limit"] == "60"  # anonymous
    assert api.get("", headers=AUTH).headers["X-RateLimit-Limit"] == "5000"
    assert missing.json() == {"message": "Not Found",
                              "documentation_url": "https://docs.github.com/rest"}
    assert refused.status_code == 401 and refused.json()["message"] == "Requires authentication"
    assert set(refused.json()) == {"message", "documentation_url"}


def test_contents_base64_wrapped_every_60_chars(api: Api) -> None:
    data = api.get("/contents/spec-0000/index.md", params={"ref": "main"}).json()
    lines = data["content"].split("\n")

    assert data["type"] == "file" and data["encoding"] == "base64"
    assert all(len(line) == 60 for line in lines[:-2]) and lines[-1] == ""
    text = base64.b64decode(data["content"]).decode("utf-8")
    assert text.startswith('---\ntitle: "SPEC 0 — ') and data["sha"] == blob_sha(text)
    assert wrapped_base64("") == ""


def test_contents_of_a_folder_and_a_missing_path(api: Api) -> None:
    listing = api.get("/contents/core-projects").json()
    missing = api.get("/contents/spec-0404/index.md")

    assert [(e["name"], e["type"]) for e in listing] == [
        ("_index.md", "file"), ("numpy.md", "file"), ("register.py", "file"),
        ("scikit-image.md", "file"), ("scipy.md", "file")]
    assert missing.status_code == 404 and missing.json()["message"] == "Not Found"
    assert api.get("/contents/spec-0004/index.md").status_code == 404  # only on the PR
    head = api.get(f"/pulls/{OPEN_SPEC}").json()["head"]["sha"]
    assert api.get("/contents/spec-0004/index.md", params={"ref": head}).status_code == 200


def test_pull_files_carry_patches_as_github_does(api: Api) -> None:
    head = api.get(f"/pulls/{OPEN_SPEC}").json()["head"]["sha"]
    (added,) = api.get(f"/pulls/{OPEN_SPEC}/files").json()
    endorsement = {f["filename"]: f for f in api.get(f"/pulls/{ENDORSEMENT}/files").json()}
    document = base64.b64decode(api.get("/contents/spec-0004/index.md",
                                         params={"ref": head}).json()["content"]).decode()

    lines = document.splitlines()
    assert added["status"] == "added" and not added["patch"].endswith("\n")
    assert added["patch"].split("\n") == [f"@@ -0,0 +1,{len(lines)} @@",
                                          *(f"+{line}" for line in lines)]
    assert (added["additions"], added["deletions"], added["changes"]) == (len(lines), 0,
                                                                          len(lines))
    modified, removed = endorsement["spec-0000/index.md"], endorsement["spec-0000/chart.md"]
    assert modified["status"] == "modified" and modified["patch"].startswith("@@ -")
    assert "\n+  - scikit-image\n" in modified["patch"] and "\n   - scipy\n" in \
        modified["patch"]  # three lines of context around the change
    assert (modified["additions"], modified["deletions"]) == (1, 0)
    assert removed["patch"] == "@@ -1 +0,0 @@\n-A chart, not a SPEC."
    api.fake.patch_max_lines = 3  # above GitHub's per-file limit: listed without a patch
    (large,) = api.get(f"/pulls/{OPEN_SPEC}/files").json()
    assert "patch" not in large and large["additions"] == len(lines)


def test_patches_mark_a_last_line_without_newline_and_keep_carriage_returns() -> None:
    assert git_patch("", "x") == "@@ -0,0 +1 @@\n+x\n\\ No newline at end of file"
    assert git_patch("", "a\r\nb\r\n") == "@@ -0,0 +1,2 @@\n+a\r\n+b\r"
    assert git_patch("a\nb", "a\nb\n") == (
        "@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+b")


def test_git_blob_sha_is_gits() -> None:
    assert blob_sha("hello\n") == "ce013625030ba8dba906f756967f9e9ca394464a"


def test_tree_lists_blobs_and_folders(api: Api) -> None:
    tree = api.get("/git/trees/main", params={"recursive": "1"}).json()
    top = api.get("/git/trees/main").json()

    kinds = {e["path"]: e["type"] for e in tree["tree"]}
    assert kinds["spec-0000"] == "tree" and kinds["spec-0000/index.md"] == "blob"
    assert tree["truncated"] is False
    assert all("/" not in e["path"] for e in top["tree"])
    assert api.get("/git/trees/nonsense").status_code == 404


def test_commit_sha_media_type_and_head(api: Api) -> None:
    sha = api.get("/commits/main", headers={"Accept": "application/vnd.github.sha"})

    assert sha.text == api.fake.branch_head
    assert sha.headers["Content-Type"].startswith("application/vnd.github.sha")
    assert api.get("/commits/main").json()["sha"] == api.fake.branch_head
    assert api.get("/commits/0000000").status_code == 422


def test_labels_and_events_shapes(api: Api) -> None:
    labels = api.get(f"/issues/{OPEN_SPEC}/labels").json()
    events = api.get(f"/issues/{MERGED_SPEC}/events").json()

    assert all(set(label) == LABEL_KEYS for label in labels)
    assert [e["event"] for e in events] == ["labeled", "labeled", "merged", "closed"]
    assert events[0]["label"] == {"name": "New SPEC", "color": "ededed"}
    assert events[2]["commit_id"] == api.fake.pulls[MERGED_SPEC].merge_commit_sha
    assert {"id", "node_id", "url", "actor", "event", "commit_id", "created_at"} <= set(events[0])
    assert events[2]["created_at"] == events[3]["created_at"]


def _walk(api: Api, response: requests.Response, rel: str) -> list[requests.Response]:
    """The pages reached from `response` by following Link `rel` to the end."""
    pages = [response]
    while rel in response.links:
        response = api.get(response.links[rel]["url"])
        pages.append(response)
    return pages


def test_timeline_pages_oldest_first_both_ways(api: Api) -> None:
    path = f"/issues/{OPEN_SPEC}/timeline"
    whole = api.get(path, params={"per_page": 100}).json()
    first = api.get(path, params={"per_page": 3})

    forward = _walk(api, first, "next")
    backward = _walk(api, api.get(first.links["last"]["url"]), "prev")

    assert [len(page.json()) for page in forward] == [3, 3, 1]
    assert "Link" not in api.get(path).headers  # 30 a page by default: one page
    assert [item for page in forward for item in page.json()] == whole
    assert [item for page in reversed(backward) for item in page.json()] == whole
    assert [link["rel"] for link in requests.utils.parse_header_links(
        forward[1].headers["Link"])] == ["prev", "next", "last", "first"]
    later = forward[1].links["next"]["url"]
    assert f"/repositories/{api.fake.repo_id}/issues/{OPEN_SPEC}/timeline?" in later
    assert later.endswith("per_page=3&page=3")
    assert backward[-2].links["prev"]["url"] == backward[-2].links["first"]["url"]  # page 1
    assert api.get("/issues/404/timeline").status_code == 404


def test_timeline_items_have_githubs_three_activity_shapes(api: Api) -> None:
    fake, clock = api.fake, api.fake.clock
    fake.git_identities["dave-author"] = ("Dave Author", "dave@example.org")
    pushed = fake.push_to_pull("dave-author", OPEN_SPEC, {"spec-0004/notes.md": "notes\n"})
    pushed_at = clock.now()
    review_id = fake.review("alice-committee", OPEN_SPEC, "changes_requested", "Fix the title.")

    items = api.get(f"/issues/{OPEN_SPEC}/timeline").json()

    assert [i["event"] for i in items] == [
        "committed", "labeled", "labeled", "unlabeled", "labeled", "commented", "commented",
        "committed", "reviewed"]
    opened, pushed_item = (i for i in items if i["event"] == "committed")
    for commit in (opened, pushed_item):  # no actor, no id, no created_at: git's view only
        assert {"actor", "id", "created_at", "user"}.isdisjoint(commit)
        assert set(commit["author"]) == {"name", "email", "date"} == set(commit["committer"])
    uid = fake.users["dave-author"]
    assert opened["author"]["name"] == "dave-author"  # the default identity: GitHub's no-reply
    assert opened["author"]["email"] == f"{uid}+dave-author@users.noreply.github.com"
    assert opened["author"]["date"] == iso(fake.pulls[OPEN_SPEC].created_at)
    assert pushed_item["sha"] == pushed and pushed_item["parents"][0]["sha"] == opened["sha"]
    assert pushed_item["author"] == {"name": "Dave Author", "email": "dave@example.org",
                                     "date": iso(pushed_at)}
    comment = items[5]
    assert comment["actor"] == comment["user"] and comment["user"]["login"] == "alice-committee"
    assert {"created_at", "body", "id"} <= set(comment)
    review = items[-1]
    assert "actor" not in review and "created_at" not in review
    assert (review["id"], review["user"]["login"], review["state"]) == (
        review_id, "alice-committee", "changes_requested")  # lower case on the timeline
    assert review["submitted_at"] == iso(clock.now()) and review["commit_id"] == pushed
    assert items[1]["actor"]["login"] == "dave-author" and items[1]["label"]["name"]
    stamps = [i.get("created_at") or i.get("submitted_at") or i["author"]["date"] for i in items]
    assert stamps == sorted(stamps)


def test_timeline_of_a_merged_pull_lists_its_commits_not_the_merge(api: Api) -> None:
    items = api.get(f"/issues/{MERGED_SPEC}/timeline").json()
    events = api.get(f"/issues/{MERGED_SPEC}/events").json()

    assert [i["event"] for i in items] == ["committed", "labeled", "labeled", "merged", "closed"]
    assert items[0]["sha"] != api.fake.pulls[MERGED_SPEC].merge_commit_sha
    assert items[1:] == events  # issue events keep their own shape on the timeline


def test_label_writes_over_http(api: Api) -> None:
    label = {"name": "spec-published", "color": "abcdef"}
    created = requests.post(f"{api.repo}/labels", json=label, headers=AUTH, timeout=5)
    duplicate = requests.post(f"{api.repo}/labels", json={"name": "Spec-Published"}, headers=AUTH,
                              timeout=5)
    added = requests.post(f"{api.repo}/issues/{REOPENED}/labels",
                          json={"labels": ["spec-published"]}, headers=AUTH, timeout=5)
    removed = requests.delete(f"{api.repo}/issues/{REOPENED}/labels/spec-published", headers=AUTH,
                              timeout=5)
    gone = requests.delete(f"{api.repo}/issues/{REOPENED}/labels/spec-published", headers=AUTH,
                           timeout=5)

    assert created.status_code == 201 and created.json()["color"] == "abcdef"
    assert duplicate.status_code == 422
    assert duplicate.json()["errors"] == [{"resource": "Label", "code": "already_exists",
                                           "field": "name"}]
    assert added.status_code == 200 and [x["name"] for x in added.json()] == ["spec-published"]
    assert removed.status_code == 200 and removed.json() == []
    assert gone.status_code == 404 and gone.json()["message"] == "Label does not exist"
    assert [(e.event, e.actor) for e in api.fake.events_on(REOPENED)][-2:] == [
        ("labeled", "forumsync-bot"), ("unlabeled", "forumsync-bot")]
    assert api.get("/labels/spec%20nothing").status_code == 404


def test_comment_post_needs_auth_and_returns_201(api: Api) -> None:
    url = f"{api.repo}/issues/{OPEN_SPEC}/comments"
    created = requests.post(url, json={"body": "hello"}, headers=AUTH, timeout=5)
    empty = requests.post(url, json={"body": ""}, headers=AUTH, timeout=5)

    assert created.status_code == 201 and created.headers["Location"] == created.json()["url"]
    assert created.json()["user"]["login"] == "forumsync-bot"
    assert empty.status_code == 422
    assert api.fake.comments_on(OPEN_SPEC)[-1].body == "hello"


def test_configured_tokens_map_to_logins_and_refuse_others(api: Api) -> None:
    api.fake.tokens = {"good": "someone-else"}
    url = f"{api.repo}/issues/{OPEN_SPEC}/comments"

    bad = requests.post(url, json={"body": "x"}, headers={"Authorization": "token nope"},
                        timeout=5)
    good = requests.post(url, json={"body": "x"}, headers={"Authorization": "token good"},
                         timeout=5)

    assert bad.status_code == 401 and bad.json()["message"] == "Bad credentials"
    assert good.json()["user"]["login"] == "someone-else"


def test_team_members_need_a_token_and_page_by_org_id(api: Api) -> None:
    url = f"{api.url}/orgs/scientific-python/teams/spec-steering-committee/members"
    anonymous = requests.get(url, timeout=5)
    first = requests.get(url, params={"per_page": 1}, headers=AUTH, timeout=5)

    assert anonymous.status_code == 401
    assert [u["login"] for u in first.json()] == ["alice-committee"]
    link = requests.utils.parse_header_links(first.headers["Link"])[0]["url"]
    assert f"/organizations/{api.fake.org_id}/team/" in link
    second = requests.get(link, headers=AUTH, timeout=5)
    assert [u["login"] for u in second.json()] == ["bob-committee"]
    unknown = requests.get(f"{api.url}/orgs/scientific-python/teams/nope/members",
                           headers=AUTH, timeout=5)
    assert unknown.status_code == 404


# --- acting as people ----------------------------------------------------------------------


def test_merge_applies_files_and_records_events() -> None:
    clock = Clock()
    fake = FakeGitHub("example/specs", clock)
    before = fake.branch_head
    number = fake.open_pull("ada", "SPEC 9", "body", {"spec-0009/index.md": "x\n",
                                                      "README.md": None})

    assert fake.file("spec-0009/index.md") is None
    sha = fake.merge_pull("chair", number)

    assert fake.branch_head == sha != before
    assert fake.file("spec-0009/index.md") == "x\n" and fake.file("README.md") is None
    pull = fake.pulls[number]
    assert pull.state == "closed" and pull.merged and pull.merged_by == "chair"
    assert [e.event for e in fake.events_on(number)] == ["merged", "closed"]
    assert pull.merged_at == clock.now()
    with pytest.raises(ValueError):
        fake.merge_pull("chair", number)


def test_close_reopen_labels_and_comments_move_updated_at() -> None:
    fake = FakeGitHub()
    number = fake.open_pull("ada", "t", "", {"a.md": "a"}, labels=["New SPEC"])
    stamps = [fake.pulls[number].updated_at]

    fake.close_pull("ada", number)
    stamps.append(fake.pulls[number].updated_at)
    fake.reopen_pull("ada", number)
    stamps.append(fake.pulls[number].updated_at)
    fake.remove_label("chair", number, "new spec")  # label names are case-insensitive
    fake.comment("bob", number, "hi")
    stamps.append(fake.pulls[number].updated_at)

    assert stamps == sorted(set(stamps))
    assert fake.labels_on(number) == ()
    assert [(e.event, e.actor) for e in fake.events_on(number)] == [
        ("labeled", "ada"), ("closed", "ada"), ("reopened", "ada"), ("unlabeled", "chair")]
    assert [c.author for c in fake.comments_on(number)] == ["bob"]


def test_set_file_and_push_to_pull() -> None:
    fake = FakeGitHub()
    head = fake.set_file("spec-0001/index.md", "v1")
    number = fake.open_pull("ada", "t", "", {"spec-0001/index.md": "v2"})
    old_head = fake.pulls[number].head_sha

    new_head = fake.push_to_pull("ada", number, {"spec-0002/index.md": "new"})

    assert fake.branch_head == head and fake.file("spec-0001/index.md") == "v1"
    assert new_head != old_head
    assert fake.file("spec-0002/index.md", new_head) == "new"
    assert fake.file("spec-0001/index.md", new_head) == "v2"
    assert fake.file("spec-0001/index.md", f"pr-{number}") == "v2"


def test_reviews_are_dated_by_the_clock_and_checked_like_githubs() -> None:
    clock = Clock()
    fake = FakeGitHub("example/specs", clock)
    number = fake.open_pull("ada", "SPEC 9", "", {"spec-0009/index.md": "x\n"})
    opened = fake.commits_on(number)

    clock.advance(days=3)
    fake.review("bob", number, "approved")
    fake.review("ada", number)  # the author may comment on their own pull

    assert [(r.user, r.state, r.body) for r in fake.reviews_on(number)] == [
        ("bob", "APPROVED", ""), ("ada", "COMMENTED", "")]
    assert fake.reviews_on(number)[-1].submitted_at == clock.now()
    assert fake.pulls[number].updated_at == clock.now()
    assert [(c.author, c.date) for c in opened] == [("ada", fake.pulls[number].created_at)]
    with pytest.raises(ValueError):
        fake.review("ada", number, "APPROVED")
    with pytest.raises(ValueError):
        fake.review("bob", number, "PENDING")
    fake.push_to_pull("ada", number, {"spec-0009/index.md": "y\n"})
    assert [(c.author, c.date) for c in fake.commits_on(number)][-1] == ("ada", clock.now())


def test_seeded_scenario_states(api: Api) -> None:
    pulls = api.fake.pulls
    assert pulls[WITHDRAWN].state == "closed" and not pulls[WITHDRAWN].merged
    assert pulls[REOPENED].state == "open"
    assert api.fake.labels_on(OPEN_SPEC) == ("New SPEC", "spec-draft")
