"""Issue #9: dated history, one stall per canonical key, references that survive bank apps,
one account-number rule for every door, and a real province's past months reported.

Every registry test runs on SQLite and PostgreSQL (the ``engine``/``session`` fixtures).
"""
from __future__ import annotations

import csv
import json
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from market40 import accounts, db
from market40.exceptions import Conflict, ValidationError
from market40.models import (AuditEvent, CensusEntry, EnrollmentCode, Locality, Market, PaymentAccount, Stall,
                             StallPeriod, User, utcnow)
from market40.reconciliation import ReferenceIndex
from market40.services.census import import_census
from market40.services.imports import import_stalls
from market40.services.reconcile import reconcile
from market40.services.registry import Actor, Registry
from market40.txstore import TransferStore

ACTOR = Actor.operator("tests")
VN = accounts.VN_TZ
HEADER = ["Mã sạp", "Tên chủ hộ", "Ngân hàng", "Số tài khoản", "Tên chủ tài khoản", "Trạng thái",
          "Ngày đăng ký", "Ngày xác minh", "Ngày nghỉ"]


def vn(year: int, month: int, day: int) -> datetime:
    """The start of a Vietnamese day, aware UTC (how a dated event is stored)."""
    return datetime(year, month, day, tzinfo=VN).astimezone(timezone.utc)


def write_csv(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    with open(path, "w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def registry(session: Session, market: Market) -> Registry:
    return Registry(session, ACTOR)


@pytest.fixture
def store(tmp_path: Path):
    with TransferStore(tmp_path / "transfers.duckdb", memory_limit="256MB") as opened:
        yield opened


def periods(session: Session, month: str) -> dict[str, StallPeriod]:
    return {r.stall_code: r for r in session.exec(select(StallPeriod).where(StallPeriod.period == month)).all()}


# ----------------------------------------------------------------------------- A. history can be dated

def test_account_events_can_be_dated_and_the_audit_keeps_both_times(registry, session):
    registry.save_stall("HL1", code="A-12", owner_name="Nguyễn Thị Lan")
    before = utcnow()
    account, _ = registry.register_account("HL1/A-12", bank="vcb", number="0011012344418",
                                           holder_name="NGUYEN THI LAN", at="15/01/2025")
    registry.verify_account("HL1/A-12", at="2025-01-20")
    session.commit()
    session.refresh(account)
    assert account.created_at == vn(2025, 1, 15) and account.consent_at == vn(2025, 1, 15)
    assert account.verified_at == vn(2025, 1, 20)
    events = {e.action: e for e in session.exec(select(AuditEvent).where(AuditEvent.entity == "payment_account"))}
    assert events["account.register"].effective_at == vn(2025, 1, 15)
    assert events["account.verify"].effective_at == vn(2025, 1, 20)
    assert all(e.at >= before for e in events.values())  # recorded now, happened then
    from market40.services.audit import stall_trail
    trail = {e.action: e for e in stall_trail(registry, "HL1/A-12")}
    assert trail["account.verify"].effective_at == vn(2025, 1, 20) and trail["account.verify"].at >= before
    # a later revocation, dated too, replaced by a new account on the same day
    registry.register_account("HL1/A-12", bank="vcb", number="0011012349999", holder_name="NGUYEN THI LAN",
                              at="01/06/2025 09:30")
    session.commit()
    old, new = session.exec(select(PaymentAccount).order_by(PaymentAccount.id)).all()
    assert old.status == "revoked" and old.revoked_at == datetime(2025, 6, 1, 9, 30, tzinfo=VN)
    assert new.created_at == old.revoked_at


def test_dates_in_the_future_before_the_event_or_junk_are_refused(registry, session):
    registry.save_stall("HL1", code="A-12", owner_name="Nguyễn Thị Lan")
    registry.register_account("HL1/A-12", bank="vcb", number="0011012344418", holder_name="NGUYEN THI LAN",
                              at="15/01/2025")
    for at, words in (("01/01/2099", "in the future"), ("10/01/2025", "before 15/01/2025"),
                      ("31/02/2025", "DD/MM/YYYY"), ("hôm qua", "DD/MM/YYYY")):
        with pytest.raises(ValidationError) as info:
            registry.verify_account("HL1/A-12", at=at)
        assert info.value.errors[0].field == "at" and words in str(info.value), at
    with pytest.raises(ValidationError, match="before 15/01/2025"):  # the replacement cannot predate it
        registry.register_account("HL1/A-12", bank="vcb", number="0011012349999", holder_name="NGUYEN THI LAN",
                                  at="2025-01-01")
    with pytest.raises(ValidationError, match="before 15/01/2025"):
        registry.verify_pending("HL1", at="2025-01-02")
    assert registry.current_account(registry.stall("HL1/A-12")).status == "pending"


def test_stalls_open_and_close_on_a_given_day(registry, session):
    registry.save_stall("HL1", code="A-12", owner_name="Nguyễn Thị Lan")
    stall, outcome = registry.open_stall("HL1/A-12", at="01/03/2024")
    assert outcome == "updated" and stall.opened_on == date(2024, 3, 1)
    with pytest.raises(ValidationError, match="before 01/03/2024"):
        registry.close_stall("HL1/A-12", at="2024-01-01")
    registry.close_stall("HL1/A-12", at="15/05/2025", reason="chuyển đi")
    session.commit()
    stall = registry.stall("HL1/A-12")
    assert (stall.status, stall.closed_on, stall.opened_on) == ("closed", date(2025, 5, 15), date(2024, 3, 1))
    with pytest.raises(Conflict, match="already closed since 15/05/2025"):
        registry.close_stall("HL1/A-12")
    _, outcome = registry.open_stall("HL1/A-12", at="2025-09-01")
    assert outcome == "reopened" and registry.stall("HL1/A-12").closed_on is None
    close = session.exec(select(AuditEvent).where(AuditEvent.action == "stall.close")).one()
    assert close.effective_at == vn(2025, 5, 15) and close.note == "chuyển đi"


def test_the_board_list_dates_the_history(registry, session, tmp_path):
    rows = [["A-1", "Lan", "VCB", "0011012344418", "NGUYEN THI LAN", "", "15/01/2025", "2025-01-20", ""],
            ["A-2", "Hoa", "VCB", "0011012344419", "LE THI HOA", "", "15/01/2025", "", ""],
            ["A-3", "Bình", "VCB", "0011012344420", "TRAN VAN BINH", "", "", "02/02/2025", ""],
            ["A-4", "Đức", "", "", "", "", "", "", "31/05/2025"]]
    report = import_stalls(session, ACTOR, write_csv(tmp_path / "hl1.csv", rows), market="HL1")
    assert report.written and not report.problems
    got = {s.code: (s, registry.current_account(s)) for s in session.exec(select(Stall)).all()}
    assert got["A-1"][1].status == "verified" and got["A-1"][1].verified_at == vn(2025, 1, 20)
    assert got["A-1"][1].created_at == vn(2025, 1, 15)
    assert got["A-2"][1].status == "pending" and got["A-2"][1].created_at == vn(2025, 1, 15)
    assert got["A-3"][1].created_at == got["A-3"][1].verified_at == vn(2025, 2, 2)  # registered by then
    assert got["A-4"][0].status == "closed" and got["A-4"][0].closed_on == date(2025, 5, 31)
    verify = session.exec(select(AuditEvent).where(AuditEvent.action == "account.verify")).all()
    assert sorted(e.effective_at for e in verify) == [vn(2025, 1, 20), vn(2025, 2, 2)]
    again = import_stalls(session, ACTOR, write_csv(tmp_path / "hl1.csv", rows), market="HL1")
    assert not again.changed and again.unchanged == 4


def test_dates_added_to_an_undated_list_date_its_accounts(registry, session, tmp_path):
    rows = [["A-1", "Lan", "VCB", "0011012344418", "NGUYEN THI LAN", "", "", "", ""]]
    import_stalls(session, ACTOR, write_csv(tmp_path / "a.csv", rows), market="HL1")
    rows[0][6:8] = ["15/01/2025", "20/01/2025"]
    report = import_stalls(session, ACTOR, write_csv(tmp_path / "b.csv", rows), market="HL1")
    assert report.written and report.updated == 1
    account = session.exec(select(PaymentAccount)).one()
    assert (account.status, account.created_at, account.verified_at) == ("verified", vn(2025, 1, 15),
                                                                          vn(2025, 1, 20))


def test_bad_dates_are_reported_with_row_column_and_value(registry, session, tmp_path):
    rows = [["A-1", "Lan", "VCB", "0011012344418", "NGUYEN THI LAN", "", "15/01/2099", "", ""],
            ["A-2", "Hoa", "VCB", "0011012344419", "LE THI HOA", "", "20/01/2025", "15/01/2025", ""],
            ["A-3", "Bình", "VCB", "0011012344420", "TRAN VAN BINH", "", "mùng 5 tết", "", ""],
            ["A-4", "Đức", "", "", "", "", "", "02/02/2025", ""],
            ["A-5", "Nam", "", "", "", "Đang kinh doanh", "", "", "31/05/2025"],
            ["A-6", "Hải", "", "", "", "", "", "", "31/05/2025"]]
    report = import_stalls(session, ACTOR, write_csv(tmp_path / "bad.csv", rows), market="HL1")
    assert not report.written and session.exec(select(Stall)).all() == []
    found = {(p.row, e.field, e.value) for p in report.problems for e in p.error.errors}
    assert found == {(2, "registered_on", "15/01/2099"), (3, "verified_on", "15/01/2025"),
                     (4, "registered_on", "mùng 5 tết"), (5, "verified_on", "02/02/2025"),
                     (6, "closed_on", "31/05/2025")}
    messages = {p.row: str(p.error) for p in report.problems}
    assert "in the future" in messages[2] and "before 20/01/2025" in messages[3]


def test_excel_date_cells_are_dates(registry, session, tmp_path):
    from openpyxl import Workbook
    book = Workbook()
    sheet = book.active
    sheet.append(HEADER)
    sheet.append(["A-1", "Lan", "VCB", "0011012344418", "NGUYEN THI LAN", "", datetime(2025, 1, 15),
                  date(2025, 1, 20), None])
    sheet.append(["A-2", "Hoa", "VCB", "0011012344419", "LE THI HOA", "", datetime(2099, 1, 15), None, None])
    path = tmp_path / "dates.xlsx"
    book.save(path)
    report = import_stalls(session, ACTOR, path, market="HL1")
    assert [(p.row, p.error.errors[0].field) for p in report.problems] == [(3, "registered_on")]
    report = import_stalls(session, ACTOR, path, market="HL1", partial=True)
    account = session.exec(select(PaymentAccount)).one()
    assert account.created_at == vn(2025, 1, 15) and account.verified_at == vn(2025, 1, 20)


def test_reconciliation_sees_when_things_happened(registry, session, store):
    """Onboarded before market40 was installed: the past months report what happened then."""
    registry.save_stall("HL1", code="A-1", owner_name="Nguyễn Thị Lan")
    registry.save_stall("HL1", code="A-2", owner_name="Lê Thị Hoa")
    registry.register_account("HL1/A-1", bank="vcb", number="0011012344418", holder_name="NGUYEN THI LAN",
                              at="15/01/2025")
    registry.verify_account("HL1/A-1", at="20/01/2025")
    registry.close_stall("HL1/A-2", at="10/03/2025")
    session.commit()
    reconcile(session, ACTOR, "2024-12", store=store)
    reconcile(session, ACTOR, "2025-02", store=store)
    reconcile(session, ACTOR, "2025-04", store=store)
    assert periods(session, "2024-12")["A-1"].state == "no_qr"
    feb = periods(session, "2025-02")
    assert feb["A-1"].accepting and feb["A-1"].state == "accepting" and feb["A-2"].counted
    assert "A-2" not in periods(session, "2025-04")  # closed in March


def test_account_commands_take_at(tmp_path, engine, market):
    url = engine.url.render_as_string(hide_password=False)
    runner = CliRunner()
    from cli import main

    def run(*args):
        return runner.invoke(main, ["--db", url, *args], catch_exceptions=False)

    assert run("stall", "add", "HL1/A-12", "--owner", "Lan").exit_code == 0
    result = run("account", "set", "HL1/A-12", "--bank", "vcb", "--account", "0011012344418", "--holder",
                 "NGUYEN THI LAN", "--at", "15/01/2025")
    assert result.exit_code == 0, result.output
    result = run("account", "verify", "HL1/A-12", "--at", "01/01/2025")
    assert result.exit_code == 1 and "before 15/01/2025" in result.output
    assert run("account", "verify", "HL1/A-12", "--at", "20/01/2025").exit_code == 0
    assert run("account", "revoke", "HL1/A-12", "--reason", "nghỉ", "--at", "2025-06-30").exit_code == 0
    assert run("stall", "close", "HL1/A-12", "--at", "30/06/2025").exit_code == 0
    with Session(engine) as session:
        account = session.exec(select(PaymentAccount)).one()
        assert (account.verified_at, account.revoked_at) == (vn(2025, 1, 20), vn(2025, 6, 30))
        assert session.exec(select(Stall)).one().closed_on == date(2025, 6, 30)


# ----------------------------------------------------------------------------- B. one stall per key

def test_code_variants_are_the_same_stall(registry, session):
    stall, _ = registry.save_stall("HL1", code="A-12", owner_name="Nguyễn Thị Lan")
    for variant in ("A12", "a 12", "a.12"):
        same, outcome = registry.save_stall("HL1", code=variant, owner_name="Nguyễn Thị Lan")
        assert same.id == stall.id and same.code == "A-12" and outcome == "unchanged"
        assert registry.stall(f"HL1/{variant}").id == stall.id
    session.commit()
    assert len(session.exec(select(Stall)).all()) == 1 and stall.code_key == "A12"


def test_the_database_refuses_a_twin(session, market):
    session.add(Stall(market_id=market.id, code="A-12", owner_name="Lan"))
    session.commit()
    session.add(Stall(market_id=market.id, code="a12", owner_name="Hoa"))
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()


def test_imports_match_variants_to_the_existing_stall(registry, session, tmp_path):
    registry.save_stall("HL1", code="A-12", owner_name="Nguyễn Thị Lan")
    session.commit()
    rows = [["a12", "Nguyễn Thị Lan", "VCB", "0011 0123 44418", "NGUYEN THI LAN", "", "", "", ""]]
    report = import_stalls(session, ACTOR, write_csv(tmp_path / "l.csv", rows), market="HL1")
    assert report.written and report.created == 0 and report.accounts_created == 1
    [stall] = session.exec(select(Stall)).all()
    assert stall.code == "A-12" and registry.current_account(stall).number == "0011012344418"


def test_census_variants_count_for_the_registered_stall_and_twins_are_both_reported(registry, session, store,
                                                                                    tmp_path):
    registry.save_stall("HL1", code="A-12", owner_name="Nguyễn Thị Lan")
    session.commit()
    path = write_csv(tmp_path / "c.csv", [["a 12", "Nguyễn Thị Lan"]], header=["Mã sạp", "Tên chủ hộ"])
    assert import_census(session, ACTOR, path, market="HL1", period="2025-06").written
    reconcile(session, ACTOR, "2025-06", store=store)
    [row] = periods(session, "2025-06").values()
    assert row.stall_code == "A-12" and row.in_census and row.stall_id is not None
    twins = write_csv(tmp_path / "t.csv", [["A-12", "Lan"], ["B-1", "Bình"], ["a12", "Lan"]],
                      header=["Mã sạp", "Tên chủ hộ"])
    report = import_census(session, ACTOR, twins, market="HL1", period="2025-07")
    assert not report.written and [p.row for p in report.problems] == [2, 4]


def _legacy_registry_with_twins(url: str) -> None:
    """A registry from before migration 0004 whose stall list already holds twins."""
    db.upgrade(url, "0002")
    engine = db.make_engine(url)
    try:
        with engine.begin() as conn:
            now = utcnow().replace(tzinfo=None)
            conn.execute(text("INSERT INTO locality (id, code, name, kind, unit_type, province, valid_from) VALUES "
                              "(1, '06688', 'Phường Hạ Long', 'commune', 'phường', 'Quảng Ninh', '2025-07-01')"))
            conn.execute(text("INSERT INTO market (id, code, name, is_central, locality_id, created_at, updated_at) "
                              "VALUES (1, 'HL1', 'Chợ Hạ Long I', false, 1, :now, :now)"), {"now": now})
            for stall_id, code in ((1, "A-12"), (2, "A12"), (3, "B-1"), (4, "a 12")):
                conn.execute(text("INSERT INTO stall (id, market_id, code, owner_name, status, created_at, updated_at) "
                                  "VALUES (:id, 1, :code, 'Lan', 'operating', :now, :now)"),
                             {"id": stall_id, "code": code, "now": now})
            conn.execute(text("INSERT INTO census_entry (market_id, period, stall_code, stall_key, owner_name, source,"
                              " imported_at, imported_by) VALUES (1, '2025-06', 'A-12', 'A12', 'Lan', 'x', :now, 't')"),
                         {"now": now})
    finally:
        engine.dispose()


def test_the_migration_reports_existing_twins_and_reconcile_and_merge_cope(empty_db_url, tmp_path, capfd):
    _legacy_registry_with_twins(empty_db_url)
    db.upgrade(empty_db_url)  # not refused: the twins are kept apart and reported
    assert "1 groups of stalls are the same stall" in capfd.readouterr().err
    engine = db.make_engine(empty_db_url)
    try:
        with Session(engine) as session:
            keys = {s.code: s.code_key for s in session.exec(select(Stall)).all()}
            assert keys == {"A-12": "A12", "A12": "A12~2", "B-1": "B1", "a 12": "A12~4"}
            [event] = session.exec(select(AuditEvent).where(AuditEvent.action == "stall.twins")).all()
            assert "A12" in event.after and event.actor == "migration:0004"
            registry = Registry(session, ACTOR)
            assert registry.twins() == [{"kind": "twin", "key": "A12", "stalls": ["HL1/A-12", "HL1/A12", "HL1/a 12"]}]
            with TransferStore(tmp_path / "t.duckdb", memory_limit="256MB") as store:
                summary = reconcile(session, ACTOR, "2025-06", store=store)  # once an IntegrityError
            rows = periods(session, "2025-06")
            assert len(rows) == 4 and summary.stalls == 1  # the board's census counts A-12 once
            assert rows["A-12"].in_census and not rows["A12"].in_census
            registry = Registry(session, ACTOR)
            registry.merge_stalls("HL1/A12", "HL1/A-12")
            registry.merge_stalls("HL1/a 12", "HL1/A-12")
            session.commit()
            assert registry.twins() == []
    finally:
        engine.dispose()


def test_merge_moves_the_history_and_needs_a_choice_between_two_live_accounts(registry, session):
    good, _ = registry.save_stall("HL1", code="A-12", owner_name="Nguyễn Thị Lan")
    wrong, _ = registry.save_stall("HL1", code="A-21", owner_name="Nguyễn Thị Lan", owner_phone="0912345678")
    registry.register_account("HL1/A-21", bank="vcb", number="0011000000001", holder_name="NGUYEN THI LAN",
                              at="01/02/2025")
    registry.verify_account("HL1/A-21", at="02/02/2025")
    registry.register_account("HL1/A-12", bank="vcb", number="0011000000002", holder_name="NGUYEN THI LAN")
    registry.issue_enrollment_codes(key=b"k" * 32, stall="HL1/A-21")
    session.add(User(username="0912345678", display_name="Lan", role="owner", stall_id=wrong.id))
    session.add(CensusEntry(market_id=good.market_id, period="2025-03", stall_code="A-21", stall_key="A21",
                            owner_name="Lan", source="x", imported_by="t"))
    session.commit()
    with pytest.raises(Conflict, match="--keep"):
        registry.merge_stalls("HL1/A-21", "HL1/A-12")
    result = registry.merge_stalls("HL1/A-21", "HL1/A-12", keep="from", reason="nhập nhầm")
    session.commit()
    assert result.accounts == 1 and result.users == 1 and result.census_moved == 1
    assert result.reference_changed == "HL1 A12" and result.revoked == "•••• 0002"
    assert session.get(Stall, wrong.id) is None
    live = registry.current_account(registry.stall("HL1/A-12"))
    assert live.number == "0011000000001" and live.purpose == "HL1 A12" and "HL1 A12" in live.payload
    assert live.verified_at == vn(2025, 2, 2)  # its history is kept
    assert registry.stall("HL1/A-12").owner_phone == "0912345678"
    assert session.exec(select(EnrollmentCode)).one().stall_id == good.id
    assert session.exec(select(User)).one().stall_id == good.id
    assert session.exec(select(CensusEntry)).one().stall_key == "A12"
    merges = session.exec(select(AuditEvent).where(AuditEvent.action == "stall.merge")).all()
    assert {e.entity_id for e in merges} == {str(good.id), str(wrong.id)} and all("nhập nhầm" in e.note for e in merges)


def test_remove_is_for_stalls_without_history(registry, session):
    registry.save_stall("HL1", code="A-99", owner_name="Không Có")
    registry.save_stall("HL1", code="A-12", owner_name="Nguyễn Thị Lan")
    registry.register_account("HL1/A-12", bank="vcb", number="0011000000002", holder_name="NGUYEN THI LAN")
    with pytest.raises(Conflict, match="merge it"):
        registry.remove_stall("HL1/A-12", reason="nhầm")
    with pytest.raises(ValidationError, match="reason"):
        registry.remove_stall("HL1/A-99", reason=" ")
    registry.remove_stall("HL1/A99", reason="không có sạp này")
    session.commit()
    assert [s.code for s in session.exec(select(Stall)).all()] == ["A-12"]
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "stall.remove")).one()
    assert event.note == "không có sạp này" and "A-99" in event.before


# ----------------------------------------------------------------------------- C. references across markets

def test_references_that_read_alike_without_spaces_are_refused(registry, session, tmp_path):
    registry.save_market(code="HL11", name="Chợ Hạ Long XI", tier="III", locality="06688")
    registry.save_stall("HL1", code="15", owner_name="Lan")
    with pytest.raises(ValidationError, match="'HL115'.*HL1/15"):
        registry.save_stall("HL11", code="5", owner_name="Hoa")
    registry.save_stall("HL11", code="A5", owner_name="Hoa")  # a letter keeps them apart
    session.commit()
    rows = [["HL11", "5", "Hoa"], ["HL11", "6", "Mai"], ["HL1", "16", "Đào"]]
    path = write_csv(tmp_path / "x.csv", rows, header=["Mã chợ", "Mã sạp", "Tên chủ hộ"])
    report = import_stalls(session, ACTOR, path)
    assert [(p.row, p.error.errors[0].field) for p in report.problems] == [(2, "stall_code"), (4, "stall_code")]
    assert "HL11/6" in str(report.problems[1].error)  # two new rows of one file cannot collide either
    # the attribution rule stays safe for registries that already hold such a pair
    index = ReferenceIndex([("HL1 15", 1), ("HL11 5", 2)])
    assert index.match("HL115 tra tien").reason == "reference fits several stalls"


# ----------------------------------------------------------------------------- D. one account-number rule
# (the web form is a door too: tests/web/test_account_number_rule.py puts all three side by side)

def test_clean_account_number_drops_separators_and_names_bad_characters():
    assert accounts.clean_account_number("0011 0123-4441.8") == "0011012344418"
    for bad, char in (("0011/0123", "'/'"), ("0011ă0123", "'ă'")):
        with pytest.raises(ValidationError, match=char):
            accounts.clean_account_number(bad, field="account")


# ----------------------------------------------------------------------------- E. done means

def test_a_fresh_registry_onboards_a_market_with_its_history_and_reports_past_months(empty_db_url, tmp_path):
    """db init, one locality, a board list with registered/verified dates months ago, then the
    past months' adoption shows those stalls accepting, from the month they were verified."""
    from openpyxl import Workbook
    from cli import main
    runner = CliRunner()

    def run(*args):
        result = runner.invoke(main, ["--db", empty_db_url, *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result

    run("db", "init")
    engine = db.make_engine(empty_db_url)
    try:
        with Session(engine) as session:  # the official units are another command's job: the test's fixture
            session.add(Locality(code="06688", name="Phường Hạ Long", kind="commune", unit_type="phường",
                                 province="Quảng Ninh", valid_from=date(2025, 7, 1)))
            session.commit()
    finally:
        engine.dispose()
    run("market", "add", "HL1", "--name", "Chợ Hạ Long I", "--tier", "I", "--locality", "06688")
    book = Workbook()
    sheet = book.active
    sheet.append(["DANH SÁCH TIỂU THƯƠNG CHỢ HẠ LONG I"])
    sheet.append(["Mã sạp", "Tên chủ hộ", "Ngân hàng", "Số tài khoản", "Tên chủ tài khoản", "Ngày đăng ký",
                  "Ngày xác minh", "Trạng thái", "Ngày nghỉ"])
    sheet.append(["A-1", "Nguyễn Thị Lan", "Vietcombank", "0011 0123 44418", "NGUYEN THI LAN",
                  datetime(2025, 1, 10), datetime(2025, 1, 14), "", None])
    sheet.append(["A-2", "Lê Thị Hoa", "VietinBank", "108182798626", "LE THI HOA", "10/01/2025", "03/03/2025",
                  "", None])
    sheet.append(["A-3", "Trần Văn Bình", "BIDV", "44710000306811", "TRAN VAN BINH", "2025-02-01", None, "", None])
    sheet.append(["A-4", "Phạm Văn Đức", "", "", "", None, None, "Nghỉ", datetime(2025, 2, 15)])
    sheet.append(["A-5", "Vũ Thị Mai", "", "", "", None, None, "", None])
    path = tmp_path / "danh-sach.xlsx"
    book.save(path)
    run("stall", "import", str(path), "--market", "HL1")
    store = str(tmp_path / "transfers.duckdb")
    run("reconcile", "--period", "2025-02", "--months", "2", "--store", store)

    def adoption(month):
        output = run("report", "adoption", "--period", month, "--by", "market", "--format", "json", "-o", "-").output
        return json.loads(output)

    jan, feb = adoption("2025-01"), adoption("2025-02")
    assert (jan["province"]["stalls"], jan["province"]["accepting"]) == (5, 1)  # A-1 verified on 14 January
    assert (feb["province"]["stalls"], feb["province"]["accepting"]) == (4, 1)  # A-4 closed mid-February...
    assert feb["province"]["registered"] == 2  # ...A-2 and A-3 wait for verification at the end of February
    run("reconcile", "--period", "2025-03", "--store", store)
    assert adoption("2025-03")["province"]["accepting"] == 2  # A-2 verified on 3 March
