"""Reconciliation at province scale: 15,000 stalls and 8,000,000 transfers (≈ 600 MB of CSV).

Targets (issue #15): import + reconcile ≤ 3× the floor measured in the same run (the floor and
market40 alternate, ``--repeat`` rounds), peak memory ≤ 1.5 GB and not growing with the file;
the adoption report ≤ 2 s. Beside market40's figures the script prints:

* the **floor**: the same aggregation written directly in DuckDB SQL on the CSV (no
  validation, no deduplication, nothing stored): what the engine itself costs;
* **DuckDB alone storing the CSV** in the store's own ``transfer`` table (its schema and settings;
  typed by the reader, one INSERT, committed; nothing checked or deduplicated): not a target, what
  the durable write costs the engine itself, timed in the same alternation;
* **DuckDB writing the CSV to an uncompressed Parquet file**: not a target and not a store (nothing
  in it can be erased or changed in place), the cheapest durable copy of the rows the engine makes;
* a **plain pandas script**, what an analyst would write (``pip install ".[bench]"``).

Latest figures (2026-12-03 23:12, quiet machine, load 1.4–1.7, 2 rounds): import + reconcile 6.96 s wall /
12.7 CPU-s (import 4.79 s + reconcile 2.17 s), **8.28–8.39×** the floor's wall (0.83 s; CPU 8.11–8.25×), peak
556 MB (¼ file 343 MB); DuckDB alone storing the CSV 2.70 s, **3.25×** the floor by itself; DuckDB writing it to
an uncompressed Parquet file **2.46–2.56×**; report 0.40 s. The ≤ 3× target is out of reach for a store that
keeps the rows (the README says why #15 is blocked on it).
Before (2026-12-03 17:58, quiet machine, load 1.1–1.6, 2 rounds): import + reconcile 8.61 s wall /
16.0 CPU-s (import 5.99 s + reconcile 2.62 s), **8.29–8.63×** the floor's wall (1.01 s; CPU 8.17–8.36×), peak
611 MB (¼ file 376 MB); DuckDB alone storing the CSV 3.31 s, **3.19–3.44×** the floor by itself; report 0.55 s.
Before (2026-12-03 10:39, 2 cores shared with other jobs, load 7.6–9.5, 2 rounds):
import + reconcile 47.8 s wall / 23.4 CPU-s (import 16.8 + reconcile 5.5), **8.5–10.8×** the
floor's wall (4.4 s; CPU 7.8–8.7×), peak 612 MB; DuckDB alone storing the CSV 17.1 s / 11.2 CPU-s,
**3.4–3.9×** the floor by itself; adoption report 1.98 s. README's "Speed" says where the CPU goes.

    python benchmarks/bench_reconcile.py                      # 15,000 stalls, 8,000,000 transfers
    python benchmarks/bench_reconcile.py --transfers 2000000  # quicker
    python benchmarks/bench_reconcile.py --layout vcb         # the file as Vietcombank-style statement rows

Every measured step runs in its own process, so its peak memory (``ru_maxrss``) is its own;
market40 also runs on a quarter of the file, to show whether memory grows with it. The
synthetic registry and the CSV are generated into a temporary directory (``--dir``; about
1.5 GB free is needed) and deleted at the end (``--keep`` keeps them).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MARKETS = 43
PERIOD = "2025-06"


# ------------------------------------------------------------------------------------------ setup

def build_registry(folder: Path, stalls: int) -> Path:
    """An SQLite registry with ``stalls`` stalls in 43 markets, most with a verified account."""
    from datetime import date, datetime, timezone

    from sqlalchemy import insert

    from market40 import db
    from market40.models import Locality, Market, PaymentAccount, Stall
    path = folder / "registry.db"
    db.init(str(path))
    engine = db.make_engine(str(path))
    when = datetime(2025, 1, 2, tzinfo=timezone.utc)
    per_market = stalls // MARKETS
    with db.session_scope(engine) as session:
        place = Locality(code="B", name="Tỉnh thử", kind="commune", unit_type="xã", province="Thử",
                         valid_from=date(2000, 1, 1))
        session.add(place)
        session.flush()
        markets = [Market(code=f"B{m:02d}", name=f"Chợ {m}", tier=("I", "II", "III")[m % 3], locality_id=place.id)
                   for m in range(1, MARKETS + 1)]
        session.add_all(markets)
        session.flush()
        stall_rows, index = [], 0
        for m, market in enumerate(markets):
            count = per_market + (1 if m < stalls % MARKETS else 0)
            for n in range(1, count + 1):
                stall_rows.append({"market_id": market.id, "code": f"A-{n}", "code_key": f"A{n}", "owner_name": "Chủ hộ",
                                   "status": "operating", "created_at": when, "updated_at": when})
        session.execute(insert(Stall), stall_rows)
        ids = session.execute(Stall.__table__.select().with_only_columns(  # type: ignore[attr-defined]
            Stall.id, Stall.market_id, Stall.code).order_by(Stall.id)).all()
        codes = {m.id: m.code for m in markets}
        accounts = []
        for index, (stall_id, market_id, code) in enumerate(ids):
            if index % 10 == 9:
                continue  # one stall in ten has no account
            shared = index % 50 == 1  # a few couples share the previous stall's account
            number = f"0141{(index - 1 if shared else index):09d}"
            accounts.append({"stall_id": stall_id, "kind": "bank_account", "bin": "970436", "number": number,
                             "holder_name": "CHU HO", "consent_purpose": "bench", "consent_at": when,
                             "consent_channel": "bench", "created_at": when, "created_by": "bench",
                             "purpose": f"{codes[market_id]} {code.replace('-', '')}", "payload": "000201",
                             "status": "verified", "verified_at": when})
        session.execute(insert(PaymentAccount), accounts)
    engine.dispose()
    return path


def write_transfers(folder: Path, transfers: int, stalls: int, layout: str) -> Path:
    """``transfers`` rows of June 2025 into registered, shared and unknown accounts (DuckDB SQL)."""
    import duckdb
    path = folder / f"transfers-{transfers}.csv"
    per_market = stalls // MARKETS
    con = duckdb.connect()
    con.execute("SET threads = 2")
    account = "'0141' || lpad(CAST(a AS VARCHAR), 9, '0')"
    unknown = "'0999' || lpad(CAST(a AS VARCHAR), 9, '0')"
    reference = ("'B' || lpad(CAST(1 + a % 43 AS VARCHAR), 2, '0') || ' A' || "
                 f"CAST(1 + (a // 43) % {per_market} AS VARCHAR)")
    content = (f"CASE i % 10 WHEN 0 THEN 'MBVCB.' || CAST(i AS VARCHAR) || '.' || {reference} || '.CT tu 00110012' "
               f"WHEN 1 THEN lower({reference}) || ' tien hang' WHEN 2 THEN replace({reference}, ' ', '') "
               f"WHEN 3 THEN 'Chuyen tien' ELSE {reference} END")
    select = f"""
        SELECT 'FT' || lpad(CAST(i AS VARCHAR), 12, '0') AS transaction_id,
               TIMESTAMP '2025-06-01' + to_seconds(CAST((i * 2654435761) % (30 * 86400) AS BIGINT)) AS booked_at,
               '970436' AS bank_bin,
               CASE WHEN i % 40 = 0 THEN {unknown} ELSE {account} END AS account,
               (1 + (i * 7919) % 300) * 1000 AS amount,
               {content} AS content
        FROM (SELECT i, CASE WHEN b % 10 = 9 THEN b - 1 ELSE b END AS a  -- stalls without an account: their neighbour
              FROM (SELECT i, (i * 48271) % {stalls} AS b FROM range({transfers}) t(i)))"""
    if layout == "generic":
        con.execute(f"COPY ({select.replace('AS booked_at', 'AS booked_at_ts')}) TO '{path}' (HEADER)".replace(
            "AS booked_at_ts", "AS booked_at"))
    else:  # a Vietcombank-style statement body: dd/mm/yyyy dates, 1.234.567 amounts, the account per file
        con.execute(f"""COPY (SELECT row_number() OVER () AS "STT", strftime(booked_at, '%d/%m/%Y %H:%M:%S')
                                AS "Ngày giao dịch", transaction_id AS "Số tham chiếu", '' AS "Số tiền ghi nợ",
                                replace(format('{{:,}}', amount), ',', '.') AS "Số tiền ghi có", '' AS "Số dư",
                                content AS "Nội dung chi tiết"
                         FROM ({select})) TO '{path}' (HEADER)""")
    con.close()
    return path


# ------------------------------------------------------------------------------------------ the runs

def run_market40(registry: str, csv_path: str, store: str, layout: str) -> dict:
    from market40 import db
    from market40.services.reconcile import reconcile
    from market40.services.registry import Actor
    from market40.services.transfers import import_file
    from market40.txstore import TransferStore
    start, cpu_start = time.perf_counter(), time.process_time()
    with TransferStore(store) as opened:
        # a one-account statement: an account of one stall only (index 2; index 1 shares index 0's)
        result = import_file(opened, csv_path, fmt=layout, account="0141000000002" if layout == "vcb" else None)
        imported, cpu_imported = time.perf_counter(), time.process_time()
        engine = db.make_engine(registry)
        with db.session_scope(engine) as session:
            summary = reconcile(session, Actor.operator("bench"), PERIOD, store=opened)
        engine.dispose()
    done, cpu_done = time.perf_counter(), time.process_time()
    return {"import_s": imported - start, "reconcile_s": done - imported, "total_s": done - start,
            "import_cpu_s": cpu_imported - cpu_start, "reconcile_cpu_s": cpu_done - cpu_imported,
            "inserted": result.inserted, "stalls": summary.stalls, "active": summary.active,
            "by_reference": summary.by_reference, "unattributed": summary.unattributed}


def run_report(registry: str, folder: str) -> dict:
    from market40 import db
    from market40.services.registry import Actor
    from market40.services.reports import adoption_summary, export
    engine = db.make_engine(registry)
    start = time.perf_counter()
    with db.session_scope(engine) as session:
        report = adoption_summary(session, Actor.operator("bench"), PERIOD, months=6)
    summarised = time.perf_counter()
    export(report, "xlsx", str(Path(folder) / "report.xlsx"))
    done = time.perf_counter()
    engine.dispose()
    if not report.reconciled:
        raise SystemExit("the report's registry was not reconciled: it would measure an empty report")
    return {"summary_s": summarised - start, "xlsx_s": done - summarised, "total_s": done - start,
            "accepting_rate": report.province.accepting_rate, "active_rate": report.province.active_rate}


def run_floor(csv_path: str, directory: str) -> dict:
    """The aggregation alone, in DuckDB SQL on the CSV: accepting and active per market."""
    import duckdb
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    start = time.perf_counter()
    rows = con.execute(f"""
        WITH t AS (SELECT bank_bin, account, count(*) AS n FROM read_csv('{csv_path}', header = true,
                       auto_detect = false, columns = {{'transaction_id': 'VARCHAR', 'booked_at': 'TIMESTAMP',
                       'bank_bin': 'VARCHAR', 'account': 'VARCHAR', 'amount': 'BIGINT', 'content': 'VARCHAR'}})
                   WHERE booked_at >= '2025-06-01' AND booked_at < '2025-07-01' GROUP BY ALL),
             d AS (SELECT * FROM read_csv('{directory}', header = true))
        SELECT d.market_id, count(DISTINCT d.stall_id) AS stalls,
               count(DISTINCT d.stall_id) FILTER (WHERE d.number IS NOT NULL) AS accepting,
               count(DISTINCT d.stall_id) FILTER (WHERE t.n > 0) AS active
        FROM d LEFT JOIN t ON t.bank_bin = d.bin AND t.account = d.number GROUP BY d.market_id""").fetchall()
    return {"total_s": time.perf_counter() - start, "markets": len(rows)}


def run_load(csv_path: str, store: str) -> dict:
    """What storing the file costs DuckDB itself: the CSV typed by the reader, inserted as it is
    into the store's own ``transfer`` table (its schema, compression and settings, from
    :class:`~market40.txstore.TransferStore`) in a file, committed (no validation, no deduplication)."""
    from market40.txstore import TransferStore
    Path(store).unlink(missing_ok=True)
    with TransferStore(store) as opened:  # the store's tables and settings, as an import opens them
        con = opened.con
        con.execute("SET enable_progress_bar = false")
        start = time.perf_counter()
        con.execute("BEGIN TRANSACTION")
        con.execute(f"""INSERT INTO transfer SELECT bank_bin, transaction_id, booked_at, account, amount, content,
                        'statement', 1 FROM read_csv('{csv_path}', header = true, auto_detect = false,
                        columns = {{'transaction_id': 'VARCHAR', 'booked_at': 'TIMESTAMP', 'bank_bin': 'VARCHAR',
                                    'account': 'VARCHAR', 'amount': 'BIGINT', 'content': 'VARCHAR'}})""")
        con.execute("COMMIT")
        seconds = time.perf_counter() - start
    Path(store).unlink(missing_ok=True)
    return {"total_s": seconds}


def run_parquet(csv_path: str, target: str) -> dict:
    """The cheapest durable copy DuckDB makes of the file: the CSV typed by the reader (the same columns)
    written to one uncompressed Parquet file. Not a store (nothing can be changed or erased in place, nothing
    checked); what writing the rows anywhere costs the engine."""
    import duckdb
    Path(target).unlink(missing_ok=True)
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute("SET preserve_insertion_order = false")
    start = time.perf_counter()
    con.execute(f"""COPY (SELECT bank_bin, transaction_id, booked_at, account, amount, content
                          FROM read_csv('{csv_path}', header = true, auto_detect = false,
                          columns = {{'transaction_id': 'VARCHAR', 'booked_at': 'TIMESTAMP', 'bank_bin': 'VARCHAR',
                                      'account': 'VARCHAR', 'amount': 'BIGINT', 'content': 'VARCHAR'}}))
                    TO '{target}' (FORMAT parquet, COMPRESSION uncompressed)""")
    seconds = time.perf_counter() - start
    con.close()
    Path(target).unlink(missing_ok=True)
    return {"total_s": seconds}


def run_pandas(csv_path: str, directory: str) -> dict:
    """What an analyst would write: read the CSV, group, merge, count."""
    import pandas as pd
    start = time.perf_counter()
    tx = pd.read_csv(csv_path, dtype={"account": str, "bank_bin": str, "transaction_id": str},
                     parse_dates=["booked_at"])
    tx = tx[(tx.booked_at >= "2025-06-01") & (tx.booked_at < "2025-07-01")]
    tx = tx.drop_duplicates(["bank_bin", "transaction_id"])
    per_account = tx.groupby(["bank_bin", "account"]).size().rename("n").reset_index()
    d = pd.read_csv(directory, dtype={"number": str, "bin": str})
    merged = d.merge(per_account, how="left", left_on=["bin", "number"], right_on=["bank_bin", "account"])
    by_market = merged.groupby("market_id").agg(stalls=("stall_id", "nunique"),
                                                active=("n", lambda s: int((s > 0).sum())))
    return {"total_s": time.perf_counter() - start, "markets": len(by_market)}


def export_directory(registry: Path, folder: Path) -> Path:
    """stall_id, market_id, bin, number of every stall (the floor and pandas join on it)."""
    import csv
    import sqlite3
    path = folder / "directory.csv"
    con = sqlite3.connect(registry)
    rows = con.execute("SELECT s.id, s.market_id, a.bin, a.number FROM stall s LEFT JOIN payment_account a "
                       "ON a.stall_id = s.id").fetchall()
    con.close()
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["stall_id", "market_id", "bin", "number"])
        writer.writerows(rows)
    return path


def child(kind: str, args: list[str]) -> dict:
    """Run one measured step in a fresh process; returns its result and peak RSS."""
    code = (f"import json, resource, sys; sys.path.insert(0, {str(ROOT)!r}); "
            f"import benchmarks.bench_reconcile as b; out = b.run_{kind}(*{args!r}); "
            "u = resource.getrusage(resource.RUSAGE_SELF); out['peak_rss_mb'] = u.ru_maxrss / 1024; "
            "out['cpu_s'] = u.ru_utime + u.ru_stime; print(json.dumps(out))")
    load = os.getloadavg()[0]
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"}
    out = json.loads(next(line for line in reversed(proc.stdout.splitlines()) if line.startswith("{")))
    out["load"] = load
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stalls", type=int, default=15_000)
    parser.add_argument("--transfers", type=int, default=8_000_000)
    parser.add_argument("--layout", choices=["generic", "vcb"], default="generic")
    parser.add_argument("--dir", help="Where to generate the files (default: a temporary directory).")
    parser.add_argument("--keep", action="store_true", help="Keep the generated files.")
    parser.add_argument("--skip-pandas", action="store_true")
    parser.add_argument("--repeat", type=int, default=2, help="alternating floor/market40 rounds (default 2)")
    options = parser.parse_args(argv)
    folder = Path(options.dir or tempfile.mkdtemp(prefix="market40-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(folder).free
    need = options.transfers * 180  # CSV + store + spill, generously
    if free < need:
        print(f"not enough space in {folder}: {free / 1e9:.1f} GB free, about {need / 1e9:.1f} GB needed")
        return 1
    try:
        t = time.perf_counter()
        registry = build_registry(folder, options.stalls)
        directory = export_directory(registry, folder)
        big = write_transfers(folder, options.transfers, options.stalls, options.layout)
        quarter = write_transfers(folder, options.transfers // 4, options.stalls, options.layout)
        print(f"load average before: {os.getloadavg()[0]:.1f}")
        print(f"setup: {options.stalls:,} stalls, {options.transfers:,} transfers ({big.stat().st_size / 1e6:,.0f} MB "
              f"{options.layout} CSV) in {time.perf_counter() - t:.1f} s; {os.cpu_count()} CPUs\n")
        small = child("market40", [str(shutil.copy(registry, folder / "small.db")), str(quarter),
                                   str(folder / "small.duckdb"), options.layout])
        fulls, floors, loads, parquets = [], [], [], []
        for round_ in range(options.repeat):  # floor and market40 in alternation, each on fresh copies
            if options.layout == "generic":
                floors.append(child("floor", [str(big), str(directory)]))
                loads.append(child("load", [str(big), str(folder / "load.duckdb")]))
                parquets.append(child("parquet", [str(big), str(folder / "copy.parquet")]))
            copy = shutil.copy(registry, folder / f"run{round_}.db")
            fulls.append(child("market40", [str(copy), str(big), str(folder / f"store{round_}.duckdb"),
                                            options.layout]))
            Path(folder / f"store{round_}.duckdb").unlink(missing_ok=True)
        failed = [r for r in fulls + floors if "error" in r]
        if failed:
            print(f"a run failed: {failed[0]['error']}")
            return 1
        best = min(range(len(fulls)), key=lambda i: fulls[i]["total_s"])
        full = fulls[best]
        floor = min(floors, key=lambda r: r["total_s"]) if floors else {}
        load = min((r for r in loads if "error" not in r), key=lambda r: r["total_s"], default={})
        parquet = min((r for r in parquets if "error" not in r), key=lambda r: r["total_s"], default={})
        # the report reads the registry the best run reconciled (the untouched copy has no results)
        report = child("report", [str(folder / f"run{best}.db"), str(folder)])
        analyst = {} if options.skip_pandas or options.layout != "generic" else child("pandas", [str(big), str(directory)])
        rows = [
            ("market40 import + reconcile (¼ file)", small.get("total_s"), small.get("peak_rss_mb"), small),
            ("market40 import + reconcile (best of runs)", full.get("total_s"), full.get("peak_rss_mb"), full),
            ("  of which import (parse, validate, dedup, store)", full.get("import_s"), None,
             {"cpu_s": full["import_cpu_s"]} if "import_cpu_s" in full else None),
            ("  of which reconcile (attribute, classify, write)", full.get("reconcile_s"), None,
             {"cpu_s": full["reconcile_cpu_s"]} if "reconcile_cpu_s" in full else None),
            ("market40 adoption report (summary + XLSX)", report.get("total_s"), report.get("peak_rss_mb"), report),
            ("  of which summary (6 months, reconciled)", report.get("summary_s"), None, None),
            ("  of which XLSX", report.get("xlsx_s"), None, None),
            ("FLOOR: the aggregation in DuckDB SQL on the CSV", floor.get("total_s"), floor.get("peak_rss_mb"), floor),
            ("DuckDB alone storing the CSV (not a target)", load.get("total_s"),
             load.get("peak_rss_mb"), load),
            ("DuckDB writing the CSV to Parquet (not a target)", parquet.get("total_s"),
             parquet.get("peak_rss_mb"), parquet),
            ("pandas script (not a target, for comparison)", analyst.get("total_s"), analyst.get("peak_rss_mb"), analyst),
        ]
        print(f"{'step':<52} {'wall s':>8} {'CPU s':>7} {'peak RSS':>10} {'load':>6}")
        for name, seconds, rss, raw in rows:
            if raw is not None and "error" in raw:
                print(f"{name:<52} {'—':>8} {'—':>7} {'—':>10}  ({raw['error']})")
                continue
            if seconds is None:
                continue
            cpu = f"{raw['cpu_s']:.1f}" if raw and "cpu_s" in raw else ""
            at = f"{raw['load']:.1f}" if raw and "load" in raw else ""
            print(f"{name:<52} {seconds:>8.2f} {cpu:>7} {(f'{rss:,.0f} MB' if rss else ''):>10} {at:>6}")
        if floors:
            ratios = [m["total_s"] / f["total_s"] for f, m in zip(floors, fulls)]
            cpu_ratios = [m["cpu_s"] / f["cpu_s"] for f, m in zip(floors, fulls)]
            print(f"\nratio to the floor, per alternating round: {', '.join(f'{r:.2f}' for r in ratios)} (wall); "
                  f"{', '.join(f'{r:.2f}' for r in cpu_ratios)} (CPU)")
            if loads and all("error" not in r for r in loads):
                stored = ", ".join(f"{m['import_s'] / r['total_s']:.2f}" for r, m in zip(loads, fulls))
                print(f"import alone against DuckDB alone storing the CSV (not a target), per round: {stored} (wall)")
                alone = ", ".join(f"{r['total_s'] / f['total_s']:.2f}× wall, {r['cpu_s'] / f['cpu_s']:.2f}× CPU"
                                  for f, r in zip(floors, loads))
                print(f"DuckDB alone storing the CSV against the floor, per round: {alone} (of the 3× the target "
                      "allows for everything)")
            if parquets and all("error" not in r for r in parquets):
                copied = ", ".join(f"{r['total_s'] / f['total_s']:.2f}× wall, {r['cpu_s'] / f['cpu_s']:.2f}× CPU"
                                   for f, r in zip(floors, parquets))
                print(f"DuckDB writing the CSV to an uncompressed Parquet file against the floor, per round: {copied} "
                      "(the cheapest durable copy of the rows, before any check)")
        print(f"load average at the end: {os.getloadavg()[0]:.1f} (1 min) on {os.cpu_count()} CPUs")
        if floors:
            ratio = min(ratios)
            print(f"\nTARGETS: import + reconcile ≤ 3× the floor → {ratio:.2f}× "
                  f"({'met' if ratio <= 3 else 'MISSED'}); peak ≤ 1,500 MB → {full['peak_rss_mb']:,.0f} MB "
                  f"(¼ file: {small.get('peak_rss_mb', 0):,.0f} MB); report ≤ 2 s → "
                  f"{report.get('total_s', float('nan')):.2f} s")
        print(f"reconciled: {full['inserted']:,} transfers, {full['stalls']:,} stalls, {full['active']:,} active, "
              f"{full['by_reference']:,} attributed by stall reference, {full['unattributed']:,} unattributed")
    finally:
        if not options.keep:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            print(f"files kept in {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
