"""Importers against hostile files (issue #16): invisible characters, corrupted workbooks, floods of bad rows."""
from __future__ import annotations

import csv
import io
import random
import tracemalloc
from pathlib import Path

import pytest
from click.testing import CliRunner

from market40 import accounts, tabular
from market40.exceptions import Market40Error, ValidationError
from market40.services import imports
from market40.services.census import import_census
from market40.services.imports import import_markets, import_stalls
from market40.services.registry import Actor, Registry

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "data" / "samples"
OPERATOR = Actor.operator("tests")
HOSTILE = {"ESC": "Nguyễn\x1b[31mThị Lan", "BEL": "Trần Văn\x07 Bình", "RLO": "Lê Thị \u202eHoa",
           "ZWSP": "Phạm\u200bVăn Nam", "ZWJ": "Hồ\u200dThị Mai", "BOM": "\ufeffĐỗ Văn Tâm", "LRI": "Vũ \u2066Hà"}


def _csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_the_one_name_rule_refuses_invisible_and_control_characters(name):
    with pytest.raises(ValidationError) as caught:
        accounts.clean_name(HOSTILE[name], field="owner_name", limit=200)
    assert caught.value.field == "owner_name" and "U+" in str(caught.value)
    assert accounts.clean_name("  Nguyễn   Thị\tLan ", field="owner_name", limit=200) == "Nguyễn Thị Lan"


def test_stall_import_refuses_hostile_names_in_every_column(session, market, tmp_path):
    rows = [["HL1", f"A-{i}", text, "0912345678", "Shop " + str(i)] for i, text in enumerate(HOSTILE.values())]
    rows.append(["HL1", "B-1", "Nguyễn Thị Lan", "0912345678", "Hải sản\u202e Cô Lan"])
    path = _csv(tmp_path / "stalls.csv", ["Mã chợ", "Mã sạp", "Tên chủ hộ", "Số điện thoại", "Tên cửa hàng"], rows)
    report = import_stalls(session, OPERATOR, path)
    assert not report.written and len(report.problems) == len(rows)
    assert {e.field for p in report.problems for e in p.error.errors} == {"owner_name", "shop_name"}


def test_market_import_refuses_hostile_names(session, locality, tmp_path):
    path = _csv(tmp_path / "markets.csv", ["Mã chợ", "Tên chợ", "Hạng", "Địa phương"],
                [["HL7", "Chợ\u202e Hạ Long", "I", locality.code], ["HL8", "Chợ\x07 Mới", "II", locality.code]])
    report = import_markets(session, OPERATOR, path)
    assert not report.written and len(report.problems) == 2


def test_census_import_refuses_hostile_names(session, market, tmp_path):
    path = _csv(tmp_path / "census.csv", ["Mã chợ", "Kỳ", "Mã sạp", "Tên chủ hộ"],
                [["HL1", "2025-06", f"A-{i}", text] for i, text in enumerate(HOSTILE.values())])
    report = import_census(session, OPERATOR, path)
    assert not report.written and len(report.problems) == len(HOSTILE)


def test_the_cli_and_the_registry_use_the_same_rule(session, market):
    registry = Registry(session, OPERATOR)
    with pytest.raises(ValidationError):
        registry.save_stall("HL1", code="Z-1", owner_name=HOSTILE["RLO"])
    with pytest.raises(ValidationError):
        registry.add_user("someone", "staff", display_name=HOSTILE["ZWSP"], password="a long enough password")


def test_corrupted_workbooks_raise_market40_errors():
    """Truncated, bit-flipped and spliced copies of a real workbook: only market40's own errors."""
    original = (SAMPLES / "stalls-HH1.xlsx").read_bytes()
    rng = random.Random(16)
    variants = [original[:n] for n in (30, 200, len(original) // 2, len(original) - 22)]
    for _ in range(60):
        data = bytearray(original)
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        variants.append(bytes(data))
    variants.append(original[: len(original) // 3] + original[len(original) // 2:])
    for data in variants:
        try:
            with tabular.read_table(io.BytesIO(data), schema="stalls") as table:
                for _ in table:
                    pass
        except Market40Error:
            pass


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)  # the rows never reach the database
def test_a_flood_of_bad_rows_is_reported_in_bounded_memory(session, market, tmp_path, monkeypatch):
    """Every bad row reaches the rejects file, but only the first ones are kept whole in memory."""
    monkeypatch.setattr(imports, "MAX_DETAIL", 100)
    count = 4000
    path = _csv(tmp_path / "bad.csv", ["Mã chợ", "Mã sạp", "Tên chủ hộ", "Số điện thoại"],
                [["HL1", f"A-{i}", f"Nguyễn Thị {i}", f"09{i:05d}"] for i in range(count)])
    rejects = tmp_path / "rejects.csv"
    tracemalloc.start()
    try:
        report = import_stalls(session, OPERATOR, path, rejects=rejects)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(report.problems) == count and not report.written
    assert len(report.problems._kept) == 100
    assert peak < 8_000_000, peak  # before: ~24 MB for these rows, growing with every bad row
    lines = rejects.read_text(encoding="utf-8-sig").splitlines()
    assert len(lines) == count + 1
    assert sorted(p.row for p in report.problems) == list(range(2, count + 2))
    assert "owner_phone" in lines[-1] or "Số điện thoại" in lines[-1]


def test_the_cli_lists_the_first_bad_rows_and_counts_them_all(tmp_path, monkeypatch, demo_copy, demo_secret):
    import cli
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MARKET40_SECRET_KEY", demo_secret)
    monkeypatch.setattr(imports, "MAX_DETAIL", 50)
    runner = CliRunner()
    db_path = str(demo_copy)  # ``market40 demo --no-walkthrough``, built once per run
    path = _csv(tmp_path / "bad.csv", ["Mã chợ", "Mã sạp", "Tên chủ hộ", "Số điện thoại"],
                [["HL1", f"Z-{i}", f"Nguyễn Thị {i}", "12"] for i in range(500)])
    result = runner.invoke(cli.main, ["--db", db_path, "stall", "import", str(path)])
    assert result.exit_code == 1
    assert "500 rejected" in result.output
    assert result.output.count("row ") <= 120
