"""Registry use cases on real SQLite and PostgreSQL: accounts, history, scope, audit."""
import json
from datetime import datetime

import pytest
from sqlmodel import select

from market40.formats import VN_TZ

from market40 import passwords, vietqr
from market40.exceptions import Conflict, Forbidden, InvalidComponent, NotFound, ValidationError
from market40.models import AuditEvent, EnrollmentCode, PaymentAccount, Stall, User
from market40.services.registry import Actor, Registry, parse_stall_ref

NUMBER = "0011012344418"


@pytest.fixture
def registry(session, stall):
    return Registry(session, Actor.operator("tester"))


def register(registry, **overrides):
    fields = dict(bank="vietcombank", number=NUMBER, holder_name="Nguyễn Thị Lan")
    fields.update(overrides)
    account, outcome = registry.register_account("HL1/A-12", **fields)
    registry.session.commit()
    return account, outcome


def audit_text(session):
    return " ".join(f"{e.before} {e.after} {e.note}" for e in session.exec(select(AuditEvent)).all())


def test_register_builds_a_static_stall_qr_pending_review(registry, session):
    account, outcome = register(registry)
    assert outcome == "created" and account.status == "pending"
    qr = vietqr.parse(account.payload)
    assert (qr.bin, qr.account, qr.purpose, qr.initiation) == ("970436", NUMBER, "HL1 A12", "static")
    assert account.holder_name == "NGUYEN THI LAN" and account.consent_channel == "paper"
    assert account.consent_purpose and account.consent_at is not None


def test_registering_the_same_account_again_changes_nothing(registry, session):
    register(registry)
    events = len(session.exec(select(AuditEvent)).all())
    _, outcome = register(registry, holder_name="NGUYEN THI LAN", bank="970436")
    assert outcome == "unchanged" and len(session.exec(select(AuditEvent)).all()) == events


def test_changing_the_account_keeps_the_old_one_until_the_new_one_is_verified(registry, session):
    old, _ = register(registry)
    registry.verify_account("HL1/A-12")
    new, outcome = register(registry, bank="MB", number="0912345678")
    assert outcome == "requested" and new.status == "pending"
    session.refresh(old)
    assert old.status == "verified"  # its posters keep working while the new one waits
    assert [a.status for a in registry.accounts("HL1", history=True)] == ["verified", "pending"]
    registry.verify_account("HL1/A-12")
    session.refresh(old)
    assert old.status == "revoked" and old.status_reason == "replaced by a new account"
    assert old.revoked_at == new.verified_at
    assert [a.status for a in registry.accounts("HL1", history=True)] == ["revoked", "verified"]


def test_a_rejected_replacement_leaves_the_verified_account_in_use(registry, session):
    old, _ = register(registry)
    registry.verify_account("HL1/A-12")
    register(registry, bank="MB", number="0912345678")
    rejected = registry.reject_account("HL1/A-12", "tên không khớp")
    assert rejected.number == "0912345678"
    assert registry.current_account(registry.stall("HL1/A-12")).id == old.id


def test_status_transitions(registry, session):
    register(registry)
    with pytest.raises(ValidationError, match="reason"):
        registry.reject_account("HL1/A-12", "  ")
    registry.reject_account("HL1/A-12", "holder name differs from the bank's")
    session.commit()
    with pytest.raises(Conflict, match="no pending or verified account"):
        registry.verify_account("HL1/A-12")
    register(registry)
    account = registry.verify_account("HL1/A-12")
    assert account.status == "verified" and account.verified_at is not None
    with pytest.raises(Conflict, match="only pending"):
        registry.verify_account("HL1/A-12")
    registry.revoke_account("HL1/A-12", "stall closed")
    assert registry.current_account(registry.stall("HL1/A-12")) is None


def test_every_problem_of_an_account_is_reported_at_once(registry):
    with pytest.raises(ValidationError) as info:
        registry.register_account("HL1/A-12", bank="vietcombnak", number="12/34", holder_name="Lan 2")
    fields = {e.field for e in info.value.errors}
    assert fields == {"bank", "account", "holder_name"}
    assert "did you mean Vietcombank" in str(info.value)


def test_momo_needs_its_reference_label(registry):
    with pytest.raises(ValidationError, match="MOMOW2W"):
        registry.register_account("HL1/A-12", bank="momo", number="PSP123456789012345", holder_name="Lan")
    account, _ = registry.register_account("HL1/A-12", bank="momo", number="PSP123456789012345",
                                           holder_name="Lan", reference_label="MOMOW2W12345678")
    assert account.kind == "ewallet" and vietqr.parse(account.payload).reference_label == "MOMOW2W12345678"


def test_cards_use_the_card_service(registry):
    account, _ = registry.register_account("HL1/A-12", bank="970403", number="9704031101234567",
                                           holder_name="Lan", kind="Thẻ")
    assert account.kind == "card" and vietqr.parse(account.payload).service == "QRIBFTTC"


def test_unknown_bin_needs_explicit_permission(registry):
    with pytest.raises(InvalidComponent, match="970499"):
        registry.register_account("HL1/A-12", bank="970499", number="1", holder_name="Lan")
    account, _ = registry.register_account("HL1/A-12", bank="970499", number="1", holder_name="Lan",
                                           allow_unknown_bin=True)
    assert account.bin == "970499"


def test_listings_mask_numbers_and_reveal_is_audited(registry, session):
    register(registry)
    row = registry.stalls("HL1")[0]
    assert row.account.number == "•••• 4418" and NUMBER not in json.dumps(row.as_dict(), default=str)
    assert registry.accounts("HL1")[0].number == "•••• 4418"
    assert registry.accounts("HL1", reveal=True)[0].number == NUMBER
    actions = [e.action for e in session.exec(select(AuditEvent)).all()]
    assert actions.count("account.reveal") == 1
    assert registry.stalls("HL1", reveal=True)[0].account.number == NUMBER
    actions = [e.action for e in session.exec(select(AuditEvent)).all()]
    assert actions.count("account.reveal") == 2


def test_audit_trail_never_holds_a_full_account_number_or_phone(registry, session):
    assert registry.save_stall("HL1", code="A-12", owner_name="Nguyễn Thị Lan Anh",
                               owner_phone="0912345678")[1] == "updated"
    register(registry)
    registry.verify_account("HL1/A-12")
    register(registry, number="0912300000")
    session.commit()
    text = audit_text(session)
    assert NUMBER not in text and "0912300000" not in text and "0912345678" not in text
    actions = [e.action for e in session.exec(select(AuditEvent).order_by(AuditEvent.id)).all()]
    assert actions == ["stall.update", "account.register", "account.verify", "account.register"]


def test_save_stall_is_idempotent_and_audits_changes(registry, session):
    stall, outcome = registry.save_stall("HL1", code="B-3", owner_name="Trần Văn Bình", owner_phone="0987654321")
    assert outcome == "created"
    assert registry.save_stall("HL1", code="B-3", owner_name="Trần Văn Bình", owner_phone="0987 654 321")[1] == \
        "unchanged"
    _, outcome = registry.save_stall("HL1", code="B-3", owner_name="Trần Văn Bình", status="Nghỉ kinh doanh")
    assert outcome == "updated" and stall.status == "closed" and stall.closed_on == datetime.now(VN_TZ).date()  # the day in Vietnam
    update = session.exec(select(AuditEvent).where(AuditEvent.action == "stall.update")).one()
    assert json.loads(update.before)["status"] == "operating" and json.loads(update.after)["status"] == "closed"


def test_stall_listing_is_in_natural_order(registry):
    for code in ("A-10", "A-2", "B-1", "A-1"):
        registry.save_stall("HL1", code=code, owner_name="X")
    assert [s.code for s in registry.stalls("HL1")] == ["A-1", "A-2", "A-10", "A-12", "B-1"]


def test_stall_reference_errors(registry):
    with pytest.raises(ValidationError, match="MARKET/STALL"):
        registry.stall("HL1-A12")
    with pytest.raises(NotFound):
        registry.stall("HL1/Z-99")
    assert parse_stall_ref(" hl1 / A-12") == ("HL1", "A-12")


# -------------------------------------------------------------- scope: the test_author_required pattern

@pytest.fixture
def other_market(session, registry, locality):
    registry.save_market(code="CP1", name="Chợ Trung tâm Cẩm Phả", tier="I", locality=locality.code)
    registry.save_stall("CP1", code="K-1", owner_name="Lê Văn C")
    session.commit()


def actor_for(session, registry, username, role, **scope):
    user = registry.add_user(username, role, password="mat-khau-dai-du", **scope)
    session.commit()
    return Registry(session, Actor.for_user(session, user))


def test_staff_reach_only_their_markets(session, registry, other_market):
    staff = actor_for(session, registry, "nv.camphas", "staff", markets=["CP1"])
    assert [m.code for m in staff.markets()] == ["CP1"]
    assert staff.stall("CP1/K-1").code == "K-1"
    with pytest.raises(Forbidden):
        staff.stall("HL1/A-12")
    with pytest.raises(Forbidden):
        staff.register_account("HL1/A-12", bank="vcb", number="1", holder_name="X")
    with pytest.raises(Forbidden):
        staff.stalls("HL1")
    assert session.exec(select(AuditEvent).where(AuditEvent.action == "access.denied")).first() is not None


def test_officers_read_their_localities_only_and_never_write(session, registry, other_market, locality):
    officer = actor_for(session, registry, "cb.halong", "officer", localities=[locality.code])
    assert {m.code for m in officer.markets()} == {"HL1", "CP1"}
    with pytest.raises(Forbidden):
        officer.save_stall("HL1", code="Z-1", owner_name="X")
    with pytest.raises(Forbidden):
        officer.accounts("HL1", reveal=True)


def test_owner_reaches_only_their_stall(session, registry, other_market, stall):
    owner = actor_for(session, registry, "0912345678", "owner", stall="HL1/A-12")
    assert owner.stall("HL1/A-12").id == stall.id
    registry.save_stall("HL1", code="A-13", owner_name="Y")
    session.commit()
    with pytest.raises(Forbidden):
        owner.stall("HL1/A-13")
    with pytest.raises(Forbidden):
        owner.stall("CP1/K-1")
    assert [s.code for s in owner.stalls("HL1")] == ["A-12"]
    account, _ = owner.register_account("HL1/A-12", bank="vcb", number="123456789", holder_name="Lan",
                                        consent_channel="web")
    assert account.created_by.startswith("user:")
    with pytest.raises(Forbidden):
        owner.verify_account("HL1/A-12")


def test_users(session, registry):
    with pytest.raises(ValidationError) as info:
        registry.add_user("a b", "boss", password="short")
    assert {e.field for e in info.value.errors} == {"username", "role", "password"}
    user = registry.add_user("Admin.QN", "admin", password="a-long-enough-password")
    assert user.username == "admin.qn" and passwords.verify_password("a-long-enough-password", user.password_hash)
    with pytest.raises(Conflict):
        registry.add_user("admin.qn", "admin", password="a-long-enough-password")
    assert [u.username for u in registry.users()] == ["admin.qn"]


def test_enrollment_codes_are_stored_hashed_and_replace_older_ones(session, registry, stall):
    key = "k" * 32
    first = registry.issue_enrollment_codes(key=key, stall="HL1/A-12")[0]
    session.commit()
    rows = session.exec(select(EnrollmentCode)).all()
    assert first.code.replace("-", "") not in " ".join(r.code_hash for r in rows)
    assert passwords.verify_enrollment_code(first.code, rows[0].code_hash, key)
    registry.issue_enrollment_codes(key=key, market="HL1")
    session.commit()
    live = [r for r in session.exec(select(EnrollmentCode)).all() if r.expires_at > r.created_at.replace(microsecond=0)
            and r.used_at is None]
    assert len(session.exec(select(EnrollmentCode)).all()) == 2
    old = session.exec(select(EnrollmentCode).order_by(EnrollmentCode.id)).first()
    assert old.expires_at <= session.exec(select(EnrollmentCode).order_by(EnrollmentCode.id.desc())).first().created_at
    assert live
