"""What a sync cycle costs: requests, wall time and memory, against a baseline in the same run.

For each size (number of SPECs, each an Ideas thread with its linked PR) the sandbox is
seeded and synced once; then it measures
  - an idle cycle (nothing changed) with the service's cursors and ETags, and
  - the baseline: the same idle cycle with cursors forgotten, i.e. a service that re-reads
    everything each time (what a naive poller does),
  - a busy cycle: one committee relabel and one new reply.
Request counts are exact (counted by the sandbox) and do not drift on a noisy machine; wall
times are reported as ratios to the baseline. Run: `python benchmarks/cycle_cost.py`.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import tracemalloc
from pathlib import Path

from sqlalchemy import delete, update

from forumsync.cycle import build_clients, run_cycle
from forumsync.db import open_database
from forumsync.demo import spec_text
from forumsync.models import Cursor, PullRequest, Thread
from forumsync.sandbox import Sandbox


def seed(box: Sandbox, specs: int) -> list[tuple[int, int]]:
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


def measure(box: Sandbox, cycle) -> tuple[int, float, int]:
    box.reset_counts()
    tracemalloc.start()
    started = time.perf_counter()
    report = cycle()
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert report.ok, report.failures
    return box.request_total(), elapsed, peak


def run(size: int) -> dict[str, tuple[int, float, int]]:
    with tempfile.TemporaryDirectory() as scratch, Sandbox() as box:
        db_url = f"sqlite:///{Path(scratch) / 'bench.db'}"
        config = box.config(db_url)
        sessions = open_database(db_url)
        clients = build_clients(config)
        pairs = seed(box, size)

        def cycle():
            box.clock.advance(minutes=5)
            return run_cycle(config, sessions, clients, box.clock.now())

        results = {"first sync": measure(box, cycle)}
        cycle()  # the first sync's own writes come back once as "no change"
        results["idle"] = measure(box, cycle)

        def forgetful_cycle():
            """A poller with no cursors, ETags or remembered timestamps re-reads everything."""
            with sessions.begin() as session:
                session.execute(delete(Cursor).where(Cursor.name.like("github:%")))
                session.execute(update(PullRequest).values(updated_at=None, head_sha=None))
                session.execute(update(Thread).values(last_posted_at=None))
            return cycle()

        results["idle, no cursors (baseline)"] = measure(box, forgetful_cycle)
        _, pr = pairs[0]
        box.github.add_label("chair", pr, "spec-published")
        box.discourse.reply("ada", pairs[-1][0], "Any news?")
        results["busy (1 relabel, 1 reply)"] = measure(box, cycle)
        return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,50,100", help="numbers of SPECs, comma-separated")
    sizes = [int(s) for s in parser.parse_args().sizes.split(",")]
    print(f"{'SPECs':>6}  {'cycle':<30} {'requests':>8} {'time/baseline':>13} {'peak KiB':>9}")
    for size in sizes:
        results = run(size)
        _, base_time, _ = results["idle, no cursors (baseline)"]
        for name, (requests, elapsed, peak) in results.items():
            print(f"{size:>6}  {name:<30} {requests:>8} {elapsed / base_time:>13.2f} "
                  f"{peak // 1024:>9}")
        idle, base = results["idle"][0], results["idle, no cursors (baseline)"][0]
        print(f"{size:>6}  idle requests / baseline requests = {idle}/{base} = {idle / base:.2f}")


if __name__ == "__main__":
    main()
