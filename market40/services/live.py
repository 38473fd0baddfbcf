"""Live payments: store what bank feeds push, attribute it, announce it, keep it for the owner.

**Storing** (:func:`receive`): one row per bank + bank transaction id (``live_transfer``,
unique ``(bank_bin, tx_id)``), inserted with ``ON CONFLICT DO NOTHING`` so that any number of
web processes (SQLite in WAL mode, or PostgreSQL) can take the same transfer at once and exactly
one of them stores and announces it. A provider's retry, and the same transfer reported by a
second provider, carry the same bank reference and are answered as already stored.

**When the ids differ between channels.** A feed's id is not always the statement's: SePay's
``referenceCode`` is the reference of the bank's notification as SePay read it, which is not the
"Số tham chiếu" of the account statement exported later, and a feed that sends no bank reference
gets ``SEPAY-<id>``/``CASSO-<id>``. So when live transfers join the transaction store for a
reconciliation (:func:`sync_into_store`), the rule is:

1. same BIN and transaction id as a stored transfer → the same transfer (the store's own dedupe);
2. otherwise a live transfer is the twin of a *statement* row with the same BIN, credited account,
   amount, content (as the matcher reads it, :func:`market40.reconciliation.content_text`) and
   Vietnam-time day, paired one to one: *n* statement rows cancel at most *n* live rows, so two
   buyers who each paid 20,000 đ with the same content stay two transfers. The statement, the
   bank's own record, wins: the twin live rows are removed from the store (never from the
   registry, where the owner's history stays). This runs again after every import, in either
   order. The live rows a statement stands for are listed in the store's ``live_twin`` table, so
   they are neither offered again nor paired twice.

**Attribution** uses the reconciliation's rules (:func:`market40.reconciliation.attribute` with its
:class:`~market40.reconciliation.Directory` and :class:`~market40.reconciliation.ReferenceIndex`):
by the credited account, else by the stall reference in the content. A transfer no stall owns is
stored unattributed (the reconciliation lists it) and announced to nobody.

**Exact amounts** (:func:`create_request`): a one-time code in the dynamic QR's 62.08
(``HL1 A12 K7Q2MX``); a transfer to the stall whose content carries the code, before it expires,
is compared with what is still due: "đủ", or "THIẾU … đồng" (:func:`market40.speech.collected`).

**Privacy**: no payer field ever reaches this module (:mod:`market40.webhooks` drops them);
contents are shown with long digit runs masked; :func:`purge` deletes transfers older than the
retention, :func:`erase_stall` everything live of one stall (the owner's erasure). Refused webhook
requests are audited (:func:`record_refusal`) and never stored.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from .. import accounts, livebus, speech
from .. import reconciliation as rules
from ..exceptions import Forbidden, NotFound, ValidationError
from ..models import (AuditEvent, LiveRequest, LiveTransfer, LiveWatch, Market, PaymentAccount, Stall, utcnow)
from ..webhooks import Incoming, Source
from .registry import Actor

__all__ = ["Received", "receive", "event_of", "record_refusal", "attribute_incoming", "create_request",
           "REQUEST_MINUTES", "purge", "erase_stall", "sync_into_store", "day_view", "month_view", "feed_status",
           "create_watch", "revoke_watch", "watch_stall", "watches", "mask_content", "events_after",
           "parse_retention"]

VN = rules.VN_TZ
#: How long a requested amount's QR stays valid.
REQUEST_MINUTES = 10
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I
_INDEX_TTL = 30.0  # seconds a process reuses the stall-reference index
#: Live rows received this long before the last copy into the store are offered again.
RESYNC_WINDOW = timedelta(minutes=5)


@dataclass
class Received:
    """What :func:`receive` did: ``stored`` (new), ``duplicate``, ``outgoing``; the event to announce."""

    outcome: str
    transfer: LiveTransfer | None = None  # the stored row (the fast lane, which needs none after, gives None)
    event: dict[str, Any] | None = None
    to_fee_account: bool = False  # paid into a market board's collection account: fees.match_live applies it


def mask_content(text: str | None) -> str:
    """A transfer content as people see it: runs of 6+ digits (account numbers) masked.

    >>> mask_content("MBVCB.3278614981.HL1 A12.CT tu 0011001234567")
    'MBVCB.•••981.HL1 A12.CT tu •••567'
    """
    return re.sub(r"\d{6,}", lambda m: "•••" + m.group(0)[-3:], (text or "").strip())[:200]


# ----------------------------------------------------------------------------- attribution

_index_cache: dict[str, tuple[float, rules.ReferenceIndex]] = {}
_index_lock = threading.Lock()


def _reference_index(session: Session) -> rules.ReferenceIndex:
    key = str(session.get_bind().url)
    now = time.monotonic()
    with _index_lock:
        cached = _index_cache.get(key)
        if cached and now - cached[0] < _INDEX_TTL:
            return cached[1]
    references = []
    for market_code, stall_code, stall_id in session.execute(
            select(Market.code, Stall.code, Stall.id).join(Market, Market.id == Stall.market_id)).all():
        try:
            references.append((accounts.stall_reference(market_code, stall_code), stall_id))
        except ValidationError:
            continue  # too long for a reference: paid by account only (as the reconciliation does)
    index = rules.ReferenceIndex(references)
    with _index_lock:
        _index_cache[key] = (now, index)
    return index


def forget_index() -> None:
    """Drop the cached stall references (tests, or after a bulk enrolment)."""
    with _index_lock:
        _index_cache.clear()


def _aware(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def attribute_incoming(session: Session, incoming: Incoming) -> rules.Attribution:
    """The stall a transfer belongs to, by the reconciliation's rules (only this account's registrations are read)."""
    registrations = [rules.Registration(
        r.id, r.stall_id, r.bin, r.number, r.status, _aware(r.created_at), _aware(r.verified_at),
        _aware(r.revoked_at), _aware(r.rejected_at), r.holder_name)
        for r in session.execute(select(
            PaymentAccount.id, PaymentAccount.stall_id, PaymentAccount.bin, PaymentAccount.number,
            PaymentAccount.status, PaymentAccount.created_at, PaymentAccount.verified_at, PaymentAccount.revoked_at,
            PaymentAccount.rejected_at, PaymentAccount.holder_name).where(
            PaymentAccount.bin == incoming.bank_bin, PaymentAccount.number == incoming.account)).all()]
    directory = rules.Directory(registrations)
    transfer = rules.Transfer(incoming.bank_bin, incoming.tx_id, incoming.booked_at, incoming.account,
                              incoming.amount, incoming.content, "webhook")
    owners = directory.owners(incoming.bank_bin, incoming.account, incoming.booked_at)
    if len(owners) == 1:  # the index is only read when the account does not decide
        return rules.attribute(transfer, directory, rules.ReferenceIndex(()))
    return rules.attribute(transfer, directory, _reference_index(session))


# ----------------------------------------------------------------------------- receiving

def _insert(session: Session, values: dict[str, Any]) -> dict[str, Any] | None:
    """Insert unless (bank_bin, tx_id) is stored; the stored row's columns, or None for a duplicate."""
    dialect = session.get_bind().dialect.name
    maker = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = LiveTransfer.__table__  # type: ignore[attr-defined]
    statement = maker(table).values(**values).on_conflict_do_nothing(
        index_elements=["bank_bin", "tx_id"]).returning(*table.c)
    row = session.execute(statement).mappings().first()
    return None if row is None else dict(row)


def _vn(moment: datetime) -> datetime:
    return moment.astimezone(VN) if moment.tzinfo else moment.replace(tzinfo=VN)


def receive(session: Session, source: Source, incoming: Incoming, *, now: datetime | None = None) -> Received:
    """Store one verified transfer (caller commits), attribute it, match a requested amount.

    Outgoing transfers are not stored (the provider still gets its success answer).
    """
    if not incoming.incoming:
        return Received("outgoing")
    now = now or utcnow()
    if session.get_bind().dialect.name == "sqlite":
        # Take SQLite's write lock before reading: a deferred transaction that reads and then
        # writes fails at once ("database is locked") when another process wrote meanwhile,
        # whereas waiting for the lock here honours the busy timeout. Call it first in a transaction.
        session.execute(text("UPDATE live_request SET paid = paid WHERE 0"))
    found = attribute_incoming(session, incoming)
    to_board = _board_account(session, incoming)
    if found.method == "reference" and to_board:
        found = rules.Attribution(None, None, "market board's fee account")  # market fees: see _board_account
    stall_id = found.stall if isinstance(found.stall, int) else None
    # the stall's market in the insert itself: one round trip fewer per webhook
    market_id = select(Stall.market_id).where(Stall.id == stall_id).scalar_subquery() if stall_id else None
    booked = incoming.booked_at.replace(tzinfo=VN) if incoming.booked_at.tzinfo is None else incoming.booked_at
    values = dict(bank_bin=incoming.bank_bin, tx_id=incoming.tx_id, account=incoming.account,
                  amount=incoming.amount, booked_at=booked, content=incoming.content[:500],
                  provider=incoming.provider, source=source.name, provider_id=incoming.provider_id[:64],
                  received_at=now, market_id=market_id, stall_id=stall_id, method=found.method,
                  reason=(found.reason or None) and found.reason[:80])
    stored = _insert(session, values)
    if stored is None:
        return Received("duplicate")
    row = LiveTransfer(**stored)  # as stored (RETURNING): no read back
    request = _match_request(session, row, now) if stall_id else None
    return Received("stored", row, event_of(row, request) if stall_id else None, to_board)


def _board_account(session: Session, incoming: Incoming) -> bool:
    """Market fees (issue #11): a transfer to a market board's collection account pays a fee bill
    (``F2612HL1 A12`` names stall HL1 A12's bill), never money for that stall's loa to announce;
    ``web/live.py`` hands it to :func:`market40.services.fees.match_live`."""
    from ..models import FeeAccount
    return session.execute(select(FeeAccount.id).where(FeeAccount.bin == incoming.bank_bin,
                                                       FeeAccount.number == incoming.account)).first() is not None


def _match_request(session: Session, row: LiveTransfer, now: datetime) -> tuple[int, int] | None:
    """The open request of the stall whose code the content carries: (requested, still due before)."""
    text = rules.content_text(row.content).replace(" ", "")
    if not text:
        return None
    open_requests = session.execute(select(LiveRequest.id, LiveRequest.code, LiveRequest.amount).where(
        LiveRequest.stall_id == row.stall_id, LiveRequest.settled_at.is_(None),  # type: ignore[union-attr]
        LiveRequest.expires_at >= now)).all()
    for request_id, code, amount in open_requests:
        if code in text:
            paid = session.execute(update(LiveRequest).where(LiveRequest.id == request_id).values(
                paid=LiveRequest.paid + row.amount).returning(LiveRequest.paid)).scalar_one()
            if paid >= amount:
                session.execute(update(LiveRequest).where(LiveRequest.id == request_id).values(settled_at=now))
            session.execute(update(LiveTransfer).where(LiveTransfer.id == row.id).values(request_id=request_id))
            row.request_id = request_id
            return amount, amount - (paid - row.amount)
    return None


def event_of(row: LiveTransfer, request: tuple[int, int] | None = None) -> dict[str, Any]:
    """The announcement of a stored transfer, as the stream, the page and MQTT carry it.

    ``request`` is (amount asked for, amount still due before this transfer). Never any payer
    data nor the account number.
    """
    due = request[1] if request else None
    said = speech.announce(row.amount, due)
    booked = _vn(row.booked_at)
    return {"id": row.id, "stall": row.stall_id, "tx": f"{row.bank_bin}:{row.tx_id}", "amount": row.amount,
            "at": booked.strftime("%Y-%m-%dT%H:%M:%S"), "time": booked.strftime("%H:%M:%S"),
            "content": mask_content(row.content), "text": said["text"], "verdict": said["verdict"],
            "requested": request[0] if request else None, "due": due, "shortfall": said["shortfall"],
            "request": row.request_id}


def events_after(session: Session, stall_id: int, last_id: int, *, limit: int = 200,
                 since: datetime | None = None) -> list[dict[str, Any]]:
    """Events of a stall with an id above ``last_id`` (and, with ``since``, any received after it).

    ``since`` covers ids given out of commit order by concurrent writers (PostgreSQL sequences):
    the page drops what it has already announced.
    """
    rows = list(session.execute(select(LiveTransfer).where(
        LiveTransfer.stall_id == stall_id, LiveTransfer.id > last_id).order_by(  # type: ignore[operator]
        LiveTransfer.id).limit(limit)).scalars())
    if since is not None:  # late commits: lower ids received lately (bounded by time, not by a count)
        rows = list(session.execute(select(LiveTransfer).where(
            LiveTransfer.stall_id == stall_id, LiveTransfer.id <= last_id,  # type: ignore[operator]
            LiveTransfer.received_at >= since).order_by(LiveTransfer.id)).scalars()) + rows
    requests = {r.id: r for r in session.execute(select(LiveRequest).where(LiveRequest.id.in_(  # type: ignore[union-attr]
        [r.request_id for r in rows if r.request_id]))).scalars()} if any(r.request_id for r in rows) else {}
    out = []
    for row in rows:
        req = requests.get(row.request_id) if row.request_id else None
        if req is not None:
            paid_before = session.execute(select(func.coalesce(func.sum(LiveTransfer.amount), 0)).where(
                LiveTransfer.request_id == req.id, LiveTransfer.id < row.id)).scalar_one()
            out.append(event_of(row, (req.amount, req.amount - int(paid_before))))
        else:
            out.append(event_of(row))
    return out


def last_event_id(session: Session, stall_id: int) -> int:
    """The id of the stall's newest live transfer (0 for none): where a fresh loa page resumes from."""
    return int(session.execute(select(func.coalesce(func.max(LiveTransfer.id), 0)).where(
        LiveTransfer.stall_id == stall_id)).scalar_one())


# ------------------------------------------------------------------ fan-out (what the web door runs)

Hub = livebus.Hub


def open_bus(url: str | None, engine: Any) -> livebus.Bus:
    """The bus that carries stored events to every process (``url``: redis://…, postgresql, or polling)."""
    return livebus.open_bus(url, engine)


def notifies_in_transaction(bus: livebus.Bus) -> bool:
    """True when the bus's notice must be sent inside the storing transaction (PostgreSQL NOTIFY)."""
    return isinstance(bus, livebus.PostgresBus)


def mqtt_announcer(url: str, engine: Any) -> Any:
    """Announcements to hardware loa over MQTT (paho-mqtt, loaded only when configured)."""
    from ..loamqtt import MqttAnnouncer
    return MqttAnnouncer(url, engine)


def record_refusal(session: Session, source_name: str, status: int, reason: str, *, address: str | None = None,
                   size: int | None = None) -> None:
    """Audit a refused webhook request (nothing of it is stored; caller commits)."""
    note = f"{status} {reason}" + (f" from {address}" if address else "") + (f", {size} bytes" if size else "")
    session.add(AuditEvent(actor=f"webhook:{source_name[:40]}", action="webhook.refuse", entity="webhook_source",
                           entity_id=source_name[:64], note=note[:500]))


# ----------------------------------------------------------------------------- exact amounts

@dataclass
class PaymentRequest:
    id: int
    code: str
    reference: str  # what goes into 62.08
    amount: int
    expires_at: datetime


def create_request(session: Session, actor: Actor, stall_id: int, amount: int, *,
                   minutes: int = REQUEST_MINUTES, now: datetime | None = None) -> PaymentRequest:
    """An exact amount to collect, with a one-time reference for the dynamic QR (caller commits)."""
    _check_stall_access(actor, stall_id)
    if isinstance(amount, bool) or not isinstance(amount, int) or not 1 <= amount < 500_000_000:
        raise ValidationError(f"amount: 1 to 499.999.999 đồng, got {amount!r}", field="amount", value=amount,
                              limit="1–499.999.999")
    now = now or utcnow()
    stall = session.get(Stall, stall_id)
    if stall is None:
        raise NotFound(f"stall {stall_id}: not found")
    market = session.get(Market, stall.market_id)
    try:
        base = accounts.stall_reference(market.code, stall.code)  # type: ignore[union-attr]
    except ValidationError:
        base = ""
    code = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(6))
    reference = f"{base} {code}".strip()
    if len(reference) > accounts.MAX_REFERENCE:
        reference = code  # the account still attributes it; the code still matches it
    row = LiveRequest(stall_id=stall_id, code=code, amount=amount, created_at=now,
                      expires_at=now + timedelta(minutes=minutes), created_by=actor.name)
    session.add(row)
    session.flush()
    session.add(AuditEvent(actor=actor.name, action="live.request", entity="stall", entity_id=str(stall_id),
                           after=json.dumps({"amount": amount, "minutes": minutes})))
    return PaymentRequest(row.id, code, reference, amount, row.expires_at)  # type: ignore[arg-type]


def request_payload(session: Session, stall_id: int, request_id: int, *, now: datetime | None = None) -> tuple[
        LiveRequest, str]:
    """An open request of the stall and its dynamic VietQR (the stall's account, the amount, the reference)."""
    from .. import vietqr
    row = session.get(LiveRequest, request_id)
    if row is None or row.stall_id != stall_id:
        raise NotFound("no such requested amount")
    account = session.execute(select(PaymentAccount).where(
        PaymentAccount.stall_id == stall_id, PaymentAccount.status.in_(("pending", "verified")))).scalar()  # type: ignore[union-attr]
    if account is None:
        raise NotFound("the stall has no account to be paid into")
    stall = session.get(Stall, stall_id)
    market = session.get(Market, stall.market_id)  # type: ignore[union-attr]
    try:
        base = accounts.stall_reference(market.code, stall.code)  # type: ignore[union-attr]
    except ValidationError:
        base = ""
    reference = f"{base} {row.code}".strip()
    if len(reference) > accounts.MAX_REFERENCE:
        reference = row.code
    kwargs = vietqr.parse(account.payload).build_kwargs()
    kwargs.update(amount=row.amount, dynamic=True, purpose=reference, upper=True)
    return row, vietqr.build(**kwargs).payload


def day_xlsx(view: "DayView", title: str) -> bytes:
    """The day's payments as an XLSX sheet (time, amount, content), with the total."""
    import io

    from openpyxl import Workbook
    book = Workbook()
    sheet = book.active
    sheet.title = view.day.isoformat()
    sheet.append([title])
    sheet.append(["Giờ", "Số tiền (đồng)", "Nội dung"])
    for row in reversed(view.rows):
        sheet.append([row["time"], row["amount"], row["content"]])
    sheet.append(["Tổng", view.total, f"{len(view.rows)} lần nhận"])
    for cell in sheet["B"]:
        cell.number_format = "#,##0"
    sheet.column_dimensions["C"].width = 50
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def month_xlsx(days: list[tuple[date, int, int]], title: str) -> bytes:
    import io

    from openpyxl import Workbook
    book = Workbook()
    sheet = book.active
    sheet.append([title])
    sheet.append(["Ngày", "Số lần nhận", "Tổng (đồng)"])
    for day, count, total in days:
        sheet.append([day, count, total])
        sheet.cell(sheet.max_row, 1).number_format = "DD/MM/YYYY"
    sheet.append(["Tổng", sum(d[1] for d in days), sum(d[2] for d in days)])
    for cell in sheet["C"]:
        cell.number_format = "#,##0"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _check_stall_access(actor: Actor, stall_id: int) -> None:
    if actor.role in ("owner", "helper") and actor.stall_id != stall_id:
        raise Forbidden("an owner (or their helper) acts for their own stall only")
    if actor.role in ("staff", "officer"):
        raise Forbidden("a stall's payments are its owner's")


# ----------------------------------------------------------------------------- helpers' links

def _token_hash(key: bytes | str, token: str) -> str:
    raw = key.encode() if isinstance(key, str) else key
    return hmac.new(raw, b"live-watch:" + token.strip().upper().encode(), hashlib.sha256).hexdigest()


def create_watch(session: Session, actor: Actor, key: bytes | str, label: str) -> tuple[LiveWatch, str]:
    """A read-only code for a helper to watch the owner's loa: (row, the code, shown once)."""
    if actor.role != "owner" or actor.stall_id is None:
        raise Forbidden("only a stall owner gives helpers a view of the stall's loa")
    label = (label or "").strip()[:64] or "Người nhà"
    token = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(12))
    row = LiveWatch(stall_id=actor.stall_id, token_hash=_token_hash(key, token), label=label, created_by=actor.name)
    session.add(row)
    session.flush()
    session.add(AuditEvent(actor=actor.name, action="live.watch_create", entity="stall", entity_id=str(actor.stall_id),
                           after=json.dumps({"watch": row.id, "label": label}, ensure_ascii=False)))
    return row, token


def revoke_watch(session: Session, actor: Actor, watch_id: int) -> None:
    row = session.get(LiveWatch, watch_id)
    if row is None or actor.role != "owner" or row.stall_id != actor.stall_id:
        raise NotFound("no such helper link")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.add(row)
        session.add(AuditEvent(actor=actor.name, action="live.watch_revoke", entity="stall",
                               entity_id=str(row.stall_id), after=json.dumps({"watch": row.id})))


def watch_stall(session: Session, key: bytes | str, token: str) -> LiveWatch | None:
    """The live link a helper's code opens, or None (unknown or revoked)."""
    if not token or len(token) > 64:
        return None
    row = session.execute(select(LiveWatch).where(LiveWatch.token_hash == _token_hash(key, token))).scalar()
    return row if row is not None and row.revoked_at is None else None


def active_watch(session: Session, watch_id: Any) -> LiveWatch | None:
    """The helper code a signed-in helper holds, while it is not revoked (``None`` otherwise)."""
    if not isinstance(watch_id, int):
        return None
    row = session.get(LiveWatch, watch_id)
    return row if row is not None and row.revoked_at is None else None


def stall_title(session: Session, stall_id: int) -> str:
    """``HL1/A-12``: a stall as the loa page names it ("" when it is gone)."""
    stall = session.get(Stall, stall_id)
    market = session.get(Market, stall.market_id) if stall else None
    return f"{market.code}/{stall.code}" if stall and market else ""


def watches(session: Session, stall_id: int) -> list[LiveWatch]:
    return list(session.execute(select(LiveWatch).where(LiveWatch.stall_id == stall_id).order_by(
        LiveWatch.id.desc())).scalars())  # type: ignore[union-attr]


# ----------------------------------------------------------------------------- views

def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime(day.year, day.month, day.day, tzinfo=VN)
    return start, start + timedelta(days=1)


@dataclass
class DayView:
    day: date
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(r["amount"] for r in self.rows)


def day_view(session: Session, stall_id: int, day: date) -> DayView:
    """A stall's payments on one day (Vietnam time), newest first."""
    start, end = _day_bounds(day)
    rows = session.execute(select(LiveTransfer).where(
        LiveTransfer.stall_id == stall_id, LiveTransfer.booked_at >= start, LiveTransfer.booked_at < end).order_by(
        LiveTransfer.booked_at.desc(), LiveTransfer.id.desc())).scalars().all()  # type: ignore[union-attr]
    return DayView(day, [event_of(r) for r in rows])


def month_view(session: Session, stall_id: int, period: str | rules.Period) -> list[tuple[date, int, int]]:
    """(day, payments, total) for each day of a month with payments."""
    period = rules.Period.parse(period)
    start = period.start_local.replace(tzinfo=VN)
    end = period.end_local.replace(tzinfo=VN)
    totals: dict[date, list[int]] = {}
    for booked, amount in session.execute(select(LiveTransfer.booked_at, LiveTransfer.amount).where(
            LiveTransfer.stall_id == stall_id, LiveTransfer.booked_at >= start, LiveTransfer.booked_at < end)).all():
        day = _vn(booked).date()
        entry = totals.setdefault(day, [0, 0])
        entry[0] += 1
        entry[1] += int(amount)
    return [(day, n, total) for day, (n, total) in sorted(totals.items())]


def feed_status(session: Session, market_id: int) -> list[dict[str, Any]]:
    """Per stall of a market: when its feed last brought a transfer (no amounts: staff see no revenue)."""
    last = dict(session.execute(select(LiveTransfer.stall_id, func.max(LiveTransfer.received_at)).where(
        LiveTransfer.market_id == market_id).group_by(LiveTransfer.stall_id)).all())
    out = []
    for stall_id, code, status in session.execute(select(Stall.id, Stall.code, Stall.status).where(
            Stall.market_id == market_id).order_by(Stall.code)).all():
        out.append({"stall_id": stall_id, "code": code, "status": status, "last": _aware(last.get(stall_id))})
    return out


# ----------------------------------------------------------------------------- retention, erasure

def parse_retention(text: str) -> timedelta:
    """``90d``, ``12w``, ``6m`` (30-day months), ``1y`` (365 days) → a duration.

    >>> parse_retention("90d").days, parse_retention("6m").days, parse_retention("1y").days
    (90, 180, 365)
    """
    match = re.fullmatch(r"\s*(\d{1,4})\s*([dwmy])\s*", str(text or "").lower())
    if not match:
        raise ValidationError(f"older-than: a number and d, w, m or y (e.g. 90d), got {text!r}", field="older_than",
                              value=text, limit="e.g. 90d, 6m")
    n, unit = int(match.group(1)), match.group(2)
    days = n * {"d": 1, "w": 7, "m": 30, "y": 365}[unit]
    if days < 1:
        raise ValidationError("older-than: at least one day", field="older_than", value=text, limit="≥ 1 day")
    return timedelta(days=days)


def purge(session: Session, actor: Actor, older_than: timedelta, *, now: datetime | None = None,
          store: Any = None) -> int:
    """Delete live transfers booked before ``now - older_than`` (and expired requests), and their
    copies in the transaction ``store`` when one is given; audited, caller commits."""
    if actor.role not in ("operator", "admin"):
        raise Forbidden("retention is run by operators and administrators")
    cutoff = (now or utcnow()) - older_than
    if store is not None:
        store.con.execute(f"DELETE FROM transfer WHERE booked_at < ? AND batch IN "
                          f"(SELECT id FROM import_batch WHERE source = '{LIVE_SOURCE}')",
                          [_vn(cutoff).replace(tzinfo=None)])
    gone = session.execute(delete(LiveTransfer).where(LiveTransfer.booked_at < cutoff)).rowcount or 0
    session.execute(delete(LiveRequest).where(LiveRequest.expires_at < cutoff))
    session.add(AuditEvent(actor=actor.name, action="live.purge", entity="live_transfer", entity_id=None,
                           note=f"booked before {cutoff.isoformat()}", after=json.dumps({"deleted": gone})))
    return int(gone)


def erase_stall(session: Session, actor: Actor, stall_id: int, *, store: Any = None) -> int:
    """The owner's erasure reaching live payments: every live transfer, request and helper link of the
    stall, and the copies of those transfers in the transaction ``store`` when one is given."""
    if actor.role not in ("operator", "admin", "staff"):
        raise Forbidden("erasure is carried out by staff")
    if session.get(Stall, stall_id) is None:
        raise NotFound(f"stall {stall_id}: not found")
    if store is not None:
        keys = session.execute(select(LiveTransfer.bank_bin, LiveTransfer.tx_id).where(
            LiveTransfer.stall_id == stall_id)).all()
        if keys:
            store.con.executemany(
                f"DELETE FROM transfer WHERE bank_bin = ? AND tx_id = ? AND batch IN "
                f"(SELECT id FROM import_batch WHERE source = '{LIVE_SOURCE}')", [list(k) for k in keys])
    gone = session.execute(delete(LiveTransfer).where(LiveTransfer.stall_id == stall_id)).rowcount or 0
    session.execute(delete(LiveRequest).where(LiveRequest.stall_id == stall_id))
    session.execute(delete(LiveWatch).where(LiveWatch.stall_id == stall_id))
    session.add(AuditEvent(actor=actor.name, action="live.erase", entity="stall", entity_id=str(stall_id),
                           after=json.dumps({"deleted": gone})))
    return int(gone)


# ----------------------------------------------------------------------------- one set with the store

LIVE_SOURCE = "live transfers (registry)"


def sync_into_store(session: Session, store: Any, *, actor: str = "live") -> dict[str, int]:
    """Copy live transfers into the transaction store through its dedupe, then drop statement twins.

    Returns ``{"copied": new rows stored, "twins": live rows removed from the store because a
    statement row is the same transfer}``. Running it again leaves the store as it was (rows offered
    again are the store's duplicates, or twins dropped again).
    """
    meta = dict(store.con.execute("SELECT key, value FROM store_meta WHERE key LIKE 'live_synced_%'").fetchall())
    last = int(meta.get("live_synced_id", 0))
    now = utcnow()
    # Ids come from a sequence: a writer may commit a lower id after a higher one. Rows received
    # in the minutes before the last copy are offered again; the store's dedupe keeps them once.
    since = datetime.fromisoformat(meta["live_synced_at"]) - RESYNC_WINDOW if "live_synced_at" in meta else now
    rows = session.execute(select(LiveTransfer.id, LiveTransfer.bank_bin, LiveTransfer.tx_id, LiveTransfer.booked_at,
                                  LiveTransfer.account, LiveTransfer.amount, LiveTransfer.content).where(
        (LiveTransfer.id > last) | (LiveTransfer.received_at >= since)).order_by(  # type: ignore[operator]
        LiveTransfer.id)).all()
    copied = 0
    twins = set(store.con.execute("SELECT bank_bin, tx_id FROM live_twin").fetchall()) if store.con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'live_twin'").fetchone()[0] else set()
    rows = [r for r in rows if (r[1], r[2]) not in twins]  # a statement already stands for these
    if rows:
        transfers = [rules.Transfer(b, t, _vn(at).replace(tzinfo=None), a, int(amount), content or "", "webhook")
                     for _, b, t, at, a, amount, content in rows]
        digest = hashlib.sha256("\n".join(f"{t.bank_bin}:{t.tx_id}" for t in transfers).encode()).hexdigest()
        result = store.import_transfers(transfers, source=LIVE_SOURCE, layout="generic", channel="webhook",
                                        file_fingerprint=f"live:{now.isoformat()}:{digest[:16]}", actor=actor)
        copied = 0 if result.already_imported else int(result.inserted)
        last = max(last, max(r[0] for r in rows))
    store.con.execute("INSERT OR REPLACE INTO store_meta VALUES ('live_synced_id', ?), ('live_synced_at', ?)",
                      [str(last), now.isoformat()])
    return {"copied": copied, "twins": _drop_statement_twins(store)}


def _drop_statement_twins(store: Any) -> int:
    """Remove live rows that a statement row stands for, one to one; remembered in ``live_twin``."""
    content = rules.CONTENT_TEXT_SQL.format("t.content")
    con = store.con
    con.execute("CREATE TABLE IF NOT EXISTS live_twin (bank_bin VARCHAR, tx_id VARCHAR, account VARCHAR, "
                "amount BIGINT, ckey VARCHAR, day DATE)")
    group = "bank_bin, account, amount, ckey, day"
    # No live row in the store (the usual case for a statement import): nothing can be a twin, and
    # the content key below would otherwise be computed for every stored transfer.
    if not con.execute("SELECT count(*) FROM transfer WHERE batch IN (SELECT id FROM import_batch WHERE source = ?)",
                       [LIVE_SOURCE]).fetchone()[0]:
        return 0
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE _twins AS
            WITH keyed AS (
                SELECT t.rowid AS rid, t.bank_bin, t.tx_id, t.account, t.amount, {content} AS ckey,
                       CAST(t.booked_at AS DATE) AS day, b.source = ? AS live, b.channel AS channel
                FROM transfer t JOIN import_batch b ON b.id = t.batch),
            live AS (SELECT *, row_number() OVER (PARTITION BY {group} ORDER BY rid) AS n FROM keyed WHERE live),
            statements AS (SELECT {group}, count(*) AS k FROM keyed WHERE NOT live AND channel = 'statement'
                           GROUP BY ALL),
            dropped AS (SELECT {group}, count(*) AS d FROM live_twin GROUP BY ALL)
            SELECT live.rid, live.bank_bin, live.tx_id, live.account, live.amount, live.ckey, live.day
            FROM live JOIN statements USING ({group}) LEFT JOIN dropped USING ({group})
            WHERE live.n <= statements.k - coalesce(dropped.d, 0)""", [LIVE_SOURCE])
        dropped = con.execute("SELECT count(*) FROM _twins").fetchone()[0]
        if dropped:
            con.execute("INSERT INTO live_twin SELECT bank_bin, tx_id, account, amount, ckey, day FROM _twins")
            con.execute("DELETE FROM transfer WHERE rowid IN (SELECT rid FROM _twins)")
        con.execute("DROP TABLE _twins")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return int(dropped)


# ----------------------------------------------------------------------------- the fast lane (PostgreSQL)
# The two hot paths of a province's loa — a webhook in, a stream (re)connecting — in plain SQL on the
# driver: a webhook is one look-up and one statement (INSERT … ON CONFLICT DO NOTHING RETURNING with
# its pg_notify, committed together), a stream's catch-up one query. Everything else (a transfer to
# a market board's fee account, one whose stall has an open requested amount, one the account alone
# does not attribute, SQLite) goes the full way above: same rules, same rows, same events.

_LOOKUP = """
SELECT pa.id, pa.stall_id, pa.bin, pa.number, pa.status, pa.created_at, pa.verified_at, pa.revoked_at,
       pa.rejected_at, pa.holder_name, s.market_id,
       EXISTS (SELECT 1 FROM fee_account f WHERE f.bin = %(bin)s AND f.number = %(number)s) AS fee,
       EXISTS (SELECT 1 FROM live_request r WHERE r.stall_id = pa.stall_id AND r.settled_at IS NULL
               AND r.expires_at >= %(now)s) AS open_request
FROM (SELECT 1) AS one
LEFT JOIN payment_account pa ON pa.bin = %(bin)s AND pa.number = %(number)s
LEFT JOIN stall s ON s.id = pa.stall_id"""

_STORE = """
WITH stored AS (
    INSERT INTO live_transfer (bank_bin, tx_id, account, amount, booked_at, content, provider, source, provider_id,
                               received_at, market_id, stall_id, method, reason)
    VALUES (%(bank_bin)s, %(tx_id)s, %(account)s, %(amount)s, %(booked_at)s, %(content)s, %(provider)s, %(source)s,
            %(provider_id)s, %(received_at)s, %(market_id)s, %(stall_id)s, %(method)s, %(reason)s)
    ON CONFLICT (bank_bin, tx_id) DO NOTHING RETURNING id)
SELECT id, pg_notify(%(channel)s, %(head)s || id || %(middle)s || id || %(tail)s) FROM stored"""

_CATCH_UP = """
SELECT t.id, t.stall_id, t.bank_bin, t.tx_id, t.amount, t.booked_at, t.content, t.request_id, r.amount,
       CASE WHEN t.request_id IS NULL THEN 0 ELSE (
           SELECT coalesce(sum(p.amount), 0) FROM live_transfer p WHERE p.request_id = t.request_id AND p.id < t.id)
       END
FROM live_transfer t LEFT JOIN live_request r ON r.id = t.request_id
WHERE t.stall_id = %(stall)s AND (t.id > %(last)s OR (%(since)s::timestamptz IS NOT NULL AND t.received_at >= %(since)s))
ORDER BY t.id LIMIT %(limit)s"""

_WATCH = "SELECT stall_id FROM live_watch WHERE id = %(id)s AND revoked_at IS NULL"
_PLACEHOLDER = -735_190_281_467  # an id no row has: where the stored id goes in the message text


class _Row:
    """The columns :func:`event_of` reads, without an ORM object."""

    __slots__ = ("id", "stall_id", "bank_bin", "tx_id", "amount", "booked_at", "content", "request_id")

    def __init__(self, id: int, stall_id: int, bank_bin: str, tx_id: str, amount: int, booked_at: datetime,
                 content: str, request_id: int | None = None) -> None:
        self.id, self.stall_id, self.bank_bin, self.tx_id = id, stall_id, bank_bin, tx_id
        self.amount, self.booked_at, self.content, self.request_id = amount, booked_at, content, request_id


class FastLane:
    """A few autocommit connections per process on the driver itself (psycopg), for the hot paths.

    Made lazily in each process (a forked worker never uses its parent's); a connection that
    failed is dropped, and a statement that met a broken pooled connection is tried once more on a
    new one (storing is idempotent: ON CONFLICT DO NOTHING).
    """

    #: Connections per process at most (thousands of greenlets share them; each holds one for one
    #: statement). PostgreSQL's default max_connections is 100, shared with the ORM's pools.
    SIZE = 4

    def __init__(self, url: str, channel: str = livebus.CHANNEL, size: int | None = None) -> None:
        self.url = url.replace("postgresql+psycopg://", "postgresql://")
        self.channel = channel
        self.size = size or self.SIZE
        self._idle: list[Any] = []
        self._pid = 0
        self._slots: Any = None

    @classmethod
    def for_engine(cls, engine: Any, size: int | None = None) -> "FastLane | None":
        """A lane for a PostgreSQL engine; None for any other database."""
        if engine.dialect.name != "postgresql":
            return None
        return cls(engine.url.render_as_string(hide_password=False), size=size)

    def _run(self, query: str, params: dict[str, Any]) -> list[tuple]:
        import os

        import psycopg
        if self._pid != os.getpid():  # made in this process (after gevent patched threading, in a worker)
            self._idle, self._slots, self._pid = [], threading.BoundedSemaphore(self.size), os.getpid()
        with self._slots:
            for attempt in (1, 2):
                fresh = not self._idle
                conn = psycopg.connect(self.url, autocommit=True) if fresh else self._idle.pop()
                try:
                    rows = conn.execute(query, params).fetchall()
                except psycopg.OperationalError:
                    conn.close()
                    if fresh or attempt == 2:
                        raise
                    continue
                except BaseException:
                    conn.close()
                    raise
                self._idle.append(conn)
                return rows
        raise AssertionError("unreachable")

    def close(self) -> None:
        while self._idle:
            self._idle.pop().close()

    # -- a webhook in

    def receive(self, source: Source, incoming: Incoming, *, now: datetime | None = None) -> Received | None:
        """Store and announce one verified transfer in two round trips; None when it needs :func:`receive`."""
        if not incoming.incoming:
            return Received("outgoing")
        now = now or utcnow()
        rows = self._run(_LOOKUP, {"bin": incoming.bank_bin, "number": incoming.account, "now": now})
        if rows[0][11]:  # a market board's fee account (fees.match_live) or
            return None
        registrations = [rules.Registration(r[0], r[1], r[2], r[3], r[4], _aware(r[5]), _aware(r[6]), _aware(r[7]),
                                            _aware(r[8]), r[9]) for r in rows if r[0] is not None]
        directory = rules.Directory(registrations)
        if len(directory.owners(incoming.bank_bin, incoming.account, incoming.booked_at)) != 1:
            return None  # … not decided by the account: the reference index (full path)
        transfer = rules.Transfer(incoming.bank_bin, incoming.tx_id, incoming.booked_at, incoming.account,
                                  incoming.amount, incoming.content, "webhook")
        found = rules.attribute(transfer, directory, rules.ReferenceIndex(()))
        if not isinstance(found.stall, int):
            return None
        row = next(r for r in rows if r[1] == found.stall)
        if row[12]:  # the stall has an open requested amount: matched on the full path
            return None
        # A request created between this look-up and the insert below cannot be one this transfer
        # pays: its code is random (create_request) and shown only once the request has committed,
        # so a content carrying it was written after that commit, before the bank booked the
        # transfer and before its webhook came. The full path reads open requests the same way (in
        # its own statement, under READ COMMITTED), and a request opened meanwhile is matched by
        # neither: the transfer is announced as a plain payment, as if it came a moment earlier.
        booked = incoming.booked_at.replace(tzinfo=VN) if incoming.booked_at.tzinfo is None else incoming.booked_at
        content = incoming.content[:500]
        event = event_of(_Row(_PLACEHOLDER, found.stall, incoming.bank_bin, incoming.tx_id, incoming.amount,
                              booked, content))
        text = json.dumps({"stall": found.stall, "id": _PLACEHOLDER, "event": event}, ensure_ascii=False)
        if len(text.encode()) > livebus.PostgresBus.MAX_PAYLOAD:
            return None
        head, middle, tail = text.split(str(_PLACEHOLDER))
        values = dict(bank_bin=incoming.bank_bin, tx_id=incoming.tx_id, account=incoming.account,
                      amount=incoming.amount, booked_at=booked, content=content, provider=incoming.provider,
                      source=source.name, provider_id=incoming.provider_id[:64], received_at=now,
                      market_id=row[10], stall_id=found.stall, method=found.method,
                      reason=(found.reason or None) and found.reason[:80])
        stored = self._run(_STORE, {**values, "channel": self.channel, "head": head, "middle": middle,
                                    "tail": tail})
        if not stored:
            return Received("duplicate")
        event["id"] = stored[0][0]
        return Received("stored", None, event, False)  # no ORM row: nothing after this step reads one

    # -- a stream connecting

    def watch_stall(self, watch_id: Any) -> int | None:
        """The stall a helper's (unrevoked) code shows, or None."""
        if not isinstance(watch_id, int) or isinstance(watch_id, bool):
            return None
        rows = self._run(_WATCH, {"id": watch_id})
        return rows[0][0] if rows else None

    def events_after(self, stall_id: int, last_id: int, *, limit: int = 200,
                     since: datetime | None = None) -> list[dict[str, Any]]:
        """:func:`events_after` in one query."""
        out = []
        for (id_, stall, bank_bin, tx_id, amount, booked, content, request_id, asked, paid_before) in self._run(
                _CATCH_UP, {"stall": stall_id, "last": last_id, "since": since, "limit": limit}):
            row = _Row(id_, stall, bank_bin, tx_id, amount, booked, content, request_id)
            out.append(event_of(row, (asked, asked - int(paid_before)) if asked is not None else None))
        return out
