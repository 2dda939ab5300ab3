"""The deployment files say what the worker does: non-root, health check, stop grace."""

from __future__ import annotations

import configparser
import re
import shlex
from pathlib import Path

from forumsync.cli import cli

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
BOUNDED_STOP_SECONDS = 10  # tests/test_worker.py measures the worker against this


def _instructions(text: str) -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", text)
    return [tuple(line.split(None, 1)) for line in joined.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def test_dockerfile_runs_as_non_root_with_a_health_check_on_status_check() -> None:
    steps = _instructions((DEPLOY / "Dockerfile").read_text())
    users = [arg for op, arg in steps if op == "USER"]
    assert users and users[-1] not in ("root", "0")
    [health] = [arg for op, arg in steps if op == "HEALTHCHECK"]
    assert '"status", "--check"' in health
    assert ("STOPSIGNAL", "SIGTERM") in steps
    [cmd] = [arg for op, arg in steps if op == "CMD"]
    args = [a.strip().strip('"') for a in cmd.strip("[]").split(",")]
    cli.make_context("forumsync", list(args))  # the command line is one the CLI accepts


def test_stop_grace_outlasts_the_bounded_stop() -> None:
    compose = (DEPLOY / "compose.yaml").read_text()
    grace = int(re.search(r"stop_grace_period:\s*(\d+)s", compose).group(1))
    assert grace > BOUNDED_STOP_SECONDS
    assert f"--stop-timeout {grace}" in (DEPLOY / "Dockerfile").read_text()


def test_systemd_unit_restarts_on_failure_and_reads_secrets_from_an_environment_file() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment, method-assign]
    unit.read(DEPLOY / "forumsync.service")
    service = unit["Service"]
    assert service["Restart"] == "on-failure"
    assert service["EnvironmentFile"].startswith("/etc/")
    assert int(service["TimeoutStopSec"]) > BOUNDED_STOP_SECONDS
    assert service["User"] not in ("root", "0")
    assert shlex.split(service["ExecStart"])[1:] == ["run"]
    secrets = (DEPLOY / "forumsync.env.example").read_text()
    assert re.search(r"^FORUMSYNC_GITHUB_TOKEN=$", secrets, re.M)  # a placeholder, empty
