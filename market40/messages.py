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

import os
from typing import Any, Mapping

from .exceptions import InvalidFormat, ValidationError

__all__ = ["TEXTS", "COLUMN_NAMES", "HELP", "LANGS", "problem", "describe", "text", "line", "column_name",
           "language", "verdict", "word", "describe_error"]

#: The languages people read market40 in, Vietnamese first.
LANGS = ("vi", "en")


def language(environ: Mapping[str, str] | None = None) -> str:
    """Which language an environment asks for: ``vi`` or ``en``. The one rule, for every door.

    ``MARKET40_LANG`` first, then the POSIX locale (the first set of ``LC_ALL``, ``LC_MESSAGES``,
    ``LANG``): one starting with ``vi`` means Vietnamese; anything else, or nothing, English.

    >>> language({"LANG": "vi_VN.UTF-8"}), language({"LANG": "C.UTF-8"}), language({})
    ('vi', 'en', 'en')
    >>> language({"MARKET40_LANG": "en", "LC_ALL": "vi_VN.UTF-8"}), language({"LC_ALL": "C", "LANG": "vi_VN"})
    ('en', 'en')
    """
    env = os.environ if environ is None else environ
    chosen = (env.get("MARKET40_LANG") or "").strip().lower()
    if not chosen:
        chosen = next((env[name] for name in ("LC_ALL", "LC_MESSAGES", "LANG") if env.get(name)), "").lower()
    return "vi" if chosen.startswith("vi") else "en"

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

# What the command line says (``cli.*``), the words it fills in (``word.*``), how an import ends
# (``verdict.*``) and its one-line summaries (``summary.*``). Numbers come in already written by
# market40.formats in the same language.
TEXTS.update({
    # errors and refusals
    "cli.error": ("Lỗi: {message}", "Error: {message}"),
    "cli.problems": ("{n} lỗi:", "{n} problems:"),
    "cli.no_registry": ("chưa có sổ đăng ký trong {url}: tạo bằng `market40 db init` (hoặc thử `market40 demo`), "
                        "hoặc chọn cơ sở dữ liệu khác bằng --db",
                        "no registry in {url}: create one with `market40 db init` (or try `market40 demo`), or "
                        "choose another with --db"),
    "cli.give_stall_or_market": ("hãy cho một SẠP hoặc --market", "give a STALL or --market"),
    "cli.no_user": ("không có người dùng {name!r}", "no user {name!r}"),
    "failure.busy": ("sổ đăng ký đang bận: một lệnh market40 khác hoặc ứng dụng web đang ghi; thử lại sau giây lát",
                     "the registry is busy: another market40 command or the web app is writing to it; "
                     "try again in a moment"),
    "failure.read_only": ("không ghi được vào sổ đăng ký: tệp cơ sở dữ liệu hoặc thư mục của nó chỉ đọc",
                          "cannot write to the registry: the database file or its folder is read-only"),
    "failure.full": ("ổ đĩa chứa sổ đăng ký đã đầy: giải phóng bớt dung lượng rồi thử lại",
                     "the disk holding the registry is full: free some space, then try again"),
    "failure.cannot_open": ("không mở được tệp sổ đăng ký: kiểm tra thư mục có tồn tại và bạn có quyền ghi",
                            "cannot open the registry file: check that its folder exists and that you may "
                            "write there"),
    "failure.damaged": ("tệp sổ đăng ký bị hỏng hoặc không đọc được: khôi phục từ bản sao lưu (`market40 restore`)",
                        "the registry file is damaged or unreadable: restore it from a backup (`market40 restore`)"),
    "failure.old_schema": ("cấu trúc sổ đăng ký cũ hơn phiên bản market40 này: chạy `market40 db upgrade`",
                           "the registry's schema is older than this market40: run `market40 db upgrade`"),
    "failure.unreachable": ("không kết nối được máy chủ cơ sở dữ liệu: kiểm tra máy chủ đang chạy và địa chỉ đúng",
                            "cannot reach the database server: check that it runs and that the URL is right"),
    "failure.database": ("lỗi cơ sở dữ liệu ({detail})", "database error ({detail})"),
    "failure.disk": ("không ghi được{where}: {reason}", "cannot write{where}: {reason}"),
    "failure.disk_full": ("ổ đĩa đã đầy", "the disk is full"),
    "failure.disk_read_only": ("ổ đĩa chỉ đọc", "the disk is read-only"),
    "failure.refused": ("không có quyền ghi", "refused"),
    # how an import ends
    "verdict.dry_run": ("chạy thử: không ghi gì", "dry run: nothing was written"),
    "verdict.refused": ("không ghi gì vì có dòng lỗi (sửa các dòng đó, hoặc dùng --partial)",
                        "nothing was written because some rows are bad (fix them, or use --partial)"),
    "verdict.unchanged": ("không có gì thay đổi ({already})", "nothing changed ({already})"),
    "verdict.written": ("đã ghi", "written"),
    "verdict.written_partial": ("đã ghi (bỏ qua các dòng lỗi)", "written (the bad rows were left out)"),
    "verdict.rejects": ("; các dòng lỗi ở {file}", "; rejects in {file}"),
    "already.file": ("tệp này đã được nhập trước đó", "this file was already imported"),
    "already.census": ("danh sách này đã được nhập trước đó", "this census was already imported"),
    "already.transfers": ("mọi giao dịch trong tệp đã có trong kho", "every transfer in it is already stored"),
    # one-line summaries
    "summary.import": ("{source}: {rows} dòng: {created} mới, {updated} cập nhật, {unchanged} không đổi{accounts}; "
                       "{rejected} bị từ chối{totals}. {verdict}.",
                       "{source}: {rows} rows: {created} new, {updated} updated, {unchanged} unchanged{accounts}; "
                       "{rejected} rejected{totals}. {verdict}."),
    "summary.import.accounts": ("; tài khoản: {created} mới, {replaced} thay thế",
                                "; accounts: {created} new, {replaced} replaced"),
    "summary.census": ("{source}: {rows} dòng cho {lists} danh sách chợ-tháng [{names}]: thêm {added} hộ, bớt "
                       "{removed}, cập nhật {updated}, không đổi {unchanged}; {not_operating} không kinh doanh; "
                       "{rejected} bị từ chối{totals}. {verdict}.",
                       "{source}: {rows} rows for {lists} market-month lists [{names}]: {added} households added, "
                       "{removed} removed, {updated} updated, {unchanged} unchanged; {not_operating} not operating; "
                       "{rejected} rejected{totals}. {verdict}."),
    "summary.bills": ("{market} {period}: {stalls} sạp: phát hành {created} hóa đơn, {corrected} điều chỉnh, "
                      "{unchanged} không đổi; lần này thu {amount}",
                      "{market} {period}: {stalls} stalls: {created} bills issued, {corrected} corrections, "
                      "{unchanged} unchanged; {amount} billed now"),
    "summary.bills.problems": ("; {n} vấn đề", "; {n} problems"),
    "summary.bills.nothing": (" — chưa phát hành hóa đơn nào", " — nothing was issued"),
    "summary.match": ("{market}: {transfers} giao dịch vào tài khoản của ban quản lý; {applied} đã ghi nhận "
                      "({amount}), {already} đã khớp trước đó, {unmatched} để ban quản lý xử lý, {notes} có ghi chú; "
                      "phát hành {receipts} biên lai",
                      "{market}: {transfers} transfers to the board's account; {applied} applied ({amount}), "
                      "{already} already matched, {unmatched} left for the board, {notes} with a note; "
                      "{receipts} receipts issued"),
    "summary.reconcile": ("{period}: {markets} chợ ({census} có danh sách hộ), tính {stalls} sạp: {accepting} nhận "
                          "thanh toán ({accepting_rate}), {active} có giao dịch ({active_rate}), {registered} chờ xác "
                          "minh. Giao dịch: {transfers} ({amount}): {by_account} theo tài khoản, {by_reference} theo "
                          "mã sạp, {unattributed} không xác định được sạp; {unknown} tài khoản không có trong sổ đăng "
                          "ký; ngân hàng có dữ liệu: {banks}. Bất thường: {anomalies}. ({seconds} giây)",
                          "{period}: {markets} markets ({census} with a census), {stalls} stalls counted: "
                          "{accepting} accepting ({accepting_rate}), {active} active ({active_rate}), {registered} "
                          "waiting for verification. Transfers: {transfers} ({amount}): {by_account} by account, "
                          "{by_reference} by stall reference, {unattributed} unattributed; {unknown} accounts not in "
                          "the registry; banks with data: {banks}. Anomalies: {anomalies}. ({seconds} s)"),
    "summary.none": ("không có", "none"),
    "summary.transfers": ("{source} ({layout}): {rows} dòng: {inserted} {stored} ({amount}){span}; {duplicates} đã có "
                          "trong kho; {outgoing} chuyển đi; {other} dòng tiêu đề/tổng/trống; {invalid} bị từ chối",
                          "{source} ({layout}): {rows} rows: {inserted} {stored} ({amount}){span}; {duplicates} already "
                          "stored; {outgoing} outgoing; {other} title/total/blank rows; {invalid} rejected"),
    "summary.transfers.stored": ("giao dịch đã nhập", "transfers in"),
    "summary.transfers.not_stored": ("giao dịch hợp lệ (chưa lưu)", "good transfers (not stored)"),
    "summary.transfers.span": (", ghi sổ {first} – {last}", ", booked {first} – {last}"),
    "summary.transfers.already": ("{source}: đã nhập đủ trước đó (lô {batch}); không có gì thay đổi.",
                                  "{source}: already imported in full (batch {batch}); nothing changed."),
})

#: Status and outcome words the services return (their English is the word itself).
WORDS: dict[str, str] = {
    "created": "đã tạo", "updated": "đã cập nhật", "unchanged": "không đổi", "replaced": "đã thay thế",
    "requested": "đã ghi nhận, chờ xác minh", "reopened": "đã mở lại", "pending": "chờ xác minh",
    "verified": "đã xác minh", "rejected": "bị từ chối", "revoked": "đã thu hồi", "operating": "đang kinh doanh",
    "closed": "đã nghỉ", "removed": "đã xóa", "owner": "chủ sạp", "staff": "nhân viên ngân hàng",
    "officer": "cán bộ", "admin": "quản trị", "board": "ban quản lý chợ", "bank_account": "tài khoản",
    "card": "thẻ", "ewallet": "ví điện tử", "yes": "có", "no": "không", "everything": "tất cả",
}


def word(value: str | None, lang: str = "vi") -> str:
    """A status or outcome word (``pending``, ``created``…) as ``lang`` reads it."""
    if not value:
        return ""
    return WORDS.get(value, value) if lang == "vi" else value


def verdict(*, dry_run: bool, refused: bool, changed: bool, partial: bool, rejects_file: str | None,
            already: str = "file", lang: str = "vi") -> str:
    """What became of an import, in words: the one rule for every import (``already``: file, census, transfers)."""
    if dry_run:
        said = text("verdict.dry_run", lang)
    elif refused:
        said = text("verdict.refused", lang)
    elif not changed:
        known = f"already.{already}" in TEXTS  # else a phrase of the caller's own
        said = text("verdict.unchanged", lang, already=text(f"already.{already}", lang) if known else already)
    else:
        said = text("verdict.written_partial" if partial else "verdict.written", lang)
    return said + (text("verdict.rejects", lang, file=rejects_file) if rejects_file else "")


#: The command line's help in Vietnamese, by command (its function's name): the first line is the
#: one-line help of the listings; the English help is the command's own docstring.
HELP: dict[str, str] = {
    "main": "market40: mã VietQR, sổ đăng ký sạp và poster cho các chợ 4.0.",
    "qr": "Tạo, đọc và vẽ mã thanh toán VietQR.",
    "qr_encode": "In nội dung mã VietQR của một tài khoản, thẻ hoặc ví điện tử.",
    "qr_decode": "Giải thích nội dung một mã VietQR (mã thoát 0 chỉ khi là mã chuyển khoản VietQR hợp lệ).",
    "qr_image": "Vẽ mã VietQR thành tệp PNG, SVG hoặc PDF (mức sửa lỗi M, lề 4 ô).",
    "qr_read": "Tìm và giải mã các mã QR trong ảnh chụp hoặc bản quét.",
    "banks_command": "Liệt kê các thành viên NAPAS, hoặc tìm theo BIN, mã hay tên (gõ không dấu cũng được).",
    "db_group": "Tạo hoặc nâng cấp cơ sở dữ liệu sổ đăng ký.",
    "db_init": "Tạo sổ đăng ký mới theo cấu trúc mới nhất.",
    "db_upgrade": "Áp dụng các bản nâng cấp cấu trúc còn thiếu (chạy lại vẫn an toàn).",
    "locality_group": "Đơn vị hành chính: 34 tỉnh, thành phố, các xã phường từ 1/7/2025 và các huyện cũ.",
    "locality_list": "Liệt kê tỉnh, đơn vị cấp xã hoặc đơn vị cấp huyện cũ.",
    "locality_show": "Xem một đơn vị: tên, loại, tỉnh, hiệu lực, các đơn vị trước và sau sắp xếp.",
    "locality_load": "Nạp đơn vị hành chính của tỉnh vào sổ đăng ký (chạy lại không thay đổi gì).",
    "backup_command": "Sao lưu sổ đăng ký và kho giao dịch vào một thư mục mới, ngay khi đang dùng.",
    "restore_command": "Khôi phục một thư mục sao lưu vào --db (tệp SQLite hoặc cơ sở dữ liệu PostgreSQL trống).",
    "market_group": "Chợ: thêm, liệt kê, xem, nhập danh sách của ban quản lý.",
    "market_add": "Thêm một chợ, hoặc cập nhật nếu mã chợ đã có.",
    "market_list": "Liệt kê các chợ với số sạp và số tài khoản.",
    "market_show": "Xem một chợ.",
    "market_import": "Nhập danh sách chợ từ tệp CSV hoặc XLSX (tiêu đề tiếng Việt hoặc tiếng Anh).",
    "stall_group": "Sạp: thêm, liệt kê, xem, nhập danh sách sạp của ban quản lý, in mẫu.",
    "stall_add": "Thêm một sạp (CHỢ/SẠP), hoặc cập nhật các trường đã cho nếu sạp đã có.",
    "stall_list": "Liệt kê các sạp của một chợ cùng tài khoản (số tài khoản được che).",
    "stall_show": "Xem một sạp và lịch sử tài khoản của sạp.",
    "stall_import": "Nhập danh sách sạp của ban quản lý chợ (CSV hoặc XLSX), kèm tài khoản nếu có.",
    "stall_close": "Ghi nhận sạp ngừng kinh doanh (báo cáo tính sạp đến ngày đó).",
    "stall_open": "Mở lại sạp đã nghỉ, hoặc ghi ngày sạp bắt đầu kinh doanh (--at).",
    "stall_merge": "Gộp một sạp nhập nhầm vào sạp đúng của cùng chợ (có ghi nhật ký).",
    "stall_remove": "Xóa một sạp tạo nhầm (có ghi nhật ký).",
    "stall_twins": "Các sạp không phân biệt được: mã chỉ khác chữ hoa/thường, dấu cách, dấu gạch, hoặc mã tham "
                   "chiếu trùng khi bỏ dấu cách.",
    "stall_template": "Ghi tệp mẫu để nhập (.xlsx có trang «Hướng dẫn», hoặc .csv).",
    "account_group": "Tài khoản nhận tiền: đăng ký, xác minh, từ chối, thu hồi, liệt kê.",
    "account_set": "Đăng ký hoặc đổi tài khoản nhận tiền của sạp (chờ xác minh).",
    "account_verify": "Xác minh tài khoản đang chờ (đã đối chiếu với ngân hàng): poster được in.",
    "account_reject": "Từ chối một tài khoản đang chờ, kèm lý do.",
    "account_revoke": "Thu hồi tài khoản của sạp (poster của nó không còn tính là đã đăng ký).",
    "account_list": "Liệt kê tài khoản nhận tiền của một chợ (số tài khoản được che, trừ khi --reveal).",
    "user_group": "Người dùng ứng dụng web và phạm vi được xem.",
    "user_add": "Thêm người dùng với vai trò và phạm vi.",
    "user_reset_2fa": "Xóa lớp xác thực thứ hai của người dùng (mất điện thoại); có ghi nhật ký.",
    "user_list": "Liệt kê người dùng, vai trò và phạm vi.",
    "enroll_group": "Mã đăng ký dùng một lần cho chủ sạp.",
    "enroll_issue": "Cấp mã đăng ký và in phiếu hướng dẫn (mã chỉ hiện một lần, lưu dạng băm).",
    "poster_group": "Poster của sạp sẵn sàng để in (PDF vector hoặc PNG 300 dpi), và kiểm tra poster.",
    "poster_verify": "Đối chiếu mã QR trong ảnh chụp poster của sạp với sổ đăng ký (có ghi nhật ký).",
    "demo_command": "Dựng tỉnh mẫu (dữ liệu giả) và đi qua từng bước đưa một chợ vào hệ thống.",
    "serve_command": "Chạy ứng dụng web cho chủ sạp, nhân viên ngân hàng và cán bộ.",
    "census_group": "Danh sách hộ kinh doanh của từng chợ theo tháng, do ban quản lý lập.",
    "census_import": "Nhập danh sách hộ (CSV/XLSX): thay danh sách của chợ đó trong tháng.",
    "census_list": "Số hộ trong danh sách của từng chợ trong tháng (—: chưa có danh sách, tính theo sổ đăng ký).",
    "census_template": "Ghi mẫu danh sách hộ (XLSX có trang «Hướng dẫn», hoặc CSV).",
    "tx_group": "Chuyển khoản ngân hàng: nhập sao kê và dữ liệu webhook vào kho giao dịch.",
    "tx_import": "Nhập sao kê ngân hàng (CSV/XLSX) hoặc dữ liệu webhook SePay/Casso (JSON lines).",
    "tx_formats": "Các mẫu sao kê `tx import` đọc được, với dòng tiêu đề của chúng.",
    "tx_demo": "Tạo lịch sử cho tỉnh mẫu: ngày đăng ký, danh sách hộ và giao dịch (dữ liệu giả).",
    "tx_purge": "Xóa giao dịch trực tiếp (webhook giữ trong sổ đăng ký): quá thời hạn lưu, hoặc của một sạp.",
    "tx_simulate": "Gửi webhook ngân hàng có chữ ký đúng cho các sạp của một chợ đến máy chủ đang chạy.",
    "reconcile_command": "Đối soát danh sách hộ × sổ đăng ký × giao dịch của một tháng: trạng thái, bất thường, "
                         "tổng số.",
    "report_group": "Báo cáo mức độ sử dụng cho cán bộ và ban quản lý chợ (XLSX, CSV, HTML, JSON).",
    "report_adoption": "Tỷ lệ sử dụng theo hạng chợ, địa bàn, chợ và toàn tỉnh, kèm xu hướng theo tháng.",
    "report_target": "Đặt chỉ tiêu của tỉnh: tỷ lệ hộ kinh doanh nhận thanh toán không dùng tiền mặt.",
    "report_anomalies": "Những điểm bất thường đối soát tìm thấy trong tháng để xử lý (số tài khoản được che).",
    "fee_group": "Phí chợ: tài khoản của ban quản lý, biểu phí, diện tích sạp và chỉ số, hóa đơn hằng tháng có "
                 "VietQR, phiếu thu, khớp giao dịch, biên lai tiền mặt, tình trạng và nợ đọng.",
    "fee_account_group": "Tài khoản thu phí của chợ.",
    "fee_account_set": "Đặt tài khoản thu phí của chợ (kiểm tra như tài khoản của sạp; có ghi nhật ký).",
    "fee_tariff_group": "Biểu phí: bảng giá của tỉnh, kèm căn cứ pháp lý và thời gian hiệu lực.",
    "fee_tariff_import": "Nhập bảng giá (CSV/XLSX, mẫu: `market40 fee tariff template TỆP`).",
    "fee_tariff_list": "Các dòng biểu phí, theo mã, hạng chợ và vị trí.",
    "fee_tariff_template": "Ghi mẫu nhập (.xlsx có trang hướng dẫn, hoặc .csv) với tiêu đề tiếng Việt.",
    "fee_stalls": "Nhập diện tích sạp (m²) và hạng vị trí từ bảng của ban quản lý.",
    "fee_readings": "Nhập chỉ số công tơ (kỳ trước/kỳ này) hoặc số lượt của một tháng.",
    "fee_bill": "Phát hành hóa đơn của tháng: mỗi sạp đang kinh doanh một hóa đơn; chạy lại không thay đổi gì.",
    "fee_slips": "Phiếu thu của tháng của một chợ trong một tệp PDF: phiếu A6 có dấu cắt.",
    "fee_match": "Khớp các giao dịch vào tài khoản thu phí của chợ với hóa đơn.",
    "fee_status": "Hóa đơn của tháng theo tình trạng: chưa nộp, nộp một phần, đã nộp, quá hạn.",
    "fee_arrears": "Ai nợ bao nhiêu, từ khi nào (hóa đơn quá hạn), cũ nhất trước.",
    "fee_cash": "Ghi nhận tiền mặt nộp tại văn phòng ban quản lý cho một hóa đơn (có ghi nhật ký).",
    "fee_receipt": "Biên lai PDF của một hóa đơn đã nộp (số sê-ri, ban quản lý, khoản đã nộp và cách nộp).",
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


def describe_error(error: ValidationError, lang: str = "vi") -> str:
    """One refused input for a door in ``lang``: the table's words where it has the rule (by code or by
    field), else the rule's own message (English: the domain's rules are written once, in English)."""
    if lang == "en":
        return error.message
    if getattr(error, "code", None) in TEXTS or f"field.{error.field}" in TEXTS:
        return describe(error, lang)
    return error.message
