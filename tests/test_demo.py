"""The demo province (market40.demo) and the sample market-board files (data/samples)."""
from __future__ import annotations

import collections
import csv
import hashlib
import json
import os
import re
import runpy
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from market40 import demo, localities
from market40.exceptions import NotFound, ValidationError
from market40.text import emv_text, fold, is_ans

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "data" / "samples"
NAPAS_CSV = ROOT / "market40" / "data" / "napas-participants.csv"

PHONE = re.compile(r"0[35789][0-9]{8}")
STALL_CODE = re.compile(r"([A-Z])-([1-9][0-9]*)")
ACCOUNT_ID = re.compile(r"[0-9A-Za-z]{1,19}")


@pytest.fixture(scope="module")
def all_stalls() -> dict[str, list[dict[str, str]]]:
    return {m["market_code"]: demo.stalls(m["market_code"]) for m in demo.markets()}


@pytest.fixture(scope="module")
def napas() -> dict[str, dict[str, str]]:
    with open(NAPAS_CSV, newline="", encoding="utf-8") as handle:
        return {row["bin"]: row for row in csv.DictReader(handle)}


# --- localities: Quảng Ninh's official units (market40.localities), not the demo's own ----

def test_demo_uses_the_official_units_of_quang_ninh():
    assert demo.PROVINCE == localities.province("Quảng Ninh").code == "22"
    assert not list((ROOT / "data" / "demo").glob("*localit*"))  # no private copy of the units
    districts = localities.units(province=demo.PROVINCE, former=True)
    communes = localities.units(province=demo.PROVINCE)
    assert len(districts) == 13 and len(communes) == 54
    assert collections.Counter(u.unit_type for u in communes) == {"phường": 30, "xã": 22, "đặc khu": 2}
    assert collections.Counter(u.unit_type for u in districts) == {"thành phố": 5, "thị xã": 1, "huyện": 7}
    assert all(re.fullmatch(r"[0-9]{3}", u.code) for u in districts)
    assert all(re.fullmatch(r"[0-9]{5}", u.code) for u in communes)
    names = {u.name for u in districts + communes}
    assert {"Thành phố Hạ Long", "Phường Hồng Gai", "Đặc khu Vân Đồn", "Đặc khu Cô Tô", "Xã Cái Chiên"} <= names


def test_the_13_former_units_map_onto_the_54_communes():
    links = localities.links(province=demo.PROVINCE)
    assert len(set(links)) == len(links) == 60
    assert {old for old, _ in links} == {u.code for u in localities.units(province="22", former=True)}
    assert {new for _, new in links} == {u.code for u in localities.units(province="22")}
    assert ("193", "06685") in links  # TP Hạ Long → Phường Hồng Gai
    assert ("203", "06994") in links and ("207", "07192") in links  # Vân Đồn, Cô Tô → the two đặc khu
    # communes that took land from two former districts (NQ 1679/NQ-UBTVQH15)
    two = {new for new in {n for _, n in links} if sum(1 for _, n in links if n == new) == 2}
    assert {localities.unit(c).name for c in two} == {"Xã Tiên Yên", "Xã Hải Hòa", "Xã Lương Minh", "Xã Kỳ Thượng",
                                                     "Xã Ba Chẽ", "Xã Hải Lạng"}


# --- markets ---------------------------------------------------------------------------

def test_markets_counts_and_columns():
    rows = demo.markets()
    assert len(rows) == 43
    assert collections.Counter(row["tier"] for row in rows) == {"I": 19, "II": 11, "III": 13}
    assert list(rows[0]) == ["market_code", "name", "tier", "tier_source", "tier_date", "central",
                             "locality", "address", "board_contact", "board_phone", "commune"]
    codes = [row["market_code"] for row in rows]
    assert len(set(codes)) == 43
    assert all(re.fullmatch(r"[A-Z]{2}[0-9]{1,2}", code) for code in codes)
    assert {"HL1", "HL2", "CP1", "MC1", "VD1"} <= set(codes)


def test_markets_refer_to_real_commune_codes():
    links = set(localities.links(province=demo.PROVINCE))
    rows = demo.markets()
    for row in rows:
        assert localities.unit(row["locality"]).kind == "district", row
        assert localities.unit(row["commune"]).kind == "commune", row
        assert localities.unit(row["commune"]).province_code == "22", row
        assert localities.unit(row["commune"]).name in row["address"], row
        assert (row["locality"], row["commune"]) in links, row
        assert re.fullmatch(r"20[0-9]{2}-[01][0-9]-[0-3][0-9]", row["tier_date"])
        assert "demo" in row["tier_source"]
        assert PHONE.fullmatch(row["board_phone"])
        assert isinstance(row["central"], bool)
    assert len({row["locality"] for row in rows}) == 13  # markets in all 13 former localities


def test_market_names_have_diacritics():
    for row in demo.markets():
        assert row["name"].startswith("Chợ ")
    names = {row["market_code"]: row["name"] for row in demo.markets()}
    assert names["HL1"] == "Chợ Hạ Long I"
    assert names["CP1"] == "Chợ Trung tâm Cẩm Phả"
    assert names["MC1"] == "Chợ Trung tâm Móng Cái"


def test_demo_data_dir_honours_env(tmp_path, monkeypatch):
    shutil.copytree(ROOT / "data" / "demo", tmp_path / "demo")
    monkeypatch.setenv("MARKET40_DATA_DIR", str(tmp_path))
    assert demo.demo_data_dir() == tmp_path
    assert len(demo.markets()) == 43
    monkeypatch.setenv("MARKET40_DATA_DIR", str(tmp_path / "missing"))
    with pytest.raises(NotFound):
        demo.markets()
    monkeypatch.delenv("MARKET40_DATA_DIR")
    assert demo.demo_data_dir() == ROOT / "data"


# --- stalls: sizes, adoption -----------------------------------------------------------

def test_stall_counts_follow_tiers(all_stalls):
    tiers = {row["market_code"]: row["tier"] for row in demo.markets()}
    for code, rows in all_stalls.items():
        assert len(rows) == demo.stall_count(code)
        size = len(rows)
        assert {"I": size > 400, "II": 200 <= size <= 400, "III": size < 200}[tiers[code]], code
    assert len(all_stalls["HL1"]) > 1200
    assert 12_000 <= sum(len(rows) for rows in all_stalls.values()) <= 16_000


def test_adoption(all_stalls):
    def rate(code):
        rows = all_stalls[code]
        return sum(1 for row in rows if row["account"]) / len(rows)

    for code in all_stalls:
        assert rate(code) == pytest.approx(demo.adoption_target(code), abs=0.5 / len(all_stalls[code]) + 1e-9)
    assert statistics.mean(rate(code) for code in all_stalls) == pytest.approx(0.83, abs=0.01)
    assert statistics.mean(demo.adoption_target(code) for code in all_stalls) == pytest.approx(0.83, abs=0.01)
    assert rate("MC1") == 1.0
    assert round(rate("CP1") * 100, 2) == 89.58
    assert sum(1 for row in all_stalls["VD1"] if row["account"]) == 352  # "trên 350/364 hộ"
    assert min(rate(code) for code in all_stalls) >= 0.6


# --- stalls: row shape -----------------------------------------------------------------

def test_rows_have_exactly_the_canonical_columns(all_stalls):
    for code, rows in all_stalls.items():
        for row in rows:
            assert tuple(row) == demo.STALL_COLUMNS
            assert all(isinstance(value, str) for value in row.values())
            assert row["market_code"] == code


def test_stall_codes_unique_and_naturally_sorted(all_stalls):
    for rows in all_stalls.values():
        keys = []
        for row in rows:
            match = STALL_CODE.fullmatch(row["stall_code"])
            assert match, row["stall_code"]
            keys.append((match[1], int(match[2])))
        assert len(set(keys)) == len(keys)
        assert keys == sorted(keys)


def test_phones(all_stalls):
    for rows in all_stalls.values():
        phones = [row["owner_phone"] for row in rows]
        assert all(PHONE.fullmatch(phone) for phone in phones)
        assert len(set(phones)) == len(phones)


def test_names_and_shops(all_stalls):
    owners = [row["owner_name"] for rows in all_stalls.values() for row in rows]
    assert all(len(name.split()) == 3 for name in owners)
    with_marks = sum(1 for name in owners if fold(name) != name)
    assert with_marks / len(owners) > 0.95
    shops = [row["shop_name"] for rows in all_stalls.values() for row in rows]
    assert sum(1 for name in shops if fold(name) != name) / len(shops) > 0.95
    categories = collections.Counter(row["category"] for rows in all_stalls.values() for row in rows)
    assert categories.most_common(1)[0][0] == "Hải sản"  # a coastal province
    assert {"Thực phẩm tươi sống", "Rau củ quả", "Quần áo – vải vóc", "Tạp hóa", "Đồ khô", "Ăn uống"} <= set(categories)


def test_accounts(all_stalls, napas):
    kinds = collections.Counter()
    banks = collections.Counter()
    holders_not_owner = 0
    total = 0
    for rows in all_stalls.values():
        for row in rows:
            account_fields = [row[key] for key in ("bank", "account", "account_holder", "account_kind")]
            if not row["account"]:
                assert account_fields == ["", "", "", ""] and row["reference"] == ""
                continue
            total += 1
            bin_, account, kind = row["bank"], row["account"], row["account_kind"]
            assert bin_ in napas, bin_
            assert ACCOUNT_ID.fullmatch(account), account
            holder = row["account_holder"]
            assert holder == emv_text(holder) and is_ans(holder) and holder.isupper() and len(holder) <= 50
            holders_not_owner += holder != emv_text(row["owner_name"])
            kinds[kind] += 1
            banks[napas[bin_]["short_name"]] += 1
            assert (kind == "ewallet") == (napas[bin_]["kind"] == "ewallet")
            if bin_ == "971025":
                assert re.fullmatch(r"PSP[0-9]{15}", account)
                assert re.fullmatch(r"MOMOW2W[0-9]{8}", row["reference"])
            else:
                assert row["reference"] == ""
            if bin_ in ("971005", "971011"):
                assert PHONE.fullmatch(account)
            elif kind == "card":
                assert len(account) == 16 and account.startswith(bin_) and account.startswith("9704")
            elif kind == "bank_account":
                assert account.isdigit() and 9 <= len(account) <= 16
    assert set(kinds) == {"bank_account", "ewallet", "card"}
    assert 0.003 < kinds["card"] / total < 0.03
    assert 0.02 < holders_not_owner / total < 0.15
    assert {"Agribank", "Vietcombank", "VietinBank", "BIDV", "MBBank", "Techcombank", "ACB", "Sacombank",
            "VPBank", "TPBank", "LPBank", "ViettelMoney", "VNPTMoney", "MoMo"} <= set(banks)
    hl1 = collections.Counter(row["bank"] for row in all_stalls["HL1"] if row["bank"])
    assert hl1.most_common(1)[0][0] == "971005"  # Viettel Money enrolled Hạ Long I


def test_status(all_stalls):
    statuses = collections.Counter(row["status"] for rows in all_stalls.values() for row in rows)
    assert set(statuses) == {"operating", "closed"}
    assert 0.01 < statuses["closed"] / sum(statuses.values()) < 0.06


# --- determinism -----------------------------------------------------------------------

GOLDEN_HL1_FIRST = {
    "market_code": "HL1", "stall_code": "A-1", "shop_name": "Shop Chị Hằng",
    "category": "Quần áo – vải vóc", "owner_name": "Nguyễn Thị Hằng", "owner_phone": "0831085809",
    "bank": "970415", "account": "100182326535", "account_holder": "NGUYEN THI HANG",
    "account_kind": "bank_account", "reference": "", "status": "operating",
}


def _digest(rows) -> str:
    return hashlib.sha256(json.dumps(rows, ensure_ascii=False).encode()).hexdigest()


def test_deterministic(all_stalls):
    assert demo.stalls("HL1") == all_stalls["HL1"]
    assert all_stalls["HL1"][0] == GOLDEN_HL1_FIRST
    assert demo.stalls("HL1", seed=2026) != all_stalls["HL1"]
    assert demo.stalls("CT1", seed=7) == demo.stalls("CT1", seed=7)


def test_deterministic_across_processes(all_stalls):
    code = "import hashlib, json; from market40 import demo; " \
           "print(hashlib.sha256(json.dumps(demo.stalls('VD1'), ensure_ascii=False).encode()).hexdigest())"
    env = dict(os.environ, PYTHONHASHSEED="12345", PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout.strip()
    assert out == _digest(all_stalls["VD1"])


def test_other_markets_and_bad_arguments():
    rows = demo.stalls("ZZ9", count=5, adoption=0.4)
    assert [row["stall_code"] for row in rows] == ["A-1", "A-2", "A-3", "A-4", "A-5"]
    assert sum(1 for row in rows if row["account"]) == 2
    assert demo.stalls("ZZ9", count=0, adoption=0.5) == []
    with pytest.raises(NotFound):
        demo.stalls("ZZ9")
    with pytest.raises(NotFound):
        demo.adoption_target("ZZ9")
    with pytest.raises(ValidationError):
        demo.stalls("ZZ9", count=5, adoption=1.5)
    with pytest.raises(ValueError):
        demo.stalls("ZZ9", count=-1, adoption=0.5)


# --- sample files ----------------------------------------------------------------------

STALL_HEADER = ["Mã sạp", "Tên cửa hàng", "Ngành hàng", "Tên chủ hộ", "Số điện thoại", "Ngân hàng",
                "Số tài khoản", "Tên chủ tài khoản", "Loại tài khoản", "Mã tham chiếu", "Trạng thái"]


def _read_board_csv(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "UTF-8 with BOM"
    with open(path, newline="", encoding="utf-8-sig") as handle:
        return list(csv.reader(handle))


def test_sample_files_exist_and_read():
    for name in ("stalls-HH1.csv", "stalls-HH1.xlsx", "stalls-HH1-with-errors.csv", "markets-new.csv", "README.md"):
        assert (SAMPLES / name).is_file(), name
    rows = _read_board_csv(SAMPLES / "stalls-HH1.csv")
    assert rows[0] == STALL_HEADER
    assert len(rows) == 151
    assert all(PHONE.fullmatch(row[4]) for row in rows[1:])
    markets = _read_board_csv(SAMPLES / "markets-new.csv")
    assert markets[0] == ["Mã chợ", "Tên chợ", "Hạng", "Nguồn phân hạng", "Ngày phân hạng", "Chợ trung tâm",
                          "Địa phương", "Địa chỉ", "Ban quản lý", "Điện thoại BQL"]
    demo_codes = {row["market_code"] for row in demo.markets()}
    assert markets[1][0] == "HH1" and not {row[0] for row in markets[1:]} & demo_codes


def test_sample_xlsx_keeps_text():
    from openpyxl import load_workbook

    sheet = load_workbook(SAMPLES / "stalls-HH1.xlsx").active
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    csv_rows = _read_board_csv(SAMPLES / "stalls-HH1.csv")
    assert [[value or "" for value in row] for row in values] == csv_rows
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            if cell.value is not None:
                assert isinstance(cell.value, str) and cell.number_format == "@"
        assert row[4].value.startswith("0")  # phone keeps its leading zero
    accounts = [row[6].value for row in sheet.iter_rows(min_row=2) if row[6].value]
    assert any(account.startswith("0") for account in accounts)


def test_sample_error_file():
    rows = _read_board_csv(SAMPLES / "stalls-HH1-with-errors.csv")
    assert rows[0] == STALL_HEADER and len(rows) == 15
    body = rows[1:]
    assert any(len(row[6]) == 20 for row in body)
    assert any(row[3] == "" for row in body)
    codes = [row[0] for row in body]
    assert len(set(codes)) == len(codes) - 1
    good_banks = {row[5] for row in _read_board_csv(SAMPLES / "stalls-HH1.csv")[1:]}
    assert any(row[5] and row[5] not in good_banks for row in body)


def test_make_samples_reproduces_committed_files(tmp_path):
    script = runpy.run_path(str(ROOT / "data" / "make_samples.py"), run_name="make_samples")
    written = script["main"](tmp_path)
    for path in written:
        if path.suffix == ".csv":
            assert path.read_bytes() == (SAMPLES / path.name).read_bytes(), path.name
    # the names a board types resolve, through the bank directory, to the generator's BINs
    from market40 import banks

    assert set(script["BOARD_BANK_NAMES"]) <= _napas_bins()
    for bin_, board_name in script["BOARD_BANK_NAMES"].items():
        assert banks.lookup(board_name).bin == bin_, board_name
    with pytest.raises(NotFound):
        banks.lookup("Ngân hàng Vịnh Xanh")  # the error file's unknown bank


def _napas_bins() -> set[str]:
    with open(NAPAS_CSV, newline="", encoding="utf-8") as handle:
        return {row["bin"] for row in csv.DictReader(handle)}
