"""Shared fixtures: a configuration file in a temporary folder and a CLI runner."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
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


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The URL of a running PostgreSQL server (see tests/postgres_support.py)."""
    from tests import postgres_support as pg

    try:
        import psycopg  # noqa: F401
    except ImportError:
        pg.unavailable("psycopg is not installed (pip install -e '.[postgres]')")
    url = os.environ.get(pg.URL_VARIABLE)
    if url:
        yield url
        return
    if pg._binary("initdb") is None:
        pg.unavailable(f"set {pg.URL_VARIABLE} or install PostgreSQL (initdb not found)")
    with pg.throwaway_cluster() as started:
        yield started


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test."""
    from tests.postgres_support import fresh_database

    with fresh_database(postgres_server) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each storage test runs on SQLite and on a real PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    return request.getfixturevalue("postgres_url")
