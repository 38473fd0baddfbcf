"""Give the demo province a history to report on: onboarding dates, censuses and transfers.

``market40 demo`` builds the registry as it is today (every account verified on the day it
ran). :func:`build_demo_activity` turns it into a story over the months ending with ``end``,
using the real import paths:

1. **onboarding history** (demo registries only): each demo account gets the day it was
   verified from :func:`market40.demo_transactions.onboarding_day` (created and consented
   three days before); a stall marked closed closed in the month before ``end``; three pairs
   of neighbouring stalls in Chợ Hạ Long II share one account (a family with two stalls), so
   the anomaly list has that case. Audited as ``demo.backdate``;
2. **censuses**: one CSV per month with every demo market's list
   (:func:`market40.demo_transactions.census`), imported with :func:`import_census`;
3. **transfers**: one generic CSV per month (:func:`market40.demo_transactions.transfers`),
   imported into the transaction store.

Deterministic: the same seed gives the same files and the same database. Running it again
changes nothing (the files are the same, so the imports say so).
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, timezone
from pathlib import Path
from typing import Callable

from sqlalchemy import bindparam, select, update
from sqlmodel import Session

from . import auditlog
from .. import demo, demo_transactions
from ..exceptions import Conflict
from ..models import Market, PaymentAccount, Stall
from ..reconciliation import VN_TZ, Period
from ..transactions import LAYOUTS, write_csv
from ..txstore import BatchResult, TransferStore
from .census import CensusReport, import_census
from .registry import Actor, Registry
from .transfers import import_files

__all__ = ["DemoActivity", "build_demo_activity", "DEMO_CHANNEL"]

#: How the demo builder marks the consent of its accounts: only such registries are rewritten.
DEMO_CHANNEL = "paper (demo)"
_SHARED_MARKET = "HL2"


@dataclass
class DemoActivity:
    periods: list[str] = field(default_factory=list)
    accounts_backdated: int = 0
    shared_accounts: int = 0
    census: list[CensusReport] = field(default_factory=list)
    transfers: list[BatchResult] = field(default_factory=list)
    files: list[str] = field(default_factory=list)


def _at(day, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour)).replace(tzinfo=VN_TZ).astimezone(timezone.utc)


def build_demo_activity(session: Session, actor: Actor, store: TransferStore, folder: str | Path, *,
                        end: str | Period, months: int = 6, seed: int = 2025,
                        progress: Callable[[int, int], None] | None = None) -> DemoActivity:
    """See the module docstring. ``folder`` receives the census and transfer files."""
    end = Period.parse(end)
    if not 1 <= months <= 24:
        raise Conflict(f"months: 1 to 24, got {months}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    registry = Registry(session, actor)
    registry._require_write()
    codes = {row["market_code"] for row in demo.markets()}
    markets = {m.id: m for m in session.execute(select(Market).where(Market.code.in_(codes))).scalars()}  # type: ignore
    if not markets:
        raise Conflict("no demo markets in this registry: run `market40 demo` first")
    foreign = session.execute(select(PaymentAccount.id).join(Stall, Stall.id == PaymentAccount.stall_id).where(
        Stall.market_id.in_(list(markets)), PaymentAccount.consent_channel != DEMO_CHANNEL)).first()  # type: ignore
    if foreign is not None:
        raise Conflict("this registry's demo markets hold accounts that the demo did not create: refusing to "
                       "rewrite their history (use a fresh demo registry)")
    out = DemoActivity(periods=[str(p) for p in end.back(months)])
    _share_accounts(registry, markets)
    out.accounts_backdated, out.shared_accounts = _backdate(session, actor, markets, end, seed)
    session.commit()

    stalls = session.execute(select(Stall.id, Stall.market_id, Stall.code, Stall.owner_name, Stall.status,
                                    Stall.closed_on).where(Stall.market_id.in_(list(markets)))).all()  # type: ignore
    accounts = _demo_accounts(session, markets, stalls)
    shared: dict[tuple[str, str], list] = {}
    for account in accounts:
        shared.setdefault((account.bin, account.number), []).append(account)
    shared = {k: v for k, v in shared.items() if len(v) > 1}
    by_market: dict[int, list] = {}
    for stall in stalls:
        by_market.setdefault(stall.market_id, []).append(stall)
    steps = len(out.periods) * 2
    for step, period in enumerate(end.back(months)):
        census_path = folder / f"census-{period}.csv"
        with open(census_path, "w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["Mã chợ", "Kỳ", "Mã sạp", "Tên chủ hộ", "Trạng thái"])
            for market in sorted(markets.values(), key=lambda m: m.code):
                rows = [(s.code, s.owner_name, _status_in(s, period)) for s in by_market.get(market.id, ())]
                for row in demo_transactions.census(rows, market.code, period, seed=seed):
                    writer.writerow([row["market_code"], row["period"], row["stall_code"], row["owner_name"],
                                     row["status"]])
        out.census.append(import_census(session, actor, census_path))
        out.files.append(str(census_path))
        if progress:
            progress(2 * step + 1, steps)
        tx_path = folder / f"transfers-{period}.csv"
        with open(tx_path, "w", encoding="utf-8", newline="") as handle:
            write_csv(LAYOUTS["generic"], demo_transactions.transfers(accounts, period, end, seed=seed,
                                                                      shared=shared), handle)
        out.transfers.extend(import_files(session, actor, store, [tx_path]))
        session.commit()
        out.files.append(str(tx_path))
        if progress:
            progress(2 * step + 2, steps)
    return out


def _status_in(stall, period: Period) -> str:
    closed = stall.status == "closed" and (stall.closed_on is None or stall.closed_on < period.end)
    return "closed" if closed else "operating"


def _share_accounts(registry: Registry, markets: dict[int, Market]) -> None:
    """Three pairs of neighbouring stalls of HL2 share the first one's account (idempotent)."""
    session = registry.session
    market = next((m for m in markets.values() if m.code == _SHARED_MARKET), None)
    if market is None:
        return
    for first, second in (("A-1", "A-2"), ("B-5", "B-6"), ("C-10", "C-11")):
        a = session.execute(select(PaymentAccount).join(Stall, Stall.id == PaymentAccount.stall_id).where(
            Stall.market_id == market.id, Stall.code == first,
            PaymentAccount.status == "verified")).scalars().first()
        if a is None:
            continue
        stall = session.execute(select(Stall).where(Stall.market_id == market.id, Stall.code == second)).scalars().first()
        if stall is None:
            continue
        current = registry.current_account(stall)
        if current is not None and (current.bin, current.number) == (a.bin, a.number):
            continue
        registry.register_account(f"{market.code}/{second}", bank=a.bin, number=a.number,
                                  holder_name=a.holder_name, kind=a.kind, reference_label=a.reference_label,
                                  consent_channel=DEMO_CHANNEL)
        registry.verify_account(f"{market.code}/{second}")
    session.flush()


def _backdate(session: Session, actor: Actor, markets: dict[int, Market], end: Period, seed: int) -> tuple[int, int]:
    rows = session.execute(select(PaymentAccount.id, PaymentAccount.status, PaymentAccount.bin,
                                  PaymentAccount.number, Stall.code, Stall.market_id, Stall.id, Stall.status)
                           .join(Stall, Stall.id == PaymentAccount.stall_id)
                           .where(Stall.market_id.in_(list(markets)))).all()  # type: ignore[attr-defined]
    seen: dict[tuple[str, str], int] = {}
    changed = shared = 0
    updates: list[dict] = []
    pending_day = end.start + timedelta(days=2)
    for account_id, status, bin_, number, code, market_id, stall_id, stall_status in rows:
        market = markets[market_id].code
        day = demo_transactions.onboarding_day(market, code, end, seed=seed)
        key = (bin_, number)
        if key in seen:
            shared += 1
        seen[key] = account_id
        values: dict = {"key": account_id, "created": _at(day - timedelta(days=3)), "verified": None,
                        "revoked": None}
        if status == "verified":
            values["verified"] = _at(day)
        elif status == "revoked":
            values["revoked"] = _at(day - timedelta(days=1), 9)
            values["created"] = _at(day - timedelta(days=30))
        elif status == "pending":
            values["created"] = _at(pending_day)
        updates.append(values)
        changed += 1
    table = PaymentAccount.__table__  # type: ignore[attr-defined]
    statement = (update(table).where(table.c.id == bindparam("key"))
                 .values(created_at=bindparam("created"), consent_at=bindparam("created"),
                         verified_at=bindparam("verified"), revoked_at=bindparam("revoked")))
    for start in range(0, len(updates), 5000):
        session.execute(statement, updates[start:start + 5000])
    for market in markets.values():  # the programme's start: reports leave a market out of earlier months
        session.execute(update(Market).where(Market.id == market.id).values(  # type: ignore[arg-type]
            onboarded_on=demo_transactions.rollout_day(market.code, end, seed=seed)))
    closing = end.shift(-1).start + timedelta(days=10)
    session.execute(update(Stall).where(Stall.market_id.in_(list(markets)), Stall.status == "closed")  # type: ignore
                    .values(closed_on=closing))
    auditlog.record(session, actor.name, "demo.backdate", "registry", note=f"demo onboarding history ending {end}",
                    after={"accounts": changed, "shared": shared, "closed_on": str(closing)})
    session.flush()
    return changed, shared


def _demo_accounts(session: Session, markets: dict[int, Market], stalls) -> list[demo_transactions.DemoAccount]:
    stall_by_id = {s.id: s for s in stalls}
    out = []
    for account_id, stall_id, bin_, number, purpose, status, verified_at, revoked_at in session.execute(
            select(PaymentAccount.id, PaymentAccount.stall_id, PaymentAccount.bin, PaymentAccount.number,
                   PaymentAccount.purpose, PaymentAccount.status, PaymentAccount.verified_at,
                   PaymentAccount.revoked_at).where(PaymentAccount.stall_id.in_(list(stall_by_id)))  # type: ignore
            .order_by(PaymentAccount.id)).all():
        stall = stall_by_id[stall_id]
        out.append(demo_transactions.DemoAccount(
            account_id, stall_id, markets[stall.market_id].code, stall.code, purpose, bin_, number,
            _local_day(verified_at) if status in ("verified", "revoked") and verified_at else None,
            stall.closed_on if stall.status == "closed" else None,
            _local_day(revoked_at) if revoked_at else None))
    return out


def _local_day(moment: datetime):
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(VN_TZ).date()
