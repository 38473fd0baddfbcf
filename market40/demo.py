"""The demo province: Quảng Ninh's 43 Chợ 4.0 markets with invented stalls.

Everything about people, accounts and stall counts here is **synthetic demo data**.
The market names, the administrative units and the province's reported figures
(19 tier-I / 11 tier-II / 13 tier-III markets, an average of 83% of households
accepting cashless payment, Chợ Trung tâm Cẩm Phả 89.58%, Chợ Trung tâm Móng Cái
100%, Hạ Long I with more than 1,200 traders, Cái Rồng "trên 350/364 hộ") come
from public sources listed in ``data/demo/README.md``.

The administrative units are not the demo's own: they are Quảng Ninh's official units
(:data:`PROVINCE`, 13 former district-level units → 54 commune-level units) from
:mod:`market40.localities`, and the markets refer to them by their GSO codes.

The module is pure and deterministic: the only I/O is reading the markets CSV file
under :func:`demo_data_dir` ``/demo``; the stall generator draws every number from
``random.Random(f"{seed}:{market_code}")`` (string seeds are hashed with SHA-512,
so the output does not depend on ``PYTHONHASHSEED``) and only ever calls
``Random.random()``, whose Mersenne Twister stream is the same on every Python 3.

>>> len(markets()), markets()[0]["commune"], adoption_target("MC1")
(43, '06685', 1.0)
>>> rows = stalls("CT1")
>>> len(rows), rows[0]["stall_code"], rows[-1]["stall_code"]
(120, 'A-1', 'A-120')
>>> sorted(rows[0]) == sorted(STALL_COLUMNS)
True

Standard library only.
"""
from __future__ import annotations

import bisect
import csv
import functools
import os
import random
from pathlib import Path
from typing import Sequence

from .exceptions import InvalidLength, NotFound
from .text import emv_text

__all__ = [
    "STALL_COLUMNS",
    "PROVINCE",
    "demo_data_dir",
    "markets",
    "stalls",
    "adoption_target",
    "stall_count",
]

#: The stall importer's canonical columns, in order.
STALL_COLUMNS = (
    "market_code", "stall_code", "shop_name", "category", "owner_name", "owner_phone",
    "bank", "account", "account_holder", "account_kind", "reference", "status",
)

#: The demo province's GSO code: Quảng Ninh.
PROVINCE = "22"

_ACCOUNT_COLUMNS = ("bank", "account", "account_holder", "account_kind", "reference")


def demo_data_dir() -> Path:
    """The ``data/`` folder: ``$MARKET40_DATA_DIR`` if set, else ``data/`` beside the package's
    folder (a checkout or an editable install), else ``./data`` (a regular install run from a checkout).
    """
    env = os.environ.get("MARKET40_DATA_DIR")
    if env:
        return Path(env)
    beside = Path(__file__).resolve().parent.parent / "data"
    if (beside / "demo").is_dir() or not (Path.cwd() / "data" / "demo").is_dir():
        return beside
    return Path.cwd() / "data"


@functools.lru_cache(maxsize=16)
def _read_csv(path: str) -> tuple[tuple[tuple[str, str], ...], ...]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            return tuple(tuple(row.items()) for row in csv.DictReader(handle))
    except FileNotFoundError:
        raise NotFound(f"demo data file not found: {path} (set MARKET40_DATA_DIR to the data/ folder)") from None


def _rows(name: str) -> list[dict[str, str]]:
    return [dict(row) for row in _read_csv(str(demo_data_dir() / "demo" / name))]


def markets() -> list[dict]:
    """The 43 demo markets (``central`` is a bool, every other value a string).

    ``locality`` is the GSO code of the former district-level unit the market was classified in
    (``193`` Thành phố Hạ Long), ``commune`` the commune-level unit it is in now (``06685``).
    """
    rows = _rows("quang-ninh-markets.csv")
    for row in rows:
        row["central"] = row["central"].strip().lower() in ("yes", "true", "1", "có")
    return rows


# --- per-market plan: (number of stalls, adoption target) -----------------------------
# Sizes follow the classic tier rule (I > 400 business points, II 200-400, III < 200).
# CP1 480 stalls x 89.58% = 430 accounts, VD1 352/364 ("trên 350/364 hộ"), MC1 100%.
_PLAN: dict[str, tuple[int, float]] = {
    # tier I
    "HL1": (1248, 0.95), "HL2": (860, 0.92), "HL3": (612, 0.90), "HL4": (455, 0.96),
    "HL5": (520, 0.86), "HL6": (430, 0.85), "HL7": (410, 0.87), "CP1": (480, 0.8958),
    "CP2": (425, 0.87), "CP3": (440, 0.86), "UB1": (560, 0.88), "MC1": (720, 1.00),
    "MC2": (415, 0.93), "DT1": (505, 0.87), "DT2": (470, 0.85), "QY1": (450, 0.85),
    "TY1": (420, 0.82), "HA1": (410, 0.84), "DH1": (405, 0.80),
    # tier II
    "VD1": (364, 0.967), "HL8": (285, 0.87), "HL9": (310, 0.85), "CP4": (240, 0.82),
    "CP5": (215, 0.84), "UB2": (230, 0.80), "UB3": (205, 0.78), "MC3": (260, 0.90),
    "QY2": (220, 0.80), "BL1": (250, 0.74), "DT3": (225, 0.83),
    # tier III
    "HL10": (150, 0.82), "HL11": (96, 0.76), "CT1": (120, 0.83), "BC1": (160, 0.70),
    "TY2": (85, 0.66), "TY3": (70, 0.60), "BL2": (110, 0.72), "DH2": (90, 0.75),
    "HA2": (105, 0.77), "HA3": (60, 0.67), "VD2": (80, 0.81), "QY3": (130, 0.79),
    "MC4": (75, 0.84),
}


def _plan(market_code: str) -> tuple[int, float]:
    try:
        return _PLAN[market_code]
    except KeyError:
        raise NotFound(f"{market_code!r} is not one of the 43 demo markets") from None


def adoption_target(market_code: str) -> float:
    """Share of the market's stalls that have a payment account (0..1).

    >>> adoption_target("CP1")
    0.8958
    """
    return _plan(market_code)[1]


def stall_count(market_code: str) -> int:
    """Number of stalls :func:`stalls` generates for a demo market.

    >>> stall_count("HL1")
    1248
    """
    return _plan(market_code)[0]


# --- vocabularies ----------------------------------------------------------------------

class _Weighted:
    """Weighted choice driven only by ``Random.random()`` (stable across Python versions)."""

    __slots__ = ("items", "cum", "total")

    def __init__(self, pairs: Sequence[tuple[object, int]]) -> None:
        self.items = [item for item, _ in pairs]
        self.cum: list[int] = []
        total = 0
        for _, weight in pairs:
            total += weight
            self.cum.append(total)
        self.total = total

    def pick(self, rng: random.Random):
        return self.items[bisect.bisect_right(self.cum, rng.random() * self.total)]


def _pick(rng: random.Random, seq: Sequence):
    return seq[int(rng.random() * len(seq))]


def _digits(rng: random.Random, n: int) -> str:
    return "".join("0123456789"[int(rng.random() * 10)] for _ in range(n))


_SURNAMES = _Weighted([
    ("Nguyễn", 38), ("Trần", 11), ("Lê", 9), ("Phạm", 7), ("Hoàng", 5), ("Phan", 3), ("Vũ", 5),
    ("Đặng", 2), ("Bùi", 3), ("Đỗ", 3), ("Hồ", 1), ("Ngô", 2), ("Dương", 2), ("Lý", 1),
    ("Huỳnh", 1), ("Võ", 1), ("Đinh", 2), ("Đoàn", 1), ("Trịnh", 1), ("Lương", 1), ("Mai", 1),
])
_FEMALE_MIDDLE = _Weighted([
    ("Thị", 60), ("Thu", 6), ("Ngọc", 5), ("Hồng", 4), ("Thanh", 4), ("Minh", 3), ("Kim", 3),
    ("Phương", 2), ("Bích", 2), ("Thúy", 2), ("Mai", 2), ("Diệu", 1),
])
_FEMALE_GIVEN = (
    "Hằng", "Lan", "Hoa", "Huyền", "Hương", "Nga", "Thủy", "Hà", "Trang", "Mai", "Linh", "Yến",
    "Hạnh", "Dung", "Loan", "Liên", "Nhung", "Oanh", "Phương", "Thảo", "Tuyết", "Vân", "Xuân",
    "Hiền", "Hồng", "Anh", "Ngân", "Nhàn", "Quyên", "Thơm", "Tâm", "Sen", "Duyên", "Thắm",
    "Chi", "Giang", "Hậu", "Luyến", "Lụa", "Gấm", "Hoài", "Ngọc",
)
_MALE_MIDDLE = _Weighted([
    ("Văn", 55), ("Đức", 7), ("Minh", 6), ("Quang", 5), ("Mạnh", 4), ("Hữu", 5), ("Đình", 5),
    ("Xuân", 4), ("Thanh", 3), ("Ngọc", 2), ("Công", 3), ("Tiến", 2),
])
_MALE_GIVEN = (
    "Hùng", "Dũng", "Tuấn", "Minh", "Thắng", "Cường", "Hải", "Sơn", "Long", "Nam", "Phong",
    "Quân", "Trung", "Hiếu", "Khánh", "Lâm", "Bình", "Tùng", "Đông", "Toàn", "Thành", "Hoàng",
    "Chiến", "Đạt", "Huy", "Kiên", "Lợi", "Phúc", "Tài", "Vinh", "Quyết", "Thịnh",
)

# Category -> shop-name patterns. {p}: how customers call the owner ("Thu Hằng",
# "Cô Lan", "Hằng"); {g}: given name only; {h}: "Bà" or "Ông".
_CATEGORIES: dict[str, tuple[str, ...]] = {
    "Thực phẩm tươi sống": ("Thịt lợn {p}", "Thịt bò {p}", "Gà vịt {p}", "Thịt sạch {p}", "Giò chả {p}"),
    "Hải sản": ("Hải sản {p}", "Hải sản {p}", "Tôm cua {p}", "Cá tươi {p}", "Ngao sò {p}",
                "Hải sản Vân Đồn {p}", "Hải sản Cô Tô {g}"),
    "Rau củ quả": ("Rau sạch {h} {g}", "Rau củ {p}", "Hoa quả {p}", "Trái cây {p}", "Rau quả {p}"),
    "Quần áo – vải vóc": ("Quần áo {p}", "Thời trang {p}", "Vải vóc {p}", "Shop {p}", "Đồ trẻ em {p}"),
    "Tạp hóa": ("Tạp hóa {p}", "Tạp hóa {p}", "Tạp phẩm {p}"),
    "Đồ khô": ("Đồ khô {p}", "Chả mực {p}", "Chả mực Hạ Long {g}", "Mực khô {p}", "Sá sùng {p}",
               "Hàng khô {p}"),
    "Ăn uống": ("Bún phở {p}", "Bánh cuốn {p}", "Cơm bình dân {p}", "Bún bề bề {p}", "Bánh đa cua {p}",
                "Chè {p}", "Giải khát {p}"),
    "Hoa – cây cảnh": ("Hoa tươi {p}", "Cây cảnh {p}", "Hoa {g}"),
    "Gia dụng": ("Đồ gia dụng {p}", "Nhôm nhựa {p}", "Điện gia dụng {p}", "Bát đĩa {p}"),
    "Giày dép – túi xách": ("Giày dép {p}", "Túi xách {p}"),
}
_CATEGORY_WEIGHTS = {
    "Thực phẩm tươi sống": 16, "Hải sản": 18, "Rau củ quả": 14, "Quần áo – vải vóc": 14,
    "Tạp hóa": 10, "Đồ khô": 8, "Ăn uống": 8, "Hoa – cây cảnh": 3, "Gia dụng": 5,
    "Giày dép – túi xách": 4,
}
_INLAND = frozenset({"198", "202"})  # Bình Liêu, Ba Chẽ: mountain districts, far less seafood

# Vietnamese mobile prefixes (Viettel, VinaPhone, MobiFone, Vietnamobile, Gmobile).
_PHONE_PREFIXES = _Weighted([
    ("032", 4), ("033", 4), ("034", 4), ("035", 4), ("036", 4), ("037", 4), ("038", 4), ("039", 4),
    ("086", 3), ("096", 6), ("097", 6), ("098", 6),
    ("081", 2), ("082", 2), ("083", 2), ("084", 2), ("085", 2), ("088", 2), ("091", 5), ("094", 4),
    ("070", 2), ("076", 1), ("077", 2), ("078", 1), ("079", 2), ("089", 2), ("090", 4), ("093", 3),
    ("052", 1), ("056", 1), ("058", 1), ("092", 1), ("059", 1), ("099", 1),
])

_AGRIBANK, _VCB, _VIETINBANK, _BIDV, _MB = "970405", "970436", "970415", "970418", "970422"
_TCB, _ACB, _STB, _VPB, _TPB, _LPB = "970407", "970416", "970403", "970432", "970423", "970449"
_VIETTEL_MONEY, _VNPT_MONEY, _MOMO = "971005", "971011", "971025"
_EWALLETS = frozenset({_VIETTEL_MONEY, _VNPT_MONEY, _MOMO})
_BANK_WEIGHTS = {
    _AGRIBANK: 16, _VCB: 14, _VIETINBANK: 10, _BIDV: 11, _MB: 12, _TCB: 7, _ACB: 3, _STB: 3,
    _VPB: 4, _TPB: 3, _LPB: 2, _VIETTEL_MONEY: 8, _VNPT_MONEY: 3, _MOMO: 4,
}
# Vân Đồn, Cô Tô, Tiên Yên, Bình Liêu, Đầm Hà, Hải Hà, Ba Chẽ (former district codes)
_RURAL = frozenset({"203", "207", "199", "198", "200", "201", "202"})
_ZONE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I / O: they read as 1 / 0 on a stall sign
_ZONE_SIZE = 120


@functools.lru_cache(maxsize=None)
def _bank_table(locality: str | None) -> _Weighted:
    weights = dict(_BANK_WEIGHTS)
    if locality == "193":  # TP Hạ Long: Viettel Quảng Ninh enrolled Hạ Long I's 1,200+ traders on Viettel Money
        weights[_VIETTEL_MONEY] *= 5
    if locality in _RURAL:
        weights[_AGRIBANK] *= 2
    return _Weighted(sorted(weights.items()))


@functools.lru_cache(maxsize=None)
def _category_table(locality: str | None) -> _Weighted:
    weights = dict(_CATEGORY_WEIGHTS)
    if locality in _INLAND:
        weights["Hải sản"] = 5
    return _Weighted(list(weights.items()))


def _market_locality(market_code: str) -> str | None:
    for row in _rows("quang-ninh-markets.csv"):
        if row["market_code"] == market_code:
            return row["locality"]
    return None


# --- people ------------------------------------------------------------------------------

def _person(rng: random.Random, *, female: bool | None = None, surname: str | None = None) -> tuple[str, str, str, bool]:
    """(surname, middle, given, female)."""
    if female is None:
        female = rng.random() < 0.72  # most stall holders are women
    surname = surname or _SURNAMES.pick(rng)
    while True:
        if female:
            middle, given = _FEMALE_MIDDLE.pick(rng), _pick(rng, _FEMALE_GIVEN)
        else:
            middle, given = _MALE_MIDDLE.pick(rng), _pick(rng, _MALE_GIVEN)
        if middle != given and given != surname:
            return surname, middle, given, female


def _shop_name(rng: random.Random, category: str, person: tuple[str, str, str, bool]) -> str:
    _, middle, given, female = person
    style = rng.random()
    if style < 0.35 and middle not in ("Thị", "Văn"):
        called = f"{middle} {given}"
    elif style < 0.55:
        called = f"{_pick(rng, ('Cô', 'Chị', 'Bà') if female else ('Anh', 'Chú'))} {given}"
    else:
        called = given
    return _pick(rng, _CATEGORIES[category]).format(p=called, g=given, h="Bà" if female else "Ông")


def _phone(rng: random.Random, used: set[str]) -> str:
    while True:
        number = _PHONE_PREFIXES.pick(rng) + _digits(rng, 7)
        if number not in used:
            used.add(number)
            return number


# --- accounts ----------------------------------------------------------------------------

def _bank_account(rng: random.Random, bin_: str, phone: str) -> str:
    """An account number shaped like the bank's own numbering (invented digits)."""
    r = rng.random()
    if bin_ == _AGRIBANK:  # 13: branch (4) + product 205 + serial (6)
        return "80" + _digits(rng, 2) + "205" + _digits(rng, 6)
    if bin_ == _VCB:  # 13 (branch 014 + 1000 + 6), newer 10-digit, or the phone number
        if r < 0.55:
            return "0141000" + _digits(rng, 6)
        return "10" + _digits(rng, 8) if r < 0.85 else phone
    if bin_ == _VIETINBANK:  # 12
        return "10" + _digits(rng, 10)
    if bin_ == _BIDV:  # 14 (branch + 10000 + 6) or 12
        return "447" + "10000" + _digits(rng, 6) if r < 0.75 else "21" + _digits(rng, 10)
    if bin_ == _MB:  # the phone number (10) or 13
        return phone if r < 0.4 else "0" + _digits(rng, 12)
    if bin_ == _TCB:  # 14
        return "190" + _digits(rng, 11)
    if bin_ == _ACB:  # 9
        return str(1 + int(rng.random() * 9)) + _digits(rng, 8)
    if bin_ == _STB:  # 12
        return "06" + _digits(rng, 10)
    if bin_ == _VPB:  # 9 or the phone number
        return str(1 + int(rng.random() * 9)) + _digits(rng, 8) if r < 0.7 else phone
    if bin_ == _TPB:  # 11
        return "0" + _digits(rng, 10)
    if bin_ == _LPB:  # 12
        return "0" + _digits(rng, 11)
    return _digits(rng, 12)


def _account(rng: random.Random, bank_table: _Weighted, owner: tuple[str, str, str, bool],
             owner_phone: str, used_phones: set[str]) -> dict[str, str]:
    bin_ = bank_table.pick(rng)
    family = rng.random() < 0.07  # account opened in a spouse's, parent's or child's name
    if family:
        relative = _person(rng, surname=owner[0] if rng.random() < 0.5 else None)
        holder = emv_text(" ".join(relative[:3]))
        phone = _phone(rng, used_phones)
    else:
        holder = emv_text(" ".join(owner[:3]))
        phone = owner_phone
    reference = ""
    if bin_ in (_VIETTEL_MONEY, _VNPT_MONEY):
        kind, account = "ewallet", phone if rng.random() < 0.9 else _phone(rng, used_phones)
    elif bin_ == _MOMO:
        kind, account = "ewallet", "PSP" + _digits(rng, 15)
        reference = "MOMOW2W" + _digits(rng, 8)
    elif rng.random() < 0.012:
        kind, account = "card", bin_ + _digits(rng, 10)  # 16-digit NAPAS card, 9704xx prefix
    else:
        kind, account = "bank_account", _bank_account(rng, bin_, phone)
    return {"bank": bin_, "account": account, "account_holder": holder,
            "account_kind": kind, "reference": reference}


def _chosen(rng: random.Random, n: int, k: int) -> list[bool]:
    """Exactly ``k`` of ``n`` flags set, positions drawn by a partial Fisher-Yates shuffle."""
    order = list(range(n))
    for i in range(k):
        j = i + int(rng.random() * (n - i))
        order[i], order[j] = order[j], order[i]
    flags = [False] * n
    for index in order[:k]:
        flags[index] = True
    return flags


def _zones(n: int) -> list[tuple[str, int]]:
    count = max(1, -(-n // _ZONE_SIZE))
    if count > len(_ZONE_LETTERS):
        raise InvalidLength("too many stalls for the demo's zone letters", field="count", value=n,
                            limit=f"at most {len(_ZONE_LETTERS) * _ZONE_SIZE}")
    return [(_ZONE_LETTERS[i], n // count + (1 if i < n % count else 0)) for i in range(count)]


def stalls(market_code: str, *, seed: int = 2025, count: int | None = None,
           adoption: float | None = None) -> list[dict[str, str]]:
    """The market's stall list, as a market board would hand it over (synthetic).

    Rows have exactly :data:`STALL_COLUMNS`, all values strings, sorted by zone
    then stall number (``A-1, A-2, …, A-120, B-1, …``). A share ``adoption`` of the
    stalls (exactly ``round(adoption * count)``) has a payment account; the others
    leave ``bank, account, account_holder, account_kind, reference`` empty.

    For one of the 43 demo markets ``count`` and ``adoption`` default to
    :func:`stall_count` and :func:`adoption_target`; any other market code (a
    sample market such as ``HH1``) must give both.

    >>> [r["stall_code"] for r in stalls("XX1", count=3, adoption=1.0)]
    ['A-1', 'A-2', 'A-3']
    """
    if count is None or adoption is None:
        planned_count, planned_adoption = _plan(market_code)
        count = planned_count if count is None else count
        adoption = planned_adoption if adoption is None else adoption
    if not 0 <= count <= len(_ZONE_LETTERS) * _ZONE_SIZE:
        raise InvalidLength("stall count out of range", field="count", value=count,
                            limit=f"0..{len(_ZONE_LETTERS) * _ZONE_SIZE}")
    if not 0.0 <= adoption <= 1.0:
        raise InvalidLength("adoption must be a share between 0 and 1", field="adoption",
                            value=adoption, limit="0..1")

    locality = _market_locality(market_code)
    banks, categories = _bank_table(locality), _category_table(locality)
    rng = random.Random(f"{seed}:{market_code}")
    has_account = _chosen(rng, count, int(adoption * count + 0.5))
    used_phones: set[str] = set()
    rows: list[dict[str, str]] = []
    index = 0
    for zone, size in _zones(count):
        main_category = categories.pick(rng)  # markets group trades by zone
        for number in range(1, size + 1):
            category = main_category if rng.random() < 0.65 else categories.pick(rng)
            owner = _person(rng)
            phone = _phone(rng, used_phones)
            row = {
                "market_code": market_code,
                "stall_code": f"{zone}-{number}",
                "shop_name": _shop_name(rng, category, owner),
                "category": category,
                "owner_name": " ".join(owner[:3]),
                "owner_phone": phone,
                **dict.fromkeys(_ACCOUNT_COLUMNS, ""),
                "status": "closed" if rng.random() < 0.03 else "operating",
            }
            if has_account[index]:
                row.update(_account(rng, banks, owner, phone, used_phones))
            rows.append({column: row[column] for column in STALL_COLUMNS})
            index += 1
    return rows
