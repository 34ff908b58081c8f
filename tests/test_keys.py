"""Secrets outside the store: the key file, derived keys, TOTP secrets encrypted at rest, enrolment values."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest

from simulator import accounts, services
from simulator.bootstrap import create_app
from simulator.config import ServerConfig
from simulator.keys import SecretKeyError, ServerKeys, is_encrypted, load_or_create, server_keys
from simulator.store.sqlite import SQLiteStore
from tests.conftest import ADMIN, PRACTITIONER, Server


def test_a_missing_key_file_is_made_in_the_config_folder_not_next_to_the_database(
        tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 15: a key next to the database went into every backup of the data folder with it."""
    monkeypatch.chdir(tmp_path)  # no old sessionsim-secret.key of the folder the tests were started in
    config_home = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config_home))
    data = tmp_path / "data"
    data.mkdir()
    db = data / "clinic.db"
    first = server_keys(secret_key=None, secret_key_file=None, store_url=f"sqlite:{db}")
    assert "Generated a new secret key in" in capsys.readouterr().out
    assert list(data.iterdir()) == [], "nothing next to the database"
    key_file = config_home / "sessionsim" / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700
    again = server_keys(secret_key=None, secret_key_file=None, store_url=f"sqlite:{db}")
    assert capsys.readouterr().out == "" and again.signing == first.signing
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    server_keys(secret_key=None, secret_key_file=None, store_url="redis://127.0.0.1:1/0")
    assert (tmp_path / "home" / ".config" / "sessionsim" / "secret.key").exists()


def test_a_key_left_next_to_the_database_is_still_read_with_a_warning_telling_how_to_move_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    db = tmp_path / "clinic.db"
    legacy = tmp_path / "clinic.db.key"
    legacy.write_text("L" * 40 + "\n")
    legacy.chmod(0o600)
    with caplog.at_level("WARNING", logger="sessionsim"):
        keys = server_keys(secret_key=None, secret_key_file=None, store_url=f"sqlite:{db}")
    assert keys.signing == ServerKeys.from_secret("L" * 40).signing
    warning = [r.getMessage() for r in caplog.records if "next to the database" in r.getMessage()]
    assert len(warning) == 1 and f"mv {legacy} {tmp_path / 'config' / 'sessionsim' / 'secret.key'}" in warning[0]
    assert not (tmp_path / "config" / "sessionsim" / "secret.key").exists(), "no second key is made"


def test_a_key_file_other_users_can_read_is_refused(tmp_path: Path) -> None:
    key_file = tmp_path / "server.key"
    key_file.write_text("k" * 40 + "\n")
    key_file.chmod(0o644)
    with pytest.raises(SecretKeyError, match=r"other users can read .*chmod 600"):
        server_keys(secret_key=None, secret_key_file=str(key_file), store_url="memory")
    key_file.chmod(0o640)  # a service group may read it
    assert server_keys(secret_key=None, secret_key_file=str(key_file), store_url="memory").signing


def test_the_key_comes_from_the_environment_or_a_named_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("SESSIONSIM_SECRET_KEY", "k" * 40)
    config = ServerConfig(store=f"sqlite:{tmp_path / 'a.db'}")
    app = create_app(config)
    assert app.state.secret_key == ServerKeys.from_secret("k" * 40).signing
    assert not (tmp_path / "a.db.key").exists() and not (tmp_path / "config").exists()
    named = tmp_path / "keys" / "server.key"
    named.parent.mkdir()
    keys = server_keys(secret_key=None, secret_key_file=str(named), store_url="redis://127.0.0.1:1/0")
    assert named.exists() and keys.signing == ServerKeys.from_secret(named.read_text().strip()).signing


def test_bad_keys_are_refused_with_a_message(tmp_path: Path) -> None:
    with pytest.raises(SecretKeyError, match="at least 32 characters"):
        ServerKeys.from_secret("short")
    empty = tmp_path / "empty.key"
    empty.write_text("")
    with pytest.raises(SecretKeyError, match="is empty"):
        load_or_create(empty)
    (tmp_path / "a-file").write_text("")
    with pytest.raises(SecretKeyError, match="cannot create"):
        load_or_create(tmp_path / "a-file" / "x.key")


def test_the_store_holds_no_key_and_no_clear_totp_secret(tmp_path: Path) -> None:
    db = tmp_path / "clinic.db"
    app = create_app(ServerConfig(store=f"sqlite:{db}"))
    deps = app.state.deps
    assert deps.store.get_meta("secret_key") is None
    user = deps.store.find_user(PRACTITIONER[0])
    secret = accounts.new_totp_secret()
    services.set_totp_secret(deps, user_id=user.id, secret=secret)
    stored = SQLiteStore(str(db)).find_user(PRACTITIONER[0]).totp_secret
    assert stored and is_encrypted(stored) and secret not in stored
    assert services.totp_secret(deps, user=deps.store.find_user(PRACTITIONER[0])) == secret
    other = services.Deps(store=deps.store, clock=deps.clock, metrics=deps.metrics)  # another key
    assert services.totp_secret(other, user=deps.store.find_user(PRACTITIONER[0])) is None


def test_secrets_stored_in_the_clear_by_an_older_version_are_encrypted_at_start(tmp_path: Path) -> None:
    db = tmp_path / "clinic.db"
    create_app(ServerConfig(store=f"sqlite:{db}"))
    old = SQLiteStore(str(db))
    user = old.find_user(ADMIN[0])
    old.set_totp_secret(user.id, "JBSWY3DPEHPK3PXP")
    old.close()
    deps = create_app(ServerConfig(store=f"sqlite:{db}")).state.deps
    user = deps.store.find_user(ADMIN[0])
    assert is_encrypted(user.totp_secret) and services.totp_secret(deps, user=user) == "JBSWY3DPEHPK3PXP"


def _start_enrolment(server: Server, admin_web, browser) -> tuple[str, str]:
    client, csrf = admin_web
    client.put("/api/admin/settings", json={"require_2fa": True}, headers={"X-CSRF-Token": csrf})
    page = browser.post("/signin", data={"username": PRACTITIONER[0], "password": PRACTITIONER[1]})
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7]+)<', page.text).group(1)
    return secret, re.search(r'name="pending" value="([^"]+)"', page.text).group(1)


def test_an_enrolment_value_works_only_in_the_browser_it_was_shown_to(server: Server, admin_web) -> None:
    with server.client() as browser, server.client() as thief:
        secret, pending = _start_enrolment(server, admin_web, browser)
        code = accounts.totp_now(secret, at_ms=server.clock.now_ms())
        stolen = thief.post("/signin/enrol", data={"pending": pending, "otp": code})
        assert stolen.status_code == 303 and stolen.headers["location"] == "/signin"
        assert server.deps.store.find_user(PRACTITIONER[0]).totp_secret is None


def test_an_enrolment_value_serves_one_enrolment(server: Server, admin_web) -> None:
    with server.client() as browser:
        secret, pending = _start_enrolment(server, admin_web, browser)
        code = accounts.totp_now(secret, at_ms=server.clock.now_ms())
        cookie = browser.cookies.get("enrol")
        assert browser.post("/signin/enrol", data={"pending": pending, "otp": code}).headers["location"] == "/patients"
        server.advance(seconds=30)
        browser.cookies.set("enrol", cookie, path="/signin/enrol")
        code = accounts.totp_now(secret, at_ms=server.clock.now_ms())
        again = browser.post("/signin/enrol", data={"pending": pending, "otp": code})
        assert again.status_code == 303 and again.headers["location"] == "/signin"


def test_serve_reports_an_unusable_key_file_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from simulator.cli import main

    empty = tmp_path / "empty.key"
    empty.write_text("")
    monkeypatch.setenv("SESSIONSIM_SECRET_KEY_FILE", str(empty))  # serve sets it: restored after the test
    code = main(["serve", "--db", str(tmp_path / "x.db"), "--port", "0", "--secret-key-file", str(empty)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "is empty" in err
