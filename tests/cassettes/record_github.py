"""Re-record the GitHub cassettes.

    python tests/cassettes/record_github.py              # from the local sandbox (default)
    python tests/cassettes/record_github.py --real       # read-only, from api.github.com

Sandbox (what tests/test_repo_contract.py replays): runs the contract tests' cassette half
with FORUMSYNC_RECORD_GITHUB=1, so each test records tests/cassettes/github/<test>.yaml from
a freshly seeded sandbox, then runs the whole contract suite again in replay mode.

Real GitHub: reads scientific-python/specs (or --repo) through RepoClient into
tests/cassettes/github-real/, to compare real shapes with the sandbox's. Only GET calls are
made; the token (FORUMSYNC_GITHUB_TOKEN, optional: it raises the rate limit and lets the
team be read) is filtered from the recording. These cassettes are not replayed by the tests.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def record_sandbox() -> int:
    env = {**os.environ, "FORUMSYNC_RECORD_GITHUB": "1"}
    tests = str(ROOT / "tests" / "test_repo_contract.py")
    recorded = subprocess.run([sys.executable, "-m", "pytest", "-q", tests, "-k", "cassette"],
                              cwd=ROOT, env=env, check=False)
    if recorded.returncode:
        return recorded.returncode
    env.pop("FORUMSYNC_RECORD_GITHUB")
    return subprocess.run([sys.executable, "-m", "pytest", "-q", tests], cwd=ROOT, env=env,
                          check=False).returncode


def record_real(repo: str, api_url: str, team: str) -> int:
    from tests.repo_support import github_config, github_vcr

    from forumsync.config import GITHUB_TOKEN_ENV
    from forumsync.repo import RepoClient

    token = os.environ.get(GITHUB_TOKEN_ENV) or None
    library = ROOT / "tests" / "cassettes" / "github-real"
    config = github_config(api_url, token, repo=repo, timeout_seconds=30.0,
                           seconds_between_requests=0.5)
    client = RepoClient(config)
    recorder = github_vcr(record=True, origin=api_url, secret=token or "\0", library=library)
    recorder.before_record_request = lambda request: request  # keep the real origin
    recorder.before_record_response = _scrubber(token)
    with recorder.use_cassette("read_only.yaml"):
        pulls, _ = client.pulls_updated_since(None)
        newest = pulls[0]
        client.pull(newest.number)
        client.pull_files(newest.number)
        client.issue_events(newest.number)
        client.comments(newest.number)
        head, _ = client.default_branch_head()
        files = client.spec_files(head or "HEAD")
        for path in sorted(files)[:2]:
            client.spec_document(path, head or "HEAD")
        client.core_projects()
        client.team_members(team)
    print(f"recorded {library / 'read_only.yaml'}")
    return 0


def _scrubber(token: str | None) -> Callable[[dict], dict]:
    def scrub(response: dict) -> dict:
        if token:
            body = response["body"].get("string")
            if isinstance(body, bytes):
                response["body"]["string"] = body.replace(token.encode(), b"[token]")
        return response

    return scrub


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--real", action="store_true", help="read-only recording of GitHub")
    parser.add_argument("--repo", default="scientific-python/specs")
    parser.add_argument("--api-url", default="https://api.github.com")
    parser.add_argument("--team", default="spec-steering-committee")
    args = parser.parse_args()
    if args.real:
        return record_real(args.repo, args.api_url, args.team)
    return record_sandbox()


if __name__ == "__main__":
    raise SystemExit(main())
