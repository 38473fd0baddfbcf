"""The command line speaks the user's language (issue #12): Vietnamese to a Vietnamese locale or
``--lang vi``, English otherwise; numbers, money, rates and dates written one way per language
(``1.234.567 đ``, ``82,9%``, ``dd/mm/yyyy``); machine-readable output never changes."""
from __future__ import annotations

import json
import re

import click
import pytest
from click.testing import CliRunner

import cli
import market40
from market40 import messages

from test_fees import MARKET, PERIOD, TARIFFS  # noqa: E402  (same folder)

#: Words of the English interface: none may appear in a Vietnamese run (once file paths, commands
#: quoted for the user to type, and the slip's deliberate English gloss are set aside).
ENGLISH = re.compile(r"\b(rows?|rejected|written|nothing|accounts?|verified|pending|stalls?|markets?|transfers?|"
                     r"problems?|error|warning|note|created|updated|unchanged|skipped|waiting|bills?|issued|billed|"
                     r"households?|accepting|active|target|wrote|the|and|of|with|from|into|was|were|is|are|"
                     r"already|new|replaced|requested|census|anomalies|none|booked|line|more)\b", re.IGNORECASE)


def vietqr(amount: str) -> str:
    from market40.services import qr
    return qr.encode(bank="vietcombank", account="0011012345678", amount=amount, purpose="HL1 A12").payload


@pytest.fixture
def run(monkeypatch, tmp_path, demo_secret):
    """``run(*args, env={...})``: the CLI with only the given language variables set."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MARKET40_SECRET_KEY", demo_secret)
    for name in ("MARKET40_LANG", "LC_ALL", "LC_MESSAGES", "LANG", "MARKET40_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)

    def invoke(*args, env=None):
        return CliRunner().invoke(cli.main, [str(a) for a in args], env=env or {}, catch_exceptions=False)
    return invoke


def english_words(text: str, *skip: str) -> list[str]:
    for gone in skip:
        text = text.replace(gone, "")
    kept = [line for line in text.splitlines()
            if not line.lstrip().startswith("$ market40") and "Enrollment code for stall" not in line]
    text = re.sub(r"`[^`]*`", "", "\n".join(kept))  # commands to type
    text = re.sub(r"\S+\.(csv|xlsx|pdf|png|db|duckdb)\b", "", text)  # file names
    return ENGLISH.findall(text)


@pytest.mark.parametrize("env, expected", [
    ({"LANG": "vi_VN.UTF-8"}, "vi"), ({"LANG": "vi"}, "vi"), ({"LC_MESSAGES": "vi_VN"}, "vi"),
    ({"LC_ALL": "vi_VN.UTF-8", "LANG": "en_US.UTF-8"}, "vi"), ({"LC_ALL": "C", "LANG": "vi_VN.UTF-8"}, "en"),
    ({"LANG": "C.UTF-8"}, "en"), ({"LANG": "en_GB.UTF-8"}, "en"), ({}, "en"), ({"LC_ALL": "", "LANG": "vi_VN"}, "vi"),
    ({"MARKET40_LANG": "vi", "LANG": "C"}, "vi"), ({"MARKET40_LANG": "en", "LC_ALL": "vi_VN.UTF-8"}, "en"),
    ({"MARKET40_LANG": "VI"}, "vi"), ({"MARKET40_LANG": "", "LANG": "vi_VN"}, "vi"),
])
def test_which_language_the_environment_asks_for(env, expected):
    assert messages.language(env) == expected


def test_locale_and_option_choose_the_language_of_a_result(run):
    payload = vietqr("1234567")
    vi_env = run("qr", "decode", payload, env={"LANG": "vi_VN.UTF-8"})
    vi_opt = run("--lang", "vi", "qr", "decode", payload, env={"LANG": "C.UTF-8"})
    assert vi_env.exit_code == vi_opt.exit_code == 0
    assert vi_env.output == vi_opt.output
    assert "Mã chuyển khoản VietQR (hợp lệ)" in vi_env.output
    assert "Số tiền:         1.234.567 đ" in vi_env.output
    assert "động (một lần thanh toán)" in vi_env.output
    en_env = run("qr", "decode", payload, env={"LANG": "C"})
    en_opt = run("--lang", "en", "qr", "decode", payload, env={"LANG": "vi_VN.UTF-8"})
    assert en_env.output == en_opt.output
    assert "VietQR transfer (valid)" in en_env.output and "Amount:      1,234,567 đ" in en_env.output
    assert "Mã chuyển khoản" not in en_env.output
    env_says = run("qr", "decode", payload, env={"MARKET40_LANG": "vi", "LANG": "C"})
    assert "Mã chuyển khoản VietQR (hợp lệ)" in env_says.output


def test_machine_readable_output_does_not_change_with_the_language(run):
    payload = vietqr("150000")
    outputs = {lang: run("--lang", lang, "qr", "decode", payload, "--json").output for lang in ("vi", "en")}
    assert outputs["vi"] == outputs["en"] and json.loads(outputs["vi"])["amount"] == 150000
    encoded = {lang: run("--lang", lang, "qr", "encode", "--bank", "vcb", "--account", "0011012345678",
                         "--amount", "150.000").output for lang in ("vi", "en")}
    assert encoded["vi"] == encoded["en"] and encoded["vi"].startswith("000201")


def test_refusals_in_the_language_of_the_run(run, tmp_path):
    missing = tmp_path / "none.db"
    vi = run("--db", missing, "stall", "list", "HL1", env={"LANG": "vi_VN.UTF-8"})
    assert vi.exit_code == 1
    assert vi.output.startswith("Lỗi: chưa có sổ đăng ký trong") and "`market40 db init`" in vi.output
    en = run("--db", missing, "stall", "list", "HL1", env={"LANG": "C"})
    assert en.exit_code == 1 and en.output.startswith("Error: no registry in")
    # a rule of the payload core (strict: no spaces or dashes in a QR), Vietnamese with the value
    bad = run("--lang", "vi", "qr", "encode", "--bank", "vcb", "--account", "12-34x!")
    assert bad.exit_code == 1 and "số tài khoản: phải có 1–19" in bad.output and "«12-34x!»" in bad.output
    assert "bỏ qua" not in bad.output  # the registry's rule (spaces and dashes ignored) is not this one


def test_help_is_vietnamese_for_every_command(run):
    assert "Tạo, đọc và vẽ mã thanh toán VietQR" in run("--lang", "vi", "--help").output
    assert "mã VietQR, sổ đăng ký sạp và poster" in run("--help", env={"LANG": "vi_VN.UTF-8"}).output
    page = run("--lang", "vi", "stall", "import", "--help").output
    assert "Nhập danh sách sạp của ban quản lý chợ" in page and "Ví dụ:" in page
    assert "market40 stall import data/samples/stalls-HH1.xlsx --market HH1" in page
    assert "(tiếng Anh): market40 --lang en stall import --help" in " ".join(page.split())
    assert "Import a market board's stall list" in run("stall", "import", "--help", env={"LANG": "C"}).output
    missing = []

    def walk(command: click.Command) -> None:
        if command.callback is not None and command.callback.__name__ not in messages.HELP:
            missing.append(command.callback.__name__)
        for sub in getattr(command, "commands", {}).values():
            walk(sub)
    walk(cli.main)
    assert missing == [], f"commands without a Vietnamese one-line help in market40.messages.HELP: {missing}"


def test_a_vietnamese_run_of_the_main_commands_speaks_only_vietnamese(run, demo_copy, tmp_path):
    db = ["--db", demo_copy]
    vi = {"LANG": "vi_VN.UTF-8"}
    said: dict[str, str] = {}

    def step(name: str, *args, code: int = 0) -> str:
        result = run(*db, *args, env=vi)
        assert result.exit_code == code, result.output
        said[name] = result.output
        return result.output

    stalls = tmp_path / "ds-sap.csv"
    stalls.write_text("Mã sạp,Tên chủ hộ,Số điện thoại\nZ-1,Nguyễn Thị Lan,0912345678\nZ-2,Trần Văn Bình,0912\n"
                      "Z-3,,0987654321\n", encoding="utf-8")
    out = step("stall import", "stall", "import", stalls, "--market", "HL1", code=1)
    assert "Dòng 3, cột «Số điện thoại»: số điện thoại «0912» không đúng" in out
    assert "Dòng 4, cột «Tên chủ hộ»: cần họ và tên chủ hộ" in out
    assert "3 dòng: 0 mới, 0 cập nhật, 0 không đổi; tài khoản: 0 mới, 0 thay thế; 2 bị từ chối. Không ghi gì vì " \
           "có dòng lỗi (sửa các dòng đó, hoặc dùng --partial); các dòng lỗi ở" in out
    out = step("account set", "account", "set", "HL1/A-1", "--bank", "vietcombank", "--account", "1023456789",
               "--holder", "NGUYEN THI LAN")
    assert "HL1/A-1: đã ghi nhận yêu cầu đổi tài khoản; chờ xác minh; nội dung chuyển khoản «HL1 A1»" in out
    assert step("account verify", "account", "verify", "HL1/A-1").strip() == "HL1/A-1: đã xác minh"
    out = step("unknown stall", "stall", "show", "HL1/A-999", code=1)
    assert out.strip() == "Lỗi: không có sạp HL1/A-999 trong sổ đăng ký"
    out = step("verify twice", "account", "verify", "HL1/A-1", code=1)
    assert "Lỗi: sạp HL1/A-1: tài khoản đang ở trạng thái «đã xác minh»; chỉ tài khoản chờ xác minh mới được " \
           "xác minh" in out
    out = step("stall show", "stall", "show", "HL1/A-1")
    assert "trạng thái:     đang kinh doanh" in out and re.search(r"\d\d/\d\d/\d{4}  Vietcombank", out)

    bank = tmp_path / "sao-ke.csv"
    bank.write_text("transaction_id,booked_at,bank_bin,account,amount,content\n"
                    "T1,2025-06-01 08:00:00,970436,1023456789,1234567,HL1 A1 thanh toan\n"
                    "T2,2025-06-31 08:00:00,970436,1023456789,1000,x\n", encoding="utf-8")
    store = tmp_path / "tx.duckdb"
    out = step("tx import", "tx", "import", bank, "--store", store, "--partial", code=1)
    assert "dòng 3: ngày ghi sổ: không phải ngày theo định dạng" in out
    assert "2 dòng: 1 giao dịch đã nhập (1.234.567 đ), ghi sổ 01/06/2025 – 01/06/2025" in out
    assert "Đã ghi (bỏ qua các dòng lỗi)" in out
    out = step("reconcile", "reconcile", "--period", "2025-06", "--store", store)
    assert re.search(r"2025-06: 43 chợ \(\d+ có danh sách hộ\), tính [\d.]+ sạp: [\d.]+ nhận thanh toán "
                     r"\(\d+,\d%\)", out), out
    assert "Giao dịch: 1 (1.234.567 đ)" in out
    out = step("report", "report", "adoption", "--period", "2025-06", "-o", tmp_path / "bc.xlsx")
    assert re.search(r"nhận thanh toán \d+,\d% \(theo số sạp\)", out) and "Đã ghi" in out

    step("fee account", "fee", "account", "set", MARKET, "--bank", "vietcombank", "--account", "0011009876543",
         "--holder", "BAN QUAN LY CHO")
    (tmp_path / "bieu-phi.csv").write_text(TARIFFS, encoding="utf-8")
    step("fee tariff", "fee", "tariff", "import", tmp_path / "bieu-phi.csv")
    codes = [s["code"] for s in json.loads(run(*db, "stall", "list", MARKET, "--status", "operating", "--json",
                                               env=vi).output)]
    (tmp_path / "dien-tich.csv").write_text("Mã sạp,Diện tích (m²)\n" + "\n".join(f"{c},5" for c in codes),
                                            encoding="utf-8")
    step("fee stalls", "fee", "stalls", tmp_path / "dien-tich.csv", "--market", MARKET)
    out = step("fee bill", "fee", "bill", "--market", MARKET, "--period", PERIOD)
    assert re.search(rf"{MARKET} {PERIOD}: \d+ sạp: phát hành \d+ hóa đơn, 0 điều chỉnh, 0 không đổi; lần này thu "
                     r"\d{1,3}(\.\d{3})+ đ", out), out
    out = step("fee status", "fee", "status", "--market", MARKET, "--period", PERIOD)
    assert "chưa nộp" in out and "đ" in out

    for name, output in said.items():
        assert english_words(output, str(tmp_path)) == [], (name, output)


def test_the_same_commands_in_english(run, demo_copy, tmp_path):
    stalls = tmp_path / "list.csv"
    stalls.write_text("Mã sạp,Tên chủ hộ,Số điện thoại\nZ-1,Nguyễn Thị Lan,0912345678\nZ-2,Trần Văn Bình,0912\n",
                      encoding="utf-8")
    out = run("--db", demo_copy, "--lang", "en", "stall", "import", stalls, "--market", "HL1",
              env={"LANG": "vi_VN.UTF-8"}).output
    assert "row 3, column 'owner phone'" in out
    assert "2 rows: 0 new, 0 updated, 0 unchanged; accounts: 0 new, 0 replaced; 1 rejected. nothing was written " \
           "because some rows are bad" in out
    out = run("--db", demo_copy, "account", "set", "HL1/A-1", "--bank", "vietcombank", "--account", "1023456789",
              "--holder", "NGUYEN THI LAN", env={"LANG": "C"}).output
    assert "HL1/A-1: requested; pending; QR reference 'HL1 A1'" in out


def test_the_demo_walkthrough_in_vietnamese(run, tmp_path):
    result = run("--db", tmp_path / "demo.db", "--lang", "vi", "demo", env={"LANG": "C"})
    assert result.exit_code == 0, result.output
    out = result.output
    assert "1. Dựng tỉnh mẫu (dữ liệu giả: data/demo/README.md)" in out
    assert re.search(r"43 chợ, 14\.\d{3} sạp, \d{2}\.\d{3} tài khoản", out)
    assert "Dòng 12, cột «Số tài khoản»" in out and "(mã thoát 1)" in out
    assert "HH1: đã xác minh 105 tài khoản" in out
    assert english_words(out, str(tmp_path)) == [], out


def test_database_and_disk_failures_in_both_languages():
    import errno

    from sqlalchemy.exc import OperationalError

    from market40.services.storage import describe_failure
    locked = OperationalError("INSERT INTO stall ...", {"owner_phone": "0912345678"},
                              Exception("database is locked"))
    assert describe_failure(locked) == ("the registry is busy: another market40 command or the web app is writing "
                                        "to it; try again in a moment")
    assert describe_failure(locked, "vi") == ("sổ đăng ký đang bận: một lệnh market40 khác hoặc ứng dụng web đang "
                                              "ghi; thử lại sau giây lát")
    full = OSError(errno.ENOSPC, "No space left on device", "bao-cao.xlsx")
    assert describe_failure(full) == "cannot write bao-cao.xlsx: the disk is full"
    assert describe_failure(full, "vi") == "không ghi được bao-cao.xlsx: ổ đĩa đã đầy"
    assert describe_failure(ValueError("a bug"), "vi") is None


def test_every_message_has_both_languages_and_the_same_fields():
    import string
    door = ("cli.", "demo.", "summary.", "verdict.", "failure.", "already.", "qr.", "banks.", "loc.", "key.",
            "head.", "label.", "market.")
    for code, (vi, en) in messages.TEXTS.items():
        if not code.startswith(door):
            continue  # the import rules' own table (tests/test_board_spreadsheets.py)
        assert vi and en, code
        fields = [{name for _, name, _, _ in string.Formatter().parse(said) if name} for said in (vi, en)]
        assert fields[0] == fields[1], code


def test_poster_verify_and_the_market_sheet_speak_vietnamese(run, tmp_path, demo_copy):
    """The inspector's verdict on a photo and the sheet's skipped stalls, in the run's language."""
    from market40 import emv, qrimage
    template = "0010A000000727" + emv.tlv("01", "0006970436" + emv.tlv("01", "MC0012345678")) + "0206QRPUSH"
    push = emv.with_crc("000201010211" + emv.tlv("38", template) + "5204541153037045802VN5914TAP HOA CO LAN")
    qrimage.write(push, tmp_path / "push.png")
    said = run("--db", demo_copy, "--lang", "vi", "poster", "verify", tmp_path / "push.png")
    assert said.exit_code == 5, said.output
    assert said.output.startswith("KHÔNG RÕ: mã QR KHÔNG phải VietQR đã đăng ký") and "tem dán đè" in said.output
    assert "ngân hàng:" in said.output and "Vietcombank" in said.output and "possibly" not in said.output
    english = run("--db", demo_copy, "--lang", "en", "poster", "verify", tmp_path / "push.png")
    assert english.output.startswith("UNKNOWN: a QR that is NOT a registered VietQR") and "bank:" in english.output
    # a market's sheet: every skipped stall with its reason in Vietnamese, the CSV report unchanged
    sheet = run("--db", demo_copy, "--lang", "vi", "poster", "--market", "HL1", "-o", tmp_path / "hl1.pdf",
                "--skipped", tmp_path / "skipped.csv")
    skipped = [line for line in sheet.output.splitlines() if line.startswith("bỏ qua ")]
    assert skipped and all(re.search(r"sạp đã nghỉ|chưa đăng ký tài khoản|đang chờ xác minh", line)
                           for line in skipped), skipped[:5]
    assert not [line for line in skipped if ENGLISH.search(line.split(": ", 1)[1])]
    assert "waiting for verification" in (tmp_path / "skipped.csv").read_text(encoding="utf-8-sig") or \
        "no registered account" in (tmp_path / "skipped.csv").read_text(encoding="utf-8-sig")


# --- every refusal of the library has its Vietnamese (market40.messages.REFUSAL_TEXTS) -------------------

def _refusal_templates() -> dict[str, str]:
    """Every message the library builds an exception of ours with, as a template (``{expression}``
    for each f-string field, each branch of a conditional suffix its own template) → where."""
    import ast
    import pathlib

    import market40
    from market40 import exceptions
    root = pathlib.Path(market40.__file__).parent
    trees = {path: ast.parse(path.read_text(encoding="utf-8")) for path in sorted(root.rglob("*.py"))}
    ours = {name for name, value in vars(exceptions).items()
            if isinstance(value, type) and issubclass(value, exceptions.Market40Error)}
    grown = True
    while grown:  # the modules' own subclasses (PasswordRefused, OwnerExists…)
        grown = False
        for tree in trees.values():
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef) and node.name not in ours and any(
                        getattr(base, "id", getattr(base, "attr", None)) in ours for base in node.bases):
                    ours.add(node.name)
                    grown = True

    def field(node: ast.FormattedValue) -> str:
        said = ast.unparse(node.value)
        if node.conversion != -1:
            said += "!" + chr(node.conversion)
        if node.format_spec is not None:
            said += ":" + "".join(part.value for part in node.format_spec.values)
        return "{" + said + "}"

    def variants(node: ast.AST, top: bool = True) -> list[str] | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return [node.value.replace("{", "{{").replace("}", "}}")]
        if isinstance(node, ast.JoinedStr):
            return ["".join(field(part) if isinstance(part, ast.FormattedValue)
                            else part.value.replace("{", "{{").replace("}", "}}") for part in node.values)]
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left, right = variants(node.left, False), variants(node.right, False)
            return None if left is None or right is None else [a + b for a in left for b in right]
        if isinstance(node, ast.IfExp):
            body, other = variants(node.body, False), variants(node.orelse, False)
            if body is not None and other is not None:
                return body + other
        return None if top else ["{" + ast.unparse(node) + "}"]  # a message passed on stays as it is

    found: dict[str, str] = {}
    for path, tree in trees.items():
        chosen = {target.id for node in ast.walk(tree) if isinstance(node, ast.Assign)  # cls = A if … else B
                  and isinstance(node.value, ast.IfExp)
                  and {getattr(node.value.body, "id", None), getattr(node.value.orelse, "id", None)} & ours
                  for target in node.targets if isinstance(target, ast.Name)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and node.args:
                name = getattr(node.func, "id", getattr(node.func, "attr", None))
                if name in ours or name in chosen:
                    for template in variants(node.args[0]) or []:
                        found.setdefault(template, f"{path.relative_to(root)}:{node.lineno}")
    return found


def test_every_refusal_of_the_library_has_its_vietnamese():
    templates = _refusal_templates()
    assert len(templates) > 300  # the scan still sees the raise sites
    missing = [f"{where}: {template!r}" for template, where in templates.items()
               if template not in messages.REFUSAL_TEXTS]
    assert missing == [], f"{len(missing)} refusals without Vietnamese in market40.messages.REFUSAL_TEXTS:\n" + \
        "\n".join(missing)
    stale = [template for template in messages.REFUSAL_TEXTS if template not in templates]
    assert stale == [], f"templates no longer raised anywhere: {stale}"


def test_each_vietnamese_refusal_keeps_the_fields_of_its_english():
    wrong = []
    for english, vietnamese in messages.REFUSAL_TEXTS.items():
        ours = {p[2] for p in messages.placeholders(english)}
        theirs = {p[2] for p in messages.placeholders(vietnamese)}
        optional = {name for name in ours if " if " in name or name == "english"}  # plurals, articles, glosses
        if not theirs <= ours or ours - theirs - optional or not vietnamese.strip() or vietnamese == english:
            wrong.append((english, vietnamese, sorted(theirs ^ ours)))
    assert wrong == []


@pytest.mark.parametrize("english, vietnamese", [
    ("stall HL1/A-9 not found", "không có sạp HL1/A-9 trong sổ đăng ký"),
    ("amount: must be from 1 to 499,999,999,999 đồng (NAPAS 247 single-transfer cap), got 500,000,000,000",
     "số tiền: phải từ 1 đến 499.999.999.999 đồng (hạn mức một lần chuyển NAPAS 247), nhận được 500.000.000.000"),
    ("38.01.00 BIN: must be 6 digits, got '97043'",
     "38.01.00 mã ngân hàng (BIN): phải gồm 6 chữ số, nhận được «97043»"),
    # phrases inside the fields, two fields side by side, a state, an English field name
    ("x.csv: no header of a known export in the first 40 lines (saw 'a, b'); the known layouts: generic (market40 "
     "generic CSV); choose the format with --format (market40 tx formats lists them)",
     "x.csv: không có dòng tiêu đề của một tệp xuất đã biết trong 40 dòng đầu (thấy 'a, b'); các định dạng đã biết: "
     "generic (CSV chung của market40); hãy chọn định dạng bằng --format (market40 tx formats liệt kê các định dạng)"),
    ("stall HL1/A-1: the account is pending; only verified accounts print",
     "sạp HL1/A-1: tài khoản đang ở trạng thái «chờ xác minh»; chỉ tài khoản đã xác minh mới được in"),
    ("f.csv: this is a PDF document; export the list from Excel as .xlsx or .csv",
     "f.csv: đây là tài liệu PDF; hãy xuất danh sách từ Excel dạng .xlsx hoặc .csv"),
    ("payload: not a VietQR transfer: NAPAS QR merchant payment (QRPUSH), not a transfer",
     "nội dung mã QR: không phải mã chuyển khoản VietQR: mã QR thanh toán điểm bán NAPAS (QRPUSH), không phải mã "
     "chuyển khoản"),
    ("a refusal of no known kind", "a refusal of no known kind"),
])
def test_a_refusal_reads_in_vietnamese_with_its_values(english, vietnamese):
    assert messages.refusal(english, "vi") == vietnamese
    assert messages.refusal(english, "en") == english


# --- click's own words --------------------------------------------------------------------------------

CLICK_ENGLISH = re.compile(r"Usage:|Options:|Commands:|Error:|Try '|for help|Show this message|Show the version|"
                           r"Missing (option|argument|command)|No such (option|command)|Invalid value|is not one of|"
                           r"requires an argument|Did you mean|\[default: |\[required\]")


@pytest.mark.parametrize("args, said", [
    (("qr", "encode", "--bank", "vcb", "--account", "1", "--bogus"), "Không có tùy chọn"),
    (("--bogus",), "Không có tùy chọn"),
    (("stal",), "Không có lệnh"),
    (("stall", "show"), "Thiếu tham số"),
    (("report", "adoption"), "Thiếu tùy chọn"),
    (("qr", "encode", "--bank", "vcb", "--account", "1", "--amount"), "Tùy chọn '--amount' cần một giá trị"),
    (("stall", "list", "--status", "sleeping", "HL1"), "Giá trị không hợp lệ cho"),
    (("user", "add", "nv.moi"), "Thiếu tùy chọn '--role'"),
])
def test_usage_errors_in_vietnamese(run, args, said):
    result = run(*args, env={"LANG": "vi_VN.UTF-8"})
    assert result.exit_code == 2, result.output
    assert said in result.output and "Lỗi: " in result.output, result.output
    assert not CLICK_ENGLISH.search(result.output), result.output
    english = run(*args, env={"LANG": "C"})
    assert english.exit_code == 2 and "Error: " in english.output and "Lỗi" not in english.output


def test_help_pages_are_vietnamese_around_the_option_names(run):
    for args in [(), ("qr",), ("qr", "encode"), ("stall", "import"), ("fee", "bill")]:
        page = run("--lang", "vi", *args, "--help").output
        assert page.startswith("Cách dùng: ") and "Tùy chọn:" in page, page
        assert "Hiện hướng dẫn này rồi thoát." in page
        assert not CLICK_ENGLISH.search(page), page
    group = run("--lang", "vi", "--help").output
    assert "Lệnh:" in group and "Hiện phiên bản rồi thoát." in group
    english = run("--lang", "en", "qr", "encode", "--help").output
    assert english.startswith("Usage: ") and "Show this message and exit." in english


def test_every_option_has_vietnamese_help(run):
    missing = []

    def walk(command: click.Command, path: str) -> None:
        for param in command.params:
            if isinstance(param, click.Option) and param.help and param.help not in messages.OPTION_HELP:
                missing.append(f"{path} {param.opts[-1]}: {param.help!r}")
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, f"{path} {name}")
    walk(cli.main, "market40")
    assert missing == [], "options without Vietnamese help in market40.messages.OPTION_HELP:\n" + "\n".join(missing)
    used = set()

    def collect(command: click.Command) -> None:
        used.update(param.help for param in command.params if isinstance(param, click.Option))
        for sub in getattr(command, "commands", {}).values():
            collect(sub)
    collect(cli.main)
    stale = [said for said in messages.OPTION_HELP
             if said not in used and said not in ("Show this message and exit.", "Show the version and exit.")]
    assert stale == [], stale
    # click's notes after the help ([default: …], [required]) follow the language too
    assert messages.option_help("Days the codes stay valid (1–90).  [default: 14; required]") == \
        "Số ngày mã còn hiệu lực (1–90).  [mặc định: 14; bắt buộc]"
    page = run("--lang", "vi", "enroll", "issue", "--help").output
    assert "Số ngày mã còn hiệu lực (1–90)." in page and "Days the codes" not in page


# --- the other lines that used to leak English -----------------------------------------------------------

def test_simulation_bill_problems_banks_layouts_and_scopes_in_vietnamese(run, demo_copy):
    from market40.services.simulate import SimulationReport
    report = SimulationReport(transfers=1200, requests=2400, by_status={200: 2398, 503: 2}, errors=1, seconds=12.34,
                              latencies=[0.0123] * 100)
    said = {}
    for lang in ("vi", "en"):
        with click.Context(cli.main, obj={"lang": lang}):
            said[lang] = cli._simulation_summary(report)
    assert said["vi"] == ("1.200 giao dịch trong 2.400 yêu cầu, mất 12,3 giây (phản hồi 200: 2.398, 503: 2; "
                          "1 lỗi mạng; 99% phản hồi trong 12 ms)")
    assert said["en"].startswith("1,200 transfers in 2,400 requests over 12.3 s")
    assert messages.bill_problem("sạp A-1: chưa có diện tích (m²) để tính Thuê sạp (no area for THUE)") == \
        "sạp A-1: chưa có diện tích (m²) để tính Thuê sạp"
    assert messages.bill_problem("sạp A-1: không có biểu phí nào áp dụng cho chợ hạng I kỳ 2025-06 "
                                 "(no tariff applies)", "en") == \
        "stall A-1: no tariff applies to a tier I market in 2025-06"
    vi = {"LANG": "vi_VN.UTF-8"}
    out = run("banks", "momo", env=vi).output
    assert "ví điện tử" in out and "ewallet" not in out
    out = run("tx", "formats", env=vi).output
    assert "sao kê tài khoản kiểu Vietcombank" in out and not re.search(r"-style|JSON lines|generic CSV", out)
    out = run("--db", demo_copy, "user", "list", env=vi).output
    assert "locality:" not in out and "địa bàn " in out
    assert "locality:" in run("--db", demo_copy, "user", "list", env={"LANG": "C"}).output


def test_qr_decode_says_what_a_code_is_in_vietnamese(run):
    from market40 import emv
    template = "0010A000000727" + emv.tlv("01", "0006970436" + emv.tlv("01", "MC0012345678")) + "0206QRPUSH"
    push = emv.with_crc("000201010211" + emv.tlv("38", template) + "5204541153037045802VN5914TAP HOA CO LAN")
    for payload in (push, "hello", "000201xyz", push[:-1] + "0"):
        out = run("--lang", "vi", "qr", "decode", payload).output
        assert "mã" in out and not re.search(r"\b(not|payload|merchant|transfer|expected|found|tag)\b", out), out
    assert "NAPAS QR merchant payment" in run("--lang", "en", "qr", "decode", push).output


def test_every_help_page_is_vietnamese_around_what_is_typed(run):
    """Every command's page in a Vietnamese run: click's words and the options' help in Vietnamese."""
    pages = []

    def walk(command: click.Command, path: tuple[str, ...]) -> None:
        pages.append(path)
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, (*path, name))
    walk(cli.main, ())
    assert len(pages) > 60
    for path in pages:
        page = run("--lang", "vi", *path, "--help").output
        assert page.startswith("Cách dùng: ") and "Tùy chọn:" in page, (path, page)
        assert not CLICK_ENGLISH.search(page), (path, page)
        options = page.split("Tùy chọn:", 1)[1].split("\nLệnh:", 1)[0]
        helps = [line.strip().split("  ", 1)[1] for line in options.splitlines()
                 if line.startswith("  -") and "  " in line.strip()]
        assert helps, (path, page)
        assert not [said for said in helps if re.search(r"\b(the|of|and|with|only|this)\b", said)], (path, helps)


def test_a_prompt_left_unanswered_stops_in_the_run_s_language(demo_copy, monkeypatch):
    def no_answer(*args, **kwargs):
        raise click.Abort()  # Ctrl-C or the end of the input (how a runner ends input differs between clicks)
    monkeypatch.setattr(click, "prompt", no_answer)
    args = ["--db", str(demo_copy), "user", "add", "nv.moi", "--role", "staff", "--market", "HL1"]
    result = CliRunner().invoke(cli.main, ["--lang", "vi", *args])
    assert result.exit_code == 1 and "Đã dừng." in result.output and "Aborted" not in result.output
    english = CliRunner().invoke(cli.main, ["--lang", "en", *args])
    assert english.exit_code == 1 and "Aborted!" in english.output


def test_a_mistyped_new_password_is_asked_again_in_the_run_s_language(demo_copy):
    """user add: the second typing differs → a Vietnamese line (click's own is English only), then both again."""
    args = ["--db", str(demo_copy), "--lang", "vi", "user", "add", "nv.moi", "--role", "staff", "--market", "HL1"]
    result = CliRunner().invoke(cli.main, args, input="Ha-Long-2026-nv\nHa-Long-2026-NV\nHa-Long-2026-nv\n"
                                                      "Ha-Long-2026-nv\n")
    assert result.exit_code == 0, result.output
    assert "không khớp" in result.output and "do not match" not in result.output
    assert result.output.count("nhập lại mật khẩu") == 2


def test_version_has_no_english_word():
    result = CliRunner().invoke(cli.main, ["--lang", "vi", "--version"])
    assert result.exit_code == 0 and result.output.strip() == f"market40 {market40.__version__}"


@pytest.mark.parametrize("english, vietnamese", [
    ("bank: no NAPAS participant matches 'xyz'", "ngân hàng: không có thành viên NAPAS nào khớp với «xyz»"),
    ("bank: no NAPAS participant matches \"it's\"", "ngân hàng: không có thành viên NAPAS nào khớp với «it's»"),
])
def test_a_quoted_value_beside_another_field_stays_whole(english, vietnamese):
    """``{query!r}{hint}``: the value is the whole quoted string, never an empty «» with the quote after it."""
    assert messages.refusal_text(english) == vietnamese


def test_help_written_before_lang_speaks_the_chosen_language():
    """``--help --lang vi``: click runs the eager --help first; the language is read from the command line before."""
    vi = CliRunner().invoke(cli.main, ["--help", "--lang", "vi"], env={"LANG": "C", "MARKET40_LANG": ""})
    assert vi.exit_code == 0 and vi.output.startswith("Cách dùng: ")
    en = CliRunner().invoke(cli.main, ["--help", "--lang", "en"], env={"LANG": "vi_VN.UTF-8", "MARKET40_LANG": ""})
    assert en.exit_code == 0 and en.output.startswith("Usage: ")
