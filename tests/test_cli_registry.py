"""The registry commands end to end on a real SQLite file (bank staff's daily work)."""
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import cli

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "data" / "samples"


@pytest.fixture
def run(tmp_path, monkeypatch, demo_secret):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MARKET40_SECRET_KEY", demo_secret)
    monkeypatch.delenv("MARKET40_DATABASE_URL", raising=False)
    runner = CliRunner()
    db = str(tmp_path / "registry.db")

    def invoke(*args, input=None):
        return runner.invoke(cli.main, ["--db", db, *map(str, args)], input=input, catch_exceptions=False)
    return invoke


@pytest.fixture
def demo(run, demo_template, tmp_path):
    """``run`` on a copy of the demo province (``market40 demo --no-walkthrough``, built once per run)."""
    shutil.copyfile(demo_template, tmp_path / "registry.db")
    return run


def test_db_init_refuses_to_overwrite(run):
    assert run("db", "init").exit_code == 0
    result = run("db", "init")
    assert result.exit_code == 1 and "already" in result.output.lower()
    assert run("db", "upgrade").exit_code == 0


def test_demo_prints_logins_and_refuses_to_overwrite(demo):
    result = demo("demo", "--no-walkthrough")
    assert result.exit_code == 1 and "--fresh" in result.output
    result = demo("market", "list", "--json")
    markets = json.loads(result.output)
    assert len(markets) == 43 and sum(m["stalls"] for m in markets) == 14370


def test_walkthrough_onboards_a_market(run, tmp_path):
    samples_before = {p.name for p in SAMPLES.iterdir()}
    result = run("demo")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "5 rejected" in out and "nothing was written" in out  # A-3 twice: both rows
    assert "150 new" in out and "nothing changed" in out
    assert "105 accounts verified" in out and "replaced" in out and "Mã đăng ký:" in out
    # the bad rows go to the user's folder, never beside the shipped samples
    assert {p.name for p in SAMPLES.iterdir()} == samples_before
    assert (tmp_path / "stalls-HH1-with-errors.rejects.csv").exists()


def test_stall_and_account_commands(demo, tmp_path):
    result = demo("stall", "add", "HL1/Z-1", "--owner", "Nguyễn Văn Tám", "--phone", "0912 000 999")
    assert result.exit_code == 0 and "created" in result.output
    result = demo("account", "set", "HL1/Z-1", "--bank", "agribank", "--account", "1234567890123",
                  "--holder", "Nguyễn Văn Tám")
    assert result.exit_code == 0 and "HL1 Z1" in result.output
    assert demo("account", "verify", "HL1/Z-1").exit_code == 0
    listing = json.loads(demo("stall", "list", "HL1", "--search", "tam", "--json").output)
    assert any(s["code"] == "Z-1" and s["account"]["number"] == "•••• 0123" for s in listing)
    shown = demo("stall", "show", "HL1/Z-1", "--reveal", "--json")
    assert json.loads(shown.output)["accounts"][0]["number"] == "1234567890123"
    assert demo("account", "reject", "HL1/Z-1", "--reason", "x").exit_code == 1  # verified: cannot reject
    assert demo("account", "revoke", "HL1/Z-1", "--reason", "Sạp nghỉ").exit_code == 0
    history = json.loads(demo("account", "list", "HL1", "--history", "--json").output)
    assert [a["status"] for a in history if a["stall"] == "HL1/Z-1"] == ["revoked"]


def test_bad_account_reports_every_problem(demo):
    result = demo("account", "set", "HL1/A-1", "--bank", "vietcombnak", "--account", "12/3", "--holder", "X2")
    assert result.exit_code == 1
    assert "3 problems" in result.output and "did you mean Vietcombank" in result.output


def test_import_exit_codes_and_rejects_file(demo, tmp_path):
    result = demo("market", "import", SAMPLES / "markets-new.csv")
    assert result.exit_code == 0
    bad = tmp_path / "bad.csv"
    bad.write_bytes((SAMPLES / "stalls-HH1-with-errors.csv").read_bytes())
    result = demo("stall", "import", bad, "--market", "HH1", "--json")
    report = json.loads(result.stdout)
    assert result.exit_code == 1 and not report["written"] and len({p["row"] for p in report["problems"]}) == 5  # A-3 twice: both rows
    assert Path(report["rejects_file"]).exists()
    result = demo("stall", "import", bad, "--market", "HH1", "--partial")
    assert result.exit_code == 1 and "(the bad rows were left out)" in result.output


def test_users_and_enrollment(demo, tmp_path):
    result = demo("user", "add", "nv.test", "--role", "staff", "--market", "HL1", "--password", "mot-mat-khau-dai")
    assert result.exit_code == 0
    users = json.loads(demo("user", "list", "--json").output)
    assert {"username": "nv.test", "role": "staff"}.items() <= next(u for u in users if u["username"] == "nv.test").items()
    assert demo("user", "add", "nv.x", "--role", "staff", "--password", "short").exit_code == 1
    out = tmp_path / "slips.pdf"
    result = demo("enroll", "issue", "--market", "CT1", "-o", out)
    assert result.exit_code == 0 and out.read_bytes().startswith(b"%PDF")
    assert "slips written" in result.output


def test_template(run, tmp_path):
    assert run("stall", "template", tmp_path / "mau.xlsx").exit_code == 0
    assert (tmp_path / "mau.xlsx").stat().st_size > 0

