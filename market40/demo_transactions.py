"""Synthetic bank transfers and market censuses for the demo province (deterministic).

**Everything here is invented**: no real transfer, account or person. It exists so that
``market40 demo`` users and the tests can run a census import, a transfer import, a
reconciliation and the adoption report on the demo province (``market40 tx demo``).

* :func:`onboarding_day` spreads the demo's accounts over the months before the end period:
  each market starts on a day of its own (its rollout) and its stalls follow over a few months,
  so the trend rises to the demo's adoption (83% on average) by the end;
* :func:`transfers` draws, for each accepting account and month, whether the stall is used
  (a share growing over time), how many transfers and their amounts, and a transfer content
  as bank apps mangle it: the plain reference, a bank prefix (``MBVCB.3278614981.HL1 A12.CT
  tu …``), lower case, spaces removed, or the customer's own words with no reference at all;
* :func:`census` is the market board's list for a month: the registry's operating stalls, a
  few that left, and a few new households not registered yet;
* :func:`write_samples` writes the small sample exports of ``data/samples/transactions/``.

Every number comes from ``random.Random(f"{seed}:…")`` and only ``Random.random()`` is called,
as in :mod:`market40.demo`: the same seed gives the same data on every Python 3.

>>> day = onboarding_day("HL1", "A-12", Period.parse("2025-06"))
>>> Period(2024, 1) <= Period.of(datetime(day.year, day.month, day.day)) <= Period(2025, 6)
True

Standard library only.
"""
from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from .reconciliation import Period, Transfer
from .accounts import stall_reference

__all__ = ["DemoAccount", "onboarding_day", "rollout_day", "activity_share", "transfers", "census", "board_account",
           "write_samples", "SAMPLE_PERIOD"]

#: The month the sample exports in data/samples/transactions/ cover.
SAMPLE_PERIOD = Period(2025, 6)
#: The market board's own account (fee collection), not a stall's: transfers to it are
#: "to an account not in the registry"; some carry a stall reference.
BOARD_BIN, BOARD_ACCOUNT = "970415", "113000199999"

_AMOUNTS = (10_000, 15_000, 20_000, 25_000, 30_000, 35_000, 40_000, 45_000, 50_000, 60_000, 70_000,
            80_000, 90_000, 100_000, 120_000, 150_000, 180_000, 200_000, 250_000, 300_000, 350_000,
            400_000, 500_000, 650_000, 800_000, 1_200_000)
_FREE_TEXT = ("Chuyen tien", "thanh toan", "ck", "tien rau", "tra tien ca", "mua hang", "Thanh toan QR",
              "chuyển khoản", "tien hang cho", "IBFT")
_PAYERS = ("NGUYEN VAN AN", "TRAN THI BINH", "LE THI HOA", "PHAM VAN DUC", "HOANG THI LAN", "VU VAN NAM",
           "DANG THI THU", "BUI VAN HUNG", "DO THI MAI", "NGO VAN LONG")
_NEW_OWNERS = ("Nguyễn Thị Hoa", "Trần Văn Tú", "Lê Thị Nhung", "Phạm Thị Yến", "Hoàng Văn Sơn",
               "Vũ Thị Thảo", "Đặng Văn Quân", "Bùi Thị Hạnh", "Đỗ Văn Khánh", "Ngô Thị Loan")


@dataclass(frozen=True)
class DemoAccount:
    """What the generator needs to know about one registered account."""

    account_id: int
    stall_id: int
    market_code: str
    stall_code: str
    reference: str  # the 62.08 purpose, "HL1 A12"
    bin: str
    number: str
    verified_on: date | None  # None: not verified (pending, rejected)
    closed_on: date | None = None  # the stall closed on this day
    revoked_on: date | None = None


def _rng(*parts: object) -> random.Random:
    return random.Random(":".join(str(p) for p in parts))


def rollout_day(market_code: str, end: Period, *, seed: int = 2025) -> date:
    """The day the programme started in a demo market: the first of a month 12 to 3 months before ``end``."""
    market = _rng(seed, "rollout", market_code)
    return end.shift(-12 + int(market.random() * 10)).start


def onboarding_day(market_code: str, stall_code: str, end: Period, *, seed: int = 2025) -> date:
    """The day a demo stall's account was verified: its market's rollout, then a wave of ~4 months.

    Markets start between 12 and 3 months before ``end``; every day returned is at least 10
    days before the end of ``end``.
    """
    start = rollout_day(market_code, end, seed=seed)
    stall = _rng(seed, "onboard", market_code, stall_code)
    day = start + timedelta(days=int(stall.random() ** 1.6 * 125))
    latest = end.end - timedelta(days=10)
    return min(day, latest)


def activity_share(market_code: str, period: Period, end: Period, *, seed: int = 2025) -> float:
    """The share of a market's accepting stalls that receive a transfer in ``period`` (0.35–0.85)."""
    base = 0.45 + _rng(seed, "use", market_code).random() * 0.2
    months_left = (end.year * 12 + end.month) - (period.year * 12 + period.month)
    return max(0.35, min(0.85, base + 0.2 - 0.03 * months_left))


def _content(rng: random.Random, reference: str, account: str) -> str:
    r = rng.random()
    if r < 0.55:
        return reference
    if r < 0.70:  # an MB/Vietcombank-style prefix and suffix
        return (f"MBVCB.{int(rng.random() * 9e9) + 10**9}.{reference}.CT tu "
                f"{int(rng.random() * 9e12) + 10**12} {_PAYERS[int(rng.random() * len(_PAYERS))]} toi {account}")
    if r < 0.80:
        return f"{reference.lower()} {_FREE_TEXT[int(rng.random() * len(_FREE_TEXT))]}"
    if r < 0.88:
        return reference.replace(" ", "")
    return _FREE_TEXT[int(rng.random() * len(_FREE_TEXT))]


def transfers(accounts: Sequence[DemoAccount], period: Period, end: Period, *, seed: int = 2025,
              shared: dict[tuple[str, str], Sequence[DemoAccount]] | None = None) -> Iterator[Transfer]:
    """The month's incoming transfers to the demo accounts, plus some to the market boards' account.

    An account receives transfers in a month only after it was verified (and before its stall
    closed or it was revoked). ``shared`` lists accounts registered for several stalls: their
    transfers name the stall in the content (or nothing, and stay unattributed).
    """
    start, stop = period.start, period.end
    counter = 0

    def moment(rng: random.Random, first: date, last: date) -> datetime:
        span = max(1, (last - first).days)
        day = first + timedelta(days=int(rng.random() * span))
        return datetime(day.year, day.month, day.day, 6 + int(rng.random() * 13), int(rng.random() * 60),
                        int(rng.random() * 60))

    def tx_id(bin_: str) -> str:
        nonlocal counter
        counter += 1
        return f"FT{period.year % 100:02d}{period.month:02d}{bin_[-3:]}{counter:08d}"

    for account in accounts:
        if account.verified_on is None or account.verified_on >= stop:
            continue
        first = max(start, account.verified_on)
        last = min(d for d in (stop, account.closed_on, account.revoked_on) if d is not None)
        if last <= first:
            continue
        rng = _rng(seed, "tx", period, account.account_id)
        if rng.random() > activity_share(account.market_code, period, end, seed=seed):
            continue
        count = 1 + int(-9 * _log(1 - rng.random()))  # geometric-like, mean ~10
        for _ in range(min(count, 120)):
            yield Transfer(account.bin, tx_id(account.bin), moment(rng, first, last), account.number,
                           _AMOUNTS[int(rng.random() ** 1.8 * len(_AMOUNTS))],
                           _content(rng, account.reference, account.number))
    for (bin_, number), owners in sorted((shared or {}).items()):
        rng = _rng(seed, "shared", period, bin_, number)
        for _ in range(6 + int(rng.random() * 10)):
            owner = owners[int(rng.random() * len(owners))]
            content = owner.reference if rng.random() < 0.8 else _FREE_TEXT[int(rng.random() * len(_FREE_TEXT))]
            yield Transfer(bin_, tx_id(bin_), moment(rng, start, stop), number,
                           _AMOUNTS[int(rng.random() * 12)], content)
    # Market fees paid into the board's account: their own reference scheme (PC + month + stall,
    # field-notes §2.3), not a stall reference, so they stay unattributed and are listed.
    rng = _rng(seed, "board", period)
    paying = [a for a in accounts if a.verified_on is not None and a.verified_on < stop]
    for _ in range(min(len(paying), 40)):
        owner = paying[int(rng.random() * len(paying))]
        stall = "".join(ch for ch in owner.stall_code if ch.isalnum())
        content = f"PC{period.year % 100:02d}{period.month:02d}{stall} phi ve sinh" if rng.random() < 0.85 \
            else "nop phi cho"
        yield Transfer(BOARD_BIN, tx_id(BOARD_BIN), moment(rng, start, stop), BOARD_ACCOUNT, 150_000, content)
    # A few owners are also paid into a second account they never registered; customers who
    # copy the stall reference from the poster still name the stall.
    for account in paying:
        rng = _rng(seed, "second", account.account_id)
        if rng.random() >= 0.01:
            continue
        number = "09" + "".join(str(int(rng.random() * 10)) for _ in range(8))
        rng = _rng(seed, "second", period, account.account_id)
        for _ in range(1 + int(rng.random() * 4)):
            yield Transfer("970422", tx_id("970422"), moment(rng, start, stop), number,
                           _AMOUNTS[int(rng.random() * 12)], f"{account.reference} ck")


def _log(x: float) -> float:
    import math
    return math.log(max(x, 1e-12))


def census(stalls: Iterable[tuple[str, str, str]], market_code: str, period: Period, *,
           seed: int = 2025) -> list[dict[str, str]]:
    """The board's list of operating households for one market and month.

    ``stalls`` are the registry's operating stalls ``(stall_code, owner_name, status)``; about
    1% have left (not listed), and about 1.5% of new households are added (stall codes
    ``M-1``, ``M-2``…, not in the registry yet).
    """
    rng = _rng(seed, "census", market_code, period)
    rows = []
    operating = [s for s in stalls if s[2] == "operating"]
    for code, owner, _ in operating:
        if rng.random() < 0.01:
            continue
        rows.append({"market_code": market_code, "period": str(period), "stall_code": code, "owner_name": owner,
                     "status": "Đang kinh doanh"})
    for n in range(1, 1 + int(len(operating) * 0.015 + rng.random())):
        rows.append({"market_code": market_code, "period": str(period), "stall_code": f"M-{n}",
                     "owner_name": _NEW_OWNERS[int(rng.random() * len(_NEW_OWNERS))], "status": "Đang kinh doanh"})
    return rows


def board_account() -> tuple[str, str]:
    """(BIN, account) of the market boards' fee account in the demo."""
    return BOARD_BIN, BOARD_ACCOUNT


# ------------------------------------------------------------------------------ samples

def _sample_accounts(market_code: str = "HL1", *, seed: int = 2025) -> list[DemoAccount]:
    from . import demo
    out = []
    for number, row in enumerate(demo.stalls(market_code, seed=seed), start=1):
        if not row["account"]:
            continue
        reference = stall_reference(market_code, row["stall_code"])
        out.append(DemoAccount(number, number, market_code, row["stall_code"], reference, row["bank"],
                               row["account"], date(2025, 1, 15)))
    return out


def write_samples(folder: str | Path, *, seed: int = 2025) -> list[Path]:
    """Write one small export per format for Chợ Hạ Long I (HL1), June 2025, into ``folder``.

    They fit the demo registry (``market40 demo``, seed 2025): the accounts are HL1's.
    """
    from .transactions import LAYOUTS, write_csv, write_jsonl
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    accounts = _sample_accounts(seed=seed)
    everything = list(transfers(accounts, SAMPLE_PERIOD, SAMPLE_PERIOD, seed=seed))
    by_bin: dict[str, list[Transfer]] = {}
    for t in everything:
        by_bin.setdefault(t.bank_bin, []).append(t)
    written = []

    def out(name: str) -> Path:
        path = folder / name
        written.append(path)
        return path

    with open(out("generic.csv"), "w", encoding="utf-8", newline="") as handle:
        write_csv(LAYOUTS["generic"], sorted(everything, key=lambda t: t.booked_at)[:60], handle)
    vcb = by_bin.get("970436", [])
    account = max({t.account for t in vcb}, key=lambda a: sum(t.account == a for t in vcb))
    statement = sorted((t for t in vcb if t.account == account), key=lambda t: t.booked_at)[:25]
    with open(out("vcb-statement.csv"), "w", encoding="utf-8-sig", newline="") as handle:
        title = ["NGÂN HÀNG TMCP NGOẠI THƯƠNG VIỆT NAM", "SAO KÊ TÀI KHOẢN / ACCOUNT STATEMENT",
                 f"Số tài khoản: {account}", "Loại tiền: VND",
                 f"Từ ngày 01/{SAMPLE_PERIOD.month:02d}/{SAMPLE_PERIOD.year} đến ngày "
                 f"{(SAMPLE_PERIOD.end - timedelta(days=1)):%d/%m/%Y}", ""]
        _write_vcb(handle, statement, title)
    for name, bin_, layout in (("vietinbank.csv", "970415", "vietinbank"), ("mb.csv", "970422", "mb")):
        rows = sorted(by_bin.get(bin_, []), key=lambda t: t.booked_at)[:30]
        with open(out(name), "w", encoding="utf-8-sig", newline="") as handle:
            write_csv(LAYOUTS[layout], rows, handle)
    _write_xlsx(out("vietinbank.xlsx"), sorted(by_bin.get("970415", []), key=lambda t: t.booked_at)[:30])
    with open(out("sepay.jsonl"), "w", encoding="utf-8", newline="") as handle:
        write_jsonl(LAYOUTS["sepay"], sorted(everything, key=lambda t: t.booked_at)[60:90], handle, start_id=92704)
    with open(out("casso-bidv.jsonl"), "w", encoding="utf-8", newline="") as handle:
        write_jsonl(LAYOUTS["casso"], sorted(by_bin.get("970418", []), key=lambda t: t.booked_at)[:20], handle,
                    start_id=15001)
    return written


def _write_vcb(handle: io.TextIOBase, statement: Sequence[Transfer], title: Sequence[str]) -> None:
    """A Vietcombank-style statement: title rows, debits and credits, a running balance, totals."""
    from .transactions import format_amount
    writer = csv.writer(handle, lineterminator="\r\n")
    for line in title:
        writer.writerow([line] if line else [])
    writer.writerow(["STT", "Ngày giao dịch", "Số tham chiếu", "Số tiền ghi nợ", "Số tiền ghi có", "Số dư",
                     "Nội dung chi tiết"])
    balance, credits, debits = 2_350_000, 0, 0
    for number, t in enumerate(statement, start=1):
        balance += t.amount
        credits += t.amount
        writer.writerow([number, t.booked_at.strftime("%d/%m/%Y %H:%M:%S"), t.tx_id, "", format_amount(t.amount, "dot"),
                         format_amount(balance, "dot"), t.content])
        if number == 10:  # the owner pays a supplier: an outgoing row, skipped by the importer
            balance -= 1_500_000
            debits += 1_500_000
            writer.writerow([f"{number}a", t.booked_at.strftime("%d/%m/%Y 17:45:00"),
                             f"{t.tx_id}D", format_amount(1_500_000, "dot"), "", format_amount(balance, "dot"),
                             "CHUYEN TIEN NHAP HANG"])
    writer.writerow(["Tổng cộng", "", "", format_amount(debits, "dot"), format_amount(credits, "dot"), "", ""])
    writer.writerow(["Số dư cuối kỳ", "", "", "", "", format_amount(balance, "dot"), ""])


def _write_xlsx(path: Path, rows: Sequence[Transfer]) -> None:
    from openpyxl import Workbook  # only for writing the sample; the module stays importable without it

    from .transactions import LAYOUTS, format_amount
    layout = LAYOUTS["vietinbank"]
    book = Workbook()
    sheet = book.active
    sheet.title = "Giao dich"
    sheet.append(["DANH SÁCH GIAO DỊCH - VIETINBANK eFAST (dữ liệu demo)"])
    sheet.append([])
    sheet.append(layout.header)
    for number, t in enumerate(rows, start=1):
        sheet.append([str(number), t.account, t.tx_id, t.booked_at.strftime("%d/%m/%Y %H:%M:%S"), "",
                      format_amount(t.amount, "dot"), t.content])
    for row in sheet.iter_rows(min_row=4):
        for cell in row:
            cell.data_type = "s"
            cell.number_format = "@"
    book.save(path)
