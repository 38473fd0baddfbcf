"""Bank staff (queue, verify/reject, search, new codes, trail), officers (read only), admins (users)."""
from __future__ import annotations

import re


from market40.models import PaymentAccount, User, UserScope

from webhelpers import ACCOUNT_A, PASSWORD, audit_events, csrf_token, fetch, post, sign_in


def test_the_queue_lists_pending_accounts_of_their_markets_masked(client, world):
    sign_in(client, world.user("staff_hl"))
    page = client.get("/staff/")
    assert "1 tài khoản chờ xác minh" in page.text
    assert "HL1/A-12" in page.text and "•••• 5678" in page.text and "NGUYEN THI LAN" in page.text
    assert 'href="/staff/stall/HL1/A-12?next=' in page.text and 'href="/staff/markets/HL1"' in page.text


def test_staff_verify_an_account(client, world, engine):
    sign_in(client, world.user("staff_hl"))
    response = post(client, "/staff/stall/HL1/A-12", {"action": "verify"})
    assert response.status_code == 302
    assert "Đã xác minh tài khoản" in client.get(response.headers["Location"]).text
    [account] = fetch(engine, PaymentAccount, PaymentAccount.number == ACCOUNT_A)
    assert account.status == "verified" and account.verified_by_id == world.user("staff_hl").id
    again = post(client, "/staff/stall/HL1/A-12", {"action": "verify"})
    assert "Không xác minh được" in client.get(again.headers["Location"]).text
    assert "Không có tài khoản nào chờ xác minh" in client.get("/staff/").text


def test_rejecting_needs_a_reason_the_owner_will_read(client, world, engine):
    sign_in(client, world.user("staff_hl"))
    page = post(client, "/staff/stall/HL1/A-12", {"action": "reject", "reason": "  "})
    assert "Hãy ghi lý do" in page.text
    response = post(client, "/staff/stall/HL1/A-12", {"action": "reject", "reason": "Sai tên chủ tài khoản"})
    assert response.status_code == 302
    [account] = fetch(engine, PaymentAccount, PaymentAccount.number == ACCOUNT_A)
    assert (account.status, account.status_reason) == ("rejected", "Sai tên chủ tài khoản")
    sign_in(client, world.user("owner_a"))
    assert "Sai tên chủ tài khoản" in client.get("/owner/").text


def test_a_new_code_is_shown_once_and_lets_the_owner_in(app, client, world, engine):
    sign_in(client, world.user("staff_hl"))
    slip = post(client, "/staff/stall/HL1/A-12", {"action": "reissue"})
    assert "Mã chỉ hiện một lần" in slip.text
    code = re.search(r'class="code">([0-9A-Z-]+)<', slip.text).group(1)
    assert code not in client.get("/staff/stall/HL1/A-12").text
    owner = app.test_client()
    token = csrf_token(owner, "/enrol")
    response = owner.post("/enrol", data={"csrf_token": token, "market": "HL1", "stall": "A-12", "code": code,
                                          "phone": "0912345000", "password": "my own pin 2026",
                                          "password2": "my own pin 2026", "consent": "yes"})
    assert response.status_code == 302
    assert [e.action for e in audit_events(engine, "enrollment.issue")] == ["enrollment.issue"]


def test_search_is_a_post_and_finds_by_name_without_diacritics(client, world):
    sign_in(client, world.user("staff_hl"))
    page = post(client, "/staff/markets/HL1", {"q": "nguyen thi lan"})
    assert "A-12" in page.text and "1 sạp khớp" in page.text
    assert "0 sạp khớp" in post(client, "/staff/markets/HL1", {"q": "tran van binh"}).text


def test_the_stall_trail_lists_what_happened(client, world):
    sign_in(client, world.user("staff_hl"))
    post(client, "/staff/stall/HL1/A-12", {"action": "reveal"})
    post(client, "/staff/stall/HL1/A-12", {"action": "verify"})
    page = client.get("/staff/audit/HL1/A-12").text
    for action in ("Tạo sạp", "Đăng ký tài khoản nhận tiền", "Xem số tài khoản đầy đủ", "Xác minh tài khoản"):
        assert action in page, action
    assert ACCOUNT_A not in page and "•••• 5678" in page


def test_unknown_actions_are_bad_requests(client, world):
    sign_in(client, world.user("staff_hl"))
    assert post(client, "/staff/stall/HL1/A-12", {"action": "delete"}).status_code == 400


# ------------------------------------------------------------------ officers

def test_officers_read_their_markets(client, world):
    sign_in(client, world.user("officer_hl"))
    index = client.get("/officer/")
    assert "Chợ Hạ Long I" in index.text and "Phường Hạ Long" in index.text
    page = client.get("/officer/markets/HL1")
    assert "Chờ xác minh" in page.text and "•••• 5678" in page.text
    assert "<form" not in page.text.split("<main", 1)[1]  # read only: no actions
    assert client.get("/officer/markets/HL1?page=2").status_code == 404
    assert client.get("/officer/markets/HL1?page=x").status_code == 404


# ------------------------------------------------------------------ admins

def test_admins_list_and_add_users_with_scopes(client, world, engine):
    sign_in(client, world.user("admin"))
    users = client.get("/admin/users").text
    assert "staff.hl" in users and "HL1" in users and "locality:L-HL" in users
    page = post(client, "/admin/users/new", {"username": "bad name", "role": "staff", "password": "short"})
    assert "Tên đăng nhập dài 1–64 ký tự" in page.text and "ít nhất 8 ký tự" in page.text
    unknown = post(client, "/admin/users/new", {"username": "nv.cp2", "role": "staff", "password": PASSWORD,
                                                "markets": "ZZ9"})
    assert "Không tìm thấy chợ" in unknown.text
    response = post(client, "/admin/users/new", {"username": "NV.CamPha", "display_name": "Nhân viên Cẩm Phả",
                                                 "role": "staff", "password": PASSWORD, "markets": "CP1, HL1"})
    assert response.status_code == 302
    [user] = fetch(engine, User, User.username == "nv.campha")
    assert len(fetch(engine, UserScope, UserScope.user_id == user.id)) == 2
    again = post(client, "/admin/users/new", {"username": "nv.campha", "role": "staff", "password": PASSWORD})
    assert "Tên đăng nhập này đã có" in again.text


def test_admins_disable_and_enable_users_but_not_themselves(client, world, engine):
    sign_in(client, world.user("admin"))
    post(client, "/admin/users/officer.cp/active", {"active": "0"})
    assert not fetch(engine, User, User.username == "officer.cp")[0].is_active
    post(client, "/admin/users/officer.cp/active", {"active": "1"})
    assert fetch(engine, User, User.username == "officer.cp")[0].is_active
    response = post(client, "/admin/users/admin/active", {"active": "0"})
    assert "Bạn không thể tự khoá" in client.get(response.headers["Location"]).text
    assert post(client, "/admin/users/nobody/active", {"active": "0"}).status_code == 404
    assert [e.action for e in audit_events(engine) if e.action.startswith("user.")] == ["user.disable", "user.enable"]
