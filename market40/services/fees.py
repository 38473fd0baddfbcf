"""Market fees (issue #11): the board bills every stall each month with a dynamic VietQR to its
collection account, matches the transfers, and sees who owes what.

The rules are in :mod:`market40.fees` (pure); this module reads and writes the registry, the
board's spreadsheets (:mod:`market40.tabular`, with the import rules of
:mod:`market40.services.imports`: every bad row at once, nothing half-written, idempotent) and
the transaction store (:mod:`market40.txstore`).

Who may do what: the local operator, admins and staff everything within their markets; the
market board (role ``board``) its own markets' readings, bills, matching and cash receipts;
setting a collection account and importing tariffs is for staff and admins; officers read;
an owner sees only their own stall's bills.
"""
from __future__ import annotations

import functools
import gc
import json
import operator
import re
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import IO, Any, Iterable, Iterator

from sqlalchemy import func
from sqlmodel import Session, select

from .. import accounts, banks, fees as rules, formats, messages, tabular, vietqr
from ..exceptions import Conflict, Forbidden, InvalidComponent, InvalidFormat, NotFound, ValidationError
from ..formats import VN_TZ, money
from ..models import (FeeAccount, FeeBill, FeePayment, FeeReading, FeeStall, FeeTariff, Market, Stall,
                      utcnow)
from ..reconciliation import Period
from .imports import ImportReport, Problem, bulk_insert, bulk_update, settle
from ..text import emv_text, search_key
from .registry import Actor, Registry

__all__ = ["Fees", "fee_counts", "FeeImport", "match_live", "bill_states", "board_key", "BillRun", "BillView", "MatchRun", "TARIFF_COLUMNS", "STALL_FEE_COLUMNS",
           "READING_COLUMNS", "write_template"]

_C = tabular.Column

#: The tariff template (Vietnamese headers first): one row per price of a provincial table.
TARIFF_COLUMNS = {
    "code": _C(("Mã khoản thu", "Mã biểu phí", "Mã phí", "Tariff code", "Code"), required=True, text=True,
               vi="Mã ngắn của khoản thu, ví dụ THUE, VESINH, DIEN, NUOC, LUOT. Cùng mã = cùng một khoản "
                  "(các dòng khác nhau theo hạng chợ và vị trí).",
               en="Short code of the charge (THUE, VESINH, DIEN...); one code = one charge, its rows vary by "
                  "tier and position.", example="THUE"),
    "kind": _C(("Loại", "Loại khoản thu", "Kind"), required=True,
               vi="thuê (đ/m²/tháng), cố định (đ/tháng), chỉ số (đơn giá × số đo: điện, nước), lượt (người bán "
                  "không cố định).", en="rent, fixed, metered or entry.", example="thuê"),
    "name": _C(("Tên khoản thu", "Tên", "Name"), required=True, vi="Tên in trên phiếu thu.",
               en="Name printed on the bill.", example="Tiền thuê điểm kinh doanh"),
    "unit": _C(("Đơn vị tính", "Đơn vị", "Unit"), required=True, vi="Đơn vị của đơn giá.",
               en="Unit of the price.", example="m²/tháng"),
    "unit_price": _C(("Đơn giá (đ)", "Đơn giá", "Mức thu", "Unit price"), required=True, text=True,
                     vi="Số đồng, số nguyên: 60.000 hoặc 60000.", en="Whole đồng: 60.000 or 60000.",
                     example="60000"),
    "tier": _C(("Hạng chợ", "Hạng", "Tier"), vi="I, II hoặc III; bỏ trống = mọi hạng.",
               en="I, II or III; empty = every tier.", example="I"),
    "position_class": _C(("Vị trí", "Loại vị trí", "Position class"),
                         vi="Chỉ cho khoản thuê: loại vị trí như ban quản lý phân (góc, mặt tiền, trong); bỏ "
                            "trống = mọi vị trí.", en="Rent only: the board's position class; empty = any.",
                         example="góc"),
    "source": _C(("Căn cứ", "Căn cứ pháp lý", "Quyết định", "Source"), required=True,
                 vi="Văn bản quy định mức thu.", en="The decision that sets the price.",
                 example="QĐ 48/2017/QĐ-UBND"),
    "valid_from": _C(("Hiệu lực từ", "Từ ngày", "Valid from"), required=True, text=True,
                     vi="Ngày bắt đầu áp dụng, DD/MM/YYYY.", en="First day it applies.", example="01/01/2026"),
    "valid_to": _C(("Hết hiệu lực", "Đến ngày", "Valid to"), text=True,
                   vi="Ngày thôi áp dụng (không còn áp dụng từ ngày này); bỏ trống nếu còn hiệu lực.",
                   en="First day it no longer applies; empty if still valid.", example=""),
}

#: What the rent needs per stall: its selling area and position class.
STALL_FEE_COLUMNS = {
    "market_code": _C(("Mã chợ", "Market code"), vi="Mã chợ; bỏ trống nếu chọn chợ khi nhập.",
                      en="Market code; may be left out when chosen at import.", example="HL1"),
    "stall_code": _C(("Mã sạp", "Mã ki-ốt", "Số sạp", "Stall code", "Stall"), required=True, text=True,
                     vi="Mã sạp như trong danh sách sạp.", en="Stall code as in the stall list.", example="A12"),
    "area": _C(("Diện tích (m²)", "Diện tích", "Diện tích m2", "Area"), text=True,
               vi="Diện tích kinh doanh, m², ví dụ 4,5.", en="Selling area in m², e.g. 4.5.", example="4,5"),
    "position_class": _C(("Vị trí", "Loại vị trí", "Position class"), vi="Loại vị trí (góc, mặt tiền, trong).",
                         en="Position class.", example="góc"),
}

#: Meter readings (and entry counts) per stall and period.
READING_COLUMNS = {
    "market_code": STALL_FEE_COLUMNS["market_code"],
    "stall_code": STALL_FEE_COLUMNS["stall_code"],
    "code": _C(("Mã khoản thu", "Mã biểu phí", "Tariff code", "Code"), required=True, text=True,
               vi="Mã khoản thu tính theo chỉ số hoặc lượt (DIEN, NUOC, LUOT).",
               en="Code of a metered or per-entry charge.", example="DIEN"),
    "previous": _C(("Chỉ số cũ", "Chỉ số đầu", "Previous"), text=True, vi="Chỉ số đầu kỳ.",
                   en="Reading at the start of the period.", example="1200"),
    "current": _C(("Chỉ số mới", "Chỉ số cuối", "Current"), text=True, vi="Chỉ số cuối kỳ.",
                  en="Reading at the end of the period.", example="1320"),
    "quantity": _C(("Số lượng", "Số lượt", "Quantity"), text=True,
                   vi="Thay cho hai chỉ số: số kWh, m³ hoặc số lượt trong kỳ.",
                   en="Instead of the two readings: units or entries in the period.", example=""),
}

SCHEMAS = {"tariffs": TARIFF_COLUMNS, "stalls": STALL_FEE_COLUMNS, "readings": READING_COLUMNS}

_WRITERS = ("operator", "admin", "staff", "board")
_SETTERS = ("operator", "admin", "staff")
#: A matched payment's row, as the matching writes it (tuples in this order, through imports.bulk_insert).
_PAYMENT_COLUMNS = ("bill_id", "amount", "method", "tx_key", "paid_at", "channel", "content", "note", "recorded_at",
                    "recorded_by")
_first = operator.itemgetter(0)


@contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic garbage collector paused for the block, and restored as it was, also on an error.

    A matching of 100,000 transfers creates a million small objects that all live until it ends;
    the collector ran over them again and again (a third of the time) and found nothing to free.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def write_template(path: str | Path | IO[bytes], what: str = "tariffs", *, kind: str | None = None) -> None:
    """The import template of ``what`` (tariffs, stalls, readings): Vietnamese headers, a guide sheet."""
    if what not in SCHEMAS:
        raise InvalidFormat(f"template: one of {', '.join(SCHEMAS)}, got {what!r}", field="template",
                            value=what, limit=", ".join(SCHEMAS))
    tabular.write_template(path, SCHEMAS[what], kind=kind)


#: What an import of tariffs, stall areas or readings did: the registry imports' report
#: (:class:`~market40.services.imports.ImportReport`), one shape for every import.
FeeImport = ImportReport


@dataclass
class BillRun:
    market: str
    period: str
    stalls: int = 0
    created: int = 0
    corrected: int = 0
    unchanged: int = 0
    amount: int = 0
    problems: list[str] = field(default_factory=list)
    written: bool = False

    def summary(self, lang: str = "en") -> str:
        n = functools.partial(formats.count, lang=lang)
        head = messages.text("summary.bills", lang, market=self.market, period=self.period, stalls=n(self.stalls),
                             created=n(self.created), corrected=n(self.corrected), unchanged=n(self.unchanged),
                             amount=formats.money(self.amount, lang))
        if self.problems:
            head += messages.text("summary.bills.problems", lang, n=n(len(self.problems))) + (
                "" if self.written else messages.text("summary.bills.nothing", lang))
        return head

    def as_dict(self) -> dict[str, Any]:
        return {"market": self.market, "period": self.period, "stalls": self.stalls, "created": self.created,
                "corrected": self.corrected, "unchanged": self.unchanged, "amount": self.amount,
                "problems": self.problems, "written": self.written}


@dataclass
class BillView:
    """One stall's bill for a period (all its versions), with its state and evidence."""

    number: str
    market: str
    market_name: str
    board_name: str
    stall: str
    stall_code: str
    owner_name: str
    shop_name: str | None
    period: str
    reference: str
    due_date: date
    amount: int  # everything billed, corrections included
    paid: int
    state: str
    versions: list[dict[str, Any]]
    payments: list[dict[str, Any]]
    payload: str | None  # the QR to pay what is still owed: the latest version's
    receipt_serial: str | None
    paid_at: datetime | None
    bill_id: int

    @property
    def owed(self) -> int:
        return max(0, self.amount - self.paid)

    @property
    def state_label(self) -> str:
        return rules.STATE_LABELS[self.state]

    def as_dict(self) -> dict[str, Any]:
        data = {k: getattr(self, k) for k in ("number", "market", "stall", "owner_name", "period", "reference",
                                               "due_date", "amount", "paid", "owed", "state", "versions",
                                               "payments", "receipt_serial", "paid_at")}
        data["state_label"] = self.state_label
        return data


@dataclass
class MatchRun:
    market: str
    transfers: int = 0
    applied: int = 0
    amount: int = 0
    already: int = 0
    unmatched: list[dict[str, Any]] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)
    receipts: int = 0

    def summary(self, lang: str = "en") -> str:
        n = functools.partial(formats.count, lang=lang)
        return messages.text("summary.match", lang, market=self.market, transfers=n(self.transfers),
                             applied=n(self.applied), amount=formats.money(self.amount, lang), already=n(self.already),
                             unmatched=n(len(self.unmatched)), notes=n(len(self.notes)), receipts=n(self.receipts))

    def as_dict(self) -> dict[str, Any]:
        return {"market": self.market, "transfers": self.transfers, "applied": self.applied, "amount": self.amount,
                "already": self.already, "unmatched": self.unmatched, "notes": self.notes, "receipts": self.receipts}


def _period(value: Any) -> str:
    return str(Period.parse(value))


def _today() -> date:
    return utcnow().astimezone(VN_TZ).date()


class Fees:
    """Market fees seen by one actor within one session (the caller commits, except imports)."""

    def __init__(self, session: Session, actor: Actor) -> None:
        self.session = session
        self.actor = actor
        self.registry = Registry(session, actor)

    # ------------------------------------------------------------------ scope

    def market(self, code: str, *, write: bool = False) -> Market:
        if write and self.actor.role not in _WRITERS:
            raise Forbidden(f"{self.actor.role} accounts cannot change market fees")
        return self.registry.market(code)

    def _require(self, roles: tuple[str, ...], what: str) -> None:
        if self.actor.role not in roles:
            raise Forbidden(f"{self.actor.role} accounts cannot {what}")

    # ------------------------------------------------------------------ collection account

    def set_account(self, market_code: str, *, bank: str, number: str, holder_name: str,
                    board_name: str | None = None) -> tuple[FeeAccount, str]:
        """Set the account a market's fees are paid into (validated like a stall's); audited."""
        self._require(_SETTERS, "set a collection account")
        market = self.market(market_code)
        errors: list[ValidationError] = []
        bin_ = None
        try:
            participant = banks.lookup(bank) if not (bank.strip().isdigit() and len(bank.strip()) == 6) else None
            bin_ = participant.bin if participant else bank.strip()
            if participant is None:
                banks.require_bin(bin_)
        except ValidationError as error:
            errors.append(error)
        except NotFound as error:
            errors.append(InvalidComponent(str(error), field="bank", value=bank, limit="a NAPAS participant"))
        holder = number_ = None
        try:
            holder = accounts.clean_holder_name(holder_name)
        except ValidationError as error:
            errors.append(error)
        try:
            number_ = accounts.clean_account_number(number, field="account")
            vietqr.build(bin=bin_ or "000000", account=number_, amount=1)
        except ValidationError as error:
            errors.extend(e for e in error.errors if e.field != "bin")
        name = " ".join((board_name or f"Ban quản lý {market.name}").split())[:200]
        if errors:
            raise ValidationError.combine(errors)
        current = self.session.exec(select(FeeAccount).where(FeeAccount.market_id == market.id)).first()
        data = {"bin": bin_, "number": number_, "holder_name": holder, "board_name": name}
        if current is not None and all(getattr(current, k) == v for k, v in data.items()):
            return current, "unchanged"
        before = None if current is None else _masked_account(current)
        if current is None:
            current = FeeAccount(market_id=market.id, updated_by=self.actor.name, **data)
            outcome = "created"
        else:
            for key, value in data.items():
                setattr(current, key, value)
            current.updated_by = self.actor.name
            current.updated_at = utcnow()
            outcome = "replaced"
        self.session.add(current)
        self.session.flush()
        self.registry.audit("fee.account.set", "market", market.code, before=before, after=_masked_account(current))
        return current, outcome

    def account(self, market_code: str) -> FeeAccount:
        market = self.market(market_code)
        found = self.session.exec(select(FeeAccount).where(FeeAccount.market_id == market.id)).first()
        if found is None:
            raise NotFound(f"market {market.code}: no collection account yet (market40 fee account set "
                           f"{market.code} --bank … --account … --holder …)")
        return found

    # ------------------------------------------------------------------ imports

    def _rows(self, path: Any, what: str, sheet: str | None) -> Any:
        return tabular.read_table(path, sheet=sheet, schema=SCHEMAS[what])

    def _finish(self, report: FeeImport, table: Any, rejects: Any, *, dry_run: bool, partial: bool,
                bad: list[tuple[Any, ValidationError]]) -> FeeImport:
        if bad and rejects is not None:
            tabular.write_rejects(rejects, bad, table=table)
            report.rejects_file = str(rejects) if not hasattr(rejects, "write") else None
        report.dry_run = dry_run
        settle(self.session, report, dry_run=dry_run, partial=partial)
        return report

    def import_tariffs(self, path: Any, *, dry_run: bool = False, partial: bool = False, rejects: Any = None,
                       sheet: str | None = None, source: str | None = None) -> FeeImport:
        """Import a price table: every bad row at once; the same file again changes nothing."""
        self._require(_SETTERS, "import tariffs")
        report = FeeImport(source or _name(path), "fee tariffs")
        bad: list[tuple[Any, ValidationError]] = []
        seen: dict[tuple, int] = {}
        with self._rows(path, "tariffs", sheet) as table:
            for row in table:
                report.rows += 1
                try:
                    if row.errors:
                        raise ValidationError.combine(row.errors)
                    tariff = rules.clean_tariff(row.values)
                    key = (tariff.code, _fold(tariff.tier), _fold(tariff.position_class),
                           tariff.valid_from)
                    if key in seen:
                        raise InvalidFormat(f"code: dòng {seen[key]} đã có khoản {tariff.code} cùng hạng, vị trí và "
                                            f"ngày hiệu lực (same tariff as row {seen[key]})", field="code",
                                            value=tariff.code, limit="one row per code, tier, position, date")
                    seen[key] = row.number
                except ValidationError as error:
                    report.problems.append(Problem(row.number, error, row.values))
                    bad.append((row, error))
                    continue
                self._save_tariff(tariff, report)
        return self._finish(report, table, rejects, dry_run=dry_run, partial=partial, bad=bad)

    def _save_tariff(self, tariff: rules.Tariff, report: FeeImport) -> None:
        query = select(FeeTariff).where(FeeTariff.code == tariff.code, FeeTariff.valid_from == tariff.valid_from)
        existing = [t for t in self.session.exec(query).all()
                    if _fold(t.tier) == _fold(tariff.tier) and _fold(t.position_class) == _fold(tariff.position_class)]
        data = {"kind": tariff.kind, "name": tariff.name, "unit": tariff.unit, "unit_price": tariff.unit_price,
                "source": tariff.source, "valid_to": tariff.valid_to}
        if existing:
            row = existing[0]
            if all(getattr(row, k) == v for k, v in data.items()):
                report.unchanged += 1
                return
            before = row.model_dump(exclude={"imported_at"})
            for key, value in data.items():
                setattr(row, key, value)
            self.session.add(row)
            self.session.flush()
            self.registry.audit("fee.tariff.update", "fee_tariff", row.id, before=before,
                                after=row.model_dump(exclude={"imported_at"}))
            report.updated += 1
            return
        row = FeeTariff(code=tariff.code, tier=tariff.tier, position_class=tariff.position_class,
                        valid_from=tariff.valid_from, imported_by=self.actor.name, **data)
        self.session.add(row)
        self.session.flush()
        self.registry.audit("fee.tariff.create", "fee_tariff", row.id, after=row.model_dump(exclude={"imported_at"}))
        report.created += 1

    def tariffs(self, *, on: Any = None) -> list[FeeTariff]:
        """Every tariff row (those valid on a day, with ``on``), by code, tier, position, date."""
        rows = self.session.exec(select(FeeTariff)).all()
        if on is not None:
            day = on if isinstance(on, date) else Period.parse(on).start
            rows = [r for r in rows if _tariff(r).valid_on(day)]
        return sorted(rows, key=lambda r: (r.code, r.tier or "", r.position_class or "", r.valid_from))

    def _stall_rows(self, path: Any, what: str, market_code: str | None, sheet: str | None, dry_run: bool,
                    partial: bool, rejects: Any, apply: Any, source: str | None) -> FeeImport:
        report = FeeImport(source or _name(path), f"fee {what}")
        bad: list[tuple[Any, ValidationError]] = []
        markets: dict[str, Market] = {}
        stalls: dict[int, dict[str, Stall]] = {}
        seen: dict[tuple, int] = {}
        with self._rows(path, what, sheet) as table:
            for row in table:
                report.rows += 1
                errors: list[ValidationError] = list(row.errors)
                try:
                    code = row.values.get("market_code") or market_code
                    if not code:
                        raise InvalidFormat("market_code: thiếu mã chợ (cột Mã chợ hoặc --market) (no market)",
                                            field="market_code", value="", limit="a market code")
                    code = accounts.clean_market_code(code)
                    if code not in markets:
                        markets[code] = self.market(code, write=True)
                    market = markets[code]
                    if market.id not in stalls:
                        stalls[market.id] = {s.code_key: s for s in self.session.exec(
                            select(Stall).where(Stall.market_id == market.id)).all()}  # type: ignore[misc]
                    key = accounts.stall_key(row.values.get("stall_code", ""))
                    stall = stalls[market.id].get(key)  # type: ignore[index]
                    if stall is None:
                        raise NotFound(f"stall_code: chợ {code} không có sạp {row.values.get('stall_code')!r} "
                                       "(no such stall)")
                    marker = (market.id, key, row.values.get("code", ""))
                    if marker in seen:
                        raise InvalidFormat(f"stall_code: sạp này đã có ở dòng {seen[marker]} (same stall as row "
                                            f"{seen[marker]})", field="stall_code", value=row.values.get("stall_code"),
                                            limit="one row per stall")
                    seen[marker] = row.number
                    if errors:
                        raise ValidationError.combine(errors)
                    apply(stall, row.values, report)
                except NotFound as error:
                    problem = InvalidComponent(str(error), field="stall_code" if "stall" in str(error) else "market_code",
                                               value=row.values.get("stall_code"), limit="a registered stall")
                    report.problems.append(Problem(row.number, problem, row.values))
                    bad.append((row, problem))
                except Forbidden as error:
                    problem = InvalidComponent(str(error), field="market_code", value=row.values.get("market_code"),
                                               limit="your markets")
                    report.problems.append(Problem(row.number, problem, row.values))
                    bad.append((row, problem))
                except ValidationError as error:
                    report.problems.append(Problem(row.number, error, row.values))
                    bad.append((row, error))
        return self._finish(report, table, rejects, dry_run=dry_run, partial=partial, bad=bad)

    def import_stalls(self, path: Any, *, market: str | None = None, dry_run: bool = False, partial: bool = False,
                      rejects: Any = None, sheet: str | None = None, source: str | None = None) -> FeeImport:
        """Import stall areas and position classes (the board's sheet)."""
        self.market(market, write=True) if market else self._require(_WRITERS, "change market fees")

        def apply(stall: Stall, values: dict[str, str], report: FeeImport) -> None:
            errors = []
            area = None
            try:
                area = rules.clean_area(values.get("area"))
            except ValidationError as error:
                errors.append(error)
            position = rules.clean_class(values.get("position_class"))
            if area is None and position is None:
                errors.append(InvalidFormat("area: cần diện tích hoặc vị trí (an area or a position class)",
                                            field="area", value="", limit="an area"))
            if errors:
                raise ValidationError.combine(errors)
            row = self.session.get(FeeStall, stall.id)
            if row is not None and row.area_cm2 == area and row.position_class == position:
                report.unchanged += 1
                return
            before = None if row is None else {"area_cm2": row.area_cm2, "position_class": row.position_class}
            if row is None:
                row = FeeStall(stall_id=stall.id, area_cm2=area, position_class=position)  # type: ignore[arg-type]
                report.created += 1
            else:
                row.area_cm2, row.position_class, row.updated_at = area, position, utcnow()
                report.updated += 1
            self.session.add(row)
            self.registry.audit("fee.stall.update", "stall", stall.id, before=before,
                                after={"area_cm2": area, "position_class": position})

        return self._stall_rows(path, "stalls", market, sheet, dry_run, partial, rejects, apply, source)

    def import_readings(self, path: Any, *, period: Any, market: str | None = None, dry_run: bool = False,
                        partial: bool = False, rejects: Any = None, sheet: str | None = None,
                        source: str | None = None) -> FeeImport:
        """Import meter readings or entry counts for a period (previous/current, or a quantity)."""
        month = _period(period)
        self.market(market, write=True) if market else self._require(_WRITERS, "change market fees")
        metered = {t.code for t in self.session.exec(select(FeeTariff)).all() if t.kind in ("metered", "entry")}

        def apply(stall: Stall, values: dict[str, str], report: FeeImport) -> None:
            errors: list[ValidationError] = []
            code = re.sub(r"[^0-9A-Z]", "", emv_text(values.get("code") or ""))
            if code not in metered:
                errors.append(InvalidFormat(f"code: {values.get('code')!r} không phải khoản thu theo chỉ số hoặc lượt "
                                            f"(not a metered or per-entry tariff: {', '.join(sorted(metered)) or '—'})",
                                            field="code", value=values.get("code"),
                                            limit=", ".join(sorted(metered)) or "a metered tariff"))
            numbers: dict[str, int | None] = {}
            for name in ("previous", "current", "quantity"):
                try:
                    numbers[name] = rules.clean_quantity(values.get(name), name)
                except ValidationError as error:
                    errors.append(error)
                    numbers[name] = None
            previous, current, quantity = numbers["previous"], numbers["current"], numbers["quantity"]
            if previous is not None and current is not None:
                if current < previous:
                    errors.append(InvalidFormat(f"current: chỉ số mới {current} nhỏ hơn chỉ số cũ {previous} "
                                                "(below the previous reading)", field="current", value=current,
                                                limit=f"≥ {previous}"))
                elif quantity is not None and quantity != current - previous:
                    errors.append(InvalidFormat(f"quantity: {quantity} khác chỉ số mới − cũ = {current - previous} "
                                                "(differs from current − previous)", field="quantity",
                                                value=quantity, limit=str(current - previous)))
                else:
                    quantity = current - previous
            elif quantity is None:
                errors.append(InvalidFormat("quantity: cần chỉ số cũ và mới, hoặc số lượng (both readings, or a "
                                            "quantity)", field="quantity", value="", limit="a number"))
            if errors:
                raise ValidationError.combine(errors)
            row = self.session.exec(select(FeeReading).where(FeeReading.stall_id == stall.id,
                                                             FeeReading.period == month,
                                                             FeeReading.code == code)).first()
            data = {"previous": previous, "current": current, "quantity": quantity}
            if row is not None and all(getattr(row, k) == v for k, v in data.items()):
                report.unchanged += 1
                return
            before = None if row is None else {k: getattr(row, k) for k in data}
            if row is None:
                row = FeeReading(stall_id=stall.id, period=month, code=code, updated_by=self.actor.name,  # type: ignore[arg-type]
                                 **data)
                report.created += 1
            else:
                for key, value in data.items():
                    setattr(row, key, value)
                row.updated_by, row.updated_at = self.actor.name, utcnow()
                report.updated += 1
            self.session.add(row)
            self.registry.audit("fee.reading.set", "stall", stall.id, before=before, after={"period": month,
                                                                                          "code": code, **data})

        return self._stall_rows(path, "readings", market, sheet, dry_run, partial, rejects, apply, source)

    # ------------------------------------------------------------------ bills

    def issue(self, market_code: str, period: Any, *, due: Any = None, partial: bool = False) -> BillRun:
        """Issue the period's bills of a market: one per operating stall; corrections as new versions.

        Re-running changes nothing when nothing changed. A stall whose bill cannot be computed
        (no area for the rent, …) is reported; then nothing is issued unless ``partial``.
        """
        market = self.market(market_code, write=True)
        month = _period(period)
        p = Period.parse(month)
        account = self.account(market.code)
        due_on = rules._day(due, "due", required=False) if due else rules.due_date(month)
        run = BillRun(market.code, month)
        tariffs = [_tariff(t) for t in self.session.exec(select(FeeTariff)).all()]
        stalls = self.session.exec(select(Stall).where(Stall.market_id == market.id,
                                                       Stall.status == "operating")).all()
        ids = [s.id for s in stalls]
        facts = {f.stall_id: f for f in self.session.exec(select(FeeStall).where(
            FeeStall.stall_id.in_(ids))).all()} if ids else {}  # type: ignore[attr-defined]
        readings: dict[int, dict[str, int]] = defaultdict(dict)
        for r in self.session.exec(select(FeeReading).where(FeeReading.period == month,
                                                            FeeReading.stall_id.in_(ids))).all():  # type: ignore[attr-defined]
            readings[r.stall_id][r.code] = r.quantity
        issued: dict[int, list[FeeBill]] = defaultdict(list)
        for bill in self.session.exec(select(FeeBill).where(FeeBill.market_id == market.id,
                                                            FeeBill.period == month).order_by(FeeBill.version)).all():
            issued[bill.stall_id].append(bill)
        now = utcnow()
        new_rows: list[dict[str, Any]] = []
        audits: list[tuple[str, dict[str, Any]]] = []
        for stall in sorted(stalls, key=lambda s: s.code_key or ""):
            run.stalls += 1
            fact = facts.get(stall.id)
            chosen = rules.applicable(tariffs, tier=market.tier, position_class=fact.position_class if fact else None,
                                      on=p.start)
            lines, problems = rules.bill_lines(rules.StallFacts(stall.id, stall.code, fact.area_cm2 if fact else None,
                                                                fact.position_class if fact else None,
                                                                readings.get(stall.id, {})), chosen)
            if not chosen:
                problems.append(f"không có biểu phí nào áp dụng cho chợ hạng {market.tier or '?'} kỳ {month} "
                                "(no tariff applies)")
            try:
                reference = rules.bill_reference(market.code, month, stall.code)
            except ValidationError as error:
                problems.append(f"sạp {stall.code}: {error.message}")
            if problems:
                run.problems.extend(problems if problems[0].startswith("sạp") else
                                    [f"sạp {stall.code}: {p_}" for p_ in problems])
                continue
            new = [line.as_dict() for line in lines]
            versions = issued.get(stall.id, [])
            delta = rules.difference(new, [json.loads(b.lines) for b in versions]) if versions else new
            amount = sum(int(line["amount"]) for line in delta)
            if versions and not delta:
                run.unchanged += 1
                continue
            version = len(versions) + 1
            number = rules.bill_number(market.code, month, stall.code, version)
            payload = None
            if amount > 0:
                payload = vietqr.build(bin=account.bin, account=account.number, amount=amount,
                                       bill_number=number, purpose=reference).payload
            new_rows.append({"number": number, "market_id": market.id, "stall_id": stall.id, "period": month,
                             "version": version, "reference": reference, "amount": amount,
                             "lines": json.dumps(delta, ensure_ascii=False), "due_date": due_on, "payload": payload,
                             "issued_at": now, "issued_by": self.actor.name, "receipt_serial": None, "paid_at": None})
            audits.append(("fee.bill.correct" if versions else "fee.bill.issue",
                           {"number": number, "amount": amount, "version": version}))
            run.created += not versions
            run.corrected += bool(versions)
            run.amount += amount
        if run.problems and not partial:
            run.created = run.corrected = run.amount = 0
            return run
        if new_rows:
            bulk_insert(self.session, FeeBill.__table__, new_rows)  # type: ignore[attr-defined]
            from ..models import AuditEvent
            bulk_insert(self.session, AuditEvent.__table__, [  # type: ignore[attr-defined]
                {"at": now, "actor": self.actor.name, "action": action, "entity": "fee_bill",
                 "entity_id": data["number"], "effective_at": None, "before": None,
                 "after": json.dumps(data, ensure_ascii=False), "note": f"{market.code} {month}"}
                for action, data in audits])
        run.written = True
        self.session.flush()
        return run

    def _views(self, market: Market, *, period: str | None = None, stall_id: int | None = None,
               today: date | None = None) -> list[BillView]:
        query = select(FeeBill).where(FeeBill.market_id == market.id)
        if period:
            query = query.where(FeeBill.period == period)
        if stall_id is not None:
            query = query.where(FeeBill.stall_id == stall_id)
        bills = self.session.exec(query.order_by(FeeBill.period, FeeBill.stall_id, FeeBill.version)).all()
        if not bills:
            return []
        ids = [b.id for b in bills]
        payments: dict[int, list[FeePayment]] = defaultdict(list)
        for chunk in _chunks(ids, 900):
            for pay in self.session.exec(select(FeePayment).where(FeePayment.bill_id.in_(chunk))).all():  # type: ignore[attr-defined]
                payments[pay.bill_id].append(pay)
        stall_ids = sorted({b.stall_id for b in bills})
        stalls: dict[int, Stall] = {}
        for chunk in _chunks(stall_ids, 900):
            stalls.update({s.id: s for s in self.session.exec(select(Stall).where(Stall.id.in_(chunk))).all()})  # type: ignore[union-attr,misc]
        account = self.session.exec(select(FeeAccount).where(FeeAccount.market_id == market.id)).first()
        board = account.board_name if account else f"Ban quản lý {market.name}"
        groups: dict[tuple[int, str], list[FeeBill]] = defaultdict(list)
        for bill in bills:
            groups[(bill.stall_id, bill.period)].append(bill)
        today = today or _today()
        out = []
        for (sid, month), versions in groups.items():
            stall = stalls[sid]
            amount = sum(b.amount for b in versions)
            pays = [p for b in versions for p in payments.get(b.id, [])]  # type: ignore[arg-type]
            paid = sum(p.amount for p in pays)
            last = versions[-1]
            first = versions[0]
            payable = [b for b in versions if b.payload]
            out.append(BillView(
                number=first.number, market=market.code, market_name=market.name, board_name=board,
                stall=f"{market.code}/{stall.code}", stall_code=stall.code, owner_name=stall.owner_name,
                shop_name=stall.shop_name, period=month, reference=first.reference, due_date=last.due_date,
                amount=amount, paid=paid, state=rules.state(amount, paid, last.due_date, today=today),
                versions=[{"number": b.number, "version": b.version, "amount": b.amount, "issued_at": b.issued_at,
                           "lines": json.loads(b.lines)} for b in versions],
                payments=[{"amount": p.amount, "method": p.method, "paid_at": p.paid_at, "channel": p.channel,
                           "content": p.content, "note": p.note, "tx": p.tx_key, "bill": p.bill_id} for p in pays],
                payload=_owed_payload(payable, amount - paid, versions) if amount > paid else None,
                receipt_serial=first.receipt_serial, paid_at=first.paid_at, bill_id=first.id))  # type: ignore[arg-type]
        return sorted(out, key=lambda v: (v.period, _natural(v.stall_code)))

    def bills(self, market_code: str, period: Any = None, *, state: str | None = None,
              today: date | None = None) -> list[BillView]:
        market = self.market(market_code)
        if self.actor.role == "owner":
            return self.my_bills(today=today)
        views = self._views(market, period=_period(period) if period else None, today=today)
        return [v for v in views if state is None or v.state == state]

    def bill(self, number: str, *, today: date | None = None) -> BillView:
        found = self.session.exec(select(FeeBill).where(FeeBill.number == number.strip().upper())).first()
        if found is None:
            raise NotFound(f"bill {number!r} not found")
        market = self.session.get(Market, found.market_id)
        assert market is not None
        if self.actor.role == "owner":
            if found.stall_id != self.actor.stall_id:
                self.registry.audit("access.denied", "fee_bill", found.number)
                raise Forbidden("this is not your stall's bill")
        else:
            self.registry._check_market(market)
        return next(v for v in self._views(market, period=found.period, stall_id=found.stall_id, today=today))

    def my_bills(self, *, today: date | None = None) -> list[BillView]:
        """The owner's own stall's bills, newest period first."""
        if self.actor.role != "owner" or not self.actor.stall_id:
            raise Forbidden("only a stall owner has their own bills")
        stall = self.session.get(Stall, self.actor.stall_id)
        market = self.session.get(Market, stall.market_id) if stall else None
        if market is None:
            return []
        return sorted(self._views(market, stall_id=stall.id, today=today), key=lambda v: v.period, reverse=True)  # type: ignore[arg-type]

    def status(self, market_code: str, period: Any, *, today: date | None = None) -> dict[str, Any]:
        """The period's bills of a market, counted by state, with amounts."""
        views = self.bills(market_code, period, today=today)
        counts = {s: 0 for s in rules.STATES}
        for v in views:
            counts[v.state] += 1
        cashless = sum(p["amount"] for v in views for p in v.payments if p["method"] != "cash")
        return {"market": market_code.upper(), "period": _period(period), "bills": len(views), **counts,
                "billed": sum(v.amount for v in views), "paid": sum(v.paid for v in views),
                "paid_cashless": min(cashless, sum(v.amount for v in views)),
                "owed": sum(v.owed for v in views)}

    def arrears(self, market_code: str, *, today: date | None = None) -> list[dict[str, Any]]:
        """Who owes how much since when: one row per stall with overdue bills (oldest due first)."""
        today = today or _today()
        rows: dict[str, dict[str, Any]] = {}
        for v in self.bills(market_code, today=today):
            if v.state != "overdue":
                continue
            row = rows.setdefault(v.stall, {"stall": v.stall, "owner_name": v.owner_name, "owed": 0, "bills": [],
                                            "since": v.due_date})
            row["owed"] += v.owed
            row["bills"].append({"number": v.number, "period": v.period, "owed": v.owed, "due_date": v.due_date})
            row["since"] = min(row["since"], v.due_date)
        out = sorted(rows.values(), key=lambda r: (r["since"], -r["owed"]))
        for row in out:
            row["days"] = (today - row["since"]).days
        return out

    def reminders(self, market_code: str, *, today: date | None = None) -> list[dict[str, Any]]:
        """A reminder text per overdue stall (Vietnamese), with the phone to send it to."""
        market = self.market(market_code)
        out = []
        for row in self.arrears(market_code, today=today):
            stall = self.registry.find_stall(market.id, row["stall"].split("/", 1)[1])  # type: ignore[arg-type]
            periods = ", ".join(b["period"] for b in row["bills"])
            out.append({**row, "phone": stall.owner_phone if stall else None,
                        "text": (f"{market.name}: sạp {row['stall'].split('/', 1)[1]} còn nợ phí chợ "
                                 f"{money(row['owed'])} (kỳ {periods}), quá hạn từ {row['since']:%d/%m/%Y}. "
                                 "Vui lòng quét mã QR trên phiếu thu để nộp. Xin cảm ơn.")})
        return out

    # ------------------------------------------------------------------ payments

    def record_cash(self, number: str, amount: Any, *, at: Any = None, note: str | None = None) -> BillView:
        """Record cash paid at the board's office on a bill (audited); a receipt once paid in full."""
        view = self.bill(number)
        market = self.market(view.market, write=True)
        value = vietqr.parse_amount(amount, field="amount")
        if view.owed <= 0:
            raise Conflict(f"bill {view.number} is already paid in full")
        if value > view.owed:
            raise InvalidFormat(f"amount: {money(value)} nhiều hơn số còn nợ {money(view.owed)} (more than owed)",
                                field="amount", value=amount, limit=f"≤ {view.owed}")
        when = accounts.clean_event_time(at, field="at", now=utcnow()) if at else utcnow()
        count = self.session.exec(select(func.count()).select_from(FeePayment).where(
            FeePayment.method == "cash")).one()
        last = self.session.exec(select(FeeBill).where(FeeBill.number == view.versions[-1]["number"])).one()
        pay = FeePayment(bill_id=last.id, amount=value, method="cash", tx_key=f"cash:{count + 1}:{utcnow().timestamp()}",
                         paid_at=when, channel="cash", note=note, recorded_by=self.actor.name)  # type: ignore[arg-type]
        self.session.add(pay)
        self.session.flush()
        self.registry.audit("fee.cash", "fee_bill", view.number, after={"amount": value, "note": note},
                            effective_at=when if at else None)
        self._receipts(market, view.period, last.stall_id)
        return self.bill(view.number)

    def transfers_to_board(self, store: Any, market_code: str) -> list[rules.Incoming]:
        """Incoming transfers to the market's collection account, from the transaction store."""
        account = self.account(market_code)
        rows = store.con.execute(
            "SELECT bank_bin, tx_id, booked_at, amount, coalesce(content, ''), channel FROM transfer "
            "WHERE account = ? AND bank_bin = ? AND channel IS NOT NULL", [account.number, account.bin]).fetchall()
        return [rules.Incoming(f"{b}:{t}", at, amount, content, channel) for b, t, at, amount, content, channel in rows]

    def match(self, market_code: str, transfers: Iterable[rules.Incoming], *, window_days: int = 45) -> MatchRun:
        """Apply transfers to the market's bills (idempotent: a transfer already applied is skipped, also when
        it comes back through the other channel under another id — :func:`market40.fees.twin_key`)."""
        with gc_paused():  # a matching allocates ~10 objects per transfer and frees none: no cycles to find
            return self._match(market_code, transfers, window_days)

    def _match(self, market_code: str, transfers: Iterable[rules.Incoming], window_days: int) -> MatchRun:
        market = self.market(market_code, write=True)
        run = MatchRun(market.code)
        bills = self.session.execute(
            select(FeeBill.id, FeeBill.stall_id, FeeBill.period, FeeBill.amount, FeeBill.reference,
                   FeeBill.issued_at, FeeBill.due_date, FeeBill.receipt_serial)
            .where(FeeBill.market_id == market.id)
            .order_by(FeeBill.period, FeeBill.stall_id, FeeBill.version)).all()
        paid: dict[int, int] = defaultdict(int)
        done: set[str] = set()
        applied: dict[str, list[Any]] = {}  # tx_key -> [channel, paid_at, content, amount]
        for bill_id, amount, key, channel, paid_at, content in self.session.execute(
                select(FeePayment.bill_id, FeePayment.amount, FeePayment.tx_key, FeePayment.channel,
                       FeePayment.paid_at, FeePayment.content).join(
                    FeeBill, FeeBill.id == FeePayment.bill_id).where(FeeBill.market_id == market.id)).all():
            paid[bill_id] += amount
            done.add(key)
            if channel in ("statement", "webhook"):
                applied.setdefault(key, [channel, paid_at, content, 0])[3] += amount
        # A transfer already applied through the other channel under another id (a webhook, then the
        # statement) is the same money: one-to-one by rules.twin_key, never applied twice.
        twins: dict[bool, dict[Any, int]] = {True: defaultdict(int), False: defaultdict(int)}  # by "came live"
        for channel, paid_at, content, amount in applied.values():
            at = paid_at if paid_at.tzinfo else paid_at.replace(tzinfo=timezone.utc)
            twins[channel == "webhook"][rules.twin_key(at.astimezone(VN_TZ).replace(tzinfo=None), amount, content)] += 1
        groups: dict[tuple[int, str], list[Any]] = defaultdict(list)
        for bill in bills:
            groups[(bill.stall_id, bill.period)].append(bill)
        dues = []
        for (sid, month), versions in groups.items():
            first = versions[0]
            issued = first.issued_at
            if issued.tzinfo is None:
                issued = issued.replace(tzinfo=timezone.utc)
            dues.append(rules.BillDue(
                group=(sid, month), key=first.reference.replace(" ", ""), stall=sid, period=month,
                bills=[(b.id, b.amount) for b in versions], paid=[paid[b.id] for b in versions],
                issued=issued.astimezone(VN_TZ).replace(tzinfo=None) - timedelta(days=1),
                due_on=versions[-1].due_date))
        index = rules.bill_index([(b.reference, b.reference) for b in bills])
        fresh = []
        for tx in transfers:
            run.transfers += 1
            if tx.tx_key in done:
                run.already += 1
                continue
            other = twins[tx.channel != "webhook"]  # payments that came through the other channel
            key = rules.twin_key(tx.booked_at, tx.amount, tx.content) if other else None
            if other.get(key):
                other[key] -= 1
                run.already += 1
            else:
                fresh.append(tx)
        result = rules.match(fresh, dues, index, window_days=window_days)
        txs = {t.tx_key: t for t in fresh}
        rows = []
        now = utcnow()
        by = self.actor.name
        last_paid: dict[int, datetime] = {}
        moments: dict[str, datetime] = {}  # a transfer's booking time in UTC, converted once
        for a in result.allocations:
            tx = txs[a.tx_key]
            when = moments.get(a.tx_key)
            if when is None:
                when = moments[a.tx_key] = tx.booked_at.replace(tzinfo=VN_TZ).astimezone(timezone.utc)
            rows.append((a.bill, a.amount, a.method, a.tx_key, when, tx.channel, (tx.content or "")[:300], a.note,
                         now, by))
            last = last_paid.get(a.bill)
            if last is None or when > last:
                last_paid[a.bill] = when
            run.applied += 1
            run.amount += a.amount
            if a.note:
                run.notes.append({"tx": a.tx_key, "amount": a.amount, "note": a.note})
        rows.sort(key=_first)  # by bill: the (bill_id, tx_key) index is written in order
        bulk_insert(self.session, FeePayment.__table__, rows, _PAYMENT_COLUMNS)  # type: ignore[attr-defined]
        run.unmatched = [{"tx": u.tx_key, "amount": u.amount, "reason": u.reason, "candidates": list(u.candidates),
                          "booked_at": txs[u.tx_key].booked_at, "content": txs[u.tx_key].content}
                         for u in result.unmatched]
        serials = {b.id: b.receipt_serial for b in bills}
        newly_paid = []
        for due in dues:
            first_id = due.bills[0][0]
            if due.outstanding <= 0 and serials.get(first_id) is None:  # type: ignore[arg-type]
                moments = [last_paid[b] for b, _ in due.bills if b in last_paid]  # type: ignore[index]
                newly_paid.append((first_id, max(moments) if moments else now))
        run.receipts = self._issue_receipts(market, newly_paid)
        self.registry.audit("fee.match", "market", market.code, after={
            "transfers": run.transfers, "applied": run.applied, "amount": run.amount,
            "unmatched": len(run.unmatched), "receipts": run.receipts})
        self.session.flush()
        return run

    def _issue_receipts(self, market: Market, paid: list[tuple[Any, datetime]]) -> int:
        """Receipt serials (market, year, sequence) for bills just paid in full: ``(first version id, paid at)``."""
        if not paid:
            return 0
        year = _today().year
        prefix = rules.receipt_serial(market.code, year, 0)[:-6]
        taken = self.session.execute(select(func.count()).select_from(FeeBill).where(
            FeeBill.receipt_serial.like(prefix + "%"))).scalar_one()  # type: ignore[union-attr]
        values = [(bill_id, rules.receipt_serial(market.code, year, taken + n + 1), at)
                  for n, (bill_id, at) in enumerate(sorted(paid, key=lambda item: (item[1], item[0])))]
        self.session.flush()  # the batch writer goes around the session: nothing pending may be lost
        bulk_update(self.session, FeeBill.__table__, "id", ("receipt_serial", "paid_at"),  # type: ignore[attr-defined]
                     values)
        self.session.expire_all()
        return len(values)

    def _receipts(self, market: Market, period: str | None = None, stall_id: int | None = None) -> int:
        """Receipts for the bills of one stall and period that are now paid in full (after a cash payment)."""
        views = self._views(market, period=period, stall_id=stall_id)
        return self._issue_receipts(market, [
            (v.bill_id, max((p["paid_at"] for p in v.payments), default=utcnow()))
            for v in views if v.state == "paid" and v.receipt_serial is None])

    def slips(self, market_code: str, period: Any) -> list[BillView]:
        """The bills to print as slips: those with something still owed (their QR asks exactly that)."""
        return [v for v in self.bills(market_code, period) if v.payload]

    def write_slips(self, market_code: str, period: Any, out: Any, *, sheet: str = "a4", size: str = "a6",
                    workers: int = 1) -> int:
        """The period's slips of a market as one PDF (A6, four to an A4 sheet, or A7, eight; cut marks).

        On A7 a bill whose QR does not fit at 1.5 mm modules stops the run (nothing written); the
        error names it, the limit and the bills that fit. ``workers`` processes build the QR symbols.
        """
        from .. import feeslips
        size = feeslips.check_size(size)
        account = self.account(market_code)
        bank = banks.by_bin(account.bin)
        views = self.slips(market_code, period)
        count = feeslips.render_slips_pdf([feeslips.Slip(
            board_name=v.board_name, market_name=v.market_name, stall_code=v.stall_code, owner_name=v.owner_name,
            shop_name=v.shop_name, period=v.period, number=v.versions[-1]["number"], reference=v.reference,
            due_date=v.due_date, amount=v.owed, lines=_current_lines(v), payload=v.payload,  # type: ignore[arg-type]
            holder_name=account.holder_name, bank=bank.short_name if bank else account.bin) for v in views],
            out, sheet=sheet, size=size, workers=workers)
        self.registry.audit("fee.slips.print", "market", market_code.upper(), note=f"{_period(period)}: "
                            f"{count} slips {size.upper()}")
        return count

    def write_receipt(self, number: str, out: Any) -> str:
        """The receipt of a paid bill as a PDF; returns its serial."""
        from .. import feeslips
        view = self.bill(number)
        if view.receipt_serial is None:
            raise Conflict(f"bill {view.number}: no receipt yet — {view.state_label} "
                           f"({money(view.paid)} of {money(view.amount)})")
        feeslips.render_receipts_pdf([feeslips.Receipt(
            serial=view.receipt_serial, board_name=view.board_name, market_name=view.market_name,
            stall_code=view.stall_code, owner_name=view.owner_name, period=view.period, number=view.number,
            amount=view.paid, paid_at=view.paid_at or utcnow(), lines=_current_lines(view),
            payments=view.payments)], out)
        return view.receipt_serial


def _owed_payload(payable: list[FeeBill], owed: int, versions: list[FeeBill]) -> str | None:
    """The QR that pays what is owed: the latest version's when it asks exactly that, else a fresh one."""
    latest = payable[-1] if payable else None
    if latest is not None:
        parsed = vietqr.parse(latest.payload or "")
        if parsed.amount == owed:
            return latest.payload
        return vietqr.build(bin=parsed.bin, account=parsed.account, amount=owed,
                            bill_number=versions[-1].number, purpose=versions[0].reference).payload
    return None


def fee_counts(session: Session, market_ids: list[int], periods: list[str]) -> dict[tuple[int, str], tuple[int, int]]:
    """(market, period) → (fees billed, fees paid cashless) in đồng, for the adoption report.

    Cashless is what transfers matched to the bills paid (over-payments capped at what each
    stall's bill asked); cash paid at the board's office is not cashless.
    """
    if not market_ids or not periods:
        return {}
    billed: dict[tuple[int, int, str], int] = defaultdict(int)
    bill_group: dict[int, tuple[int, int, str]] = {}
    for chunk in _chunks(list(market_ids), 900):
        for bill_id, market_id, stall_id, period, amount in session.execute(
                select(FeeBill.id, FeeBill.market_id, FeeBill.stall_id, FeeBill.period, FeeBill.amount).where(
                    FeeBill.market_id.in_(chunk), FeeBill.period.in_(periods))).all():  # type: ignore[attr-defined]
            billed[(market_id, stall_id, period)] += amount
            bill_group[bill_id] = (market_id, stall_id, period)
    cashless: dict[tuple[int, int, str], int] = defaultdict(int)
    for chunk in _chunks(list(bill_group), 900):
        for bill_id, amount in session.execute(select(FeePayment.bill_id, FeePayment.amount).where(
                FeePayment.bill_id.in_(chunk), FeePayment.method != "cash")).all():  # type: ignore[attr-defined]
            cashless[bill_group[bill_id]] += amount
    out: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0, 0])
    for (market_id, stall_id, period), amount in billed.items():
        row = out[(market_id, period)]
        row[0] += amount
        row[1] += min(cashless.get((market_id, stall_id, period), 0), max(amount, 0))
    return {key: (a, b) for key, (a, b) in out.items()}


def _current_lines(view: BillView) -> list[dict[str, Any]]:
    """The bill's lines with every correction folded in (one line per tariff code)."""
    lines: dict[str, dict[str, Any]] = {}
    for version in view.versions:
        for line in version["lines"]:
            if line["code"] in lines and version["version"] > 1:
                merged = dict(line)
                merged["amount"] = lines[line["code"]]["amount"] + int(line["amount"])
                lines[line["code"]] = merged
            else:
                lines[line["code"]] = dict(line, amount=lines.get(line["code"], {}).get("amount", 0) + int(line["amount"]))
    return [line for line in lines.values() if int(line["amount"])]


def _tariff(row: FeeTariff) -> rules.Tariff:
    return rules.Tariff(row.code, row.kind, row.name, row.unit, row.unit_price, row.tier, row.position_class,
                        row.source, row.valid_from, row.valid_to)


def _fold(value: str | None) -> str:
    return search_key(value or "")


def _masked_account(row: FeeAccount) -> dict[str, Any]:
    return {"bin": row.bin, "number": accounts.mask(row.number), "holder_name": row.holder_name,
            "board_name": row.board_name}


def _name(path: Any) -> str:
    return Path(path).name if isinstance(path, (str, Path)) else getattr(path, "name", "upload")


def _chunks(items: list, size: int) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _natural(code: str) -> tuple:
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.findall(r"\d+|\D+", code))


# ----------------------------------------------------------------------------- live payments (issue #10 feed)

def board_key(market_id: int) -> int:
    """The live hub's key of a market board's bill list (stall keys are positive ids; these are negative)."""
    return -int(market_id)


def match_live(session: Session, transfer: Any) -> list[int]:
    """A stored live transfer (``live_transfer`` row) to a market board's collection account, applied
    to that market's bills as :meth:`Fees.match` applies a statement's (in the caller's transaction).

    Returns the live hub keys to announce a bill-status change to: the stall of every bill the
    transfer paid (its owner's bill page) and the market's board (:func:`board_key`). A transfer to
    any other account, or one already applied, returns ``[]``.
    """
    account = session.exec(select(FeeAccount).where(FeeAccount.bin == transfer.bank_bin,
                                                    FeeAccount.number == transfer.account)).first()
    if account is None:
        return []
    market = session.get(Market, account.market_id)
    if market is None:
        return []
    booked = transfer.booked_at
    booked = (booked.astimezone(VN_TZ) if booked.tzinfo else booked.replace(tzinfo=VN_TZ)).replace(tzinfo=None)
    key = f"{transfer.bank_bin}:{transfer.tx_id}"
    run = Fees(session, Actor.operator("live-feed")).match(market.code, [rules.Incoming(
        key, booked, int(transfer.amount), transfer.content or "", "webhook")])
    if not run.applied:
        return [board_key(market.id)] if run.unmatched else []
    stalls = session.execute(select(FeeBill.stall_id).join(FeePayment, FeePayment.bill_id == FeeBill.id).where(
        FeePayment.tx_key == key).distinct()).scalars().all()
    return sorted(int(s) for s in stalls) + [board_key(market.id)]


def bill_states(session: Session, actor: Actor, *, market_code: str | None = None,
                period: Any = None) -> list[dict[str, Any]]:
    """What a live bill page shows of each bill: the owner's own bills, or a market's bills for a period."""
    fees = Fees(session, actor)
    views = fees.my_bills() if market_code is None else fees.bills(market_code, period)
    return [{"number": v.number, "state": v.state, "label": v.state_label, "paid": v.paid, "owed": v.owed,
             "paid_text": money(v.paid), "owed_text": money(v.owed), "receipt": v.receipt_serial,
             "payload": bool(v.payload)} for v in views]
