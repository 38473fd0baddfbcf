"""Fan-out of live announcements across server processes (and machines).

A webhook reaches one process; the owner's page may be connected to another. Each process
runs **one** listener (a background thread, a greenlet under gevent) on a shared component and
hands each message to its own waiting streams by stall (:class:`Hub`): one subscription per
process, never one per open stream. The component:

``redis://host:port/db``
    Redis pub/sub, channel ``market40:live`` (``MARKET40_LIVE_BUS``);
``postgresql://…``
    PostgreSQL ``LISTEN/NOTIFY`` on channel ``market40_live`` (the default when the registry is
    PostgreSQL: no other component needed);
``poll``
    every process reads the newest ``live_transfer`` ids every :data:`POLL_SECONDS` (the
    default on SQLite: works across processes on one machine with nothing else running).

A message is ``{"stall": id, "id": live_transfer id}``, optionally with ``"event"`` (the
announcement itself, as the stream sends it: amount, words, time, masked content — never payer
data) so a stream need not read the database for it, or ``"notice"`` (e.g. ``{"revoked": watch
id}``). A stream given only an id reads the event from the database, which stays the one record.
No Flask here.
"""
from __future__ import annotations

import json
import logging
import math
import threading
import time
import weakref
from collections import deque
from typing import Any, Callable

__all__ = ["Hub", "Waiter", "Bus", "RedisBus", "PostgresBus", "PollBus", "open_bus", "CHANNEL", "POLL_SECONDS",
           "QUEUE_LIMIT"]

CHANNEL = "market40_live"
POLL_SECONDS = 0.25
#: Events kept for one stream that is not reading (a slow phone): beyond this it reads the store instead.
QUEUE_LIMIT = 64
log = logging.getLogger(__name__)


class Waiter:
    """One waiting stream of one stall: a wake-up flag and the messages handed to it.

    Delivery never blocks the deliverer: a message is appended to a short queue; a stream
    that lets it overflow is told to read the store (``stale``) instead.
    """

    __slots__ = ("stall_id", "event", "queue", "stale", "closing", "__weakref__")

    def __init__(self, stall_id: int) -> None:
        self.stall_id = stall_id
        self.event = threading.Event()
        self.queue: deque[dict[str, Any]] = deque()
        self.stale = False  # something arrived without its event (or the queue overflowed): read the store
        self.closing = False  # the process is stopping: end the stream so the page reconnects elsewhere

    def wait(self, timeout: float) -> bool:
        woke = self.event.wait(timeout)
        self.event.clear()
        return woke

    def put(self, message: dict[str, Any]) -> None:
        if len(self.queue) >= QUEUE_LIMIT:
            self.queue.clear()
            self.stale = True
        else:
            self.queue.append(message)
        self.event.set()

    def take(self) -> list[dict[str, Any]]:
        """The messages delivered since the last call (and clears them)."""
        out = []
        while self.queue:
            out.append(self.queue.popleft())
        return out


class Hub:
    """The streams waiting in this process, by stall."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: dict[int, set[Waiter]] = {}
        self.closing = False

    def register(self, stall_id: int) -> Waiter:
        waiter = Waiter(stall_id)
        waiter.closing = self.closing
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

    def _of(self, stall_id: int) -> list[Waiter]:
        with self._lock:
            return list(self._waiters.get(stall_id, ()))

    def wake(self, stall_id: int) -> int:
        """Tell the stall's streams to read the store (a message without its event)."""
        waiting = self._of(stall_id)
        for waiter in waiting:
            waiter.stale = True
            waiter.event.set()
        return len(waiting)

    def wake_all(self) -> int:
        """Every stream reads the store once (the bus has just (re)subscribed: what was published
        before it listened reached no one)."""
        with self._lock:
            waiting = [w for found in self._waiters.values() for w in found]
        for waiter in waiting:
            waiter.stale = True
            waiter.event.set()
        return len(waiting)

    def deliver(self, message: dict[str, Any]) -> int:
        """Hand a bus message to the streams of its stall: its event or notice if it has one, else a wake-up."""
        stall_id = int(message["stall"])
        if "event" not in message and "notice" not in message:
            return self.wake(stall_id)
        waiting = self._of(stall_id)
        for waiter in waiting:
            waiter.put(message)
        return len(waiting)

    def close(self, spread_seconds: float = 0.0, sleep: Callable[[float], None] | None = None) -> int:
        """End every stream (the process is stopping), spread over ``spread_seconds`` so the pages
        reconnect to the other processes a few at a time; streams keep receiving until their turn."""
        self.closing = True
        with self._lock:
            waiting = [w for found in self._waiters.values() for w in found]
        if not waiting:
            return 0
        tick = 0.05
        per_tick = max(1, math.ceil(len(waiting) * tick / spread_seconds)) if spread_seconds > 0 else len(waiting)
        for n, waiter in enumerate(waiting, 1):
            waiter.closing = True
            waiter.event.set()
            if n % per_tick == 0 and n < len(waiting):
                # looked up now, not at import: under gevent ``time.sleep`` is patched after this module loads
                (sleep or time.sleep)(tick)
        return len(waiting)

    def count(self) -> int:
        with self._lock:
            return sum(len(v) for v in self._waiters.values())


class Bus:
    """Publish an announcement; listen in one background thread per process.

    ``start(deliver)`` calls ``deliver(stall_id, transfer_id)`` for each announcement;
    ``start(deliver, on_message=f)`` calls ``f(message)`` with each whole message instead
    (events and notices included). The thread stops with :meth:`stop`, and by itself once
    ``owner`` (e.g. the app) is garbage-collected.
    """

    name = "bus"
    _thread: threading.Thread | None = None

    def publish(self, stall_id: int, transfer_id: int, connection: Any = None, event: dict[str, Any] | None = None
                ) -> None:
        self._send(self._message(stall_id, transfer_id, event), connection)

    def publish_notice(self, stall_id: int, notice: dict[str, Any], connection: Any = None) -> None:
        """A notice to the stall's streams (``{"revoked": watch id}`` ends a helper's stream)."""
        self._send({"stall": stall_id, "notice": notice}, connection)

    @staticmethod
    def _message(stall_id: int, transfer_id: int, event: dict[str, Any] | None) -> dict[str, Any]:
        message: dict[str, Any] = {"stall": stall_id, "id": transfer_id}
        if event is not None:
            message["event"] = event
        return message

    def _send(self, message: dict[str, Any], connection: Any = None) -> None:
        raise NotImplementedError

    def start(self, deliver: Callable[[int, int], None] | None = None, *,
              on_message: Callable[[dict[str, Any]], None] | None = None, owner: Any = None,
              on_connected: Callable[[], Any] | None = None) -> None:
        self._stop = threading.Event()
        self._on_connected = on_connected
        self.connected = threading.Event()

        def dispatch(message: dict[str, Any]) -> None:
            if on_message is not None:
                on_message(message)
            elif deliver is not None and "id" in message:
                deliver(int(message["stall"]), int(message["id"]))

        self._dispatch = dispatch
        if owner is not None:
            weakref.finalize(owner, self._stop.set)  # the app is gone: so is its listener
        self._thread = threading.Thread(target=self._run_forever, args=(dispatch,), name=f"market40-{self.name}",
                                        daemon=True)
        self._thread.start()

    def _run_forever(self, dispatch: Callable[[dict[str, Any]], None]) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                self.listen_messages(dispatch)
                failures = 0
            except Exception as error:  # the component went away: try again, less and less often
                failures += 1
                if failures == 1 or failures % 20 == 0:
                    log.warning("live bus %s: %s; reconnecting (%d failures)", self.name, error, failures)
                self._stop.wait(min(30.0, 0.5 * 2 ** min(failures, 6)))

    def listen_messages(self, dispatch: Callable[[dict[str, Any]], None]) -> None:
        self.listen(lambda stall, transfer: dispatch({"stall": stall, "id": transfer}))

    def _subscribed(self) -> None:
        """Called by a listener once it receives (again): streams catch up on what it missed."""
        self.connected.set()
        if getattr(self, "_on_connected", None) is not None:
            self._on_connected()

    def listen(self, deliver: Callable[[int, int], None]) -> None:
        raise NotImplementedError

    def stop(self, timeout: float | None = None) -> None:
        if hasattr(self, "_stop"):
            self._stop.set()
        if timeout is not None and self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()


class RedisBus(Bus):
    name = "redis"

    def __init__(self, url: str) -> None:
        import redis
        self.url = url
        self.client = redis.Redis.from_url(url)

    def _send(self, message: dict[str, Any], connection: Any = None) -> None:
        self.client.publish(CHANNEL, json.dumps(message, ensure_ascii=False))

    def listen_messages(self, dispatch: Callable[[dict[str, Any]], None]) -> None:
        pubsub = self.client.pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(CHANNEL)
        pubsub.get_message(timeout=1.0)  # the subscription's confirmation
        self._subscribed()
        try:
            while not self._stop.is_set():
                message = pubsub.get_message(timeout=1.0)
                if message and message.get("type") == "message":
                    dispatch(json.loads(message["data"]))
        finally:
            pubsub.close()


class PostgresBus(Bus):
    """``NOTIFY`` inside the transaction that stores the transfer: sent only if it commits."""

    name = "postgresql"
    #: PostgreSQL's payload limit is 8,000 bytes: a longer message goes without its event.
    MAX_PAYLOAD = 7900

    def __init__(self, url: str) -> None:
        self.url = url.replace("postgresql+psycopg://", "postgresql://")

    def _send(self, message: dict[str, Any], connection: Any = None) -> None:
        payload = json.dumps(message, ensure_ascii=False)
        if len(payload.encode()) > self.MAX_PAYLOAD:
            message = {k: v for k, v in message.items() if k != "event"}
            payload = json.dumps(message)
        if connection is not None:  # a SQLAlchemy connection in the storing transaction
            from sqlalchemy import text
            connection.execute(text("SELECT pg_notify(:channel, :payload)"), {"channel": CHANNEL, "payload": payload})
            return
        import psycopg
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, payload))

    def listen_messages(self, dispatch: Callable[[dict[str, Any]], None]) -> None:
        import psycopg
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f"LISTEN {CHANNEL}")
            self._subscribed()
            while not self._stop.is_set():
                for note in conn.notifies(timeout=1.0):
                    dispatch(json.loads(note.payload))


class PollBus(Bus):
    """Each process reads new rows itself: no component beyond the database.

    Notices (a revoked helper code) reach the streams of the publishing process at once, the
    other processes' streams when they next read the store or reconnect.
    """

    name = "poll"

    def __init__(self, engine: Any) -> None:
        self.engine = engine

    def _send(self, message: dict[str, Any], connection: Any = None) -> None:
        if "notice" in message and getattr(self, "_dispatch", None) is not None:
            self._dispatch(message)  # this process's streams; the row itself is the message of a transfer

    def listen(self, deliver: Callable[[int, int], None]) -> None:
        from sqlalchemy import text
        with self.engine.connect() as conn:
            last = conn.execute(text("SELECT coalesce(max(id), 0) FROM live_transfer")).scalar_one()
            known = conn.execute(text("SELECT id FROM live_transfer WHERE id > :low"), {"low": last - 500}).scalars()
            seen: dict[int, float] = {int(i): time.monotonic() for i in known}
            conn.rollback()
        self._subscribed()
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
