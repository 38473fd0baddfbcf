"""Posters from the registry and poster inspection, on SQLite and PostgreSQL."""
import subprocess
from io import BytesIO

import pytest
from PIL import Image
from sqlmodel import select

from market40 import posters, qrimage, vietqr
from market40.exceptions import Conflict, InvalidFormat
from market40.models import AuditEvent, PaymentAccount
from market40.services import posters as poster_service
from market40.services.registry import Actor, Registry

ACTOR = Actor.operator("inspector")


@pytest.fixture
def registry(session, stall):
    registry = Registry(session, ACTOR)
    registry.register_account("HL1/A-12", bank="vietcombank", number="0011012344418", holder_name="Nguyễn Thị Lan")
    registry.verify_account("HL1/A-12")
    registry.save_stall("HL1", code="A-13", owner_name="Trần Văn Bình", shop_name="Rau Bình")
    registry.register_account("HL1/A-13", bank="MB", number="0912345678", holder_name="Tran Van Binh")
    registry.verify_account("HL1/A-13")
    registry.save_stall("HL1", code="A-14", owner_name="Lê Thị Hoa")  # no account
    registry.save_stall("HL1", code="A-15", owner_name="Phạm Văn D")
    registry.register_account("HL1/A-15", bank="BIDV", number="12345678901", holder_name="Pham Van D")  # pending
    session.commit()
    return registry


def png_of(registry, ref):
    out = BytesIO()
    posters.render_png(poster_service.poster_data(registry, ref), out, size="a6")
    return out.getvalue()


@pytest.mark.parametrize("account_id", [1, 31, 32, 1000, 123456, 2**31])
def test_serials_round_trip_and_catch_typos(account_id):
    serial = poster_service.serial_for(account_id)
    assert serial.startswith("P-") and len(serial) <= 10
    assert poster_service.account_id_for_serial(serial) == account_id
    assert poster_service.account_id_for_serial(serial.lower().replace("-", " ")) == account_id
    body = serial[2:-1]
    typo = serial[:2] + body[:-1] + ("1" if body[-1] != "1" else "2") + serial[-1]
    with pytest.raises(InvalidFormat):
        poster_service.account_id_for_serial(typo)


def test_only_verified_current_accounts_print(registry):
    data = poster_service.poster_data(registry, "HL1/A-12")
    assert data.holder_name == "NGUYEN THI LAN" and data.bank_short_name == "Vietcombank"
    assert vietqr.parse(data.payload).purpose == "HL1 A12"
    with pytest.raises(Conflict, match="no registered account"):
        poster_service.poster_data(registry, "HL1/A-14")
    with pytest.raises(Conflict, match="pending"):
        poster_service.poster_data(registry, "HL1/A-15")
    registry.revoke_account("HL1/A-12", "stall sold")
    with pytest.raises(Conflict):
        poster_service.poster_data(registry, "HL1/A-12")


def test_market_posters_list_every_skipped_stall(registry, session):
    registry.save_stall("HL1", code="A-13", owner_name="Trần Văn Bình", status="closed")
    items, skipped = poster_service.market_posters(registry, "HL1")
    assert [i.stall_code for i in items] == ["A-12"]
    assert {s.stall: s.reason for s in skipped} == {
        "HL1/A-13": "stall closed", "HL1/A-14": "no registered account (no QR yet)",
        "HL1/A-15": "account pending, waiting for verification"}
    assert session.exec(select(AuditEvent).where(AuditEvent.action == "poster.print")).first() is not None


def test_inspection_verdicts(registry, session):
    photo = png_of(registry, "HL1/A-12")
    [ok] = poster_service.inspect(registry, photo, stall="HL1/A-12")
    assert (ok.verdict, ok.exit_code, ok.stall) == ("registered", 0, "HL1/A-12")
    assert ok.account == "•••• 4418" and ok.serial == poster_service.serial_for(
        registry.current_account(registry.stall("HL1/A-12")).id)
    [other] = poster_service.inspect(registry, photo, stall="HL1/A-13")
    assert (other.verdict, other.exit_code, other.stall) == ("other_stall", 3, "HL1/A-12")
    # an overlay sticker: a valid VietQR for somebody else's account
    fraud = BytesIO()
    qrimage.write(vietqr.build(bin="970422", account="999888777", purpose="HL1 A12").payload, fraud, kind="png")
    [unknown] = poster_service.inspect(registry, fraud.getvalue(), stall="HL1/A-12")
    assert (unknown.verdict, unknown.exit_code) == ("unknown", 5)
    # the stall changes bank: the old poster stays valid until the new account is verified, then is revoked
    registry.register_account("HL1/A-12", bank="Agribank", number="1234567890123", holder_name="Nguyen Thi Lan")
    [waiting] = poster_service.inspect(registry, photo, stall="HL1/A-12")
    assert (waiting.verdict, waiting.exit_code) == ("registered", 0)
    registry.verify_account("HL1/A-12")
    [old] = poster_service.inspect(registry, photo, stall="HL1/A-12")
    assert (old.verdict, old.exit_code) == ("revoked", 4)
    [nothing] = poster_service.inspect(registry, Image.new("L", (300, 300), 255), stall="HL1/A-12")
    assert (nothing.verdict, nothing.exit_code) == ("no_qr", 1)
    assert len(session.exec(select(AuditEvent).where(AuditEvent.action == "poster.inspect")).all()) == 6


def test_every_poster_of_a_demo_market_scans_to_its_registry_payload(demo_copy, tmp_path):
    """Rasterise the market's sheet PDF and decode every QR with zxing-cpp (issue #4)."""
    from sqlmodel import Session

    from market40 import db
    engine = db.make_engine(str(demo_copy))
    with Session(engine) as session:
        _every_poster_scans(session, tmp_path)
    engine.dispose()


def _every_poster_scans(session, tmp_path):
    registry = Registry(session, ACTOR)
    items, skipped = poster_service.market_posters(registry, "HA3")  # Chợ Cái Chiên, 60 stalls
    expected = {account.payload for account in session.exec(select(PaymentAccount)).all()
                if any(account.payload == i.payload for i in items)}
    assert len(items) == len(expected) > 30 and skipped
    pdf = tmp_path / "ha3.pdf"
    posters.render_sheet_pdf(items, pdf, size="a6", sheet="a4")
    subprocess.run(["pdftoppm", "-r", "150", "-gray", "-png", str(pdf), str(tmp_path / "page")], check=True)
    decoded = set()
    for page in sorted(tmp_path.glob("page-*.png")):
        decoded.update(qrimage.read(page))
    assert decoded == expected


def png_of_payload(payload):
    out = BytesIO()
    qrimage.write(payload, out, kind="png")
    return out.getvalue()


def qrpush_payload(bin="970436", merchant_id="MC0012345678"):
    from market40 import emv
    template = "0010A000000727" + emv.tlv("01", emv.tlv("00", bin) + emv.tlv("01", merchant_id)) + "0206QRPUSH"
    return emv.with_crc("000201010211" + emv.tlv("38", template) + "52045411530370458" + "02VN"
                        + "5914TAP HOA CO LAN6007HA LONG")


def vnpay_sticker():
    from market40 import emv
    return emv.with_crc("000201010211" + emv.tlv("26", "0010A0000007750110" + "0105313144") + "52045812"
                        "53037045802VN5908QUAN PHO6005HANOI" + emv.tlv("62", "0308STORE001" + "0705T0001"))


@pytest.mark.parametrize("payload, kind, words", [
    (vnpay_sticker(), "VNPAY-QR merchant payment", "merchant id 0105313144"),
    (qrpush_payload(), "NAPAS QR merchant payment (QRPUSH)", "merchant id MC0012345678"),
    ("https://example.com/thanh-toan?acc=123", "not an EMV payment code", "example.com"),
    (vietqr.build(bin="970436", account="0011012344418", purpose="HL1 A12").payload[:-4] + "0000",
     "VietQR transfer", "63 CRC: expected"),
])
def test_a_code_that_is_not_the_stalls_vietqr_is_a_possible_overlay(registry, session, payload, kind, words):
    [result] = poster_service.inspect(registry, png_of_payload(payload), stall="HL1/A-12")
    assert (result.verdict, result.exit_code) == ("unknown", 5)
    assert kind in result.kind and "possibly an overlay" in result.message
    assert words in result.message + " ".join(result.notes)
    assert result.payload == payload and result.expected == "HL1/A-12"
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "poster.inspect")).all()[-1]
    assert "unknown" in event.note


def test_a_qrpush_sticker_names_its_acquirer(registry):
    [result] = poster_service.inspect(registry, png_of_payload(qrpush_payload()), stall="HL1/A-12")
    assert result.bank == "Vietcombank" and "acquirer Vietcombank (970436)" in result.message
