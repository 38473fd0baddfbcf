"""Fan-out of announcements across processes: Redis pub/sub, PostgreSQL LISTEN/NOTIFY, polling the database.

Each test runs a listener as a server process would and publishes from another connection (as
another process would): delivery must not depend on process memory."""
from __future__ import annotations

import os
import queue
import time
from datetime import datetime, timezone

import pytest
from sqlalchemy import text

from market40 import db, livebus


def _redis_url() -> str:
    return os.environ.get("MARKET40_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _wait(q: "queue.Queue", timeout: float = 3.0):
    return q.get(timeout=timeout)


@pytest.fixture
def redis_bus():
    import redis
    url = _redis_url()
    try:
        redis.Redis.from_url(url).ping()
    except redis.exceptions.ConnectionError:
        if os.environ.get("CI"):
            raise
        pytest.skip("no Redis at " + url)
    bus = livebus.RedisBus(url)
    yield bus
    bus.stop()


def test_redis_fan_out(redis_bus):
    got: "queue.Queue" = queue.Queue()
    redis_bus.start(lambda stall, transfer: got.put((stall, transfer)))
    time.sleep(0.3)  # subscribed
    other = livebus.RedisBus(redis_bus.url)  # another process's publisher
    started = time.monotonic()
    other.publish(7, 42)
    assert _wait(got) == (7, 42)
    assert time.monotonic() - started < 1.0


def _insert(connection, stall_id: int, tx: str) -> int:
    return connection.execute(text(
        "INSERT INTO live_transfer (bank_bin, tx_id, account, amount, booked_at, content, provider, source, "
        "provider_id, received_at, stall_id) VALUES ('970436', :tx, '1', 1000, :now, '', 'market40', 's', '', :now, "
        ":stall) RETURNING id"), {"tx": tx, "now": datetime.now(timezone.utc), "stall": stall_id}).scalar_one()


def test_postgres_notify_is_sent_only_when_the_transfer_commits(engine, stall):
    if engine.dialect.name != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's")
    bus = livebus.open_bus(None, engine)
    assert isinstance(bus, livebus.PostgresBus)
    got: "queue.Queue" = queue.Queue()
    bus.start(lambda s, t: got.put((s, t)))
    time.sleep(0.5)
    try:
        with engine.connect() as conn:
            with conn.begin() as tx:
                first = _insert(conn, stall.id, "N1")
                bus.publish(stall.id, first, connection=conn)
                tx.rollback()  # not stored: never announced
            with conn.begin():
                second = _insert(conn, stall.id, "N2")
                bus.publish(stall.id, second, connection=conn)
        assert _wait(got) == (stall.id, second)
        with pytest.raises(queue.Empty):
            got.get(timeout=0.5)
    finally:
        bus.stop()


def test_polling_the_database_reaches_other_processes(engine, stall):
    bus = livebus.PollBus(engine)
    got: "queue.Queue" = queue.Queue()
    bus.start(lambda s, t: got.put((s, t)))
    time.sleep(0.5)
    other = db.make_engine(engine.url.render_as_string(hide_password=False)) if engine.dialect.name == "postgresql" \
        else engine  # SQLite: the same file, another connection
    try:
        with other.begin() as conn:
            new = _insert(conn, stall.id, "P1")
        assert _wait(got) == (stall.id, new)
    finally:
        bus.stop()
        if other is not engine:
            other.dispose()


def test_hub_wakes_only_the_stalls_streams():
    hub = livebus.Hub()
    a, b = hub.register(1), hub.register(2)
    assert hub.wake(1) == 1
    assert a.wait(0.01) and not b.wait(0.01)
    hub.unregister(a)
    assert hub.wake(1) == 0 and hub.count() == 1
