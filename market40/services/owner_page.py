"""What an owner's status page reads beside their stall, in one statement: notices and erasure state.

The page used to read the stall's accounts, then their audit events, then the stall's erasure
events (three statements built on every request). Here both come from the audit trail with
one SELECT, built once (SQLAlchemy caches its compiled form): the ten newest notices about the
stall's accounts (joined to the account for its bank and masked number) and the stall's erasure
events. The rules stay where they are: :func:`market40.services.notices.owner_notices` and
:func:`market40.services.erasure.erasure_state` answer the same (tests compare them).
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import Integer, String, bindparam, cast, literal_column, null, or_, select, union_all
from sqlmodel import Session

from ..models import AuditEvent, PaymentAccount, User
from . import erasure, notices

__all__ = ["owner_page"]

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
    told = sorted((r for r in rows if r.action in notices.NOTICE_ACTIONS), key=lambda r: (r.at, r.id),
                  reverse=True)
    asked = sorted((r for r in rows if r.action in erasure.ERASURE_ACTIONS), key=lambda r: (r.at, r.id))
    return [notices.notice(r, r) for r in told], erasure.state_from(asked)
