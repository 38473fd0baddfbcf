"""Bulk-import speed: a stall list (CSV, and XLSX) into SQLite (and PostgreSQL), against a bare floor.

Targets (issue #15), judged on ratios measured in the same run so that they hold on a busy
machine: a 100,000-row CSV into SQLite in **≤ 2× the floor**; PostgreSQL **≤ 2× its floor**;
time linear in the rows and peak memory **≤ 150 MB** from 10k to 1M rows; ``audit_event``
**≤ 25 %** of the registry file (SQLite). The floor is the least any importer must do with
the same file: read it with Python's ``csv`` module and insert the stalls and their accounts
with one bare ``executemany`` each (SQLite) or ``COPY`` (PostgreSQL, psycopg 3) into the same
tables, no validation and no audit trail. Floor and market40 alternate, ``--repeat`` times.

    python benchmarks/bench_import.py                          # SQLite, 100,000 rows
    python benchmarks/bench_import.py --rows 10000 100000      # several sizes (memory and time per row)
    python benchmarks/bench_import.py --postgres               # also PostgreSQL: a throw-away database
    python benchmarks/bench_import.py --xlsx                   # also the XLSX file (not a target here)
    python benchmarks/bench_import.py --postgres --port 5433 --database mine   # your server, your database
    python benchmarks/bench_import.py --bad-rows 300000        # a file of bad rows: report + rejects file

Each run is its own process, so its peak memory (ru_maxrss) is its own. The rows come from the
demo generator (realistic names, banks, accounts): 50 markets. ``--postgres`` creates
``market40_bench_<random>`` on ``MARKET40_TEST_POSTGRES_URL``'s server (``--port`` picks another
port) and drops it at the end; ``--database NAME`` uses the caller's database instead (its tables
are recreated, the database itself is never dropped).

Last measured (2026-12-03 18:12, quiet machine, load 1.6–1.7, 3 alternating rounds): SQLite 100k 1.96×
the floor's wall (CPU 1.99×, 4.5 CPU-s against 2.3), 107 MB; PostgreSQL 100k 1.88× (4.9 s against 2.6 s;
CPU 3.7×), 102 MB: both targets met, SQLite close to the line. Bad rows (200,000, all refused): 8.4–8.7 CPU-s,
97 MB. Earlier (2026-12-03 10:37–11:09, load 3.4–12, other helpers' jobs on the same 2 cores): SQLite
100k, market40 6.9–8.5 CPU-s against the floor's 3.0–3.5: 1.60–2.62× the floor's wall (5 runs), CPU
2.09–2.50×, peak 108 MB; 10k 2.03× (CPU 2.32×), 97 MB; 1M 2.41× wall, CPU 2.63× (98.8 CPU-s against
37.6), peak 135 MB; PostgreSQL 100k 2.55–3.51× wall (CPU 4.94–5.08×), 99 MB; ``audit_event`` under 0.5 % of the
registry. Earlier the same day (08:10, load 3.8–6.3): 100k CPU 2.51–3.40×, 125 MB; 1M CPU 3.53×,
162 MB; PostgreSQL 2.79–3.04×. The floor writes a constant payload and no household key, so its two
indexes on them only ever append; market40 builds those two at the end of a large SQLite import.

``--bad-rows N`` times a file of N rows that are all refused (a phone number that is not one):
market40 validates every row, reports them and writes the rejects file; the floor reads the
same file with ``csv`` and writes every row with a reason column.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from benchlib import load, median, prepare_markets, self_usage, timed_operator_import  # noqa: E402

MARKETS = 50
HEADER = ["Mã chợ", "Mã sạp", "Tên cửa hàng", "Ngành hàng", "Tên chủ hộ", "Số điện thoại", "Ngân hàng",
          "Số tài khoản", "Tên chủ tài khoản", "Loại tài khoản", "Mã tham chiếu", "Trạng thái"]
KEYS = ["market_code", "stall_code", "shop_name", "category", "owner_name", "owner_phone", "bank", "account",
        "account_holder", "account_kind", "reference", "status"]
TARGET_RATIO, TARGET_MB, TARGET_AUDIT_SHARE = 2.0, 150, 0.25


def market_codes(rows: int = 0) -> list[str]:
    """50 markets, more when the rows would not fit (the demo generator caps a market's stalls)."""
    from market40 import demo
    most = len(demo._ZONE_LETTERS) * demo._ZONE_SIZE
    return [f"B{i:02d}" for i in range(1, max(MARKETS, -(-rows // most)) + 1)]


def write_files(rows: int, folder: Path, xlsx: bool) -> tuple[Path, Path | None]:
    from market40 import demo
    codes = market_codes(rows)
    per_market = -(-rows // len(codes))
    csv_path, xlsx_path = folder / f"stalls-{rows}.csv", folder / f"stalls-{rows}.xlsx"
    sheet = book = None
    if xlsx:
        from openpyxl import Workbook
        book = Workbook(write_only=True)
        sheet = book.create_sheet("Danh sách sạp")
        sheet.append(HEADER)
    written = 0
    with open(csv_path, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for code in codes:
            count = min(per_market, rows - written)
            if count <= 0:
                break
            for row in demo.stalls(code, count=count, adoption=0.85):
                row["market_code"] = code
                values = [row[k] for k in KEYS]
                writer.writerow(values)
                if sheet is not None:
                    sheet.append(values)
            written += count
    if book is not None:
        book.save(xlsx_path)
    return csv_path, xlsx_path if xlsx else None


def prepare_database(url: str, rows: int) -> None:
    prepare_markets(url, market_codes(rows))


def child_market40(url: str, path: str) -> dict:
    """One market40 import (what `market40 stall import` does), then a few single-stall lookups."""
    from market40 import db
    from market40.services.imports import import_stalls
    from market40.services.registry import Actor, Registry
    report, figures, engine = timed_operator_import(
        url, lambda session, actor: import_stalls(session, actor, path))
    times = []
    per_market = max(1, min(100, report.created // MARKETS))  # stalls A-1… of each market exist (small --rows too)
    with db.session_scope(engine) as session:
        registry = Registry(session, Actor.operator("bench"))
        for i in range(100):
            t = time.perf_counter()
            registry.current_account(registry.stall(f"{market_codes()[i % MARKETS]}/A-{1 + (i * 37) % per_market}"))
            times.append((time.perf_counter() - t) * 1000)
    engine.dispose()
    return {**figures, "created": report.created,
            "problems": len(report.problems), "lookup_ms": median(times)}


def child_floor(url: str, path: str) -> dict:
    """The floor: csv rows straight into the same tables (executemany, or COPY on PostgreSQL)."""
    from datetime import datetime, timezone

    from market40 import db
    from market40.services.registry import CONSENT_PURPOSE
    payload = "0" * 120  # a VietQR payload's length (the floor does not build it)
    engine = db.make_engine(url)
    with engine.connect() as connection:
        markets = dict(connection.exec_driver_sql("SELECT code, id FROM market").fetchall())
    engine.dispose()
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    cpu0, _ = self_usage()
    start = time.perf_counter()
    stall_columns = ("market_id", "code", "code_key", "shop_name", "goods_category", "owner_name", "owner_phone",
                     "status", "created_at", "updated_at")
    account_columns = ("stall_id", "kind", "bin", "number", "holder_name", "reference_label", "purpose", "payload",
                       "status", "consent_purpose", "consent_at", "consent_channel", "created_at", "created_by")

    def rows():
        with open(path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            next(reader)
            yield from reader

    def stall(r):
        return (markets[r[0]], r[1], r[1], r[2] or None, r[3] or None, r[4], r[5] or None, "operating", now, now)

    def account(stall_id, r):
        return (stall_id, "bank_account", "970436", r[7], r[8], r[10] or None, "QRIBFTTA", payload, "pending",
                CONSENT_PURPOSE, now, "paper", now, "user:bench")

    chunk = 20_000
    if url.startswith("sqlite"):
        import sqlite3
        con = sqlite3.connect(url.split("///", 1)[1])
        cur = con.cursor()
        batch: list = []
        for r in rows():
            batch.append(r)
            if len(batch) == chunk:
                _floor_sqlite(cur, batch, stall, account, stall_columns, account_columns)
                batch = []
        _floor_sqlite(cur, batch, stall, account, stall_columns, account_columns)
        con.commit()
        con.close()
    else:
        import psycopg
        with psycopg.connect(url.replace("+psycopg", "")) as con:
            with con.cursor() as cur:
                batch = []
                for r in rows():
                    batch.append(r)
                    if len(batch) == chunk:
                        _floor_postgres(cur, batch, stall, account, stall_columns, account_columns)
                        batch = []
                _floor_postgres(cur, batch, stall, account, stall_columns, account_columns)
    cpu, rss = self_usage()
    return {"wall": time.perf_counter() - start, "cpu": cpu - cpu0, "rss_mb": rss}


def _floor_sqlite(cur, batch, stall, account, stall_columns, account_columns) -> None:
    if not batch:
        return
    cur.execute("BEGIN") if not cur.connection.in_transaction else None
    first = cur.execute("SELECT coalesce(max(id), 0) FROM stall").fetchone()[0]
    cur.executemany(f"INSERT INTO stall ({', '.join(stall_columns)}) VALUES ({', '.join('?' * len(stall_columns))})",
                    [stall(r) for r in batch])
    cur.executemany(f"INSERT INTO payment_account ({', '.join(account_columns)}) "
                    f"VALUES ({', '.join('?' * len(account_columns))})",
                    [account(first + 1 + i, r) for i, r in enumerate(batch) if r[7]])


def _floor_postgres(cur, batch, stall, account, stall_columns, account_columns) -> None:
    if not batch:
        return
    cur.execute("SELECT coalesce(max(id), 0) FROM stall")
    first = cur.fetchone()[0]
    with cur.copy(f"COPY stall ({', '.join(stall_columns)}) FROM STDIN") as copy:
        for r in batch:
            copy.write_row(stall(r))
    with cur.copy(f"COPY payment_account ({', '.join(account_columns)}) FROM STDIN") as copy:
        for i, r in enumerate(batch):
            if r[7]:
                copy.write_row(account(first + 1 + i, r))


def sizes(url: str) -> dict:
    """The registry's size and its audit trail's share (SQLite: pages per table, dbstat)."""
    if not url.startswith("sqlite"):
        return {}
    import sqlite3
    con = sqlite3.connect(url.split("///", 1)[1])
    try:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        total = con.execute("SELECT sum(pgsize) FROM dbstat").fetchone()[0]
        audit = con.execute("SELECT sum(pgsize) FROM dbstat WHERE name = 'audit_event' OR name IN "
                            "(SELECT name FROM sqlite_master WHERE tbl_name = 'audit_event')").fetchone()[0]
    except sqlite3.OperationalError:  # no dbstat in this SQLite build
        return {}
    finally:
        con.close()
    return {"registry_mb": total / 1e6, "audit_share": (audit or 0) / total}


def write_bad_file(rows: int, folder: Path) -> Path:
    """``rows`` stalls that are all refused: the phone is two digits."""
    path = folder / f"bad-{rows}.csv"
    codes = market_codes()
    with open(path, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Mã chợ", "Mã sạp", "Tên chủ hộ", "Số điện thoại"])
        for i in range(rows):
            writer.writerow([codes[i % len(codes)], f"Z-{i}", f"Nguyễn Thị {i}", "12"])
    return path


def child_bad_market40(url: str, path: str) -> dict:
    """market40 on a file of bad rows: every row reported, the rejects file written, nothing imported."""
    from market40 import db
    from market40.services.imports import import_stalls
    from market40.services.registry import Actor
    engine = db.make_engine(url)
    cpu0, _ = self_usage()
    start = time.perf_counter()
    with db.session_scope(engine) as session:
        report = import_stalls(session, Actor.operator("bench"), path, rejects=path + ".rejects.csv")
    seconds = time.perf_counter() - start
    cpu, rss = self_usage()
    engine.dispose()
    return {"wall": seconds, "cpu": cpu - cpu0, "rss_mb": rss, "created": report.created,
            "problems": len(report.problems)}


def child_bad_floor(url: str, path: str) -> dict:
    """The floor for bad rows: read the file with csv and write each row back with a reason."""
    cpu0, _ = self_usage()
    start = time.perf_counter()
    with open(path, encoding="utf-8-sig", newline="") as handle, \
            open(path + ".floor.csv", "w", encoding="utf-8-sig", newline="") as out:
        reader, writer = csv.reader(handle), csv.writer(out)
        writer.writerow(["Dòng", *next(reader), "Lỗi"])
        for number, r in enumerate(reader, 2):
            writer.writerow([number, *r, f"owner_phone: {r[3]!r} is not a phone number"])
    cpu, rss = self_usage()
    return {"wall": time.perf_counter() - start, "cpu": cpu - cpu0, "rss_mb": rss}


CHILDREN = {"market40": child_market40, "floor": child_floor, "bad-market40": child_bad_market40,
            "bad-floor": child_bad_floor}


def run(kind: str, url: str, path: Path, rows: int) -> dict:
    prepare_database(url, rows)
    out = subprocess.run([sys.executable, __file__, "--child", kind, url, str(path)], capture_output=True,
                         text=True)
    if out.returncode:
        raise SystemExit(f"{kind} import failed:\n{out.stderr[-3000:]}")
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    figures["load"] = os.getloadavg()[0]
    if kind == "market40":
        figures.update(sizes(url))
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000], help="sizes (default 100000)")
    parser.add_argument("--repeat", type=int, default=2, help="alternating repetitions (default 2)")
    parser.add_argument("--postgres", action="store_true", help="also PostgreSQL (a throw-away database)")
    parser.add_argument("--xlsx", action="store_true", help="also import the XLSX file (reported, no floor)")
    parser.add_argument("--xlsx-only", action="store_true", help="only the XLSX file (time and peak memory)")
    parser.add_argument("--port", type=int, help="PostgreSQL port (default: the URL's, 5432)")
    parser.add_argument("--database", help="PostgreSQL database to use (yours: its tables are recreated, "
                        "it is not dropped); default a throw-away market40_bench_<random>")
    parser.add_argument("--sqlite", help="SQLite file to use (default: a temporary one)")
    parser.add_argument("--bad-rows", type=int, help="instead: a file of this many bad rows (report + rejects)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, url, path = args.child
        print(json.dumps(CHILDREN[kind](url, path)))
        return 0
    if args.bad_rows:
        return bad_rows(args)
    print(f"TARGETS: CSV ≤ {TARGET_RATIO:.0f}× the floor (same run), peak ≤ {TARGET_MB} MB at every size, "
          f"audit_event ≤ {TARGET_AUDIT_SHARE:.0%} of the registry; the floor and XLSX rows are not targets")
    admin = dropped = None
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        targets = [("SQLite", f"sqlite:///{Path(args.sqlite).resolve() if args.sqlite else folder / 'bench.db'}")]
        try:
            if args.postgres:
                base = postgres_base(args.port)
                if args.database:
                    name = args.database
                else:
                    import psycopg
                    admin, dropped = base.replace("+psycopg", ""), f"market40_bench_{secrets.token_hex(4)}"
                    with psycopg.connect(admin, autocommit=True) as conn:
                        conn.execute(f'CREATE DATABASE "{dropped}"')
                    name = dropped
                targets.append(("PostgreSQL", base.rsplit("/", 1)[0] + "/" + name))
            for rows in args.rows:
                t = time.perf_counter()
                csv_path, xlsx_path = write_files(rows, folder, args.xlsx or args.xlsx_only)
                print(f"generated {rows:,} rows in {time.perf_counter() - t:.1f} s "
                      f"(CSV {csv_path.stat().st_size / 1e6:.1f} MB); {load()}", flush=True)
                for name, url in targets:
                    if args.xlsx_only:
                        x = run("market40", url, xlsx_path, rows)
                        print(f"  {name} xlsx {rows:,} rows (not a target): {x['wall']:.1f} s, {x['cpu']:.1f} CPU-s, "
                              f"peak {x['rss_mb']:.0f} MB, load {x['load']:.1f}", flush=True)
                        continue
                    series: dict[str, list[dict]] = {"floor": [], "market40": []}
                    for _ in range(args.repeat):
                        for kind in ("floor", "market40"):
                            series[kind].append(run(kind, url, csv_path, rows))
                    bad = [r for r in series["market40"] if r["problems"] or r["created"] != rows]
                    if bad:
                        raise SystemExit(f"market40 did not import every row: {bad[0]}")
                    floor, mine = series["floor"], series["market40"]
                    row = {"database": name, "rows": rows, "file": "csv",
                           "floor_s": median([r["wall"] for r in floor]), "floor_cpu_s": median([r["cpu"] for r in floor]),
                           "floor_mb": max(r["rss_mb"] for r in floor),
                           "seconds": median([r["wall"] for r in mine]), "cpu_s": median([r["cpu"] for r in mine]),
                           "peak_mb": max(r["rss_mb"] for r in mine), "load": median([r["load"] for r in mine]),
                           "lookup_ms": median([r["lookup_ms"] for r in mine]),
                           "audit_share": mine[-1].get("audit_share"), "registry_mb": mine[-1].get("registry_mb")}
                    row["ratio"] = median([m["wall"] / f["wall"] for f, m in zip(floor, mine)])
                    row["cpu_ratio"] = row["cpu_s"] / row["floor_cpu_s"] if row["floor_cpu_s"] else float("nan")
                    results.append(row)
                    _print(row)
                    if xlsx_path is not None:
                        x = run("market40", url, xlsx_path, rows)
                        print(f"  {name} xlsx (not a target): {x['wall']:.1f} s, {x['cpu']:.1f} CPU-s, "
                              f"peak {x['rss_mb']:.0f} MB, load {x['load']:.1f}", flush=True)
        finally:
            if admin and dropped:
                import psycopg
                with psycopg.connect(admin, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{dropped}" WITH (FORCE)')
    for name in {r["database"] for r in results}:
        mine = sorted((r for r in results if r["database"] == name), key=lambda r: r["rows"])
        if len(mine) > 1:
            per_row = [r["seconds"] / r["rows"] * 1e6 for r in mine]
            print(f"{name}: µs per row {' → '.join(f'{v:.0f}' for v in per_row)} "
                  f"(linear if flat); peak MB {' → '.join(format(r['peak_mb'], '.0f') for r in mine)}")
    print(f"at the end: {load()}")
    ok = all(r["ratio"] <= TARGET_RATIO and r["peak_mb"] <= TARGET_MB and
             (r["audit_share"] is None or r["audit_share"] <= TARGET_AUDIT_SHARE) for r in results)
    return 0 if ok else 1


def postgres_base(port: int | None) -> str:
    """The server's maintenance URL, on ``port`` when given."""
    from sqlalchemy.engine import make_url
    url = make_url(os.environ.get("MARKET40_TEST_POSTGRES_URL",
                                  "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"))
    if port:
        url = url.set(port=port)
    return url.render_as_string(hide_password=False)


def bad_rows(args: argparse.Namespace) -> int:
    """A file where every row is bad, reported with its rejects file (issue #16: quickly, in bounded memory)."""
    print(f"BAD ROWS: {args.bad_rows:,} rows all refused; market40 reports every one and writes the rejects "
          f"file; the floor reads the file and writes every row back with a reason (not a target: a figure)")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = write_bad_file(args.bad_rows, folder)
        url = f"sqlite:///{Path(args.sqlite).resolve() if args.sqlite else folder / 'bench.db'}"
        series: dict[str, list[dict]] = {"bad-floor": [], "bad-market40": []}
        for _ in range(args.repeat):
            for kind in series:
                series[kind].append(run(kind, url, path, 100))
        mine, floor = series["bad-market40"], series["bad-floor"]
        if any(r["problems"] != args.bad_rows or r["created"] for r in mine):
            raise SystemExit(f"market40 did not refuse every row: {mine[0]}")
        ratio = median([m["wall"] / f["wall"] for f, m in zip(floor, mine)])
        print(f"bad rows {args.bad_rows:>9,}  floor {median([r['wall'] for r in floor]):6.1f} s "
              f"({median([r['cpu'] for r in floor]):.1f} CPU-s, {max(r['rss_mb'] for r in floor):.0f} MB)  "
              f"market40 {median([r['wall'] for r in mine]):6.1f} s ({median([r['cpu'] for r in mine]):.1f} CPU-s, "
              f"peak {max(r['rss_mb'] for r in mine):.0f} MB)  ratio {ratio:.2f}  "
              f"µs per row {median([r['wall'] for r in mine]) / args.bad_rows * 1e6:.0f}  "
              f"load {median([r['load'] for r in mine]):.1f}", flush=True)
    print(f"at the end: {load()}")
    return 0


def _print(r: dict) -> None:
    share = f"{r['audit_share']:.0%} of {r['registry_mb']:.0f} MB" if r.get("audit_share") is not None else "-"
    verdict = "met" if (r["ratio"] <= TARGET_RATIO and r["peak_mb"] <= TARGET_MB) else "MISSED"
    print(f"{r['database']:<10} {r['rows']:>9,} rows  floor {r['floor_s']:6.1f} s ({r['floor_cpu_s']:.1f} CPU-s, "
          f"{r['floor_mb']:.0f} MB)  market40 {r['seconds']:6.1f} s ({r['cpu_s']:.1f} CPU-s, peak {r['peak_mb']:.0f} MB)"
          f"  ratio {r['ratio']:.2f} (CPU {r['cpu_ratio']:.2f})  target {verdict}  audit {share}  "
          f"lookup {r['lookup_ms']:.2f} ms  load {r['load']:.1f}", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
