"""Bulk import of the market board's spreadsheets: markets and stalls (with their accounts).

The rules (issue #3, "Bulk import"):

* every row is validated and **all** bad rows are reported at once (row number as Excel
  shows it, column, reason), in a rejects file too;
* by default nothing is written unless every row is good; ``partial`` writes the good rows;
  ``dry_run`` validates and writes nothing;
* importing the same file again changes nothing and says so; a changed row updates that
  stall (audited); a changed account replaces the current one (the old one is revoked);
* a stall code matches the market's stall with the same key (``A12``, ``a-12`` and ``A 12``
  are ``A-12``, whose code stays as registered); two rows of one file that are the same
  stall are both reported; a new stall whose reference would read like another market's
  once spaces are stripped (``HL11 5`` / ``HL1 15``) is refused;
* optional date columns date the history (registered on, verified on, closed on): each is
  checked (a real day, not in the future, verified not before registered) and reported by
  row and column like every other cell; the audit trail keeps when it happened and when it
  was recorded;
* the file streams in chunks inside one transaction, so memory does not grow with it; new
  stalls, accounts and audit events go in with bulk inserts.

:func:`import_stall_rows` takes rows that are already dictionaries (the demo province uses
it); :func:`import_stalls` and :func:`import_markets` read CSV or XLSX files.
"""
from __future__ import annotations

import functools
import gc
import logging
import operator
import pickle
import queue
import re
import tempfile
import threading
import weakref
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any, Callable, Iterable, Iterator

from sqlalchemy import bindparam, event, update
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlmodel import Session, select

from .. import accounts, banks, db, formats, households, messages, tabular, vietqr
from ..exceptions import Forbidden, InvalidFormat, NotFound, ValidationError
from ..models import AuditEvent, Market, PaymentAccount, Stall, utcnow
from . import auditlog
from .registry import CONSENT_PURPOSE, MOMO_BIN, Actor, KeyHashes, ReferenceGuard, Registry, mask_record

__all__ = ["ImportReport", "Problem", "Problems", "MAX_DETAIL", "find_twins", "import_stalls", "import_markets",
           "import_stall_rows", "verdict", "settle", "write_rejects", "bulk_insert", "bulk_update"]

CHUNK = 2000
Progress = Callable[[int, "int | None"], None]

# Registry field names → the spreadsheet's canonical column names (for the rejects file).
_COLUMN_OF = {"code": "stall_code", "holder_name": "account_holder", "reference_label": "reference",
              "card": "account", "bin": "bank", "goods_category": "category", "stall": "stall_code",
              "locality_id": "locality", "is_central": "central", "board_contact_name": "board_contact",
              "board_contact_phone": "board_phone", "name": "name", "qr": "payload", "merchant_qr": "payload"}
_ACCOUNT_FIELDS = ("kind", "bin", "number", "holder_name", "reference_label", "purpose", "payload",
                   "merchant_payload")


@dataclass
class Problem:
    """One bad row: its number as Excel shows it, and every problem found in it."""

    row: int
    error: ValidationError
    values: dict[str, str] = field(default_factory=dict)

    def lines(self, lang: str = "vi") -> list[str]:
        """One line per problem naming the row and the column, in Vietnamese (``lang="en"``: English)."""
        return [messages.line(self.row, messages.column_name(e.field, lang), e, lang) for e in self.error.errors]


#: Bad rows kept whole in memory; the rest wait in a temporary file (a file of 300,000 bad
#: rows is reported in seconds and a bounded amount of memory, and every one is still listed).
MAX_DETAIL = 1000


class Problems:
    """Every bad row of an import, in order: ``len`` counts them all, iterating yields them all.

    The first :data:`MAX_DETAIL` are kept as they are (index them); later ones are written to
    a temporary file as they come, with their row number, values, fields and messages, and
    read back when iterated. Errors lose their tracebacks: a traceback keeps every frame of
    the validation alive, and with it the memory of the whole file.
    """

    def __init__(self, keep: int | None = None) -> None:
        self.keep = MAX_DETAIL if keep is None else keep
        self._kept: list[Problem] = []
        self._spill: IO[str] | None = None
        self._count = 0
        self._last_row = -1
        self._in_order = True

    def append(self, problem: Problem) -> None:
        self._count += 1
        if problem.row < self._last_row:
            self._in_order = False  # an earlier row reported late (a twin found further down)
        self._last_row = max(self._last_row, problem.row)
        for error in {id(e): e for e in (problem.error, *problem.error.errors)}.values():
            error.__traceback__ = error.__context__ = error.__cause__ = None
        if len(self._kept) < self.keep:
            self._kept.append(problem)
            return
        if self._spill is None:
            self._spill = tempfile.TemporaryFile("w+b")
            weakref.finalize(self, self._spill.close)
        self._spill.write(_pack(problem))

    def __len__(self) -> int:
        return self._count

    def __eq__(self, other: object) -> bool:  # ``report.problems == []`` reads as it always did
        if isinstance(other, (list, tuple, Problems)):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __bool__(self) -> bool:
        return self._count > 0

    def __getitem__(self, index: Any) -> Any:
        return self._kept[index]

    def __iter__(self) -> Iterator[Problem]:
        yield from self._kept
        if self._spill is None:
            return
        self._spill.flush()
        self._spill.seek(0)
        while True:
            try:
                record = pickle.load(self._spill)
            except EOFError:
                break
            yield _unpack(record)
        self._spill.seek(0, 2)

    def sort(self, key: Callable[[Problem], Any] = lambda p: p.row) -> None:
        """Put the problems in row order (a no-op unless a row was reported out of order)."""
        if self._in_order:
            return
        if self._spill is None:
            self._kept.sort(key=key)
        else:  # rare: re-spill in order (memory for the detail of every bad row, once)
            everything = sorted(self, key=key)
            self._spill.close()
            self._kept, self._spill, self._count, self._last_row = [], None, 0, -1
            for problem in everything:
                self.append(problem)
        self._in_order = True

    def __repr__(self) -> str:
        return f"<{self._count} problems>"


#: What a report, a rejects file and the CLI read from an error: a spilled problem keeps all of it,
#: so its reasons read the same (in Vietnamese too) as those of the problems kept whole.
_KEPT_ATTRIBUTES = ("code", "params", "suggestions")


def _pack(problem: Problem) -> bytes:
    """One spilled problem: row, values and each error's message, field, value, limit, code and params."""
    errors = [(e.message, e.field, e.value, e.limit, {k: getattr(e, k) for k in _KEPT_ATTRIBUTES if hasattr(e, k)})
              for e in problem.error.errors]
    record = (problem.row, problem.values, errors)
    try:
        return pickle.dumps(record, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # a value that does not pickle: its text is what a report shows of it anyway
        return pickle.dumps(_as_text(record), protocol=pickle.HIGHEST_PROTOCOL)


def _as_text(item: Any) -> Any:
    if item is None or isinstance(item, (str, int, float, bool)):
        return item
    if isinstance(item, dict):
        return {_as_text(k): _as_text(v) for k, v in item.items()}
    if isinstance(item, (list, tuple)):
        return type(item)(_as_text(v) for v in item)
    return str(item)


def _unpack(record: tuple) -> Problem:
    row, values, errors = record
    rebuilt = []
    for message, field_name, value, limit, extra in errors:
        error = InvalidFormat(message, field=field_name, value=value, limit=limit)
        for key, attribute in extra.items():
            setattr(error, key, attribute)
        rebuilt.append(error)
    return Problem(row, ValidationError.combine(rebuilt), values)


@dataclass
class ImportReport:
    """What an import did (or, for a dry run or a refused file, would have done)."""

    source: str
    what: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    accounts_created: int = 0
    accounts_replaced: int = 0
    problems: Problems = field(default_factory=Problems)
    written: bool = False
    dry_run: bool = False
    rejects_file: str | None = None
    unknown_columns: list[str] = field(default_factory=list)
    totals_rows: list[int] = field(default_factory=list)  # "Tổng cộng" lines skipped, not rejected

    @property
    def good(self) -> int:
        return self.rows - len(self.problems)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.accounts_created or self.accounts_replaced)

    def summary(self, lang: str = "en") -> str:
        """One paragraph for a person: what happened, and what to do next (``lang``: vi or en)."""
        n = functools.partial(formats.count, lang=lang)
        accounts = messages.text("summary.import.accounts", lang, created=n(self.accounts_created),
                                 replaced=n(self.accounts_replaced)) if self.what == "stalls" else ""
        totals = f"; {totals_note(self.totals_rows, lang)}" if self.totals_rows else ""
        return messages.text("summary.import", lang, source=self.source, rows=n(self.rows), created=n(self.created),
                             updated=n(self.updated), unchanged=n(self.unchanged), accounts=accounts,
                             rejected=n(len(self.problems)), totals=totals, verdict=messages.sentence(verdict(self, lang=lang), lang))

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "what": self.what, "rows": self.rows, "created": self.created,
                "updated": self.updated, "unchanged": self.unchanged, "accounts_created": self.accounts_created,
                "accounts_replaced": self.accounts_replaced, "written": self.written, "dry_run": self.dry_run,
                "rejects_file": self.rejects_file, "unknown_columns": self.unknown_columns,
                "totals_rows": self.totals_rows,
                "problems": [{"row": p.row, "field": e.field, "message": e.message,
                              "message_vi": messages.describe(e, "vi")}
                             for p in self.problems for e in p.error.errors]}


def totals_note(rows: list[int], lang: str = "vi") -> str:
    """``bỏ qua 2 dòng tổng cộng (dòng 45, 46)``: what became of a list's totals lines."""
    shown = ", ".join(map(str, rows[:10])) + (", …" if len(rows) > 10 else "")
    return messages.text("report.totals", lang, n=len(rows), rows=shown)


#: The English phrases callers pass as ``already`` → their code in :mod:`market40.messages`.
_ALREADY = {"this file was already imported": "file", "this census was already imported": "census",
            "every transfer in it is already stored": "transfers"}


def verdict(report: Any, *, already: str = "this file was already imported", lang: str = "en") -> str:
    """What became of an import, in words (for any report with dry_run, problems, written, changed)."""
    return messages.verdict(dry_run=report.dry_run, refused=bool(report.problems and not report.written),
                            changed=report.changed, partial=bool(report.problems), rejects_file=report.rejects_file,
                            already=_ALREADY.get(already, already), lang=lang)


def settle(session: Session, report: Any, *, dry_run: bool, partial: bool,
           before_commit: Callable[[], None] | None = None) -> None:
    """Commit the import, or roll all of it back: a dry run, or bad rows without ``partial``.
    ``before_commit`` runs in the transaction when it is to be committed, and only then."""
    if dry_run or (report.problems and not partial):
        session.rollback()
    else:
        if before_commit is not None:
            before_commit()
        session.commit()
        report.written = True


# ------------------------------------------------------------------ stalls

class _Good:
    """A good row: its stall (and account) to write. ``key``: the stall key, computed here unless given."""

    __slots__ = ("number", "market", "stall", "account", "registered", "verified", "closed", "values", "market_id",
                 "key")

    def __init__(self, number: int, market: Market, stall: dict[str, Any], account: dict[str, Any] | None,
                 registered: datetime | None = None, verified: datetime | None = None,
                 closed: datetime | None = None, values: dict[str, str] | None = None, *,
                 market_id: int | None = None, key: str | None = None) -> None:
        self.number, self.market, self.stall, self.account = number, market, stall, account
        self.registered = registered  # when the account was registered (dated history)
        self.verified, self.closed, self.values = verified, closed, values
        self.market_id: int = market.id if market_id is None else market_id  # type: ignore[assignment]
        self.key: str = accounts.stall_key(stall["code"]) if key is None else key


Twins = dict[tuple[str, str], list[int]]


def find_twins(rows: Iterable[tuple[int, dict[str, str]]], market: str | None = None) -> Twins:
    """Rows of a stall list that name the same stall of one market (``A-12`` and ``a12``), by key.

    Only keys on two rows or more are returned, with their row numbers.
    """
    groups: Twins = {}
    for number, values in rows:
        try:
            code = accounts.clean_stall_code(values.get("stall_code"))
        except ValidationError:
            continue
        where = (values.get("market_code") or market or "").strip().upper()
        groups.setdefault((where, accounts.stall_key(code)), []).append(number)
    return {k: v for k, v in groups.items() if len(v) > 1}


#: A new stall's row as :func:`_write_stalls` inserts it (opened_on: none yet).
_NEW_STALL = ("market_id", "code", "code_key", "shop_name", "goods_category", "owner_name", "owner_phone",
              "owner_tax_code", "status", "closed_on", "household_key", "created_at", "updated_at")

_KeyHashes = KeyHashes  # (the validator's first pass and the reference guard share it)


class _TwinsFound(Exception):
    """Two rows name one stall: the import starts again with every row of each group known."""


#: The columns a row may have to take the validator's fast path (any other: the general path).
_FAST_COLUMNS = frozenset({"market_code", "stall_code", "shop_name", "category", "owner_name", "owner_phone",
                           "bank", "account", "account_holder", "account_kind", "reference", "status"})
_FAILED = object()  # a cached cleaner refused the value
_CACHE_LIMIT = 20_000
_PHONE = re.compile(r"0[0-9]{9,10}")  # a phone clean_phone returns as it is
_NUMBER = re.compile(r"[0-9A-Za-z]{1,19}")  # an account number clean_account_number returns as it is
_HOLDER = re.compile(r"[A-Z][A-Z .'-]*")  # a holder name clean_holder_name returns as it is (with the checks beside)


def _clean_text(value: str | None, limit: int) -> Any:
    """clean_name's result for a value already in its canonical form (printable, single spaces,
    trimmed, within ``limit``): the value itself, or None when empty; _FAILED for any other."""
    if not value:
        return None
    if value.isprintable() and len(value) <= limit and "  " not in value and value[0] != " " and value[-1] != " ":
        return value
    return _FAILED


def _clean_category(value: str | None) -> Any:
    return accounts.clean_name(value, field="category", limit=120)


def _account_kind(given: tuple[Any, str | None]) -> str:
    return accounts.clean_account_kind(given[0], bank_kind=given[1])


class _StallValidator:
    """Checks one row at a time, remembering markets, banks and the codes already seen."""

    def __init__(self, registry: Registry, market: str | None, allow_unknown_bin: bool,
                 twins: Twins | None = None) -> None:
        self.registry = registry
        self.default_market = market
        self.allow_unknown_bin = allow_unknown_bin
        self.markets: dict[str, Market | ValidationError] = {}
        self._scoped: dict[str, Market] | None = None
        self._occupied: set[int] | None = None  # the markets with a stall when the import began
        # market id → stall key → the row it was first seen on (one dict per market: no tuple per row)
        # What each market's rows named so far, to find twins. Twins known (``twins`` from the whole
        # file): nothing is kept. The first pass over a file that can be read again (stop_on_twins):
        # a set of the keys' hashes (a hit, even a hash collision, starts the exact second pass).
        # Otherwise (a stream): stall key → the row it was first seen on, for the message.
        self.seen: dict[int, Any] = {}
        self.twins = twins or {}
        self.twins_known = twins is not None
        self.fresh: dict[int, bool] = {}  # market id → it had no stall when first seen (before any write)
        self.guard = ReferenceGuard(registry.session)
        self.now = utcnow()
        self.stop_on_twins = False
        # the fast path's caches of pure cleaners (values that repeat from row to row)
        self._fast_markets: dict[str, Any] = {}
        self._codes: dict[Any, Any] = {}
        self._statuses: dict[Any, Any] = {}
        self._categories: dict[Any, Any] = {}
        self._banks: dict[Any, Any] = {}
        self._kinds: dict[Any, Any] = {}
        self._market_codes: dict[str, str] = {}
        self._keys: dict[str, str] = {}
        self._guarded: dict[int, bool] = {}  # market id → the reference guard checks its new stalls

    def market(self, code: str) -> Market:
        key = code.strip().upper()
        if key not in self.markets:
            if self._scoped is None:  # the actor's markets, read at once (not one query per market named)
                self._scoped = {} if self.registry.actor.role == "owner" else {
                    market.code: market for market in self.registry.session.exec(self.registry.scoped_markets())}
            if key in self._scoped:
                self.markets[key] = self._scoped[key]
                return self._scoped[key]
            try:  # the registry's own look-up words what is wrong (unknown, outside the actor's markets)
                self.markets[key] = self.registry.market(key)
            except (NotFound, Forbidden, ValidationError) as error:
                self.markets[key] = messages.problem("market_unknown", "market_code", code, detail=str(error),
                                                     limit="a market in the registry, within your scope")
        found = self.markets[key]
        if isinstance(found, ValidationError):
            raise found
        return found

    def _seen(self, number: int, values: dict[str, str], market: Market, code: str,
              errors: list[ValidationError]) -> tuple[str, bool]:
        """Twins (two rows naming one stall) and references that read like another market's: the
        row's problems go to ``errors``; returns the stall key and whether the guard passed it."""
        guarded = False
        code_key = self._key(code)
        market_id = market.id
        if market_id not in self.fresh:  # the market had no stall when the import began
            if self._occupied is None:  # read for every market at once, at the first row, before any write
                self._occupied = {market for market, in self.registry.session.connection().exec_driver_sql(
                    "SELECT id FROM market WHERE EXISTS (SELECT 1 FROM stall WHERE stall.market_id = market.id)")}
            self.fresh[market_id] = market_id not in self._occupied
        if self.twins_known:
            twins = self.twins.get(((values.get("market_code") or self.default_market or "").strip().upper(),
                                    code_key)) if self.twins else None
            others = [n for n in (twins or ()) if n != number]
            if others:
                errors.append(messages.problem("stall_twins", "stall_code", code,
                                               rows=", ".join(map(str, others)), limit="one row per stall"))
                return code_key, False
        elif self.stop_on_twins:
            hashes = self.seen.get(market_id)
            if hashes is None:
                hashes = self.seen[market_id] = _KeyHashes()
            mark = hash(code_key)
            if mark in hashes:
                raise _TwinsFound()
            hashes.add(mark)
        else:
            seen = self.seen.setdefault(market_id, {})
            if code_key in seen:
                errors.append(messages.problem("stall_twins", "stall_code", code,
                                               rows=str(seen[code_key]), limit="one row per stall"))
                return code_key, False
            seen[code_key] = number
        needed = self._guarded.get(market_id)
        if needed is None:
            needed = self._guarded[market_id] = self.guard.needed(market_id)
        if needed:  # a market whose references no other market's can read like
            try:
                if not self.guard.clear(market_id, code_key):
                    self.guard.check(code, market)
                guarded = True  # remembered by the caller once the whole row is good
            except ValidationError as error:
                if self.registry.find_stall(market_id, code) is None:  # type: ignore[arg-type]
                    errors.append(error)  # an existing stall (from before this rule) may still be updated
        return code_key, guarded

    def check(self, number: int, values: dict[str, str], cell_errors: Iterable[ValidationError] = ()) -> _Good:
        """The row as a stall (and account) to write, or a ValidationError listing all its problems.

        The common clean row (the usual columns, each already in its canonical form) takes
        :meth:`_fast`, which decides as the general path does (a differential test checks it);
        any other row, and every doubt, takes the general path, which also words the errors."""
        fast = None if cell_errors else self._fast(values)
        if fast is None:
            return self._check(number, values, cell_errors)
        market, stall, account = fast
        errors: list[ValidationError] = []
        code_key, guarded = self._seen(number, values, market, stall["code"], errors)
        if errors:
            for error in errors:
                error.field = _COLUMN_OF.get(error.field or "", error.field)
            raise ValidationError.combine(errors)
        if guarded:
            self.guard.add(stall["code"], market, key=code_key)
        return _Good(number, market, stall, account, None, None, None, values, market_id=market.id, key=code_key)

    def _cached(self, cache: dict, function: Callable[[Any], Any], value: Any) -> Any:
        """``function(value)`` remembered (a pure cleaner of a value that repeats: a bank, a code, a
        status); _FAILED when it refused. Bounded: cleared when it grows past _CACHE_LIMIT."""
        try:
            return cache[value]
        except KeyError:
            pass
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        try:
            result = function(value)
        except (ValidationError, NotFound, Forbidden):
            result = _FAILED
        cache[value] = result
        return result

    def _key(self, code: str) -> str:
        key = self._keys.get(code)
        if key is None:
            if len(self._keys) >= _CACHE_LIMIT:
                self._keys.clear()
            key = self._keys[code] = accounts.stall_key(code)
        return key

    def _fast(self, values: dict[str, str]) -> tuple[Market, dict[str, Any], dict[str, Any] | None] | None:
        """The market, stall and account of a clean row, as :meth:`_check` would make them; None
        (the general path decides) for any other row."""
        if not values.keys() <= _FAST_COLUMNS:
            return None
        get = values.get
        given_market = get("market_code")
        raw_market = given_market or self.default_market
        if not raw_market:
            return None
        market = self._fast_markets.get(raw_market)
        if market is None:
            market = self._cached(self._fast_markets, self.market, raw_market)
            if market is not _FAILED:
                self._market_codes[raw_market] = market.code
        if market is _FAILED or (self.default_market and given_market and
                                 given_market.strip().upper() != self.default_market.strip().upper()):
            return None
        raw = get("stall_code")
        code = self._codes.get(raw) or self._cached(self._codes, accounts.clean_stall_code, raw)
        raw = get("status")
        status = self._statuses.get(raw) or self._cached(self._statuses, accounts.clean_stall_status, raw)
        owner_name = _clean_text(get("owner_name"), 200)
        shop_name = _clean_text(get("shop_name"), 200)
        raw = get("category")
        category = self._categories.get(raw) or self._cached(self._categories, _clean_category, raw)
        phone = get("owner_phone")
        if not phone:
            phone = None
        elif not _PHONE.fullmatch(phone):
            return None
        if (code is _FAILED or status is _FAILED or owner_name is None or owner_name is _FAILED or shop_name is _FAILED
                or category is _FAILED):
            return None
        stall = {"code": code, "shop_name": shop_name, "goods_category": category, "owner_name": owner_name,
                 "owner_phone": phone, "status": status}
        bank, number, holder = get("bank") or "", get("account") or "", get("account_holder") or ""
        if not (bank or number or holder):
            return market, stall, None
        if not (bank and number and holder) or not _NUMBER.fullmatch(number) or not _HOLDER.fullmatch(holder) \
                or not 2 <= len(holder) <= 50 or "  " in holder or holder[-1] == " ":
            return None
        found = self._banks.get(bank) or self._cached(self._banks, self._bank, bank)
        if found is _FAILED:
            return None
        bin_, bank_kind, branch = found
        raw = (get("account_kind"), bank_kind)
        kind = self._kinds.get(raw) or self._cached(self._kinds, _account_kind, raw)
        if kind is _FAILED:
            return None
        reference = (get("reference") or "").strip() or None
        if bin_ == MOMO_BIN and not reference:
            return None  # MoMo needs its reference: the general path words it
        try:  # one per stall: not worth a cache
            purpose = accounts.stall_reference(self._market_codes[raw_market], code)
        except ValidationError:
            return None
        try:
            if kind == "card":
                payload = vietqr.build(bin=bin_, purpose=purpose, reference_label=reference, card=number).payload
            else:
                payload = vietqr.build(bin=bin_, purpose=purpose, reference_label=reference, account=number).payload
        except ValidationError:
            return None
        return market, stall, {"kind": kind, "bin": bin_, "number": number, "holder_name": holder,
                               "reference_label": reference, "purpose": purpose, "payload": payload,
                               "holder_type": "personal", "business_reg_no": None, "tax_code": None,
                               "merchant_payload": None, "bank_branch": branch[:120] if branch else None}

    def _bank(self, bank: str) -> Any:
        """A bank cell as prepare_account reads it: (BIN, the participant's kind, the branch named), or _FAILED."""
        if bank.strip().isdigit() and len(bank.strip()) == 6:
            participant = banks.require_bin(bank.strip(), allow_unknown=self.allow_unknown_bin)
            if participant is None:
                return _FAILED  # an unknown BIN: the general path words the refusal
            return bank.strip(), participant.kind, None
        found = banks.resolve(bank)
        return found.bank.bin, found.bank.kind, found.branch

    def _check(self, number: int, values: dict[str, str], cell_errors: Iterable[ValidationError] = ()) -> _Good:
        errors: list[ValidationError] = list(cell_errors)
        market = None
        code = values.get("market_code") or self.default_market
        if not code:
            errors.append(messages.problem("market_missing", "market_code", "", limit="a market code"))
        else:
            try:
                market = self.market(code)
                if self.default_market and values.get("market_code") and \
                        values["market_code"].strip().upper() != self.default_market.strip().upper():
                    errors.append(messages.problem("market_other", "market_code", values["market_code"],
                                                   market=self.default_market, limit=self.default_market))
            except ValidationError as error:
                errors.append(error)
        stall: dict[str, Any] = {}
        try:
            stall = self.registry.clean_stall({
                "code": values.get("stall_code"), "shop_name": values.get("shop_name"),
                "goods_category": values.get("category"), "owner_name": values.get("owner_name"),
                "owner_phone": values.get("owner_phone"), "status": values.get("status"),
                **({"owner_tax_code": values["owner_tax_code"]} if "owner_tax_code" in values else {})})
        except ValidationError as error:
            errors.extend(error.errors)
            try:  # the other fields failed; the code alone still lets the account be checked
                stall = {"code": accounts.clean_stall_code(values.get("stall_code"))}
            except ValidationError:
                pass
        code_key, guarded = None, False
        if market is not None and stall.get("code"):
            code_key, guarded = self._seen(number, values, market, stall["code"], errors)
        account = None
        given = {k: values.get(k, "") for k in ("bank", "account", "account_holder")}
        if values.get("payload"):  # the owner's own QR: bank, number and reference come from it
            if not given["account_holder"]:
                errors.append(InvalidFormat("account_holder: needed with the QR payload (the name as the bank "
                                            "shows it)", field="account_holder", value="", limit="holder name"))
            elif market is not None and stall.get("code"):
                try:
                    account = self.registry.prepare_account(
                        market.code, stall["code"], bank=given["bank"] or None, number=given["account"] or None,
                        holder_name=given["account_holder"], kind=values.get("account_kind"),
                        reference_label=values.get("reference"), qr=values["payload"],
                        allow_unknown_bin=self.allow_unknown_bin)
                except ValidationError as error:
                    errors.extend(error.errors)
        elif any(given.values()):
            missing = [k for k, v in given.items() if not v]
            if missing:
                for name in missing:
                    errors.append(messages.problem("account_columns", name, "",
                                                   limit="bank + account + holder together"))
            elif market is not None and stall.get("code"):
                try:
                    account = self.registry.prepare_account(
                        market.code, stall["code"], bank=given["bank"], number=given["account"],
                        holder_name=given["account_holder"], kind=values.get("account_kind"),
                        reference_label=values.get("reference"), allow_unknown_bin=self.allow_unknown_bin)
                except ValidationError as error:
                    errors.extend(error.errors)
        registered, verified, closed = self._dates(values, stall, account, given, errors)
        if errors:
            for error in errors:
                error.field = _COLUMN_OF.get(error.field or "", error.field)
            raise ValidationError.combine(errors)
        assert market is not None
        if guarded:  # a refused row creates no stall: it must not make a later row's reference collide
            self.guard.add(stall["code"], market, key=code_key)
        if closed is not None:
            stall["status"] = "closed"
        return _Good(number, market, stall, account, registered, verified, closed, values, key=code_key)

    def _dates(self, values: dict[str, str], stall: dict[str, Any], account: dict[str, Any] | None,
               given: dict[str, str], errors: list[ValidationError]) -> tuple[Any, Any, Any]:
        """The row's dated history: registered on, verified on, closed on (aware times or None)."""
        out: dict[str, datetime | None] = {}
        for name in ("registered_on", "verified_on", "closed_on"):
            out[name] = None
            if values.get(name):
                try:
                    not_before = out["registered_on"] if name == "verified_on" else None
                    out[name] = accounts.clean_event_time(values[name], field=name, now=self.now,
                                                          not_before=not_before, before_label="registered on")
                except ValidationError as error:
                    errors.append(error)
        for name in ("registered_on", "verified_on"):
            if values.get(name) and not any(given.values()):
                errors.append(messages.problem("date_without_account", name, values[name],
                                               limit="with the account columns"))
        if values.get("closed_on") and (values.get("status") or "").strip() and \
                stall.get("status", "closed") != "closed":
            errors.append(messages.problem("closed_but_operating", "closed_on", values["closed_on"],
                                           status=values["status"], limit="blank, or status Nghỉ"))
        verified = out["verified_on"]
        return out["registered_on"] or verified, verified, out["closed_on"]


def import_stall_rows(session: Session, actor: Actor, rows: Iterable[tuple[int, dict[str, str], list]], *,
                      source: str = "rows", market: str | None = None, dry_run: bool = False,
                      partial: bool = False, allow_unknown_bin: bool = False, consent_channel: str = "paper",
                      account_status: str = "pending", progress: Progress | None = None,
                      total: int | None = None, twins: Twins | None = None,
                      _optimistic: bool = False) -> ImportReport:
    """Import stall rows ``(row number, canonical values, cell errors)``; see the module docstring.

    ``account_status`` "verified" is for data that was already checked (the demo province).
    ``twins`` (:func:`find_twins`) lets every row of a group of twins be reported; it is
    computed here when ``rows`` is a list, otherwise only the later rows of a group are.
    The caller's session is committed here when the import is written, rolled back otherwise.
    """
    registry = Registry(session, actor)
    registry._require_write()
    _bigger_page_cache(session)
    if twins is None and isinstance(rows, (list, tuple)):
        twins = find_twins(((number, values) for number, values, _ in rows), market)
    validator = _StallValidator(registry, market, allow_unknown_bin, twins)
    validator.stop_on_twins = _optimistic and twins is None
    report = ImportReport(source=source, what="stalls", dry_run=dry_run)
    deferred = _DeferredIndexes(session)
    behind = _CopyBehind.start(session)
    done = 0
    frozen = steady_gc_start()
    try:
        for chunk in _chunked(rows, CHUNK):
            good = []
            for number, values, cell_errors in chunk:
                report.rows += 1
                try:
                    good.append(validator.check(number, values, cell_errors))
                except ValidationError as error:
                    report.problems.append(Problem(number, error, values))
            if partial or not report.problems:
                _write_stalls(registry, good, report, consent_channel, account_status, validator.fresh)
                validator.guard.settle()  # written: the registry answers for these stalls now
                deferred.written(report.created)
            done += len(chunk)
            if progress:
                progress(done, total)
        report.problems.sort(key=lambda p: p.row)
        behind.end()  # every row is in (or its error raised here) before the commit
        # the indexes set aside are built again before a commit (a rollback undoes their drop)
        settle(session, report, dry_run=dry_run, partial=partial, before_commit=deferred.restore)
        if report.written:
            db.refresh_statistics(session, ("stall", "payment_account"), changed=report.created + report.updated
                                  + report.accounts_created + report.accounts_replaced)
    except BaseException:
        behind.end(quiet=True)  # the error raised already says what went wrong; the COPY must end first
        session.rollback()
        raise
    finally:
        steady_gc_end(frozen)
    if report.problems and not partial:
        report.created = report.updated = report.accounts_created = report.accounts_replaced = 0
        report.unchanged = 0
    return report


class _CopyBehind:
    """PostgreSQL: a stall import's rows go in through COPY in a thread while the import validates
    its next chunk, on the same connection, in the same transaction.

    Written one after the other, the client's work (reading and validating, ~8 CPU-s per 100,000
    rows) and the server's (taking the rows in, ~5 s) added up: the import took 2.5× the bare COPY's
    time. A COPY spends its time waiting on the server, so the thread holds the GIL little. The COPYs
    run in the order given; nothing else uses the connection while one is queued or running: any
    statement the import makes on it waits for them first (an engine event), as do the commit and
    the rollback (:meth:`end`), and an error of a COPY is raised there, in the import, as a COPY made
    in line would have raised it (the COPYs after it are not run: the transaction is lost anyway).
    The new rows' ids are drawn from their sequences on a second connection while COPYs are queued
    (:meth:`side`; a sequence answers every session, whatever their transactions), so that no chunk waits
    for the COPYs of the one before; at most :data:`QUEUED` COPYs wait, so the rows held in memory stay
    a few chunks' worth when the server is the slower side. Not used on SQLite, whose inserts are the
    import's own CPU.
    """

    KEY = "market40.copy_behind"
    #: COPYs queued at most (three a chunk: stalls, accounts, audit): the import waits beyond.
    QUEUED = 6

    def __init__(self, session: Session) -> None:
        self.connection = session.connection()
        self.session = session
        self.jobs: queue.Queue[Callable[[], None] | None] = queue.Queue(self.QUEUED)
        self.thread: threading.Thread | None = None
        self.error: BaseException | None = None
        self.second: Any = None

    def side(self) -> Any:
        """A connection beside the import's for statements outside its transaction (drawing ids from a
        sequence) while COPYs are queued on the import's own; None when none is (then use that one)."""
        self.failed()
        if self.thread is None or self.second is False:
            return None
        if self.second is None:
            try:
                self.second = self.connection.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            except SQLAlchemyError as error:  # the server takes no more connections: the import's own will do
                logging.getLogger(__name__).warning("stall import: no second connection to draw ids on (%s): "
                                                    "they wait for the COPYs", error)
                self.second = False
                return None
        return self.second

    @classmethod
    def start(cls, session: Session) -> "_CopyBehind":
        behind = cls(session)
        if behind.connection.dialect.name == "postgresql" and cls.KEY not in session.info:
            session.info[cls.KEY] = behind
            event.listen(behind.connection, "before_cursor_execute", behind._before_statement)
        return behind

    def copy(self, run: Callable[[], None]) -> None:
        """Queue ``run`` (a COPY on the connection's driver) after the COPYs queued before it."""
        self.failed()
        if self.thread is None:
            self.thread = threading.Thread(target=self._work, name="market40-copy", daemon=True)
            self.thread.start()
        self.jobs.put(run)

    def _work(self) -> None:
        while True:
            run = self.jobs.get()
            try:
                if run is None:
                    return
                if self.error is None:
                    run()
            except BaseException as error:  # raised in the import at its next statement or at its end
                self.error = error
            finally:
                self.jobs.task_done()

    def wait(self, *, wrap: bool = True) -> None:
        """Until every queued COPY has ended; the first error among them, if any, is raised here (as
        SQLAlchemy raises a driver's error, unless ``wrap`` is False)."""
        if self.thread is not None:
            self.jobs.join()
        if self.error is not None:
            error, self.error = self.error, None
            raise (self._as_raised(error) if wrap else error)

    def failed(self) -> None:
        """The error of a COPY that failed already, raised now: the import stops at its next chunk rather
        than after reading and checking the rest of the file. The COPYs still queued are skipped; the
        error stays for :meth:`end`, which the import's rollback calls."""
        if self.error is not None:
            raise self._as_raised(self.error)

    def _as_raised(self, error: BaseException) -> BaseException:
        """A driver's error as SQLAlchemy raises it from a statement (IntegrityError, OperationalError, ...;
        values hidden): what the CLI and the web app explain in a line, where the bare driver error ended
        in a traceback that quoted the rows' values."""
        dialect = self.connection.dialect
        base = dialect.loaded_dbapi.Error
        if not isinstance(error, base):
            return error
        lost = self._lost(error)
        wrapped = DBAPIError.instance(None, None, error, base, hide_parameters=True, connection_invalidated=lost,
                                      dialect=dialect)
        wrapped.__cause__ = error
        return wrapped

    def _lost(self, error: BaseException) -> bool:
        """Whether ``error`` ended the connection (the server restarted or ended it): then it is invalidated,
        as SQLAlchemy does when a statement finds it dead, so the import's rollback does not fail on it (and
        hide this error behind its own) and the pool never hands it out again."""
        connection = self.connection
        try:
            lost = connection.dialect.is_disconnect(error, connection.connection.dbapi_connection, None)
        except Exception:  # the dialect could not tell: leave the connection as it is
            return False
        if lost and not connection.invalidated:
            connection.invalidate(error)  # type: ignore[arg-type]
        return bool(lost)

    def _before_statement(self, *args: Any) -> None:
        if self.thread is not None and threading.current_thread() is not self.thread:
            self.wait(wrap=False)  # raised inside SQLAlchemy's execution, which wraps it with the statement

    def end(self, *, quiet: bool = False) -> None:
        """The queued COPYs ended (their error raised unless ``quiet``); the connection is the import's alone."""
        if self.session.info.get(self.KEY) is self:
            del self.session.info[self.KEY]
            event.remove(self.connection, "before_cursor_execute", self._before_statement)
        try:
            self.wait()
        except BaseException:
            if not quiet:
                raise
        finally:
            if self.thread is not None:
                self.jobs.put(None)
                self.thread.join()
                self.thread = None
            if self.second:
                self.second.close()
            self.second = None


def steady_gc_start() -> bool:
    """Before a bulk validation: move the objects alive now out of the collector's sight (``gc.freeze``).

    A refused row leaves a few objects in reference cycles (a ValidationError lists itself in
    ``errors``), so the collector must keep running (``gc.disable`` doubled the memory of 300,000
    bad rows); but each full collection also walked every object of the program loaded before
    the import (SQLAlchemy, the models): ~10 % of the CPU of a file of bad rows. Frozen, those are
    skipped until :func:`steady_gc_end`. Returns False (and does nothing) when something else froze
    objects already or the collector is off, so it nests and leaves a caller's freeze alone.

    Meanwhile the youngest generation is collected after :data:`BULK_GC_THRESHOLD` new objects, not 700:
    a row's objects die with the row, so most collections found nothing (a 100,000-row import made 1,390
    of them and 126 of the next generation, 0.2 CPU-s, 4 % of its CPU; at this threshold 2, 0.01 s), while
    the cycles of refused rows are still collected every few thousand rows.
    """
    global _THRESHOLD_BEFORE
    with _GC_SETTINGS:  # another thread's import may be ending: its thresholds are put back first
        if gc.get_freeze_count() or not gc.isenabled() or gc.get_threshold()[0] == 0:  # 0: collection is off
            return False
        gc.freeze()
        _THRESHOLD_BEFORE = gc.get_threshold()
        gc.set_threshold(max(BULK_GC_THRESHOLD, _THRESHOLD_BEFORE[0]), *_THRESHOLD_BEFORE[1:])
        return True


def steady_gc_end(frozen: bool) -> None:
    """Undo :func:`steady_gc_start` (the frozen objects are collectable again, the thresholds as before)."""
    if frozen:
        with _GC_SETTINGS:
            gc.unfreeze()
            if _THRESHOLD_BEFORE is not None:
                gc.set_threshold(*_THRESHOLD_BEFORE)


#: New container objects (less those freed) between two collections of the youngest generation during a
#: bulk validation (:func:`steady_gc_start`; Python's default is 700).
BULK_GC_THRESHOLD = 20_000
_THRESHOLD_BEFORE: tuple[int, ...] | None = None
#: Held while the collector's freeze and thresholds are changed together: an import starting in one thread
#: while another's ends must not take the raised threshold for the one to restore.
_GC_SETTINGS = threading.Lock()


def _day(moment: datetime) -> str:
    return f"{accounts.event_day(moment):%d/%m/%Y}"


def _history_problem(item: _Good, stall: Stall | None, account: PaymentAccount | None) -> ValidationError | None:
    """A row's dates against what the registry already holds for its stall (None when they fit)."""
    if stall is not None and item.closed is not None and stall.opened_on is not None and \
            accounts.event_day(item.closed) < stall.opened_on:
        return InvalidFormat(f"closed_on: {_day(item.closed)} is before the stall opened "
                             f"({stall.opened_on:%d/%m/%Y})", field="closed_on", value=item.values and
                             item.values.get("closed_on"), limit=f"on or after {stall.opened_on:%d/%m/%Y}")
    if account is None or item.account is None or not (item.registered or item.verified):
        return None
    same = not any(getattr(account, k) != item.account[k] for k in _ACCOUNT_FIELDS)
    if same:
        if item.registered and item.verified is None and account.verified_at is not None and \
                account.status == "verified" and item.registered > account.verified_at:
            return InvalidFormat(f"registered_on: {_day(item.registered)} is after the account was verified "
                                 f"({_day(account.verified_at)})", field="registered_on",
                                 value=item.values and item.values.get("registered_on"),
                                 limit=f"on or before {_day(account.verified_at)}")
        return None
    start = item.registered or item.verified
    assert start is not None
    latest = max(filter(None, (account.created_at, account.verified_at)))
    if start < latest:
        name = "registered_on" if item.registered else "verified_on"
        return InvalidFormat(f"{name}: {_day(start)} is before the stall's current account was "
                             f"{'verified' if latest == account.verified_at else 'registered'} ({_day(latest)}); "
                             "the new account replaces it from this day", field=name,
                             value=item.values and item.values.get(name), limit=f"on or after {_day(latest)}")
    return None


def _write_stalls(registry: Registry, good: list[_Good], report: ImportReport, consent_channel: str,
                  account_status: str, fresh: dict[int, bool] | None = None) -> None:
    if not good:
        return
    session = registry.session
    actor = registry.actor.name
    now = utcnow()
    today = accounts.event_day(now)
    existing: dict[tuple[int, str], Stall] = {}
    by_market: dict[int, list[str]] = {}
    for item in good:
        by_market.setdefault(item.market_id, []).append(item.key)  # type: ignore[arg-type]
    for market_id, keys in by_market.items():
        if fresh is not None and fresh.get(market_id):
            continue  # no stall before this import: a stall of it named twice is a twin, found by the validator
        for chunk in _chunks(keys, 900):
            # A plain query first (a new list's stalls are not there yet); objects only for those that are.
            # (Per market: a row-value IN over several markets is a full scan in SQLite.)
            found = [key for _, key in _rows_in(session, "SELECT id, code_key FROM stall WHERE market_id = {} "
                                                "AND code_key IN ({})", [market_id], chunk)]
            if not found:
                continue
            for stall in session.exec(select(Stall).where(Stall.market_id == market_id,
                                                          Stall.code_key.in_(found))).all():  # type: ignore
                existing[(market_id, stall.code_key)] = stall  # type: ignore[index]
    current = registry._current_accounts([s.id for s in existing.values()])  # type: ignore[misc]

    fitting = [] if existing else good  # (no stall of the chunk in the registry: no history to contradict)
    for item in good if existing else ():  # dates that contradict the registry's history: reported, not written
        stall = existing.get((item.market_id, item.key))  # type: ignore[arg-type]
        problem = _history_problem(item, stall, current.get(stall.id) if stall else None)  # type: ignore
        if problem is None:
            fitting.append(item)
        else:
            problem.field = _COLUMN_OF.get(problem.field or "", problem.field)
            report.problems.append(Problem(item.number, ValidationError.combine([problem]), item.values or {}))
    good = fitting

    new_stalls, audits, new_accounts = [], [], []  # audits: tuples in auditlog.COLUMNS order
    created: dict[str, list[int]] = {"stall": [], "payment_account": []}  # ids the batch event lists
    creation = auditlog.creation_row
    revokes: list[dict[str, Any]] = []
    pending_accounts: list[tuple[_Good, int]] = []  # a new stall's good row and its place in new_stalls
    household_key = households.household_key
    for item in good:
        stall = existing.get((item.market_id, item.key)) if existing else None  # type: ignore[arg-type]
        closed_day = accounts.event_day(item.closed) if item.closed else None
        if stall is None:  # a new stall: a row in _NEW_STALL's order
            fields = item.stall
            tax_code, phone, name = fields.get("owner_tax_code"), fields.get("owner_phone"), fields.get("owner_name")
            new_stalls.append((item.market_id, fields["code"], item.key, fields.get("shop_name"),
                               fields.get("goods_category"), name, phone, tax_code,
                               fields["status"] if "status" in fields else "operating",
                               (closed_day or today) if fields.get("status") == "closed" else None,
                               household_key(tax_code=tax_code, phone=phone, name=name), now, now))
            report.created += 1
            if item.account:
                pending_accounts.append((item, len(new_stalls) - 1))
            continue
        # A variant of the code ("a12" for "A-12") names the same stall: its code stays as registered.
        changed = {k: v for k, v in item.stall.items() if k != "code" and getattr(stall, k) != v}
        if closed_day is not None and stall.status == "closed" and stall.closed_on != closed_day:
            changed["closed_on"] = closed_day
        if changed:
            before = mask_record(stall.model_dump())
            for key, value in changed.items():
                setattr(stall, key, value)
            if changed.get("status") == "closed":
                stall.closed_on = closed_day or today
            elif changed.get("status") == "operating":
                stall.closed_on = None
            stall.updated_at = now
            session.add(stall)
            audits.append(_audit(actor, "stall.update", "stall", stall.id, before, mask_record(stall.model_dump()),
                                 now, effective_at=item.closed if "closed_on" in changed or
                                 changed.get("status") == "closed" else None))
            report.updated += 1
        account = current.get(stall.id)  # type: ignore[arg-type]
        if item.account and account is not None and not any(getattr(account, k) != item.account[k]
                                                            for k in _ACCOUNT_FIELDS):
            if _backdate(account, item, actor, now, audits, registry.actor.user_id):
                if not changed:
                    report.updated += 1
            elif not changed:
                report.unchanged += 1
        elif item.account:
            start = item.registered or item.verified
            if account is not None:
                revokes.append({"key": account.id, "at": start or now})
                audits.append(_audit(actor, "account.revoke", "payment_account", account.id,
                                     {"status": account.status, "revoked_at": account.revoked_at,
                                      "status_reason": account.status_reason},
                                     {"status": "revoked", "revoked_at": start or now,
                                      "status_reason": "replaced by a new account"}, now,
                                     note="replaced by a new account (import)", effective_at=start))
                report.accounts_replaced += 1
            else:
                report.accounts_created += 1
            new_accounts.append(_account_row(stall.id, item, actor, now, consent_channel,  # type: ignore[arg-type]
                                             account_status))
            if not changed:
                report.updated += 1
        elif not changed:
            report.unchanged += 1
    session.flush()
    # PostgreSQL: the accounts' ids are drawn before the stalls' COPY is under way (_CopyBehind): drawn
    # after, they would wait for it
    account_ids_ahead = (_draw_ids(session, PaymentAccount.__table__,  # type: ignore[attr-defined]
                                   len(new_accounts) + len(pending_accounts))
                         if new_stalls and session.connection().dialect.name == "postgresql" else None)
    # Core executemany without RETURNING: SQLAlchemy's ORM bulk insert with RETURNING splices
    # every batch into the previous ones (quadratic); reading the new keys back is linear.
    if new_stalls:
        ids = created["stall"] = _insert_numbered(session, Stall.__table__, new_stalls,  # type: ignore[attr-defined]
                                                  _NEW_STALL)
        for item, index in pending_accounts:
            new_accounts.append(_account_row(ids[index], item, actor, now, consent_channel, account_status))
            report.accounts_created += 1
    if revokes:
        table = PaymentAccount.__table__  # type: ignore[attr-defined]
        session.execute(update(table).where(table.c.id == bindparam("key")).values(
            status="revoked", revoked_at=bindparam("at"), status_reason="replaced by a new account"), revokes)
    if new_accounts:
        account_ids = _insert_numbered(session, PaymentAccount.__table__, new_accounts,  # type: ignore[attr-defined]
                                       _NEW_ACCOUNT, ids=account_ids_ahead)
        batched = created["payment_account"]
        for row, account_id in zip(new_accounts, account_ids):
            dated = row[_AT_CREATED]
            if dated == now:  # created now: the batch event records it (the row is its "after")
                batched.append(account_id)
            else:  # the board's dates: an event of its own keeps when it happened
                record = {k: v for k, v in zip(_NEW_ACCOUNT, row) if k not in _ACCOUNT_IMPLIED}
                record["created_at"], record["consent_at"] = dated, row[_AT_CONSENT]
                audits.append(creation(actor, "account.register", "payment_account", account_id, record, now, dated))
            verified_at = row[_AT_VERIFIED]
            if row[_AT_STATUS] == "verified" and verified_at != now:
                audits.append(_audit(actor, "account.verify", "payment_account", account_id,
                                     {"status": "pending"}, {"status": "verified", "verified_at": verified_at},
                                     now, note="verified on the date of the board's list", effective_at=verified_at))
    if created["stall"] or created["payment_account"]:
        audits.append(auditlog.batch_row(actor, created, now, note=f"import of {report.source}"))
    if audits:
        bulk_insert(session, AuditEvent.__table__, audits, auditlog.COLUMNS)  # type: ignore[attr-defined]
    session.flush()


def _backdate(account: PaymentAccount, item: _Good, actor: str, now: datetime, audits: list[tuple],
              user_id: int | None) -> bool:
    """Apply a row's dates to the stall's current account when it is the same account; True if changed."""
    if not (item.registered or item.verified):
        return False
    registered = item.registered
    if registered is None and item.verified is not None and account.created_at > item.verified:
        registered = item.verified  # it was registered at the latest when it was verified
    before = mask_record(account.model_dump())
    changed = False
    if registered is not None and account.created_at != registered:
        account.created_at = account.consent_at = registered
        audits.append(_audit(actor, "account.update", "payment_account", account.id, before,
                             mask_record(account.model_dump()), now, note="registration date from the board's list",
                             effective_at=registered))
        changed = True
    if item.verified is not None and (account.status != "verified" or account.verified_at != item.verified):
        before = mask_record(account.model_dump())
        if account.status != "verified":
            account.verified_by_id = user_id
        account.status, account.verified_at = "verified", item.verified
        audits.append(_audit(actor, "account.verify", "payment_account", account.id, before,
                             mask_record(account.model_dump()), now, note="verified on the date of the board's list",
                             effective_at=item.verified))
        changed = True
    return changed


#: SQLite's page cache for this connection during an import (KiB, as PRAGMA cache_size takes it negative).
#: The default 2 MB was outgrown by the indexes of a few hundred thousand stalls, each insert then reading
#: index pages back from the file; since the two indexes whose keys come in random order are built at
#: the end (:class:`_DeferredIndexes`), the others take their keys in order and 8 MB is enough: measured
#: 2026-12-03 on 1M rows (load 8–10), 109.5 CPU-s and peak 137 MB with 8 MB against 108 CPU-s and 186 MB
#: with 32 MB (the index build's sorter takes as much memory again as the page cache).
IMPORT_PAGE_CACHE_KIB = 8 * 1024


def _bigger_page_cache(session: Session) -> None:
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql(f"PRAGMA cache_size = -{IMPORT_PAGE_CACHE_KIB}")


class _DeferredIndexes:
    """SQLite: the registry's indexes whose keys come in no order (an account's payload, a stall's
    household key), left out while a large import inserts and built again, from sorted keys, before it commits.

    Each new stall or account otherwise inserts its key at a random place of the index: a page split
    now and then, and at a million stalls a page read back from the file for most rows, while an index
    built at once sorts its keys and fills its pages in order. The drop is part of the import's
    transaction (SQLite's DDL is transactional): a rolled-back import leaves the indexes as they were,
    and other connections (WAL) read the registry with its indexes throughout. Only these three, which
    no constraint and nothing in an import reads; unique indexes stay, so every insert is still checked
    at once. Deferred once the import has created :data:`DEFER_INDEXES_AFTER` stalls and at least as many
    as the registry held before, so that rebuilding the whole index costs at most about twice what the
    import adds to it. PostgreSQL keeps its indexes (dropping one locks the table against readers).
    """

    NAMES = ("ix_payment_account_payload", "ix_payment_account_bin_number", "ix_stall_household_key")

    def __init__(self, session: Session) -> None:
        self.connection = session.connection()
        self.active = self.connection.dialect.name == "sqlite"
        self.before = (self.connection.exec_driver_sql("SELECT coalesce(max(id), 0) FROM stall").scalar() or 0
                       if self.active else 0)
        self.dropped: list[str] = []  # the CREATE INDEX statements to run again

    def written(self, created: int) -> None:
        """After a chunk is written (``created`` stalls so far): drop the indexes once the import is large."""
        if not self.active or created < max(DEFER_INDEXES_AFTER, self.before):
            return
        self.active = False  # decided once
        marks = ", ".join("?" * len(self.NAMES))
        for name, sql in self.connection.exec_driver_sql(
                f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND name IN ({marks})",
                self.NAMES).fetchall():
            if sql:  # (an index SQLite made for a constraint has none: never dropped)
                self.connection.exec_driver_sql(f'DROP INDEX "{name}"')
                self.dropped.append(sql)

    def restore(self) -> None:
        """Build the dropped indexes again (before the commit), exactly as the registry defined them."""
        dropped, self.dropped = self.dropped, []
        for sql in dropped:
            self.connection.exec_driver_sql(sql)


#: New stalls an import writes with every index before :class:`_DeferredIndexes` may set two aside.
DEFER_INDEXES_AFTER = 20_000


def bulk_insert(session: Session, table: Any, rows: list[Any], columns: Iterable[str] | None = None) -> None:
    """INSERT many rows through the driver's executemany, converting values as SQLAlchemy would.

    ``rows`` are dicts (the first one's keys name the columns) or, with ``columns``, tuples in
    that order (no dict per row). Each column's own bind processor (e.g.
    :class:`~market40.models.UTCDateTime`) converts its values, once per distinct value (an
    import stamps every row with the same time), instead of SQLAlchemy's per-row parameter
    machinery, the largest cost of a bulk import.
    """
    if not rows:
        return
    names = list(columns) if columns is not None else list(rows[0])
    compiled = table.insert().compile(dialect=session.connection().dialect, column_keys=names)
    _executemany(session, compiled, names, rows, tuples=columns is not None,
                 copy_into=table if session.connection().dialect.name == "postgresql" else None)


def _draw_ids(session: Session, table: Any, count: int) -> list[int]:
    """PostgreSQL: ``count`` new ids from ``table``'s sequence (one query, one row: an array, which the
    driver reads in one step; as rows, SQLAlchemy fetched them one by one, ~10 µs each). While an import's
    COPYs run behind it (:class:`_CopyBehind`), drawn on a second connection: ids a rolled-back import
    drew are lost either way, as with any sequence."""
    if count <= 0:
        return []
    sequences = session.info.setdefault("market40.sequences", {})  # this session's schema: never another's
    sequence = sequences.get(table.name)
    if sequence is None:  # looked up once, schema and all: per row, it cost the server 3 µs an id
        sequence = sequences[table.name] = session.connection().exec_driver_sql(
            f"SELECT pg_get_serial_sequence('{table.name}', 'id')").scalar()
    behind = session.info.get(_CopyBehind.KEY)
    connection = (behind and behind.side()) or session.connection()  # beside the COPYs, not after them
    literal = "'" + sequence.replace("'", "''") + "'"
    return list(connection.exec_driver_sql(
        f"SELECT array_agg(nextval({literal}::regclass)) FROM generate_series(1, {int(count)})").scalar())


def _insert_numbered(session: Session, table: Any, rows: list[Any],
                     columns: tuple[str, ...] | None = None, *, ids: list[int] | None = None) -> list[int]:
    """Insert new rows with :func:`bulk_insert` and return their ids in order: dicts (each one's ``id`` is
    set), or with ``columns`` tuples in that order.

    No id is read back row by row. PostgreSQL: the ids are drawn from the table's sequence first (one
    query; or given, drawn earlier with :func:`_draw_ids`, as many as the rows) and inserted with the
    rows. SQLite (no AUTOINCREMENT: a new row's id is the largest + 1, and this transaction holds the
    write lock from its first insert on): the rows got the ids after the largest before them, in
    order, which the largest id after the insert gives.
    """
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        if ids is None:
            ids = _draw_ids(session, table, len(rows))
        elif len(ids) != len(rows):
            raise AssertionError(f"{table.name}: {len(ids)} ids drawn for {len(rows)} rows")
        if columns is not None:
            bulk_insert(session, table, [(number, *row) for number, row in zip(ids, rows)], ("id", *columns))
            return ids
        for row, number in zip(rows, ids):
            row["id"] = number
        bulk_insert(session, table, rows)
        return ids
    bulk_insert(session, table, rows, columns)
    last = connection.exec_driver_sql(f"SELECT max(id) FROM {table.name}").scalar()
    ids = list(range(last - len(rows) + 1, last + 1))
    if columns is None:
        for row, number in zip(rows, ids):
            row["id"] = number
    return ids


def bulk_update(session: Session, table: Any, key: str, columns: Iterable[str], rows: list[tuple]) -> None:
    """UPDATE many rows by their ``key`` column through the same writer as :func:`bulk_insert`.

    Each row is a tuple: the key's value, then the new values of ``columns`` in order.
    """
    if not rows:
        return
    columns = list(columns)
    names = ["b_key"] + [f"b_{column}" for column in columns]
    statement = update(table).where(table.c[key] == bindparam("b_key")).values(
        {column: bindparam(name) for column, name in zip(columns, names[1:])})
    _executemany(session, statement.compile(dialect=session.connection().dialect), names, rows, tuples=True)


def _executemany(session: Session, compiled: Any, names: list[str], rows: list[Any], *, tuples: bool,
                 copy_into: Any = None) -> None:
    """Run ``compiled`` once per row (executemany), each value converted by its bind's processor.

    ``copy_into`` (PostgreSQL, psycopg 3): the rows go into that table through ``COPY … FROM STDIN``
    instead, in the same transaction, the fastest way PostgreSQL takes rows in."""
    connection = session.connection()
    dialect = connection.dialect
    order = ([compiled.binds[name].key for name in compiled.positiontup]  # type: ignore[union-attr]
             if compiled.positional and copy_into is None else names)
    processors = [(index, name, compiled.binds[name].type._cached_bind_processor(dialect))
                  for index, name in enumerate(order)]
    processors = [item for item in processors if item[2] is not None]
    picked = [names.index(name) for name in order] if tuples else order
    if tuples and picked == list(range(len(names))) and all(len(row) == len(names) for row in rows):
        params: Any = rows  # already in the statement's order
    else:
        take = operator.itemgetter(*picked)
        params = list(map(take, rows)) if len(order) > 1 else [(value,) for value in map(take, rows)]
    if processors:  # column by column: each distinct value converted once (an import stamps every row alike)
        columns: list[Any] = list(zip(*params))
        for index, _, processor in processors:
            converted = {value: None if value is None else processor(value) for value in set(columns[index])}
            columns[index] = map(converted.__getitem__, columns[index])
        params = list(zip(*columns))
    if not (compiled.positional or copy_into is not None):
        params = [dict(zip(order, values)) for values in params]
    if copy_into is not None:
        quote = dialect.identifier_preparer.quote
        driver = connection.connection.dbapi_connection
        statement = f"COPY {quote(copy_into.name)} ({', '.join(quote(n) for n in order)}) FROM STDIN"
        binary = _binary_copy_types(session, quote(copy_into.name), order, params)
        if binary is not None:
            statement += " (FORMAT BINARY)"

        def run() -> None:
            with driver.cursor() as cursor:  # type: ignore[union-attr]
                with cursor.copy(statement) as copy:
                    if binary is not None:
                        copy.set_types(binary)
                    for values in params:
                        copy.write_row(values)

        behind = session.info.get(_CopyBehind.KEY)
        if behind is not None:
            behind.copy(run)  # while the import goes on (its next statement waits for this COPY)
        else:
            run()
        return
    connection.exec_driver_sql(str(compiled), params)


#: The PostgreSQL column types a COPY sends in binary, each with the one Python type its values must have
#: (``type(value) is``: no bool for an integer, no datetime for a date). psycopg formats a row of these ~5×
#: faster in binary than as text (0.06 against 0.28 CPU-s for 85,000 accounts), CPU that a COPY running
#: behind an import (:class:`_CopyBehind`) takes from its validation.
_BINARY_COPY: dict[int, type] = {16: bool, 20: int, 21: int, 23: int, 25: str, 1043: str, 1082: date,
                                 1184: datetime}
#: The integer columns' ranges (smallint, integer, bigint): psycopg's binary dumpers cut a larger value to the
#: column's width without a word, where a text COPY refuses it as the database refuses any statement's.
_INT_BOUNDS: dict[int, int] = {21: 1 << 15, 23: 1 << 31, 20: 1 << 63}


def _binary_copy_types(session: Session, table: str, order: list[str], rows: list[tuple]) -> list[int] | None:
    """The server's type (oid) of each of ``order``'s columns of ``table`` when every value of ``rows`` has
    the Python type its binary form needs; None otherwise (the COPY goes as text, which converts any value
    as a statement would). The types are read from the server once a session (this session's schema)."""
    known = session.info.setdefault("market40.column_types", {})
    types = known.get(table)
    if types is None:
        types = known[table] = dict(session.connection().exec_driver_sql(
            "SELECT attname, atttypid::int FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
            "AND NOT attisdropped", (table,)).all())
    oids = [types.get(name) for name in order]
    wanted = [_BINARY_COPY.get(oid) for oid in oids]  # type: ignore[arg-type]
    if None in wanted:
        return None
    for oid, python_type, column in zip(oids, wanted, zip(*rows)):
        if not set(map(type, column)) <= {python_type, type(None)}:
            return None
        bound = _INT_BOUNDS.get(oid)  # type: ignore[arg-type]
        if bound is not None:
            present = [value for value in column if value is not None]
            if present and (min(present) < -bound or max(present) >= bound):
                return None  # as text: refused with the database's own error
    return oids  # type: ignore[return-value]


def _rows_in(session: Session, sql: str, first: list[Any], values: list[Any]) -> list[tuple]:
    """A plain read through the driver: ``sql``'s two ``{}`` take ``first`` and ``values`` as
    placeholders (no compiled statement per chunk of keys: its IN list cost more than the read)."""
    connection = session.connection()
    mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    statement = sql.format(", ".join([mark] * len(first)), ", ".join([mark] * len(values)))
    return connection.exec_driver_sql(statement, tuple(first) + tuple(values)).fetchall()


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


#: A new account's row (:func:`_account_row`): the account's own fields as the validator gives them
#: (``registry.prepare_account``'s keys), then the registry's.
_ACCOUNT_VALUES = ("kind", "bin", "number", "holder_name", "reference_label", "purpose", "payload", "holder_type",
                   "business_reg_no", "tax_code", "merchant_payload", "bank_branch")
_NEW_ACCOUNT = ("stall_id", *_ACCOUNT_VALUES, "status", "consent_purpose", "consent_at", "consent_channel",
                "created_at", "created_by", "status_reason", "verified_by_id", "verified_at", "rejected_at",
                "revoked_at")
_AT_STATUS, _AT_CONSENT, _AT_CREATED, _AT_VERIFIED = map(_NEW_ACCOUNT.index, ("status", "consent_at", "created_at",
                                                                             "verified_at"))
_account_values = operator.itemgetter(*_ACCOUNT_VALUES)


def _account_row(stall_id: int, item: "_Good", actor: str, now: Any, consent_channel: str,
                 status: str) -> tuple:
    """A new account's row in :data:`_NEW_ACCOUNT`'s order (a tuple: no dict of 25 keys per account);
    the board's dates, when given, say when it was registered and verified."""
    account = item.account
    assert account is not None
    registered = item.registered or item.verified or now
    verified_at = None
    if item.verified is not None:
        status, verified_at = "verified", item.verified
    elif status == "verified":
        verified_at = now
    return (stall_id, *_account_values(account), status, CONSENT_PURPOSE, registered, consent_channel, registered,
            actor, None, None, verified_at, None, None)


#: What a dated account's creation record leaves out because its event says it (auditlog.IMPLIED; the
#: payload: never in the trail). Stalls and undated accounts go in the batch event (auditlog.BATCH_ACTION).
_ACCOUNT_IMPLIED = frozenset((*auditlog.IMPLIED["account.register"], "payload"))


def _audit(actor: str, action: str, entity: str, entity_id: Any, before: dict | None, after: dict | None, now: Any,
           note: str | None = None, effective_at: datetime | None = None) -> tuple:
    # Every record given here went through mask_record already (or holds no personal data).
    fields = auditlog.row(actor, action, entity, entity_id, before=before, after=after, note=note,
                          effective_at=effective_at, at=now, masked=True)
    return tuple(fields[column] for column in auditlog.COLUMNS)


def import_stalls(session: Session, actor: Actor, source: str | Path | IO[bytes], *, market: str | None = None,
                  sheet: str | None = None, dry_run: bool = False, partial: bool = False,
                  rejects: str | Path | None = None, allow_unknown_bin: bool = False,
                  consent_channel: str = "paper", progress: Progress | None = None) -> ImportReport:
    """Import a stall list (CSV or XLSX, Vietnamese or English headers)."""
    rereadable = not hasattr(source, "read") or (getattr(source, "seekable", None) and source.seekable())  # type: ignore
    frozen = steady_gc_start()  # through the rejects file too: it builds the reasons of every bad row
    try:
        return _import_stalls(session, actor, source, rereadable, market=market, sheet=sheet, dry_run=dry_run,
                              partial=partial, rejects=rejects, allow_unknown_bin=allow_unknown_bin,
                              consent_channel=consent_channel, progress=progress)
    finally:
        steady_gc_end(frozen)


def _import_stalls(session: Session, actor: Actor, source: Any, rereadable: bool, *, market: str | None,
                   sheet: str | None, dry_run: bool, partial: bool, rejects: str | Path | None,
                   allow_unknown_bin: bool, consent_channel: str, progress: Progress | None) -> ImportReport:
    try:
        # One pass: a file without twins (two rows naming one stall) is read once. A file with
        # twins is read again, with every row of each group known first, so that all are reported.
        report = _import_stalls_once(session, actor, source, None, market=market, sheet=sheet, dry_run=dry_run,
                                     partial=partial, allow_unknown_bin=allow_unknown_bin,
                                     consent_channel=consent_channel, progress=progress, optimistic=bool(rereadable))
    except _TwinsFound:
        with tabular.read_table(source, sheet=sheet, schema="stalls") as table:
            twins = find_twins(((row.number, row.values) for row in table), market)
        report = _import_stalls_once(session, actor, source, twins, market=market, sheet=sheet, dry_run=dry_run,
                                     partial=partial, allow_unknown_bin=allow_unknown_bin,
                                     consent_channel=consent_channel, progress=progress, optimistic=False)
    write_rejects(report, rejects)
    return report


def _import_stalls_once(session: Session, actor: Actor, source: Any, twins: Twins | None, *, market: str | None,
                        sheet: str | None, dry_run: bool, partial: bool, allow_unknown_bin: bool,
                        consent_channel: str, progress: Progress | None, optimistic: bool) -> ImportReport:
    with tabular.read_table(source, sheet=sheet, schema="stalls") as table:
        rows = ((row.number, row.values, row.errors) for row in table)

        def table_progress(done: int, _total: int | None) -> None:
            if progress is None:
                return
            if table.bytes_total:  # CSV: how far through the file
                progress(table.bytes_read or 0, table.bytes_total)
            else:  # XLSX: rows of the sheet
                progress(done, table.total)

        report = import_stall_rows(session, actor, rows, source=table.name, market=market, dry_run=dry_run,
                                   partial=partial, allow_unknown_bin=allow_unknown_bin,
                                   consent_channel=consent_channel, progress=table_progress, twins=twins,
                                   _optimistic=optimistic)
        report.unknown_columns = list(table.unknown_columns)
        report.totals_rows = list(table.totals_rows)
    return report


# ------------------------------------------------------------------ markets

_MARKET_FIELDS = {"market_code": "code", "name": "name", "tier": "tier", "tier_source": "tier_source",
                  "tier_date": "tier_date", "central": "is_central", "locality": "locality", "address": "address",
                  "board_contact": "board_contact_name", "board_phone": "board_contact_phone",
                  "onboarded_on": "onboarded_on"}


def import_markets(session: Session, actor: Actor, source: str | Path | IO[bytes], *, sheet: str | None = None,
                   dry_run: bool = False, partial: bool = False, rejects: str | Path | None = None,
                   progress: Progress | None = None) -> ImportReport:
    """Import a list of markets (a few dozen rows): same rules as stalls."""
    registry = Registry(session, actor)
    registry._require_write()
    report = ImportReport(source=str(source), what="markets", dry_run=dry_run)
    seen: dict[str, int] = {}
    try:
        with tabular.read_table(source, sheet=sheet, schema="markets") as table:
            report.source = table.name
            report.unknown_columns = list(table.unknown_columns)
            for row in table:
                report.rows += 1
                fields = {target: row.values.get(column) for column, target in _MARKET_FIELDS.items()
                          if column in row.values}
                errors = list(row.errors)
                try:
                    code = accounts.clean_market_code(fields.get("code"))
                    if code in seen:
                        errors.append(InvalidFormat(f"market_code: {code!r} is already on row {seen[code]}",
                                                    field="market_code", value=code, limit="unique"))
                    seen.setdefault(code, row.number)
                    registry.clean_market(fields)
                except ValidationError as error:
                    errors.extend(error.errors)
                if errors:
                    for error in errors:
                        error.field = _COLUMN_OF.get(error.field or "", error.field)
                        if error.field == "code":
                            error.field = "market_code"
                    report.problems.append(Problem(row.number, ValidationError.combine(errors), row.values))
                    continue
                if partial or not report.problems:
                    _, outcome = registry.save_market(**fields)
                    setattr(report, outcome, getattr(report, outcome) + 1)
                if progress:
                    progress(report.rows, table.total)
        settle(session, report, dry_run=dry_run, partial=partial)
        if not report.written:
            report.created = report.updated = report.unchanged = 0
    except BaseException:
        session.rollback()
        raise
    write_rejects(report, rejects)
    return report


# ------------------------------------------------------------------ helpers

def write_rejects(report: Any, rejects: str | Path | None) -> None:
    """Write the report's bad rows to ``rejects`` (CSV or XLSX) when there are any."""
    if rejects is None or not report.problems:
        return
    rows = ((tabular.Row(number=p.row, values=dict(p.values)), p.error) for p in report.problems)
    tabular.write_rejects(rejects, rows)
    report.rejects_file = str(rejects)


def _chunked(items: Iterable, size: int) -> Iterator[list]:
    chunk: list = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def write_template(path: str | Path, *, markets: bool = False) -> None:
    """The board's import form (.xlsx with a "Hướng dẫn" sheet, or .csv): stalls, or ``markets``."""
    tabular.write_template(path, tabular.MARKET_COLUMNS if markets else tabular.STALL_COLUMNS)
