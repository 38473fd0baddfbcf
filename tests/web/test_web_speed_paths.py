"""The owner's pages on their fast path keep their guarantees (issue #15): one query for the
signed-in owner's page, no commit on a read-only view while audited reads are still kept,
one CSRF token per session, a QR image per owner drawn from the fast matrix."""
from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import event

from market40 import qrimage
from market40.models import PaymentAccount

from webhelpers import ACCOUNT_A, audit_events, driver_statements, fetch, post, sign_in


def _statements(engine):
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement.lstrip().split(None, 1)[0].upper())

    event.listen(engine, "before_cursor_execute", record)
    return seen, lambda: event.remove(engine, "before_cursor_execute", record)


def _commits(engine):
    count = []
    listener = lambda conn: count.append(1)  # noqa: E731
    event.listen(engine, "commit", listener)
    return count, lambda: event.remove(engine, "commit", listener)


def _owner_get(client, world, engine, monkeypatch, path):
    """The owner's second GET of ``path`` (the first warms first-use caches): (response, driver
    statements, ORM statements, commits)."""
    sign_in(client, world.user("owner_a"))
    client.get(path)
    driver = driver_statements(monkeypatch)
    statements, stop = _statements(engine)
    commits, stop_commits = _commits(engine)
    try:
        response = client.get(path)
    finally:
        stop()
        stop_commits()
    return response, driver, statements, commits


def test_the_status_page_reads_the_owner_once_and_commits_nothing(client, world, engine, monkeypatch):
    page, driver, statements, commits = _owner_get(client, world, engine, monkeypatch, "/owner/")
    assert page.status_code == 200 and "Hải sản Cô Lan" in page.text
    # the owner, stall, market and accounts in one statement; the notices and the erasure state beside it,
    # both on the driver: no ORM session, no transaction, no commit
    assert driver == ["SELECT", "SELECT"], driver
    assert statements == [] and commits == []


def test_the_qr_image_reads_the_owner_once_on_the_driver(client, world, engine, monkeypatch):
    from sqlmodel import Session

    from market40.services.registry import Actor, Registry
    with Session(engine) as session:
        Registry(session, Actor.operator("tests")).verify_account("HL1/A-12")
        session.commit()
    image, driver, statements, commits = _owner_get(client, world, engine, monkeypatch, "/owner/qr.png")
    assert image.status_code == 200 and qrimage.read(io.BytesIO(image.data))
    assert driver == ["SELECT"] and statements == [] and commits == []


def test_a_read_that_is_audited_is_still_committed(client, world, engine):
    sign_in(client, world.user("owner_a"))
    assert client.get("/owner/poster").status_code == 200
    assert [e.action for e in audit_events(engine, "account.reveal")] == ["account.reveal"]


def test_a_refused_page_is_still_audited(client, world, engine):
    sign_in(client, world.user("owner_a"))
    assert client.get("/staff/").status_code == 403
    assert [e.action for e in audit_events(engine, "access.denied")] == ["access.denied"]  # kept


def test_one_csrf_token_per_session_and_it_still_protects(client, app, world, monkeypatch):
    sign_in(client, world.user("owner_a"))
    client.get("/owner/")  # the session's raw token is made on the first form page
    import itertools
    import time

    import flask_wtf.csrf
    from itsdangerous import TimestampSigner, URLSafeTimedSerializer
    ticks = itertools.count(int(time.time()) - 3000, 7)  # each CSRF signature another second: a new one would differ

    class Moving(TimestampSigner):
        def get_timestamp(self):
            return next(ticks)

    class Serializer(URLSafeTimedSerializer):
        default_signer = Moving

    monkeypatch.setattr(flask_wtf.csrf, "URLSafeTimedSerializer", Serializer)
    pages = [client.get(path) for path in ("/owner/", "/owner/", "/owner/account", "/owner/")]
    assert [page.status_code for page in pages] == [200] * 4
    tokens = {re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1) for page in pages}
    # the template's csrf_token() is the per-session cached one (Flask-WTF's context processor, which signs
    # on every render, is overridden): the same token on every page of the session
    assert len(tokens) == 1
    other = app.test_client()
    sign_in(other, world.user("owner_b"))
    assert re.search(r'name="csrf_token" value="([^"]+)"', other.get("/owner/").text).group(1) not in tokens
    # the cached token is accepted, another session's is refused
    token = sorted(tokens)[0]
    assert other.post("/logout", data={"csrf_token": token}).status_code == 400
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302


def test_each_owner_gets_their_own_qr_image(client, app, world, engine):
    from sqlmodel import Session

    from market40.services.registry import Actor, Registry
    with Session(engine) as session:  # a QR is shown once verified, never while waiting
        for ref in ("HL1/A-12", "CP1/B-1"):
            Registry(session, Actor.operator("tests")).verify_account(ref)
        session.commit()
    sign_in(client, world.user("owner_a"))
    first = client.get("/owner/qr.png")
    other = app.test_client()
    sign_in(other, world.user("owner_b"))
    second = other.get("/owner/qr.png")
    [account] = fetch(engine, PaymentAccount, PaymentAccount.number == ACCOUNT_A)
    assert qrimage.read(io.BytesIO(first.data)) == [account.payload]
    assert qrimage.read(io.BytesIO(second.data)) != [account.payload]
    assert first.headers["Cache-Control"] == "private, no-cache" and "Content-Security-Policy" in first.headers
    assert first.headers["ETag"] != second.headers["ETag"]
    assert post(client, "/logout").status_code == 302


def test_the_csrf_token_and_session_cookie_sign_as_itsdangerous_does(app, monkeypatch):
    """The remembered derived keys change nothing: the same token Flask-WTF makes, accepted by its check,
    and session cookies that Flask's own serializer reads (and the other way round)."""
    from flask import session
    from flask.sessions import SecureCookieSessionInterface
    from flask_wtf.csrf import generate_csrf, validate_csrf
    from itsdangerous import TimestampSigner

    from web.security import csrf_token
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: 1_700_000_000)
    with app.test_request_context("/"):
        session["csrf_token"] = "f" * 40
        ours = csrf_token()
        from flask import g
        del g.csrf_token
        assert ours == generate_csrf()
        validate_csrf(ours)
    plain = SecureCookieSessionInterface().get_signing_serializer(app)
    keyed = app.session_interface.get_signing_serializer(app)
    data = {"uid": 7, "epoch": 2, "iat": 1, "seen": 1, "csrf_token": "abc"}
    assert keyed.dumps(data) == plain.dumps(data)
    assert keyed.loads(plain.dumps(data)) == data == plain.loads(keyed.dumps(data))
    from itsdangerous import BadSignature
    with pytest.raises(BadSignature):
        keyed.loads(plain.dumps(data)[:-2] + "xx")


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)  # no database involved
def test_under_gevent_each_request_waits_its_turn_once(app, monkeypatch):
    """A gevent worker's keep-alive connection must not serve request after request while the others wait:
    each request first waits for the loop to go idle (once); outside gevent nothing waits."""
    import sys
    import types

    import web
    assert isinstance(app.wsgi_app, web.TakeTurns)
    assert web._gevent_idle() is None  # the tests run on plain sockets
    waits: list[int] = []
    turns = web.TakeTurns(lambda environ, start_response: [b"ok"])
    assert turns({}, None) == [b"ok"] and turns.wait is None
    monkeypatch.setattr(web, "_gevent_idle", lambda: lambda: waits.append(1))
    turns.pid = -1  # as in a freshly forked worker: decided again
    assert [turns({}, None) for _ in range(3)] == [[b"ok"]] * 3 and len(waits) == 3
    monkeypatch.undo()
    patched = types.SimpleNamespace(is_module_patched=lambda name: name == "socket")
    monkeypatch.setitem(sys.modules, "gevent.monkey", patched)
    import gevent
    wait = web._gevent_idle()
    assert wait is not None
    busy = gevent.spawn(_never_idle)  # a loop that never goes idle (a download, a flood of events)
    try:
        with gevent.Timeout(5):  # the request is not held for as long as the loop stays busy
            wait()
    finally:
        busy.kill()


def _never_idle() -> None:
    import gevent
    while True:
        gevent.sleep(0)
