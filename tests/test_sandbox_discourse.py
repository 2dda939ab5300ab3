"""The fake Discourse on its own: payload shapes, access rules, quirks, and acting as people."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests

from forumsync.sandbox.core import Clock, ServiceServer
from forumsync.sandbox.discourse import (
    API_KEY,
    INVALID_ACCESS,
    NOT_FOUND,
    FakeDiscourse,
    cook,
)
from tests.forum_support import load, seeded_sandbox

AUTH = {"Api-Key": API_KEY, "Api-Username": "forumsync"}
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


class Http:
    def __init__(self, fake: FakeDiscourse, url: str) -> None:
        self.fake, self.url = fake, url

    def get(self, path: str, auth: bool = False, **kw: Any) -> requests.Response:
        return requests.get(self.url + path, headers=AUTH if auth else {}, timeout=5,
                            allow_redirects=False, **kw)

    def send(self, method: str, path: str, auth: bool = True, **kw: Any) -> requests.Response:
        return requests.request(method, self.url + path, headers=AUTH if auth else {},
                                timeout=5, **kw)


@pytest.fixture
def http() -> Iterator[Http]:
    fake = seeded_sandbox()
    with ServiceServer(fake) as server:
        yield Http(fake, server.url)


def test_cooking_drops_html_comments() -> None:
    assert cook("Hello <b>\n\n<!-- forumsync:x -->\n\nBye") == "<p>Hello &lt;b&gt;</p>\n<p>Bye</p>"


def test_json_content_type_and_not_found_body(http: Http) -> None:
    found = http.get("/groups/spec-steering-committee/members.json")
    assert found.headers["Content-Type"] == "application/json; charset=utf-8"
    for path in ("/t/999.json", "/no/such/route", "/groups/nobody/members.json"):
        missing = http.get(path)
        assert (missing.status_code, missing.json()) == (404, NOT_FOUND)
        assert missing.headers["Content-Type"] == "application/json; charset=utf-8"


def test_writes_need_a_valid_key_and_user(http: Http) -> None:
    body = {"topic_id": 1, "raw": "An attempt to reply without a key."}
    assert http.send("POST", "/posts.json", auth=False, json=body).json() == INVALID_ACCESS
    wrong = {"Api-Key": "wrong", "Api-Username": "forumsync"}
    refused = requests.get(http.url + "/t/1.json", headers=wrong, timeout=5)
    assert (refused.status_code, refused.json()) == (403, INVALID_ACCESS)
    ghost = {"Api-Key": API_KEY, "Api-Username": "nobody"}
    assert requests.put(http.url + "/t/-/1.json", headers=ghost, json={"tags": []},
                        timeout=5).status_code == 403
    assert http.get("/t/1.json").status_code == 200  # reads are public


def test_category_and_slug_urls_redirect_like_discourse(http: Http) -> None:
    category = http.get("/c/9.json", params={"page": "1"})
    assert category.status_code == 301
    assert category.headers["Location"] == f"{http.url}/c/specs/ideas/9.json?page=1"
    assert category.headers["Content-Type"].startswith("text/html")

    topic_id, _ = http.fake.create_topic("alice", "Where slugs lead", "Body of the topic.", 9)
    by_slug = http.get("/t/where-slugs-lead.json", params={"include_raw": "1", "page": "2"})
    assert by_slug.status_code == 301
    assert by_slug.headers["Location"] == f"{http.url}/t/where-slugs-lead/{topic_id}.json" \
                                          "?include_raw=1"
    assert http.get("/t/no-such-slug.json").status_code == 404


def test_listing_shape_pinned_first_and_paged(http: Http) -> None:
    fake = http.fake
    for n in range(31):
        fake.create_topic("alice", f"Listing shape topic {n}", "Body of the topic.", 9,
                          tags=["spec-draft", "Mixed Case "])
    page0 = http.get("/c/specs/ideas/9.json").json()
    topics = page0["topic_list"]["topics"]
    assert topics[0]["title"] == "About the Ideas category" and topics[0]["pinned"]
    assert "excerpt" in topics[0]
    assert topics[1]["title"] == "Listing shape topic 30"  # newest first after the pinned one
    assert topics[1]["tags"] == ["spec-draft", "mixed case"]  # plain lower-cased strings
    assert page0["topic_list"]["more_topics_url"] == "/c/specs/ideas/9/l/latest?page=1"
    assert page0["topic_list"]["per_page"] == 30 and len(topics) == 30
    assert {u["username"] for u in page0["users"]} == {"alice", "system"}
    assert TIMESTAMP.match(topics[1]["bumped_at"])
    last = http.get("/c/specs/ideas/9.json", params={"page": "1"}).json()
    assert "more_topics_url" not in last["topic_list"] and len(last["topic_list"]["topics"]) == 2
    parent = http.get("/c/specs/6.json").json()["topic_list"]["topics"]
    assert len(parent) == 30  # the parent category lists its subcategories' topics


def test_topic_view_loads_twenty_posts_and_streams_all(http: Http) -> None:
    fake = http.fake
    topic_id, _ = fake.create_topic("alice", "Twenty two posts here", "First post body.", 9)
    for n in range(2, 23):
        fake.reply("bob", topic_id, f"Reply {n}\n\n<!-- forumsync:r{n} -->")

    plain = http.get(f"/t/{topic_id}.json").json()
    assert plain["posts_count"] == 22 and plain["chunk_size"] == 20
    assert len(plain["post_stream"]["posts"]) == 20 and len(plain["post_stream"]["stream"]) == 22
    assert "raw" not in plain["post_stream"]["posts"][0]
    assert plain["tags"] == [] and plain["details"]["created_by"]["username"] == "alice"

    with_raw = http.get(f"/t/{topic_id}.json", params={"include_raw": "1"}).json()
    post = with_raw["post_stream"]["posts"][19]
    assert post["raw"] == "Reply 20\n\n<!-- forumsync:r20 -->"
    assert post["cooked"] == "<p>Reply 20</p>" and TIMESTAMP.match(post["created_at"])

    rest = http.get(f"/t/{topic_id}/posts.json",
                    params={"post_ids[]": plain["post_stream"]["stream"][20:]}).json()
    assert set(rest) == {"post_stream", "id"}
    assert [p["post_number"] for p in rest["post_stream"]["posts"]] == [22, 21]  # newest first
    assert "raw" not in rest["post_stream"]["posts"][0]


def test_revisions_follow_the_discourse_serializer(http: Http) -> None:
    fake = http.fake
    fake.add_user("JaneDoe")
    topic_id, post_id = fake.create_topic("alice", "Revisions of a thread", "Body text.", 9,
                                          tags=["spec-draft"])
    assert http.get(f"/posts/{post_id}/revisions/latest.json").status_code == 404
    fake.retag("JaneDoe", topic_id, ["spec-accepted", "spec-draft"])
    fake.recategorize("alice", topic_id, 15)

    latest = http.get(f"/posts/{post_id}/revisions/latest.json").json()
    first = http.get(f"/posts/{post_id}/revisions/2.json").json()

    assert (latest["current_revision"], latest["previous_revision"]) == (3, 2)
    assert latest["category_id_changes"] == {"previous": 9, "current": 15}
    assert "tags_changes" not in latest
    assert (first["previous_revision"], first["next_revision"], first["first_revision"]) == (
        None, 3, 2)
    assert (first["username"], first["display_username"]) == ("janedoe", "JaneDoe")
    assert first["tags_changes"] == {"previous": ["spec-draft"],
                                     "current": ["spec-accepted", "spec-draft"]}
    assert first["version_count"] == 3 and set(first["body_changes"]) == {
        "inline", "side_by_side", "side_by_side_markdown"}
    assert http.get(f"/posts/{post_id}/revisions/1.json").status_code == 400
    assert http.get(f"/posts/{post_id}/revisions/9.json").status_code == 404


def test_identical_api_posts_within_two_minutes_are_one(http: Http) -> None:
    topic_id, _ = http.fake.create_topic("alice", "Deduplicated replies", "Body text.", 9)
    body = {"topic_id": topic_id, "raw": "The very same reply, sent twice."}
    first = http.send("POST", "/posts.json", json=body).json()
    again = http.send("POST", "/posts.json", json=body).json()
    http.fake.clock.advance(seconds=121)
    later = http.send("POST", "/posts.json", json=body).json()

    assert first["id"] == again["id"] != later["id"]
    assert len(http.fake.posts_in(topic_id)) == 3
    assert first["topic_id"] == topic_id and first["yours"] and "raw" not in first


def test_creation_is_validated_like_discourse(http: Http) -> None:
    def create(**body: Any) -> requests.Response:
        return http.send("POST", "/posts", data=body)  # form-encoded, pydiscourse's default

    assert create(title="Short", raw="A long enough body text.", category=9).json()[
        "errors"] == ["Title is too short (minimum is 15 characters)"]
    ok = create(title="A topic title that fits", raw="A long enough body text.", category=9)
    assert ok.status_code == 200 and ok.json()["post_number"] == 1
    duplicate = create(title="A topic title that FITS", raw="Another body for it here.",
                       category=9)
    assert duplicate.status_code == 422
    assert duplicate.json()["errors"] == ["Title has already been used"]
    nobody = create(title="Hi", raw="Private words here.", archetype="private_message",
                    target_recipients="no-such-group")
    assert nobody.status_code == 422
    assert create(topic_id=ok.json()["topic_id"], raw="short").status_code == 422


def test_tags_are_accepted_as_names_or_objects(http: Http) -> None:
    fake = http.fake
    topic_id, _ = fake.create_topic("alice", "Tag formats thread", "Body text.", 9,
                                    tags=["spec-draft"])
    as_form = http.send("PUT", f"/t/-/{topic_id}.json", data={"tags[]": ["old-style", "b"]})
    assert fake.topics[topic_id].tags == ["old-style", "b"]
    assert as_form.json()["tags"] == [{"id": fake.tag_ids["old-style"], "name": "old-style",
                                       "slug": "old-style"},
                                      {"id": fake.tag_ids["b"], "name": "b", "slug": "b"}]
    http.send("PUT", f"/t/-/{topic_id}.json",
              json={"tags": [{"name": "spec-accepted"}, {"id": fake.tag_ids["b"]}]})
    assert fake.topics[topic_id].tags == ["spec-accepted", "b"]

    moved = http.send("PUT", f"/t/-/{topic_id}.json", json={"category_id": 15}).json()
    documented = load("update_topic_response.json")  # the API docs' example
    assert set(moved) == set(documented)
    assert set(moved["basic_topic"]) == set(documented["basic_topic"])
    assert fake.topics[topic_id].category_id == 15
    [revision] = fake.topics[topic_id].revisions  # one editor within 5 minutes: one revision
    assert revision.changes == {"tags": (["spec-draft"], ["b", "spec-accepted"]),
                                "category_id": (9, 15)}
    bad = http.send("PUT", f"/t/-/{topic_id}.json", json={"category_id": 99})
    assert bad.status_code == 422


def test_group_members_and_owners(http: Http) -> None:
    page = http.get("/groups/spec-steering-committee/members.json",
                    params={"limit": "2", "offset": "1"}).json()
    assert [m["username"] for m in page["members"]] == ["bob", "carol"]
    assert [o["username"] for o in page["owners"]] == ["carol"]
    assert page["meta"] == {"total": 3, "limit": 2, "offset": 1}
    documented = load("group_members.json")
    assert set(documented) == set(page)
    assert set(documented["members"][0]) <= set(page["members"][0])


def test_private_messages_are_visible_only_to_their_people(http: Http) -> None:
    fake = http.fake
    message_id = fake.send_message("alice", "spec-steering-committee", "Committee note",
                                   "For the committee only.")
    assert http.get(f"/t/{message_id}.json").status_code == 404
    member = {"Api-Key": API_KEY, "Api-Username": "bob"}
    assert requests.get(f"{http.url}/t/{message_id}.json", headers=member, timeout=5).ok
    view = requests.get(f"{http.url}/t/{message_id}.json", headers=member, timeout=5).json()
    assert view["archetype"] == "private_message" and "tags" not in view

    sent = requests.get(f"{http.url}/topics/private-messages-sent/alice.json",
                        headers={**member, "Api-Username": "alice"}, timeout=5).json()
    assert [t["id"] for t in sent["topic_list"]["topics"]] == [message_id]
    other = requests.get(f"{http.url}/topics/private-messages-sent/alice.json",
                         headers=member, timeout=5)
    assert other.status_code == 403  # bob may not list alice's messages
    assert http.get("/topics/private-messages-sent/alice.json", auth=True).ok  # an admin may
    assert http.get("/topics/private-messages-sent/alice.json").status_code == 403


def test_rate_limit_fault_has_discourse_shape(http: Http) -> None:
    http.fake.rate_limit(r"GET /t/", wait_seconds=12)
    limited = http.get("/t/1.json")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "12"
    assert limited.json()["error_type"] == "rate_limit"
    assert limited.json()["extras"] == {"wait_seconds": 12}
    assert http.get("/t/1.json").status_code == 200


def test_people_act_on_the_shared_clock() -> None:
    clock = Clock()
    fake = FakeDiscourse(clock)
    fake.add_user("alice", groups=["spec-steering-committee"])
    fake.add_user("alice", groups=["other"])  # adding again only adds groups
    fake.add_user("bob")
    start = clock.now()
    topic_id, post_id = fake.create_topic("alice", "Clocked thread", "Body.", 9, tags=["x"])
    reply_id = fake.reply("alice", topic_id, "A reply.")

    posts = fake.posts_in(topic_id)
    assert [p.id for p in posts] == [post_id, reply_id]
    assert posts[0].created_at == start + timedelta(seconds=1)
    assert posts[1].created_at == start + timedelta(seconds=2)
    assert {g for g, e in fake.groups.items() if "alice" in e["members"]} == {
        "spec-steering-committee", "other"}
    fake.delete_topic(topic_id)
    assert fake.topics[topic_id].deleted
    assert fake.messages == []
    assert len([t for t in fake.topics.values() if t.pinned]) == 3  # one About per category


def test_edits_follow_the_grace_period() -> None:
    clock = Clock()
    fake = FakeDiscourse(clock)
    fake.add_user("alice")
    fake.add_user("bob")
    topic_id, post_id = fake.create_topic("alice", "Graceful thread", "Body.", 9, tags=["x"])
    topic = fake.topics[topic_id]

    fake.retag("alice", topic_id, ["y"])  # the author, within 5 minutes: recorded nowhere
    assert (topic.tags, topic.revisions, fake.posts[post_id].version) == (["y"], [], 1)

    clock.advance(seconds=301)
    fake.recategorize("alice", topic_id, 15)  # after the grace period: revision 2
    fake.retag("bob", topic_id, ["z"])  # another editor: revision 3
    fake.retag("bob", topic_id, ["y"])  # bob undoes it at once: revision 3 disappears
    assert [(r.number, r.username, r.changes) for r in topic.revisions] == [
        (2, "alice", {"category_id": (9, 15)})]
    assert fake.posts[post_id].version == 2
    assert topic.bumped_at == clock.now() - timedelta(seconds=1)  # bumped by revision 3
