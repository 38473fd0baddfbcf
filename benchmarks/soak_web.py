"""Soak test: 16 people use a real market40 server on SQLite at once, for minutes (issue #16).

Twelve stall owners log in, register a new payout account and log out; four bank staff log
in, open their review queue and verify pending accounts, and log out; over and over, each
through its own HTTP connection with cookies, against ``market40``'s production server
(waitress, several threads) on 127.0.0.1 and a fresh SQLite registry. At the end::

    requests, errors (5xx, unexpected answers, connection failures: must be 0),
    latency, and a check that the audit trail has exactly one row per successful
    login, logout, registration and verification.

Exit status 0 only when there were no errors and the audit rows match.

    python benchmarks/soak_web.py                 # 5 minutes on port 8765
    python benchmarks/soak_web.py --minutes 1 --port 8800 --threads 8

Rate limits are raised for the run (all 16 people come from 127.0.0.1); everything else
is the production configuration, passwords hashed with the production scrypt parameters.
"""
from __future__ import annotations

import argparse
import http.cookiejar
import os
import re
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from market40 import db  # noqa: E402
from market40.services.registry import Actor, Registry  # noqa: E402

OWNERS, STAFF = 12, 4
PASSWORD = "soak-test password 2025"
SECRET = "soak test secret key, at least thirty-two bytes long"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def build_registry(path: Path) -> None:
    db.init(str(path))
    engine = db.make_engine(str(path))
    with db.session_scope(engine) as session:
        registry = Registry(session, Actor.operator("soak"))
        registry.add_locality(code="SOAK", name="Phường Thử", kind="commune", unit_type="phường",
                              province="Quảng Ninh", valid_from=date(2025, 7, 1))
        for m in range(STAFF):
            registry.save_market(code=f"S{m}", name=f"Chợ Thử {m}", tier="III", locality="SOAK")
        for i in range(OWNERS):
            market = f"S{i % STAFF}"
            registry.save_stall(market, code=f"A-{i}", owner_name=f"Nguyễn Thị {chr(65 + i)}",
                                owner_phone=f"09120000{i:02d}")
            registry.add_user(f"09120000{i:02d}", "owner", password=PASSWORD, phone=f"09120000{i:02d}",
                              stall=f"{market}/A-{i}")
        for m in range(STAFF):
            registry.add_user(f"staff.{m}", "staff", password=PASSWORD, markets=[f"S{m}"])
    engine.dispose()


def start_server(path: Path, port: int, threads: int) -> subprocess.Popen:
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(ROOT)!r})
        from web.server import serve
        config = {{"DATABASE_URL": {str(path)!r}, "SECRET_KEY": {SECRET!r},
                  "RATELIMIT_LOGIN": "100000 per minute", "RATELIMIT_LOGIN_ACCOUNT": "100000 per day",
                  "RATELIMIT_ENROL": "100000 per minute"}}
        serve(config, host="127.0.0.1", port={port}, threads={threads},
              ready=lambda url: print("ready", url, flush=True))
    """)
    server = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    line = server.stdout.readline()
    if not line.startswith("ready"):
        server.kill()
        raise SystemExit(f"the server did not start: {line}{server.stderr.read()}")
    return server


class Person:
    """One browser: its own cookies and connection."""

    def __init__(self, base: str, stats: "Stats") -> None:
        self.base = base
        self.stats = stats
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar),
                                                  _NoRedirect())

    def request(self, method: str, path: str, data: dict | None = None, expect: tuple[int, ...] = (200,)) -> str:
        """The page's text ("" on an error, which is counted)."""
        return self.send(method, path, data, expect)[1]

    def send(self, method: str, path: str, data: dict | None = None,
             expect: tuple[int, ...] = (200,)) -> tuple[bool, str]:
        """(answered as expected, text)."""
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(self.base + path, data=body, method=method)
        started = time.perf_counter()
        try:
            with self.opener.open(request, timeout=60) as response:
                status, text = response.status, response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as error:
            status, text = error.code, error.read().decode("utf-8", "replace")
        except OSError as error:
            self.stats.error(f"{method} {path}: {error}")
            return False, ""
        self.stats.timing(time.perf_counter() - started)
        if status not in expect:
            self.stats.error(f"{method} {path}: {status}")
            return False, ""
        return True, text

    def token(self, path: str) -> str:
        found = TOKEN.search(self.request("GET", path))
        return found.group(1) if found else ""

    def login(self, username: str) -> bool:
        token = self.token("/login")
        return self.send("POST", "/login", {"csrf_token": token, "username": username, "password": PASSWORD},
                         expect=(302,))[0]

    def logout(self) -> bool:
        token = self.token("/password")
        return self.send("POST", "/logout", {"csrf_token": token}, expect=(302,))[0]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # a 302 is an answer to count, not to follow
        return None


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.actions: Counter[str] = Counter()
        self.errors: list[str] = []
        self.latencies: list[float] = []

    def count(self, action: str) -> None:
        with self.lock:
            self.actions[action] += 1

    def error(self, text: str) -> None:
        with self.lock:
            self.errors.append(text)

    def timing(self, seconds: float) -> None:
        with self.lock:
            self.latencies.append(seconds)


def owner(base: str, index: int, stats: Stats, until: float) -> None:
    person, round_ = Person(base, stats), 0
    while time.time() < until:
        if not person.login(f"09120000{index:02d}"):
            continue
        stats.count("login")
        token = person.token("/owner/account")
        number = f"{index:02d}{round_:011d}"
        ok, _ = person.send("POST", "/owner/account", {
            "csrf_token": token, "bank": "970436", "number": number, "holder_name": f"Nguyen Thi {chr(65 + index)}",
            "kind": "", "reference_label": "", "action": "submit", "consent": "yes"}, expect=(302,))
        if ok:
            stats.count("register")
        if person.logout():
            stats.count("logout")
        round_ += 1


def staff(base: str, index: int, stats: Stats, until: float) -> None:
    person = Person(base, stats)
    stalls = [f"S{index}/A-{i}" for i in range(OWNERS) if i % STAFF == index]
    while time.time() < until:
        if not person.login(f"staff.{index}"):
            continue
        stats.count("login")
        person.request("GET", "/staff/")
        for ref in stalls:
            page = person.request("GET", f"/staff/stall/{ref}")
            if 'value="verify"' not in page:
                continue
            token = TOKEN.search(page).group(1)
            ok, _ = person.send("POST", f"/staff/stall/{ref}", {"csrf_token": token, "action": "verify"},
                                expect=(302,))
            if ok:
                after = person.request("GET", f"/staff/stall/{ref}")
                if "Đã xác minh tài khoản" in after:
                    stats.count("verify")
        if person.logout():
            stats.count("logout")


def audit_counts(path: Path) -> Counter[str]:
    import sqlite3
    con = sqlite3.connect(path)
    try:
        return Counter(dict(con.execute("SELECT action, count(*) FROM audit_event GROUP BY action").fetchall()))
    finally:
        con.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="how long (default 5)")
    parser.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (default 8765)")
    parser.add_argument("--threads", type=int, default=8, help="server threads (default 8)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="market40-soak-") as folder:
        path = Path(folder) / "soak.db"
        build_registry(path)
        baseline = audit_counts(path)
        server = start_server(path, args.port, args.threads)
        base = f"http://127.0.0.1:{args.port}"
        stats = Stats()
        started = time.time()
        until = started + args.minutes * 60
        people = [threading.Thread(target=owner, args=(base, i, stats, until)) for i in range(OWNERS)]
        people += [threading.Thread(target=staff, args=(base, i, stats, until)) for i in range(STAFF)]
        try:
            for person in people:
                person.start()
            for person in people:
                person.join()
        finally:
            server.terminate()
            _, log = server.communicate(timeout=30)
        elapsed = time.time() - started
        audit = audit_counts(path) - baseline
    expected = {"auth.login": stats.actions["login"], "auth.logout": stats.actions["logout"],
                "account.register": stats.actions["register"], "account.verify": stats.actions["verify"]}
    mismatched = {k: (v, audit.get(k, 0)) for k, v in expected.items() if audit.get(k, 0) != v}
    latencies = sorted(stats.latencies)
    print(f"{len(people)} people, {elapsed:.0f} s, {len(latencies):,} requests "
          f"({len(latencies) / elapsed:.1f}/s), latency p50 {statistics.median(latencies) * 1000:.0f} ms, "
          f"p95 {latencies[int(len(latencies) * 0.95)] * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms")
    print("successful actions:", ", ".join(f"{k} {v}" for k, v in sorted(stats.actions.items())))
    print("audit rows:        ", ", ".join(f"{k} {audit.get(k, 0)}" for k in expected))
    print(f"errors: {len(stats.errors)}")
    for error in Counter(stats.errors).most_common(10):
        print("  ", error)
    if "Traceback" in log:
        print("server log has tracebacks:\n" + log[-3000:])
    print("audit rows match successful actions" if not mismatched else f"AUDIT MISMATCH: {mismatched}")
    return 0 if not stats.errors and not mismatched and "Traceback" not in log else 1


if __name__ == "__main__":
    raise SystemExit(main())
