"""The audit trail for people: Vietnamese action and field labels, names instead of ``user:2``,
Vietnam time, before/after as a list. The records stay in English keys; only the page translates.
"""
from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from flask_babel import gettext as _

from market40 import banks, formats
from market40.services.audit import Change, TrailEntry, changes

from .i18n import N_, current_language

__all__ = ["action_label", "actor_label", "field_label", "value_text", "readable"]

ACTIONS = {
    "access.denied": N_("Bị từ chối truy cập"),
    "account.register": N_("Đăng ký tài khoản nhận tiền"),
    "account.update": N_("Sửa tài khoản nhận tiền"),
    "account.verify": N_("Xác minh tài khoản"),
    "account.reject": N_("Từ chối tài khoản"),
    "account.revoke": N_("Thu hồi tài khoản"),
    "account.reveal": N_("Xem số tài khoản đầy đủ"),
    "auth.login": N_("Đăng nhập"),
    "auth.login_failed": N_("Đăng nhập không thành công"),
    "auth.logout": N_("Đăng xuất"),
    "consent.accept": N_("Đồng ý cách sử dụng dữ liệu"),
    "enrollment.issue": N_("Cấp mã đăng ký"),
    "enrollment.redeem": N_("Chủ sạp đăng ký bằng mã"),
    "enrollment.reenrol": N_("Chủ sạp đăng ký lại bằng mã mới"),
    "enrollment.failed": N_("Dùng mã đăng ký không thành công"),
    "erasure.request": N_("Yêu cầu xoá dữ liệu"),
    "erasure.complete": N_("Đã xoá dữ liệu theo yêu cầu"),
    "notice.sent": N_("Đã gửi tin báo cho chủ sạp"),
    "notice.failed": N_("Không gửi được tin báo"),
    "password.reset_request": N_("Xin mã đặt lại mật khẩu"),
    "password.reset": N_("Đặt lại mật khẩu bằng mã"),
    "password.reset_failed": N_("Mã đặt lại mật khẩu không đúng"),
    "poster.print": N_("In biển"),
    "poster.inspect": N_("Kiểm tra biển"),
    "session.revoke_all": N_("Kết thúc mọi phiên đăng nhập"),
    "stall.create": N_("Tạo sạp"),
    "stall.update": N_("Sửa thông tin sạp"),
    "stall.close": N_("Sạp nghỉ kinh doanh"),
    "stall.open": N_("Sạp mở lại"),
    "stall.merge": N_("Gộp sạp"),
    "stall.remove": N_("Xoá sạp"),
    "user.create": N_("Tạo người dùng"),
    "user.disable": N_("Khoá đăng nhập"),
    "user.enable": N_("Mở khoá đăng nhập"),
    "user.password_change": N_("Đổi mật khẩu"),
    "user.password_change_failed": N_("Đổi mật khẩu không thành công"),
    "2fa.enrol": N_("Bật xác thực hai lớp"),
    "2fa.used": N_("Dùng mã xác thực hai lớp"),
    "2fa.failed": N_("Mã xác thực hai lớp sai"),
    "2fa.recovery_used": N_("Dùng mã khôi phục"),
    "demo.backdate": N_("Dữ liệu mẫu: lùi ngày"),
}

FIELDS = {
    "status": N_("Trạng thái"), "status_reason": N_("Lý do"), "kind": N_("Loại"), "bin": N_("Ngân hàng"),
    "number": N_("Số tài khoản"), "holder_name": N_("Chủ tài khoản"), "reference_label": N_("Mã tham chiếu"),
    "purpose": N_("Nội dung chuyển khoản"), "owner_name": N_("Chủ hộ"), "owner_phone": N_("Điện thoại chủ hộ"),
    "shop_name": N_("Cửa hàng"), "goods_category": N_("Ngành hàng"), "code": N_("Mã sạp"), "stall": N_("Sạp"),
    "phone": N_("Điện thoại"), "user": N_("Người dùng"), "username": N_("Tên đăng nhập"), "role": N_("Vai trò"),
    "is_active": N_("Đang hoạt động"), "verified_at": N_("Xác minh lúc"), "rejected_at": N_("Từ chối lúc"),
    "revoked_at": N_("Thu hồi lúc"), "due_by": N_("Hạn xử lý"), "valid_days": N_("Số ngày hiệu lực"),
    "channel": N_("Kênh"), "language": N_("Ngôn ngữ"), "version": N_("Phiên bản nội dung đồng ý"),
    "to": N_("Gửi tới"), "via": N_("Qua"), "requested_at": N_("Yêu cầu lúc"),
    "accounts_revoked": N_("Tài khoản thu hồi"), "accounts_cleared": N_("Tài khoản đã xoá thông tin"),
    "transfers_cleared": N_("Giao dịch đã xoá số tài khoản"), "census_lines_cleared": N_("Dòng danh sách hộ đã xoá"),
    "logins_locked": N_("Đăng nhập bị khoá"), "history_events_cleared": N_("Mục nhật ký đã xoá thông tin"),
    "status_old": N_("Trạng thái cũ"), "opened_on": N_("Ngày mở"), "closed_on": N_("Ngày nghỉ"),
}

STATUSES = {"pending": N_("Chờ xác minh"), "verified": N_("Đã xác minh"), "rejected": N_("Bị từ chối"),
            "revoked": N_("Đã thu hồi"), "operating": N_("Đang kinh doanh"), "closed": N_("Nghỉ kinh doanh")}
KINDS = {"bank_account": N_("Tài khoản ngân hàng"), "card": N_("Thẻ ngân hàng"), "ewallet": N_("Ví điện tử"),
         "account_verified": N_("Tài khoản đã xác minh"), "account_rejected": N_("Tài khoản bị từ chối"),
         "reset_code": N_("Mã đặt lại mật khẩu"), "erasure_done": N_("Đã xoá dữ liệu")}
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
#: The registry's own English reasons and notes, in words for staff (what staff typed shows as typed).
REASONS = {"replaced by a new account": N_("thay bằng tài khoản mới"),
           "owner asked for erasure": N_("chủ sạp yêu cầu xoá dữ liệu"),
           "password changed": N_("đã đổi mật khẩu"), "password reset": N_("đặt lại mật khẩu"),
           "logout": N_("đăng xuất"), "user disabled": N_("người dùng bị khoá"),
           "erasure carried out": N_("đã xoá dữ liệu"), "re-enrolled with a new code": N_("đăng ký lại bằng mã mới")}
_NOTES = [(re.compile(r"^stall \S+(: erasure carried out)?$"), None),
          (re.compile(r"^(?:login|logout)(?: with .*)? from (?P<address>\S+)$"), N_("từ địa chỉ %(address)s")),
          (re.compile(r"^\S+/\S+ from (?P<address>\S+)$"), N_("từ địa chỉ %(address)s")),
          (re.compile(r"^stall \S+: the owner's poster page from (?P<address>\S+)$"),
           N_("trang biển của chủ sạp, từ địa chỉ %(address)s")),
          (re.compile(r"^stall \S+: full number shown to staff$"), N_("số đầy đủ hiện cho cán bộ"))]


def note_text(note: str | None) -> str | None:
    """A trail note for staff: the registry's English notes in Vietnamese, staff's own text as typed."""
    if not note:
        return None
    if note in REASONS:
        return _(REASONS[note])
    for pattern, template in _NOTES:
        found = pattern.match(note)
        if found:
            return None if template is None else _(template, **found.groupdict())
    return note


def action_label(action: str) -> str:
    label = ACTIONS.get(action)
    return _(label) if label else action


def actor_label(entry: TrailEntry) -> str:
    """Who did it, for a person: a name, or what kind of actor."""
    if entry.actor_name:
        return entry.actor_name
    actor = entry.actor or ""
    if actor.startswith("web:"):
        return _("Người dùng chưa đăng nhập (%(address)s)", address=actor[4:])
    if actor.startswith("cli:"):
        return _("Quản trị viên, dòng lệnh (%(name)s)", name=actor[4:])
    if actor.startswith("user:"):
        return _("Người dùng đã xoá")
    return actor


def field_label(name: str) -> str:
    label = FIELDS.get(name)
    return _(label) if label else name


def value_text(name: str, value: Any) -> str:
    """A recorded value as a person reads it: statuses in words, times in Vietnam time, banks by name."""
    lang = current_language()
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return _("Có") if value else _("Không")
    if name == "bin" and isinstance(value, str):
        bank = banks.by_bin(value)
        return bank.short_name if bank else value
    if name == "status_reason" and isinstance(value, str) and value in REASONS:
        return _(REASONS[value])
    if isinstance(value, str) and value in STATUSES and name in ("status", "status_old"):
        return _(STATUSES[value])
    if isinstance(value, str) and value in KINDS and name in ("kind",):
        return _(KINDS[value])
    if isinstance(value, str) and _ISO.match(value):
        try:
            return formats.when(datetime.fromisoformat(value), lang)
        except ValueError:
            return value
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


def readable(entry: TrailEntry) -> dict[str, Any]:
    """What the trail page shows for one entry."""
    rows: list[Change] = changes(entry)
    return {"at": formats.when(entry.at, current_language()), "who": actor_label(entry),
            "what": action_label(entry.action), "action": entry.action, "stall": entry.stall,
            "note": note_text(entry.note),
            "changes": [{"label": field_label(c.field), "before": None if c.before is None else
                         value_text(c.field, c.before), "after": None if c.after is None else
                         value_text(c.field, c.after)} for c in rows
                        if not (c.before in (None, "") and c.after in (None, ""))]}
