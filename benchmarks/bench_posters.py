"""Time market40's stall posters against their floor: a whole market as one sheet PDF, one poster PNG.

How to run (from the repository root, in the project venv)::

    python benchmarks/bench_posters.py            # full run: a 1,200-stall market, 3 rounds, ~1-2 min
    python benchmarks/bench_posters.py --quick    # smoke run: 120 stalls, 2 rounds, a few seconds
    python benchmarks/bench_posters.py --json     # machine-readable results on stdout

(the script puts its own checkout first on ``sys.path``, so ``PYTHONPATH=.`` is optional).
A busy machine is fine: the figure that counts is the **ratio** to the floor measured in the
same run, round by round; the load average is printed beside it, and CPU seconds beside
every wall time (on a shared machine wall time mostly measures the neighbours).

What it measures
----------------
* **Workload** – ``--stalls`` (default 1,200: Hạ Long I market has more than 1,200
  traders) synthetic :class:`~market40.posters.PosterData` from a fixed seed: BINs
  from a realistic bank mix, 10–14-digit accounts, the stall code as the purpose
  (``HL1 A12``, so every payload is distinct), holder names of 2–6 words (some long),
  Vietnamese shop names. Payloads are built with :func:`market40.vietqr.build`.
* **Floor** – segno alone drawing the same QR codes: ``segno.make(payload, error="m",
  micro=False, boost_error=False).save(BytesIO(), kind="pdf")`` for every payload (what
  any segno user pays for a vector QR, without a poster around it).
* **Market sheet** – ``render_sheet_pdf`` of every stall, A6 posters 4 to an A4 sheet,
  into memory, ``workers=1``. **Target: CPU ≤ 1.0× the floor's CPU** (#15), plus ≤ 60 KB
  a poster. The floor and the sheet alternate (``--rounds``; the order flips each round so
  neither always runs on a warmer or quieter machine); each round's ratio is printed
  and the median is the result.
* **Sheet with ``--workers``** (default 2) – the same sheet with the QR codes built in
  worker processes: wall and CPU (this process and its children). Not a target: it
  shows what a second process adds (little, once a symbol costs well under a millisecond).
* **One poster PNG** – ``render_png`` of one A6 poster at 300 dpi into memory, median of
  ``--repeats`` different stalls. Target ≤ 150 ms of CPU (wall time printed beside it:
  on a busy machine it mostly measures the queue for a core).
"""
from __future__ import annotations

import argparse
import io
import json
import os
import platform
import random
import resource
import statistics
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

# Benchmark the working tree this script sits in, whether or not PYTHONPATH is set.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import segno  # noqa: E402

from market40 import banks, posters, vietqr  # noqa: E402

TARGET_RATIO = 1.0          # sheet CPU / floor CPU, same run (#15)
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


class Clock:
    """Wall and CPU seconds of a block; CPU counts this process and the worker processes it reaped."""

    def __enter__(self) -> "Clock":
        self._wall, self._cpu = time.perf_counter(), self._cpu_now()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.wall = time.perf_counter() - self._wall
        self.cpu = self._cpu_now() - self._cpu

    @staticmethod
    def _cpu_now() -> float:
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.process_time() + children.ru_utime + children.ru_stime


def floor(payloads: list[str]) -> None:
    """segno alone drawing the same QR codes, as vector PDFs."""
    for payload in payloads:
        segno.make(payload, error="m", micro=False, boost_error=False).save(io.BytesIO(), kind="pdf")


def run(stalls: int, rounds: int, repeats: int, workers: int) -> dict[str, Any]:
    market = make_market(stalls)
    payloads = [d.payload for d in market]
    results: dict[str, Any] = {"stalls": stalls, "rounds": [], "load_before": os.getloadavg()}
    posters.layout(market[0])  # load the fonts and metrics once, as a long-running process would
    floor(payloads[:5])
    size = 0
    for index in range(rounds):
        one = {"load": os.getloadavg()[0]}
        buffer = io.BytesIO()
        steps = [("floor", lambda: floor(payloads)),
                 ("sheet", lambda: posters.render_sheet_pdf(market, buffer, size="a6", sheet="a4"))]
        for name, step in (steps if index % 2 == 0 else steps[::-1]):  # alternate which goes first
            with Clock() as clock:
                step()
            one[name] = {"wall": clock.wall, "cpu": clock.cpu}
        size = len(buffer.getvalue())
        one["ratio_cpu"] = one["sheet"]["cpu"] / one["floor"]["cpu"]
        one["ratio_wall"] = one["sheet"]["wall"] / one["floor"]["wall"]
        results["rounds"].append(one)
    results["ratio_cpu"] = statistics.median(r["ratio_cpu"] for r in results["rounds"])
    results["ratio_wall"] = statistics.median(r["ratio_wall"] for r in results["rounds"])
    results["kb_per_poster"] = size / stalls / 1024

    with Clock() as clock:
        posters.render_sheet_pdf(market, io.BytesIO(), size="a6", sheet="a4", workers=workers)
    results["sheet_workers"] = {"workers": workers, "wall": clock.wall, "cpu": clock.cpu,
                                "load": os.getloadavg()[0]}

    png_ms, png_cpu_ms = [], []
    for data in market[:repeats]:
        with Clock() as clock:
            posters.render_png(data, io.BytesIO(), size="a6", dpi=300)
        png_ms.append(1000 * clock.wall)
        png_cpu_ms.append(1000 * clock.cpu)
    results["png_ms"] = {"median": statistics.median(png_ms), "max": max(png_ms), "n": len(png_ms),
                         "cpu_median": statistics.median(png_cpu_ms)}
    results["load_after"] = os.getloadavg()
    return results


def report(r: dict[str, Any]) -> str:
    def mark(ok: bool) -> str:
        return "ok" if ok else "MISSED"

    n = r["stalls"]
    lines = [f"market40 posters benchmark — {n} stalls, A6 posters on A4 sheets (Python "
             f"{platform.python_version()}, {os.cpu_count()} CPUs, load average before "
             f"{r['load_before'][0]:.2f}, after {r['load_after'][0]:.2f})", "",
             "  floor: segno alone drawing the same QR codes (make + save as PDF), interleaved with the sheet",
             "  round  load   floor wall / CPU     sheet wall / CPU     ratio CPU   ratio wall"]
    for i, one in enumerate(r["rounds"], 1):
        lines.append(f"  {i:5d}  {one['load']:4.1f}   {one['floor']['wall']:6.2f} s / {one['floor']['cpu']:5.2f} s"
                     f"   {one['sheet']['wall']:6.2f} s / {one['sheet']['cpu']:5.2f} s"
                     f"   {one['ratio_cpu']:8.2f}x   {one['ratio_wall']:8.2f}x")
    lines += ["",
              f"  TARGET  sheet CPU / floor CPU (median of rounds): {r['ratio_cpu']:.2f}x   "
              f"target <= {TARGET_RATIO:g}x: {mark(r['ratio_cpu'] <= TARGET_RATIO)}",
              f"  TARGET  PDF size: {r['kb_per_poster']:.2f} KB a poster   "
              f"target <= {TARGET_KB_PER_POSTER:g}: {mark(r['kb_per_poster'] <= TARGET_KB_PER_POSTER)}"]
    png = r["png_ms"]
    lines.append(f"  TARGET  one poster PNG (A6, 300 dpi): median {png['cpu_median']:5.1f} ms CPU "
                 f"({png['median']:5.1f} ms wall, max {png['max']:5.1f} ms) over {png['n']}   target <= "
                 f"{TARGET_PNG_MS:g} ms CPU: {mark(png['cpu_median'] <= TARGET_PNG_MS)}")
    w = r["sheet_workers"]
    lines.append(f"  (not a target) sheet with workers={w['workers']}: {w['wall']:.2f} s wall, {w['cpu']:.2f} s CPU "
                 f"(this process + workers), load {w['load']:.1f}")
    lines.append(f"  (not a target) wall-time ratio, median: {r['ratio_wall']:.2f}x")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stalls", type=int, default=1200, help="posters in the market sheet (default 1200)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating floor/sheet rounds (default 3)")
    parser.add_argument("--repeats", type=int, default=15, help="PNG posters timed (default 15)")
    parser.add_argument("--workers", type=int, default=2, help="processes for the extra sheet run (default 2)")
    parser.add_argument("--quick", action="store_true", help="120 stalls, 2 rounds, 5 PNGs: a smoke run")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    stalls, rounds, repeats = (120, 2, 5) if args.quick else (args.stalls, args.rounds, args.repeats)
    results = run(stalls, rounds, repeats, args.workers)
    print(json.dumps(results, indent=2) if args.json else report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
