"""market40.services.auth and .audit: logins, revocable sessions, owner enrolment, erasure, trails."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from market40 import passwords
from market40.exceptions import Conflict, Forbidden, ValidationError
from market40.models import AuditEvent, EnrollmentCode, User, UserScope, utcnow
from market40.services import audit as audit_service
from market40.services import auth
from market40.services.registry import Actor, Registry

KEY = "auth service tests: a secret key"
FAST = {"n": 2**10, "r": 8, "p": 1}
CONSENT = "Chúng tôi lưu những gì: ..."


@pytest.fixture
def registry(session):
    return Registry(session, Actor.operator("tests"))


@pytest.fixture
def staff(session, market):
    user = User(username="nv.hl", display_name="NV", role="staff",
                password_hash=passwords.hash_password("pw " * 4, **FAST))
    session.add(user)
    session.flush()
    session.add(UserScope(user_id=user.id, market_id=market.id))
    session.commit()
    return user


def _actions(session):
    return [e.action for e in session.exec(select(AuditEvent).order_by(AuditEvent.id)).all()]


# ------------------------------------------------------------------ passwords and logins

@pytest.mark.parametrize("password", ["1234567", "12345678", "00000000", "aaaaaaaaaa", "matkhau123", "0912345678",
                                      "23456789", "x" * 129])
def test_weak_passwords_are_refused(password):
    with pytest.raises(ValidationError) as caught:
        auth.check_new_password(password, phone="0912345678")
    assert caught.value.field == "password"


@pytest.mark.parametrize("password", ["27051990", "Chợ Hạ Long 2026", "correct horse battery staple"])
def test_good_passwords_pass(password):
    auth.check_new_password(password, phone="0912345678")


@pytest.mark.production_scrypt
def test_authenticate(session, staff, monkeypatch):
    assert auth.authenticate(session, "NV.HL ", "pw " * 4, address="10.1.2.3").id == staff.id
    assert staff.password_hash.startswith("scrypt$32768$")  # re-hashed with today's parameters
    assert staff.last_login_at is not None
    assert auth.authenticate(session, "nv.hl", "wrong") is None
    staff.is_active = False
    assert auth.authenticate(session, "nv.hl", "pw " * 4) is None
    notes = [e.note for e in session.exec(select(AuditEvent).where(AuditEvent.action.like("auth.%"))).all()]
    assert notes == ["login from 10.1.2.3", "nv.hl: bad password", "nv.hl: disabled"]


def test_unknown_users_cost_the_same_scrypt_work(session, staff, monkeypatch):
    seen = []
    real = passwords.verify_password
    monkeypatch.setattr(passwords, "verify_password", lambda pw, encoded: seen.append(encoded) or real(pw, encoded))
    assert auth.authenticate(session, "nobody", "whatever") is None
    assert seen == [None]  # verify_password(None) runs scrypt with the production parameters


def test_sessions_end_when_the_epoch_moves(session, staff):
    epoch = staff.session_epoch
    assert auth.session_user(session, staff.id, epoch) is staff
    auth.record_logout(session, staff)
    assert auth.session_user(session, staff.id, epoch) is None
    assert auth.session_user(session, staff.id, staff.session_epoch) is staff
    assert auth.session_user(session, "1", staff.session_epoch) is None
    staff.is_active = False
    assert auth.session_user(session, staff.id, staff.session_epoch) is None


def test_change_password(session, staff):
    with pytest.raises(ValidationError) as caught:
        auth.change_password(session, staff, "wrong", "short")
    assert {e.field for e in caught.value.errors} == {"current_password", "new_password"}
    epoch = staff.session_epoch
    assert auth.change_password(session, staff, "pw " * 4, "a brand new passphrase") == epoch + 1
    assert passwords.verify_password("a brand new passphrase", staff.password_hash)


def test_only_admins_disable_users_and_it_ends_their_sessions(session, staff):
    with pytest.raises(Forbidden):
        auth.set_active(session, Actor(name="user:9", role="staff", user_id=9), "nv.hl", False)
    epoch = staff.session_epoch
    auth.set_active(session, Actor(name="user:999", role="admin", user_id=999), "nv.hl", False)
    assert not staff.is_active and staff.session_epoch == epoch + 1
    with pytest.raises(Conflict):
        auth.set_active(session, Actor(name=f"user:{staff.id}", role="admin", user_id=staff.id), "nv.hl", False)


# ------------------------------------------------------------------ enrolment

def _code(registry, ref="HL1/A-12"):
    return registry.issue_enrollment_codes(key=KEY, stall=ref)[0].code


def _enrol(session, code, **overrides):
    fields = dict(market_code="HL1", stall_code="A-12", code=code, phone="0903 123 456", password="27051990",
                  consent_accepted=True)
    fields.update(overrides)
    return auth.enroll_owner(session, KEY, consent_text=CONSENT, address="10.0.0.9", **fields)


def test_enrol_creates_the_owner_and_records_consent(session, registry, stall):
    code = _code(registry)
    user = _enrol(session, code)
    assert (user.username, user.role, user.stall_id, user.phone) == ("0903123456", "owner", stall.id, "0903123456")
    assert auth.owner_stall_ref(session, user) == "HL1/A-12"
    row = session.exec(select(EnrollmentCode)).one()
    assert row.used_at is not None
    consent = session.exec(select(AuditEvent).where(AuditEvent.action == "consent.accept")).one()
    assert consent.note == CONSENT and auth.consent_version(CONSENT) in consent.after
    assert '"channel": "web"' in consent.after


def test_enrol_reports_every_field_problem_at_once(session, registry, stall):
    with pytest.raises(ValidationError) as caught:
        _enrol(session, "nope", market_code="", stall_code="", phone="123", password="1", consent_accepted=False)
    assert {e.field for e in caught.value.errors} == {"market", "stall", "code", "phone", "password", "consent"}
    assert not session.exec(select(User)).all()


@pytest.mark.parametrize("case", ["wrong", "used", "expired", "replaced", "other_stall", "no_stall"])
def test_enrol_refuses_unusable_codes_with_the_reason(session, registry, stall, market, case):
    code = _code(registry)
    expected, overrides = case, {}
    if case == "used":
        _enrol(session, code)
    elif case == "expired":
        row = session.exec(select(EnrollmentCode)).one()
        row.expires_at = utcnow() - timedelta(seconds=1)
    elif case == "replaced":
        _code(registry)
    elif case == "wrong":
        code = "CCCC-CCCC"
    elif case == "other_stall":  # a real code, typed for the neighbour's stall
        registry.save_stall("HL1", code="A-13", owner_name="Bà Tư")
        expected, overrides = "wrong", {"stall_code": "A-13"}
    else:  # no such stall: the same answer, so stalls cannot be probed
        expected, overrides = "wrong", {"stall_code": "Z-9"}
    with pytest.raises(auth.CodeRefused) as caught:
        _enrol(session, code, phone="0904000000", **overrides)
    assert caught.value.reason == expected and caught.value.field == "code"
    assert "enrollment.failed" in _actions(session)


def test_re_enrolment_moves_the_login_and_ends_its_sessions(session, registry, stall):
    first = _enrol(session, _code(registry))
    epoch = first.session_epoch
    second = _enrol(session, _code(registry), phone="0904 555 666", password="another pin 1")
    assert second.id == first.id and second.username == "0904555666" and second.session_epoch == epoch + 1
    assert passwords.verify_password("another pin 1", second.password_hash)


def test_a_phone_used_by_another_login_is_a_conflict(session, registry, stall, staff):
    staff.username = "0903123456"
    with pytest.raises(Conflict):
        _enrol(session, _code(registry))


# ------------------------------------------------------------------ erasure and trails

def test_erasure_is_recorded_for_staff(session, registry, stall, staff):
    owner = _enrol(session, _code(registry))
    request = auth.request_erasure(session, owner, note="nghỉ bán")
    assert request.stall == "HL1/A-12" and (request.due_by - request.requested_at).days == auth.ERASURE_DAYS
    with pytest.raises(Forbidden):
        auth.request_erasure(session, staff)
    staff_registry = Registry(session, Actor.for_user(session, staff))
    [(ref, entry)] = audit_service.erasure_requests(staff_registry)
    assert ref == "HL1/A-12" and entry.note == "nghỉ bán"


def test_the_stall_trail_is_scoped(session, registry, stall, staff, locality):
    registry.register_account("HL1/A-12", bank="vcb", number="0011012345678", holder_name="Lan")
    owner = _enrol(session, _code(registry))
    auth.authenticate(session, owner.username, "27051990")
    actions = [e.action for e in audit_service.stall_trail(Registry(session, Actor.for_user(session, staff)),
                                                           "HL1/A-12")]
    assert {"account.register", "enrollment.redeem", "consent.accept", "auth.login"} <= set(actions)
    registry.save_market(code="CP1", name="Chợ Cẩm Phả", locality=locality.code)
    registry.save_stall("CP1", code="B-1", owner_name="Ông Năm")
    with pytest.raises(Forbidden):
        audit_service.stall_trail(Registry(session, Actor.for_user(session, staff)), "CP1/B-1")
