"""Real-looking receiving QRs of banks and wallets, built to vietqr-spec.md, and their 'photos'.

Each payload is what an app's "receive money" screen shows: tag 38 (NAPAS) with the BIN and
account, and the extras real apps add (Techcombank's MCC 6011 and lower-case CRC, MoMo's
62.05 ``MOMOW2W…`` reference with 62.06 and tag 80, a name in 59). The merchant QR is a
NAPAS QRPUSH code as an acquirer issues it. :func:`photo` degrades a rendered symbol the way
tests/test_qrimage.py does (small, rotated, blurred, on noise, JPEG).
"""
from __future__ import annotations

import io
import random
from binascii import crc_hqx

from PIL import Image, ImageFilter

from market40.qrimage import to_image


def tlv(tag: str, value: str) -> str:
    return f"{tag}{len(value):02d}{value}"


def emv(*objects: str, poi: str = "11", lower_crc: bool = False) -> str:
    body = tlv("00", "01") + tlv("01", poi) + "".join(objects) + "6304"
    crc = "%04X" % crc_hqx(body.encode(), 0xFFFF)
    return body + (crc.lower() if lower_crc else crc)


def napas(bin_: str, ident: str, service: str | None = "QRIBFTTA") -> str:
    inner = tlv("00", "A000000727") + tlv("01", tlv("00", bin_) + tlv("01", ident))
    return tlv("38", inner + (tlv("02", service) if service else ""))


VND, VN = tlv("53", "704"), tlv("58", "VN")

#: name → (payload, expected registered fields: bin, number, kind, reference)
RECEIVING = {
    "vietcombank": (emv(napas("970436", "1012345678"), VND, VN),
                    ("970436", "1012345678", "bank_account", None)),
    "techcombank": (emv(napas("970407", "19036712345011"), tlv("52", "6011"), VND, VN,
                        tlv("59", "TRAN VAN BINH"), lower_crc=True),
                    ("970407", "19036712345011", "bank_account", None)),
    "mbbank": (emv(napas("970422", "0912345678"), VND, VN, tlv("62", tlv("08", "CHUYEN TIEN"))),
               ("970422", "0912345678", "bank_account", None)),
    "momo": (emv(napas("971025", "PSP0912345678901234"), VND, VN, tlv("59", "NGUYEN THI LAN"),
                 tlv("62", tlv("05", "MOMOW2W10482937") + tlv("06", "0912345678")), tlv("80", "678")),
             ("971025", "PSP0912345678901234", "ewallet", "MOMOW2W10482937")),
}

#: A bank-issued merchant QR (NAPAS QRPUSH, VIETQRPay): acquirer Vietcombank, merchant id, MCC, name, city.
MERCHANT = emv(napas("970436", "VCB0036QN68", "QRPUSH"), tlv("52", "5411"), VND, VN, tlv("59", "TAP HOA 68"),
               tlv("60", "MONG CAI"), tlv("62", tlv("07", "QUAY01")))
OTHER_MERCHANT = emv(napas("970422", "MB9921KB07", "QRPUSH"), tlv("52", "5499"), VND, VN,
                     tlv("59", "RAU SACH BINH"), tlv("60", "HA LONG"))

#: QRs that are not a stall's receiving QR, with the reason the one rule gives.
REFUSED = {
    "vnpay_sticker": (emv(tlv("26", tlv("00", "A000000775") + tlv("01", "0105313144")), tlv("52", "5812"), VND,
                          VN, tlv("59", "QUAN PHO HA")), "other_scheme"),
    "bill_dynamic": (emv(napas("970415", "113000006666"), VND, tlv("54", "235000"), VN,
                         tlv("62", tlv("01", "EVN2611") + tlv("08", "TIEN DIEN T11")), poi="12"), "amount"),
    "bill_no_amount": (emv(napas("970415", "113000006666"), VND, VN, tlv("62", tlv("01", "EVN2611")), poi="12"),
                       "dynamic"),
    "with_amount": (emv(napas("970436", "1012345678"), VND, tlv("54", "50000"), VN), "amount"),
    "atm_cash": (emv(napas("970436", "ATM00123", "QRCASH"), VND, VN), "cash"),
    "momo_without_reference": (emv(napas("971025", "PSP0912345678901234"), VND, VN), "momo_reference"),
}


def photo(payload: str, *, seed: int, angle: float = 12, blur: float = 1.2, module_px: int = 5) -> bytes:
    """A JPEG 'photo' of the QR: rotated, pasted on a noisy grey background, blurred."""
    rnd = random.Random(seed)
    size = (1400, 1100)
    background = Image.frombytes("L", size, rnd.randbytes(size[0] * size[1])).point(lambda v: 70 + v // 3)
    code = to_image(payload, module_px=module_px).rotate(angle, resample=Image.Resampling.BICUBIC, expand=True,
                                                         fillcolor=255)
    background.paste(code, (rnd.randrange(size[0] - code.width), rnd.randrange(size[1] - code.height)))
    buffer = io.BytesIO()
    background.filter(ImageFilter.GaussianBlur(blur)).convert("RGB").save(buffer, "JPEG", quality=80)
    return buffer.getvalue()
