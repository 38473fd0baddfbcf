"""Market fees (issue #11): collection account, tariffs, areas, readings, bills, slips, matching."""
from __future__ import annotations

import dataclasses
import json
import subprocess
from datetime import date, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlmodel import Session, select

from market40 import db, fees as rules, qrimage, vietqr
from market40.exceptions import Conflict, Forbidden, ValidationError
from market40.models import AuditEvent, FeeBill, FeePayment, FeeTariff, Market, Stall, User
from market40.services.fees import Fees, write_template
from market40.services.registry import Actor, Registry

OP = Actor.operator("tester")
MARKET = "HA3"  # the demo's smallest market with stalls (tier III)
PERIOD = "2026-12"

TARIFFS = """Mã khoản thu,Loại,Tên khoản thu,Đơn vị tính,Đơn giá (đ),Hạng chợ,Vị trí,Căn cứ,Hiệu lực từ,Hết hiệu lực
THUE,thuê,Tiền thuê điểm kinh doanh,m²/tháng,40.000,III,,QĐ 48/2017/QĐ-UBND,01/01/2026,
THUE,thuê,Tiền thuê điểm kinh doanh (góc),m²/tháng,55.000,III,góc,QĐ 48/2017/QĐ-UBND,01/01/2026,
THUE,thuê,Tiền thuê điểm kinh doanh,m²/tháng,70.000,I,,QĐ 48/2017/QĐ-UBND,01/01/2026,
VESINH,cố định,Phí vệ sinh môi trường,tháng,50000,,,QĐ 48/2017/QĐ-UBND,01/01/2026,
DIEN,chỉ số,Tiền điện,kWh,3.000,,,QĐ 48/2017/QĐ-UBND,01/01/2026,
LUOT,lượt,Phí theo lượt,lượt,10000,,,QĐ 48/2017/QĐ-UBND,01/01/2026,
"""


@pytest.fixture
def demo(demo_copy: Path):
    engine = db.make_engine(db.database_url(str(demo_copy)))
    yield engine
    engine.dispose()


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _stalls(session: Session, code: str = MARKET) -> list[SimpleNamespace]:
    market = session.exec(select(Market).where(Market.code == code)).one()
    return [SimpleNamespace(id=s.id, code=s.code) for s in session.exec(
        select(Stall).where(Stall.market_id == market.id, Stall.status == "operating").order_by(Stall.code_key)).all()]


def _setup(engine, tmp_path: Path, *, corner: str | None = None) -> list[Stall]:
    """Account, tariffs, areas for every operating stall (the first one a corner), readings for two."""
    with Session(engine) as session:
        fees = Fees(session, OP)
        fees.set_account(MARKET, bank="970436", number="0011009876543", holder_name="BAN QUAN LY CHO HA AN")
        session.commit()
        assert fees.import_tariffs(_write(tmp_path, "t.csv", TARIFFS)).created == 6
        stalls = _stalls(session)
        rows = ["Mã sạp,Diện tích (m²),Vị trí"] + [
            f"{s.code},{'4,5' if i % 2 else '6'},{'góc' if i == 0 else 'trong'}" for i, s in enumerate(stalls)]
        report = Fees(session, OP).import_stalls(_write(tmp_path, "areas.csv", "\n".join(rows)), market=MARKET)
        assert report.created == len(stalls) and not report.problems
        readings = ("Mã sạp,Mã khoản thu,Chỉ số cũ,Chỉ số mới,Số lượng\n"
                    f"{stalls[0].code},DIEN,1200,1320,\n{stalls[1].code},LUOT,,,12\n")
        report = Fees(session, OP).import_readings(_write(tmp_path, "r.csv", readings), market=MARKET, period=PERIOD)
        assert report.created == 2 and not report.problems
        return stalls


# ----------------------------------------------------------------------------- part 1: data


def test_collection_account_is_validated_audited_and_staff_only(demo):
    with Session(demo) as session:
        fees = Fees(session, OP)
        with pytest.raises(ValidationError) as caught:
            fees.set_account(MARKET, bank="nonexistent bank", number="12 34", holder_name="ban quản lý")
        fields = {e.field for e in caught.value.errors}
        assert {"bank"} <= fields
        account, outcome = fees.set_account(MARKET, bank="vietcombank", number="0011-0098-76543",
                                            holder_name="Ban Quan Ly Cho")
        assert (account.bin, account.number, outcome) == ("970436", "0011009876543", "created")
        assert fees.set_account(MARKET, bank="vietcombank", number="0011009876543",
                                holder_name="BAN QUAN LY CHO")[1] == "unchanged"
        event = session.exec(select(AuditEvent).where(AuditEvent.action == "fee.account.set")).one()
        assert "0011009876543" not in (event.after or "")  # masked in the trail
        board = Actor("user:99", role="board", user_id=99, markets=frozenset({account.market_id}), localities=frozenset())
        with pytest.raises(Forbidden):
            Fees(session, board).set_account(MARKET, bank="vietcombank", number="1", holder_name="X")


def test_tariff_import_reports_every_bad_row_writes_nothing_and_is_idempotent(demo, tmp_path):
    bad = TARIFFS + ("XX,monthly,,kWh,0,,,QĐ,31/02/2026,\n"
                     "VESINH,cố định,Phí vệ sinh,tháng,50000,,góc,QĐ,01/01/2026,01/01/2025\n")
    with Session(demo) as session:
        fees = Fees(session, OP)
        rejects = tmp_path / "rejects.csv"
        report = fees.import_tariffs(_write(tmp_path, "bad.csv", bad), rejects=rejects)
        assert [p.row for p in report.problems] == [8, 9]
        assert {e.field for e in report.problems[0].error.errors} >= {"kind", "name", "unit_price", "valid_from"}
        assert {e.field for e in report.problems[1].error.errors} >= {"position_class", "valid_to"}
        assert not report.written and session.exec(select(FeeTariff)).all() == []
        assert "Hiệu lực từ" in rejects.read_text(encoding="utf-8-sig")
        good = _write(tmp_path, "good.csv", TARIFFS)
        assert fees.import_tariffs(good).created == 6
        again = fees.import_tariffs(good)
        assert (again.created, again.updated, again.unchanged, again.changed) == (0, 0, 6, False)
        listed = fees.tariffs(on=PERIOD)
        assert [(t.code, t.unit_price) for t in listed][:2] == [("DIEN", 3000), ("LUOT", 10000)]
        assert all(t.source == "QĐ 48/2017/QĐ-UBND" for t in listed)


def test_tariff_template_has_vietnamese_headers_and_a_guide(tmp_path):
    from openpyxl import load_workbook
    write_template(tmp_path / "t.xlsx", "tariffs")
    book = load_workbook(tmp_path / "t.xlsx")
    headers = [c.value for c in next(book.worksheets[0].iter_rows(max_row=1))]
    assert headers[:5] == ["Mã khoản thu", "Loại", "Tên khoản thu", "Đơn vị tính", "Đơn giá (đ)"]
    assert book.worksheets[1].title == "Hướng dẫn"


def test_stall_and_reading_imports_report_all_bad_rows_and_are_idempotent(demo, tmp_path):
    with Session(demo) as session:
        fees = Fees(session, OP)
        fees.import_tariffs(_write(tmp_path, "t.csv", TARIFFS))
        stalls = _stalls(session)
        areas = (f"Mã sạp,Diện tích (m²),Vị trí\n{stalls[0].code},4,5\nZZ999,3,\n"
                 f"{stalls[1].code},abc,\n{stalls[0].code},5,\n")
        report = fees.import_stalls(_write(tmp_path, "a.csv", areas.replace("4,5", '"4,5"')), market=MARKET)
        assert [p.row for p in report.problems] == [3, 4, 5] and not report.written
        readings = (f"Mã sạp,Mã khoản thu,Chỉ số cũ,Chỉ số mới,Số lượng\n{stalls[0].code},DIEN,100,90,\n"
                    f"{stalls[1].code},VESINH,,,3\n{stalls[2].code},DIEN,100,150,\n")
        report = fees.import_readings(_write(tmp_path, "r.csv", readings), market=MARKET, period=PERIOD)
        assert [p.row for p in report.problems] == [2, 3] and not report.written
        good = _write(tmp_path, "r2.csv", f"Mã sạp,Mã khoản thu,Chỉ số cũ,Chỉ số mới\n{stalls[2].code},DIEN,100,150\n")
        assert fees.import_readings(good, market=MARKET, period=PERIOD).created == 1
        assert fees.import_readings(good, market=MARKET, period=PERIOD).unchanged == 1


# ----------------------------------------------------------------------------- part 2: bills


def test_bills_one_per_operating_stall_rerun_changes_nothing_correction_is_a_new_version(demo, tmp_path):
    stalls = _setup(demo, tmp_path)
    with Session(demo) as session:
        fees = Fees(session, OP)
        run = fees.issue(MARKET, PERIOD)
        session.commit()
        assert (run.created, run.stalls, run.problems) == (len(stalls), len(stalls), [])
        first = fees.bill(rules.bill_number(MARKET, PERIOD, stalls[0].code))
        # corner rent 6 m² × 55.000 + sanitation 50.000 + 120 kWh × 3.000
        assert first.amount == 6 * 55_000 + 50_000 + 120 * 3_000
        assert [line["code"] for line in first.versions[0]["lines"]] == ["DIEN", "THUE", "VESINH"]
        assert first.due_date == date(2026, 12, 15) and first.state in ("unpaid", "overdue")
        assert fees.issue(MARKET, PERIOD).created == 0 and fees.issue(MARKET, PERIOD).unchanged == len(stalls)
        # a corrected reading: a new version with the difference only, the first one untouched
        fix = _write(tmp_path, "fix.csv", f"Mã sạp,Mã khoản thu,Chỉ số cũ,Chỉ số mới\n{stalls[0].code},DIEN,1200,1340\n")
        fees.import_readings(fix, market=MARKET, period=PERIOD)
        run = fees.issue(MARKET, PERIOD)
        session.commit()
        assert (run.created, run.corrected, run.amount) == (0, 1, 20 * 3_000)
        view = fees.bill(first.number)
        assert [v["amount"] for v in view.versions] == [first.amount, 60_000]
        assert view.versions[1]["number"].endswith("-2")
        stored = session.exec(select(FeeBill).where(FeeBill.number == first.number)).one()
        assert stored.amount == first.amount  # never overwritten
        qr = vietqr.parse(view.payload)
        assert qr.amount == first.amount + 60_000 and qr.bill_number == view.versions[1]["number"]


def test_a_stall_without_an_area_stops_the_run_unless_partial(demo, tmp_path):
    stalls = _setup(demo, tmp_path)
    with Session(demo) as session:
        market = session.exec(select(Market).where(Market.code == MARKET)).one()
        registry = Registry(session, OP)
        registry.save_stall(MARKET, code="Z-1", owner_name="Nguyễn Văn Mới")
        session.commit()
        fees = Fees(session, OP)
        run = fees.issue(MARKET, PERIOD)
        assert not run.written and any("Z-1" in p and "diện tích" in p for p in run.problems)
        assert session.exec(select(FeeBill).where(FeeBill.market_id == market.id)).all() == []
        run = fees.issue(MARKET, PERIOD, partial=True)
        assert run.written and run.created == len(stalls)


def test_bill_qr_is_dynamic_to_the_board_with_bill_number_and_reference(demo, tmp_path):
    stalls = _setup(demo, tmp_path)
    with Session(demo) as session:
        fees = Fees(session, OP)
        fees.issue(MARKET, PERIOD)
        view = fees.bills(MARKET, PERIOD)[0]
        qr = vietqr.parse(view.payload)
        assert qr.crc_ok and qr.initiation == vietqr.DYNAMIC
        assert (qr.bin, qr.account, qr.amount) == ("970436", "0011009876543", view.amount)
        assert qr.bill_number == view.number and qr.purpose == rules.bill_reference(MARKET, PERIOD, view.stall_code)
        assert len(qr.purpose) <= rules.MAX_REFERENCE


def test_every_slip_qr_decodes_to_the_board_account_amount_and_reference(demo, tmp_path):
    _setup(demo, tmp_path)
    with Session(demo) as session:
        fees = Fees(session, OP)
        fees.issue(MARKET, PERIOD)
        views = {v.number: v for v in fees.slips(MARKET, PERIOD)}
        pdf = tmp_path / "slips.pdf"
        assert fees.write_slips(MARKET, PERIOD, pdf) == len(views)
    subprocess.run(["pdftoppm", "-r", "150", "-png", str(pdf), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) == -(-len(views) // 4)
    found = {}
    for page in pages:
        for text in qrimage.read(page):
            qr = vietqr.parse(text)
            found[qr.bill_number] = qr
    assert set(found) == set(views)
    index = rules.bill_index([(v.reference, v.number) for v in views.values()])
    for number, qr in found.items():
        assert qr.crc_ok and qr.initiation == vietqr.DYNAMIC and (qr.bin, qr.account) == ("970436", "0011009876543")
        assert qr.amount == views[number].owed
        assert index.match(qr.purpose).stall == number


# ----------------------------------------------------------------------------- part 3: matching


def _incoming(tx: str, amount: int, content: str, day: int = 5) -> rules.Incoming:
    return rules.Incoming(f"970436:{tx}", datetime(2026, 12, day, 9, 30), amount, content)


def test_matching_by_reference_amount_partial_over_split_and_unknown(demo, tmp_path):
    _setup(demo, tmp_path)
    with Session(demo) as session:
        fees = Fees(session, OP)
        fees.issue(MARKET, PERIOD)
        session.commit()
        views = fees.bills(MARKET, PERIOD, today=date(2026, 12, 10))
        a, b, c, d, e, f = views[:6]
        compact = a.reference.replace(" ", "").lower()
        transfers = [
            _incoming("T1", a.amount, f"MBVCB.3278614981.{compact}.CT tu 0011001234567"),  # mangled reference
            _incoming("T2", b.amount - 10_000, b.reference),                                 # partial
            _incoming("T3", c.amount + 5_000, c.reference),                                  # over-payment
            _incoming("T4", d.amount + e.amount, f"{d.reference} {e.reference}"),             # two bills, one transfer
            _incoming("T5", 123, "chuyen tien"),                                             # nothing fits
        ]
        run = fees.match(MARKET, transfers)
        session.commit()
        assert run.applied == 5 and len(run.unmatched) == 1 and run.unmatched[0]["tx"] == "970436:T5"
        states = {v.number: v for v in fees.bills(MARKET, PERIOD, today=date(2026, 12, 10))}
        assert states[a.number].state == "paid" and states[a.number].receipt_serial
        assert states[b.number].state == "partly_paid" and states[b.number].owed == 10_000
        assert states[c.number].state == "paid" and "nộp thừa 5.000 đ" in states[c.number].payments[0]["note"]
        assert states[d.number].state == states[e.number].state == "paid"
        assert states[f.number].state == "unpaid"
        # re-running with the same transfers changes nothing
        again = fees.match(MARKET, transfers)
        assert (again.applied, again.already, len(again.unmatched)) == (0, 4, 1)
        assert len(session.exec(select(FeePayment)).all()) == 5
        # content lost: matched by the one bill owing exactly that amount, shown as such
        owed = states[b.number].owed
        lost = fees.match(MARKET, [_incoming("T6", owed, "", day=12)])
        assert lost.applied == 1 and "số tiền" in lost.notes[0]["note"]
        assert fees.bill(b.number, today=date(2026, 12, 20)).state == "paid"


def test_a_webhook_payment_coming_back_in_the_statement_under_another_id_is_not_applied_twice(demo, tmp_path):
    _setup(demo, tmp_path)
    with Session(demo) as session:
        fees = Fees(session, OP)
        fees.issue(MARKET, PERIOD)
        session.commit()
        a, b = fees.bills(MARKET, PERIOD, today=date(2026, 12, 10))[:2]
        live = rules.Incoming("970436:SEPAY-991", datetime(2026, 12, 5, 9, 30), a.amount, a.reference, "webhook")
        assert fees.match(MARKET, [live]).applied == 1
        session.commit()
        # the month's statement: the same transfer under the bank's own id, and a second, genuine one
        statement = [rules.Incoming("970436:FT26339001", datetime(2026, 12, 5, 9, 31), a.amount, a.reference),
                     rules.Incoming("970436:FT26339002", datetime(2026, 12, 6, 8, 0), b.amount, b.reference)]
        run = fees.match(MARKET, statement)
        session.commit()
        assert (run.applied, run.already) == (1, 1)
        states = {v.number: v for v in fees.bills(MARKET, PERIOD, today=date(2026, 12, 10))}
        assert states[a.number].paid == a.amount and states[b.number].state == "paid"
        # the other way round: a statement row first, then a late webhook retry under its own id
        late = rules.Incoming("970436:SEPAY-992", datetime(2026, 12, 6, 8, 0), b.amount, b.reference, "webhook")
        assert (fees.match(MARKET, [late]).applied, sum(v.paid for v in fees.bills(MARKET, PERIOD))) == \
            (0, a.amount + b.amount)


def test_matching_pauses_the_garbage_collector_and_restores_it_even_on_an_error(demo, tmp_path, monkeypatch):
    import gc

    _setup(demo, tmp_path)
    seen = []

    def failing(*args, **kwargs):
        seen.append(gc.isenabled())
        raise RuntimeError("boom")

    with Session(demo) as session:
        fees = Fees(session, OP)
        fees.issue(MARKET, PERIOD)
        a = fees.bills(MARKET, PERIOD)[0]
        assert gc.isenabled()
        with monkeypatch.context() as patch:
            patch.setattr(rules, "match", failing)
            with pytest.raises(RuntimeError):
                fees.match(MARKET, [_incoming("T1", a.amount, a.reference)])
        assert seen == [False] and gc.isenabled()
        gc.disable()  # a caller that paused it itself keeps it paused
        try:
            assert fees.match(MARKET, [_incoming("T1", a.amount, a.reference)]).applied == 1
            assert not gc.isenabled()
        finally:
            gc.enable()


def test_a_transfer_without_reference_matches_by_amount_only_within_the_window_after_the_due_date():
    due = rules.BillDue(group=(1, PERIOD), key="F2612HA3A1", stall=1, period=PERIOD, bills=[(10, 150_000)], paid=[0],
                        issued=datetime(2026, 12, 1), due_on=date(2026, 12, 15))
    index = rules.bill_index([("F2612HA3 A1", "F2612HA3 A1")])

    def run(day: datetime, window: int = 10) -> rules.Matching:
        fresh = dataclasses.replace(due, paid=[0])
        return rules.match([rules.Incoming("970436:X", day, 150_000, "")], [fresh], index, window_days=window)

    assert [a.method for a in run(datetime(2026, 12, 25, 23, 59)).allocations] == ["amount"]  # due + 10 days
    assert not run(datetime(2026, 12, 26, 0, 0)).allocations                                  # one day later
    assert not run(datetime(2026, 11, 30, 12, 0)).allocations                                 # before it was issued


def test_cash_payment_receipt_status_and_arrears(demo, tmp_path):
    _setup(demo, tmp_path)
    with Session(demo) as session:
        fees = Fees(session, OP)
        fees.issue(MARKET, PERIOD)
        views = fees.bills(MARKET, PERIOD)
        paid = fees.record_cash(views[0].number, views[0].amount, note="nộp tại văn phòng")
        session.commit()
        assert paid.state == "paid" and paid.receipt_serial.startswith("BL-HA3-")
        with pytest.raises(Conflict):
            fees.record_cash(views[0].number, 1000)
        pdf = tmp_path / "receipt.pdf"
        assert fees.write_receipt(views[0].number, pdf) == paid.receipt_serial
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
        assert "BIÊN LAI THU PHÍ CHỢ" in text and paid.receipt_serial in text
        with pytest.raises(Conflict):
            fees.write_receipt(views[1].number, tmp_path / "no.pdf")
        status = fees.status(MARKET, PERIOD, today=date(2027, 1, 5))
        assert status["paid"] == views[0].amount and status["paid_cashless"] == 0
        assert status["overdue"] == len(views) - 1
        arrears = fees.arrears(MARKET, today=date(2027, 1, 5))
        assert len(arrears) == len(views) - 1 and arrears[0]["days"] == 21
        reminders = fees.reminders(MARKET, today=date(2027, 1, 5))
        assert "còn nợ phí chợ" in reminders[0]["text"]
        assert session.exec(select(AuditEvent).where(AuditEvent.action == "fee.cash")).one()


def test_owner_sees_only_their_own_bills_board_only_its_market(demo, tmp_path):
    stalls = _setup(demo, tmp_path)
    with Session(demo) as session:
        Fees(session, OP).issue(MARKET, PERIOD)
        owner = Actor("user:500", role="owner", user_id=500, stall_id=stalls[0].id)
        mine = Fees(session, owner).my_bills()
        assert [v.stall_code for v in mine] == [stalls[0].code]
        other = rules.bill_number(MARKET, PERIOD, stalls[1].code)
        with pytest.raises(Forbidden):
            Fees(session, owner).bill(other)
        elsewhere = session.exec(select(Market).where(Market.code == "HL1")).one()
        board = Actor("user:501", role="board", user_id=501, markets=frozenset({elsewhere.id}), localities=frozenset())
        with pytest.raises(Forbidden):
            Fees(session, board).bills(MARKET, PERIOD)
        with pytest.raises(Forbidden):
            Fees(session, board).issue(MARKET, PERIOD)


# ----------------------------------------------------------------------------- part 5: the indicator


def test_adoption_report_gains_the_share_of_fees_paid_cashless(demo, tmp_path):
    import csv
    from openpyxl import load_workbook
    from market40.services.reports import adoption_summary, export
    _setup(demo, tmp_path)
    with Session(demo) as session:
        fees = Fees(session, OP)
        fees.issue(MARKET, PERIOD)
        session.commit()
        views = fees.bills(MARKET, PERIOD)
        a, b = views[0], views[1]
        fees.match(MARKET, [_incoming("T1", a.amount, a.reference)])       # paid by transfer
        fees.record_cash(b.number, b.amount)                                 # paid in cash: not cashless
        session.commit()
        billed = sum(v.amount for v in views)
        report = adoption_summary(session, OP, PERIOD, by="market", anomalies=False)
        [row] = [m for m in report.markets if m.code == MARKET]
        assert (row.fees_billed, row.fees_cashless) == (billed, a.amount)
        assert row.fees_cashless_rate == pytest.approx(a.amount / billed)
        tier = next(f for f in report.views["tier"] if f.label == "III")
        assert tier.fees_cashless_rate == pytest.approx(a.amount / billed)
        assert report.province.fees_billed == billed
        locality = report.views["locality"]
        assert sum(f.fees_cashless for f in locality) >= a.amount
        for fmt in ("xlsx", "csv", "json", "html"):
            export(report, fmt, tmp_path / f"r.{fmt}")
    data = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert data["province"]["fees_cashless"] == a.amount
    assert "% phí chợ thu không dùng tiền mặt" in (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "% phí chợ thu không dùng tiền mặt" in (tmp_path / "r.csv").read_text(encoding="utf-8-sig")
    book = load_workbook(tmp_path / "r.xlsx")
    headers = [c.value for c in next(book["Theo chợ"].iter_rows(max_row=1))] if "Theo chợ" in book.sheetnames else \
        [c.value for ws in book.worksheets for c in next(ws.iter_rows(max_row=1))]
    assert "% phí chợ thu không dùng tiền mặt" in headers
