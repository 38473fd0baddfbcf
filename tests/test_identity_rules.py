"""One username rule and one new-password rule for every door (issues #14 and #16).

* ``market40 user add "0912.345.678"`` makes a user who can log in (the registry and the login
  use the same ``clean_username``);
* the password rule refuses the top common passwords from a shipped list with its source, for the
  CLI exactly as for the web forms (the same Vietnamese sentence);
* the optional breached-password check speaks the range protocol (tested against a fake range
  server on 127.0.0.1, never the internet) and is off by default.
"""
from __future__ import annotations

import gzip
import hashlib
import re
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from click.testing import CliRunner
from sqlmodel import Session, select

import cli
from market40 import accounts, breached, passwords
from market40.exceptions import ValidationError
from market40.models import User

COMMON_SHA256 = "3c1baed62596de36860824eb3f436d5932d37ca8b06e59df78f5a44ec175afe4"


# ------------------------------------------------------------------ usernames

@pytest.mark.parametrize("typed", ["0912.345.678", "+84 912 345 678", " 0912-345-678 ", "84912345678"])
def test_phone_usernames_have_one_form(typed):
    assert accounts.clean_username(typed) == "0912345678"


@pytest.mark.parametrize("typed", ["", "   ", "two words", "x" * 65, "nv\u202ehl", "nv\x1bhl", "nv\u200bhl"])
def test_bad_usernames_are_refused_naming_the_field(typed):
    with pytest.raises(ValidationError) as caught:
        accounts.clean_username(typed)
    assert caught.value.field == "username"


# ------------------------------------------------------------------ passwords

def test_the_common_password_list_is_the_shipped_copy_with_its_source():
    data = passwords.COMMON_PASSWORDS_FILE.read_bytes()
    assert hashlib.sha256(data).hexdigest() == COMMON_SHA256
    listed = gzip.decompress(data).decode().split()
    assert len(listed) >= 3000
    readme = (passwords.COMMON_PASSWORDS_FILE.parent / "README.md").read_text(encoding="utf-8")
    assert COMMON_SHA256 in readme and "BSD" in readme and "Django" in readme


@pytest.mark.parametrize("password", ["123456789a", "qwertyuiop", "admin1234", "password1", "iloveyou",
                                      "matkhau123", "Qwertyuiop", " 12345678a "])
def test_common_passwords_are_refused(password):
    with pytest.raises(passwords.PasswordRefused) as caught:
        passwords.check_new_password(password)
    assert caught.value.reason == "common"


def test_the_top_3000_long_enough_passwords_are_all_refused():
    listed = gzip.decompress(passwords.COMMON_PASSWORDS_FILE.read_bytes()).decode().split()
    for password in [p for p in listed[:3000] if len(p) >= passwords.MIN_NEW_PASSWORD]:
        with pytest.raises(passwords.PasswordRefused):
            passwords.check_new_password(password)


def _run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MARKET40_SECRET_KEY", "test-secret-key-of-enough-length")
    monkeypatch.delenv("MARKET40_DATABASE_URL", raising=False)
    monkeypatch.delenv(breached.ENV, raising=False)
    runner = CliRunner()
    db = str(tmp_path / "registry.db")

    def invoke(*args):
        return runner.invoke(cli.main, ["--db", db, *map(str, args)], catch_exceptions=False)
    assert invoke("db", "init").exit_code == 0
    return invoke, db


@pytest.mark.parametrize("password,reason", [("12345678", "common"), ("admin1234", "common"),
                                             ("short", "short"), ("staff.weak", "personal")])
def test_the_cli_refuses_weak_passwords_with_the_web_forms_sentence(tmp_path, monkeypatch, password, reason):
    run, _ = _run(tmp_path, monkeypatch)
    result = run("user", "add", "staff.weak", "--role", "staff", "--password", password)
    assert result.exit_code == 1
    vietnamese, english = passwords.PASSWORD_RULES[reason]
    assert vietnamese in result.output and english in result.output
    # The web form shows the very same Vietnamese sentence for the same rule.
    from market40.services.auth import check_new_password
    from web import create_app
    from web.messages import message_for
    app = create_app({"SECRET_KEY": "x" * 32, "DATABASE_URL": str(tmp_path / "registry.db")})
    with pytest.raises(ValidationError) as caught:
        check_new_password(password, username="staff.weak")
    with app.test_request_context("/"):
        assert message_for(caught.value) == vietnamese


def test_a_cli_user_with_a_dotted_phone_can_log_in_on_the_web(tmp_path, monkeypatch):
    run, db = _run(tmp_path, monkeypatch)
    result = run("user", "add", "0912.345.678", "--role", "staff", "--password", "một mật khẩu đủ dài")
    assert result.exit_code == 0, result.output
    assert "0912345678" in result.output
    from web import create_app
    app = create_app({"SECRET_KEY": "x" * 32, "DATABASE_URL": db, "SECOND_FACTOR_ROLES": ""})
    for typed in ("0912.345.678", "+84 912 345 678", "0912345678"):
        client = app.test_client()  # a new browser each time
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
        response = client.post("/login", data={"csrf_token": token, "username": typed,
                                               "password": "một mật khẩu đủ dài"})
        assert response.status_code == 302, typed
    app.extensions["market40.engine"].dispose()


# ------------------------------------------------------------------ breached passwords (range API)

class _RangeServer:
    """A fake range API on 127.0.0.1 that knows one breached password."""

    def __init__(self, breached_password: str) -> None:
        digest = hashlib.sha1(breached_password.encode()).hexdigest().upper()
        self.prefix, self.suffix = digest[:5], digest[5:]
        self.paths: list[str] = []
        self.headers: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                outer.paths.append(self.path)
                outer.headers.append(dict(self.headers))
                lines = ["0" * 35 + ":0"]  # padding rows have a count of 0
                if self.path == f"/range/{outer.prefix}":
                    lines.append(f"{outer.suffix}:42")
                body = "\r\n".join(lines).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def test_the_breach_check_is_off_by_default(monkeypatch):
    monkeypatch.delenv(breached.ENV, raising=False)
    breached.configure_from_env()
    assert breached.current() is None


def test_the_breach_check_sends_only_a_hash_prefix_and_refuses_a_breached_password():
    with _RangeServer("Chợ Hạ Long leaked 2024") as server:
        breached.configure(server.url)
        try:
            with pytest.raises(passwords.PasswordRefused) as caught:
                from market40.services.auth import check_new_password
                check_new_password("Chợ Hạ Long leaked 2024")
            assert caught.value.reason == "breached"
            check_new_password("Chợ Hạ Long never leaked 2026")  # another prefix, or no matching suffix
        finally:
            breached.configure(None)
    assert all(len(p) == len("/range/ABCDE") for p in server.paths)
    assert all(h.get("Add-Padding") == "true" for h in server.headers)


def test_a_breach_service_that_is_down_does_not_block_passwords(caplog):
    client = breached.RangeClient("http://127.0.0.1:9", timeout=0.5)
    assert client("any password at all") is False
    assert "unavailable" in caplog.text


def test_the_cli_uses_the_breach_check_when_the_deployment_turns_it_on(tmp_path, monkeypatch):
    run, db = _run(tmp_path, monkeypatch)
    with _RangeServer("một mật khẩu bị lộ") as server:
        monkeypatch.setenv(breached.ENV, server.url)
        try:
            result = run("user", "add", "nv.lo", "--role", "staff", "--password", "một mật khẩu bị lộ")
            assert result.exit_code == 1 and passwords.PASSWORD_RULES["breached"][0] in result.output
            assert run("user", "add", "nv.ok", "--role", "staff", "--password", "một mật khẩu chưa lộ").exit_code == 0
        finally:
            breached.configure(None)
    from market40 import db as registry_db
    engine = registry_db.make_engine(db)
    with Session(engine) as session:
        assert [u.username for u in session.exec(select(User)).all()] == ["nv.ok"]
    engine.dispose()
