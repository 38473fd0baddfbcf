"""The ``market40`` command line: exit codes, messages, JSON, help texts."""
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import cli
from market40 import qrimage

ROOT = Path(__file__).resolve().parent.parent
SPEC = "00020101021138570010A00000072701270006970403011300110123456780208QRIBFTTA53037045802VN63049E6F"


@pytest.fixture
def run():
    runner = CliRunner()

    def invoke(*args, input=None):
        return runner.invoke(cli.main, [str(a) for a in args], input=input, catch_exceptions=False)
    return invoke


def test_encode_prints_the_payload(run):
    result = run("qr", "encode", "--bank", "vietcombank", "--account", "1234567890", "--purpose", "Chợ HL1 sạp A12")
    assert result.exit_code == 0
    payload = result.output.strip()
    assert "0006970436" in payload and "0815CHO HL1 SAP A12" in payload


def test_encode_reports_every_problem_and_exits_1(run):
    result = run("qr", "encode", "--bin", "97043", "--account", "1" * 20, "--amount", "1.5")
    assert result.exit_code == 1
    assert "3 problems" in result.output
    for words in ("bin: must be 6 digits, got '97043'", "account: must be 1–19", "amount: must be a whole number"):
        assert words in result.output


def test_encode_unknown_bank_suggests(run):
    result = run("qr", "encode", "--bank", "vietcombnak", "--account", "1")
    assert result.exit_code == 1 and "did you mean Vietcombank" in result.output


def test_encode_unknown_bin_needs_explicit_permission(run):
    assert run("qr", "encode", "--bin", "970499", "--account", "1").exit_code == 1
    result = run("qr", "encode", "--bin", "970499", "--account", "1", "--allow-unknown-bin")
    assert result.exit_code == 0 and "0006970499" in result.output


def test_decode_human(run):
    result = run("qr", "decode", SPEC)
    assert result.exit_code == 0
    assert "Sacombank" in result.output and "0011012345678" in result.output and "static" in result.output


def test_decode_json_has_the_documented_keys(run):
    result = run("qr", "decode", "--json", SPEC)
    data = json.loads(result.output)
    for key in ("bin", "account", "service", "initiation", "amount", "purpose", "bill_number",
                "reference_label", "merchant_name", "merchant_city", "crc_ok", "bank"):
        assert key in data
    assert data["service"] == "QRIBFTTA" and data["initiation"] == "static" and data["amount"] is None
    assert data["bank"]["short_name"] == "Sacombank" and data["crc_ok"] is True


def test_decode_bad_crc_prints_fields_and_exits_1(run):
    result = run("qr", "decode", "--json", SPEC[:-1] + "E")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["crc_ok"] is False and data["account"] == "0011012345678"
    assert "expected 9E6F, found 9E6E" in result.stderr


def test_decode_non_vietqr_says_what_it_is(run):
    from market40 import emv
    vnpay = emv.with_crc("000201010212" + emv.tlv("26", "0010A0000007750110" + "0105313144") + "53037045802VN")
    result = run("qr", "decode", vnpay)
    assert result.exit_code == 1 and "VNPAY-QR" in result.output


def test_decode_reads_stdin(run):
    assert run("qr", "decode", "-", input=SPEC + "\n").exit_code == 0


def test_decode_unknown_bin_is_a_warning_not_fatal(run):
    from market40 import vietqr
    payload = vietqr.build(bin="970499", account="1").payload
    result = run("qr", "decode", payload)
    assert result.exit_code == 0 and "970499 is not in the NAPAS participant directory" in result.stderr


@pytest.mark.parametrize("suffix", ["png", "svg", "pdf"])
def test_image_writes_each_format(run, tmp_path, suffix):
    out = tmp_path / f"a12.{suffix}"
    result = run("qr", "image", "--bank", "vcb", "--account", "1234567890", "--purpose", "HL1 A12", "-o", out)
    assert result.exit_code == 0 and out.stat().st_size > 0
    if suffix == "png":
        texts = qrimage.read(out)
        assert len(texts) == 1 and "0815" not in texts[0] and "0807HL1 A12" in texts[0]


def test_image_refuses_an_invalid_payload(run, tmp_path):
    result = run("qr", "image", "--payload", SPEC[:-1] + "0", "-o", tmp_path / "x.png")
    assert result.exit_code == 1 and "CRC" in result.output and not (tmp_path / "x.png").exists()


def test_read_decodes_a_photo(run, tmp_path):
    out = tmp_path / "code.png"
    qrimage.write(SPEC, out)
    result = run("qr", "read", out)
    assert result.exit_code == 0 and "0011012345678" in result.output
    result = run("qr", "read", "--json", out)
    assert json.loads(result.stdout)[0]["text"] == SPEC


def test_read_without_qr_exits_1(run, tmp_path):
    from PIL import Image
    blank = tmp_path / "blank.png"
    Image.new("L", (200, 200), 255).save(blank)
    result = run("qr", "read", blank)
    assert result.exit_code == 1 and "no QR code found" in result.stderr


def test_banks_search_and_json(run):
    result = run("banks", "ngoai", "thuong")
    # Vietcombank first; VCBNeo (Ngoại thương Công nghệ số, 970444) also has the words in its name
    assert result.exit_code == 0 and result.output.splitlines()[0].startswith("970436")
    assert [line[:6] for line in result.output.splitlines()] == ["970436", "970444"]
    data = json.loads(run("banks", "--kind", "ewallet", "--json").output)
    assert {b["bin"] for b in data} == {"971005", "971011", "971025"}
    assert run("banks", "zzzz").exit_code == 1


def test_usage_errors_exit_2(run):
    assert run("qr", "encode", "--no-such-option").exit_code == 2
    assert run("no-such-command").exit_code == 2


def test_version(run):
    import market40
    assert market40.__version__ in run("--version").output


def all_commands(group=cli.main, prefix=("market40",)):
    for name, command in group.commands.items():
        path = prefix + (name,)
        yield path, command
        if isinstance(command, click.Group):
            yield from all_commands(command, path)


@pytest.mark.parametrize("path, command", list(all_commands()), ids=lambda x: " ".join(x) if isinstance(x, tuple) else "")
def test_every_command_has_help_with_an_example(run, path, command):
    result = run(*path[1:], "--help")
    assert result.exit_code == 0 and command.help
    if not isinstance(command, click.Group):
        assert "Example" in command.help, f"{' '.join(path)} has no example in its help"


def test_every_command_is_in_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for path, _ in all_commands():
        assert f"`{' '.join(path)}" in readme, f"{' '.join(path)} is not documented in README.md"


def test_installed_entry_point():
    """The console script that pip installed runs (not only the module)."""
    script = Path(sys.executable).parent / "market40"
    if not script.exists():
        script = shutil.which("market40")
        if script is None:
            if os.environ.get("CI"):
                pytest.fail("the market40 console script is not installed")
            pytest.skip("market40 is not installed in this environment")
    result = subprocess.run([str(script), "qr", "decode", "--json", SPEC], capture_output=True, text=True,
                            cwd="/", timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["bin"] == "970403"


def test_banks_search_by_former_name_says_formerly(run):
    result = run("banks", "cbbank")
    assert result.exit_code == 0
    assert "970444" in result.output and "VCBNeo" in result.output and "(formerly CBBank)" in result.output
    data = json.loads(run("banks", "CBBank", "--json").output)
    assert data[0]["bin"] == "970444" and data[0]["matched_former_name"] == "CBBank"


def test_banks_search_for_a_wallet_without_bin_explains(run):
    result = run("banks", "zalopay")
    assert result.exit_code == 1
    assert "ZaloPay: not in the NAPAS participant directory" in result.output and "970454" in result.output


def test_poster_verify_on_a_merchant_sticker_reports_a_possible_overlay(tmp_path, monkeypatch):
    # Photo of a QRPUSH merchant QR and of plain text, drawn by market40 itself and read back.
    from market40 import emv
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MARKET40_DATABASE_URL", raising=False)
    runner = CliRunner()
    db = str(tmp_path / "registry.db")
    assert runner.invoke(cli.main, ["--db", db, "db", "init"]).exit_code == 0
    template = "0010A000000727" + emv.tlv("01", "0006970436" + emv.tlv("01", "MC0012345678")) + "0206QRPUSH"
    push = emv.with_crc("000201010211" + emv.tlv("38", template) + "5204541153037045802VN5914TAP HOA CO LAN")
    qrimage.write(push, tmp_path / "push.png")
    qrimage.write("hello market", tmp_path / "text.png")
    result = runner.invoke(cli.main, ["--db", db, "poster", "verify", str(tmp_path / "push.png")])
    assert result.exit_code == 5, result.output
    assert "UNKNOWN" in result.output and "possibly an overlay" in result.output
    assert "QRPUSH" in result.output and "MC0012345678" in result.output and "Vietcombank" in result.output
    result = runner.invoke(cli.main, ["--db", db, "poster", "verify", str(tmp_path / "text.png"), "--json"])
    [data] = json.loads(result.stdout)
    assert result.exit_code == 5 and data["verdict"] == "unknown" and data["exit_code"] == 5
    assert data["kind"].startswith("not an EMV payment code") and "hello market" in data["message"]


def qrpush():
    """A NAPAS QRPUSH merchant QR (NAPAS-SW): acquirer Vietcombank, merchant id MC0012345678."""
    from market40 import emv
    template = "0010A000000727" + emv.tlv("01", "0006970436" + emv.tlv("01", "MC0012345678")) + "0206QRPUSH"
    return emv.with_crc("000201010212" + emv.tlv("38", template) + "5204541153037045405120005802VN"
                        "5914TAP HOA CO LAN6007HA LONG" + emv.tlv("62", "0703T01"))


def test_decode_json_reads_a_qrpush_merchant_code(run):
    result = run("qr", "decode", "--json", qrpush())
    assert result.exit_code == 1  # not a VietQR transfer: exit 0 stays for valid transfers only
    data = json.loads(result.stdout)
    assert data["kind"] == "NAPAS QR merchant payment (QRPUSH), not a transfer" and data["valid"] is False
    assert (data["bin"], data["merchant_id"], data["mcc"], data["amount"]) == ("970436", "MC0012345678", "5411", 12000)
    assert (data["merchant_name"], data["merchant_city"], data["service"]) == ("TAP HOA CO LAN", "HA LONG", "QRPUSH")
    assert data["bank"]["short_name"] == "Vietcombank" and data["crc_ok"] is True and data["account"] is None


def test_decode_human_names_a_qrpush_codes_fields(run):
    # English: the amount as market40.formats writes it in English (Vietnamese: 12.000 đ, tests/test_cli_lang.py)
    result = run("qr", "decode", qrpush())
    assert result.exit_code == 1
    for words in ("Not a VietQR transfer: NAPAS QR merchant payment (QRPUSH)", "Acquirer:    Vietcombank",
                  "Merchant ID: MC0012345678", "MCC:         5411", "Merchant:    TAP HOA CO LAN",
                  "City:        HA LONG", "Amount:      12,000 đ"):
        assert words in result.stdout


def test_decode_json_reads_a_vnpay_sticker(run):
    from market40 import emv
    vnpay = emv.with_crc("000201010211" + emv.tlv("26", "0010A0000007750110" + "0105313144") + "52045812"
                         "53037045802VN5908QUAN PHO6005HANOI")
    data = json.loads(run("qr", "decode", "--json", vnpay).stdout)
    assert data["kind"] == "VNPAY-QR merchant payment" and data["merchant_id"] == "0105313144"
    assert (data["template"], data["guid"], data["mcc"], data["merchant_name"]) == ("26", "A000000775", "5812", "QUAN PHO")


def test_decode_flags_a_trailing_dot_amount_but_accepts_it(run):
    from market40 import emv
    payload = emv.with_crc(SPEC[:-8].replace("010211", "010212").replace("5802VN", "540650000.5802VN"))
    result = run("qr", "decode", "--json", payload)
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["amount"] == 50000 and any("ends with a dot" in w for w in data["warnings"])
    assert "warning: 54 amount" in result.stderr


def test_decode_refuses_an_amount_over_the_cap_in_canonical_order(run):
    from market40 import vietqr
    payload = vietqr.build(bin="970436", account="1234567890", amount=150000).payload
    payload = payload.replace("5406150000", "5409500000000")
    from market40 import emv
    payload = emv.with_crc(payload[:-8])
    result = run("qr", "decode", payload)
    assert result.exit_code == 1 and "499,999,999" in result.stderr


def test_read_json_shows_the_fields_of_a_qrpush_photo(run, tmp_path):
    image = tmp_path / "push.png"
    qrimage.write(qrpush(), image)
    result = run("qr", "read", "--json", image)
    assert result.exit_code == 1
    [data] = json.loads(result.stdout)
    assert data["text"] == qrpush() and data["merchant_id"] == "MC0012345678" and data["bin"] == "970436"
    assert data["kind"].startswith("NAPAS QR merchant payment")
    human = run("qr", "read", image)
    assert "Merchant ID: MC0012345678" in human.stdout
