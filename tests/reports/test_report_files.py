"""The adoption report: figures, scope, and the files (XLSX read back with openpyxl, CSV, HTML, JSON)."""
import csv
import io
import json
import re

import pytest
from openpyxl import load_workbook
from sqlmodel import select

from market40.exceptions import Forbidden, InvalidFormat
from market40.models import AuditEvent, Market, Stall
from market40.services.reconcile import reconcile
from market40.services.registry import Actor
from market40.services.reports import EXPORT_FORMATS, adoption_summary, export

from reporthelpers import NOW, PERIOD

EVIL_MARKET = '=HYPERLINK("http://evil.example/x","Chợ Hạ Long I")'
EVIL_SHOP = "<script>alert(1)</script>"


@pytest.fixture
def reconciled(session, world, loaded_store):
    reconcile(session, world.operator, PERIOD, store=loaded_store, now=NOW)
    return world


def test_figures_are_given_both_ways(session, reconciled):
    report = adoption_summary(session, reconciled.operator, PERIOD, months=3, target=0.5)
    p = report.province
    assert (p.markets, p.stalls, p.accepting, p.active, p.registered) == (2, 11, 6, 7, 0)
    assert p.accepting_rate == pytest.approx(6 / 11)
    assert p.mean_accepting_rate == pytest.approx((5 / 9 + 1 / 2) / 2)
    assert p.mean_active_rate == pytest.approx((6 / 9 + 1 / 2) / 2)
    assert (p.markets_at_target, p.stalls_to_target, p.census_markets) == (2, 0, 1)
    tiers = {f.label: f for f in report.views["tier"]}
    assert tiers["I"].stalls == 9 and tiers["III"].stalls == 2
    assert [m.code for m in report.markets] == ["HL1", "TY1"] and report.markets[0].denominator == "census"
    assert [(t.period, t.figures is not None) for t in report.trend] == [
        ("2025-04", False), ("2025-05", False), ("2025-06", True)]
    assert report.reconciled and report.level == "district"


def test_localities_by_former_district_or_commune(session, reconciled):
    report = adoption_summary(session, reconciled.operator, PERIOD, by="locality")
    districts = {f.label: f.stalls for f in report.rows}
    assert districts == {"Thành phố Hạ Long": 11, "Huyện Tiên Yên": 2}  # Xã Tiên Yên came from both
    assert any("hai huyện cũ" in note for note in report.notes)
    communes = adoption_summary(session, reconciled.operator, PERIOD, by="locality", level="commune")
    assert {f.label: f.stalls for f in communes.rows} == {"Phường Hồng Gai": 9, "Xã Tiên Yên": 2}
    only = adoption_summary(session, reconciled.operator, PERIOD, by="market", locality="QN-TY")
    assert [m.code for m in only.markets] == ["TY1"] and only.scope == "Huyện Tiên Yên"


def test_scope_of_officers_and_staff(session, reconciled):
    officer = Actor(name="user:5", role="officer", markets=frozenset(),
                    localities=frozenset({reconciled.commune.id}))
    report = adoption_summary(session, officer, PERIOD)
    assert [m.code for m in report.markets] == ["HL1"] and report.province.stalls == 9
    assert {a["market"] for a in report.anomalies} == {"HL1"}  # no province-wide lists
    staff = Actor(name="user:6", role="staff", markets=frozenset({reconciled.ty1.id}), localities=frozenset())
    assert [m.code for m in adoption_summary(session, staff, PERIOD).markets] == ["TY1"]
    with pytest.raises(Forbidden):
        adoption_summary(session, Actor(name="user:7", role="owner", stall_id=1), PERIOD)
    everything = adoption_summary(session, reconciled.operator, PERIOD)
    assert {"unknown_account", "unattributed"} <= {a["kind"] for a in everything.anomalies}
    assert session.exec(select(AuditEvent).where(AuditEvent.action == "report.adoption")).all()


@pytest.mark.parametrize("kwargs", [{"by": "district"}, {"level": "ward"}, {"months": 0}, {"target": 0},
                                    {"target": 1.5}])
def test_bad_options(session, reconciled, kwargs):
    with pytest.raises(InvalidFormat.__mro__[1]):  # ValidationError
        adoption_summary(session, reconciled.operator, PERIOD, **kwargs)


def test_an_unreconciled_period_says_so(session, world):
    report = adoption_summary(session, world.operator, "2025-03")
    assert not report.reconciled and report.province.stalls == 0
    assert "market40 reconcile --period 2025-03" in report.notes[0]


@pytest.fixture
def evil_report(session, reconciled):
    market = session.exec(select(Market).where(Market.code == "HL1")).one()
    market.name = EVIL_MARKET
    stall = session.exec(select(Stall).where(Stall.code == "A-1")).one()
    stall.shop_name = EVIL_SHOP
    session.add_all([market, stall])
    session.commit()
    return adoption_summary(session, reconciled.operator, PERIOD, months=2, detail=True, by="market")


def test_xlsx(evil_report, tmp_path):
    path = tmp_path / "r.xlsx"
    export(evil_report, "xlsx", path)
    book = load_workbook(path)
    assert book.active.title == "Theo chợ"  # the report was asked --by market
    assert book.sheetnames == ["Tổng hợp", "Theo hạng chợ", "Theo địa phương", "Theo chợ", "Xu hướng",
                               "Bất thường", "Chi tiết sạp"]
    charts = {sheet.title: [type(c).__name__ for c in sheet._charts] for sheet in book}
    assert charts["Tổng hợp"] == ["BarChart", "LineChart"]
    assert charts["Theo hạng chợ"] == ["BarChart"] and charts["Xu hướng"] == ["LineChart"]
    for sheet in book.worksheets[1:]:
        assert sheet.freeze_panes == "B2", sheet.title
    for sheet in book:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"formula in {sheet.title}!{cell.coordinate}: {cell.value}"
    markets = book["Theo chợ"]
    assert [c.value for c in markets[1]][:3] == ["Mã chợ", "Tên chợ", "Hạng"]
    name = markets["B2"]
    assert name.value == "'" + EVIL_MARKET and name.data_type == "s"
    rate = markets.cell(row=2, column=[c.value for c in markets[1]].index("% sạp chấp nhận") + 1)
    assert rate.number_format == "0.0%" and isinstance(rate.value, float)
    anomalies = book["Bất thường"]
    header = [c.value for c in anomalies[1]]
    column = header.index("Tài khoản (che số)") + 1
    accounts = [anomalies.cell(row=r, column=column) for r in range(2, anomalies.max_row + 1)]
    assert accounts and all(c.data_type == "s" and c.number_format == "@" for c in accounts if c.value)
    assert all(re.fullmatch(r"•••• \d{4}", c.value) for c in accounts if c.value)
    stalls = book["Chi tiết sạp"]
    texts = [c.value for row in stalls.iter_rows(min_row=2) for c in row if isinstance(c.value, str)]
    assert EVIL_SHOP in texts and not any(re.search(r"\d{10}", t) for t in texts)  # no full account number
    summary = book["Tổng hợp"]
    labels = [summary.cell(row=r, column=1).value for r in range(1, 30)]
    assert "Tỷ lệ sạp chấp nhận – theo số sạp" in labels and "Tỷ lệ sạp chấp nhận – bình quân các chợ" in labels
    assert "Tỷ lệ hộ chấp nhận – theo số hộ kinh doanh" in labels


def test_xlsx_to_a_file_object(evil_report):
    buffer = io.BytesIO()
    export(evil_report, "xlsx", buffer)
    assert buffer.getvalue().startswith(b"PK")


def test_csv(evil_report, session, reconciled, tmp_path):
    path = tmp_path / "r.csv"
    export(evil_report, "csv", path)
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    lines = data.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("Mã chợ,Tên chợ,Hạng") and "'=HYPERLINK" in lines[1]
    tiers = adoption_summary(session, reconciled.operator, PERIOD, by="tier")
    export(tiers, "csv", path)
    rows = list(csv.DictReader(path.read_text(encoding="utf-8-sig").splitlines()))
    province = rows[-1]
    assert [province[k] for k in ("Nhóm", "Số chợ", "Số sạp (mẫu số)", "Sạp đã đăng ký, chờ xác minh",
                                  "Sạp chấp nhận TTKDTM", "% sạp chấp nhận (theo số sạp)",
                                  "% sạp chấp nhận (bình quân các chợ)", "Sạp có giao dịch trong tháng",
                                  "% sạp có giao dịch (theo số sạp)", "% sạp có giao dịch (bình quân các chợ)")] == [
        "Toàn bộ phạm vi", "2", "11", "0", "6", "54.55", "52.78", "7", "63.64", "58.33"]
    assert province["Số hộ kinh doanh"] and province["% hộ chấp nhận"] and province["Tình trạng kỳ"] == "Đã đối soát"


def test_html_is_self_contained(evil_report, tmp_path):
    path = tmp_path / "r.html"
    export(evil_report, "html", path)
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and '<html lang="vi">' in page
    assert page.count("<svg") == 2 and "<script" not in page.replace("&lt;script&gt;", "")
    # nothing is fetched: no src/href/url()/@import (the market's name shows its URL as text only)
    assert not re.search(r"\b(src|href)\s*=|url\(|@import|<link|<img|<iframe", page)
    assert "@media print" in page and "HYPERLINK(&quot;http://evil.example/x&quot;" in page  # escaped text
    # the stall detail is in the XLSX only: the printed report stays a few pages
    assert "Chi tiết 12 sạp có trong tệp Excel" in page


def test_json(evil_report, tmp_path):
    path = tmp_path / "r.json"
    export(evil_report, "json", path)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["period"] == PERIOD and data["province"]["stalls"] == 11
    assert data["definitions"]["mean_accepting_rate"].startswith("mean of market rates")
    assert len(data["stalls"]) == 12 and all("•" in s["account"] or not s["account"] for s in data["stalls"])


def test_export_formats(evil_report):
    assert set(EXPORT_FORMATS) == {"xlsx", "csv", "html", "json"}
    with pytest.raises(InvalidFormat):
        export(evil_report, "pdf", io.BytesIO())
