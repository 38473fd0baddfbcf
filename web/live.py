"""Live payments: bank-feed webhooks in, the owner's "Loa báo tiền" out.

* ``POST /hook/<source>`` — a configured feed (:mod:`market40.webhooks`). Exempt from CSRF and
  from nothing else: content type, size, rate per source, signature and replay window are
  checked in that order; every refusal is audited and nothing of it is stored. A stored (or
  already stored) transfer gets the provider's success answer, so its retries stop.
* ``/loa/`` — the owner's loa page and ``/loa/stream`` its event stream (Server-Sent Events,
  ``Last-Event-ID`` resume); ``/loa/xem`` the same for a helper holding the owner's code.
  Neither takes a stall in the URL: the owner's stall comes from their user row, a helper's
  from their code; a revoked code ends the stream.
* ``/loa/thu`` — collect an exact amount (dynamic VietQR, one-time reference).
* ``/loa/nguoi-nha`` — the owner's helper codes; ``/loa/so`` the day and month with XLSX.
* ``/loa/cho/<market>`` — staff: whether each stall's feed is live (no amounts).

Announcements reach every process through :mod:`market40.livebus`.
"""
from __future__ import annotations

import io
import json
import os
import random
import threading
import time
import weakref
from datetime import date, datetime, timedelta
from typing import Any, Iterator

from flask import (Blueprint, Flask, Response, abort, current_app, g, jsonify, redirect, render_template, request,
                   session, url_for)
from flask_babel import gettext as _
from sqlmodel import Session

from market40 import webhooks
from market40.exceptions import Market40Error, NotFound, ValidationError
from market40.formats import count, money
from market40.reconciliation import VN_TZ, Period
from market40.services import live as live_service
from market40.services.registry import Actor

from .db import get_session, registry
from .posters import qr_png
from .security import client_address, csrf, public, roles_required

bp = Blueprint("live", __name__)

#: How long one stream response stays open before the browser reconnects (with Last-Event-ID): long,
#: because a reconnect costs a request (session, scope, a read of the store) and 15,000 pages
#: reconnecting every 25 s would be 600 requests a second doing nothing. At 10 minutes (±20 %), 15,000
#: pages make 25 reconnects a second (~2 CPU-ms each), half of what 5 minutes cost; an owner's
#: reconnect still comes well inside the session's 30-minute idle timeout, and a revoked helper code
#: ends its streams at once through the bus, not at the next reconnect.
STREAM_SECONDS = 600.0
#: A comment line this often keeps proxies and phones from dropping an idle stream (nginx's and most load
#: balancers' idle timeout is 60 s); it costs no query, but 15,000 streams at 15 s cost ~0.14 of a core
#: in timers, greenlet switches and writes (measured: 7.2 CPU-s in 50 s with no webhook), at 30 s half.
HEARTBEAT_SECONDS = 30.0
#: Every read of the store also re-reads the transfers received this many seconds ago (ids out of order).
RECENT_SECONDS = 10.0
#: A resumed stream replays what was received this long before it (a restart, a network drop).
RESUME_SECONDS = 60.0
#: The ids a stream has sent recently are carried in its event ids (``Last-Event-ID``): at most this many.
RECENT_IDS = 32
#: The browser's reconnection delay (SSE ``retry:``), and the shorter one when a stopping process ends a stream.
RETRY_MS = 1000
CLOSING_RETRY_MS = 100
CLOSING_JITTER_MS = 400


# ------------------------------------------------------------------ set-up

def init_app(app: Flask) -> None:
    """Sources, bus and hub; the webhook view leaves CSRF to the signatures."""
    app.config.setdefault("LIVE_STREAM_SECONDS", STREAM_SECONDS)
    app.config.setdefault("LIVE_HEARTBEAT_SECONDS", HEARTBEAT_SECONDS)
    app.config.setdefault("LIVE_WATCH_RATE", "10/minute")
    if "LIVE_SOURCES" not in app.config:
        path = os.environ.get("MARKET40_WEBHOOKS")
        text = open(path, encoding="utf-8").read() if path else "{}"
        app.config["LIVE_SOURCES"] = webhooks.load_sources(text)
    app.config.setdefault("LIVE_BUS", os.environ.get("MARKET40_LIVE_BUS"))
    app.config.setdefault("LIVE_MQTT", os.environ.get("MARKET40_MQTT"))
    app.extensions["market40.live"] = _Live(app)
    csrf.exempt(hook)
    _install_door(app)


class _SourceRate:
    """The rate limit per webhook source: ``rate_per_minute`` requests in each minute (fixed window).

    With the app's limiter in process memory (the default) the count is kept here, a dictionary
    entry per source: the ``limits`` memory storage starts a timer thread for every other hit,
    which at 200 webhooks a second cost more than the rest of the request. With a shared storage
    (``MARKET40_RATELIMIT_STORAGE=redis://…``, counted across processes) the app's limiter counts.
    """

    def __init__(self, app: Flask) -> None:
        self._app = weakref.ref(app)
        self._counts: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()

    def after_fork(self) -> None:
        self._lock = threading.Lock()

    def allow(self, src: webhooks.Source, app: Flask | None = None) -> bool:
        limits = (app or current_app).extensions["market40.limits"]  # the app's one limiter (web/security.py)
        if type(getattr(limits, "storage", None)).__name__ != "MemoryStorage":
            _taken, wait = limits.take([(f"{src.rate_per_minute}/minute", f"live-hook:{src.name}")])
            return wait is None
        window = int(time.time() // 60)
        with self._lock:
            seen_window, count = self._counts.get(src.name, (window, 0))
            if seen_window != window:
                count = 0
            if count >= src.rate_per_minute:
                return False
            self._counts[src.name] = (window, count + 1)
            return True


class _Live:
    """Per process: the hub of waiting streams and the bus listener (started on first use, after a fork)."""

    def __init__(self, app: Flask) -> None:
        self.engine = app.extensions["market40.engine"]
        self._config_bus = app.config.get("LIVE_BUS")
        self.bus = live_service.open_bus(self._config_bus, self.engine)
        self.hub = live_service.Hub()
        self.rate = _SourceRate(app)
        # PostgreSQL: the hot paths on the driver (a webhook: two round trips; a stream: one query), each
        # with its own connections: thousands of pages reconnecting after a restart queue for theirs,
        # never in front of a webhook
        self.lane = live_service.FastLane.for_engine(self.engine, size=2)
        self.ingest = live_service.FastLane.for_engine(self.engine, size=3)
        self.sinks: list[Any] = []  # more announcers (MQTT): called with each stored event
        if app.config.get("LIVE_MQTT"):
            self.sinks.append(live_service.mqtt_announcer(app.config["LIVE_MQTT"], self.engine))
        self._started = False
        self._pid = 0
        self._lock = threading.Lock()
        self._app = weakref.ref(app)

    def after_fork(self) -> None:
        """In a new worker process (after gevent patched ``threading``): fresh locks, hub and bus."""
        self._lock = threading.Lock()
        self.rate.after_fork()
        self.hub = live_service.Hub()
        self.bus = live_service.open_bus(self._config_bus, self.engine)
        self._started, self._pid = False, 0

    def ensure_listening(self) -> None:
        """One bus subscription per process (after a fork: the child's own), fanned out by the hub."""
        if self._started and self._pid == os.getpid():
            return
        with self._lock:
            if not (self._started and self._pid == os.getpid()):
                if self._started:  # a forked child: the parent's listener thread did not come along
                    self.bus = live_service.open_bus(self._config_bus, self.engine)
                    self.hub = live_service.Hub()
                self.bus.start(on_message=self.hub.deliver, owner=self._app(), on_connected=self.hub.wake_all)
                self._started, self._pid = True, os.getpid()

    def ingest_lane(self) -> "live_service.FastLane | None":
        """The fast lane for webhooks: only where its NOTIFY is what the processes listen to."""
        return self.ingest if self.ingest is not None and live_service.notifies_in_transaction(self.bus) else None

    def publish(self, event: dict[str, Any], connection: Any = None) -> None:
        self.bus.publish(event["stall"], event["id"], connection=connection, event=event)

    def drain(self, spread_seconds: float) -> int:
        """The process is stopping: end its streams over ``spread_seconds`` (they resume elsewhere)."""
        return self.hub.close(spread_seconds)

    def close(self) -> None:
        """Stop the bus listener and the announcers (the app is going away)."""
        self.bus.stop(timeout=2.0)
        for lane in (self.lane, self.ingest):
            if lane is not None:
                lane.close()
        for sink in self.sinks:
            closing = getattr(sink, "close", None)
            if closing is not None:
                closing()


def close(app: Flask) -> None:
    """Stop ``app``'s live machinery (its bus listener): tests and embedding servers call this."""
    state = app.extensions.get("market40.live")
    if state is not None:
        state.close()


def _live() -> _Live:
    return current_app.extensions["market40.live"]


# ------------------------------------------------------------------ webhooks

def _refuse(source: str, status: int, reason: str, size: int | None = None) -> Any:
    live_service.record_refusal(get_session(), source, status, reason, address=client_address(), size=size)
    return jsonify({"success": False, "error": reason}), status


@bp.post("/hook/<source>")
@public
def hook(source: str) -> Any:
    sources = current_app.config["LIVE_SOURCES"]
    src = sources.get(source)
    if src is None:
        return _refuse(source[:40], 404, "unknown source")
    allowed = request.environ.get(_RATE_COUNTED)  # the door (below) counted this request already
    if not (allowed if allowed is not None else _live().rate.allow(src)):
        return _refuse(src.name, 429, "rate limit")
    if request.mimetype != "application/json":
        return _refuse(src.name, 415, "content type")
    length = request.content_length
    if length is not None and length > webhooks.MAX_BODY:
        return _refuse(src.name, 413, "body too large", length)
    body = request.stream.read(webhooks.MAX_BODY + 1)
    if len(body) > webhooks.MAX_BODY:
        return _refuse(src.name, 413, "body too large", len(body))
    try:
        webhooks.verify(src, request.headers, body)
        incoming = webhooks.parse(src, body)
    except webhooks.Refused as refused:
        return _refuse(src.name, refused.status, refused.reason)
    state = _live()
    lane = state.ingest_lane()
    result = lane.receive(src, incoming) if lane is not None else None
    if result is not None:  # stored and announced (NOTIFY committed with the row), or a duplicate
        if result.event is not None:
            _announce_sinks(state, result.event)
        return jsonify(webhooks.response(src)), 200
    db = get_session()
    result = live_service.receive(db, src, incoming)
    bill_keys = _fee_hook(db, result)  # market fees (issue #11): see _fee_hook
    notify_in_transaction = live_service.notifies_in_transaction(state.bus)
    if result.event is not None and notify_in_transaction:
        state.publish(result.event, connection=db.connection())
    db.commit()
    if result.event is not None:
        if not notify_in_transaction:
            try:
                state.publish(result.event)
            except Exception:  # stored: the pages get it when they next read the store or reconnect
                current_app.logger.exception("live bus publish failed")
        _announce_sinks(state, result.event)
    _fee_announce(state, bill_keys, result)
    return jsonify(webhooks.response(src)), 200


# ------------------------------------------------------------------ the webhook door (before Flask)

_RATE_COUNTED = "market40.live.rate_allowed"


def _install_door(app: Flask) -> None:
    """Webhooks through :class:`_HookDoor`, inside a ProxyFix when there is one (it sets the scheme)."""
    from werkzeug.middleware.proxy_fix import ProxyFix
    if isinstance(app.wsgi_app, ProxyFix):
        app.wsgi_app.app = _HookDoor(app, app.wsgi_app.app)
    else:
        app.wsgi_app = _HookDoor(app, app.wsgi_app)  # type: ignore[method-assign]


class _HookDoor:
    """``POST /hook/<source>`` answered at the WSGI level when nothing in it is refused and the fast
    lane stores it: at 200 webhooks a second, Flask's request machinery (context, session, a dozen
    hooks, the response object) cost as much as the webhook's own work.

    Every check of :func:`hook` is made here first, in the same order — a known source, its rate
    (counted once: the view is told the answer), the content type, the size, the signature and its
    replay window, the body — and on **any** refusal, or anything the fast lane leaves to the full
    path, the request goes on to Flask with its body as read, where the view refuses and audits it
    (or stores it) as before. What is answered here is what the view answers: the provider's success
    body and the app's security headers. Nothing else skips Flask: the schema guard (until the
    version is known to be current), a query string, a NUL, an untrusted host all go on to it.
    """

    def __init__(self, app: Flask, inner: Any) -> None:
        from .security import HEADERS, HSTS
        self._app = weakref.ref(app)
        self.inner = inner
        # as the view's answer has them (Flask adds Vary: Cookie: every request reads the session)
        self._headers = [*HEADERS.items(), ("Cache-Control", "no-store"), ("Vary", "Cookie")]
        self._hsts = ("Strict-Transport-Security", HSTS)
        self._bodies: dict[str, bytes] = {}

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("REQUEST_METHOD") == "POST" and environ.get("PATH_INFO", "").startswith("/hook/"):
            answered = self._answer(environ, start_response)
            if answered is not None:
                return answered
        return self.inner(environ, start_response)

    def _answer(self, environ: dict[str, Any], start_response: Any) -> list[bytes] | None:
        app = self._app()
        if app is None or app.extensions.get("market40.schema") != "current":
            return None  # the schema guard answers first
        path = environ["PATH_INFO"]
        src = app.config["LIVE_SOURCES"].get(path[6:])
        state = app.extensions.get("market40.live")
        if src is None or state is None or environ.get("QUERY_STRING") or "\x00" in path:
            return None
        if app.config.get("TRUSTED_HOSTS"):
            from werkzeug.exceptions import SecurityError
            from werkzeug.wsgi import get_host
            try:
                get_host(environ, app.config["TRUSTED_HOSTS"])
            except SecurityError:
                return None
        lane = state.ingest_lane()
        if lane is None:
            return None
        allowed = state.rate.allow(src, app)
        environ[_RATE_COUNTED] = allowed
        if not allowed:
            return None
        if environ.get("CONTENT_TYPE", "").split(";", 1)[0].strip().lower() != "application/json":
            return None
        try:
            length = int(environ.get("CONTENT_LENGTH") or "")
        except ValueError:
            return None
        if not 0 <= length <= min(webhooks.MAX_BODY, app.config.get("MAX_CONTENT_LENGTH") or webhooks.MAX_BODY):
            return None
        body = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(body)  # read again by Flask if the view takes it from here
        if len(body) != length:
            return None
        headers = {key[5:].replace("_", "-"): value for key, value in environ.items() if key.startswith("HTTP_")}
        headers["Content-Type"] = environ.get("CONTENT_TYPE", "")
        try:
            webhooks.verify(src, headers, body)
            incoming = webhooks.parse(src, body)
        except webhooks.Refused:
            return None
        try:
            result = lane.receive(src, incoming)
        except Exception:  # the view tries the full path and answers (storing is idempotent)
            app.logger.exception("live fast lane failed; the full path takes the webhook")
            return None
        if result is None:
            return None
        if result.event is not None:
            for sink in state.sinks:
                try:
                    sink(result.event)
                except Exception:  # an announcer's failure never loses a stored transfer
                    app.logger.exception("live announcer failed")
        answer = self._bodies.get(src.provider)
        if answer is None:
            answer = self._bodies[src.provider] = (app.json.dumps(webhooks.response(src), separators=(",", ":"))
                                                    + "\n").encode()  # as jsonify writes it
        headers_out = [("Content-Type", "application/json"), ("Content-Length", str(len(answer))), *self._headers]
        tls = app.config.get("TLS", "auto")
        if tls == "always" or (tls == "auto" and environ.get("wsgi.url_scheme") == "https"):
            headers_out.append(self._hsts)
        start_response("200 OK", headers_out)
        return [answer]


def _announce_sinks(state: "_Live", event: dict[str, Any]) -> None:
    for sink in state.sinks:
        try:
            sink(event)
        except Exception:  # an announcer's failure never loses a stored transfer
            current_app.logger.exception("live announcer failed")


# ------------------------------------------------------------------ market fees (issue #11)
# A transfer to a market board's collection account pays bills (market40.services.fees.match_live,
# in the webhook's transaction); the bus then wakes the bill pages of the stalls paid and of the
# board (hub keys: stall ids, and -market id for the board's list; see web/board.py's streams).

def _fee_hook(db: Session, result: Any) -> list[int]:
    if result.outcome != "stored" or result.transfer is None or not result.to_fee_account:
        return []  # most webhooks: no savepoint, no second look-up
    from market40.services import fees as fee_service
    try:
        with db.begin_nested():  # a failure here never loses the stored transfer
            return fee_service.match_live(db, result.transfer)
    except Exception:
        current_app.logger.exception("fee matching of a live transfer failed")
        return []


def _fee_announce(state: "_Live", keys: list[int], result: Any) -> None:
    for key in keys:
        state.bus.publish(key, result.transfer.id)
        state.hub.wake(key)  # this process's pages at once (the poll bus carries stall transfers only)


# ------------------------------------------------------------------ who is watching

class _Viewer:
    """The stall a page or stream shows: an owner's own, or the one a helper's code opens."""

    def __init__(self, stall_id: int, actor: Actor, helper: bool, watch_id: int | None = None) -> None:
        self.stall_id, self.actor, self.helper, self.watch_id = stall_id, actor, helper, watch_id


def _owner_viewer() -> _Viewer:
    if g.user.stall_id is None:
        abort(404)
    return _Viewer(g.user.stall_id, Actor(name=f"user:{g.user.id}", role="owner", user_id=g.user.id,
                                          markets=frozenset(), localities=frozenset(), stall_id=g.user.stall_id),
                   helper=False)


def _helper_viewer(required: bool = True) -> _Viewer | None:
    watch_id = session.get("watch")
    lane = _live().lane
    if lane is not None:  # one plain query (a stream's connect pays for this; 15,000 of them after a restart)
        stall_id = lane.watch_stall(watch_id)
    else:
        row = live_service.active_watch(get_session(), watch_id)
        stall_id = None if row is None else row.stall_id
    if stall_id is None:
        session.pop("watch", None)
        if required:
            abort(403)
        return None
    return _Viewer(stall_id, Actor(name=f"watch:{watch_id}", role="helper", stall_id=stall_id), True, watch_id)


def _stall_title(stall_id: int) -> str:
    return live_service.stall_title(get_session(), stall_id)


# ------------------------------------------------------------------ the loa page

def _today() -> date:
    return datetime.now(VN_TZ).date()


def _page(viewer: _Viewer) -> Any:
    db = get_session()
    today = live_service.day_view(db, viewer.stall_id, _today())
    last = max((r["id"] for r in today.rows), default=0)
    if not last:
        last = live_service.last_event_id(db, viewer.stall_id)
    pending = None
    wanted = request.args.get("r", type=int)
    if wanted:
        try:
            row, _payload = live_service.request_payload(db, viewer.stall_id, wanted)
            if row.expires_at > live_service.utcnow():
                pending = row
        except NotFound:
            pending = None
    prefix = "live.watch" if viewer.helper else "live.loa"
    return render_template("live/loa.html", viewer=viewer, today=today, last=last, pending=pending,
                           stall_title=_stall_title(viewer.stall_id), count=count, money=money,
                           stream_url=url_for(f"{prefix}_stream"), collect_url=url_for(f"{prefix}_collect"),
                           qr_endpoint=f"{prefix}_qr", request_minutes=live_service.REQUEST_MINUTES)


@bp.get("/loa/")
@roles_required("owner")
def loa() -> Any:
    return _page(_owner_viewer())


@bp.get("/loa/xem")
@public
def watch() -> Any:
    viewer = _helper_viewer(required=False)
    if viewer is None:
        return render_template("live/watch_code.html", error=None)
    return _page(viewer)


@bp.post("/loa/xem")
@public
def watch_enter() -> Any:
    _taken, wait = current_app.extensions["market40.limits"].take(
        [(current_app.config["LIVE_WATCH_RATE"], f"live-watch:{client_address()}")])
    if wait is not None:
        return render_template("live/watch_code.html", error=_("Bạn đã thử quá nhiều lần. Vui lòng đợi một phút.")), 429
    row = live_service.watch_stall(get_session(), current_app.config["SECRET_KEY"], request.form.get("code", ""))
    if row is None:
        live_service.record_refusal(get_session(), "watch-code", 403, "unknown or revoked code",
                                    address=client_address())
        return render_template("live/watch_code.html", error=_("Mã không đúng hoặc đã bị thu hồi.")), 403
    session.clear()  # a helper's session is only this code
    session["watch"] = row.id
    return redirect(url_for("live.watch"))


# ------------------------------------------------------------------ the stream

def _sse(event: dict[str, Any], event_id: str) -> str:
    return f"id: {event_id}\nevent: payment\ndata: {json.dumps(event, ensure_ascii=False)}\n\n"


def parse_last_event_id(*values: str) -> tuple[int, set[int]]:
    """The position a page resumes from: ``"<highest id>"`` or ``"<highest id>.<id>.<id>…"``, the
    latter naming the lower ids it has also received lately (ids may commit out of order, so a
    lower id can arrive after a higher one). Anything else counts as nothing.

    >>> last, known = parse_last_event_id("41.38.40", "12")
    >>> last, sorted(known)
    (41, [38, 40, 41])
    """
    last, known = 0, set()
    for value in values:
        parts = (value or "").strip().split(".")
        if not parts or not all(p.isdigit() and len(p) <= 18 for p in parts):
            continue
        ids = [int(p) for p in parts[: RECENT_IDS + 1]]
        if ids[0] >= last:
            last, known = ids[0], set(ids)
    return last, known


class _Position:
    """What one stream has sent: the highest id and the ids sent lately (carried in its event ids)."""

    __slots__ = ("last", "recent")

    def __init__(self, last: int, known: set[int]) -> None:
        self.last = last
        now = time.monotonic()
        self.recent: dict[int, float] = {i: now for i in known}

    def add(self, event_id: int) -> bool:
        """False if this id was sent already."""
        if event_id in self.recent:
            return False
        now = time.monotonic()
        self.recent[event_id] = now
        self.last = max(self.last, event_id)
        if len(self.recent) > RECENT_IDS:
            for key in sorted(self.recent, key=self.recent.__getitem__)[: len(self.recent) - RECENT_IDS]:
                del self.recent[key]
        return True

    def token(self) -> str:
        lower = sorted((i for i in self.recent if i < self.last), reverse=True)
        return ".".join(str(i) for i in [self.last, *lower])


def _stream(viewer: _Viewer) -> Response:
    """The stall's events: first those missed since ``Last-Event-ID`` (read from the store), then each
    one as the bus hands it to this process. An idle stream costs a sleeping greenlet and a heartbeat
    line, never a query; its events come in the bus message itself (a stream reads the store only when
    resuming, when a message had no event, or when it fell behind)."""
    state = _live()
    state.ensure_listening()
    engine = state.engine
    config = current_app.config
    last, known = parse_last_event_id(request.args.get("after", ""), request.headers.get("Last-Event-ID", ""))
    resumed = bool(last)
    stall_id, watch_id = viewer.stall_id, viewer.watch_id
    seconds, heartbeat = float(config["LIVE_STREAM_SECONDS"]), float(config["LIVE_HEARTBEAT_SECONDS"])

    lane = state.lane

    def still_allowed(db: Session | None) -> bool:
        if watch_id is None:
            return True
        if db is None:
            return lane.watch_stall(watch_id) is not None  # type: ignore[union-attr]
        return live_service.active_watch(db, watch_id) is not None

    def read(first: bool, since: datetime | None) -> list[dict[str, Any]] | None:
        """The stall's events after the position (None: the helper's code was revoked meanwhile)."""
        if lane is not None:  # PostgreSQL: one query on the driver
            if not first and not still_allowed(None):
                return None
            return lane.events_after(stall_id, position.last, since=since)
        with Session(engine) as db:
            if not first and not still_allowed(db):  # the view has just checked it
                return None
            return live_service.events_after(db, stall_id, position.last, since=since)

    position = _Position(last, known)

    def generate() -> Iterator[str]:
        # Registered before the first read: what commits meanwhile is queued, and sent once.
        waiter = state.hub.register(stall_id)
        # Streams end at staggered times, so thousands of pages do not all reconnect at once.
        deadline = time.monotonic() + seconds * random.uniform(0.8, 1.2)
        read_since = live_service.utcnow() - timedelta(seconds=RESUME_SECONDS) if resumed else None
        read_store = True  # once at the start, then only when a message came without its event
        try:
            yield f"retry: {RETRY_MS}\n\n"
            while True:
                if read_store or waiter.stale:
                    first, waiter.stale = read_store, False
                    events = read(first, read_since)
                    if events is None:
                        yield "event: revoked\ndata: {}\n\n"
                        return
                    read_store, read_since = False, live_service.utcnow() - timedelta(seconds=RECENT_SECONDS)
                    for event in events:
                        if position.add(event["id"]):
                            yield _sse(event, position.token())
                for message in waiter.take():
                    notice = message.get("notice")
                    if notice is not None:
                        if watch_id is not None and notice.get("revoked") == watch_id:
                            yield "event: revoked\ndata: {}\n\n"
                            return
                        continue
                    event = message.get("event")
                    if event is not None and position.add(int(event["id"])):
                        yield _sse(event, position.token())
                if waiter.closing:
                    # a jittered delay: the pages of one stopping process do not all come back together
                    yield f"retry: {CLOSING_RETRY_MS + random.randrange(CLOSING_JITTER_MS)}\n\n"
                    return  # the process is stopping: the page resumes on another one from its last id
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return  # the page reconnects (Last-Event-ID), which also checks a helper's code again
                if not waiter.wait(min(heartbeat, remaining)) and not waiter.queue and not waiter.stale:
                    yield ": ping\n\n"
        finally:
            state.hub.unregister(waiter)

    # Nothing of the request is kept for the stream's lifetime (no request context, no pooled
    # connection): the generator uses only the values above, and a short session when it reads.
    request_session = g.pop("db", None)
    if request_session is not None:
        request_session.commit()
        request_session.close()
    response = Response(generate(), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"  # nginx: pass events through at once
    return response


@bp.get("/loa/stream")
@roles_required("owner")
def loa_stream() -> Any:
    return _stream(_owner_viewer())


@bp.get("/loa/xem/stream")
@public
def watch_stream() -> Any:
    return _stream(_helper_viewer())


# ------------------------------------------------------------------ collect an exact amount

def _collect(viewer: _Viewer, page: str) -> Any:
    from market40.vietqr import parse_amount
    db = get_session()
    try:
        amount = parse_amount(request.form.get("amount", ""))
        made = live_service.create_request(db, viewer.actor, viewer.stall_id, amount)
        live_service.request_payload(db, viewer.stall_id, made.id)
    except ValidationError:
        return redirect(url_for(page, bad=1))
    except NotFound:
        abort(409)
    db.commit()
    return redirect(url_for(page, r=made.id))


@bp.post("/loa/thu")
@roles_required("owner")
def loa_collect() -> Any:
    return _collect(_owner_viewer(), "live.loa")


@bp.post("/loa/xem/thu")
@public
def watch_collect() -> Any:
    return _collect(_helper_viewer(), "live.watch")


def _qr(viewer: _Viewer) -> Any:
    try:
        row, payload = live_service.request_payload(get_session(), viewer.stall_id, request.args.get("r", type=int) or 0)
    except NotFound:
        abort(404)
    if row.expires_at <= live_service.utcnow():
        abort(404)
    return Response(qr_png(payload), mimetype="image/png")


@bp.get("/loa/qr.png")
@roles_required("owner")
def loa_qr() -> Any:
    return _qr(_owner_viewer())


@bp.get("/loa/xem/qr.png")
@public
def watch_qr() -> Any:
    return _qr(_helper_viewer())


# ------------------------------------------------------------------ helpers' codes (owner only)

@bp.route("/loa/nguoi-nha", methods=["GET", "POST"])
@roles_required("owner")
def helpers() -> Any:
    viewer = _owner_viewer()
    db = get_session()
    created = None
    revoked = None
    if request.method == "POST":
        if request.form.get("revoke", "").isdigit():
            try:
                live_service.revoke_watch(db, viewer.actor, int(request.form["revoke"]))
            except NotFound:
                abort(404)
            revoked = int(request.form["revoke"])
        else:
            row, code = live_service.create_watch(db, viewer.actor, current_app.config["SECRET_KEY"],
                                                  request.form.get("label", ""))
            created = (row, code)
        db.commit()
        if revoked is not None:  # the helper's open streams end now, in whichever process they are
            state = _live()
            state.ensure_listening()
            try:
                state.bus.publish_notice(viewer.stall_id, {"revoked": revoked})
            except Exception:  # they end at their next read of the store or reconnect anyway
                current_app.logger.exception("live bus notice failed")
    return render_template("live/helpers.html", watches=live_service.watches(db, viewer.stall_id), created=created,
                           link=url_for("live.watch", _external=True))


# ------------------------------------------------------------------ the owner's book (day, month, XLSX)

@bp.get("/loa/so")
@roles_required("owner")
def book() -> Any:
    viewer = _owner_viewer()
    db = get_session()
    title = _stall_title(viewer.stall_id)
    month = request.args.get("m")
    if month:
        try:
            period = Period.parse(month)
        except Market40Error:
            abort(404)
        days = live_service.month_view(db, viewer.stall_id, period)
        if request.args.get("format") == "xlsx":
            return _xlsx(live_service.month_xlsx(days, f"{title} · {period}"), f"so-thu-{period}.xlsx")
        return render_template("live/month.html", period=period, days=days, money=money,
                               total=sum(d[2] for d in days), count=sum(d[1] for d in days))
    try:
        day = date.fromisoformat(request.args.get("d") or _today().isoformat())
    except ValueError:
        abort(404)
    view = live_service.day_view(db, viewer.stall_id, day)
    if request.args.get("format") == "xlsx":
        return _xlsx(live_service.day_xlsx(view, f"{title} · {day.strftime('%d/%m/%Y')}"), f"so-thu-{day}.xlsx")
    return render_template("live/day.html", view=view, money=money, period=Period.of(datetime(day.year, day.month, 1)),
                           previous=day - timedelta(days=1), following=day + timedelta(days=1))


def _xlsx(data: bytes, filename: str) -> Response:
    response = Response(data, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# ------------------------------------------------------------------ staff: is each stall's feed live?

@bp.get("/loa/cho/<market>")
@roles_required("staff", "admin")
def feeds(market: str) -> Any:
    found = registry().market(market)  # scoped: another market's staff get 404
    rows = live_service.feed_status(get_session(), found.id)
    now = live_service.utcnow()
    for row in rows:
        last = row["last"]
        row["state"] = ("live" if last and now - last <= timedelta(days=1) else "quiet" if last else "none")
    return render_template("live/feeds.html", market=found, rows=rows)
