"""The market40 registry as SQLModel tables.

Localities (versioned, with an old→new mapping), markets, stalls, the payment
accounts customers pay into, users and what they may see, the audit trail and
stall enrollment codes.

House rules kept here:

* Only data models are inherited from, never table models (SQLModel's rule):
  ``MarketBase`` holds the fields people type, ``Market`` adds the key, the
  links and the timestamps.
* Fixed vocabularies (statuses, kinds, roles) are checked by the database;
  tiers are data (a market's tier comes with its source and date), so they are
  not.
* Timestamps are timezone-aware UTC on every backend (:class:`UTCDateTime`).
* Phone and account numbers are text: leading zeros are part of the number.
* No behaviour: verifying, revoking, masking and auditing belong to the
  services, which also keep the audit trail free of plain account numbers.

The schema itself is created by the Alembic migrations in
``market40/migrations`` (see :mod:`market40.db`); a test checks that they and
these models agree.

>>> sorted(SQLModel.metadata.tables)  # doctest: +NORMALIZE_WHITESPACE
['adoption_target', 'app_user', 'audit_event', 'census_entry', 'enrollment_code', 'fee_account', 'fee_bill',
 'fee_payment', 'fee_reading', 'fee_stall', 'fee_tariff', 'live_request', 'live_transfer', 'live_watch',
 'locality', 'locality_link', 'market', 'payment_account', 'reconcile_anomaly', 'reconcile_run',
 'recovery_code', 'stall', 'stall_period', 'user_scope']
>>> utcnow().tzinfo
datetime.timezone.utc
"""
from datetime import date, datetime, timezone
from typing import Any, Optional

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Index, Text, UniqueConstraint, event, text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, Relationship, SQLModel

from .accounts import stall_key
from .households import household_key
from .reconciliation import ANOMALY_KINDS, STATES as PERIOD_STATES

__all__ = [
    "ACCOUNT_KINDS",
    "HOLDER_TYPES",
    "ACCOUNT_STATUSES",
    "CURRENT_ACCOUNT_STATUSES",
    "LOCALITY_KINDS",
    "ROLES",
    "STALL_STATUSES",
    "NAMING_CONVENTION",
    "UTCDateTime",
    "utcnow",
    "LocalityBase",
    "Locality",
    "LocalityLink",
    "MarketBase",
    "Market",
    "StallBase",
    "Stall",
    "PaymentAccountBase",
    "PaymentAccount",
    "UserBase",
    "User",
    "UserScope",
    "RecoveryCode",
    "AuditEvent",
    "EnrollmentCode",
    "PERIOD_STATES",
    "ANOMALY_KINDS",
    "AdoptionTarget",
    "CensusEntry",
    "ReconcileRun",
    "StallPeriod",
    "ReconcileAnomaly",
    "FEE_KINDS",
    "FeeAccount",
    "FeeTariff",
    "FeeStall",
    "FeeReading",
    "FeeBill",
    "FeePayment",
    "LiveTransfer",
    "LiveRequest",
    "LiveWatch",
]

# Fixed vocabularies. Changing one needs a migration (the CHECK constraints
# in the database spell them out too).
LOCALITY_KINDS = ("district", "commune")
STALL_STATUSES = ("operating", "closed")
ACCOUNT_KINDS = ("bank_account", "card", "ewallet")
HOLDER_TYPES = ("personal", "household")  # a person's account / a household business's (HKD)
ACCOUNT_STATUSES = ("pending", "verified", "rejected", "revoked")
#: A stall has at most one account in these statuses (enforced by an index).
CURRENT_ACCOUNT_STATUSES = ("pending", "verified")
ROLES = ("owner", "staff", "officer", "admin", "board")  # board: ban quản lý chợ (its markets' fees)

#: Deterministic constraint names, so later migrations can alter them
#: (SQLite's batch mode cannot drop a constraint that has no name).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
# Must be set before the first table below is declared.
SQLModel.metadata.naming_convention = NAMING_CONVENTION


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC and always read back timezone-aware (UTC).

    PostgreSQL gets ``timestamp with time zone``; SQLite, which has no time
    zones, gets the UTC wall-clock time, so text order is time order there too.
    Naive datetimes are refused: they are the bug this type exists to stop.
    """

    impl = DateTime
    cache_ok = True

    def __init__(self) -> None:
        super().__init__(timezone=True)

    def __repr__(self) -> str:
        return "UTCDateTime()"

    def process_bind_param(self, value: Optional[datetime], dialect: Dialect) -> Optional[datetime]:
        if value is None:
            return None
        if value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: use an aware one, e.g. market40.models.utcnow()")
        value = value.astimezone(timezone.utc)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Optional[datetime], dialect: Dialect) -> Optional[datetime]:
        if value is None:
            return None
        if value.utcoffset() is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def _one_of(column: str, values: tuple[str, ...]) -> str:
    listed = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({listed})"


def _created() -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


def _updated() -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False,
                 sa_column_kwargs={"onupdate": utcnow})


# --- localities -----------------------------------------------------------


class LocalityBase(SQLModel):
    """An administrative unit, valid over ``[valid_from, valid_to)``."""

    code: str = Field(max_length=16)  # GSO unit code, e.g. "193"
    name: str = Field(max_length=120)  # with diacritics: "Hạ Long"
    kind: str = Field(max_length=16)  # "district" (before 1 July 2025) or "commune"
    unit_type: str = Field(max_length=32)  # "thành phố", "huyện", "phường", "xã", "đặc khu"...
    province: str = Field(max_length=120)  # "Quảng Ninh"
    valid_from: date
    valid_to: Optional[date] = None  # first day it no longer exists; None = still exists


class Locality(LocalityBase, table=True):
    """A district-level or commune-level unit in one version of the map.

    The same code may come back in a later version of the map, so a unit is
    identified by its code *and* the day that version starts.
    """

    __tablename__ = "locality"
    __table_args__ = (
        UniqueConstraint("code", "valid_from"),
        CheckConstraint(_one_of("kind", LOCALITY_KINDS), name="kind"),
        CheckConstraint("valid_to IS NULL OR valid_to > valid_from", name="validity"),
    )

    id: Optional[int] = Field(default=None, primary_key=True)

    markets: list["Market"] = Relationship(back_populates="locality", passive_deletes="all")


class LocalityLink(SQLModel, table=True):
    """``old`` (wholly or partly) became ``new``: many-to-many, both ways.

    Reports roll figures up along these links, from communes to the former
    districts or the other way round.
    """

    __tablename__ = "locality_link"
    __table_args__ = (CheckConstraint("old_id <> new_id", name="distinct"),)

    old_id: int = Field(foreign_key="locality.id", ondelete="CASCADE", primary_key=True)
    new_id: int = Field(foreign_key="locality.id", ondelete="CASCADE", primary_key=True, index=True)


# --- markets and stalls ---------------------------------------------------


class MarketBase(SQLModel):
    code: str = Field(max_length=16)  # short and unique: "HL1"
    name: str = Field(max_length=200)  # with diacritics: "Chợ Hạ Long I"
    tier: Optional[str] = Field(default=None, max_length=32)  # "I", "II", "III": data, not an enum
    tier_source: Optional[str] = Field(default=None, max_length=200)  # the decision or list it comes from
    tier_date: Optional[date] = None
    is_central: bool = False  # chợ trung tâm
    locality_id: int = Field(foreign_key="locality.id", ondelete="RESTRICT", index=True)
    address: Optional[str] = Field(default=None, max_length=300)
    board_contact_name: Optional[str] = Field(default=None, max_length=120)
    board_contact_phone: Optional[str] = Field(default=None, max_length=20)
    # The day the programme started in this market: adoption reports leave it out of earlier months.
    onboarded_on: Optional[date] = None


class Market(MarketBase, table=True):
    __tablename__ = "market"
    __table_args__ = (UniqueConstraint("code"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    created_at: datetime = _created()
    updated_at: datetime = _updated()

    locality: Optional[Locality] = Relationship(back_populates="markets")
    # A market with stalls cannot be deleted (RESTRICT): never null their market_id.
    stalls: list["Stall"] = Relationship(back_populates="market", passive_deletes="all")


class StallBase(SQLModel):
    market_id: int = Field(foreign_key="market.id", ondelete="RESTRICT")
    code: str = Field(max_length=32)  # unique within the market: "A-12"
    shop_name: Optional[str] = Field(default=None, max_length=200)
    goods_category: Optional[str] = Field(default=None, max_length=120)
    owner_name: str = Field(max_length=200)  # the business household (hộ kinh doanh)
    owner_phone: Optional[str] = Field(default=None, max_length=20)  # text: "0912..." keeps its 0
    status: str = Field(default="operating", max_length=16)
    opened_on: Optional[date] = None
    closed_on: Optional[date] = None
    # The owner's business registration or tax code (mã số thuế / số ĐKKD), when the board knows it.
    owner_tax_code: Optional[str] = Field(default=None, max_length=20)


class Stall(StallBase, table=True):
    __tablename__ = "stall"
    __table_args__ = (
        # Also serves lookups by market_id (leading column).
        UniqueConstraint("market_id", "code"),
        # One stall per canonical key: "A-12", "A12" and "a 12" are the same stall.
        UniqueConstraint("market_id", "code_key"),
        CheckConstraint(_one_of("status", STALL_STATUSES), name="status"),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    # market40.accounts.stall_key(code), filled on insert (see _stall_code_key below). Stalls
    # that were already twins when migration 0004 ran keep a provisional key "A12~57" (with
    # their id) until staff merge them (`market40 stall twins`, `market40 stall merge`).
    code_key: Optional[str] = Field(default=None, max_length=32, nullable=False)
    # market40.households.household_key(tax code, else phone + name): the stalls of one business
    # household share it (None: the stall counts as its own household). Kept up to date below.
    household_key: Optional[str] = Field(default=None, max_length=120, index=True)
    created_at: datetime = _created()
    updated_at: datetime = _updated()

    market: Optional[Market] = Relationship(back_populates="stalls")
    # Accounts go with their stall (ON DELETE CASCADE in the database).
    accounts: list["PaymentAccount"] = Relationship(
        back_populates="stall", passive_deletes="all",
        sa_relationship_kwargs={"order_by": "PaymentAccount.id"},
    )


@event.listens_for(Stall, "before_insert")
def _stall_code_key(mapper: Any, connection: Any, target: Stall) -> None:
    """A new stall's canonical key is derived from its code (bulk inserts pass it themselves)."""
    if target.code_key is None:
        target.code_key = stall_key(target.code)


@event.listens_for(Stall, "before_insert")
@event.listens_for(Stall, "before_update")
def _stall_household_key(mapper: Any, connection: Any, target: Stall) -> None:
    """The household key follows the owner's tax code, phone and name (bulk inserts pass it themselves)."""
    target.household_key = household_key(tax_code=target.owner_tax_code, phone=target.owner_phone,
                                         name=target.owner_name)


# --- payment accounts -----------------------------------------------------


class PaymentAccountBase(SQLModel):
    """What the owner gives: where customers' money goes, and their consent."""

    kind: str = Field(max_length=16)  # bank_account (QRIBFTTA), card (QRIBFTTC), ewallet
    bin: str = Field(max_length=6)  # NAPAS participant code, 6 digits
    number: str = Field(max_length=19)  # account or card number: text, never an int
    holder_name: str = Field(max_length=100)  # upper-case ASCII, exactly as the bank shows it
    reference_label: Optional[str] = Field(default=None, max_length=25)  # 62.05 (MoMo needs it)
    # Personal account or a household business's (HKD, Circular 25/2025): an HKD account's holder
    # name is the registered business name; its registration number and tax code (MST) are optional.
    holder_type: str = Field(default="personal", max_length=16, sa_column_kwargs={"server_default": "personal"})
    business_reg_no: Optional[str] = Field(default=None, max_length=32)
    tax_code: Optional[str] = Field(default=None, max_length=14)  # MST, 10 or 13 digits, compact
    # A bank-issued merchant QR (NAPAS QRPUSH / VIETQRPay), stored exactly as issued; the account
    # fields above are then its settlement account (the one the bank feed names).
    merchant_payload: Optional[str] = Field(default=None, max_length=512, index=True)
    # Consent of the owner for this purpose (Law 91/2025 Art. 9: silence is not consent).
    consent_purpose: str = Field(max_length=200)
    consent_at: datetime = Field(sa_type=UTCDateTime)
    consent_channel: str = Field(max_length=32)  # how it was given: "paper", "web", ...


class PaymentAccount(PaymentAccountBase, table=True):
    """One registration of an account for a stall; the history is kept.

    ``pending`` → ``verified`` or ``rejected`` (with a reason); a pending or
    verified account may later be ``revoked`` (reason and time).  A stall has at
    most one verified and at most one pending account (the database refuses a
    second): a change of account waits, pending, beside the verified one, which
    stays valid until staff verify its replacement.
    """

    __tablename__ = "payment_account"
    __table_args__ = (
        # At most one verified and one pending account per stall: a replacement waits for review
        # beside the verified account it will replace (migration 0010).
        Index(
            "uq_payment_account_verified_stall",
            "stall_id",
            unique=True,
            sqlite_where=text(_one_of("status", ("verified",))),
            postgresql_where=text(_one_of("status", ("verified",))),
        ),
        Index(
            "uq_payment_account_pending_stall",
            "stall_id",
            unique=True,
            sqlite_where=text(_one_of("status", ("pending",))),
            postgresql_where=text(_one_of("status", ("pending",))),
        ),
        CheckConstraint(_one_of("kind", ACCOUNT_KINDS), name="kind"),
        CheckConstraint(_one_of("holder_type", HOLDER_TYPES), name="holder_type"),
        CheckConstraint(_one_of("status", ACCOUNT_STATUSES), name="status"),
        CheckConstraint("status <> 'verified' OR verified_at IS NOT NULL", name="verified"),
        CheckConstraint(
            "status <> 'rejected' OR (rejected_at IS NOT NULL AND status_reason IS NOT NULL)",
            name="rejected",
        ),
        CheckConstraint(
            "status <> 'revoked' OR (revoked_at IS NOT NULL AND status_reason IS NOT NULL)",
            name="revoked",
        ),
        # Which stall an incoming transfer is for: every webhook looks its account up by bank and number
        # (migration 0014; without it PostgreSQL read the whole table for each one).
        Index("ix_payment_account_bin_number", "bin", "number"),
    )

    # The branch a board's list or the owner named with the bank ("CN Hạ Long"): a note, not part of the QR.
    bank_branch: Optional[str] = Field(default=None, max_length=120)
    id: Optional[int] = Field(default=None, primary_key=True)
    stall_id: int = Field(foreign_key="stall.id", ondelete="CASCADE", index=True)
    purpose: str = Field(max_length=25)  # the stall reference placed in 62.08: "HL1 A12"
    payload: str = Field(max_length=512, index=True)  # the built VietQR string, for the inspector
    status: str = Field(default="pending", max_length=16)
    status_reason: Optional[str] = Field(default=None, max_length=500)  # why rejected or revoked
    verified_by_id: Optional[int] = Field(default=None, foreign_key="app_user.id", ondelete="SET NULL")
    verified_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    rejected_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    revoked_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = _created()
    created_by: str = Field(max_length=64)  # actor, as in the audit trail: "user:12", "cli:alice"

    stall: Optional[Stall] = Relationship(back_populates="accounts")


# --- users ----------------------------------------------------------------


class UserBase(SQLModel):
    username: str = Field(max_length=64)
    display_name: str = Field(max_length=120)
    role: str = Field(max_length=16)  # owner, staff, officer, admin
    is_active: bool = True
    phone: Optional[str] = Field(default=None, max_length=20)
    stall_id: Optional[int] = Field(default=None, foreign_key="stall.id", ondelete="SET NULL", index=True)


class User(UserBase, table=True):
    __tablename__ = "app_user"  # "user" is reserved in PostgreSQL
    __table_args__ = (
        UniqueConstraint("username"),
        CheckConstraint(_one_of("role", ROLES), name="role"),
        # One owner login per stall (issue #16): the payout account has one person answering for it.
        Index("uq_app_user_owner_stall", "stall_id", unique=True,
              sqlite_where=text("role = 'owner'"), postgresql_where=text("role = 'owner'")),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    password_hash: Optional[str] = Field(default=None, max_length=255)  # see market40.passwords
    session_epoch: int = 0  # bumped to log the user out everywhere
    created_at: datetime = _created()
    last_login_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    # Second factor (TOTP, market40.services.second_factor): the secret sealed under the
    # deployment key, when it was confirmed (NULL: not enrolled), the last time step used (replay guard).
    totp_secret: Optional[str] = Field(default=None, max_length=255)
    totp_enabled_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    totp_last_step: Optional[int] = Field(default=None, sa_type=BigInteger)

    scopes: list["UserScope"] = Relationship(back_populates="user", passive_deletes="all")


class UserScope(SQLModel, table=True):
    """One market, or one locality, that a user may see (exactly one of the two)."""

    __tablename__ = "user_scope"
    __table_args__ = (
        CheckConstraint("(market_id IS NULL) <> (locality_id IS NULL)", name="one_target"),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", ondelete="CASCADE", index=True)
    market_id: Optional[int] = Field(default=None, foreign_key="market.id", ondelete="CASCADE")
    locality_id: Optional[int] = Field(default=None, foreign_key="locality.id", ondelete="CASCADE")

    user: Optional[User] = Relationship(back_populates="scopes")


class RecoveryCode(SQLModel, table=True):
    """A single-use recovery code for a user's second factor (``used_at`` set once used).

    Only a salted scrypt hash of the code is kept; ``selector`` (its first four symbols)
    finds the row to check, so a typed code costs one hash, not ten.
    """

    __tablename__ = "recovery_code"
    __table_args__ = (Index("ix_recovery_code_user_id_selector", "user_id", "selector"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", ondelete="CASCADE")
    selector: str = Field(max_length=8)
    code_hash: str = Field(max_length=255)  # market40.passwords.hash_password (cheaper parameters)
    created_at: datetime = _created()
    used_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)


# --- audit trail and enrollment -------------------------------------------


class AuditEvent(SQLModel, table=True):
    """One read or change of registry data (Decree 356/2025: log all processing).

    ``before``/``after`` are JSON text written by the services, with account
    numbers already masked.
    """

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_entity", "entity", "entity_id"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=True)
    actor: str = Field(max_length=64)  # "user:12", "cli:alice"
    action: str = Field(max_length=64)  # "stall.update", "account.verify", "account.reveal"
    entity: str = Field(max_length=32)  # "stall", "payment_account", ...
    entity_id: Optional[str] = Field(default=None, max_length=64)
    # When it happened, if staff dated it (``--at``, a board's date column); ``at`` is when it
    # was recorded. None: it happened when it was recorded.
    effective_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    before: Optional[str] = Field(default=None, sa_type=Text)
    after: Optional[str] = Field(default=None, sa_type=Text)
    note: Optional[str] = Field(default=None, sa_type=Text)


class EnrollmentCode(SQLModel, table=True):
    """A one-time code letting a stall owner enrol; only its keyed hash is kept."""

    __tablename__ = "enrollment_code"
    __table_args__ = (UniqueConstraint("code_hash"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    stall_id: int = Field(foreign_key="stall.id", ondelete="CASCADE", index=True)
    code_hash: str = Field(max_length=64)  # market40.passwords.hash_enrollment_code
    created_at: datetime = _created()
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    created_by: str = Field(max_length=64)  # actor: "user:12", "cli:alice"


# --- census and reconciliation (issue #6) ----------------------------------
#
# The census (a market board's list of operating households for a month) is the
# denominator of adoption; reconciliation results are what reports and the
# dashboard read. Both are small (a row per household and month), edited or
# replaced as a whole per market and period, scoped like markets, and read by
# the web app: they live here, in the registry. The transfers themselves (millions
# a month, append-only, aggregated in bulk) live in the DuckDB transaction store
# (market40.txstore).

PERIOD_LENGTH = 7  # "2025-06": a calendar month, Vietnam time


class CensusEntry(SQLModel, table=True):
    """One household the market board lists as operating in a market for a period."""

    __tablename__ = "census_entry"
    __table_args__ = (
        UniqueConstraint("market_id", "period", "stall_key"),
        CheckConstraint(f"length(period) = {PERIOD_LENGTH}", name="period"),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    market_id: int = Field(foreign_key="market.id", ondelete="CASCADE")
    period: str = Field(max_length=PERIOD_LENGTH)
    stall_code: str = Field(max_length=32)  # as the board wrote it: "A-12"
    stall_key: str = Field(max_length=32)  # compared without case or separators: "A12"
    owner_name: str = Field(max_length=200)
    # The household's key when the census gives a tax code or phone (market40.households).
    household_key: Optional[str] = Field(default=None, max_length=120)
    source: str = Field(max_length=200)  # the file it came from
    imported_at: datetime = _created()
    imported_by: str = Field(max_length=64)


class AdoptionTarget(SQLModel, table=True):
    """The share of households a province wants accepting cashless payment (its plan, e.g. 0.9)."""

    __tablename__ = "adoption_target"
    __table_args__ = (CheckConstraint("target > 0 AND target <= 1", name="target"),)

    province: str = Field(max_length=120, primary_key=True)  # as in locality.province: "Quảng Ninh"
    target: float
    source: Optional[str] = Field(default=None, max_length=200)  # the plan or decision it comes from
    set_at: datetime = _created()
    set_by: str = Field(max_length=64)


class ReconcileRun(SQLModel, table=True):
    """One reconciliation of a period: what went in and the totals that came out."""

    __tablename__ = "reconcile_run"
    __table_args__ = (CheckConstraint(f"length(period) = {PERIOD_LENGTH}", name="period"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    period: str = Field(max_length=PERIOD_LENGTH, index=True)
    started_at: datetime = _created()
    finished_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    actor: str = Field(max_length=64)
    snapshot_at: datetime = Field(sa_type=UTCDateTime)  # when accepting was read: the period's end
    idle_months: int
    markets: int = 0
    stalls: int = 0
    transfers: int = 0
    amount: int = Field(default=0, sa_type=BigInteger)
    by_account: int = 0
    by_reference: int = 0
    unattributed: int = 0
    banks: Optional[str] = Field(default=None, max_length=500)  # BINs with transfers in the period
    summary: Optional[str] = Field(default=None, sa_type=Text)  # JSON: per-source counts, store path


class StallPeriod(SQLModel, table=True):
    """The state of one stall (or census household) in one period, with its evidence."""

    __tablename__ = "stall_period"
    __table_args__ = (
        UniqueConstraint("period", "market_id", "stall_key"),
        CheckConstraint(_one_of("state", PERIOD_STATES), name="state"),
        CheckConstraint(f"length(period) = {PERIOD_LENGTH}", name="period"),
        Index("ix_stall_period_market_period", "market_id", "period"),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="reconcile_run.id", ondelete="CASCADE", index=True)
    period: str = Field(max_length=PERIOD_LENGTH)
    market_id: int = Field(foreign_key="market.id", ondelete="CASCADE")
    stall_id: Optional[int] = Field(default=None, foreign_key="stall.id", ondelete="SET NULL", index=True)
    stall_code: str = Field(max_length=32)
    stall_key: str = Field(max_length=32)
    state: str = Field(max_length=16)
    accepting: bool
    active: bool
    in_census: bool
    counted: bool  # in the denominator
    covered: bool  # the transaction store holds transfers of the stall's bank for the period
    account_id: Optional[int] = Field(default=None, foreign_key="payment_account.id", ondelete="SET NULL")
    account_status: Optional[str] = Field(default=None, max_length=16)  # at the snapshot
    verified_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    transfers: int = 0
    amount: int = Field(default=0, sa_type=BigInteger)
    by_reference: int = 0
    first_transfer_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    last_transfer_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    channels: Optional[str] = Field(default=None, max_length=64)  # "statement", "webhook"


class ReconcileAnomaly(SQLModel, table=True):
    """Something a reconciliation found that needs a look (account numbers masked)."""

    __tablename__ = "reconcile_anomaly"
    __table_args__ = (
        CheckConstraint(_one_of("kind", ANOMALY_KINDS), name="kind"),
        Index("ix_reconcile_anomaly_period_kind", "period", "kind"),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="reconcile_run.id", ondelete="CASCADE", index=True)
    period: str = Field(max_length=PERIOD_LENGTH)
    kind: str = Field(max_length=32)
    market_id: Optional[int] = Field(default=None, foreign_key="market.id", ondelete="CASCADE", index=True)
    stall_id: Optional[int] = Field(default=None, foreign_key="stall.id", ondelete="SET NULL")
    stall_code: Optional[str] = Field(default=None, max_length=32)
    account: Optional[str] = Field(default=None, max_length=32)  # masked: "•••• 4418"
    bank_bin: Optional[str] = Field(default=None, max_length=6)
    detail: str = Field(max_length=500)
    transfers: int = 0
    amount: int = Field(default=0, sa_type=BigInteger)


# --- market fees (issue #11) ------------------------------------------------
#
# The board's collection account per market, tariffs as dated data with their legal source,
# what each stall's bill needs (area, position class, meter readings per period), the bills
# (one per stall and period, corrections as new versions) and the payments matched to them.
# The rules are in market40.fees; the use cases in market40.services.fees.

FEE_KINDS = ("rent", "fixed", "metered", "entry")
FEE_PAYMENT_METHODS = ("reference", "amount", "cash", "split")


class FeeAccount(SQLModel, table=True):
    """The account a market's fees are paid into (the board's or the commune's): one per market."""

    __tablename__ = "fee_account"
    __table_args__ = (UniqueConstraint("market_id"), Index("ix_fee_account_bin_number", "bin", "number"))

    id: Optional[int] = Field(default=None, primary_key=True)
    market_id: int = Field(foreign_key="market.id", ondelete="CASCADE")
    bin: str = Field(max_length=6)
    number: str = Field(max_length=19)
    holder_name: str = Field(max_length=100)
    board_name: str = Field(max_length=200)  # printed on slips and receipts: "Ban quản lý chợ Hạ Long I"
    updated_at: datetime = _updated()
    updated_by: str = Field(max_length=64)


class FeeTariff(SQLModel, table=True):
    """One row of a provincial price table, valid over ``[valid_from, valid_to)``.

    ``tier`` / ``position_class`` of None apply to every tier / class; a stall's bill takes,
    for each ``code``, the most specific row valid on the period's first day.
    """

    __tablename__ = "fee_tariff"
    __table_args__ = (
        UniqueConstraint("code", "tier", "position_class", "valid_from"),
        CheckConstraint(_one_of("kind", FEE_KINDS), name="kind"),
        CheckConstraint("unit_price > 0", name="price"),
        CheckConstraint("valid_to IS NULL OR valid_to > valid_from", name="validity"),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    code: str = Field(max_length=16)  # "THUE", "VESINH", "DIEN"
    kind: str = Field(max_length=16)
    name: str = Field(max_length=200)  # "Tiền thuê điểm kinh doanh"
    unit: str = Field(max_length=32)  # "m²/tháng", "tháng", "kWh", "lượt"
    unit_price: int = Field(sa_type=BigInteger)  # đồng
    tier: Optional[str] = Field(default=None, max_length=32)
    position_class: Optional[str] = Field(default=None, max_length=32)
    source: str = Field(max_length=300)  # the decision: "QĐ 48/2017/QĐ-UBND tỉnh Thừa Thiên Huế"
    valid_from: date
    valid_to: Optional[date] = None
    imported_at: datetime = _created()
    imported_by: str = Field(max_length=64)


class FeeStall(SQLModel, table=True):
    """What a stall's rent needs: its selling area (in hundredths of m²) and position class."""

    __tablename__ = "fee_stall"
    __table_args__ = (CheckConstraint("area_cm2 IS NULL OR area_cm2 > 0", name="area"),)

    stall_id: int = Field(foreign_key="stall.id", ondelete="CASCADE", primary_key=True)
    area_cm2: Optional[int] = None  # hundredths of a square metre: 4.5 m² → 450
    position_class: Optional[str] = Field(default=None, max_length=32)
    updated_at: datetime = _updated()


class FeeReading(SQLModel, table=True):
    """A meter reading (or an entry count) of a stall for a period, for one metered tariff code."""

    __tablename__ = "fee_reading"
    __table_args__ = (
        UniqueConstraint("stall_id", "period", "code"),
        CheckConstraint(f"length(period) = {PERIOD_LENGTH}", name="period"),
        CheckConstraint("quantity >= 0", name="quantity"),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    stall_id: int = Field(foreign_key="stall.id", ondelete="CASCADE")
    period: str = Field(max_length=PERIOD_LENGTH)
    code: str = Field(max_length=16)  # the tariff code it is priced by: "DIEN"
    previous: Optional[int] = Field(default=None, sa_type=BigInteger)
    current: Optional[int] = Field(default=None, sa_type=BigInteger)
    quantity: int = Field(sa_type=BigInteger)
    updated_at: datetime = _updated()
    updated_by: str = Field(max_length=64)


class FeeBill(SQLModel, table=True):
    """One version of a stall's bill for a period; a correction is a new version with the difference."""

    __tablename__ = "fee_bill"
    __table_args__ = (
        UniqueConstraint("number"),
        UniqueConstraint("stall_id", "period", "version"),
        UniqueConstraint("receipt_serial"),
        CheckConstraint(f"length(period) = {PERIOD_LENGTH}", name="period"),
        Index("ix_fee_bill_market_period", "market_id", "period"),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    number: str = Field(max_length=25)  # 62.01: "HL1-2612-A12" (version 2: "HL1-2612-A12-2")
    market_id: int = Field(foreign_key="market.id", ondelete="CASCADE")
    stall_id: int = Field(foreign_key="stall.id", ondelete="CASCADE", index=True)
    period: str = Field(max_length=PERIOD_LENGTH)
    version: int = 1
    reference: str = Field(max_length=25, index=True)  # 62.08: "F2612HL1 A12", the same for every version
    amount: int = Field(sa_type=BigInteger)  # this version's amount (a correction may be negative)
    lines: str = Field(sa_type=Text)  # JSON: code, name, quantity, unit, unit_price, amount, source
    due_date: date
    payload: Optional[str] = Field(default=None, max_length=512)  # the dynamic VietQR (None when amount <= 0)
    issued_at: datetime = _created()
    issued_by: str = Field(max_length=64)
    receipt_serial: Optional[str] = Field(default=None, max_length=32)
    paid_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)


class FeePayment(SQLModel, table=True):
    """Money applied to a bill (a matched transfer, a share of one, or cash), with its evidence."""

    __tablename__ = "fee_payment"
    __table_args__ = (
        UniqueConstraint("bill_id", "tx_key"),
        CheckConstraint(_one_of("method", FEE_PAYMENT_METHODS), name="method"),
        CheckConstraint("amount > 0", name="amount"),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    bill_id: int = Field(foreign_key="fee_bill.id", ondelete="CASCADE", index=True)
    amount: int = Field(sa_type=BigInteger)
    method: str = Field(max_length=16)
    tx_key: str = Field(max_length=96)  # "970436:FT26120012345" for a transfer, "cash:<n>" for cash
    paid_at: datetime = Field(sa_type=UTCDateTime)
    channel: Optional[str] = Field(default=None, max_length=16)  # statement, webhook, cash
    content: Optional[str] = Field(default=None, max_length=300)  # the transfer content as received
    note: Optional[str] = Field(default=None, max_length=500)  # over-payment, wrong period, ...
    recorded_at: datetime = _created()
    recorded_by: str = Field(max_length=64)

# --- live payments (issue #10) ----------------------------------------------
#
# Transfers pushed by bank feeds (webhooks) as they happen: the loa announces them, the
# owner's day and month views read them, and the reconciliation copies them into the
# transaction store (market40.services.live.sync_into_store). One row per bank + bank
# transaction id, whatever channel or retry brought it. No payer data is ever stored.

LIVE_METHODS = ("account", "reference")


class LiveTransfer(SQLModel, table=True):
    """One incoming transfer received live, attributed to a stall by the reconciliation's rules."""

    __tablename__ = "live_transfer"
    __table_args__ = (
        UniqueConstraint("bank_bin", "tx_id"),
        CheckConstraint("amount > 0", name="amount"),
        CheckConstraint("method IS NULL OR " + _one_of("method", LIVE_METHODS), name="method"),
        Index("ix_live_transfer_stall_id_id", "stall_id", "id"),
        Index("ix_live_transfer_market_id_received_at", "market_id", "received_at"),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    bank_bin: str = Field(max_length=6)
    tx_id: str = Field(max_length=64)  # the bank's reference as the feed gives it
    account: str = Field(max_length=19)  # the credited account (the stall's own), never shown in full
    amount: int = Field(sa_type=BigInteger)
    booked_at: datetime = Field(sa_type=UTCDateTime)
    content: str = Field(default="", max_length=500)
    provider: str = Field(max_length=16)  # sepay, casso, payos, market40
    source: str = Field(max_length=40)  # the configured feed it came through
    provider_id: str = Field(default="", max_length=64)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=True)
    market_id: Optional[int] = Field(default=None, foreign_key="market.id", ondelete="CASCADE")
    stall_id: Optional[int] = Field(default=None, foreign_key="stall.id", ondelete="CASCADE")
    method: Optional[str] = Field(default=None, max_length=16)  # how it was attributed
    reason: Optional[str] = Field(default=None, max_length=80)  # why it was not
    request_id: Optional[int] = Field(default=None, foreign_key="live_request.id", ondelete="SET NULL")


class LiveRequest(SQLModel, table=True):
    """An exact amount the owner asked for, with a one-time reference in the QR's 62.08."""

    __tablename__ = "live_request"
    __table_args__ = (UniqueConstraint("code"), CheckConstraint("amount > 0", name="amount"))

    id: Optional[int] = Field(default=None, primary_key=True)
    stall_id: int = Field(foreign_key="stall.id", ondelete="CASCADE", index=True)
    code: str = Field(max_length=8)  # the one-time part of the reference: "HL1 A12 K7Q2M"
    amount: int = Field(sa_type=BigInteger)
    created_at: datetime = _created()
    expires_at: datetime = Field(sa_type=UTCDateTime)
    created_by: str = Field(max_length=64)
    paid: int = Field(default=0, sa_type=BigInteger)  # what has arrived against it
    settled_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)


class LiveWatch(SQLModel, table=True):
    """A read-only link or code the owner gave a helper to watch the stall's loa; only its hash is kept."""

    __tablename__ = "live_watch"
    __table_args__ = (UniqueConstraint("token_hash"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    stall_id: int = Field(foreign_key="stall.id", ondelete="CASCADE", index=True)
    token_hash: str = Field(max_length=64)
    label: str = Field(max_length=64)
    created_at: datetime = _created()
    created_by: str = Field(max_length=64)
    revoked_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
