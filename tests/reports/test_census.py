"""Census import: every bad row reported, all or nothing, replace per market and month, idempotent."""
import csv
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from sqlmodel import select

from market40.exceptions import Forbidden
from market40.models import AuditEvent, CensusEntry
from market40.services.census import census_summary, import_census, write_census_template
from market40.services.registry import Actor

HEADER = ["Mã chợ", "Kỳ", "Mã sạp", "Tên chủ hộ", "Trạng thái"]


def write(path: Path, rows, header=HEADER) -> Path:
    with open(path, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def entries(session, period="2025-07"):
    return sorted((e.stall_code, e.owner_name) for e in session.exec(
        select(CensusEntry).where(CensusEntry.period == period)).all())


def test_import_replace_and_idempotence(session, world, tmp_path):
    actor = world.operator
    first = write(tmp_path / "c1.csv", [["HL1", "2025-07", "A-1", "Nguyễn Thị Lan", ""],
                                        ["HL1", "07/2025", "a 2", "Lê Thị Hoa", "Đang kinh doanh"],
                                        ["HL1", "2025-07", "A-3", "Phạm Văn Đức", "Nghỉ"]])
    report = import_census(session, actor, first)
    assert (report.added, report.not_operating, report.written) == (2, 1, True)
    assert report.lists == {"HL1 2025-07": 2}
    assert entries(session) == [("A-1", "Nguyễn Thị Lan"), ("a 2", "Lê Thị Hoa")]
    again = import_census(session, actor, first)
    assert not again.changed and "nothing changed" in again.summary()
    second = write(tmp_path / "c2.csv", [["HL1", "2025-07", "A-1", "Nguyễn Thị Lan Anh", ""],
                                         ["HL1", "2025-07", "A-4", "Vũ Thị Mai", ""]])
    report = import_census(session, actor, second)
    assert (report.added, report.removed, report.updated, report.unchanged) == (1, 1, 1, 0)
    assert entries(session) == [("A-1", "Nguyễn Thị Lan Anh"), ("A-4", "Vũ Thị Mai")]
    assert entries(session, "2025-06")  # other months untouched (the world's June census)
    audits = session.exec(select(AuditEvent).where(AuditEvent.action == "census.import")).all()
    assert len(audits) == 2 and "Nguyễn" not in (audits[0].after or "")  # counts only


def test_every_bad_row_is_reported_and_nothing_written(session, world, tmp_path):
    path = write(tmp_path / "bad.csv", [
        ["HL1", "2025-07", "A-1", "Nguyễn Thị Lan", ""],
        ["ZZ9", "2025-07", "A-2", "Lê Thị Hoa", ""],          # unknown market
        ["HL1", "2025-13", "A-3", "Phạm Văn Đức", ""],        # bad month
        ["HL1", "2025-07", "", "Vũ Thị Mai", ""],             # no stall code
        ["HL1", "2025-07", "A-5", "", ""],                    # no name
        ["HL1", "2025-07", "A-1", "Nguyễn Thị Lan", ""],      # twice
        ["HL1", "2025-07", "A-6", "Đỗ Thị Hằng", "có lẽ"],    # unknown status
    ])
    rejects = tmp_path / "bad.rejects.csv"
    report = import_census(session, world.operator, path, rejects=rejects)
    rows = sorted({p.row for p in report.problems})
    # both rows of A-1 are reported: the board must say which one is right
    assert rows == [2, 3, 4, 5, 6, 7, 8] and not report.written and entries(session) == []
    fields = {(p.row, e.field) for p in report.problems for e in p.error.errors}
    assert {(2, "stall_code"), (3, "market_code"), (4, "period"), (5, "stall_code"), (6, "owner_name"),
            (7, "stall_code"), (8, "status")} <= fields
    assert rejects.exists() and "Dòng" in rejects.read_text(encoding="utf-8-sig").splitlines()[0]
    partial = import_census(session, world.operator, path, partial=True)
    assert partial.written and entries(session) == []  # no good row: the twins are held back too


def test_xlsx_with_market_and_period_chosen_at_import(session, world, tmp_path):
    book = Workbook()
    sheet = book.active
    sheet.append(["DANH SÁCH HỘ KINH DOANH CHỢ HẠ LONG I – THÁNG 7/2025"])
    sheet.append(["STT", "Số sạp", "Họ và tên chủ hộ"])
    sheet.append([1, "A-1", "Nguyễn Thị Lan"])
    sheet.append([2, "A-2", "Lê Thị Hoa"])
    path = tmp_path / "ds.xlsx"
    book.save(path)
    report = import_census(session, world.operator, path, market="HL1", period="2025-07")
    assert report.added == 2 and report.unknown_columns == ["STT"]
    other = write(tmp_path / "ty.csv", [["TY1", "", "B-1", "Lý Văn Tài", ""]])
    report = import_census(session, world.operator, other, market="HL1", period="2025-07")
    assert report.problems and "the import is for 'HL1'" in report.problems[0].lines("en")[0]
    assert report.problems[0].lines()[0] == "Dòng 2, cột «Mã chợ»: dòng này thuộc chợ «TY1», nhưng đang nhập cho chợ HL1"


def test_scope_and_roles(session, world, tmp_path):
    path = write(tmp_path / "c.csv", [["TY1", "2025-07", "B-1", "Lý Văn Tài", ""]])
    staff = Actor(name="user:9", role="staff", markets=frozenset({world.hl1.id}), localities=frozenset())
    report = import_census(session, staff, path)
    assert "outside your markets" in report.problems[0].lines("en")[0] and not report.written
    officer = Actor(name="user:8", role="officer", markets=frozenset(), localities=frozenset({world.commune.id}))
    with pytest.raises(Forbidden):
        import_census(session, officer, path)
    summary = census_summary(session, officer, "2025-06")
    assert summary == [{"market": "HL1", "name": "Chợ Hạ Long I", "period": "2025-06", "households": 9}]


def test_dry_run_writes_nothing(session, world, tmp_path):
    path = write(tmp_path / "c.csv", [["HL1", "2025-07", "A-1", "Nguyễn Thị Lan", ""]])
    report = import_census(session, world.operator, path, dry_run=True)
    assert not report.written and report.added == 0 and entries(session) == []


def test_template(tmp_path):
    write_census_template(tmp_path / "t.xlsx")
    sheet = load_workbook(tmp_path / "t.xlsx").worksheets[0]
    assert [c.value for c in sheet[1]] == ["Mã chợ", "Kỳ", "Mã sạp", "Tên chủ hộ", "Trạng thái", "Số điện thoại",
                                           "Mã số thuế"]
    write_census_template(tmp_path / "t.csv")
    assert (tmp_path / "t.csv").read_bytes().startswith(b"\xef\xbb\xbf")


def test_demo_history_refuses_a_real_registry(session, world, tmp_path):
    """tx demo rewrites onboarding dates: only ever on a registry the demo built."""
    from market40.exceptions import Conflict
    from market40.services.demo_activity import build_demo_activity
    from market40.txstore import TransferStore
    with TransferStore(":memory:") as store, pytest.raises(Conflict, match="demo"):
        build_demo_activity(session, world.operator, store, tmp_path, end="2025-06", months=1)
