"""What the worst hostile text costs each text function: milliseconds at 8,192 and 65,536
characters (GitHub's body limit) of the token that is worst for it, and the ratio.

Linear code grows about 8x between the two sizes, quadratic code about 64x. Times are the
best of a few calls on this machine. `tests/test_safe_text.py` runs the same functions on
the same tokens. Run: `python benchmarks/hostile_text.py`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from forumsync.links import parse_thread_url, pull_numbers_in, thread_refs_in
from forumsync.repo import spec_document_from_text
from forumsync.safetext import (
    markdown_text,
    neutralise,
    plain_title,
    safe_copy,
    strip_html_comments,
)

FORUM = "https://discuss.scientific-python.org"
SMALL, LARGE = 8_192, 65_536
FUNCTIONS: dict[str, Callable[[str], object]] = {
    "safe_copy(400)": lambda t: safe_copy(t, 400),
    "markdown_text(250)": lambda t: markdown_text(t, 250),
    "plain_title(250)": lambda t: plain_title(t, 250),
    "neutralise": neutralise,
    "strip_html_comments": strip_html_comments,
    "thread_refs_in": lambda t: thread_refs_in(t, FORUM),
    "parse_thread_url": lambda t: parse_thread_url(t, FORUM),
    "pull_numbers_in": lambda t: pull_numbers_in(t, "scientific-python/specs"),
    "spec front matter title": lambda t: spec_document_from_text(
        "spec-1/index.md", f"---\ntitle: {t!r}\n---\n"),
}
# The token each regex or parser would find worst, repeated to the body's length.
TOKENS = ["<!--", "<", "[", "](", "![", "[a](", "@", "`", "\\", "&#", "**_", "<a ", "#1",
          "a/b#", f"{FORUM}/t/", "https://github.com/", "SPEC0", " " * 7 + "x", "-->"]


def hostile(token: str, size: int) -> str:
    return (token * (size // len(token) + 1))[:size]


def best_seconds(call: Callable[[str], object], text: str, repeats: int = 5) -> float:
    """The least CPU time (this thread's own, so a busy shared machine does not inflate
    it) of `repeats` calls."""
    best = float("inf")
    for _ in range(repeats):
        start = time.thread_time()
        call(text)
        best = min(best, time.thread_time() - start)
    return best


def main() -> None:
    print("| function | worst token | ms at 8,192 | ms at 65,536 | ratio |")
    print("|---|---|---|---|---|")
    for name, call in FUNCTIONS.items():
        worst = max(TOKENS, key=lambda t: best_seconds(call, hostile(t, LARGE)))
        small = best_seconds(call, hostile(worst, SMALL), 5) * 1000
        large = best_seconds(call, hostile(worst, LARGE), 5) * 1000
        print(f"| {name} | `{worst!r}` | {small:.2f} | {large:.2f} | {large / small:.1f} |")


if __name__ == "__main__":
    main()
