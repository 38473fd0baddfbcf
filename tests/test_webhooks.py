"""Webhook signatures (SePay, Casso v2, payOS, market40 generic) and what is kept from a body."""
from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime

import pytest

from market40 import webhooks as wh

NOW = 1_780_000_000.0
KEY, OLD = "current-secret-0123456789", "previous-secret-0123456789"

SEPAY_BODY = {"id": 92704, "gateway": "Vietcombank", "transactionDate": "2026-03-01 08:05:03",
              "accountNumber": "0011001234567", "code": None, "content": "HL1 A12 tra tien ca",
              "transferType": "in", "transferAmount": 9034, "accumulated": 19077000, "subAccount": None,
              "referenceCode": "MBVCB.3278614981", "description": "BankAPINotify HL1 A12"}
CASSO_DATA = {"id": 123456, "reference": "FT26060123456", "description": "HL1 A12 thanh toan",
              "amount": 150000, "runningBalance": 25000000, "transactionDateTime": "2026-03-01 08:05:03",
              "accountNumber": "0011001234567", "bankName": "Vietcombank", "bankAbbreviation": "VCB",
              "virtualAccountNumber": "", "virtualAccountName": "", "counterAccountName": "NGUYEN VAN PAYER",
              "counterAccountNumber": "9704998877665", "counterAccountBankId": "970422",
              "counterAccountBankName": "MB Bank"}
PAYOS_DATA = {"orderCode": 123, "amount": 3000, "description": "VQRIO123", "accountNumber": "12345678",
              "reference": "TF230204212323", "transactionDateTime": "2023-02-04 18:25:00", "currency": "VND",
              "paymentLinkId": "124c33293c43417ab7879e14c8d9eb18", "code": "00", "desc": "Thành công",
              "counterAccountBankId": "", "counterAccountBankName": "", "counterAccountName": "TRAN THI PAYER",
              "counterAccountNumber": "5566778899", "virtualAccountName": "", "virtualAccountNumber": ""}
GENERIC = {"bank_bin": "970436", "account": "0011001234567", "tx_id": "FT1", "amount": 9034,
           "booked_at": "2026-03-01T08:05:03+07:00", "content": "HL1 A12"}


def source(provider: str, **kw: object) -> wh.Source:
    return wh.Source(f"test-{provider}", provider, (KEY, OLD), **kw)  # type: ignore[arg-type]


def body_of(provider: str) -> bytes:
    if provider == "sepay":
        return json.dumps(SEPAY_BODY).encode()
    if provider == "casso":
        return json.dumps({"error": 0, "data": CASSO_DATA}, ensure_ascii=False).encode()
    if provider == "payos":
        return wh.sign_payos(source("payos", bank_bin="970422"), PAYOS_DATA)
    return json.dumps(GENERIC).encode()


PROVIDERS = ["sepay", "casso", "payos", "market40"]


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("secret", [KEY, OLD])
def test_both_rotation_secrets_verify(provider: str, secret: str) -> None:
    src = source(provider, bank_bin="970422") if provider == "payos" else source(provider)
    body = wh.sign_payos(src, PAYOS_DATA, secret=secret) if provider == "payos" else body_of(provider)
    headers = wh.sign(src, body, now=NOW, secret=secret)
    assert wh.verify(src, headers, body, now=NOW + 10)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_third_secret_or_a_changed_body_is_refused(provider: str) -> None:
    src = source(provider, bank_bin="970422") if provider == "payos" else source(provider)
    stranger = "someone-else-0123456789"
    body = wh.sign_payos(src, PAYOS_DATA, secret=stranger) if provider == "payos" else body_of(provider)
    with pytest.raises(wh.Refused) as caught:
        wh.verify(src, wh.sign(src, body, now=NOW, secret=stranger), body, now=NOW)
    assert caught.value.status == 401
    good = body_of(provider)
    headers = wh.sign(src, good, now=NOW)
    tampered = good.replace(b"3000", b"3001").replace(b"9034", b"9035").replace(b"150000", b"150001")
    with pytest.raises(wh.Refused):
        wh.verify(src, headers, tampered, now=NOW)


@pytest.mark.parametrize("provider", ["sepay", "casso", "market40"])
@pytest.mark.parametrize("skew", [-301, 301, 3600])
def test_outside_the_five_minute_window_is_refused(provider: str, skew: int) -> None:
    src = source(provider)
    body = body_of(provider)
    with pytest.raises(wh.Refused) as caught:
        wh.verify(src, wh.sign(src, body, now=NOW), body, now=NOW + skew)
    assert (caught.value.status, caught.value.reason) == (401, "stale timestamp")
    assert wh.verify(src, wh.sign(src, body, now=NOW), body, now=NOW + 299)


def test_sepay_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    # developer.sepay.vn: X-SePay-Signature: sha256=<hex of HMAC-SHA256("<timestamp>.<raw body>")>
    body = body_of("sepay")
    expected = hmac.new(KEY.encode(), b"1780000000." + body, hashlib.sha256).hexdigest()
    headers = {"x-sepay-timestamp": "1780000000", "x-sepay-signature": f"sha256={expected}"}
    assert wh.verify(source("sepay"), headers, body, now=NOW) == "timestamp"


def test_sepay_api_key() -> None:
    src = source("sepay", auth="apikey")
    body = body_of("sepay")
    assert wh.verify(src, {"Authorization": f"Apikey {OLD}"}, body) == "apikey"
    for bad in ({"Authorization": "Apikey nope-nope-nope-nope"}, {"Authorization": f"Bearer {KEY}"}, {}):
        with pytest.raises(wh.Refused):
            wh.verify(src, bad, body)


def test_casso_v2_signature_is_sha512_over_sorted_data() -> None:
    # X-Casso-Signature: t=<ms>,v1=<HMAC-SHA512("<t>." + JSON(data, keys sorted))>
    body = body_of("casso")
    stamp = "1780000000000"
    message = stamp + "." + json.dumps(dict(sorted(CASSO_DATA.items())), separators=(",", ":"), ensure_ascii=False)
    v1 = hmac.new(KEY.encode(), message.encode(), hashlib.sha512).hexdigest()
    assert wh.verify(source("casso"), {"X-Casso-Signature": f"t={stamp},v1={v1}"}, body, now=NOW)


def test_payos_documented_example() -> None:
    # payos.vn "Kiểm tra dữ liệu với signature": the documented checksum key, data and signature
    key = "1a54716c8f0efb2744fb28b6e38b25da7f67a925d98bc1c18bd8faaecadd7675"
    data = {"orderCode": 123, "amount": 3000, "description": "VQRIO123", "accountNumber": "12345678",
            "reference": "TF230204212323", "transactionDateTime": "2023-02-04 18:25:00", "currency": "VND",
            "paymentLinkId": "124c33293c43417ab7879e14c8d9eb18", "code": "00", "desc": "Thành công",
            "counterAccountBankId": "", "counterAccountBankName": "", "counterAccountName": "",
            "counterAccountNumber": "", "virtualAccountName": "", "virtualAccountNumber": ""}
    body = json.dumps({"code": "00", "desc": "success", "success": True, "data": data,
                       "signature": "412e915d2871504ed31be63c8f62a149a4410d34c4c42affc9006ef9917eaa03"},
                      ensure_ascii=False).encode()
    src = wh.Source("payos", "payos", (key,), bank_bin="970422")
    assert wh.verify(src, {}, body) == "body-signature"
    assert wh.parse(src, body).tx_id == "TF230204212323"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_payer_fields_are_dropped(provider: str) -> None:
    src = source(provider, bank_bin="970422") if provider == "payos" else source(provider)
    got = wh.parse(src, body_of(provider))
    kept = repr(got)
    for payer in ("PAYER", "9704998877665", "5566778899", "MB Bank"):
        assert payer not in kept
    assert set(got.__dataclass_fields__) == {"provider", "provider_id", "bank_bin", "account", "tx_id", "amount",
                                             "booked_at", "content", "incoming", "signed_at"}


def test_parsed_fields() -> None:
    s = wh.parse(source("sepay"), body_of("sepay"))
    assert (s.bank_bin, s.account, s.tx_id, s.provider_id, s.amount, s.content, s.incoming) == (
        "970436", "0011001234567", "MBVCB.3278614981", "92704", 9034, "HL1 A12 tra tien ca", True)
    assert s.booked_at == datetime(2026, 3, 1, 8, 5, 3)
    c = wh.parse(source("casso"), body_of("casso"))
    assert (c.bank_bin, c.tx_id, c.amount) == ("970436", "FT26060123456", 150000)
    g = wh.parse(source("market40"), body_of("market40"))
    assert g.booked_at == datetime(2026, 3, 1, 8, 5, 3)
    out = wh.parse(source("sepay"), json.dumps({**SEPAY_BODY, "transferType": "out"}).encode())
    assert not out.incoming


@pytest.mark.parametrize("change, reason", [
    ({"transferAmount": "nine"}, "amount"), ({"transferAmount": True}, "amount"),
    ({"accountNumber": "12 34 56 78 90 12 34 56 78 90"}, "account"), ({"gateway": "No Such Bank Ltd"}, "bank"),
    ({"transactionDate": "yesterday"}, "booking time"),
])
def test_unusable_bodies_are_refused_422(change: dict, reason: str) -> None:
    with pytest.raises(wh.Refused) as caught:
        wh.parse(source("sepay"), json.dumps({**SEPAY_BODY, **change}).encode())
    assert caught.value.status == 422 and caught.value.reason.startswith(reason)


def test_responses_and_secrets_not_in_repr() -> None:
    assert wh.response(source("sepay")) == {"success": True}
    assert wh.response(source("casso")) == {"success": True}
    assert KEY not in repr(source("sepay")) and OLD not in repr(source("sepay"))
    with pytest.raises(wh.Refused):
        wh.verify(source("market40"), {}, b"not json")
