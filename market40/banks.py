"""The NAPAS 247 participant directory: banks, e-wallets and finance companies by BIN.

The data ships inside the package (``market40/data/napas-participants.csv`` plus the
hand-kept ``bank-aliases.csv``; provenance in ``market40/data/README.md``) and is
loaded lazily, once. Look-ups work by BIN, by code and by name typed without
diacritics or case:

>>> lookup("970436").short_name
'Vietcombank'
>>> lookup("ngoai thuong").code
'VCB'
>>> lookup("vcb").bin, lookup("MoMo").kind
('970436', 'ewallet')
>>> by_bin("970459").short_name          # CIMB's alternate BIN, accepted when reading
'CIMB'
>>> lookup("LienVietPostBank").short_name  # a former name
'LPBank'
>>> bank = lookup("CBBank")                  # renamed: found by the old name, "formerly" noted
>>> bank.short_name, former_match(bank, "CBBank")
('VCBNeo', 'CBBank')
>>> unlisted("zalopay")[0][0]                # a wallet with no sourced BIN: explained, never invented
'ZaloPay'

Market boards write the bank with its branch; :func:`resolve` finds the bank and keeps the branch:

>>> found = resolve("BIDV - CN Hạ Long")
>>> found.bank.code, found.branch
('BIDV', 'CN Hạ Long')
>>> resolve("Agribank Quảng Ninh").branch, resolve("NH Nông nghiệp").bank.short_name
('Quảng Ninh', 'Agribank')
"""
from __future__ import annotations

import csv
import difflib
import functools
import re
import threading
import unicodedata
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from .exceptions import InvalidComponent, InvalidFormat, NotFound
from .text import search_key

__all__ = ["Bank", "KINDS", "UNLISTED", "Resolution", "all_banks", "by_bin", "by_code", "search", "lookup", "resolve",
           "require_bin",
           "suggest", "provenance", "former_match", "unlisted"]

KINDS = ("bank", "ewallet", "other")
_BIN = re.compile(r"[0-9]{6}")

#: Payment apps people meet at markets that have no NAPAS BIN in any source this directory
#: is built from (``market40/data/README.md``, "Missing participants"). They are documented
#: here instead of being given an invented BIN; a QR of theirs is read by what it carries.
UNLISTED: dict[str, str] = {
    "ZaloPay": "no NAPAS BIN is published for ZaloPay; its receiving QR is a VietQR transfer to "
               "BVBank (970454) with a 99ZP… account, its merchant QR (tag 26 vn.zalopay) is not VietQR",
    "ShopeePay": "no NAPAS BIN is published for ShopeePay (ex-AirPay); its merchant QR (tag 26 "
                 "vn.airpay.www) is not VietQR",
    "VNPAY wallet": "no NAPAS BIN is published for the VNPAY wallet; its personal QR is not EMV VietQR "
                    "and VNPAY-QR merchant stickers use tag 26 (GUID A000000775)",
}


@dataclass(frozen=True)
class Bank:
    """One NAPAS participant."""

    bin: str
    code: str
    short_name: str
    name: str
    swift: str | None
    kind: str
    aliases: tuple[str, ...] = ()
    alternate_bins: tuple[str, ...] = ()
    former_names: tuple[str, ...] = ()
    _keys: tuple[str, ...] = field(default=(), repr=False, compare=False)

    @property
    def label(self) -> str:
        """``Vietcombank (VCB, 970436)``: what a person recognises in a list."""
        return f"{self.short_name} ({self.code}, {self.bin})"

    def as_dict(self) -> dict[str, Any]:
        return {"bin": self.bin, "code": self.code, "short_name": self.short_name, "name": self.name,
                "swift": self.swift, "kind": self.kind, "aliases": list(self.aliases),
                "former_names": list(self.former_names), "alternate_bins": list(self.alternate_bins)}


class _Directory:
    def __init__(self, banks: list[Bank]) -> None:
        self.banks = banks
        self.by_bin = {b.bin: b for b in banks}
        for bank in banks:
            for alt in bank.alternate_bins:
                self.by_bin.setdefault(alt, bank)
        self.by_code = {search_key(b.code).replace(" ", ""): b for b in banks}


_lock = threading.Lock()
_directory: _Directory | None = None


def _load() -> _Directory:
    global _directory
    if _directory is None:
        with _lock:
            if _directory is None:
                _directory = _read()
    return _directory


def _read() -> _Directory:
    data = resources.files("market40") / "data"
    aliases: dict[str, list[str]] = {}
    alternates: dict[str, list[str]] = {}
    former: dict[str, list[str]] = {}
    with (data / "bank-aliases.csv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            target = alternates if row["kind"] == "alternate_bin" else aliases
            target.setdefault(row["bin"], []).append(unicodedata.normalize("NFC", row["alias"]))
            if row["kind"] == "former_name":
                former.setdefault(row["bin"], []).append(unicodedata.normalize("NFC", row["alias"]))
    banks = []
    with (data / "napas-participants.csv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            names = aliases.get(row["bin"], [])
            keys = tuple(dict.fromkeys(search_key(n) for n in
                                       [row["short_name"], row["code"], *names] if search_key(n)))
            row = {k: unicodedata.normalize("NFC", v) for k, v in row.items()}
            banks.append(Bank(row["bin"], row["code"], row["short_name"], row["name"],
                              row["swift_code"] or None, row["kind"], tuple(names),
                              tuple(alternates.get(row["bin"], [])), tuple(former.get(row["bin"], [])), keys))
    return _Directory(banks)


def all_banks(kind: str | None = None) -> list[Bank]:
    """Every participant (of one ``kind``: bank, ewallet, other), in file order."""
    banks = _load().banks
    return [b for b in banks if b.kind == kind] if kind else list(banks)


def by_bin(bin: str) -> Bank | None:
    """The participant with this BIN (alternate BINs included), or None."""
    return _load().by_bin.get(bin.strip()) if isinstance(bin, str) else None


def by_code(code: str) -> Bank | None:
    """The participant with this code (``VCB``, ``ICB``…; case and spaces ignored), or None."""
    return _load().by_code.get(search_key(code).replace(" ", ""))


def search(query: str, *, limit: int | None = None) -> list[Bank]:
    """Participants matching ``query``, best first.

    A BIN, a code, a short or former name match exactly; otherwise a name (short,
    former or full Vietnamese) that starts with, or contains every word of, the query.
    Diacritics and case do not matter: ``ngan hang ngoai thuong`` finds Vietcombank.
    """
    found = list(_search(search_key(query)))
    return found[:limit] if limit else found


@functools.lru_cache(maxsize=4096)  # bulk imports ask for the same few names 100,000 times
def _search(key: str) -> tuple[Bank, ...]:
    if not key:
        return ()
    directory = _load()
    if _BIN.fullmatch(key):
        bank = directory.by_bin.get(key)
        return (bank,) if bank else ()
    compact = key.replace(" ", "")
    words = key.split()
    scored = []
    for bank in directory.banks:
        compact_keys = [k.replace(" ", "") for k in bank._keys]
        full = search_key(bank.name)
        if compact in compact_keys:
            score = 0
        elif any(k.startswith(compact) for k in compact_keys):
            score = 1
        elif all(re.search(rf"\b{re.escape(w)}", full) for w in words) or \
                any(all(w in k for w in words) for k in bank._keys):
            score = 2
        elif any(compact in k for k in compact_keys) or compact in full.replace(" ", ""):
            score = 3
        else:
            continue
        scored.append((score, bank))
    scored.sort(key=lambda item: item[0])
    return tuple(bank for _, bank in scored)


def suggest(query: str, n: int = 3) -> list[str]:
    """Labels of the participants whose names or BINs are closest to ``query``."""
    directory = _load()
    key = search_key(query).replace(" ", "")
    if _BIN.fullmatch(key):
        close = difflib.get_close_matches(key, list(directory.by_bin), n=n, cutoff=0.5)
        return list(dict.fromkeys(directory.by_bin[b].label for b in close))
    index: dict[str, Bank] = {}
    for bank in directory.banks:
        for k in bank._keys:
            index.setdefault(k.replace(" ", ""), bank)
    close = difflib.get_close_matches(key, list(index), n=n * 2, cutoff=0.6)
    return list(dict.fromkeys(index[k].label for k in close))[:n]


def former_match(bank: Bank, query: str) -> str | None:
    """The former name of ``bank`` that ``query`` names (diacritics and case ignored), or None.

    Lets a listing say "VCBNeo (formerly CBBank)" when someone searched for the old name.
    """
    key = search_key(query).replace(" ", "") if isinstance(query, str) else ""
    if not key:
        return None
    for name in bank.former_names:
        if search_key(name).replace(" ", "") == key:
            return name
    for name in bank.former_names:
        if search_key(name).replace(" ", "").startswith(key):
            return name
    return None


def unlisted(query: str) -> list[tuple[str, str]]:
    """``(name, why)`` for the payment apps in :data:`UNLISTED` that ``query`` names."""
    key = search_key(query).replace(" ", "") if isinstance(query, str) else ""
    if not key:
        return []
    return [(name, why) for name, why in UNLISTED.items()
            if key in search_key(name).replace(" ", "") or search_key(name).replace(" ", "") in key]


def lookup(query: str) -> Bank:
    """The one participant ``query`` names (BIN, code or name).

    Raises :class:`NotFound` with the closest names when nothing matches, and
    :class:`InvalidComponent` when the query fits several participants equally well.
    """
    if not isinstance(query, str) or not query.strip():
        raise InvalidFormat("bank: give a BIN, a bank code or a name", field="bank", value=query,
                            limit="BIN, code or name")
    found = search(query)
    if not found:
        missing = unlisted(query)
        if missing:
            raise NotFound(f"bank: {missing[0][0]} is not in the NAPAS participant directory: {missing[0][1]}")
        hints = suggest(query)
        hint = f"; did you mean {', '.join(hints)}?" if hints else ""
        raise NotFound(f"bank: no NAPAS participant matches {query!r}{hint}")
    key = search_key(query).replace(" ", "")
    exact = [b for b in found if key in (k.replace(" ", "") for k in b._keys)]
    if len(exact) == 1:
        return exact[0]
    if len(found) == 1:
        return found[0]
    names = ", ".join(b.label for b in found[:5])
    raise InvalidComponent(f"bank: {query!r} matches several participants: {names}; be more precise "
                           "or give the BIN", field="bank", value=query, limit="one participant",
                           suggestions=[b.label for b in found[:5]])


@dataclass(frozen=True)
class Resolution:
    """A bank as a person wrote it: the participant, and the branch they named (or None)."""

    bank: Bank
    branch: str | None = None


# "chi nhánh Hạ Long", "CN Hạ Long", "PGD Bãi Cháy", "Sở giao dịch", after the bank's name.
_BRANCH_MARK = re.compile(r"(?i)(?:^|[\s,;(/–—-])\s*((?:chi\s+nh[aá]nh|cn|pgd|ph[oò]ng\s+giao\s+d[iị]ch|"
                          r"s[oở]\s+giao\s+d[iị]ch|sgd|hub)\b.*)$")
_SEPARATOR = re.compile(r"\s+[-–—,;(/]\s*|\s*[,;(/]\s*|\s*[–—]\s*")
# Abbreviations of boards' lists, folded (search_key) → what the directory knows.
_ABBREVIATIONS = ((re.compile(r"^nhno(?: ptnt)?\b"), "agribank"), (re.compile(r"\bnh\b"), "ngan hang"),
                  (re.compile(r"\bptnt\b"), "phat trien nong thon"), (re.compile(r"\btmcp\b"), ""),
                  (re.compile(r"\bnhtmcp\b"), "ngan hang"))


def _tidy(text: str) -> str:
    return " ".join(text.strip(" \t-–—,;()/").split())


def _unique(query: str) -> Bank | None:
    try:
        return lookup(query)
    except (NotFound, InvalidComponent, InvalidFormat):
        return None


def _expand(text: str) -> str:
    key = search_key(text)
    for pattern, replacement in _ABBREVIATIONS:
        key = pattern.sub(replacement, key)
    return " ".join(key.split())


def resolve(text: str) -> Resolution:
    """The participant a board's "bank" cell names, with the branch it adds kept apart.

    ``Vietcombank chi nhánh Hạ Long``, ``BIDV - CN Hạ Long``, ``Agribank Quảng Ninh`` and
    ``NH Nông nghiệp và PTNT`` all name a bank: the branch words (after "chi nhánh", "CN",
    "PGD", a dash or a comma, or the trailing words that are not part of the bank's name) are
    returned as ``branch``, as written. The one rule every door uses (imports, the web form,
    the CLI). Raises what :func:`lookup` raises for the whole text when no bank is found.
    """
    if not isinstance(text, str) or not text.strip():
        return Resolution(lookup(text))
    text = " ".join(unicodedata.normalize("NFC", text).split())
    try:
        return Resolution(lookup(text))
    except (NotFound, InvalidComponent) as error:
        first_error = error
    candidates: list[tuple[str, str]] = []
    marked = _BRANCH_MARK.search(text)
    if marked and marked.start(1) > 0:
        candidates.append((text[:marked.start(1)], marked.group(1)))
    parts = _SEPARATOR.split(text, maxsplit=1)
    if len(parts) == 2:
        candidates.append((parts[0], parts[1]))
    candidates.append((text, ""))
    for head, rest in candidates:
        head = _tidy(head)
        words = head.split()
        found: list[tuple[int, Bank]] = []
        for cut in range(len(words), 0, -1):  # the leading words that name one bank
            name = " ".join(words[:cut])
            bank = _unique(name) or _unique(_expand(name))
            if bank is not None:
                found.append((cut, bank))
        if found:
            # "… PTNT Hạ Long": "Hạ" begins a word of the bank's name ("hàng"), yet belongs to the branch:
            # the longest prefix made of whole words of the bank's names wins.
            whole = [(cut, bank) for cut, bank in found if _whole_words(" ".join(words[:cut]), bank)]
            cut, bank = (whole or found)[0]
            branch = _tidy(" ".join(words[cut:] + ([rest] if rest else [])))
            return Resolution(bank, branch or None)
    raise first_error


def _whole_words(name: str, bank: Bank) -> bool:
    """True when every word of ``name`` (abbreviations expanded or not) is a whole word of the bank's names."""
    vocabulary = set(search_key(bank.name).split()) | {w for k in bank._keys for w in k.split()} | \
        {k.replace(" ", "") for k in bank._keys} | {"ngan", "hang"}
    return set(_expand(name).split()) <= vocabulary or set(search_key(name).split()) <= vocabulary


def require_bin(bin: str, *, allow_unknown: bool = False) -> Bank | None:
    """Check a BIN for building a payload: 6 digits and in the directory.

    An unknown but well-formed BIN is refused, with the nearest BINs suggested,
    unless ``allow_unknown`` (a bank newer than this directory must not block
    anyone); then None is returned.
    """
    if not isinstance(bin, str) or not _BIN.fullmatch(bin):
        raise InvalidFormat(f"bin: must be 6 digits, got {bin!r}", field="bin", value=bin,
                            limit="6 digits")
    bank = by_bin(bin)
    if bank is None and not allow_unknown:
        hints = suggest(bin)
        raise InvalidComponent(
            f"bin: {bin} is not in the NAPAS participant directory"
            + (f" (nearest: {', '.join(hints)})" if hints else "")
            + "; if the bank is newer than the directory, allow unknown BINs explicitly",
            field="bin", value=bin, limit="a NAPAS participant BIN", suggestions=hints)
    return bank


def provenance() -> str:
    """Where the shipped directory comes from (``market40/data/README.md``)."""
    return (resources.files("market40") / "data" / "README.md").read_text(encoding="utf-8")
