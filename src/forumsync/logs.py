"""One logging setup for every command, and progress lines on a terminal.

The standard library's `logging`, not structlog: every library under us (alembic,
APScheduler, urllib3) already logs through it, so one handler formats all of it the same
way, and the project gains no dependency. Events carry fields: `event(log, "cycle finished",
outcome="ok")` prints `cycle finished outcome=ok` as text, and as JSON one object per line
with `time`, `level`, `event`, `logger` and the fields.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

FORMATS = ("text", "json")


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        fields = getattr(record, "fields", {})
        text = record.getMessage() + "".join(f" {k}={_text_value(v)}" for k, v in fields.items())
        line = f"{when} {record.levelname} {text}"
        if record.exc_info and record.levelno >= logging.ERROR:
            line += "\n" + self.formatException(record.exc_info)
        return line


def _text_value(value: Any) -> str:
    text = str(value)
    return json.dumps(text) if (not text or " " in text or '"' in text) else text


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "event": record.getMessage(),
            "logger": record.name,
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info and record.levelno >= logging.ERROR:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def level_for(verbosity: int, default: int = logging.WARNING) -> int:
    """-v lowers the level one step (WARNING -> INFO -> DEBUG), -q raises it."""
    steps = [logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR, logging.CRITICAL]
    index = steps.index(default) - verbosity
    return steps[max(0, min(len(steps) - 1, index))]


def setup(verbosity: int = 0, fmt: str = "text", *, default: int = logging.WARNING,
          stream: TextIO | None = None) -> None:
    """Route every logger through one handler on stderr. Libraries stay at WARNING unless
    asked for twice (-vv)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(_JsonFormatter() if fmt == "json" else _TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    level = level_for(verbosity, default)
    root.setLevel(level if verbosity >= 2 else max(level, logging.WARNING))
    logging.getLogger("forumsync").setLevel(level)


def json_output() -> bool:
    """Whether stderr carries one JSON object per line (`--log-format json`): then nothing
    else may be written there."""
    return any(isinstance(h.formatter, _JsonFormatter) for h in logging.getLogger().handlers)


def event(log: logging.Logger, name: str, level: int = logging.INFO, **fields: Any) -> None:
    """One event with its fields (see the module docstring)."""
    log.log(level, name, extra={"fields": fields})


def progress(label: str, done: int, total: int, stream: TextIO | None = None) -> None:
    """`pull requests 40/312` rewritten in place on a terminal; nothing when not a terminal
    or when progress would be noise (short lists, -q)."""
    out = stream or sys.stderr
    if total < 20 or not out.isatty() or json_output() or not logging.getLogger(
            "forumsync").isEnabledFor(logging.WARNING):
        return
    end = "\n" if done >= total else ""
    out.write(f"\r{label} {done}/{total}{end}")
    out.flush()
