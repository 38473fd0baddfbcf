"""Serving the app in production.

One process: waitress with ``threads`` worker threads (it runs the same on Linux and on
the Windows PCs of a market office). Several processes (POSIX): gunicorn, a production
pre-fork server, with ``processes`` workers of ``threads`` threads each on one listening
socket; it restarts a worker that dies, and on SIGTERM or SIGINT it stops every worker
within ``GRACEFUL_SECONDS`` (a worker that ignores the signal is killed), so a stop never
hangs. Each worker opens its own database connections after the fork. With more than one
process, in-memory rate limits count per process: point ``MARKET40_RATELIMIT_STORAGE`` at
Redis to count across them.

The gunicorn workers are gevent workers when gevent is installed (live payments: an open loa
stream is a sleeping greenlet of a few KB, so one process holds thousands of them, where a
threaded server spends a thread, with its stack, on each), up to ``MARKET40_WORKER_CONNECTIONS``
(20,000) each.
"""
from __future__ import annotations

import errno
import logging
import os
import signal
import socket
import time
from typing import Any, Callable, Mapping

__all__ = ["serve", "GRACEFUL_SECONDS", "CannotListen"]

#: How long a stopping server lets requests in flight finish before it kills its workers.
GRACEFUL_SECONDS = 10
#: A stopping gevent worker ends its open loa streams over this many seconds (well inside
#: GRACEFUL_SECONDS): each page resumes on another worker from its ``Last-Event-ID`` and the store
#: replays what it missed, while the streams not yet ended keep receiving; a restart (``kill -HUP``
#: of the arbiter: new workers first, then the old ones stop) thus has no reconnection storm and no gap.
DRAIN_SECONDS = 5.0
#: A rolling restart (``kill -HUP``) is no stop: the old worker keeps its streams, still listening on
#: the bus and delivering, and hands them to the new workers at this many streams a second (but over
#: at least DRAIN_SECONDS), so 15,000 pages reconnect over four minutes or so, not all at once; the new
#: workers each pay one cheap connect per page and nothing is missed (``Last-Event-ID``).
ROLLING_DRAIN_RATE = 30.0
#: ... and never longer than this (the old worker's graceful timeout is stretched to fit it).
ROLLING_DRAIN_MAX = 300.0
#: A gevent worker collects all its garbage on this clock (:func:`_collect_on_schedule`), not by Python's rule.
FULL_COLLECTION_SECONDS = 300.0
#: Connections waiting to be accepted (15,000 pages reconnecting after a restart; the kernel caps it
#: at net.core.somaxconn).
BACKLOG = 4096


def raise_open_files() -> int:
    """Allow as many open files (sockets) as the hard limit does: each open loa stream is one."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return 0
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return soft


def _after_patching(worker: Any) -> None:
    """The app was built in the arbiter, before gevent patched ``threading``: its locks are OS locks,
    and a greenlet waiting on one (a full connection pool, a second stream starting the bus listener)
    stops every greenlet of the worker until gunicorn kills it. Rebuild them as gevent's."""
    app = worker.wsgi
    extensions = getattr(app, "extensions", {})
    if "market40.engine" in extensions:
        extensions["market40.engine"].dispose(close=False)
    live = extensions.get("market40.live")
    if live is not None:
        live.after_fork()
        live.ensure_listening()  # subscribed before the first page arrives


def gc_period(value: str | None) -> tuple[float, str | None]:
    """``MARKET40_GC_SECONDS`` as a period (seconds, at least 1), and a warning when it is not one.

    >>> gc_period(None), gc_period("120")
    ((300.0, None), (120.0, None))
    >>> gc_period("0")[1]
    "MARKET40_GC_SECONDS must be a number of seconds of at least 1, not '0': using 300"
    """
    if value is None or not value.strip():
        return FULL_COLLECTION_SECONDS, None
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if not 1 <= seconds < float("inf"):
        return FULL_COLLECTION_SECONDS, (f"MARKET40_GC_SECONDS must be a number of seconds of at least 1, not {value!r}: "
                                         f"using {FULL_COLLECTION_SECONDS:g}")
    return seconds, None


def _collect_on_schedule(seconds: float | None = None, warn: Callable[[str], None] | None = None) -> None:
    """In a gevent worker: the app's own objects (built before the fork) set aside for good, and full
    garbage collections every :data:`FULL_COLLECTION_SECONDS` (``MARKET40_GC_SECONDS``) instead of
    whenever the old objects have grown by a quarter.

    A full collection looks at every object of the process, each open stream's included, with every
    greenlet stopped. By Python's rule, while 15,000 pages connect (at the start, or moving to the new
    workers of a restart) the heap grows by a quarter every second or two: bench_live saw a full
    collection that often, each longer than the last, 0.2–0.95 s. On the clock it is one such pause every
    few minutes. Young collections run as before (most garbage dies young); what reaches the oldest
    generation waits at most one period to be collected.
    """
    import gc
    import threading
    import time
    period = seconds
    if period is None:
        period, problem = gc_period(os.environ.get("MARKET40_GC_SECONDS"))
        if problem and warn:
            warn(problem)
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, 2**31 - 1)  # the oldest generation: never by the count

    def collect() -> None:
        while True:
            time.sleep(period)
            gc.collect()

    threading.Thread(target=collect, name="market40-gc", daemon=True).start()  # a greenlet under gevent


def _collect_before_exit(arbiter: Any, worker: Any) -> None:
    """A stopping worker collects what :func:`_collect_on_schedule` set aside while every module is still
    whole. Left frozen, those objects were freed only by the interpreter's teardown, after gevent's modules
    had been cleared: a logging handler's clean-up then failed, and every worker's stop printed a traceback
    ("Exception ignored in: <function _removeHandlerRef>") that looked like a crash."""
    import gc
    gc.unfreeze()
    gc.collect()


def rolling_spread(streams: int, rate: float | None = None, least: float | None = None,
                   most: float = ROLLING_DRAIN_MAX) -> float:
    """Seconds a worker replaced by a rolling restart takes to hand over ``streams`` open streams.

    >>> rolling_spread(7500, rate=100, least=5), rolling_spread(20, rate=100, least=5)
    (75.0, 5.0)
    """
    rate = rate or float(os.environ.get("MARKET40_ROLLING_DRAIN_RATE", ROLLING_DRAIN_RATE))
    least = float(os.environ.get("MARKET40_DRAIN_SECONDS", DRAIN_SECONDS)) if least is None else least
    return float(min(most, max(least, streams / rate)))


def _drain_when_stopping(worker: Any) -> None:
    """Once gunicorn tells ``worker`` to stop (``worker.alive`` turns False), end its open streams:
    a stop (SIGTERM) over :data:`DRAIN_SECONDS`; a replacement in a rolling restart (SIGUSR2 from
    :func:`_rolling_arbiter`) at :data:`ROLLING_DRAIN_RATE` streams a second, the graceful timeout
    stretched to fit, so the pages move to the new workers a few at a time."""
    import threading
    import time
    spread = float(os.environ.get("MARKET40_DRAIN_SECONDS", DRAIN_SECONDS))
    worker.market40_rolling = False

    def replaced(signum: int, frame: Any) -> None:
        worker.market40_rolling = True
        worker.alive = False

    signal.signal(signal.SIGUSR2, replaced)

    def watch() -> None:
        while worker.alive:
            time.sleep(0.2)
        live = worker.wsgi.extensions.get("market40.live") if hasattr(worker.wsgi, "extensions") else None
        if live is None:
            return
        if worker.market40_rolling:
            seconds = rolling_spread(live.hub.count())
            worker.cfg.set("graceful_timeout", int(max(worker.cfg.graceful_timeout, seconds + 15)))
            worker.log.info("Replaced: handing %d streams over in %.0f s", live.hub.count(), seconds)
            live.drain(seconds)
        else:
            live.drain(spread)

    threading.Thread(target=watch, name="market40-drain", daemon=True).start()


#: Why a socket could not listen, by errno (Windows reports its own WSA codes for the same causes).
_LISTEN_REASONS = {code: reason for names, reason in ((("EADDRINUSE", "WSAEADDRINUSE"), "in_use"),
                                                       (("EADDRNOTAVAIL", "WSAEADDRNOTAVAIL"), "not_here"),
                                                       (("EACCES", "WSAEACCES"), "permission"))
                   for name in names if (code := getattr(errno, name, None)) is not None}


class CannotListen(OSError):
    """The server cannot listen at ``host``:``port``. ``reason``: ``in_use``, ``not_here`` (no such address on
    this machine), ``permission`` (a port below 1024 needs the administrator), ``unknown_host``, or None when
    only ``detail``, the system's own words, says why."""

    def __init__(self, host: str, port: int, error: OSError) -> None:
        self.host, self.port = host, port
        self.reason = "unknown_host" if isinstance(error, socket.gaierror) else _LISTEN_REASONS.get(error.errno or 0)
        self.detail = error.strerror or str(error)
        super().__init__(error.errno, f"cannot listen on {host}:{port}: {self.reason or self.detail}")


def _listen(host: str, port: int) -> socket.socket:
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as error:
        raise CannotListen(host, port, error) from error
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(BACKLOG)
    except OSError as error:
        sock.close()
        raise CannotListen(host, port, error) from error
    return sock


def _url(address: Any) -> str:
    host, port = address[:2]
    shown = f"[{host}]" if ":" in str(host) else host
    return f"http://{shown}:{port}/"


class QueueDepthSampler(logging.Filter):
    """waitress warns "Task queue depth is N" for every request that finds its threads busy: under
    load, a line a request, written while it holds its dispatcher lock. Let one through per
    ``interval`` seconds, saying how many were held back and the deepest queue among them."""

    def __init__(self, interval: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.interval, self.clock = interval, clock
        self.next_at = 0.0
        self.held = 0
        self.deepest = 0

    def filter(self, record: logging.LogRecord) -> bool:
        depth = record.args[0] if isinstance(record.args, tuple) and record.args else 0
        now = self.clock()
        if now < self.next_at:
            self.held += 1
            self.deepest = max(self.deepest, depth if isinstance(depth, int) else 0)
            return False
        if self.held:
            record.msg = f"{record.msg} ({self.held} more warnings in the last {self.interval:.0f} s, deepest %d)"
            record.args = (*record.args, max(self.deepest, depth)) if isinstance(record.args, tuple) else record.args
        self.next_at, self.held, self.deepest = now + self.interval, 0, 0
        return True


def _stop_once(app: Any) -> Callable[[int, Any], None]:
    """The one-process server's SIGTERM and SIGINT: end the open streams, then stop, once.

    A second signal while stopping (Ctrl+C pressed twice, a supervisor such as ``timeout`` passing its
    own SIGTERM on) changes nothing. Run again inside the first, as a signal handler runs between any
    two steps of the main thread, it waited forever for the stream hub's lock the first one held, and
    the server neither answered nor exited."""
    stopping = False

    def stop(signum: int, frame: Any) -> None:
        nonlocal stopping
        if stopping:
            return
        stopping = True
        live = app.extensions.get("market40.live")
        if live is not None:  # end the open streams first: waitress gives its threads 5 s, then gives up
            live.drain(0)
        raise SystemExit(0)
    return stop


def _serve_waitress(config: Mapping[str, Any], host: str, port: int, threads: int,
                    ready: Callable[[str], None] | None) -> None:
    from waitress.server import create_server

    from . import create_app
    sock = _listen(host, port)

    app = create_app(dict(config))
    stop = _stop_once(app)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)  # Ctrl-C too
    queue_logger = logging.getLogger("waitress.queue")
    if not any(isinstance(f, QueueDepthSampler) for f in queue_logger.filters):
        queue_logger.addFilter(QueueDepthSampler())
    server = create_server(app, sockets=[sock], threads=threads, ident="market40")
    if ready:
        ready(_url(sock.getsockname()))
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        sock.close()
        app.extensions["market40.engine"].dispose()


def _serve_gunicorn(config: Mapping[str, Any], host: str, port: int, threads: int, processes: int,
                    ready: Callable[[str], None] | None, graceful: int = GRACEFUL_SECONDS) -> None:
    from gunicorn.app.base import BaseApplication

    from . import create_app
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    def when_ready(arbiter: Any) -> None:
        if ready:
            ready(_url(arbiter.LISTENERS[0].sock.getsockname()))

    def post_fork(arbiter: Any, worker: Any) -> None:
        # The app is built once, before the fork (a worker serves at once, even on a busy machine);
        # database connections are never shared across processes: each worker opens its own.
        arbiter.app.wsgi().extensions["market40.engine"].dispose(close=False)

    def post_worker_init(worker: Any) -> None:
        # Ctrl+C reaches the whole process group: only the arbiter decides when workers stop.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        _cooperative_psycopg()
        _after_patching(worker)
        _drain_when_stopping(worker)
        if settings_worker == "gevent":
            _collect_on_schedule(warn=worker.log.warning)

    settings_worker = _worker_class()
    if settings_worker == "gevent":
        # Thousands of greenlets share one worker's pool, each holding a connection for one short
        # transaction (an open stream holds none). Every connection the worker may open stays open:
        # with a pool of 6 and overflow beyond it, a worker busy with 8 requests or more opened and
        # closed a PostgreSQL connection (a server process forked) for about one page in eight (176
        # in 5 s at 16 at once) and its tail doubled. 16 a worker is the ceiling it had before (6 + 10),
        # and what old and new workers hold at once during a restart stays within PostgreSQL's default
        # max_connections (100) for two workers; a request finding all 16 busy waits for one.
        os.environ.setdefault("MARKET40_DB_POOL", "16")
        os.environ.setdefault("MARKET40_DB_OVERFLOW", "0")
    settings = {
        "bind": [bind], "workers": processes, "worker_class": settings_worker, "threads": threads,
        "worker_connections": int(os.environ.get("MARKET40_WORKER_CONNECTIONS", "20000")),
        "graceful_timeout": graceful, "timeout": 60, "keepalive": 5, "backlog": BACKLOG,
        "proc_name": "market40", "when_ready": when_ready, "post_worker_init": post_worker_init,
        "post_fork": post_fork, "worker_exit": _collect_before_exit, "accesslog": None, "errorlog": "-",
        "loglevel": "warning", "preload_app": True,
    }

    class Application(BaseApplication):  # type: ignore[misc]  # gunicorn's documented embedding
        def load_config(self) -> None:
            for key, value in settings.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            app = create_app(dict(config))
            _check_schema_once(app)
            return app

        def run(self) -> None:
            _rolling_arbiter()(self).run()

    try:
        Application().run()
    except SystemExit as stop:
        if stop.code not in (0, None):
            raise


def _check_schema_once(app: Any) -> None:
    """Read the schema version once in the arbiter, before the fork: otherwise each new worker's
    first requests (after a restart, thousands of loa pages at once) all read it and parse the
    migration scripts until one of them has noted it current (web/guards.py)."""
    from market40.services import storage
    try:
        found = storage.schema_state(app.extensions["market40.engine"])[0]
    except Exception:  # the guard reports it on the first request, as without this
        return
    if found == "current":
        app.extensions["market40.schema"] = "current"


def _rolling_arbiter() -> Any:
    """gunicorn's arbiter, with ``kill -HUP`` replacing the workers without a gap or a storm: the new
    workers are started first and the old ones are told to go (SIGUSR2) only once every new one runs,
    so some worker always accepts and each page moves once, to a new worker. (gunicorn's own HUP
    stops every old worker at once, and on a busy machine nothing accepts until the new ones have
    booted: every open loa page waits those seconds, then all reconnect together.) An old worker no
    longer accepts but keeps its streams, listening on the bus and delivering, and ends them a few
    at a time (:func:`rolling_spread`); each page resumes on a new worker with ``Last-Event-ID``."""
    import time

    from gunicorn.arbiter import Arbiter

    class RollingArbiter(Arbiter):  # type: ignore[misc]
        def reload(self) -> None:
            old = sorted(self.WORKERS, key=lambda p: self.WORKERS[p].age)
            self.log.info("Hang up: starting %d new workers, then handing over from the old ones", len(old))
            fresh = [self.spawn_worker() for _ in old]
            for pid in fresh:
                self._wait_running(pid)
            for pid in old:
                if pid in self.WORKERS:
                    self.kill_worker(pid, signal.SIGUSR2)

        def manage_workers(self) -> None:
            """gunicorn stops the oldest workers when there are more than configured: not those
            handing their streams over (they leave by themselves once their last stream is gone)."""
            handing_over = getattr(self, "_handing_over", set()) & set(self.WORKERS)
            self._handing_over = handing_over
            if not handing_over:
                super().manage_workers()
                return
            for _ in range(self.num_workers - (len(self.WORKERS) - len(handing_over))):
                self.spawn_worker()  # a new worker died meanwhile

        def kill_worker(self, pid: int, sig: int) -> None:
            if sig == signal.SIGUSR2:
                self._handing_over = getattr(self, "_handing_over", set()) | {pid}
            super().kill_worker(pid, sig)

        def _wait_running(self, pid: int, limit: float = 60.0) -> None:
            """Until the worker's heartbeat file has changed twice (its serving loop runs), or it died."""
            worker = self.WORKERS.get(pid)
            if worker is None:
                return
            seen, changes = worker.tmp.last_update(), 0
            deadline = time.monotonic() + limit
            while changes < 2 and time.monotonic() < deadline:
                time.sleep(0.1)
                self.reap_workers()
                if pid not in self.WORKERS:
                    return
                now = worker.tmp.last_update()
                if now != seen:
                    seen, changes = now, changes + 1

    return RollingArbiter


def _cooperative_psycopg() -> None:
    """Under gevent, psycopg must wait on the (patched) ``select``: it chose its C wait function when
    the arbiter imported it before the fork, and that one blocks every greenlet of the worker."""
    import sys
    monkey = sys.modules.get("gevent.monkey")
    if monkey is None or not monkey.is_module_patched("select"):
        return
    try:
        import psycopg.waiting as waiting
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return
    # poll, not select: with thousands of open streams a database socket's number is above 1024,
    # which select() cannot watch ("filedescriptor out of range"); gevent patches both
    import select
    if hasattr(select, "poll") and monkey.is_object_patched("select", "poll"):
        waiting.wait = waiting.wait_poll  # type: ignore[assignment]
        waiting._ready = waiting._ready_poll  # type: ignore[attr-defined]
    else:
        waiting.wait = waiting.wait_select  # type: ignore[assignment]
        waiting._ready = waiting._ready_select  # type: ignore[attr-defined]
    # ... and connecting waits on the DefaultSelector it imported then (epoll): every new database
    # connection (the pool growing, the bus listener) froze the worker for the connection's round trips
    import selectors
    waiting.DefaultSelector = selectors.DefaultSelector  # type: ignore[attr-defined]


def _worker_class() -> str:
    """gevent when installed: each open loa stream is a greenlet, not a thread (see the README's
    "Serving model"); else gthread. ``MARKET40_WORKER_CLASS`` chooses explicitly."""
    chosen = os.environ.get("MARKET40_WORKER_CLASS")
    if chosen:
        return chosen
    try:
        import gevent  # noqa: F401
    except ImportError:
        return "gthread"
    return "gevent"


def serve(config: Mapping[str, Any], *, host: str = "127.0.0.1", port: int = 8000, threads: int = 4,
          processes: int = 1, ready: Callable[[str], None] | None = None,
          graceful: int = GRACEFUL_SECONDS) -> None:
    """Serve until SIGINT or SIGTERM; ``ready`` is called with the base URL once listening.

    ``graceful``: seconds a stopping worker may finish its requests before it is killed (several processes).
    """
    raise_open_files()
    if processes <= 1:
        _serve_waitress(config, host, port, threads, ready)
        return
    if not hasattr(os, "fork"):
        raise RuntimeError("several processes need a POSIX system (gunicorn); use processes=1 here")
    _listen(host, port).close()  # gunicorn binds it itself, but would retry for 5 s, then say it in its log
    _serve_gunicorn(config, host, port, threads, processes, ready, graceful)
