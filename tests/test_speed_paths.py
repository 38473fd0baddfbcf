"""Fast paths keep what users rely on (issue #15): a compact but complete audit trail, the
reference guard, the owner's one-query view, the fast QR image."""
from __future__ import annotations

import csv
import io

import pytest
from PIL import Image
from sqlmodel import select

from market40 import qrimage
from market40.models import AuditEvent, Stall, User
from market40.services import audit as audit_service
from market40.services import auth as auth_service
from market40.services.imports import import_stalls
from market40.services.registry import CONSENT_PURPOSE, Actor, Registry

ACTOR = Actor.operator("tester")
HEADER = ["Mã sạp", "Tên cửa hàng", "Tên chủ hộ", "Số điện thoại", "Ngân hàng", "Số tài khoản", "Tên chủ tài khoản"]


def _csv(path, rows):
    with open(path, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


def test_an_import_refers_to_the_consent_text_and_the_history_shows_it_in_full(session, market, tmp_path):
    rows = [[f"A-{n}", "", f"Nguyễn Văn {n}", "", "Vietcombank", "0011012344418", "NGUYEN VAN A"] for n in (1, 2)]
    assert import_stalls(session, ACTOR, _csv(tmp_path / "list.csv", rows), market="HL1").written
    registered = session.exec(select(AuditEvent).where(AuditEvent.action == "account.register")).all()
    assert len(registered) == 2
    for event in registered:
        assert CONSENT_PURPOSE not in event.after and '"$ref"' in event.after  # not repeated per account
    created = session.exec(select(AuditEvent).where(AuditEvent.action == "stall.create")).all()
    assert all("null" not in event.after for event in created)  # a creation lists what it set
    trail = audit_service.stall_trail(Registry(session, ACTOR), "HL1/A-1")
    [register] = [e for e in trail if e.action == "account.register"]
    assert register.after["consent_purpose"] == CONSENT_PURPOSE and register.after["number"].endswith("4418")
    [create] = [e for e in trail if e.action == "stall.create"]
    assert create.after["owner_name"] == "Nguyễn Văn 1" and "shop_name" not in create.after


def test_an_unknown_reference_reads_as_written():
    record = {"consent_purpose": {"$ref": "consent/0000000000000000"}, "x": 1}
    assert audit_service.expand_record(dict(record)) == record


def test_references_that_read_alike_across_markets_are_still_refused(session, market, tmp_path):
    registry = Registry(session, ACTOR)
    registry.save_market(code="HL11", name="Chợ Hạ Long XI", tier="I", locality="06688")
    registry.save_stall("HL1", code="15", owner_name="Lan")
    report = import_stalls(session, ACTOR, _csv(tmp_path / "x.csv", [["5", "", "Bình", "", "", "", ""]]),
                           market="HL11")
    assert not report.written and "HL115" in report.problems[0].lines()[0]


def test_the_session_user_and_the_owner_view_come_from_one_query(session, market):
    registry = Registry(session, ACTOR)
    stall, _ = registry.save_stall("HL1", code="A-9", owner_name="Lan")
    registry.register_account("HL1/A-9", bank="vietcombank", number="0011012344418", holder_name="LAN")
    owner = User(username="0912000009", display_name="Lan", role="owner", stall_id=stall.id)
    staff = User(username="staff.x", display_name="X", role="staff", stall_id=stall.id)
    session.add_all([owner, staff])
    session.commit()
    user, view = auth_service.session_user_view(session, owner.id, owner.session_epoch)
    assert user.id == owner.id and view.ref == "HL1/A-9" and view.account.number == "0011012344418"
    assert auth_service.session_user_view(session, owner.id, owner.session_epoch + 1) == (None, None)
    assert auth_service.session_user_view(session, True, 0) == (None, None)
    user, view = auth_service.session_user_view(session, staff.id, 0)
    assert user.id == staff.id and view is None  # only an owner's own stall is ever read with the user


@pytest.mark.parametrize("payload", ["00020101021138570010A00000072701270006970403011300110123456780208"
                                     "QRIBFTTA53037045802VN63049E6F", "Chợ Hạ Long sạp A-12"])
def test_the_fast_png_decodes_and_is_no_larger_than_the_symbol(payload):
    data = qrimage.png(payload, pixels=360)
    image = Image.open(io.BytesIO(data))
    assert qrimage.read(data) == [payload]
    modules = qrimage.make_symbol(payload).symbol_size(border=4)[0]
    assert image.size[0] <= 360 and image.size[0] % modules == 0 and image.size[0] // modules >= 360 // modules


def test_an_import_leaves_out_what_its_event_says_and_the_history_puts_it_back(session, market, tmp_path):
    rows = [["A-1", "", "Nguyễn Văn 1", "", "Vietcombank", "0011012344418", "NGUYEN VAN A"]]
    assert import_stalls(session, ACTOR, _csv(tmp_path / "list.csv", rows), market="HL1").written
    events = {e.action: e for e in session.exec(select(AuditEvent)).all()}
    create, register = events["stall.create"], events["account.register"]
    for key in ("created_at", "updated_at", "code_key", '"id"'):
        assert key not in create.after  # the event's time, entity and code say them
    for key in ("created_at", "consent_at", "created_by"):
        assert key not in register.after
    trail = {e.action: e for e in audit_service.stall_trail(Registry(session, ACTOR), "HL1/A-1")}
    stall = session.exec(select(Stall)).one()
    assert trail["stall.create"].after["id"] == stall.id and trail["stall.create"].after["code_key"] == "A1"
    assert trail["stall.create"].after["created_at"] == str(create.at)
    assert trail["account.register"].after["created_by"] == ACTOR.name
    assert trail["account.register"].after["consent_at"] == str(register.at)


def test_an_import_creation_row_reads_as_the_general_writer_would_write_it():
    from datetime import datetime, timezone

    from market40.services import auditlog
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    record = {"stall_id": 7, "number": "0011012344418", "owner_phone": "0912345678", "tax_code": "0100233488",
              "phone": "•••678", "payload": "000201", "purpose": None, "consent_purpose": CONSENT_PURPOSE,
              "holder_name": "NGUYEN VAN A", "is_active": True, "created_at": datetime(2025, 1, 1)}
    general = auditlog.row("cli:x", "account.register", "payment_account", 9, after=record, at=at)
    assert auditlog.creation_row("cli:x", "account.register", "payment_account", 9, record, at) == \
        tuple(general[column] for column in auditlog.COLUMNS)
