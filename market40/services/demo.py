"""Build the synthetic demo province (Quảng Ninh) into a registry, through the real services.

Localities (13 former district-level units, 54 communes, the old→new links), the 43
markets, ~14,000 invented stalls with their accounts (most verified, a few waiting for
review) and demo users with printed passwords. Deterministic: the same seed gives the
same database. Clearly labelled synthetic (``data/demo/README.md``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Callable

from sqlalchemy import update
from sqlmodel import Session, select

from .. import demo
from ..models import PaymentAccount, Stall
from .imports import ImportReport, import_stall_rows
from .registry import Actor, Registry

__all__ = ["DemoLogin", "DemoSummary", "build_demo", "DEMO_LOGINS"]

#: Before the 2025 reform; the demo data does not say when the district-level units began.
DISTRICTS_SINCE = date(2000, 1, 1)


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    role: str
    scope: str
    markets: tuple[str, ...] = ()
    localities: tuple[str, ...] = ()
    stall: str | None = None


#: Demo logins, printed by ``market40 demo`` (demo passwords: never use them in a deployment).
DEMO_LOGINS = (
    DemoLogin("admin", "demo-admin-2025", "admin", "everything"),
    DemoLogin("nv.halong", "demo-staff-2025", "staff", "markets HL1, HL2", markets=("HL1", "HL2")),
    DemoLogin("cb.halong", "demo-officer-2025", "officer", "former TP Hạ Long (QN-HL)", localities=("QN-HL",)),
    DemoLogin("0912000001", "demo-owner-2025", "owner", "stall HL1/A-1", stall="HL1/A-1"),
)


@dataclass
class DemoSummary:
    localities: int = 0
    links: int = 0
    markets: int = 0
    stalls: int = 0
    accounts: int = 0
    pending: int = 0
    reports: list[ImportReport] = field(default_factory=list)
    logins: tuple[DemoLogin, ...] = DEMO_LOGINS


def build_demo(session: Session, actor: Actor, *, seed: int = 2025,
               progress: Callable[[int, int], None] | None = None) -> DemoSummary:
    """Load the demo province into an empty registry (commits as it goes)."""
    registry = Registry(session, actor)
    summary = DemoSummary()
    for row in demo.localities():
        valid_from = date.fromisoformat(row["valid_from"]) if row["valid_from"] else DISTRICTS_SINCE
        # the demo CSV gives the last day (inclusive); the registry keeps the first day after
        valid_to = date.fromisoformat(row["valid_to"]) + timedelta(days=1) if row["valid_to"] else None
        registry.add_locality(code=row["code"], name=row["name"], kind=row["kind"], unit_type=row["unit_type"],
                              province=row["province"], valid_from=valid_from, valid_to=valid_to)
        summary.localities += 1
    for old, new in demo.locality_links():
        registry.link_localities(old, new)
        summary.links += 1
    markets = demo.markets()
    for row in markets:
        registry.save_market(code=row["market_code"], name=row["name"], tier=row["tier"],
                             tier_source=row["tier_source"], tier_date=row["tier_date"], is_central=row["central"],
                             locality=row["commune"], address=row["address"],
                             board_contact_name=row["board_contact"], board_contact_phone=row["board_phone"])
        summary.markets += 1
    session.commit()
    for done, row in enumerate(markets, 1):
        rows = ((number, values, []) for number, values in enumerate(demo.stalls(row["market_code"], seed=seed), 2))
        report = import_stall_rows(session, actor, rows, source=f"demo:{row['market_code']}",
                                   market=row["market_code"], consent_channel="paper (demo)",
                                   account_status="verified")
        if report.problems:  # the generator and the rules disagree: a bug, say so loudly
            raise RuntimeError(f"demo market {row['market_code']}: {report.problems[0].lines()}")
        summary.reports.append(report)
        summary.stalls += report.created
        summary.accounts += report.accounts_created
        if progress:
            progress(done, len(markets))
    # A few accounts still wait for review, so the staff queue has work (every 25th; not the
    # first, so the demo owner of HL1/A-1 can download a poster straight away).
    ids = session.exec(select(PaymentAccount.id).order_by(PaymentAccount.id)).all()
    pending = ids[12::25]
    session.execute(update(PaymentAccount).where(PaymentAccount.id.in_(pending))  # type: ignore[attr-defined]
                    .values(status="pending", verified_at=None))
    summary.pending = len(pending)
    for login in DEMO_LOGINS:
        registry.add_user(login.username, login.role, password=login.password, display_name=login.scope,
                          markets=login.markets, localities=login.localities, stall=login.stall,
                          phone=login.username if login.role == "owner" else None)
    session.commit()
    return summary


def is_empty(session: Session) -> bool:
    return session.exec(select(Stall.id).limit(1)).first() is None
