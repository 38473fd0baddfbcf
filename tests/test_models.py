"""What the database itself guarantees about the registry, on SQLite and PostgreSQL."""
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy.exc import IntegrityError, StatementError
from sqlmodel import Session, select

from market40.models import (
    AuditEvent,
    EnrollmentCode,
    Locality,
    LocalityLink,
    Market,
    PaymentAccount,
    Stall,
    User,
    UserScope,
    utcnow,
)

HANOI = timezone(timedelta(hours=7))


def new_account(stall: Stall, **fields) -> PaymentAccount:
    values = dict(
        stall_id=stall.id, kind="bank_account", bin="970436", number="0011001234567",
        holder_name="NGUYEN THI LAN", purpose="HL1 A12",
        payload="00020101021138570010A000000727012700069704360113001100123456702080QRIBFTTA53037045802VN62110807HL1 A126304ABCD",
        consent_purpose="nhận thanh toán VietQR tại sạp", consent_at=utcnow(), consent_channel="paper",
        created_by="cli:alice",
    )
    values.update(fields)
    return PaymentAccount(**values)


def refused(session: Session, *rows) -> IntegrityError:
    """Add ``rows`` and flush: the database must refuse. Leaves the session usable."""
    session.add_all(rows)
    with pytest.raises(IntegrityError) as info:
        session.flush()
    session.rollback()
    return info.value


# --- uniqueness -----------------------------------------------------------------


def test_market_code_is_unique(session, market, locality):
    refused(session, Market(code="HL1", name="Chợ khác", locality_id=locality.id))


def test_stall_code_is_unique_within_its_market_only(session, market, stall, locality):
    refused(session, Stall(market_id=market.id, code="A-12", owner_name="Trần Văn Bình"))

    other = Market(code="HL2", name="Chợ Hạ Long II", tier="II", locality_id=locality.id)
    session.add(other)
    session.flush()
    session.add(Stall(market_id=other.id, code="A-12", owner_name="Trần Văn Bình"))
    session.commit()
    codes = session.exec(select(Market.code, Stall.code).join(Stall)).all()
    assert sorted(codes) == [("HL1", "A-12"), ("HL2", "A-12")]


@pytest.mark.parametrize("status", ["pending", "verified"])
def test_a_stall_has_at_most_one_verified_and_one_pending_account(session, stall, status):
    session.add(new_account(stall, status=status, verified_at=utcnow() if status == "verified" else None))
    session.commit()
    refused(session, new_account(stall, status=status, number="1903555666777",
                                 verified_at=utcnow() if status == "verified" else None))


def test_a_replacement_waits_beside_the_verified_account(session, stall):
    session.add(new_account(stall, status="verified", verified_at=utcnow()))
    session.add(new_account(stall, status="pending", number="1903555666777"))
    session.commit()
    assert sorted(a.status for a in session.exec(select(PaymentAccount)).all()) == ["pending", "verified"]


def test_account_history_is_kept_beside_the_current_one(session, stall):
    now = utcnow()
    session.add_all([
        new_account(stall, status="rejected", status_reason="holder name differs", rejected_at=now),
        new_account(stall, status="rejected", status_reason="wrong BIN", rejected_at=now),
        new_account(stall, status="revoked", status_reason="owner changed bank", revoked_at=now,
                    verified_at=now),
        new_account(stall, status="verified", verified_at=now),
    ])
    session.commit()
    # The current account is revoked: a new one may be registered.
    current = session.exec(select(PaymentAccount).where(PaymentAccount.status == "verified")).one()
    current.status, current.status_reason, current.revoked_at = "revoked", "lost phone", now
    session.add(current)
    session.commit()
    session.add(new_account(stall, number="1903555666777"))
    session.commit()
    statuses = [a.status for a in session.get(Stall, stall.id).accounts]
    assert statuses == ["rejected", "rejected", "revoked", "revoked", "pending"]


def test_the_one_current_account_rule_is_per_stall(session, market, stall):
    neighbour = Stall(market_id=market.id, code="A-13", owner_name="Lê Văn Cường")
    session.add(neighbour)
    session.flush()
    session.add_all([new_account(stall), new_account(neighbour)])
    session.commit()


def test_payload_lookup_finds_the_stall(session, stall):
    account = new_account(stall)
    session.add(account)
    session.commit()
    found = session.exec(select(PaymentAccount).where(PaymentAccount.payload == account.payload)).one()
    assert found.stall.code == "A-12" and found.stall.market.code == "HL1"


# --- fixed vocabularies and state shapes ---------------------------------------------


@pytest.mark.parametrize("fields", [
    {"status": "approved"},  # not a status
    {"kind": "crypto"},  # not a kind
    {"status": "verified"},  # verified, but when?
    {"status": "rejected", "rejected_at": utcnow()},  # rejected without a reason
    {"status": "revoked", "status_reason": "fraud"},  # revoked without a time
])
def test_account_status_and_kind_are_checked(session, stall, fields):
    refused(session, new_account(stall, **fields))


def test_roles_stall_status_and_locality_kind_are_checked(session, market, locality):
    refused(session, User(username="lan", display_name="Lan", role="superuser"))
    refused(session, Stall(market_id=market.id, code="B-1", owner_name="X", status="sleeping"))
    refused(session, Locality(code="22", name="Quảng Ninh", kind="province", unit_type="tỉnh",
                              province="Quảng Ninh", valid_from=date(2025, 7, 1)))


def test_tier_is_data_not_an_enum(session, locality):
    session.add(Market(code="CP", name="Chợ Cẩm Phả", tier="hạng 1 (NĐ 60/2024)", locality_id=locality.id))
    session.commit()


def test_a_scope_names_one_market_or_one_locality(session, market, locality):
    user = User(username="officer1", display_name="Cán bộ phường", role="officer")
    session.add(user)
    session.commit()
    session.add_all([UserScope(user_id=user.id, market_id=market.id),
                     UserScope(user_id=user.id, locality_id=locality.id)])
    session.commit()
    refused(session, UserScope(user_id=user.id))
    refused(session, UserScope(user_id=user.id, market_id=market.id, locality_id=locality.id))


# --- foreign keys ------------------------------------------------------------------


def test_a_stall_needs_an_existing_market(session):
    refused(session, Stall(market_id=9999, code="A-1", owner_name="Không Chợ"))


def test_a_market_with_stalls_cannot_be_deleted(session, market, stall):
    session.delete(market)
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()
    assert session.get(Stall, stall.id) is not None


def test_deleting_a_stall_erases_its_accounts_and_codes(session, stall):
    owner = User(username="lan", display_name="Nguyễn Thị Lan", role="owner", stall_id=stall.id)
    session.add_all([
        new_account(stall),
        EnrollmentCode(stall_id=stall.id, code_hash="a" * 64, expires_at=utcnow() + timedelta(days=7),
                       created_by="cli:alice"),
        owner,
    ])
    session.commit()
    stall_id = stall.id
    session.delete(stall)
    session.commit()
    assert session.exec(select(PaymentAccount).where(PaymentAccount.stall_id == stall_id)).all() == []
    assert session.exec(select(EnrollmentCode)).all() == []
    session.refresh(owner)
    assert owner.stall_id is None  # the login stays, unlinked


def test_localities_map_many_to_many_across_the_2025_reform(session):
    def unit(code, name, kind, unit_type, start, end=None):
        return Locality(code=code, name=name, kind=kind, unit_type=unit_type, province="Quảng Ninh",
                        valid_from=start, valid_to=end)

    reform = date(2025, 7, 1)
    ha_long = unit("193", "Hạ Long", "district", "thành phố", date(2020, 1, 1), reform)
    cam_pha = unit("195", "Cẩm Phả", "district", "thành phố", date(2012, 1, 1), reform)
    p_ha_long = unit("06688", "Hạ Long", "commune", "phường", reform)
    p_bai_chay = unit("06673", "Bãi Cháy", "commune", "phường", reform)
    p_mong_duong = unit("06760", "Mông Dương", "commune", "phường", reform)
    session.add_all([ha_long, cam_pha, p_ha_long, p_bai_chay, p_mong_duong])
    session.flush()
    session.add_all([
        LocalityLink(old_id=ha_long.id, new_id=p_ha_long.id),
        LocalityLink(old_id=ha_long.id, new_id=p_bai_chay.id),
        LocalityLink(old_id=cam_pha.id, new_id=p_mong_duong.id),
        LocalityLink(old_id=ha_long.id, new_id=p_mong_duong.id),  # made of parts of two districts
    ])
    session.commit()

    def new_of(old):
        rows = select(Locality.name).join(LocalityLink, LocalityLink.new_id == Locality.id)
        return sorted(session.exec(rows.where(LocalityLink.old_id == old.id)).all())

    def old_of(new):
        rows = select(Locality.name).join(LocalityLink, LocalityLink.old_id == Locality.id)
        return sorted(session.exec(rows.where(LocalityLink.new_id == new.id)).all())

    assert new_of(ha_long) == ["Bãi Cháy", "Hạ Long", "Mông Dương"]
    assert old_of(p_mong_duong) == ["Cẩm Phả", "Hạ Long"]
    refused(session, LocalityLink(old_id=ha_long.id, new_id=p_ha_long.id))  # once only
    # A code may come back in a later map, but not twice in the same one.
    refused(session, unit("193", "Hạ Long", "district", "thành phố", date(2020, 1, 1), reform))
    session.add(unit("193", "Hạ Long", "commune", "phường", date(2030, 1, 1)))
    session.commit()


# --- values round-trip ------------------------------------------------------------------


def test_leading_zeros_survive(session, stall):
    stall.owner_phone = "0012345678"
    session.add(stall)
    session.add(new_account(stall, number="0000123456789012345"))
    session.commit()
    session.expire_all()
    assert session.get(Stall, stall.id).owner_phone == "0012345678"
    account = session.exec(select(PaymentAccount)).one()
    assert account.number == "0000123456789012345" and account.bin == "970436"


def test_vietnamese_text_survives(session, market, stall):
    session.expire_all()
    assert session.get(Market, market.id).name == "Chợ Hạ Long I"
    assert session.get(Stall, stall.id).owner_name == "Nguyễn Thị Lan"


def test_timestamps_come_back_as_aware_utc(session):
    seen_in_hanoi = datetime(2026, 1, 5, 8, 30, 15, 123456, tzinfo=HANOI)
    event = AuditEvent(at=seen_in_hanoi, actor="user:12", action="account.reveal",
                       entity="payment_account", entity_id="7", note="khách hỏi số tài khoản")
    session.add(event)
    session.commit()
    session.expire_all()
    stored = session.get(AuditEvent, event.id).at
    assert stored.utcoffset() == timedelta(0)
    assert stored == seen_in_hanoi
    assert stored.replace(tzinfo=None) == datetime(2026, 1, 5, 1, 30, 15, 123456)
    # Queries compare instants, whatever zone the bound value has.
    later = session.exec(select(AuditEvent).where(AuditEvent.at > datetime(2026, 1, 5, 1, 0, tzinfo=timezone.utc)))
    assert [e.id for e in later] == [event.id]


def test_default_timestamps_are_aware_utc(session, stall):
    session.expire_all()
    created = session.get(Stall, stall.id).created_at
    assert created.tzinfo is not None and created.utcoffset() == timedelta(0)
    assert abs(utcnow() - created) < timedelta(minutes=5)


def test_naive_timestamps_are_refused(session):
    session.add(AuditEvent(at=datetime(2026, 1, 5, 8, 30), actor="cli:alice", action="stall.update",
                           entity="stall"))
    with pytest.raises(StatementError, match="naive datetime"):
        session.flush()
    session.rollback()
