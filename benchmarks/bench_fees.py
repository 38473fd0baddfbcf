"""Time a province-month of market fees (issue #11): bills, slips, matching, beside segno's floor.

How to run (from the repository root, in the project venv)::

    python benchmarks/bench_fees.py                 # full size: 15,000 stalls in 43 markets, 100,000 transfers
    python benchmarks/bench_fees.py --stalls 3000 --transfers 20000   # reduced size on a busy machine
    python benchmarks/bench_fees.py --json
    python benchmarks/bench_fees.py --steps matching   # only some steps (bills are issued untimed when needed)

What it measures (a fresh SQLite registry in a temporary folder, built with bulk inserts):

* **Bills** – :meth:`Fees.issue` for every market for one month (rent by area and position
  class, two fixed charges, electricity for a third of the stalls): one bill and one dynamic
  VietQR per stall. Target ≤ 10 s for 15,000 stalls.
* **Slips** – :meth:`Fees.write_slips` for every market (A6, four to an A4 sheet), into memory,
  split over ``--workers`` processes by market (default 2: "on 2 cores"). Target ≤ 30 s.
* **Floor** – segno alone drawing the same QR codes as vector PDFs
  (``segno.make(payload, error="m").save(BytesIO(), kind="pdf")``), split over the same
  ``--workers`` processes, timed just before and just after the slips (interleaved, so both see
  the same neighbours); the slips are reported as a ratio to the mean of the two.
* **Matching** – ``--transfers`` incoming transfers to the boards' accounts (references as bank
  apps mangle them, a tenth with the content lost, partial and over-payments) matched with
  :meth:`Fees.match`, payments written. Target ≤ 5 s for 100,000.

CPU seconds are printed beside every wall time (on a shared machine wall time mostly
measures the neighbours): the process's own time plus that of its finished children
(``os.times()``), so the slips count their workers; with the load average (``uptime``) before
and after each step and each figure's ratio to its target (scaled to the size run).
``--size a7`` times A7 slips instead of A6; ``--steps`` runs only the steps named (``bills``,
``slips``, ``matching``; comma-separated): the bills the later steps need are then issued
untimed.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import random
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import date, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, select  # noqa: E402
from sqlalchemy.exc import OperationalError  # noqa: E402
from sqlmodel import Session  # noqa: E402

from market40 import db, fees as rules  # noqa: E402
from market40.models import FeeStall, FeeTariff, Locality, Market, Stall, utcnow  # noqa: E402
from market40.services.fees import Fees  # noqa: E402
from market40.services.registry import Actor  # noqa: E402

OP = Actor.operator("bench")
PERIOD = "2026-12"
TARIFFS = [
    ("THUE", "rent", "Tiền thuê điểm kinh doanh", "m²/tháng", 70_000, "I", None),
    ("THUE", "rent", "Tiền thuê điểm kinh doanh (góc)", "m²/tháng", 90_000, "I", "góc"),
    ("THUE", "rent", "Tiền thuê điểm kinh doanh", "m²/tháng", 50_000, "II", None),
    ("THUE", "rent", "Tiền thuê điểm kinh doanh", "m²/tháng", 35_000, "III", None),
    ("VESINH", "fixed", "Phí vệ sinh môi trường", "tháng", 50_000, None, None),
    ("ANNINH", "fixed", "Phí an ninh trật tự", "tháng", 20_000, None, None),
    ("DIEN", "metered", "Tiền điện", "kWh", 3_000, None, None),
]


def build(url: str, stalls: int, markets: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    engine = db.make_engine(url)
    now = utcnow()
    codes = []
    with Session(engine) as session:
        loc = Locality(code="99999", name="Phường Thử", kind="commune", unit_type="phường", province="Quảng Ninh",
                       valid_from=date(2025, 7, 1))
        session.add(loc)
        session.flush()
        per = [stalls // markets + (1 if i < stalls % markets else 0) for i in range(markets)]
        for i, n in enumerate(per):
            code = f"M{i + 1:02d}"
            codes.append(code)
            tier = "I" if n > 400 else "II" if n >= 200 else "III"
            market = Market(code=code, name=f"Chợ thử {i + 1}", tier=tier, locality_id=loc.id)
            session.add(market)
            session.flush()
            rows = [{"market_id": market.id, "code": f"{'ABCD'[k % 4]}-{k + 1}", "code_key": f"{'ABCD'[k % 4]}{k + 1}",
                     "owner_name": f"Hộ kinh doanh {k + 1}", "status": "operating", "created_at": now,
                     "updated_at": now} for k in range(n)]
            session.execute(insert(Stall), rows)
        for code, kind, name, unit, price, tier, position in TARIFFS:
            session.add(FeeTariff(code=code, kind=kind, name=name, unit=unit, unit_price=price, tier=tier,
                                  position_class=position, source="QĐ thử", valid_from=date(2026, 1, 1),
                                  imported_by="bench"))
        ids = [sid for (sid,) in session.execute(select(Stall.id)).all()]
        session.execute(insert(FeeStall), [{"stall_id": sid, "area_cm2": rng.choice((300, 450, 600, 900)),
                                            "position_class": "góc" if rng.random() < 0.1 else "trong",
                                            "updated_at": now} for sid in ids])
        from market40.models import FeeReading
        session.execute(insert(FeeReading), [{"stall_id": sid, "period": PERIOD, "code": "DIEN", "previous": 1000,
                                              "current": 1000 + q, "quantity": q, "updated_at": now,
                                              "updated_by": "bench"}
                                             for sid in ids if sid % 3 == 0 for q in [rng.randint(20, 400)]])
        session.commit()
        fees = Fees(session, OP)
        for i, code in enumerate(codes):
            fees.set_account(code, bank="970436", number=f"00110{i:08d}", holder_name=f"BAN QUAN LY CHO {chr(65 + i % 26)}")
        session.commit()
    engine.dispose()
    return codes


def _slips(args: tuple[str, list[str], str]) -> tuple[int, int, float]:
    url, codes, size = args
    engine = db.make_engine(url)
    count = total = 0
    start = time.process_time()
    with Session(engine) as session:
        fees = Fees(session, OP)
        for code in codes:
            out = io.BytesIO()
            done = fees.write_slips(code, PERIOD, out, size=size)
            count += done
            total += len(out.getvalue())
            try:
                session.commit()  # the audit event of the print
            except OperationalError:  # SQLite (WAL): the other worker wrote since this snapshot began
                session.rollback()
                fees.registry.audit("fee.slips.print", "market", code, note=f"{PERIOD}: {done} slips")
                session.commit()
    engine.dispose()
    return count, total, time.process_time() - start


def _floor(payloads: list[str]) -> tuple[int, float]:
    """segno alone: each payload's QR as a vector PDF (the floor of the slips)."""
    import segno
    start = time.process_time()
    for payload in payloads:
        segno.make(payload, error="m", micro=False, boost_error=False).save(io.BytesIO(), kind="pdf")
    return len(payloads), time.process_time() - start


def _pooled(pool: ProcessPoolExecutor | None, fn, jobs: list) -> tuple[list, float, float]:
    """Run ``fn`` over ``jobs`` (in the pool when there is one): results, wall s, CPU s of the workers."""
    wall = time.perf_counter()
    if pool is None:
        results = [fn(job) for job in jobs]
    else:
        results = list(pool.map(fn, jobs))
    return results, time.perf_counter() - wall, sum(r[-1] for r in results)


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def _uptime() -> str:
    """The 1, 5 and 15 minute load averages, as ``uptime`` prints them."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def _cpu() -> float:
    """CPU seconds of this process and its finished children (user + system), as ``time`` counts them."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


STEPS = ("bills", "slips", "matching")


def _steps(value: str) -> list[str]:
    steps = [step.strip() for step in value.split(",") if step.strip()]
    wrong = [step for step in steps if step not in STEPS]
    if wrong or not steps:
        raise argparse.ArgumentTypeError(f"unknown step(s) {', '.join(wrong) or '(none)'}; choose from "
                                         f"{', '.join(STEPS)}")
    return steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stalls", type=int, default=15_000)
    parser.add_argument("--markets", type=int, default=43)
    parser.add_argument("--transfers", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--size", choices=("a6", "a7"), default="a6", help="slip size (default A6)")
    parser.add_argument("--floor-sample", type=int, default=0,
                        help="time segno on every k-th payload only and scale to all (0: every payload; on a "
                             "busy machine the full floor costs ~11 ms CPU a code, twice)")
    parser.add_argument("--steps", type=_steps, default=list(STEPS),
                        help="comma-separated steps to time: bills, slips, matching (default all; bills are "
                             "issued untimed when only later steps are asked)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="bench-fees-")
    try:
        run(args, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run(args: argparse.Namespace, folder: str) -> None:
    url = db.database_url(os.path.join(folder, "fees.db"))
    db.init(url)
    codes = build(url, args.stalls, args.markets, args.seed)
    results: dict[str, object] = {"stalls": args.stalls, "markets": args.markets, "transfers": args.transfers,
                                  "load": os.getloadavg()[0], "uptime_start": _uptime(), "steps": args.steps}
    engine = db.make_engine(url)

    # bills (issued untimed when only the later steps are asked: they need them)
    load_before = _load()
    wall, cpu = time.perf_counter(), _cpu()
    with Session(engine) as session:
        fees = Fees(session, OP)
        issued = sum(fees.issue(code, PERIOD).created for code in codes)
        session.commit()
    if "bills" in args.steps:
        results["bills"] = {"count": issued, "wall_s": time.perf_counter() - wall, "cpu_s": _cpu() - cpu,
                            "target_s": 10.0 * args.stalls / 15_000, "load": [load_before, _load()]}
    if "slips" in args.steps:
        _time_slips(args, url, engine, codes, results)
    if "matching" in args.steps:
        _time_matching(args, engine, codes, results)
    engine.dispose()
    results["uptime_end"] = _uptime()
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"{args.stalls} stalls in {args.markets} markets, {args.transfers} transfers, {os.cpu_count()} CPUs "
          f"(load average {results['uptime_start']} at the start, {results['uptime_end']} at the end)")
    for key in ("bills", "floor_segno", "slips", "matching"):
        if key not in results:
            continue
        r = results[key]  # type: ignore[index]
        line = f"  {key:12s} wall {r['wall_s']:7.2f} s  cpu {r['cpu_s']:7.2f} s"
        if "target_s" in r:
            line += f"  target ≤ {r['target_s']:.1f} s (ratio {r['wall_s'] / r['target_s']:.2f})"
        if "floor_ratio" in r:
            line += f"  {r['floor_ratio']:.1f}× the floor"
        if "runs_wall_s" in r:
            line += f"  (runs {r['runs_wall_s'][0]:.2f} / {r['runs_wall_s'][1]:.2f} s, {r['workers']} workers"
            line += f"; timed {r['timed']} of {r['count']} codes, scaled)" if r["scaled"] else ")"
        if "load" in r:
            line += f"  load {r['load'][0]:.1f}→{r['load'][1]:.1f}"
        print(line)


def _time_slips(args: argparse.Namespace, url: str, engine: Any, codes: list[str], results: dict) -> None:
    # slips, split by market over the workers, between two runs of the floor (interleaved)
    with Session(engine) as session:
        payloads = [v.payload for code in codes for v in Fees(session, OP).bills(code, PERIOD) if v.payload]
    pool = ProcessPoolExecutor(args.workers) if args.workers > 1 else None
    try:
        if pool is not None:  # start the workers (and their imports) before any timing
            list(pool.map(_floor, [payloads[:1]] * args.workers))
        step = max(1, len(payloads) // args.floor_sample) if args.floor_sample else 1
        sample = payloads[::step]
        scale = len(payloads) / len(sample)
        floor_jobs = [sample[i::args.workers] for i in range(args.workers)]
        load_before = _load()
        floor1, floor1_wall, floor1_cpu = _pooled(pool, _floor, floor_jobs)
        parts, slips_wall, slips_cpu = _pooled(pool, _slips, [(url, codes[i::args.workers], args.size)
                                                              for i in range(args.workers)])
        floor2, floor2_wall, floor2_cpu = _pooled(pool, _floor, floor_jobs)
        load_after = _load()
    finally:
        if pool is not None:
            pool.shutdown()
    floor1_wall, floor2_wall = floor1_wall * scale, floor2_wall * scale
    floor_wall = (floor1_wall + floor2_wall) / 2
    results["floor_segno"] = {"count": len(payloads), "timed": sum(r[0] for r in floor1), "wall_s": floor_wall,
                              "cpu_s": (floor1_cpu + floor2_cpu) / 2 * scale, "runs_wall_s": [floor1_wall, floor2_wall],
                              "workers": args.workers, "scaled": scale > 1}
    results["slips"] = {"count": sum(p[0] for p in parts), "bytes": sum(p[1] for p in parts), "size": args.size,
                        "wall_s": slips_wall, "cpu_s": slips_cpu, "workers": args.workers,
                        "target_s": 30.0 * args.stalls / 15_000, "floor_ratio": slips_wall / floor_wall,
                        "load": [load_before, load_after]}


def _time_matching(args: argparse.Namespace, engine: Any, codes: list[str], results: dict) -> None:
    # matching
    rng = random.Random(args.seed)
    with Session(engine) as session:
        by_market = {code: Fees(session, OP).bills(code, PERIOD) for code in codes}
    transfers: dict[str, list[rules.Incoming]] = {code: [] for code in codes}
    flat = [(code, v) for code, views in by_market.items() for v in views]
    for n in range(args.transfers):
        code, view = flat[n % len(flat)] if n < len(flat) else rng.choice(flat)
        roll = rng.random()
        amount = view.amount if roll < 0.8 else view.amount // 2 if roll < 0.9 else view.amount + 1000
        ref = view.reference
        content = ("" if rng.random() < 0.1 else
                   rng.choice((ref, ref.replace(" ", ""), f"MBVCB.{n}.{ref.lower()}.CT tu 0011{n:08d}",
                               f"IBFT {ref.replace(' ', '')} nop phi")))
        transfers[code].append(rules.Incoming(f"970436:FT{n:09d}", datetime(2026, 12, 3 + n % 20, 9, n % 60),
                                              amount, content))
    load_before = _load()
    wall, cpu = time.perf_counter(), _cpu()
    applied = unmatched = 0
    with Session(engine) as session:
        fees = Fees(session, OP)
        for code in codes:
            run = fees.match(code, transfers[code])
            applied += run.applied
            unmatched += len(run.unmatched)
        session.commit()
    results["matching"] = {"transfers": args.transfers, "applied": applied, "unmatched": unmatched,
                           "wall_s": time.perf_counter() - wall, "cpu_s": _cpu() - cpu,
                           "target_s": 5.0 * args.transfers / 100_000, "load": [load_before, _load()]}


if __name__ == "__main__":
    main()
