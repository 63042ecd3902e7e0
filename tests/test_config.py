"""Configuration: TOML tables, OPENLINES_* overrides, validation messages, the demo merge."""

from __future__ import annotations

from pathlib import Path

import pytest

from openlines import config
from openlines.config import ConfigError
from openlines.demo import DEMO_WEBHOOK_CODE, merge_demo


def test_defaults() -> None:
    cfg = config.from_dict({}, env={})
    assert (cfg.server.host, cfg.server.port, cfg.server.db) == ("127.0.0.1", 8024, "openlines.db")
    assert cfg.server.require_https is False and cfg.server.body_limit == 10 * 1024 * 1024


def test_environment_overrides_the_file() -> None:
    raw = {"server": {"port": 9000, "require_https": False, "db": "a.db"}}
    env = {
        "OPENLINES_PORT": "9100",
        "OPENLINES_REQUIRE_HTTPS": "yes",
        "OPENLINES_DB": ":memory:",
        "OTHER": "x",
    }
    cfg = config.from_dict(raw, env=env)
    assert (cfg.server.port, cfg.server.require_https, cfg.server.db) == (9100, True, ":memory:")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"OPENLINES_PORT": "eighty"}, "OPENLINES_PORT: must be a whole number, not 'eighty'"),
        ({"OPENLINES_REQUIRE_HTTPS": "maybe"}, "OPENLINES_REQUIRE_HTTPS: must be true or false, not 'maybe'"),
        ({"OPENLINES_BODY_LIMIT": "10"}, "server.body_limit: must be at least 1024 bytes"),
        ({"OPENLINES_TIMEZONE": "Mars/Base"}, "server.timezone: not a UTC offset"),
        ({"OPENLINES_SQLITE_SYNCHRONOUS": "off"}, 'server.sqlite_synchronous: must be "normal" or "full"'),
    ],
)
def test_bad_environment_values(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config.from_dict({}, env=env)
    assert any(p.startswith(message) for p in caught.value.problems), caught.value.problems


def test_every_problem_is_reported_at_once() -> None:
    raw = {
        "users": [{"id": 1}, {"id": 1, "gender": "X"}],
        "webhooks": [{"user": 1, "code": "ok_code", "scopes": "user, imbot"}, {"user": 1}],
        "apps": [{"client_id": "a", "client_secret": "s", "scopes": ["user"], "install_user": 5}],
    }
    with pytest.raises(ConfigError) as caught:
        config.from_dict(raw, "f.toml", env={})
    problems = caught.value.problems
    assert 'users[1].gender: must be "M", "F" or empty' in problems
    assert "users: id 1 appears more than once" in problems
    assert "webhooks[1].code: is required" in problems
    assert "webhooks[1].scopes: is required" in problems
    assert "apps[0].install_user: user 5 is not in [[users]]" in problems
    assert str(caught.value).startswith("f.toml: ")


def test_scopes_may_be_a_comma_string() -> None:
    raw = {"users": [{"id": 1}], "webhooks": [{"user": 1, "code": "c", "scopes": "user, imbot,user"}]}
    assert config.from_dict(raw, env={}).webhooks[0].scopes == ["user", "imbot"]


def test_line_settings_are_kept_upper_cased() -> None:
    raw = {"users": [{"id": 2}], "lines": [{"id": 1, "queue": [2], "welcome_message": "Hi", "crm": False}]}
    line = config.from_dict(raw, env={}).lines[0]
    assert line.settings == {"WELCOME_MESSAGE": "Hi", "CRM": False}


def test_read_toml_errors(tmp_path: Path) -> None:
    cases = {
        tmp_path / "missing.toml": "file not found",
        tmp_path: "is a directory, not a TOML file",
    }
    latin = tmp_path / "latin.toml"
    latin.write_bytes('name = "caf\xe9"'.encode("latin-1"))
    cases[latin] = "is not UTF-8 text"
    for path, problem in cases.items():
        with pytest.raises(ConfigError) as caught:
            config.read_toml(path)
        assert caught.value.problems == [problem]


def test_demo_merge_lets_the_file_refer_to_demo_users() -> None:
    raw = {"webhooks": [{"user": 2, "code": "mine", "scopes": ["user"]}], "users": [{"id": 1, "name": "Me"}]}
    cfg = config.from_dict(merge_demo(raw), env={})
    assert {u.id for u in cfg.users} == {1, 2, 3, 4, 5}
    assert next(u for u in cfg.users if u.id == 1).name == "Me"  # the file wins on id clashes
    assert {h.code for h in cfg.webhooks} == {"mine", DEMO_WEBHOOK_CODE}
