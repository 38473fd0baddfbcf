"""Reconciliation rules: who a transfer belongs to, what state a stall is in, what looks wrong,
and the adoption arithmetic. Pure: plain records in, plain records out (no database, no files).

The services query the registry and the transaction store, turn rows into the records below
and call these functions. Where a rule must also run inside the columnar store (over millions
of transfers), this module gives its SQL twin right beside it (:data:`CONTENT_TEXT_SQL`,
:attr:`ReferenceIndex.pattern`), and a test runs both on the same inputs.

**Periods** are calendar months in Vietnam time (UTC+7, no daylight saving):

>>> p = Period.parse("2025-06")
>>> str(p), p.start, p.end, str(p.shift(-6))
('2025-06', datetime.date(2025, 6, 1), datetime.date(2025, 7, 1), '2024-12')

**Stall references** (the 62.08 purpose, ``HL1 A12``) survive bank mangling as their compact key:

>>> index = ReferenceIndex([("HL1 A12", 7), ("HL1 A1", 8), ("HL10 B3", 9)])
>>> index.match("MBVCB.3278614981.hl1 a12.CT tu 0011001234567 NGUYEN VAN AN").stall
7
>>> index.match("Chợ HL1A12 trả tiền cá").stall, index.match("HL10B3").stall
(7, 9)
>>> index.match("MBVCB.3278614981.HL1 A1 CT tu 001100123").stall
8
>>> index.match("IBFT TRA TIEN HANG HL1 A1").reason   # 25 characters, ends mid-reference
'reference possibly truncated'

**States** of a stall in a period, from the lowest rung to the highest: ``no_qr`` (no pending
or verified account), ``registered`` (an account waits for verification), ``accepting`` (a
verified account is live at the end of the period), ``active`` (at least one incoming transfer
attributed to the stall in the period). *Accepting* and *active* are also kept as two flags, so
a stall that was paid into an account still waiting for verification counts as active and not
as accepting.

**Adoption** is given two ways, and labelled: the *stall-weighted rate* (all accepting stalls
over all stalls) and the *mean of market rates* (each market's rate, averaged over markets; the
province's "83% on average" is this one):

>>> small = MarketCounts("A", stalls=10, accepting=10, active=5)
>>> big = MarketCounts("B", stalls=90, accepting=45, active=9)
>>> f = summarise([small, big], target=1.0)
>>> f.accepting_rate, f.mean_accepting_rate, f.markets_at_target, f.stalls_to_target
(0.55, 0.75, 1, 45)

Standard library only.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any, Callable, Hashable, Iterable, Iterator, Mapping, Sequence

from . import formats
from .accounts import VN_TZ, stall_key as _stall_key
from .exceptions import InvalidFormat
from .text import fold, search_key

__all__ = [
    "VN_TZ", "STATES", "STATE_LABELS", "ANOMALY_KINDS", "ANOMALY_LABELS", "METHODS", "CUT_LENGTH",
    "CONTENT_TEXT_SQL", "UNATTRIBUTED_REASONS",
    "Period", "content_text", "reference_key", "stall_key", "canonical_bin", "ReferenceIndex", "ReferenceMatch",
    "Registration", "Directory", "DirectoryRow", "Transfer", "Attribution", "attribute",
    "Activity", "StallInput", "StallPeriodResult", "classify", "describe_evidence",
    "CensusHousehold", "Anomaly", "find_anomalies", "names_match",
    "MarketCounts", "Figures", "adoption", "summarise", "mean_rate",
]

#: Vietnam time (:data:`market40.accounts.VN_TZ`): bank statements, webhooks and periods are all in it.

STATES = ("no_qr", "registered", "accepting", "active")
STATE_LABELS = {
    "no_qr": "Chưa có QR",
    "registered": "Đã đăng ký, chờ xác minh",
    "accepting": "Chấp nhận thanh toán",
    "active": "Có giao dịch",
}
#: How a transfer was attributed to a stall.
METHODS = ("account", "reference")

#: Anomalies listed for follow-up (kind → Vietnamese label).
ANOMALY_LABELS = {
    "shared_account": "Một tài khoản dùng cho nhiều sạp",
    "closed_stall_live_qr": "Sạp đã nghỉ nhưng QR còn hiệu lực",
    "not_in_census_live_qr": "Sạp không có trong danh sách hộ đang kinh doanh nhưng QR còn hiệu lực",
    "name_mismatch": "Tên chủ hộ khác tên chủ tài khoản",
    "unknown_account": "Giao dịch vào tài khoản không có trong sổ đăng ký",
    "idle_account": "Tài khoản không có giao dịch trong nhiều tháng",
    "unattributed": "Giao dịch không xác định được sạp",
    "census_lists_closed_stall": "Sạp đã đóng trong sổ đăng ký nhưng vẫn có trong danh sách hộ đang kinh doanh",
}
ANOMALY_KINDS = tuple(ANOMALY_LABELS)

#: Why a transfer could not be given to one stall.
UNATTRIBUTED_REASONS = (
    "no stall reference in the content",
    "several stall references",
    "unknown stall reference",
    "reference fits several stalls",
    "reference possibly truncated",
    "reference names a stall that does not own this account",
)

#: A content at least this long that ends in the middle of what could be a longer reference
#: may have been cut: bank apps cap the transfer content (the 62.08 field itself at 25
#: characters, api.vietqr.vn at 19) and some put their own prefix in front.
CUT_LENGTH = 25


# ----------------------------------------------------------------------------- periods

@dataclass(frozen=True, order=True)
class Period:
    """A calendar month: ``Period.parse("2025-06")`` (also ``06/2025`` and ``2025/6``)."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not (1 <= self.month <= 12 and 2000 <= self.year <= 2100):
            raise InvalidFormat(f"period: a month between 2000-01 and 2100-12, got {self.year}-{self.month}",
                                field="period", value=f"{self.year}-{self.month}", limit="YYYY-MM")

    @classmethod
    def parse(cls, text: Any) -> "Period":
        if isinstance(text, Period):
            return text
        if isinstance(text, (date, datetime)):
            return cls(text.year, text.month)
        raw = str(text or "").strip()
        match = re.fullmatch(r"(\d{4})[-/.](\d{1,2})", raw) or re.fullmatch(r"(\d{1,2})[-/.](\d{4})", raw)
        if match is None:
            raise InvalidFormat(f"period: a month as YYYY-MM (e.g. 2025-06) or MM/YYYY, got {raw!r}",
                                field="period", value=text, limit="YYYY-MM")
        a, b = match.groups()
        year, month = (int(a), int(b)) if len(a) == 4 else (int(b), int(a))
        return cls(year, month)

    @classmethod
    def of(cls, moment: datetime) -> "Period":
        """The period a moment falls in (Vietnam time)."""
        local = moment.astimezone(VN_TZ) if moment.tzinfo else moment
        return cls(local.year, local.month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def start(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def end(self) -> date:
        """The first day after the period."""
        return self.shift(1).start

    @property
    def start_local(self) -> datetime:
        """Midnight starting the period, Vietnam time, naive (as the transaction store keeps times)."""
        return datetime(self.year, self.month, 1)

    @property
    def end_local(self) -> datetime:
        nxt = self.shift(1)
        return datetime(nxt.year, nxt.month, 1)

    @property
    def end_utc(self) -> datetime:
        """The instant the period ends, timezone-aware UTC."""
        return self.end_local.replace(tzinfo=VN_TZ).astimezone(timezone.utc)

    def shift(self, months: int) -> "Period":
        index = self.year * 12 + self.month - 1 + months
        return Period(index // 12, index % 12 + 1)

    def back(self, months: int) -> list["Period"]:
        """The ``months`` periods ending with this one, oldest first."""
        return [self.shift(-k) for k in range(months - 1, -1, -1)]

    def snapshot(self, now: datetime) -> datetime:
        """When the period's state is read: its end, or ``now`` for the period in progress (UTC)."""
        return min(self.end_utc, now.astimezone(timezone.utc))


def _to_local(moment: datetime | None) -> datetime | None:
    """An aware time → naive Vietnam time (the store's convention); naive stays as is."""
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.astimezone(VN_TZ).replace(tzinfo=None)


# ----------------------------------------------------------------------------- references

_NON_ALNUM = re.compile(r"[^A-Za-z0-9]+")

#: The SQL twin of :func:`content_text` (DuckDB: ``strip_accents`` + regex), ``{0}`` is the column.
CONTENT_TEXT_SQL = ("trim(upper(regexp_replace(strip_accents(replace(replace(coalesce({0}, ''), 'đ', 'd'), "
                    "'Đ', 'D')), '[^A-Za-z0-9]+', ' ', 'g')))")


def content_text(text: str | None) -> str:
    """A transfer content as the matcher reads it: ASCII letters and digits, upper case, single spaces.

    >>> content_text("  Chợ HL1 - sạp A.12 / trả tiền đồ khô ")
    'CHO HL1 SAP A 12 TRA TIEN DO KHO'
    """
    return _NON_ALNUM.sub(" ", fold(text or "")).upper().strip()


def reference_key(text: str) -> str:
    """A stall reference with every separator removed: what survives ``HL1A12`` and ``hl1-a12``.

    >>> reference_key("HL1 A12"), reference_key("hl1-a.12")
    ('HL1A12', 'HL1A12')
    """
    return content_text(text).replace(" ", "")


def stall_key(code: str) -> str:
    """A stall code compared the way boards write it (``A-12``, ``a12``, ``A 12`` are one stall).

    >>> stall_key("A-12") == stall_key(" a 12 ") == "A12"
    True

    The rule itself is :func:`market40.accounts.stall_key` (the registry's unique key).
    """
    return _stall_key(code)


@dataclass(frozen=True)
class ReferenceMatch:
    """What a content says: the compact key found (if any), the one stall it names, or why not."""

    key: str | None
    stall: Hashable | None
    reason: str | None


class ReferenceIndex:
    """Stall references (``"HL1 A12"`` → stall) and the pattern that finds them in mangled contents.

    A reference is a market code, an optional space, then the stall's letters and digits
    (``HL1 A12``, ``HL10 B3``, ``HL1 12``, ``HL1 B12A``). In a content (read by
    :func:`content_text`) the pattern finds the market code anywhere, even glued to a bank's
    prefix (``MBVCB3278614981HL1A12``), then up to four letters and one to five digits,
    optionally one more letter that ends a word. The compact match must be a known key.

    Not attributed, with the reason: no reference; two different references; an unknown key;
    a key shared by two stalls (``HL1 A12`` and ``HL1A 12``); a key at the very end of a long
    content (:data:`CUT_LENGTH`) that is also the beginning of another key: ``HL1 A1`` may be
    what is left of ``HL1 A12``.

    :attr:`pattern` is the same regular expression for Python and for DuckDB (RE2): only
    alternation, classes, ``?``, ``{m,n}`` and ``\\b``, whose meaning the two engines share.
    """

    def __init__(self, references: Iterable[tuple[str, Hashable]]) -> None:
        self.keys: dict[str, set[Hashable]] = {}
        markets: set[str] = set()
        for reference, stall in references:
            words = content_text(reference).split(" ")
            if len(words) < 2 or not words[0]:
                continue
            markets.add(words[0])
            self.keys.setdefault("".join(words), set()).add(stall)
        # Longest first: RE2 and Python both take the first alternative that matches.
        codes = sorted(markets, key=lambda c: (-len(c), c))
        self.pattern = (f"({'|'.join(codes)}) ?([A-Z]{{0,4}}) ?([0-9]{{1,5}})(?:([A-Z])\\b)?"
                        if codes else r"(\b\B)")
        self._regex = re.compile(self.pattern)
        ordered = sorted(self.keys)
        #: Keys that are the beginning of a longer key (``HL1A1`` of ``HL1A12``).
        self.prefixes: frozenset[str] = frozenset(
            a for a, b in zip(ordered, ordered[1:]) if b.startswith(a))

    def rows(self) -> Iterator[tuple[str, Hashable | None, bool, bool]]:
        """``(key, stall or None when several, ambiguous, prefix)`` for loading into SQL."""
        for key, stalls in sorted(self.keys.items()):
            one = next(iter(stalls)) if len(stalls) == 1 else None
            yield key, one, len(stalls) > 1, key in self.prefixes

    def match(self, content: str | None, owners: Iterable[Hashable] | None = None) -> ReferenceMatch:
        """The stall ``content`` names; ``owners`` (for a shared account) limits who it may be."""
        raw = content or ""
        text = content_text(raw)
        found = [m.group(0) for m in self._regex.finditer(text)]
        keys = list(dict.fromkeys(m.replace(" ", "") for m in found))
        if not keys:
            return ReferenceMatch(None, None, UNATTRIBUTED_REASONS[0])
        if len(keys) > 1:
            return ReferenceMatch(None, None, UNATTRIBUTED_REASONS[1])
        key = keys[0]
        stalls = self.keys.get(key)
        if not stalls:
            return ReferenceMatch(key, None, UNATTRIBUTED_REASONS[2])
        if len(stalls) > 1:
            return ReferenceMatch(key, None, UNATTRIBUTED_REASONS[3])
        if text.endswith(found[-1]) and len(raw) >= CUT_LENGTH and key in self.prefixes:
            return ReferenceMatch(key, None, UNATTRIBUTED_REASONS[4])
        stall = next(iter(stalls))
        if owners is not None and stall not in set(owners):
            return ReferenceMatch(key, None, UNATTRIBUTED_REASONS[5])
        return ReferenceMatch(key, stall, None)


# ----------------------------------------------------------------------------- accounts

@dataclass(frozen=True)
class Registration:
    """One registration of an account for a stall (a ``payment_account`` row), times aware."""

    account_id: int
    stall_id: int
    bin: str
    number: str
    status: str  # pending, verified, rejected, revoked
    created_at: datetime
    verified_at: datetime | None = None
    revoked_at: datetime | None = None
    rejected_at: datetime | None = None
    holder_name: str = ""
    holder_type: str = "personal"  # or "household": the holder name is the HKD's business name

    @property
    def ended_at(self) -> datetime | None:
        return self.revoked_at or self.rejected_at

    def state_at(self, moment: datetime) -> str | None:
        """``"pending"`` or ``"verified"`` if the registration was live at ``moment``, else None."""
        if self.created_at > moment:
            return None
        ended = self.ended_at
        if ended is not None and ended <= moment:
            return None
        if self.status == "rejected":
            return "pending"  # it was waiting for review until it was rejected
        if self.verified_at is not None and self.verified_at <= moment:
            return "verified"
        return "pending"


def canonical_bin(bin: str) -> str:
    """A participant's registered BIN for any of its BINs: a transfer booked under an alternate BIN
    (CIMB 970459, Mirae Asset 970468; :mod:`market40.banks` lists them) is the same bank's.

    >>> canonical_bin("970459") == canonical_bin("422589"), canonical_bin("970436")
    (True, '970436')
    """
    return _alternates().get(bin, bin)


_ALTERNATES: dict[str, str] | None = None


def _alternates() -> dict[str, str]:
    global _ALTERNATES
    if _ALTERNATES is None:
        from .banks import all_banks  # the bank directory (package data, standard library only)
        _ALTERNATES = {alt: bank.bin for bank in all_banks() for alt in bank.alternate_bins if alt != bank.bin}
    return _ALTERNATES


@dataclass(frozen=True)
class DirectoryRow:
    """One (account, stall) ownership for the store: times as naive Vietnam time."""

    bin: str
    number: str
    stall_id: int
    live_from: datetime
    live_to: datetime | None
    single: bool  # the account has only ever belonged to this stall


class Directory:
    """Which stall owns an account (BIN + number), and when.

    Rules, in order:

    1. rejected registrations are left out (the account was never confirmed as the stall's);
    2. an account registered only ever by one stall is that stall's, at any time (money paid
       into it after a revocation still went to that household);
    3. otherwise the stalls whose registration was live when the transfer was booked; if none
       was, every stall that ever registered it. One stall: attributed by account. Several: the
       account is *shared* and the stall reference decides (:class:`ReferenceIndex`).
    """

    def __init__(self, registrations: Iterable[Registration]) -> None:
        self.registrations = [r for r in registrations if r.status != "rejected"]
        self._by_account: dict[tuple[str, str], list[Registration]] = {}
        for reg in self.registrations:
            self._by_account.setdefault((canonical_bin(reg.bin), reg.number), []).append(reg)

    def __contains__(self, account: tuple[str, str]) -> bool:
        return (canonical_bin(account[0]), account[1]) in self._by_account

    def owners(self, bin: str, number: str, at: datetime | None = None) -> frozenset[int]:
        regs = self._by_account.get((canonical_bin(bin), number), [])
        everyone = frozenset(r.stall_id for r in regs)
        if len(everyone) <= 1 or at is None:
            return everyone
        local = _to_local(at)
        live = frozenset(r.stall_id for r in regs
                         if _to_local(r.created_at) <= local and
                         (r.revoked_at is None or local < _to_local(r.revoked_at)))
        return live or everyone

    def shared_at(self, moment: datetime) -> list[tuple[str, str, list[Registration]]]:
        """Accounts live (pending or verified) on more than one stall at ``moment``."""
        out = []
        for (bin, number), regs in sorted(self._by_account.items()):
            live = [r for r in regs if r.state_at(moment)]
            if len({r.stall_id for r in live}) > 1:
                out.append((bin, number, sorted(live, key=lambda r: r.stall_id)))
        return out

    def rows(self) -> Iterator[DirectoryRow]:
        for (bin, number), regs in self._by_account.items():
            single = len({r.stall_id for r in regs}) == 1
            for reg in regs:
                yield DirectoryRow(bin, number, reg.stall_id, _to_local(reg.created_at),  # type: ignore[arg-type]
                                   _to_local(reg.revoked_at), single)


@dataclass(frozen=True)
class Transfer:
    """One incoming transfer, as the store keeps it (``booked_at`` naive Vietnam time)."""

    bank_bin: str
    tx_id: str
    booked_at: datetime
    account: str
    amount: int
    content: str = ""
    channel: str = "statement"  # statement (bank export) or webhook (SePay, Casso)


@dataclass(frozen=True)
class Attribution:
    stall: Hashable | None
    method: str | None  # "account", "reference" or None
    reason: str | None = None  # why not attributed
    known_account: bool = True  # the credited account is in the registry


def attribute(transfer: Transfer, directory: Directory, index: ReferenceIndex) -> Attribution:
    """The stall a transfer belongs to: by the credited account, else by the stall reference.

    >>> from datetime import datetime as dt
    >>> t0 = dt(2025, 1, 1, tzinfo=VN_TZ)
    >>> d = Directory([Registration(1, 7, "970436", "0011", "verified", t0, t0),
    ...                Registration(2, 8, "970436", "0022", "verified", t0, t0),
    ...                Registration(3, 9, "970436", "0022", "verified", t0, t0)])
    >>> i = ReferenceIndex([("HL1 A12", 7), ("HL1 A13", 8), ("HL1 A14", 9)])
    >>> attribute(Transfer("970436", "T1", dt(2025, 6, 2), "0011", 50000, "ck"), d, i)
    Attribution(stall=7, method='account', reason=None, known_account=True)
    >>> attribute(Transfer("970436", "T2", dt(2025, 6, 2), "0022", 50000, "HL1 A14"), d, i).stall
    9
    >>> attribute(Transfer("970436", "T3", dt(2025, 6, 2), "0999", 50000, "HL1A13"), d, i)
    Attribution(stall=8, method='reference', reason=None, known_account=False)
    """
    owners = directory.owners(transfer.bank_bin, transfer.account, transfer.booked_at)
    if len(owners) == 1:
        return Attribution(next(iter(owners)), "account")
    known = bool(owners)
    found = index.match(transfer.content, owners if known else None)
    if found.stall is None:
        return Attribution(None, None, found.reason, known)
    return Attribution(found.stall, "reference", None, known)


# ----------------------------------------------------------------------------- stall states

@dataclass
class Activity:
    """The attributed transfers of one stall in one period."""

    transfers: int = 0
    amount: int = 0
    first_at: datetime | None = None
    last_at: datetime | None = None
    by_reference: int = 0
    channels: tuple[str, ...] = ()

    def add(self, transfer: Transfer, method: str) -> None:
        self.transfers += 1
        self.amount += transfer.amount
        self.first_at = min(filter(None, (self.first_at, transfer.booked_at)))
        self.last_at = max(filter(None, (self.last_at, transfer.booked_at)))
        self.by_reference += method == "reference"
        if transfer.channel not in self.channels:
            self.channels = tuple(sorted((*self.channels, transfer.channel)))


@dataclass(frozen=True)
class StallInput:
    """A stall of the period's population: from the registry, the census, or both."""

    market_id: int
    stall_code: str
    stall_id: int | None = None  # None: a household the census lists but the registry does not
    status: str = "operating"
    closed_on: date | None = None
    in_census: bool = False
    owner_name: str = ""  # the census name when there is a census, else the registry's


@dataclass
class StallPeriodResult:
    market_id: int
    stall_code: str
    stall_id: int | None
    state: str
    accepting: bool
    active: bool
    in_census: bool
    counted: bool  # in the denominator
    covered: bool  # the store holds transfers of the stall's bank for the period
    account_id: int | None = None
    account_bin: str | None = None
    account_status: str | None = None  # at the snapshot
    verified_at: datetime | None = None
    transfers: int = 0
    amount: int = 0
    by_reference: int = 0
    first_transfer_at: datetime | None = None
    last_transfer_at: datetime | None = None
    channels: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def classify(stall: StallInput, registrations: Sequence[Registration], activity: Activity | None,
             snapshot: datetime, *, counted: bool, covered_bins: frozenset[str] = frozenset()) -> StallPeriodResult:
    """The state of one stall in a period, with the evidence for it.

    ``registrations`` are the stall's accounts (any status); the one live at ``snapshot`` (the
    period's end, :meth:`Period.snapshot`) decides *accepting* (verified) or *registered*
    (pending). ``activity`` holds the transfers attributed to the stall in the period.
    """
    live = [(reg, reg.state_at(snapshot)) for reg in registrations]
    live = [(reg, state) for reg, state in live if state]
    live.sort(key=lambda item: (item[1] != "verified", -item[0].created_at.timestamp()))
    reg, account_state = live[0] if live else (None, None)
    if reg is None and registrations:  # no live account: show the latest one for the evidence
        reg = max(registrations, key=lambda r: r.created_at)
    activity = activity or Activity()
    accepting = account_state == "verified"
    active = activity.transfers > 0
    state = "active" if active else "accepting" if accepting else "registered" if account_state else "no_qr"
    return StallPeriodResult(
        market_id=stall.market_id, stall_code=stall.stall_code, stall_id=stall.stall_id, state=state,
        accepting=accepting, active=active, in_census=stall.in_census, counted=counted,
        covered=bool(reg and canonical_bin(reg.bin) in covered_bins) or active,
        account_id=reg.account_id if reg else None, account_bin=reg.bin if reg else None,
        account_status=account_state or (reg.status if reg else None),
        verified_at=reg.verified_at if reg else None, transfers=activity.transfers, amount=activity.amount,
        by_reference=activity.by_reference, first_transfer_at=activity.first_at,
        last_transfer_at=activity.last_at, channels=",".join(activity.channels))


def _day(value: date | datetime) -> str:
    """A calendar day as Vietnamese reads it; an aware (or naive UTC) moment is first put in Vietnam time."""
    if isinstance(value, datetime):
        value = formats.to_vietnam(value).date()
    return formats.day(value)


_CHANNELS_VI = {"statement": "sao kê ngân hàng", "webhook": "webhook (SePay/Casso)"}


def describe_evidence(row: Mapping[str, Any], *, masked_account: str = "") -> str:
    """The evidence for a stall's state, in Vietnamese, from a :class:`StallPeriodResult`'s fields.

    >>> describe_evidence({"state": "no_qr", "stall_id": None, "in_census": True})
    'Có trong danh sách hộ kinh doanh, chưa có trong sổ đăng ký'
    >>> describe_evidence({"stall_id": 5, "state": "active", "transfers": 3, "amount": 450000, "by_reference": 1,
    ...     "channels": "statement", "account_status": "verified", "verified_at": date(2025, 3, 2)},
    ...     masked_account="•••• 4418")
    '3 giao dịch đến (450.000 đ), 1 theo mã sạp; nguồn: sao kê ngân hàng; TK •••• 4418 xác minh 02/03/2025'
    """
    parts: list[str] = []
    if row.get("stall_id") is None:
        return "Có trong danh sách hộ kinh doanh, chưa có trong sổ đăng ký"
    if row.get("transfers"):
        text = f"{formats.count(row['transfers'])} giao dịch đến ({formats.money(row.get('amount') or 0)})"
        if row.get("by_reference"):
            text += f", {formats.count(row['by_reference'])} theo mã sạp"
        channels = [c for c in str(row.get("channels") or "").split(",") if c]
        if channels:
            text += "; nguồn: " + ", ".join(_CHANNELS_VI.get(c, c) for c in channels)
        parts.append(text)
    status = row.get("account_status")
    account = f"TK {masked_account}" if masked_account else "TK"
    if status == "verified":
        when = row.get("verified_at")
        parts.append(f"{account} xác minh {_day(when)}" if when else f"{account} đã xác minh")
    elif status == "pending":
        parts.append(f"{account} chờ xác minh")
    elif status in ("revoked", "rejected"):
        parts.append(f"{account} đã {'thu hồi' if status == 'revoked' else 'từ chối'}")
    elif not row.get("transfers"):
        parts.append("chưa đăng ký tài khoản")
    if row.get("state") in ("accepting", "registered") and not row.get("transfers"):
        parts.append("không có giao dịch trong kỳ" if row.get("covered") else
                     "chưa có dữ liệu giao dịch của ngân hàng này")
    return "; ".join(parts)


# ----------------------------------------------------------------------------- anomalies

@dataclass(frozen=True)
class CensusHousehold:
    """One line of a market board's census: an operating household in the period."""

    market_id: int
    stall_code: str
    owner_name: str
    stall_id: int | None = None


@dataclass
class Anomaly:
    kind: str
    detail: str
    market_id: int | None = None
    stall_id: int | None = None
    stall_code: str | None = None
    account: str | None = None  # masked
    transfers: int = 0
    amount: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def names_match(a: str | None, b: str | None) -> bool:
    """Two names are the same person's when equal without diacritics, case or punctuation.

    >>> names_match("Nguyễn Thị Lan", "NGUYEN THI LAN"), names_match("Đặng Văn Hải", "DANG VAN HAI ")
    (True, True)
    >>> names_match("Nguyễn Thị Lan", "TRAN VAN BINH")
    False
    """
    return search_key(a or "") == search_key(b or "")


def find_anomalies(*, stalls: Mapping[int, StallInput], registrations: Sequence[Registration],
                   directory: Directory, snapshot: datetime, census_markets: frozenset[int],
                   last_transfer: Mapping[tuple[str, str], datetime | None], observed_bins: frozenset[str],
                   idle_since: datetime, mask: Callable[[str], str]) -> list[Anomaly]:
    """Everything in the registry that needs a look, as of ``snapshot``.

    ``stalls`` are the registry's stalls by id (with the census name and ``in_census`` when the
    market has a census); ``last_transfer`` the latest transfer into each account (BIN,
    number) known to the store. An account is *idle* when it was verified before ``idle_since``
    and has no transfer since then, while the store has watched its bank over that whole time
    (``observed_bins``: banks with transfers in the first month of the window), so that no data
    is never mistaken for no use.
    Transfers to unknown accounts and unattributed transfers are aggregated in the store; the
    service adds them to this list.
    """
    out: list[Anomaly] = []
    for stall_id, stall in sorted(stalls.items()):
        if stall.status == "closed" and stall.in_census:
            when = f" từ {formats.day(stall.closed_on)}" if stall.closed_on else ""
            out.append(Anomaly("census_lists_closed_stall",
                               f"Sổ đăng ký ghi sạp đã đóng{when}; danh sách hộ kỳ này vẫn có hộ "
                               f"{stall.owner_name or '(không tên)'}: vẫn được tính", market_id=stall.market_id,
                               stall_id=stall_id, stall_code=stall.stall_code))
    for bin, number, regs in directory.shared_at(snapshot):
        codes = ", ".join(stalls[r.stall_id].stall_code for r in regs if r.stall_id in stalls)
        first = stalls.get(regs[0].stall_id)
        out.append(Anomaly("shared_account", f"{len(regs)} sạp dùng chung: {codes}",
                           market_id=first.market_id if first else None, account=mask(number)))
    by_stall: dict[int, list[Registration]] = {}
    for reg in registrations:
        by_stall.setdefault(reg.stall_id, []).append(reg)
    for stall_id, regs in sorted(by_stall.items()):
        stall = stalls.get(stall_id)
        if stall is None:
            continue
        live = [r for r in regs if r.state_at(snapshot)]
        if not live:
            continue
        reg = max(live, key=lambda r: (r.state_at(snapshot) == "verified", r.created_at))
        masked = mask(reg.number)
        base = dict(market_id=stall.market_id, stall_id=stall_id, stall_code=stall.stall_code, account=masked)
        if stall.status == "closed" and stall.in_census:
            pass  # listed as its own anomaly below, whatever its account
        elif stall.status == "closed":
            when = f" từ {formats.day(stall.closed_on)}" if stall.closed_on else ""
            out.append(Anomaly("closed_stall_live_qr", f"Sạp đã nghỉ{when}; tài khoản vẫn "
                               f"{'đã xác minh' if reg.state_at(snapshot) == 'verified' else 'chờ xác minh'}", **base))
        elif stall.market_id in census_markets and not stall.in_census:
            out.append(Anomaly("not_in_census_live_qr", "Không có trong danh sách hộ của ban quản lý chợ kỳ này",
                               **base))
        # A household business's account carries its registered business name (Circular 25/2025),
        # which is not the owner's personal name: only a personal account's name is compared.
        if stall.in_census and stall.owner_name and reg.holder_name and reg.holder_type != "household" and \
                not names_match(stall.owner_name, reg.holder_name):
            out.append(Anomaly("name_mismatch", f"Chủ hộ: {stall.owner_name}; chủ tài khoản: {reg.holder_name}",
                               **base))
        if reg.state_at(idle_since) == "verified" and reg.state_at(snapshot) == "verified" \
                and canonical_bin(reg.bin) in observed_bins:
            last = last_transfer.get((canonical_bin(reg.bin), reg.number))
            if last is None or last < _to_local(idle_since):  # type: ignore[operator]
                seen = f"lần cuối {formats.day(last.date())}" if last else "chưa từng có giao dịch"
                since = formats.day(_to_local(idle_since).date())  # type: ignore[union-attr]
                out.append(Anomaly("idle_account", f"Không có giao dịch từ {since} ({seen})",
                                   **base))
    return out


# ----------------------------------------------------------------------------- adoption

@dataclass
class MarketCounts:
    """One market's counts in one period: the unit every adoption figure is built from."""

    code: str
    stalls: int = 0  # the denominator (census households, else the registry's operating stalls)
    registered: int = 0
    accepting: int = 0
    active: int = 0
    covered: int = 0
    name: str = ""
    tier: str | None = None
    market_id: int | None = None
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # view → group labels
    denominator: str = "registry"  # "census" or "registry"
    #: market fees of the period (issue #11): billed, and paid by transfer (not cash), in đồng
    fees_billed: int = 0
    fees_cashless: int = 0

    @property
    def fees_cashless_rate(self) -> float | None:
        """The official indicator: the share of the fees billed that were paid cashless."""
        return self.fees_cashless / self.fees_billed if self.fees_billed else None
    #: household key → (accepting, active) of the counted stalls: a household with several stalls
    #: is accepting (active) when one of them is (market40.households)
    households: Mapping[str, tuple[bool, bool]] = field(default_factory=dict)

    @property
    def household_count(self) -> int:
        return len(self.households)

    @property
    def households_accepting(self) -> int:
        return sum(1 for accepting, _ in self.households.values() if accepting)

    @property
    def households_active(self) -> int:
        return sum(1 for _, active in self.households.values() if active)

    @property
    def accepting_rate(self) -> float | None:
        return self.accepting / self.stalls if self.stalls else None

    @property
    def active_rate(self) -> float | None:
        return self.active / self.stalls if self.stalls else None


@dataclass
class Figures:
    """Adoption of a group of markets (a tier, a locality, the province)."""

    label: str
    markets: int = 0
    stalls: int = 0
    registered: int = 0
    accepting: int = 0
    active: int = 0
    covered: int = 0
    #: stall-weighted: all accepting (active) stalls over all stalls of the group
    accepting_rate: float | None = None
    active_rate: float | None = None
    #: mean of market rates: each market's rate, averaged over the markets (the "83% on average")
    mean_accepting_rate: float | None = None
    mean_active_rate: float | None = None
    target: float = 1.0
    markets_at_target: int = 0
    stalls_to_target: int = 0  # more accepting stalls needed for every market to reach the target
    census_markets: int = 0
    #: market fees (issue #11): billed, paid cashless (đồng), and the share paid cashless
    fees_billed: int = 0
    fees_cashless: int = 0
    fees_cashless_rate: float | None = None
    #: business households (hộ kinh doanh): a household with several stalls counts once
    households: int = 0
    households_accepting: int = 0
    households_active: int = 0
    household_accepting_rate: float | None = None
    household_active_rate: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def mean_rate(rates: Iterable[float | None]) -> float | None:
    """The mean of the defined rates (markets without stalls have none)."""
    values = [r for r in rates if r is not None]
    return sum(values) / len(values) if values else None


def summarise(markets: Iterable[MarketCounts], *, label: str = "Toàn tỉnh", target: float = 1.0) -> Figures:
    """The figures of one group of markets; ``target`` is the accepting rate each market should reach."""
    items = list(markets)
    out = Figures(label=label, markets=len(items), target=target)
    households: dict[str, tuple[bool, bool]] = {}
    for m in items:
        for key, (accepting, active) in m.households.items():
            was = households.get(key, (False, False))
            households[key] = (was[0] or accepting, was[1] or active)
        out.stalls += m.stalls
        out.registered += m.registered
        out.accepting += m.accepting
        out.active += m.active
        out.covered += m.covered
        out.census_markets += m.denominator == "census"
        out.fees_billed += m.fees_billed
        out.fees_cashless += m.fees_cashless
        needed = math.ceil(round(target * m.stalls, 9))
        if m.stalls and m.accepting >= needed:
            out.markets_at_target += 1
        out.stalls_to_target += max(0, needed - m.accepting)
    if out.stalls:
        out.accepting_rate = out.accepting / out.stalls
        out.active_rate = out.active / out.stalls
    if out.fees_billed:
        out.fees_cashless_rate = out.fees_cashless / out.fees_billed
    out.households = len(households)
    out.households_accepting = sum(1 for a, _ in households.values() if a)
    out.households_active = sum(1 for _, a in households.values() if a)
    if out.households:
        out.household_accepting_rate = out.households_accepting / out.households
        out.household_active_rate = out.households_active / out.households
    out.mean_accepting_rate = mean_rate(m.accepting_rate for m in items)
    out.mean_active_rate = mean_rate(m.active_rate for m in items)
    return out


def adoption(markets: Iterable[MarketCounts], view: str, *, target: float = 1.0,
             order: Callable[[str], Any] | None = None) -> list[Figures]:
    """Figures per group of a view (``"tier"``, ``"locality"``, ``"market"``…).

    A market is counted in every group ``market.groups[view]`` names: a commune formed from two
    former districts puts its markets under both, so group rows may add up to more than the
    province; the province row (:func:`summarise`) counts each market once.

    >>> a = MarketCounts("A", stalls=10, accepting=9, groups={"tier": ("I",)})
    >>> b = MarketCounts("B", stalls=10, accepting=5, groups={"tier": ("II",)})
    >>> [(f.label, f.accepting_rate) for f in adoption([a, b], "tier")]
    [('I', 0.9), ('II', 0.5)]
    """
    groups: dict[str, list[MarketCounts]] = {}
    for market in markets:
        for label in market.groups.get(view) or ("—",):
            groups.setdefault(label, []).append(market)
    key = order or (lambda label: label)
    return [summarise(items, label=label, target=target) for label, items in sorted(groups.items(),
                                                                                     key=lambda kv: key(kv[0]))]
