"""What an owner's status page reads beside their stall, in one statement: notices and erasure state.

The page used to read the stall's accounts, then their audit events, then the stall's erasure
events (three statements built on every request). Here both come from the audit trail with
one SELECT, built once (SQLAlchemy caches its compiled form): the ten newest notices about the
stall's accounts (joined to the account for its bank and masked number) and the stall's erasure
events. The rules stay where they are: :func:`market40.services.notices.owner_notices` and
:func:`market40.services.erasure.erasure_state` answer the same (tests compare them).
"""
from __future__ import annotations

from typing import Any, NamedTuple

from sqlalchemy import Integer, String, and_, bindparam, cast, func, literal_column, null, or_, select, union_all
from sqlmodel import Session

from ..models import CURRENT_ACCOUNT_STATUSES, AuditEvent, Market, PaymentAccount, Stall, User
from . import erasure, notices

__all__ = ["owner_page", "read_session_page", "read_owner_page", "PageRead", "Record"]

_EVENT = AuditEvent.__table__  # type: ignore[attr-defined]
_ACCOUNT = PaymentAccount.__table__  # type: ignore[attr-defined]


def _one_of(column: Any, values: tuple[str, ...]) -> Any:
    # constants in the SQL: no expanding IN to render on every request
    return or_(*(column == literal_column(f"'{value}'") for value in values))


_NOTICES = (
    select(_EVENT.c.id, _EVENT.c.at, _EVENT.c.action, _EVENT.c.note, _EVENT.c.actor, _ACCOUNT.c.bin,
           _ACCOUNT.c.number)
    .select_from(_EVENT)
    .join(_ACCOUNT, _ACCOUNT.c.id == cast(_EVENT.c.entity_id, Integer))
    .where(_EVENT.c.entity == literal_column("'payment_account'"),
           # the (entity, entity_id) index, looked up with the stall's accounts (a handful)
           _EVENT.c.entity_id.in_(select(cast(_ACCOUNT.c.id, String)).where(
               _ACCOUNT.c.stall_id == bindparam("stall_id")).scalar_subquery()),
           _one_of(_EVENT.c.action, notices.NOTICE_ACTIONS))
    .order_by(_EVENT.c.at.desc(), _EVENT.c.id.desc()).limit(bindparam("limit"))
    .subquery())
_ERASURE = (
    select(_EVENT.c.id, _EVENT.c.at, _EVENT.c.action, _EVENT.c.note, _EVENT.c.actor,
           null().label("bin"), null().label("number"))
    .where(_EVENT.c.entity == literal_column("'stall'"), _EVENT.c.entity_id == bindparam("stall_ref"),
           _one_of(_EVENT.c.action, erasure.ERASURE_ACTIONS))
    .subquery())
_PAGE = union_all(select(_NOTICES), select(_ERASURE))


def owner_page(session: Session, user: User, *, limit: int = 10) -> tuple[list[notices.Notice],
                                                                         erasure.ErasureState | None]:
    """The owner's notices (newest first, at most ``limit``) and erasure state, read with one SELECT."""
    if user.role != "owner" or user.stall_id is None:
        return [], None
    rows = session.execute(_PAGE, {"stall_id": user.stall_id, "stall_ref": str(user.stall_id),
                                   "limit": limit}).all()
    return _answer(rows)


class _Event(NamedTuple):
    id: int
    at: Any
    action: str
    note: str | None
    actor: str
    bin: str | None
    number: str | None


def _answer(rows: Any) -> tuple[list[notices.Notice], erasure.ErasureState | None]:
    told = sorted((r for r in rows if r.action in notices.NOTICE_ACTIONS), key=lambda r: (r.at, r.id),
                  reverse=True)
    asked = sorted((r for r in rows if r.action in erasure.ERASURE_ACTIONS), key=lambda r: (r.at, r.id))
    return [notices.notice(r, r) for r in told], erasure.state_from(asked)


# ------------------------------------------------------------------ the owner's pages on the driver

class Record:
    """A read-only row as attributes (a user, stall, market or account as the owner's pages read them)."""

    __slots__ = ("__dict__",)

    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)

    def __repr__(self) -> str:
        return f"Record({self.__dict__!r})"


_USER = User.__table__  # type: ignore[attr-defined]
_STALL = Stall.__table__  # type: ignore[attr-defined]
_MARKET = Market.__table__  # type: ignore[attr-defined]
_LATEST = _ACCOUNT.alias("latest")


def _columns(table: Any, *names: str) -> list[Any]:
    return [table.c[name] for name in names]


#: Columns the pages read, by object: what the owner's pages, their layout and the request's checks use of the
#: user (never the password hash), stall and market; every column of the accounts.
_PARTS = (("user", _columns(_USER, "id", "username", "display_name", "role", "is_active", "session_epoch",
                            "stall_id", "phone", "totp_secret", "totp_enabled_at")),
          ("stall", _columns(_STALL, "id", "market_id", "code", "shop_name", "owner_name", "status")),
          ("market", _columns(_MARKET, "id", "code", "name")),
          ("account", [_ACCOUNT.c.id, *(column for column in _ACCOUNT.c if column.name != "id")]))  # id first
#: Where each object's columns sit in a row (its id first: None for no such row), and their names.
_SLICES = []
_start = 0
for _, _part in _PARTS:
    _SLICES.append((_start, _start + len(_part), tuple(column.name for column in _part)))
    _start += len(_part)

# The signed-in user and, for an owner, their stall, its market and its accounts that the status page can
# show: the current ones (pending, verified) and the newest one (a rejected or revoked account explains what
# happened). Scoped exactly as auth.session_user_view: the stall comes from the user's own row.
_SESSION_PAGE = (
    select(*(column for _, columns in _PARTS for column in columns))
    .select_from(_USER)
    .outerjoin(_STALL, and_(_STALL.c.id == _USER.c.stall_id, _USER.c.role == literal_column("'owner'")))
    .outerjoin(_MARKET, _MARKET.c.id == _STALL.c.market_id)
    .outerjoin(_ACCOUNT, and_(_ACCOUNT.c.stall_id == _STALL.c.id, or_(
        _one_of(_ACCOUNT.c.status, CURRENT_ACCOUNT_STATUSES),
        _ACCOUNT.c.id == select(func.max(_LATEST.c.id)).where(_LATEST.c.stall_id == _STALL.c.id)
        .scalar_subquery())))
    .where(_USER.c.id == bindparam("user_id")))


def _record(names: tuple[str, ...], values: list[Any]) -> Record:
    record = Record.__new__(Record)
    record.__dict__ = dict(zip(names, values))
    return record


class _Compiled:
    """A statement compiled once for a dialect, run on a DB-API cursor, its values converted as the ORM would."""

    def __init__(self, statement: Any, dialect: Any) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql = str(compiled)
        self.defaults = {name: value for name, value in compiled.params.items() if value is not None}
        self.positions = tuple(compiled.positiontup or ()) if dialect.paramstyle in ("qmark", "numeric",
                                                                                      "format") else None
        columns = list(statement.selected_columns)
        self.names = tuple(c.name for c in columns)
        self.converters = tuple((index, processor) for index, processor in (
            (index, column.type.dialect_impl(dialect).result_processor(dialect, None))
            for index, column in enumerate(columns)) if processor is not None)

    def run(self, cursor: Any, values: dict[str, Any]) -> list[list[Any]]:
        if self.defaults:  # constants SQLAlchemy bound itself (a LIMIT's OFFSET 0)
            values = {**self.defaults, **values}
        params: Any = tuple(values[name] for name in self.positions) if self.positions is not None else values
        cursor.execute(self.sql, params)
        rows = [list(row) for row in cursor.fetchall()]
        for row in rows:
            for index, convert in self.converters:
                row[index] = convert(row[index])
        return rows


_COMPILED: dict[tuple[str, str], _Compiled] = {}


def _statement(name: str, statement: Any, dialect: Any) -> _Compiled:
    key = (name, dialect.name)
    found = _COMPILED.get(key)
    if found is None:
        found = _COMPILED[key] = _Compiled(statement, dialect)
    return found


class PageRead(NamedTuple):
    """What :func:`read_session_page` found: the user, and for an owner with a stall the page's records."""

    user: Record
    stall: Record | None
    market: Record | None
    account: Record | None  # the current account: verified (a replacement may wait beside it) or pending
    replacement: Record | None
    latest: Record | None  # the newest account of any status (what the page explains when none is current)


def read_session_page(cursor: Any, dialect: Any, user_id: Any, epoch: Any) -> PageRead | None:
    """The signed-in user and their stall, market and accounts, on a DB-API cursor with one SELECT.

    The same answer as :func:`market40.services.auth.session_user_view` (None for no such user, a
    disabled one or another session epoch; tests compare them), without building ORM objects: the
    owner's status page and QR image read nothing else about the user. Read-only.
    """
    if not isinstance(user_id, int) or not isinstance(epoch, int) or isinstance(user_id, bool):
        return None
    compiled = _statement("session_page", _SESSION_PAGE, dialect)
    rows = compiled.run(cursor, {"user_id": user_id})
    if not rows:
        return None
    (u0, u1, u_names), (s0, s1, s_names), (m0, m1, m_names), (a0, a1, a_names) = _SLICES
    first = rows[0]
    user = _record(u_names, first[u0:u1])
    if not user.is_active or user.session_epoch != epoch:
        return None
    if first[s0] is None or first[m0] is None:
        return PageRead(user, None, None, None, None, None)
    stall, market = _record(s_names, first[s0:s1]), _record(m_names, first[m0:m1])
    accounts = sorted({row[a0]: _record(a_names, row[a0:a1]) for row in rows if row[a0] is not None}.values(),
                      key=lambda a: a.id)
    verified = [a for a in accounts if a.status == "verified"]
    pending = [a for a in accounts if a.status == "pending"]
    current = verified[0] if verified else pending[0] if pending else None
    replacement = pending[0] if verified and pending else None
    return PageRead(user, stall, market, current, replacement, accounts[-1] if accounts else None)


def read_owner_page(cursor: Any, dialect: Any, stall_id: int, *, limit: int = 10) -> tuple[
        list[notices.Notice], erasure.ErasureState | None]:
    """:func:`owner_page` on a DB-API cursor (the same statement, compiled once): notices and erasure state."""
    compiled = _statement("owner_page", _PAGE, dialect)
    rows = [_Event(*row) for row in compiled.run(cursor, {"stall_id": stall_id, "stall_ref": str(stall_id),
                                                          "limit": limit})]
    return _answer(rows)
