"""Serving the app in production: waitress, threads, and optionally several processes.

Waitress runs the app in one process with ``threads`` worker threads. Python runs one
thread at a time, so on a machine with several cores ``processes`` > 1 forks that many
copies that share one listening socket (POSIX only); each opens its own database
connections after the fork. With more than one process, in-memory rate limits count per
process: point ``MARKET40_RATELIMIT_STORAGE`` at Redis to count across them.
"""
from __future__ import annotations

import os
import signal
import socket
import sys
from typing import Any, Callable, Mapping

__all__ = ["serve"]


def _listen(host: str, port: int) -> socket.socket:
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(address)
    sock.listen(1024)
    return sock


def _run_one(config: Mapping[str, Any], sock: socket.socket, threads: int,
             ready: Callable[[], None] | None = None) -> None:
    from waitress.server import create_server

    from . import create_app
    app = create_app(dict(config))
    server = create_server(app, sockets=[sock], threads=threads, ident="market40")
    if ready:
        ready()
    try:
        server.run()
    finally:
        server.close()
        app.extensions["market40.engine"].dispose()


def serve(config: Mapping[str, Any], *, host: str = "127.0.0.1", port: int = 8000, threads: int = 4,
          processes: int = 1, ready: Callable[[str], None] | None = None) -> None:
    """Serve until SIGINT or SIGTERM; ``ready`` is called with the base URL once listening."""
    sock = _listen(host, port)
    bound_host, bound_port = sock.getsockname()[:2]
    shown = f"[{bound_host}]" if ":" in str(bound_host) else bound_host
    url = f"http://{shown}:{bound_port}/"

    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    if processes <= 1:
        try:
            _run_one(config, sock, threads, ready=(lambda: ready(url)) if ready else None)
        except KeyboardInterrupt:
            pass
        finally:
            sock.close()
        return
    if not hasattr(os, "fork"):
        raise RuntimeError("several processes need os.fork (POSIX); use processes=1 here")
    children: list[int] = []
    for _ in range(processes):
        pid = os.fork()
        if pid == 0:  # a worker: its own app, engine and threads on the shared socket
            code = 0
            try:
                signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
                signal.signal(signal.SIGTERM, stop)
                _run_one(config, sock, threads)
            except SystemExit:
                pass
            except BaseException:  # pragma: no cover - reported, then the parent stops the others
                import traceback
                traceback.print_exc()
                code = 1
            finally:
                os._exit(code)
        children.append(pid)
    if ready:
        ready(url)
    failed = False
    try:
        pid, status = os.wait()  # a worker ending on its own is a failure: stop the rest
        children.remove(pid)
        failed = True
        print(f"market40: worker process {pid} stopped (status {status}); stopping", file=sys.stderr)
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        for pid in children:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for pid in children:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        sock.close()
    if failed:
        raise SystemExit(1)
