"""Writing the audit trail: the one place an audit event is made, with personal data masked.

Decree 356/2025 asks every processing of personal data to be logged; the log itself must not
become a copy of that data. Every writer in the services goes through :func:`record` (one event
on a session) or :func:`row` (a plain row for bulk inserts of imports); both pass ``before`` and
``after`` through :func:`mask_record`: account numbers keep their last 4 characters, phones and
household identifiers their last 3, payloads and hashes are left out. Masking is idempotent, so
a caller that already masked loses nothing.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from sqlmodel import Session

from .. import accounts
from ..models import AuditEvent, utcnow

__all__ = ["record", "row", "mask_record", "refer", "compact_record", "expand_record", "restore_implied",
           "CONSTANTS", "IMPLIED", "COLUMNS", "creation_row", "BATCH_ACTION", "BATCH_OF", "batch_row", "ranges",
           "in_ranges"]

_LEFT_OUT = ("payload", "merchant_payload", "password_hash", "code_hash", "totp_secret")
_PHONES = ("owner_phone", "board_contact_phone", "phone")
_IDENTIFIERS = ("business_reg_no", "tax_code", "owner_tax_code")
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


# --- compact records: long constants referred to, not repeated ---------------------------------

#: Long constant texts an audit record refers to instead of repeating them (a bulk import would
#: otherwise store the 170-character consent purpose once per account): ``{"$ref": "consent/<sha>"}``.
#: A text that changes keeps its old entry here, so old records still read in full.
CONSTANTS: dict[str, str] = {}
_REFERENCES: dict[str, dict[str, str]] = {}


def refer(text: str, kind: str) -> str:
    """Make ``text`` a constant records refer to (``kind/<sha16>``); returns its key."""
    key = f"{kind}/{hashlib.sha256(text.encode('utf-8')).hexdigest()[:16]}"
    CONSTANTS[key] = text
    _REFERENCES[text] = {"$ref": key}
    return key


def compact_record(record: dict[str, Any] | None, *, created: bool = False) -> dict[str, Any] | None:
    """An audit record with known constant texts referred to; a creation's empty fields left out
    (a field a creation does not list was empty). :func:`expand_record` reads it back."""
    if record is None:
        return None
    references = _REFERENCES
    if created:
        return {key: references.get(value, value) if type(value) is str else value
                for key, value in record.items() if value is not None}
    return {key: references.get(value, value) if type(value) is str else value for key, value in record.items()}


#: Fields of a compact creation record left out when the event itself says them: the new row's ``id``
#: is the event's ``entity_id``; its ``created_at`` / ``updated_at`` / ``consent_at`` are the event's
#: ``at`` (the import's time, unless the board dated it: then they are kept); ``created_by`` is the
#: event's actor; a stall's ``code_key`` follows from its ``code``. :func:`restore_implied` puts them back.
IMPLIED = {"stall.create": ("id", "created_at", "updated_at", "code_key"),
           "account.register": ("id", "created_at", "consent_at", "created_by")}


def _implied(action: str, key: str, entity_id: Any, at: Any, actor: str, record: dict[str, Any]) -> Any:
    if key == "id":
        return int(entity_id) if isinstance(entity_id, str) and entity_id.isdigit() else entity_id
    if key == "created_by":
        return actor
    if key == "code_key":
        return accounts.stall_key(record["code"]) if record.get("code") else None
    return at


def _drop_implied(action: str, record: dict[str, Any], entity_id: Any, at: Any, actor: str) -> dict[str, Any]:
    keys = IMPLIED.get(action)
    if not keys:
        return record
    drop = [key for key in keys if key in record and record[key] == _implied(action, key, entity_id, at, actor, record)]
    return {k: v for k, v in record.items() if k not in drop} if drop else record


def restore_implied(record: dict[str, Any], action: str, entity_id: Any, at: Any, actor: str) -> dict[str, Any]:
    """A creation record with the fields its event implies put back (see :data:`IMPLIED`).

    Records written whole (a stall created on the web) already hold them and are left as they are;
    the times come back as text, as a record's times read."""
    keys = IMPLIED.get(action)
    if not keys:
        return record
    for key in keys:
        if key not in record:
            value = _implied(action, key, entity_id, at, actor, record)
            if value is not None:
                record[key] = str(value) if key in ("created_at", "updated_at", "consent_at") else value
    return record


def expand_record(record: dict[str, Any]) -> dict[str, Any]:
    """The record with every ``{"$ref": ...}`` to a known constant replaced by its text."""
    for key, value in record.items():
        if isinstance(value, dict) and len(value) == 1 and value.get("$ref") in CONSTANTS:
            record[key] = CONSTANTS[value["$ref"]]
    return record


_dumps = json.JSONEncoder(ensure_ascii=False, default=str, separators=(",", ":")).encode


def _text(data: dict[str, Any] | None, compact: bool = True, masked: bool = False) -> str | None:
    if data is None:
        return None
    if not masked:
        data = mask_record(data)
    return _dumps(data) if compact else json.dumps(data, ensure_ascii=False, default=str)


def row(actor: str, action: str, entity: str, entity_id: Any, *, before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None, note: str | None = None, effective_at: datetime | None = None,
        at: datetime | None = None, compact: bool = True, masked: bool = False) -> dict[str, Any]:
    """One audit event as a plain row (for bulk inserts), masked like :func:`record`'s and compact:
    known constants referred to, a creation's empty fields left out, no spaces in the JSON.

    ``masked``: the caller passed records that already went through :func:`mask_record` (a bulk
    import masks each record once, not twice)."""
    at = at or utcnow()
    if compact:
        if before is None and after is not None:
            after = _drop_implied(action, after, entity_id, at, actor[:64])
        before, after = compact_record(before), compact_record(after, created=before is None)
    return {"at": at, "actor": actor[:64], "action": action, "entity": entity,
            "entity_id": None if entity_id is None else str(entity_id)[:64], "effective_at": effective_at,
            "before": _text(before, compact, masked), "after": _text(after, compact, masked), "note": note}


#: The columns of :func:`row` and :func:`creation_row` as tuples for a bulk insert, in this order.
COLUMNS = ("at", "actor", "action", "entity", "entity_id", "effective_at", "before", "after", "note")

_MASKERS = {"number": accounts.mask, **{key: accounts.mask_identifier for key in _IDENTIFIERS},
            **{key: (lambda value: _MASK * 3 + str(value)[-3:]) for key in _PHONES}}
_SKIPPED = frozenset(_LEFT_OUT)


def creation_row(actor: str, action: str, entity: str, entity_id: Any, record: dict[str, Any], at: datetime,
                 effective_at: datetime | None = None, note: str | None = None) -> tuple:
    """The row (a tuple in :data:`COLUMNS` order) :func:`row` makes of a creation, in one pass over the
    record for a bulk import: masked as :func:`mask_record` masks, empty fields and payloads left out,
    known constants referred to. The caller leaves out the fields the event implies (:data:`IMPLIED`)."""
    references, maskers = _REFERENCES, _MASKERS
    out = {}
    for key, value in record.items():
        if value is None or key in _SKIPPED:
            continue
        if type(value) is str:
            if key in maskers:
                if value and not value.startswith(_MASK):
                    value = maskers[key](value)
            elif value in references:
                value = references[value]
        out[key] = value
    return (at, actor[:64], action, entity, None if entity_id is None else str(entity_id)[:64], effective_at, None,
            _dumps(out), note)


def record(session: Session, actor: str, action: str, entity: str, entity_id: Any = None, *,
           before: dict[str, Any] | None = None, after: dict[str, Any] | None = None, note: str | None = None,
           effective_at: datetime | None = None) -> AuditEvent:
    """Add one audit event to ``session`` (committed with the change it records)."""
    fields = row(actor, action, entity, entity_id, before=before, after=after, note=note,
                 effective_at=effective_at, compact=False)
    event = AuditEvent(**fields)
    session.add(event)
    return event


# --- batch creations: one event for the rows an import created ------------------------------

#: The action of an import's batch creation event: the rows it created are the "after" of their
#: creation, stored once (in their own tables), not copied into one event per row. Its ``after``
#: lists the ids per table as ``[[first, last], ...]``; the history reads each row's creation back
#: from the row and the changes recorded since (:func:`market40.services.audit.stall_trail`).
BATCH_ACTION = "import.create"
#: The per-row action a batch creation stands for, by table (what the history shows).
BATCH_OF = {"stall": "stall.create", "payment_account": "account.register"}


def ranges(ids: list[int]) -> list[list[int]]:
    """Ids as sorted ``[first, last]`` runs: ``[1, 2, 3, 7]`` → ``[[1, 3], [7, 7]]``.

    >>> ranges([3, 1, 2, 7])
    [[1, 3], [7, 7]]
    """
    out: list[list[int]] = []
    for value in sorted(ids):
        if out and value == out[-1][1] + 1:
            out[-1][1] = value
        else:
            out.append([value, value])
    return out


def in_ranges(value: int, runs: list[list[int]]) -> bool:
    """Whether ``value`` is in one of the ``[first, last]`` runs (sorted; binary search)."""
    import bisect
    index = bisect.bisect_right(runs, [value, float("inf")]) - 1
    return index >= 0 and runs[index][0] <= value <= runs[index][1]


def batch_row(actor: str, created: dict[str, list[int]], at: datetime, note: str | None = None) -> tuple:
    """The batch creation event (a tuple in :data:`COLUMNS` order): the ids each table got, as runs."""
    after = {table: ranges(ids) for table, ids in created.items() if ids}
    return (at, actor[:64], BATCH_ACTION, "import", None, None, None, _dumps(after), note)
