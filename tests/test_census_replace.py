"""A census replacement writes only its diff, in one transaction (issue #16: 100,000 households in seconds).

On SQLite and PostgreSQL (the ``session`` fixture): the stored result of a replacement is
the same as a fresh import of the new list; re-running it changes nothing; a bad row, or a
failure half-way through the writing, leaves the old census as it was.
"""
from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlmodel import select

from market40.models import AuditEvent, CensusEntry
from market40.services import census
from market40.services.census import import_census
from market40.services.registry import Actor, Registry

OPERATOR = Actor.operator("tests")
HEADER = ["Mã chợ", "Kỳ", "Mã sạp", "Tên chủ hộ", "Trạng thái", "Số điện thoại"]


def _csv(path: Path, rows: list[list[str]]) -> Path:
    with open(path, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


def _stored(session) -> list[tuple]:
    session.expire_all()
    return sorted((e.market_id, e.period, e.stall_key, e.stall_code, e.owner_name, e.household_key)
                  for e in session.exec(select(CensusEntry)).all())


def _rows(session):
    return {e.stall_key: (e.id, e.imported_at) for e in session.exec(select(CensusEntry)).all()}


@pytest.fixture
def two_markets(session, market):
    Registry(session, OPERATOR).save_market(code="HL2", name="Chợ Hạ Long II", tier="II",
                                            locality="06688")
    session.commit()
    return ["HL1", "HL2"]


OLD = [[m, "2025-06", f"A-{i}", f"Nguyễn Thị {chr(65 + i)}", "", f"09123456{i:02d}"]
       for m in ("HL1", "HL2") for i in range(12)]


def _new_list() -> list[list[str]]:
    rows = []
    for row in OLD:
        i = int(row[2].split("-")[1])
        if i in (3, 8):  # gone
            continue
        row = list(row)
        if i == 5:  # renamed
            row[3] = "Lê Văn Hùng"
        if i == 6:  # same name, another phone: another household key
            row[5] = "0987654321"
        if i == 7:  # the board spelt the code another way: same stall, code as now written
            row[2] = "a 7"
        if i == 9:  # closed: not operating, leaves the list
            row[4] = "Nghỉ"
        rows.append(row)
    rows += [[m, "2025-06", f"B-{i}", f"Trần Văn {i}", "", ""] for m in ("HL1", "HL2") for i in range(3)]
    rows.append(["HL1", "2025-07", "A-1", "Nguyễn Thị B", "", "0912345601"])  # another month: its own list
    return rows


def test_replacement_stores_what_a_fresh_import_stores(session, two_markets, tmp_path):
    old, new = _csv(tmp_path / "old.csv", OLD), _csv(tmp_path / "new.csv", _new_list())
    assert import_census(session, OPERATOR, old).written
    report = import_census(session, OPERATOR, new)
    assert report.written and not report.problems
    # per market: gone, A-9 closed → 3 removed; changed; 3 new (+1 in July for HL1)
    assert (report.added, report.removed, report.updated) == (7, 6, 6)
    assert report.unchanged == 2 * 12 - 6 - 6
    replaced = _stored(session)
    for entry in session.exec(select(CensusEntry)).all():
        session.delete(entry)
    session.commit()
    fresh = import_census(session, OPERATOR, new)
    assert fresh.written and fresh.added == len(replaced)
    assert _stored(session) == replaced


def test_running_the_replacement_again_changes_nothing(session, two_markets, tmp_path):
    old, new = _csv(tmp_path / "old.csv", OLD), _csv(tmp_path / "new.csv", _new_list())
    import_census(session, OPERATOR, old)
    import_census(session, OPERATOR, new)
    before, stored = _rows(session), _stored(session)
    audits = len(session.exec(select(AuditEvent)).all())
    again = import_census(session, OPERATOR, new)
    assert again.written and not again.changed
    assert (again.added, again.removed, again.updated, again.unchanged) == (0, 0, 0, len(stored))
    assert "nothing changed" in again.summary()
    session.expire_all()
    assert _rows(session) == before and _stored(session) == stored  # not even re-stamped
    assert len(session.exec(select(AuditEvent)).all()) == audits


def test_a_bad_row_leaves_the_old_census_untouched(session, two_markets, tmp_path):
    import_census(session, OPERATOR, _csv(tmp_path / "old.csv", OLD))
    before = _stored(session)
    bad = _new_list() + [["HL1", "2025-06", "C-1", "Phạm\u202eVăn Nam", "", ""]]
    report = import_census(session, OPERATOR, _csv(tmp_path / "bad.csv", bad))
    assert not report.written and len(report.problems) == 1
    assert (report.added, report.removed, report.updated) == (0, 0, 0)
    assert _stored(session) == before


def test_a_failure_half_way_through_writes_nothing(session, two_markets, tmp_path, monkeypatch):
    """The updates and deletions of a list are already sent when its insert fails: all are rolled back."""
    import_census(session, OPERATOR, _csv(tmp_path / "old.csv", OLD))
    before = _stored(session)

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(census, "bulk_insert", broken)
    with pytest.raises(RuntimeError):
        import_census(session, OPERATOR, _csv(tmp_path / "new.csv", _new_list()))
    assert _stored(session) == before


def test_a_large_replacement_writes_only_the_changes(session, market, tmp_path):
    """2,000 households, 50 renamed: 50 updates, everything else left as stored (ids and stamps)."""
    rows = [["HL1", "2025-06", f"K-{i}", f"Hộ số {i}", "", ""] for i in range(2000)]
    import_census(session, OPERATOR, _csv(tmp_path / "old.csv", rows))
    before = _rows(session)
    for row in rows[::40]:
        row[3] += " (mới)"
    report = import_census(session, OPERATOR, _csv(tmp_path / "new.csv", rows))
    assert (report.added, report.removed, report.updated, report.unchanged) == (0, 0, 50, 1950)
    session.expire_all()
    after = _rows(session)
    assert {k for k in after if after[k] != before[k]} == {f"K{i}" for i in range(0, 2000, 40)}


def test_the_number_of_statements_does_not_grow_with_the_changes(session, market, tmp_path):
    """One executemany per kind of change, not one statement per household (before: 115 s for 100,000)."""
    from sqlalchemy import event
    rows = [["HL1", "2025-06", f"K-{i}", f"Hộ số {i}", "", ""] for i in range(1000)]
    import_census(session, OPERATOR, _csv(tmp_path / "old.csv", rows))
    for row in rows[::4]:
        row[3] += " (mới)"
    rows = rows[:900] + [["HL1", "2025-06", f"M-{i}", f"Hộ mới {i}", "", ""] for i in range(100)]
    statements = []
    engine = session.get_bind()
    listener = lambda *args: statements.append(args[2])  # noqa: E731  (conn, cursor, statement, ...)
    event.listen(engine, "before_cursor_execute", listener)
    try:
        report = import_census(session, OPERATOR, _csv(tmp_path / "new.csv", rows))
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert (report.added, report.removed, report.updated) == (100, 100, 225)
    writes = [s for s in statements if s.lstrip().upper().startswith(("UPDATE", "DELETE", "INSERT"))]
    assert len(writes) <= 5, writes  # update, delete, insert, audit
