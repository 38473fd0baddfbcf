"""The market boards' census: which households operate in each market in a period.

It is the denominator of adoption ("1.216/1.433 hộ"): the real number of operating
households, not the registry's. A board sends its list per market and month as CSV or XLSX
(``market40 census template`` writes the form), with the same rules as the stall import:

* every row is checked and **all** bad rows are reported (row number as Excel shows it,
  column, reason), in a rejects file too; nothing is written unless every row is good
  (``partial`` writes the good ones; ``dry_run`` writes nothing);
* the file's list *replaces* the census of each (market, period) it covers: households
  missing from the new list are removed, new ones added, changed names updated; importing the
  same file again changes nothing and says so;
* households marked closed (``Trạng thái: Nghỉ``) are not operating and are left out;
* each (market, period) written is audited (counts only: the names are in the table).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import IO, Any, Callable

from sqlalchemy import bindparam, delete, func, update
from sqlmodel import Session, select

from . import auditlog
from .. import accounts, db, formats, messages, tabular
from ..households import household_key
from ..exceptions import Forbidden, InvalidFormat, NotFound, ValidationError
from ..models import CensusEntry, Market, utcnow
from ..reconciliation import Period, stall_key
from .imports import (Problem, Problems, bulk_insert, settle, steady_gc_end, steady_gc_start, totals_note, verdict,
                      write_rejects)
from .registry import Actor, Registry

__all__ = ["CENSUS_COLUMNS", "CensusReport", "import_census", "census_summary", "write_census_template"]

Progress = Callable[[int, "int | None"], None]

#: Census columns (canonical name → :class:`~market40.tabular.Column`), Vietnamese first.
CENSUS_COLUMNS: tabular.Schema = MappingProxyType({
    "market_code": tabular.Column(
        ("Mã chợ", "Market code"),
        vi="Mã chợ, ví dụ HL1. Có thể bỏ trống nếu cả danh sách thuộc một chợ (khi nhập chọn chợ).",
        en="Market code, e.g. HL1. May be left out when the whole list is one market (chosen at import).",
        example="HL1"),
    "period": tabular.Column(
        ("Kỳ", "Tháng", "Kỳ báo cáo", "Period", "Month"), text=True,
        vi="Tháng của danh sách, dạng 2025-06 hoặc 06/2025. Có thể bỏ trống và chọn khi nhập.",
        en="The month of the list, 2025-06 or 06/2025. May be left out and chosen at import.",
        example="2025-06"),
    "stall_code": tabular.Column(
        ("Mã sạp", "Mã ki-ốt", "Số sạp", "Số ki-ốt", "Sạp", "Ki-ốt", "Stall code", "Stall"),
        required=True, text=True,
        vi="Mã hoặc số sạp/ki-ốt như ban quản lý chợ đánh số, ví dụ A-12.",
        en="Stall or kiosk code as the market board numbers it, e.g. A-12.", example="A-12"),
    "owner_name": tabular.Column(
        ("Tên chủ hộ", "Chủ hộ", "Họ và tên chủ hộ", "Họ tên chủ hộ", "Họ và tên", "Họ tên", "Tiểu thương",
         "Owner name", "Owner"), required=True,
        vi="Họ và tên chủ hộ kinh doanh đang kinh doanh tại sạp.", en="The household operating the stall.",
        example="Nguyễn Thị Lan"),
    "status": tabular.Column(
        ("Trạng thái", "Tình trạng", "Status"),
        vi="Đang kinh doanh (Đang KD, bỏ trống cũng được) / Nghỉ (Tạm nghỉ, Đóng cửa): hộ nghỉ không được tính.",
        en="Operating (or blank) / closed: closed households are not counted.", example="Đang kinh doanh"),
    "owner_phone": tabular.Column(
        ("Số điện thoại", "SĐT", "Điện thoại", "Số ĐT", "Di động", "Owner phone", "Phone"), text=True,
        vi="Số điện thoại của chủ hộ (nếu có): cùng số điện thoại và tên là cùng một hộ.",
        en="The owner's phone (if known): the same phone and name are one household.", example="0912345678"),
    "owner_tax_code": tabular.Column(
        ("Mã số thuế", "MST", "Mã số hộ kinh doanh", "Số ĐKKD", "Số đăng ký kinh doanh", "Tax code",
         "Business registration"), text=True,
        vi="Mã số thuế hoặc số đăng ký kinh doanh của hộ (nếu có): các sạp cùng một hộ được tính là một hộ.",
        en="The household's tax or business registration code (if known): its stalls count as one household.",
        example=""),
})


@dataclass
class CensusReport:
    """What a census import did (or would have done)."""

    source: str
    rows: int = 0
    not_operating: int = 0
    added: int = 0
    removed: int = 0
    updated: int = 0
    unchanged: int = 0
    lists: dict[str, int] = field(default_factory=dict)  # "HL1 2025-06" → households
    problems: Problems = field(default_factory=Problems)
    written: bool = False
    dry_run: bool = False
    rejects_file: str | None = None
    unknown_columns: list[str] = field(default_factory=list)
    totals_rows: list[int] = field(default_factory=list)  # "Tổng cộng" lines skipped, not rejected

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed or self.updated)

    def summary(self, lang: str = "en") -> str:
        n = functools.partial(formats.count, lang=lang)
        names = ", ".join(f"{k} ({n(v)})" for k, v in sorted(self.lists.items()))
        totals = f"; {totals_note(self.totals_rows, lang)}" if self.totals_rows else ""
        return messages.text("summary.census", lang, source=self.source, rows=n(self.rows), lists=n(len(self.lists)),
                             names=names, added=n(self.added), removed=n(self.removed), updated=n(self.updated),
                             unchanged=n(self.unchanged), not_operating=n(self.not_operating),
                             rejected=n(len(self.problems)), totals=totals,
                             verdict=messages.sentence(
                                 verdict(self, already="this census was already imported", lang=lang), lang))

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "rows": self.rows, "not_operating": self.not_operating, "added": self.added,
                "removed": self.removed, "updated": self.updated, "unchanged": self.unchanged,
                "lists": self.lists, "written": self.written, "dry_run": self.dry_run,
                "rejects_file": self.rejects_file, "unknown_columns": self.unknown_columns,
                "totals_rows": self.totals_rows,
                "problems": [{"row": p.row, "field": e.field, "message": e.message,
                              "message_vi": messages.describe(e, "vi")}
                             for p in self.problems for e in p.error.errors]}


def import_census(session: Session, actor: Actor, source: str | Path | IO[bytes], *, market: str | None = None,
                  period: str | None = None, sheet: str | None = None, dry_run: bool = False,
                  partial: bool = False, rejects: str | Path | None = None,
                  progress: Progress | None = None) -> CensusReport:
    """Import a census list (CSV or XLSX); see the module docstring. Commits when written."""
    registry = Registry(session, actor)
    registry._require_write()
    default_period = str(Period.parse(period)) if period else None
    report = CensusReport(source=str(source), dry_run=dry_run)
    markets: dict[str, Market | ValidationError] = {}
    lists: dict[tuple[int, str], dict[str, dict[str, str]]] = {}
    seen: dict[tuple[int, str, str], int] = {}
    # The first row of each stall, for when a later row names it too (both are reported): a file that can be
    # read again is, for those rows only (deferred: row → (twin row, twin code, month)); another source keeps
    # every first row's cells (a tuple: the file's columns are the same on every row) and code.
    rereadable = not hasattr(source, "read") or bool(getattr(source, "seekable", None) and source.seekable())  # type: ignore
    firsts: dict[tuple[int, str, str], tuple[int, tuple[tuple[str, ...], tuple[str, ...]] | None, str | None]] = {}
    deferred: dict[int, tuple[int, str, str]] = {}
    columns: dict[tuple[str, ...], tuple[str, ...]] = {}
    codes: dict[int, str] = {}
    refused: set[int] = set()  # the rows reported so far (the problems may wait in a file: not searched)
    periods: dict[str, str] = {}  # as written → YYYY-MM (a list gives the same month on every row)
    frozen = steady_gc_start()
    try:
        with tabular.read_table(source, sheet=sheet, schema=CENSUS_COLUMNS) as table:
            report.source = table.name
            report.unknown_columns = list(table.unknown_columns)
            for row in table:
                report.rows += 1
                errors: list[ValidationError] = list(row.errors)
                values = row.values
                found = _market(registry, markets, values.get("market_code") or market, market, errors)
                given = values.get("period") or default_period
                month = periods.get(given) if given else None  # type: ignore[arg-type]
                if month is None:
                    month = _period(given, errors)
                    if month and given:
                        periods[given] = month
                try:
                    code = accounts.clean_stall_code(values.get("stall_code"))
                except ValidationError as error:
                    errors.append(error)
                    code = None
                try:
                    owner = accounts.clean_name(values.get("owner_name"), field="owner_name", limit=200,
                                                required=True) or ""
                except ValidationError as error:
                    errors.append(error)
                    owner = ""
                try:
                    operating = accounts.clean_stall_status(values.get("status")) == "operating"
                except ValidationError as error:
                    errors.append(error)
                    operating = True
                key = stall_key(code) if code else None
                if found is not None and month and key:
                    where = (found.id, month, key)
                    if where in seen:  # "A-12" and "a12" are one household: both rows are reported
                        errors.append(InvalidFormat(f"stall_code: {code!r} is the same stall as row {seen[where]} "
                                                    f"for {found.code} {month}", field="stall_code", value=code,
                                                    limit="once per market and month"))
                        _report_first(report, lists, firsts.pop(where, None), where, row.number, code, refused,
                                      deferred)
                    else:
                        seen[where] = row.number
                        if rereadable:
                            firsts[where] = (row.number, None, None)
                        else:
                            keys = tuple(values)
                            keys = columns.setdefault(keys, keys)  # one tuple of column names for the file
                            firsts[where] = (row.number, (keys, tuple(values.values())), code)
                if errors:
                    for error in errors:
                        error.field = {"code": "stall_code"}.get(error.field or "", error.field)
                    report.problems.append(Problem(row.number, ValidationError.combine(errors), dict(values)))
                    refused.add(row.number)
                    continue
                assert found is not None and month and key and code
                codes[found.id] = found.code
                households = lists.setdefault((found.id, month), {})
                if operating:
                    households[key] = {"stall_code": code, "owner_name": owner, "household_key": household_key(
                        tax_code=values.get("owner_tax_code"), phone=values.get("owner_phone"), name=owner)}
                else:
                    report.not_operating += 1
                if progress:
                    progress(report.rows, table.total)
            report.totals_rows = list(table.totals_rows)
        if deferred:
            _report_deferred(report, source, sheet, deferred)
        report.problems.sort(key=lambda p: p.row)
        for (market_id, month), households in lists.items():
            report.lists[f"{codes[market_id]} {month}"] = len(households)
        if partial or not report.problems:
            _write(session, actor, report, lists, codes)
        settle(session, report, dry_run=dry_run, partial=partial)
        if report.written:
            db.refresh_statistics(session, ("census_entry",), changed=report.added + report.removed + report.updated)
        if not report.written:
            report.added = report.removed = report.updated = report.unchanged = 0
    except BaseException:
        session.rollback()
        steady_gc_end(frozen)
        raise
    try:
        write_rejects(report, rejects)
    finally:
        steady_gc_end(frozen)
    return report


def _report_first(report: CensusReport, lists: dict[tuple[int, str], dict[str, dict[str, str]]],
                  first: tuple[int, tuple[tuple[str, ...], tuple[str, ...]] | None, str | None] | None,
                  where: tuple[int, str, str], twin: int, code: str, refused: set[int],
                  deferred: dict[int, tuple[int, str, str]]) -> None:
    """The first row of a pair of twins becomes a problem too (once), and leaves the list.

    Without its cells (a file read again at the end), the problem is made then: ``deferred``.
    """
    if first is None:
        return
    number, kept, first_code = first
    market_id, month, key = where
    households = lists.get((market_id, month), {})
    if key in households:
        del households[key]
    elif number not in refused:
        report.not_operating = max(0, report.not_operating - 1)
    if number in refused:
        return
    refused.add(number)
    if kept is None:
        deferred[number] = (twin, code, month)
        return
    keys, cells = kept
    report.problems.append(_twin_problem(number, first_code or "", twin, code, month, dict(zip(keys, cells))))


def _twin_problem(number: int, first_code: str, twin: int, code: str, month: str, values: dict[str, str]) -> Problem:
    return Problem(number, InvalidFormat(
        f"stall_code: {first_code!r} is the same stall as row {twin} ({code!r}) for {month}: keep one row",
        field="stall_code", value=first_code, limit="once per market and month"), values)


def _report_deferred(report: CensusReport, source: Any, sheet: str | None,
                     deferred: dict[int, tuple[int, str, str]]) -> None:
    """The first rows of twins, read again from the file (their cells were not kept)."""
    with tabular.read_table(source, sheet=sheet, schema=CENSUS_COLUMNS) as table:
        for row in table:
            if row.number in deferred:
                twin, code, month = deferred[row.number]
                first_code = accounts.clean_stall_code(row.values.get("stall_code"))
                report.problems.append(_twin_problem(row.number, first_code, twin, code, month, dict(row.values)))


def _market(registry: Registry, cache: dict[str, Market | ValidationError], code: str | None,
            default: str | None, errors: list[ValidationError]) -> Market | None:
    if not code:
        errors.append(messages.problem("market_missing", "market_code", "", limit="a market code"))
        return None
    key = code.strip().upper()
    if key not in cache:
        try:
            cache[key] = registry.market(key)
        except (NotFound, Forbidden, ValidationError) as error:
            cache[key] = messages.problem("market_unknown", "market_code", code, detail=str(error),
                                          limit="a market in the registry, within your scope")
    found = cache[key]
    if isinstance(found, ValidationError):
        errors.append(found)
        return None
    if default and key != default.strip().upper():
        errors.append(messages.problem("market_other", "market_code", code, market=default, limit=default))
        return None
    return found


def _period(value: str | None, errors: list[ValidationError]) -> str | None:
    if not value:
        errors.append(InvalidFormat("period: no month for this row (add a Kỳ column or choose the period when "
                                    "importing)", field="period", value="", limit="YYYY-MM"))
        return None
    try:
        return str(Period.parse(value))
    except ValidationError as error:
        errors.append(error)
        return None


def _write(session: Session, actor: Actor, report: CensusReport,
           lists: dict[tuple[int, str], dict[str, dict[str, str]]], codes: dict[int, str]) -> None:
    """Replace each (market, period) list by its diff against what is stored.

    Only the households that changed are written (one executemany each for the updates, the
    deletions and the insertions), inside the caller's transaction: nothing is half-written, and
    a re-run finds nothing to do. The stored rows are read as plain tuples, not ORM objects (a
    per-row ORM UPDATE re-evaluated its criteria against every loaded entry: quadratic).
    """
    now = utcnow()
    table = CensusEntry.__table__  # type: ignore[attr-defined]
    source = report.source[:200]
    for (market_id, month), households in sorted(lists.items()):
        existing = {key: (entry_id, stall_code, owner_name, household)
                    for entry_id, key, stall_code, owner_name, household in session.execute(
                        select(table.c.id, table.c.stall_key, table.c.stall_code, table.c.owner_name,
                               table.c.household_key).where(table.c.market_id == market_id,
                                                            table.c.period == month))}
        added = [k for k in households if k not in existing]
        removed = [stored[0] for k, stored in existing.items() if k not in households]
        changes = []
        for key, values in households.items():
            stored = existing.get(key)
            if stored is not None and stored[1:] != (values["stall_code"], values["owner_name"],
                                                     values["household_key"]):
                changes.append({"entry_id": stored[0], "stall_code": values["stall_code"],
                                "owner_name": values["owner_name"], "household_key": values["household_key"]})
        if changes:
            session.execute(update(table).where(table.c.id == bindparam("entry_id")).values(
                stall_code=bindparam("stall_code"), owner_name=bindparam("owner_name"),
                household_key=bindparam("household_key"), source=source, imported_at=now,
                imported_by=actor.name), changes)
        for start in range(0, len(removed), 900):
            session.execute(delete(table).where(table.c.id.in_(removed[start:start + 900])))
        if added:
            bulk_insert(session, table, [
                {"market_id": market_id, "period": month, "stall_key": key, "source": source,
                 "imported_at": now, "imported_by": actor.name, **households[key]} for key in added])
        updated = len(changes)
        report.added += len(added)
        report.removed += len(removed)
        report.updated += updated
        report.unchanged += len(households) - len(added) - updated
        if added or removed or updated:
            auditlog.record(session, actor.name, "census.import", "market", codes[market_id],
                            note=source, after={"period": month, "households": len(households),
                                                "added": len(added), "removed": len(removed),
                                                "updated": updated})
    session.flush()


def census_summary(session: Session, actor: Actor, period: str, *, market: str | None = None) -> list[dict[str, Any]]:
    """Households per market in a period's census (the markets this actor may see)."""
    month = str(Period.parse(period))
    registry = Registry(session, actor)
    query = registry.scoped_markets()
    if market:
        query = query.where(Market.code == registry.market(market).code)
    markets = {m.id: m for m in session.exec(query).all()}
    counts = dict(session.execute(select(CensusEntry.market_id, func.count()).where(
        CensusEntry.period == month, CensusEntry.market_id.in_(list(markets)))  # type: ignore[attr-defined]
        .group_by(CensusEntry.market_id)).all())
    return [{"market": m.code, "name": m.name, "period": month, "households": counts.get(m.id)}
            for m in sorted(markets.values(), key=lambda m: m.code)]


def write_census_template(path: str | Path | IO[bytes], *, kind: str | None = None) -> None:
    """The census form (XLSX with a "Hướng dẫn" sheet, or CSV)."""
    tabular.write_template(path, CENSUS_COLUMNS, kind=kind)
