"""The error page every refusal shows: a Vietnamese title and message per status (English on request)."""
from __future__ import annotations

from typing import Any

from flask import render_template
from flask_babel import gettext as _

from .i18n import N_

__all__ = ["error_page"]

_MESSAGES = {
    400: (N_("Yêu cầu không hợp lệ"), N_("Trang không hiểu yêu cầu này. Hãy quay lại và thử lại.")),
    401: (N_("Cần đăng nhập"), N_("Vui lòng đăng nhập để tiếp tục.")),
    403: (N_("Không có quyền truy cập"), N_("Bạn không có quyền xem hoặc thay đổi nội dung này.")),
    404: (N_("Không tìm thấy"), N_("Không có trang hoặc dữ liệu này, hoặc nó không thuộc phạm vi của bạn.")),
    405: (N_("Không được phép"), N_("Thao tác này không dùng được theo cách đó.")),
    409: (N_("Không thực hiện được"), N_("Trạng thái hiện tại không cho phép thao tác này.")),
    413: (N_("Dữ liệu quá lớn"), N_("Nội dung gửi lên quá lớn.")),
    429: (N_("Bạn đã thử quá nhiều lần"),
          N_("Vì an toàn, vui lòng đợi khoảng %(minutes)s phút rồi thử lại. "
             "Nếu quên mật khẩu, hãy nhờ cán bộ ngân hàng cấp mã đăng ký mới.")),
    500: (N_("Có lỗi xảy ra"), N_("Hệ thống gặp sự cố. Vui lòng thử lại sau ít phút.")),
}


def error_page(status: int, detail: str | None = None, **values: Any) -> tuple[str, int]:
    title, message = _MESSAGES.get(status, _MESSAGES[500] if status >= 500 else _MESSAGES[400])
    return render_template("errors/error.html", status=status, title=_(title), message=_(message, **values),
                           detail=detail), status
