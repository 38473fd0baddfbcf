"""Malformed input never becomes a 500 (issue #16): codes in URLs, NUL bytes, CRLF in ``next=``.

Every route of the app is tried with each malformed value in each of its URL parts, as the
admin (who reaches the staff, officer and admin pages) and as a staff member; NUL bytes go in
every form field of every POST. On both backends: PostgreSQL is the one that refuses NULs.
"""
from __future__ import annotations

import re
from urllib.parse import quote

import pytest

from market40.models import AuditEvent

from webhelpers import PASSWORD, csrf_token, fetch, sign_in

MALFORMED = ["!!", "%2F", "a%2Fb", "%0D%0ASet-Cookie:%20x=1", quote("A\u202e21"), "X" * 40, "%00", "A%00B",
             quote("\u200b"), "%1B[31m", "..", "%C0%AF", quote("Chợ")]


def _urls(app) -> list[tuple[str, str]]:
    """(method, url) for every route with parameters, each parameter replaced by each malformed value."""
    out = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or not rule.arguments:
            continue
        for value in MALFORMED:
            path = rule.rule
            for name in rule.arguments:
                path = re.sub(r"<(?:[a-z]+:)?" + name + ">", value, path)
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                out.append((method, path))
    return out


@pytest.mark.parametrize("who", ["admin", "staff_hl", "officer_hl"])
def test_malformed_codes_in_urls_answer_404_or_400(client, world, who):
    sign_in(client, world.user(who))
    token = csrf_token(client, "/password")
    failures = []
    for method, url in _urls(client.application):
        if method == "GET":
            response = client.get(url)
        else:
            response = client.post(url, data={"csrf_token": token, "action": "reveal", "active": "1"})
        if response.status_code >= 500 or response.status_code == 200 and method == "POST":
            failures.append((method, url, response.status_code))
    assert not failures


def test_malformed_query_values_answer_400_or_a_page(client, world):
    sign_in(client, world.user("admin"))
    for value in MALFORMED:
        for url in (f"/officer/dashboard?period={value}", f"/officer/dashboard?locality={value}",
                    f"/officer/dashboard/download?period={value}&format={value}",
                    f"/officer/markets/HL1?page={value}", f"/login?next={value}"):
            response = client.get(url)
            assert response.status_code < 500, url


def test_nul_bytes_in_any_form_field_or_url_answer_400(client, world, engine):
    """PostgreSQL cannot store a NUL: before, a NUL in a login or a form answered 500."""
    token = csrf_token(client, "/login")
    for field in ("username", "password", "next"):
        data = {"csrf_token": token, "username": "staff.hl", "password": PASSWORD, "next": "/staff/"}
        data[field] = data[field][:3] + "\x00" + data[field][3:]
        assert client.post("/login", data=data).status_code == 400
    for data in ({"market": "HL1\x00", "stall": "A-12", "code": "AAAA-BBBB", "phone": "0912345678"},
                 {"market": "HL1", "stall": "A-12", "code": "AAAA-BBBB", "phone": "0912\x00345678"}):
        data.update(csrf_token=token, password="x" * 12, password2="x" * 12, consent="yes")
        assert client.post("/enrol", data=data).status_code == 400
    assert client.get("/login?next=/staff/%00").status_code == 400
    assert client.get("/staff/markets/HL1%00").status_code in (400, 404)

    sign_in(client, world.user("owner_a"))
    token = csrf_token(client, "/password")
    response = client.post("/owner/account", data={"csrf_token": token, "bank": "970436", "number": "0011012345678",
                                                   "holder_name": "NGUYEN\x00 THI LAN", "action": "preview"})
    assert response.status_code == 400
    sign_in(client, world.user("admin"))
    token = csrf_token(client, "/password")
    response = client.post("/admin/users/new", data={"csrf_token": token, "username": "new\x00user", "role": "staff",
                                                     "password": "a long enough password", "display_name": "x\x00"})
    assert response.status_code == 400
    sign_in(client, world.user("staff_hl"))
    token = csrf_token(client, "/password")
    response = client.post("/staff/stall/HL1/A-12", data={"csrf_token": token, "action": "reject",
                                                          "reason": "sai tên\x00"})
    assert response.status_code == 400
    assert not [e for e in fetch(engine, AuditEvent) if "\x00" in (e.note or "") + (e.after or "")]


def test_crlf_in_next_never_reaches_a_header(client, world):
    token = csrf_token(client, "/login")
    for target in ("/staff/\r\nSet-Cookie: x=1", "/staff/%0d%0aSet-Cookie:x=1", "/\tstaff", "/staff/\u202e"):
        response = client.post("/login", data={"csrf_token": token, "username": "staff.hl", "password": PASSWORD,
                                               "next": target})
        assert response.status_code == 302
        assert "\r" not in response.headers["Location"] and "\n" not in response.headers["Location"]
        assert "Set-Cookie: x" not in str(response.headers)
        client.post("/logout", data={"csrf_token": csrf_token(client, "/password")})
        token = csrf_token(client, "/login")
    page = client.get("/login?next=/staff/%0D%0ASet-Cookie:x=1")
    assert page.status_code == 200 and "Set-Cookie" not in page.text
