"""Shared fixtures: a configuration file in a temporary folder and a CLI runner."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from forumsync.cli import cli

MINIMAL = """
[discourse]
url = "https://forum.example.org"

[github]
repo = "example/specs"
"""


@pytest.fixture(autouse=True)
def _no_ambient_config(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never read the developer's environment or secrets."""
    for name in ("FORUMSYNC_CONFIG", "FORUMSYNC_DISCOURSE_API_KEY", "FORUMSYNC_GITHUB_TOKEN"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def config_file(tmp_path: Path) -> Callable[[str], Path]:
    """Write a configuration file whose database lives in tmp_path."""

    def write(extra: str = "", *, base: str = MINIMAL) -> Path:
        db = tmp_path / "forumsync.db"
        text = f'[database]\nurl = "sqlite:///{db}"\n{base}\n{extra}'
        path = tmp_path / "forumsync.toml"
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def run_cli() -> Callable[..., Result]:
    def run(*args: str, env: dict[str, str] | None = None) -> Result:
        return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)

    return run
