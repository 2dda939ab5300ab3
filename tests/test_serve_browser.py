"""The dashboard in a real headless browser: Debian's chromium driven by Playwright.

Screenshots are kept as test artefacts in `tests/artifacts/` (ignored by git). Without
chromium these tests skip on a developer's machine and fail in CI (`$CI` set), where
`.ci/run` installs it."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from forumsync.sandbox import Sandbox
from forumsync.serve import create_app
from forumsync.serve.runner import BackgroundServer
from tests.serve_support import seed
from tests.test_e2e import World

ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]


def chromium() -> str:
    found = os.environ.get("FORUMSYNC_TEST_CHROMIUM") or shutil.which("chromium") or \
        shutil.which("chromium-browser")
    if found is None:
        message = "chromium not found (Debian: apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI must run the browser tests")
        pytest.skip(message)
    return found


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, int]]]:
    with Sandbox() as box:
        world = World(box, tmp_path_factory.mktemp("browser") / "browser.db")
        made = seed(world)
        app = create_app(world.config, world.sessions, clock=box.clock.now)
        with BackgroundServer(app, port=0) as server:
            yield server.url, made


@pytest.fixture
def page(tmp_path: Path) -> Iterator[object]:
    executable = chromium()
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=executable, headless=True,
            args=CHROMIUM_FLAGS, viewport={"width": 1200, "height": 800})
        try:
            yield context.new_page()
        finally:
            context.close()


def test_the_table_and_a_filter_link(site: tuple[str, dict[str, int]], page) -> None:
    url, _ = site
    page.goto(url + "/")
    assert page.title() == "SPEC dashboard · forumsync"
    table = page.get_by_role("table")
    assert "5 SPECs" in table.locator("caption").inner_text()
    rows = table.locator("tbody tr")
    assert rows.count() == 5
    stages = [rows.nth(i).locator(".badge").inner_text() for i in range(5)]
    assert stages == ["Idea", "Idea", "Accepted", "Draft", "Withdrawn"]
    assert rows.nth(0).get_by_role("rowheader").inner_text() == "SPEC idea: array API adoption"
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

    page.get_by_role("link", name="Draft (1)").click()  # a plain link: no JavaScript
    page.wait_for_url("**/?stage=draft")
    assert page.locator("tbody tr").count() == 1
    assert page.locator("tbody tr .badge").inner_text() == "Draft"
    current = page.locator('a[aria-current="page"]')
    assert current.inner_text() == "Draft (1)"
    page.screenshot(path=str(ARTIFACTS / "dashboard-draft.png"), full_page=True)


def test_a_spec_page_timeline(site: tuple[str, dict[str, int]], page) -> None:
    url, made = site
    page.goto(url + "/")
    page.get_by_role("link", name="SPEC 7 — Minimum supported versions").click()
    page.wait_for_url(f"**/specs/pr-{made['draft_pr']}")
    heading = page.get_by_role("heading", level=1).inner_text()
    assert heading == "SPEC 7 — Minimum supported versions"
    events = page.locator("ol.timeline li")
    assert events.count() == 3
    assert "by @ada on GitHub: mirrored" in events.nth(1).inner_text()
    assert "by @mallory on GitHub: ignored" in events.nth(2).inner_text()
    assert events.nth(2).get_by_role("link", name="GitHub").get_attribute("href") \
        .endswith(f"/pull/{made['draft_pr']}")
    page.screenshot(path=str(ARTIFACTS / "spec.png"), full_page=True)


def test_keyboard_and_phone_width(site: tuple[str, dict[str, int]], page) -> None:
    url, made = site
    page.goto(url + "/")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent")
    assert focused == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#main"
    for _ in range(30):  # every link is reachable by Tab, ending with the SPEC links
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == "SPEC 9 — Telemetry":
            break
    else:
        raise AssertionError("the last SPEC link was not reached by keyboard")
    page.set_viewport_size({"width": 375, "height": 800})
    page.goto(url + "/")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, width  # no sideways scrolling on a phone: rows become cards
    problems = page.locator(f'tr[data-key="pr-{made["draft_pr"]}"] '
                            'td[data-label="Open problems"]')
    assert problems.is_visible() and "@mallory" in problems.inner_text()
    box = problems.bounding_box()
    assert box is not None and box["x"] + box["width"] <= 375
    page.screenshot(path=str(ARTIFACTS / "dashboard-phone.png"), full_page=True)
