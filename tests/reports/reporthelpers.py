"""Fixtures for census, transfers, reconciliation and reports: a small world with every case.

``world`` (on both database backends) is two markets in June 2025:

* **HL1** (tier I, Phường Hồng Gai, formerly TP Hạ Long), with a census for 2025-06:

  ======  ===========================================  =====================================
  stall   registry                                     June 2025 (transfers in ``TRANSFERS``)
  ======  ===========================================  =====================================
  A-1     verified VCB account since March             3 transfers by account → active
  A-2     verified; holder TRAN VAN BINH, owner Lê Thị   none → accepting; name mismatch;
          Hoa; verified in January                     idle (no transfer since April)
  A-3     pending account (registered 10 June)         1 transfer → active, not accepting
  A-4     no account                                   1 transfer to an unknown account
                                                       naming "HL1 A4" → active by reference
  A-5,A-6 one shared MB account, both verified         "HL1 A5" / "HL1A6 ck" → by reference;
                                                       "chuyen tien" → unattributed
  A-7     closed 15 May, account still verified        not in June's population; anomaly
  A-8     account revoked 20 May, replaced 21 May       1 transfer into the *old* account →
                                                       still its stall's: active
  A-9     verified, not in the census                  not counted; anomaly
  A-12    no account                                   no QR ("HL1 A1" at the end of a long
                                                       content could be A-12: unattributed)
  M-1     (census only: a new household)               no QR
  ======  ===========================================  =====================================

* **TY1** (tier III, Xã Tiên Yên, formed from two former districts), no census: B-1 verified
  Agribank account with one transfer (active), B-2 no account.

Expected: 11 counted stalls, 6 accepting (HL1 5/9, TY1 1/2), 7 active.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Iterable

import pytest
from sqlmodel import Session

from market40.models import CensusEntry, Locality, LocalityLink, Market, PaymentAccount, Stall, User, UserScope
from market40.reconciliation import VN_TZ
from market40.services.registry import Actor
from market40.txstore import TransferStore

PERIOD = "2025-06"
NOW = datetime(2025, 7, 15, 3, 0, tzinfo=timezone.utc)
VCB, MB, AGRI = "970436", "970422", "970405"

#: (tx id, booked (Vietnam time), bank, account, amount, content)
TRANSFERS = [
    ("T-A1-APR", "2025-04-10 09:00:00", VCB, "0011000000001", 50_000, "HL1 A1"),
    ("T-A1-1", "2025-06-02 08:00:00", VCB, "0011000000001", 100_000, "HL1 A1"),
    ("T-A1-2", "2025-06-03 09:30:00", VCB, "0011000000001", 20_000, "Chuyen tien"),
    ("T-A1-3", "2025-06-20 17:45:10", VCB, "0011000000001", 35_000, "MBVCB.3278614981.HL1 A1.CT tu 0011 NGUYEN VAN AN"),
    ("T-A3", "2025-06-15 10:00:00", VCB, "0011000000003", 60_000, "hl1 a3 mua rau"),
    ("T-A4", "2025-06-16 11:00:00", MB, "0999999999", 70_000, "HL1 A4 tien ca"),
    ("T-A5", "2025-06-05 07:00:00", MB, "0900000005", 40_000, "HL1 A5"),
    ("T-A6", "2025-06-06 07:00:00", MB, "0900000005", 45_000, "HL1A6 ck"),
    ("T-SH", "2025-06-07 07:00:00", MB, "0900000005", 15_000, "chuyen tien"),
    ("T-A8", "2025-06-08 07:00:00", VCB, "0011000000088", 80_000, "ck"),
    ("T-CUT", "2025-06-09 07:00:00", MB, "0999999999", 25_000, "IBFT TRA TIEN HANG HL1 A1"),
    ("T-B1", "2025-06-10 07:00:00", AGRI, "8000205000001", 90_000, "TY1 B1"),
    ("T-JULY", "2025-07-01 00:00:00", VCB, "0011000000001", 10_000, "HL1 A1"),  # next period
]


def at(year: int, month: int, day: int, hour: int = 10) -> datetime:
    """A time in Vietnam, as the aware UTC the registry keeps."""
    return datetime(year, month, day, hour, tzinfo=VN_TZ).astimezone(timezone.utc)


def write_generic(path: Path, rows: Iterable[tuple]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["transaction_id", "booked_at", "bank_bin", "account", "amount", "content"])
        writer.writerows(rows)
    return path


@dataclass
class World:
    hl1: Market
    ty1: Market
    stalls: dict[str, Stall]
    district: Locality
    commune: Locality
    officer: User
    operator: Actor


def _account(session: Session, stall: Stall, market: Market, bin_: str, number: str, holder: str, status: str,
             created: datetime, verified: datetime | None = None, revoked: datetime | None = None) -> PaymentAccount:
    row = PaymentAccount(stall_id=stall.id, kind="bank_account", bin=bin_, number=number, holder_name=holder,
                         consent_purpose="test", consent_at=created, consent_channel="paper", created_at=created,
                         created_by="test", purpose=f"{market.code} {stall.code.replace('-', '')}",
                         payload="000201", status=status, verified_at=verified, revoked_at=revoked,
                         status_reason="replaced" if revoked else None)
    session.add(row)
    session.flush()
    return row


def build_world(session: Session) -> World:
    old = date(2000, 1, 1)
    reform = date(2025, 7, 1)
    hl = Locality(code="QN-HL", name="Thành phố Hạ Long", kind="district", unit_type="thành phố",
                  province="Quảng Ninh", valid_from=old, valid_to=reform)
    ty = Locality(code="QN-TY", name="Huyện Tiên Yên", kind="district", unit_type="huyện", province="Quảng Ninh",
                  valid_from=old, valid_to=reform)
    hg = Locality(code="QN-P-HONGGAI", name="Phường Hồng Gai", kind="commune", unit_type="phường",
                  province="Quảng Ninh", valid_from=reform)
    xty = Locality(code="QN-X-TIENYEN", name="Xã Tiên Yên", kind="commune", unit_type="xã", province="Quảng Ninh",
                   valid_from=reform)
    session.add_all([hl, ty, hg, xty])
    session.flush()
    session.add_all([LocalityLink(old_id=hl.id, new_id=hg.id), LocalityLink(old_id=ty.id, new_id=xty.id),
                     LocalityLink(old_id=hl.id, new_id=xty.id)])
    hl1 = Market(code="HL1", name="Chợ Hạ Long I", tier="I", locality_id=hg.id, is_central=True)
    ty1 = Market(code="TY1", name="Chợ Tiên Yên", tier="III", locality_id=xty.id)
    session.add_all([hl1, ty1])
    session.flush()
    owners = {"A-1": "Nguyễn Thị Lan", "A-2": "Lê Thị Hoa", "A-3": "Phạm Văn Đức", "A-4": "Vũ Thị Mai",
              "A-5": "Đỗ Văn Nam", "A-6": "Đỗ Thị Hằng", "A-7": "Bùi Văn Long", "A-8": "Hoàng Thị Thu",
              "A-9": "Ngô Văn Sơn", "A-12": "Trần Thị Yến"}
    stalls: dict[str, Stall] = {}
    for code, owner in owners.items():
        stall = Stall(market_id=hl1.id, code=code, owner_name=owner, shop_name=f"Sạp {code}",
                      status="closed" if code == "A-7" else "operating",
                      closed_on=date(2025, 5, 15) if code == "A-7" else None)
        session.add(stall)
        stalls[code] = stall
    for code, owner in (("B-1", "Lý Văn Tài"), ("B-2", "Mai Thị Sen")):
        stall = Stall(market_id=ty1.id, code=code, owner_name=owner)
        session.add(stall)
        stalls[code] = stall
    session.flush()
    _account(session, stalls["A-1"], hl1, VCB, "0011000000001", "NGUYEN THI LAN", "verified", at(2025, 2, 25),
             at(2025, 3, 1))
    _account(session, stalls["A-2"], hl1, VCB, "0011000000002", "TRAN VAN BINH", "verified", at(2024, 12, 28),
             at(2025, 1, 2))
    _account(session, stalls["A-3"], hl1, VCB, "0011000000003", "PHAM VAN DUC", "pending", at(2025, 6, 10))
    _account(session, stalls["A-5"], hl1, MB, "0900000005", "DO VAN NAM", "verified", at(2025, 1, 28),
             at(2025, 2, 1))
    _account(session, stalls["A-6"], hl1, MB, "0900000005", "DO VAN NAM", "verified", at(2025, 1, 29),
             at(2025, 2, 1))
    _account(session, stalls["A-7"], hl1, VCB, "0011000000007", "BUI VAN LONG", "verified", at(2025, 1, 5),
             at(2025, 1, 6))
    _account(session, stalls["A-8"], hl1, VCB, "0011000000088", "HOANG THI THU", "revoked", at(2025, 1, 5),
             at(2025, 1, 6), revoked=at(2025, 5, 20))
    _account(session, stalls["A-8"], hl1, VCB, "0011000000008", "HOANG THI THU", "verified", at(2025, 5, 20, 11),
             at(2025, 5, 21))
    _account(session, stalls["A-9"], hl1, VCB, "0011000000009", "NGO VAN SON", "verified", at(2025, 1, 5),
             at(2025, 1, 6))
    _account(session, stalls["B-1"], ty1, AGRI, "8000205000001", "LY VAN TAI", "verified", at(2025, 3, 5),
             at(2025, 3, 6))
    census = {"A-1": "Nguyễn Thị Lan", "A-2": "Lê Thị Hoa", "A-3": "Phạm Văn Đức", "A-4": "Vũ Thị Mai",
              "A-5": "Đỗ Văn Nam", "A-6": "Đỗ Thị Hằng", "A-8": "Hoàng Thị Thu", "A-12": "Trần Thị Yến",
              "M-1": "Nguyễn Văn Mới"}
    for code, owner in census.items():
        session.add(CensusEntry(market_id=hl1.id, period=PERIOD, stall_code=code, stall_key=code.replace("-", ""),
                                owner_name=owner, source="test", imported_by="test"))
    officer = User(username="cb.halong", display_name="Cán bộ Hạ Long", role="officer")
    session.add(officer)
    session.flush()
    session.add(UserScope(user_id=officer.id, locality_id=hl.id))
    session.commit()
    return World(hl1, ty1, stalls, hl, hg, officer, Actor.operator("tester"))


@pytest.fixture
def world(session: Session) -> World:
    return build_world(session)


@pytest.fixture
def store(tmp_path: Path) -> Iterable[TransferStore]:
    with TransferStore(tmp_path / "transfers.duckdb", memory_limit="512MB") as opened:
        yield opened


@pytest.fixture
def loaded_store(store: TransferStore, tmp_path: Path) -> TransferStore:
    """The store with :data:`TRANSFERS` imported."""
    result = store.import_csv(write_generic(tmp_path / "june.csv", TRANSFERS), actor="test")
    assert result.inserted == len(TRANSFERS) and not result.problems
    return store
