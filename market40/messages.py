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

import functools
import os
import re as _re
from typing import Any, Mapping

from .exceptions import InvalidFormat, ValidationError

__all__ = ["TEXTS", "COLUMN_NAMES", "HELP", "LANGS", "problem", "describe", "text", "line", "column_name",
           "language", "verdict", "word", "sentence", "describe_error",
           "transfer_reason", "refusal", "REFUSAL_TEXTS", "NAMES", "scope_name", "refusal_text", "placeholders"]

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
    "field.account": ("số tài khoản «{value}» không đúng: chỉ gồm chữ số hoặc chữ cái không dấu (dấu cách, dấu gạch được bỏ qua), tối đa "
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

# the command line (cli.py): results, progress, notes
TEXTS.update({
    "cli.all_in": ("; tất cả có trong {file}", ", all in {file}"),
    "cli.more_bad_rows": ("… còn {n} dòng lỗi nữa{where}", "… {n} more bad rows{where}"),
    "cli.columns_ignored": ("lưu ý: bỏ qua các cột: {columns}", "note: columns ignored: {columns}"),
    "cli.more_rows": ("… còn {n} dòng nữa (trên tổng {total})", "… {n} more (of {total})"),
    "cli.no_qr": ("chưa có QR", "no QR"),
    "cli.no_accounts": ("chưa có (chưa có QR)", "none (no QR yet)"),
    "cli.stall_closed": ("{stall}: nghỉ kinh doanh từ {day}", "{stall}: closed on {day}"),
    "cli.stall_closed_note": ("lưu ý: tài khoản của sạp vẫn đang ở trạng thái «{status}»; nếu mã QR không còn dùng, "
                              "hãy thu hồi bằng `market40 account revoke {stall} --reason ...`",
                              "note: its account is still {status}; revoke it with `market40 account revoke {stall} "
                              "--reason ...` if the QR is no longer used"),
    "cli.operating_since": (" (kinh doanh từ {day})", " (operating since {day})"),
    "cli.merged": ("đã gộp {merged} vào {into}: chuyển {accounts} tài khoản, {users} tài khoản đăng nhập, {moved} mục "
                   "danh sách hộ", "{merged} merged into {into}: {accounts} accounts, {users} logins, {moved} census "
                   "entries moved"),
    "cli.merged_left": ("; giữ lại {n} mục danh sách hộ (ban quản lý ghi cả hai)",
                        "; {n} census entries left (the board listed both)"),
    "cli.merged_revoked": ("; đã thu hồi tài khoản {account}", "; account {account} revoked"),
    "cli.merged_reference": ("lưu ý: tài khoản được giữ nay mang mã tham chiếu «{reference}»: hãy in lại poster",
                             "note: the kept account now carries the reference {reference!r}: print its poster "
                             "again"),
    "cli.twin": ("cùng một sạp", "same stall"),
    "cli.twin_reference": ("trùng mã tham chiếu khi bỏ dấu cách", "same reference once spaces are stripped"),
    "cli.no_twins": ("không có sạp trùng", "no twins"),
    "cli.wrote": ("đã ghi {file}", "wrote {file}"),
    "cli.qr": ("Mã QR", "QR"),
    "cli.merchant_qr": ("mã QR cửa hàng", "merchant QR"),
    "cli.merchant_qr_kept": ("; mã QR cửa hàng được đăng ký đúng như ngân hàng cấp", "; merchant QR registered as "
                             "issued"),
    "cli.account_set": ("{stall}: {outcome}; {status}; nội dung chuyển khoản «{reference}»{extra}",
                        "{stall}: {outcome}; {status}; QR reference {reference!r}{extra}"),
    "cli.scanned": ("Đã đọc {label}: {parts}", "{label} read: {parts}"),
    "cli.scanned_merchant": ("mã QR cửa hàng (QRPUSH), mã cửa hàng {merchant_id}",
                             "merchant QR (QRPUSH), merchant id {merchant_id}"),
    "cli.scanned_reference": ("mã tham chiếu {reference}", "reference {reference}"),
    "cli.scanned_name": ("tên {name}", "name {name}"),
    "cli.accounts_verified": ("{market}: đã xác minh {n} tài khoản", "{market}: {n} accounts verified"),
    "cli.password_again": ("nhập lại mật khẩu", "password again"),
    "cli.password_mismatch": ("Hai lần nhập mật khẩu không khớp, mời nhập lại.", "The two passwords do not match; "
                              "type it again."),
    "cli.aborted": ("Đã dừng.", "Aborted!"),
    "cli.password": ("mật khẩu", "password"),
    "cli.second_factor_reset": ("{user}: đã xóa lớp xác thực thứ hai; người dùng thiết lập lại ở lần đăng nhập tới",
                                "{user}: second factor reset; they set it up again at their next login"),
    "cli.slips_written": ("đã ghi {n} phiếu vào {file}", "{n} slips written to {file}"),
    "cli.give_poster": ("hãy cho --stall hoặc --market, và -o TỆP", "give --stall or --market, and -o FILE"),
    "cli.poster_written": ("{stall}: đã ghi poster {serial} vào {file}", "{stall}: poster {serial} written to {file}"),
    "cli.poster_skipped": ("bỏ qua {stall}: {reason}", "skipped {stall}: {reason}"),
    "cli.posters_written": ("{market}: đã ghi {n} poster vào {file}; bỏ qua {skipped} sạp",
                            "{market}: {n} posters written to {file}; {skipped} stalls skipped"),
    "cli.db_created": ("đã tạo sổ đăng ký ở phiên bản {revision}", "created the registry at revision {revision}"),
    "cli.db_latest": ("đã ở phiên bản mới nhất", "already at the latest revision"),
    "cli.db_upgraded": ("đã nâng cấp {before} → {after}", "upgraded {before} → {after}"),
    "cli.building_demo": ("đang dựng tỉnh mẫu vào {url} ...", "building the demo province into {url} ..."),
    "cli.demo_exists": ("{url} đã có sổ đăng ký: chạy không có --demo, hoặc dựng lại bằng "
                        "`market40 --db ... demo --fresh`",
                        "{url} already holds a registry: serve it without --demo, or rebuild it with "
                        "`market40 --db ... demo --fresh`"),
    "cli.serve_demo": ("  {markets} chợ, {stalls} sạp, {pending} tài khoản chờ xác minh (dữ liệu giả)",
                       "  {markets} markets, {stalls} stalls, {pending} accounts waiting for review (synthetic data)"),
    "cli.rate_limits": ("lưu ý: giới hạn truy cập được đếm riêng cho từng tiến trình ({processes} tiến trình): đặt "
                        "MARKET40_RATELIMIT_STORAGE=redis://... để đếm chung",
                        "note: rate limits are counted per process ({processes} processes): set "
                        "MARKET40_RATELIMIT_STORAGE=redis://... to count them together"),
    "cli.cannot_listen": ("không mở được máy chủ tại {host}:{port}: {reason}",
                          "cannot serve on {host}:{port}: {reason}"),
    "cli.listen_in_use": ("cổng này đang có chương trình khác dùng (một máy chủ market40 khác?); chọn cổng khác "
                          "bằng --port",
                          "another program is using this port (another market40 server?); choose another with "
                          "--port"),
    "cli.listen_not_here": ("máy này không có địa chỉ đó; dùng 127.0.0.1 (chỉ máy này) hoặc 0.0.0.0 (mọi địa chỉ "
                            "của máy) với --host",
                            "this machine has no such address; use 127.0.0.1 (this machine only) or 0.0.0.0 (all of "
                            "its addresses) with --host"),
    "cli.listen_permission": ("cổng dưới 1024 cần quyền quản trị; dùng cổng từ 1024 trở lên (ví dụ 8000) sau một "
                              "reverse proxy",
                              "ports below 1024 need the administrator; use a port from 1024 up (8000, say) behind "
                              "a reverse proxy"),
    "cli.listen_unknown_host": ("không tìm thấy tên máy này", "no such host name"),
    "cli.serving": ("ứng dụng web market40 tại {address} ({processes} × {workers} luồng; Ctrl+C để dừng)",
                    "market40 web app on {address} ({processes} × {workers} threads; Ctrl+C to stop)"),
    "cli.live_demo": ("  thanh toán trực tiếp: đăng nhập bằng tài khoản chủ sạp mẫu và mở /loa/ (Loa báo tiền); vài "
                      "giây lại có một khoản chuyển đến HL1/A-1",
                      "  live payments: sign in as the demo owner and open /loa/ (Loa báo tiền); a payment to HL1/A-1 "
                      "arrives every few seconds"),
    "cli.rejects_one_file": ("--rejects chỉ ghi một tệp: dùng với một tệp đầu vào (mặc định là TỆP.rejects.csv cạnh "
                             "mỗi tệp)", "--rejects names one file: give it with one input file (the default is "
                             "FILE.rejects.csv beside each input)"),
    "cli.line": ("dòng {n}", "line {n}"),
    "cli.more_rejected": ("{source}: … và {n} dòng bị từ chối nữa", "{source}: … and {n} more rejected rows"),
    "cli.tx_demo": ("{n} tài khoản mẫu được tạo lịch sử đăng ký ({shared} tài khoản dùng chung cho hai sạp)",
                    "{n} demo accounts given an onboarding history ({shared} shared by two stalls)"),
    "cli.tx_demo_census": ("  danh sách hộ  {source}: {households} hộ, thêm {added}, bớt {removed}",
                           "  census  {source}: {households} households, {added} added, {removed} removed"),
    "cli.tx_demo_transfers": ("  giao dịch {summary}", "  transfers {summary}"),
    "cli.tx_demo_next": ("các tệp ở {folder}/. Tiếp theo: market40 reconcile --period {end} --months {months}",
                         "files in {folder}/. Next: market40 reconcile --period {end} --months {months}"),
    "cli.choose_format": ("chọn --format xlsx, csv, html hoặc json (hoặc tệp -o có đuôi đó)",
                          "choose --format xlsx, csv, html or json (or an -o file with that suffix)"),
    "cli.xlsx_needs_file": ("sổ tính XLSX cần một tệp: -o bao-cao.xlsx", "an XLSX workbook needs a file: -o report.xlsx"),
    "cli.adoption": ("{period} · {scope}: {markets} chợ, {stalls} sạp; nhận thanh toán {accepting} (theo số sạp), "
                     "{mean_accepting} (trung bình các chợ); có giao dịch {active} / {mean_active}; {at_target}/{markets} "
                     "chợ đạt chỉ tiêu {target}. Đã ghi {file}.",
                     "{period} · {scope}: {markets} markets, {stalls} stalls; accepting {accepting} (stall-weighted), "
                     "{mean_accepting} (mean of market rates); active {active} / {mean_active}; {at_target}/{markets} "
                     "markets at the {target} target. Wrote {file}."),
    "cli.target": ("{province}: chỉ tiêu {target}{source}", "{province}: target {target}{source}"),
    "cli.fee_slips": ("đã ghi {n} phiếu thu khổ {size} vào {file}", "wrote {n} {size} slips to {file}"),
    "cli.left_for_board": ("để ban quản lý xử lý: {tx} {amount}: {reason}", "left for the board: {tx} {amount}: "
                           "{reason}"),
    "cli.fee_status": ("{market} {period}: {bills} hóa đơn; đã nộp {paid}, nộp một phần {partly}, chưa nộp {unpaid}, "
                       "quá hạn {overdue}; phải thu {billed}, đã thu {received} ({cashless} không dùng tiền mặt), còn "
                       "nợ {owed}",
                       "{market} {period}: {bills} bills; paid {paid}, partly {partly}, unpaid {unpaid}, overdue "
                       "{overdue}; billed {billed}, received {received} ({cashless} cashless), owed {owed}"),
    "cli.fee_cash": ("{bill}: {state}, đã nộp {paid} trên {amount}{receipt}",
                     "{bill}: {state}, paid {paid} of {amount}{receipt}"),
    "cli.receipt": ("; biên lai {serial}", "; receipt {serial}"),
    "cli.fee_receipt": ("đã ghi biên lai {serial} vào {file}", "wrote receipt {serial} to {file}"),
    "cli.give_purge": ("hãy cho --older-than THỜI_GIAN hoặc --stall CHỢ/SẠP", "give --older-than AGE or --stall "
                       "MARKET/STALL"),
    "cli.purged": ("đã xóa {n} giao dịch trực tiếp cũ hơn {age}", "{n} live transfers older than {age} deleted"),
    "cli.erased": ("đã xóa {n} giao dịch trực tiếp của {stall}, cùng các khoản yêu cầu và liên kết người hỗ trợ",
                   "{n} live transfers of {stall} erased, with its requested amounts and helper links"),
    # the demo walkthrough
    "demo.build": ("Dựng tỉnh mẫu (dữ liệu giả: data/demo/README.md)",
                   "Build the demo province (synthetic data: data/demo/README.md)"),
    "demo.summary": ("  {localities} đơn vị hành chính ({links} liên kết cũ→mới), {markets} chợ, {stalls} sạp, "
                     "{accounts} tài khoản ({pending} chờ xác minh)",
                     "  {localities} localities ({links} old→new links), {markets} markets, {stalls} stalls, "
                     "{accounts} accounts ({pending} waiting for review)"),
    "demo.logins": ("  tài khoản đăng nhập mẫu của ứng dụng web (mật khẩu mẫu, không bao giờ dùng khi triển khai):",
                    "  demo logins for the web app (demo passwords, never for a deployment):"),
    "demo.exit_code": ("  (mã thoát {code})", "  (exit code {code})"),
    "demo.refused": ("  (bị từ chối, đúng như dự kiến: {message})", "  (refused, as expected: {message})"),
    "demo.step_market": ("Ban quản lý gửi danh sách một chợ mới: nhập vào",
                         "The market board sends a new market: import it"),
    "demo.step_errors": ("Danh sách sạp gửi đến còn lỗi: mọi dòng lỗi được báo cùng lúc, không ghi gì",
                         "Its stall list arrives with mistakes: every bad row is reported at once, nothing is "
                         "written"),
    "demo.step_corrected": ("Danh sách đã sửa (XLSX: giữ được số 0 ở đầu số tài khoản và số điện thoại)",
                            "The corrected list (XLSX: leading zeros of accounts and phones survive)"),
    "demo.step_again": ("Nhập lại đúng tệp đó không thay đổi gì", "Importing the same file again changes nothing"),
    "demo.step_verify": ("Nhân viên đối chiếu tài khoản với ngân hàng rồi xác minh",
                         "Staff check the accounts with the bank, then verify them"),
    "demo.step_change": ("Một chủ sạp đổi ngân hàng: tài khoản cũ bị thu hồi, lịch sử được giữ",
                         "One owner changes bank: the old account is revoked, the history kept"),
    "demo.step_slips": ("Phiếu hướng dẫn kèm mã đăng ký dùng một lần cho chủ sạp",
                        "Onboarding slips with one-time enrollment codes for the owners"),
    "demo.step_markets": ("Các chợ lúc này", "The markets now"),
    "demo.next": ("Tiếp theo: `market40 stall list HL1`, `market40 account list HL1 --status pending`, "
                  "`market40 qr decode …`.",
                  "Next: `market40 stall list HL1`, `market40 account list HL1 --status pending`, "
                  "`market40 qr decode …`."),
    # labels of `show` commands
    "key.ref": ("sạp", "ref"), "key.shop_name": ("cửa hàng", "shop_name"),
    "key.goods_category": ("ngành hàng", "goods_category"), "key.owner_name": ("chủ hộ", "owner_name"),
    "key.owner_phone": ("điện thoại", "owner_phone"), "key.status": ("trạng thái", "status"),
    "key.accounts": ("tài khoản", "accounts"),
})

TEXTS.update({
    "cli.warning": ("cảnh báo: {message}", "warning: {message}"),
    "cli.error_line": ("lỗi: {message}", "error: {message}"),
    "cli.note": ("lưu ý: {message}", "note: {message}"),
    "cli.remember": ("HÃY NHỚ: {message}", "REMEMBER: {message}"),
    "cli.file_size": ("  {name} {size} byte", "  {name} {size} bytes"),
    "cli.backed_up": ("đã sao lưu sổ đăng ký (phiên bản {revision}) vào {folder}",
                      "backed up the registry (revision {revision}) into {folder}"),
    "cli.restored": ("đã khôi phục sổ đăng ký (phiên bản {revision}) vào {url}",
                     "restored the registry (revision {revision}) into {url}"),
    "cli.restored_store": (" và kho giao dịch vào {store}", " and the transaction store into {store}"),
    "qr.not_valid": ("Không phải mã chuyển khoản VietQR hợp lệ: {detail}", "Not a valid VietQR transfer: {detail}"),
    "qr.not_vietqr": ("Không phải mã chuyển khoản VietQR: {kind}", "Not a VietQR transfer: {kind}"),
    "qr.transfer": ("Mã chuyển khoản VietQR ({status})", "VietQR transfer ({status})"),
    "qr.valid": ("hợp lệ", "valid"), "qr.invalid": ("KHÔNG HỢP LỆ", "INVALID"),
    "qr.unknown_bin": ("BIN không có trong danh bạ", "unknown BIN"),
    "qr.static": ("tĩnh (dùng nhiều lần)", "static (reusable)"),
    "qr.dynamic": ("động (một lần thanh toán)", "dynamic (one payment)"),
    "qr.unspecified": ("không ghi", "unspecified"), "qr.no_service": ("không có mã dịch vụ", "no service code"),
    "qr.crc_ok": ("đúng", "ok"), "qr.crc_mismatch": ("SAI", "MISMATCH"),
    "qr.none_found": ("không tìm thấy mã QR nào trong ảnh", "no QR code found in the image"),
    "banks.formerly": ("  (tên cũ {name})", "  (formerly {name})"),
    "banks.unlisted": ("{name}: không có trong danh bạ thành viên NAPAS: {why}",
                       "{name}: not in the NAPAS participant directory: {why}"),
    "banks.none": ("không có thành viên nào khớp «{text}»", "no participant matches {text!r}"),
    "banks.hint": ("; có phải {hints}?", "; did you mean {hints}?"),
})
#: Labels of `qr decode`: English label → (Vietnamese, English).
TEXTS.update({  # poster inspection and market sheets (services/posters.py)
    "poster.verdict.registered": ("mã QR đang đăng ký của sạp {stall}", "the current registered QR of stall {stall}"),
    "poster.verdict.other_stall": ("mã QR đã đăng ký của MỘT SẠP KHÁC: {stall} (đúng ra là {expected})",
                                   "the registered QR of ANOTHER stall: {stall} (expected {expected})"),
    "poster.verdict.revoked": ("mã QR không còn hiệu lực ({status}) — từng thuộc sạp {stall}",
                               "a QR that is no longer valid ({status}) — it belonged to stall {stall}"),
    "poster.verdict.unknown": ("mã VietQR KHÔNG có trong sổ đăng ký — có thể là tem dán đè",
                               "a VietQR that is NOT in the registry — possibly an overlay sticker"),
    "poster.verdict.pending": ("mã QR của sạp {stall}, đã đăng ký nhưng chưa được xác minh",
                               "the QR of stall {stall}, registered but not verified yet"),
    "poster.verdict.no_qr": ("không tìm thấy mã QR nào trong ảnh", "no QR code found in the photo"),
    "poster.verdict.other_code": ("mã QR KHÔNG phải VietQR đã đăng ký mà là {detail} — có thể là tem dán đè",
                                  "a QR that is NOT a registered VietQR but {detail} — possibly an overlay sticker"),
    "poster.note.merchant_unregistered": ("mã QR thanh toán cửa hàng (QRPUSH) chưa sạp nào đăng ký: không phải "
                                          "áp phích chính thức", "a merchant QR (QRPUSH) that no stall registered: "
                                          "not an official poster"),
    "poster.note.content_differs": ("tài khoản đã đăng ký, nhưng nội dung mã QR này khác mã market40 đã in (nội "
                                    "dung chuyển khoản khác): không phải áp phích chính thức",
                                    "the account is registered, but this QR's content differs from the one "
                                    "market40 printed (other transfer content): not an official poster"),
    "poster.skip.closed": ("sạp đã nghỉ", "stall closed"),
    "poster.skip.no_account": ("chưa đăng ký tài khoản (chưa có mã QR)", "no registered account (no QR yet)"),
    "poster.skip.waiting": ("tài khoản {status}, đang chờ xác minh", "account {status}, waiting for verification"),
    "poster.skip.cannot_print": ("không in được: {error}", "cannot print: {error}"),
    "poster.label.registered": ("ĐÚNG", "REGISTERED"),
    "poster.label.other_stall": ("SAI SẠP", "OTHER_STALL"),
    "poster.label.revoked": ("HẾT HIỆU LỰC", "REVOKED"),
    "poster.label.unknown": ("KHÔNG RÕ", "UNKNOWN"),
    "poster.label.pending": ("CHỜ XÁC MINH", "PENDING"),
    "poster.label.no_qr": ("KHÔNG CÓ QR", "NO_QR"),
    "poster.field.code": ("loại mã", "code"),
    "poster.field.bank": ("ngân hàng", "bank"),
    "poster.field.account": ("tài khoản", "account"),
    "poster.field.holder": ("chủ TK", "holder"),
    "poster.field.serial": ("số seri", "serial"),
})

TEXTS.update({f"label.{en}": (vi, en) for en, vi in {
    "Acquirer": "Ngân hàng thanh toán", "Bank": "Ngân hàng", "Merchant ID": "Mã cửa hàng", "Service": "Dịch vụ",
    "Scheme": "Loại mã", "MCC": "MCC", "Merchant": "Cửa hàng", "City": "Thành phố", "Type": "Loại",
    "Amount": "Số tiền", "Currency": "Tiền tệ", "Store": "Điểm bán", "Terminal": "Thiết bị",
    "Bill number": "Số hóa đơn", "Reference": "Mã tham chiếu", "Purpose": "Nội dung", "CRC": "CRC",
    "Card": "Thẻ", "Account": "Tài khoản", "Other tags": "Trường khác",
}.items()})

TEXTS.update({
    "loc.count_former": ("{n} đơn vị cấp huyện cũ (đến 30/6/2025)", "{n} former district-level units (until 30/6/2025)"),
    "loc.count_communes": ("{n} đơn vị cấp xã (từ 1/7/2025)", "{n} commune-level units (since 1/7/2025)"),
    "loc.source": ("nguồn", "source"),
    "loc.code": ("mã", "code"), "loc.name": ("tên", "name"), "loc.kind": ("loại", "kind"),
    "loc.unit type": ("loại đơn vị", "unit type"), "loc.province": ("tỉnh", "province"),
    "loc.valid": ("hiệu lực", "valid"), "loc.communes": ("số xã", "communes"),
    "loc.former districts": ("số huyện cũ", "former districts"), "loc.came from": ("từ", "came from"),
    "loc.became": ("thành", "became"),
    "loc.province_kind": ("tỉnh/thành phố", "province (tỉnh/thành phố)"),
    "loc.commune_kind": ("đơn vị hành chính cấp xã", "commune-level unit (đơn vị hành chính cấp xã)"),
    "loc.district_kind": ("đơn vị cấp huyện cũ", "former district-level unit (đơn vị cấp huyện cũ)"),
    "loc.valid_from": ("từ {day} (đang có hiệu lực)", "from {day} (in force)"),
    "loc.valid_until": ("đến {day} (không ghi ngày bắt đầu)", "until {day} (start not recorded)"),
    "loc.valid_unknown": ("không ghi ngày bắt đầu và kết thúc", "start and end not recorded"),
    "loc.former_of": ("{code} {name} (huyện cũ, {province})", "{code} {name} (former district, {province})"),
    "loc.former_province": ("{former} (từ 1/7/2025: {code} {name})", "{former} (since 1/7/2025: {code} {name})"),
    "loc.corrected": ("  đã sửa {change}", "  corrected {change}"),
    "cli.help_more": ("Hướng dẫn chi tiết (tiếng Anh): {page}", "The full help: {page}"),
    "cli.simulated": ("{transfers} giao dịch trong {requests} yêu cầu, mất {seconds} giây (phản hồi {statuses}; "
                      "{errors} lỗi mạng; 99% phản hồi trong {p99} ms)",
                      "{transfers} transfers in {requests} requests over {seconds} s (answers {statuses}; "
                      "{errors} network errors; p99 answer {p99} ms)"),
    "cli.simulated_none": ("không có", "none"),
    "cli.fields": ("các trường", "fields"), "cli.header": ("dòng tiêu đề", "header"),
    "summary.localities": ("{province}: {communes} đơn vị cấp xã, {districts} đơn vị cấp huyện cũ, {links} liên kết "
                           "cũ→mới", "{province}: {communes} commune-level units, {districts} former district-level "
                           "units, {links} old→new links"),
    "summary.localities.same": ("; đã có, không thay đổi gì", "; already loaded, nothing changed (đã có, không thay đổi "
                                "gì)"),
    "summary.localities.changed": ("; thêm {created} đơn vị, sửa {updated}, không đổi {unchanged}, thêm {links} liên "
                                   "kết", "; {created} units added, {updated} corrected, {unchanged} unchanged, "
                                   "{links} links added"),
})
#: Fields of `market show` (their names as in --json): field → (Vietnamese, English).
TEXTS.update({f"market.{en}": (vi, en) for en, vi in {
    "code": "mã chợ", "name": "tên chợ", "tier": "hạng", "tier_source": "căn cứ xếp hạng", "tier_date": "ngày xếp hạng",
    "is_central": "chợ trung tâm", "address": "địa chỉ", "board_contact_name": "liên hệ ban quản lý",
    "board_contact_phone": "điện thoại ban quản lý", "onboarded_on": "ngày triển khai", "created_at": "ngày tạo",
    "updated_at": "ngày cập nhật", "locality": "địa bàn", "stalls": "số sạp", "operating": "đang kinh doanh",
    "verified": "đã xác minh", "pending": "chờ xác minh",
}.items()})

#: Table headings (cli.py print_table): English word → (Vietnamese, English).
TEXTS.update({f"head.{en}": (vi, en) for en, vi in {
    "account status": "trạng thái TK", "account": "tài khoản", "active": "hoạt động", "bank": "ngân hàng",
    "became": "thành", "bill": "hóa đơn", "billed": "phải thu", "bills": "hóa đơn", "code": "mã",
    "commune-level unit": "đơn vị cấp xã", "communes": "số xã", "days": "số ngày", "detail": "chi tiết",
    "former district-level unit": "đơn vị cấp huyện cũ", "former districts": "số huyện cũ",
    "former province": "tỉnh cũ", "from former district(s)": "từ huyện cũ", "from": "từ ngày",
    "holder": "chủ tài khoản", "households": "số hộ", "kind": "loại", "locality": "địa bàn", "market": "chợ",
    "name": "tên", "number": "số", "owed": "còn nợ", "owner": "chủ hộ", "paid": "đã nộp", "pending": "chờ xác minh",
    "period": "kỳ", "periods": "các kỳ", "position": "vị trí", "price": "đơn giá", "province": "tỉnh",
    "receipt": "biên lai", "role": "vai trò", "scope": "phạm vi", "shop": "cửa hàng", "since": "từ ngày",
    "source": "căn cứ", "stall": "sạp", "stalls": "số sạp", "state": "tình trạng", "status": "trạng thái",
    "tier": "hạng", "to": "đến ngày", "transfers": "giao dịch", "type": "loại", "username": "tên đăng nhập",
    "verified": "đã xác minh", "username ": "tên đăng nhập",
}.items()})

#: Status and outcome words the services return (their English is the word itself).
WORDS: dict[str, str] = {
    "created": "đã tạo", "updated": "đã cập nhật", "unchanged": "không đổi", "replaced": "đã thay thế",
    "requested": "đã ghi nhận yêu cầu đổi tài khoản", "reopened": "đã mở lại", "pending": "chờ xác minh",
    "verified": "đã xác minh", "rejected": "bị từ chối", "revoked": "đã thu hồi", "operating": "đang kinh doanh",
    "closed": "đã nghỉ", "removed": "đã xóa", "owner": "chủ sạp", "staff": "nhân viên ngân hàng",
    "officer": "cán bộ", "admin": "quản trị", "board": "ban quản lý chợ", "bank_account": "tài khoản",
    "card": "thẻ", "ewallet": "ví điện tử", "yes": "có", "no": "không", "everything": "tất cả",
    "replaced by a new account": "đã thay bằng tài khoản mới",
}


#: What the library names in English inside a line (bank kinds, the bank exports' layouts, scopes) →
#: Vietnamese: ``word`` reads them, and so does a refusal that quotes one.
NAMES: dict[str, str] = {
    "bank": "ngân hàng", "other": "khác", "locality": "địa bàn",
    "market40 generic CSV": "CSV chung của market40",
    "Vietcombank-style account statement (sao kê tài khoản)": "sao kê tài khoản kiểu Vietcombank",
    "VietinBank-style transaction list (several accounts)": "danh sách giao dịch kiểu VietinBank (nhiều tài khoản)",
    "MB-style bilingual export": "tệp xuất song ngữ kiểu MB",
    "SePay webhook bodies (JSON lines)": "dữ liệu webhook SePay (JSON theo dòng)",
    "Casso webhook bodies, v2 or legacy v1 (JSON lines)": "dữ liệu webhook Casso, v2 hoặc v1 cũ (JSON theo dòng)",
}


def scope_name(scope: str, lang: str = "vi") -> str:
    """A user's scope as the services list it (a market code, or ``locality:<name or code>``) in ``lang``."""
    kind, _, value = scope.partition(":")
    if lang == "en" or kind not in NAMES or not value:
        return scope
    return f"{NAMES[kind]} {value}"


def sentence(said: str, lang: str = "vi") -> str:
    """``said`` as the start of a sentence: a capital first letter in Vietnamese (English keeps its words)."""
    return said[:1].upper() + said[1:] if lang == "vi" else said


def word(value: str | None, lang: str = "vi") -> str:
    """A status or outcome word (``pending``, ``created``…) as ``lang`` reads it."""
    if not value:
        return ""
    return WORDS.get(value, NAMES.get(value, value)) if lang == "vi" else value


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


def text(code: str, lang: str = "vi", /, **fields: Any) -> str:
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
    """One refused input for a door in ``lang``: the table's words where it has the rule (by code, by the
    rule's message in :data:`REFUSAL_TEXTS`, or by field), else the rule's own message (English: the domain's
    rules are written once, in English)."""
    if lang == "en":
        return error.message
    if getattr(error, "code", None) in TEXTS:
        return describe(error, lang)
    said = refusal(error.message, lang)  # the rule's own words, when the table has them
    if said == error.message and f"field.{error.field}" in TEXTS:
        return describe(error, lang)  # else what the column's rule is
    return said


#: Why a row of a bank export was refused (market40.transactions says it in English): pattern → Vietnamese.
TRANSFER_REASONS: tuple[tuple[str, str], ...] = (
    (r"(?P<f>[\w ]+): not a whole number of đồng written as (?P<style>.+)",
     "{f}: không phải số đồng nguyên viết theo kiểu {style}"),
    (r"(?P<f>[\w ]+): not a date in the formats (?P<formats>.+)", "{f}: không phải ngày theo định dạng {formats}"),
    (r"(?P<f>[\w ]+): 1 to 19 letters or digits", "{f}: 1–19 chữ cái hoặc chữ số"),
    (r"(?P<f>[\w ]+): required, at most 64 characters", "{f}: bắt buộc, tối đa 64 ký tự"),
    (r"direction: in or out", "chiều giao dịch: in (vào) hoặc out (ra)"),
    (r"amount: must be at least 1 đồng", "số tiền: ít nhất 1 đồng"),
    (r"bank_bin: 6 digits", "BIN ngân hàng: 6 chữ số"),
    (r"not JSON \((?P<detail>.+)\)", "không phải JSON ({detail})"),
    (r"not a JSON object", "không phải một đối tượng JSON"),
    (r"a transaction is not a JSON object", "một giao dịch không phải đối tượng JSON"),
    (r"(?P<f>\w+): not a known bank \((?P<name>.+)\); give the bank.*",
     "{f}: không nhận ra ngân hàng ({name}); hãy cho biết ngân hàng (--bank)"),
    (r"Casso webhooks do not name the bank: give it \(--bank\)",
     "webhook Casso không ghi tên ngân hàng: hãy cho biết ngân hàng (--bank)"),
)
_TRANSFER_FIELDS = {"booked_at": "ngày ghi sổ", "amount": "số tiền", "account": "số tài khoản",
                    "bank_bin": "BIN ngân hàng", "transaction id": "mã giao dịch", "tx_id": "mã giao dịch",
                    "content": "nội dung", "gateway": "cổng thanh toán", "bankAbbreviation": "mã ngân hàng",
                    "bankName": "tên ngân hàng"}


def transfer_reason(reason: str, lang: str = "vi") -> str:
    """Why a transfer row was refused, in ``lang`` (a reason of no known kind stays as it is)."""
    import re
    if lang == "en":
        return reason
    for pattern, template in TRANSFER_REASONS:
        found = re.fullmatch(pattern, reason)
        if found:
            fields = found.groupdict()
            if "f" in fields:
                fields["f"] = _TRANSFER_FIELDS.get(fields["f"], fields["f"])
            if "formats" in fields:
                fields["formats"] = fields["formats"].replace(" or ", " hoặc ")
            return template.format(**fields)
    return reason


#: The refusals people meet most (the services say them in English): pattern → Vietnamese. A refusal
#: of no listed kind stays in English.
REFUSALS: tuple[tuple[str, str], ...] = (
    (r"market '(?P<code>[^']*)' not found", "không có chợ «{code}» trong sổ đăng ký"),
    (r"market (?P<code>\S+): (outside your markets|not your market)", "chợ {code} ngoài phạm vi của bạn"),
    (r"stall (?P<ref>\S+) not found", "không có sạp {ref} trong sổ đăng ký"),
    (r"stall (?P<ref>\S+): already closed(?P<since>.*)", "sạp {ref} đã nghỉ kinh doanh{since}"),
    (r"stall (?P<ref>\S+): no pending or verified account to (?P<action>\w+)",
     "sạp {ref} không có tài khoản đang chờ hoặc đã xác minh để {action}"),
    (r"stall (?P<ref>\S+): the account is (?P<status>\w+); only (?P<allowed>.+) accounts can be (?P<new>\w+)",
     "sạp {ref}: tài khoản đang ở trạng thái «{status}»; chỉ tài khoản {allowed} mới được {new}"),
    (r"user '(?P<name>[^']*)' already exists", "người dùng «{name}» đã có"),
    (r"this is not your stall", "đây không phải sạp của bạn"),
    (r"only administrators (?P<what>add|list) users", "chỉ quản trị viên mới được {what} người dùng"),
    (r"officers see masked account numbers only", "cán bộ chỉ xem được số tài khoản đã che"),
    (r"image file not found: '(?P<path>[^']*)'", "không tìm thấy tệp ảnh «{path}»"),
    (r"cannot verify: (?P<problems>.+)", "không xác minh được: {problems}"),
)
_REFUSAL_WORDS = {"verify": "xác minh", "reject": "từ chối", "revoke": "thu hồi", "verified": "xác minh",
                  "rejected": "từ chối", "revoked": "thu hồi", "add": "thêm", "list": "xem danh sách",
                  "or": "hoặc"}


def refusal(message: str, lang: str = "vi") -> str:
    """A refusal of the services in ``lang``: the hand-made patterns above, then :data:`REFUSAL_TEXTS`
    (one of no listed kind stays as it is)."""
    import re
    if lang == "en":
        return message
    for pattern, template in REFUSALS:
        found = re.fullmatch(pattern, message)
        if found:
            fields = found.groupdict()
            for key in ("status", "allowed"):  # states
                if key in fields:
                    fields[key] = " ".join(WORDS.get(w, _REFUSAL_WORDS.get(w, w)) for w in fields[key].split(" "))
            if fields.get("since"):
                fields["since"] = fields["since"].replace(" since ", " từ ")
            for key in ("action", "new", "what"):  # actions
                if key in fields:
                    fields[key] = _REFUSAL_WORDS.get(fields[key], fields[key])
            return template.format(**fields)
    return refusal_text(message, lang)


# --- every refusal the library raises, in Vietnamese -------------------------------------------------

_SPEC = _re.compile(r"(?:!(?P<conv>[rsa]))?(?::(?P<spec>[<>^=]?[+\- ]?#?0?\d*[,_]?(?:\.\d+)?[a-zA-Z%]?))?$")


def placeholders(template: str) -> list[tuple[int, int, str, str, str]]:
    """The ``{…}`` fields of a refusal template: (start, end, expression, conversion, format spec).

    The English templates are the library's f-strings with each expression written out
    (``{value!r}``, ``{len(text)}``, ``{MAX_AMOUNT - 1:,}``); ``{{`` and ``}}`` are braces.

    >>> [p[2:] for p in placeholders("{field}: at most {limit:,} characters, got {value[:80]!r} {{x}}")]
    [('field', '', ''), ('limit', '', ','), ('value[:80]', 'r', '')]
    """
    found, i = [], 0
    while i < len(template):
        if template.startswith(("{{", "}}"), i):
            i += 2
            continue
        if template[i] != "{":
            i += 1
            continue
        depth, j = 0, i
        while j < len(template):
            depth += {"{": 1, "}": -1}.get(template[j], 0)
            if depth == 0:
                break
            j += 1
        inner = template[i + 1:j]
        tail = _SPEC.search(inner)
        expression = inner[:tail.start()] if tail and tail.group(0) else inner
        found.append((i, j + 1, expression, (tail and tail.group("conv")) or "", (tail and tail.group("spec")) or ""))
        i = j + 1
    return found


_REPR = r"""('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|.*?)"""


@functools.lru_cache(maxsize=1)
def _refusal_patterns() -> list[tuple[int, _re.Pattern[str], list[tuple[str, str, str]], str]]:
    """Each English template as a pattern, the most specific (longest fixed text) first."""
    patterns = []
    for english, vietnamese in REFUSAL_TEXTS.items():
        fields, parts, at = placeholders(english), [], 0
        for start, end, _, conv, _ in fields:
            parts.append(_re.escape(english[at:start].replace("{{", "{").replace("}}", "}")))
            # a repr is one quoted string when it can be (``{query!r}{hint}``: the hint starts after the quote)
            parts.append(_REPR if conv == "r" else "(.*?)")
            at = end
        parts.append(_re.escape(english[at:].replace("{{", "{").replace("}}", "}")))
        fixed = len(english) - sum(end - start for start, end, *_ in fields)
        patterns.append((fixed, _re.compile("".join(parts), _re.DOTALL), [f[2:] for f in fields], vietnamese))
    patterns.sort(key=lambda p: -p[0])
    return patterns


def _unrepr(said: str) -> str:
    import ast
    if len(said) >= 2 and said[0] == said[-1] and said[0] in "'\"":
        try:
            return str(ast.literal_eval(said))
        except (ValueError, SyntaxError):
            return said  # quoted, but not a Python literal: shown as the message gave it
    return said


#: Names of inputs as the library's messages give them (``amount: …``) → Vietnamese.
FIELD_WORDS: dict[str, str] = {
    "amount": "số tiền", "account": "số tài khoản", "bank": "ngân hàng", "bank_bin": "mã ngân hàng (BIN)",
    "bin": "mã ngân hàng (BIN)", "card": "số thẻ", "purpose": "nội dung chuyển khoản", "payload": "nội dung mã QR",
    "holder_name": "tên chủ tài khoản", "account_holder": "tên chủ tài khoản", "owner_name": "tên chủ hộ",
    "owner_phone": "số điện thoại", "phone": "số điện thoại", "owner_tax_code": "mã số thuế",
    "market_code": "mã chợ", "stall_code": "mã sạp", "shop_name": "tên cửa hàng", "category": "ngành hàng",
    "status": "trạng thái", "period": "kỳ", "reference": "mã tham chiếu", "username": "tên đăng nhập",
    "password": "mật khẩu", "booked_at": "ngày ghi sổ", "content": "nội dung", "tx_id": "mã giao dịch",
    "registered_on": "ngày đăng ký", "verified_on": "ngày xác minh", "closed_on": "ngày nghỉ",
    "account_kind": "loại tài khoản", "qr": "mã QR", "merchant_qr": "mã QR thanh toán của điểm bán",
    "bill_number": "số hóa đơn", "store_label": "mã cửa hàng", "terminal_label": "mã điểm bán",
    "reference_label": "mã tham chiếu", "customer_label": "mã khách hàng", "province": "tỉnh",
    "stall reference": "mã tham chiếu sạp", "direction": "chiều giao dịch", "code": "mã", "area": "diện tích",
}


def refusal_text(message: str, lang: str = "vi", *, _depth: int = 0) -> str:
    """A message of the library in ``lang`` by :data:`REFUSAL_TEXTS` (unchanged when no template fits).

    >>> refusal_text("stall HL1/A-9 not found")
    'không có sạp HL1/A-9 trong sổ đăng ký'
    """
    if lang == "en" or not message:
        return message
    for fixed, pattern, fields, vietnamese in _refusal_patterns():
        if _depth and fixed < 12:
            break  # inside a refusal, a template of little fixed text would match anything
        found = pattern.fullmatch(message)
        if found is None:
            continue
        english = {}
        for (expression, conv, spec), said in zip(fields, found.groups()):
            if "," in spec and _re.fullmatch(r"-?\d{1,3}(,\d{3})+", said):
                said = said.replace(",", ".")
            if "' or '.join" in expression:  # a list of choices
                said = said.replace(" or ", " hoặc ")
            english.setdefault(expression, (said, conv))
        out, at = [], 0
        for start, end, expression, conv, _ in placeholders(vietnamese):
            out.append(vietnamese[at:start].replace("{{", "{").replace("}}", "}"))
            said, english_conv = english.get(expression, ("", ""))
            if english_conv == "r" and conv != "r":
                said = _unrepr(said)
            if expression in ("field", "name", "f", "where", "field_name", "size_field") and said in FIELD_WORDS:
                said = FIELD_WORDS[said]
            elif english_conv != "r" and (said in WORDS or said in NAMES):  # a role, a state, a layout…
                said = WORDS.get(said) or NAMES[said]
            elif _depth < 2 and (" " in said or said in NAMES):
                nested = refusal_text(said, lang, _depth=_depth + 1)
                said = nested if nested != said else _phrase(said)
            out.append(said)
            at = end
        out.append(vietnamese[at:].replace("{{", "{").replace("}}", "}"))
        return "".join(out)
    return message


#: Every refusal template of the library (the English f-string, expressions written out) → the same
#: refusal in Vietnamese, with the same fields (a field of English-only words, such as a plural
#: ending, may be left out). tests/test_cli_lang.py finds every template in the code and fails on
#: one missing here. Reached through :func:`refusal` and :func:`describe_error`.
REFUSAL_TEXTS: dict[str, str] = {
    # accounts.py
    "stall reference: market and stall codes need letters or digits, got {market_code!r} and {stall_code!r}":
        "mã tham chiếu sạp: mã chợ và mã sạp cần có chữ cái hoặc chữ số, nhận được «{market_code}» và «{stall_code}»",
    "stall reference: {reference!r} has {len(reference)} characters, at most {MAX_REFERENCE} fit every bank app; use "
    "shorter market or stall codes":
        "mã tham chiếu sạp: «{reference}» dài {len(reference)} ký tự, mọi ứng dụng ngân hàng chỉ giữ nguyên tối đa "
        "{MAX_REFERENCE} ký tự; hãy dùng mã chợ hoặc mã sạp ngắn hơn",
    "{field}: invisible or control character U+{ord(bad):04X} is not allowed in {value!r}":
        "{field}: không được có ký tự ẩn hoặc ký tự điều khiển U+{ord(bad):04X} trong «{value}»",
    "{field}: at most {limit} characters, got {len(text)}":
        "{field}: tối đa {limit} ký tự, nhận được {len(text)} ký tự",
    "{field}: required":
        "{field}: bắt buộc",
    "holder_name: the account holder name is required":
        "tên chủ tài khoản: bắt buộc phải có tên chủ tài khoản",
    "holder_name: the business name as the bank shows it: letters, digits, spaces and . , & ' / ( ) + -, found "
    "{bad!r} in {value!r}":
        "tên chủ tài khoản: ghi tên doanh nghiệp như ngân hàng hiển thị: chữ cái, chữ số, dấu cách và . , & ' / ( ) "
        "+ -, có «{bad}» trong «{value}»",
    "holder_name: 2–{MAX_BUSINESS_NAME} characters, got {len(name)} ({name!r})":
        "tên chủ tài khoản: 2–{MAX_BUSINESS_NAME} ký tự, nhận được {len(name)} ký tự («{name}»)",
    "holder_name: letters and spaces only (as the bank shows it), found {bad!r} in {value!r}{hint}":
        "tên chủ tài khoản: chỉ gồm chữ cái và dấu cách (như ngân hàng hiển thị), có «{bad}» trong «{value}»{hint}",
    "holder_name: 2–50 characters, got {len(name)} ({name!r})":
        "tên chủ tài khoản: 2–50 ký tự, nhận được {len(name)} ký tự («{name}»)",
    "{field}: Cá nhân / Hộ kinh doanh (personal / household), got {value!r}":
        "{field}: Cá nhân hoặc Hộ kinh doanh, nhận được «{value}»",
    "{field}: must be text (leading zeros matter), got {value!r}":
        "{field}: phải là văn bản (chữ số 0 ở đầu có ý nghĩa), nhận được «{value}»",
    "{field}: 3–32 letters, digits, / . or -, as on the registration certificate, got {value!r}":
        "{field}: 3–32 chữ cái, chữ số, / . hoặc -, như trên giấy chứng nhận đăng ký, nhận được «{value}»",
    "{field}: must be text (leading zeros matter), got {type(value).__name__} {value!r}":
        "{field}: phải là văn bản (chữ số 0 ở đầu có ý nghĩa), nhận được {type(value).__name__} «{value}»",
    "{field}: a Vietnamese phone number is 0 followed by 9 or 10 digits, got {value!r}":
        "{field}: số điện thoại Việt Nam gồm số 0 và 9 hoặc 10 chữ số, nhận được «{value}»",
    "{field}: must be text, got {type(value).__name__}":
        "{field}: phải là văn bản, nhận được {type(value).__name__}",
    "{field}: 1–{MAX_USERNAME} characters without spaces or control characters, got {value[:80]!r}":
        "{field}: 1–{MAX_USERNAME} ký tự, không có dấu cách hoặc ký tự điều khiển, nhận được «{value[:80]}»",
    "{field}: one of Tài khoản ngân hàng / Thẻ / Ví điện tử (bank_account / card / ewallet), got {value!r}":
        "{field}: một trong Tài khoản ngân hàng / Thẻ / Ví điện tử, nhận được «{value}»",
    "{field}: {value!r} does not fit a participant of kind {bank_kind}":
        "{field}: «{value}» không phù hợp với thành viên loại {bank_kind}",
    "{field}: Đang kinh doanh / Nghỉ kinh doanh (operating / closed), got {value!r}":
        "{field}: Đang kinh doanh hoặc Nghỉ kinh doanh, nhận được «{value}»",
    "{field}: letters, digits and - . / _ only, got {value!r}":
        "{field}: chỉ gồm chữ cái, chữ số và - . / _, nhận được «{value}»",
    "{field}: at most {limit} characters, got {len(code)}":
        "{field}: tối đa {limit} ký tự, nhận được {len(code)} ký tự",
    "{field}: must be text (leading zeros matter), got the number {value!r}":
        "{field}: phải là văn bản (chữ số 0 ở đầu có ý nghĩa), nhận được số «{value}»",
    "{field}: the account number is required":
        "{field}: bắt buộc phải có số tài khoản",
    "{field}: letters A–Z and digits only (spaces and dashes are dropped), found {bad!r} in {value!r}":
        "{field}: chỉ gồm chữ cái A–Z và chữ số (dấu cách và dấu gạch được bỏ qua), có «{bad}» trong «{value}»",
    "qr: no QR content":
        "mã QR: không có nội dung mã QR",
    "qr: the QR's check characters (CRC) do not match: it is damaged or was altered ({error})":
        "mã QR: ký tự kiểm tra (CRC) của mã QR không khớp: mã bị hỏng hoặc đã bị sửa ({error})",
    "qr: this is a {error.kind}: it pays a merchant through another scheme, not into the stall's own account; scan "
    "the receiving QR of the owner's bank or wallet app":
        "mã QR: đây là mã {error.kind}: mã này thanh toán cho một điểm bán qua hệ thống khác, không chuyển vào tài "
        "khoản của chính sạp; hãy quét mã QR nhận tiền trong ứng dụng ngân hàng hoặc ví của chủ hộ",
    "qr: not a VietQR payment code ({error})":
        "mã QR: không phải mã thanh toán VietQR ({error})",
    "qr: this QR asks for a fixed amount ({formats.money(qr.amount, 'en')}): it is made for one payment, not the "
    "stall's receiving QR":
        "mã QR: mã này đòi một số tiền cố định ({formats.money(qr.amount, 'en')}): mã dùng cho một lần thanh toán, "
        "không phải mã QR nhận tiền của sạp",
    "qr: this is a one-time (dynamic) QR, like a bill's: it is made for one payment, not the stall's receiving QR":
        "mã QR: đây là mã QR dùng một lần (động), như mã của một hóa đơn: mã dùng cho một lần thanh toán, không phải "
        "mã QR nhận tiền của sạp",
    "qr: this QR pays bill {qr.bill_number!r}, not the stall's receiving QR":
        "mã QR: mã này thanh toán hóa đơn «{qr.bill_number}», không phải mã QR nhận tiền của sạp",
    "qr: a MoMo QR without its MOMOW2W… reference (62.05): scan the receive-money QR in the MoMo app":
        "mã QR: mã QR MoMo thiếu mã tham chiếu MOMOW2W… (62.05): hãy quét mã QR nhận tiền trong ứng dụng MoMo",
    "merchant_qr: this is a personal transfer QR, not a bank-issued merchant QR (QRPUSH): register it as the stall's "
    "account":
        "mã QR thanh toán của điểm bán: đây là mã QR chuyển khoản cá nhân, không phải mã QR điểm bán do ngân hàng "
        "cấp (QRPUSH): hãy đăng ký mã này làm tài khoản của sạp",
    "qr: the merchant QR's check characters (CRC) do not match: it is damaged or was altered":
        "mã QR: ký tự kiểm tra (CRC) của mã QR điểm bán không khớp: mã bị hỏng hoặc đã bị sửa",
    "qr: this merchant QR asks for a fixed amount ({other.amount_text} đ): it is made for one payment, not the "
    "stall's QR":
        "mã QR: mã QR điểm bán này đòi một số tiền cố định ({other.amount_text} đ): mã dùng cho một lần thanh toán, "
        "không phải mã QR của sạp",
    "qr: this merchant QR is a one-time (dynamic) code, not the one to hang at the stall":
        "mã QR: mã QR điểm bán này là mã dùng một lần (động), không phải mã để treo tại sạp",
    "merchant_qr: the acquirer BIN (38.01.00) must be 6 digits, got {other.bin!r}":
        "mã QR thanh toán của điểm bán: mã ngân hàng thanh toán (BIN, 38.01.00) phải gồm 6 chữ số, nhận được "
        "«{other.bin}»",
    "merchant_qr: the merchant id (38.01.01) must be 1–19 characters, got {other.merchant_id!r}":
        "mã QR thanh toán của điểm bán: mã điểm bán (38.01.01) phải có 1–19 ký tự, nhận được «{other.merchant_id}»",
    "merchant_qr: currency (53) must be 704 (VND), got {other.currency!r}":
        "mã QR thanh toán của điểm bán: loại tiền (53) phải là 704 (VND), nhận được «{other.currency}»",
    "merchant_qr: country (58) must be VN, got {other.country!r}":
        "mã QR thanh toán của điểm bán: quốc gia (58) phải là VN, nhận được «{other.country}»",
    "merchant_qr: the payload must be ASCII (EMV ANS)":
        "mã QR thanh toán của điểm bán: nội dung mã phải là ký tự ASCII (EMV ANS)",
    "{field}: {_shown(value)} is in the future (today is {event_day(now):%d/%m/%Y})":
        "{field}: {_shown(value)} là ngày trong tương lai (hôm nay là {event_day(now):%d/%m/%Y})",
    "{field}: {_shown(value)} is before {event_day(not_before):%d/%m/%Y}{what}":
        "{field}: {_shown(value)} trước ngày {event_day(not_before):%d/%m/%Y}{what}",
    "{field}: a date as DD/MM/YYYY or YYYY-MM-DD (optionally with HH:MM), got {value!r}":
        "{field}: ghi ngày dạng DD/MM/YYYY hoặc YYYY-MM-DD (có thể kèm giờ HH:MM), nhận được «{value}»",
    # backup.py
    "{folder}: already exists and is not an empty folder; choose a new one":
        "{folder}: đã có và không phải thư mục trống; hãy chọn thư mục mới",
    "no registry in {db.redact(str(resolved))}: nothing to back up":
        "chưa có sổ đăng ký trong {db.redact(str(resolved))}: không có gì để sao lưu",
    "{folder}: not a market40 backup (no {MANIFEST})":
        "{folder}: không phải bản sao lưu market40 (thiếu {MANIFEST})",
    "{name}: a whole number of connections, at least {least}; got {text!r}":
        "{name}: phải là số kết nối nguyên, ít nhất {least}; nhận được {text!r}",
    "{manifest_path}: damaged manifest":
        "{manifest_path}: tệp kê khai bị hỏng",
    "{folder / name}: missing or damaged (its SHA-256 differs from the manifest)":
        "{folder / name}: bị thiếu hoặc bị hỏng (mã SHA-256 khác với tệp kê khai)",
    "{folder}: the backup holds no registry":
        "{folder}: bản sao lưu không có sổ đăng ký",
    "{folder} holds a{' SQLite' if source == SQLITE_FILE else ' PostgreSQL'} registry; restore it into a{'n SQLite "
    "file' if source == SQLITE_FILE else ' PostgreSQL database'} (copy between the two with an export, not a backup)":
        "{folder} chứa sổ đăng ký{' SQLite' if source == SQLITE_FILE else ' PostgreSQL'}; hãy khôi phục vào cơ sở dữ "
        "liệu cùng loại (muốn chuyển giữa hai loại, dùng bản xuất dữ liệu, không dùng bản sao lưu)",
    "{target} already holds a registry: restore into a new place, or use --force to replace it":
        "{target} đã có sổ đăng ký: hãy khôi phục vào chỗ mới, hoặc dùng --force để thay thế",
    "{db.redact(str(resolved))} already holds tables: restore into an empty database, or use --force to replace them":
        "{db.redact(str(resolved))} đã có bảng dữ liệu: hãy khôi phục vào cơ sở dữ liệu trống, hoặc dùng --force để "
        "thay thế",
    "{store} already exists: restore the transaction store into a new place, or use --force to replace it":
        "{store} đã có: hãy khôi phục kho giao dịch vào chỗ mới, hoặc dùng --force để thay thế",
    "an in-memory database cannot be backed up or restored":
        "không sao lưu hoặc khôi phục được cơ sở dữ liệu chỉ nằm trong bộ nhớ",
    "{source}: the copy failed its integrity check ({check})":
        "{source}: bản sao không qua được bước kiểm tra toàn vẹn ({check})",
    "{source}: cannot copy the registry ({error})":
        "{source}: không sao chép được sổ đăng ký ({error})",
    "{source}: cannot copy the transaction store ({str(error).splitlines()[0]}); if a batch job (tx import, "
    "reconcile) is running, back up again when it ends":
        "{source}: không sao chép được kho giao dịch ({str(error).splitlines()[0]}); nếu đang chạy một việc theo lô "
        "(tx import, reconcile), hãy sao lưu lại khi việc đó xong",
    "{tool} not found: install the PostgreSQL client tools (e.g. apt install postgresql-client) to {{what}}":
        "không tìm thấy {tool}: hãy cài bộ công cụ PostgreSQL (ví dụ apt install postgresql-client) để {{what}}",
    "{tool} failed ({what}): {reason}":
        "{tool} bị lỗi ({what}): {reason}",
    # banks.py
    "bank: give a BIN, a bank code or a name":
        "ngân hàng: hãy ghi BIN, mã viết tắt hoặc tên ngân hàng",
    "bank: {missing[0][0]} is not in the NAPAS participant directory: {missing[0][1]}":
        "ngân hàng: {missing[0][0]} không có trong danh bạ thành viên NAPAS: {missing[0][1]}",
    "bank: no NAPAS participant matches {query!r}{hint}":
        "ngân hàng: không có thành viên NAPAS nào khớp với «{query}»{hint}",
    "bank: {query!r} matches several participants: {names}; be more precise or give the BIN":
        "ngân hàng: «{query}» khớp với nhiều thành viên: {names}; hãy ghi rõ hơn hoặc ghi BIN",
    "bin: must be 6 digits, got {bin!r}":
        "mã ngân hàng (BIN): phải gồm 6 chữ số, nhận được «{bin}»",
    "bin: {bin} is not in the NAPAS participant directory (nearest: {', '.join(hints)}); if the bank is newer than "
    "the directory, allow unknown BINs explicitly":
        "mã ngân hàng (BIN): {bin} không có trong danh bạ thành viên NAPAS (gần nhất: {', '.join(hints)}); nếu ngân "
        "hàng mới hơn danh bạ, hãy cho phép rõ ràng BIN chưa biết",
    "bin: {bin} is not in the NAPAS participant directory; if the bank is newer than the directory, allow unknown "
    "BINs explicitly":
        "mã ngân hàng (BIN): {bin} không có trong danh bạ thành viên NAPAS; nếu ngân hàng mới hơn danh bạ, hãy cho "
        "phép rõ ràng BIN chưa biết",
    # db.py
    "not a database URL: {redact(raw)!r}":
        "không phải địa chỉ cơ sở dữ liệu: «{redact(raw)}»",
    "unsupported database {url.get_backend_name()!r} in {shown!r}: use SQLite or PostgreSQL":
        "không hỗ trợ cơ sở dữ liệu «{url.get_backend_name()}» trong «{shown}»: hãy dùng SQLite hoặc PostgreSQL",
    "the database already has {len(tables)} tables ({shown}): upgrade it instead, or drop the existing tables first":
        "cơ sở dữ liệu đã có {len(tables)} bảng ({shown}): hãy nâng cấp thay vì tạo mới, hoặc xóa các bảng đó trước",
    "the registry's schema is at revision {current}, this market40 needs {head}: run `market40 db upgrade` (back the "
    "database up first)":
        "cấu trúc sổ đăng ký đang ở phiên bản {current}, market40 này cần {head}: hãy chạy `market40 db upgrade` "
        "(sao lưu cơ sở dữ liệu trước)",
    "the registry's schema is at revision {current}, newer than this market40 knows ({head}): install the market40 "
    "version that migrated it":
        "cấu trúc sổ đăng ký đang ở phiên bản {current}, mới hơn phiên bản market40 này biết ({head}): hãy cài phiên "
        "bản market40 đã nâng cấp nó",
    "migration left {len(broken)} rows with broken foreign keys, first in table {broken[0][0]!r}: rolled back":
        "bản nâng cấp để lại {len(broken)} dòng có khóa ngoại hỏng, đầu tiên ở bảng «{broken[0][0]}»: đã hoàn tác",
    # demo.py
    "demo data file not found: {path} (set MARKET40_DATA_DIR to the data/ folder)":
        "không tìm thấy tệp dữ liệu mẫu: {path} (đặt MARKET40_DATA_DIR là thư mục data/)",
    "{market_code!r} is not one of the 43 demo markets":
        "«{market_code}» không phải một trong 43 chợ mẫu",
    "too many stalls for the demo's zone letters":
        "quá nhiều sạp so với các chữ cái khu của dữ liệu mẫu",
    "stall count out of range":
        "số sạp nằm ngoài khoảng cho phép",
    "adoption must be a share between 0 and 1":
        "tỷ lệ sử dụng phải là một số từ 0 đến 1",
    # emv.py
    "tag: must be 2 digits, got {tag!r}":
        "thẻ (tag): phải gồm 2 chữ số, nhận được «{tag}»",
    "tag {tag}: value must be 1–99 characters, got {size}":
        "thẻ {tag}: giá trị phải có 1–99 ký tự, nhận được {size}",
    "{where}: not EMV TLV at character {offset + i}: expected a 2-digit tag and a 2-digit length, found {text[i:i + "
    "4]!r}":
        "{where}: không phải dạng EMV TLV ở ký tự {offset + i}: cần mã thẻ 2 chữ số và độ dài 2 chữ số, gặp "
        "«{text[i:i + 4]}»",
    "{where}: tag {tag} at character {offset + i} has length 00; values are 1–99 characters":
        "{where}: thẻ {tag} ở ký tự {offset + i} có độ dài 00; giá trị phải có 1–99 ký tự",
    "{where}: tag {tag} at character {offset + i} declares {size} characters but only {end - i - 4} remain":
        "{where}: thẻ {tag} ở ký tự {offset + i} khai báo {size} ký tự nhưng chỉ còn {end - i - 4}",
    # fees.py
    "{field}: bắt buộc, một ngày như 01/01/2026 (required: a day)":
        "{field}: bắt buộc, một ngày như 01/01/2026",
    "{field}: {text!r} không phải một ngày, viết như 01/01/2026 (not a day: write DD/MM/YYYY)":
        "{field}: «{text}» không phải một ngày, viết như 01/01/2026",
    "{name}: {label} bắt buộc (required)":
        "{name}: {label} bắt buộc",
    "{name}: tối đa {limit} ký tự, có {len(value)} (at most {limit} characters)":
        "{name}: tối đa {limit} ký tự, có {len(value)}",
    "code: mã biểu phí gồm chữ và số, 1–16 ký tự, nhận {values.get('code')!r} (a tariff code of 1–16 letters or "
    "digits)":
        "mã biểu phí: gồm chữ và số, 1–16 ký tự, nhận được «{values.get('code')}»",
    "kind: loại phải là một trong thuê / cố định / chỉ số / lượt, nhận {raw_kind!r} (one of {', '.join(KINDS)})":
        "loại phí: phải là một trong thuê / cố định / chỉ số / lượt, nhận được «{raw_kind}» ({', '.join(KINDS)})",
    "unit_price: {formats.money(price)} quá lớn (at most {formats.money(_MAX_UNIT_PRICE)})":
        "đơn giá: {formats.money(price)} quá lớn (tối đa {formats.money(_MAX_UNIT_PRICE)})",
    "valid_to: ngày hết hiệu lực {valid_to:%d/%m/%Y} phải sau ngày hiệu lực {valid_from:%d/%m/%Y} (must be after "
    "valid_from)":
        "ngày hết hiệu lực: {valid_to:%d/%m/%Y} phải sau ngày hiệu lực {valid_from:%d/%m/%Y}",
    "position_class: chỉ khoản thuê diện tích theo vị trí (only rent rows have a position class)":
        "hạng vị trí: chỉ khoản thuê diện tích mới có hạng vị trí",
    "{field}: diện tích tính bằng m², như 4,5 — nhận {value!r} (an area in m², e.g. 4.5)":
        "{field}: diện tích tính bằng m², như 4,5 — nhận được «{value}»",
    "{field}: một số nguyên không âm, nhận {value!r} (a whole number ≥ 0)":
        "{field}: một số nguyên không âm, nhận được «{value}»",
    "bill number {number!r}: tối đa 25 ký tự (at most 25 characters in 62.01)":
        "số hóa đơn «{number}»: tối đa 25 ký tự (62.01)",
    "bill reference {reference!r}: {len(reference)} ký tự, tối đa {MAX_REFERENCE} để mọi ứng dụng ngân hàng giữ "
    "nguyên (at most {MAX_REFERENCE} characters); dùng mã chợ/sạp ngắn hơn":
        "mã tham chiếu hóa đơn «{reference}»: {len(reference)} ký tự, tối đa {MAX_REFERENCE} để mọi ứng dụng ngân "
        "hàng giữ nguyên; dùng mã chợ/sạp ngắn hơn",
    # feeslips.py
    "slip {slip.number}: the QR ({symbol.modules} modules) does not fit an {geometry.name} slip at "
    "{posters.MIN_MODULE_MM} mm modules":
        "phiếu {slip.number}: mã QR ({symbol.modules} ô) không vừa phiếu {geometry.name} với ô "
        "{posters.MIN_MODULE_MM} mm",
    "slip {slip.number}: the text does not fit above the QR on an A7 slip":
        "phiếu {slip.number}: chữ không vừa phía trên mã QR trên phiếu A7",
    "sheet: an {cell.name} slip does not fit on a {sheet.upper()} sheet":
        "tờ in: phiếu {cell.name} không vừa tờ {sheet.upper()}",
    "slips: no bill with an amount to pay in this period":
        "phiếu thu: không có hóa đơn nào cần nộp tiền trong kỳ này",
    "size: {len(too_big)} bills do not fit an A7 slip — its QR holds at most {limit} modules a side (version {(limit "
    "- 17) // 4}) at {posters.MIN_MODULE_MM} mm modules, even with the bill number shortened in 62.01 "
    "({named}{more}); print them on A6. {fits}.":
        "khổ phiếu: {len(too_big)} hóa đơn không vừa phiếu A7 — mã QR trên phiếu chỉ chứa tối đa {limit} ô mỗi cạnh "
        "(phiên bản {(limit - 17) // 4}) với ô {posters.MIN_MODULE_MM} mm, kể cả khi đã rút ngắn số hóa đơn ở 62.01 "
        "({named}{more}); hãy in các phiếu đó khổ A6. {fits}.",
    "receipts: no paid bill":
        "biên lai: không có hóa đơn nào đã nộp",
    # households.py
    "{field}: at most {MAX_TAX_CODE} characters, got {len(text)}":
        "{field}: tối đa {MAX_TAX_CODE} ký tự, nhận được {len(text)} ký tự",
    "{field}: a tax or business registration code is 6–{MAX_TAX_CODE} digits or letters, got {value!r}":
        "{field}: mã số thuế hoặc số đăng ký kinh doanh gồm 6–{MAX_TAX_CODE} chữ số hoặc chữ cái, nhận được «{value}»",
    # localities.py
    "province: give a 2-digit province code or a name (tỉnh: mã 2 số hoặc tên)":
        "tỉnh: ghi mã tỉnh 2 chữ số hoặc tên tỉnh",
    "province {text!r} not found (không có tỉnh/thành phố này); did you mean {', '.join(hints)}?":
        "không có tỉnh/thành phố «{text}»; có phải bạn muốn tìm {', '.join(hints)}?",
    "province {text!r} not found (không có tỉnh/thành phố này); see `market40 locality list` for the 34 provinces":
        "không có tỉnh/thành phố «{text}»; xem 34 tỉnh, thành phố bằng `market40 locality list`",
    "locality {text!r} not found (không có đơn vị hành chính mã này): {hint}":
        "không có đơn vị hành chính mã «{text}»: {hint}",
    # notify.py
    "no message provider is configured (MARKET40_SENDER=none)":
        "chưa cấu hình dịch vụ gửi tin nhắn (MARKET40_SENDER=none)",
    "{ENV_VAR}: cannot load {text!r} ({error})":
        "{ENV_VAR}: không nạp được «{text}» ({error})",
    "{ENV_VAR}: {text} has no send(message) method":
        "{ENV_VAR}: {text} không có phương thức send(message)",
    "{ENV_VAR}: console, none, file:PATH or module:Class, got {text!r}":
        "{ENV_VAR}: console, none, file:ĐƯỜNG_DẪN hoặc module:Class, nhận được «{text}»",
    # passwords.py
    "the password is empty":
        "mật khẩu đang để trống",
    "the password is longer than {MAX_PASSWORD_LENGTH} characters":
        "mật khẩu dài quá {MAX_PASSWORD_LENGTH} ký tự",
    "{field}: {vietnamese} ({english})":
        "{field}: {vietnamese}",
    "not an enrollment code: {text!r}":
        "không phải mã đăng ký: «{text}»",
    "unusable scrypt parameters {shown}":
        "tham số scrypt không dùng được {shown}",
    "not a market40 password hash":
        "không phải mã băm mật khẩu của market40",
    "the enrollment key is shorter than {MIN_KEY_BYTES} bytes":
        "khóa đăng ký ngắn hơn {MIN_KEY_BYTES} byte",
    # posters.py
    "lang: {code!r} is not a poster language; use vi, en, zh (e.g. vi,en,zh)":
        "ngôn ngữ poster: «{code}» không phải ngôn ngữ của poster; dùng vi, en, zh (ví dụ vi,en,zh)",
    "poster font: the package {ZH_FONT_PACKAGE.replace('_', '-')} (the {ZH_FONT_FAMILY} font for Chinese lines) is "
    "not installed; pip install pylopdf-fonts-zh-cn":
        "phông chữ poster: chưa cài gói {ZH_FONT_PACKAGE.replace('_', '-')} (phông {ZH_FONT_FAMILY} cho các dòng "
        "tiếng Trung); chạy pip install pylopdf-fonts-zh-cn",
    "poster font: the package {FONT_PACKAGE.replace('_', '-')} (the {FONT_FAMILY} font) is not installed; pip "
    "install fontpkg-be-vietnam-pro":
        "phông chữ poster: chưa cài gói {FONT_PACKAGE.replace('_', '-')} (phông {FONT_FAMILY}); chạy pip install "
        "fontpkg-be-vietnam-pro",
    "{name}: must be non-empty text, got {value!r}":
        "{name}: phải là văn bản không trống, nhận được «{value}»",
    "{name}: control characters cannot be printed, got {value!r}":
        "{name}: không in được ký tự điều khiển, nhận được «{value}»",
    "holder_name: must be upper-case ASCII exactly as the bank has it (e.g. 'NGUYEN VAN AN'), got {name!r}":
        "tên chủ tài khoản: phải viết in hoa không dấu đúng như ngân hàng ghi (ví dụ 'NGUYEN VAN AN'), nhận được "
        "«{name}»",
    "account_number: must be 1–19 letters or digits, no spaces, got {account!r}":
        "số tài khoản: phải có 1–19 chữ cái hoặc chữ số, không có dấu cách, nhận được «{account}»",
    "account: must be 1–19 letters or digits [0-9A-Za-z], got {account!r}":
        "số tài khoản: phải có 1–19 chữ cái không dấu hoặc chữ số [0-9A-Za-z], không dấu cách hay dấu gạch, "
        "nhận được «{account}»",
    "{field}: a tax code (MST) is 10 digits, or 13 with the branch, and its check digit must match "
    "({error.message}), got {value!r}":
        "{field}: mã số thuế (MST) gồm 10 chữ số, hoặc 13 nếu có mã chi nhánh, và chữ số kiểm tra phải khớp "
        "({error.message}), nhận được «{value}»",
    "serial: must be 1–24 printable ASCII characters without spaces, got {self.serial!r}":
        "số sê-ri: phải có 1–24 ký tự ASCII in được, không có dấu cách, nhận được «{self.serial}»",
    "printed_on: must be a date, got {self.printed_on!r}":
        "ngày in: phải là một ngày, nhận được «{self.printed_on}»",
    "{flag}: must be True or False, got {getattr(self, flag)!r}":
        "{flag}: phải là True hoặc False, nhận được «{getattr(self, flag)}»",
    "is_card, is_ewallet: a poster is for a card or an e-wallet, not both":
        "is_card, is_ewallet: một poster dành cho thẻ hoặc ví điện tử, không thể cả hai",
    "payload: not a valid VietQR transfer ({error})":
        "nội dung mã QR: không phải mã chuyển khoản VietQR hợp lệ ({error})",
    "payload: a poster needs a static VietQR (point of initiation 11, reusable); this one is dynamic (12, for one "
    "payment)":
        "nội dung mã QR: poster cần mã VietQR tĩnh (phương thức khởi tạo 11, dùng nhiều lần); mã này là mã động (12, "
        "cho một lần thanh toán)",
    "is_card: the QR pays into a {'card' if qr.is_card else 'bank account'} (service {qr.service}), but "
    "is_card={self.is_card}":
        "is_card: mã QR chuyển tiền vào loại đích khác (dịch vụ {qr.service}), nhưng is_card={self.is_card}",
    "account_number: {self.account_number!r} is not the account in the QR ({qr.account!r}); the poster must print "
    "the account the QR pays into":
        "số tài khoản: «{self.account_number}» không phải tài khoản trong mã QR («{qr.account}»); poster phải in "
        "đúng tài khoản mà mã QR chuyển tiền vào",
    "bank_short_name: {self.bank_short_name!r} is not the bank of the QR's BIN {qr.bin} ({bank.short_name}); the "
    "poster must name the bank the QR pays into":
        "tên ngân hàng: «{self.bank_short_name}» không phải ngân hàng của BIN {qr.bin} trong mã QR "
        "({bank.short_name}); poster phải ghi đúng ngân hàng mà mã QR chuyển tiền vào",
    "payload: not a valid merchant QR ({error})":
        "nội dung mã QR: không phải mã QR điểm bán hợp lệ ({error})",
    "payload: is_merchant needs a NAPAS merchant QR (service QRPUSH)":
        "nội dung mã QR: is_merchant cần mã QR điểm bán NAPAS (dịch vụ QRPUSH)",
    "payload: the merchant QR's CRC does not match":
        "nội dung mã QR: ký tự kiểm tra (CRC) của mã QR điểm bán không khớp",
    "payload: a poster needs a static merchant QR without an amount":
        "nội dung mã QR: poster cần mã QR điểm bán tĩnh, không kèm số tiền",
    "payload: surrounding white space would be printed in the QR":
        "nội dung mã QR: khoảng trắng ở đầu hoặc cuối sẽ bị in vào mã QR",
    "account_number: {self.account_number!r} is not the merchant id in the QR ({other.merchant_id!r})":
        "số tài khoản: «{self.account_number}» không phải mã điểm bán trong mã QR («{other.merchant_id}»)",
    "holder_name: {self.holder_name!r} is not the merchant name in the QR ({other.merchant_name!r}); the poster must "
    "print the name the payer's app shows":
        "tên chủ tài khoản: «{self.holder_name}» không phải tên điểm bán trong mã QR («{other.merchant_name}»); "
        "poster phải in đúng tên mà ứng dụng của người trả tiền hiển thị",
    "bank_short_name: {self.bank_short_name!r} is not the acquirer of the merchant QR ({bank.short_name})":
        "tên ngân hàng: «{self.bank_short_name}» không phải ngân hàng thanh toán của mã QR điểm bán "
        "({bank.short_name})",
    "{name}: {size!r} is not a supported paper size; use one of {choices}":
        "{name}: «{size}» không phải khổ giấy được hỗ trợ; dùng một trong {choices}",
    "{field_name}: {shown!r} does not fit the {block.replace('_', ' ')} line of an {geometry.name} poster, even on "
    "{len(candidates[-1])} line{'s' if len(candidates[-1]) > 1 else ''} at the smallest size ({box.min_pt:g} pt, "
    "{width:.0f} mm wide); shorten it or print a larger size":
        "{field_name}: «{shown}» không vừa dòng {block.replace('_', ' ')} của poster {geometry.name}, kể cả khi chia "
        "thành {len(candidates[-1])} dòng ở cỡ chữ nhỏ nhất ({box.min_pt:g} pt, rộng {width:.0f} mm); hãy rút ngắn "
        "hoặc in khổ lớn hơn",
    "data: expected PosterData, got {type(data).__name__}":
        "dữ liệu: cần PosterData, nhận được {type(data).__name__}",
    "size: the QR code (version {symbol.version}, {symbol.modules} modules + 2 x {QUIET_ZONE} quiet zone) gets "
    "{module:.2f} mm modules in the {qr_side:g} mm box of an {geometry.name} poster, below the {MIN_MODULE_MM} mm "
    "minimum; print a larger size or shorten the payload":
        "khổ in: mã QR (phiên bản {symbol.version}, {symbol.modules} ô + 2 x {QUIET_ZONE} ô lề trắng) chỉ được ô "
        "{module:.2f} mm trong khung {qr_side:g} mm của poster {geometry.name}, nhỏ hơn mức tối thiểu "
        "{MIN_MODULE_MM} mm; hãy in khổ lớn hơn hoặc rút ngắn nội dung mã",
    "{where}: the character {missing!r} (U+{ord(missing):04X}) is not in the poster font {family}; it cannot be "
    "printed":
        "{where}: ký tự «{missing}» (U+{ord(missing):04X}) không có trong phông chữ poster {family}; không in được",
    "dpi: {dpi!r} is not a whole number of dots per inch from 72 to 1200":
        "dpi: «{dpi}» không phải số điểm ảnh mỗi inch nguyên từ 72 đến 1200",
    "sheet: an {poster.name} poster does not fit on a {sheet.upper()} sheet":
        "tờ in: poster {poster.name} không vừa tờ {sheet.upper()}",
    "workers: {workers!r} is not a whole number of processes >= 1":
        "workers: «{workers}» không phải số tiến trình nguyên >= 1",
    "items: expected PosterData, got {type(data).__name__}":
        "items: cần PosterData, nhận được {type(data).__name__}",
    "poster {done + 1} (serial {data.serial}): {error}":
        "poster {done + 1} (số sê-ri {data.serial}): {error}",
    "items: no posters to print":
        "items: không có poster nào để in",
    # qrimage.py
    "payload: {len(payload)} characters need {bits} data bits, more than the {capacity} bits of the largest QR Code "
    "(version 40) at error level {error}":
        "nội dung mã QR: {len(payload)} ký tự cần {bits} bit dữ liệu, nhiều hơn {capacity} bit của mã QR lớn nhất "
        "(phiên bản 40) ở mức sửa lỗi {error}",
    "error: {error!r} is not a QR error correction level; use one of L, M, Q, H":
        "mức sửa lỗi: «{error}» không phải mức sửa lỗi của mã QR; dùng L, M, Q hoặc H",
    "payload: expected text (str), got {type(payload).__name__}":
        "nội dung mã QR: cần văn bản (str), nhận được {type(payload).__name__}",
    "payload: empty; a QR Code needs at least one character":
        "nội dung mã QR: đang trống; mã QR cần ít nhất một ký tự",
    "{name}: {value!r} is not a whole number >= {minimum}":
        "{name}: «{value}» không phải số nguyên >= {minimum}",
    "kind: required when writing to a file object; use {limit}":
        "định dạng: bắt buộc khi ghi vào đối tượng tệp; dùng {limit}",
    "kind: cannot tell the format of {name!r} (no file suffix); pass kind=, {limit}":
        "định dạng: không biết định dạng của «{name}» (tên tệp không có phần mở rộng); truyền kind=, {limit}",
    "kind: {kind!r}{source} is not a supported format; use {limit}":
        "định dạng: «{kind}»{source} không phải định dạng được hỗ trợ; dùng {limit}",
    "pixels: image of {pixels} px is too small for a {width_modules}-module symbol ({symbol_modules} modules + 2 x "
    "{border} quiet zone; needs at least {width_modules} px)":
        "số điểm ảnh: ảnh {pixels} px quá nhỏ cho mã {width_modules} ô ({symbol_modules} ô + 2 x {border} ô lề "
        "trắng; cần ít nhất {width_modules} px)",
    "module_mm: {module_mm} mm at {dpi} dpi is {module_mm * dpi / 25.4:.2f} px, which rounds to 0 px; needs at least "
    "1 px per module (module_mm >= {smallest:.4f} at {dpi} dpi)":
        "module_mm: {module_mm} mm ở {dpi} dpi là {module_mm * dpi / 25.4:.2f} px, làm tròn thành 0 px; cần ít nhất "
        "1 px mỗi ô (module_mm >= {smallest:.4f} ở {dpi} dpi)",
    "pixels, module_mm: give one size, not both":
        "pixels, module_mm: chỉ cho một kích thước, không cho cả hai",
    "module_mm: {module_mm!r} is not a positive size in millimetres":
        "module_mm: «{module_mm}» không phải kích thước dương tính bằng milimét",
    "{name}: {colour!r} is not a colour (use a name, #rgb, #rrggbb or an RGB tuple)":
        "{name}: «{colour}» không phải màu (dùng tên màu, #rgb, #rrggbb hoặc bộ RGB)",
    "module_mm: {module_mm} mm rounds to 0 at the 0.0001 mm precision of SVG output":
        "module_mm: {module_mm} mm bị làm tròn thành 0 ở độ chính xác 0,0001 mm của tệp SVG",
    "{size_field}: a {scale} pt module is too small for PDF output (needs at least 1 pt = 0.353 mm)":
        "{size_field}: ô {scale} pt quá nhỏ cho tệp PDF (cần ít nhất 1 pt = 0,353 mm)",
    "image: expected a path, bytes, a binary file or a PIL image, got {type(image).__name__}":
        "ảnh: cần đường dẫn, bytes, tệp nhị phân hoặc ảnh PIL, nhận được {type(image).__name__}",
    "image file not found: {label}":
        "không tìm thấy tệp ảnh: {label}",
    "cannot read image file {label}: {exc.strerror}":
        "không đọc được tệp ảnh {label}: {exc.strerror}",
    "image: {label} is not a readable image ({exc})":
        "ảnh: {label} không phải ảnh đọc được ({exc})",
    # reconciliation.py
    "period: a month between 2000-01 and 2100-12, got {self.year}-{self.month}":
        "kỳ: một tháng từ 2000-01 đến 2100-12, nhận được {self.year}-{self.month}",
    "period: a month as YYYY-MM (e.g. 2025-06) or MM/YYYY, got {raw!r}":
        "kỳ: ghi tháng dạng YYYY-MM (ví dụ 2025-06) hoặc MM/YYYY, nhận được «{raw}»",
    # services/auth.py
    "current_password: not your current password":
        "mật khẩu hiện tại: không đúng mật khẩu hiện tại của bạn",
    "only administrators disable or enable users":
        "chỉ quản trị viên mới được khóa hoặc mở khóa người dùng",
    "user {username!r} not found":
        "không có người dùng «{username}»",
    "you cannot disable yourself":
        "bạn không thể tự khóa tài khoản của mình",
    "code: 8 characters like 7KQM-X3HC, as printed on the slip":
        "mã: 8 ký tự như 7KQM-X3HC, đúng như in trên phiếu",
    "consent: read and accept how your data is used":
        "đồng ý: hãy đọc và đồng ý với cách dữ liệu của bạn được sử dụng",
    "code: no such stall, or the code is not for it":
        "mã: không có sạp này, hoặc mã không dành cho sạp này",
    "phone {_masked_phone(phone)}: already used by another login; ask the bank staff":
        "số điện thoại {_masked_phone(phone)}: đã được dùng cho một tài khoản đăng nhập khác; hãy hỏi nhân viên ngân "
        "hàng",
    "only a stall owner can ask to erase their stall's data":
        "chỉ chủ sạp mới được yêu cầu xóa dữ liệu của sạp mình",
    # services/census.py
    "stall_code: {code!r} is the same stall as row {seen[where]} for {found.code} {month}":
        "mã sạp: «{code}» là cùng một sạp với dòng {seen[where]} của {found.code} {month}",
    "stall_code: {first_code!r} is the same stall as row {twin} ({code!r}) for {month}: keep one row":
        "mã sạp: «{first_code}» là cùng một sạp với dòng {twin} («{code}») của {month}: giữ một dòng",
    "period: no month for this row (add a Kỳ column or choose the period when importing)":
        "kỳ: dòng này không có tháng (thêm cột Kỳ hoặc chọn kỳ khi nhập)",
    # services/demo.py
    "the registry already holds data: use --fresh to replace it, or --db to choose another file":
        "sổ đăng ký đã có dữ liệu: dùng --fresh để thay thế, hoặc --db để chọn tệp khác",
    # services/demo_activity.py
    "months: 1 to 24, got {months}":
        "số tháng: từ 1 đến 24, nhận được {months}",
    "no demo markets in this registry: run `market40 demo` first":
        "sổ đăng ký này không có chợ mẫu: hãy chạy `market40 demo` trước",
    "this registry's demo markets hold accounts that the demo did not create: refusing to rewrite their history (use "
    "a fresh demo registry)":
        "các chợ mẫu của sổ đăng ký này có tài khoản không do dữ liệu mẫu tạo ra: không viết lại lịch sử của chúng "
        "(hãy dùng một sổ đăng ký mẫu mới)",
    # services/erasure.py
    "stall {ref}: no erasure request":
        "sạp {ref}: không có yêu cầu xóa dữ liệu",
    "stall {ref}: the erasure request was already carried out":
        "sạp {ref}: yêu cầu xóa dữ liệu đã được thực hiện",
    # services/fees.py
    "template: one of {', '.join(SCHEMAS)}, got {what!r}":
        "mẫu: một trong {', '.join(SCHEMAS)}, nhận được «{what}»",
    "{self.actor.role} accounts cannot change market fees":
        "tài khoản {self.actor.role} không được thay đổi phí chợ",
    "{self.actor.role} accounts cannot {what}":
        "tài khoản {self.actor.role} không được {what}",
    "market {market.code}: no collection account yet (market40 fee account set {market.code} --bank … --account … "
    "--holder …)":
        "chợ {market.code}: chưa có tài khoản thu phí (market40 fee account set {market.code} --bank … --account … "
        "--holder …)",
    "code: dòng {seen[key]} đã có khoản {tariff.code} cùng hạng, vị trí và ngày hiệu lực (same tariff as row "
    "{seen[key]})":
        "mã biểu phí: dòng {seen[key]} đã có khoản {tariff.code} cùng hạng, vị trí và ngày hiệu lực",
    "market_code: thiếu mã chợ (cột Mã chợ hoặc --market) (no market)":
        "mã chợ: thiếu mã chợ (cột Mã chợ hoặc --market)",
    "stall_code: chợ {code} không có sạp {row.values.get('stall_code')!r} (no such stall)":
        "mã sạp: chợ {code} không có sạp «{row.values.get('stall_code')}»",
    "stall_code: sạp này đã có ở dòng {seen[marker]} (same stall as row {seen[marker]})":
        "mã sạp: sạp này đã có ở dòng {seen[marker]}",
    "area: cần diện tích hoặc vị trí (an area or a position class)":
        "diện tích: cần diện tích hoặc hạng vị trí",
    "code: {values.get('code')!r} không phải khoản thu theo chỉ số hoặc lượt (not a metered or per-entry tariff: {', "
    "'.join(sorted(metered)) or '—'})":
        "mã biểu phí: «{values.get('code')}» không phải khoản thu theo chỉ số hoặc theo lượt (các khoản đó: {', "
        "'.join(sorted(metered)) or '—'})",
    "current: chỉ số mới {current} nhỏ hơn chỉ số cũ {previous} (below the previous reading)":
        "chỉ số mới: chỉ số mới {current} nhỏ hơn chỉ số cũ {previous}",
    "quantity: {quantity} khác chỉ số mới − cũ = {current - previous} (differs from current − previous)":
        "số lượng: {quantity} khác chỉ số mới − cũ = {current - previous}",
    "quantity: cần chỉ số cũ và mới, hoặc số lượng (both readings, or a quantity)":
        "số lượng: cần cả chỉ số cũ và mới, hoặc số lượng",
    "bill {number!r} not found":
        "không có hóa đơn «{number}»",
    "this is not your stall's bill":
        "đây không phải hóa đơn của sạp bạn",
    "only a stall owner has their own bills":
        "chỉ chủ sạp mới có hóa đơn của riêng mình",
    "bill {view.number} is already paid in full":
        "hóa đơn {view.number} đã nộp đủ",
    "amount: {money(value)} nhiều hơn số còn nợ {money(view.owed)} (more than owed)":
        "số tiền: {money(value)} nhiều hơn số còn nợ {money(view.owed)}",
    "bill {view.number}: no receipt yet — {view.state_label} ({money(view.paid)} of {money(view.amount)})":
        "hóa đơn {view.number}: chưa có biên lai — {view.state_label} ({money(view.paid)} trên {money(view.amount)})",
    # services/imports.py
    "account_holder: needed with the QR payload (the name as the bank shows it)":
        "tên chủ tài khoản: cần ghi cùng nội dung mã QR (tên đúng như ngân hàng hiển thị)",
    "closed_on: {_day(item.closed)} is before the stall opened ({stall.opened_on:%d/%m/%Y})":
        "ngày nghỉ: {_day(item.closed)} trước ngày sạp mở ({stall.opened_on:%d/%m/%Y})",
    "registered_on: {_day(item.registered)} is after the account was verified ({_day(account.verified_at)})":
        "ngày đăng ký: {_day(item.registered)} sau ngày tài khoản được xác minh ({_day(account.verified_at)})",
    "{name}: {_day(start)} is before the stall's current account was {'verified' if latest == account.verified_at "
    "else 'registered'} ({_day(latest)}); the new account replaces it from this day":
        "{name}: {_day(start)} trước ngày tài khoản hiện tại của sạp được xác minh hoặc đăng ký ({_day(latest)}); "
        "tài khoản mới thay thế tài khoản đó từ ngày này",
    "market_code: {code!r} is already on row {seen[code]}":
        "mã chợ: «{code}» đã có ở dòng {seen[code]}",
    # services/live.py
    "amount: 1 to 499.999.999 đồng, got {amount!r}":
        "số tiền: từ 1 đến 499.999.999 đồng, nhận được «{amount}»",
    "stall {stall_id}: not found":
        "sạp {stall_id}: không tìm thấy",
    "no such requested amount":
        "không có yêu cầu thanh toán số tiền này",
    "the stall has no account to be paid into":
        "sạp chưa có tài khoản để nhận tiền",
    "an owner (or their helper) acts for their own stall only":
        "chủ sạp (hoặc người nhà được cho xem loa) chỉ thao tác cho sạp của mình",
    "a stall's payments are its owner's":
        "các khoản thanh toán của sạp thuộc về chủ sạp",
    "only a stall owner gives helpers a view of the stall's loa":
        "chỉ chủ sạp mới được cho người nhà xem loa của sạp",
    "no such helper link":
        "không có liên kết xem loa này của người nhà",
    "older-than: a number and d, w, m or y (e.g. 90d), got {text!r}":
        "older-than: một số kèm d, w, m hoặc y (ví dụ 90d), nhận được «{text}»",
    "older-than: at least one day":
        "older-than: ít nhất một ngày",
    "retention is run by operators and administrators":
        "việc xóa dữ liệu cũ do người vận hành và quản trị viên thực hiện",
    "erasure is carried out by staff":
        "việc xóa dữ liệu do nhân viên ngân hàng thực hiện",
    # services/localities.py
    "{actor.role} accounts cannot load administrative units":
        "tài khoản {actor.role} không được nạp đơn vị hành chính",
    # services/posters.py
    "serial: not a poster serial (like P-0K3Q7), got {serial!r}":
        "số sê-ri: không phải số sê-ri poster (như P-0K3Q7), nhận được «{serial}»",
    "serial: the check symbol of {serial!r} does not match (mistyped?)":
        "số sê-ri: ký tự kiểm tra của «{serial}» không khớp (gõ nhầm?)",
    "stall {ref}: closed; its poster must not hang":
        "sạp {ref}: đã nghỉ; không được treo poster của sạp",
    "stall {ref}: no registered account (no QR yet)":
        "sạp {ref}: chưa đăng ký tài khoản (chưa có mã QR)",
    "stall {ref}: the account is {account.status}; only verified accounts print":
        "sạp {ref}: tài khoản đang ở trạng thái «{account.status}»; chỉ tài khoản đã xác minh mới được in",
    # services/qr.py
    "bank: give either a bank (BIN, code or name) or a BIN":
        "ngân hàng: chỉ ghi một trong hai: ngân hàng (BIN, mã viết tắt hoặc tên) hoặc BIN",
    # services/reconcile.py
    "reconciliation covers the whole registry: operators and administrators only":
        "đối soát bao trùm toàn bộ sổ đăng ký: chỉ người vận hành và quản trị viên",
    "idle_months: 1 to 24, got {idle_months}":
        "số tháng không hoạt động: từ 1 đến 24, nhận được {idle_months}",
    # services/recovery.py
    "code: 8 characters like 7KQM-X3HC, as in the message":
        "mã: 8 ký tự như 7KQM-X3HC, đúng như trong tin nhắn",
    "code: wrong, used or expired; ask for a new one":
        "mã: sai, đã dùng hoặc đã hết hạn; hãy xin mã mới",
    # services/registry.py
    "stall: write it as MARKET/STALL, e.g. HL1/A-12, got {ref!r}":
        "sạp: ghi dạng CHỢ/SẠP, ví dụ HL1/A-12, nhận được «{ref}»",
    "{self.actor.role} accounts can only read":
        "tài khoản {self.actor.role} chỉ được xem",
    "market {market.code}: outside your markets":
        "chợ {market.code} ngoài phạm vi của bạn",
    "this is not your stall":
        "đây không phải sạp của bạn",
    "locality {code!r} not found (không có đơn vị hành chính mã này trong sổ đăng ký): load the province's units "
    "with `market40 locality load PROVINCE`, or see `market40 locality list`":
        "không có đơn vị hành chính mã «{code}» trong sổ đăng ký: nạp các đơn vị của tỉnh bằng `market40 locality "
        "load PROVINCE`, hoặc xem `market40 locality list`",
    "market {code!r} not found":
        "không có chợ «{code}» trong sổ đăng ký",
    "market {found.code}: not your market":
        "chợ {found.code} ngoài phạm vi của bạn",
    "stall {market_code}/{stall_code} not found":
        "không có sạp {market_code}/{stall_code} trong sổ đăng ký",
    "stall {ref}: already closed{since}":
        "sạp {ref} đã nghỉ kinh doanh{since}",
    "stall {from_ref} and {into_ref} are the same stall":
        "sạp {from_ref} và {into_ref} là cùng một sạp",
    "stall merge works within one market: {from_ref} and {into_ref} are in different markets":
        "chỉ gộp được sạp trong cùng một chợ: {from_ref} và {into_ref} ở hai chợ khác nhau",
    "keep: 'from' or 'into', got {keep!r}":
        "keep: 'from' hoặc 'into', nhận được «{keep}»",
    "stall merge: both {src_ref} ({accounts.mask(src_current.number)}, {src_current.status}) and {dst_ref} "
    "({accounts.mask(dst_current.number)}, {dst_current.status}) have a current account; say which one to keep "
    "(--keep from or --keep into)":
        "gộp sạp: cả {src_ref} ({accounts.mask(src_current.number)}, {src_current.status}) và {dst_ref} "
        "({accounts.mask(dst_current.number)}, {dst_current.status}) đều có tài khoản hiện hành; hãy chọn tài khoản "
        "giữ lại (--keep from hoặc --keep into)",
    "reason: say why the stall is removed":
        "lý do: hãy ghi lý do xóa sạp",
    "stall {ref}: it has {len(kept)} account(s) that were pending or verified; merge it into the right stall "
    "(`market40 stall merge`) or close it (`market40 stall close`) instead":
        "sạp {ref}: có {len(kept)} tài khoản đang chờ hoặc đã xác minh; hãy gộp vào đúng sạp (`market40 stall "
        "merge`) hoặc cho sạp nghỉ (`market40 stall close`)",
    "stall {ref}: an owner login belongs to it; merge it into the right stall instead":
        "sạp {ref}: sạp đã có tài khoản đăng nhập của chủ sạp; hãy gộp vào đúng sạp",
    "officers see masked account numbers only":
        "cán bộ chỉ xem được số tài khoản đã che",
    "qr: no QR code found in the photo; take it again, closer and in focus":
        "mã QR: không tìm thấy mã QR trong ảnh; hãy chụp lại, gần hơn và rõ nét",
    "image file not found: {text!r}":
        "không tìm thấy tệp ảnh «{text}»",
    "qr: two different merchant QRs given":
        "mã QR: có hai mã QR điểm bán khác nhau",
    "account: a merchant QR needs its settlement account (the account the bank pays the takings into), as the bank "
    "feed names it":
        "số tài khoản: mã QR điểm bán cần tài khoản nhận tiền (tài khoản ngân hàng chuyển doanh thu vào), đúng như "
        "dữ liệu của ngân hàng ghi",
    "{name}: only a household-business (HKD) account has a business registration number or tax code":
        "{name}: chỉ tài khoản hộ kinh doanh (HKD) mới có số đăng ký kinh doanh hoặc mã số thuế",
    "reference_label: MoMo wallets need the MOMOW2W… reference shown in the owner's MoMo receive-QR (tag 62.05)":
        "mã tham chiếu: ví MoMo cần mã tham chiếu MOMOW2W… trong mã QR nhận tiền MoMo của chủ sạp (thẻ 62.05)",
    "bank: {bank!r} is not the bank of the scanned QR (BIN {scanned.bin}); the QR's bank is registered, leave the "
    "bank empty":
        "ngân hàng: «{bank}» không phải ngân hàng của mã QR đã quét (BIN {scanned.bin}); ngân hàng của mã QR sẽ được "
        "đăng ký, hãy để trống ô ngân hàng",
    "account: {number!r} is not the number in the scanned QR ({accounts.mask(scanned.account)}); the QR's number is "
    "registered":
        "số tài khoản: «{number}» không phải số tài khoản trong mã QR đã quét ({accounts.mask(scanned.account)}); số "
        "trong mã QR sẽ được đăng ký",
    "reference_label: {reference!r} is not the reference in the scanned QR":
        "mã tham chiếu: «{reference}» không phải mã tham chiếu trong mã QR đã quét",
    "stall {ref}: no pending or verified account to {action}":
        "sạp {ref} không có tài khoản đang chờ hoặc đã xác minh để {action}",
    "stall {ref}: the account is {account.status}; only {' or '.join(allowed_from)} accounts can be {new}":
        "sạp {ref}: tài khoản đang ở trạng thái «{account.status}»; chỉ tài khoản {' or '.join(allowed_from)} mới "
        "được {new}",
    "reason: say why the account is {new}":
        "lý do: hãy ghi lý do tài khoản bị {new}",
    "cannot verify: {'; '.join(problems)}":
        "không xác minh được: {'; '.join(problems)}",
    "status: one of {', '.join(ACCOUNT_STATUSES)}, got {status!r}":
        "trạng thái: một trong {', '.join(ACCOUNT_STATUSES)}, nhận được «{status}»",
    "only administrators add users":
        "chỉ quản trị viên mới được thêm người dùng",
    "role: one of {', '.join(ROLES)}, got {role!r}":
        "vai trò: một trong {', '.join(ROLES)}, nhận được «{role}»",
    "user {name!r} already exists":
        "người dùng «{name}» đã có",
    "stall {stall}: already has an owner login ({holder.username}); one owner login per stall — issue a new "
    "enrollment code to change its phone or password":
        "sạp {stall}: đã có tài khoản đăng nhập của chủ sạp ({holder.username}); mỗi sạp một tài khoản đăng nhập — "
        "muốn đổi số điện thoại hoặc mật khẩu, hãy cấp mã đăng ký mới",
    "only administrators list users":
        "chỉ quản trị viên mới được xem danh sách người dùng",
    "give either a market or a stall":
        "hãy chọn một chợ hoặc một sạp",
    "valid_days: 1–90 days, got {valid_days}":
        "số ngày hiệu lực: 1–90 ngày, nhận được {valid_days}",
    "{name}: required":
        "{name}: bắt buộc",
    "{name}: a date as YYYY-MM-DD or DD/MM/YYYY, got {value!r}":
        "{name}: ghi ngày dạng YYYY-MM-DD hoặc DD/MM/YYYY, nhận được «{value}»",
    "{name}: có/không (yes/no, x or empty), got {value!r}":
        "{name}: có/không (x hoặc để trống), nhận được «{value}»",
    # services/reports.py
    "by: one of {', '.join(VIEWS)}, got {by!r}":
        "by: một trong {', '.join(VIEWS)}, nhận được «{by}»",
    "level: one of {', '.join(LEVELS)} (district: the same as former-district), got {level!r}":
        "cấp: một trong {', '.join(LEVELS)} (district giống former-district), nhận được «{level}»",
    "months: 1 to 36, got {months}":
        "số tháng: từ 1 đến 36, nhận được {months}",
    "target: a share above 0 and at most 1 (100%), got {target}":
        "chỉ tiêu: một tỷ lệ lớn hơn 0 và tối đa 1 (100%), nhận được {target}",
    "adoption reports are for market boards, officers and staff":
        "báo cáo sử dụng dành cho ban quản lý chợ, cán bộ và nhân viên ngân hàng",
    "the provincial target is set by administrators":
        "chỉ tiêu của tỉnh do quản trị viên đặt",
    "province: {province!r} has no localities in the registry (known: {', '.join(sorted(known)) or 'none'})":
        "tỉnh: «{province}» không có đơn vị hành chính nào trong sổ đăng ký (đã có: {', '.join(sorted(known)) or "
        "'none'})",
    "kind: one of {', '.join(rules.ANOMALY_KINDS)}, got {kind!r}":
        "loại bất thường: một trong {', '.join(rules.ANOMALY_KINDS)}, nhận được «{kind}»",
    "format: one of {', '.join(WRITERS)}, got {fmt!r}":
        "định dạng: một trong {', '.join(WRITERS)}, nhận được «{fmt}»",
    # services/second_factor.py
    "2FA roles: unknown role(s) {', '.join(unknown)}; roles are {', '.join(ROLES)}":
        "vai trò cần xác thực hai lớp: vai trò không biết {', '.join(unknown)}; các vai trò là {', '.join(ROLES)}",
    "the deployment key is too short":
        "khóa triển khai quá ngắn",
    "TOTP secret too long":
        "khóa bí mật TOTP quá dài",
    "the stored second-factor secret is damaged; an administrator must reset it":
        "khóa bí mật xác thực hai lớp đã lưu bị hỏng; quản trị viên phải đặt lại",
    "the second-factor secret was sealed under another deployment key; an administrator must reset it (market40 user "
    "reset-2fa)":
        "khóa bí mật xác thực hai lớp được niêm phong bằng một khóa triển khai khác; quản trị viên phải đặt lại "
        "(market40 user reset-2fa)",
    "code: {message}":
        "mã: {message}",
    "this user has no second factor":
        "người dùng này chưa có xác thực hai lớp",
    "your role requires a second factor":
        "vai trò của bạn bắt buộc xác thực hai lớp",
    "only administrators reset a second factor":
        "chỉ quản trị viên mới được đặt lại xác thực hai lớp",
    # services/simulate.py
    "market {market_code!r}: not found":
        "không có chợ «{market_code}» trong sổ đăng ký",
    "market {market.code}: no stall with an account to pay into":
        "chợ {market.code}: không có sạp nào có tài khoản để nhận tiền",
    # services/transfers.py
    "format: one of {', '.join(LAYOUTS)}, got {fmt!r}":
        "định dạng: một trong {', '.join(LAYOUTS)}, nhận được «{fmt}»",
    "{name}: {layout.name} is a JSON-lines format, this is a CSV file":
        "{name}: {layout.name} là định dạng JSON theo dòng, còn tệp này là tệp CSV",
    "{name}: {lines} lines in the file, {len({p.number for p in parsed})} read; nothing was imported":
        "{name}: tệp có {lines} dòng, đọc được {len({p.number for p in parsed})}; chưa nhập gì",
    "{name}: a {candidate.title} in XLSX names its account only in the title rows: give the account number "
    "(--account)":
        "{name}: tệp XLSX {candidate.title} chỉ ghi số tài khoản ở các dòng tiêu đề: hãy cho biết số tài khoản "
        "(--account)",
    # sniff.py
    "{path}: no such file":
        "{path}: không có tệp này",
    "{path}: is a directory, not a CSV or XLSX file":
        "{path}: là thư mục, không phải tệp CSV hoặc XLSX",
    "{path}: cannot be opened ({exc.strerror})":
        "{path}: không mở được ({exc.strerror})",
    "{name}: the file is empty":
        "{name}: tệp trống",
    "{name}: this is an XLSX workbook (a zip archive), not a CSV text file":
        "{name}: đây là sổ tính XLSX (tệp nén zip), không phải tệp văn bản CSV",
    "{name}: this is {what}":
        "{name}: đây là {what}",
    "{name}: not a valid XLSX file (it is not a zip archive)":
        "{name}: không phải tệp XLSX hợp lệ (không phải tệp nén zip)",
    "{name}: the file is empty (blank lines only)":
        "{name}: tệp trống (chỉ có dòng trắng)",
    "{name}: not a CSV text file: {problem}":
        "{name}: không phải tệp văn bản CSV: {problem}",
    "{name}: not a CSV text file: {fallback}":
        "{name}: không phải tệp văn bản CSV: {fallback}",
    "{name}: not a CSV text file: {problem}, and it is not Windows-1258 either; save it from Excel as 'CSV UTF-8 "
    "(Comma delimited)'":
        "{name}: không phải tệp văn bản CSV: {problem}, và cũng không phải mã Windows-1258; hãy lưu lại từ Excel "
        "dạng 'CSV UTF-8 (Comma delimited)'",
    "{found.name}: line {done + 1}: not valid {found.encoding} text ({exc.reason}); save it from Excel as 'CSV UTF-8 "
    "(Comma delimited)'":
        "{found.name}: dòng {done + 1}: không phải văn bản {found.encoding} hợp lệ ({exc.reason}); hãy lưu lại từ "
        "Excel dạng 'CSV UTF-8 (Comma delimited)'",
    # speech.py
    "amount: a whole number of đồng, got {n!r}":
        "số tiền: một số đồng nguyên, nhận được «{n}»",
    "amount: 0 to {MAX_AMOUNT}, got {n}":
        "số tiền: từ 0 đến {MAX_AMOUNT}, nhận được {n}",
    # tabular.py
    "{name}: cannot be read ({exc})":
        "{name}: không đọc được ({exc})",
    "{name}: duplicate column: {other!r} (column {_column_letter(other_position + column_offset)}) and {text!r} "
    "(column {_column_letter(position + column_offset)}){meaning}":
        "{name}: trùng cột: «{other}» (cột {_column_letter(other_position + column_offset)}) và «{text}» (cột "
        "{_column_letter(position + column_offset)}){meaning}",
    "{name}: missing required column{'s' if len(missing) > 1 else ''}: {listed} (header read from row {number})":
        "{name}: thiếu cột bắt buộc: {listed} (dòng tiêu đề đọc ở dòng {number})",
    "{name}: no header row (the {'sheet' if kind == 'xlsx' else 'file'} is empty)":
        "{name}: không có dòng tiêu đề (tệp trống)",
    "{name}: row {number + 1}: malformed CSV ({exc}); check the quotes in that row":
        "{name}: dòng {number + 1}: dòng CSV sai cấu trúc ({exc}); hãy kiểm tra dấu ngoặc kép trong dòng đó",
    "{name}: row {number + 1}: cannot be read ({exc})":
        "{name}: dòng {number + 1}: không đọc được ({exc})",
    "{name}: this is an OpenDocument spreadsheet; save it as .xlsx":
        "{name}: đây là bảng tính OpenDocument; hãy lưu lại dạng .xlsx",
    "{name}: this is a binary .xlsb workbook; save it as .xlsx":
        "{name}: đây là sổ tính nhị phân .xlsb; hãy lưu lại dạng .xlsx",
    "{name}: a zip archive, but not an Excel workbook":
        "{name}: là tệp nén zip nhưng không phải sổ tính Excel",
    "{name}: the workbook has no worksheet":
        "{name}: sổ tính không có trang tính nào",
    "{name}: no sheet named {wanted!r}; the sheets are {listed}":
        "{name}: không có trang tính tên «{wanted}»; các trang tính là {listed}",
    "{name}: not a valid XLSX file: the zip archive is damaged or truncated":
        "{name}: không phải tệp XLSX hợp lệ: tệp nén zip bị hỏng hoặc bị cắt cụt",
    "{name}: sheet {sheet_name!r} is missing from the archive":
        "{name}: thiếu trang tính «{sheet_name}» trong tệp nén",
    "{name}: sheet {sheet_name!r} has a cell as far as {_column_letter(last_column - 1)}{last_row} ({last_row * "
    "last_column:,} cells to read; the limit is {MAX_CELLS:,}); delete the stray cells after the list (Ctrl+End in "
    "Excel shows the last one) or copy the list into a new workbook":
        "{name}: trang tính «{sheet_name}» có ô xa tới {_column_letter(last_column - 1)}{last_row} ({last_row * "
        "last_column:,} ô cần đọc; giới hạn là {MAX_CELLS:,}); hãy xóa các ô thừa sau danh sách (Ctrl+End trong "
        "Excel chỉ ra ô cuối cùng) hoặc chép danh sách sang sổ tính mới",
    "{name}: not a valid XLSX file ({exc})":
        "{name}: không phải tệp XLSX hợp lệ ({exc})",
    "{name}: row {row}: a cell refers to shared text {text!r}, which the workbook does not have":
        "{name}: dòng {row}: một ô trỏ tới chuỗi văn bản dùng chung {text!r} mà sổ tính không có",
    "{name}: row {row}: the number cell holds {text!r}":
        "{name}: dòng {row}: ô kiểu số lại chứa {text!r}",
    "{target}: can only write .csv or .xlsx files":
        "{target}: chỉ ghi được tệp .csv hoặc .xlsx",
    # transactions.py
    "{field}: not a whole number of đồng written as {style}, got {text!r}":
        "{field}: không phải số đồng nguyên viết theo kiểu {style}, nhận được «{text}»",
    "{field}: not a date in the formats {' or '.join(formats)}, got {text!r}":
        "{field}: không phải ngày theo định dạng {' or '.join(formats)}, nhận được «{text}»",
    "{field}: 1 to 19 letters or digits, got {_strip(value)!r}":
        "{field}: 1–19 chữ cái hoặc chữ số, nhận được «{_strip(value)}»",
    "{field}: required, at most 64 characters, got {text!r}":
        "{field}: bắt buộc, tối đa 64 ký tự, nhận được «{text}»",
    "direction: in or out":
        "chiều giao dịch: in (vào) hoặc out (ra)",
    "amount: must be at least 1 đồng":
        "số tiền: ít nhất 1 đồng",
    "{name}: no header of {wanted}{where} (saw {shown}){known}; choose the format with --format (market40 tx formats "
    "lists them)":
        "{name}: không có dòng tiêu đề của {wanted}{where} (thấy {shown}){known}; hãy chọn định dạng bằng --format "
        "(market40 tx formats liệt kê các định dạng)",
    # txstore.py
    "no transaction store at {self.path}: import transfers first (market40 tx import)":
        "chưa có kho giao dịch tại {self.path}: hãy nhập giao dịch trước (market40 tx import)",
    "cannot open the transaction store {self.path}: {error}":
        "không mở được kho giao dịch {self.path}: {error}",
    "{name}: a {layout.title} names its account in the title rows, and none was found: give the account number "
    "(--account)":
        "{name}: tệp {layout.title} ghi số tài khoản ở các dòng tiêu đề, nhưng không tìm thấy: hãy cho biết số tài "
        "khoản (--account)",
    # vietqr.py
    "{field}: must be a whole number of đồng given as an integer or text, not a {type(value).__name__}, got {value!r}":
        "{field}: phải là số đồng nguyên, ghi dạng số nguyên hoặc văn bản, không phải {type(value).__name__}, nhận "
        "được «{value}»",
    "{field}: must be a whole number of đồng (VND has no decimals), got {value!r}":
        "{field}: phải là số đồng nguyên (VND không có phần thập phân), nhận được «{value}»",
    "{field}: must be at least 1 đồng, got {value!r}":
        "{field}: phải ít nhất 1 đồng, nhận được «{value}»",
    "{field}: not a number of đồng, got {value!r}":
        "{field}: không phải số đồng, nhận được «{value}»",
    "{field}: must be an integer or text, got {type(value).__name__} {value!r}":
        "{field}: phải là số nguyên hoặc văn bản, nhận được {type(value).__name__} «{value}»",
    "{field}: must be from 1 to {MAX_AMOUNT - 1:,} đồng (NAPAS 247 single-transfer cap), got {number:,}":
        "{field}: phải từ 1 đến {MAX_AMOUNT - 1:,} đồng (hạn mức một lần chuyển NAPAS 247), nhận được {number:,}",
    "{name}: must be text, got {type(value).__name__} {value!r}":
        "{name}: phải là văn bản, nhận được {type(value).__name__} «{value}»",
    "{name}: only printable ASCII is allowed after removing Vietnamese marks, found {first_non_ans(text)!r} in "
    "{value!r}":
        "{name}: sau khi bỏ dấu tiếng Việt chỉ được dùng ký tự ASCII in được, có «{first_non_ans(text)}» trong "
        "«{value}»",
    "{name}: at most {limit} characters, got {len(text)} ({text!r})":
        "{name}: tối đa {limit} ký tự, nhận được {len(text)} ký tự («{text}»)",
    "{name}: tag {tag!r} is not a free 2-digit tag":
        "{name}: thẻ «{tag}» không phải thẻ 2 chữ số còn trống",
    "{name}: tag {tag} value must be 1–99 characters, got {value!r}":
        "{name}: giá trị thẻ {tag} phải có 1–99 ký tự, nhận được «{value}»",
    "account: give either an account number or a card number, not both":
        "số tài khoản: chỉ ghi số tài khoản hoặc số thẻ, không ghi cả hai",
    "account: give either an account number or a card number":
        "số tài khoản: hãy ghi số tài khoản hoặc số thẻ",
    "card: must be 16–19 digits, got {card!r}":
        "số thẻ: phải gồm 16–19 chữ số, nhận được «{card}»",
    "dynamic: must be True or False, got {dynamic!r}":
        "dynamic: phải là True hoặc False, nhận được «{dynamic}»",
    "additional data (62): bill number, reference label and purpose together take {len(template_62)} characters, at "
    "most 99 fit":
        "dữ liệu bổ sung (62): số hóa đơn, mã tham chiếu và nội dung chuyển khoản cộng lại dài {len(template_62)} ký "
        "tự, tối đa 99",
    "payload: must be text, got {type(text).__name__}":
        "nội dung mã QR: phải là văn bản, nhận được {type(text).__name__}",
    "payload: empty":
        "nội dung mã QR: đang trống",
    "payload: tag {tag} appears twice (again at character {position})":
        "nội dung mã QR: thẻ {tag} xuất hiện hai lần (lần nữa ở ký tự {position})",
    "payload: must start with the payload format indicator (tag 00), starts with tag {objects[0][0]}":
        "nội dung mã QR: phải bắt đầu bằng chỉ báo định dạng (thẻ 00), nhưng bắt đầu bằng thẻ {objects[0][0]}",
    "00 payload format indicator: must be '01', got {root['00']!r}":
        "00 chỉ báo định dạng: phải là '01', nhận được «{root['00']}»",
    "payload: no CRC (tag 63) at the end":
        "nội dung mã QR: thiếu mã kiểm tra CRC (thẻ 63) ở cuối",
    "63 CRC: must be the last object, 4 hex digits":
        "63 CRC: phải là đối tượng cuối cùng, 4 chữ số hệ 16",
    "63 CRC: must be 4 hex digits, got {found!r}":
        "63 CRC: phải gồm 4 chữ số hệ 16, nhận được «{found}»",
    "payload: not a VietQR transfer: {kind}":
        "nội dung mã QR: không phải mã chuyển khoản VietQR: {kind}",
    "38.02 service code: must be QRIBFTTA or QRIBFTTC, got {service!r}":
        "38.02 mã dịch vụ: phải là QRIBFTTA hoặc QRIBFTTC, nhận được «{service}»",
    "38.01 beneficiary: missing (BIN and account)":
        "38.01 người thụ hưởng: thiếu (BIN và số tài khoản)",
    "38.01 beneficiary: holds the service code {sub_value!r} (sub-tag {sub_tag}), which belongs in 38.02: a wrong "
    "38.01 length swallowed it (a known generator bug); the payload is malformed":
        "38.01 người thụ hưởng: chứa mã dịch vụ «{sub_value}» (thẻ con {sub_tag}) vốn thuộc 38.02: độ dài 38.01 sai "
        "đã nuốt mất nó (lỗi đã biết của một số phần mềm tạo mã); nội dung mã QR bị sai cấu trúc",
    "38.01 beneficiary: unexpected sub-tag {sub_tag} ({sub_value!r}); only 00 (BIN) and 01 (account) are defined":
        "38.01 người thụ hưởng: thẻ con {sub_tag} không mong đợi («{sub_value}»); chỉ có 00 (BIN) và 01 (số tài "
        "khoản)",
    "38.01.00 BIN: must be 6 digits, got {bank!r}":
        "38.01.00 mã ngân hàng (BIN): phải gồm 6 chữ số, nhận được «{bank}»",
    "38.01.01 account: missing":
        "38.01.01 số tài khoản: bị thiếu",
    "38.01.01 account: {ident!r} holds a service code: a wrong length swallowed 38.02 into the account (a known "
    "generator bug); the payload is malformed":
        "38.01.01 số tài khoản: «{ident}» chứa mã dịch vụ: độ dài sai đã nuốt 38.02 vào số tài khoản (lỗi đã biết "
        "của một số phần mềm tạo mã); nội dung mã QR bị sai cấu trúc",
    "38.01.01 account: at most 19 characters, got {len(ident)}":
        "38.01.01 số tài khoản: tối đa 19 ký tự, nhận được {len(ident)}",
    "38.01.01 card: must be 16–19 digits, got {ident!r}":
        "38.01.01 số thẻ: phải gồm 16–19 chữ số, nhận được «{ident}»",
    "38.01.01 account: letters and digits only ([0-9A-Za-z]), got {ident!r} ({_what_is_wrong(ident)}); a bank "
    "account number never has them, a payment to it would fail or reach someone else":
        "38.01.01 số tài khoản: chỉ gồm chữ cái và chữ số ([0-9A-Za-z]), nhận được «{ident}» "
        "({_what_is_wrong(ident)}); số tài khoản ngân hàng không bao giờ có các ký tự đó, chuyển tiền tới đó sẽ lỗi "
        "hoặc đến nhầm người",
    "01 point of initiation: must be 11 (static) or 12 (dynamic), got {root['01']!r}":
        "01 phương thức khởi tạo: phải là 11 (tĩnh) hoặc 12 (động), nhận được «{root['01']}»",
    "53 currency: must be 704 (VND), got {currency!r}":
        "53 loại tiền: phải là 704 (VND), nhận được «{currency}»",
    "58 country: missing; a VietQR transfer carries 5802VN (mandatory, NAPAS-VN Table 1)":
        "58 quốc gia: bị thiếu; mã chuyển khoản VietQR phải có 5802VN (bắt buộc, NAPAS-VN Bảng 1)",
    "58 country: must be VN, got {root['58']!r}":
        "58 quốc gia: phải là VN, nhận được «{root['58']}»",
    "54 amount: digits with no decimals (VND), got {raw!r}":
        "54 số tiền: chỉ gồm chữ số, không có phần thập phân (VND), nhận được «{raw}»",
    "54 amount: must be from 1 to {MAX_AMOUNT - 1:,} đồng (NAPAS 247 single-transfer cap), got {raw!r}":
        "54 số tiền: phải từ 1 đến {MAX_AMOUNT - 1:,} đồng (hạn mức một lần chuyển NAPAS 247), nhận được «{raw}»",
    "63 CRC: expected {expected}, found {found}: the payload was altered or badly generated":
        "63 CRC: cần {expected}, gặp {found}: nội dung mã QR đã bị sửa hoặc được tạo sai",
    "template {where}: sub-tag {sub} appears twice (character {position})":
        "mẫu {where}: thẻ con {sub} xuất hiện hai lần (ký tự {position})",
    # webhooks.py
    "webhook source name: 1–40 lower-case letters, digits, - or _, got {self.name!r}":
        "tên nguồn webhook: 1–40 chữ thường, chữ số, - hoặc _, nhận được «{self.name}»",
    "webhook provider: one of {', '.join(PROVIDERS)}, got {self.provider!r}":
        "nhà cung cấp webhook: một trong {', '.join(PROVIDERS)}, nhận được «{self.provider}»",
    "webhook source {self.name}: one or two secrets (current, previous) of at least 16 characters":
        "nguồn webhook {self.name}: một hoặc hai khóa bí mật (hiện tại, trước đó) dài ít nhất 16 ký tự",
    "webhook source {self.name}: auth hmac (or apikey for SePay), got {self.auth!r}":
        "nguồn webhook {self.name}: xác thực hmac (hoặc apikey với SePay), nhận được «{self.auth}»",
    "webhook configuration: not JSON ({error})":
        "cấu hình webhook: không phải JSON ({error})",
    "webhook source {source.name}: configured twice":
        "nguồn webhook {source.name}: được cấu hình hai lần",
    "webhook source {name!r}: not configured":
        "nguồn webhook «{name}»: chưa được cấu hình",
}


# --- click's own words, for a command line run in Vietnamese --------------------------------------

#: Headings of click's help pages → Vietnamese (click's English wording of any 8.x release).
CLICK_HEADINGS: dict[str, str] = {
    "Options": "Tùy chọn", "Commands": "Lệnh", "Arguments": "Tham số", "Positional arguments": "Tham số",
}

#: click's error messages (pattern over the English of any 8.x release) → Vietnamese. A message of no
#: listed kind stays as click says it.
CLICK_ERRORS: tuple[tuple[str, str], ...] = (
    (r"Missing (?P<what>option|argument|parameter):? (?P<p>.+?)\.\s+Choose from:\s*(?P<c>.+?)\.?",
     "Thiếu {what} {p}. Chọn một trong: {c}."),
    (r"Missing option (?P<p>.+?)\.?", "Thiếu tùy chọn {p}."),
    (r"Missing argument (?P<p>.+?)\.?", "Thiếu tham số {p}."),
    (r"Missing parameter:? (?P<p>.+?)\.?", "Thiếu tham số {p}."),
    (r"Missing command\.?", "Thiếu lệnh."),
    (r"No such option:? (?P<p>.+?)\.?(?: (?P<more>(?:Did you mean|\(Possible options|\(Did you mean).+))?",
     "Không có tùy chọn {p}.{more}"),
    (r"No such command:? (?P<p>.+?)\.?(?: (?P<more>(?:Did you mean|\(Possible|\(Did you mean).+))?",
     "Không có lệnh {p}.{more}"),
    (r"Did you mean (?P<p>.+)\?", "Có phải ý bạn là {p}?"),
    (r"\((?:Possible options|Did you mean one of):? (?P<p>.+?)\??\)", "(Có phải ý bạn là một trong: {p}?)"),
    (r"Invalid value for (?P<p>.+?): (?P<m>.+)", "Giá trị không hợp lệ cho {p}: {m}"),
    (r"Invalid value: (?P<m>.+)", "Giá trị không hợp lệ: {m}"),
    (r"(?P<v>.+) is not one of (?P<c>.+?)\.?", "{v} không phải một trong {c}."),
    (r"(?P<v>.+) is not a valid (?:integer|int)\.?", "{v} không phải số nguyên."),
    (r"(?P<v>.+) is not a valid (?:float|number)\.?", "{v} không phải số."),
    (r"(?P<v>.+) is not a valid (?:boolean|bool)\.?", "{v} không phải giá trị có/không."),
    (r"(?P<v>.+) is not a valid UUID\.?", "{v} không phải UUID."),
    (r"(?P<v>.+) is not in the range (?P<r>.+?)\.?", "{v} nằm ngoài khoảng {r}."),
    (r"(?P<k>File|Directory|Path|file|directory|path) (?P<f>.+) does not exist\.?", "{k} {f} không tồn tại."),
    (r"(?P<k>File|Directory|Path|file|directory|path) (?P<f>.+) is a file\.?", "{k} {f} là một tệp."),
    (r"(?P<k>File|Directory|Path|file|directory|path) (?P<f>.+) is a directory\.?", "{k} {f} là một thư mục."),
    (r"(?P<k>File|Directory|Path|file|directory|path) (?P<f>.+) is not (?P<a>readable|writable|executable)\.?",
     "không {a} {k} {f}."),
    (r"Could not open file (?P<f>.+?): (?P<m>.+)", "Không mở được tệp {f}: {m}"),
    (r"Option (?P<p>.+) requires an argument\.?", "Tùy chọn {p} cần một giá trị."),
    (r"Option (?P<p>.+) requires (?P<n>\d+) arguments\.?", "Tùy chọn {p} cần {n} giá trị."),
    (r"Option (?P<p>.+) does not take a value\.?", "Tùy chọn {p} không nhận giá trị."),
    (r"Argument (?P<p>.+) takes (?P<n>\d+) values\.?", "Tham số {p} cần {n} giá trị."),
    (r"Got unexpected extra arguments? \((?P<a>.+)\)", "Thừa tham số ({a})"),
    (r"(?P<v>.+) is not (?P<c>.+?)\.?", "{v} không phải {c}."),
)
_CLICK_WORDS = {"option": "tùy chọn", "argument": "tham số", "parameter": "tham số", "File": "Tệp", "file": "tệp", "Directory": "Thư mục", "directory": "thư mục", "Path": "Đường dẫn",
                "path": "đường dẫn", "readable": "đọc được", "writable": "ghi được", "executable": "chạy được"}


def click_text(message: str, lang: str = "vi") -> str:
    """One of click's own messages (a usage error) in ``lang``; one of no known kind stays as it is.

    >>> click_text("Missing option '--bank'.")
    "Thiếu tùy chọn '--bank'."
    >>> click_text("Invalid value for '--lang': 'fr' is not one of 'vi', 'en'.")
    "Giá trị không hợp lệ cho '--lang': 'fr' không phải một trong 'vi', 'en'."
    """
    if lang == "en":
        return message
    said = message.strip()
    for pattern, template in CLICK_ERRORS:
        found = _re.fullmatch(pattern, said, _re.DOTALL)
        if found:
            fields = {key: value or "" for key, value in found.groupdict().items()}
            for key in ("m", "more"):
                if fields.get(key):
                    fields[key] = (" " if key == "more" else "") + click_text(fields[key], lang)
            for key in ("k", "a", "what"):
                if key in fields:
                    fields[key] = _CLICK_WORDS.get(fields[key], fields[key])
            if "c" in fields:  # click lists the choices one a line
                fields["c"] = ", ".join(part.strip(" ,\t") for part in fields["c"].splitlines() if part.strip(" ,\t"))
            return template.format(**fields)
    return refusal(said, lang)  # a BadParameter raised with one of the library's messages


#: The bracketed notes click adds to an option's help, in Vietnamese.
_CLICK_NOTES = ((r"\bdefault: ", "mặc định: "), (r"\brequired\b", "bắt buộc"), (r"\benv var: ", "biến môi trường: "),
                (r"\(dynamic\)", "(tùy lúc chạy)"), (r"\bdeprecated\b", "không dùng nữa"),
                (r"\bDEPRECATED\b", "KHÔNG DÙNG NỮA"))


def option_help(said: str, lang: str = "vi") -> str:
    """One line of an option's help (click's record: the help, then its ``[default: …]`` notes) in ``lang``:
    the help from :data:`OPTION_HELP`, click's notes translated. Help of no listed kind stays as it is."""
    if lang == "en" or not said:
        return said
    english = said if said in OPTION_HELP else next(
        (key for key in sorted(OPTION_HELP, key=len, reverse=True) if said.startswith(key)), None)
    if english is None:
        if not said.startswith("["):
            return said
        english, rest = "", said
    else:
        rest = said[len(english):]
    for pattern, replacement in _CLICK_NOTES:
        rest = _re.sub(pattern, replacement, rest)
    return (OPTION_HELP[english] if english else "") + rest


#: The help of every option (its English text, as written in cli.py) → Vietnamese. tests/test_cli_lang.py
#: walks every command and fails on an option whose help is missing here.
OPTION_HELP: dict[str, str] = {
    "Show this message and exit.": "Hiện hướng dẫn này rồi thoát.",
    "Show the version and exit.": "Hiện phiên bản rồi thoát.",
    "Registry database: an SQLite file path or a postgresql:// URL (default ./market40.db; env "
    "MARKET40_DATABASE_URL).":
        "Cơ sở dữ liệu sổ đăng ký: đường dẫn tệp SQLite hoặc địa chỉ postgresql:// (mặc định ./market40.db; biến môi "
        "trường MARKET40_DATABASE_URL).",
    "Language of messages: vi (tiếng Việt) or en. Default: MARKET40_LANG, then the locale (LC_ALL, LC_MESSAGES, LANG "
    "starting with vi), else en. Files and --json never change.":
        "Ngôn ngữ thông báo: vi (tiếng Việt) hoặc en (tiếng Anh). Mặc định: MARKET40_LANG, rồi đến thiết lập ngôn "
        "ngữ của máy (LC_ALL, LC_MESSAGES, LANG bắt đầu bằng vi), nếu không thì en. Tệp xuất và --json không đổi "
        "theo ngôn ngữ.",
    "Bank or e-wallet: BIN, code or name (diacritics optional).":
        "Ngân hàng hoặc ví điện tử: BIN, mã viết tắt hoặc tên (gõ không dấu cũng được).",
    "6-digit NAPAS BIN (instead of --bank).":
        "Mã ngân hàng (BIN) NAPAS 6 chữ số (thay cho --bank).",
    "Accept a well-formed BIN missing from the directory (a newer bank).":
        "Chấp nhận BIN đúng định dạng nhưng chưa có trong danh bạ (ngân hàng mới).",
    "Account number (1–19 letters/digits): service QRIBFTTA.":
        "Số tài khoản (1–19 chữ cái/chữ số): dịch vụ QRIBFTTA.",
    "Card number (16–19 digits): service QRIBFTTC.":
        "Số thẻ (16–19 chữ số): dịch vụ QRIBFTTC.",
    "Whole đồng; 150.000, 150,000 and 150 000 all mean 150000.":
        "Số đồng nguyên; 150.000, 150,000 và 150 000 đều là 150000.",
    "Transfer content (62.08), ≤ 25 characters after folding.":
        "Nội dung chuyển khoản (62.08), tối đa 25 ký tự sau khi bỏ dấu.",
    "Bill number (62.01), ≤ 25 characters.":
        "Số hóa đơn (62.01), tối đa 25 ký tự.",
    "Reference label (62.05), e.g. the MOMOW2W… code MoMo wallets need.":
        "Mã tham chiếu (62.05), ví dụ mã MOMOW2W… mà ví MoMo cần.",
    "Merchant name (59), ≤ 25; usually omitted.":
        "Tên điểm bán (59), tối đa 25 ký tự; thường bỏ trống.",
    "Merchant city (60), ≤ 15; usually omitted.":
        "Thành phố của điểm bán (60), tối đa 15 ký tự; thường bỏ trống.",
    "One-payment (12) or reusable (11) code. Default: dynamic iff --amount.":
        "Mã dùng một lần (12) hay dùng nhiều lần (11). Mặc định: dùng một lần khi có --amount.",
    "Do not upper-case text fields.":
        "Không chuyển các trường chữ thành chữ in hoa.",
    "One JSON object (fields printed even when invalid).":
        "Một đối tượng JSON (in các trường kể cả khi mã không hợp lệ).",
    "Draw this payload instead of building one from the options.":
        "Vẽ nội dung mã này thay vì tạo mã từ các tùy chọn.",
    "File to write: .png, .svg or .pdf.":
        "Tệp cần ghi: .png, .svg hoặc .pdf.",
    "Total width in pixels, quiet zone included.":
        "Tổng chiều rộng tính bằng điểm ảnh, kể cả lề trắng.",
    "Module size in millimetres (at --dpi).":
        "Kích thước ô tính bằng milimét (theo --dpi).",
    "Resolution for --module-mm.":
        "Độ phân giải dùng cho --module-mm.",
    "Error-correction level.":
        "Mức sửa lỗi.",
    "A JSON list, one object per code found.":
        "Danh sách JSON, mỗi mã tìm thấy một đối tượng.",
    "Only this kind.":
        "Chỉ loại này.",
    "JSON list of directory entries.":
        "Danh sách JSON các mục trong danh bạ.",
    "Drop every existing table first (destroys the data).":
        "Xóa mọi bảng đã có trước (mất hết dữ liệu).",
    "Also load this province's administrative units (as `locality load`); repeatable.":
        "Nạp thêm các đơn vị hành chính của tỉnh này (như `locality load`); dùng được nhiều lần.",
    'Only this province: code (22) or name ("Quảng Ninh").':
        'Chỉ tỉnh này: mã (22) hoặc tên ("Quảng Ninh").',
    "The former district-level units (before 1 July 2025) instead.":
        "Thay vào đó là các đơn vị cấp huyện cũ (trước ngày 1/7/2025).",
    "A JSON list.":
        "Danh sách JSON.",
    "One JSON object.":
        "Một đối tượng JSON.",
    "The report as JSON.":
        "Báo cáo dạng JSON.",
    "Transaction store to include (default: beside an SQLite registry; env MARKET40_TX_STORE).":
        "Kho giao dịch cần sao lưu kèm (mặc định: cạnh sổ đăng ký SQLite; biến môi trường MARKET40_TX_STORE).",
    "Where to restore the transaction store (default: beside an SQLite registry).":
        "Nơi khôi phục kho giao dịch (mặc định: cạnh sổ đăng ký SQLite).",
    "Replace a registry or store that is already there.":
        "Thay thế sổ đăng ký hoặc kho giao dịch đã có ở đó.",
    "Name with diacritics, e.g. 'Chợ Hạ Long I'.":
        "Tên có dấu, ví dụ 'Chợ Hạ Long I'.",
    "Tier as classified: I, II or III.":
        "Hạng chợ theo phân loại: I, II hoặc III.",
    "Commune-level unit code, e.g. 06688 (`market40 locality list`).":
        "Mã đơn vị cấp xã, ví dụ 06688 (`market40 locality list`).",
    "Decision or list the tier comes from.":
        "Quyết định hoặc danh sách làm căn cứ xếp hạng.",
    "Date of that classification (YYYY-MM-DD or DD/MM/YYYY).":
        "Ngày xếp hạng (YYYY-MM-DD hoặc DD/MM/YYYY).",
    "A central market (chợ trung tâm).":
        "Chợ trung tâm.",
    "Market board contact person.":
        "Người liên hệ của ban quản lý chợ.",
    "Market board phone.":
        "Số điện thoại của ban quản lý chợ.",
    "The day the cashless programme started in this market (YYYY-MM-DD or DD/MM/YYYY): adoption reports leave it out "
    "of earlier months.":
        "Ngày chợ bắt đầu chương trình thanh toán không dùng tiền mặt (YYYY-MM-DD hoặc DD/MM/YYYY): báo cáo sử dụng "
        "không tính chợ vào các tháng trước đó.",
    "Only markets of this locality code.":
        "Chỉ các chợ thuộc đơn vị hành chính mã này.",
    "Only this tier (I, II, III).":
        "Chỉ hạng này (I, II, III).",
    "Check every row, write nothing.":
        "Kiểm tra mọi dòng, không ghi gì.",
    "Import the good rows even if some are bad.":
        "Nhập các dòng đúng kể cả khi có dòng lỗi.",
    "Where to write the bad rows (.csv or .xlsx; default: FILE.rejects.csv beside the input when there are any).":
        "Nơi ghi các dòng lỗi (.csv hoặc .xlsx; mặc định: TỆP.rejects.csv cạnh tệp nhập khi có dòng lỗi).",
    "XLSX sheet name (default: the first).":
        "Tên trang tính XLSX (mặc định: trang đầu tiên).",
    "Print the report as JSON.":
        "In báo cáo dạng JSON.",
    "Owner household name (with diacritics).":
        "Họ tên chủ hộ (có dấu).",
    "Owner phone, e.g. 0912345678.":
        "Số điện thoại chủ hộ, ví dụ 0912345678.",
    "Shop name on the poster.":
        "Tên cửa hàng in trên poster.",
    "Goods category (ngành hàng).":
        "Ngành hàng.",
    "Default: operating.":
        "Mặc định: đang kinh doanh (operating).",
    "Match code, shop, owner or phone (diacritics optional).":
        "Tìm theo mã sạp, tên cửa hàng, chủ hộ hoặc số điện thoại (gõ không dấu cũng được).",
    "Show at most this many rows.":
        "Hiện tối đa ngần này dòng.",
    "Show the full account number (written to the audit trail).":
        "Hiện đầy đủ số tài khoản (có ghi vào nhật ký).",
    "Market code for rows without a Mã chợ column.":
        "Mã chợ cho các dòng không có cột Mã chợ.",
    "Accept BINs missing from the directory.":
        "Chấp nhận BIN chưa có trong danh bạ.",
    "The day it closed, if not today: DD/MM/YYYY or YYYY-MM-DD.":
        "Ngày sạp nghỉ, nếu không phải hôm nay: DD/MM/YYYY hoặc YYYY-MM-DD.",
    "Why (kept in the audit trail).":
        "Lý do (lưu trong nhật ký).",
    "The day it opened or reopened, if not today: DD/MM/YYYY or YYYY-MM-DD.":
        "Ngày sạp mở hoặc mở lại, nếu không phải hôm nay: DD/MM/YYYY hoặc YYYY-MM-DD.",
    "When both stalls have a current account: which one stays (the other is revoked).":
        "Khi cả hai sạp đều có tài khoản hiện hành: giữ tài khoản nào (tài khoản kia bị thu hồi).",
    "The market list template instead of the stall list.":
        "Mẫu danh sách chợ thay cho mẫu danh sách sạp.",
    "Bank or e-wallet: BIN, code or name (taken from --from-qr when scanning).":
        "Ngân hàng hoặc ví điện tử: BIN, mã viết tắt hoặc tên (lấy từ --from-qr khi quét mã).",
    "Account, card or wallet number (taken from --from-qr when scanning).":
        "Số tài khoản, số thẻ hoặc số ví (lấy từ --from-qr khi quét mã).",
    "Holder name exactly as the bank shows it (an HKD's business name).":
        "Tên chủ tài khoản đúng như ngân hàng hiển thị (với hộ kinh doanh: tên hộ kinh doanh).",
    "bank_account, card or ewallet (default: from the bank).":
        "bank_account (tài khoản), card (thẻ) hoặc ewallet (ví) (mặc định: theo ngân hàng).",
    "62.05 reference (MoMo: MOMOW2W…).":
        "Mã tham chiếu 62.05 (MoMo: MOMOW2W…).",
    "The owner's own receiving QR (a photo or screenshot of the bank/wallet app's QR, or its text): its bank, number "
    "and reference are registered exactly. A merchant QR counts as --merchant-qr.":
        "Mã QR nhận tiền của chính chủ sạp (ảnh chụp hoặc ảnh màn hình mã QR trong ứng dụng ngân hàng/ví, hoặc nội "
        "dung mã): ngân hàng, số tài khoản và mã tham chiếu được đăng ký đúng như trong mã. Mã QR điểm bán được tính "
        "như --merchant-qr.",
    "A bank-issued merchant QR (NAPAS QRPUSH / VIETQRPay), kept and printed as issued; --bank/--account/--holder are "
    "then its settlement account.":
        "Mã QR điểm bán do ngân hàng cấp (NAPAS QRPUSH / VIETQRPay), được lưu và in đúng như khi cấp; khi đó "
        "--bank/--account/--holder là tài khoản nhận tiền của mã.",
    "personal (default) or household: a household business (HKD) account.":
        "personal (cá nhân, mặc định) hoặc household: tài khoản của hộ kinh doanh (HKD).",
    "HKD registration number (household accounts only).":
        "Số đăng ký hộ kinh doanh (chỉ với tài khoản hộ kinh doanh).",
    "HKD tax code, MST: 10 or 13 digits (household accounts only).":
        "Mã số thuế (MST) của hộ kinh doanh: 10 hoặc 13 chữ số (chỉ với tài khoản hộ kinh doanh).",
    "How the owner gave consent (paper, web, …).":
        "Cách chủ sạp đồng ý (giấy, web, …).",
    "When it happened, if not now: DD/MM/YYYY or YYYY-MM-DD (optionally HH:MM, Vietnam time); not in the future. The "
    "audit trail keeps this and the time it was recorded.":
        "Thời điểm sự việc xảy ra, nếu không phải bây giờ: DD/MM/YYYY hoặc YYYY-MM-DD (có thể kèm HH:MM, giờ Việt "
        "Nam); không ở tương lai. Nhật ký lưu cả thời điểm này và thời điểm ghi nhận.",
    "Verify every pending account of this market.":
        "Xác minh mọi tài khoản đang chờ của chợ này.",
    "Why (the owner sees it).":
        "Lý do (chủ sạp sẽ thấy).",
    "Every account ever registered, not only current ones.":
        "Mọi tài khoản từng đăng ký, không chỉ tài khoản hiện hành.",
    "Full account numbers (written to the audit trail).":
        "Đầy đủ số tài khoản (có ghi vào nhật ký).",
    "board: a market board (ban quản lý chợ), with --market: its fees.":
        "board: ban quản lý chợ, kèm --market: phí chợ của chợ đó.",
    "Display name.":
        "Tên hiển thị.",
    "Password (asked for when not given; at least 8 characters).":
        "Mật khẩu (sẽ hỏi nếu không ghi; ít nhất 8 ký tự).",
    "A market the user may see (repeatable).":
        "Một chợ người dùng được xem (dùng được nhiều lần).",
    "A locality the user may see (repeatable).":
        "Một đơn vị hành chính người dùng được xem (dùng được nhiều lần).",
    "The owner's stall (MARKET/STALL).":
        "Sạp của chủ sạp (CHỢ/SẠP).",
    "Every operating stall of this market.":
        "Mọi sạp đang kinh doanh của chợ này.",
    "One stall (MARKET/STALL).":
        "Một sạp (CHỢ/SẠP).",
    "Days the codes stay valid (1–90).":
        "Số ngày mã còn hiệu lực (1–90).",
    "Write the slips to a .pdf or .txt file (default: print them).":
        "Ghi phiếu vào tệp .pdf hoặc .txt (mặc định: in ra màn hình).",
    "One stall's poster (MARKET/STALL).":
        "Poster của một sạp (CHỢ/SẠP).",
    "Every stall of a market with a verified account, in one PDF.":
        "Mọi sạp có tài khoản đã xác minh của một chợ, trong một tệp PDF.",
    "The .pdf (or, for one stall, .png) to write.":
        "Tệp .pdf (hoặc .png, với một sạp) cần ghi.",
    "Paper the market's posters are printed on (several per sheet, with cut marks).":
        "Khổ giấy in poster của chợ (nhiều poster mỗi tờ, có dấu cắt).",
    "Languages printed: Vietnamese always; en adds English, zh Simplified Chinese lines.":
        "Ngôn ngữ in trên poster: luôn có tiếng Việt; en thêm các dòng tiếng Anh, zh thêm tiếng Trung giản thể.",
    "Add English lines under the Vietnamese (= --lang vi,en).":
        "Thêm các dòng tiếng Anh dưới tiếng Việt (= --lang vi,en).",
    "Processes building the QR codes of a --market sheet (large markets on an idle machine).":
        "Số tiến trình tạo mã QR cho tờ in --market (chợ lớn, trên máy đang rảnh).",
    "Also write the skip report to this CSV.":
        "Ghi thêm báo cáo các sạp bị bỏ qua vào tệp CSV này.",
    "The stall the photo was taken at (MARKET/STALL).":
        "Sạp nơi chụp ảnh (CHỢ/SẠP).",
    "Replace an existing registry at --db (destroys its data).":
        "Thay thế sổ đăng ký đã có ở --db (mất hết dữ liệu của nó).",
    "Only build the demo province.":
        "Chỉ dựng tỉnh mẫu.",
    "Random seed of the synthetic data.":
        "Hạt giống ngẫu nhiên của dữ liệu giả.",
    "Address to listen on (0.0.0.0: every interface; put a TLS proxy in front).":
        "Địa chỉ lắng nghe (0.0.0.0: mọi giao diện mạng; đặt một proxy TLS phía trước).",
    "Port to listen on (0: any free port, printed).":
        "Cổng lắng nghe (0: cổng trống bất kỳ, có in ra).",
    "Worker threads per server process.":
        "Số luồng xử lý mỗi tiến trình máy chủ.",
    "With several processes: seconds a stopping or restarting worker may finish its requests before it is killed.":
        "Khi chạy nhiều tiến trình: số giây một tiến trình đang dừng hoặc khởi động lại được dùng để xử lý xong "
        "các yêu cầu trước khi bị buộc dừng.",
    "Server processes sharing the port, to use several cores: 1 runs waitress, more run gunicorn workers (POSIX). "
    "Above 1, rate limits count per process unless MARKET40_RATELIMIT_STORAGE points at Redis.":
        "Số tiến trình máy chủ dùng chung cổng, để dùng nhiều lõi: 1 chạy waitress, nhiều hơn chạy các worker "
        "gunicorn (POSIX). Khi lớn hơn 1, giới hạn tần suất được đếm theo từng tiến trình, trừ khi "
        "MARKET40_RATELIMIT_STORAGE trỏ tới Redis.",
    "Build the synthetic demo province first (into --db if given and empty, else a temporary file removed on exit) "
    "and print its logins.":
        "Dựng tỉnh mẫu bằng dữ liệu giả trước (vào --db nếu có ghi và còn trống, nếu không thì vào một tệp tạm bị "
        "xóa khi thoát) và in các tài khoản đăng nhập.",
    "Month for rows without a Kỳ column.":
        "Tháng cho các dòng không có cột Kỳ.",
    "The month.":
        "Tháng.",
    "Only this market.":
        "Chỉ chợ này.",
    "The export's layout (auto: from its headers).":
        "Cấu trúc của tệp sao kê (auto: nhận ra từ dòng tiêu đề).",
    "The bank of the credited accounts (BIN, code or name): overrides the layout's; needed for Casso v1 feeds.":
        "Ngân hàng của các tài khoản nhận tiền (BIN, mã viết tắt hoặc tên): thay cho ngân hàng của định dạng; cần "
        "cho dữ liệu Casso v1.",
    "The credited account, for a one-account statement that names it nowhere.":
        "Tài khoản nhận tiền, cho sao kê một tài khoản mà không ghi số tài khoản ở đâu.",
    "Transaction store (DuckDB file; default beside an SQLite registry: market40.transfers.duckdb; env "
    "MARKET40_TX_STORE).":
        "Kho giao dịch (tệp DuckDB; mặc định cạnh sổ đăng ký SQLite: market40.transfers.duckdb; biến môi trường "
        "MARKET40_TX_STORE).",
    "The last month.":
        "Tháng cuối cùng.",
    "How many months.":
        "Số tháng.",
    "Where the generated census and transfer files go.":
        "Nơi ghi các tệp danh sách hộ và giao dịch được tạo ra.",
    "Delete live transfers booked longer ago than this (90d, 12w, 6m, 1y): the retention.":
        "Xóa các giao dịch trực tiếp ghi sổ lâu hơn khoảng này (90d, 12w, 6m, 1y): thời hạn lưu giữ.",
    "Erase every live transfer, requested amount and helper link of one stall (an owner's erasure).":
        "Xóa mọi giao dịch trực tiếp, yêu cầu thanh toán và liên kết xem loa của người nhà của một sạp (khi chủ sạp yêu "
        "cầu xóa dữ liệu).",
    "The running market40 web app.":
        "Ứng dụng web market40 đang chạy.",
    "Pay the stalls of this market (those with an account).":
        "Trả tiền cho các sạp của chợ này (các sạp có tài khoản).",
    "Only this stall of the market (its code, e.g. A-12).":
        "Chỉ sạp này của chợ (mã sạp, ví dụ A-12).",
    "Transfers to send.":
        "Số giao dịch cần gửi.",
    "Requests per second.":
        "Số yêu cầu mỗi giây.",
    "The configured webhook source to sign as (default: the only one).":
        "Nguồn webhook đã cấu hình dùng để ký (mặc định: nguồn duy nhất).",
    "The sources' JSON file, as the server reads it (env MARKET40_WEBHOOKS).":
        "Tệp JSON của các nguồn, như máy chủ đọc (biến môi trường MARKET40_WEBHOOKS).",
    "Send each body this many more times (as a provider retries).":
        "Gửi lại mỗi nội dung thêm ngần này lần (như nhà cung cấp gửi lại).",
    "Share of transfers delivered once more (as a second provider would).":
        "Tỷ lệ giao dịch được gửi thêm một lần (như một nhà cung cấp thứ hai).",
    "Repeatable amounts and stalls.":
        "Số tiền và sạp lặp lại được giữa các lần chạy.",
    "The month (the last one with --months).":
        "Tháng (tháng cuối cùng khi có --months).",
    "Reconcile this many months ending with --period.":
        "Đối soát ngần này tháng, kết thúc ở --period.",
    "List accepting accounts with no transfer for this many months.":
        "Liệt kê các tài khoản nhận thanh toán nhưng không có giao dịch trong ngần này tháng.",
    "Print the summaries as JSON.":
        "In các bản tổng hợp dạng JSON.",
    "The month reported.":
        "Tháng báo cáo.",
    "The main view (an XLSX has every view, one sheet each).":
        "Cách xem chính (tệp XLSX có mọi cách xem, mỗi cách một trang tính).",
    "Only markets in this locality (a former district covers the communes it became).":
        "Chỉ các chợ thuộc đơn vị hành chính này (một huyện cũ gồm các xã phường được lập từ nó).",
    "Group localities by former district-level unit (đơn vị cấp huyện cũ; 'district' is the same) or by commune/ward "
    "(auto: the units in force in the period).":
        "Nhóm đơn vị hành chính theo đơn vị cấp huyện cũ ('district' cũng vậy) hoặc theo xã/phường (auto: các đơn vị "
        "có hiệu lực trong kỳ).",
    "Months in the trend, ending with --period.":
        "Số tháng của xu hướng, kết thúc ở --period.",
    "Accepting rate each market should reach, in % (default: the province's target, `market40 report target`; 100 "
    "when none is set).":
        "Tỷ lệ nhận thanh toán mỗi chợ cần đạt, tính bằng % (mặc định: chỉ tiêu của tỉnh, `market40 report target`; "
        "100 khi chưa đặt).",
    "Default: from the suffix of -o.":
        "Mặc định: theo phần mở rộng của -o.",
    "The file to write ('-' for standard output with csv/json).":
        "Tệp cần ghi ('-' để in ra màn hình với csv/json).",
    "Report as this user would see it (their markets or localities).":
        "Báo cáo như người dùng này sẽ thấy (các chợ hoặc đơn vị hành chính của họ).",
    "Add one row per stall, with its evidence.":
        "Thêm mỗi sạp một dòng, kèm căn cứ.",
    "The plan or decision the target comes from (e.g. 'KH 123/KH-UBND').":
        "Kế hoạch hoặc quyết định làm căn cứ chỉ tiêu (ví dụ 'KH 123/KH-UBND').",
    "Show at most this many.":
        "Hiện tối đa ngần này mục.",
    "Bank name, code or BIN (`market40 banks`).":
        "Tên, mã viết tắt hoặc BIN của ngân hàng (`market40 banks`).",
    "Account number of the board (or the commune).":
        "Số tài khoản của ban quản lý (hoặc của xã).",
    "Holder name exactly as the bank shows it.":
        "Tên chủ tài khoản đúng như ngân hàng hiển thị.",
    "Printed on slips and receipts (default: 'Ban quản lý' + market name).":
        "In trên phiếu thu và biên lai (mặc định: 'Ban quản lý' + tên chợ).",
    "Only the rows valid on the first day of this month (YYYY-MM).":
        "Chỉ các dòng còn hiệu lực vào ngày đầu của tháng này (YYYY-MM).",
    "Which sheet: price table, stall areas, or meter readings.":
        "Mẫu nào: bảng giá, diện tích sạp hoặc chỉ số công tơ.",
    "The month read, YYYY-MM.":
        "Tháng ghi chỉ số, YYYY-MM.",
    "YYYY-MM":
        "Kỳ thu, YYYY-MM",
    "Due date (DD/MM/YYYY; default the 15th of the month).":
        "Hạn nộp (DD/MM/YYYY; mặc định ngày 15 của tháng).",
    "Issue the bills that can be computed even if some cannot.":
        "Phát hành các hóa đơn tính được kể cả khi có hóa đơn không tính được.",
    "Also write the slips PDF here.":
        "Ghi thêm tệp PDF phiếu thu vào đây.",
    "Slip size: A6 (4 to an A4 sheet) or A7 (8; a bill whose QR would need modules under 1.5 mm is refused, with the "
    "bills that fit named).":
        "Khổ phiếu: A6 (4 phiếu một tờ A4) hoặc A7 (8 phiếu; hóa đơn mà mã QR cần ô nhỏ hơn 1,5 mm bị từ chối, kèm "
        "tên các hóa đơn vừa khổ).",
    "Processes building the QR codes (like poster --market --workers).":
        "Số tiến trình tạo mã QR (như poster --market --workers).",
    "Days after the due date a transfer without reference may still match by amount.":
        "Số ngày sau hạn nộp mà giao dịch không có mã tham chiếu vẫn có thể khớp theo số tiền.",
    "One line per bill.":
        "Mỗi hóa đơn một dòng.",
    "The reminder text for each overdue stall, with its phone.":
        "Nội dung nhắc nộp cho từng sạp quá hạn, kèm số điện thoại.",
    "When it was paid, if not now (DD/MM/YYYY).":
        "Thời điểm nộp, nếu không phải bây giờ (DD/MM/YYYY).",
    "Kept with the payment and in the audit trail.":
        "Lưu kèm khoản nộp và trong nhật ký.",
}


# --- what a scanned code is, and the notes on it (market40.vietqr and services.qr say them in English) ---

#: What kind of code a payload is (pattern over the English) → Vietnamese.
QR_KINDS: tuple[tuple[str, str], ...] = (
    (r"VietQR transfer", "mã chuyển khoản VietQR"),
    (r"malformed EMV / VietQR payload", "nội dung mã EMV / VietQR sai cấu trúc"),
    (r"not an EMV payment code \(plain text or another format\)",
     "không phải mã thanh toán EMV (văn bản thường hoặc định dạng khác)"),
    (r"VNPAY-QR merchant payment", "mã QR thanh toán điểm bán VNPAY-QR"),
    (r"ShopeePay merchant QR", "mã QR điểm bán ShopeePay"),
    (r"ZaloPay merchant QR", "mã QR điểm bán ZaloPay"),
    (r"MoMo merchant QR", "mã QR điểm bán MoMo"),
    (r"NAPAS QR merchant payment \(QRPUSH\), not a transfer",
     "mã QR thanh toán điểm bán NAPAS (QRPUSH), không phải mã chuyển khoản"),
    (r"NAPAS ATM cash withdrawal QR \(QRCASH\), not a transfer",
     "mã QR rút tiền mặt tại ATM NAPAS (QRCASH), không phải mã chuyển khoản"),
    (r"EMV merchant QR of another scheme \(tag (?P<tag>\d+), GUID (?P<guid>.+)\)",
     "mã QR điểm bán EMV của hệ thống khác (thẻ {tag}, GUID {guid})"),
    (r"VNPAY wallet personal QR \(point of initiation 10\)", "mã QR cá nhân của ví VNPAY (phương thức khởi tạo 10)"),
    (r"card-scheme EMV QR \(tags 02–25: Visa, Mastercard, UnionPay, JCB…\)",
     "mã QR EMV của tổ chức thẻ (thẻ 02–25: Visa, Mastercard, UnionPay, JCB…)"),
    (r"EMV QR without a NAPAS account template \(tag 38\)", "mã QR EMV không có mẫu tài khoản NAPAS (thẻ 38)"),
    # notes and warnings on a decoded code
    (r"BIN (?P<bin>\d+) is not in the NAPAS participant directory \(a newer bank, or a wrong BIN\)",
     "BIN {bin} không có trong danh bạ thành viên NAPAS (ngân hàng mới, hoặc BIN sai)"),
    (r"BIN (?P<bin>\d+) is an alternate BIN of (?P<bank>.+) \((?P<main>\d+)\)",
     "BIN {bin} là BIN phụ của {bank} ({main})"),
    (r"63 CRC: does not match the content \(altered or badly generated\)",
     "63 CRC: không khớp với nội dung (đã bị sửa hoặc được tạo sai)"),
    (r"38\.02 service code: absent; read as a transfer to an account \(QRIBFTTA\), as bank apps do",
     "38.02 mã dịch vụ: không có; được đọc như chuyển khoản vào tài khoản (QRIBFTTA), như các ứng dụng ngân hàng"),
    (r"01 point of initiation: absent \(NAPAS requires 11 static or 12 dynamic\)",
     "01 phương thức khởi tạo: không có (NAPAS yêu cầu 11 tĩnh hoặc 12 động)"),
    (r"54 amount: (?P<raw>.+) ends with a dot; allowed for VND \(NAPAS-VN §5\.2\.6\) and read as (?P<n>[\d,]+) đồng, "
     r"but not how market40 or most apps write it",
     "54 số tiền: {raw} kết thúc bằng dấu chấm; được phép với VND (NAPAS-VN §5.2.6) và đọc là {n} đồng, nhưng "
     "market40 và phần lớn ứng dụng không viết như vậy"),
    (r"54 amount: (?P<raw>.+) has leading zeros; read as (?P<n>[\d,]+) đồng",
     "54 số tiền: {raw} có chữ số 0 ở đầu; đọc là {n} đồng"),
)


#: Phrases the library puts inside a refusal's fields (a hint, what a file is, where a header was looked for)
#: → Vietnamese: pattern over the English → template.
PARTS: tuple[tuple[str, str], ...] = (
    (r"a known export", "một tệp xuất đã biết"),
    (r" in the first (?P<n>\d+) lines", " trong {n} dòng đầu"),
    (r"; the known layouts: (?P<layouts>.+)", "; các định dạng đã biết: {layouts}"),
    (r"nothing readable", "không đọc được gì"),
    (r"; did you mean (?P<names>.+)\?", "; có phải ý bạn là {names}?"),
    (r" both mean (?P<column>.+)", " cùng nghĩa là {column}"),
    (r" are the same column", " là cùng một cột"),
    (r" since (?P<day>\d\d/\d\d/\d{4})", " từ {day}"),
    (r" \(registered on\)", " (ngày đăng ký)"),
    (r" \(from the suffix of (?P<name>.+)\)", " (theo đuôi tệp {name})"),
    (r" \(a household business's name with digits: register it as a household-business account\)",
     " (tên hộ kinh doanh có chữ số: hãy đăng ký dạng tài khoản hộ kinh doanh)"),
    (r"no such unit in the General Statistics Office's list; see `market40 locality list`",
     "không có trong danh mục của Tổng cục Thống kê; xem `market40 locality list`"),
    (r"a commune-level unit has a 5-digit code \(Phường Hạ Long: 06688\), a former district a 3-digit one "
     r"\(Thành phố Hạ Long: 193\); find one with `market40 locality list --province 22`",
     "đơn vị cấp xã có mã 5 chữ số (Phường Hạ Long: 06688), huyện cũ có mã 3 chữ số (Thành phố Hạ Long: 193); "
     "tìm mã bằng `market40 locality list --province 22`"),
    (r"an Excel 97-2003 \.xls workbook or a password-protected workbook; remove the password and save it as \.xlsx",
     "sổ tính Excel 97-2003 .xls hoặc sổ tính có mật khẩu; hãy bỏ mật khẩu và lưu lại dạng .xlsx"),
    (r"a (?P<what>PDF document|PNG image|JPEG photo|GIF image); export the list from Excel as \.xlsx or \.csv",
     "{what}; hãy xuất danh sách từ Excel dạng .xlsx hoặc .csv"),
    (r"a (?P<what>gzip|RAR|7-Zip) archive, not a table", "tệp nén {what}, không phải bảng"),
    (r"(?P<bill>[^;:]+): version (?P<version>\d+), (?P<n>\d+) modules", "{bill}: phiên bản {version}, {n} ô"),
    (r" and (?P<n>\d+) more", " và {n} hóa đơn nữa"),
    (r"(?P<n>\d+) bills fit A7: (?P<bills>.+)", "{n} hóa đơn vừa khổ A7: {bills}"),
    (r"no bill fits A7", "không hóa đơn nào vừa khổ A7"),
)
_PART_WORDS = {"PDF document": "tài liệu PDF", "PNG image": "ảnh PNG", "JPEG photo": "ảnh JPEG",
               "GIF image": "ảnh GIF"}


def _phrase(said: str) -> str:
    """A phrase inside a refusal (:data:`PARTS`, :data:`QR_KINDS`, :data:`NAMES`) in Vietnamese."""
    if said in NAMES:
        return NAMES[said]
    for pattern, template in PARTS:
        found = _re.fullmatch(pattern, said, _re.DOTALL)
        if found:
            fields = {key: _PART_WORDS.get(value, value) for key, value in found.groupdict().items()}
            if "layouts" in fields:
                for english, vietnamese in NAMES.items():
                    fields["layouts"] = fields["layouts"].replace(f"({english})", f"({vietnamese})")
            return template.format(**fields)
    for pattern, template in QR_KINDS:
        found = _re.fullmatch(pattern, said)
        if found:
            return template.format(**{key: value.replace(",", ".") if key == "n" else value
                                      for key, value in found.groupdict().items()})
    for pattern, template in PARTS:  # two fields side by side: each phrase where it stands
        said = _re.sub(pattern, lambda found: template.format(**{key: _PART_WORDS.get(value, value) for key, value
                                                                  in found.groupdict().items()}), said)
    return said


def qr_words(said: str, lang: str = "vi") -> str:
    """What a code is, or a note on it, in ``lang`` (a refusal of the library when it is one)."""
    if lang == "en" or not said:
        return said
    for pattern, template in QR_KINDS:
        found = _re.fullmatch(pattern, said)
        if found:
            fields = {key: value.replace(",", ".") if key == "n" else value
                      for key, value in found.groupdict().items()}
            return template.format(**fields)
    return refusal(said, lang)


#: Why a stall's bill could not be computed (market40.fees says it in Vietnamese with an English gloss):
#: pattern → (Vietnamese, English).
BILL_PROBLEMS: tuple[tuple[str, str, str], ...] = (
    (r"sạp (?P<stall>\S+): chưa có diện tích \(m²\) để tính (?P<name>.+) \(no area for (?P<code>.+)\)",
     "sạp {stall}: chưa có diện tích (m²) để tính {name}", "stall {stall}: no area (m²) to bill {name} ({code})"),
    (r"sạp (?P<stall>\S+): không có biểu phí nào áp dụng cho chợ hạng (?P<tier>\S+) kỳ (?P<month>\S+) "
     r"\(no tariff applies\)",
     "sạp {stall}: không có biểu phí nào áp dụng cho chợ hạng {tier} kỳ {month}",
     "stall {stall}: no tariff applies to a tier {tier} market in {month}"),
)


def bill_problem(said: str, lang: str = "vi") -> str:
    """A stall whose bill could not be computed, in ``lang`` (one of no known kind: its refusal, translated)."""
    for pattern, vietnamese, english in BILL_PROBLEMS:
        found = _re.fullmatch(pattern, said)
        if found:
            return (vietnamese if lang == "vi" else english).format(**found.groupdict())
    found = _re.fullmatch(r"sạp (?P<stall>\S+): (?P<why>.+)", said)
    if found:
        return ("sạp {stall}: {why}" if lang == "vi" else "stall {stall}: {why}").format(
            stall=found["stall"], why=refusal(found["why"], lang))
    return refusal(said, lang)
