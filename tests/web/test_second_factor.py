"""The second factor (issue #16, ASVS 6.3.3): TOTP after the password, enrolment by QR code,
single-use recovery codes, required by role, audited, reset by an administrator."""
from __future__ import annotations

import re

import pyotp
import pytest
from click.testing import CliRunner
from sqlmodel import Session, select

from market40 import qrimage
from market40.models import RecoveryCode, User
from market40.services import second_factor
from web import create_app

from webhelpers import PASSWORD, SECRET, audit_events, csrf_token, fetch, post

pytestmark = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)


@pytest.fixture
def app(engine, clock):
    """The production default: staff, officers and admins must use a second factor."""
    return create_app({"ENGINE": engine, "SECRET_KEY": SECRET, "CLOCK": clock})


def _password(client, username, password=PASSWORD):
    token = csrf_token(client, "/login")
    return client.post("/login", data={"csrf_token": token, "username": username, "password": password})


def _secret(page_text):
    found = re.search(r'<code class="secret">([A-Z2-7 ]+)</code>', page_text)
    assert found, "the setup page shows the key for typing"
    return found.group(1).replace(" ", "")


def _enrol(client, clock):
    page = client.get("/2fa")
    secret = _secret(page.text)
    done = post(client, "/2fa", {"code": pyotp.TOTP(secret).at(int(clock()))})
    codes = re.findall(r"<code>([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})</code>", done.text)
    return secret, codes, done


def test_a_required_role_is_sent_to_enrolment_before_anything_else(app, world, clock, engine):
    client = app.test_client()
    response = _password(client, "staff.hl")
    assert response.status_code == 302 and response.headers["Location"].endswith("/2fa")
    for path in ("/staff/", "/password", "/", "/officer/"):
        assert client.get(path).headers.get("Location", "").endswith("/2fa"), path
    page = client.get("/2fa")
    assert page.status_code == 200 and "Thiết lập xác thực hai lớp" in page.text
    # The QR code is drawn here, by market40's own QR code, and holds the otpauth:// URI.
    import base64
    import io
    png = base64.b64decode(re.search(r'src="data:image/png;base64,([^"]+)"', page.text).group(1))
    [uri] = qrimage.read(io.BytesIO(png))
    assert uri.startswith("otpauth://totp/market40:staff.hl?") and f"secret={_secret(page.text)}" in uri
    assert "http" not in re.search(r'<img class="qr-totp"[^>]*>', page.text).group(0).split("src=")[1][:10]


def test_enrolment_then_login_with_a_code_then_recovery_codes(app, world, clock, engine):
    client = app.test_client()
    _password(client, "staff.hl")
    client.get("/2fa")
    wrong = post(client, "/2fa", {"code": "000000"})
    assert "Mã không đúng" in wrong.text
    secret, codes, done = _enrol(client, clock)
    assert len(codes) == 10 and len(set(codes)) == 10 and "chỉ hiện các mã một lần" in done.text
    assert client.get("/staff/").status_code == 200  # enrolled: the pages open
    [user] = fetch(engine, User, User.username == "staff.hl")
    assert user.totp_enabled_at is not None and secret not in (user.totp_secret or "")  # sealed, not plain
    stored = fetch(engine, RecoveryCode, RecoveryCode.user_id == user.id)
    assert len(stored) == 10 and not any(c.replace("-", "") in r.code_hash for r in stored for c in codes)

    # Next login: the password alone opens nothing.
    clock.advance(90)
    other = app.test_client()
    step = _password(other, "staff.hl")
    assert step.headers["Location"].endswith("/login/code")
    assert other.get("/staff/").headers["Location"].startswith("/login")
    assert "Mã không đúng" in post(other, "/login/code", {"code": "123456"}).text
    code = pyotp.TOTP(secret).at(int(clock()))
    assert post(other, "/login/code", {"code": code}).status_code == 302
    assert other.get("/staff/").status_code == 200

    # The same code cannot be used twice (ASVS 6.5.1).
    third = app.test_client()
    _password(third, "staff.hl")
    assert "Mã không đúng" in post(third, "/login/code", {"code": code}).text
    # A recovery code works once, typed loosely.
    assert post(third, "/login/code", {"code": codes[0].lower().replace("-", " ")}).status_code == 302
    fourth = app.test_client()
    _password(fourth, "staff.hl")
    assert "Mã không đúng" in post(fourth, "/login/code", {"code": codes[0]}).text

    actions = [e.action for e in audit_events(engine) if e.action.startswith("2fa.")]
    assert actions == ["2fa.failed", "2fa.enrol", "2fa.failed", "2fa.used", "2fa.failed", "2fa.recovery_used",
                       "2fa.failed"]
    logins = [e.note for e in audit_events(engine, "auth.login")]
    assert logins[-2:] == ["login with TOTP from 127.0.0.1", "login with a recovery code from 127.0.0.1"]


def test_the_code_step_expires_and_is_rate_limited(app, world, clock, engine):
    client = app.test_client()
    _password(client, "staff.hl")
    secret, _, _ = _enrol(client, clock)
    clock.advance(60)
    other = app.test_client()
    _password(other, "staff.hl")
    statuses = [post(other, "/login/code", {"code": f"{i:06d}"}).status_code for i in range(7)]
    assert statuses[:5] == [200] * 5 and set(statuses[5:]) == {429}
    assert post(other, "/login/code", {"code": pyotp.TOTP(secret).at(int(clock()))}).status_code == 429
    late = app.test_client()
    _password(late, "staff.hl")
    clock.advance(6 * 60)
    assert late.get("/login/code").headers["Location"].startswith("/login")


def test_owners_may_opt_in_and_out(app, world, clock, engine):
    client = app.test_client()
    response = _password(client, "0912345678")
    assert response.headers["Location"].endswith("/owner/")  # not required for owners
    secret, codes, _ = _enrol(client, clock)
    assert len(codes) == 10
    clock.advance(60)
    page = client.get("/2fa")
    assert "Tắt xác thực hai lớp" in page.text
    off = post(client, "/2fa", {"action": "disable", "code": pyotp.TOTP(secret).at(int(clock()))})
    assert off.status_code == 302
    [user] = fetch(engine, User, User.username == "0912345678")
    assert user.totp_secret is None and fetch(engine, RecoveryCode, RecoveryCode.user_id == user.id) == []
    assert [e.action for e in audit_events(engine) if e.action.startswith("2fa.")] == \
        ["2fa.enrol", "2fa.used", "2fa.disable"]


def test_a_required_role_cannot_turn_it_off(app, world, clock, engine):
    client = app.test_client()
    _password(client, "officer.hl")
    secret, _, _ = _enrol(client, clock)
    clock.advance(60)
    assert "Tắt xác thực hai lớp" not in client.get("/2fa").text
    post(client, "/2fa", {"action": "disable", "code": pyotp.TOTP(secret).at(int(clock()))})
    [user] = fetch(engine, User, User.username == "officer.hl")
    assert user.totp_enabled_at is not None


def test_the_roles_are_configurable(engine, clock, world):
    app = create_app({"ENGINE": engine, "SECRET_KEY": SECRET, "CLOCK": clock, "SECOND_FACTOR_ROLES": "admin"})
    client = app.test_client()
    assert _password(client, "staff.hl").headers["Location"].endswith("/staff/")
    assert _password(app.test_client(), "admin").headers["Location"].endswith("/2fa")
    with pytest.raises(Exception) as caught:
        create_app({"ENGINE": engine, "SECRET_KEY": SECRET, "SECOND_FACTOR_ROLES": "staff,ofiser"})
    assert "ofiser" in str(caught.value)


def test_an_administrator_resets_a_lost_second_factor_from_the_cli(app, world, clock, engine, tmp_path, monkeypatch):
    client = app.test_client()
    _password(client, "staff.hl")
    _enrol(client, clock)
    assert client.get("/staff/").status_code == 200
    import cli
    url = engine.url.render_as_string(hide_password=False)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli.main, ["--db", url, "user", "reset-2fa", " STAFF.HL "], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert client.get("/staff/").status_code == 302  # the session has ended
    [user] = fetch(engine, User, User.username == "staff.hl")
    assert user.totp_secret is None and user.totp_enabled_at is None
    assert fetch(engine, RecoveryCode, RecoveryCode.user_id == user.id) == []
    [event] = audit_events(engine, "2fa.reset")
    assert event.actor.startswith("cli:") and event.entity_id == str(user.id)
    # At the next login they are sent to enrolment again.
    assert _password(app.test_client(), "staff.hl").headers["Location"].endswith("/2fa")
    assert CliRunner().invoke(cli.main, ["--db", url, "user", "reset-2fa", "nobody"]).exit_code == 1


def test_the_secret_is_sealed_under_the_deployment_key(engine):
    sealed = second_factor.seal_secret("JBSWY3DPEHPK3PXP", key=SECRET)
    assert "JBSWY3DPEHPK3PXP" not in sealed
    assert second_factor.open_secret(sealed, key=SECRET) == "JBSWY3DPEHPK3PXP"
    from market40.exceptions import Conflict
    with pytest.raises(Conflict):
        second_factor.open_secret(sealed, key="another deployment key, 16+ bytes")


def test_the_english_pages(app, world, clock):
    client = app.test_client()
    client.get("/login?lang=en")
    _password(client, "staff.hl")
    page = client.get("/2fa")
    assert "Set up two-step verification" in page.text and "Thiết lập" not in page.text


def test_screenshot_of_the_enrolment_page(app, world, clock, chromium):
    """One picture for people to look at (Chromium at 1366×768; the browser and server from tests/browser.py)."""
    from pathlib import Path

    from browser import DESK, serve
    artifacts = Path(__file__).resolve().parents[2] / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    with serve(app, threads=2) as base:
        page = chromium.new_page(viewport=DESK)
        page.goto(base + "/login")
        page.fill("#f-username", "staff.hl")
        page.fill("#f-password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(base + "/2fa")
        page.screenshot(path=str(artifacts / "2fa-enrolment-1366x768.png"))
        assert page.locator("img.qr-totp").is_visible()
