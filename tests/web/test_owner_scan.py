"""Issue 13 on the owner's account form: register by photographing the bank or wallet app's own QR."""
from __future__ import annotations

import io
import re
import sys
from pathlib import Path

import pytest
from sqlmodel import select

from market40.models import PaymentAccount

from webhelpers import csrf_token, fetch, sign_in

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from receiving_qrs import MERCHANT, RECEIVING, REFUSED, photo  # noqa: E402


def _upload(client, picture: bytes, **fields):
    data = {"csrf_token": csrf_token(client, "/owner/account"), "action": "scan",
            "qr_image": (io.BytesIO(picture), "qr.jpg", "image/jpeg"), **fields}
    return client.post("/owner/account", data=data, content_type="multipart/form-data")


def _hidden(page: str, name: str) -> str:
    found = re.search(rf'<input type="hidden" name="{name}" value="([^"]*)"', page)
    assert found, name
    return found.group(1)


def test_the_form_offers_the_camera_without_javascript(client, world):
    sign_in(client, world.user("owner_a"))
    page = client.get("/owner/account").text
    assert 'enctype="multipart/form-data"' in page
    assert '<input id="f-qr_image" name="qr_image" type="file" accept="image/*" capture="environment"' in page
    assert "Quét mã QR nhận tiền của bạn" in page


@pytest.mark.parametrize("name", ["momo", "techcombank", "vietcombank"])
def test_an_owner_registers_exactly_what_their_apps_qr_says(client, world, engine, name):
    payload, (bin_, number, kind, reference) = RECEIVING[name]
    owner = world.user("owner_a")
    sign_in(client, owner)
    response = _upload(client, photo(payload, seed=3), holder_name="Nguyễn Thị Lan")
    page = response.text
    assert response.status_code == 200, page[page.find("<main"):][:1500]
    assert _hidden(page, "qr_payload") == payload
    found = re.search(r'<dl class="facts" id="scanned-transfer">(.*?)</dl>', page, re.S).group(1)
    assert f"({bin_})" in found and "•••• " + number[-4:] in found and number not in found
    if reference:
        assert reference in found
    assert 'name="number"' not in page  # nothing to retype
    submitted = client.post("/owner/account", data={
        "csrf_token": csrf_token(client, "/owner/account"), "action": "submit", "consent": "yes",
        "qr_payload": payload, "holder_name": "Nguyễn Thị Lan", "holder_type": "personal"})
    assert submitted.status_code == 302, submitted.text
    [account] = fetch(engine, PaymentAccount, PaymentAccount.stall_id == owner.stall_id,
                      PaymentAccount.status == "pending")
    assert (account.bin, account.number, account.kind, account.reference_label) == (bin_, number, kind, reference)
    assert account.consent_channel == "web"


def test_a_qr_that_is_not_a_receiving_qr_is_explained_in_vietnamese_and_english(client, world, engine):
    sign_in(client, world.user("owner_a"))
    sticker, _ = REFUSED["vnpay_sticker"]
    page = _upload(client, photo(sticker, seed=4)).text
    block = re.search(r'<div id="f-qr_image-error">(.*?)</div>', page, re.S).group(1)
    assert "mã QR bán hàng của một hệ thống khác (ví dụ VNPAY)" in block
    bill, _ = REFUSED["with_amount"]
    assert "có sẵn số tiền" in _upload(client, photo(bill, seed=5)).text
    client.get("/owner/account?lang=en")  # remembered in a cookie
    page = _upload(client, photo(sticker, seed=4)).text
    assert "another system" in page
    assert len(fetch(engine, PaymentAccount, PaymentAccount.stall_id == world.user("owner_a").stall_id)) == 1


def test_a_merchant_qr_with_its_settlement_account_previews_the_merchant_poster(client, world, engine):
    owner = world.user("owner_a")
    sign_in(client, owner)
    page = _upload(client, photo(MERCHANT, seed=6), bank="970436", number="0071000999888",
                   holder_name="Hộ kinh doanh Tạp hóa 68", holder_type="household", tax_code="0100233488").text
    assert _hidden(page, "merchant_payload") == MERCHANT
    assert "VCB0036QN68" in page and "TAP HOA 68" in page
    submitted = client.post("/owner/account", data={
        "csrf_token": csrf_token(client, "/owner/account"), "action": "submit", "consent": "yes",
        "merchant_payload": MERCHANT, "bank": "970436", "number": "0071000999888",
        "holder_name": "Hộ kinh doanh Tạp hóa 68", "holder_type": "household", "tax_code": "0100233488"})
    assert submitted.status_code == 302, submitted.text
    [account] = fetch(engine, PaymentAccount, PaymentAccount.stall_id == owner.stall_id,
                      PaymentAccount.status == "pending")
    assert account.merchant_payload == MERCHANT and account.holder_type == "household"
    assert account.tax_code == "0100233488" and account.holder_name == "HO KINH DOANH TAP HOA 68"


def test_a_photo_without_a_qr_says_so(client, world):
    sign_in(client, world.user("owner_a"))
    from PIL import Image
    buffer = io.BytesIO()
    Image.new("RGB", (300, 200), "white").save(buffer, "PNG")
    page = _upload(client, buffer.getvalue()).text
    assert "Không tìm thấy mã QR trong ảnh" in page
