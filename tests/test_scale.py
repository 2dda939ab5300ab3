"""What a cycle costs at N = 200 SPECs, as exact request counts (not timings). That the
service's memory of its own writes never hides a person's change: test_echo.py."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

# Each SPEC's PR adds its file, whose text comes whole in the files listing's patch: no
# contents read. Quiet: 2 and 2 per SPEC, and listings; announcing: 4 and 3, and listings.
QUIET_GITHUB, QUIET_FORUM = 408, 409
ANNOUNCING_GITHUB, ANNOUNCING_FORUM = 809, 609
BENCHMARK = Path(__file__).resolve().parents[1] / "benchmarks" / "scale.py"


def _benchmark():
    spec = importlib.util.spec_from_file_location("scale_benchmark", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


scale = _benchmark()


@pytest.fixture(scope="module")
def at_200() -> dict:
    return scale.run_size(200, (1, 10, 100))


def counts(row: dict) -> tuple[int, int, int, int]:
    """(GitHub requests, GitHub rate-limit units, forum requests, writes on either side)."""
    gh, forum = row["github"], row["discourse"]
    return gh["requests"], gh["units"], forum["requests"], gh["writes"] + forum["writes"]


def test_idle_cycle_at_200_specs(at_200: dict) -> None:
    # the PR list and the default branch behind ETags (two free 304s); 7 forum listing pages
    assert counts(at_200["idle"]) == (2, 0, 7, 0)


def test_echo_cycle_reads_back_nothing_it_wrote(at_200: dict) -> None:
    # after 200 label writes and 200 retags: the PR list's two pages, the repository's
    # comments since the writes (one page: none), the default branch (304); the listing pages
    assert counts(at_200["echo"]) == (4, 3, 7, 0)
    # after 200 comments too: the comments since take two pages, all the service's own
    assert counts(at_200["echo (announcing)"]) == (5, 4, 7, 0)


@pytest.mark.parametrize(("k", "expected"), [
    (1, (2, 0, 8, 0)),  # one reply: its thread read
    (10, (7, 6, 12, 0)),  # 5 replies, 5 PR comments: 5 threads, 5 PR timelines, the PR list
    (100, (52, 51, 57, 0)),  # 50 + 50, the PR list's first page
])
def test_k_changes_cost_what_changed(at_200: dict, k: int, expected: tuple) -> None:
    assert counts(at_200[f"k={k}"]) == expected


def test_a_quiet_first_run_reads_no_timelines_or_events(at_200: dict) -> None:
    # per SPEC: the PR's files (its SPEC document is in their patch), its label; the thread,
    # its tag: 4, and 17 requests in all for the listings and the one label created
    gh, _units, forum, writes = counts(at_200["first sync"])
    assert (gh, forum, writes) == (QUIET_GITHUB, QUIET_FORUM, 401)  # one label created
    assert at_200["first sync"]["requests_per_spec"] == 4.08


def test_an_announcing_first_run_checks_its_keys_in_what_it_read(at_200: dict) -> None:
    # per SPEC: files (with the document in their patch), timeline, label, comment; thread,
    # reply, tag: 7, and 18 requests in all for the listings and the one label created
    gh, _units, forum, writes = counts(at_200["first sync (announcing)"])
    assert (gh, forum, writes) == (ANNOUNCING_GITHUB, ANNOUNCING_FORUM, 801)
    assert at_200["first sync (announcing)"]["requests_per_spec"] == 7.09


def test_naive_poller_reads_everything(at_200: dict) -> None:
    gh, forum, _, _ = counts(at_200["naive, any cycle"])
    assert gh == 2 + 2 * 200 + 1 and forum >= 200


def test_quick_benchmark_writes_its_table_and_json(tmp_path: Path, capsys) -> None:
    out = tmp_path / "scale.json"
    results = scale.main(["--quick", "--in-process", "--json", str(out)])
    table = capsys.readouterr().out
    assert "| 30 | echo |" in table and "naive, any cycle" in table
    saved = json.loads(out.read_text())
    assert set(saved) == {"10", "30"} and results[30]["echo"]["github"]["writes"] == 0
