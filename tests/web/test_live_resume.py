"""The loa stream across reconnects and restarts: resuming from ``Last-Event-ID`` replays from the
store exactly what was missed (nothing lost, nothing sent twice, even when ids commit out of
order); an idle stream costs no query; a stopping process ends its streams so the pages resume
elsewhere; the bus listener stops with its app."""
from __future__ import annotations

import gc
import json
import threading
import time

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import text

from market40 import livebus
from market40.services import live as live_service
from web import create_app
from web.live import close as close_live
from web.live import parse_last_event_id
from webhelpers import SECRET, sign_in

from test_live import GENERIC, SEPAY, body, send


def make_app(engine, clock, **config):
    live_service.forget_index()
    return create_app({"ENGINE": engine, "SECRET_KEY": SECRET, "TESTING": True, "CLOCK": clock,
                       "SECOND_FACTOR_ROLES": "", "RATELIMIT_STORAGE_URI": "memory://",
                       "LIVE_SOURCES": {s.name: s for s in (GENERIC, SEPAY)}, "LIVE_STREAM_SECONDS": 0.3,
                       "LIVE_HEARTBEAT_SECONDS": 0.1, "LIVE_BUS": "poll", **config})


@pytest.fixture
def app(engine, clock):
    made = make_app(engine, clock)
    yield made
    close_live(made)


def read(client, position: str = "") -> tuple[list[dict], list[str], str]:
    """One connection of the page: its events, their ``id:`` fields, and the raw text."""
    headers = {"Last-Event-ID": position} if position else {}
    response = client.get("/loa/stream", headers=headers)
    assert response.status_code == 200
    raw = response.get_data(as_text=True)
    lines = raw.splitlines()
    events = [json.loads(line[6:]) for line in lines if line.startswith("data: {\"")]
    ids = [line[4:] for line in lines if line.startswith("id: ")]
    return events, ids, raw


def test_position_keeps_the_highest_id_and_the_lower_ones_received_lately():
    assert parse_last_event_id("41.38.40") == (41, {38, 40, 41})
    assert parse_last_event_id("", "7") == (7, {7})
    assert parse_last_event_id("12", "41.40") == (41, {40, 41})  # the further of the two positions
    assert parse_last_event_id("x", "4;drop table", "-3") == (0, set())


def test_reconnects_replay_exactly_what_was_missed_even_out_of_order(client, world, engine):
    """Three connections, a transfer that commits after a higher id was already announced, a
    transfer that arrives while the page is away: each is sent exactly once over all connections."""
    sign_in(client, world.user("owner_a"))
    for tx, amount in (("R1", 1_000), ("R2", 2_000), ("R3", 3_000)):
        assert send(client, body(tx, amount)).status_code == 200
    with engine.begin() as conn:  # R2 "has not committed yet": another process holds it
        r2 = conn.execute(text("SELECT id, stall_id FROM live_transfer WHERE tx_id = 'R2'")).one()
        conn.execute(text("UPDATE live_transfer SET stall_id = NULL WHERE id = :id"), {"id": r2.id})
    first, ids, _ = read(client)
    assert [e["amount"] for e in first] == [1_000, 3_000]
    assert ids[-1].startswith(f"{first[-1]['id']}.")  # the position names the lower id it also sent
    with engine.begin() as conn:  # ... now R2 commits, with an id below the last one announced
        conn.execute(text("UPDATE live_transfer SET stall_id = :s WHERE id = :id"), {"s": r2.stall_id, "id": r2.id})
    second, ids2, _ = read(client, ids[-1])  # the page reconnects with Last-Event-ID
    assert [e["amount"] for e in second] == [2_000]
    assert send(client, body("R4", 4_000)).status_code == 200  # arrives while the page is away
    third, ids3, _ = read(client, ids2[-1])
    assert [e["amount"] for e in third] == [4_000]
    fourth, _, _ = read(client, ids3[-1])
    assert fourth == []
    everything = [e["id"] for e in first + second + third + fourth]
    assert len(everything) == len(set(everything)) == 4


def test_a_page_resuming_by_the_after_parameter_is_served_the_same(client, world):
    sign_in(client, world.user("owner_a"))
    send(client, body("P1", 1_000))
    first, ids, _ = read(client)
    send(client, body("P2", 2_000))
    response = client.get(f"/loa/stream?after={ids[-1]}")  # the page's own reconnect after a 5xx
    amounts = [json.loads(l[6:])["amount"] for l in response.get_data(as_text=True).splitlines()
               if l.startswith("data: {")]
    assert amounts == [2_000]


def _statements(engine):
    seen: list[str] = []

    def count(conn, cursor, statement, *args):
        seen.append(statement)
    sa_event.listen(engine, "before_cursor_execute", count)
    return seen, lambda: sa_event.remove(engine, "before_cursor_execute", count)


def test_an_idle_stream_queries_nothing_and_takes_its_event_from_the_bus_message(engine, clock, world):
    """With an event-carrying bus, a heartbeat is a comment line and an event needs no read."""
    app = make_app(engine, clock, LIVE_BUS="redis://127.0.0.1:6379/15", LIVE_STREAM_SECONDS=2.5,
                   LIVE_HEARTBEAT_SECONDS=0.1)
    try:
        state = app.extensions["market40.live"]
        try:
            state.bus.client.ping()
        except Exception:
            pytest.skip("Redis is not running")
        owner, hook = app.test_client(), app.test_client()
        sign_in(owner, world.user("owner_a"))
        response = owner.get("/loa/stream", buffered=False)
        chunks = iter(response.response)
        assert "retry:" in _text(next(chunks))  # the retry line
        assert _text(next(chunks)) == ": ping\n\n"  # after the first read of the store: nothing yet
        deadline = time.monotonic() + 10
        while not state.bus.running and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # the listener subscribed
        seen, stop = _statements(engine)
        got: list[str] = []
        try:
            for _ in range(6):  # idle: heartbeats only
                got.append(_text(next(chunks)))
            idle_queries = len(seen)
            timer = threading.Timer(0.05, lambda: send(hook, body("M1", 15_000)))
            timer.start()
            for chunk in chunks:
                got.append(_text(chunk))
                if "data: {" in got[-1]:
                    break
            timer.join()
        finally:
            stop()
            response.close()
        assert idle_queries == 0
        assert sum(": ping" in g for g in got) >= 6
        event = json.loads(next(g for g in got if "data: {" in g).split("data: ", 1)[1].split("\n", 1)[0])
        assert event["amount"] == 15_000 and event["text"] == "Đã nhận mười lăm nghìn đồng"
        # the webhook's own transaction ran queries; the stream read no live_transfer row for it
        stream_reads = [s for s in seen if "FROM live_transfer" in s and "live_transfer.stall_id =" in s]
        assert stream_reads == []
    finally:
        close_live(app)


def _text(chunk) -> str:
    return chunk.decode() if isinstance(chunk, bytes) else chunk


def test_a_stopping_process_ends_its_streams_with_a_short_retry(app, client, world):
    app.config["LIVE_STREAM_SECONDS"] = 30.0
    sign_in(client, world.user("owner_a"))
    state = app.extensions["market40.live"]
    started = time.monotonic()
    timer = threading.Timer(0.3, lambda: state.drain(0.1))
    timer.start()
    response = client.get("/loa/stream")
    raw = response.get_data(as_text=True)
    timer.join()
    assert time.monotonic() - started < 10  # not the stream's 30 s
    assert 100 <= _last_retry(raw) < 500  # jittered: one process's pages do not all come back at once
    # a stream opened on the stopping process ends at once: the page goes to another process
    assert 100 <= _last_retry(client.get("/loa/stream").get_data(as_text=True)) < 500


def _last_retry(raw: str) -> int:
    last = raw.rstrip().splitlines()[-1]
    assert last.startswith("retry: ")
    return int(last[7:])


def test_a_slow_stream_never_blocks_the_deliverer():
    hub = livebus.Hub()
    slow = hub.register(5)
    for n in range(livebus.QUEUE_LIMIT * 3):
        hub.deliver({"stall": 5, "id": n, "event": {"id": n}})
    assert len(slow.queue) < livebus.QUEUE_LIMIT and slow.stale  # it will read the store instead
    assert hub.deliver({"stall": 6, "id": 1, "event": {"id": 1}}) == 0


def _poll_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "market40-poll" and t.is_alive()]


def _started(app) -> threading.Thread:
    state = app.extensions["market40.live"]
    state.ensure_listening()
    return state.bus._thread


def test_the_bus_listener_stops_when_its_app_is_closed(engine, clock):
    app = make_app(engine, clock)
    thread = _started(app)
    assert thread.is_alive()
    close_live(app)
    thread.join(5)
    assert not thread.is_alive()


def test_the_bus_listener_stops_when_its_app_is_gone(engine, clock):
    app = make_app(engine, clock)
    thread = _started(app)
    assert thread.is_alive()
    del app
    gc.collect()
    thread.join(5)
    assert not thread.is_alive()
    assert thread not in _poll_threads()


def test_a_rolling_restart_hands_streams_over_gradually():
    from web.server import rolling_spread
    assert rolling_spread(7_500, rate=30, least=5) == 250.0  # a province's half: about four minutes
    assert rolling_spread(40, rate=30, least=5) == 5.0  # a small office: the stop's few seconds
    assert rolling_spread(1_000_000, rate=30, least=5) == 300.0  # never longer than the stretched timeout allows
