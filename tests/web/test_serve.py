"""``market40 serve``: waitress on 127.0.0.1:8000 by default, ``--demo`` on the demo province."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from market40 import db

ROOT = Path(__file__).resolve().parents[2]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "MARKET40_SECRET_KEY": "serve tests: a secret of 32+ bytes"}


def _start(tmp_path: Path, *args: str, **env: str) -> tuple[subprocess.Popen, str, list[str]]:
    process = subprocess.Popen([sys.executable, str(ROOT / "cli.py"), *args], cwd=tmp_path, env={**_env(), **env},
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line)
        found = re.search(r"market40 web app on (http://127\.0\.0\.1:\d+/)", line)
        if found:
            return process, found.group(1), lines
    process.wait(timeout=10)
    process.stdout.close()
    raise AssertionError("".join(lines))


def _stop(process: subprocess.Popen) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=20)
    finally:
        process.stdout.close()


def test_serve_help_names_the_defaults():
    from cli import main
    result = CliRunner().invoke(main, ["serve", "--help"])
    assert result.exit_code == 0
    for text in ("--host", "127.0.0.1", "--port", "8000", "--workers", "--processes", "--demo", "waitress", "gunicorn"):
        assert text in result.output


def test_serve_needs_a_registry(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "cli.py"), "--db", str(tmp_path / "none.db"), "serve"],
                            cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "no registry" in result.stderr


@pytest.mark.parametrize("processes", ["1", "2"])
def test_serve_on_a_port_in_use_says_so_in_a_line(tmp_path, processes):
    """A second server on the same port, or an address the machine does not have: one line in the run's
    language, exit 1; not a traceback (one process) nor five seconds of retries and a log (gunicorn)."""
    import socket
    path = str(tmp_path / "registry.db")
    db.upgrade(path)
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        for lang, expected in (("vi", f"không mở được máy chủ tại 127.0.0.1:{port}: cổng này đang có chương trình "
                                      "khác dùng"),
                               ("en", f"cannot serve on 127.0.0.1:{port}: another program is using this port")):
            result = subprocess.run([sys.executable, str(ROOT / "cli.py"), "--lang", lang, "--db", path, "serve",
                                     "--port", str(port), "--processes", processes],
                                    cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=60)
            assert result.returncode == 1 and expected in result.stderr, result.stderr
            assert "Traceback" not in result.stderr and "[ERROR]" not in result.stderr
    finally:
        taken.close()
    result = subprocess.run([sys.executable, str(ROOT / "cli.py"), "--lang", "vi", "--db", path, "serve",
                             "--host", "192.0.2.1", "--port", "0", "--processes", processes],  # TEST-NET-1: nobody's
                            cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "192.0.2.1:0: máy này không có địa chỉ đó" in result.stderr, result.stderr


@pytest.mark.parametrize("processes, server", [("1", "market40"), ("2", "gunicorn")])
def test_serve_runs_the_app(tmp_path, processes, server):
    path = str(tmp_path / "registry.db")
    db.upgrade(path)
    process, url, _ = _start(tmp_path, "--db", path, "serve", "--port", "0", "--processes", processes)
    try:
        for _ in range(4):
            with urllib.request.urlopen(url + "login", timeout=60) as response:
                assert response.status == 200 and "Đăng nhập" in response.read().decode()
                assert response.headers["Server"] == server  # no version is told
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=20)
        said = process.stdout.read()
        process.stdout.close()
    assert code == 0 and "Traceback" not in said and "Exception ignored" not in said, said  # a quiet stop


def _parent(proc: Path) -> int | None:
    try:
        return int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
def test_serve_stops_in_bounded_time_when_a_worker_ignores_sigterm(tmp_path):
    """A worker stuck in a request (here: one that ignores SIGTERM) is killed after the grace period."""
    import time

    grace = 2  # --graceful-timeout (default 10 s)
    path = str(tmp_path / "registry.db")
    db.upgrade(path)
    process, url, _ = _start(tmp_path, "--db", path, "serve", "--port", "0", "--processes", "2",
                             "--graceful-timeout", str(grace))
    try:
        with urllib.request.urlopen(url + "login", timeout=60) as response:
            assert response.status == 200
        workers = [entry.name for entry in Path("/proc").iterdir() if entry.name.isdigit()
                   and _parent(entry) == process.pid]
        assert len(workers) == 2
        for pid in workers:  # as if each were stuck and deaf to SIGTERM
            os.kill(int(pid), signal.SIGSTOP)
        started = time.monotonic()
        assert _stop(process) == 0
        assert time.monotonic() - started < grace + 8
        for pid in workers:
            assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()
    finally:
        if process.poll() is None:
            process.kill()


def test_serve_demo_prints_the_logins_and_cleans_up(tmp_path):
    process, url, lines = _start(tmp_path, "serve", "--demo", "--port", "0")
    try:
        output = "".join(lines)
        assert "demo-owner-2025" in output and "nv.halong" in output
        database = re.search(r"building the demo province into sqlite:///(\S+) ", output).group(1)
        assert Path(database).exists()
        with urllib.request.urlopen(url + "enrol", timeout=10) as response:
            assert "Chợ Hạ Long I (HL1)" in response.read().decode()
    finally:
        assert _stop(process) == 0
    assert not Path(database).exists()


def test_serve_demo_refuses_a_registry_with_data(tmp_path):
    path = str(tmp_path / "busy.db")
    db.upgrade(path)
    from sqlmodel import Session

    from market40.services.registry import Actor, Registry
    engine = db.make_engine(path)
    with Session(engine) as session:
        registry = Registry(session, Actor.operator("tests"))
        from datetime import date
        registry.add_locality(code="L1", name="Phường", kind="commune", unit_type="phường", province="QN",
                              valid_from=date(2025, 7, 1))
        registry.save_market(code="M1", name="Chợ", locality="L1")
        registry.save_stall("M1", code="A-1", owner_name="Chủ")
        session.commit()
    engine.dispose()
    result = subprocess.run([sys.executable, str(ROOT / "cli.py"), "--db", path, "serve", "--demo"], cwd=tmp_path,
                            env=_env(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "already holds a registry" in result.stderr


def test_waitress_queue_warnings_are_sampled_not_written_per_request():
    import logging

    from web.server import QueueDepthSampler

    now = [100.0]
    sampler = QueueDepthSampler(interval=60, clock=lambda: now[0])

    def warn(depth):
        return logging.LogRecord("waitress.queue", logging.WARNING, __file__, 1, "Task queue depth is %d",
                                 (depth,), None)

    first = warn(3)
    assert sampler.filter(first) and first.getMessage() == "Task queue depth is 3"
    assert not any(sampler.filter(warn(d)) for d in (5, 9, 2))  # within the minute: held back
    now[0] += 61
    summary = warn(4)
    assert sampler.filter(summary)
    assert summary.getMessage() == "Task queue depth is 4 (3 more warnings in the last 60 s, deepest 9)"
    now[0] += 61
    quiet = warn(1)
    assert sampler.filter(quiet) and quiet.getMessage() == "Task queue depth is 1"


def test_a_second_stop_signal_while_stopping_changes_nothing():
    """Two SIGTERMs at once (a supervisor passing its own on) or Ctrl+C twice: the second lands while the
    first is ending the streams, holding the stream hub's lock. It must return at once; run again, it
    waited for that lock forever and the server neither answered nor exited."""
    import threading
    from types import SimpleNamespace

    from market40.services import live as live_service
    from web.server import _stop_once

    hub = live_service.Hub()
    stream = hub.register(7)  # an open loa page

    class SignalInside:
        """The hub's lock, with the second signal arriving while it is held."""

        def __init__(self):
            self.lock, self.fired = threading.Lock(), False

        def __enter__(self):
            assert self.lock.acquire(timeout=5), "the second signal waited for the lock the first one holds"
            if not self.fired:
                self.fired = True
                stop(signal.SIGTERM, None)
            return self

        def __exit__(self, *exc):
            self.lock.release()

    hub._lock = SignalInside()
    stop = _stop_once(SimpleNamespace(extensions={"market40.live": SimpleNamespace(drain=hub.close)}))
    with pytest.raises(SystemExit) as ended:
        stop(signal.SIGTERM, None)
    assert ended.value.code == 0 and hub._lock.fired
    assert stream.closing and stream.event.is_set()  # the open page was told to reconnect elsewhere
    stop(signal.SIGINT, None)  # and any later signal changes nothing either


def test_a_gevent_worker_collects_its_garbage_on_a_clock():
    """web.server._collect_on_schedule (each gevent worker): no full collection by Python's count (a pause of
    up to a second with 15,000 streams open, every second or two while they connect), but garbage cycles are
    still freed, on the clock. In a child process: the collector's settings are the whole process's."""
    script = """
import gc, time, weakref
from web import server
class Cycle:
    pass
server._collect_on_schedule(0.5)
assert gc.get_threshold()[2] >= 2**30 and gc.get_freeze_count() > 0, (gc.get_threshold(), gc.get_freeze_count())
old = Cycle(); old.me = old
gone = weakref.ref(old)
gc.collect(1)  # alive through a young collection: now in the oldest generation
del old
for _ in range(3):  # young collections leave it: only a full one frees it
    gc.collect(1)
assert gone() is not None
time.sleep(1.5)
assert gone() is None, "a cycle in the oldest generation was never collected"
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=_env(), capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


@pytest.mark.parametrize("value", ["abc", "0", "-5", "0.5", "nan", "inf", "1e999", "３００"])
def test_a_bad_gc_period_names_the_variable_and_the_value_and_keeps_the_default(value):
    from web import server
    period, problem = server.gc_period(value)
    if value == "３００":  # Python reads full-width digits as a number: 300 is a period
        assert (period, problem) == (300.0, None)
        return
    assert period == server.FULL_COLLECTION_SECONDS
    assert problem and "MARKET40_GC_SECONDS" in problem and repr(value) in problem and "at least 1" in problem
    assert server.gc_period("120") == (120.0, None) and server.gc_period(None) == (server.FULL_COLLECTION_SECONDS, None)


def test_gevent_workers_keep_their_postgresql_connections_under_load(tmp_path, postgres_server):
    """A gevent worker busy with more requests than it keeps connections opened and closed a PostgreSQL
    connection (a server process forked) for about one page in eight: every connection it may open now
    stays open, and a request finding them all busy waits for one. A pool of 3 here (16 by default), so
    that a test client's few dozen requests at once are more than it holds."""
    import threading
    import time

    import psycopg
    from sqlalchemy.engine import make_url

    url = postgres_server.create_database()
    try:
        db.upgrade(url)
        name = make_url(url).database
        conninfo = make_url(url).set(drivername="postgresql", database="postgres").render_as_string(
            hide_password=False)
        process, base, _ = _start(tmp_path, "--db", url, "serve", "--port", "0", "--processes", "2",
                                  MARKET40_DB_POOL="3")
        seen: set[int] = set()
        watching = threading.Event()

        def watch() -> None:  # every backend serving this database, sampled every few milliseconds
            with psycopg.connect(conninfo, autocommit=True) as conn:
                while not watching.is_set():
                    seen.update(row[0] for row in conn.execute(
                        "SELECT pid FROM pg_stat_activity WHERE datname = %s", (name,)))
                    time.sleep(0.003)

        def burst() -> None:  # 48 pages at once, a few times
            def get() -> None:
                for _ in range(3):
                    with urllib.request.urlopen(base + "enrol", timeout=30) as response:
                        assert response.status == 200
            threads = [threading.Thread(target=get) for _ in range(48)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        try:
            for _ in range(4):
                burst()
        finally:
            watching.set()
            watcher.join(timeout=10)
            assert _stop(process) == 0
        # two workers, each with its 3 pooled connections and the live lanes' own few
        assert 0 < len(seen) <= 2 * (3 + 6), len(seen)  # 46-57 when workers opened and closed them
    finally:
        postgres_server.drop_database(url)
