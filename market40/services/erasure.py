"""Carrying out an owner's erasure request (Law 91/2025 Art. 16; answered within 15 days).

The owner asks on their page (:func:`market40.services.auth.request_erasure`); staff see the
request with its legal deadline and carry it out here, in one audited action:

1. the stall's pending and verified accounts are revoked (posters stop counting);
2. personal data leaves the registry: the owner's name, phone and shop name on the stall,
   the holder names and numbers of every account the stall ever had, the census lines of
   the stall, and the same values inside the audit trail's before/after records and notes;
3. the transaction store keeps amounts and times (the market's figures stay whole) but
   loses the account numbers and transfer contents (:meth:`TransferStore.erase_accounts`);
4. whatever else a deployment keeps registers a hook (:func:`register_erasure_hook`): the
   live-payments transfer table is the next one;
5. the owner's login is locked (sessions end, the phone leaves the username), after a last
   message through the sender saying it is done.

The request then shows as done (``erasure.complete`` in the trail).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable

from sqlmodel import Session, select

from ..exceptions import Conflict
from ..models import AuditEvent, CensusEntry, Market, PaymentAccount, Stall, User, utcnow
from ..notify import Sender
from . import auth
from .notices import send_to_owner
from .registry import Registry

__all__ = ["ERASED", "ErasureState", "ErasureCase", "erasure_state", "erasure_cases", "complete_erasure",
           "register_erasure_hook", "ERASURE_HOOKS"]

#: What replaces erased personal data.
ERASED = "(đã xoá)"
#: Keys of before/after records that hold personal data.
PERSONAL_KEYS = {"owner_name", "owner_phone", "phone", "holder_name", "number", "display_name", "shop_name",
                 "username", "account", "payload"}

#: ``hook(session, stall, accounts) -> {what: count}``, run inside the erasure (same transaction).
ErasureHook = Callable[[Session, Stall, list[PaymentAccount]], dict[str, int]]
ERASURE_HOOKS: list[ErasureHook] = []


def register_erasure_hook(hook: ErasureHook) -> ErasureHook:
    """Add a store to clear when an owner's data is erased (e.g. the live-payments transfer table:
    ``register_erasure_hook(erase_live_transfers)``). Returns the hook (usable as a decorator)."""
    if hook not in ERASURE_HOOKS:
        ERASURE_HOOKS.append(hook)
    return hook


@dataclass
class ErasureState:
    """Where an owner's request stands: asked, due by, done (when and by whom)."""

    requested_at: datetime
    due_by: datetime
    done_at: datetime | None = None
    done_by: str | None = None

    @property
    def done(self) -> bool:
        return self.done_at is not None

    def overdue(self, now: datetime | None = None) -> bool:
        return not self.done and (now or utcnow()) > _aware(self.due_by)


@dataclass
class ErasureCase:
    """A request as staff see it in their queue."""

    stall: str
    state: ErasureState
    note: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _aware(value: datetime) -> datetime:
    from datetime import timezone
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


#: The audit actions an erasure request leaves on its stall.
ERASURE_ACTIONS = ("erasure.request", "erasure.complete")


def _state(session: Session, stall_id: int) -> tuple[ErasureState, AuditEvent] | None:
    events = session.exec(select(AuditEvent).where(
        AuditEvent.entity == "stall", AuditEvent.entity_id == str(stall_id),
        AuditEvent.action.in_(ERASURE_ACTIONS))  # type: ignore[attr-defined]
        .order_by(AuditEvent.at, AuditEvent.id)).all()
    return _from_events(events)


def state_from(events: list[Any]) -> ErasureState | None:
    """Where a request stands, from its stall's erasure events (``id``, ``at``, ``action``, ``actor``), oldest first."""
    found = _from_events(events)
    return None if found is None else found[0]


def _from_events(events: list[Any]) -> tuple[ErasureState, Any] | None:
    requests = [e for e in events if e.action == "erasure.request"]
    if not requests:
        return None
    first_open = requests[-1]
    done = [e for e in events if e.action == "erasure.complete" and e.id > first_open.id]  # type: ignore[operator]
    state = ErasureState(first_open.at, first_open.at + timedelta(days=auth.ERASURE_DAYS))
    if done:
        state.done_at, state.done_by = done[0].at, done[0].actor
    return state, first_open


def erasure_state(session: Session, user: User) -> ErasureState | None:
    """The owner's latest request and whether it is done (for their page)."""
    if user.role != "owner" or user.stall_id is None:
        return None
    found = _state(session, user.stall_id)
    return None if found is None else found[0]


def erasure_cases(registry: Registry) -> list[ErasureCase]:
    """The requests in this actor's markets: open ones first (earliest deadline first), then done."""
    codes = [m.code for m in registry.markets()]
    if not codes:
        return []
    session = registry.session
    refs = {str(i): f"{m}/{c}" for i, m, c in session.exec(
        select(Stall.id, Market.code, Stall.code).join(Market, Market.id == Stall.market_id)
        .where(Market.code.in_(codes))).all()}  # type: ignore[attr-defined]
    asked = {e.entity_id for e in session.exec(select(AuditEvent).where(
        AuditEvent.action == "erasure.request", AuditEvent.entity == "stall")).all()}
    out = []
    for stall_id in asked:
        if stall_id not in refs:
            continue
        found = _state(session, int(stall_id))
        if found is not None:
            out.append(ErasureCase(refs[stall_id], found[0], found[1].note))
    return sorted(out, key=lambda c: (c.state.done, _aware(c.state.due_by)))


def _redact(text: str | None, secrets: list[str]) -> str | None:
    if not text:
        return text
    for secret in secrets:
        if secret and len(secret) >= 3:
            text = text.replace(secret, ERASED)
    return text


def _redact_record(raw: str | None, secrets: list[str]) -> str | None:
    if not raw:
        return raw
    try:
        data = json.loads(raw)
    except ValueError:
        return _redact(raw, secrets)

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: (ERASED if k in PERSONAL_KEYS and v not in (None, "") else walk(v)) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, str):
            return _redact(value, secrets)
        return value
    return json.dumps(walk(data), ensure_ascii=False)


def complete_erasure(registry: Registry, ref: str, *, store: Any = None, sender: Sender | None = None,
                     now: datetime | None = None) -> dict[str, int]:
    """Carry out the open erasure request of stall ``ref`` (see the module docstring); the caller
    commits. ``store``: the :class:`~market40.txstore.TransferStore` (None: there is none yet).
    Returns what was cleared, by kind. Refused (Conflict) without an open request."""
    registry._require_write()
    stall = registry.stall(ref)
    session = registry.session
    found = _state(session, stall.id)  # type: ignore[arg-type]
    if found is None:
        raise Conflict(f"stall {ref}: no erasure request")
    state, request = found
    if state.done:
        raise Conflict(f"stall {ref}: the erasure request was already carried out")
    market = session.get(Market, stall.market_id)
    ref = f"{market.code}/{stall.code}" if market else ref
    every = list(session.exec(select(PaymentAccount).where(PaymentAccount.stall_id == stall.id)).all())
    owners = list(session.exec(select(User).where(User.stall_id == stall.id, User.role == "owner")).all())
    secrets = sorted({s for s in [stall.owner_name, stall.owner_phone, stall.shop_name]
                      + [a.holder_name for a in every] + [a.number for a in every]
                      + [u.phone for u in owners] + [u.username for u in owners] + [u.display_name for u in owners]
                      if s}, key=len, reverse=True)
    done: dict[str, int] = {}
    # 1. the accounts stop counting
    revoked = 0
    for account in every:
        if account.status in ("pending", "verified"):
            registry._set_status(account, "revoked", reason="owner asked for erasure")
            revoked += 1
    done["accounts_revoked"] = revoked
    # 5a. a last message, while the phone is still known
    for user in owners:
        if user.is_active:
            send_to_owner(session, sender, stall.id, "erasure_done",  # type: ignore[arg-type]
                          f"market40 — sạp {ref}: dữ liệu cá nhân của bạn đã được xoá theo yêu cầu. Tài khoản "
                          "đăng nhập đã bị khoá.", actor=registry.actor.name, user=user)
    # 3. the transaction store (before the numbers leave the registry)
    done["transfers_cleared"] = store.erase_accounts([(a.bin, a.number) for a in every]) if store is not None \
        else 0
    for hook in ERASURE_HOOKS:  # 4. the deployment's other stores (live transfers...)
        for key, value in (hook(session, stall, every) or {}).items():
            done[key] = done.get(key, 0) + int(value)
    # 2. the registry
    for account in every:
        account.holder_name, account.number, account.payload = ERASED, "", ""
        account.reference_label = None
        session.add(account)
    done["accounts_cleared"] = len(every)
    stall.owner_name, stall.owner_phone, stall.shop_name = ERASED, None, None
    session.add(stall)
    census = 0
    if stall.code_key:
        for entry in session.exec(select(CensusEntry).where(CensusEntry.market_id == stall.market_id,
                                                            CensusEntry.stall_key == stall.code_key)).all():
            entry.owner_name = ERASED
            session.add(entry)
            census += 1
    done["census_lines_cleared"] = census
    # 5b. the login
    for user in owners:
        user.is_active = False
        user.username, user.phone, user.display_name = f"erased-{user.id}", None, ref
        user.password_hash = None
        session.add(user)
        session.flush()
        auth.bump_epoch(session, user, actor=registry.actor.name, reason="erasure carried out")
    done["logins_locked"] = len(owners)
    session.flush()
    # 2b. the history: the same values inside the trail's records and notes
    ids = {"stall": [str(stall.id)], "payment_account": [str(a.id) for a in every],
           "user": [str(u.id) for u in owners]}
    events = 0
    for entity, entity_ids in ids.items():
        if not entity_ids:
            continue
        for event in session.exec(select(AuditEvent).where(AuditEvent.entity == entity,
                                                           AuditEvent.entity_id.in_(entity_ids))).all():  # type: ignore
            before, after, note = event.before, event.after, event.note
            event.before = _redact_record(event.before, secrets)
            event.after = _redact_record(event.after, secrets)
            event.note = _redact(event.note, secrets)
            if (before, after, note) != (event.before, event.after, event.note):
                session.add(event)
                events += 1
    done["history_events_cleared"] = events
    registry.audit("erasure.complete", "stall", stall.id,
                   after={"stall": ref, "requested_at": request.at.isoformat(), **done},
                   note=f"stall {ref}: erasure carried out")
    session.flush()
    return done
