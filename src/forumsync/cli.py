"""The `forumsync` command line: wiring only; each command calls one module."""

from __future__ import annotations

import json
import logging
import sys
from typing import NoReturn

import click

from forumsync import __version__
from forumsync.config import Config, ConfigError, load_config, resolve_path
from forumsync.safetext import terminal_safe

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3

EPILOG = """\b
Global options (--config, -v/-q, --log-format) go before or after the command.
\b
Environment:
  FORUMSYNC_CONFIG             configuration file when --config is not given
                               (else ./forumsync.toml, else built-in defaults)
  FORUMSYNC_DISCOURSE_API_KEY  API key of [discourse] api_username (secret)
  FORUMSYNC_GITHUB_TOKEN       token for [github] repo (secret)
  FORUMSYNC_GITHUB_APP_PRIVATE_KEY
                               a GitHub App's key, with [github] app_id (secret)
  FORUMSYNC_GITHUB_WEBHOOK_SECRET, FORUMSYNC_DISCOURSE_WEBHOOK_SECRET
                               webhook secrets for `serve` (and *_PREVIOUS while rotating)
  FORUMSYNC_SERVE_PASSWORD     dashboard password with [serve] basic_auth_user
Secrets are read only from the environment and never printed or stored.
\b
Exit codes:
  0  done
  1  done, but some items failed (each reported); or the worker lost its lease
  2  bad configuration or usage (the message names the key or option)
  3  a service could not be reached (nothing changed; one line per service)
"""

# Options that belong to the whole program; accepted after the command too.
_GLOBAL_WITH_VALUE = ("--config", "--log-format")
_GLOBAL_FLAGS = ("-v", "-vv", "-vvv", "-q", "-qq", "--verbose", "--quiet")


def echo(message: object = "", err: bool = False) -> None:
    """Everything the CLI prints goes through here: text copied from the forum or GitHub
    (titles, problems) never reaches the terminal as escape sequences, and with
    `--log-format json` what goes to stderr is a JSON log line like every other."""
    from forumsync.logs import json_output

    text = terminal_safe(str(message))
    if err and json_output():
        logging.getLogger("forumsync.cli").error(text)
        return
    click.echo(text, err=err)


def hoist_global_options(args: list[str]) -> list[str]:
    """`forumsync sync --config F` means `forumsync --config F sync`."""
    front: list[str] = []
    rest: list[str] = []
    tokens = iter(args)
    for token in tokens:
        if token == "--":
            rest.append(token)
            rest.extend(tokens)
            break
        name = token.split("=", 1)[0]
        if name in _GLOBAL_WITH_VALUE:
            front.append(token)
            if "=" not in token:
                value = next(tokens, None)
                if value is not None:
                    front.append(value)
        elif token in _GLOBAL_FLAGS:
            front.append(token)
        else:
            rest.append(token)
    return front + rest


class _Group(click.Group):
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, hoist_global_options(list(args)))

    def invoke(self, ctx: click.Context) -> object:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import InterfaceError, OperationalError

        try:
            return super().invoke(ctx)
        except (OperationalError, InterfaceError) as exc:  # the database, not an item
            where = ""
            if isinstance(ctx.obj, Context) and ctx.obj.loaded is not None:
                where = f" at {make_url(ctx.obj.loaded.database.url)!r}"  # password masked
            cause = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:200]
            echo(f"forumsync: database unreachable{where}: {cause} (hint: check [database] "
                 "url, that the server runs and accepts this user, and the file's "
                 "permissions)", err=True)
            sys.exit(EXIT_UNREACHABLE)


def _fail_usage(message: str) -> NoReturn:
    echo(f"forumsync: error: {message}", err=True)
    sys.exit(EXIT_USAGE)


class Context:
    """Loads the configuration lazily, once; opens (and migrates) the database on request."""

    def __init__(self, config_path: str | None) -> None:
        self._config_path = config_path
        self._config: Config | None = None

    @property
    def loaded(self) -> Config | None:
        """The configuration if it was loaded (for error messages)."""
        return self._config

    @property
    def config(self) -> Config:
        if self._config is None:
            try:
                self._config = load_config(resolve_path(self._config_path))
            except ConfigError as exc:
                _fail_usage(str(exc))
        return self._config

    def sessions(self):
        from forumsync.db import open_database

        return open_database(self.config.database.url)

    def read_only_sessions(self):
        """The database as it is, not migrated: a health check must never change a schema
        under a running worker (or wait on a migration)."""
        from sqlalchemy.orm import sessionmaker

        from forumsync.db import make_engine

        return sessionmaker(make_engine(self.config.database.url), expire_on_commit=False)

    def scratch_sessions(self):
        """For a dry run: the real database if it exists, else a throwaway in-memory one,
        so a dry run before the first sync creates no file."""
        from sqlalchemy.engine import make_url

        from forumsync.db import open_database

        url = make_url(self.config.database.url)
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            from pathlib import Path

            if not Path(url.database).exists():
                return open_database("sqlite://")
        return open_database(self.config.database.url)


pass_context = click.make_pass_decorator(Context)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]},
             epilog=EPILOG)
@click.option(
    "--config",
    "config_path",
    metavar="PATH",
    help="Configuration file (else $FORUMSYNC_CONFIG, else ./forumsync.toml).",
)
@click.option("-v", "--verbose", count=True, help="More log output (-vv: libraries too).")
@click.option("-q", "--quiet", count=True, help="Less log output.")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Logs on stderr: text, or one JSON object per line.")
@click.version_option(__version__, prog_name="forumsync")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, verbose: int, quiet: int,
        log_format: str) -> None:
    """Keep SPEC forum threads and GitHub pull requests in step."""
    import logging

    from forumsync.logs import setup

    # the worker's log is its output (INFO); one-shot commands print a report, so their
    # log shows warnings and errors unless -v is given
    default = logging.INFO if ctx.invoked_subcommand in ("run", "serve") else logging.WARNING
    setup(verbose - quiet, log_format, default=default)
    ctx.obj = Context(config_path)


def _exit_if_unreachable(clients) -> None:
    """One line per service that could not be reached, with its cause and a hint; exit 3."""
    from forumsync.cycle import unreachable

    down = unreachable(clients)
    for error in down:
        url = (clients.forum.config.url if error.service == "discourse"
               else clients.repo.config.api_url)
        echo(f"forumsync: {error.service} unreachable at {url}: {error.cause} "
                   f"(hint: {error.hint}); nothing changed", err=True)
    if down:
        sys.exit(EXIT_UNREACHABLE)


@cli.group("config")
def config_group() -> None:
    """Inspect the configuration."""


@config_group.command("check")
@pass_context
def config_check(ctx: Context) -> None:
    """Validate the configuration and print it, secrets masked."""
    config = ctx.config
    echo(f"# configuration OK: {config.source}")
    for section, values in config.masked().items():
        echo(f"\n[{section}]")
        for key, value in values.items():
            echo(f"{key} = {_toml_value(value)}")


def _toml_value(value: object) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {json.dumps(v)}" for k, v in value.items()) + " }"
    return json.dumps(value)


@cli.group("db")
def db_group() -> None:
    """Manage the database."""


@db_group.command("upgrade")
@pass_context
def db_upgrade(ctx: Context) -> None:
    """Apply database migrations."""
    from sqlalchemy.engine import make_url

    ctx.sessions()
    echo(f"database at the latest schema: {make_url(ctx.config.database.url)!r}")


@cli.command(epilog=EPILOG)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--check", is_flag=True,
              help="Health check: exit 0 if the last successful sync ended within two sync "
                   "intervals, else 1 (for container and service health checks).")
@pass_context
def status(ctx: Context, as_json: bool, check: bool) -> None:
    """One row per SPEC: stage, PR, thread, last activity, stalled, last problem; and the
    worker's state."""
    from forumsync import health
    from forumsync.status import render_table, status_rows, unattached_problems
    from forumsync.timeutil import utcnow

    now = utcnow()
    if check:
        with ctx.read_only_sessions()() as session:
            worker = health.worker_state(session)
        healthy, message = health.check(worker, now, ctx.config.schedule.sync_every_minutes)
        echo(message)
        sys.exit(EXIT_OK if healthy else EXIT_SOME_FAILED)
    with ctx.sessions()() as session:
        worker = health.worker_state(session)
        rows = status_rows(session, now, ctx.config)
        loose = unattached_problems(session)
    if as_json:
        echo(json.dumps({"specs": [r.as_dict() for r in rows], "problems": loose,
                               "worker": worker}, indent=2))
        return
    echo(render_table(rows))
    if not rows:
        echo("(no SPECs tracked yet: run `forumsync sync`)")
    for message in loose:
        echo(f"problem: {message}")


@cli.command()
@click.option("--topic", "topic_id", type=click.IntRange(min=1), required=True, help="Topic id.")
@click.option("--pr", "pr_number", type=click.IntRange(min=1), required=True, help="PR number.")
@pass_context
def link(ctx: Context, topic_id: int, pr_number: int) -> None:
    """Link a SPEC's introducing PR to its viability thread by hand."""
    from forumsync.manual_links import LinkError, link_by_hand

    with ctx.sessions().begin() as session:
        try:
            echo(link_by_hand(session, pr_number, topic_id))
        except LinkError as exc:
            _fail_usage(str(exc))


@cli.command()
@click.option("--pr", "pr_number", type=click.IntRange(min=1), required=True, help="PR number.")
@pass_context
def unlink(ctx: Context, pr_number: int) -> None:
    """Remove a SPEC's thread link by hand; automatic linking will not restore it."""
    from forumsync.manual_links import unlink_by_hand

    with ctx.sessions().begin() as session:
        echo(unlink_by_hand(session, pr_number))


@cli.command(epilog=EPILOG)
@click.option("--dry-run", is_flag=True, help="Print the plan; write nothing anywhere.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_context
def sync(ctx: Context, dry_run: bool, as_json: bool) -> None:
    """One reconcile cycle; prints each action taken (or planned)."""
    from forumsync.cycle import build_clients, run_cycle
    from forumsync.timeutil import utcnow
    from forumsync.worker import lease_for

    config = ctx.config
    clients = build_clients(config)
    if dry_run:
        report = run_cycle(config, ctx.scratch_sessions(), clients, utcnow(), dry_run=True)
    else:
        lease = lease_for(config, ctx.sessions())
        if not lease.acquire():
            echo(f"forumsync: another forumsync ({lease.holder()}) is running on this "
                       "database; nothing done", err=True)
            sys.exit(EXIT_SOME_FAILED)
        from forumsync import health
        from forumsync.cycle import unreachable

        started = utcnow()
        health.cycle_started(lease.sessions, started, config.schedule.sync_every_minutes)
        try:
            report = run_cycle(config, lease.sessions, clients, started, heartbeat=lease.renew)
            health.cycle_finished(lease.sessions, utcnow(), "unreachable" if unreachable(
                clients) else "ok" if report.ok else "failed")  # `sync` from cron is health
        finally:
            lease.release()
    _exit_if_unreachable(clients)
    _print_report(report, dry_run, as_json)
    sys.exit(EXIT_OK if report.ok else EXIT_SOME_FAILED)


def _print_report(report, dry_run: bool, as_json: bool) -> None:
    if as_json:
        echo(json.dumps({"dry_run": dry_run, **report.as_dict()}, indent=2))
        return
    lines = report.lines("would" if dry_run else "did")
    for line in lines:
        echo(line, err=line.startswith("failed:"))
    if not lines:
        echo("nothing to do")


@cli.command(epilog=EPILOG)
@click.option("--metrics-port", type=click.IntRange(1, 65535), metavar="N",
              help="Serve Prometheus metrics on http://HOST:N/metrics.")
@click.option("--metrics-host", default="127.0.0.1", show_default=True,
              help="Address the metrics server listens on (0.0.0.0 in a container).")
@click.option("--serve", "with_web", is_flag=True,
              help="Also serve the dashboard and the webhooks (see `forumsync serve`).")
@click.option("--host", default="127.0.0.1", show_default=True, help="With --serve: address.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True,
              help="With --serve: port.")
@pass_context
def run(ctx: Context, metrics_port: int | None, metrics_host: str, with_web: bool, host: str,
        port: int) -> None:
    """The long-running worker: sync every interval, digest on its cron. A second worker on
    the same database waits as a hot standby. SIGTERM/SIGINT: finish the current SPEC's
    writes, then stop (a second signal stops at once)."""
    from forumsync.cycle import build_clients
    from forumsync.worker import Worker, lease_for

    config = ctx.config
    sessions = ctx.sessions()
    metrics = None
    if metrics_port:
        from forumsync.metrics import Metrics

        metrics = Metrics()
        metrics.serve(metrics_port, metrics_host)
    worker = Worker(config, sessions, build_clients(config), lease_for(config, sessions),
                    metrics=metrics)
    web = None
    if with_web:
        from forumsync.serve import create_app
        from forumsync.serve.runner import BackgroundServer

        web = BackgroundServer(create_app(config, sessions, wake=worker.deliveries.wake),
                               host, port).start()
        click.echo(f"serving the dashboard and webhooks on {web.url}", err=True)
    try:
        code = worker.run()
    finally:
        if web is not None:
            web.stop()
    if worker.lost is not None:
        echo(f"forumsync: the worker stopped: {worker.lost}", err=True)
    sys.exit(code)


@cli.command(epilog=EPILOG)
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0 in a container).")
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True)
@pass_context
def serve(ctx: Context, host: str, port: int) -> None:
    """The read-only dashboard, its JSON API, /healthz and the webhooks. Deliveries are stored
    and synced by the worker (`run`, or `run --serve` for both in one process)."""
    from forumsync.serve import create_app
    from forumsync.serve.runner import serve_forever

    serve_forever(create_app(ctx.config, ctx.sessions()), host, port)


@cli.command("digest", epilog=EPILOG)
@click.option("--dry-run", is_flag=True, help="Print the digest; send nothing.")
@pass_context
def digest_command(ctx: Context, dry_run: bool) -> None:
    """Build the committee digest; post it unless --dry-run (once per period)."""
    from forumsync import digest
    from forumsync.timeutil import utcnow

    config = ctx.config
    sessions = ctx.scratch_sessions() if dry_run else ctx.sessions()
    with sessions() as session:
        built = digest.collect(session, config, utcnow())
        if dry_run:
            echo(digest.render(built) if not built.is_empty() else
                       "(the digest is empty: nothing would be sent)")
            return
        if built.is_empty():
            echo("the digest is empty: nothing sent")
            return
        if digest.already_sent(session, built):
            echo(f"the digest for {built.key} was already sent")
            return
        from forumsync.cycle import build_clients
        from forumsync.errors import ServiceError
        from forumsync.worker import lease_for

        lease = lease_for(config, sessions)
        if not lease.acquire():
            echo(f"forumsync: another forumsync ({lease.holder()}) is running on this "
                       "database; its worker sends the digest", err=True)
            sys.exit(EXIT_SOME_FAILED)
        clients = build_clients(config)
        try:
            topic = digest.send(session, built, config, clients.forum, utcnow())
        except ServiceError as exc:
            _exit_if_unreachable(clients)
            echo(f"forumsync: digest not sent: {exc}", err=True)
            sys.exit(EXIT_SOME_FAILED)
        finally:
            lease.release()
    echo(f"digest for {built.key} sent: topic {topic}")


@cli.command()
def demo() -> None:
    """Run the whole flow offline against the built-in sandbox and show what happened."""
    from forumsync.demo import run_demo

    failures = run_demo(echo)
    sys.exit(EXIT_OK if failures == 0 else EXIT_SOME_FAILED)


def main() -> None:
    cli(prog_name="forumsync")
