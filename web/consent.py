"""The consent an owner reads before enrolling (Law 91/2025 Art. 9: informed, explicit; silence is not consent).

It says what is stored, why, for how long, who keeps it and how to ask for erasure. The
exact words shown (in the language shown) are what :func:`market40.services.auth.enroll_owner`
records, with the time and the channel.
"""
from __future__ import annotations

from flask import current_app
from flask_babel import gettext as _

from market40.services.auth import ERASURE_DAYS

from .i18n import N_

__all__ = ["sections", "as_text", "ACCOUNT_CONSENT"]

_SECTIONS = (
    (N_("Chúng tôi lưu những gì"),
     N_("Tên chủ hộ, tên cửa hàng, chợ và mã sạp (theo danh sách của ban quản lý chợ); số điện thoại của bạn "
        "để đăng nhập; mật khẩu của bạn ở dạng mã hoá một chiều (không ai đọc lại được); tài khoản nhận tiền "
        "bạn đăng ký: ngân hàng hoặc ví, số tài khoản, tên chủ tài khoản; nhật ký đăng nhập và thay đổi. "
        "Chúng tôi không thu thập số CCCD hay ngày sinh.")),
    (N_("Để làm gì"),
     N_("Để tạo mã VietQR và biển thanh toán của sạp, giúp khách chuyển tiền đúng vào tài khoản của bạn; để "
        "cán bộ ngân hàng kiểm tra tài khoản trước khi in biển; để báo cáo tỷ lệ sạp nhận thanh toán không "
        "dùng tiền mặt của chợ (chỉ số liệu tổng hợp). Số tài khoản luôn được che khi hiện cho người khác, "
        "trừ trên biển của chính bạn.")),
    (N_("Lưu trong bao lâu"),
     N_("Trong thời gian sạp tham gia chương trình Chợ 4.0, và không quá %(months)s tháng sau khi sạp ngừng "
        "tham gia hoặc khi bạn yêu cầu xoá.")),
    (N_("Ai giữ dữ liệu"),
     N_("%(controller)s. Dữ liệu nằm trên hệ thống của đơn vị này và không được gửi cho bên thứ ba.")),
    (N_("Quyền của bạn và cách yêu cầu xoá"),
     N_("Bạn có thể xem và đổi tài khoản nhận tiền bất cứ lúc nào. Để yêu cầu xoá dữ liệu, chọn “Yêu cầu xoá "
        "dữ liệu” trong trang của bạn, hoặc báo cán bộ ngân hàng hay ban quản lý chợ. Yêu cầu được xử lý "
        "trong vòng %(days)s ngày.")),
)

#: The checkbox on the account form (the purpose itself is the registry's CONSENT_PURPOSE).
ACCOUNT_CONSENT = N_("Tôi đồng ý cho hiển thị mã VietQR và số tài khoản này trên biển tại sạp để khách thanh "
                     "toán, và cho dùng để đối soát giao dịch và báo cáo của chợ.")


def sections() -> list[tuple[str, str]]:
    """The consent text in the current language, as (heading, paragraph) pairs."""
    config = current_app.config
    values = {"months": config["RETENTION_MONTHS"], "days": ERASURE_DAYS,
              "controller": config.get("CONTROLLER") or _("Ngân hàng đối tác triển khai chương trình tại chợ")}
    return [(_(heading), _(text, **values)) for heading, text in _SECTIONS]


def as_text() -> str:
    """The same, as the plain text that is recorded with the consent."""
    return "\n".join(f"{heading}: {text}" for heading, text in sections())
