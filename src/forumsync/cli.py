"""The `forumsync` command line: wiring only; each command calls one module."""

from __future__ import annotations

import json
import sys
from typing import NoReturn

import click

from forumsync import __version__
from forumsync.config import Config, ConfigError, load_config, resolve_path

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE = 0, 1, 2


def _fail_usage(message: str) -> NoReturn:
    click.echo(f"forumsync: error: {message}", err=True)
    sys.exit(EXIT_USAGE)


class Context:
    """Loads the configuration lazily, once; opens (and migrates) the database on request."""

    def __init__(self, config_path: str | None) -> None:
        self._config_path = config_path
        self._config: Config | None = None

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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    metavar="PATH",
    help="Configuration file (else $FORUMSYNC_CONFIG, else ./forumsync.toml).",
)
@click.version_option(__version__, prog_name="forumsync")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None) -> None:
    """Keep SPEC forum threads and GitHub pull requests in step."""
    ctx.obj = Context(config_path)


@cli.group("config")
def config_group() -> None:
    """Inspect the configuration."""


@config_group.command("check")
@pass_context
def config_check(ctx: Context) -> None:
    """Validate the configuration and print it, secrets masked."""
    config = ctx.config
    click.echo(f"# configuration OK: {config.source}")
    for section, values in config.masked().items():
        click.echo(f"\n[{section}]")
        for key, value in values.items():
            click.echo(f"{key} = {_toml_value(value)}")


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
    click.echo(f"database at the latest schema: {make_url(ctx.config.database.url)!r}")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@pass_context
def status(ctx: Context, as_json: bool) -> None:
    """One row per SPEC: stage, PR, thread, last activity, stalled, last problem."""
    from forumsync.status import render_table, status_rows, unattached_problems
    from forumsync.timeutil import utcnow

    with ctx.sessions()() as session:
        rows = status_rows(session, utcnow(), ctx.config)
        loose = unattached_problems(session)
    if as_json:
        click.echo(json.dumps({"specs": [r.as_dict() for r in rows], "problems": loose}, indent=2))
        return
    click.echo(render_table(rows))
    if not rows:
        click.echo("(no SPECs tracked yet: run `forumsync sync`)")
    for message in loose:
        click.echo(f"problem: {message}")


@cli.command()
@click.option("--topic", "topic_id", type=click.IntRange(min=1), required=True, help="Topic id.")
@click.option("--pr", "pr_number", type=click.IntRange(min=1), required=True, help="PR number.")
@pass_context
def link(ctx: Context, topic_id: int, pr_number: int) -> None:
    """Link a SPEC's introducing PR to its viability thread by hand."""
    from forumsync.manual_links import LinkError, link_by_hand

    with ctx.sessions().begin() as session:
        try:
            click.echo(link_by_hand(session, pr_number, topic_id))
        except LinkError as exc:
            _fail_usage(str(exc))


@cli.command()
@click.option("--pr", "pr_number", type=click.IntRange(min=1), required=True, help="PR number.")
@pass_context
def unlink(ctx: Context, pr_number: int) -> None:
    """Remove a SPEC's thread link by hand; automatic linking will not restore it."""
    from forumsync.manual_links import unlink_by_hand

    with ctx.sessions().begin() as session:
        click.echo(unlink_by_hand(session, pr_number))


@cli.command()
@click.option("--dry-run", is_flag=True, help="Print the plan; write nothing anywhere.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_context
def sync(ctx: Context, dry_run: bool, as_json: bool) -> None:
    """One reconcile cycle; prints each action taken (or planned)."""
    from forumsync.cycle import build_clients, run_cycle
    from forumsync.timeutil import utcnow
    from forumsync.worker import lease_for

    config = ctx.config
    if dry_run:
        report = run_cycle(config, ctx.scratch_sessions(), build_clients(config), utcnow(),
                           dry_run=True)
    else:
        lease = lease_for(config, ctx.sessions())
        if not lease.acquire():
            click.echo(f"forumsync: another forumsync ({lease.holder()}) is running on this "
                       "database; nothing done", err=True)
            sys.exit(EXIT_SOME_FAILED)
        try:
            report = run_cycle(config, lease.sessions, build_clients(config), utcnow(),
                               heartbeat=lease.renew)
        finally:
            lease.release()
    _print_report(report, dry_run, as_json)
    sys.exit(EXIT_OK if report.ok else EXIT_SOME_FAILED)


def _print_report(report, dry_run: bool, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps({"dry_run": dry_run, **report.as_dict()}, indent=2))
        return
    lines = report.lines("would" if dry_run else "did")
    for line in lines:
        click.echo(line, err=line.startswith("failed:"))
    if not lines:
        click.echo("nothing to do")


@cli.command()
@pass_context
def run(ctx: Context) -> None:
    """The long-running worker: sync every interval, digest on its cron; stops cleanly on
    SIGTERM/SIGINT."""
    import logging

    from forumsync.cycle import build_clients, run_cycle
    from forumsync.timeutil import utcnow
    from forumsync.worker import WorkerBusy, lease_for, run_worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    config = ctx.config
    sessions = ctx.sessions()
    clients = build_clients(config)
    lease = lease_for(config, sessions)

    def sync_once() -> None:
        report = run_cycle(config, sessions, clients, utcnow(), heartbeat=lease.renew)
        for line in report.lines():
            (logging.warning if line.startswith("failed:") else logging.info)("%s", line)

    def digest_once() -> None:
        from forumsync import digest

        with sessions() as session:
            built = digest.collect(session, config, utcnow())
            topic = digest.send(session, built, config, clients.forum, utcnow())
        if topic:
            logging.info("digest for %s sent: topic %s", built.key, topic)

    try:
        run_worker(lease, config, sync_once, digest_once)
    except WorkerBusy as exc:
        click.echo(f"forumsync: {exc}", err=True)
        sys.exit(EXIT_SOME_FAILED)


@cli.command("digest")
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
            click.echo(digest.render(built) if not built.is_empty() else
                       "(the digest is empty: nothing would be sent)")
            return
        if built.is_empty():
            click.echo("the digest is empty: nothing sent")
            return
        if digest.already_sent(session, built):
            click.echo(f"the digest for {built.key} was already sent")
            return
        from forumsync.cycle import build_clients
        from forumsync.errors import ServiceError
        from forumsync.worker import lease_for

        lease = lease_for(config, sessions)
        if not lease.acquire():
            click.echo(f"forumsync: another forumsync ({lease.holder()}) is running on this "
                       "database; its worker sends the digest", err=True)
            sys.exit(EXIT_SOME_FAILED)
        try:
            topic = digest.send(session, built, config, build_clients(config).forum, utcnow())
        except ServiceError as exc:
            click.echo(f"forumsync: digest not sent: {exc}", err=True)
            sys.exit(EXIT_SOME_FAILED)
        finally:
            lease.release()
    click.echo(f"digest for {built.key} sent: topic {topic}")


@cli.command()
def demo() -> None:
    """Run the whole flow offline against the built-in sandbox and show what happened."""
    from forumsync.demo import run_demo

    failures = run_demo(click.echo)
    sys.exit(EXIT_OK if failures == 0 else EXIT_SOME_FAILED)


def main() -> None:
    cli(prog_name="forumsync")
