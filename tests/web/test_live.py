"""Live payments on the web: webhook doors, the owner's loa stream scoped to their stall, helpers,
requested amounts, the owner's book with XLSX, staff's feed status."""
from __future__ import annotations

import io
import json
import re
import time
from datetime import datetime, timedelta

import pytest
from openpyxl import load_workbook

from market40 import webhooks as wh
from market40.models import LiveTransfer, LiveWatch
from market40.reconciliation import VN_TZ
from market40.services import live as live_service
from web import create_app
from web.live import close as close_live
from webhelpers import ACCOUNT_A, ACCOUNT_B, SECRET, audit_events, csrf_token, fetch, post, sign_in

GENERIC = wh.Source("qn-bank", "market40", ("generic-secret-0123456789", "generic-old-secret-0123456789"),
                    rate_per_minute=30)
SEPAY = wh.Source("sepay", "sepay", ("sepay-secret-0123456789",))


@pytest.fixture
def app(engine, clock):
    live_service.forget_index()
    made = create_app({"ENGINE": engine, "SECRET_KEY": SECRET, "TESTING": True, "CLOCK": clock, "SECOND_FACTOR_ROLES": "",
                       "RATELIMIT_STORAGE_URI": "memory://", "LIVE_SOURCES": {s.name: s for s in (GENERIC, SEPAY)},
                       "LIVE_STREAM_SECONDS": 0.3, "LIVE_HEARTBEAT_SECONDS": 0.1, "LIVE_BUS": "poll"})
    yield made
    close_live(made)  # its bus listener stops with the test


def now_vn() -> str:
    return datetime.now(VN_TZ).strftime("%Y-%m-%d %H:%M:%S")


def body(tx_id: str, amount: int, account: str = ACCOUNT_A, bank: str = "970436", content: str = "HL1 A12") -> bytes:
    return json.dumps({"bank_bin": bank, "account": account, "tx_id": tx_id, "amount": amount,
                       "booked_at": now_vn(), "content": content}).encode()


def send(client, payload: bytes, source: wh.Source = GENERIC, **headers):
    signed = wh.sign(source, payload)
    signed.update(headers)
    return client.post(f"/hook/{source.name}", data=payload, headers=signed)


def events(client, url: str = "/loa/stream", after: int = 0, last_event_id: str | None = None) -> list[dict]:
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    response = client.get(f"{url}?after={after}", headers=headers)
    assert response.status_code == 200, response.status_code
    assert response.mimetype == "text/event-stream"
    return [json.loads(line[6:]) for line in response.get_data(as_text=True).splitlines() if line.startswith("data: {\"")]


def test_a_signed_webhook_is_stored_once_and_answered_as_the_provider_expects(client, world, engine):
    first = send(client, body("FT1", 200_000))
    assert (first.status_code, first.json) == (200, {"ok": True})
    again = send(client, body("FT1", 200_000))  # the provider's retry
    assert again.status_code == 200
    rows = fetch(engine, LiveTransfer)
    assert len(rows) == 1 and rows[0].amount == 200_000 and rows[0].stall_id is not None
    sepay = json.dumps({"id": 1, "gateway": "Vietcombank", "transactionDate": now_vn(), "accountNumber": ACCOUNT_A,
                        "content": "HL1 A12", "transferType": "in", "transferAmount": 5000,
                        "referenceCode": "FT2"}).encode()
    response = send(client, sepay, SEPAY)
    assert (response.status_code, response.json) == (200, {"success": True})


@pytest.mark.parametrize("change, status, reason", [
    ({"X-Market40-Signature": "v1=" + "0" * 64}, 401, "bad signature"),
    ({"X-Market40-Timestamp": str(int(time.time()) - 600)}, 401, "stale timestamp"),
    ({"Content-Type": "text/plain"}, 415, "content type"),
])
def test_refusals_are_audited_and_never_stored(client, world, engine, change, status, reason):
    response = send(client, body("FT9", 1000), **change)
    assert response.status_code == status and response.json["error"] == reason
    assert fetch(engine, LiveTransfer) == []
    refused = audit_events(engine, "webhook.refuse")
    assert refused and refused[-1].note.startswith(f"{status} {reason}")
    assert GENERIC.secrets[0] not in json.dumps([e.note for e in refused])


def test_oversized_unknown_and_rate_limited(client, world, engine):
    big = body("FT8", 1000)[:-1] + b', "pad": "' + b"x" * wh.MAX_BODY + b'"}'
    assert send(client, big).status_code == 413
    assert client.post("/hook/nobody", data=b"{}", headers={"Content-Type": "application/json"}).status_code == 404
    codes = [send(client, body(f"R{n}", 1000)).status_code for n in range(GENERIC.rate_per_minute + 2)]
    assert codes.count(429) == 3  # the refused oversized request counted too
    notes = [e.note for e in audit_events(engine, "webhook.refuse")]
    assert any(n.startswith("413") for n in notes) and any(n.startswith("404") for n in notes)
    assert any(n.startswith("429") for n in notes)


def test_the_owner_stream_shows_only_their_stall_whatever_is_asked(client, world, engine, session):
    send(client, body("A1", 21_000))
    send(client, body("B1", 9_034, account=ACCOUNT_B, bank="970415", content="CP1 B1"))
    sign_in(client, world.user("owner_a"))
    got = events(client)
    assert [(e["amount"], e["text"]) for e in got] == [(21_000, "Đã nhận hai mươi mốt nghìn đồng")]
    # every other stall, tried every way a URL can carry it: still only A's payments
    from market40.models import Stall
    from sqlmodel import select
    others = [s.id for s in session.exec(select(Stall)).all() if s.id != world.user("owner_a").stall_id]
    for other in others:
        for query in (f"stall={other}", f"stall_id={other}", f"s={other}"):
            response = client.get(f"/loa/stream?after=0&{query}")
            amounts = [json.loads(l[6:])["amount"] for l in response.get_data(as_text=True).splitlines()
                       if l.startswith("data: {")]
            assert amounts == [21_000]
    sign_in(client, world.user("owner_b"))
    assert [e["amount"] for e in events(client)] == [9_034]


def test_resume_from_last_event_id_neither_misses_nor_repeats(client, world):
    sign_in(client, world.user("owner_a"))
    send(client, body("E1", 1000))
    first = events(client)
    send(client, body("E2", 2000))
    resumed = events(client, after=0, last_event_id=str(first[-1]["id"]))
    # the recent window may offer E1 again (ids can commit out of order): the page drops it by id
    assert [e["amount"] for e in resumed if e["id"] > first[-1]["id"]] == [2000]
    assert len({e["id"] for e in first + resumed}) == 2


def test_loa_page_today_and_details_never_the_payer(client, world):
    send(client, body("P1", 15_000, content="HL1 A12 CT tu 0011009998887 NGUYEN VAN PAYER"))
    sign_in(client, world.user("owner_a"))
    page = client.get("/loa/")
    assert page.status_code == 200
    assert "Loa báo tiền" in page.text and "15.000" in page.text and "mười lăm nghìn đồng" in page.text
    assert "0011009998887" not in page.text and ACCOUNT_A not in page.text


def test_collect_an_exact_amount_short_payment_says_thieu(client, world, engine):
    sign_in(client, world.user("owner_a"))
    response = post(client, "/loa/thu", {"amount": "200.000"})
    assert response.status_code == 302
    request_id = int(re.search(r"r=(\d+)", response.headers["Location"]).group(1))
    page = client.get(f"/loa/?r={request_id}")
    assert "200.000" in page.text
    qr = client.get(f"/loa/qr.png?r={request_id}")
    assert qr.status_code == 200 and qr.mimetype == "image/png"
    from market40.models import LiveRequest
    code = fetch(engine, LiveRequest)[0].code
    send(client, body("S1", 200, content=f"HL1 A12 {code}"))
    got = events(client)
    assert got[-1]["verdict"] == "short"
    assert got[-1]["text"].startswith("Chỉ nhận hai trăm đồng. THIẾU một trăm chín mươi chín nghìn tám trăm đồng")
    sign_in(client, world.user("owner_b"))
    assert client.get(f"/loa/qr.png?r={request_id}").status_code == 404  # not B's request


def test_helper_code_watches_one_stall_until_revoked(app, client, world, engine):
    sign_in(client, world.user("owner_a"))
    page = post(client, "/loa/nguoi-nha", {"label": "Con gái"})
    code = re.search(r'id="watch-code">([A-Z0-9]+)<', page.text).group(1)
    assert code not in str(audit_events(engine, "live.watch_create")[0].after)
    send(client, body("H1", 50_000))
    send(client, body("H2", 7_000, account=ACCOUNT_B, bank="970415", content="CP1 B1"))
    helper = app.test_client()
    assert helper.get("/loa/xem/stream").status_code == 403
    token = csrf_token(helper, "/loa/xem")
    wrong = helper.post("/loa/xem", data={"csrf_token": token, "code": "WRONG"})
    assert wrong.status_code == 403
    entered = helper.post("/loa/xem", data={"csrf_token": token, "code": code.lower()})
    assert entered.status_code == 302
    assert [e["amount"] for e in events(helper, "/loa/xem/stream")] == [50_000]
    assert helper.get("/loa/xem").status_code == 200
    assert helper.get("/loa/so").status_code in (302, 403)  # the book is the owner's only
    watch = fetch(engine, LiveWatch)[0]
    post(client, "/loa/nguoi-nha", {"revoke": str(watch.id)})
    assert helper.get("/loa/xem/stream").status_code == 403


def test_day_and_month_books_with_xlsx(client, world):
    for n, amount in enumerate((200, 15_000, 1_500_000)):
        send(client, body(f"D{n}", amount))
    sign_in(client, world.user("owner_a"))
    day = client.get("/loa/so")
    assert day.status_code == 200 and "1.515.200" in day.text
    sheet = load_workbook(io.BytesIO(client.get("/loa/so?format=xlsx").data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[-1][:2] == ("Tổng", 1_515_200) and [r[1] for r in rows[2:-1]] == [200, 15_000, 1_500_000]
    month = datetime.now(VN_TZ).strftime("%Y-%m")
    book = load_workbook(io.BytesIO(client.get(f"/loa/so?m={month}&format=xlsx").data)).active
    assert list(book.iter_rows(values_only=True))[-1] == ("Tổng", 3, 1_515_200)


def test_staff_see_feed_status_of_their_market_only(client, world):
    send(client, body("F1", 1000))
    sign_in(client, world.user("staff_hl"))
    page = client.get("/loa/cho/HL1")
    assert page.status_code == 200, page.headers.get("Location")
    assert page.status_code == 200 and "A-12" in page.text and "Đang chạy" in page.text and "1.000" not in page.text
    assert client.get("/loa/cho/CP1").status_code in (403, 404)
