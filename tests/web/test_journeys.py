"""Issue #12, the owner's and staff's journeys as a real market lives them: the onboarding slip,
forgiving forms, account changes without a gap, forgotten passwords, notices, erasure carried
out, a readable audit trail and review at market scale."""
from __future__ import annotations

import re

import pytest
from sqlmodel import Session, select

from market40 import qrimage
from market40.models import AuditEvent, Market, PaymentAccount, User
from market40.services import slips as slip_service
from market40.services.registry import Actor, Registry

from webhelpers import SECRET, audit_events, csrf_token, fetch, post, sign_in

PIN = "27051990"


def _issue(engine, ref="HL1/A-12"):
    with Session(engine) as session:
        slip = Registry(session, Actor.operator("tests")).issue_enrollment_codes(key=SECRET, stall=ref)[0]
        session.commit()
    return slip.code


def _enrol(client, code, *, market="HL1", stall="A-12", phone="0903 123 456", password=PIN, password2=None,
           consent="yes"):
    token = csrf_token(client, "/enrol")
    data = {"csrf_token": token, "market": market, "stall": stall, "code": code, "phone": phone,
            "password": password, "password2": password if password2 is None else password2}
    if consent:
        data["consent"] = consent
    return client.post("/enrol", data=data)


def _pdf_text_and_sizes(pdf: bytes) -> tuple[str, list[float]]:
    import pypdfium2 as pdfium  # a test extra
    import pypdfium2.raw as raw
    document = pdfium.PdfDocument(pdf)
    try:
        page = document[0].get_textpage()
        text = page.get_text_range()
        sizes = [raw.FPDFText_GetFontSize(page.raw, i) for i in range(page.count_chars())
                 if not text[i].isspace()] if len(text) == page.count_chars() else \
            [raw.FPDFText_GetFontSize(page.raw, i) for i in range(page.count_chars())]
        image = document[0].render(scale=300 / 72).to_pil().convert("L")
    finally:
        document.close()
    return text, sizes, image  # type: ignore[return-value]


# ------------------------------------------------------------------ 1. the onboarding slip

def test_the_slip_pdf_says_where_to_go_whom_to_call_in_large_print(client, world, engine, app):
    """The staff page re-issues a code as a PDF slip: the address, a QR code opening the enrolment page
    with market and stall filled in (never the code), the board's contact, body text ≥ 11 pt."""
    with Session(engine) as session:
        market = session.exec(select(Market).where(Market.code == "HL1")).one()
        market.board_contact_name, market.board_contact_phone = "Ban quản lý chợ Hạ Long", "0203 3825 123"
        session.add(market)
        session.commit()
    app.config["PUBLIC_URL"] = "https://cho40.example.vn"
    sign_in(client, world.user("staff_hl"))
    response = post(client, "/staff/stall/HL1/A-12", {"action": "reissue", "format": "pdf"})
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Cache-Control"] == "no-store"
    text, sizes, image = _pdf_text_and_sizes(response.data)
    flat = " ".join(text.split())
    assert "https://cho40.example.vn/enrol" in flat
    assert "0203 3825 123" in flat and "Ban quản lý chợ Hạ Long" in flat
    code = re.search(r"[0-9A-Z]{4}-[0-9A-Z]{4}", flat).group(0)
    assert min(sizes) >= 11, sizes
    urls = qrimage.read(image)
    assert urls == ["https://cho40.example.vn/enrol?market=HL1&stall=A-12"]
    assert code not in urls[0] and code.replace("-", "") not in urls[0]
    # The QR's address opens the enrolment page with the market and stall chosen.
    page = client.application.test_client().get("/enrol?market=HL1&stall=A-12")
    assert re.search(r'<option value="HL1" selected', page.text)
    assert 'name="stall" type="text" value="A-12"' in page.text
    # The code works (the slip is the real one) and the issue is in the stall's trail.
    assert _enrol(client.application.test_client(), code).status_code == 302
    events = [e for e in audit_events(engine, "enrollment.issue") if e.entity == "stall"]
    assert len(events) == 1


def test_the_html_slip_shows_the_qr_and_the_deployment_contact(client, world, app):
    app.config.update(PUBLIC_URL="https://cho40.example.vn/", SUPPORT_CONTACT="Vietcombank Hạ Long — 0203 1111 222")
    sign_in(client, world.user("staff_hl"))
    page = post(client, "/staff/stall/HL1/A-12", {"action": "reissue"})
    assert "https://cho40.example.vn/enrol?market=HL1&amp;stall=A-12" in page.text
    assert 'src="data:image/png;base64,' in page.text
    assert "Hỗ trợ: Vietcombank Hạ Long — 0203 1111 222" in page.text
    assert "data-print" in page.text


def test_cli_slips_carry_the_address_and_contact(monkeypatch, tmp_path):
    from datetime import datetime, timezone
    from market40.services.registry import EnrollmentSlip
    slip = EnrollmentSlip("HL1/A-12", "Chợ Hạ Long I", "Cá", "Lan", "7KQM-X3HC",
                          datetime(2026, 1, 1, tzinfo=timezone.utc), None, None)
    text = slip_service.as_text([slip], base_url="https://x.vn", contact="Ngân hàng — 0203")
    assert "https://x.vn/enrol?market=HL1&stall=A-12" in text and "Hỗ trợ: Ngân hàng — 0203" in text


# ------------------------------------------------------------------ 2. forgiving input

@pytest.mark.parametrize("typed", ["a12", "A 12", "a-12", " A12 "])
def test_enrolment_finds_the_stall_in_any_spelling(client, world, engine, typed):
    response = _enrol(client, _issue(engine), stall=typed)
    assert response.status_code == 302, response.text[:2000]
    (user,) = fetch(engine, User, User.username == "0903123456")
    assert user.stall_id == world.user("owner_a").stall_id


def test_the_stall_picker_follows_the_market_without_javascript(client, world):
    page = client.get("/enrol")
    assert 'data-market-step' in page.text and 'name="action" value="market"' in page.text
    step = client.post("/enrol", data={"csrf_token": csrf_token(client, "/enrol"), "market": "HL1",
                                       "action": "market"})
    assert '<option value="A-12">A-12 — Hải sản Cô Lan</option>' in step.text
    assert "B-1" not in step.text.split('id="stall-list"')[1].split("</datalist>")[0]
    assert client.get("/enrol/stalls?market=CP1").json == {"stalls": [{"code": "B-1", "shop": "Rau sạch Bình"}]}
    assert "Nguyễn Thị Lan" not in step.text  # no owner names on a public page


def test_every_error_at_once_in_form_order_and_the_form_keeps_what_was_typed(client, world, engine):
    page = _enrol(client, "abc", market="HL1", stall="A12", phone="12345", password="1234", password2="99999999")
    order = re.findall(r'<li><a href="#f-([a-z0-9]+)">', page.text)
    assert order == ["code", "phone", "password", "password2"], order
    assert 'value="A12"' in page.text and 'value="12345"' in page.text and 'value="abc"' in page.text
    assert "1234" not in re.sub(r'value="12345"', "", page.text.split('id="f-password"')[1][:200])
    assert re.search(r'id="f-consent"[^>]*checked', page.text)  # the consent tick stays


# ------------------------------------------------------------------ 3. account change without a gap (service)

def test_the_database_allows_one_verified_and_one_pending_account_per_stall(session, stall):
    from sqlalchemy.exc import IntegrityError
    registry = Registry(session, Actor.operator("tests"))
    ref = "HL1/A-12"
    registry.register_account(ref, bank="vietcombank", number="0011012345678", holder_name="Nguyen Thi Lan")
    registry.verify_account(ref)
    _, outcome = registry.register_account(ref, bank="vietinbank", number="1023456789", holder_name="Nguyen Thi Lan")
    assert outcome == "requested"
    assert registry.current_account(stall).status == "verified"  # the poster keeps printing
    assert registry.replacement(stall).number == "1023456789"
    _, outcome = registry.register_account(ref, bank="bidv", number="31410001234567", holder_name="Nguyen Thi Lan")
    assert outcome == "requested"  # the earlier request is withdrawn, the verified account stays
    statuses = sorted(a.status for a in session.exec(select(PaymentAccount)).all())
    assert statuses == ["pending", "revoked", "verified"]
    session.add(PaymentAccount(stall_id=stall.id, status="pending", kind="bank_account", bin="970436",
                               number="1", holder_name="X", purpose="HL1 A12", payload="x",
                               consent_purpose="p", consent_at=utcnow_(), consent_channel="web"))
    with pytest.raises(IntegrityError):
        session.flush()


def utcnow_():
    from market40.models import utcnow
    return utcnow()


# ------------------------------------------------------------------ 4. forgot password

@pytest.fixture
def outbox(app, tmp_path):
    from market40.notify import FileSender
    sender = FileSender(tmp_path / "outbox.jsonl")
    app.extensions["market40.sender"] = sender
    return sender


def test_forgot_password_sends_a_one_time_code_and_ends_old_sessions(app, client, world, engine, outbox):
    owner = world.user("owner_a")
    old_session = app.test_client()
    sign_in(old_session, owner)
    assert old_session.get("/owner/").status_code == 200
    login = client.get("/login").text
    assert 'href="/forgot"' in login and "Quên mật khẩu?" in login
    page = post(client, "/forgot", {"phone": "0912 345 678"})
    assert "mã đã được gửi" in page.text
    unknown = post(client, "/forgot", {"phone": "0900000001"})
    assert "mã đã được gửi" in unknown.text  # the same answer: no enumeration
    [message] = outbox.messages()
    assert message["phone"] == "0912345678" and message["kind"] == "reset_code"
    code = message["data"]["code"]
    assert code in message["text"]
    wrong = post(client, "/forgot/reset", {"phone": "0912345678", "code": "CCCC-CCCC", "new_password": "một mật khẩu mới 7",
                                           "new_password2": "một mật khẩu mới 7"})
    assert "Mã không đúng" in wrong.text
    done = post(client, "/forgot/reset", {"phone": "+84 912 345 678", "code": code.lower(),
                                          "new_password": "một mật khẩu mới 7", "new_password2": "một mật khẩu mới 7"})
    assert done.status_code == 302
    assert old_session.get("/owner/").status_code == 302  # the old session has ended
    again = post(client, "/forgot/reset", {"phone": "0912345678", "code": code, "new_password": "khác nữa 12345",
                                           "new_password2": "khác nữa 12345"})
    assert "Mã không đúng" in again.text  # one use
    actions = [e.action for e in audit_events(engine)]
    assert actions.count("password.reset_request") == 2 and "password.reset" in actions
    assert "password.reset_failed" in actions and "session.revoke_all" in actions
    # a reset code is not an enrollment code
    assert "Mã đăng ký không đúng" in _enrol(app.test_client(), code, phone="0912345678").text


def test_reset_requests_are_rate_limited_per_phone_in_any_spelling(app, client, world, outbox):
    for spelling in ("0912345678", "+84912345678", "0912 345 678"):
        assert post(client, "/forgot", {"phone": spelling}).status_code == 200
    other_address = app.test_client()
    limited = other_address.post("/forgot", data={"csrf_token": csrf_token(other_address, "/forgot"),
                                                  "phone": "84 912 345 678"})
    assert limited.status_code == 429
    assert len(outbox.messages()) == 3


def test_sender_spec_plugs_in_a_provider(tmp_path):
    from market40 import notify
    sender = notify.from_spec("market40.notify:ConsoleSender")
    assert isinstance(sender, notify.Sender) and sender.name == "console"
    with pytest.raises(Exception):
        notify.from_spec("nope.module:Nothing")


def test_without_a_sender_the_page_points_to_a_printed_code(app, client, world):
    from market40.notify import NoSender
    app.extensions["market40.sender"] = NoSender()
    page = client.get("/forgot").text
    assert 'action="/forgot"' not in page and "in cho bạn một phiếu đăng ký mới" in page


# ------------------------------------------------------------------ 5. status notices

def test_the_owner_is_told_when_verified_or_rejected(app, client, world, engine, outbox):
    staff = app.test_client()
    sign_in(staff, world.user("staff_hl"))
    post(staff, "/staff/stall/HL1/A-12", {"action": "reject", "reason": "Tên chủ tài khoản không khớp"})
    sign_in(client, world.user("owner_a"))
    page = client.get("/owner/").text
    assert "Thông báo" in page and "bị từ chối" in page and "Tên chủ tài khoản không khớp" in page
    [rejected] = outbox.messages()
    assert rejected["kind"] == "account_rejected" and "Tên chủ tài khoản không khớp" in rejected["text"]
    post(client, "/owner/account", {"bank": "970436", "number": "1012345678", "holder_name": "Nguyễn Thị Lan",
                                    "action": "submit", "consent": "yes"})
    post(staff, "/staff/stall/HL1/A-12", {"action": "verify"})
    verified = outbox.messages()[-1]
    assert verified["kind"] == "account_verified" and "Biển QR đã sẵn sàng" in verified["text"]
    page = client.get("/owner/").text
    assert "đã được xác minh" in page and "biển đã sẵn sàng" in page
    assert [e.action for e in audit_events(engine, "notice.sent")] == ["notice.sent", "notice.sent"]


# ------------------------------------------------------------------ 6. erasure carried out

def test_staff_carry_out_an_erasure_in_one_audited_action(app, client, world, engine, outbox, tmp_path):
    from datetime import datetime, timezone
    from market40 import reconciliation as rules
    from market40.models import AuditEvent, Stall
    from market40.txstore import TransferStore
    store_path = tmp_path / "tx.duckdb"
    with TransferStore(store_path) as store:
        store.import_transfers([rules.Transfer(bank_bin="970436", tx_id="T1", booked_at=datetime(2026, 11, 3, 9),
                                               account="0011012345678", amount=50000, content="HL1 A12 Lan tra tien")],
                               source="t", layout="test", channel="statement", file_fingerprint="f" * 64)
    app.config["TX_STORE"] = str(store_path)
    owner = world.user("owner_a")
    sign_in(client, owner)
    post(client, "/owner/erasure", {"note": "Tôi nghỉ bán", "confirm": "yes"})
    page = client.get("/owner/").text
    assert "Đã gửi yêu cầu lúc" in page and "chậm nhất ngày" in page
    staff = app.test_client()
    sign_in(staff, world.user("staff_hl"))
    queue = staff.get("/staff/").text
    assert "HL1/A-12" in queue and "Chờ thực hiện" in queue and "Hạn luật định" in queue
    stall_page = staff.get("/staff/stall/HL1/A-12").text
    assert "Thực hiện xoá dữ liệu" in stall_page and "data-confirm" in stall_page
    refused = post(staff, "/staff/stall/HL1/A-12", {"action": "erase"})
    assert "Hãy đánh dấu xác nhận" in refused.text
    done = post(staff, "/staff/stall/HL1/A-12", {"action": "erase", "confirm_erase": "yes"})
    assert done.status_code == 302
    with Session(engine) as session:
        stall = session.get(Stall, owner.stall_id)
        assert stall.owner_name == "(đã xoá)" and stall.owner_phone is None
        user = session.get(User, owner.id)
        assert not user.is_active and user.phone is None and "0912345678" not in user.username
        accounts = session.exec(select(PaymentAccount).where(PaymentAccount.stall_id == stall.id)).all()
        assert all(a.status == "revoked" and a.number == "" and a.holder_name == "(đã xoá)" for a in accounts)
        trail = " ".join(f"{e.before} {e.after} {e.note}" for e in session.exec(select(AuditEvent)).all())
        assert "Nguyễn Thị Lan" not in trail and "NGUYEN THI LAN" not in trail and "0011012345678" not in trail
        [complete] = session.exec(select(AuditEvent).where(AuditEvent.action == "erasure.complete")).all()
        assert '"transfers_cleared": 1' in complete.after and '"logins_locked": 1' in complete.after
    with TransferStore(store_path, read_only=True) as store:
        [row] = store.con.execute("SELECT account, content, amount FROM transfer").fetchall()
    assert row == ("erased", None, 50000)
    assert client.get("/owner/").status_code == 302  # the login is locked
    assert outbox.messages()[-1]["kind"] == "erasure_done"
    queue = staff.get("/staff/").text
    assert "Đã xoá" in queue
    again = post(staff, "/staff/stall/HL1/A-12", {"action": "erase", "confirm_erase": "yes"})
    assert "Không có yêu cầu xoá dữ liệu nào đang chờ" in staff.get(again.headers["Location"]).text


# ------------------------------------------------------------------ 7. readable audit trail

def test_the_trail_names_people_in_vietnamese_in_vietnam_time(client, world, engine):
    with Session(engine) as session:
        staff = session.get(User, world.user("staff_hl").id)
        staff.display_name = "Phạm Minh Châu"
        session.add(staff)
        session.commit()
    sign_in(client, world.user("staff_hl"))
    post(client, "/staff/stall/HL1/A-12", {"action": "reissue"})
    post(client, "/staff/stall/HL1/A-12", {"action": "verify"})
    page = client.get("/staff/audit/HL1/A-12").text
    assert "Phạm Minh Châu (staff.hl)" in page and "user:" not in page
    assert "Cấp mã đăng ký" in page and "Xác minh tài khoản" in page
    assert "account.verify" not in page and "enrollment.issue" not in page
    assert "Sạp HL1/A-12" in page
    assert re.search(r"Trạng thái:</span>\s*Chờ xác minh → <strong>Đã xác minh</strong>", page)
    [event] = [e for e in audit_events(engine, "account.verify")]
    from market40 import formats
    assert formats.when(event.at) in page  # dd/mm/yyyy HH:MM, Vietnam time
    assert '<ol class="trail">' in page and "<table" not in page.split('<ol class="trail">')[1].split("</ol>")[0]


# ------------------------------------------------------------------ 8. review at market scale

def _more_pending(engine, count=3):
    with Session(engine) as session:
        registry = Registry(session, Actor.operator("tests"))
        for i in range(count):
            registry.save_stall("HL1", code=f"C-{i + 1}", owner_name=f"Chủ {'ABC'[i % 3]}")
            registry.register_account(f"HL1/C-{i + 1}", bank="bidv" if i % 2 else "vietcombank",
                                      number=f"3141000{i:07d}", holder_name=f"CHU {'ABC'[i % 3]}")
        session.commit()


def test_the_queue_filters_by_market_bank_and_age(client, world, engine, clock):
    _more_pending(engine)
    sign_in(client, world.user("staff_hl"))
    page = client.get("/staff/queue").text
    assert "4 tài khoản chờ xác minh" in page
    assert "3 tài khoản chờ xác minh" not in page
    bidv = client.get("/staff/queue?bank=970418").text
    assert "1 tài khoản chờ xác minh" in bidv and "HL1/C-2" in bidv and "HL1/C-1" not in bidv
    assert "Không có tài khoản nào chờ xác minh" in client.get("/staff/queue?age=7").text
    assert "Không có tài khoản nào chờ xác minh" in client.get("/staff/queue?market=CP1").text  # not theirs


def test_bulk_verify_names_how_many_and_which_then_they_leave_the_queue(client, world, engine, outbox):
    _more_pending(engine)
    sign_in(client, world.user("staff_hl"))
    confirm = post(client, "/staff/queue/verify", {"ref": ["HL1/C-1", "HL1/C-3"], "next": "/staff/queue"})
    assert "Xác minh 2 tài khoản?" in confirm.text
    assert "HL1/C-1" in confirm.text and "HL1/C-3" in confirm.text and "HL1/C-2" not in confirm.text
    assert all(a.status == "pending" for a in fetch(engine, PaymentAccount))  # nothing done yet
    done = post(client, "/staff/queue/verify", {"ref": ["HL1/C-1", "HL1/C-3"], "confirm": "yes",
                                               "next": "/staff/queue"})
    assert done.status_code == 302 and done.headers["Location"].endswith("/staff/queue")
    queue = client.get("/staff/queue").text
    assert "Đã xác minh 2 tài khoản: HL1/C-1, HL1/C-3." in queue
    assert "HL1/C-1" not in queue.split("<tbody>")[1] and "2 tài khoản chờ xác minh" in queue
    assert "data-queue" in queue and "j/k" in queue  # keyboard review
    # all or nothing: one of another market refuses the lot
    refused = post(client, "/staff/queue/verify", {"ref": ["HL1/C-2", "CP1/B-1"], "confirm": "yes"})
    assert refused.status_code == 302
    assert {a.number: a.status for a in fetch(engine, PaymentAccount)}["31410000000001"] == "pending"


def test_a_verified_account_leaves_the_queue_at_once_and_staff_return_to_it(client, world, engine):
    _more_pending(engine, 1)
    sign_in(client, world.user("staff_hl"))
    response = post(client, "/staff/stall/HL1/C-1", {"action": "verify", "next": "/staff/queue?bank=970436"})
    assert response.headers["Location"].endswith("/staff/queue?bank=970436")
    assert "HL1/C-1" not in client.get("/staff/queue").text.split("<tbody>")[1]
