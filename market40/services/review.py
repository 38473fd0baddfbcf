"""The review queue at market scale: accounts waiting for staff, filtered and paged, oldest first.

Scoped like the registry (staff see the markets they serve). Filters: market, bank (BIN),
age (waiting at least N days). A verified or rejected account is no longer pending, so it
leaves the queue at once.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import select

from .. import accounts, banks
from ..models import Market, PaymentAccount, Stall, utcnow
from .registry import Registry

__all__ = ["QueueItem", "Queue", "review_queue", "PAGE_SIZE"]

PAGE_SIZE = 50


@dataclass
class QueueItem:
    stall: str
    market_name: str
    shop_name: str | None
    bin: str
    bank: str
    number: str  # masked
    holder_name: str
    owner_name: str
    created_at: datetime
    replaces: str | None  # the verified account it would replace (masked), if any

    @property
    def market(self) -> str:
        return self.stall.split("/", 1)[0]

    @property
    def code(self) -> str:
        return self.stall.split("/", 1)[1]


@dataclass
class Queue:
    items: list[QueueItem]
    total: int
    page: int
    pages: int
    banks: list[tuple[str, str]]  # (bin, short name) of the banks waiting, for the filter


def review_queue(registry: Registry, *, market: str | None = None, bank: str | None = None,
                 min_days: int | None = None, page: int = 1, per_page: int = PAGE_SIZE,
                 now: datetime | None = None) -> Queue:
    """The pending accounts this actor may review, oldest first, one page of them."""
    scoped = registry.session.exec(registry.scoped_markets()).all()
    ids = {m.id: m for m in scoped}
    if market:
        ids = {i: m for i, m in ids.items() if m.code == market.strip().upper()}
    if not ids:
        return Queue([], 0, 1, 1, [])
    base = (select(PaymentAccount, Stall).join(Stall, Stall.id == PaymentAccount.stall_id)
            .where(PaymentAccount.status == "pending", Stall.market_id.in_(list(ids))))  # type: ignore[attr-defined]
    waiting_banks = registry.session.exec(
        select(PaymentAccount.bin).join(Stall, Stall.id == PaymentAccount.stall_id)
        .where(PaymentAccount.status == "pending", Stall.market_id.in_(list(ids)))  # type: ignore[attr-defined]
        .distinct()).all()
    if bank:
        base = base.where(PaymentAccount.bin == bank)
    if min_days:
        base = base.where(PaymentAccount.created_at <= (now or utcnow()) - timedelta(days=min_days))
    total = registry.session.exec(select(func.count()).select_from(base.subquery())).one()
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    rows = registry.session.exec(base.order_by(PaymentAccount.created_at, PaymentAccount.id)
                                 .offset((page - 1) * per_page).limit(per_page)).all()
    stall_ids = [s.id for _, s in rows]
    verified = {a.stall_id: a for a in registry.session.exec(select(PaymentAccount).where(
        PaymentAccount.stall_id.in_(stall_ids), PaymentAccount.status == "verified")).all()} \
        if stall_ids else {}  # type: ignore[attr-defined]
    items = []
    for account, stall in rows:
        market_row: Market = ids[stall.market_id]
        participant = banks.by_bin(account.bin)
        old = verified.get(stall.id)
        items.append(QueueItem(f"{market_row.code}/{stall.code}", market_row.name, stall.shop_name, account.bin,
                               participant.short_name if participant else account.bin,
                               accounts.mask(account.number), account.holder_name, stall.owner_name,
                               account.created_at, accounts.mask(old.number) if old else None))
    names = sorted(((b, (banks.by_bin(b).short_name if banks.by_bin(b) else b)) for b in waiting_banks),
                   key=lambda x: x[1])
    return Queue(items, total, page, pages, names)
