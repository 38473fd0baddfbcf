"""The district dashboard: the report's figures, scoped to the officer's localities, with downloads."""
from datetime import datetime
from io import BytesIO

from openpyxl import load_workbook

from market40.formats import VN_TZ

from webhelpers import audit_events, sign_in

PERIOD = datetime.now(VN_TZ).strftime("%Y-%m")  # the test world was registered today (Vietnam time)


def verify_all(session, world, tmp_path):
    """Verify both accounts, then reconcile the month (an empty transfer store: accepting, not active)."""
    from market40.services.reconcile import reconcile
    from market40.services.registry import Actor, Registry
    from market40.txstore import TransferStore
    registry = Registry(session, Actor.operator("tests"))
    registry.verify_account("HL1/A-12")
    registry.verify_account("CP1/B-1")
    session.commit()
    reconcile(session, Actor.operator("tests"), PERIOD, store=TransferStore(tmp_path / "tx.duckdb"))


def test_officer_sees_their_localities_figures(app, client, world, session, tmp_path):
    verify_all(session, world, tmp_path)
    sign_in(client, world.user("officer_hl"))
    page = client.get(f"/officer/dashboard?period={PERIOD}&by=market")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Chợ Hạ Long I" in text and "Chợ Cẩm Phả" not in text
    assert "Tỷ lệ thanh toán không dùng tiền mặt" in text and "<svg" in text
    assert "bình quân các chợ" in text  # both rates are labelled
    english = client.get(f"/officer/dashboard?period={PERIOD}&lang=en").get_data(as_text=True)
    assert "Cashless payment adoption" in english and "mean of market rates" in english.lower()
    # the charts speak the page's language too
    assert "Hộ chấp nhận và có giao dịch theo hạng chợ" in text and "Hạng I" in text
    assert "Households accepting and active by market tier" in english and "% households accepting" in english
    assert "theo hạng chợ" not in english and "hộ chấp nhận" not in english


def test_download_is_a_masked_excel_workbook_and_audited(app, client, world, session, engine, tmp_path):
    verify_all(session, world, tmp_path)
    sign_in(client, world.user("officer_cp"))
    response = client.get(f"/officer/dashboard/download?period={PERIOD}&by=tier&format=xlsx")
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    book = load_workbook(BytesIO(response.data))
    cells = " ".join(str(c.value) for sheet in book.worksheets for row in sheet.iter_rows() for c in row if c.value)
    assert "Chợ Cẩm Phả" in cells or "CP1" in cells
    assert "Hạ Long" not in cells and world.users["owner_a"].phone not in cells
    assert audit_events(engine, "report.export")


def test_bad_parameters_are_refused(app, client, world):
    sign_in(client, world.user("officer_hl"))
    assert client.get("/officer/dashboard?by=nonsense").status_code == 400
    assert client.get("/officer/dashboard?period=2025-13").status_code == 400
    assert client.get(f"/officer/dashboard/download?period={PERIOD}&format=exe").status_code == 400
