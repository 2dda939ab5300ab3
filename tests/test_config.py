"""Configuration: defaults, precedence, secrets; every mistake exits 2 naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from forumsync.config import ConfigError, load_config, resolve_path

VALID = '[discourse]\nurl = "https://forum.example.org"\n[github]\nrepo = "example/specs"\n'

MISTAKES = [
    # (what is wrong, the whole file, words the message must hold)
    ("not TOML", VALID + "[digest\nstalled_after_days = 3", ["not valid TOML"]),
    ("unknown section", VALID + "[digets]\nstalled_after_days = 3", ["unknown section [digets]"]),
    ("unknown key", VALID + "[digest]\nstaled_after_days = 3",
     ["unknown key [digest] staled_after_days"]),
    ("wrong type", VALID + '[digest]\nstalled_after_days = "30"',
     ["[digest] stalled_after_days", "expected an integer"]),
    ("boolean for int", VALID + "[schedule]\nsync_every_minutes = true",
     ["[schedule] sync_every_minutes", "boolean"]),
    ("out of range", VALID + "[schedule]\nsync_every_minutes = 0",
     ["[schedule] sync_every_minutes", "at least 0.05"]),
    ("bad cron", VALID + '[schedule]\ndigest_cron = "every monday"', ["[schedule] digest_cron"]),
    ("bad repo", VALID.replace("example/specs", "just-a-name"), ["[github] repo", "owner/name"]),
    ("bad url", VALID.replace("https://forum.example.org", "forum.example.org"),
     ["[discourse] url", "http(s) URL"]),
    ("bad database url", '[database]\nurl = "not a url"\n' + VALID, ["[database] url"]),
    ("unknown database kind", '[database]\nurl = "notadb://x/y"\n' + VALID,
     ["[database] url", "no such database kind"]),
    ("accepted is ideas", VALID.replace(
        "[github]", "ideas_category_id = 9\naccepted_category_id = 9\n[github]"),
     ["[discourse] accepted_category_id", "differ"]),
    ("no committee group", VALID.replace("[github]", 'committee_group = " "\n[github]'),
     ["[discourse] committee_group"]),
    ("no committee team", VALID + 'committee_team = ""', ["[github] committee_team"]),
    ("New SPEC as a stage", VALID + '[github.stage_labels]\ndraft = "new spec"',
     ["[github] stage_labels", "New SPEC"]),
    ("two stages, one label", VALID + '[github.stage_labels]\ndraft = "Spec-Accepted"',
     ["[github] stage_labels", "its own"]),
    ("secret in file", VALID + 'token = "ghp_abcdefghijklmnopqrstuvwxyz"',
     ["[github] token", "FORUMSYNC_GITHUB_TOKEN"]),
    ("api key in file", VALID.replace("[github]", 'api_key = "k"\n[github]'),
     ["[discourse] api_key", "FORUMSYNC_DISCOURSE_API_KEY"]),
    ("unknown stage label", VALID + '[github.stage_labels]\nreviewing = "x"',
     ["[github] stage_labels", "reviewing"]),
    ("negative category", VALID.replace("[github]", "accepted_category_id = -1\n[github]"),
     ["[discourse] accepted_category_id"]),
    ("section not a table", "digest = 3\n" + VALID, ["[digest] must be a table"]),
    ("missing required key", '[github]\nrepo = "a/b"\n', ["missing required key [discourse] url"]),
]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("kind", "text", "words"), MISTAKES, ids=[m[0] for m in MISTAKES])
def test_each_mistake_exits_2_naming_key_and_file(tmp_path, run_cli, kind, text, words) -> None:
    path = _write(tmp_path, text)
    result = run_cli("--config", str(path), "config", "check")
    assert result.exit_code == 2, result.output
    assert str(path) in result.output
    for word in words:
        assert word in result.output
    assert "Traceback" not in result.output


def test_duplicate_toml_key_is_reported(tmp_path: Path) -> None:
    path = _write(tmp_path, '[github]\nrepo = "a/b"\nrepo = "c/d"\n[discourse]\nurl="http://x"\n')
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path)


def test_missing_file_named_explicitly(tmp_path: Path, run_cli) -> None:
    result = run_cli("--config", str(tmp_path / "nope.toml"), "status")
    assert result.exit_code == 2
    assert "configuration file not found" in result.output


def test_defaults_match_the_contract() -> None:
    config = load_config(None, environ={})
    assert config.database.url == "sqlite:///forumsync.db"
    assert config.discourse.url == "https://discuss.scientific-python.org"
    assert config.discourse.api_username == "forumsync"
    assert config.discourse.ideas_category_id == 9
    assert config.discourse.accepted_category_id == 0
    assert config.discourse.committee_group == "spec-steering-committee"
    assert config.github.api_url == "https://api.github.com"
    assert config.github.repo == "scientific-python/specs"
    assert config.github.committee_team == "spec-steering-committee"
    assert config.digest.stalled_after_days == 30
    assert config.schedule.sync_every_minutes == 5
    assert config.schedule.digest_cron == "0 8 * * mon"
    assert config.github.stage_labels["accepted"] == "spec-accepted"
    assert config.discourse.stage_tags["withdrawn"] == "spec-withdrawn"


def test_example_file_is_valid_and_documents_every_key() -> None:
    example = Path(__file__).resolve().parents[1] / "config.example.toml"
    config = load_config(example, environ={})
    text = example.read_text()
    for section, values in config.masked().items():
        for key, value in values.items():
            if str(value).startswith("(not set: env "):  # a secret: named in the comments
                assert value.removeprefix("(not set: env ").rstrip(")") in text, key
                continue
            documented = f"\n{key} =" in text or f"[{section}.{key}]" in text
            assert documented, f"[{section}] {key} is not documented"


def test_partial_stage_table_overrides_only_what_it_names(tmp_path: Path) -> None:
    path = _write(tmp_path, '[discourse]\nurl="https://f.org"\n[github]\nrepo="a/b"\n'
                            '[github.stage_labels]\naccepted = "SPEC: accepted"\n')
    labels = load_config(path, environ={}).github.stage_labels
    assert labels["accepted"] == "SPEC: accepted"
    assert labels["draft"] == "spec-draft"


def test_secrets_come_from_the_environment_and_are_masked(config_file, run_cli) -> None:
    path = config_file()
    env = {"FORUMSYNC_GITHUB_TOKEN": "ghp_supersecretvalue123456",
           "FORUMSYNC_DISCOURSE_API_KEY": "discourse-secret-key-value"}
    config = load_config(path, environ=env)
    assert config.github.token == "ghp_supersecretvalue123456"
    assert "supersecret" not in repr(config)
    result = run_cli("--config", str(path), "config", "check", env=env)
    assert result.exit_code == 0
    assert "supersecret" not in result.output and "discourse-secret" not in result.output
    assert 'token = "(set)"' in result.output


def test_path_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert resolve_path(None) is None  # no file anywhere: built-in defaults
    (tmp_path / "forumsync.toml").write_text("")
    assert resolve_path(None) == Path("forumsync.toml")
    monkeypatch.setenv("FORUMSYNC_CONFIG", "/etc/env.toml")
    assert resolve_path(None) == Path("/etc/env.toml")
    assert resolve_path("given.toml") == Path("given.toml")


def test_bad_config_leaves_no_database(config_file, run_cli, tmp_path: Path) -> None:
    path = config_file("[digest]\nstalled_after_days = 0")
    result = run_cli("--config", str(path), "status")
    assert result.exit_code == 2
    assert not (tmp_path / "forumsync.db").exists()
