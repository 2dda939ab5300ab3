"""The dashboard and its JSON API on a seeded sandbox world (Starlette's test client; the
same pages in a real browser: tests/test_serve_browser.py)."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from forumsync.config import ServeConfig
from forumsync.sandbox import Sandbox
from forumsync.serve import create_app
from tests.serve_support import seed
from tests.test_e2e import World


class Seeded:
    def __init__(self, world: World, made: dict[str, int]) -> None:
        self.world, self.made = world, made
        self.client = TestClient(create_app(world.config, world.sessions,
                                            clock=world.box.clock.now))


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    with Sandbox() as box:
        world = World(box, tmp_path_factory.mktemp("serve") / "serve.db")
        yield Seeded(world, seed(world))


class Tables(HTMLParser):
    """Each table's caption, header cells (with scope) and body rows, as text."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[dict] = []
        self._cell: list[str] | None = None
        self._in = ""

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attrs = dict(attrs)
        if tag == "table":
            self.tables.append({"caption": "", "headers": [], "rows": []})
        elif tag == "caption":
            self._in = "caption"
        elif tag == "tr" and self.tables:
            self.tables[-1]["rows"].append([])
        elif tag in ("td", "th"):
            self._cell = []
            if tag == "th":
                self.tables[-1]["headers"].append(attrs.get("scope"))

    def handle_endtag(self, tag: str) -> None:
        if tag == "caption":
            self._in = ""
        elif tag in ("td", "th") and self._cell is not None:
            self.tables[-1]["rows"][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._in == "caption":
            self.tables[-1]["caption"] += data
        if self._cell is not None:
            self._cell.append(data)


def tables(html: str) -> list[dict]:
    parser = Tables()
    parser.feed(html)
    return parser.tables


def test_the_spec_table_sorted_by_stage_then_idle_days(seeded: Seeded) -> None:
    answer = seeded.client.get("/")
    assert answer.status_code == 200
    [table] = tables(answer.text)
    assert table["caption"].startswith("5 SPECs")
    assert all(scope in ("col", "row") for scope in table["headers"])  # every th has a scope
    header, *rows = table["rows"]
    assert header == ["No.", "Title", "Stage", "Thread", "PR", "Last activity", "Idle days",
                      "Stalled", "Open problems"]
    assert [r[2] for r in rows] == ["Idea", "Idea", "Accepted", "Draft", "Withdrawn"]
    assert rows[0][1] == "SPEC idea: array API adoption"  # the longest idle idea first
    assert rows[0][6] == "40" and rows[0][7] == "stalled"
    assert rows[3][0] == "7" and rows[3][4] == f"#{seeded.made['draft_pr']}"
    assert rows[3][8].startswith("1: @mallory on GitHub: label published ignored")
    assert 'class="badge stage-draft">Draft</span>' in answer.text  # colour and text


def test_hostile_titles_are_escaped_text(seeded: Seeded) -> None:
    html = seeded.client.get("/").text
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; friends" in html


def test_stage_filters_are_links_that_work_without_javascript(seeded: Seeded) -> None:
    html = seeded.client.get("/").text
    assert '<a href="/?stage=idea">Idea (2)</a>' in html
    assert '<a href="/" aria-current="page">All (5)</a>' in html
    filtered = seeded.client.get("/?stage=idea")
    assert '<a href="/?stage=idea" aria-current="page">Idea (2)</a>' in filtered.text
    [table] = tables(filtered.text)
    assert [r[2] for r in table["rows"][1:]] == ["Idea", "Idea"]
    assert seeded.client.get("/?stage=nonsense").status_code == 404
    assert "<script" not in filtered.text.lower()  # no JavaScript at all


def test_a_spec_page_shows_its_lifecycle(seeded: Seeded) -> None:
    pr, topic = seeded.made["draft_pr"], seeded.made["draft_topic"]
    answer = seeded.client.get(f"/specs/pr-{pr}")
    assert answer.status_code == 200
    text = " ".join(re.sub(r"<[^>]+>", " ", answer.text).split())
    assert "Idea by the service on the forum : initial" in text
    assert "Idea → Draft by @ada on GitHub : mirrored" in text
    assert "Draft → Published by @mallory on GitHub : ignored" in text
    assert "reply on the thread" in text and "comment on the PR" in text
    assert f"/pull/{pr}" in answer.text and f"/t/topic/{topic}" in answer.text
    assert "In the next digest" in text and "ignored — @" in text
    # the same SPEC by its thread
    assert seeded.client.get(f"/specs/t-{topic}").text == answer.text
    assert seeded.client.get("/specs/pr-999").status_code == 404
    assert seeded.client.get("/specs/nonsense").status_code == 404


def test_the_api_gives_the_same_data(seeded: Seeded) -> None:
    specs = seeded.client.get("/api/specs").json()["specs"]
    assert [s["stage"] for s in specs] == ["idea", "idea", "accepted", "draft", "withdrawn"]
    assert set(specs[0]) == {"key", "number", "title", "stage", "pr", "pr_url", "thread",
                             "thread_url", "last_activity", "last_actor", "idle_days",
                             "stalled", "open_problems"}
    assert [s["stage"] for s in seeded.client.get("/api/specs?stage=idea").json()["specs"]] \
        == ["idea", "idea"]
    one = seeded.client.get(f"/api/specs/pr-{seeded.made['withdrawn_pr']}").json()
    assert one["stage"] == "withdrawn"
    [*_, last] = one["events"]
    assert (last["to_stage"], last["actor"], last["side"], last["outcome"]) == (
        "withdrawn", "chair", "github", "mirrored")
    assert {"pulls", "events", "problems", "announcements", "digest_lines"} <= set(one)
    assert seeded.client.get("/api/specs/pr-999").status_code == 404


def test_the_digest_page_is_the_dry_run(seeded: Seeded) -> None:
    answer = seeded.client.get("/digest")
    assert answer.status_code == 200
    assert "Stalled: idea" in answer.text and "<table>" in answer.text
    assert "<th>" not in answer.text and '<th scope="col">SPEC</th>' in answer.text
    assert "Goes out" in answer.text and "2026-" in answer.text
    assert seeded.world.forum.messages == []  # a dry run sends nothing


def test_healthz_is_the_status_check(seeded: Seeded) -> None:
    answer = seeded.client.get("/healthz")
    assert answer.status_code == 503 and answer.text.startswith("unhealthy")
    from forumsync import health

    health.cycle_finished(seeded.world.sessions, seeded.world.box.clock.now(), "ok")
    answer = seeded.client.get("/healthz")
    assert answer.status_code == 200 and answer.text.startswith("healthy")


def test_read_only_and_no_secrets(seeded: Seeded) -> None:
    config = seeded.world.config
    for path in ("/", f"/specs/pr-{seeded.made['draft_pr']}", "/digest", "/api/specs",
                 "/healthz", "/api/deliveries"):
        answer = seeded.client.get(path)
        for secret in (config.discourse.api_key, config.github.token):
            assert secret and secret not in answer.text
        assert "script-src" not in answer.headers["content-security-policy"]
        assert answer.headers["x-content-type-options"] == "nosniff"
    for method in ("post", "put", "delete"):
        assert getattr(seeded.client, method)("/").status_code == 405
    assert "<form" not in seeded.client.get("/").text and "<button" not in \
        seeded.client.get("/").text


def test_basic_auth_when_configured(seeded: Seeded) -> None:
    world = seeded.world
    config = replace(world.config, serve=ServeConfig(basic_auth_user="committee",
                                                     basic_auth_password="pw-from-env"))
    client = TestClient(create_app(config, world.sessions, clock=world.box.clock.now))
    refused = client.get("/")
    assert refused.status_code == 401 and "Basic" in refused.headers["www-authenticate"]
    assert client.get("/api/specs").status_code == 401
    assert client.get("/", auth=("committee", "wrong")).status_code == 401
    assert client.get("/", auth=("committee", "pw-from-env")).status_code == 200
    bad = {"Authorization": "Basic " + base64.b64encode(b"committee").decode()}
    assert client.get("/", headers=bad).status_code == 401
    assert client.get("/healthz").status_code in (200, 503)  # health stays open


def test_accessible_markup(seeded: Seeded) -> None:
    html = seeded.client.get("/").text
    assert '<html lang="en">' in html
    assert 'name="viewport"' in html  # phone width
    assert 'href="#main">Skip to content</a>' in html and '<main id="main">' in html
    assert ":focus-visible" in html  # a visible keyboard focus
    assert 'tabindex="0"' in html  # the scrolled table is reachable by keyboard


def contrast(foreground: str, background: str) -> float:
    def luminance(colour: str) -> float:
        channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
                  for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    light, dark = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_badge_and_text_colours_meet_wcag_aa() -> None:
    css = (Path(__file__).parents[1] / "src" / "forumsync" / "serve" / "templates" /
           "base.html").read_text(encoding="utf-8")
    badges = re.findall(r"\.stage-(\w+) \{ background: (#\w{6}); color: (#\w{6}); \}", css)
    assert len(badges) == 6
    for stage, background, colour in badges:
        assert contrast(colour, background) >= 4.5, stage
    variables = dict(re.findall(r"--(\w+): (#\w{6})", css))
    for name in ("ink", "muted", "link"):
        assert contrast(variables[name], "#ffffff") >= 4.5, name
    assert contrast("#8a1f1f", "#ffffff") >= 4.5  # stalled, ignored
    assert contrast(variables["link"], "#f2f2f2") >= 4.5


def test_odd_keys_are_404_not_500(seeded: Seeded) -> None:
    for key in ("pr-²", "pr-\u0661", "id-99999999999999999999", "pr-99999999999", "t-2147483648"):
        assert seeded.client.get(f"/specs/{key}").status_code == 404, key
        assert seeded.client.get(f"/api/specs/{key}").status_code == 404, key


def test_a_specs_digest_lines_are_its_own_found_by_id(tmp_path: Path) -> None:
    """Two ideas whose titles share a beginning: each page shows only its own lines."""
    with Sandbox() as box:
        world = World(box, tmp_path / "digest.db")
        short = world.idea("SPEC idea: a")
        long = world.idea("SPEC idea: array API adoption")
        world.sync()
        box.clock.advance(days=60)
        world.sync()
        client = TestClient(create_app(world.config, world.sessions, clock=box.clock.now))
        lines = {topic: client.get(f"/api/specs/t-{topic}").json()["digest_lines"]
                 for topic in (short, long)}
    assert lines[short] and lines[long]
    assert not any("array API" in line for line in lines[short]), lines[short]
    assert all("array API" in line for line in lines[long]), lines[long]
