"""Each adapter keeps transport apart from parsing: the parse modules import no HTTP or
service-client library, so they run (and are tested) on payloads alone."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import forumsync

PACKAGE = Path(forumsync.__file__).parent
TRANSPORT_LIBRARIES = {"requests", "urllib3", "pydiscourse", "github", "http", "socket"}


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("adapter", ["forum", "repo"])
def test_parsing_modules_import_no_transport(adapter: str) -> None:
    parse = PACKAGE / adapter / "parse.py"
    assert not imported_roots(parse) & TRANSPORT_LIBRARIES
    client = PACKAGE / adapter / "client.py"
    assert imported_roots(client) & TRANSPORT_LIBRARIES  # the check itself can see imports
