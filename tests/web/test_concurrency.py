"""Concurrent writes on the default database (issue #16): real threads, real SQLite and PostgreSQL.

Each request runs in its own thread with its own connection, as under waitress. On SQLite a
transaction that reads first and writes later cannot upgrade once another connection has
written (SQLITE_BUSY, which the busy timeout does not cover): before market40 took the write
lock up front, most of these requests answered 500.
"""
from __future__ import annotations

import re
import threading
from collections import Counter
from typing import Any, Callable

import pytest
from sqlmodel import Session, select

from market40.models import AuditEvent, PaymentAccount, User
from web import create_app

from webhelpers import PASSWORD, SECRET, sign_in

THREADS = 8


def _together(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(i)`` in ``count`` threads released at the same moment; their results, in order."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = work(index)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return results


@pytest.fixture
def server_app(engine, clock):
    # No app-wide rate limit in the way: these tests are about the database.
    return create_app({"ENGINE": engine, "SECRET_KEY": SECRET, "TESTING": True, "CLOCK": clock, "SECOND_FACTOR_ROLES": "",
                       "RATELIMIT_STORAGE_URI": "memory://", "RATELIMIT_LOGIN": "1000 per minute",
                       "RATELIMIT_LOGIN_ACCOUNT": "1000 per day", "RATELIMIT_ENROL": "1000 per minute"})


def _token(client) -> str:
    page = client.get("/login")
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def _count(engine, action: str) -> int:
    with Session(engine) as session:
        return len(session.exec(select(AuditEvent).where(AuditEvent.action == action)).all())


def test_simultaneous_logins_never_answer_500_and_every_one_is_audited(server_app, world, engine):
    users = ["0912345678", "0987654321", "staff.hl", "staff.cp", "officer.hl", "officer.cp", "admin"]

    def work(index: int) -> tuple[int, int, bool]:
        client = server_app.test_client()
        codes = []
        for round_ in range(2):
            token = _token(client)
            wrong = (index + round_) % 2 == 0
            response = client.post("/login", data={"csrf_token": token, "username": users[index % len(users)],
                                                   "password": "wrong password 1" if wrong else PASSWORD})
            codes.append(response.status_code)
            if response.status_code == 302:
                signed_in = client.get("/password").status_code == 200
                assert signed_in
                client.post("/logout", data={"csrf_token": _token_signed_in(client)})
        return codes

    # one thread per user: a logout ends every session of its user, by design
    results = _together(len(users), work)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors
    codes = Counter(code for r in results for code in r)
    assert set(codes) <= {200, 302}, codes
    assert _count(engine, "auth.login") == codes[302]
    assert _count(engine, "auth.login_failed") == codes[200]
    assert _count(engine, "auth.logout") == codes[302]


class _Signed:
    """What :func:`sign_in` needs of a user, read once (threads must not share the fixture's session)."""

    def __init__(self, user: User) -> None:
        self.id, self.session_epoch, self.stall_id = user.id, user.session_epoch, user.stall_id


def _token_signed_in(client) -> str:
    page = client.get("/password")
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def test_simultaneous_account_registrations_of_one_stall_answer_with_the_form(server_app, world, engine):
    """20 registrations of the same stall's account at once: no 500, one current account, history whole."""
    owner = _Signed(world.user("owner_a"))
    numbers = [f"00110123456{i:02d}" for i in range(20)]

    def work(index: int) -> int:
        client = server_app.test_client()
        sign_in(client, owner)
        token = _token_signed_in(client)
        response = client.post("/owner/account", data={
            "csrf_token": token, "bank": "970436", "number": numbers[index], "holder_name": "Nguyen Thi Lan",
            "kind": "", "reference_label": "", "action": "submit", "consent": "yes"})
        return response.status_code

    results = _together(20, work)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors
    assert set(results) <= {200, 302}, Counter(results)
    with Session(engine) as session:
        stall_id = owner.stall_id
        rows = session.exec(select(PaymentAccount).where(PaymentAccount.stall_id == stall_id)).all()
        current = [a for a in rows if a.status in ("pending", "verified")]
        assert len(current) == 1
        registered = session.exec(select(AuditEvent).where(AuditEvent.action == "account.register")).all()
        # one audit event per account row of this stall (the world registered one for each of its 2 stalls)
        assert len(registered) - 1 == len(rows) == 1 + results.count(302)


def test_simultaneous_audited_reads_and_writes_never_answer_500(server_app, world, engine):
    """Staff reveal numbers (a write: the audit event) while owners log in and out."""
    staff = _Signed(world.user("staff_hl"))

    def work(index: int) -> list[int]:
        client = server_app.test_client()
        codes = []
        if index % 2:
            sign_in(client, staff)
            for _ in range(5):
                token = _token_signed_in(client)
                codes.append(client.post("/staff/stall/HL1/A-12", data={"csrf_token": token,
                                                                          "action": "reveal"}).status_code)
                codes.append(client.get("/owner/").status_code)  # 403 for staff: audited too
        else:
            for _ in range(3):
                client = server_app.test_client()
                token = _token(client)
                codes.append(client.post("/login", data={"csrf_token": token, "username": "0912345678",
                                                         "password": PASSWORD}).status_code)
        return codes

    results = _together(THREADS, work)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors
    codes = Counter(code for r in results for code in r)
    assert set(codes) <= {200, 302, 403}, codes
    assert _count(engine, "account.reveal") == sum(1 for r in results[1::2] for c in r[0::2] if c == 200)
    assert _count(engine, "access.denied") == codes[403]


def test_simultaneous_enrolments_with_one_phone_answer_with_the_form(server_app, world, engine):
    """Four stalls enrol the same phone at the same moment: one gets in, the others see the form
    with a message about the phone (PostgreSQL: a unique violation, unhandled before)."""
    from market40.services.registry import Actor, Registry
    with Session(engine) as session:
        registry = Registry(session, Actor.operator("tests"))
        codes = {}
        for i in range(4):
            registry.save_stall("HL1", code=f"C-{i}", owner_name=f"Chủ Sạp {i}")
            slip = registry.issue_enrollment_codes(key=SECRET, stall=f"HL1/C-{i}")[0]
            codes[i] = slip.code
        session.commit()

    def work(index: int) -> tuple[int, str]:
        client = server_app.test_client()
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/enrol").text).group(1)
        response = client.post("/enrol", data={
            "csrf_token": token, "market": "HL1", "stall": f"C-{index}", "code": codes[index],
            "phone": "0933333333", "password": "một mật khẩu đủ dài 2025", "password2": "một mật khẩu đủ dài 2025",
            "consent": "yes"})
        return response.status_code, response.text

    results = _together(4, work)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors
    statuses = Counter(status for status, _ in results)
    assert statuses == Counter({302: 1, 200: 3}), statuses
    assert all("Số điện thoại này đã dùng" in text for status, text in results if status == 200)
    with Session(engine) as session:
        assert len(session.exec(select(User).where(User.username == "0933333333")).all()) == 1
