"""Regenerate Vietnam's administrative units shipped in ``market40/data/vn-*.csv``.

    pip install --no-deps vietnam-provinces==2025.10.1 vietnamadminunits==1.0.4
    python data/make_localities.py              # writes market40/data/
    python data/make_localities.py --out /tmp/x # writes somewhere else

Two PyPI packages, each used for what it is good at (see ``market40/data/README.md``):

* ``vietnam-provinces`` (Nguyễn Hồng Quân): the 34 provinces and 3,321 commune-level units in
  force since 1 July 2025, with the **codes of the General Statistics Office** (GSO list, as the
  package retrieved it). Codes and names of current units come from here only.
* ``vietnamadminunits`` (Trần Ngọc Minh Hiếu, MIT): the 696 former district-level units with
  their GSO codes as of 30 June 2025, and its old→new conversion table (former commune → new
  commune), which this script lifts to former district → new commune. That package's own codes
  for the *new* units come from another source and differ from the GSO's for 114 communes, so
  they are not used: its new units are matched to the GSO list by name within the province.

Only the two packages' data files are read (``vietnamadminunits`` is not imported: it pulls in
shapely and geopy). The output is byte-for-byte reproducible from the same package versions.
"""
from __future__ import annotations

import argparse
import csv
import importlib.metadata
import importlib.util
import json
import re
import sqlite3
import sys
import unicodedata
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE.parent / "market40" / "data"

#: The day the commune-level units began to operate; the former districts' last day is the day before.
REFORM = "2025-07-01"


def _key(text: str) -> str:
    """``"Phường Móng Cái 1"`` → ``"phuongmongcai1"``, the way vietnamadminunits keys its names."""
    text = unicodedata.normalize("NFD", text.replace("Đ", "D").replace("đ", "d"))
    return re.sub(r"[^a-z0-9]", "", "".join(c for c in text if not unicodedata.combining(c)).lower())


_TONES = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}  # huyền, sắc, ngã, hỏi, nặng


def _name_key(text: str) -> str:
    """A key that ignores case, spacing, punctuation and where the tone mark sits ("Hoà" = "Hòa"),
    but keeps every letter's shape and the tones ("Văn Lang" ≠ "Văn Lăng", "Cẩm Giang" ≠ "Cẩm Giàng").
    """
    letters, tones = [], []
    for char in unicodedata.normalize("NFD", text.lower()):
        if char in _TONES:
            tones.append(char)
        elif char.isalnum() or unicodedata.combining(char):
            letters.append(char)
    return unicodedata.normalize("NFC", "".join(letters)) + "|" + "".join(tones)


def _clean(name: str) -> str:
    """GSO names carry stray double spaces (``"Phường  Buôn Ma Thuột"``): collapse them."""
    return " ".join(unicodedata.normalize("NFC", name).split())


_PROVINCE_PREFIX = re.compile(r"^(Tỉnh|Thành phố)\s+")


def _short(name: str) -> str:
    return _PROVINCE_PREFIX.sub("", _clean(name))


def main(out: Path = OUT) -> list[Path]:
    import vietnam_provinces

    nested = json.loads(vietnam_provinces.NESTED_DIVISIONS_JSON_PATH.read_text(encoding="utf-8"))
    spec = importlib.util.find_spec("vietnamadminunits")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("pip install --no-deps vietnamadminunits==1.0.4 first")
    va_data = Path(list(spec.submodule_search_locations)[0]) / "data"
    converter = json.loads((va_data / "converter_2025.json").read_text(encoding="utf-8"))
    db = sqlite3.connect(f"file:{va_data / 'dataset.db'}?mode=ro", uri=True)

    # --- the 34 provinces and their communes (GSO codes) --------------------------------
    provinces, communes = [], []
    commune_by_key: dict[tuple[str, str], str] = {}
    for p in sorted(nested, key=lambda p: p["code"]):
        pcode = f"{p['code']:02d}"
        provinces.append({"code": pcode, "name": _short(p["name"]), "unit_type": p["division_type"]})
        for w in sorted(p["wards"], key=lambda w: w["code"]):
            code, name = f"{w['code']:05d}", _clean(w["name"])
            communes.append({"code": code, "name": name, "kind": "commune", "unit_type": w["division_type"],
                             "province_code": pcode, "former_province": "", "valid_from": REFORM, "valid_to": ""})
            key = (pcode, _name_key(name))
            if key in commune_by_key:
                raise SystemExit(f"two communes fold to the same name in province {pcode}: {name}")
            commune_by_key[key] = code
    province_by_key = {_key(p["name"]): p["code"] for p in provinces}

    # --- new province of each former province (vietnamadminunits' DICT_PROVINCE) ----------
    new_province_of_old_key: dict[str, str] = {}
    va_new_province_key_to_code: dict[str, str] = {}
    for new_key, old_keys in converter["DICT_PROVINCE"].items():
        code = province_by_key.get(_key(_PROVINCE_PREFIX.sub("", _key_name(db, new_key))))
        if code is None:
            raise SystemExit(f"new province {new_key!r} not in the GSO list")
        va_new_province_key_to_code[new_key] = code
        for old_key in old_keys:
            new_province_of_old_key[old_key] = code

    # --- the former district-level units (GSO codes as of 30 June 2025) --------------------
    districts, district_by_key = [], {}
    for pkey, pname, dcode, dname, dtype, dkey in db.execute(
            "SELECT DISTINCT provinceKey, province, districtCode, district, districtType, districtKey "
            "FROM admin_units_legacy ORDER BY districtCode"):
        districts.append({"code": dcode, "name": _clean(dname), "kind": "district", "unit_type": dtype.lower(),
                          "province_code": new_province_of_old_key[pkey], "former_province": _short(pname),
                          "valid_from": "", "valid_to": "2025-06-30"})
        district_by_key[(pkey, dkey)] = dcode

    # --- old→new links, lifted from former communes to former districts -------------------
    links: set[tuple[str, str]] = set()
    unmatched: list[str] = []

    def link(old_pdw: str, new_pcode: str, new_ward_key: str) -> None:
        pkey, dkey = old_pdw.split("_")[:2]
        va_name = _va_ward_name(db, new_pcode, new_ward_key)
        new = commune_by_key.get((new_pcode, _name_key(va_name))) if va_name else None
        if new is None:
            unmatched.append(f"{new_pcode}/{new_ward_key}")
            return
        links.add((district_by_key[(pkey, dkey)], new))

    for new_pkey, wards in converter["DICT_PROVINCE_WARD_NO_DIVIDED"].items():
        for new_ward_key, olds in wards.items():
            for old in olds:
                link(old, va_new_province_key_to_code[new_pkey], new_ward_key)
    for new_pkey, olds in converter["DICT_PROVINCE_WARD_DIVIDED"].items():
        for old, parts in olds.items():
            for part in parts:
                link(old, va_new_province_key_to_code[new_pkey], part["newWardKey"])
    if unmatched:
        raise SystemExit(f"{len(unmatched)} new units of vietnamadminunits not in the GSO list: {unmatched[:10]}")

    # --- write ----------------------------------------------------------------------------
    out.mkdir(parents=True, exist_ok=True)
    written = []
    columns = ["code", "name", "kind", "unit_type", "province_code", "former_province", "valid_from", "valid_to"]
    for name, header, rows in (
        ("vn-provinces.csv", ["code", "name", "unit_type"], provinces),
        ("vn-localities.csv", columns, districts + communes),
        ("vn-locality-links.csv", ["old_code", "new_code"],
         [{"old_code": o, "new_code": n} for o, n in sorted(links)]),
        ("vn-localities-sources.csv", ["package", "version", "data_version", "used_for", "licence", "url"],
         _sources()),
    ):
        path = out / name
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=header, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        written.append(path)
    linked_old = {o for o, _ in links}
    linked_new = {n for _, n in links}
    print(f"{len(provinces)} provinces, {len(communes)} communes ({len(linked_new)} linked), "
          f"{len(districts)} former districts ({len(linked_old)} linked), {len(links)} links", file=sys.stderr)
    return written


def _key_name(db: sqlite3.Connection, province_key: str) -> str:
    row = db.execute("SELECT province FROM admin_units WHERE provinceKey = ? LIMIT 1", (province_key,)).fetchone()
    if row is None:
        raise SystemExit(f"province key {province_key!r} not in vietnamadminunits' dataset")
    return row[0]


def _va_ward_name(db: sqlite3.Connection, province_code: str, ward_key: str) -> str | None:
    row = db.execute("SELECT ward FROM admin_units WHERE provinceCode = ? AND wardKey = ?",
                     (province_code, ward_key)).fetchone()
    return row[0] if row else None


def _sources() -> list[dict[str, str]]:
    import vietnam_provinces

    return [
        {"package": "vietnam-provinces", "version": importlib.metadata.version("vietnam-provinces"),
         "data_version": vietnam_provinces.__data_version__,
         "used_for": "34 provinces and 3,321 commune-level units since 2025-07-01: GSO codes, names, unit types",
         "licence": "GPL-3.0-or-later (package); the data is the GSO's public list of administrative units",
         "url": "https://pypi.org/project/vietnam-provinces/"},
        {"package": "vietnamadminunits", "version": importlib.metadata.version("vietnamadminunits"),
         "data_version": "2025-08-23",
         "used_for": "696 former district-level units (GSO codes, as of 2025-06-30) and the old-to-new "
                     "commune conversion table, lifted to former district -> new commune",
         "licence": "MIT", "url": "https://pypi.org/project/vietnamadminunits/"},
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    main(parser.parse_args().out)
