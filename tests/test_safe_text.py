"""Hostile text: what is copied across renders inert (checked by rendering it as Markdown),
and every text function costs time linear in its input."""

from __future__ import annotations

import random
import re
from html.parser import HTMLParser

import pytest
from benchmarks.hostile_text import FUNCTIONS, LARGE, SMALL, TOKENS, best_seconds, hostile
from markdown_it import MarkdownIt

from forumsync import texts
from forumsync.safetext import (
    ZWJ,
    markdown_text,
    neutralise,
    neutralise_mentions,
    plain_title,
    safe_copy,
    strip_html_comments,
)

FORUM = "https://discuss.scientific-python.org"
GFM = MarkdownIt("commonmark")
LIVE_MENTION = re.compile(r"(?<![A-Za-z0-9])@\w")
LIVE_CROSSREF = re.compile(r"[\w.-]#\d")


class _Rendered(HTMLParser):
    """What a Markdown renderer makes of the output: elements, link targets, text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.hrefs: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.hrefs += [v or "" for k, v in attrs if k in ("href", "src")]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def rendered(markdown: str) -> _Rendered:
    page = _Rendered()
    page.feed(GFM.render(markdown))
    return page


def assert_inert(output: str, limit: int) -> None:
    """One line, bounded, only safe elements and link targets, no live ping or reference."""
    assert "\n" not in output and len(output) <= limit
    page = rendered(output)
    assert set(page.tags) <= {"p", "a", "code"}, page.tags
    assert all(h.split(":", 1)[0] in ("http", "https", "mailto") for h in page.hrefs), page.hrefs
    for node in page.text:  # both sites find mentions and references one text node at a time
        assert not LIVE_MENTION.search(node), (node, output)
        assert not LIVE_CROSSREF.search(node), (node, output)
    # text written after it cannot close a code span it left open
    codes = page.tags.count("code")
    assert rendered(output + " and `@x`").tags.count("code") == codes + 1, output


HOSTILE_BODIES = [
    "Ping `@numpy/core-team` and @everyone, ``@scipy/maintainers`` and `x`@alice",
    "<script>alert(1)</script><b>Hi</b> [x](javascript:alert(1)) <img src=x onerror=a()>",
    "[a](data:text/html,<b>) [b](vbscript:x) [c](/relative) [d](ftp://x) <javascript:alert(1)>",
    "[ref][r] and ![pixel](https://t.example/p.png)\n\n[r]: javascript:alert(1)",
    "\\[x\\](javascript:alert(1)) and \\\\[y\\\\](javascript:alert(2))",
    "See numpy/numpy#123, scipy#4, **@**bob and *@*carol, _@dave",
    "&lt;img src=x onerror=alert(1)&gt; &#64;erin <!-- hidden @frank --> <!-- open @gina",
    "```\n@harry in a fence\n```\n> quoted @ivan\n\n- list @judy\n# heading @kim",
    "text with `unclosed code @leo and [link](https://example.org/@mallory) more",
]


@pytest.mark.parametrize("body", HOSTILE_BODIES)
def test_copied_bodies_render_inert_at_every_length(body: str) -> None:
    for limit in range(8, 160, 3):
        assert_inert(safe_copy(body, limit), limit)


FRAGMENTS = ["@", "`", "``", "[", "]", "(", ")", "<", ">", "!", "*", "_", "\\", "&", "#", "1",
             "a", " ", "\n", "\n\n", "/", "javascript:", "https://x.org/", "mailto:", "<!--",
             "-->", "<script>", "</script>", "@alice", "o/r#1", "~~", "$", "|", "-", "> ",
             "&lt;", "&#64;", "<https://y.org>", "[a](", "](", "![", "<b>", "\u00e9", "\u202e"]


def test_random_hostile_fragments_always_render_inert() -> None:
    """Seeded, so a failure repeats: joined fragments found a mention formed across a link
    that did not fit, a `!` turning a kept link into an image, and a cut past the limit."""
    rnd = random.Random(7)
    for _ in range(400):
        body = "".join(rnd.choice(FRAGMENTS) for _ in range(rnd.randint(1, 40)))
        for limit in (10, 25, 60, 200):
            assert_inert(safe_copy(body, limit), limit)
            assert_inert(markdown_text(body, limit), limit)


def test_a_mention_right_after_a_code_span_or_a_link_is_neutralised() -> None:
    """Renderers start a new text node after `code` or a link, and a mention at the start of
    a text node is live: `` `pytest`@numpy/core-team `` pings on both sites."""
    body = "Run `pytest`@numpy/core-team and see [the docs](https://numpy.org)@scipy/maintainers"
    copied = safe_copy(body, 300)
    assert_inert(copied, 300)
    assert f"`pytest`@{ZWJ}numpy" in copied and f")@{ZWJ}scipy" in copied


def test_a_lone_comment_opener_in_prose_hides_nothing() -> None:
    body = "Docs never use `<!--` in rst.\nDiscussion: https://x.org/t/a/4"
    assert "https://x.org/t/a/4" in strip_html_comments(body)
    unclosed = "Text\n<!-- a template note never closed\nhttps://x.org/"
    assert strip_html_comments(unclosed) == "Text\n"


def test_a_mention_right_after_a_backtick_is_neutralised() -> None:
    assert neutralise_mentions("`@numpy/core-team`") == f"`@{ZWJ}numpy/core-team`"
    assert f"@{ZWJ}numpy/core-team" in safe_copy("see `@numpy/core-team` please")


def test_truncation_inside_a_code_span_closes_it() -> None:
    body = "x " * 20 + "`@numpy/core-team should review this`"
    for limit in range(44, 80):
        copied = safe_copy(body, limit)
        assert_inert(copied, limit)
        if "numpy" in copied:
            assert rendered(copied).tags.count("code") == 1


def test_emails_and_own_issue_numbers_stay_as_written() -> None:
    assert neutralise("mail bob@example.org about #12") == "mail bob@example.org about #12"
    assert neutralise("numpy/numpy#12") == f"numpy/numpy#{ZWJ}12"


def test_only_http_and_mailto_links_survive() -> None:
    copied = safe_copy("[ok](https://a.org/x_(y)) [m](mailto:a@b.org) [bad](javascript:x) "
                       "<https://c.org> [rel](/docs)")
    page = rendered(copied)
    assert page.hrefs == ["https://a.org/x_(y)", "mailto:a@b.org", "https://c.org"]
    assert "bad" in "".join(page.text) and "rel" in "".join(page.text)


def test_html_is_dropped_from_bodies_but_text_that_only_looks_like_a_tag_is_kept() -> None:
    copied = safe_copy("Use Array<T> here <details><summary>more</summary></details>\n\n"
                       "<div>\n<script>steal()</script>\n</div>\n\nend")
    text = "".join(rendered(copied).text)
    assert "Array<T>" in text and "steal" not in text and "details" not in text
    assert text.strip() == "Use Array<T> here more end"


@pytest.mark.parametrize("title", [
    "Use Array<T> in typing",
    "Links like <https://example.org> stay",
    "<script>alert('@everyone')</script> @everyone <b>bold</b>",
    "SPEC 10 — **not bold** _nor this_ [nor](https://a.org) `code` \\ & &amp; ~~x~~ $x$",
    "# Not a heading",
    "1. not a list",
])
def test_titles_render_as_typed_and_inert(title: str) -> None:
    written = markdown_text(title, 200)
    assert_inert(written, 200)
    page = rendered(written)
    assert page.tags == ["p"]
    assert "".join(page.text).replace(ZWJ, "").strip() == title


def test_plain_titles_keep_html_like_text_and_lose_pings() -> None:
    assert plain_title("Use Array<T> in typing") == "Use Array<T> in typing"
    title = plain_title("<script>x</script>\n@everyone numpy/numpy#1\u202e", 250)
    assert title == f"<script>x</script> @{ZWJ}everyone numpy/numpy#{ZWJ}1"
    assert len(plain_title("y" * 1000, 250)) == 250
    assert texts.new_thread_title(7, "Array<T> @all").endswith(f"Array<T> @{ZWJ}all")


def test_the_texts_the_service_writes_are_inert() -> None:
    title = "<script>@everyone</script> Array<T> numpy/numpy#1"
    for written in (texts.pr_opened_reply("https://github.com/o/r/pull/3", 3, title, "ev_il"),
                    texts.pr_opened_comment(f"{FORUM}/t/x/4", title),
                    texts.new_thread_body("https://github.com/o/r/pull/3", 3, title, "ev",
                                          "`@numpy/core-team " + "z" * 500)):
        page = rendered(written)
        text = "".join(page.text)
        assert "script" not in page.tags and "Array<T>" in text
        assert not LIVE_MENTION.search(text) and not LIVE_CROSSREF.search(text)


# --- linear time ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_text_functions_grow_linearly_on_hostile_input(name: str) -> None:
    """8x the input may cost about 8x the time (quadratic: 64x); the small run is given a
    floor of half a millisecond so timer noise on very fast calls cannot fail the test."""
    call = FUNCTIONS[name]
    for token in TOKENS:
        small = best_seconds(call, hostile(token, SMALL))
        large = best_seconds(call, hostile(token, LARGE))
        assert large / max(small, 0.0005) < 20, (name, token, small, large)
        assert large < 1.0, (name, token, large)  # 65,536 characters, GitHub's body limit
