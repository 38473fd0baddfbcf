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
from .auditlog import (BATCH_ACTION, BATCH_OF, CONSTANTS, compact_record, expand_record, in_ranges, mask_record,
                       restore_implied)
from .registry import Registry

__all__ = ["TrailEntry", "Change", "stall_trail", "erasure_requests", "actor_names", "changes", "FIELD_ORDER",
           "batch_creations",
           "compact_record", "expand_record", "CONSTANTS"]


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
    stall: str | None = None  # ``MARKET/STALL`` the event is about
    actor_name: str | None = None  # the person: "Nguyễn Văn An (staff.hl)", filled by stall_trail


@dataclass
class Change:
    """One field of a before/after record: its key, the value before and after (None: not there)."""

    field: str
    before: Any
    after: Any


#: The order fields are listed in (the rest follow, alphabetically); internal keys are left out.
FIELD_ORDER = ("status", "status_reason", "kind", "bin", "number", "holder_name", "reference_label", "purpose",
               "owner_name", "owner_phone", "shop_name", "goods_category", "code", "stall", "phone", "user",
               "username", "role", "is_active", "verified_at", "rejected_at", "revoked_at", "due_by", "valid_days",
               "channel", "language", "version", "kind_of_notice", "to", "via")
_HIDDEN = {"id", "stall_id", "payload", "created_by", "created_at", "updated_at", "consent_purpose", "consent_at",
           "consent_channel", "verified_by_id", "at", "steps", "code_key", "market_id"}


def changes(entry: TrailEntry) -> list[Change]:
    """The entry's before/after as a list of changed (or recorded) fields, in a readable order."""
    before, after = entry.before or {}, entry.after or {}
    keys = [k for k in dict.fromkeys([*after, *before]) if k not in _HIDDEN]
    keys.sort(key=lambda k: (FIELD_ORDER.index(k) if k in FIELD_ORDER else len(FIELD_ORDER), k))
    out = []
    for key in keys:
        old, new = before.get(key), after.get(key)
        if before and after and old == new:
            continue  # unchanged: not worth a line
        out.append(Change(key, old, new))
    return out


def actor_names(session: Any, actors: list[str]) -> dict[str, str]:
    """``user:N`` → the person's name and login (``Nguyễn Văn An (staff.hl)``); other actors as they are
    (``web:…``, ``cli:…``, ``operator``), for the door to label."""
    ids = {int(a.split(":", 1)[1]) for a in actors if a.startswith("user:") and a.split(":", 1)[1].isdigit()}
    names: dict[str, str] = {}
    if ids:
        for user in session.exec(select(User).where(User.id.in_(ids))).all():  # type: ignore[union-attr]
            login = "•••" + user.username[-3:] if user.username.isdigit() else user.username  # phones masked
            display = user.display_name or login
            names[f"user:{user.id}"] = display if display in (user.username, login) else f"{display} ({login})"
    return names


def _json(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return {"text": text}
    return expand_record(value) if isinstance(value, dict) else {"value": value}


def _entry(event: AuditEvent) -> TrailEntry:
    after = _json(event.after)
    if after is not None and event.before is None:
        after = restore_implied(after, event.action, event.entity_id, event.at, event.actor)
    return TrailEntry(event.at, event.actor, event.action, event.entity, event.entity_id, _json(event.before),
                      after, event.note, event.effective_at)


def _undo(record: dict[str, Any], later: list[AuditEvent], columns: set[str]) -> dict[str, Any]:
    """A row's record as it was before ``later`` (its recorded changes, newest first): each change's
    ``after`` fields take their ``before`` values back (a field its ``before`` does not list was empty)."""
    for event in later:
        before, after = _json(event.before), _json(event.after)
        if before is None or after is None:
            continue  # a creation, a read or a note: no change of the row to undo
        for key in after:
            if key in columns:
                record[key] = before.get(key)
    return record


def batch_creations(session: Any, rows: list[Any], events: Any = ()) -> list[TrailEntry]:
    """The creations of ``rows`` (stalls, payment accounts) that an import recorded in one batch event.

    The batch event (:data:`~market40.services.auditlog.BATCH_ACTION`) lists the ids it created;
    each row's creation record is read back from the row itself, masked, with the changes recorded
    since (``events``: the row's other events) undone, so it reads as a ``stall.create`` or
    ``account.register`` event written whole would. Rows created otherwise are not listed."""
    return [entry for _, entry in _batch_creations(session, rows, events)]


def _batch_creations(session: Any, rows: list[Any], events: Any) -> list[tuple[int, TrailEntry]]:
    """:func:`batch_creations`, each with the id of its batch event (to order it among the others)."""
    by_time: dict[Any, list[Any]] = {}
    for row in rows:
        if row.created_at is not None:
            by_time.setdefault(row.created_at, []).append(row)
    if not by_time:
        return []
    batches = session.exec(select(AuditEvent).where(AuditEvent.action == BATCH_ACTION,
                                                    AuditEvent.at.in_(list(by_time)))).all()  # type: ignore
    out = []
    for batch in batches:
        listed = _json(batch.after) or {}
        for row in by_time.get(batch.at, ()):
            table = row.__tablename__
            if not in_ranges(row.id, listed.get(table, [])):
                continue
            later = sorted((e for e in events if e.entity == table and e.entity_id == str(row.id)
                            and e.id > batch.id), key=lambda e: (e.at, e.id), reverse=True)
            record = _undo(mask_record(row.model_dump()), later, set(type(row).model_fields))
            record = json.loads(json.dumps({k: v for k, v in record.items() if v is not None},
                                           ensure_ascii=False, default=str))
            out.append((batch.id, TrailEntry(batch.at, batch.actor, BATCH_OF[table], table, str(row.id), None,
                                             record, batch.note, None)))
    return out


def stall_trail(registry: Registry, ref: str, *, limit: int = 500) -> list[TrailEntry]:
    """What happened to one stall, newest first: the stall, its accounts, its owner's logins.

    Stalls and accounts an import created are recorded by one batch event per chunk of the file;
    their creation is listed here as its own event (:func:`batch_creations`)."""
    stall = registry.stall(ref)
    session = registry.session
    every_account = list(session.exec(select(PaymentAccount).where(PaymentAccount.stall_id == stall.id)))
    account_ids = [str(a.id) for a in every_account]
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
    ref = f"{registry.session.get(Market, stall.market_id).code}/{stall.code}"  # type: ignore[union-attr]
    entries = [_entry(e) for e in events]
    if len(events) < limit:  # else the creations, older than every event listed, would be cut anyway
        created = _batch_creations(session, [stall, *every_account], events)
        if created:
            keyed = [((e.at, e.id, 0), entry) for e, entry in zip(events, entries)]
            # one batch: a stall before its account (read newest first: the account first)
            keyed += [((entry.at, batch_id, entry.entity == "payment_account"), entry) for batch_id, entry in created]
            keyed.sort(key=lambda pair: pair[0], reverse=True)
            entries = [entry for _, entry in keyed][:limit]
    names = actor_names(session, [e.actor for e in entries])
    for entry in entries:
        entry.stall = ref
        entry.actor_name = names.get(entry.actor)
    return entries


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
