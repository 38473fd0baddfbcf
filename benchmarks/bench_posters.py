"""Time market40's stall posters: a whole market as one sheet PDF, one poster PNG, and the QR floor.

How to run (from the repository root, in the project venv)::

    python benchmarks/bench_posters.py            # full run: a 1,200-stall market, ~1 min
    python benchmarks/bench_posters.py --quick    # smoke run: 120 stalls, a few seconds
    python benchmarks/bench_posters.py --json     # machine-readable results on stdout

(the script puts its own checkout first on ``sys.path``, so ``PYTHONPATH=.`` is optional).
Run it on a quiet machine: the load average is printed at the start and the end, and on
a shared 2-core machine another job halves what a second process can add.

What it measures
----------------
* **Workload** – ``--stalls`` (default 1,200: Hạ Long I market has more than 1,200
  traders) synthetic :class:`~market40.posters.PosterData` from a fixed seed: BINs
  from a realistic bank mix, 10–14-digit accounts, the stall code as the purpose
  (``HL1 A12``, so every payload is distinct), holder names of 2–6 words (some long),
  Vietnamese shop names. Payloads are built with :func:`market40.vietqr.build`.
* **Market sheet** – ``render_sheet_pdf`` of every stall, A6 posters 4 to an A4 sheet,
  into memory: wall time (target ≤ 15 s on 2 cores) and PDF bytes per poster (target
  ≤ 60 KB), once with ``workers=1`` (all in this process) and once with ``workers=2``.
* **One poster PNG** – ``render_png`` of one A6 poster at 300 dpi into memory, median of
  ``--repeats`` different stalls (target ≤ 150 ms).
* **QR floor** – the same payloads through the QR encoder alone, no poster:
  ``segno.make(payload, error="m")`` building the matrix only (what any segno user
  pays), ``qrimage.make_symbol`` (the project's encoder: segno with optimal
  segmentation, which the posters use), and segno writing each code as a PNG
  (``save(BytesIO, kind="png", scale=10)``). Encoding is most of a sheet's time:
  the figures show what the poster layer adds.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import platform
import random
import statistics
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any, Callable

# Benchmark the working tree this script sits in, whether or not PYTHONPATH is set.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import segno  # noqa: E402

from market40 import banks, posters, qrimage, vietqr  # noqa: E402

TARGET_SHEET_S = 15.0
TARGET_KB_PER_POSTER = 60.0
TARGET_PNG_MS = 150.0
SEED = 40

BANK_MIX = {"970405": 14, "970422": 14, "970436": 12, "970415": 10, "970418": 10, "970407": 8,
            "970416": 5, "970432": 5, "970403": 4, "970423": 3}
SURNAMES = ["NGUYEN", "TRAN", "LE", "PHAM", "HOANG", "VU", "DANG", "BUI", "DO", "HO", "NGO", "DUONG"]
MIDDLE = ["VAN", "THI", "DUC", "NGOC", "MINH", "THANH", "HONG", "QUANG", "XUAN", "THU"]
GIVEN = ["AN", "BINH", "CUONG", "DUNG", "HANG", "HOA", "KHANH", "LAN", "LONG", "MAI", "NAM", "TRANG"]
GOODS = ["Hải sản tươi sống", "Rau củ quả", "Thịt lợn sạch", "Gà vịt", "Tạp hóa", "Quần áo", "Giày dép",
         "Bún phở", "Trái cây", "Đồ khô", "Mực một nắng", "Cá biển", "Chả mực Hạ Long", "Gạo nếp"]


def make_market(stalls: int, seed: int = SEED) -> list[posters.PosterData]:
    """``stalls`` deterministic posters of one market (the same for every run with the same seed)."""
    rng = random.Random(seed)
    bins, weights = list(BANK_MIX), list(BANK_MIX.values())
    out = []
    for i in range(stalls):
        bank = banks.by_bin(rng.choices(bins, weights)[0])
        assert bank is not None
        account = "".join(rng.choice("0123456789") for _ in range(rng.randint(10, 14)))
        stall = f"{'ABCDEFGHKL'[i % 10]}{i // 10 + 1}"
        words = [rng.choice(SURNAMES)] + [rng.choice(MIDDLE) for _ in range(rng.choice((1, 1, 2, 3)))]
        holder = " ".join(words + [rng.choice(GIVEN)])
        owner = rng.choice(["Thu Hằng", "Cô Lan", "Anh Đức", "Bà Tư", "Chị Ngọc Ánh", "Minh Khôi"])
        out.append(posters.PosterData(
            payload=vietqr.build(bin=bank.bin, account=account, purpose=f"HL1 {stall}").payload,
            holder_name=holder, bank_short_name=bank.short_name, bank_name=bank.name,
            account_number=account, stall_code=stall, shop_name=f"{rng.choice(GOODS)} {owner}",
            market_name="Chợ Hạ Long I", serial=f"HL1-{i + 1:05d}", printed_on=date(2026, 11, 22)))
    return out


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run(stalls: int, repeats: int) -> dict[str, Any]:
    market = make_market(stalls)
    payloads = [d.payload for d in market]
    results: dict[str, Any] = {"stalls": stalls, "load_before": os.getloadavg()}

    posters.layout(market[0])  # load the fonts and metrics once, as a long-running process would
    for workers in (1, 2):
        buffer = io.BytesIO()
        seconds = timed(lambda: posters.render_sheet_pdf(market, buffer, size="a6", sheet="a4", workers=workers))
        results[f"sheet_workers_{workers}"] = {"seconds": seconds, "bytes": len(buffer.getvalue()),
                                               "kb_per_poster": len(buffer.getvalue()) / stalls / 1024,
                                               "posters_per_second": stalls / seconds}

    png_ms = []
    for data in market[:repeats]:
        png_ms.append(1000 * timed(lambda: posters.render_png(data, io.BytesIO(), size="a6", dpi=300)))
    results["png_ms"] = {"median": statistics.median(png_ms), "max": max(png_ms), "n": len(png_ms)}

    results["floor_segno_matrix_s"] = timed(lambda: [segno.make(p, error="m", micro=False, boost_error=False)
                                                     for p in payloads])
    results["floor_make_symbol_s"] = timed(lambda: [qrimage.make_symbol(p) for p in payloads])
    results["floor_segno_png_s"] = timed(lambda: [segno.make(p, error="m", micro=False, boost_error=False)
                                                  .save(io.BytesIO(), kind="png", scale=10) for p in payloads])
    results["load_after"] = os.getloadavg()
    return results


def report(r: dict[str, Any]) -> str:
    def mark(ok: bool) -> str:
        return "ok" if ok else "MISSED"

    n = r["stalls"]
    lines = [f"market40 posters benchmark — {n} stalls, A6 posters on A4 sheets "
             f"(Python {platform.python_version()}, {os.cpu_count()} CPUs, load before "
             f"{r['load_before'][0]:.2f}, after {r['load_after'][0]:.2f})", ""]
    for workers in (1, 2):
        s = r[f"sheet_workers_{workers}"]
        lines.append(f"  sheet PDF, workers={workers}:  {s['seconds']:6.2f} s  ({s['posters_per_second']:5.0f} posters/s)"
                     f"   target <= {TARGET_SHEET_S:g} s: {mark(s['seconds'] <= TARGET_SHEET_S * n / 1200)}"
                     f"   {s['kb_per_poster']:5.2f} KB/poster (target <= {TARGET_KB_PER_POSTER:g}: "
                     f"{mark(s['kb_per_poster'] <= TARGET_KB_PER_POSTER)})")
    png = r["png_ms"]
    lines.append(f"  one poster PNG (A6, 300 dpi): median {png['median']:5.1f} ms, max {png['max']:5.1f} ms "
                 f"over {png['n']}   target <= {TARGET_PNG_MS:g} ms: {mark(png['median'] <= TARGET_PNG_MS)}")
    lines += ["", "  floor, the same payloads through the QR encoder alone:",
              f"    segno.make(payload, error='m'), matrix only:        {r['floor_segno_matrix_s']:6.2f} s",
              f"    qrimage.make_symbol (segno + optimal segments):     {r['floor_make_symbol_s']:6.2f} s"
              "   <- what the posters use",
              f"    segno.make(...).save(BytesIO, kind='png'):          {r['floor_segno_png_s']:6.2f} s"]
    one = r["sheet_workers_1"]["seconds"]
    lines.append(f"    the poster layer (layout, drawing, PDF) adds {one - r['floor_make_symbol_s']:5.2f} s "
                 f"to make_symbol's time at workers=1")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stalls", type=int, default=1200, help="posters in the market sheet (default 1200)")
    parser.add_argument("--repeats", type=int, default=15, help="PNG posters timed (default 15)")
    parser.add_argument("--quick", action="store_true", help="120 stalls, 5 PNGs: a smoke run")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    stalls, repeats = (120, 5) if args.quick else (args.stalls, args.repeats)
    results = run(stalls, repeats)
    print(json.dumps(results, indent=2) if args.json else report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
