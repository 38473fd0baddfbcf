"""The fast lane on PostgreSQL (issue #10's scale): a webhook is one look-up and one INSERT … RETURNING
with its pg_notify, a stream's connect one scope query and one catch-up query, all on the driver —
and each gives what the full (ORM) path gives: the same row, the same event, the same scope."""
from __future__ import annotations

import contextlib
import functools
import json
import re
import threading

import psycopg
import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import select

from market40 import livebus
from market40.models import LiveTransfer, LiveWatch
from market40.services import live as live_service
from web import create_app
from web.live import close as close_live
from webhelpers import ACCOUNT_B, csrf_token, fetch, post, sign_in

from test_live import GENERIC, SEPAY, body, events, send


@pytest.fixture
def app(engine, clock):
    if engine.dialect.name != "postgresql":
        pytest.skip("the fast lane is PostgreSQL's (SQLite takes the full path, tested in test_live.py)")
    live_service.forget_index()
    made = create_app({"ENGINE": engine, "SECRET_KEY": "fast lane tests: a secret of 32+ bytes", "TESTING": True,
                       "CLOCK": clock, "SECOND_FACTOR_ROLES": "", "RATELIMIT_STORAGE_URI": "memory://",
                       "LIVE_SOURCES": {s.name: s for s in (GENERIC, SEPAY)}, "LIVE_STREAM_SECONDS": 0.3,
                       "LIVE_HEARTBEAT_SECONDS": 0.1})  # the default bus: NOTIFY on PostgreSQL
    yield made
    close_live(made)


def _listen(engine):
    conn = psycopg.connect(engine.url.render_as_string(hide_password=False).replace("+psycopg", ""), autocommit=True)
    conn.execute(f"LISTEN {livebus.CHANNEL}")
    return conn


def _notes(conn) -> list[dict]:
    return [json.loads(n.payload) for n in conn.notifies(timeout=0.5, stop_after=10)]


@contextlib.contextmanager
def _no_orm(engine):
    """The statements this thread (the test client's request) sends through SQLAlchemy: the fast lane sends
    none. Other threads (the live bus's listener) are not counted, and the listener goes when the block ends."""
    seen: list[str] = []
    mine = threading.get_ident()

    def count(conn, cursor, statement, *args):
        if threading.get_ident() == mine:
            seen.append(statement)
    sa_event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        sa_event.remove(engine, "before_cursor_execute", count)


def test_a_webhook_is_stored_and_announced_once_without_the_orm(app, client, world, engine):
    assert app.extensions["market40.live"].ingest_lane() is not None
    client.get("/login")  # the app's first request reads the schema version (once)
    listener = _listen(engine)
    try:
        with _no_orm(engine) as statements:
            assert send(client, body("FAST1", 9_034)).status_code == 200
            retry = send(client, body("FAST1", 9_034))  # the provider's retry: answered, not stored nor announced again
        assert retry.status_code == 200 and retry.json == {"ok": True}
        assert statements == []
        notes = _notes(listener)
    finally:
        listener.close()
    rows = fetch(engine, LiveTransfer)
    assert len(rows) == 1 and len(notes) == 1
    row = rows[0]
    assert (row.stall_id, row.method, row.amount, row.content) == (world.user("owner_a").stall_id, "account", 9_034, "HL1 A12")
    assert row.market_id is not None and row.provider == "market40" and row.source == GENERIC.name
    # the announcement carried in the NOTIFY is the one the full path makes of the stored row
    assert notes[0] == {"stall": row.stall_id, "id": row.id, "event": live_service.event_of(row)}
    assert notes[0]["event"]["text"] == "Đã nhận chín nghìn không trăm ba mươi tư đồng"


def test_a_transfer_the_fast_lane_cannot_decide_takes_the_full_path(app, client, world, engine, session):
    # an open requested amount of the stall: matched (and said "THIẾU …") on the full path
    sign_in(client, world.user("owner_a"))
    made = live_service.create_request(session, live_service.Actor(name="t", role="owner", stall_id=world.user("owner_a").stall_id),
                                       world.user("owner_a").stall_id, 50_000)
    session.commit()
    assert send(client, body("FAST2", 20_000, content=f"HL1 A12 {made.code}")).status_code == 200
    found = events(client)
    assert [e["verdict"] for e in found] == ["short"] and found[0]["shortfall"] == 30_000
    # an account nobody registered: stored unattributed, announced to nobody
    assert send(client, body("FAST3", 1_000, account="0099887766", content="nothing")).status_code == 200
    stray = session.execute(select(LiveTransfer).where(LiveTransfer.tx_id == "FAST3")).scalar_one()
    assert stray.stall_id is None


def test_a_helper_stream_connects_with_plain_queries_and_keeps_its_scope(app, client, world, engine):
    sign_in(client, world.user("owner_a"))
    page = post(client, "/loa/nguoi-nha", {"label": "Con gái"})
    code = re.search(r'id="watch-code">([A-Z0-9]+)<', page.text).group(1)
    send(client, body("FAST4", 50_000))
    send(client, body("FAST5", 7_000, account=ACCOUNT_B, bank="970415", content="CP1 B1"))  # stall B's
    helper = app.test_client()
    helper.post("/loa/xem", data={"csrf_token": csrf_token(helper, "/loa/xem"), "code": code})
    with _no_orm(engine) as statements:
        assert [e["amount"] for e in events(helper, "/loa/xem/stream")] == [50_000]  # stall A's only
    assert statements == []
    post(client, "/loa/nguoi-nha", {"revoke": str(fetch(engine, LiveWatch)[0].id)})
    assert helper.get("/loa/xem/stream").status_code == 403


def test_the_door_answers_a_webhook_as_the_view_does_and_leaves_every_refusal_to_it(app, client, world, engine):
    from market40 import webhooks as wh
    from webhelpers import audit_events
    client.get("/login")  # the schema version, read once (until then every webhook goes on to Flask)
    tight = wh.Source("tight", "market40", ("tight-secret-0123456789",), rate_per_minute=2)
    app.config["LIVE_SOURCES"][tight.name] = tight
    views = []
    view = app.view_functions["live.hook"]

    @functools.wraps(view)  # the same name: still exempt from CSRF
    def counted(**kw):
        views.append(kw)
        return view(**kw)
    app.view_functions["live.hook"] = counted
    door = send(client, body("DOOR1", 12_000))  # answered before Flask: the view never ran
    assert views == [] and (door.status_code, door.json) == (200, {"ok": True})
    payload = body("DOOR2", 12_000)  # a query string goes on to the view: the same answer, header for header
    by_view = client.post(f"/hook/{GENERIC.name}?via=view", data=payload, headers=wh.sign(GENERIC, payload))
    assert (len(views), by_view.status_code, by_view.data) == (1, 200, door.data)
    assert sorted(by_view.headers.items()) == sorted(door.headers.items())
    assert sorted(r.tx_id for r in fetch(engine, LiveTransfer)) == ["DOOR1", "DOOR2"]
    # a refusal goes on to the view, which refuses and audits it; nothing stored
    bad = send(client, body("DOOR3", 1_000), **{"X-Market40-Signature": "v1=" + "0" * 64})
    assert (bad.status_code, bad.json["error"], len(views)) == (401, "bad signature", 2)
    # the rate is counted once per request, in the door: 2 a minute means the third is refused
    codes = [send(client, body(f"T{n}", 1_000), tight).status_code for n in range(3)]
    assert codes == [200, 200, 429] and len(views) == 3
    notes = [e.note for e in audit_events(engine, "webhook.refuse")]
    assert [n[:3] for n in notes] == ["401", "429"]
    assert sorted(r.tx_id for r in fetch(engine, LiveTransfer)) == ["DOOR1", "DOOR2", "T0", "T1"]
