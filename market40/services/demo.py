"""Build the synthetic demo province (Quảng Ninh) into a registry, through the real services.

Quảng Ninh's official administrative units (13 former district-level units, 54 communes,
the old→new links: the same data as ``market40 locality load 22``), the 43
markets, ~14,000 invented stalls with their accounts (most verified, a few waiting for
review) and demo users with printed passwords. Deterministic: the same seed gives the
same database. Clearly labelled synthetic (``data/demo/README.md``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from sqlalchemy import update
from sqlmodel import Session, select

from .. import db, demo
from ..exceptions import Conflict
from ..models import PaymentAccount, Stall
from .imports import ImportReport, import_stall_rows
from .localities import load_province
from .registry import Actor, Registry

__all__ = ["DemoLogin", "DemoSummary", "build_demo", "create_demo", "is_empty", "DEMO_LOGINS"]

@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    role: str
    scope: str
    markets: tuple[str, ...] = ()
    localities: tuple[str, ...] = ()
    stall: str | None = None
    name: str = ""  # the display name the web app shows (Vietnamese): the scope when empty


#: Demo logins, printed by ``market40 demo`` (demo passwords: never use them in a deployment).
DEMO_LOGINS = (
    DemoLogin("admin", "demo-admin-2025", "admin", "everything", name="Quản trị viên"),
    DemoLogin("nv.halong", "demo-staff-2025", "staff", "markets HL1, HL2", markets=("HL1", "HL2"),
              name="Nhân viên ngân hàng (chợ HL1, HL2)"),
    DemoLogin("cb.halong", "demo-officer-2025", "officer", "former TP Hạ Long (193)", localities=("193",),
              name="Cán bộ TP Hạ Long cũ (193)"),
    DemoLogin("0912000001", "demo-owner-2025", "owner", "stall HL1/A-1", stall="HL1/A-1", name="Chủ sạp HL1/A-1"),
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
    loaded = load_province(session, actor, demo.PROVINCE)
    summary.localities = loaded.communes + loaded.districts
    summary.links = loaded.links_created + loaded.links_unchanged
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
        registry.add_user(login.username, login.role, password=login.password, display_name=login.name or login.scope,
                          markets=login.markets, localities=login.localities, stall=login.stall,
                          phone=login.username if login.role == "owner" else None)
    session.commit()
    db.refresh_statistics(session)  # 14,000 stalls written market by market: plan on what is there now
    return summary


def is_empty(session: Session) -> bool:
    return session.exec(select(Stall.id).limit(1)).first() is None


def create_demo(url: str, actor: Actor, *, replace: bool = False, seed: int = 2025,
                progress: Callable[[int, int], None] | None = None) -> DemoSummary:
    """A fresh registry at ``url`` holding the demo province: the one builder ``demo`` and ``serve --demo`` use.

    A registry that already holds stalls is refused (:class:`Conflict`) unless ``replace``.
    """
    from .storage import current_revision, init, unit_of_work
    if current_revision(url) is not None and not replace:
        with unit_of_work(url) as session:
            if not is_empty(session):
                raise Conflict("the registry already holds data: use --fresh to replace it, or --db to choose "
                               "another file")
    init(url, drop_existing=True)
    with unit_of_work(url) as session:
        return build_demo(session, actor, seed=seed, progress=progress)
