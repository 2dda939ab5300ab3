"""Re-record the Discourse contract cassettes (tests/cassettes/discourse/*.yaml).

From a fresh local sandbox (no network, deterministic):

    python tests/cassettes/record_discourse.py

Against a real forum (a throwaway test instance: the tests create topics, replies, a group
message and change tags and categories there), with an admin API key in the environment:

    FORUMSYNC_DISCOURSE_API_KEY=... python tests/cassettes/record_discourse.py \\
        --url https://forum.test.example --username forumsync \\
        --ideas-category 9 --accepted-category 15 --group spec-steering-committee

It writes world.json (what the tests may assume about that forum), deletes the old
cassettes, runs the contract tests' cassette half in record mode, then checks that the API
key appears in no cassette.
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.forum_support import CASSETTES, SANDBOX_WORLD, World  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a real forum's base URL (default: the local sandbox)")
    parser.add_argument("--username", default="forumsync", help="the API key's user")
    parser.add_argument("--ideas-category", type=int, default=9)
    parser.add_argument("--accepted-category", type=int, default=15)
    parser.add_argument("--group", default="spec-steering-committee")
    args = parser.parse_args(argv)

    env = {**os.environ, "FORUMSYNC_RECORD_DISCOURSE": "sandbox"}
    key = os.environ.get("FORUMSYNC_DISCOURSE_API_KEY", "")
    world = SANDBOX_WORLD
    if args.url:
        if not key:
            parser.error("set FORUMSYNC_DISCOURSE_API_KEY to record against a real forum")
        world = World(api_username=args.username, ideas_category_id=args.ideas_category,
                      accepted_category_id=args.accepted_category, group=args.group,
                      group_members=None, run=f"rec-{secrets.token_hex(3)}")
        env.update(FORUMSYNC_RECORD_DISCOURSE="live", FORUMSYNC_RECORD_DISCOURSE_URL=args.url)

    for old in CASSETTES.glob("*.yaml"):
        old.unlink()
    world.save()
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
               "tests/test_forum_contract.py", "-k", "cassette"]
    status = subprocess.call(command, cwd=ROOT, env=env)

    if key and any(key in path.read_text(encoding="utf-8") for path in CASSETTES.glob("*")):
        print("the API key appears in a cassette: do not commit them", file=sys.stderr)
        return 1
    return status


if __name__ == "__main__":
    sys.exit(main())
