"""Reading the audit trail: one stall's history, and the erasure requests staff must answer.

Scoped like everything else: a stall's trail goes through :meth:`Registry.stall`, so
staff see the stalls of their markets only (a refusal is itself audited there). The
trail was written with account numbers and phones already masked.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_
from sqlmodel import select

from ..models import AuditEvent, Market, PaymentAccount, Stall, User
from .auditlog import CONSTANTS, compact_record, expand_record
from .registry import Registry

__all__ = ["TrailEntry", "stall_trail", "erasure_requests", "compact_record", "expand_record", "CONSTANTS"]


@dataclass
class TrailEntry:
    at: datetime
    actor: str
    action: str
    entity: str
    entity_id: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    note: str | None
    effective_at: datetime | None = None  # when it happened, if staff dated it (``at``: when recorded)


def _json(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return {"text": text}
    return expand_record(value) if isinstance(value, dict) else {"value": value}


def _entry(event: AuditEvent) -> TrailEntry:
    return TrailEntry(event.at, event.actor, event.action, event.entity, event.entity_id, _json(event.before),
                      _json(event.after), event.note, event.effective_at)


def stall_trail(registry: Registry, ref: str, *, limit: int = 500) -> list[TrailEntry]:
    """What happened to one stall, newest first: the stall, its accounts, its owner's logins."""
    stall = registry.stall(ref)
    session = registry.session
    account_ids = [str(i) for i in session.exec(select(PaymentAccount.id).where(PaymentAccount.stall_id == stall.id))]
    user_ids = [str(i) for i in session.exec(select(User.id).where(User.stall_id == stall.id))]
    conditions = [and_(AuditEvent.entity == "stall", AuditEvent.entity_id == str(stall.id))]
    if account_ids:
        conditions.append(and_(AuditEvent.entity == "payment_account",
                               AuditEvent.entity_id.in_(account_ids)))  # type: ignore[union-attr]
    if user_ids:
        conditions.append(and_(AuditEvent.entity == "user", AuditEvent.entity_id.in_(user_ids)))  # type: ignore
    events = session.exec(select(AuditEvent).where(or_(*conditions))
                          .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())  # type: ignore[attr-defined]
                          .limit(limit)).all()
    return [_entry(e) for e in events]


def erasure_requests(registry: Registry, *, limit: int = 100) -> list[tuple[str, TrailEntry]]:
    """Erasure requests of the stalls in this actor's markets, newest first, with each stall's ref."""
    codes = [m.code for m in registry.markets()]
    if not codes:
        return []
    session = registry.session
    stalls = {str(stall_id): f"{market}/{code}" for stall_id, market, code in session.exec(
        select(Stall.id, Market.code, Stall.code).join(Market, Market.id == Stall.market_id)
        .where(Market.code.in_(codes))).all()}  # type: ignore[attr-defined]
    events = session.exec(select(AuditEvent).where(AuditEvent.action == "erasure.request",
                                                   AuditEvent.entity == "stall")
                          .order_by(AuditEvent.at.desc()).limit(limit * 10)).all()  # type: ignore[attr-defined]
    out = [(stalls[e.entity_id], _entry(e)) for e in events if e.entity_id in stalls]
    return out[:limit]
