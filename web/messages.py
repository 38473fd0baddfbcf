"""The services' errors in the owners' words: one Vietnamese message per field and rule.

The services raise :class:`~market40.exceptions.ValidationError` naming the field and the
rule in English (for logs, the CLI and developers). Owners never see that text: each
problem is matched here on its ``field`` (and class or reason) and shown next to the
form field it concerns, in Vietnamese (English when the user switched).
"""
from __future__ import annotations

from typing import Mapping

from flask_babel import gettext as _

from market40.exceptions import InvalidComponent, InvalidLength, NotFound, ValidationError
from market40.services.auth import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, CodeRefused

__all__ = ["message_for", "form_errors", "ACCOUNT_FIELDS", "ENROL_FIELDS", "PASSWORD_FIELDS", "RESET_FIELDS", "USER_FIELDS"]

#: Service field → form field, per form. Anything else goes to the form's general errors.
ACCOUNT_FIELDS = {"bank": "bank", "bin": "bank", "account": "number", "card": "number",
                  "holder_name": "holder_name", "account_kind": "kind", "reference_label": "reference_label",
                  "qr": "qr_image", "merchant_qr": "qr_image", "image": "qr_image", "holder_type": "holder_type",
                  "business_reg_no": "business_reg_no", "tax_code": "tax_code"}
ENROL_FIELDS = {"market": "market", "stall": "stall", "code": "code", "phone": "phone", "password": "password",
                "consent": "consent"}
PASSWORD_FIELDS = {"current_password": "current_password", "new_password": "new_password"}
RESET_FIELDS = {"code": "code", "new_password": "new_password", "phone": "phone"}
USER_FIELDS = {"username": "username", "role": "role", "password": "password", "phone": "phone",
               "stall": "stall", "market": "markets", "locality": "localities"}


def _empty(error: ValidationError) -> bool:
    value = error.value
    return value is None or (isinstance(value, str) and not value.strip())


def message_for(error: ValidationError) -> str:
    """One problem, said for a stall owner."""
    field = error.field or ""
    if isinstance(error, CodeRefused):
        return {
            "wrong": _("Mã đăng ký không đúng với sạp này. Hãy kiểm tra chợ, mã sạp và mã trên phiếu."),
            "used": _("Mã đăng ký này đã được dùng. Hãy nhờ cán bộ ngân hàng cấp mã mới."),
            "expired": _("Mã đăng ký đã hết hạn. Hãy nhờ cán bộ ngân hàng cấp mã mới."),
            "replaced": _("Sạp đã được cấp một mã mới hơn. Hãy dùng mã trên phiếu mới nhất."),
        }.get(error.reason, _("Mã đăng ký không dùng được."))
    if field in ("qr", "merchant_qr", "image"):
        return _qr_message(error)
    if field == "tax_code":
        return _("Mã số thuế gồm 10 chữ số (hoặc 13 chữ số có mã chi nhánh) và chữ số kiểm tra phải đúng.")
    if field == "business_reg_no":
        return _("Số đăng ký hộ kinh doanh gồm chữ và số như trên giấy chứng nhận (3–32 ký tự). Chỉ tài khoản hộ "
                 "kinh doanh mới ghi số này.")
    if field == "holder_type":
        return _("Hãy chọn: tài khoản cá nhân hay tài khoản hộ kinh doanh.")
    if field in ("bank", "bin"):
        if isinstance(error, InvalidComponent) and error.suggestions:
            return _("Tên này khớp với nhiều ngân hàng. Hãy chọn đúng một ngân hàng trong danh sách.")
        if _empty(error):
            return _("Hãy chọn ngân hàng hoặc ví điện tử nhận tiền.")
        return _("Không tìm thấy ngân hàng này. Hãy chọn trong danh sách.")
    if field == "account":
        if _empty(error):
            return _("Hãy nhập số tài khoản.")
        return _("Số tài khoản chỉ gồm chữ số (hoặc chữ cái), tối đa 19 ký tự, không có dấu cách.")
    if field == "card":
        return _("Số thẻ gồm 16 đến 19 chữ số, không có dấu cách.")
    if field == "holder_name":
        if _empty(error):
            return _("Hãy nhập tên chủ tài khoản, đúng như ngân hàng ghi.")
        if isinstance(error, InvalidLength):
            return _("Tên chủ tài khoản dài từ 2 đến 50 chữ cái.")
        return _("Tên chủ tài khoản chỉ gồm chữ cái và dấu cách, đúng như ngân hàng ghi (có dấu hay không dấu "
                 "đều được).")
    if field == "account_kind":
        return _("Loại tài khoản không hợp với nơi nhận tiền đã chọn: ví điện tử chỉ nhận tài khoản ví, ngân "
                 "hàng nhận tài khoản hoặc thẻ.")
    if field == "reference_label":
        return _("Ví MoMo cần mã tham chiếu bắt đầu bằng MOMOW2W, in trong mã QR nhận tiền của ứng dụng MoMo.")
    if field in ("stall_code", "purpose"):
        return _("Mã chợ và mã sạp quá dài để in trong mã QR. Hãy báo cán bộ ngân hàng.")
    if field in ("phone", "owner_phone"):
        return _("Số điện thoại gồm số 0 và 9 hoặc 10 chữ số, ví dụ 0912 345 678.")
    if field in ("password", "new_password"):
        # The same sentences as market40.passwords.PASSWORD_RULES (the CLI prints those; a test compares).
        reason = getattr(error, "reason", None)
        if reason == "long":
            return _("Mật khẩu dài tối đa %(n)s ký tự.", n=MAX_PASSWORD_LENGTH)
        if reason == "personal":
            return _("Mật khẩu không được là số điện thoại hay tên đăng nhập của bạn.")
        if reason == "breached":
            return _("Mật khẩu này đã bị lộ trong các vụ rò rỉ dữ liệu. Hãy chọn mật khẩu khác.")
        if reason == "common":
            return _("Mật khẩu này quá phổ biến, rất dễ bị đoán. Hãy chọn mật khẩu khác.")
        return _("Mật khẩu hoặc mã PIN cần ít nhất %(n)s ký tự (có thể toàn chữ số).", n=MIN_PASSWORD_LENGTH)
    if field == "current_password":
        return _("Mật khẩu hiện tại không đúng.")
    if field == "code":
        return _("Mã đăng ký gồm 8 ký tự như in trên phiếu, ví dụ 7KQM-X3HC.")
    if field == "market":
        return _("Hãy chọn chợ của bạn.")
    if field == "stall":
        return _("Hãy nhập mã sạp như in trên phiếu, ví dụ A-12.")
    if field == "consent":
        return _("Bạn cần đọc và đồng ý với cách sử dụng dữ liệu để tiếp tục.")
    if field == "reason":
        return _("Hãy ghi lý do, để chủ sạp biết cần sửa gì.")
    if field == "username":
        return _("Tên đăng nhập dài 1–64 ký tự, không có dấu cách.")
    if field == "role":
        return _("Hãy chọn vai trò.")
    if field == "valid_days":
        return _("Số ngày hiệu lực từ 1 đến 90.")
    return _("Giá trị này chưa hợp lệ.")


def _qr_message(error: ValidationError) -> str:
    """Why a scanned QR cannot be the stall's receiving QR, said for the owner."""
    reason = getattr(error, "reason", None)
    if error.field == "image":
        return _("Không đọc được ảnh này. Hãy chụp lại hoặc tải lên ảnh PNG hay JPEG.")
    return {
        "no_qr": _("Không tìm thấy mã QR trong ảnh. Hãy chụp lại gần hơn, rõ nét và đủ sáng."),
        "damaged": _("Mã QR này bị hỏng hoặc đã bị sửa (mã kiểm tra không khớp). Hãy chụp lại mã trong ứng dụng."),
        "not_vietqr": _("Đây không phải mã QR thanh toán VietQR. Hãy chụp mã QR nhận tiền trong ứng dụng ngân hàng "
                        "hoặc ví."),
        "other_scheme": _("Đây là mã QR bán hàng của một hệ thống khác (ví dụ VNPAY), không phải mã nhận tiền vào tài "
                          "khoản của bạn. Hãy chụp mã QR nhận tiền trong ứng dụng ngân hàng hoặc ví."),
        "cash": _("Đây là mã QR rút tiền ATM, không phải mã nhận tiền."),
        "amount": _("Mã QR này có sẵn số tiền, chỉ dùng cho một lần thanh toán. Hãy chụp mã QR nhận tiền không có số "
                    "tiền."),
        "dynamic": _("Đây là mã QR dùng một lần (như mã trên hoá đơn), không phải mã nhận tiền của sạp."),
        "bill": _("Đây là mã QR thanh toán hoá đơn, không phải mã nhận tiền của sạp."),
        "momo_reference": _("Mã QR MoMo này thiếu mã tham chiếu MOMOW2W. Hãy chụp mã QR nhận tiền trong ứng dụng MoMo."),
        "merchant": _("Mã QR này không đúng loại: cần mã QR bán hàng do ngân hàng cấp (QR Pay)."),
    }.get(reason or "", _("Mã QR này không dùng được để nhận tiền cho sạp."))


def form_errors(error: ValidationError | NotFound, fields: Mapping[str, str]) -> dict[str, list[str]]:
    """Every problem of ``error`` as Vietnamese messages keyed by form field (``_form`` for the rest)."""
    out: dict[str, list[str]] = {}
    problems = error.errors if isinstance(error, ValidationError) else []
    if not problems:
        out["_form"] = [_("Không tìm thấy dữ liệu đã nhập.")]
        return out
    for problem in problems:
        target = fields.get(problem.field or "", "_form")
        message = message_for(problem)
        if message not in out.setdefault(target, []):
            out[target].append(message)
    return out
