"""Helpers for the web tests: a small two-market world, signed-in clients, CSRF tokens, a clock.

The world (committed, on both backends through ``engine``):

* localities ``L-HL`` (Hạ Long) and ``L-CP`` (Cẩm Phả);
* markets ``HL1`` (in L-HL) and ``CP1`` (in L-CP), stalls ``HL1/A-12`` and ``CP1/B-1``, each with
  a pending account;
* users: ``owner_a`` (0912345678, stall HL1/A-12), ``owner_b`` (0987654321, stall CP1/B-1),
  ``staff_hl`` (market HL1), ``staff_cp`` (market CP1), ``officer_hl`` (locality L-HL),
  ``officer_cp`` (locality L-CP), ``admin``; every password is :data:`PASSWORD`, hashed with
  cheap scrypt parameters (the first real login re-hashes it with the production ones).

Time is the app's ``CLOCK``: the :class:`Clock` fixture moves it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlmodel import Session, select

from market40 import passwords
from market40.models import Locality, User, UserScope
from market40.services.registry import Actor, Registry

SECRET = "web tests: a deployment secret of at least 32 bytes"
PASSWORD = "chợ bốn chấm không 2025"
FAST = {"n": 2**10, "r": 8, "p": 1}
ACCOUNT_A = "0011012345678"   # Vietcombank, stall HL1/A-12
ACCOUNT_B = "1023456789"      # VietinBank, stall CP1/B-1


class Clock:
    """A settable clock (seconds since the epoch) for session timeouts."""

    def __init__(self, start: float = 1_900_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class World:
    users: dict[str, User]
    refs: dict[str, str]

    def user(self, name: str) -> User:
        return self.users[name]


def _user(session: Session, username: str, role: str, **fields: Any) -> User:
    user = User(username=username, display_name=username, role=role,
                password_hash=passwords.hash_password(PASSWORD, **FAST), **fields)
    session.add(user)
    session.flush()
    return user


def build_world(session: Session) -> World:
    registry = Registry(session, Actor.operator("tests"))
    for code, name in (("L-HL", "Phường Hạ Long"), ("L-CP", "Phường Cẩm Phả")):
        registry.add_locality(code=code, name=name, kind="commune", unit_type="phường", province="Quảng Ninh",
                              valid_from=date(2025, 7, 1))
    registry.save_market(code="HL1", name="Chợ Hạ Long I", tier="I", locality="L-HL")
    registry.save_market(code="CP1", name="Chợ Cẩm Phả", tier="I", locality="L-CP")
    a, _ = registry.save_stall("HL1", code="A-12", shop_name="Hải sản Cô Lan", owner_name="Nguyễn Thị Lan",
                               owner_phone="0912345678")
    b, _ = registry.save_stall("CP1", code="B-1", shop_name="Rau sạch Bình", owner_name="Trần Văn Bình",
                               owner_phone="0987654321")
    registry.register_account("HL1/A-12", bank="vietcombank", number=ACCOUNT_A, holder_name="Nguyễn Thị Lan")
    registry.register_account("CP1/B-1", bank="vietinbank", number=ACCOUNT_B, holder_name="Trần Văn Bình")
    users = {
        "owner_a": _user(session, "0912345678", "owner", phone="0912345678", stall_id=a.id),
        "owner_b": _user(session, "0987654321", "owner", phone="0987654321", stall_id=b.id),
        "staff_hl": _user(session, "staff.hl", "staff"),
        "staff_cp": _user(session, "staff.cp", "staff"),
        "officer_hl": _user(session, "officer.hl", "officer"),
        "officer_cp": _user(session, "officer.cp", "officer"),
        "admin": _user(session, "admin", "admin"),
        "board_hl": _user(session, "board.hl", "board"),
    }
    hl, cp = registry.market("HL1"), registry.market("CP1")
    session.add(UserScope(user_id=users["staff_hl"].id, market_id=hl.id))
    session.add(UserScope(user_id=users["staff_cp"].id, market_id=cp.id))
    session.add(UserScope(user_id=users["board_hl"].id, market_id=hl.id))
    for name, code in (("officer_hl", "L-HL"), ("officer_cp", "L-CP")):
        locality = session.exec(select(Locality).where(Locality.code == code)).one()
        session.add(UserScope(user_id=users[name].id, locality_id=locality.id))
    session.commit()
    return World(users, {"owner_a": "HL1/A-12", "owner_b": "CP1/B-1"})


def sign_in(client: Any, user: User, clock: Clock | None = None) -> None:
    """A session for ``user`` as the login view would open it (without the scrypt cost)."""
    now = int(clock() if clock else client.application.config["CLOCK"]())
    with client.session_transaction() as session:
        session.clear()
        session.permanent = True
        session.update({"uid": user.id, "epoch": user.session_epoch, "iat": now, "seen": now})


def csrf_token(client: Any, path: str = "/privacy") -> str:
    """The CSRF token of the client's session (from a page's form)."""
    page = client.get(path)
    if "csrf_token" not in page.text:  # a public page shows no form when signed out
        page = client.get("/login")
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, f"no CSRF token on {path}"
    return found.group(1)


def post(client: Any, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    """POST a form with the session's CSRF token."""
    token = csrf_token(client)
    return client.post(path, data={"csrf_token": token, **(data or {})}, **kwargs)


def session_cookie(client: Any) -> str | None:
    for name in ("market40", "__Host-market40"):
        cookie = client.get_cookie(name)
        if cookie is not None:
            return cookie.value
    return None


def audit_events(engine: Any, action: str | None = None) -> list[Any]:
    """The audit trail as the database has it now (a new session: the test's own may hold a snapshot)."""
    from market40.models import AuditEvent
    with Session(engine) as fresh:
        query = select(AuditEvent).order_by(AuditEvent.id)
        if action:
            query = query.where(AuditEvent.action == action)
        return list(fresh.exec(query).all())


def fetch(engine: Any, model: Any, *where: Any) -> list[Any]:
    """Rows of ``model`` as the database has them now."""
    with Session(engine) as fresh:
        return list(fresh.exec(select(model).where(*where)).all())


def driver_statements(monkeypatch: Any) -> list[str]:
    """Records the first word of every statement run on the driver (``web.db.driver_cursor``), from now on."""
    from contextlib import contextmanager

    import web.db
    seen: list[str] = []
    original = web.db.driver_cursor

    class Recording:
        def __init__(self, cursor: Any) -> None:
            self._cursor = cursor

        def execute(self, sql: str, *args: Any) -> Any:
            seen.append(sql.lstrip().split(None, 1)[0].upper())
            return self._cursor.execute(sql, *args)

        def __getattr__(self, name: str) -> Any:
            return getattr(self._cursor, name)

    @contextmanager
    def recording() -> Any:
        with original() as (cursor, dialect):
            yield Recording(cursor), dialect

    monkeypatch.setattr(web.db, "driver_cursor", recording)
    return seen
