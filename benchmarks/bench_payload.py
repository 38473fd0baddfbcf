"""Encode/decode throughput of market40's VietQR payload core, side by side with the PyPI peers.

How to run (from the repository root, in the project venv)::

    python benchmarks/bench_payload.py           # full run: 7 repeats of ~0.4 s each, ~1 min
    python benchmarks/bench_payload.py --quick   # smoke run: 3 repeats of ~0.05 s, ~5 s
    python benchmarks/bench_payload.py --json    # machine-readable results on stdout

(the script puts its own checkout first on ``sys.path``, so ``PYTHONPATH=.`` is optional).

The peers are the ``bench`` extra of setup.cfg (``pip install -e .[bench]``): vietnam-qr-pay,
napas-qr-python, vnqr, vietqr-emvco. A peer that is not installed is skipped and the report
says so. Run it on a quiet machine: the load average is printed at the start and the end.

What it measures
----------------
* **Workload** – ``--size`` (default 1,000) stall payload inputs generated from a fixed seed:
  BINs from a realistic bank mix, 10–14-digit account numbers, an ASCII stall code as
  purpose (``HL1 A12``), ~10 % with an amount (dynamic QR). Every library gets the same
  inputs, converted once, before timing, to the argument types its API takes.
* **Encode** – fields to payload string, validation included: for market40
  ``vietqr.build(...).payload``; for each peer its public generator.
* **Decode** – payload string to fields, CRC check included: for market40 ``vietqr.parse``;
  for each peer its public decoder (vietqr-emvco's ``parse`` skips the CRC, so its
  ``verify_checksum`` is timed with it; vnqr has no decoder). All decoders read the same
  payloads: the ones market40 builds for the workload.
* **Vietnamese workload** – the same inputs with purposes such as ``Chợ Hạ Long I sạp A-12``,
  which market40 folds to ``CHO HA LONG I SAP A-12``; timed for market40 only (the peers
  do not fold, they would emit non-ASCII into an ANS field).
* **Method** – like :mod:`timeit` (garbage collector off while timing): each repeat calls
  the function once per input, ``loops`` times over the workload, with ``loops`` chosen so
  a repeat lasts about ``--target-time`` seconds. Repeats run round-robin across all the
  measurements, so a change in machine load hits every library alike. The report gives the
  median ops/s over ``--repeats`` repeats, with min and max, and the ratio
  market40 / vietnam-qr-pay.
* **Output checks** – before timing, every peer's payloads for the whole workload are read
  by market40's parser and compared field by field (bin, account, service, point of
  initiation, amount, purpose), and every peer's decoder reads market40's payloads and is
  compared likewise. A peer whose output is wrong has its figure marked "output invalid"
  (and gets no ratio) instead of being compared silently.

Targets (printed beside the figures): encode ≥ 200,000/s, decode ≥ 200,000/s, and
≥ 7× vietnam-qr-pay for both.
"""
from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import random
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

# Benchmark the working tree this script sits in, whether or not PYTHONPATH is set.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from market40 import banks, vietqr  # noqa: E402
from market40.exceptions import ValidationError  # noqa: E402
from market40.text import emv_text  # noqa: E402

TARGET_OPS = 200_000
TARGET_RATIO = 7.0
SEED = 40

# Share of personal accounts by bank, roughly as seen on market stalls (state banks and
# MB/Techcombank dominate); the remaining 5 % are drawn from the whole bank directory.
BANK_MIX = {
    "970405": 14,  # Agribank
    "970422": 14,  # MB
    "970436": 12,  # Vietcombank
    "970415": 10,  # VietinBank
    "970418": 10,  # BIDV
    "970407": 8,   # Techcombank
    "970416": 5,   # ACB
    "970432": 5,   # VPBank
    "970403": 4,   # Sacombank
    "970423": 3,   # TPBank
    "970449": 3,   # LPBank
    "970437": 2,   # HDBank
    "970441": 2,   # VIB
    "970443": 2,   # SHB
}
OTHER_BANKS_SHARE = 5
DYNAMIC_SHARE = 0.10

MARKETS_ASCII = ["HL1", "HL2", "DC", "CON", "HAN", "DB", "BT", "AT", "AK", "DINH CA", "VY", "LD"]
MARKETS_VI = ["Chợ Hạ Long I", "Chợ Hạ Long II", "Chợ Cồn", "Chợ Hàn", "Chợ Đông Ba",
              "Chợ Bến Thành", "Chợ An Thới", "Chợ An Khánh", "Chợ Đình Cả", "Chợ Vĩnh Yên",
              "Chợ Lạc Dương", "Chợ Đà Lạt"]
STALL_WORDS_VI = ["sạp", "quầy", "ki-ốt", "gian"]


# --------------------------------------------------------------------------- workload

@dataclass(frozen=True)
class StallInput:
    bin: str
    account: str
    amount: int | None  # None: static sticker; an amount: per-sale dynamic QR
    purpose: str


def make_workload(size: int, seed: int = SEED, vietnamese: bool = False) -> list[StallInput]:
    """``size`` deterministic stall inputs (the same for every run with the same seed)."""
    rng = random.Random(seed)
    known = {b.bin for b in banks.all_banks()}
    missing = sorted(set(BANK_MIX) - known)
    if missing:
        raise SystemExit(f"bench: BANK_MIX has BINs the directory does not know: {missing}")
    others = sorted(b.bin for b in banks.all_banks("bank") if b.bin not in BANK_MIX)
    bins, weights = list(BANK_MIX), list(BANK_MIX.values())
    out = []
    for _ in range(size):
        if rng.randrange(100) < OTHER_BANKS_SHARE:
            bank = rng.choice(others)
        else:
            bank = rng.choices(bins, weights)[0]
        account = str(rng.randrange(1, 10)) + "".join(
            rng.choice("0123456789") for _ in range(rng.randint(9, 13)))
        amount = rng.randrange(5, 2_000) * 1_000 if rng.random() < DYNAMIC_SHARE else None
        row, stall = rng.choice("ABCDEFGH"), rng.randint(1, 120)
        if vietnamese:
            purpose = f"{rng.choice(MARKETS_VI)} {rng.choice(STALL_WORDS_VI)} {row}-{stall:02d}"
            if len(emv_text(purpose)) > 25:  # keep within the 25-character ANS limit once folded
                purpose = purpose.removeprefix("Chợ ")
        else:
            purpose = f"{rng.choice(MARKETS_ASCII)} {row}{stall:02d}"
            if rng.random() < 0.2:
                purpose = "TT " + purpose
        out.append(StallInput(bank, account, amount, purpose))
    return out


# --------------------------------------------------------------------------- libraries

@dataclass
class Library:
    """One implementation: how to encode a StallInput and how to decode a payload."""

    name: str
    dist: str
    version: str = ""
    # prepare(StallInput) -> the argument ``encode`` takes (converted once, outside timing)
    prepare: Callable[[StallInput], Any] | None = None
    encode: Callable[[Any], str] | None = None
    # decode(payload) -> fields as a dict with the keys of _fields()
    decode: Callable[[str], Any] | None = None
    fields: Callable[[Any], dict[str, Any]] | None = None
    decode_note: str = ""
    skipped: str = ""


def _ours_fields(qr: vietqr.VietQR) -> dict[str, Any]:
    return {"bin": qr.bin, "account": qr.account, "service": qr.service,
            "initiation": qr.initiation, "amount": qr.amount, "purpose": qr.purpose}


def _poi(code: str | None) -> str | None:
    return {"11": "static", "12": "dynamic"}.get(code or "", code)


def _int_or_none(text: Any) -> Any:
    if text in (None, ""):
        return None
    try:
        number = float(text)
    except (TypeError, ValueError):
        return text
    return int(number) if number == int(number) else number


def market40_library() -> Library:
    build, parse = vietqr.build, vietqr.parse
    return Library(
        name="market40", dist="market40", version=_version("market40"),
        prepare=lambda s: {"bin": s.bin, "account": s.account, "amount": s.amount, "purpose": s.purpose},
        encode=lambda kw: build(**kw).payload,
        decode=parse, fields=_ours_fields,
    )


def peer_libraries() -> list[Library]:
    libs = []

    # vietnam-qr-pay (port of the npm library of the same name).
    lib = Library(name="vietnam-qr-pay", dist="vietnam-qr-pay")
    try:
        from vietnam_qr_pay import QRPay as XNQRPay
    except ImportError as error:
        lib.skipped = f"not installed ({error})"
    else:
        def xn_fields(qr: Any) -> dict[str, Any]:
            if not qr.is_valid:
                raise ValueError("is_valid is False")
            return {"bin": qr.consumer.bank_bin, "account": qr.consumer.bank_number,
                    "service": qr.provider.service, "initiation": _poi(qr.init_method),
                    "amount": _int_or_none(qr.amount), "purpose": qr.additional_data.purpose}
        init = XNQRPay.init_viet_qr
        lib.prepare = lambda s: (s.bin, s.account, None if s.amount is None else str(s.amount), s.purpose)
        lib.encode = lambda a: init(*a).build()
        lib.decode, lib.fields = XNQRPay, xn_fields
    libs.append(lib)

    # napas-qr-python (import name qr_pay).
    lib = Library(name="napas-qr-python", dist="napas-qr-python")
    try:
        import qr_pay
    except ImportError as error:
        lib.skipped = f"not installed ({error})"
    else:
        def napas_fields(d: dict[str, Any]) -> dict[str, Any]:
            return {"bin": d.get("bin_id"), "account": d.get("consumer_id"),
                    "service": d.get("service_code"), "initiation": _poi(d.get("point_of_initiation_method")),
                    "amount": _int_or_none(d.get("transaction_amount")),
                    "purpose": d.get("purpose_of_transaction")}
        NapasQRPay = qr_pay.QRPay
        # Its default point of initiation is DYNAMIC even without an amount, so say which.
        lib.prepare = lambda s: {"bin_id": s.bin, "consumer_id": s.account, "transaction_amount": s.amount,
                                 "purpose_of_transaction": s.purpose,
                                 "point_of_initiation_method": "STATIC" if s.amount is None else "DYNAMIC"}
        lib.encode = lambda kw: NapasQRPay(**kw).code
        lib.decode, lib.fields = qr_pay.decode, napas_fields
    libs.append(lib)

    # vnqr: a generator only; tag 54 and 62 are mandatory in its API.
    lib = Library(name="vnqr", dist="vnqr")
    try:
        from vnqr import generate_vietqr_string
    except ImportError as error:
        lib.skipped = f"not installed ({error})"
    else:
        # No way to say "no amount": the closest call passes 0.
        lib.prepare = lambda s: (s.bin, s.account, s.amount or 0, s.purpose)
        lib.encode = lambda a: generate_vietqr_string(*a)
        lib.decode_note = "no decoder in its API"
    libs.append(lib)

    # vietqr-emvco.
    lib = Library(name="vietqr-emvco", dist="vietqr-emvco")
    try:
        from vietqr_emvco import VietQRGenerator, VietQRParser
    except ImportError as error:
        lib.skipped = f"not installed ({error})"
    else:
        def emvco_decode(payload: str) -> dict[str, Any]:
            # parse() does not look at the CRC; a decoder that accepts corrupt payloads is
            # not doing the same work, so the CRC check is timed with it.
            if not VietQRParser.verify_checksum(payload):
                raise ValueError("CRC mismatch")
            return VietQRParser.parse(payload)

        def emvco_fields(d: dict[str, Any]) -> dict[str, Any]:
            return {"bin": d["bank_bin"], "account": d["account_number"], "service": d["service_code"],
                    "initiation": _poi(d["point_of_initiation_method"]),
                    "amount": _int_or_none(d["amount"]), "purpose": d["memo"] or None}
        lib.prepare = lambda s: (s.bin, s.account, s.amount, s.purpose)
        lib.encode = lambda a: VietQRGenerator(a[0], a[1]).generate(amount=a[2], memo=a[3])
        lib.decode, lib.fields = emvco_decode, emvco_fields
        lib.decode_note = "CRC check (verify_checksum) timed with parse"
    libs.append(lib)
    return libs


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        if dist == "market40":
            import market40
            return market40.__version__
        return "?"


# --------------------------------------------------------------------------- output checks

def expected_fields(s: StallInput) -> dict[str, Any]:
    return {"bin": s.bin, "account": s.account, "service": vietqr.SERVICE_ACCOUNT,
            "initiation": "static" if s.amount is None else "dynamic", "amount": s.amount,
            "purpose": s.purpose}


def _diff(got: dict[str, Any], want: dict[str, Any]) -> str:
    return ", ".join(f"{k}={got.get(k)!r} (want {want[k]!r})" for k in want if got.get(k) != want[k])


@dataclass
class Check:
    checked: int = 0
    reasons: dict[str, list] = field(default_factory=dict)  # reason -> [count, first example]
    notes: list[str] = field(default_factory=list)  # valid, but worth knowing

    @property
    def failed(self) -> int:
        return sum(count for count, _ in self.reasons.values())

    @property
    def ok(self) -> bool:
        return self.checked > 0 and self.failed == 0

    def fail(self, reason: str, example: str) -> None:
        entry = self.reasons.setdefault(reason, [0, example])
        entry[0] += 1

    def summary(self) -> str:
        parts = [f"{self.checked - self.failed}/{self.checked} correct"]
        parts += [f"{count} wrong: {reason} (e.g. {example})" for reason, (count, example) in self.reasons.items()]
        return "; ".join(parts + self.notes)


def check_encoder(lib: Library, workload: list[StallInput]) -> Check:
    """Does market40's parser read the peer's payloads back to the input fields?"""
    check = Check()
    extras: dict[str, int] = {}
    for s in workload:
        check.checked += 1
        want = expected_fields(s)
        try:
            payload = lib.encode(lib.prepare(s))
        except Exception as error:  # noqa: BLE001 - a peer's failure is what we report
            check.fail(f"encoder raised {type(error).__name__}: {error}", repr(s))
            continue
        try:
            qr = vietqr.parse(payload)
        except ValidationError as error:
            check.fail(f"market40 rejects it: {error}", repr(payload))
            continue
        diff = _diff(_ours_fields(qr), want)
        if diff:
            check.fail("fields differ: " + ", ".join(sorted(k for k in want if _ours_fields(qr)[k] != want[k])),
                       f"{payload!r}: {diff}")
            continue
        for tag, value in qr.extra:
            extras[f"{tag}={value!r}"] = extras.get(f"{tag}={value!r}", 0) + 1
        for name in ("merchant_name", "merchant_city", "bill_number", "reference_label"):
            value = getattr(qr, name)
            if value is not None:
                extras[f"{name}={value!r}"] = extras.get(f"{name}={value!r}", 0) + 1
    for what, count in sorted(extras.items()):
        check.notes.append(f"adds unrequested {what} in {count}/{check.checked}")
    return check


def check_decoder(lib: Library, workload: list[StallInput], payloads: list[str]) -> Check:
    """Does the peer's decoder read market40's payloads to the input fields?"""
    check = Check()
    for s, payload in zip(workload, payloads):
        check.checked += 1
        want = expected_fields(s)
        try:
            got = lib.fields(lib.decode(payload))
        except Exception as error:  # noqa: BLE001
            check.fail(f"decoder raised {type(error).__name__}: {error}", repr(payload))
            continue
        diff = _diff(got, want)
        if diff:
            check.fail("fields differ: " + ", ".join(sorted(k for k in want if got.get(k) != want[k])),
                       f"{payload!r}: {diff}")
    return check


# --------------------------------------------------------------------------- timing

@dataclass
class Timing:
    library: str
    version: str
    operation: str        # "encode" | "decode"
    workload: str         # "ascii" | "vietnamese"
    status: str = "ok"    # "ok" | "output invalid" | "skipped" | "n/a"
    note: str = ""
    median: float | None = None
    min: float | None = None
    max: float | None = None
    repeats: int = 0
    calls_per_repeat: int = 0


def _run(func: Callable[[Any], Any], args: list[Any], loops: int) -> float:
    """Seconds for ``loops`` passes over ``args`` (timeit-style: gc off while timing)."""
    gc_was = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        for _ in range(loops):
            for a in args:
                func(a)
        return time.perf_counter() - start
    finally:
        if gc_was:
            gc.enable()


@dataclass
class Pending:
    timing: Timing
    func: Callable[[Any], Any]
    args: list[Any]
    loops: int = 1
    rates: list[float] = field(default_factory=list)


def timed(lib: Library, operation: str, workload_name: str, func: Callable[[Any], Any],
          args: list[Any], status: str = "ok", note: str = "") -> Pending:
    return Pending(Timing(lib.name, lib.version, operation, workload_name, status, note), func, args)


def measure_all(pending: list[Pending], repeats: int, target_time: float) -> None:
    """Calibrate each measurement, then run the repeats round-robin.

    Interleaving (repeat 1 of every library, then repeat 2, ...) spreads any change in
    machine load over all libraries alike, so the ratios stay fair on a shared machine.
    """
    for p in pending:
        once = _run(p.func, p.args, 1)  # warm-up and calibration
        p.loops = max(1, math.ceil(target_time / max(once, 1e-9)))
    for _ in range(repeats):
        for p in pending:
            p.rates.append(p.loops * len(p.args) / _run(p.func, p.args, p.loops))
    for p in pending:
        t = p.timing
        t.median, t.min, t.max = statistics.median(p.rates), min(p.rates), max(p.rates)
        t.repeats, t.calls_per_repeat = repeats, p.loops * len(p.args)


# --------------------------------------------------------------------------- report

def _loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def _fmt(x: float | None) -> str:
    return "—" if x is None else f"{x:,.0f}"


def print_table(results: dict[str, Any]) -> None:
    m, w = results["machine"], results["workload"]
    print(f"market40 VietQR payload benchmark: {w['size']} stall inputs (seed {w['seed']}, "
          f"{w['dynamic']} dynamic), {results['method']['repeats']} repeats of ~"
          f"{results['method']['target_time']} s")
    print(f"Python {m['python']} on {m['platform']}, {m['cpus']} CPUs; load average at start "
          f"{m['loadavg_start']}, at end {m['loadavg_end']}")
    ratios = results["ratios"]
    for op, title in (("encode", "ENCODE  fields -> payload (validation included)"),
                      ("decode", "DECODE  payload -> fields (CRC check included)")):
        print()
        print(title)
        print(f"  {'library':<24}{'median ops/s':>14}{'min':>12}{'max':>12}{'vs vietnam-qr-pay':>20}  status")
        for t in results["timings"]:
            if t["operation"] != op or t["workload"] != "ascii":
                continue
            label = f"{t['library']} {t['version']}".strip()
            if t["status"] in ("skipped", "n/a"):
                print(f"  {label:<24}{'':>14}{'':>12}{'':>12}{'':>20}  {t['status']}: {t['note']}")
                continue
            ratio = ""
            if t["library"] == "market40":
                r = ratios.get(op)
                ratio = "—" if r is None else f"{r:.1f}x"
            elif t["library"] == "vietnam-qr-pay":
                ratio = "1.0x"
            status = t["status"].upper() if t["status"] != "ok" else "ok"
            if t["note"]:
                status += f" ({t['note']})"
            print(f"  {label:<24}{_fmt(t['median']):>14}{_fmt(t['min']):>12}{_fmt(t['max']):>12}{ratio:>20}  {status}")
        ours = next((t for t in results["timings"] if t["library"] == "market40"
                     and t["operation"] == op and t["workload"] == "ascii"), None)
        if ours:
            r = ratios.get(op)
            print(f"  targets: ≥ {TARGET_OPS:,}/s: {'MET' if ours['median'] >= TARGET_OPS else 'MISSED'}"
                  f" ({_fmt(ours['median'])}/s);  ≥ {TARGET_RATIO:.0f}x vietnam-qr-pay: "
                  + ("n/a (peer missing or invalid)" if r is None
                     else f"{'MET' if r >= TARGET_RATIO else 'MISSED'} ({r:.1f}x)"))
    print()
    print("VIETNAMESE purpose workload (market40 only; e.g. 'Chợ Hạ Long I sạp A-12' folded to "
          "'CHO HA LONG I SAP A-12')")
    for t in results["timings"]:
        if t["workload"] == "vietnamese":
            ok = "MET" if t["median"] >= TARGET_OPS else "MISSED"
            print(f"  {t['operation']:<24}{_fmt(t['median']):>14}{_fmt(t['min']):>12}{_fmt(t['max']):>12}"
                  f"    target ≥ {TARGET_OPS:,}/s: {ok}")
    print()
    print("OUTPUT CHECKS (whole workload; market40 parses each peer's payloads, each peer decodes market40's)")
    for name, c in results["checks"].items():
        for op in ("encode", "decode"):
            if op in c:
                print(f"  {name:<17}{op}: {c[op]}")
    if results["skipped"]:
        print()
        for name, why in results["skipped"].items():
            print(f"  skipped {name}: {why}")


# --------------------------------------------------------------------------- main

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short run: 3 repeats of ~0.05 s")
    parser.add_argument("--json", action="store_true", help="print results as JSON instead of a table")
    parser.add_argument("--repeats", type=int, help="repeats per measurement (default 7; 3 with --quick)")
    parser.add_argument("--target-time", type=float,
                        help="seconds per repeat (default 0.4; 0.05 with --quick)")
    parser.add_argument("--size", type=int, default=1000, help="number of workload inputs (default 1000)")
    parser.add_argument("--seed", type=int, default=SEED, help=f"workload seed (default {SEED})")
    opts = parser.parse_args(argv)
    opts.repeats = opts.repeats or (3 if opts.quick else 7)
    opts.target_time = opts.target_time or (0.05 if opts.quick else 0.4)

    load_start = _loadavg()
    workload = make_workload(opts.size, opts.seed)
    workload_vi = make_workload(opts.size, opts.seed, vietnamese=True)
    ours = market40_library()
    peers = peer_libraries()
    for lib in peers:
        if not lib.skipped:
            lib.version = _version(lib.dist)

    # The payloads every decoder reads: market40's own, for the same inputs.
    our_args = [ours.prepare(s) for s in workload]
    payloads = [ours.encode(a) for a in our_args]
    for s, p in zip(workload, payloads):  # our own output must pass our own check
        assert _ours_fields(vietqr.parse(p)) == expected_fields(s), p

    checks: dict[str, dict[str, str]] = {}
    status: dict[tuple[str, str], str] = {}
    for lib in peers:
        if lib.skipped:
            continue
        checks[lib.name] = {}
        enc = check_encoder(lib, workload)
        checks[lib.name]["encode"] = enc.summary()
        status[(lib.name, "encode")] = "ok" if enc.ok else "output invalid"
        if lib.decode is None:
            checks[lib.name]["decode"] = lib.decode_note
        else:
            dec = check_decoder(lib, workload, payloads)
            checks[lib.name]["decode"] = dec.summary()
            status[(lib.name, "decode")] = "ok" if dec.ok else "output invalid"

    timings: list[Timing] = []
    pending: list[Pending] = []
    for lib in [ours] + peers:
        if lib.skipped:
            for op in ("encode", "decode"):
                timings.append(Timing(lib.name, "", op, "ascii", "skipped", lib.skipped))
            continue
        args = [lib.prepare(s) for s in workload]
        pending.append(timed(lib, "encode", "ascii", lib.encode, args,
                             status.get((lib.name, "encode"), "ok")))
        if lib.decode is None:
            timings.append(Timing(lib.name, lib.version, "decode", "ascii", "n/a", lib.decode_note))
        else:
            pending.append(timed(lib, "decode", "ascii", lib.decode, payloads,
                                 status.get((lib.name, "decode"), "ok"),
                                 lib.decode_note if lib.name != "market40" else ""))
    args_vi = [ours.prepare(s) for s in workload_vi]
    payloads_vi = [ours.encode(a) for a in args_vi]
    pending.append(timed(ours, "encode", "vietnamese", ours.encode, args_vi))
    pending.append(timed(ours, "decode", "vietnamese", ours.decode, payloads_vi))
    measure_all(pending, opts.repeats, opts.target_time)
    timings = [p.timing for p in pending] + timings
    order = {(lib.name): i for i, lib in enumerate([ours] + peers)}
    timings.sort(key=lambda t: (t.workload != "ascii", order[t.library], t.operation != "encode"))

    def median_of(name: str, op: str) -> Timing | None:
        return next((t for t in timings if t.library == name and t.operation == op
                     and t.workload == "ascii"), None)

    ratios: dict[str, float | None] = {}
    for op in ("encode", "decode"):
        mine, theirs = median_of("market40", op), median_of("vietnam-qr-pay", op)
        ratios[op] = (mine.median / theirs.median
                      if theirs and theirs.status == "ok" and theirs.median else None)

    results = {
        "machine": {"python": platform.python_version(), "implementation": platform.python_implementation(),
                    "platform": platform.platform(terse=True), "cpus": os.cpu_count(),
                    "loadavg_start": load_start, "loadavg_end": _loadavg()},
        "workload": {"size": len(workload), "seed": opts.seed,
                     "dynamic": sum(s.amount is not None for s in workload),
                     "sample_ascii": asdict(workload[0]), "sample_vietnamese": asdict(workload_vi[0]),
                     "sample_payload": payloads[0]},
        "method": {"repeats": opts.repeats, "target_time": opts.target_time, "statistic": "median ops/s"},
        "targets": {"encode_ops": TARGET_OPS, "decode_ops": TARGET_OPS, "ratio_vs_vietnam_qr_pay": TARGET_RATIO},
        "timings": [asdict(t) for t in timings],
        "ratios": ratios,
        "checks": checks,
        "skipped": {lib.name: lib.skipped for lib in peers if lib.skipped},
    }
    if opts.json:
        json.dump(results, sys.stdout, indent=2, ensure_ascii=False)
        print()
    else:
        print_table(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
