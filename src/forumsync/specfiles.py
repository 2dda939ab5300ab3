"""Which repository paths are SPEC documents."""

from __future__ import annotations

import re

# spec-0004/index.md (quickstart.py layout) or the older spec-0004.md.
_SPEC_PATH = re.compile(r"^spec-\d{1,4}(?:/index\.md|\.md)$")


def is_spec_path(path: str) -> bool:
    return _SPEC_PATH.match(path) is not None
