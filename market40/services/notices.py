"""Telling owners what happened to their stall: on their page and through the deployment's sender.

Staff verify or reject an account (with the reason), the poster becomes ready, an erasure is
carried out: the owner gets a short Vietnamese message through :mod:`market40.notify` (SMS,
Zalo... as the deployment plugs in) and sees the same notices on their page, read back from
the audit trail (nothing is stored twice). Every message sent, or not sent, is audited
(``notice.sent``/``notice.failed``), with the phone masked.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from .. import accounts, banks
from ..models import AuditEvent, Market, PaymentAccount, Stall, User
from ..notify import Message, SendFailed, Sender
from ..notify import from_spec as sender  # the deployment's sender from MARKET40_SENDER's words

__all__ = ["Notice", "send_to_owner", "account_reviewed", "owner_notices", "NOTICE_ACTIONS", "sender"]

#: Audit actions an owner is told about, newest first on their page.
NOTICE_ACTIONS = ("account.verify", "account.reject", "account.revoke")


@dataclass
class Notice:
    """One thing the owner is told: ``kind`` (``verified``, ``rejected``, ``revoked``), when, about which
    account (masked), and the reason staff gave."""

    at: datetime
    kind: str
    account: str
    reason: str | None = None


def _masked_phone(phone: str | None) -> str:
    return "•••" + phone[-3:] if phone else ""


def send_to_owner(session: Session, sender: Sender | None, stall_id: int, message_kind: str, text: str, *,
                  actor: str, data: dict[str, Any] | None = None, user: User | None = None) -> bool:
    """Send ``text`` to the owner of a stall (their login phone); audited. True if it went out."""
    owner = user or session.exec(select(User).where(User.stall_id == stall_id, User.role == "owner",
                                                    User.is_active == True)  # noqa: E712
                                 .order_by(User.id)).first()
    if owner is None or not owner.phone:
        return False
    ok, note = True, None
    if sender is None or not getattr(sender, "available", True):
        ok, note = False, "no message provider"
    else:
        try:
            sender.send(Message(owner.phone, text, message_kind, dict(data or {})))
        except SendFailed as error:
            ok, note = False, str(error)[:300]
    session.add(AuditEvent(actor=actor[:64], action="notice.sent" if ok else "notice.failed", entity="user",
                           entity_id=str(owner.id),
                           after=json.dumps({"kind": message_kind, "to": _masked_phone(owner.phone),
                                             "via": getattr(sender, "name", "none")}, ensure_ascii=False),
                           note=note))
    return ok


def _account_words(account: PaymentAccount) -> str:
    bank = banks.by_bin(account.bin)
    return f"{bank.short_name if bank else account.bin} {accounts.mask(account.number)}"


def account_reviewed(session: Session, sender: Sender | None, account: PaymentAccount, *, actor: str) -> bool:
    """Tell the owner their account was verified (the poster is ready) or rejected (with the reason)."""
    stall = session.get(Stall, account.stall_id)
    market = session.get(Market, stall.market_id) if stall else None
    where = f"{market.name}, sạp {stall.code}" if stall and market else ""
    if account.status == "verified":
        kind = "account_verified"
        text = (f"market40 — {where}: tài khoản {_account_words(account)} đã được xác minh. Biển QR đã sẵn sàng: "
                "đăng nhập để tải và in, rồi thay biển cũ (nếu có).")
    elif account.status == "rejected":
        kind = "account_rejected"
        text = (f"market40 — {where}: tài khoản {_account_words(account)} bị từ chối. Lý do: "
                f"{account.status_reason}. Đăng nhập để sửa và gửi lại.")
    else:
        return False
    return send_to_owner(session, sender, account.stall_id, kind, text, actor=actor,
                         data={"account_id": account.id, "reason": account.status_reason})


def owner_notices(session: Session, user: User, *, limit: int = 10) -> list[Notice]:
    """What the owner of a stall is told on their page, newest first (from the audit trail)."""
    if user.role != "owner" or user.stall_id is None:
        return []
    rows = {a.id: a for a in session.exec(select(PaymentAccount).where(PaymentAccount.stall_id == user.stall_id))}
    if not rows:
        return []
    events = session.exec(select(AuditEvent).where(
        AuditEvent.entity == "payment_account",
        AuditEvent.entity_id.in_([str(i) for i in rows]),  # type: ignore[union-attr]
        AuditEvent.action.in_(NOTICE_ACTIONS))  # type: ignore[attr-defined]
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit)).all()  # type: ignore[attr-defined]
    out = []
    for event in events:
        account = rows.get(int(event.entity_id)) if event.entity_id and event.entity_id.isdigit() else None
        if account is None:
            continue
        out.append(notice(event, account))
    return out


_KINDS = {"account.verify": "verified", "account.reject": "rejected", "account.revoke": "revoked"}


def notice(event: Any, account: Any) -> Notice:
    """The notice an audit event (``at``, ``action``, ``note``) about an account (``bin``, ``number``) makes."""
    return Notice(event.at, _KINDS[event.action], _account_words(account), event.note)
