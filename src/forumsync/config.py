"""Configuration: one TOML file, typed and validated; secrets only from the environment.

Every mistake becomes a `ConfigError` naming the key and the file, so the command line can
print one clear line and exit 2 instead of a traceback.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, get_type_hints

from forumsync.stages import Stage

DISCOURSE_KEY_ENV = "FORUMSYNC_DISCOURSE_API_KEY"
GITHUB_TOKEN_ENV = "FORUMSYNC_GITHUB_TOKEN"
CONFIG_ENV = "FORUMSYNC_CONFIG"
SERVE_PASSWORD_ENV = "FORUMSYNC_SERVE_PASSWORD"
GITHUB_APP_KEY_ENV = "FORUMSYNC_GITHUB_APP_PRIVATE_KEY"
GITHUB_HOOK_ENV, DISCOURSE_HOOK_ENV = ("FORUMSYNC_GITHUB_WEBHOOK_SECRET",
                                       "FORUMSYNC_DISCOURSE_WEBHOOK_SECRET")
DEFAULT_CONFIG_PATH = Path("forumsync.toml")

# Key names that would hold a secret: refused in the file, whatever section they are in.
_SECRET_KEY = re.compile(r"(api_?key|token|secret|password)$", re.IGNORECASE)
_MARKER_STAGES = [s for s in Stage if s is not Stage.IDEA]


NEW_SPEC_LABEL = "New SPEC"  # the label a SPEC PR carries from the start (DESIGN.md)


class ConfigError(Exception):
    """A configuration mistake; the message names the key and the file."""


def _stage_names(prefix: str) -> dict[str, str]:
    return {stage.value: f"{prefix}{stage.value}" for stage in _MARKER_STAGES}


@dataclass(frozen=True)
class DatabaseConfig:
    url: str = "sqlite:///forumsync.db"


@dataclass(frozen=True)
class DiscourseConfig:
    url: str = "https://discuss.scientific-python.org"
    api_username: str = "forumsync"
    ideas_category_id: int = 9
    accepted_category_id: int = 0
    committee_group: str = "spec-steering-committee"
    timeout_seconds: float = 30.0
    requests_per_minute: int = 60  # Discourse's default admin API limit; 0: not paced
    stage_tags: dict[str, str] = field(default_factory=lambda: _stage_names("spec-"))
    api_key: str | None = field(default=None, repr=False, metadata={"secret": DISCOURSE_KEY_ENV})


@dataclass(frozen=True)
class GithubConfig:
    api_url: str = "https://api.github.com"
    repo: str = "scientific-python/specs"
    committee_team: str = "spec-steering-committee"
    core_projects_path: str = "core-projects"
    seconds_between_requests: float = 0.0  # reads are paced by the rate-limit headers
    seconds_between_writes: float = 1.0
    timeout_seconds: float = 30.0
    stage_labels: dict[str, str] = field(default_factory=lambda: _stage_names("spec-"))
    token: str | None = field(default=None, repr=False, metadata={"secret": GITHUB_TOKEN_ENV})
    # a GitHub App instead of a token: its id, its installation on the repository's owner,
    # and its private key (PEM) from the environment
    app_id: int = 0
    installation_id: int = 0
    app_private_key: str | None = field(default=None, repr=False,
                                        metadata={"secret": GITHUB_APP_KEY_ENV})

    @property
    def web_url(self) -> str:
        """Where people see the repository: github.com, or a GitHub Enterprise host."""
        base = self.api_url.rstrip("/")
        if base == "https://api.github.com":
            return "https://github.com"
        return base.removesuffix("/api/v3")


@dataclass(frozen=True)
class SyncConfig:
    announce_window_days: int = 7


@dataclass(frozen=True)
class DigestConfig:
    stalled_after_days: int = 30
    category_id: int = 0  # 0: a private message to the committee group
    stalled_after_days_by_stage: dict[str, int] = field(default_factory=dict)

    def stalled_after(self, stage: Stage) -> int:
        return self.stalled_after_days_by_stage.get(stage.value, self.stalled_after_days)


@dataclass(frozen=True)
class ScheduleConfig:
    sync_every_minutes: float = 5  # fractions allowed (0.05 = every 3 s, for tests)
    digest_cron: str = "0 8 * * mon"


def _secret(env: str) -> Any:
    return field(default=None, repr=False, metadata={"secret": env})


@dataclass(frozen=True)
class ServeConfig:
    """`forumsync serve`: the dashboard and the webhooks (see forumsync.serve)."""

    basic_auth_user: str = ""  # empty: the dashboard is open to whoever reaches it
    basic_auth_password: str | None = _secret(SERVE_PASSWORD_ENV)
    github_webhook_secret: str | None = _secret(GITHUB_HOOK_ENV)
    github_webhook_secret_previous: str | None = _secret(GITHUB_HOOK_ENV + "_PREVIOUS")
    discourse_webhook_secret: str | None = _secret(DISCOURSE_HOOK_ENV)
    discourse_webhook_secret_previous: str | None = _secret(DISCOURSE_HOOK_ENV + "_PREVIOUS")


@dataclass(frozen=True)
class Config:
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    discourse: DiscourseConfig = field(default_factory=DiscourseConfig)
    github: GithubConfig = field(default_factory=GithubConfig)
    sync: SyncConfig = field(default_factory=SyncConfig)
    digest: DigestConfig = field(default_factory=DigestConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    serve: ServeConfig = field(default_factory=ServeConfig)
    source: str = "(built-in defaults)"

    def masked(self) -> dict[str, Any]:
        """The effective configuration as plain data, secrets shown only as set or not."""
        out: dict[str, Any] = {}
        for section in _sections():
            values = {}
            for f in fields(section.type_):
                value = getattr(getattr(self, section.name), f.name)
                if f.metadata.get("secret"):
                    value = "(set)" if value else f"(not set: env {f.metadata['secret']})"
                values[f.name] = value
            out[section.name] = values
        return out


# Keys that must be written in a configuration file: where the service reads and writes.
REQUIRED_KEYS = {("discourse", "url"), ("github", "repo")}


@dataclass(frozen=True)
class _Section:
    name: str
    type_: type


def _sections() -> list[_Section]:
    hints = get_type_hints(Config)
    return [_Section(f.name, hints[f.name]) for f in fields(Config) if is_dataclass(hints[f.name])]


def resolve_path(cli_path: str | None) -> Path | None:
    """The file to read: `--config`, else `$FORUMSYNC_CONFIG`, else `./forumsync.toml` if present.

    Returns None when no file is named and the default file does not exist: the built-in
    defaults (the real forum and repository) then apply.
    """
    if cli_path:
        return Path(cli_path)
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV])
    return DEFAULT_CONFIG_PATH if DEFAULT_CONFIG_PATH.exists() else None


def load_config(path: Path | None, environ: dict[str, str] | None = None) -> Config:
    """Read and validate `path` (None: built-in defaults), then add secrets from `environ`."""
    environ = dict(os.environ if environ is None else environ)
    raw: dict[str, Any] = {}
    source = "(built-in defaults)"
    if path is not None:
        source = str(path)
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{source}: configuration file not found") from None
        except OSError as exc:
            raise ConfigError(f"{source}: cannot read configuration file: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{source}: not valid TOML: {exc}") from None
        for section, key in sorted(REQUIRED_KEYS):
            table = raw.get(section)
            if not isinstance(table, dict) or key not in table:
                raise ConfigError(f"{source}: missing required key [{section}] {key}")

    sections = {s.name: s for s in _sections()}
    for name in raw:
        if name not in sections:
            raise ConfigError(
                f"{source}: unknown section [{name}] (known: {', '.join(sorted(sections))})"
            )
    built: dict[str, Any] = {}
    for section in sections.values():
        table = raw.get(section.name, {})
        if not isinstance(table, dict):
            raise ConfigError(f"{source}: [{section.name}] must be a table")
        built[section.name] = _build_section(section, table, source, environ)
    discourse = built["discourse"]  # Discourse keeps tags in lower case: compare alike
    built["discourse"] = replace(discourse, stage_tags={
        stage: tag.lower() for stage, tag in discourse.stage_tags.items()})
    config = Config(**built, source=source)
    _validate(config, source)
    return config


def _build_section(section: _Section, table: dict, source: str, environ: dict[str, str]) -> Any:
    hints = get_type_hints(section.type_)
    known = {f.name: f for f in fields(section.type_)}
    values: dict[str, Any] = {}
    for key, value in table.items():
        where = f"[{section.name}] {key}"
        f = known.get(key)
        if _SECRET_KEY.search(key) or (f is not None and f.metadata.get("secret")):
            env = f.metadata["secret"] if f is not None else "the environment"
            raise ConfigError(
                f"{source}: {where}: secrets are not read from the file; "
                f"remove it and set {env} instead"
            )
        if f is None:
            public = [n for n, fl in known.items() if not fl.metadata.get("secret")]
            raise ConfigError(f"{source}: unknown key {where} (known: {', '.join(public)})")
        values[key] = _coerce(value, hints[key], f"{source}: {where}")
        if isinstance(values[key], dict):  # a partial table overrides only the names it gives
            values[key] = {**f.default_factory(), **values[key]}
    for f in known.values():
        if f.metadata.get("secret"):
            values[f.name] = environ.get(f.metadata["secret"]) or None
    return section.type_(**values)


def _coerce(value: Any, hint: Any, where: str) -> Any:
    if hint is bool or isinstance(value, bool):
        if hint is not bool:
            raise ConfigError(f"{where}: expected {_type_name(hint)}, got a boolean")
        return value
    if hint is int:
        if not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {_describe(value)}")
        return value
    if hint is float:
        if not isinstance(value, int | float):
            raise ConfigError(f"{where}: expected a number, got {_describe(value)}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {_describe(value)}")
        return value
    if hint == dict[str, str]:
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise ConfigError(f"{where}: expected a table of strings")
        return value
    if hint == dict[str, int]:
        if not isinstance(value, dict) or not all(
                isinstance(v, int) and not isinstance(v, bool) for v in value.values()):
            raise ConfigError(f"{where}: expected a table of integers")
        return value
    raise ConfigError(f"{where}: unsupported setting type")  # pragma: no cover


def _type_name(hint: Any) -> str:
    return {int: "an integer", float: "a number", str: "a string"}.get(hint, str(hint))


def _describe(value: Any) -> str:
    return f"{type(value).__name__} {value!r}"


def _validate(config: Config, source: str) -> None:
    from apscheduler.triggers.cron import CronTrigger
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    def fail(key: str, message: str) -> None:
        raise ConfigError(f"{source}: {key}: {message}")

    try:
        make_url(config.database.url).get_dialect()
    except NoSuchModuleError:  # an ArgumentError too
        fail("[database] url", f"no such database kind: {config.database.url.split(':')[0]!r}")
    except ArgumentError:
        fail("[database] url", f"not a SQLAlchemy database URL: {config.database.url!r}")
    for key, url in (("[discourse] url", config.discourse.url),
                     ("[github] api_url", config.github.api_url)):
        if not re.match(r"^https?://[^/\s]+", url):
            fail(key, f"expected an http(s) URL, got {url!r}")
    if not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", config.github.repo):
        fail("[github] repo", f"expected 'owner/name', got {config.github.repo!r}")
    if config.discourse.ideas_category_id <= 0:
        fail("[discourse] ideas_category_id", "must be a positive category id")
    if config.discourse.accepted_category_id < 0:
        fail("[discourse] accepted_category_id", "must be a category id, or 0 for never move")
    if config.discourse.accepted_category_id == config.discourse.ideas_category_id:
        fail("[discourse] accepted_category_id", "must differ from ideas_category_id")
    for key, name in (("[discourse] committee_group", config.discourse.committee_group),
                      ("[github] committee_team", config.github.committee_team)):
        if not name.strip():
            fail(key, "must name the Steering Committee's group or team")
    for key, minimum in (("sync_every_minutes", 0.05),):
        if getattr(config.schedule, key) < minimum:
            fail(f"[schedule] {key}", f"must be at least {minimum}")
    if config.digest.stalled_after_days < 1:
        fail("[digest] stalled_after_days", "must be at least 1")
    if config.digest.category_id < 0:
        fail("[digest] category_id", "must be a category id, or 0 for a private message")
    open_stages = {s.value for s in Stage if not s.is_final}
    for stage, days in config.digest.stalled_after_days_by_stage.items():
        if stage not in open_stages:
            fail("[digest] stalled_after_days_by_stage",
                 f"unknown or final stage {stage!r} (stages: {', '.join(sorted(open_stages))})")
        if days < 1:
            fail("[digest] stalled_after_days_by_stage", f"{stage} must be at least 1")
    if config.sync.announce_window_days < 0:
        fail("[sync] announce_window_days", "must be 0 or more")
    for key in ("seconds_between_requests", "seconds_between_writes", "timeout_seconds"):
        if getattr(config.github, key) < 0:
            fail(f"[github] {key}", "must be 0 or more")
    if config.discourse.requests_per_minute < 0:
        fail("[discourse] requests_per_minute", "must be 0 or more")
    if config.discourse.timeout_seconds <= 0:
        fail("[discourse] timeout_seconds", "must be more than 0")
    github = config.github
    if github.app_id < 0 or github.installation_id < 0:
        fail("[github] app_id", "must be a GitHub App id (0: authenticate with a token)")
    if github.app_id and not (github.installation_id and github.app_private_key):
        fail("[github] app_id", f"a GitHub App needs [github] installation_id and "
                                f"{GITHUB_APP_KEY_ENV} (its private key, PEM)")
    if config.serve.basic_auth_user and not config.serve.basic_auth_password:
        fail("[serve] basic_auth_user", f"set {SERVE_PASSWORD_ENV} too (the password)")
    try:
        CronTrigger.from_crontab(config.schedule.digest_cron)
    except ValueError as exc:
        fail("[schedule] digest_cron", f"not a crontab expression ({exc})")
    for key, names in (("[discourse] stage_tags", config.discourse.stage_tags),
                       ("[github] stage_labels", config.github.stage_labels)):
        expected = {s.value for s in _MARKER_STAGES}
        unknown = set(names) - expected
        if unknown:
            stages = ", ".join(sorted(expected))
            fail(key, f"unknown stage {sorted(unknown)[0]!r} (stages: {stages})")
        folded = {name.casefold() for name in names.values()}
        if len(folded) != len(names) or not all(names.values()):
            fail(key, "each stage needs its own non-empty name")
        if NEW_SPEC_LABEL.casefold() in folded:
            fail(key, f"{NEW_SPEC_LABEL!r} is the label of new SPEC PRs, not a stage")
