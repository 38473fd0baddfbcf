"""The registry's use cases: markets, stalls, payment accounts, users, enrollment codes.

One :class:`Registry` per unit of work (a database session) and per :class:`Actor` (who
is acting, and what they may see). The CLI and the web app both go through here:

* every change writes an :class:`~market40.models.AuditEvent` (who, what, when, before
  and after, with account numbers and phones masked), and so does every reveal of a full
  account number;
* every read and write is scoped: staff reach their markets, officers their localities
  (read only), an owner their own stall; the local operator of the CLI reaches everything;
* account changes keep the history: registering a new account revokes the current one.
"""
from __future__ import annotations

import array
import bisect
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Iterable, Sequence

from sqlalchemy import func, or_
from sqlmodel import Session, select

from . import auditlog
from .auditlog import mask_record
from .. import accounts, banks, breached, db, households, passwords, vietqr
from ..exceptions import (Conflict, Forbidden, InvalidComponent, InvalidFormat, InvalidLength, NotFound,
                          ValidationError)
from ..models import (ACCOUNT_STATUSES, CURRENT_ACCOUNT_STATUSES, ROLES, STALL_STATUSES, EnrollmentCode, Locality,
                      LocalityLink, Market, PaymentAccount, Stall, User, UserScope, utcnow)

__all__ = ["Actor", "Registry", "ReferenceGuard", "MergeResult", "StallSummary", "AccountSummary", "MarketSummary", "UserSummary",
           "EnrollmentSlip", "OwnerExists", "CONSENT_PURPOSE", "parse_stall_ref", "mask_record", "descendant_localities", "ROLES", "STALL_STATUSES", "ACCOUNT_STATUSES"]

#: What the owner consents to when registering an account (Law 91/2025: consent per purpose).
CONSENT_PURPOSE = ("Hiển thị mã VietQR và số tài khoản trên biển tại sạp để khách thanh toán; đối soát "
                   "giao dịch chuyển khoản và báo cáo tỷ lệ thanh toán không dùng tiền mặt của chợ.")
MOMO_BIN = "971025"
_STATUS_ACTIONS = {"verified": "account.verify", "rejected": "account.reject", "revoked": "account.revoke"}
_SPREADSHEET_FIELDS = ("shop_name", "goods_category", "owner_name", "owner_phone", "status")
auditlog.refer(CONSENT_PURPOSE, "consent")  # records refer to it instead of repeating it


@dataclass(frozen=True)
class Actor:
    """Who is acting. ``markets``/``localities`` of None mean no limit (the local operator, admins)."""

    name: str
    role: str = "operator"
    user_id: int | None = None
    markets: frozenset[int] | None = None
    localities: frozenset[int] | None = None
    stall_id: int | None = None

    @classmethod
    def operator(cls, name: str) -> "Actor":
        """The person at the command line of this deployment: full access, audited by name."""
        return cls(name=f"cli:{name}", role="operator")

    @classmethod
    def for_user(cls, session: Session, user: User) -> "Actor":
        scopes = session.exec(select(UserScope).where(UserScope.user_id == user.id)).all()
        unlimited = user.role == "admin"
        # A scope on a former district also covers the communes it became (markets now sit in those).
        localities = descendant_localities(session, {s.locality_id for s in scopes if s.locality_id})
        return cls(
            name=f"user:{user.id}", role=user.role, user_id=user.id,
            markets=None if unlimited else frozenset(s.market_id for s in scopes if s.market_id),
            localities=None if unlimited else frozenset(localities),
            stall_id=user.stall_id)

    @property
    def can_write(self) -> bool:
        return self.role in ("operator", "admin", "staff")


def descendant_localities(session: Session, ids: Iterable[int]) -> set[int]:
    """The localities ``ids`` and every unit they became, through the old→new links."""
    found = set(ids)
    frontier = set(found)
    while frontier:
        links = session.exec(select(LocalityLink.new_id).where(
            LocalityLink.old_id.in_(frontier))).all()  # type: ignore[attr-defined]
        frontier = set(links) - found
        found |= frontier
    return found


def parse_stall_ref(ref: str) -> tuple[str, str]:
    """``HL1/A-12`` → (``HL1``, ``A-12``)."""
    if not isinstance(ref, str) or "/" not in ref:
        raise InvalidFormat(f"stall: write it as MARKET/STALL, e.g. HL1/A-12, got {ref!r}", field="stall",
                            value=ref, limit="MARKET/STALL")
    market, stall = ref.split("/", 1)
    return accounts.clean_market_code(market, field="stall"), accounts.clean_stall_code(stall, field="stall")


class OwnerExists(Conflict):
    """The stall already has its owner login (one per stall)."""


# ------------------------------------------------------------------ plain records for listings

class _Record:
    """A plain record for listings: ``as_dict()`` gives the JSON form."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]


@dataclass
class MarketSummary(_Record):
    code: str
    name: str
    tier: str | None
    locality: str
    is_central: bool
    stalls: int
    operating: int
    verified: int
    pending: int


@dataclass
class AccountSummary(_Record):
    stall: str
    kind: str
    bank: str
    bin: str
    number: str  # masked unless revealed
    holder_name: str
    status: str
    status_reason: str | None
    created_at: datetime
    verified_at: datetime | None
    holder_type: str = "personal"  # or "household" (HKD)
    tax_code: str | None = None  # masked unless revealed
    business_reg_no: str | None = None  # masked unless revealed
    merchant_id: str | None = None  # the merchant id of a registered merchant QR (QRPUSH)


@dataclass
class StallSummary(_Record):
    ref: str
    market: str
    code: str
    shop_name: str | None
    goods_category: str | None
    owner_name: str
    owner_phone: str | None
    status: str
    account: AccountSummary | None


@dataclass
class UserSummary(_Record):
    username: str
    display_name: str
    role: str
    is_active: bool
    scopes: list[str] = field(default_factory=list)


@dataclass
class EnrollmentSlip(_Record):
    """What is printed for one owner: the code appears here once, and is stored only hashed."""

    stall: str
    market_name: str
    shop_name: str | None
    owner_name: str
    code: str
    expires_at: datetime
    #: The market board's contact, printed for the owner to call (None: the deployment's contact).
    contact_name: str | None = None
    contact_phone: str | None = None


@dataclass
class MergeResult(_Record):
    """What a stall merge did."""

    merged: str
    into: str
    accounts: int = 0
    users: int = 0
    census_moved: int = 0
    census_left: int = 0
    revoked: str | None = None  # the masked account revoked because the other one was kept
    reference_changed: str | None = None  # the kept account's new reference: reprint its poster


class KeyHashes:
    """A set of 64-bit hashes in ~8–30 bytes each (a Python set of ints takes ~60): a sorted array,
    with the newest hashes in a set merged in when it reaches half the array's size (at least 256;
    each hash is copied ~3 times in all), lookups by binary search. Kept per market.
    """

    _MERGE = 256

    def __init__(self) -> None:
        self.sorted = array.array("q")
        self.recent: set[int] = set()

    def add(self, value: int) -> None:
        """Add ``value`` (the caller asked ``in`` first: a value already there may be kept twice)."""
        self.recent.add(value)
        if len(self.recent) >= self._MERGE and 2 * len(self.recent) >= len(self.sorted):
            merged = array.array("q", self.sorted)
            merged.extend(self.recent)
            self.sorted = array.array("q", sorted(merged))
            self.recent = set()

    def __contains__(self, value: int) -> bool:
        if value in self.recent:
            return True
        index = bisect.bisect_left(self.sorted, value)
        return index < len(self.sorted) and self.sorted[index] == value


class ReferenceGuard:
    """Refuses stall codes whose reference reads like another market's once spaces are stripped.

    Bank apps drop the space of ``HL11 5``: it reads ``HL115``, as ``HL1 15`` does. Only
    markets whose compacted codes are prefixes of one another can collide; their stall keys
    are loaded once, on first need. :meth:`add` records stalls about to be created (an import
    with several markets), so two new rows cannot collide either.
    """

    def __init__(self, session: Session, market: Market | None = None) -> None:
        self.session = session
        self.market = market
        self.codes = {m.id: accounts.compact_reference(m.code, "") for m in session.exec(select(Market)).all()}
        # Per market: the hashes of the stall keys in the registry (8 bytes a stall, whatever an import
        # adds), and the stalls added but not yet written (key → code; :meth:`settle` once written).
        self.known: dict[int, KeyHashes] = {}
        self.pending: dict[int, dict[str, str]] = {}
        self.rivals: dict[int, list[tuple[int, str]]] = {}
        # Per market: the first characters of its stall keys (registry and added); a reference whose
        # part after a rival's code starts with none of them cannot be one of that rival's (:meth:`clear`).
        self.leads: dict[int, set[str]] = {}
        self.plans: dict[int, tuple[tuple[str, ...], list[tuple[int, str]]]] = {}

    def _keys(self, market_id: int) -> "KeyHashes":
        if market_id not in self.known:
            hashes = self.known[market_id] = KeyHashes()
            leads = self.leads.setdefault(market_id, set())
            for key in self.session.exec(select(Stall.code_key).where(Stall.market_id == market_id)).all():
                hashes.add(hash(key))  # keys are unique within a market
                leads.add(key[:1])
        return self.known[market_id]

    def _code(self, market_id: int, key: str) -> str | None:
        """The code of the market's stall with this key (added, or in the registry), or None."""
        pending = self.pending.get(market_id)
        if pending and key in pending:
            return pending[key]
        if hash(key) not in self._keys(market_id):
            return None
        return self.session.exec(select(Stall.code).where(Stall.market_id == market_id,  # a hash may collide
                                                          Stall.code_key == key)).first()

    def _rivals(self, market_id: int) -> list[tuple[int, str]]:
        """The markets whose compacted code could start one of this market's references (cached):
        both are prefixes of the reference, so one is a prefix of the other."""
        found = self.rivals.get(market_id)
        if found is None:
            mine = self.codes.get(market_id, "")
            found = self.rivals[market_id] = [(other_id, prefix) for other_id, prefix in self.codes.items()
                                              if other_id != market_id and (mine.startswith(prefix)
                                                                            or prefix.startswith(mine))]
        return found

    def needed(self, market_id: int) -> bool:
        """Whether a new stall of this market could read like another market's (it has rivals)."""
        return bool(self._rivals(market_id))

    def clear(self, market_id: int, key: str) -> bool:
        """True when a stall of this market with stall key ``key`` cannot read like another market's
        (what :meth:`check` would pass), decided in a few set lookups; False: :meth:`check` decides.

        With ``mine`` this market's compacted code and ``prefix`` a rival's: a longer rival's
        (``mine`` + tail) needs ``key`` to start with the tail; a shorter or equal one's needs the
        rival to have a stall key starting with ``mine``'s remaining tail (its first character is
        enough to rule it out)."""
        plan = self.plans.get(market_id)
        if plan is None:
            if market_id not in self.codes:  # a market newer than the guard: check() decides
                return False
            mine = self.codes[market_id]
            rivals = self._rivals(market_id)
            plan = self.plans[market_id] = (
                tuple(prefix[len(mine):] for _, prefix in rivals if len(prefix) > len(mine)),
                [(other_id, mine[len(prefix):]) for other_id, prefix in rivals if len(prefix) <= len(mine)])
        longer, shorter = plan
        if longer and key.startswith(longer):
            return False
        for other_id, tail in shorter:
            if not tail:
                return False
            leads = self.leads.get(other_id)
            if leads is None:
                self._keys(other_id)  # its leads come with its keys
                leads = self.leads[other_id]
            if tail[0] in leads:
                return False
        return True

    def check(self, code: str, market: Market | None = None) -> None:
        market = market or self.market
        assert market is not None and market.id is not None
        rivals = self._rivals(market.id)
        if not rivals:
            return
        reference = accounts.compact_reference(market.code, code)
        for other_id, prefix in rivals:
            if not reference.startswith(prefix):
                continue
            other = self._code(other_id, reference[len(prefix):])
            if other is not None:
                other_market = self.session.get(Market, other_id)
                try:
                    mine = accounts.stall_reference(market.code, code)
                except ValidationError:
                    mine = reference
                from .. import messages
                raise messages.problem("reference_collision", "stall_code", code,
                                       limit="a reference no other market's stall has", reference=mine,
                                       stall=f"{market.code}/{code}", compact=reference,
                                       other=f"{other_market.code if other_market else other_id}/{other}")

    def add(self, code: str, market: Market | None = None, *, key: str | None = None) -> None:
        """Remember a stall about to be created (``key``: its :func:`~market40.accounts.stall_key`, if known)."""
        market = market or self.market
        assert market is not None and market.id is not None
        pending = self.pending.get(market.id)
        if pending is None:
            self._keys(market.id)  # the registry's keys as they were before
            pending = self.pending[market.id] = {}
        key = key or accounts.stall_key(code)
        pending[key] = code
        self.leads[market.id].add(key[:1])

    def settle(self) -> None:
        """The stalls added so far are written: the registry answers for them (memory stays flat)."""
        for market_id, added in self.pending.items():
            hashes = self._keys(market_id)
            for key in added:
                mark = hash(key)
                if mark not in hashes:
                    hashes.add(mark)
        self.pending.clear()


# ------------------------------------------------------------------ the registry

class Registry:
    """The registry seen by one actor within one session (the caller commits)."""

    def __init__(self, session: Session, actor: Actor) -> None:
        self.session = session
        self.actor = actor

    # -------------------------------------------------------------- audit and scope

    def audit(self, action: str, entity: str, entity_id: Any, *, before: dict | None = None,
              after: dict | None = None, note: str | None = None, effective_at: datetime | None = None) -> None:
        """Record one change or read of personal data (Decree 356/2025: log all processing).

        ``effective_at``: when the change happened, if staff dated it; the event's ``at`` is
        always when it was recorded.
        """
        auditlog.record(self.session, self.actor.name, action, entity, entity_id, before=before, after=after,
                        note=note, effective_at=effective_at)

    def _require_write(self) -> None:
        if not self.actor.can_write:
            raise Forbidden(f"{self.actor.role} accounts can only read")
        db.begin_write(self.session)

    def _lock_stall(self, stall: Stall) -> None:
        """Hold the stall's row until the end of the transaction (PostgreSQL; SQLite has one writer):
        two changes of one stall's account at once are made one after the other."""
        self.session.exec(select(Stall.id).where(Stall.id == stall.id).with_for_update()).first()

    def _market_allowed(self, market: Market) -> bool:
        actor = self.actor
        if actor.role == "owner":
            return False
        if actor.markets is None and actor.localities is None:
            return True
        return (market.id in (actor.markets or ())) or (market.locality_id in (actor.localities or ()))

    def _check_market(self, market: Market) -> Market:
        if not self._market_allowed(market):
            self.audit("access.denied", "market", market.code)
            raise Forbidden(f"market {market.code}: outside your markets")
        return market

    def _check_stall(self, stall: Stall, market: Market) -> Stall:
        if self.actor.role == "owner":
            if stall.id != self.actor.stall_id:
                self.audit("access.denied", "stall", stall.id)
                raise Forbidden("this is not your stall")
            return stall
        self._check_market(market)
        return stall

    def scoped_markets(self):
        """A query for the markets this actor may see."""
        query = select(Market)
        actor = self.actor
        if actor.role == "owner":
            stall = self.session.get(Stall, actor.stall_id) if actor.stall_id else None
            return query.where(Market.id == (stall.market_id if stall else -1))
        if actor.markets is not None or actor.localities is not None:
            query = query.where(or_(Market.id.in_(actor.markets or ()),  # type: ignore[union-attr]
                                    Market.locality_id.in_(actor.localities or ())))  # type: ignore[attr-defined]
        return query

    # -------------------------------------------------------------- localities

    def locality(self, code: str, *, on: date | None = None) -> Locality:
        """The unit with this code (the version valid ``on`` a day, default: the latest)."""
        query = select(Locality).where(Locality.code == code)
        if on is not None:
            query = query.where(Locality.valid_from <= on).where(
                or_(Locality.valid_to.is_(None), Locality.valid_to > on))  # type: ignore[union-attr]
        found = self.session.exec(query.order_by(Locality.valid_from.desc())).first()  # type: ignore[attr-defined]
        if found is None and code.strip().isdigit() and code.strip() != code.strip().zfill(5):
            # a spreadsheet dropped the leading zeros of a GSO code (06688 → 6688, 001 → 1)
            codes = {code.strip().zfill(5), code.strip().zfill(3)} - {code}
            matches = [self.locality(c, on=on) for c in sorted(codes) if self.session.exec(
                select(Locality.id).where(Locality.code == c)).first() is not None]
            if len(matches) == 1:
                return matches[0]
        if found is None:
            raise NotFound(f"locality {code!r} not found (không có đơn vị hành chính mã này trong sổ đăng ký): "
                           "load the province's units with `market40 locality load PROVINCE`, "
                           "or see `market40 locality list`")
        return found

    def add_locality(self, *, code: str, name: str, kind: str, unit_type: str, province: str,
                     valid_from: date, valid_to: date | None = None) -> Locality:
        self._require_write()
        existing = self.session.exec(select(Locality).where(Locality.code == code,
                                                            Locality.valid_from == valid_from)).first()
        if existing is not None:
            return existing
        locality = Locality(code=code, name=name, kind=kind, unit_type=unit_type, province=province,
                            valid_from=valid_from, valid_to=valid_to)
        self.session.add(locality)
        self.session.flush()
        self.audit("locality.create", "locality", locality.id, after={"code": code, "name": name})
        return locality

    def link_localities(self, old_code: str, new_code: str) -> None:
        self._require_write()
        old, new = self.locality(old_code), self.locality(new_code)
        if self.session.get(LocalityLink, (old.id, new.id)) is None:
            self.session.add(LocalityLink(old_id=old.id, new_id=new.id))

    # -------------------------------------------------------------- markets

    def market(self, code: str) -> Market:
        found = self.session.exec(select(Market).where(Market.code == accounts.clean_market_code(code))).first()
        if found is None:
            raise NotFound(f"market {code!r} not found")
        if self.actor.role == "owner":
            stall = self.session.get(Stall, self.actor.stall_id) if self.actor.stall_id else None
            if stall is None or stall.market_id != found.id:
                raise Forbidden(f"market {found.code}: not your market")
            return found
        return self._check_market(found)

    def save_market(self, **fields: Any) -> tuple[Market, str]:
        """Create a market or update it by code; returns it and ``created``/``updated``/``unchanged``."""
        self._require_write()
        data = self.clean_market(fields)
        existing = self.session.exec(select(Market).where(Market.code == data["code"])).first()
        if existing is None:
            market = Market(**data)
            self.session.add(market)
            self.session.flush()
            self.audit("market.create", "market", market.code, after=_snapshot(market))
            return market, "created"
        self._check_market(existing)
        before = _snapshot(existing)
        changed = {k: v for k, v in data.items() if getattr(existing, k) != v}
        if not changed:
            return existing, "unchanged"
        for key, value in changed.items():
            setattr(existing, key, value)
        self.session.add(existing)
        self.session.flush()
        self.audit("market.update", "market", existing.code, before=before, after=_snapshot(existing))
        return existing, "updated"

    def clean_market(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Validate market fields (all problems at once); resolves the locality code."""
        errors: list[ValidationError] = []
        out: dict[str, Any] = {}

        def attempt(name: str, check):
            try:
                out[name] = check()
            except ValidationError as error:
                errors.append(error)
            except NotFound as error:
                errors.append(InvalidComponent(str(error), field=name, value=fields.get(name),
                                               limit="a known locality code"))

        attempt("code", lambda: accounts.clean_market_code(fields.get("code")))
        attempt("name", lambda: _required_text(fields.get("name"), "name", 200))
        attempt("tier", lambda: _tier(fields.get("tier")))
        attempt("tier_source", lambda: _optional_text(fields.get("tier_source"), "tier_source", 200))
        attempt("tier_date", lambda: _optional_date(fields.get("tier_date"), "tier_date"))
        if "onboarded_on" in fields:  # the day the programme started here: reports leave out earlier months
            attempt("onboarded_on", lambda: _optional_date(fields.get("onboarded_on"), "onboarded_on"))
        attempt("is_central", lambda: _boolean(fields.get("is_central"), "is_central"))
        attempt("locality_id", lambda: self.locality(_required_text(fields.get("locality"), "locality", 16)).id)
        attempt("address", lambda: _optional_text(fields.get("address"), "address", 300))
        attempt("board_contact_name", lambda: _optional_text(fields.get("board_contact_name"),
                                                             "board_contact_name", 120))
        attempt("board_contact_phone", lambda: None if not fields.get("board_contact_phone") else
                accounts.clean_phone(fields.get("board_contact_phone"), field="board_contact_phone"))
        if errors:
            raise ValidationError.combine(errors)
        return out

    def markets(self, *, locality: str | None = None, tier: str | None = None) -> list[MarketSummary]:
        """Markets this actor may see, with stall and account counts."""
        query = self.scoped_markets()
        if tier:
            query = query.where(Market.tier == tier)
        if locality:
            query = query.where(Market.locality_id == self.locality(locality).id)
        found = self.session.exec(query.order_by(Market.code)).all()
        ids = [m.id for m in found]
        stalls = dict(self.session.exec(
            select(Stall.market_id, func.count()).where(Stall.market_id.in_(ids))  # type: ignore[attr-defined]
            .group_by(Stall.market_id)).all())
        operating = dict(self.session.exec(
            select(Stall.market_id, func.count()).where(Stall.market_id.in_(ids),  # type: ignore[attr-defined]
                                                        Stall.status == "operating").group_by(Stall.market_id)).all())
        by_status: dict[tuple[int, str], int] = {}
        for market_id, status, count in self.session.exec(
                select(Stall.market_id, PaymentAccount.status, func.count())
                .join(PaymentAccount, PaymentAccount.stall_id == Stall.id)
                .where(Stall.market_id.in_(ids),  # type: ignore[attr-defined]
                       PaymentAccount.status.in_(CURRENT_ACCOUNT_STATUSES))  # type: ignore[attr-defined]
                .group_by(Stall.market_id, PaymentAccount.status)).all():
            by_status[(market_id, status)] = count
        localities = {loc.id: loc.name for loc in self.session.exec(
            select(Locality).where(Locality.id.in_({m.locality_id for m in found}))).all()}  # type: ignore[attr-defined]
        return [MarketSummary(m.code, m.name, m.tier, localities.get(m.locality_id, ""), m.is_central,
                              stalls.get(m.id, 0), operating.get(m.id, 0), by_status.get((m.id, "verified"), 0),
                              by_status.get((m.id, "pending"), 0)) for m in found]

    # -------------------------------------------------------------- stalls

    def stall(self, ref: str) -> Stall:
        """One stall by ``MARKET/STALL`` reference, within this actor's scope."""
        market_code, stall_code = parse_stall_ref(ref)
        market = self.session.exec(select(Market).where(Market.code == market_code)).first()
        stall = self.find_stall(market.id, stall_code) if market is not None else None  # type: ignore[arg-type]
        if stall is None or market is None:
            raise NotFound(f"stall {market_code}/{stall_code} not found")
        return self._check_stall(stall, market)

    def find_stall(self, market_id: int, code: str) -> Stall | None:
        """The stall of a market with this code, or with the same key (``a 12`` finds ``A-12``)."""
        found = self.session.exec(select(Stall).where(Stall.market_id == market_id, Stall.code == code)).first()
        if found is None:
            found = self.session.exec(select(Stall).where(Stall.market_id == market_id,
                                                          Stall.code_key == accounts.stall_key(code))).first()
        return found

    def reference_guard(self, market: Market) -> "ReferenceGuard":
        """Checks new stall codes of ``market`` against the references of every other market."""
        return ReferenceGuard(self.session, market)

    def clean_stall(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Validate the stall's own fields (all problems at once)."""
        errors: list[ValidationError] = []
        out: dict[str, Any] = {}
        checks = {
            "code": lambda: accounts.clean_stall_code(fields.get("code"), field="stall_code"),
            "shop_name": lambda: _optional_text(fields.get("shop_name"), "shop_name", 200),
            "goods_category": lambda: _optional_text(fields.get("goods_category"), "category", 120),
            "owner_name": lambda: _required_text(fields.get("owner_name"), "owner_name", 200),
            "owner_phone": lambda: None if not fields.get("owner_phone") else
            accounts.clean_phone(fields.get("owner_phone")),
            "owner_tax_code": lambda: households.clean_tax_code(fields.get("owner_tax_code")),
            "status": lambda: accounts.clean_stall_status(fields.get("status")),
        }
        for name, check in checks.items():
            if name == "code" or name in fields:
                try:
                    out[name] = check()
                except ValidationError as error:
                    errors.append(error)
        if errors:
            raise ValidationError.combine(errors)
        return out

    def save_stall(self, market_code: str, **fields: Any) -> tuple[Stall, str]:
        """Create a stall or update the given fields; returns it and created/updated/unchanged."""
        self._require_write()
        market = self.market(market_code)
        data = self.clean_stall(fields)
        existing = self.find_stall(market.id, data["code"])  # type: ignore[arg-type]
        today = accounts.event_day(utcnow())
        if existing is None:
            self.reference_guard(market).check(data["code"])
            stall = Stall(market_id=market.id, code_key=accounts.stall_key(data["code"]), **data)
            if stall.status == "closed":
                stall.closed_on = today
            self.session.add(stall)
            self.session.flush()
            self.audit("stall.create", "stall", stall.id, after=_snapshot(stall))
            return stall, "created"
        before = _snapshot(existing)
        # A variant of the code ("a12" for "A-12") names the same stall: its code stays as registered.
        changed = {k: v for k, v in data.items() if k != "code" and getattr(existing, k) != v}
        if not changed:
            return existing, "unchanged"
        for key, value in changed.items():
            setattr(existing, key, value)
        if changed.get("status") == "closed":
            existing.closed_on = today
        elif changed.get("status") == "operating":
            existing.closed_on = None
        self.session.add(existing)
        self.session.flush()
        self.audit("stall.update", "stall", existing.id, before=before, after=_snapshot(existing))
        return existing, "updated"

    def close_stall(self, ref: str, *, at: Any = None, reason: str | None = None) -> Stall:
        """The stall stopped operating (``at``: the day it did, if not today); audited.

        Its account is left as it is: a live QR on a closed stall is listed as an anomaly until
        staff revoke it.
        """
        self._require_write()
        stall = self.stall(ref)
        if stall.status == "closed":
            since = f" since {stall.closed_on:%d/%m/%Y}" if stall.closed_on else ""
            raise Conflict(f"stall {ref}: already closed{since}")
        opened = accounts.datetime_of_day(stall.opened_on) if stall.opened_on else None
        when = self._when(at, not_before=opened, label="the stall opened then")
        before = _snapshot(stall)
        stall.status, stall.closed_on = "closed", accounts.event_day(when or utcnow())
        self.session.add(stall)
        self.session.flush()
        self.audit("stall.close", "stall", stall.id, before=before, after=_snapshot(stall), note=reason,
                   effective_at=when)
        return stall

    def open_stall(self, ref: str, *, at: Any = None) -> tuple[Stall, str]:
        """The stall operates (again): reopens a closed stall, or records the day it opened.

        A closed stall reopens (``at``: not before it closed). For an operating stall, ``at``
        records the day it began operating (reports count it from that month on). The first
        opening day is kept across a closure: the registry keeps one opening and one closing day.
        Returns the stall and ``reopened``/``updated``/``unchanged``.
        """
        self._require_write()
        stall = self.stall(ref)
        before = _snapshot(stall)
        if stall.status == "closed":
            closed = accounts.datetime_of_day(stall.closed_on) if stall.closed_on else None
            when = self._when(at, not_before=closed, label="the stall closed then")
            stall.status, stall.closed_on, outcome = "operating", None, "reopened"
        else:
            when = self._when(at)
            if when is None or stall.opened_on == accounts.event_day(when):
                return stall, "unchanged"
            stall.opened_on, outcome = accounts.event_day(when), "updated"
        self.session.add(stall)
        self.session.flush()
        self.audit("stall.open", "stall", stall.id, before=before, after=_snapshot(stall), effective_at=when)
        return stall, outcome

    def merge_stalls(self, from_ref: str, into_ref: str, *, keep: str | None = None,
                     reason: str | None = None) -> "MergeResult":
        """Merge a mistaken stall into the right one of the same market; the mistaken one is removed.

        Its account history, enrollment codes, owner logins and census entries move to the
        stall it is merged into; blank fields of that stall are filled from it. When both have
        a current (pending or verified) account, ``keep`` ("from" or "into") says which one stays
        (the other is revoked); without it the merge is refused. A kept account that moves gets
        the reference of its new stall (reprint its poster). Audited on both stalls. Past
        reconciliations are not rewritten: run ``reconcile`` again for the months concerned.
        """
        self._require_write()
        source, target = self.stall(from_ref), self.stall(into_ref)
        if source.id == target.id:
            raise Conflict(f"stall {from_ref} and {into_ref} are the same stall")
        if source.market_id != target.market_id:
            raise Conflict(f"stall merge works within one market: {from_ref} and {into_ref} are in different "
                           "markets")
        if keep not in (None, "from", "into"):
            raise InvalidFormat(f"keep: 'from' or 'into', got {keep!r}", field="keep", value=keep,
                                limit="from or into")
        market = self.session.get(Market, target.market_id)
        assert market is not None
        src_ref, dst_ref = f"{market.code}/{source.code}", f"{market.code}/{target.code}"
        src_current, dst_current = self.current_account(source), self.current_account(target)
        if src_current is not None and dst_current is not None and keep is None:
            raise Conflict(f"stall merge: both {src_ref} ({accounts.mask(src_current.number)}, {src_current.status}) "
                           f"and {dst_ref} ({accounts.mask(dst_current.number)}, {dst_current.status}) have a "
                           "current account; say which one to keep (--keep from or --keep into)")
        result = MergeResult(src_ref, dst_ref)
        before_src, before_dst = _snapshot(source), _snapshot(target)
        if src_current is not None and dst_current is not None:
            dropped = dst_current if keep == "from" else src_current
            self._set_status(dropped, "revoked", reason=f"stall {src_ref} merged into {dst_ref}")
            result.revoked = accounts.mask(dropped.number)
        moved = self.session.exec(select(PaymentAccount).where(PaymentAccount.stall_id == source.id)).all()
        for account in moved:
            account.stall_id = target.id
            if account.status in CURRENT_ACCOUNT_STATUSES:
                self._rebuild_reference(account, market, target, result)
            self.session.add(account)
        result.accounts = len(moved)
        for code in self.session.exec(select(EnrollmentCode).where(EnrollmentCode.stall_id == source.id)).all():
            code.stall_id = target.id
            self.session.add(code)
        for user in self.session.exec(select(User).where(User.stall_id == source.id)).all():
            user.stall_id = target.id
            self.session.add(user)
            result.users += 1
        result.census_moved, result.census_left = self._rekey_census(market.id, source.code_key, target.code_key)
        for name in ("shop_name", "goods_category", "owner_phone"):
            if not getattr(target, name) and getattr(source, name):
                setattr(target, name, getattr(source, name))
        if source.opened_on and (target.opened_on is None or source.opened_on < target.opened_on):
            target.opened_on = source.opened_on
        self.session.flush()
        self.session.delete(source)
        self.session.flush()
        canonical = accounts.stall_key(target.code)
        if target.code_key != canonical and self.session.exec(select(Stall).where(
                Stall.market_id == market.id, Stall.code_key == canonical)).first() is None:
            target.code_key = canonical  # a twin left by migration 0004 takes its canonical key back
        self.session.add(target)
        self.session.flush()
        note = f"{src_ref} merged into {dst_ref}" + (f": {reason.strip()}" if reason and reason.strip() else "")
        self.audit("stall.merge", "stall", source.id, before=before_src, after={"merged_into": target.id}, note=note)
        self.audit("stall.merge", "stall", target.id, before=before_dst, after=_snapshot(target), note=note)
        return result

    def _rebuild_reference(self, account: PaymentAccount, market: Market, stall: Stall,
                           result: "MergeResult") -> None:
        purpose = accounts.stall_reference(market.code, stall.code)
        if account.purpose == purpose:
            return
        before = _snapshot(account)
        target = {"card": account.number} if account.kind == "card" else {"account": account.number}
        account.purpose = purpose
        account.payload = vietqr.build(bin=account.bin, purpose=purpose, reference_label=account.reference_label,
                                       **target).payload
        result.reference_changed = purpose
        self.audit("account.update", "payment_account", account.id, before=before, after=_snapshot(account),
                   note="stall reference changed by a merge: print the poster again")

    def _rekey_census(self, market_id: int, old_key: str | None, new_key: str | None) -> tuple[int, int]:
        from ..models import CensusEntry
        if not old_key or not new_key or old_key == new_key:
            return 0, 0
        entries = self.session.exec(select(CensusEntry).where(CensusEntry.market_id == market_id,
                                                              CensusEntry.stall_key == old_key)).all()
        taken = set(self.session.exec(select(CensusEntry.period).where(
            CensusEntry.market_id == market_id, CensusEntry.stall_key == new_key)).all())
        moved = 0
        for entry in entries:
            if entry.period in taken:
                continue  # the board listed both that month: its list stays as it wrote it
            entry.stall_key = new_key
            self.session.add(entry)
            moved += 1
        return moved, len(entries) - moved

    def remove_stall(self, ref: str, *, reason: str) -> Stall:
        """Remove a stall created by mistake (audited, with the reason).

        Refused when the stall has a history that reports rely on: an account that is pending
        or was ever verified (revoke it, or merge the stall into the right one), or an owner
        login. Rejected accounts and unused enrollment codes go with it.
        """
        self._require_write()
        if not (reason or "").strip():
            raise InvalidFormat("reason: say why the stall is removed", field="reason", value=reason,
                                limit="a short text")
        stall = self.stall(ref)
        kept = [a for a in self.session.exec(select(PaymentAccount).where(PaymentAccount.stall_id == stall.id))
                if a.status == "pending" or a.verified_at is not None]
        if kept:
            raise Conflict(f"stall {ref}: it has {len(kept)} account(s) that were pending or verified; merge it into "
                           "the right stall (`market40 stall merge`) or close it (`market40 stall close`) instead")
        if self.session.exec(select(User).where(User.stall_id == stall.id)).first() is not None:
            raise Conflict(f"stall {ref}: an owner login belongs to it; merge it into the right stall instead")
        before = _snapshot(stall)
        stall_id = stall.id
        self.session.delete(stall)
        self.session.flush()
        self.audit("stall.remove", "stall", stall_id, before=before, note=reason.strip())
        return stall

    def twins(self, market_code: str | None = None) -> list[dict[str, Any]]:
        """Stalls that cannot be told apart, for staff to merge or recode.

        ``twin``: stalls of one market whose codes differ only by case, spaces or punctuation
        (left by a registry older than migration 0004); ``reference``: stalls of different
        markets whose references read the same once a bank app strips spaces (``HL1 15`` and
        ``HL11 5``), so transfers naming them cannot be attributed.
        """
        markets = {m.id: m for m in self.session.exec(self.scoped_markets()).all()}
        if market_code:
            wanted = self.market(market_code)
            markets = {wanted.id: wanted}
        every = {m.id: m for m in self.session.exec(select(Market)).all()}
        rows = self.session.exec(select(Stall.id, Stall.market_id, Stall.code, Stall.code_key)
                                 .order_by(Stall.id)).all()  # oldest first: it holds the canonical key
        out: list[dict[str, Any]] = []
        groups: dict[tuple[int, str], list[str]] = {}
        for _, market_id, code, key in rows:
            groups.setdefault((market_id, accounts.stall_key(code)), []).append(code)
        for (market_id, key), codes in sorted(groups.items(), key=lambda kv: (every[kv[0][0]].code, kv[0][1])):
            if len(codes) > 1 and market_id in markets:
                out.append({"kind": "twin", "key": key,
                            "stalls": [f"{every[market_id].code}/{c}" for c in codes]})
        compact: dict[str, list[tuple[int, str]]] = {}
        for _, market_id, code, key in rows:
            compact.setdefault(accounts.compact_reference(every[market_id].code, code), []).append((market_id, code))
        for reference, members in sorted(compact.items()):
            if len({m for m, _ in members}) > 1 and any(m in markets for m, _ in members):
                out.append({"kind": "reference", "key": reference,
                            "stalls": sorted(f"{every[m].code}/{c}" for m, c in members)})
        return out

    def stalls(self, market_code: str, *, status: str | None = None, search: str | None = None,
               reveal: bool = False) -> list[StallSummary]:
        """The stalls of one market, sorted by code, with their current account (masked)."""
        market = self.market(market_code)
        query = select(Stall).where(Stall.market_id == market.id)
        if status:
            query = query.where(Stall.status == accounts.clean_stall_status(status))
        if self.actor.role == "owner":
            query = query.where(Stall.id == self.actor.stall_id)
        found = self.session.exec(query).all()
        if search:
            from ..text import search_key
            key = search_key(search)
            found = [s for s in found if key in search_key(" ".join(filter(None, (
                s.code, s.shop_name, s.owner_name, s.owner_phone))))]
        current = self._current_accounts([s.id for s in found])
        if reveal:
            if self.actor.role == "officer":
                raise Forbidden("officers see masked account numbers only")
            self.audit("account.reveal", "market", market.code, note=f"{len(current)} account numbers shown in full")
        return sorted((self._summary(market, s, current.get(s.id), reveal) for s in found),
                      key=lambda row: _natural(row.code))

    def _current_accounts(self, stall_ids: Sequence[int]) -> dict[int, PaymentAccount]:
        out: dict[int, PaymentAccount] = {}
        for chunk in _chunks(list(stall_ids), 900):
            for account in self.session.exec(select(PaymentAccount).where(
                    PaymentAccount.stall_id.in_(chunk),  # type: ignore[attr-defined]
                    PaymentAccount.status.in_(CURRENT_ACCOUNT_STATUSES))).all():  # type: ignore[attr-defined]
                known = out.get(account.stall_id)
                if known is None or known.status != "verified":  # the verified one, while a replacement waits
                    out[account.stall_id] = account
        return out

    def _summary(self, market: Market, stall: Stall, account: PaymentAccount | None,
                 reveal: bool) -> StallSummary:
        return StallSummary(f"{market.code}/{stall.code}", market.code, stall.code, stall.shop_name,
                            stall.goods_category, stall.owner_name, stall.owner_phone, stall.status,
                            None if account is None else self._account_summary(market, stall, account, reveal))

    def _account_summary(self, market: Market, stall: Stall, account: PaymentAccount,
                         reveal: bool) -> AccountSummary:
        bank = banks.by_bin(account.bin)
        return AccountSummary(f"{market.code}/{stall.code}", account.kind, bank.short_name if bank else account.bin,
                              account.bin, account.number if reveal else accounts.mask(account.number),
                              account.holder_name, account.status, account.status_reason, account.created_at,
                              account.verified_at, account.holder_type or "personal",
                              _identifier(account.tax_code, reveal), _identifier(account.business_reg_no, reveal),
                              _merchant_id(account.merchant_payload))

    # -------------------------------------------------------------- payment accounts

    def current_account(self, stall: Stall) -> PaymentAccount | None:
        """The account customers pay into: the verified one, else the pending one (not yet printable)."""
        rows = self.session.exec(select(PaymentAccount).where(
            PaymentAccount.stall_id == stall.id,
            PaymentAccount.status.in_(CURRENT_ACCOUNT_STATUSES))  # type: ignore[attr-defined]
            .execution_options(populate_existing=True)).all()
        return _preferred(rows)

    def pending_account(self, stall: Stall) -> PaymentAccount | None:
        """The account waiting for review (a first account, or a replacement beside a verified one)."""
        return self.session.exec(select(PaymentAccount).where(
            PaymentAccount.stall_id == stall.id, PaymentAccount.status == "pending")).first()

    def replacement(self, stall: Stall) -> PaymentAccount | None:
        """A pending account waiting beside the stall's verified one (which stays valid until it is verified)."""
        current = self.current_account(stall)
        if current is None or current.status != "verified":
            return None
        return self.pending_account(stall)

    def scan_qr(self, source: Any, *, allow_unknown_bin: bool = False) -> "accounts.ScannedQR":
        """Read a stall's receiving QR from a photo (path, bytes, file) or its text, and judge it.

        The one rule for every door (web form, ``account set --from-qr``, imports): the payload
        text is judged by :func:`market40.accounts.receiving_qr`; an image is read first (the QR
        reader market40 uses everywhere). A photo with several codes gives the first receiving
        QR in it; a photo with none is refused, saying so.
        """
        texts = self._qr_texts(source)
        refusal: ValidationError | None = None
        for text in texts:
            try:
                return accounts.receiving_qr(text, allow_unknown_bin=allow_unknown_bin)
            except ValidationError as error:
                refusal = refusal or error
        if refusal is not None:
            raise refusal
        raise accounts.RefusedQR("qr: no QR code found in the photo; take it again, closer and in focus",
                                 reason="no_qr", value=None)

    @staticmethod
    def _qr_texts(source: Any) -> list[str]:
        from .. import qrimage
        if isinstance(source, str):
            text = source.strip()
            if text.startswith("000201") or not text:
                return [text]
            from pathlib import Path
            if not Path(text).exists():
                if Path(text).suffix.lower() in (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff",
                                                 ".heic"):
                    raise NotFound(f"image file not found: {text!r}")
                return [text]  # not a file: judged (and refused) as QR content
        return qrimage.read(source)

    def prepare_account(self, market_code: str, stall_code: str, *, bank: str | None = None,
                        number: str | None = None, holder_name: str | None = None,
                        kind: str | None = None, reference_label: str | None = None,
                        allow_unknown_bin: bool = False, qr: str | None = None, merchant_qr: str | None = None,
                        holder_type: str | None = None, business_reg_no: str | None = None,
                        tax_code: str | None = None) -> dict[str, Any]:
        """Validate an account for a stall and build its payload; every problem at once.

        ``qr``: the payload of the owner's own receiving QR (scanned): its bank, number and
        reference are registered exactly, never retyped (a typed value that differs is refused).
        ``merchant_qr``: a bank-issued merchant QR (QRPUSH), kept as issued; the account fields
        are then its settlement account (a scanned ``qr`` that is a merchant QR counts as one).
        ``holder_type``: ``personal`` or ``household`` (HKD: the holder name is the business
        name; ``business_reg_no`` and ``tax_code`` belong to HKD accounts only).
        Returns the fields of a :class:`PaymentAccount` (without status, consent or stall).
        """
        errors: list[ValidationError] = []
        scanned = merchant = None
        if qr is not None and str(qr).strip():
            found = accounts.receiving_qr(qr, allow_unknown_bin=allow_unknown_bin)  # a refusal is the answer
            if found.kind == "merchant":
                if merchant_qr and merchant_qr.strip() != found.payload:
                    raise accounts.RefusedQR("qr: two different merchant QRs given", reason="merchant",
                                             value=qr)
                merchant = found
            else:
                scanned = found
        if merchant is None and merchant_qr is not None and str(merchant_qr).strip():
            merchant = accounts.merchant_qr(merchant_qr, allow_unknown_bin=allow_unknown_bin)
        if scanned is not None:
            errors.extend(self._differs_from_qr(scanned, bank, number, reference_label))
            bank, number, reference_label = scanned.bin, scanned.account, scanned.reference_label
            kind = kind or ("card" if scanned.is_card else None)
            if not (holder_name or "").strip() and scanned.merchant_name:
                holder_name = scanned.merchant_name  # the name the app put in the QR, if any
        elif merchant is not None and not (bank or "").strip():
            bank = merchant.bin  # the settlement account is usually at the acquiring bank
        if merchant is not None and not (number or "").strip():
            errors.append(InvalidFormat("account: a merchant QR needs its settlement account (the account the "
                                        "bank pays the takings into), as the bank feed names it",
                                        field="account", value=number, limit="the settlement account number"))
        participant = None
        bin_ = None
        branch = None
        try:
            if isinstance(bank, str) and bank.strip().isdigit() and len(bank.strip()) == 6:
                bin_ = bank.strip()
                participant = banks.require_bin(bin_, allow_unknown=allow_unknown_bin)
            else:  # "BIDV - CN Hạ Long": the bank, the branch kept as a note (banks.resolve, one rule)
                found = banks.resolve(bank)
                participant, branch = found.bank, found.branch
                bin_ = participant.bin
        except ValidationError as error:
            errors.append(error)
        except NotFound as error:
            errors.append(InvalidComponent(str(error), field="bank", value=bank, limit="a NAPAS participant"))
        try:
            kind = accounts.clean_account_kind(kind, bank_kind=participant.kind if participant else None)
        except ValidationError as error:
            errors.append(error)
        try:
            holder_type = accounts.clean_holder_type(holder_type)
        except ValidationError as error:
            errors.append(error)
            holder_type = "personal"
        try:
            holder = accounts.clean_holder_name(holder_name, household=holder_type == "household")
        except ValidationError as error:
            errors.append(error)
        identifiers: dict[str, str | None] = {}
        for name, value, clean in (("business_reg_no", business_reg_no, accounts.clean_business_registration),
                                   ("tax_code", tax_code, accounts.clean_tax_code)):
            try:
                identifiers[name] = clean(value)
            except ValidationError as error:
                errors.append(error)
                continue
            if identifiers[name] and holder_type != "household":
                errors.append(InvalidFormat(f"{name}: only a household-business (HKD) account has a business "
                                            f"registration number or tax code", field=name, value=value,
                                            limit="empty for a personal account"))
        try:  # one rule for every door (web form, `account set`, imports): spaces and dashes dropped
            number = accounts.clean_account_number(number, field="card" if kind == "card" else "account")
        except ValidationError as error:
            if merchant is None or (number or "").strip():
                errors.append(error)
            number = None
        reference = (reference_label or "").strip() or None
        if bin_ == MOMO_BIN and not reference:
            errors.append(InvalidFormat("reference_label: MoMo wallets need the MOMOW2W… reference shown in the "
                                        "owner's MoMo receive-QR (tag 62.05)", field="reference_label",
                                        value=reference_label, limit="MOMOW2W + digits"))
        purpose = None
        try:
            purpose = accounts.stall_reference(market_code, stall_code)
        except ValidationError as error:
            errors.append(error)
        payload = None
        target = {"card": number} if kind == "card" else {"account": number}
        try:  # with a placeholder BIN when the bank is unknown, so the number is still checked
            if number is not None:
                payload = vietqr.build(bin=bin_ or "000000", purpose=purpose, reference_label=reference,
                                       **target).payload
        except ValidationError as error:
            errors.extend(e for e in error.errors if e.field != "bin")
        if errors:
            raise ValidationError.combine(errors)
        return {"kind": kind, "bin": bin_, "number": number, "holder_name": holder,
                "reference_label": reference, "purpose": purpose, "payload": payload,
                "holder_type": holder_type, "business_reg_no": identifiers.get("business_reg_no"),
                "tax_code": identifiers.get("tax_code"),
                "merchant_payload": merchant.payload if merchant is not None else None,
                "bank_branch": branch[:120] if branch else None}

    @staticmethod
    def _differs_from_qr(scanned: "accounts.ScannedQR", bank: str | None, number: str | None,
                         reference: str | None) -> list[ValidationError]:
        """Typed values that contradict the scanned QR (the QR wins only if they agree)."""
        errors: list[ValidationError] = []
        if (bank or "").strip():
            try:
                typed = bank.strip() if bank.strip().isdigit() else banks.lookup(bank).bin
            except (ValidationError, NotFound):
                typed = None
            if typed != scanned.bin:
                errors.append(InvalidComponent(f"bank: {bank!r} is not the bank of the scanned QR (BIN {scanned.bin}); "
                                               f"the QR's bank is registered, leave the bank empty",
                                               field="bank", value=bank, limit=f"BIN {scanned.bin} (from the QR)"))
        if (number or "").strip():
            try:
                typed_number = accounts.clean_account_number(number)
            except ValidationError:
                typed_number = None
            if typed_number != scanned.account:
                errors.append(InvalidFormat(f"account: {number!r} is not the number in the scanned QR "
                                            f"({accounts.mask(scanned.account)}); the QR's number is registered",
                                            field="account", value=number, limit="the number in the QR"))
        if (reference or "").strip() and reference.strip() != (scanned.reference_label or ""):
            errors.append(InvalidFormat(f"reference_label: {reference!r} is not the reference in the scanned QR",
                                        field="reference_label", value=reference, limit="the QR's 62.05"))
        return errors

    def register_account(self, ref: str, *, bank: str | None = None, number: str | None = None,
                         holder_name: str | None = None, kind: str | None = None,
                         reference_label: str | None = None, consent_channel: str = "paper",
                         consent_purpose: str = CONSENT_PURPOSE, consent_at: datetime | None = None,
                         allow_unknown_bin: bool = False, at: Any = None, qr: str | None = None,
                         merchant_qr: str | None = None, holder_type: str | None = None,
                         business_reg_no: str | None = None, tax_code: str | None = None
                         ) -> tuple[PaymentAccount, str]:
        """Register (or change) the account a stall's customers pay into.

        The new account is ``pending`` until staff verify it. A verified account stays valid
        (its posters keep working) until staff verify the replacement, which revokes it then
        (history kept); an earlier replacement still waiting, or a pending first account, is
        withdrawn at once. Registering the same account again changes nothing. A dated change
        (``at``, history being recorded) revokes the verified account at that time instead.
        ``at``: when the owner registered it, if not now (a date or time in the past, not
        before the stall's last account change); the replaced account is revoked then too.
        ``qr``/``merchant_qr``/``holder_type``/…: see :meth:`prepare_account`.
        Returns the account and ``created``/``replaced``/``requested``/``unchanged``
        (``requested``: a replacement now waits beside the verified account).
        """
        if self.actor.role != "owner":
            self._require_write()
        else:
            db.begin_write(self.session)
        stall = self.stall(ref)
        market = self.session.get(Market, stall.market_id)
        assert market is not None
        data = self.prepare_account(market.code, stall.code, bank=bank, number=number, holder_name=holder_name,
                                    kind=kind, reference_label=reference_label,
                                    allow_unknown_bin=allow_unknown_bin, qr=qr, merchant_qr=merchant_qr,
                                    holder_type=holder_type, business_reg_no=business_reg_no, tax_code=tax_code)
        self._lock_stall(stall)
        current = self.current_account(stall)
        waiting = self.pending_account(stall)
        for existing in (waiting, current):
            if existing is not None and all(getattr(existing, k) == v for k, v in data.items() if k != "bank_branch"):
                return existing, "unchanged"
        when = self._when(at, not_before=self._last_change(stall), label="the stall's last account change")
        outcome = "created"
        if waiting is not None:  # not printable yet: withdrawn at once
            self._set_status(waiting, "revoked", reason="replaced by a new account", at=at and when)
            outcome = "replaced"
        if current is not None and current.status == "verified":
            if when is None:
                outcome = "requested"  # stays valid until staff verify the new one
            else:  # a dated record of a change that happened then: the old account ended then
                self._set_status(current, "revoked", reason="replaced by a new account", at=when)
                outcome = "replaced"
        moment = when or utcnow()
        account = PaymentAccount(stall_id=stall.id, status="pending", consent_purpose=consent_purpose,
                                 consent_at=consent_at or moment, consent_channel=consent_channel,
                                 created_at=moment, created_by=self.actor.name, **data)
        self.session.add(account)
        self.session.flush()
        self.audit("account.register", "payment_account", account.id, after=_snapshot(account),
                   note=f"stall {market.code}/{stall.code}" + (" (merchant QR)" if data["merchant_payload"] else ""),
                   effective_at=when)
        return account, outcome

    def _when(self, at: Any, *, not_before: datetime | None = None, label: str = "",
              field: str = "at") -> datetime | None:
        """``at`` as an aware time in the past (None stays None: it happens now)."""
        if at is None or (isinstance(at, str) and not at.strip()):
            return None
        return accounts.clean_event_time(at, field=field, now=utcnow(), not_before=not_before, before_label=label)

    def _last_change(self, stall: Stall) -> datetime | None:
        """When the stall's accounts last changed (registered, verified, rejected, revoked)."""
        times = [t for a in self.session.exec(select(PaymentAccount).where(PaymentAccount.stall_id == stall.id))
                 for t in (a.created_at, a.verified_at, a.rejected_at, a.revoked_at) if t is not None]
        return max(times) if times else None

    def _transition(self, ref: str, new: str, *, allowed_from: tuple[str, ...], reason: str | None = None,
                    action: str, at: Any = None) -> PaymentAccount:
        self._require_write()
        stall = self.stall(ref)
        self._lock_stall(stall)
        # Review (verify, reject) is about the account waiting, which may be a replacement.
        account = self.pending_account(stall) if allowed_from == ("pending",) else None
        account = account or self.current_account(stall)
        if account is None:
            raise Conflict(f"stall {ref}: no pending or verified account to {action}")
        if account.status not in allowed_from:
            raise Conflict(f"stall {ref}: the account is {account.status}; only {' or '.join(allowed_from)} "
                           f"accounts can be {new}")
        if new in ("rejected", "revoked") and not (reason or "").strip():
            raise InvalidFormat(f"reason: say why the account is {new}", field="reason", value=reason,
                                limit="a short text")
        moment = self._retire_replaced(stall, account, at=at) if new == "verified" else None
        self._set_status(account, new, reason=reason, at=at, moment=moment)
        return account

    def _retire_replaced(self, stall: Stall, account: PaymentAccount, *, at: Any = None) -> datetime:
        """Verifying a replacement: the verified account it replaces is revoked at this moment.
        Returns the moment, for the verification to share."""
        moment = utcnow()
        old = self.session.exec(select(PaymentAccount).where(
            PaymentAccount.stall_id == stall.id, PaymentAccount.status == "verified",
            PaymentAccount.id != account.id)).first()
        if old is not None:
            self._set_status(old, "revoked", reason="replaced by a new account", at=at, moment=moment)
        return moment

    def _set_status(self, account: PaymentAccount, new: str, *, reason: str | None = None, at: Any = None,
                    moment: datetime | None = None) -> None:
        """``moment``: the undated "now" to use (two changes of one action share it)."""
        assert new in ACCOUNT_STATUSES
        previous = account.verified_at if account.status == "verified" else None
        when = self._when(at, not_before=max(filter(None, (account.created_at, previous))),
                          label="when the account was " + ("registered" if previous is None else "verified"))
        before = _snapshot(account)
        now = when or moment or utcnow()
        account.status = new
        if new == "verified":
            account.verified_at, account.verified_by_id = now, self.actor.user_id
        elif new == "rejected":
            account.rejected_at, account.status_reason = now, reason.strip() if reason else reason
        elif new == "revoked":
            account.revoked_at, account.status_reason = now, reason.strip() if reason else reason
        self.session.add(account)
        self.session.flush()
        self.audit(_STATUS_ACTIONS[new], "payment_account", account.id, before=before, after=_snapshot(account),
                   note=reason, effective_at=when)

    def verify_account(self, ref: str, *, at: Any = None) -> PaymentAccount:
        """Staff confirmed the account exists and the holder name matches: it may print.

        ``at``: when it was verified, if not now (not before it was registered).
        """
        return self._transition(ref, "verified", allowed_from=("pending",), action="verify", at=at)

    def reject_account(self, ref: str, reason: str, *, at: Any = None) -> PaymentAccount:
        return self._transition(ref, "rejected", allowed_from=("pending",), reason=reason, action="reject", at=at)

    def revoke_account(self, ref: str, reason: str, *, at: Any = None) -> PaymentAccount:
        """Take a stall's account out of use: its posters no longer count as registered."""
        return self._transition(ref, "revoked", allowed_from=CURRENT_ACCOUNT_STATUSES, reason=reason,
                                action="revoke", at=at)

    def verify_pending(self, market_code: str, *, at: Any = None) -> list[PaymentAccount]:
        """Verify every pending account of a market (after a checked bulk import).

        With ``at``, every one must have been registered by then: all that were not are
        reported at once and none is verified.
        """
        self._require_write()
        market = self.market(market_code)
        pending = self.session.exec(select(PaymentAccount).join(Stall, Stall.id == PaymentAccount.stall_id).where(
            Stall.market_id == market.id, PaymentAccount.status == "pending")).all()
        if at is not None:
            errors: list[ValidationError] = []
            stalls = {s.id: s.code for s in self.session.exec(select(Stall).where(Stall.market_id == market.id))}
            for account in pending:
                try:
                    self._when(at, not_before=account.created_at,
                               label=f"{market.code}/{stalls.get(account.stall_id)} was registered then")
                except ValidationError as error:
                    errors.extend(error.errors)
            if errors:
                raise ValidationError.combine(errors)
        stalls_by_id = {s.id: s for s in self.session.exec(select(Stall).where(Stall.market_id == market.id))}
        for account in pending:
            moment = self._retire_replaced(stalls_by_id[account.stall_id], account, at=at)
            self._set_status(account, "verified", at=at, moment=moment)
        return list(pending)

    def verify_many(self, refs: Sequence[str]) -> list[PaymentAccount]:
        """Verify the pending account of each stall in ``refs`` (the review queue's bulk action).

        All or nothing: a stall outside this actor's markets, or without a pending account,
        is reported with every other one and none is verified.
        """
        self._require_write()
        problems: list[str] = []
        found: list[tuple[Stall, PaymentAccount]] = []
        for ref in dict.fromkeys(refs):
            try:
                stall = self.stall(ref)
            except (NotFound, Forbidden):
                problems.append(f"{ref}: not found")
                continue
            account = self.pending_account(stall)
            if account is None:
                problems.append(f"{ref}: no account waiting for review")
            else:
                found.append((stall, account))
        if problems:
            raise Conflict("cannot verify: " + "; ".join(problems))
        for stall, account in found:
            moment = self._retire_replaced(stall, account)
            self._set_status(account, "verified", moment=moment)
        return [a for _, a in found]

    def accounts(self, market_code: str, *, status: str | None = None, history: bool = False,
                 reveal: bool = False) -> list[AccountSummary]:
        """Payment accounts of one market: current ones (or all, ``history``), masked unless ``reveal``.

        Revealing full numbers writes an ``account.reveal`` audit event.
        """
        market = self.market(market_code)
        query = select(PaymentAccount, Stall).join(Stall, Stall.id == PaymentAccount.stall_id).where(
            Stall.market_id == market.id)
        if status:
            if status not in ACCOUNT_STATUSES:
                raise InvalidFormat(f"status: one of {', '.join(ACCOUNT_STATUSES)}, got {status!r}",
                                    field="status", value=status, limit=", ".join(ACCOUNT_STATUSES))
            query = query.where(PaymentAccount.status == status)
        elif not history:
            query = query.where(PaymentAccount.status.in_(CURRENT_ACCOUNT_STATUSES))  # type: ignore[attr-defined]
        if self.actor.role == "owner":
            query = query.where(Stall.id == self.actor.stall_id)
        rows = self.session.exec(query.order_by(PaymentAccount.id)).all()
        if reveal:
            if self.actor.role == "officer":
                raise Forbidden("officers see masked account numbers only")
            self.audit("account.reveal", "market", market.code, note=f"{len(rows)} account numbers shown in full")
        out = [self._account_summary(market, stall, account, reveal) for account, stall in rows]
        return sorted(out, key=lambda a: (_natural(a.stall.split("/", 1)[1]), a.created_at))

    # -------------------------------------------------------------- users

    def add_user(self, username: str, role: str, *, display_name: str | None = None, password: str | None = None,
                 phone: str | None = None, markets: Iterable[str] = (), localities: Iterable[str] = (),
                 stall: str | None = None) -> User:
        """Create a user with a role and the markets or localities they may see."""
        if self.actor.role not in ("operator", "admin"):
            raise Forbidden("only administrators add users")
        db.begin_write(self.session)
        errors: list[ValidationError] = []
        name = ""
        try:
            name = accounts.clean_username(username)
        except ValidationError as error:
            errors.append(error)
        if role not in ROLES:
            errors.append(InvalidFormat(f"role: one of {', '.join(ROLES)}, got {role!r}", field="role",
                                        value=role, limit=", ".join(ROLES)))
        if phone:
            try:
                phone = accounts.clean_phone(phone, field="phone")
            except ValidationError as error:
                errors.append(error)
        if role != "owner" or password:
            try:  # the same rule as the web forms and enrolment (market40.passwords)
                passwords.check_new_password(password or "", username=name or None, phone=phone or None,
                                             breached=breached.current())
            except ValidationError as error:
                errors.append(error)
        try:
            display_name = accounts.clean_name(display_name, field="display_name", limit=120)
        except ValidationError as error:
            errors.append(error)
        if errors:
            raise ValidationError.combine(errors)
        if self.session.exec(select(User).where(User.username == name)).first() is not None:
            raise Conflict(f"user {name!r} already exists")
        stall_id = self.stall(stall).id if stall else None
        if role == "owner" and stall_id is not None:
            # One owner login per stall (the database refuses a second one too): the payout account has
            # one person answering for it. A new phone or a forgotten password is a new enrollment code.
            holder = self.session.exec(select(User).where(User.stall_id == stall_id, User.role == "owner")).first()
            if holder is not None:
                raise OwnerExists(f"stall {stall}: already has an owner login ({holder.username}); one owner login "
                                  "per stall — issue a new enrollment code to change its phone or password")
        user = User(username=name, display_name=display_name or name, role=role,
                    password_hash=passwords.hash_password(password) if password else None,
                    phone=phone or None, stall_id=stall_id)
        self.session.add(user)
        self.session.flush()
        for code in markets:
            self.session.add(UserScope(user_id=user.id, market_id=self.market(code).id))
        for code in localities:
            self.session.add(UserScope(user_id=user.id, locality_id=self.locality(code).id))
        self.session.flush()
        self.audit("user.create", "user", user.id, after={"username": name, "role": role,
                                                          "markets": list(markets), "localities": list(localities)})
        return user

    def users(self) -> list[UserSummary]:
        if self.actor.role not in ("operator", "admin"):
            raise Forbidden("only administrators list users")
        markets = {m.id: m.code for m in self.session.exec(select(Market)).all()}
        localities = {loc.id: loc.code for loc in self.session.exec(select(Locality)).all()}
        out = []
        for user in self.session.exec(select(User).order_by(User.username)).all():
            scopes = [markets.get(s.market_id, "?") if s.market_id else f"locality:{localities.get(s.locality_id)}"
                      for s in self.session.exec(select(UserScope).where(UserScope.user_id == user.id)).all()]
            out.append(UserSummary(user.username, user.display_name, user.role, user.is_active, scopes))
        return out

    # -------------------------------------------------------------- enrollment codes

    def issue_enrollment_codes(self, *, key: bytes | str, market: str | None = None, stall: str | None = None,
                               valid_days: int = 14) -> list[EnrollmentSlip]:
        """One-time codes for owners to enrol (one stall, or every operating stall of a market).

        A new code replaces the stall's earlier unused ones. Codes are returned once, for
        printing, and stored only as a keyed hash.
        """
        self._require_write()
        if (market is None) == (stall is None):
            raise InvalidFormat("give either a market or a stall", field="market", value=market or stall,
                                limit="exactly one of market, stall")
        if not 1 <= valid_days <= 90:
            raise InvalidLength(f"valid_days: 1–90 days, got {valid_days}", field="valid_days", value=valid_days,
                                limit="1–90")
        if stall is not None:
            targets = [self.stall(stall)]
            market_row = self.session.get(Market, targets[0].market_id)
        else:
            market_row = self.market(market)  # type: ignore[arg-type]
            targets = list(self.session.exec(select(Stall).where(Stall.market_id == market_row.id,
                                                                  Stall.status == "operating")).all())
            targets.sort(key=lambda s: _natural(s.code))
        assert market_row is not None
        now = utcnow()
        expires = now + timedelta(days=valid_days)
        stall_ids = [s.id for s in targets]
        for chunk in _chunks(stall_ids, 900):
            for old in self.session.exec(select(EnrollmentCode).where(
                    EnrollmentCode.stall_id.in_(chunk), EnrollmentCode.used_at.is_(None),  # type: ignore
                    EnrollmentCode.expires_at > now)).all():
                old.expires_at = now
                self.session.add(old)
        slips = []
        for target in targets:
            code = passwords.new_enrollment_code()
            self.session.add(EnrollmentCode(stall_id=target.id, code_hash=passwords.hash_enrollment_code(code, key),
                                            expires_at=expires, created_by=self.actor.name))
            slips.append(EnrollmentSlip(f"{market_row.code}/{target.code}", market_row.name, target.shop_name,
                                        target.owner_name, passwords.format_enrollment_code(code), expires,
                                        market_row.board_contact_name, market_row.board_contact_phone))
        self.session.flush()
        for target in targets:  # each stall's trail shows its codes (who issued one, when)
            self.audit("enrollment.issue", "stall", target.id,
                       after={"stall": f"{market_row.code}/{target.code}", "valid_days": valid_days},
                       note=f"stall {market_row.code}/{target.code}")
        if stall is None:
            self.audit("enrollment.issue", "market", market_row.code,
                       note=f"{len(slips)} codes, valid {valid_days} days")
        return slips


# ------------------------------------------------------------------ helpers

def _identifier(value: str | None, reveal: bool) -> str | None:
    return value if reveal or not value else accounts.mask_identifier(value)


def _merchant_id(payload: str | None) -> str | None:
    if not payload:
        return None
    try:
        return accounts.receiving_qr(payload, allow_unknown_bin=True).merchant_id
    except ValidationError:
        return None


def _snapshot(row: Any) -> dict[str, Any]:
    return mask_record(row.model_dump())


def _required_text(value: Any, name: str, limit: int) -> str:
    text = _optional_text(value, name, limit)
    if not text:
        raise InvalidFormat(f"{name}: required", field=name, value=value, limit=f"1–{limit} characters")
    return text


def _optional_text(value: Any, name: str, limit: int) -> str | None:
    if value is None:
        return None
    return accounts.clean_name(value, field=name, limit=limit)


def _tier(value: Any) -> str | None:
    """Tiers are data (a label with a source and date); only the Arabic digits are normalised."""
    text = _optional_text(value, "tier", 32)
    return {"1": "I", "2": "II", "3": "III"}.get(text or "", text)


def _optional_date(value: Any, name: str) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        pass
    for fmt in ("%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y"):  # how Vietnamese offices write dates
        try:
            return datetime.strptime(str(value).strip(), fmt).date()
        except ValueError:
            continue
    raise InvalidFormat(f"{name}: a date as YYYY-MM-DD or DD/MM/YYYY, got {value!r}", field=name, value=value,
                        limit="YYYY-MM-DD or DD/MM/YYYY")


_TRUE = {"1", "x", "yes", "y", "true", "co", "có", "c", "v"}
_FALSE = {"", "0", "no", "n", "false", "khong", "không", "k"}


def _boolean(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    from ..text import search_key
    key = search_key(str(value))
    if key in {search_key(t) for t in _TRUE}:
        return True
    if key in {search_key(f) for f in _FALSE}:
        return False
    raise InvalidFormat(f"{name}: có/không (yes/no, x or empty), got {value!r}", field=name, value=value,
                        limit="có/không")


def _preferred(rows: Sequence[PaymentAccount]) -> PaymentAccount | None:
    """Of a stall's current accounts, the verified one (a pending replacement waits beside it)."""
    verified = [a for a in rows if a.status == "verified"]
    return verified[0] if verified else (rows[0] if rows else None)


def _natural(code: str) -> tuple:
    """``A-2`` before ``A-10``."""
    import re
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", code))


def _chunks(items: list, size: int) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
