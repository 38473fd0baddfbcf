"""What bulk imports tell people, in Vietnamese and English: one table, not strings scattered in code.

Every reason a row of a board's spreadsheet is refused, and every line of the report, comes
from :data:`TEXTS` (``code → (Vietnamese, English)``, ``str.format`` fields). A problem raised
with :func:`problem` carries its code and fields; a problem raised by a domain rule (a phone
number, an account number…) is described by the column it is in (``field.<column>``), with the
rule's own English message kept for English readers.

>>> error = problem("account_columns", "bank", "")
>>> describe(error), describe(error, "en")
('cần điền cùng các cột tài khoản khác (ngân hàng, số tài khoản, tên chủ tài khoản), hoặc để trống cả ba', \
'bank: needed with the other account columns (bank, account, holder name), or leave all three empty')
>>> line(7, "Số điện thoại", error)
'Dòng 7, cột «Số điện thoại»: cần điền cùng các cột tài khoản khác (ngân hàng, số tài khoản, tên chủ tài khoản), \
hoặc để trống cả ba'
>>> text("report.totals", "en", n=2, rows="45, 46")
'2 totals rows skipped (rows 45, 46)'

Standard library only.
"""
from __future__ import annotations

from typing import Any

from .exceptions import InvalidFormat, ValidationError

__all__ = ["TEXTS", "COLUMN_NAMES", "problem", "describe", "text", "line", "column_name"]

#: code → (Vietnamese, English). Import rules (``problem``), per-column reasons (``field.*``),
#: and the words of the report (``report.*``).
TEXTS: dict[str, tuple[str, str]] = {
    # rules of the import itself
    "market_missing": ("dòng này không có chợ (thêm cột Mã chợ hoặc chọn chợ khi nhập)",
                       "market_code: no market for this row (add a Mã chợ column or choose the market when "
                       "importing)"),
    "market_unknown": ("không có chợ «{value}» trong sổ đăng ký, hoặc chợ này ngoài phạm vi của bạn",
                       "market_code: {detail}"),
    "market_other": ("dòng này thuộc chợ «{value}», nhưng đang nhập cho chợ {market}",
                     "market_code: row is for {value!r}, the import is for {market!r}"),
    "stall_twins": ("sạp «{value}» trùng với dòng {rows} của tệp này (mã chỉ khác chữ hoa/thường, dấu cách hoặc "
                    "dấu gạch là cùng một sạp): giữ một dòng",
                    "stall_code: {value!r} is the same stall as row {rows} of this file (codes that differ "
                    "only by case, spaces or punctuation are one stall): keep one row"),
    "account_columns": ("cần điền cùng các cột tài khoản khác (ngân hàng, số tài khoản, tên chủ tài khoản), hoặc "
                        "để trống cả ba",
                        "{field}: needed with the other account columns (bank, account, holder name), or leave "
                        "all three empty"),
    "date_without_account": ("có ngày của tài khoản nhưng dòng không có tài khoản (ngân hàng, số tài khoản, tên chủ "
                             "tài khoản)",
                             "{field}: a date for an account, but the row has no account (bank, account, holder "
                             "name)"),
    "closed_but_operating": ("có ngày nghỉ ({value}) nhưng trạng thái là đang kinh doanh ({status})",
                             "closed_on: the row gives a closing day ({value}) but says the stall operates "
                             "({status})"),
    "excel_number": ("Excel đã lưu ô này dạng số nên có thể mất số 0 ở đầu hoặc các chữ số sau chữ số thứ 15: "
                     "định dạng cột là Văn bản (Text) rồi gõ lại",
                     "stored as a number in Excel (leading zeros or digits after the 15th may be lost): format "
                     "the column as Text and type it again"),
    # reasons by column, for the rules of the domain (their English message is kept)
    "field.market_code": ("mã chợ không hợp lệ: «{value}»", ""),
    "reference_collision": (
        "mã tham chiếu «{reference}» của sạp {stall} thành «{compact}» khi ứng dụng ngân hàng bỏ dấu cách, trùng với "
        "sạp {other}: không phân biệt được chuyển khoản của hai sạp; hãy chọn mã sạp khác (ví dụ thêm một chữ cái)",
        "stall_code: the stall reference {reference!r} of {stall} reads {compact!r} once a bank app removes the "
        "spaces, the same as {other}: transfers naming them could not be told apart; choose another stall code "
        "(e.g. add a letter)"),
    "field.stall_code": ("mã sạp không hợp lệ: «{value}» (1–32 chữ, số, dấu cách, chấm, gạch)", ""),
    "field.shop_name": ("tên cửa hàng quá dài (tối đa 200 ký tự)", ""),
    "field.category": ("ngành hàng quá dài (tối đa 120 ký tự)", ""),
    "field.owner_name": ("cần họ và tên chủ hộ (tối đa 200 ký tự)", ""),
    "field.owner_phone": ("số điện thoại «{value}» không đúng: số 0 và 9–10 chữ số", ""),
    "field.owner_tax_code": ("mã số thuế / số ĐKKD «{value}» không đúng: 6–20 chữ số hoặc chữ cái", ""),
    "field.status": ("không hiểu trạng thái «{value}»: ghi Đang kinh doanh (Đang KD) hoặc Nghỉ (Tạm nghỉ, Đóng cửa)",
                     ""),
    "field.bank": ("không tìm thấy ngân hàng «{value}» trong danh bạ NAPAS (ghi tên, mã viết tắt như VCB, hoặc BIN "
                   "6 số){hint}", ""),
    "field.account": ("số tài khoản «{value}» không đúng: chỉ gồm chữ số (dấu cách, dấu gạch được bỏ qua), tối đa "
                      "19 ký tự", ""),
    "field.card": ("số thẻ «{value}» không đúng: 16–19 chữ số", ""),
    "field.account_holder": ("tên chủ tài khoản «{value}» không đúng: 2–50 chữ cái in hoa không dấu, như ngân hàng "
                             "ghi", ""),
    "field.account_kind": ("không hiểu loại tài khoản «{value}»: Tài khoản, Thẻ hoặc Ví", ""),
    "field.reference": ("mã tham chiếu của ví không đúng: ví MoMo cần mã MOMOW2W… trong mã QR nhận tiền của chủ hộ",
                        ""),
    "field.purpose": ("mã chợ và mã sạp ghép lại quá dài cho nội dung chuyển khoản (tối đa 19 ký tự)", ""),
    "field.registered_on": ("ngày đăng ký «{value}» không đúng: một ngày có thật, không ở tương lai ({limit})", ""),
    "field.verified_on": ("ngày xác minh «{value}» không đúng: không trước ngày đăng ký, không ở tương lai ({limit})",
                          ""),
    "field.closed_on": ("ngày nghỉ «{value}» không đúng ({limit})", ""),
    "field.period": ("kỳ «{value}» không đúng: năm-tháng, ví dụ 2025-06", ""),
    "field": ("giá trị «{value}» không hợp lệ ({limit})", ""),
    # the report
    "report.row": ("Dòng {row}, cột «{column}»: {reason}", "row {row}, column {column!r}: {reason}"),
    "report.row_only": ("Dòng {row}: {reason}", "row {row}: {reason}"),
    "report.totals": ("bỏ qua {n} dòng tổng cộng (dòng {rows})", "{n} totals rows skipped (rows {rows})"),
    "report.heading.row": ("Dòng", "row"),
    "report.heading.column": ("Cột", "column"),
    "report.heading.reason": ("Lý do", "reason"),
    "report.heading.reason_en": ("Lý do (tiếng Anh)", "reason (Vietnamese)"),
}

#: Canonical column → (Vietnamese, English) name, for messages that name a column.
COLUMN_NAMES: dict[str, tuple[str, str]] = {
    "market_code": ("Mã chợ", "market code"), "stall_code": ("Mã sạp", "stall code"),
    "shop_name": ("Tên cửa hàng", "shop name"), "category": ("Ngành hàng", "category"),
    "owner_name": ("Tên chủ hộ", "owner name"), "owner_phone": ("Số điện thoại", "owner phone"),
    "owner_tax_code": ("Mã số thuế", "tax code"), "bank": ("Ngân hàng", "bank"),
    "account": ("Số tài khoản", "account number"), "account_holder": ("Tên chủ tài khoản", "account holder"),
    "account_kind": ("Loại tài khoản", "account kind"), "reference": ("Mã tham chiếu", "reference"),
    "status": ("Trạng thái", "status"), "registered_on": ("Ngày đăng ký", "registered on"),
    "verified_on": ("Ngày xác minh", "verified on"), "closed_on": ("Ngày nghỉ", "closed on"),
    "period": ("Kỳ", "period"), "name": ("Tên chợ", "market name"),
}


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return ""


def text(code: str, lang: str = "vi", **fields: Any) -> str:
    """The text ``code`` in ``lang`` (``vi`` or ``en``), its fields filled in."""
    vi, en = TEXTS[code]
    template = en if lang == "en" and en else vi
    return template.format_map(_Blank(fields))


def column_name(column: str | None, lang: str = "vi") -> str:
    """What a canonical column is called for a person (the column itself when unknown)."""
    if not column:
        return ""
    names = COLUMN_NAMES.get(column)
    return (names[1] if lang == "en" else names[0]) if names else column


def problem(code: str, field: str, value: Any = "", *, limit: str | None = None, **fields: Any) -> InvalidFormat:
    """A problem of a bulk import with its text from :data:`TEXTS` (English as its message)."""
    error = InvalidFormat(text(code, "en", field=field, value=value, **fields), field=field, value=value,
                          limit=limit)
    error.code = code  # type: ignore[attr-defined]
    error.params = {"field": field, "value": value, **fields}  # type: ignore[attr-defined]
    return error


def _shown(value: Any) -> str:
    text_value = "" if value is None else str(value)
    return text_value if len(text_value) <= 60 else text_value[:57] + "…"


def describe(error: ValidationError, lang: str = "vi") -> str:
    """The reason for one problem in ``lang``: from the table, by code, else by the column it is in."""
    code = getattr(error, "code", None)
    if code in TEXTS:
        params = dict(getattr(error, "params", {}) or {})
        if lang == "vi":
            params["value"] = _shown(params.get("value"))
        return text(code, lang, **params)
    if lang == "en":
        return error.message
    field = error.field or ""
    if error.limit == "text cell":
        return text("excel_number", lang)
    hint = ""
    suggestions = getattr(error, "suggestions", None)
    if field == "bank" and suggestions:
        hint = "; có phải: " + ", ".join(suggestions[:3]) + "?"
    key = f"field.{field}" if f"field.{field}" in TEXTS else "field"
    return text(key, lang, value=_shown(error.value), limit=error.limit or "", hint=hint)


def line(row: int, column: str | None, error: ValidationError, lang: str = "vi") -> str:
    """One line of the terminal report: row, column and reason."""
    reason = describe(error, lang)
    if column:
        return text("report.row", lang, row=row, column=column, reason=reason)
    return text("report.row_only", lang, row=row, reason=reason)
