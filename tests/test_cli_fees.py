"""The `market40 fee` commands end to end on a demo copy, with a real transaction store."""
from __future__ import annotations

import json
from datetime import datetime

from click.testing import CliRunner

import cli
from market40 import reconciliation as rules
from market40.txstore import TransferStore

from test_fees import MARKET, PERIOD, TARIFFS  # noqa: E402  (same folder)


def test_fee_cycle_on_the_command_line(demo_copy, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = tmp_path / "tx.duckdb"
    runner = CliRunner()

    def fee(*args):
        result = runner.invoke(cli.main, ["--db", str(demo_copy), "fee", *map(str, args)], catch_exceptions=False)
        return result

    assert fee("account", "set", MARKET, "--bank", "vietcombank", "--account", "0011009876543",
               "--holder", "BAN QUAN LY CHO").exit_code == 0
    (tmp_path / "t.csv").write_text(TARIFFS, encoding="utf-8")
    assert fee("tariff", "template", tmp_path / "template.xlsx").exit_code == 0
    imported = fee("tariff", "import", tmp_path / "t.csv", "--json")
    assert imported.exit_code == 0 and json.loads(imported.output)["created"] == 6
    listed = json.loads(fee("tariff", "list", "--json").output)
    assert {r["code"] for r in listed} == {"THUE", "VESINH", "DIEN", "LUOT"}
    # without areas, the rent cannot be computed: refused, every stall named, nothing issued
    refused = fee("bill", "--market", MARKET, "--period", PERIOD)
    assert refused.exit_code == 1 and "no area (m²) to bill" in refused.output  # an English run (issue #12)
    status = json.loads(fee("status", "--market", MARKET, "--period", PERIOD, "--json").output)
    assert status["bills"] == 0
    stalls = json.loads(runner.invoke(cli.main, ["--db", str(demo_copy), "stall", "list", MARKET, "--status",
                                                 "operating", "--json"]).output)
    codes = [s["code"] for s in stalls]
    (tmp_path / "a.csv").write_text("Mã sạp,Diện tích (m²)\n" + "\n".join(f"{c},5" for c in codes), encoding="utf-8")
    assert fee("stalls", tmp_path / "a.csv", "--market", MARKET).exit_code == 0
    issued = fee("bill", "--market", MARKET, "--period", PERIOD, "--slips", tmp_path / "s.pdf", "--json")
    assert issued.exit_code == 0 and json.loads(issued.output)["created"] == len(codes)
    assert (tmp_path / "s.pdf").read_bytes().startswith(b"%PDF")
    a7 = fee("slips", "--market", MARKET, "--period", PERIOD, "--size", "A7", "--workers", "2", "-o", tmp_path / "a7.pdf")
    assert a7.exit_code == 0 and f"wrote {len(codes)} A7 slips" in a7.output
    assert (tmp_path / "a7.pdf").read_bytes().startswith(b"%PDF")
    again = json.loads(fee("bill", "--market", MARKET, "--period", PERIOD, "--json").output)
    assert (again["created"], again["corrected"], again["unchanged"]) == (0, 0, len(codes))
    bills = json.loads(fee("status", "--market", MARKET, "--period", PERIOD, "--json").output)["list"]
    first, second = bills[0], bills[1]
    # transfers to the board's account arrive in the store (a statement file or a webhook feed)
    with TransferStore(store) as tx:
        tx.import_transfers([
            rules.Transfer("970436", "FT1", datetime(2026, 12, 3, 10), "0011009876543", first["amount"],
                           f"IBFT {first['reference'].replace(' ', '')} thanh toan", "webhook"),
            rules.Transfer("970436", "FT2", datetime(2026, 12, 4, 10), "0011009876543", 5_000, "ck", "statement"),
            rules.Transfer("970436", "FT3", datetime(2026, 12, 4, 11), "0099999999", second["amount"],
                           second["reference"], "statement"),  # another account: not the board's
        ], source="feed", layout="sepay", channel="webhook", file_fingerprint="x" * 64)
    matched = fee("match", "--market", MARKET, "--store", store, "--json")
    result = json.loads(matched.output)
    assert (result["transfers"], result["applied"], len(result["unmatched"])) == (2, 1, 1)
    assert json.loads(fee("match", "--market", MARKET, "--store", store, "--json").output)["already"] == 1
    receipt = fee("receipt", first["number"], "-o", tmp_path / "r.pdf")
    assert receipt.exit_code == 0 and "BL-HA3-" in receipt.output
    cash = fee("cash", second["number"], "100.000", "--note", "tại văn phòng")
    assert cash.exit_code == 0 and "Nộp một phần" in cash.output
    arrears = json.loads(fee("arrears", "--market", MARKET, "--json").output)
    assert isinstance(arrears, list)
    assert fee("cash", "NO-SUCH-BILL", "1000").exit_code == 1
