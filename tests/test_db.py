"""Storage: migrations agree with the models, go up and down, and the constraints hold."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from forumsync import store
from forumsync.actions import ProblemNote
from forumsync.db import downgrade, make_engine, open_database, upgrade
from forumsync.models import Base, Cursor, Effect, Link, Problem, PullRequest, Spec, Thread

NOW = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture
def db_url(any_db_url: str) -> str:
    return any_db_url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'state.db'}"


def test_models_and_migrations_agree(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_upgrade_then_downgrade_on_an_empty_file(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    assert {"specs", "threads", "links", "effects", "stage_events", "cursors", "digests",
            "problems", "pull_requests", "manual_links"} <= set(inspect(engine).get_table_names())
    downgrade(engine, "base")
    assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    upgrade(engine)  # and up again
    assert "specs" in inspect(engine).get_table_names()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1


def _spec(**values) -> Spec:
    return Spec(stage="draft", created_at=NOW, **values)


def test_one_viability_thread_per_spec(db_url: str) -> None:
    sessions = open_database(db_url)
    with sessions() as session:
        first, second = _spec(introducing_pr=1), _spec(introducing_pr=2)
        session.add_all([first, second, Thread(id=10), Thread(id=11)])
        session.flush()
        session.add(Link(spec_id=first.id, thread_id=10, method="pr_body", created_at=NOW))
        session.flush()
        session.add(Link(spec_id=second.id, thread_id=10, method="thread_post", created_at=NOW))
        with pytest.raises(IntegrityError):
            session.flush()
        session.rollback()
    with sessions() as session:
        spec = _spec(introducing_pr=3)
        session.add_all([spec, Thread(id=12), Thread(id=13)])
        session.flush()
        session.add(Link(spec_id=spec.id, thread_id=12, method="manual", created_at=NOW))
        session.add(Link(spec_id=spec.id, thread_id=13, method="manual", created_at=NOW))
        with pytest.raises(IntegrityError):
            session.flush()


def test_one_effect_per_idempotency_key(db_url: str) -> None:
    sessions = open_database(db_url)
    with sessions() as session:
        session.add(Effect(key="reply:pr-4:opened", kind="reply", target="t/1", created_at=NOW))
        session.flush()
        session.add(Effect(key="reply:pr-4:opened", kind="reply", target="t/1", created_at=NOW))
        with pytest.raises(IntegrityError):
            session.flush()


def test_foreign_keys_are_enforced(db_url: str) -> None:
    sessions = open_database(db_url)
    with sessions() as session:
        session.add(Link(spec_id=999, thread_id=998, method="manual", created_at=NOW))
        with pytest.raises(IntegrityError):
            session.flush()


def test_a_realistically_large_cursor_is_stored_whole(db_url: str) -> None:
    """The SPEC-blobs cursor is a JSON map of every SPEC file to its blob sha: with 16 files
    (the real repository today) it is already ~1 KB; 400 files keep us honest for years."""
    from forumsync.cycle import BLOBS_CURSOR

    blobs = {f"spec-{n:04d}/index.md": f"{n:040x}" for n in range(400)}
    value = json.dumps(blobs, sort_keys=True)
    assert len(value) > 20_000
    sessions = open_database(db_url)
    with sessions.begin() as session:
        store.set_cursor(session, BLOBS_CURSOR, value)
    with sessions() as session:
        assert json.loads(store.get_cursor(session, BLOBS_CURSOR).value) == blobs


def test_long_titles_slugs_and_subjects_fit(db_url: str) -> None:
    sessions = open_database(db_url)
    title = "SPEC 7 — " + "a very long title " * 40
    with sessions.begin() as session:
        session.add(_spec(introducing_pr=9, title=title, last_actor="x" * 300))
        session.add(Thread(id=5, slug="s" * 1000, title=title))
    with sessions() as session:
        assert session.get(Thread, 5).title == title


def test_downgrade_to_0001_keeps_short_cursors_and_drops_long_ones(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    with Session(engine) as session, session.begin():
        session.add(Cursor(name="short", value="x" * 10, updated_at=NOW))
        session.add(Cursor(name="long", value="x" * 5000, updated_at=NOW))
    downgrade(engine, "0001")
    with engine.connect() as connection:
        names = connection.execute(text("SELECT name FROM cursors")).scalars().all()
    assert names == ["short"]
    upgrade(engine)


def test_a_database_full_of_data_goes_down_and_up_again(db_url: str, tmp_path: Path) -> None:
    """A deployment upgrading from the first release has rows in every table: rebuilding a
    table that others refer to (SQLite's way of altering one) must not break or stick."""
    from sqlalchemy import func, select

    from forumsync.cycle import run_cycle
    from forumsync.models import StageEvent
    from forumsync.sandbox import Sandbox
    from tests.test_e2e import World

    with Sandbox() as box:
        world = World(box, tmp_path / "unused.db")
        world.db_url, world.sessions = db_url, open_database(db_url)
        topic = world.idea()
        pr = world.open_spec_pr(topic)
        world.sync()
        world.github.add_label("mallory", pr, "spec-endorsed")
        world.sync()
        engine = make_engine(db_url)

        def counts() -> tuple[int, ...]:
            with Session(engine) as session:
                return tuple(session.scalar(select(func.count()).select_from(model))
                             for model in (Spec, Thread, Link, StageEvent, Effect))

        before = counts()
        assert all(before)
        downgrade(engine, "0001")
        upgrade(engine)
        assert counts() == before
        world.sessions = open_database(db_url)
        report = run_cycle(world.config, world.sessions, world.clients, box.clock.advance(
            minutes=10))
        assert report.ok and report.actions == []  # nothing forgotten, nothing done twice


def test_a_pr_or_spec_without_a_row_is_no_reason_to_fail(db_url: str) -> None:
    """A PR row deleted by hand, or a SPEC whose save was rolled back, are left out: the
    rest is stored, and no cycle fails on them again and again."""
    at = datetime(2026, 1, 2, tzinfo=UTC)
    sessions = open_database(db_url)
    with sessions.begin() as session:
        session.add(PullRequest(number=2, state="open", labels=[]))
    with sessions.begin() as session:
        store.pulls_seen_at(session, {2: at, 999: at})
        store.note_problem(session, ProblemNote("sync-failed", "spec:x", "it failed"), at,
                           spec_id=12345)
    with sessions() as session:
        assert session.get(PullRequest, 2).updated_at.replace(tzinfo=UTC) == at
        assert session.get(PullRequest, 999) is None
        problem = session.scalars(select(Problem)).one()
        assert (problem.subject, problem.spec_id) == ("spec:x", None)
