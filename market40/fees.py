"""Market fee rules (phí chợ): tariffs, bill lines, bill numbers and references, matching, states.

Pure: plain records in, plain records out (no database, no files). The use cases are in
:mod:`market40.services.fees`.

**Tariffs** are rows of a provincial price table with their legal source and dates. A stall's
bill takes, for each tariff code, the most specific row valid on the period's first day (a row
for the market's tier and the stall's position class beats a row for any tier or any class):

>>> from datetime import date
>>> rent = Tariff("THUE", "rent", "Tiền thuê", "m²/tháng", 60_000, "I", None, "QĐ 48/2017", date(2024, 1, 1))
>>> corner = Tariff("THUE", "rent", "Tiền thuê", "m²/tháng", 80_000, "I", "góc", "QĐ 48/2017", date(2024, 1, 1))
>>> clean = Tariff("VESINH", "fixed", "Phí vệ sinh", "tháng", 50_000, None, None, "QĐ 48/2017", date(2024, 1, 1))
>>> chosen = applicable([rent, corner, clean], tier="I", position_class="Góc", on=date(2026, 12, 1))
>>> [(t.code, t.unit_price) for t in chosen]
[('THUE', 80000), ('VESINH', 50000)]
>>> lines, problems = bill_lines(StallFacts(1, "A-12", 450, "góc", {}), chosen)
>>> [(line.code, line.quantity, line.amount) for line in lines], problems
([('THUE', '4,5', 360000), ('VESINH', '1', 50000)], [])

**Bill references** (62.08) survive bank apps' mangling as stall references do (the rules are
:class:`market40.reconciliation.ReferenceIndex`'s): ``F`` + the period (``YYMM``) glued to the
market code is the reference's first word, then the stall key:

>>> bill_reference("HL1", "2026-12", "A-12"), bill_number("HL1", "2026-12", "A-12", 2)
('F2612HL1 A12', 'HL1-2612-A12-2')
>>> index = bill_index([("F2612HL1 A12", 7), ("F2612HL1 A13", 8)])
>>> index.match("MBVCB.3278614981.f2612hl1a12.CT tu 0011001234567").stall
7
>>> found_keys(index, "F2612HL1 A12 va F2612HL1 A13")
['F2612HL1A12', 'F2612HL1A13']

**States**: a bill is ``paid`` once what was paid reaches what is due, ``partly_paid`` with
some money, else ``unpaid``; ``overdue`` when not paid after its due date:

>>> state(100_000, 40_000, date(2026, 12, 15), today=date(2026, 12, 20))
'overdue'
>>> state(100_000, 100_000, date(2026, 12, 15), today=date(2026, 12, 20))
'paid'
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Hashable, Iterable, Mapping, Sequence

from . import accounts, formats
from .exceptions import InvalidFormat, InvalidLength, ValidationError
from .reconciliation import (CUT_LENGTH, UNATTRIBUTED_REASONS, Period, ReferenceIndex, ReferenceMatch,
                             content_text)
from .text import emv_text, search_key
from . import vietqr
from .vietqr import parse_amount

__all__ = [
    "KINDS", "KIND_LABELS", "STATES", "STATE_LABELS", "MAX_REFERENCE", "Tariff", "StallFacts", "Line",
    "clean_tariff", "clean_area", "clean_quantity", "clean_class", "applicable", "bill_lines", "difference",
    "bill_number", "bill_reference", "bill_index", "qr_bill_numbers", "qr_payloads", "found_keys", "state", "due_date",
    "BillDue", "Incoming", "Allocation", "Unmatched", "match", "format_area", "receipt_serial",
]

KINDS = ("rent", "fixed", "metered", "entry")
KIND_LABELS = {"rent": "Tiền thuê diện tích (đ/m²/tháng)", "fixed": "Khoản cố định hằng tháng",
               "metered": "Theo chỉ số (đơn giá × số đo)", "entry": "Theo lượt (người bán không cố định)"}
_KIND_WORDS = {"rent": "rent", "thue": "rent", "tienthue": "rent", "fixed": "fixed", "codinh": "fixed",
               "metered": "metered", "chiso": "metered", "theochiso": "metered", "dien": "metered",
               "nuoc": "metered", "entry": "entry", "luot": "entry", "theoluot": "entry"}
STATES = ("unpaid", "partly_paid", "paid", "overdue")
STATE_LABELS = {"unpaid": "Chưa nộp", "partly_paid": "Nộp một phần", "paid": "Đã nộp", "overdue": "Quá hạn"}
#: What every bank app keeps of the transfer content (the stall references' limit too).
MAX_REFERENCE = accounts.MAX_REFERENCE
_MAX_UNIT_PRICE = 100_000_000
_DAY_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y")


@dataclass(frozen=True)
class Tariff:
    """One row of a price table (a ``fee_tariff`` row)."""

    code: str
    kind: str
    name: str
    unit: str
    unit_price: int
    tier: str | None
    position_class: str | None
    source: str
    valid_from: date
    valid_to: date | None = None

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day < self.valid_to)


@dataclass(frozen=True)
class StallFacts:
    """What a stall's bill is computed from: area (hundredths of m²), class, quantities by tariff code."""

    stall_id: Hashable
    code: str
    area_cm2: int | None
    position_class: str | None
    quantities: Mapping[str, int]


@dataclass(frozen=True)
class Line:
    """One line of a bill: amount = round(quantity × unit price)."""

    code: str
    name: str
    kind: str
    quantity: str  # as printed: "4,5" m², "120" kWh, "1" month
    unit: str
    unit_price: int
    amount: int
    source: str

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "name": self.name, "kind": self.kind, "quantity": self.quantity,
                "unit": self.unit, "unit_price": self.unit_price, "amount": self.amount, "source": self.source}


# ----------------------------------------------------------------------------- cleaning input

def _day(value: Any, field: str, *, required: bool) -> date | None:
    if isinstance(value, date):
        return value
    text = str(value or "").strip()
    if not text:
        if required:
            raise InvalidFormat(f"{field}: bắt buộc, một ngày như 01/01/2026 (required: a day)", field=field,
                                value=value, limit="DD/MM/YYYY")
        return None
    for fmt in _DAY_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise InvalidFormat(f"{field}: {text!r} không phải một ngày, viết như 01/01/2026 (not a day: write DD/MM/YYYY)",
                        field=field, value=value, limit="DD/MM/YYYY")


def clean_class(value: Any) -> str | None:
    """A tier or position class compared without case, diacritics or spacing ("Góc" = "goc")."""
    text = " ".join(str(value or "").split())
    return text or None


def _same(a: str | None, b: str | None) -> bool:
    return search_key(a or "") == search_key(b or "")


def clean_tariff(values: Mapping[str, Any]) -> Tariff:
    """A tariff from a spreadsheet row (canonical column names); every problem at once."""
    errors: list[ValidationError] = []

    def text(name: str, limit: int, label: str) -> str:
        value = " ".join(str(values.get(name) or "").split())
        if not value:
            errors.append(InvalidFormat(f"{name}: {label} bắt buộc (required)", field=name, value=value,
                                        limit="not empty"))
        elif len(value) > limit:
            errors.append(InvalidLength(f"{name}: tối đa {limit} ký tự, có {len(value)} (at most {limit} characters)",
                                        field=name, value=value, limit=f"≤ {limit}"))
        return value

    code = re.sub(r"[^0-9A-Z]", "", emv_text(str(values.get("code") or "")))
    if not code or len(code) > 16:
        errors.append(InvalidFormat(f"code: mã biểu phí gồm chữ và số, 1–16 ký tự, nhận {values.get('code')!r} "
                                    "(a tariff code of 1–16 letters or digits)", field="code",
                                    value=values.get("code"), limit="1–16 letters or digits"))
    raw_kind = str(values.get("kind") or "")
    kind = _KIND_WORDS.get(search_key(raw_kind).replace(" ", ""))
    if kind is None:
        errors.append(InvalidFormat(f"kind: loại phải là một trong thuê / cố định / chỉ số / lượt, nhận {raw_kind!r} "
                                    f"(one of {', '.join(KINDS)})", field="kind", value=raw_kind,
                                    limit=", ".join(KINDS)))
    name = text("name", 200, "tên khoản thu")
    unit = text("unit", 32, "đơn vị tính")
    source = text("source", 300, "căn cứ pháp lý (số quyết định)")
    price = 0
    try:
        price = parse_amount(values.get("unit_price"), field="unit_price")
        if price > _MAX_UNIT_PRICE:
            raise InvalidFormat(f"unit_price: {formats.money(price)} quá lớn (at most {formats.money(_MAX_UNIT_PRICE)})", field="unit_price",
                                value=price, limit=f"≤ {_MAX_UNIT_PRICE}")
    except ValidationError as error:
        errors.extend(error.errors)
    valid_from = valid_to = None
    try:
        valid_from = _day(values.get("valid_from"), "valid_from", required=True)
    except ValidationError as error:
        errors.append(error)
    try:
        valid_to = _day(values.get("valid_to"), "valid_to", required=False)
    except ValidationError as error:
        errors.append(error)
    if valid_from and valid_to and valid_to <= valid_from:
        errors.append(InvalidFormat(f"valid_to: ngày hết hiệu lực {valid_to:%d/%m/%Y} phải sau ngày hiệu lực "
                                    f"{valid_from:%d/%m/%Y} (must be after valid_from)", field="valid_to",
                                    value=values.get("valid_to"), limit="after valid_from"))
    tier = clean_class(values.get("tier"))
    position = clean_class(values.get("position_class"))
    if kind is not None and kind != "rent" and position is not None:
        errors.append(InvalidFormat("position_class: chỉ khoản thuê diện tích theo vị trí (only rent rows have a "
                                    "position class)", field="position_class", value=position, limit="rent only"))
    if errors:
        raise ValidationError.combine(errors)
    assert kind is not None and valid_from is not None
    return Tariff(code, kind, name, unit, price, tier, position, source, valid_from, valid_to)


_AREA = re.compile(r"([0-9]{1,4})(?:[.,]([0-9]{1,2}))?")


def clean_area(value: Any, field: str = "area") -> int | None:
    """An area in m² (``4,5`` or ``4.5``) as hundredths of m² (450); empty is None.

    >>> clean_area("4,5"), clean_area("12"), clean_area("3.25"), clean_area("")
    (450, 1200, 325, None)
    """
    text = str(value or "").strip().replace(" ", "")
    if not text:
        return None
    found = _AREA.fullmatch(text)
    if found is None or int(found.group(1) + (found.group(2) or "").ljust(2, "0")) == 0:
        raise InvalidFormat(f"{field}: diện tích tính bằng m², như 4,5 — nhận {value!r} (an area in m², e.g. 4.5)",
                            field=field, value=value, limit="0,01–9999,99 m²")
    return int(found.group(1)) * 100 + int((found.group(2) or "0").ljust(2, "0"))


def format_area(area_cm2: int) -> str:
    """An area as printed, in m² with a decimal comma.

    >>> format_area(450), format_area(1200), format_area(325)
    ('4,5', '12', '3,25')
    """
    whole, part = divmod(area_cm2, 100)
    return f"{whole}" if not part else f"{whole},{part:02d}".rstrip("0")


def clean_quantity(value: Any, field: str) -> int | None:
    """A meter index or count: a whole number ≥ 0 (thousands grouping allowed); empty is None."""
    text = str(value or "").strip()
    if not text:
        return None
    digits = re.sub(r"(?<=[0-9])[.,  ](?=[0-9]{3}\b)", "", text)
    if not digits.isdigit():
        raise InvalidFormat(f"{field}: một số nguyên không âm, nhận {value!r} (a whole number ≥ 0)", field=field,
                            value=value, limit="≥ 0")
    return int(digits)


# ----------------------------------------------------------------------------- bills

def applicable(tariffs: Iterable[Tariff], *, tier: str | None, position_class: str | None,
               on: date) -> list[Tariff]:
    """For each tariff code, the most specific row valid ``on`` for this tier and class (by code)."""
    best: dict[str, tuple[int, Tariff]] = {}
    for tariff in tariffs:
        if not tariff.valid_on(on):
            continue
        if tariff.tier is not None and not _same(tariff.tier, tier):
            continue
        if tariff.position_class is not None and not _same(tariff.position_class, position_class):
            continue
        score = (tariff.tier is not None) + 2 * (tariff.position_class is not None)
        if tariff.code not in best or score > best[tariff.code][0]:
            best[tariff.code] = (score, tariff)
    return [best[code][1] for code in sorted(best)]


def bill_lines(stall: StallFacts, tariffs: Sequence[Tariff]) -> tuple[list[Line], list[str]]:
    """The lines of a stall's bill and what is missing to compute it (Vietnamese first)."""
    lines: list[Line] = []
    problems: list[str] = []
    for tariff in tariffs:
        if tariff.kind == "rent":
            if stall.area_cm2 is None:
                problems.append(f"sạp {stall.code}: chưa có diện tích (m²) để tính {tariff.name} "
                                f"(no area for {tariff.code})")
                continue
            amount = (tariff.unit_price * stall.area_cm2 + 50) // 100
            quantity = format_area(stall.area_cm2)
        elif tariff.kind == "fixed":
            amount, quantity = tariff.unit_price, "1"
        else:
            used = stall.quantities.get(tariff.code)
            if not used:
                continue  # no reading (or zero) for the period: nothing to bill
            amount, quantity = tariff.unit_price * used, str(used)
        lines.append(Line(tariff.code, tariff.name, tariff.kind, quantity, tariff.unit, tariff.unit_price,
                          amount, tariff.source))
    return lines, problems


def difference(new: Sequence[Mapping[str, Any]], issued: Iterable[Sequence[Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """The lines a correction carries: what ``new`` adds to or takes from every version issued.

    >>> old = [{"code": "DIEN", "name": "Điện", "kind": "metered", "quantity": "100", "unit": "kWh",
    ...         "unit_price": 3000, "amount": 300000, "source": "x"}]
    >>> new = [dict(old[0], quantity="120", amount=360000)]
    >>> [(d["code"], d["amount"]) for d in difference(new, [old])]
    [('DIEN', 60000)]
    >>> difference(old, [old])
    []
    """
    totals: dict[str, int] = {}
    last: dict[str, Mapping[str, Any]] = {}
    for version in issued:
        for line in version:
            totals[line["code"]] = totals.get(line["code"], 0) + int(line["amount"])
            last[line["code"]] = line
    out = []
    new_by_code = {line["code"]: line for line in new}
    for code in sorted(set(totals) | set(new_by_code)):
        was = totals.get(code, 0)
        line = new_by_code.get(code)
        now = int(line["amount"]) if line else 0
        if now != was:
            base = dict(line or last[code])
            base["amount"] = now - was
            base["note"] = f"điều chỉnh: {was} → {now}"
            if line is None:
                base["quantity"] = "0"
            out.append(base)
    return out


def _yymm(period: str) -> str:
    p = Period.parse(period)
    return f"{p.year % 100:02d}{p.month:02d}"


def bill_number(market_code: str, period: str, stall_code: str, version: int = 1) -> str:
    """The bill number printed and put in 62.01: market, period, stall, version after the first."""
    market = re.sub(r"[^0-9A-Z]", "", emv_text(market_code))
    number = f"{market}-{_yymm(period)}-{accounts.stall_key(stall_code)}" + (f"-{version}" if version > 1 else "")
    if len(number) > 25:
        raise InvalidLength(f"bill number {number!r}: tối đa 25 ký tự (at most 25 characters in 62.01)",
                            field="stall_code", value=stall_code, limit="≤ 25 characters")
    return number


def bill_reference(market_code: str, period: str, stall_code: str) -> str:
    """The short reference in 62.08 (``F2612HL1 A12``): one per stall and period, every version."""
    market = accounts.stall_reference(market_code, stall_code).split(" ")[0]
    reference = f"F{_yymm(period)}{market} {accounts.stall_key(stall_code)}"
    if len(reference) > MAX_REFERENCE:
        raise InvalidLength(f"bill reference {reference!r}: {len(reference)} ký tự, tối đa {MAX_REFERENCE} để mọi "
                            f"ứng dụng ngân hàng giữ nguyên (at most {MAX_REFERENCE} characters); dùng mã chợ/sạp ngắn hơn",
                            field="stall_code", value=stall_code, limit=f"≤ {MAX_REFERENCE} characters")
    return reference


def qr_bill_numbers(number: str) -> list[str]:
    """What a bill's QR may carry in 62.01, longest first, for small slips (A7).

    The full number; without the market (the board's account, which receives the transfer,
    already names it); the version alone (62.08 names the market, period and stall). Every
    form reads back to one bill together with the 62.08 reference; attribution itself uses
    62.08 only, which is never shortened.

    >>> qr_bill_numbers("HA3-2612-B105-2")
    ['HA3-2612-B105-2', '2612-B105-2', '2']
    >>> qr_bill_numbers("HL1-2612-A12")
    ['HL1-2612-A12', '2612-A12', '1']
    """
    parts = number.split("-")
    version = parts[3] if len(parts) > 3 else "1"
    return list(dict.fromkeys([number, "-".join(parts[1:]), version]))


def qr_payloads(payload: str, number: str) -> list[str]:
    """``payload`` again with each form of :func:`qr_bill_numbers` in 62.01 (the first is ``payload``)."""
    parsed = vietqr.parse(payload)
    kwargs = parsed.build_kwargs()
    return [payload] + [vietqr.build(**dict(kwargs, bill_number=short)).payload
                        for short in qr_bill_numbers(number)[1:]]


def bill_index(references: Iterable[tuple[str, Hashable]]) -> ReferenceIndex:
    """The bill references as a :class:`~market40.reconciliation.ReferenceIndex` (its mangling rules)."""
    return ReferenceIndex(references)


def found_keys(index: ReferenceIndex, content: str | None) -> list[str]:
    """Every compact bill reference a content names, in order, without repeats."""
    return _read(index, content)[0]


def _read(index: ReferenceIndex, content: str | None) -> tuple[list[str], ReferenceMatch]:
    """:func:`found_keys` and ``index.match(content)`` from one reading of the content.

    The matcher's rules (:meth:`~market40.reconciliation.ReferenceIndex.match`) applied to the
    matches of one pass of its pattern over :func:`content_text` (matching spent two thirds of
    its time reading every content twice); ``tests/test_fees.py`` checks the two agree.
    """
    raw = content or ""
    text = content_text(raw)
    found = [m.group(0) for m in re.finditer(index.pattern, text)] if text else []
    keys = list(dict.fromkeys(m.replace(" ", "") for m in found))
    if not keys:
        return keys, ReferenceMatch(None, None, UNATTRIBUTED_REASONS[0])
    if len(keys) > 1:
        return keys, ReferenceMatch(None, None, UNATTRIBUTED_REASONS[1])
    key = keys[0]
    stalls = index.keys.get(key)
    if not stalls:
        return keys, ReferenceMatch(key, None, UNATTRIBUTED_REASONS[2])
    if len(stalls) > 1:
        return keys, ReferenceMatch(key, None, UNATTRIBUTED_REASONS[3])
    if text.endswith(found[-1]) and len(raw) >= CUT_LENGTH and key in index.prefixes:
        return keys, ReferenceMatch(key, None, UNATTRIBUTED_REASONS[4])
    return keys, ReferenceMatch(key, next(iter(stalls)), None)


def due_date(period: str, day: int = 15) -> date:
    """The default due date: ``day`` of the billed month (the last day when the month is shorter)."""
    p = Period.parse(period)
    return min(date(p.year, p.month, 1) + timedelta(days=day - 1), p.end - timedelta(days=1))


def state(due: int, paid: int, due_on: date, *, today: date) -> str:
    if paid >= due:
        return "paid"
    if today > due_on:
        return "overdue"
    return "partly_paid" if paid > 0 else "unpaid"


def receipt_serial(market_code: str, year: int, sequence: int) -> str:
    """A receipt's serial: market, year, sequence within the market and year.

    >>> receipt_serial("HL1", 2026, 17)
    'BL-HL1-26-000017'
    """
    market = re.sub(r"[^0-9A-Z]", "", emv_text(market_code))
    return f"BL-{market}-{year % 100:02d}-{sequence:06d}"


# ----------------------------------------------------------------------------- matching

@dataclass
class BillDue:
    """What is still owed on one stall's bills for one period (all versions), in version order."""

    group: Hashable  # (stall, period)
    key: str  # the compact reference: "F2612HL1A12"
    stall: Hashable
    period: str
    bills: list[tuple[Hashable, int]]  # (bill id, amount) per version
    paid: list[int]  # already applied per version
    issued: datetime  # naive Vietnam time
    due_on: date

    @property
    def outstanding(self) -> int:
        billed = self.__dict__.get("_billed")
        if billed is None:  # the versions' amounts never change during a matching
            billed = self.__dict__["_billed"] = sum(a for _, a in self.bills)
        return billed - sum(self.paid)


@dataclass(frozen=True)
class Incoming:
    """An incoming transfer to the board's account (naive Vietnam time, as the store keeps it)."""

    tx_key: str
    booked_at: datetime
    amount: int
    content: str
    channel: str = "statement"


@dataclass(frozen=True)
class Allocation:
    tx_key: str
    bill: Hashable
    amount: int
    method: str  # reference, amount, split
    note: str | None = None


@dataclass(frozen=True)
class Unmatched:
    tx_key: str
    amount: int
    reason: str
    candidates: tuple[str, ...] = ()


@dataclass
class Matching:
    allocations: list[Allocation] = field(default_factory=list)
    unmatched: list[Unmatched] = field(default_factory=list)


def _apply(due: BillDue, tx: Incoming, amount: int, method: str, note: str | None) -> list[Allocation]:
    """Spread ``amount`` over the group's versions in order; any excess stays on the last one, noted."""
    out: list[Allocation] = []
    left = amount
    for i, (bill, billed) in enumerate(due.bills):
        owed = max(0, billed - due.paid[i])
        last = i == len(due.bills) - 1
        take = left if last else min(left, owed)
        if take <= 0:
            continue
        text = note
        if last and take > owed:
            extra = f"nộp thừa {formats.money(take - owed)} (over-payment)"
            text = f"{note}; {extra}" if note else extra
        due.paid[i] += take
        out.append(Allocation(tx.tx_key, bill, take, method, text))
        left -= take
    return out


def twin_key(booked_at: datetime, amount: int, content: str | None) -> tuple[date, int, str]:
    """What makes a bank-statement row and a webhook the same transfer when their ids differ.

    SePay's ``referenceCode`` is not the statement's reference, so a transfer paid live by webhook
    comes back in the month's statement under another id. Both channels carry the same Vietnam
    booking day, amount and content (as the matcher reads it), the rule the transaction store uses to
    drop a live row that a statement row stands for. ``booked_at`` is naive Vietnam time.

    >>> twin_key(datetime(2026, 12, 5, 23, 59), 150_000, "f2612hl1-a12 nộp phí")
    (datetime.date(2026, 12, 5), 150000, 'F2612HL1 A12 NOP PHI')
    """
    return booked_at.date(), int(amount), content_text((content or "")[:300])


def match(transfers: Iterable[Incoming], dues: Sequence[BillDue], index: ReferenceIndex, *,
          window_days: int = 45) -> Matching:
    """Transfers to the board's account → bills: by reference first, then by exact amount.

    * one reference: the named stall and period, whatever the amount (short: partly paid; over:
      the excess is noted); when that bill was already paid and the stall owes another period,
      the note says "wrong period?" — applied as the payer wrote it, shown for the board to decide;
    * several references: split only when the amount is exactly what they owe together, else
      left for the board with the candidates;
    * no reference at all (the bank app lost the content): the one open bill whose outstanding
      is exactly the amount, issued before and due no more than ``window_days`` before the
      transfer; two or more such bills: left for the board;
    * anything else (an unknown or cut reference, no candidate): left for the board, with why.
    """
    by_key = {d.key: d for d in dues}
    by_stall: dict[Hashable, list[BillDue]] = {}
    for d in dues:
        by_stall.setdefault(d.stall, []).append(d)
    result = Matching()
    later: list[Incoming] = []
    read: dict[str, tuple[list[str], ReferenceMatch]] = {}  # the same content reads the same
    for tx in sorted(transfers, key=lambda t: (t.booked_at, t.tx_key)):
        content = tx.content or ""
        parsed = read.get(content)
        if parsed is None:
            parsed = read[content] = _read(index, content)
        keys, found = parsed
        if not keys:
            later.append(tx)
            continue
        if len(keys) > 1:
            named = [by_key.get(k) for k in keys]
            if all(named) and sum(d.outstanding for d in named if d) == tx.amount and tx.amount > 0:
                for d in named:
                    assert d is not None
                    result.allocations.extend(_apply(d, tx, d.outstanding, "split",
                                                     f"một lần chuyển cho {len(named)} phiếu (one transfer, "
                                                     f"{len(named)} bills)"))
            else:
                result.unmatched.append(Unmatched(tx.tx_key, tx.amount, "nhiều mã phiếu, số tiền không khớp tổng "
                                                  "còn nợ: chia bằng tay (several bills named, amount differs)",
                                                  tuple(keys)))
            continue
        due = by_key.get(found.key or "") if found.stall is not None else None
        if due is None:
            result.unmatched.append(Unmatched(tx.tx_key, tx.amount, f"mã phiếu không dùng được: {found.reason} "
                                              f"(reference not usable)", tuple(keys)))
            continue
        note = None
        if due.outstanding <= 0:
            others = sorted(d.period for d in by_stall.get(due.stall, ()) if d.outstanding > 0)
            if others:
                note = f"sai kỳ? phiếu kỳ {due.period} đã nộp đủ, còn nợ kỳ {', '.join(others)} (wrong period?)"
        elif tx.amount < due.outstanding:
            note = f"nộp thiếu {due.outstanding - tx.amount} đ (partial)"
        result.allocations.extend(_apply(due, tx, tx.amount, "reference", note))
    owing: dict[int, list[BillDue]] = {}
    if later:
        for d in dues:
            if d.outstanding > 0:
                owing.setdefault(d.outstanding, []).append(d)
    window = timedelta(days=window_days)
    for tx in later:
        booked = tx.booked_at
        earliest_due = booked.date() - window  # the transfer's day, converted once, not per candidate bill
        fits = [d for d in owing.get(tx.amount, ()) if d.outstanding == tx.amount and d.issued <= booked
                and d.due_on >= earliest_due]
        if len(fits) == 1:
            result.allocations.extend(_apply(fits[0], tx, tx.amount, "amount",
                                             "khớp theo số tiền và thời gian, nội dung chuyển khoản bị mất "
                                             "(matched by exact amount; the content was lost)"))
        else:
            reason = ("không có mã phiếu, số tiền trùng nhiều phiếu (no reference; the amount fits several bills)"
                      if fits else "không có mã phiếu, không phiếu nào còn nợ đúng số tiền (no reference, no bill "
                      "owes this amount)")
            result.unmatched.append(Unmatched(tx.tx_key, tx.amount, reason, tuple(d.key for d in fits)))
    return result
