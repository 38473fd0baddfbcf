"""Issue 13: register by scanning the owner's own QR, bank-issued merchant QR, household-business accounts.

Payloads and photos come from :mod:`receiving_qrs` (built to vietqr-spec.md, rendered with
market40's qrimage and degraded like a phone photo). Real SQLite and PostgreSQL.
"""
from __future__ import annotations

import io
import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from click.testing import CliRunner
from sqlmodel import select

import cli
from market40 import accounts, posters, qrimage, reconciliation as rules
from market40.exceptions import ValidationError
from market40.models import AuditEvent, PaymentAccount
from market40.services import imports, posters as poster_service
from market40.services.registry import Actor, Registry

from receiving_qrs import MERCHANT, OTHER_MERCHANT, RECEIVING, REFUSED, photo


@pytest.fixture
def registry(session, stall):
    registry = Registry(session, Actor.operator("staff"))
    registry.save_stall("HL1", code="A-13", owner_name="Trần Văn Bình", shop_name="Rau Bình")
    session.commit()
    return registry


@pytest.fixture
def run(registry, session, engine, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MARKET40_SECRET_KEY", "test-secret-key-of-enough-length")
    monkeypatch.delenv("MARKET40_DATABASE_URL", raising=False)
    url = engine.url.render_as_string(hide_password=False)
    runner = CliRunner()

    def invoke(*args: str) -> Any:
        session.commit()
        result = runner.invoke(cli.main, ["--db", url, *args], catch_exceptions=False)
        session.expire_all()
        return result
    return invoke


def _current(session, ref_code: str = "A-12") -> PaymentAccount:
    from market40.models import Stall
    stall = session.exec(select(Stall).where(Stall.code == ref_code)).one()
    return session.exec(select(PaymentAccount).where(PaymentAccount.stall_id == stall.id,
                                                     PaymentAccount.status.in_(("pending", "verified")))).one()


# ------------------------------------------------------------------ register by scanning

@pytest.mark.parametrize("name", sorted(RECEIVING))
def test_cli_registers_exactly_what_a_photographed_receiving_qr_says(run, session, tmp_path, name):
    payload, (bin_, number, kind, reference) = RECEIVING[name]
    (tmp_path / "qr.jpg").write_bytes(photo(payload, seed=len(name)))
    result = run("account", "set", "HL1/A-12", "--from-qr", "qr.jpg", "--holder", "Nguyễn Thị Lan")
    assert result.exit_code == 0, result.output
    assert "QR read:" in result.output and f"({bin_})" in result.output
    assert number not in result.output  # shown masked
    account = _current(session)
    assert (account.bin, account.number, account.kind, account.reference_label) == (bin_, number, kind, reference)
    assert account.holder_name == "NGUYEN THI LAN" and account.merchant_payload is None
    # the stall's own poster QR pays into exactly that account, with the stall reference
    built = __import__("market40.vietqr", fromlist=["parse"]).parse(account.payload)
    assert (built.bin, built.account, built.reference_label, built.purpose) == (bin_, number, reference, "HL1 A12")


def test_cli_takes_the_payload_text_too_and_typing_still_works(run, session):
    payload, (bin_, number, _kind, reference) = RECEIVING["momo"]
    result = run("account", "set", "HL1/A-12", "--from-qr", payload)  # the name comes from the QR's 59
    assert result.exit_code == 0, result.output
    account = _current(session)
    assert (account.bin, account.number, account.reference_label, account.holder_name) == \
        (bin_, number, reference, "NGUYEN THI LAN")
    typed = run("account", "set", "HL1/A-13", "--bank", "vcb", "--account", "1012345678", "--holder", "Tran Van Binh")
    assert typed.exit_code == 0, typed.output


def test_a_typed_number_that_contradicts_the_qr_is_refused(registry):
    payload, _ = RECEIVING["vietcombank"]
    with pytest.raises(ValidationError) as caught:
        registry.register_account("HL1/A-12", qr=payload, number="1012345679", holder_name="Nguyen Thi Lan")
    assert caught.value.field == "account" and "not the number in the scanned QR" in str(caught.value)


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_a_qr_that_is_not_a_receiving_qr_is_refused_alike_everywhere(run, registry, session, tmp_path, name):
    payload, reason = REFUSED[name]
    with pytest.raises(accounts.RefusedQR) as domain:
        accounts.receiving_qr(payload)
    assert domain.value.reason == reason and domain.value.field == "qr"
    with pytest.raises(accounts.RefusedQR) as service:
        registry.register_account("HL1/A-12", qr=payload, holder_name="Nguyen Thi Lan")
    assert str(service.value) == str(domain.value)
    (tmp_path / "bad.jpg").write_bytes(photo(payload, seed=5))
    result = run("account", "set", "HL1/A-12", "--from-qr", "bad.jpg", "--holder", "Nguyen Thi Lan")
    assert result.exit_code != 0 and str(domain.value).split(":", 1)[1].strip()[:40] in result.output
    table = tmp_path / "board.csv"
    table.write_text("Mã chợ,Mã sạp,Tên chủ hộ,Tên chủ tài khoản,Mã QR\n"
                     f"HL1,A-12,Nguyễn Thị Lan,NGUYEN THI LAN,{payload}\n", encoding="utf-8")
    report = imports.import_stalls(session, Actor.operator("staff"), table, dry_run=True)
    [problem] = report.problems
    assert any(e.field == "payload" and getattr(e, "reason", None) == reason for e in problem.error.errors)
    assert session.exec(select(PaymentAccount)).all() == []


def test_the_board_import_takes_the_payload_column(session, registry, tmp_path):
    momo, (bin_, number, _kind, reference) = RECEIVING["momo"]
    vcb, (vbin, vnumber, _k, _r) = RECEIVING["vietcombank"]
    table = tmp_path / "board.csv"
    table.write_text("Mã chợ,Mã sạp,Tên chủ hộ,Tên chủ tài khoản,Mã QR\n"
                     f"HL1,A-12,Nguyễn Thị Lan,NGUYEN THI LAN,{momo}\n"
                     f"HL1,A-13,Trần Văn Bình,TRAN VAN BINH,{vcb}\n", encoding="utf-8")
    report = imports.import_stalls(session, Actor.operator("staff"), table)
    assert not report.problems, [str(p.error) for p in report.problems]
    session.expire_all()
    a12, a13 = _current(session, "A-12"), _current(session, "A-13")
    assert (a12.bin, a12.number, a12.kind, a12.reference_label) == (bin_, number, "ewallet", reference)
    assert (a13.bin, a13.number) == (vbin, vnumber)
    again = imports.import_stalls(session, Actor.operator("staff"), table)  # re-running changes nothing
    assert again.accounts_created == 0 and again.accounts_replaced == 0


# ------------------------------------------------------------------ merchant QR

def test_a_merchant_qr_is_stored_as_issued_verified_printed_and_recognised(run, registry, session, tmp_path):
    (tmp_path / "qrpay.jpg").write_bytes(photo(MERCHANT, seed=11))
    result = run("account", "set", "HL1/A-12", "--merchant-qr", "qrpay.jpg", "--account", "0071000999888",
                 "--holder-type", "household", "--holder", "Hộ kinh doanh Tạp hóa 68")
    assert result.exit_code == 0, result.output
    assert "merchant QR (QRPUSH), merchant id VCB0036QN68" in result.output
    account = _current(session)
    assert account.merchant_payload == MERCHANT  # never rebuilt
    assert (account.bin, account.number, account.holder_name) == ("970436", "0071000999888",
                                                                 "HO KINH DOANH TAP HOA 68")
    # not printable before staff verify it, like any account
    assert run("poster", "--stall", "HL1/A-12", "-o", "p.png").exit_code != 0
    assert run("account", "verify", "HL1/A-12").exit_code == 0
    run("account", "set", "HL1/A-13", "--bank", "mb", "--account", "0912345678", "--holder", "Tran Van Binh")
    run("account", "verify", "HL1/A-13")
    session.expire_all()
    data = poster_service.poster_data(registry, "HL1/A-12")
    assert data.payload == MERCHANT and data.is_merchant and data.holder_name == "TAP HOA 68"
    assert data.account_number == "VCB0036QN68" and data.bank_short_name == "Vietcombank"
    posters.render_png(data, tmp_path / "merchant-poster.png", size="a5", dpi=200, langs="vi,en,zh")
    assert qrimage.read(tmp_path / "merchant-poster.png") == [MERCHANT]
    (tmp_path / "wall.jpg").write_bytes(photo(MERCHANT, seed=12))
    own = run("poster", "verify", "wall.jpg", "--stall", "HL1/A-12", "--json")
    [verdict] = json.loads(own.output)
    assert own.exit_code == 0 and verdict["verdict"] == "registered" and verdict["stall"] == "HL1/A-12"
    assert verdict["account"] == "VCB0036QN68"
    elsewhere = run("poster", "verify", "wall.jpg", "--stall", "HL1/A-13", "--json")
    assert elsewhere.exit_code == 3 and json.loads(elsewhere.output)[0]["verdict"] == "other_stall"
    (tmp_path / "foreign.jpg").write_bytes(photo(OTHER_MERCHANT, seed=13))
    stranger = run("poster", "verify", "foreign.jpg", "--stall", "HL1/A-12", "--json")
    [unknown] = json.loads(stranger.output)
    assert stranger.exit_code == 5 and unknown["verdict"] == "unknown"
    assert any("merchant QR (QRPUSH) that no stall registered" in n for n in unknown["notes"])
    # a market sheet on A6 skips the too-dense merchant QR with the reason, and prints the others
    sheet = run("poster", "--market", "HL1", "-o", "hl1.pdf", "--size", "a6")
    assert sheet.exit_code == 0 and "1 posters written" in sheet.output
    assert "skipped HL1/A-12: cannot print: size:" in sheet.output
    # the stall's transfer QR (beside the merchant QR) is still its own
    qrimage.write(account.payload, tmp_path / "transfer.png", module_mm=0.5)
    assert run("poster", "verify", "transfer.png", "--stall", "HL1/A-12").exit_code == 0


def test_merchant_qr_validation(registry):
    from receiving_qrs import VND, VN, emv, napas, tlv
    with pytest.raises(ValidationError) as missing:  # the settlement account is required
        registry.register_account("HL1/A-12", merchant_qr=MERCHANT, holder_name="Nguyen Thi Lan")
    assert missing.value.field == "account"
    unknown_bin = emv(napas("999999", "X1", "QRPUSH"), VND, VN, tlv("59", "SHOP"))
    with pytest.raises(ValidationError) as caught:
        registry.register_account("HL1/A-12", merchant_qr=unknown_bin, bank="vcb", number="1012345678",
                                  holder_name="Nguyen Thi Lan")
    assert caught.value.field == "bin"
    damaged = MERCHANT[:-4] + ("0000" if not MERCHANT.endswith("0000") else "1111")
    with pytest.raises(accounts.RefusedQR) as broken:
        registry.register_account("HL1/A-12", merchant_qr=damaged, number="1012345678", holder_name="Nguyen Thi Lan")
    assert broken.value.reason == "damaged"
    with pytest.raises(accounts.RefusedQR) as transfer:
        registry.register_account("HL1/A-12", merchant_qr=RECEIVING["vietcombank"][0], number="1",
                                  holder_name="Nguyen Thi Lan")
    assert transfer.value.reason == "merchant"


def test_reconciliation_attributes_a_merchant_qrs_takings_by_its_settlement_account(registry, session):
    account, _ = registry.register_account("HL1/A-12", merchant_qr=MERCHANT, number="0071000999888",
                                           holder_name="Nguyen Thi Lan")
    registry.verify_account("HL1/A-12")
    registry.register_account("HL1/A-13", bank="vcb", number="1012345678", holder_name="Tran Van Binh")
    registry.verify_account("HL1/A-13")
    session.flush()
    rows = session.exec(select(PaymentAccount)).all()
    aware = lambda t: t if t is None or t.tzinfo else t.replace(tzinfo=timezone.utc)  # noqa: E731
    directory = rules.Directory([rules.Registration(r.id, r.stall_id, r.bin, r.number, r.status,
                                                    aware(r.created_at), aware(r.verified_at)) for r in rows])
    index = rules.ReferenceIndex([("HL1 A12", account.stall_id)])
    booked = (aware(account.verified_at) + timedelta(hours=2)).astimezone(accounts.VN_TZ).replace(tzinfo=None)
    # a merchant-QR payment: the bank feed names the settlement account; the memo is the acquirer's, no stall code
    paid = rules.Transfer("970436", "FT26336001", booked, "0071000999888", 120000, "QRPAY VCB0036QN68 TT")
    found = rules.attribute(paid, directory, index)
    assert (found.stall, found.method) == (account.stall_id, "account")


# ------------------------------------------------------------------ household-business accounts

def test_a_household_business_account_keeps_its_business_name_and_identifiers(registry, session):
    with pytest.raises(ValidationError) as personal:
        registry.register_account("HL1/A-12", bank="vcb", number="1012345678", holder_name="HO KINH DOANH TAP HOA 68")
    assert personal.value.field == "holder_name" and "household" in str(personal.value)
    account, _ = registry.register_account(
        "HL1/A-12", bank="vcb", number="1012345678", holder_name="Hộ kinh doanh Tạp hóa 68",
        holder_type="hkd", business_reg_no="22a8 012345", tax_code="0100233488-001")
    assert (account.holder_type, account.holder_name) == ("household", "HO KINH DOANH TAP HOA 68")
    assert (account.business_reg_no, account.tax_code) == ("22A8012345", "0100233488001")
    [listed] = registry.accounts("HL1")
    assert listed.holder_type == "household" and listed.tax_code == "•••001" and listed.business_reg_no == "•••345"
    [revealed] = registry.accounts("HL1", reveal=True)
    assert revealed.tax_code == "0100233488001"
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "account.register")).one()
    assert "0100233488" not in event.after and "22A8012345" not in event.after


@pytest.mark.parametrize("value, ok", [("0100233488", True), ("0100233489", False), ("010023348", False),
                                       ("0100233488-001", True), ("0100233488-01", False), ("01002334AB", False)])
def test_tax_codes_are_checked_with_their_check_digit(value, ok):
    if ok:
        assert accounts.clean_tax_code(value).isdigit()
    else:
        with pytest.raises(ValidationError) as caught:
            accounts.clean_tax_code(value)
        assert caught.value.field == "tax_code" and repr(value) in str(caught.value)


def test_identifiers_belong_to_household_accounts_only(registry):
    with pytest.raises(ValidationError) as caught:
        registry.register_account("HL1/A-12", bank="vcb", number="1012345678", holder_name="Nguyen Thi Lan",
                                  tax_code="0100233488")
    assert caught.value.field == "tax_code"


def test_the_census_name_check_understands_a_household_business_name():
    snapshot = datetime(2026, 5, 31, tzinfo=timezone.utc)
    registered = datetime(2026, 4, 1, tzinfo=timezone.utc)
    stall = rules.StallInput(market_id=1, stall_code="A-12", stall_id=1, in_census=True, owner_name="Nguyễn Thị Lan")
    for holder_type, expected in (("personal", True), ("household", False)):
        reg = rules.Registration(1, 1, "970436", "1012345678", "verified", registered, registered,
                                 holder_name="HO KINH DOANH TAP HOA 68", holder_type=holder_type)
        found = rules.find_anomalies(stalls={1: stall}, registrations=[reg], directory=rules.Directory([reg]),
                                     snapshot=snapshot, census_markets=frozenset({1}), last_transfer={},
                                     observed_bins=frozenset(), idle_since=snapshot, mask=accounts.mask)
        assert any(a.kind == "name_mismatch" for a in found) is expected, holder_type
