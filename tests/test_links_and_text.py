"""Reading forum links the way they really occur, and making copied text safe."""

from __future__ import annotations

import random

import pytest

from forumsync.links import (
    BadThreadRef,
    ThreadRef,
    parse_thread_url,
    pull_numbers_in,
    thread_refs_in,
)
from forumsync.markers import is_own, marker, with_marker
from forumsync.safetext import neutralise_mentions, safe_copy
from forumsync.specfiles import is_spec_path

FORUM = "https://discuss.scientific-python.org"


@pytest.mark.parametrize(("url", "topic", "slug"), [
    (f"{FORUM}/t/spec-7-seeding-pseudo-random-number-generation/364", 364,
     "spec-7-seeding-pseudo-random-number-generation"),
    (f"{FORUM}/t/364", 364, None),
    (f"{FORUM}/t/some-slug/364/12", 364, "some-slug"),
    (f"{FORUM}/t/only-a-slug", None, "only-a-slug"),
    (f"{FORUM}/t/only-a-slug/", None, "only-a-slug"),
    ("HTTPS://Discuss.Scientific-Python.org/t/x/9.", 9, "x"),
])
def test_forum_urls(url: str, topic: int | None, slug: str | None) -> None:
    ref = parse_thread_url(url, FORUM)
    assert isinstance(ref, ThreadRef)
    assert (ref.topic_id, ref.slug) == (topic, slug)


@pytest.mark.parametrize(("url", "reason"), [
    (f"{FORUM}/t/", "placeholder"),
    (f"{FORUM}/c/specs/6", "not a forum thread"),
    ("https://github.com/scientific-python/specs/issues/12", "not on the forum"),
    ("", "empty"),
])
def test_links_that_link_nothing(url: str, reason: str) -> None:
    ref = parse_thread_url(url, FORUM)
    assert isinstance(ref, BadThreadRef) and reason in ref.reason


def test_thread_refs_in_a_pr_template_body() -> None:
    body = (f"#### Viability discussion\n\n<!-- link here -->\n{FORUM}/t/my-idea/42\n\n"
            "see also https://example.org/t/5 and (https://github.com/a/b/pull/3)")
    refs = thread_refs_in(body, FORUM)
    assert refs == [ThreadRef(42, "my-idea", f"{FORUM}/t/my-idea/42")]


def test_a_discussion_link_off_the_forum_is_reported_only_without_a_thread_link() -> None:
    off = "https://github.com/scientific-python/specs/issues/5"
    refs = thread_refs_in(f"Viability discussion: {off}\nSee also https://example.org/x", FORUM)
    assert [(type(r), r.url) for r in refs] == [(BadThreadRef, off)]
    assert "not on the forum" in refs[0].reason
    with_thread = thread_refs_in(f"Discussion: {off}\nand {FORUM}/t/idea/12", FORUM)
    assert with_thread == [ThreadRef(12, "idea", f"{FORUM}/t/idea/12")]
    assert thread_refs_in(f"Background: {off}", FORUM) == []  # not called the discussion


def test_pull_numbers_in_posts() -> None:
    text = ("PR: https://github.com/scientific-python/specs/pull/310 and "
            "https://github.com/other/repo/pull/9")
    assert pull_numbers_in(text, "scientific-python/specs") == {310}


def test_mentions_are_neutralised_but_emails_are_not() -> None:
    text = neutralise_mentions("thanks @alice and @numpy/core, mail bob@example.org")
    assert "@alice" not in text and "@numpy/core" not in text
    assert "bob@example.org" in text


def test_safe_copy_strips_html_bounds_length_and_flattens() -> None:
    copied = safe_copy("<script>alert(1)</script><b>Hi</b> [x](http://evil)\n\n" + "y" * 500,
                       limit=60)
    assert "<" not in copied and "\n" not in copied and len(copied) <= 60
    assert copied.endswith("…") and "\\[x\\]" in copied


def test_markers_round_trip() -> None:
    body = with_marker("Hello", "opened:pr-3:reply")
    assert marker("opened:pr-3:reply") in body and is_own(body)
    assert not is_own("a human's post")


def test_spec_paths() -> None:
    assert is_spec_path("spec-0004/index.md") and is_spec_path("spec-0002.md")
    assert not is_spec_path("spec-0004/figure.png")
    assert not is_spec_path("core-projects/numpy.md")


def test_the_pr_templates_hint_links_nothing() -> None:
    body = ("<!-- Link the viability discussion, started in "
            "https://discuss.scientific-python.org/c/specs/ideas -->\n"
            f"Discussion: {FORUM}/t/idea/12")
    assert thread_refs_in(body, FORUM) == [ThreadRef(12, "idea", f"{FORUM}/t/idea/12")]


def test_escaped_html_cannot_come_back_as_a_tag_and_underscore_mentions_are_quiet() -> None:
    copied = safe_copy("&lt;img src=x onerror=alert(1)&gt; hi @_bob")
    assert "<" not in copied and ">" not in copied
    assert "@_bob" not in copied


@pytest.mark.parametrize("value", [
    f"{FORUM}/t/my-idea/42",
    f"[the discussion]({FORUM}/t/my-idea/42)",
    f"[{FORUM}/t/my-idea/42]({FORUM}/t/my-idea/42)",
    f"<{FORUM}/t/my-idea/42>",
    f"{FORUM}/t/my-idea/42.json",
    f"{FORUM}/t/my-idea/42/3?u=bob",
])
def test_front_matter_and_pr_bodies_read_a_link_alike(value: str) -> None:
    from_front_matter = parse_thread_url(value, FORUM)
    from_body = thread_refs_in(f"Discussion: {value}\n", FORUM)
    assert isinstance(from_front_matter, ThreadRef) and from_front_matter.topic_id == 42
    assert {r.topic_id for r in from_body} == {42}
    assert from_body[0].slug == from_front_matter.slug == "my-idea"


@pytest.mark.parametrize("value", [
    f"{FORUM}/t/<id>", f"{FORUM}/t/...", f"{FORUM}/t/…", f"{FORUM}/t/<slug>/<id>",
    f"{FORUM}/t/%3Cid%3E", f"[link]({FORUM}/t/)",
])
def test_placeholders_are_placeholders_in_both_places(value: str) -> None:
    from_front_matter = parse_thread_url(value, FORUM)
    assert isinstance(from_front_matter, BadThreadRef), from_front_matter
    assert from_front_matter.kind == "placeholder"
    body = thread_refs_in(f"Discussion: {value}\n", FORUM)
    assert [getattr(r, "kind", None) for r in body] in ([], ["placeholder"])
    assert not any(isinstance(r, ThreadRef) and r.topic_id for r in body)


def test_a_slug_with_a_placeholder_id_is_read_by_slug_in_both_places() -> None:
    value = f"{FORUM}/t/some-idea/<id>"
    expected = ThreadRef(None, "some-idea", f"{FORUM}/t/some-idea/")
    assert parse_thread_url(value, FORUM) == expected
    assert thread_refs_in(value, FORUM) == [expected]


def test_links_on_a_forum_under_a_path() -> None:
    forum = "https://example.org/forum"
    ref = parse_thread_url("https://example.org/forum/t/slug/12", forum)
    assert isinstance(ref, ThreadRef) and (ref.topic_id, ref.slug) == (12, "slug")
    assert thread_refs_in("see https://example.org/forum/t/12 now", forum)[0].topic_id == 12
    elsewhere = parse_thread_url("https://example.org/t/slug/12", forum)
    assert isinstance(elsewhere, BadThreadRef) and elsewhere.kind == "off-forum"
    assert thread_refs_in("https://example.org/t/slug/12", forum) == []


def test_ids_are_ascii_digits_of_a_sane_length() -> None:
    assert parse_thread_url(f"{FORUM}/t/slug/\u00b2", FORUM) == ThreadRef(
        None, "slug", f"{FORUM}/t/slug/\u00b2")
    huge = parse_thread_url(f"{FORUM}/t/slug/{'9' * 40}", FORUM)
    assert isinstance(huge, ThreadRef) and huge.topic_id is None
    assert pull_numbers_in("https://github.com/scientific-python/specs/pull/" + "9" * 40,
                           "scientific-python/specs") == set()


def test_pull_links_on_a_github_enterprise_host() -> None:
    text = ("https://ghe.example.com/sci/specs/pull/7 and "
            "https://github.com/sci/specs/pull/8 and https://ghe.example.com/x/specs/pull/9")
    # the configured web host, and github.com too (links copied from a mirror still count)
    assert pull_numbers_in(text, "sci/specs", "https://ghe.example.com") == {7, 8}
    assert pull_numbers_in(text, "sci/specs") == {8}
    assert pull_numbers_in("http://ghe.example.com/code/sci/specs/pull/5", "sci/specs",
                           "https://ghe.example.com/code/") == {5}


LINK_FRAGMENTS = [f"{FORUM}/t/", f"{FORUM}/forum/t/", "HTTPS://discuss.scientific-python.org/t/",
                  "slug", "12", "12.json", "/", "<id>", "...", "…", "[", "]", "(", ")", "<",
                  ">", " ", ".", ",", "?u=a", "#", "%3Cid%3E", "https://example.org/t/5 ",
                  "`", '"', "<!--", "-->"]


def test_both_link_finders_agree_on_any_value() -> None:
    """Seeded: whatever a front-matter value holds, it links what a PR body holding the same
    text links first (found unequal for a value naming an off-forum URL first)."""
    rnd = random.Random(3)
    for _ in range(3000):
        value = "".join(rnd.choice(LINK_FRAGMENTS) for _ in range(rnd.randint(1, 8)))
        in_body = thread_refs_in(value, FORUM)
        if in_body:
            assert parse_thread_url(value, FORUM) == in_body[0], value
