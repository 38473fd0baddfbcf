"""Officers and the province (issue #12): households beside stalls, the province's own target,
months not yet reconciled, markets onboarded later."""
import csv
import io
import json
import re
from datetime import date

import pytest
from openpyxl import load_workbook
from sqlmodel import select

from market40.exceptions import Forbidden
from market40.households import household_key
from market40.models import Market, Stall
from market40.services.reconcile import reconcile
from market40.services.registry import Actor
from market40.services.reports import adoption_summary, export, set_target
from reporthelpers import NOW, PERIOD


@pytest.fixture
def reconciled(session, world, loaded_store):
    reconcile(session, world.operator, PERIOD, store=loaded_store, now=NOW)
    return world


def _same_households(session, world):
    """A-5 and A-6 (both accepting) are one household by its tax code; A-4 (HL1) and B-2 (TY1), neither
    accepting, one household by phone and name, across two markets."""
    a5, a6, a4, b2 = (session.exec(select(Stall).where(Stall.code == c)).one() for c in ("A-5", "A-6", "A-4", "B-2"))
    a5.owner_tax_code = a6.owner_tax_code = "5701234567"
    a4.owner_name = b2.owner_name = "Mai Thị Sen"
    a4.owner_phone, b2.owner_phone = "0912 345 678", "+84912345678"
    session.add_all([a5, a6, a4, b2])
    session.commit()
    assert a5.household_key == a6.household_key == household_key(tax_code="5701-234-567")
    assert "5701234567" not in a5.household_key and "0912345678" not in a4.household_key  # digests only
    assert a4.household_key == b2.household_key == household_key(phone="0912345678", name="mai thi sen")


def test_a_household_with_several_stalls_counts_once(session, world, loaded_store, tmp_path):
    _same_households(session, world)
    reconcile(session, world.operator, PERIOD, store=loaded_store, now=NOW)
    report = adoption_summary(session, world.operator, PERIOD, months=2)
    p = report.province
    assert (p.stalls, p.accepting) == (11, 6)
    assert (p.households, p.households_accepting) == (9, 5)  # 11 stalls, two pairs of one household each
    assert p.household_accepting_rate == pytest.approx(5 / 9) and p.accepting_rate == pytest.approx(6 / 11)
    hl1 = {m.code: m for m in report.markets}["HL1"]
    assert (hl1.stalls, hl1.household_count, hl1.households_accepting) == (9, 8, 4)
    # every export carries both, each labelled
    book = io.BytesIO()
    export(report, "xlsx", book)
    summary = {}
    for r in load_workbook(book)["Tổng hợp"].iter_rows():
        if len(r) > 1:
            summary.setdefault(r[0].value, r[1].value)
    assert summary["Số hộ kinh doanh"] == 9 and summary["Số sạp (mẫu số)"] == 11
    assert summary["Tỷ lệ hộ chấp nhận – theo số hộ kinh doanh"] == pytest.approx(5 / 9)
    assert summary["Tỷ lệ sạp chấp nhận – theo số sạp"] == pytest.approx(6 / 11)
    out = io.BytesIO()
    export(report, "csv", out)
    row = list(csv.DictReader(out.getvalue().decode("utf-8-sig").splitlines()))[-1]
    assert (row["Số hộ kinh doanh"], row["% hộ chấp nhận"], row["Số sạp (mẫu số)"]) == ("9", "55.56", "11")
    out = io.BytesIO()
    export(report, "html", out)
    page = out.getvalue().decode()
    assert "Hộ chấp nhận TTKDTM – theo số hộ kinh doanh" in page and "55,6%" in page and "5 / 9 hộ" in page
    assert "Sạp chấp nhận – theo số sạp" in page and "6 / 11 sạp" in page
    out = io.BytesIO()
    export(report, "json", out)
    data = json.loads(out.getvalue())
    assert (data["province"]["households"], data["province"]["households_accepting"]) == (9, 5)
    assert "households" in data["definitions"]


def test_the_target_is_the_provinces(session, reconciled):
    default = adoption_summary(session, reconciled.operator, PERIOD)
    assert (default.target, default.target_source) == (1.0, "default")
    assert any("Chưa đặt mục tiêu của tỉnh" in n for n in default.notes)
    officer = Actor(name="user:5", role="officer", markets=frozenset(), localities=frozenset({reconciled.commune.id}))
    with pytest.raises(Forbidden):
        set_target(session, officer, "Quảng Ninh", 0.9)
    set_target(session, reconciled.operator, "quảng ninh", 0.5, source="KH 123/KH-UBND")
    report = adoption_summary(session, officer, PERIOD)
    assert (report.target, report.target_source, report.province_name) == (0.5, "province", "Quảng Ninh")
    assert report.province.markets_at_target == 1  # HL1: 5 of 9 accepting reaches 50%
    out = io.BytesIO()
    export(report, "html", out)
    assert "50,0% (mục tiêu của tỉnh Quảng Ninh — KH 123/KH-UBND)" in out.getvalue().decode()
    assert adoption_summary(session, officer, PERIOD, target=0.8).target_source == "given"


def test_a_month_not_reconciled_says_so_and_never_zero(session, reconciled):
    report = adoption_summary(session, reconciled.operator, "2025-05", months=3)
    assert not report.reconciled
    out = io.BytesIO()
    export(report, "html", out)
    page = out.getvalue().decode()
    assert "chưa được đối soát" in page and not re.search(r"(?<![0-9])0,0%", page) and "Chưa đối soát" in page
    out = io.BytesIO()
    export(report, "csv", out)
    rows = list(csv.DictReader(out.getvalue().decode("utf-8-sig").splitlines()))
    assert rows and all(r["Tình trạng kỳ"] == "Chưa đối soát" and r["% sạp chấp nhận (theo số sạp)"] == ""
                        and r["Số sạp (mẫu số)"] == "" for r in rows)
    june = adoption_summary(session, reconciled.operator, PERIOD, months=3)
    out = io.BytesIO()
    export(june, "xlsx", out)
    trend = load_workbook(out)["Xu hướng"]
    states = {r[0].value: r[1].value for r in trend.iter_rows(min_row=2)}
    assert states == {"2025-04": "Chưa đối soát", "2025-05": "Chưa đối soát", "2025-06": "Đã đối soát"}


def test_a_market_onboarded_later_is_left_out_of_earlier_months(session, reconciled):
    ty1 = session.exec(select(Market).where(Market.code == "TY1")).one()
    ty1.onboarded_on = date(2025, 7, 1)
    session.add(ty1)
    session.commit()
    report = adoption_summary(session, reconciled.operator, PERIOD)
    assert [m.code for m in report.markets] == ["HL1"] and report.province.markets == 1
    assert report.not_yet_onboarded == [{"code": "TY1", "name": "Chợ Tiên Yên", "onboarded_on": date(2025, 7, 1)}]
    assert any("TY1 · Chợ Tiên Yên (từ 01/07/2025)" in n for n in report.notes)
    ty1.onboarded_on = date(2025, 6, 20)  # onboarded during the month: counted in it
    session.add(ty1)
    session.commit()
    assert [m.code for m in adoption_summary(session, reconciled.operator, PERIOD).markets] == ["HL1", "TY1"]


def test_the_markets_list_carries_the_onboarding_day(session, world, tmp_path):
    from market40.services.imports import import_markets
    path = tmp_path / "cho.csv"
    path.write_text("Mã chợ,Tên chợ,Hạng,Địa phương,Ngày triển khai\nTY1,Chợ Tiên Yên,III,QN-X-TIENYEN,01/12/2025\n",
                    encoding="utf-8-sig")
    report = import_markets(session, world.operator, path)
    assert report.problems == [] and report.updated == 1
    assert session.exec(select(Market).where(Market.code == "TY1")).one().onboarded_on == date(2025, 12, 1)
