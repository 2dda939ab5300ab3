"""Write the cassettes built from recorded payloads into tests/cassettes/fixtures/.

Run from the repository root: `python tests/cassettes/build_from_fixtures.py`. What each
answer is built from is listed at the top of each cassette and in its README.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.fixture_cassettes import write_all

if __name__ == "__main__":
    for path in write_all():
        print(path)
