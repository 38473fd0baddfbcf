"""Census replacement speed: a board's list of 100,000 households replacing the stored one, against a floor.

Target (issue #16): replacing a 100,000-household census (a file that changes, removes and adds
some households and keeps the rest) takes **≤ 10 s** on SQLite. The floor is the least any
importer must do with the same file: read it with Python's ``csv`` module into one dictionary per
row (no validation, no database). Floor and market40 alternate, ``--repeat`` times, each in its
own process (so its peak memory, ru_maxrss, is its own), on a copy of the same stored census.

    python benchmarks/bench_census.py                        # SQLite, 100,000 households
    python benchmarks/bench_census.py --rows 20000 --repeat 1
    python benchmarks/bench_census.py --postgres             # also PostgreSQL: a throw-away database

The replacement file keeps 90 % of the households as they were, renames 5 %, drops 5 % and adds
as many new ones, in 50 markets and one month. The first import (every household new) is timed
once too, as a figure (not a target).
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from benchlib import load, median, prepare_markets, self_usage, timed_operator_import  # noqa: E402

MARKETS = 50
PERIOD = "2025-06"
HEADER = ["Mã chợ", "Kỳ", "Mã sạp", "Tên chủ hộ", "Trạng thái", "Số điện thoại"]
TARGET_S = 10.0
SURNAMES = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi", "Đỗ", "Hồ"]
MIDDLE = ["Thị", "Văn", "Minh", "Thu", "Ngọc", "Đức"]
GIVEN = ["Lan", "Hoa", "Mai", "Bình", "Nam", "Hằng", "Tâm", "Hà", "Đức", "Anh", "Dũng", "Hương"]


def codes() -> list[str]:
    return [f"C{i:02d}" for i in range(1, MARKETS + 1)]


def _name(i: int, renamed: bool = False) -> str:
    name = f"{SURNAMES[i % 10]} {MIDDLE[(i // 10) % 6]} {GIVEN[(i // 60) % 12]}"
    return name + " Anh" if renamed else name


def write_files(rows: int, folder: Path) -> tuple[Path, Path]:
    """The stored census (``rows`` households) and its replacement (5 % renamed, 5 % gone, 5 % new)."""
    markets = codes()
    first, second = folder / f"census-{rows}.csv", folder / f"census-{rows}-new.csv"
    with open(first, "w", encoding="utf-8-sig", newline="") as a, \
            open(second, "w", encoding="utf-8-sig", newline="") as b:
        old, new = csv.writer(a), csv.writer(b)
        old.writerow(HEADER)
        new.writerow(HEADER)
        for i in range(rows):
            market, stall = markets[i % MARKETS], f"{'ABCDEFGH'[(i // MARKETS) % 8]}-{i // MARKETS // 8 + 1}"
            phone = f"09{i:08d}"
            row = [market, PERIOD, stall, _name(i), "", phone]
            old.writerow(row)
            if i % 20 == 3:  # gone from the new list
                continue
            if i % 20 == 7:  # renamed
                row = [market, PERIOD, stall, _name(i, renamed=True), "", phone]
            new.writerow(row)
        for i in range(rows // 20):  # new households on new stalls
            new.writerow([markets[i % MARKETS], PERIOD, f"N-{i + 1}", _name(i + 7), "Đang kinh doanh",
                          f"08{i:08d}"])
    return first, second


def prepare_database(url: str) -> None:
    prepare_markets(url, codes())


def child_market40(url: str, path: str) -> dict:
    """One census import (what `market40 census import` does)."""
    from market40.services.census import import_census
    report, figures, engine = timed_operator_import(
        url, lambda session, actor: import_census(session, actor, path))
    engine.dispose()
    return {**figures, "rows": report.rows, "added": report.added,
            "removed": report.removed, "updated": report.updated, "unchanged": report.unchanged,
            "problems": len(report.problems), "written": report.written}


def child_floor(url: str, path: str) -> dict:
    """The floor: read the file with csv into one dictionary per row (no checks, no database)."""
    cpu0, _ = self_usage()
    start = time.perf_counter()
    with open(path, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    cpu, rss = self_usage()
    return {"wall": time.perf_counter() - start, "cpu": cpu - cpu0, "rss_mb": rss, "rows": len(rows)}


CHILDREN = {"market40": child_market40, "floor": child_floor}


def child(kind: str, url: str, path: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", kind, url, str(path)], capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"{kind} failed:\n{out.stderr[-3000:]}")
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    figures["load"] = os.getloadavg()[0]
    return figures


def postgres_base(port: int | None) -> str:
    from sqlalchemy.engine import make_url
    url = make_url(os.environ.get("MARKET40_TEST_POSTGRES_URL",
                                  "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"))
    if port:
        url = url.set(port=port)
    return url.render_as_string(hide_password=False)


def measure(name: str, url: str, first: Path, second: Path, rows: int, repeat: int,
            restore: Callable[[], None]) -> dict:
    series: dict[str, list[dict]] = {"floor": [], "market40": []}
    fresh = None
    for _ in range(repeat):
        restore()
        stored = child("market40", url, first)  # the census the file replaces
        fresh = fresh or stored
        for kind in ("floor", "market40"):
            series[kind].append(child(kind, url, second))
    mine, floor = series["market40"], series["floor"]
    expected = (rows // 20, rows // 20, rows // 20)
    wrong = [r for r in mine if (r["added"], r["removed"], r["updated"]) != expected or r["problems"]]
    if wrong:
        raise SystemExit(f"the replacement did not do what the file says: {wrong[0]} (expected {expected})")
    seconds = median([r["wall"] for r in mine])
    verdict = "met" if seconds <= TARGET_S * rows / 100_000 else "MISSED"
    print(f"{name:<10} {rows:>9,} households  floor {median([r['wall'] for r in floor]):5.1f} s "
          f"({median([r['cpu'] for r in floor]):.1f} CPU-s, {max(r['rss_mb'] for r in floor):.0f} MB)  "
          f"replace {seconds:5.1f} s ({median([r['cpu'] for r in mine]):.1f} CPU-s, "
          f"peak {max(r['rss_mb'] for r in mine):.0f} MB)  target ≤ {TARGET_S * rows / 100_000:.1f} s {verdict}  "
          f"first import {fresh['wall']:.1f} s ({fresh['cpu']:.1f} CPU-s, peak {fresh['rss_mb']:.0f} MB)  "
          f"load {median([r['load'] for r in mine]):.1f}", flush=True)
    return {"seconds": seconds, "ok": verdict == "met"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="households (default 100000)")
    parser.add_argument("--repeat", type=int, default=2, help="alternating repetitions (default 2)")
    parser.add_argument("--postgres", action="store_true", help="also PostgreSQL (a throw-away database)")
    parser.add_argument("--port", type=int, help="PostgreSQL port (default: the URL's, 5432)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, url, path = args.child
        print(json.dumps(CHILDREN[kind](url, path)))
        return 0
    print(f"TARGET: replacing a census of {args.rows:,} households ≤ {TARGET_S * args.rows / 100_000:.1f} s "
          f"(SQLite); the floor (csv into dictionaries) and the first import are figures, not targets; {load()}")
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        first, second = write_files(args.rows, folder)
        path = folder / "bench.db"
        url = f"sqlite:///{path}"
        prepare_database(url)
        template = folder / "template.db"
        shutil.copyfile(path, template)

        def restore_sqlite() -> None:
            shutil.copyfile(template, path)
            for suffix in ("-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)

        ok &= measure("SQLite", url, first, second, args.rows, args.repeat, restore_sqlite)["ok"]
        if args.postgres:
            import psycopg
            base = postgres_base(args.port)
            admin, name = base.replace("+psycopg", ""), f"market40_bench_{secrets.token_hex(4)}"
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            try:
                pg = base.rsplit("/", 1)[0] + "/" + name
                measure("PostgreSQL", pg, first, second, args.rows, args.repeat, lambda: prepare_database(pg))
            finally:
                with psycopg.connect(admin, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(f"at the end: {load()}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
