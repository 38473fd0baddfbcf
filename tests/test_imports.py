"""Bulk import of market boards' spreadsheets, on SQLite and PostgreSQL."""
import csv
import json
from datetime import date

import pytest
from openpyxl import Workbook
from sqlmodel import select

from market40 import vietqr
from market40.models import AuditEvent, Locality, PaymentAccount, Stall
from market40.services.imports import import_markets, import_stalls
from market40.services.registry import Actor, Registry

HEADER = ["Mã sạp", "Tên cửa hàng", "Tên chủ hộ", "Số điện thoại", "Ngân hàng", "Số tài khoản",
          "Tên chủ tài khoản", "Loại tài khoản", "Mã tham chiếu", "Trạng thái"]
GOOD = [
    ["A-1", "Hải sản Lan", "Nguyễn Thị Lan", "0912345678", "Vietcombank", "0011012344418", "NGUYEN THI LAN", "", "", ""],
    ["A-2", "Rau Bình", "Trần Văn Bình", "0987654321", "", "", "", "", "", "Đang kinh doanh"],
    ["A-3", "Ví Hoa", "Lê Thị Hoa", "0356000111", "MoMo", "PSP123456789012345", "LE THI HOA", "Ví điện tử",
     "MOMOW2W12345678", ""],
]
ACTOR = Actor.operator("tester")


def write_csv(path, rows, header=HEADER, bom=True):
    with open(path, "w", encoding="utf-8-sig" if bom else "utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def stalls_in(session):
    return {s.code: s for s in session.exec(select(Stall)).all()}


def test_a_good_list_is_imported_with_accounts_pending(session, market, tmp_path):
    report = import_stalls(session, ACTOR, write_csv(tmp_path / "hl1.csv", GOOD), market="HL1")
    assert report.written and (report.created, report.accounts_created) == (3, 2)
    assert "3 new" in report.summary()
    stalls = stalls_in(session)
    assert stalls["A-1"].owner_phone == "0912345678"
    accounts = {a.number: a for a in session.exec(select(PaymentAccount)).all()}
    assert accounts["0011012344418"].status == "pending" and accounts["0011012344418"].purpose == "HL1 A1"
    momo = vietqr.parse(accounts["PSP123456789012345"].payload)
    assert momo.bin == "971025" and momo.reference_label == "MOMOW2W12345678"


def test_every_bad_row_is_reported_and_nothing_is_written(session, market, tmp_path):
    bad = GOOD + [
        ["A-4", "", "", "0912", "vietcombnak", "12/3", "LAN 2", "", "", "mở cửa"],  # many problems
        ["a 1", "dup", "Phạm Văn D", "", "", "", "", "", "", ""],                     # A-1 again, written otherwise
        ["A-5", "", "Đỗ Văn E", "", "BIDV", "", "", "", "", ""],                     # half an account
    ]
    rejects = tmp_path / "rejects.csv"
    report = import_stalls(session, ACTOR, write_csv(tmp_path / "bad.csv", bad), market="HL1", rejects=rejects)
    # the twins A-1 (row 2) and "a 1" (row 6) are both reported: the board must say which is right
    assert not report.written and [p.row for p in report.problems] == [2, 5, 6, 7]
    fields = {e.field for e in report.problems[1].error.errors}
    assert {"owner_name", "owner_phone", "bank", "account", "account_holder", "status"} <= fields
    assert "same stall as row 6" in str(report.problems[0].error)
    assert "same stall as row 2" in str(report.problems[2].error)
    assert "nothing was written" in report.summary()
    assert stalls_in(session) == {}
    with open(rejects, encoding="utf-8-sig") as handle:
        lines = list(csv.DictReader(handle))
    assert {line["Dòng"] for line in lines} == {"2", "5", "6", "7"} and all(line["Lý do"] for line in lines)
    assert all(line["Reason (English)"] for line in lines)


def test_partial_writes_the_good_rows(session, market, tmp_path):
    rows = GOOD + [["A-9", "", "", "", "", "", "", "", "", ""]]
    report = import_stalls(session, ACTOR, write_csv(tmp_path / "p.csv", rows), market="HL1", partial=True)
    assert report.written and report.created == 3 and len(report.problems) == 1
    assert "A-9" not in stalls_in(session) and "A-3" in stalls_in(session)


def test_dry_run_writes_nothing(session, market, tmp_path):
    report = import_stalls(session, ACTOR, write_csv(tmp_path / "d.csv", GOOD), market="HL1", dry_run=True)
    assert not report.written and "dry run" in report.summary()
    assert stalls_in(session) == {}


def test_reimport_changes_nothing_and_a_changed_row_is_audited(session, market, tmp_path):
    path = write_csv(tmp_path / "hl1.csv", GOOD)
    import_stalls(session, ACTOR, path, market="HL1")
    events = len(session.exec(select(AuditEvent)).all())
    again = import_stalls(session, ACTOR, path, market="HL1")
    assert again.unchanged == 3 and not again.changed and "nothing changed" in again.summary()
    assert len(session.exec(select(AuditEvent)).all()) == events

    changed = [row[:] for row in GOOD]
    changed[1][3] = "0987000000"                     # new phone for A-2
    changed[0][4:7] = ["MB", "0912345678", "NGUYEN THI LAN"]  # A-1 changes bank
    report = import_stalls(session, ACTOR, write_csv(tmp_path / "v2.csv", changed), market="HL1")
    assert (report.updated, report.unchanged, report.accounts_replaced) == (2, 1, 1)
    history = session.exec(select(PaymentAccount).join(Stall).where(Stall.code == "A-1")
                           .order_by(PaymentAccount.id)).all()
    assert [a.status for a in history] == ["revoked", "pending"] and history[1].bin == "970422"
    update = session.exec(select(AuditEvent).where(AuditEvent.action == "stall.update")).one()
    assert "0987000000" not in update.after and json.loads(update.after)["owner_phone"] == "•••000"


def test_xlsx_keeps_leading_zeros_and_refuses_numbers(session, market, tmp_path):
    book = Workbook()
    sheet = book.active
    sheet.append(HEADER)
    sheet.append(["A-1", "", "Nguyễn Thị Lan", "0912345678", "970436", "0011012344418", "NGUYEN THI LAN", "", "", ""])
    sheet.append(["A-2", "", "Trần Văn Bình", 987654321, "", "", "", "", "", ""])  # typed as a number
    path = tmp_path / "list.xlsx"
    book.save(path)
    report = import_stalls(session, ACTOR, path, market="HL1", partial=True)
    assert report.created == 1 and report.problems[0].row == 3
    assert "Text" in str(report.problems[0].error)
    account = session.exec(select(PaymentAccount)).one()
    assert account.number == "0011012344418"


def test_market_column_or_option_is_required(session, market, tmp_path):
    report = import_stalls(session, ACTOR, write_csv(tmp_path / "x.csv", GOOD[:1]))
    assert not report.written and "no market for this row" in str(report.problems[0].error)
    rows = [["HL9"] + GOOD[0]]
    report = import_stalls(session, ACTOR, write_csv(tmp_path / "y.csv", rows, ["Mã chợ"] + HEADER))
    assert "HL9" in str(report.problems[0].error)


def test_import_respects_scope(session, market, tmp_path):
    registry = Registry(session, ACTOR)
    registry.add_locality(code="QN-CP", name="Cẩm Phả", kind="district", unit_type="thành phố",
                          province="Quảng Ninh", valid_from=date(2000, 1, 1))
    registry.save_market(code="CP1", name="Chợ Cẩm Phả", tier="I", locality="QN-CP")
    user = registry.add_user("nv.cp", "staff", password="mat-khau-du-dai", markets=["CP1"])
    session.commit()
    staff = Actor.for_user(session, user)
    report = import_stalls(session, staff, write_csv(tmp_path / "s.csv", GOOD), market="HL1")
    assert not report.written and "outside your markets" in str(report.problems[0].error)


def test_markets_import(session, locality, tmp_path):
    header = ["Mã chợ", "Tên chợ", "Hạng", "Ngày phân hạng", "Chợ trung tâm", "Địa phương", "Điện thoại BQL"]
    rows = [["HH1", "Chợ Hồng Hà", "3", "15/09/2025", "Không", locality.code, "0984216530"],
            ["TC1", "Chợ Tuần Châu", "III", "2025-10-02", "có", locality.code, ""]]
    path = write_csv(tmp_path / "m.csv", rows, header)
    report = import_markets(session, ACTOR, path)
    assert report.written and report.created == 2
    markets = Registry(session, ACTOR).markets()
    hh1 = next(m for m in markets if m.code == "HH1")
    assert hh1.tier == "III" and not hh1.is_central
    assert import_markets(session, ACTOR, path).unchanged == 2
    bad = write_csv(tmp_path / "b.csv", [["HH2", "", "I", "31/02/2025", "maybe", "NOWHERE", "12"]], header)
    report = import_markets(session, ACTOR, bad)
    fields = {e.field for e in report.problems[0].error.errors}
    assert fields == {"name", "tier_date", "central", "locality", "board_phone"}


def test_demo_province_builds(session):
    from market40.services.demo import build_demo
    summary = build_demo(session, ACTOR)
    assert (summary.localities, summary.markets) == (67, 43)
    assert summary.stalls == 14370 and 0 < summary.pending < summary.accounts
    markets = Registry(session, ACTOR).markets()
    assert {m.tier for m in markets} == {"I", "II", "III"}
    assert sum(1 for m in markets if m.tier == "I") == 19
    hl1 = next(m for m in markets if m.code == "HL1")
    assert hl1.stalls > 1200
    rates = [(m.verified + m.pending) / m.stalls for m in markets]
    assert abs(sum(rates) / len(rates) - 0.83) < 0.01  # the province's "83% on average"
    # an officer of the former city of Hạ Long sees the markets that now sit in its communes
    from market40.models import User
    officer = session.exec(select(User).where(User.username == "cb.halong")).one()
    seen = {m.code for m in Registry(session, Actor.for_user(session, officer)).markets()}
    assert {"HL1", "HL2"} <= seen and "MC1" not in seen
