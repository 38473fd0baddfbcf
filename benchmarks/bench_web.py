"""Web app speed under load: the owner's status page and QR image, beside a bare Flask "hello".

Target (issue #5): with the production server (waitress) on this 2-core machine, the
owner's status page and the QR image endpoint each serve ≥ 300 requests/s with a 99th
percentile latency ≤ 100 ms and no errors, measured with ``wrk`` on loopback. A bare
Flask "hello" on the same server and settings is the ceiling.

    python benchmarks/bench_web.py                     # 10 s per endpoint, 16 connections
    python benchmarks/bench_web.py --duration 30 --connections 32 --workers 8
    python benchmarks/bench_web.py --json              # one JSON object on stdout

Needs ``wrk`` (Debian: ``apt-get install wrk``; not needed by the tests). The registry is
the demo province (~14,000 stalls, built once into a temporary file, or ``--db``), served
by ``market40 serve``; the load generator signs in as the demo owner like a browser does
(login form, CSRF token) and sends that session cookie. wrk and the server share the two
cores, as they would on a small deployment box.
"""
from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SECRET = "bench_web: a throw-away deployment secret"
OWNER, PASSWORD, STALL = "0912000001", "demo-owner-2025", "HL1/A-1"
TARGET_RPS, TARGET_P99_MS = 300, 100.0

HELLO = """
import sys
from flask import Flask
from waitress.server import create_server
app = Flask("hello")
app.add_url_rule("/", "hello", lambda: "hello")
server = create_server(app, host="127.0.0.1", port=0, threads=int(sys.argv[1]))
print(f"listening on http://127.0.0.1:{server.effective_port}/", flush=True)
server.run()
"""


def build_registry(path: str) -> None:
    """The demo province, with the demo owner's account verified (the status page then offers downloads)."""
    env = {**os.environ, "MARKET40_SECRET_KEY": SECRET, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, str(ROOT / "cli.py"), "--db", path, "demo", "--fresh", "--no-walkthrough"],
                   check=True, env=env, stdout=subprocess.DEVNULL)
    from market40 import db
    from market40.services.registry import Actor, Registry
    engine = db.make_engine(path)
    try:
        with db.session_scope(engine) as session:
            registry = Registry(session, Actor.operator("bench"))
            if registry.current_account(registry.stall(STALL)).status == "pending":
                registry.verify_account(STALL)
    finally:
        engine.dispose()


def start(command: list[str], env: dict[str, str], log: Path) -> tuple[subprocess.Popen, str]:
    """Start a server process; returns it and its base URL (read from its first lines)."""
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=open(log, "w"), text=True)
    deadline = time.time() + 60
    assert process.stdout is not None
    while time.time() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        found = re.search(r"(http://127\.0\.0\.1:\d+/)", line)
        if found:
            return process, found.group(1)
    process.kill()
    raise SystemExit(f"server did not start: {' '.join(command)} (see {log})")


def sign_in(base: str) -> str:
    """Log in through the form like a browser; returns the ``Cookie`` header value."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(base + "login").read().decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    data = urllib.parse.urlencode({"csrf_token": token, "username": OWNER, "password": PASSWORD}).encode()
    response = opener.open(base + "login", data=data)
    assert response.geturl().endswith("/owner/"), response.geturl()
    return "; ".join(f"{c.name}={c.value}" for c in jar if c.name.endswith("market40"))


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(number) * _UNITS[unit]


def wrk(url: str, *, cookie: str | None, duration: int, connections: int, threads: int) -> dict[str, float]:
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "5s"]
    if cookie:
        command += ["-H", f"Cookie: {cookie}"]
    output = subprocess.run(command + [url], check=True, capture_output=True, text=True).stdout
    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
              "requests": int(re.search(r"(\d+) requests in", output).group(1))}
    for percentile in ("50", "90", "99"):
        result[f"p{percentile}_ms"] = _ms(re.search(rf"^\s+{percentile}%\s+(\S+)", output, re.M).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    result["errors"] = (int(non_2xx.group(1)) if non_2xx else 0) + (sum(map(int, sockets.groups())) if sockets else 0)
    return result


def measure(name: str, url: str, cookie: str | None, args: argparse.Namespace) -> dict:
    wrk(url, cookie=cookie, duration=2, connections=args.connections, threads=args.wrk_threads)  # warm up
    figures: dict = wrk(url, cookie=cookie, duration=args.duration, connections=args.connections,
                        threads=args.wrk_threads)
    figures["name"] = name
    figures["meets_target"] = name.startswith("hello") or (
        figures["rps"] >= TARGET_RPS and figures["p99_ms"] <= TARGET_P99_MS and figures["errors"] == 0)
    return figures


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds of load per endpoint (default 10)")
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections (default 16)")
    parser.add_argument("--wrk-threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--workers", type=int, default=4, help="waitress threads per process (default 4)")
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2],
                        help="server processes to measure (default: 1 and 2)")
    parser.add_argument("--db", help="use (and keep) this registry file instead of a temporary demo one")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install wrk (Debian/Ubuntu), or build it from its source",
              file=sys.stderr)
        return 2

    folder = Path(tempfile.mkdtemp(prefix="bench-web-"))
    path = args.db or str(folder / "demo.db")
    if not args.db or not Path(path).exists():
        print(f"building the demo province into {path} ...", file=sys.stderr)
        build_registry(path)
    env = {**os.environ, "MARKET40_SECRET_KEY": SECRET, "PYTHONPATH": str(ROOT)}
    results = []
    hello, hello_base = start([sys.executable, "-c", HELLO, str(args.workers)], env, folder / "hello.log")
    try:
        results.append(measure("hello (bare Flask, 1 process: ceiling)", hello_base, None, args))
    finally:
        stop(hello)
    for processes in args.processes:
        app, app_base = start([sys.executable, str(ROOT / "cli.py"), "--db", path, "serve", "--port", "0",
                               "--workers", str(args.workers), "--processes", str(processes)], env,
                              folder / f"app-{processes}.log")
        try:
            cookie = sign_in(app_base)
            label = f"{processes} process{'es' if processes > 1 else ''}"
            results.append(measure(f"status page  /owner/        {label}", app_base + "owner/", cookie, args))
            results.append(measure(f"QR image     /owner/qr.png  {label}", app_base + "owner/qr.png", cookie, args))
        finally:
            stop(app)
    if args.json:
        print(json.dumps({"threads": args.workers, "connections": args.connections, "duration_s": args.duration,
                          "cpus": os.cpu_count(), "results": results}, indent=2))
    else:
        print(f"waitress, {args.workers} threads per process; wrk {args.wrk_threads} threads, {args.connections} "
              f"connections, {args.duration} s per endpoint; {os.cpu_count()} CPUs shared by server and load generator")
        print(f"target: ≥ {TARGET_RPS} req/s, p99 ≤ {TARGET_P99_MS:.0f} ms, no errors")
        print(f"{'endpoint':<46}{'req/s':>9}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'errors':>8}  target")
        for r in results:
            verdict = "—" if r["name"].startswith("hello") else ("met" if r["meets_target"] else "MISSED")
            print(f"{r['name']:<46}{r['rps']:>9.0f}{r['p50_ms']:>9.1f}{r['p90_ms']:>9.1f}{r['p99_ms']:>9.1f}"
                  f"{r['errors']:>8}  {verdict}")
    shutil.rmtree(folder, ignore_errors=True)  # the demo registry and the servers' logs
    best = {}
    for r in results[1:]:
        endpoint = r["name"].split()[0]
        best[endpoint] = best.get(endpoint, False) or r["meets_target"]
    return 0 if best and all(best.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
