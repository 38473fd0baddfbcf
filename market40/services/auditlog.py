"""Writing the audit trail: the one place an audit event is made, with personal data masked.

Decree 356/2025 asks every processing of personal data to be logged; the log itself must not
become a copy of that data. Every writer in the services goes through :func:`record` (one event
on a session) or :func:`row` (a plain row for bulk inserts of imports); both pass ``before`` and
``after`` through :func:`mask_record`: account numbers keep their last 4 characters, phones and
household identifiers their last 3, payloads and hashes are left out. Masking is idempotent, so
a caller that already masked loses nothing.
"""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlmodel import Session

from .. import accounts
from ..models import AuditEvent, utcnow

__all__ = ["record", "row", "mask_record"]

_LEFT_OUT = ("payload", "merchant_payload", "password_hash", "code_hash", "totp_secret")
_PHONES = ("owner_phone", "board_contact_phone", "phone")
_IDENTIFIERS = ("business_reg_no", "tax_code")
_MASK = "•"


def _masked(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(_MASK)


def mask_record(data: dict[str, Any]) -> dict[str, Any]:
    """A record for the audit trail: numbers and phones masked, payloads and hashes left out.

    >>> mask_record({"number": "0011012344418", "owner_phone": "0912345678", "payload": "000201…"})
    {'number': '•••• 4418', 'owner_phone': '•••678'}
    >>> mask_record(mask_record({"number": "0011012344418"}))
    {'number': '•••• 4418'}
    """
    out = {key: value for key, value in data.items() if key not in _LEFT_OUT}
    if out.get("number") and not _masked(out["number"]):
        out["number"] = accounts.mask(out["number"])
    for key in _IDENTIFIERS:
        if out.get(key) and not _masked(out[key]):
            out[key] = accounts.mask_identifier(out[key])
    for key in _PHONES:
        if out.get(key) and not _masked(out[key]):
            out[key] = _MASK * 3 + str(out[key])[-3:]
    return out


def _text(data: dict[str, Any] | None) -> str | None:
    return None if data is None else json.dumps(mask_record(data), ensure_ascii=False, default=str)


def row(actor: str, action: str, entity: str, entity_id: Any, *, before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None, note: str | None = None, effective_at: datetime | None = None,
        at: datetime | None = None) -> dict[str, Any]:
    """One audit event as a plain row (for bulk inserts), masked like :func:`record`'s."""
    return {"at": at or utcnow(), "actor": actor[:64], "action": action, "entity": entity,
            "entity_id": None if entity_id is None else str(entity_id)[:64], "effective_at": effective_at,
            "before": _text(before), "after": _text(after), "note": note}


def record(session: Session, actor: str, action: str, entity: str, entity_id: Any = None, *,
           before: dict[str, Any] | None = None, after: dict[str, Any] | None = None, note: str | None = None,
           effective_at: datetime | None = None) -> AuditEvent:
    """Add one audit event to ``session`` (committed with the change it records)."""
    fields = row(actor, action, entity, entity_id, before=before, after=after, note=note,
                 effective_at=effective_at)
    event = AuditEvent(**fields)
    session.add(event)
    return event
