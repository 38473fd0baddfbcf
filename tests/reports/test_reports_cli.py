"""The census, tx, reconcile and report commands end to end on a real SQLite file and DuckDB store."""
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

import cli

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples" / "transactions"


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MARKET40_SECRET_KEY", "test-secret-key-of-enough-length")
    monkeypatch.delenv("MARKET40_DATABASE_URL", raising=False)
    monkeypatch.delenv("MARKET40_TX_STORE", raising=False)
    runner = CliRunner()
    db = str(tmp_path / "registry.db")

    def invoke(*args):
        return runner.invoke(cli.main, ["--db", db, *map(str, args)], catch_exceptions=False)
    return invoke


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory, demo_activity_template):
    """The demo province after ``tx demo --end 2025-06 --months 2`` and ``reconcile --period 2025-06 --months 2``
    (built once per run by tests/conftest.py, copied once for this module)."""
    folder = tmp_path_factory.mktemp("demo") / "demo"
    shutil.copytree(demo_activity_template, folder)
    return folder


def test_demo_history_reconcile_and_report(demo_db, monkeypatch):
    monkeypatch.chdir(demo_db)
    runner = CliRunner()

    def run(*args):
        result = runner.invoke(cli.main, ["--db", str(demo_db / "demo.db"), *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    assert (demo_db / "demo.transfers.duckdb").exists()  # the store sits beside the registry
    out = run("report", "adoption", "--period", "2025-06", "--months", "2", "-o", "bc.xlsx")
    assert "43 markets" in out and "stall-weighted" in out and "mean of market rates" in out
    book = load_workbook(demo_db / "bc.xlsx")
    assert len(book["Theo chợ"]["A"]) == 44 and book["Tổng hợp"]._charts
    data = json.loads(run("report", "adoption", "--period", "2025-06", "--by", "market", "--months", "3",
                          "-o", "-", "--format", "json"))
    assert data["trend"][0]["figures"] is None  # April was not reconciled: a gap, not a zero
    rates = [t["figures"]["accepting_rate"] for t in data["trend"][1:]]
    assert rates[0] < rates[1]  # the demo's adoption grows month by month
    officer = json.loads(run("report", "adoption", "--period", "2025-06", "--user", "cb.halong", "-o", "-",
                             "--format", "json"))
    assert {m["code"][:2] for m in officer["markets"]} == {"HL"} and officer["scope"] == "Thành phố Hạ Long"
    shared = json.loads(run("report", "anomalies", "--period", "2025-06", "--kind", "shared_account", "--json"))
    assert {a["market"] for a in shared} >= {"HL2"}
    census = json.loads(run("census", "list", "--period", "2025-06", "--json"))
    assert len(census) == 43 and all(c["households"] for c in census)
    again = json.loads(run("reconcile", "--period", "2025-06", "--json"))
    assert again[0]["stalls"] > 13_000 and again[0]["markets"] == 43


def test_tx_import_formats_and_idempotence(run, demo_template, tmp_path):
    shutil.copyfile(demo_template, tmp_path / "registry.db")  # ``market40 demo --no-walkthrough``, built once per run
    files = [SAMPLES / n for n in ("generic.csv", "vcb-statement.csv", "vietinbank.csv", "mb.csv",
                                   "vietinbank.xlsx", "sepay.jsonl")]
    result = run("tx", "import", *files)
    assert result.exit_code == 0, result.output
    assert "vcb-statement.csv (vcb)" in result.output and "1 outgoing" in result.output
    again = run("tx", "import", *files, "--json")
    assert [json.loads(x)["already_imported"] for x in _json_objects(again.output)] == [True] * 6
    casso = run("tx", "import", SAMPLES / "casso-bidv.jsonl", "--rejects", "casso.rejects.csv")
    assert casso.exit_code == 1 and "--bank" in casso.output and "nothing was written" in casso.output
    fixed = run("tx", "import", SAMPLES / "casso-bidv.jsonl", "--bank", "BIDV")  # not "already imported"
    assert fixed.exit_code == 0 and "14 transfers in" in fixed.output and "6 already stored" in fixed.output
    formats = json.loads(run("tx", "formats", "--json").output)
    assert [f["name"] for f in formats] == ["generic", "vcb", "vietinbank", "mb", "sepay", "casso"]
    assert run("reconcile", "--period", "2025-06").exit_code == 0


def test_tx_import_refuses_junk(run, tmp_path):
    assert run("db", "init").exit_code == 0
    junk = tmp_path / "junk.csv"
    junk.write_bytes(b"\x00\x01 not a table")
    result = run("tx", "import", junk)
    assert result.exit_code == 1 and "junk.csv" in result.output and "Traceback" not in result.output
    bad = tmp_path / "bad.csv"
    bad.write_text("transaction_id,booked_at,bank_bin,account,amount,content\n"
                   "T1,2025-06-01 08:00:00,970436,0011,1000,ok\nT2,2025-06-31 08:00:00,970436,0011,1000,x\n",
                   encoding="utf-8")
    result = run("tx", "import", bad)
    assert result.exit_code == 1 and "line 3: booked_at" in result.output
    assert "nothing was written because some rows are bad (fix them, or use --partial)" in result.output
    assert (tmp_path / "bad.rejects.csv").exists()
    result = run("tx", "import", bad, "--partial")
    assert result.exit_code == 1 and "1 transfers in" in result.output and "the bad rows were left out" in result.output
    assert "--partial" in run("tx", "import", "--help").output


def test_census_commands(run, tmp_path, demo_template):
    shutil.copyfile(demo_template, tmp_path / "registry.db")  # ``market40 demo --no-walkthrough``, built once per run
    assert run("census", "template", "form.xlsx").exit_code == 0 and (tmp_path / "form.xlsx").exists()
    path = tmp_path / "ct1.csv"
    path.write_text("Mã sạp,Tên chủ hộ\nA-1,Nguyễn Thị Lan\nA-2,\n", encoding="utf-8")
    result = run("--lang", "vi", "census", "import", path, "--market", "CT1", "--period", "2025-06")
    assert result.exit_code == 1 and "Dòng 3" in result.output and (tmp_path / "ct1.rejects.csv").exists()
    path.write_text("Mã sạp,Tên chủ hộ\nA-1,Nguyễn Thị Lan\nA-2,Trần Văn Bình\n", encoding="utf-8")
    result = run("census", "import", path, "--market", "CT1", "--period", "2025-06")
    assert result.exit_code == 0 and "2 households added" in result.output
    listed = run("census", "list", "--period", "2025-06", "--market", "CT1")
    assert "CT1" in listed.output and "2" in listed.output


def test_report_needs_a_format_and_a_registry(run):
    result = run("report", "adoption", "--period", "2025-06", "-o", "x.pdf")
    assert result.exit_code == 2 and "--format" in result.output
    result = run("reconcile", "--period", "2025-06")
    assert result.exit_code == 1 and "db init" in result.output


def _json_objects(text):
    """The JSON objects printed one after the other (echo_json indents them)."""
    decoder, position, out = json.JSONDecoder(), 0, []
    text = text.strip()
    while position < len(text):
        obj, end = decoder.raw_decode(text, position)
        out.append(json.dumps(obj))
        position = end
        while position < len(text) and text[position].isspace():
            position += 1
    return out
