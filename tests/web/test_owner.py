"""Stall owners: enrolment with the slip's code, the account form and its preview, status, poster, erasure."""
from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from market40 import qrimage, vietqr
from market40.models import EnrollmentCode, PaymentAccount, User, utcnow
from market40.services.registry import Actor, Registry

from webhelpers import ACCOUNT_A, SECRET, audit_events, csrf_token, fetch, post, sign_in

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


# ------------------------------------------------------------------ enrolment

def test_enrolment_page_explains_the_data_use_in_vietnamese(client, world):
    page = client.get("/enrol")
    for words in ("Chúng tôi lưu những gì", "Để làm gì", "Lưu trong bao lâu", "Yêu cầu xoá dữ liệu",
                  "15 ngày", "Chợ Hạ Long I (HL1)", 'autocomplete="one-time-code"', 'type="tel"'):
        assert words in page.text, words


@pytest.mark.production_scrypt
def test_an_owner_enrols_with_the_code_and_lands_on_their_stall(client, world, engine):
    code = _issue(engine)
    response = _enrol(client, code.lower().replace("-", " "))
    assert response.status_code == 302 and response.headers["Location"] == "/owner/"
    page = client.get("/owner/")
    assert "Đăng ký thành công" in page.text and "Sạp A-12" in page.text
    [user] = fetch(engine, User, User.username == "0903123456")
    assert user.role == "owner" and user.phone == "0903123456" and user.stall_id is not None
    assert user.password_hash.startswith("scrypt$32768$")
    [row] = fetch(engine, EnrollmentCode, EnrollmentCode.used_at.is_not(None))
    [consent] = audit_events(engine, "consent.accept")
    assert consent.actor == f"user:{user.id}" and '"channel": "web"' in consent.after
    assert '"language": "vi"' in consent.after and "Lưu trong bao lâu" in consent.note
    assert '"at": ' in consent.after


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_a_code_works_once(app, client, world, engine):
    code = _issue(engine)
    assert _enrol(client, code).status_code == 302
    again = _enrol(app.test_client(), code, phone="0903999999")
    assert "Mã đăng ký này đã được dùng" in again.text


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_refused_codes_say_why(app, client, world, engine):
    old = _issue(engine)
    new = _issue(engine)  # replaces the first
    assert "Sạp đã được cấp một mã mới hơn" in _enrol(client, old).text
    assert "Mã đăng ký không đúng với sạp này" in _enrol(client, new, stall="B-1", market="CP1").text
    assert "Mã đăng ký không đúng với sạp này" in _enrol(client, "CCCC-CCCC").text
    assert "Mã đăng ký không đúng với sạp này" in _enrol(client, new, stall="Z-404").text
    with Session(engine) as session:
        for row in session.exec(select(EnrollmentCode)).all():
            row.expires_at = utcnow() - timedelta(minutes=1)
            session.add(row)
        session.commit()
    assert "Mã đăng ký đã hết hạn" in _enrol(client, new).text
    assert len(audit_events(engine, "enrollment.failed")) == 5


def test_form_errors_name_each_field_in_vietnamese(client, world):
    page = _enrol(client, "abc", market="", stall="", phone="12345", password="1234", consent=None)
    assert page.status_code == 200
    expected = {
        "market": "Hãy chọn chợ của bạn.",
        "stall": "Hãy nhập mã sạp như in trên phiếu",
        "code": "Mã đăng ký gồm 8 ký tự",
        "phone": "Số điện thoại gồm số 0",
        "password": "cần ít nhất 8 ký tự",
        "consent": "Bạn cần đọc và đồng ý",
    }
    for field, message in expected.items():
        block = re.search(rf'<div id="f-{field}-error">(.*?)</div>', page.text, re.S)
        assert block and message in block.group(1), field
        assert re.search(rf'id="f-{field}"[^>]*aria-describedby="[^"]*f-{field}-error"[^>]*aria-invalid="true"',
                         page.text), field
    assert 'class="error-summary" role="alert"' in page.text
    assert "must" not in page.text and "got " not in page.text  # no English library text


def test_mismatched_passwords(client, world, engine):
    page = _enrol(client, _issue(engine), password2="27051991")
    assert "Hai lần nhập mật khẩu không giống nhau" in page.text
    assert not fetch(engine, User, User.username == "0903123456")


def test_common_pins_and_the_phone_itself_are_refused(client, world, engine):
    code = _issue(engine)
    assert "quá phổ biến" in _enrol(client, code, password="12345678").text
    assert "không được là số điện thoại" in _enrol(client, code, password="0903123456").text


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_re_enrolment_resets_the_password_and_ends_old_sessions(app, client, world, engine):
    assert _enrol(client, _issue(engine)).status_code == 302
    assert client.get("/owner/").status_code == 200
    other = app.test_client()
    assert _enrol(other, _issue(engine), phone="0904 555 666", password="a new pin 2026").status_code == 302
    assert client.get("/owner/").status_code == 302  # the first phone's session ended
    users = fetch(engine, User, User.role == "owner", User.username.in_(["0903123456", "0904555666"]))
    assert [u.username for u in users] == ["0904555666"]  # the same login, moved to the new phone
    assert audit_events(engine, "enrollment.reenrol")


def test_a_phone_already_used_by_another_login_is_refused(client, world, engine):
    page = _enrol(client, _issue(engine), phone="0987654321")  # owner_b's phone
    assert "Số điện thoại này đã dùng cho một tài khoản khác" in page.text


# ------------------------------------------------------------------ the account

def _account(client, action, **fields):
    data = {"bank": "970436", "number": "1012345678", "holder_name": "Nguyễn Thị Lan", "action": action}
    data.update(fields)
    return post(client, "/owner/account", data)


def test_the_bank_picker_lists_every_participant_with_vietnamese_names(client, world):
    sign_in(client, world.user("owner_a"))
    page = client.get("/owner/account").text
    assert '<select id="f-bank" name="bank" data-filter="bank-filter"' in page
    assert "Vietcombank (VCB) — Ngân hàng TMCP Ngoại Thương Việt Nam" in page
    assert re.search(r'<option value="970436" data-key="[^"]*ngoai thuong[^"]*"', page)  # folded, for the filter
    assert '<optgroup label="Ví điện tử">' in page
    assert 'id="bank-filter" hidden' in page  # the type-to-filter box only appears with JavaScript


def test_preview_without_javascript_shows_the_qr_and_the_poster(client, world):
    sign_in(client, world.user("owner_a"))
    page = _account(client, "preview")
    assert page.status_code == 200
    assert "1012 345 678" in page.text and "NGUYEN THI LAN" in page.text and "HL1 A12" in page.text
    image = re.search(r'<img class="(?:poster|qr)" src="data:image/png;base64,([^"]+)"', page.text)
    assert image
    import base64
    [payload] = qrimage.read(io.BytesIO(base64.b64decode(image.group(1))))
    assert vietqr.parse(payload).account == "1012345678"


def test_preview_endpoint_returns_the_picture_or_the_errors(client, world):
    sign_in(client, world.user("owner_a"))
    picture = post(client, "/owner/account/preview", {"bank": "970436", "number": "1012345678",
                                                      "holder_name": "Lan"})
    assert picture.status_code == 200 and picture.mimetype == "image/png"
    [payload] = qrimage.read(io.BytesIO(picture.data))
    assert "1012345678" in payload
    errors = post(client, "/owner/account/preview", {"bank": "", "number": "12 34", "holder_name": "L4n"})
    assert errors.status_code == 422
    assert set(errors.json["errors"]) == {"bank", "holder_name"}


def test_account_errors_are_shown_beside_each_field(client, world):
    sign_in(client, world.user("owner_a"))
    page = _account(client, "preview", bank="", number="12/34", holder_name="")
    for field, message in {"bank": "Hãy chọn ngân hàng", "number": "Số tài khoản chỉ gồm chữ số",
                           "holder_name": "Hãy nhập tên chủ tài khoản"}.items():
        block = re.search(rf'<div id="f-{field}-error">(.*?)</div>', page.text, re.S)
        assert block and message in block.group(1), field
    momo = _account(client, "preview", bank="971025", number="0903123456")
    assert "Ví MoMo cần mã tham chiếu" in momo.text
    card = _account(client, "preview", kind="card", number="1234")
    assert "Số thẻ gồm 16 đến 19 chữ số" in card.text


def test_submitting_needs_the_consent(client, world, engine):
    sign_in(client, world.user("owner_a"))
    page = _account(client, "submit")
    assert "Hãy đánh dấu đồng ý" in page.text
    assert len(fetch(engine, PaymentAccount, PaymentAccount.stall_id == world.user("owner_a").stall_id)) == 1


def test_changing_the_account_keeps_the_old_one_valid_until_the_new_one_is_verified(client, world, engine):
    """#12: the stall is never without a working QR. The owner sees what will happen and confirms; the
    verified account and its poster keep working while the replacement waits; staff verifying it revoke
    the old one at that moment (history kept); the waiting account's QR is never shown as usable."""
    owner = world.user("owner_a")
    with Session(engine) as session:
        Registry(session, Actor.operator("tests")).verify_account("HL1/A-12")
        session.commit()
    sign_in(client, owner)
    assert "Tải biển để in" in client.get("/owner/").text
    preview = _account(client, "preview")
    assert "Điều sẽ xảy ra khi bạn gửi" in preview.text and "vẫn nhận tiền bình thường" in preview.text
    unconfirmed = _account(client, "submit", consent="yes")
    assert unconfirmed.status_code == 200 and 'id="f-confirm_change-error"' in unconfirmed.text
    assert re.search(r'id="f-consent"[^>]*checked', unconfirmed.text)  # the tick stays after the error
    response = _account(client, "submit", consent="yes", confirm_change="yes")
    assert response.status_code == 302
    page = client.get("/owner/")
    assert "Đã gửi yêu cầu đổi tài khoản" in page.text and "Tài khoản mới đang chờ xác minh" in page.text
    assert "Tải biển để in" in page.text  # the old poster still prints
    rows = fetch(engine, PaymentAccount, PaymentAccount.stall_id == owner.stall_id)
    assert sorted((r.number, r.status) for r in rows) == [(ACCOUNT_A, "verified"), ("1012345678", "pending")]
    assert client.get("/owner/poster/a6.pdf").status_code == 200
    qr = client.get("/owner/qr.png")  # the verified account's QR, never the waiting one
    assert qr.status_code == 200 and ACCOUNT_A in qrimage.read(qr.data)[0]
    with Session(engine) as session:
        Registry(session, Actor.operator("tests")).verify_account("HL1/A-12")
        session.commit()
    rows = fetch(engine, PaymentAccount, PaymentAccount.stall_id == owner.stall_id)
    assert sorted((r.number, r.status, r.status_reason) for r in rows) == [
        (ACCOUNT_A, "revoked", "replaced by a new account"), ("1012345678", "verified", None)]
    old = [r for r in rows if r.number == ACCOUNT_A][0]
    new = [r for r in rows if r.number != ACCOUNT_A][0]
    assert old.revoked_at == new.verified_at or abs((old.revoked_at - new.verified_at).total_seconds()) < 5
    assert "1012345678" in qrimage.read(client.get("/owner/qr.png").data)[0]


def test_a_pending_accounts_qr_is_never_shown_as_usable(client, world):
    sign_in(client, world.user("owner_a"))  # the world's account is pending
    page = client.get("/owner/")
    assert "/owner/qr.png" not in page.text and "Mã QR chưa dùng được" in page.text
    assert client.get("/owner/qr.png").status_code == 404
    poster = client.get("/owner/poster")
    assert "/owner/qr.png" not in poster.text and "Mã QR chưa dùng được" in poster.text


def test_a_rejected_account_shows_the_reason(client, world, engine):
    with Session(engine) as session:
        Registry(session, Actor.operator("tests")).reject_account("HL1/A-12", "Tên chủ tài khoản không khớp")
        session.commit()
    sign_in(client, world.user("owner_a"))
    page = client.get("/owner/")
    assert "Bị từ chối" in page.text and "Tên chủ tài khoản không khớp" in page.text
    assert "Đăng ký lại tài khoản" in page.text
    assert client.get("/owner/qr.png").status_code == 404


# ------------------------------------------------------------------ poster

@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
@pytest.mark.parametrize("size", ["a6", "a5", "a4"])
def test_a_verified_owner_downloads_the_poster(client, world, engine, size):
    with Session(engine) as session:
        Registry(session, Actor.operator("tests")).verify_account("HL1/A-12")
        session.commit()
    sign_in(client, world.user("owner_a"))
    pdf = client.get(f"/owner/poster/{size}.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    assert f'filename="bien-qr-HL1-A-12-{size}.pdf"' in pdf.headers["Content-Disposition"]
    png = client.get(f"/owner/poster/{size}.png")
    assert png.status_code == 200 and png.mimetype == "image/png"
    [payload] = qrimage.read(io.BytesIO(png.data))
    [account] = fetch(engine, PaymentAccount, PaymentAccount.status == "verified",
                      PaymentAccount.number == ACCOUNT_A)
    assert payload == account.payload
    assert [e.action for e in audit_events(engine, "poster.print")] == ["poster.print", "poster.print"]


def test_pending_accounts_do_not_print(client, world):
    sign_in(client, world.user("owner_a"))
    response = client.get("/owner/poster/a6.pdf")
    assert response.status_code == 302
    assert "Biển chỉ tải được khi tài khoản đã được xác minh" in client.get("/owner/").text
    assert client.get("/owner/poster/a7.pdf").status_code == 404
    assert client.get("/owner/poster/a6.svg").status_code == 404


def test_the_qr_image_is_the_registered_payload(client, world, engine):
    with Session(engine) as session:  # only a verified account's QR is shown
        Registry(session, Actor.operator("tests")).verify_account("HL1/A-12")
        session.commit()
    sign_in(client, world.user("owner_a"))
    image = client.get("/owner/qr.png")
    assert image.mimetype == "image/png" and image.headers["Cache-Control"] == "private, no-cache"
    [account] = fetch(engine, PaymentAccount, PaymentAccount.number == ACCOUNT_A)
    assert qrimage.read(io.BytesIO(image.data)) == [account.payload]


# ------------------------------------------------------------------ erasure

def test_an_owner_asks_for_erasure(client, world, engine):
    sign_in(client, world.user("owner_a"))
    page = client.get("/owner/erasure")
    assert "Khi xoá" in page.text and "15 ngày" in page.text
    assert "Hãy đánh dấu xác nhận" in post(client, "/owner/erasure", {"note": "Tôi nghỉ bán"}).text
    done = post(client, "/owner/erasure", {"note": "Tôi nghỉ bán", "confirm": "yes"})
    assert "Đã gửi yêu cầu xoá" in done.text and "HL1/A-12" in done.text
    [event] = audit_events(engine, "erasure.request")
    assert event.entity == "stall" and event.note == "Tôi nghỉ bán" and "revoke" in event.after
    sign_in(client, world.user("staff_hl"))
    queue = client.get("/staff/").text
    assert "Yêu cầu xoá dữ liệu" in queue and "HL1/A-12" in queue
    assert "Yêu cầu xoá dữ liệu" in client.get("/staff/audit/HL1/A-12").text
    stall = client.get("/staff/stall/HL1/A-12").text
    assert "Chủ sạp đã yêu cầu xoá dữ liệu" in stall and "“Tôi nghỉ bán”" in stall
