"""GitHub App authentication beside the token: the App's JWT buys an installation token from
the sandbox, which then acts as `<slug>[bot]`, as GitHub does."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from forumsync.config import ConfigError, load_config
from forumsync.cycle import Clients
from forumsync.forum import ForumClient
from forumsync.repo import RepoClient
from forumsync.sandbox import Sandbox
from tests.test_e2e import World

APP_ID, INSTALLATION = 424242, 7_000_001


def pem_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public.decode()


@pytest.fixture
def app_world(tmp_path: Path) -> Iterator[tuple[World, str]]:
    private, public = pem_pair()
    with Sandbox() as box:
        world = World(box, tmp_path / "app.db")
        box.github.register_app(APP_ID, public, "forumsync-app", INSTALLATION)
        github = replace(world.config.github, token=None, app_id=APP_ID,
                         installation_id=INSTALLATION, app_private_key=private)
        world.config = replace(world.config, github=github)
        world.clients = Clients(ForumClient(world.config.discourse, sleep=world.sleeps.append),
                                RepoClient(github, sleep=world.sleeps.append))
        yield world, private


def test_a_sync_as_a_github_app_writes_as_its_bot(app_world: tuple[World, str]) -> None:
    world, _ = app_world
    topic = world.idea()
    pr = world.open_spec_pr(topic)
    report = world.sync()
    assert report.ok, report.failures
    assert world.github.labels_on(pr) == ("New SPEC", "spec-draft")
    [comment] = world.github.comments_on(pr)
    assert comment.author == "forumsync-app[bot]"
    assert world.clients.repo.own_login() == "forumsync-app[bot]"
    assert any(token.startswith("ghs_") for token in world.github.tokens)
    # its own label changes are not read back as someone's; a rerun writes nothing twice
    world.github.add_label("chair", pr, "spec-withdrawn")
    assert world.sync().ok
    assert world.tags(topic) == ("spec-withdrawn",)
    world.sync()
    assert len(world.github.comments_on(pr)) == 1
    assert sum("withdrawn" in r for r in world.replies(topic)) == 1


def test_a_wrong_private_key_fails_without_showing_it(app_world: tuple[World, str]) -> None:
    world, _ = app_world
    other, _ = pem_pair()
    github = replace(world.config.github, app_private_key=other)
    clients = Clients(world.clients.forum, RepoClient(github, sleep=world.sleeps.append))
    pr = world.open_spec_pr(world.idea())
    report = world.sync(clients)
    assert not report.ok
    text = "\n".join(report.failures)
    assert "JSON web token" in text, text
    assert "PRIVATE KEY" not in text and other.splitlines()[1] not in text
    assert world.github.labels_on(pr) == ("New SPEC",)  # nothing written


def test_app_settings_are_checked_and_the_key_comes_from_the_environment(
        tmp_path: Path) -> None:
    path = tmp_path / "f.toml"
    base = '[discourse]\nurl = "https://f.example"\n[github]\nrepo = "a/b"\n'
    path.write_text(base + "app_id = 5\ninstallation_id = 9\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="FORUMSYNC_GITHUB_APP_PRIVATE_KEY"):
        load_config(path, environ={})
    config = load_config(path, environ={"FORUMSYNC_GITHUB_APP_PRIVATE_KEY": "-----BEGIN x"})
    assert config.github.app_private_key == "-----BEGIN x"
    assert "BEGIN" not in str(config.masked()) and "BEGIN" not in repr(config)
    path.write_text(base + 'app_id = 5\ninstallation_id = 9\napp_private_key = "k"\n',
                    encoding="utf-8")
    with pytest.raises(ConfigError, match="secrets are not read from the file"):
        load_config(path, environ={})
