"""Bulk-import speed: 100,000 stalls from CSV and XLSX into SQLite (and PostgreSQL).

Targets (issue #3): CSV ≤ 20 s, XLSX ≤ 60 s, memory that does not grow with the file;
looking up one stall among 100,000 ≤ 10 ms.

    python benchmarks/bench_import.py                 # SQLite, 100,000 rows
    python benchmarks/bench_import.py --postgres      # also PostgreSQL (MARKET40_TEST_POSTGRES_URL)
    python benchmarks/bench_import.py --rows 20000    # a quicker run

Each import runs in its own process so that its peak memory (ru_maxrss) is its own;
memory is also measured at a quarter of the rows to show whether it grows with the file.
The rows come from the demo generator (realistic names, banks, accounts): 50 markets of 2,000 stalls.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MARKETS = 50
HEADER = ["Mã chợ", "Mã sạp", "Tên cửa hàng", "Ngành hàng", "Tên chủ hộ", "Số điện thoại", "Ngân hàng",
          "Số tài khoản", "Tên chủ tài khoản", "Loại tài khoản", "Mã tham chiếu", "Trạng thái"]
KEYS = ["market_code", "stall_code", "shop_name", "category", "owner_name", "owner_phone", "bank", "account",
        "account_holder", "account_kind", "reference", "status"]


def market_codes() -> list[str]:
    return [f"B{i:02d}" for i in range(1, MARKETS + 1)]


def write_files(rows: int, folder: Path) -> tuple[Path, Path]:
    from openpyxl import Workbook

    from market40 import demo
    per_market = rows // MARKETS
    csv_path, xlsx_path = folder / f"stalls-{rows}.csv", folder / f"stalls-{rows}.xlsx"
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Danh sách sạp")
    sheet.append(HEADER)
    with open(csv_path, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for code in market_codes():
            for row in demo.stalls(code, count=per_market, adoption=0.85):
                row["market_code"] = code
                values = [row[k] for k in KEYS]
                writer.writerow(values)
                sheet.append(values)
    book.save(xlsx_path)
    return csv_path, xlsx_path


def prepare_database(url: str) -> None:
    from market40 import db
    from market40.services.registry import Actor, Registry
    db.init(url, drop_existing=True)
    engine = db.make_engine(url)
    with db.session_scope(engine) as session:
        registry = Registry(session, Actor.operator("bench"))
        registry.add_locality(code="BENCH", name="Phường Thử", kind="commune", unit_type="phường",
                              province="Quảng Ninh", valid_from=date(2025, 7, 1))
        for code in market_codes():
            registry.save_market(code=code, name=f"Chợ thử {code}", tier="I", locality="BENCH")
    engine.dispose()


def child(url: str, path: str) -> None:
    """Runs in a subprocess: one import, then its figures as JSON on stdout."""
    from market40 import db
    from market40.services.imports import import_stalls
    from market40.services.registry import Actor, Registry
    engine = db.make_engine(url)
    quarter = {}

    def progress(done: int, total: int | None) -> None:
        if total and not quarter and done >= total / 4:
            quarter["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    start = time.perf_counter()
    with db.session_scope(engine) as session:
        report = import_stalls(session, Actor.operator("bench"), path, progress=progress)
    seconds = time.perf_counter() - start
    # look up single stalls among all of them (what `market40 stall show` does first)
    times = []
    with db.session_scope(engine) as session:
        registry = Registry(session, Actor.operator("bench"))
        for i in range(200):
            code = market_codes()[i % MARKETS]
            t = time.perf_counter()
            stall = registry.stall(f"{code}/A-{1 + (i * 37) % 100}")
            registry.current_account(stall)
            times.append((time.perf_counter() - t) * 1000)
    engine.dispose()
    print(json.dumps({"seconds": seconds, "created": report.created, "accounts": report.accounts_created,
                      "problems": len(report.problems),
                      "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "rss_quarter_mb": quarter.get("rss_mb"), "lookup_ms_median": statistics.median(times),
                      "lookup_ms_p99": sorted(times)[int(len(times) * 0.99) - 1]}))


def run(url: str, path: Path) -> dict:
    prepare_database(url)
    out = subprocess.run([sys.executable, __file__, "--child", url, str(path)], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        t = time.perf_counter()
        csv_path, xlsx_path = write_files(args.rows, folder)
        print(f"generated {args.rows:,} rows in {time.perf_counter() - t:.1f} s "
              f"(CSV {csv_path.stat().st_size / 1e6:.1f} MB, XLSX {xlsx_path.stat().st_size / 1e6:.1f} MB); "
              f"load {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
        targets = [("sqlite", f"sqlite:///{folder / 'bench.db'}")]
        if args.postgres:
            import psycopg
            base = os.environ.get("MARKET40_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
            plain = base.replace("+psycopg", "")
            with psycopg.connect(plain, autocommit=True) as conn:
                conn.execute("DROP DATABASE IF EXISTS market40_bench")
                conn.execute("CREATE DATABASE market40_bench")
            targets.append(("postgresql", base.rsplit("/", 1)[0] + "/market40_bench"))
        print(f"{'database':<11} {'file':<5} {'seconds':>8} {'rows/s':>9} {'target':>7} {'peak MB':>8} "
              f"{'MB at 1/4':>9} {'lookup ms (median/p99)':>24}")
        for name, url in targets:
            for kind, path, target in (("csv", csv_path, 20), ("xlsx", xlsx_path, 60)):
                r = run(url, path)
                assert r["problems"] == 0 and r["created"] == args.rows // MARKETS * MARKETS, r
                quarter = f"{r['rss_quarter_mb']:.0f}" if r["rss_quarter_mb"] else "-"
                print(f"{name:<11} {kind:<5} {r['seconds']:8.1f} {args.rows / r['seconds']:9,.0f} "
                      f"{'≤' + str(target) + ' s':>7} {r['rss_mb']:8.0f} {quarter:>9} "
                      f"{r['lookup_ms_median']:>14.2f} / {r['lookup_ms_p99']:.2f}")


if __name__ == "__main__":
    main()
