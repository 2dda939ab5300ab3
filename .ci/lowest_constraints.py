"""Print a pip constraints file that pins every dependency in pyproject.toml to its floor.

CI installs with it once (`pip install -c ...`) and runs the tests, so each `>=` floor is
shown to be true, not only the newest versions. Extras named on the command line (e.g.
`postgres`) are pinned too; test tools are left free.
"""

import re
import sys
import tomllib
from pathlib import Path

project = tomllib.loads(Path(__file__).resolve().parents[1].joinpath(
    "pyproject.toml").read_text(encoding="utf-8"))["project"]
requirements = list(project["dependencies"])
for extra in sys.argv[1:]:
    requirements += project["optional-dependencies"][extra]
for requirement in requirements:
    found = re.match(r"^\s*([A-Za-z0-9_.-]+)(\[[^\]]*\])?\s*.*?>=\s*([A-Za-z0-9_.]+)", requirement)
    if found is None:
        sys.exit(f"no floor (>=) in {requirement!r}: every dependency needs one")
    print(f"{found.group(1)}=={found.group(3)}")
