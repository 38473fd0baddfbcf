"""One owner login per stall, and no serving of an outdated schema (issue #16)."""
from __future__ import annotations

import logging
import re

import pytest
from click.testing import CliRunner
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

import cli
from market40 import db, passwords
from market40.models import AuditEvent, User
from market40.services.registry import Actor, OwnerExists, Registry
from web import create_app

from webhelpers import SECRET, csrf_token, sign_in


def test_the_registry_refuses_a_second_owner_login_for_a_stall(session, world):
    registry = Registry(session, Actor.operator("tests"))
    with pytest.raises(OwnerExists, match="one owner login per stall"):
        registry.add_user("0911111111", "owner", phone="0911111111", stall="HL1/A-12")
    session.rollback()
    # another stall, or a staff login, is fine
    registry.add_user("staff.extra", "staff", password="a long enough password", markets=["HL1"])


def test_the_database_refuses_a_second_owner_login_too(engine, world):
    """Even a write that skips the registry (or two admins at once) cannot attach a second owner."""
    with Session(engine) as session:
        stall_id = session.exec(select(User).where(User.username == "0912345678")).one().stall_id
        session.add(User(username="0911111111", display_name="x", role="owner", stall_id=stall_id,
                         password_hash=passwords.hash_password("whatever 1234", n=2**10, r=8, p=1)))
        with pytest.raises(IntegrityError):
            session.commit()


def test_the_admin_page_refuses_a_second_owner_with_a_message(client, world, engine):
    sign_in(client, world.user("admin"))
    token = csrf_token(client, "/admin/users/new")
    response = client.post("/admin/users/new", data={"csrf_token": token, "username": "0911111111", "role": "owner",
                                                     "phone": "0911111111", "stall": "HL1/A-12"})
    assert response.status_code == 200
    assert "mỗi sạp một tài khoản" in response.text
    with Session(engine) as session:
        assert session.exec(select(User).where(User.username == "0911111111")).first() is None


def test_the_cli_refuses_a_second_owner_with_one_line(tmp_path, monkeypatch, demo_copy, demo_secret):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MARKET40_SECRET_KEY", demo_secret)
    runner = CliRunner()
    path = str(demo_copy)  # ``market40 demo --no-walkthrough``, built once per run
    first = runner.invoke(cli.main, ["--db", path, "user", "add", "0911111111", "--role", "owner",
                                     "--stall", "HL1/A-1"])
    second = runner.invoke(cli.main, ["--db", path, "user", "add", "0911111112", "--role", "owner",
                                      "--stall", "HL1/A-1"])
    assert second.exit_code == 1 and "one owner login per stall" in second.output, (first.output, second.output)
    assert "Traceback" not in second.output


def test_migration_0006_keeps_the_first_owner_and_disables_the_others(tmp_path):
    url = str(tmp_path / "old.db")
    db.upgrade(url, "0002")
    engine = db.make_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql("INSERT INTO locality (code, name, kind, unit_type, province, valid_from) "
                                   "VALUES ('L', 'L', 'commune', 'phường', 'QN', '2025-07-01')")
        connection.exec_driver_sql("INSERT INTO market (code, name, is_central, locality_id, created_at, updated_at) "
                                   "VALUES ('M', 'Chợ', 0, 1, '2025-07-01', '2025-07-01')")
        connection.exec_driver_sql("INSERT INTO stall (market_id, code, owner_name, status, created_at, updated_at) "
                                   "VALUES (1, 'A-1', 'Lan', 'operating', '2025-07-01', '2025-07-01')")
        for name in ("0911111111", "0911111112"):
            connection.exec_driver_sql(
                "INSERT INTO app_user (username, display_name, role, is_active, stall_id, session_epoch, created_at) "
                f"VALUES ('{name}', 'x', 'owner', 1, 1, 0, '2025-07-01')")
    engine.dispose()
    db.upgrade(url)
    engine = db.make_engine(url)
    with Session(engine) as session:
        users = {u.username: u for u in session.exec(select(User)).all()}
        assert users["0911111111"].stall_id == 1 and users["0911111111"].is_active
        assert users["0911111112"].stall_id is None and not users["0911111112"].is_active
        events = session.exec(select(AuditEvent).where(AuditEvent.actor == "migration:0006")).all()
        assert len(events) == 1 and "keeps user" in events[0].note
    engine.dispose()


def test_the_web_app_refuses_to_serve_an_outdated_schema(tmp_path, caplog):
    url = str(tmp_path / "old.db")
    db.upgrade(url, "0002")
    engine = db.make_engine(url)
    try:
        app = create_app({"ENGINE": engine, "SECRET_KEY": SECRET, "TESTING": True, "SECOND_FACTOR_ROLES": ""})
        client = app.test_client()
        with caplog.at_level(logging.ERROR, logger="market40.web"):
            for path in ("/login", "/staff/", "/enrol"):
                page = client.get(path)
                assert page.status_code == 503 and "market40 db upgrade" in page.text
        logged = [r.getMessage() for r in caplog.records if "db upgrade" in r.getMessage()]
        assert len(logged) == 1 and "0002" in logged[0]
        db.upgrade(url)  # once upgraded, the same running app serves
        assert client.get("/login").status_code == 200
    finally:
        engine.dispose()


def test_a_failed_commit_leaves_no_half_done_login(app, client, world, engine, monkeypatch):
    """The commit of a login fails (the database busy past its timeout): a 503 page, no session cookie,
    and the next request is still signed out."""
    from sqlalchemy.exc import OperationalError
    from sqlmodel import Session as SQLSession

    original = SQLSession.commit

    def failing(self):
        raise OperationalError("COMMIT", None, Exception("database is locked"))

    token = csrf_token(client, "/login")
    monkeypatch.setattr(SQLSession, "commit", failing)
    response = client.post("/login", data={"csrf_token": token, "username": "staff.hl",
                                           "password": "chợ bốn chấm không 2025"})
    monkeypatch.setattr(SQLSession, "commit", original)
    assert response.status_code == 503 and "Retry-After" in response.headers
    assert not any(h.startswith("market40=") and "uid" in h for h in response.headers.getlist("Set-Cookie"))
    assert client.get("/staff/").status_code == 302  # still signed out


class _DriverError(Exception):
    """Shaped like psycopg's: the DETAIL line carries the duplicate key's value."""

    sqlstate = "23505"


@pytest.mark.parametrize("kind", ["IntegrityError", "DataError"])
def test_database_errors_reach_the_log_without_the_data(engine, world, caplog, monkeypatch, kind):
    """An unexpected database error: the page says nothing, the log keeps the traceback but no value."""
    from sqlalchemy import exc
    from market40.services.registry import Registry

    secret = "0912345678 NGUYEN THI BI MAT"
    driver = _DriverError(f'duplicate key value violates unique constraint "uq_x"\nDETAIL:  Key (x)=({secret}) '
                          "already exists.")

    def boom(self, *args, **kwargs):
        raise getattr(exc, kind)("INSERT INTO x VALUES (%(x)s)", {"x": secret}, driver, hide_parameters=True)

    monkeypatch.setattr(Registry, "verify_account", boom)
    app = create_app({"ENGINE": engine, "SECRET_KEY": SECRET, "TESTING": False, "SECOND_FACTOR_ROLES": ""})
    client = app.test_client()
    sign_in(client, world.user("staff_hl"))
    token = csrf_token(client, "/password")
    with caplog.at_level(logging.WARNING):
        response = client.post("/staff/stall/HL1/A-12", data={"csrf_token": token, "action": "verify"})
    assert response.status_code == (409 if kind == "IntegrityError" else 500)
    assert secret not in response.text
    logged = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert logged and secret not in logged and "0912345678" not in logged
