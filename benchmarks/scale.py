"""What forumsync costs at scale, against a naive poller, in one run.

For each size N the sandbox is seeded with N linked SPECs (an Ideas thread and the PR that
links it), a month old. forumsync then runs: the first sync (quiet: it all happened before
the announce window), the cycle right after it (the echo of its own writes), a steady idle
cycle, and cycles after k = 1, 10 and 100 changes by people (replies on threads and comments
on PRs, alternately). Up to N = 1,000 a second sandbox, seeded with SPECs opened just now,
measures an announcing first sync (a reply and a comment per SPEC) and its echo. The naive
poller, written here, reads every PR (list, files, comments) and every thread each cycle,
whatever changed: what a hurried user writes. Request counts are exact (the sandbox counts
them); per service the table shows requests, 200s and 304s, and rate-limit units (GitHub:
every answer but a 304; Discourse: every request, all of which count against its per-minute
limits), and for a first sync the requests per SPEC, both services, writes included.

CPU is the main thread's (`time.thread_time`): the service's own work, not the sandbox's,
which serves from other threads of the same process. Peak RSS is the process's, per size
(each size runs in its own process), sandbox included.

"real waits" is what a first sync (or a naive cycle) would spend waiting against the real
services, computed from its request log at their documented limits, network time not
counted: GitHub as paced now (writes 1 s apart for its secondary limits; reads wait only for
the primary limit, 5,000 units an hour), in brackets under PyGithub's default fixed pauses
(0.25 s per request, 1 s more per write: what forumsync slept before issue 11), plus the
forum at Discourse's default admin API limit of 60 requests a minute (the first 60 free).

Run: `python benchmarks/scale.py` (N = 10, 100, 1000, 3000; `--skip-largest` leaves out
3000; `--quick` runs N = 10 and 30 with k = 1 and 10, for tests). It prints one table,
writes JSON (`--json PATH`, default benchmarks/scale.json) and, with `--readme`, keeps the
table in benchmarks/README.md with the command that made it.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from forumsync.cycle import build_clients, run_cycle
from forumsync.db import open_database
from forumsync.demo import spec_text
from forumsync.sandbox import Sandbox
from forumsync.sandbox.core import FakeService

SIZES = (10, 100, 1000, 3000)
CHANGES = (1, 10, 100)
QUICK_SIZES = (10, 30)
QUICK_CHANGES = (1, 10)
ANNOUNCING_UP_TO = 1000  # larger sizes measure the quiet first sync only (time)
GITHUB_PRIMARY_PER_HOUR = 5000
GITHUB_WRITE_PAUSE = 1.0
DISCOURSE_PER_MINUTE = 60
PYGITHUB_READ_PAUSE, PYGITHUB_WRITE_PAUSE = 0.25, 1.0
HERE = Path(__file__).resolve().parent


def seed(box: Sandbox, specs: int) -> list[tuple[int, int]]:
    """N Ideas threads, each linked from the PR that proposes its SPEC."""
    box.populate()
    pairs = []
    for n in range(specs):
        topic, _ = box.discourse.create_topic("ada", f"SPEC idea number {n}", "An idea.", 9)
        slug = box.discourse.topics[topic].slug
        pr = box.github.open_pull(
            "ada", f"SPEC {100 + n}", f"Discussion: {box.discourse.base_url}/t/{slug}/{topic}",
            {f"spec-{100 + n:04d}/index.md": spec_text(100 + n, f"Idea {n}")})
        pairs.append((topic, pr))
    return pairs


def change(box: Sandbox, pairs: list[tuple[int, int]], k: int, round_: int) -> None:
    """k changes by people: a reply on a thread, a comment on a PR, alternately."""
    for i in range(k):
        topic, pr = pairs[(i * 7 + round_) % len(pairs)]
        if i % 2 == 0:
            box.discourse.reply("grace", topic, f"A thought ({round_}.{i}).")
        else:
            box.github.comment("grace", pr, f"A review note ({round_}.{i}).")


def service_costs(service: FakeService) -> dict[str, int]:
    log = list(service.log)
    writes = sum(1 for method, _, _ in log if method != "GET")
    ok = sum(1 for _, _, status in log if status == 200)
    not_modified = sum(1 for _, _, status in log if status == 304)
    units = len(log) - not_modified if service.name == "github" else len(log)
    return {"requests": len(log), "200": ok, "304": not_modified, "units": units,
            "writes": writes}


def real_time(github: dict[str, int], discourse: dict[str, int]) -> dict[str, float]:
    """Seconds a cycle with these costs spends waiting at the real services' limits: GitHub
    as paced now (writes 1 s apart, and an hour's wait per 5,000 units beyond the first),
    GitHub under PyGithub's default fixed pauses (as before issue 11), and the forum at 60
    requests a minute. Time spent on the network itself is not counted."""
    gh_reads = github["requests"] - github["writes"]
    hours_waited = max(0, math.ceil(github["units"] / GITHUB_PRIMARY_PER_HOUR) - 1)
    paced = github["writes"] * GITHUB_WRITE_PAUSE + hours_waited * 3600
    pygithub = (gh_reads * PYGITHUB_READ_PAUSE
                + github["writes"] * (PYGITHUB_READ_PAUSE + PYGITHUB_WRITE_PAUSE)
                + hours_waited * 3600)
    forum = max(0.0, (discourse["requests"] - DISCOURSE_PER_MINUTE) * 60 / DISCOURSE_PER_MINUTE)
    return {"github_paced": round(paced, 1), "github_pygithub_pauses": round(pygithub, 1),
            "forum_paced": round(forum, 1), "total_paced": round(paced + forum, 1)}


def measure(box: Sandbox, cycle: Callable[[], Any]) -> dict[str, Any]:
    box.reset_counts()
    wall, cpu = time.perf_counter(), time.thread_time()
    cycle()
    cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
    github, discourse = service_costs(box.github), service_costs(box.discourse)
    return {"github": github, "discourse": discourse, "wall_s": round(wall, 3),
            "cpu_s": round(cpu, 3), "real": real_time(github, discourse)}


class NaivePoller:
    """Reads every PR (list, files, comments) and every thread (listing, topic) each cycle."""

    def __init__(self, box: Sandbox) -> None:
        self.http = requests.Session()
        self.gh = box.github.base_url + "/repos/" + box.github.full_name
        self.forum = box.discourse.base_url
        self.http.headers["Authorization"] = "token sandbox-github-token"
        self.forum_auth = {"Api-Key": box.discourse.api_key, "Api-Username": "forumsync"}

    def cycle(self) -> None:
        page = 1
        while True:
            pulls = self._get(f"{self.gh}/pulls", state="all", per_page=100, page=page)
            for pull in pulls:
                self._get(f"{self.gh}/pulls/{pull['number']}/files", per_page=100)
                self._get(f"{self.gh}/issues/{pull['number']}/comments", per_page=100)
            if len(pulls) < 100:
                break
            page += 1
        page = 0
        while True:
            listing = self._get(f"{self.forum}/c/9.json", page=page, headers=self.forum_auth)
            topics = listing["topic_list"]["topics"]
            for topic in topics:
                self._get(f"{self.forum}/t/{topic['id']}.json", headers=self.forum_auth)
            if len(topics) < 30:
                break
            page += 1

    def _get(self, url: str, headers: dict[str, str] | None = None, **params: Any) -> Any:
        response = self.http.get(url, params=params, headers=headers)
        response.raise_for_status()
        return response.json()


def run_size(size: int, changes: tuple[int, ...],
             announcing_up_to: int = ANNOUNCING_UP_TO) -> dict[str, Any]:
    results: dict[str, Any] = {}
    if size <= announcing_up_to:
        with _synced_sandbox(size, history_days=0) as (box, cycle, _):
            results["first sync (announcing)"] = measure(box, cycle)
            results["echo (announcing)"] = measure(box, cycle)
    with _synced_sandbox(size, history_days=30) as (box, cycle, pairs):
        results["first sync"] = measure(box, cycle)
        results["echo"] = measure(box, cycle)
        results["idle"] = measure(box, cycle)
        for round_, k in enumerate(changes, 1):
            if k > size:
                continue
            change(box, pairs, k, round_)
            results[f"k={k}"] = measure(box, cycle)
            cycle()  # settle: what the k changes caused is not counted in the next row
        naive = NaivePoller(box)
        box.clock.advance(minutes=5)
        results["naive, any cycle"] = measure(box, naive.cycle)
    for name, row in results.items():
        if name.startswith("first sync"):
            row["requests_per_spec"] = round(
                (row["github"]["requests"] + row["discourse"]["requests"]) / size, 2)
    results["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return results


@contextmanager
def _synced_sandbox(size: int, history_days: int) -> Iterator[tuple[Sandbox, Any, list]]:
    """A sandbox seeded with `size` SPECs, `history_days` old, and a cycle to run on it."""
    with tempfile.TemporaryDirectory() as scratch, Sandbox() as box:
        db_url = f"sqlite:///{Path(scratch) / 'bench.db'}"
        config = box.config(db_url)
        sessions = open_database(db_url)
        clients = build_clients(config)
        pairs = seed(box, size)
        box.clock.advance(days=history_days)

        def cycle() -> None:
            box.clock.advance(minutes=5)
            report = run_cycle(config, sessions, clients, box.clock.now())
            assert report.ok, report.failures

        yield box, cycle, pairs


def _in_process(size: int, changes: tuple[int, ...], queue: Any) -> None:
    queue.put(run_size(size, changes))


def run_isolated(size: int, changes: tuple[int, ...]) -> dict[str, Any]:
    """One size per process, so peak RSS is that size's own."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_in_process, args=(size, changes, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


HEADER = ("| N | cycle | GitHub req (200/304) | GitHub units | forum req | req/SPEC | wall s "
          "| CPU s | real waits: GitHub now (PyGithub pauses) + forum = total |")


def table(results: dict[int, dict[str, Any]]) -> list[str]:
    lines = [HEADER, "|---" * 9 + "|"]
    for size, rows in results.items():
        for name, row in rows.items():
            if not isinstance(row, dict):
                continue
            gh, fo = row["github"], row["discourse"]
            real = ""
            if name.startswith("first sync") or name.startswith("naive"):
                r = row["real"]
                real = (f"{_span(r['github_paced'])} ({_span(r['github_pygithub_pauses'])}) + "
                        f"{_span(r['forum_paced'])} = {_span(r['total_paced'])}")
            per_spec = row.get("requests_per_spec", "")
            lines.append(f"| {size} | {name} | {gh['requests']} ({gh['200']}/{gh['304']}) "
                         f"| {gh['units']} | {fo['requests']} | {per_spec} | {row['wall_s']:.2f} "
                         f"| {row['cpu_s']:.2f} | {real} |")
        lines.append(f"| {size} | peak RSS | {rows['peak_rss_mib']} MiB | | | | | | |")
    return lines


def _span(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def update_readme(lines: list[str], command: str, elapsed: float) -> None:
    path = HERE / "README.md"
    text = path.read_text() if path.exists() else ""
    start, end = "<!-- scale table -->", "<!-- /scale table -->"
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    block = "\n".join([start, "", f"Made by `{command}` on {stamp} ({elapsed:.0f} s):", "",
                       *lines, "", end])
    if start in text and end in text:
        text = text[:text.index(start)] + block + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text)


def main(argv: list[str] | None = None) -> dict[int, dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-largest", action="store_true", help="leave out N = 3000")
    parser.add_argument("--quick", action="store_true", help="N = 10 and 30, k = 1 and 10")
    parser.add_argument("--sizes", help="numbers of SPECs, comma-separated (overrides)")
    parser.add_argument("--json", default=str(HERE / "scale.json"), help="where to write JSON")
    parser.add_argument("--readme", action="store_true", help="keep the table in the README")
    parser.add_argument("--in-process", action="store_true", help="no process per size")
    args = parser.parse_args(argv)
    sizes = QUICK_SIZES if args.quick else SIZES[:-1] if args.skip_largest else SIZES
    if args.sizes:
        sizes = tuple(int(s) for s in args.sizes.split(","))
    changes = QUICK_CHANGES if args.quick else CHANGES
    started = time.perf_counter()
    results = {}
    for size in sizes:
        results[size] = (run_size if args.in_process else run_isolated)(size, changes)
        print(f"N={size} done in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    lines = table(results)
    print("\n".join(lines))
    Path(args.json).write_text(json.dumps(results, indent=1, sort_keys=True))
    if args.readme:
        command = "python benchmarks/scale.py " + " ".join(
            a for a in (argv if argv is not None else sys.argv[1:]) if a != "--readme")
        update_readme(lines, command.strip(), time.perf_counter() - started)
    return results


if __name__ == "__main__":
    main()
