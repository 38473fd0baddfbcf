"""Fan-out of live announcements across server processes (and machines).

A webhook reaches one process; the owner's page may be connected to another. Each process
runs one listener (a background thread) on a shared component and wakes its own waiting
streams by stall (:class:`Hub`); the streams then read the events from the database, which
stays the one record. The component:

``redis://host:port/db``
    Redis pub/sub, channel ``market40:live`` (``MARKET40_LIVE_BUS``);
``postgresql://…``
    PostgreSQL ``LISTEN/NOTIFY`` on channel ``market40_live`` (the default when the registry is
    PostgreSQL: no other component needed);
``poll``
    every process reads the newest ``live_transfer`` ids every :data:`POLL_SECONDS` (the
    default on SQLite: works across processes on one machine with nothing else running).

A message is ``{"stall": id, "id": live_transfer id}``: nothing a subscriber could misuse.
No Flask here.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any, Callable

__all__ = ["Hub", "Waiter", "Bus", "RedisBus", "PostgresBus", "PollBus", "open_bus", "CHANNEL", "POLL_SECONDS"]

CHANNEL = "market40_live"
POLL_SECONDS = 0.25
log = logging.getLogger(__name__)


class Waiter:
    """One waiting stream of one stall."""

    def __init__(self, stall_id: int) -> None:
        self.stall_id = stall_id
        self.event = threading.Event()

    def wait(self, timeout: float) -> bool:
        woke = self.event.wait(timeout)
        self.event.clear()
        return woke


class Hub:
    """The streams waiting in this process, by stall."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: dict[int, set[Waiter]] = {}

    def register(self, stall_id: int) -> Waiter:
        waiter = Waiter(stall_id)
        with self._lock:
            self._waiters.setdefault(stall_id, set()).add(waiter)
        return waiter

    def unregister(self, waiter: Waiter) -> None:
        with self._lock:
            found = self._waiters.get(waiter.stall_id)
            if found is not None:
                found.discard(waiter)
                if not found:
                    del self._waiters[waiter.stall_id]

    def wake(self, stall_id: int) -> int:
        with self._lock:
            waiting = list(self._waiters.get(stall_id, ()))
        for waiter in waiting:
            waiter.event.set()
        return len(waiting)

    def count(self) -> int:
        with self._lock:
            return sum(len(v) for v in self._waiters.values())


class Bus:
    """Publish an announcement; listen in a background thread that calls ``deliver(stall_id, transfer_id)``."""

    name = "bus"

    def publish(self, stall_id: int, transfer_id: int, connection: Any = None) -> None:
        raise NotImplementedError

    def start(self, deliver: Callable[[int, int], None]) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run_forever, args=(deliver,), name=f"market40-{self.name}",
                                        daemon=True)
        self._thread.start()

    def _run_forever(self, deliver: Callable[[int, int], None]) -> None:
        while not self._stop.is_set():
            try:
                self.listen(deliver)
            except Exception as error:  # the component went away: try again shortly
                log.warning("live bus %s: %s; reconnecting", self.name, error)
                self._stop.wait(1.0)

    def listen(self, deliver: Callable[[int, int], None]) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        if hasattr(self, "_stop"):
            self._stop.set()


class RedisBus(Bus):
    name = "redis"

    def __init__(self, url: str) -> None:
        import redis
        self.url = url
        self.client = redis.Redis.from_url(url)

    def publish(self, stall_id: int, transfer_id: int, connection: Any = None) -> None:
        self.client.publish(CHANNEL, json.dumps({"stall": stall_id, "id": transfer_id}))

    def listen(self, deliver: Callable[[int, int], None]) -> None:
        pubsub = self.client.pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(CHANNEL)
        try:
            while not self._stop.is_set():
                message = pubsub.get_message(timeout=1.0)
                if message and message.get("type") == "message":
                    data = json.loads(message["data"])
                    deliver(int(data["stall"]), int(data["id"]))
        finally:
            pubsub.close()


class PostgresBus(Bus):
    """``NOTIFY`` inside the transaction that stores the transfer: sent only if it commits."""

    name = "postgresql"

    def __init__(self, url: str) -> None:
        self.url = url.replace("postgresql+psycopg://", "postgresql://")

    def publish(self, stall_id: int, transfer_id: int, connection: Any = None) -> None:
        payload = json.dumps({"stall": stall_id, "id": transfer_id})
        if connection is not None:  # a SQLAlchemy connection in the storing transaction
            from sqlalchemy import text
            connection.execute(text("SELECT pg_notify(:channel, :payload)"), {"channel": CHANNEL, "payload": payload})
            return
        import psycopg
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, payload))

    def listen(self, deliver: Callable[[int, int], None]) -> None:
        import psycopg
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f"LISTEN {CHANNEL}")
            while not self._stop.is_set():
                for note in conn.notifies(timeout=1.0):
                    data = json.loads(note.payload)
                    deliver(int(data["stall"]), int(data["id"]))


class PollBus(Bus):
    """Each process reads new rows itself: no component beyond the database."""

    name = "poll"

    def __init__(self, engine: Any) -> None:
        self.engine = engine

    def publish(self, stall_id: int, transfer_id: int, connection: Any = None) -> None:
        pass  # the row itself is the message

    def listen(self, deliver: Callable[[int, int], None]) -> None:
        from sqlalchemy import text
        with self.engine.connect() as conn:
            last = conn.execute(text("SELECT coalesce(max(id), 0) FROM live_transfer")).scalar_one()
            known = conn.execute(text("SELECT id FROM live_transfer WHERE id > :low"), {"low": last - 500}).scalars()
            seen: dict[int, float] = {int(i): time.monotonic() for i in known}
            conn.rollback()
        # Ids may commit out of order (PostgreSQL sequences): the last 500 ids are read again.
        while not self._stop.is_set():
            with self.engine.connect() as conn:
                rows = conn.execute(text("SELECT id, stall_id FROM live_transfer WHERE id > :low "
                                         "AND stall_id IS NOT NULL ORDER BY id"), {"low": max(last - 500, 0)}).all()
                conn.rollback()
            now = time.monotonic()
            for transfer_id, stall_id in rows:
                if transfer_id not in seen:
                    seen[transfer_id] = now
                    deliver(int(stall_id), int(transfer_id))
            if rows:
                last = max(last, rows[-1][0])
            for key in [k for k, at in seen.items() if now - at > 600]:
                del seen[key]
            self._stop.wait(POLL_SECONDS)


def open_bus(url: str | None, engine: Any) -> Bus:
    """The bus named by ``url`` (``redis://``, ``postgresql://``, ``poll``), else the database's default."""
    if url:
        if url.startswith(("redis://", "rediss://", "unix://")):
            return RedisBus(url)
        if url.startswith(("postgresql", "postgres://")):
            return PostgresBus(url)
        if url == "poll":
            return PollBus(engine)
        raise ValueError(f"MARKET40_LIVE_BUS: redis://…, postgresql://… or poll, got {url!r}")
    if engine.dialect.name == "postgresql":
        return PostgresBus(engine.url.render_as_string(hide_password=False))
    return PollBus(engine)
