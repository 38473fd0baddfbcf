"""Bank statement exports and webhook feeds → incoming transfers.

Formats (``market40 tx formats`` lists them with their headers; samples in
``data/samples/transactions/``):

``generic``
    market40's own CSV, for any bank or reconciler: ``transaction_id, booked_at, bank_bin,
    account, amount, content`` and an optional ``direction`` (``in``/``out``, empty = in).
    ``booked_at`` is ISO 8601 (``2025-06-01 08:05:03``, ``T`` accepted, time optional), Vietnam
    time; ``amount`` whole đồng in digits only; ``bank_bin`` the 6-digit NAPAS BIN of the
    credited account. UTF-8, comma-separated, one header row.
``vcb``
    a statement of one account in the style of Vietcombank's "Sao kê tài khoản" export: title
    rows (bank, ``Số tài khoản: 0141000123456``, dates) above the header ``STT, Ngày giao dịch,
    Số tham chiếu, Số tiền ghi nợ, Số tiền ghi có, Số dư, Nội dung chi tiết``, totals below.
    Dates ``dd/mm/yyyy HH:MM:SS`` (or the day alone), amounts ``1.234.567`` (``.`` groups
    thousands). BIN 970436. The account comes from the title rows (or ``--account``).
``vietinbank``
    a transaction list of several accounts in the style of VietinBank's business export:
    ``;``-separated, ``STT; Số tài khoản; Mã giao dịch; Ngày giao dịch; Số tiền ghi nợ;
    Số tiền ghi có; Nội dung``, dates ``dd/mm/yyyy HH:MM:SS``, amounts ``1.234.567``. BIN 970415.
``mb``
    a bilingual export in the style of MB's: ``Số tài khoản/Account No, Ngày giao dịch/Transaction
    date, Mã giao dịch/Reference No, Ghi có/Credit, Ghi nợ/Debit, Nội dung/Description``, dates
    ``dd-mm-yyyy HH:MM:SS``, amounts ``1,234,567`` (``,`` groups thousands), ``.00`` tails
    accepted. BIN 970422.
``sepay`` / ``casso``
    JSON lines, one webhook body per line, shaped like SePay's (``id, gateway, transactionDate,
    accountNumber, subAccount, code, content, transferType, transferAmount, accumulated,
    referenceCode, description``) and Casso's, in either version: webhook v2 (``{"error": 0,
    "data": {id, reference, description, amount, runningBalance, transactionDateTime,
    accountNumber, bankName, bankAbbreviation, virtualAccountNumber, virtualAccountName,
    counterAccount…}}``, ``data`` an object or a list) or the legacy v1 (``{"error": 0, "data":
    [{id, tid, description, amount, cusum_balance, when, bank_sub_acc_id}]}``), or one such
    transaction per line. The payer's fields (Casso's ``counterAccount…``) are never read:
    a bank account's transaction history is sensitive personal data (Decree 356/2025, Art. 4).
    Casso v1 does not name the bank: give it (``--bank``); v2 names it (``bankAbbreviation``).

The three bank layouts are *invented in the style of* those banks' exports (column names,
date and amount formats, title and total rows); the banks' real files differ in details
and change over time. A new layout is one more :class:`Layout` entry: :func:`detect_layout` is
the one place that tells them apart by their header, :func:`webhook_layout` the one that tells
SePay from Casso. A CSV export may be UTF-8 (with or without BOM), UTF-16 (Excel's "Unicode
text") or Windows-1258 (older Vietnamese Windows exports): :mod:`market40.sniff` decides, as it
does for every importer.

Every format keeps incoming transfers only. Rows are sorted out the same way everywhere:

* no transaction id and no readable date: a title, total or blank row, skipped;
* no credit (an empty or zero credit, ``direction`` out, ``transferType`` out, a negative
  Casso amount): outgoing, skipped and counted;
* otherwise every field must be right, or the row is reported with the reason.

In an XLSX export, a date typed as a real Excel date cell is read as that date, whatever the
layout's text format (:func:`excel_date_text`).

>>> parse_amount("1.234.567", "dot"), parse_amount("1,234,567.00", "comma"), parse_amount("", "dot")
(1234567, 1234567, 0)
>>> parse_booked_at("01/06/2025 08:05:03", LAYOUTS["vcb"].date_formats)
datetime.datetime(2025, 6, 1, 8, 5, 3)

Bulk CSV files are read by the columnar store with the SQL of :meth:`Layout.select_sql`, the
twin of :func:`parse_values` (a test feeds both the same junk and compares). Standard library only.
"""
from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import MappingProxyType
from typing import IO, Any, Iterable, Iterator, Mapping, Sequence

from .exceptions import InvalidFormat, NotFound, ValidationError
from .reconciliation import Transfer
from .sniff import DELIMITERS, sniff_path
from .text import search_key

__all__ = [
    "Layout", "LAYOUTS", "FORMATS", "Sniffed", "Parsed",
    "parse_amount", "parse_booked_at", "clean_account", "clean_tx_id", "parse_values", "fast_sql",
    "detect_layout", "header_positions", "no_layout", "webhook_layout", "sniff_csv", "read_jsonl",
    "format_amount", "write_csv", "write_jsonl",
    "MAX_AMOUNT", "MAX_CONTENT", "CASSO_V2_FIELDS", "excel_date_text",
]

#: Amounts at or above this are refused (no market transfer comes near; it catches digits run together).
MAX_AMOUNT = 10 ** 15
#: Longer contents are cut to this many characters.
MAX_CONTENT = 500
_MIN_YEAR, _MAX_YEAR = 2000, 2100
_HEADER_SEARCH_LINES = 40
#: Ignored around every cell: the Unicode space separators (category Zs: the space, the
#: no-break space, the ideographic space…), exactly what DuckDB's one-argument ``trim`` drops,
#: which is several times faster in bulk than trimming a list of characters.
_WS = "".join(chr(c) for c in (0x20, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x202F, 0x205F, 0x3000))

# amount style → (full pattern, decimal tail to drop, grouping character). The same patterns
# run in Python (re) and DuckDB (RE2).
_AMOUNT_STYLES = {
    "plain": (r"[0-9]+", None, None),
    "dot": (r"[0-9]{1,3}(\.[0-9]{3})+(,0{1,2})?|[0-9]+(,0{1,2})?", ",0{1,2}$", "."),
    "comma": (r"[0-9]{1,3}(,[0-9]{3})+(\.0{1,2})?|[0-9]+(\.0{1,2})?", r"\.0{1,2}$", ","),
}
_ACCOUNT = r"[0-9A-Za-z]{1,19}"
_ACCOUNT_JUNK = r"[ .-]"
_BIN = r"[0-9]{6}"


@dataclass(frozen=True)
class Layout:
    """One export format: its headers, how it writes dates and amounts, and which bank it is."""

    name: str
    title: str
    kind: str  # "csv" or "jsonl"
    fields: Mapping[str, tuple[str, ...]]  # canonical field → accepted headers (the first is written)
    required: tuple[str, ...]
    date_formats: tuple[str, ...] = ()
    amount_style: str = "plain"
    bank_bin: str | None = None  # the bank of every row (bank exports)
    delimiter: str = ","
    channel: str = "statement"  # "statement" (a bank export) or "webhook" (SePay, Casso)
    account_in_title: bool = False  # one account per file, named in the title rows

    @property
    def header(self) -> list[str]:
        return [aliases[0] for aliases in self.fields.values()]

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "kind": self.kind, "channel": self.channel,
                "bank_bin": self.bank_bin, "delimiter": self.delimiter, "date_formats": list(self.date_formats),
                "amount_style": self.amount_style, "headers": self.header, "required": list(self.required),
                "account_in_title": self.account_in_title}

    # -------------------------------------------------------------- the SQL twin of parse_values

    def select_sql(self, source: str, positions: Mapping[str, str], *, bank_bin: str | None = None,
                   account: str | None = None) -> str:
        """A SELECT over ``source`` (a ``read_csv(...)`` call) giving one parsed row per line.

        ``positions`` maps each canonical field to the source column that holds it. Output
        columns: ``bank_bin, tx_id, booked_at, account, amount, content, kind, reason, raw``;
        ``kind`` is ``ok``, ``other`` (title/total rows), ``outgoing`` or ``invalid``.
        """
        def col(name: str) -> str:
            return f"coalesce({positions[name]}, '')" if name in positions else "''"

        def lit(text: str | None) -> str:
            return "NULL" if text is None else "'" + text.replace("'", "''") + "'"

        strip = "trim({})"  # drops exactly _WS
        pattern, tail, group = _AMOUNT_STYLES[self.amount_style]
        digits = "t_amount"
        if tail:
            digits = f"replace(regexp_replace(t_amount, {lit(tail)}, ''), {lit(group)}, '')"
        formats = "[" + ", ".join(lit(f) for f in self.date_formats) + "]"
        account_text = strip.format(col("account")) if "account" in positions else lit(account or "")
        bin_text = strip.format(col("bank_bin")) if "bank_bin" in positions else lit(bank_bin or self.bank_bin or "")
        direction = f"lower({strip.format(col('direction'))})" if "direction" in positions else "''"
        generic = "true" if self.name == "generic" else "false"
        junk = lit(_ACCOUNT_JUNK)
        quote = "''''"
        # Layered so that each cell is trimmed, matched and cast once per row (the costly part
        # over millions of rows); the order of the verdict is the order of parse_values().
        return f"""
SELECT bank_bin, tx_id, booked_at, account, amount, content,
  CASE WHEN verdict IN ('ok', 'other', 'outgoing') THEN verdict ELSE 'invalid' END AS kind,
  CASE WHEN verdict NOT IN ('ok', 'other', 'outgoing') THEN verdict END AS reason,
  CASE WHEN verdict NOT IN ('ok', 'other', 'outgoing') THEN t_date || ' | ' || t_amount || ' | ' || t_account
       END AS raw
FROM (
  SELECT *,
    CASE
      WHEN booked_at IS NULL AND tx_id = '' THEN 'other'
      WHEN booked_at IS NULL THEN {lit('booked_at: not a date in the formats ' + ' or '.join(self.date_formats))}
      WHEN NOT (length(tx_id) BETWEEN 1 AND 64) THEN 'transaction id: required, at most 64 characters'
      WHEN amount IS NULL THEN {lit('amount: not a whole number of đồng written as ' + self.amount_style)}
      WHEN direction NOT IN ('', 'in', 'out') THEN 'direction: in or out'
      WHEN {generic} AND direction <> 'out' AND amount = 0 THEN 'amount: must be at least 1 đồng'
      WHEN amount = 0 OR direction = 'out' THEN 'outgoing'
      WHEN NOT regexp_full_match(bank_bin, {lit(_BIN)}) THEN 'bank_bin: 6 digits'
      WHEN NOT (account_plain OR regexp_full_match(account, {lit(_ACCOUNT)}))
           THEN 'account: 1 to 19 letters or digits'
      ELSE 'ok' END AS verdict
  FROM (
    SELECT *,
      CASE WHEN year(d) BETWEEN {_MIN_YEAR} AND {_MAX_YEAR - 1} THEN d END AS booked_at,
      CASE WHEN amount_cast < {MAX_AMOUNT} THEN amount_cast END AS amount
    FROM (
      SELECT *,
        try_strptime(t_date, {formats}) AS d,
        CASE WHEN account_plain THEN t_account
             ELSE regexp_replace(ltrim(t_account, {quote}), {junk}, '', 'g') END AS account,
        CASE WHEN t_amount = '' THEN 0
             WHEN regexp_full_match(t_amount, {lit(pattern)}) THEN TRY_CAST({digits} AS BIGINT) END AS amount_cast,
        CASE WHEN strlen(t_content) <= {MAX_CONTENT} THEN t_content ELSE left(t_content, {MAX_CONTENT}) END
          AS content
      FROM (
        SELECT *, regexp_full_match(t_account, {lit(_ACCOUNT)}) AS account_plain
        FROM (
          SELECT {bin_text} AS bank_bin, {strip.format(col('tx_id'))} AS tx_id,
                 {strip.format(col('booked_at'))} AS t_date, {strip.format(col('amount'))} AS t_amount,
                 {account_text} AS t_account, {strip.format(col('content'))} AS t_content,
                 {direction} AS direction
          FROM {source}) AS t
      ) AS a
    ) AS p
  ) AS c
) AS q"""


def fast_sql(layout: Layout, source: str, positions: Mapping[str, str]) -> str:
    """The bulk path of the ``generic`` layout: ``source`` reads ``booked_at`` already typed.

    DuckDB's CSV reader parses the first date format itself (fast) and sets aside every line
    it cannot read; this SELECT then keeps as ``ok`` only the rows whose cells
    :func:`parse_values` would take exactly as they are (no spaces to strip, digits only, a
    6-digit BIN, an account of letters and digits, a short enough content). Every other row is
    ``recheck`` (``ok`` false): the importer hands it, with the reader's rejected lines, to
    :func:`parse_values`, so each row's outcome is Python's. ``reason`` carries the raw
    ``direction`` and ``raw`` the raw amount of ``recheck`` rows.
    """
    if layout.name != "generic":
        raise ValueError("fast_sql() is for the generic layout")

    def col(name: str) -> str:
        return positions[name] if name in positions else "NULL"

    direction = col("direction")
    ok = (f"strlen({col('tx_id')}) BETWEEN 1 AND 64 AND trim({col('tx_id')}) = {col('tx_id')} "
          f"AND year({col('booked_at')}) BETWEEN {_MIN_YEAR} AND {_MAX_YEAR - 1} "
          f"AND regexp_full_match({col('amount')}, '[0-9]{{1,15}}') AND TRY_CAST({col('amount')} AS BIGINT) >= 1 "
          f"AND regexp_full_match({col('bank_bin')}, '{_BIN}') "
          f"AND regexp_full_match({col('account')}, '{_ACCOUNT}') "
          f"AND (COALESCE({col('content')}, '') = '' OR (trim({col('content')}) = {col('content')} "
          f"AND strlen({col('content')}) <= {MAX_CONTENT})) "
          f"AND ({direction} IS NULL OR {direction} = 'in')")
    return f"""
SELECT {col('bank_bin')} AS bank_bin, {col('tx_id')} AS tx_id, {col('booked_at')} AS booked_at,
       {col('account')} AS account, TRY_CAST({col('amount')} AS BIGINT) AS amount,
       coalesce({col('content')}, '') AS content, ok,
       CASE WHEN ok THEN 'ok' ELSE 'recheck' END AS kind,
       CASE WHEN ok THEN NULL ELSE coalesce({direction}, '') END AS reason,
       CASE WHEN ok THEN NULL ELSE coalesce({col('amount')}, '') END AS raw
FROM (SELECT *, coalesce({ok}, false) AS ok FROM {source}) AS s"""


def _fields(**fields: tuple[str, ...]) -> Mapping[str, tuple[str, ...]]:
    return MappingProxyType(dict(fields))


#: Every format market40 reads, by name.
LAYOUTS: Mapping[str, Layout] = MappingProxyType({
    "generic": Layout(
        "generic", "market40 generic CSV", "csv",
        _fields(tx_id=("transaction_id", "tx_id"), booked_at=("booked_at",), bank_bin=("bank_bin", "bin"),
                account=("account",), amount=("amount",), content=("content",), direction=("direction",)),
        required=("tx_id", "booked_at", "bank_bin", "account", "amount"),
        date_formats=("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"),
        amount_style="plain"),
    "vcb": Layout(
        "vcb", "Vietcombank-style account statement (sao kê tài khoản)", "csv",
        _fields(number=("STT",), booked_at=("Ngày giao dịch", "Ngày GD"), tx_id=("Số tham chiếu", "Số bút toán"),
                debit=("Số tiền ghi nợ",), amount=("Số tiền ghi có",), balance=("Số dư",),
                content=("Nội dung chi tiết", "Diễn giải")),
        required=("booked_at", "tx_id", "amount", "content", "balance"),
        date_formats=("%d/%m/%Y %H:%M:%S", "%d/%m/%Y"), amount_style="dot", bank_bin="970436",
        account_in_title=True),
    "vietinbank": Layout(
        "vietinbank", "VietinBank-style transaction list (several accounts)", "csv",
        _fields(number=("STT",), account=("Số tài khoản",), tx_id=("Mã giao dịch",),
                booked_at=("Ngày giao dịch",), debit=("Số tiền ghi nợ",), amount=("Số tiền ghi có",),
                content=("Nội dung",)),
        required=("account", "tx_id", "booked_at", "amount", "content"),
        date_formats=("%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M"), amount_style="dot", bank_bin="970415",
        delimiter=";"),
    "mb": Layout(
        "mb", "MB-style bilingual export", "csv",
        _fields(account=("Số tài khoản/Account No",), booked_at=("Ngày giao dịch/Transaction date",),
                tx_id=("Mã giao dịch/Reference No",), amount=("Ghi có/Credit",), debit=("Ghi nợ/Debit",),
                content=("Nội dung/Description",)),
        required=("account", "booked_at", "tx_id", "amount"),
        date_formats=("%d-%m-%Y %H:%M:%S", "%d-%m-%Y %H:%M"), amount_style="comma", bank_bin="970422"),
    "sepay": Layout(
        "sepay", "SePay webhook bodies (JSON lines)", "jsonl",
        _fields(sepay_id=("id",), gateway=("gateway",), booked_at=("transactionDate",),
                account=("accountNumber",), sub_account=("subAccount",), code=("code",), content=("content",),
                direction=("transferType",), amount=("transferAmount",), balance=("accumulated",),
                tx_id=("referenceCode",), description=("description",)),
        required=("gateway", "booked_at", "account", "direction", "amount"),
        date_formats=("%Y-%m-%d %H:%M:%S",), channel="webhook"),
    "casso": Layout(
        "casso", "Casso webhook bodies, v2 or legacy v1 (JSON lines)", "jsonl",
        _fields(casso_id=("id",), tx_id=("reference", "tid"), content=("description",), amount=("amount",),
                balance=("runningBalance", "cusum_balance"), booked_at=("transactionDateTime", "when"),
                account=("accountNumber", "bank_sub_acc_id"), bank=("bankAbbreviation", "bankName")),
        required=("booked_at", "account", "amount"),
        date_formats=("%Y-%m-%d %H:%M:%S",), channel="webhook"),
})
FORMATS = tuple(LAYOUTS)


# ------------------------------------------------------------------------------- cell rules

def _strip(value: Any) -> str:
    return "" if value is None else str(value).strip(_WS)


def parse_amount(value: Any, style: str, *, field: str = "amount") -> int:
    """A credit as whole đồng (0 for an empty cell), written in the layout's ``style``.

    ``dot``: ``1.234.567`` (and ``1.234.567,00``); ``comma``: ``1,234,567`` (and ``.00``);
    ``plain``: digits. A fraction of a đồng, a sign, letters or a malformed grouping are refused.

    >>> parse_amount("150.000", "dot"), parse_amount("150000", "comma")
    (150000, 150000)
    >>> parse_amount("1.5", "dot")
    Traceback (most recent call last):
    ...
    market40.exceptions.InvalidFormat: amount: not a whole number of đồng written as dot, got '1.5'
    """
    text = _strip(value)
    if not text:
        return 0
    pattern, tail, group = _AMOUNT_STYLES[style]
    if re.fullmatch(pattern, text):
        digits = re.sub(tail, "", text).replace(group, "") if tail else text
        number = int(digits)
        if number < MAX_AMOUNT:
            return number
    raise InvalidFormat(f"{field}: not a whole number of đồng written as {style}, got {text!r}",
                        field=field, value=value, limit=style)


def parse_booked_at(value: Any, formats: Sequence[str], *, field: str = "booked_at") -> datetime:
    """A booking time (naive, Vietnam time) in the first of ``formats`` that fits."""
    text = _strip(value)
    for fmt in formats:
        try:
            moment = datetime.strptime(text, fmt)
        except ValueError:
            continue
        if _MIN_YEAR <= moment.year < _MAX_YEAR:
            return moment
        break
    raise InvalidFormat(f"{field}: not a date in the formats {' or '.join(formats)}, got {text!r}",
                        field=field, value=value, limit=" or ".join(formats))


def clean_account(value: Any, *, field: str = "account") -> str:
    """An account number as exports write it: spaces, dots, dashes and Excel's leading ``'`` dropped.

    >>> clean_account("'0141 000 123-456")
    '0141000123456'
    """
    text = re.sub(_ACCOUNT_JUNK, "", _strip(value).lstrip("'"))
    if not re.fullmatch(_ACCOUNT, text):
        raise InvalidFormat(f"{field}: 1 to 19 letters or digits, got {_strip(value)!r}", field=field,
                            value=value, limit="1–19 letters or digits")
    return text


def clean_tx_id(value: Any, *, field: str = "transaction id") -> str:
    text = _strip(value)
    if not 1 <= len(text) <= 64:
        raise InvalidFormat(f"{field}: required, at most 64 characters, got {text!r}", field=field,
                            value=value, limit="1–64 characters")
    return text


@dataclass
class Parsed:
    """One row read: ``kind`` ``ok`` (with its transfer), ``other``, ``outgoing`` or ``invalid``."""

    number: int
    kind: str
    transfer: Transfer | None = None
    reason: str | None = None
    raw: str = ""
    tx_id: str | None = None  # of a refused row, when it has one


def parse_values(layout: Layout, values: Mapping[str, Any], *, number: int = 0, bank_bin: str | None = None,
                 account: str | None = None) -> Parsed:
    """Sort out and parse one row, given as canonical field → cell text (see the module docstring)."""
    raw_date, raw_amount = _strip(values.get("booked_at")), _strip(values.get("amount"))
    raw_account = _strip(values.get("account")) if "account" in values else (account or "")
    raw = f"{raw_date} | {raw_amount} | {raw_account}"
    tx_id = _strip(values.get("tx_id"))
    try:
        booked_at = parse_booked_at(raw_date, layout.date_formats)
    except InvalidFormat as error:
        if not tx_id:
            return Parsed(number, "other")
        return Parsed(number, "invalid", reason=error.message.split(", got")[0], raw=raw, tx_id=tx_id or None)
    direction = _strip(values.get("direction")).lower()
    try:
        clean_tx_id(tx_id)
        amount = parse_amount(raw_amount, layout.amount_style)
        if direction not in ("", "in", "out"):
            raise InvalidFormat("direction: in or out", field="direction", value=direction)
        if direction != "out" and amount == 0 and layout.name == "generic":
            raise InvalidFormat("amount: must be at least 1 đồng", field="amount", value=raw_amount)
    except InvalidFormat as error:
        message = error.message.split(", got")[0]
        if message.startswith("transaction id"):
            message = "transaction id: required, at most 64 characters"
        return Parsed(number, "invalid", reason=message, raw=raw, tx_id=tx_id or None)
    if amount == 0 or direction == "out":
        return Parsed(number, "outgoing")
    bin_ = _strip(values.get("bank_bin")) if "bank_bin" in values else (bank_bin or layout.bank_bin or "")
    if not re.fullmatch(_BIN, bin_):
        return Parsed(number, "invalid", reason="bank_bin: 6 digits", raw=raw, tx_id=tx_id)
    try:
        number_ = clean_account(raw_account)
    except InvalidFormat:
        return Parsed(number, "invalid", reason="account: 1 to 19 letters or digits", raw=raw, tx_id=tx_id)
    content = _strip(values.get("content"))[:MAX_CONTENT]
    return Parsed(number, "ok", Transfer(bin_, tx_id, booked_at, number_, amount, content, layout.channel))


# ------------------------------------------------------------------------------- CSV detection

@dataclass
class Sniffed:
    """What the first lines of a CSV export say: its layout and where its table starts."""

    layout: Layout
    delimiter: str
    skip: int  # physical lines before the header
    header: list[str]
    positions: dict[str, int]  # canonical field → column index
    account: str | None = None  # from the title rows
    encoding: str = "utf-8"
    title_lines: list[str] = field(default_factory=list)
    data_offset: int = 0  # the byte where the rows start (after the header line)


def _header_keys(layout: Layout) -> dict[str, str]:
    from .tabular import header_key  # the one header-matching rule (tabular.py)
    return {header_key(alias): name for name, aliases in layout.fields.items() for alias in aliases}


def header_positions(cells: Sequence[str], layout: Layout) -> dict[str, int]:
    """Field → column index of the headers of ``layout`` found in ``cells``."""
    from .tabular import header_key
    keys = _header_keys(layout)
    found: dict[str, int] = {}
    for index, cell in enumerate(cells):
        name = keys.get(header_key(cell or ""))
        if name and name not in found:
            found[name] = index
    return found


def detect_layout(cells: Sequence[str], *, kinds: Iterable[str] = ("csv",),
                  layout: Layout | None = None) -> Layout | None:
    """The layout a header row belongs to: the one home of "which bank export is this".

    A layout matches when all its required headers appear in ``cells`` (in any case, with or
    without diacritics); the one with the most matched columns wins. ``layout`` given: that
    one or None. ``tx import`` (CSV through :func:`sniff_csv`, XLSX through the transfers
    service) chooses here; webhook bodies choose by their keys in :func:`webhook_layout`.
    """
    candidates = [layout] if layout is not None else [l for l in LAYOUTS.values() if l.kind in kinds]
    best: tuple[int, Layout] | None = None
    for candidate in candidates:
        found = header_positions(cells, candidate)
        if all(name in found for name in candidate.required):
            if best is None or len(found) > best[0]:
                best = (len(found), candidate)
    return best[1] if best else None


def no_layout(name: str, seen: Sequence[str], layout: Layout | None = None, *, where: str = "") -> InvalidFormat:
    """The error for a file whose header is no known layout: what was seen, and every layout known."""
    if layout is not None:
        wanted, known = layout.title, ""
    else:
        wanted = "a known export"
        known = "; the known layouts: " + ", ".join(
            f"{l.name} ({l.title})" for l in LAYOUTS.values() if l.kind == "csv")
    shown = "; ".join(repr(s) for s in seen[:3]) or "nothing readable"
    return InvalidFormat(f"{name}: no header of {wanted}{where} (saw {shown}){known}; "
                         "choose the format with --format (market40 tx formats lists them)", value=name, limit=wanted)


_TITLE_ACCOUNT = re.compile(r"\bso (?:tai khoan|tk) ([0-9]{4,19})\b")


def sniff_csv(path: str | Path, layout: Layout | None = None) -> Sniffed:
    """Read the first lines of a CSV export: encoding, delimiter, layout, header line, title account.

    The file is sniffed by :func:`market40.sniff.sniff` (UTF-8 with or without BOM, UTF-16,
    Windows-1258; the first 64 KB decide). Raises :class:`InvalidFormat` naming the file when it
    is not a text file or no known header is found (with what was seen and the known layouts),
    :class:`NotFound` when it does not exist.
    """
    name = str(path)
    found = sniff_path(path, accept=("csv",), whole=False)
    text = found.sample
    lines = text.splitlines(keepends=True)[:_HEADER_SEARCH_LINES]
    delimiters = [layout.delimiter] if layout else list(DELIMITERS)  # "," first: it collects the title rows
    title: list[str] = []
    seen: list[str] = []
    for delimiter in dict.fromkeys(delimiters):
        skip = 0
        reader = csv.reader(io.StringIO("".join(lines)), delimiter=delimiter)
        previous_line = 0
        try:
            for cells in reader:
                physical = reader.line_num
                if any(c.strip() for c in cells):
                    chosen = detect_layout(cells, layout=layout)
                    if chosen is not None:
                        account = _title_account(title)
                        return Sniffed(chosen, delimiter, previous_line, [c.strip() for c in cells],
                                       header_positions(cells, chosen), account, found.encoding or "utf-8",
                                       title,
                                       found.bom + _line_end(text, physical, found.codec or "utf-8"))
                    if delimiter == ",":
                        title.append(" ".join(c.strip() for c in cells if c.strip()))
                        seen.append(", ".join(c.strip() for c in cells)[:120])
                previous_line = physical
                skip += 1
        except csv.Error:
            continue
    raise no_layout(name, seen, layout, where=f" in the first {_HEADER_SEARCH_LINES} lines")


def _line_end(text: str, lines: int, codec: str) -> int:
    """The byte offset (in ``codec``) just after the first ``lines`` ``\\n``-ended lines of ``text``."""
    offset = 0
    for _ in range(lines):
        found = text.find("\n", offset)
        if found < 0:
            return len(text.encode(codec))
        offset = found + 1
    return len(text[:offset].encode(codec))


def _title_account(lines: Iterable[str]) -> str | None:
    for line in lines:
        match = _TITLE_ACCOUNT.search(search_key(line))
        if match:
            return match.group(1)
    return None


# ------------------------------------------------------------------------------- JSON lines

def _bank_bin_of(gateway: str, cache: dict[str, str | None]) -> str | None:
    if gateway not in cache:
        from . import banks
        try:
            cache[gateway] = banks.lookup(gateway).bin
        except (NotFound, ValidationError):
            cache[gateway] = None
    return cache[gateway]


def webhook_layout(body: Mapping[str, Any]) -> Layout:
    """SePay or Casso, from the keys of one webhook body (a JSON object): the one home of that choice.

    >>> webhook_layout({"gateway": "Vietcombank", "transferAmount": 5}).name, webhook_layout({"data": []}).name
    ('sepay', 'casso')
    """
    if isinstance(body.get("data"), (list, dict)):  # Casso wraps its transactions in "data"
        return LAYOUTS["casso"]
    return LAYOUTS["sepay" if "transferAmount" in body or "gateway" in body else "casso"]


def read_jsonl(stream: IO[bytes] | Iterable[bytes], layout: Layout | None = None, *,
               bank_bin: str | None = None, name: str = "feed") -> Iterator[Parsed]:
    """Parse a JSON-lines webhook feed (SePay or Casso bodies); one :class:`Parsed` per transaction.

    ``layout`` None decides per line from its keys. Lines that are not JSON objects are
    reported (``invalid``) with their line number, never fatal.
    """
    cache: dict[str, str | None] = {}
    for number, line in enumerate(stream, start=1):
        text = line.decode("utf-8-sig", errors="replace") if isinstance(line, bytes) else line
        if not text.strip():
            yield Parsed(number, "other")  # a blank line: counted, like a blank CSV row
            continue
        try:
            body = json.loads(text)
        except ValueError as error:
            yield Parsed(number, "invalid", reason=f"not JSON ({error.msg} at column {error.colno})",
                         raw=text.strip()[:80])
            continue
        if not isinstance(body, dict):
            yield Parsed(number, "invalid", reason="not a JSON object", raw=text.strip()[:80])
            continue
        items: list[Any]
        if isinstance(body.get("data"), list):  # Casso: {"error": 0, "data": [...]}
            items = body["data"]
        elif isinstance(body.get("data"), dict):
            items = [body["data"]]
        else:
            items = [body]
        chosen = layout or webhook_layout(body)
        if not items:  # {"error": 0, "data": []}: a body without a transaction
            yield Parsed(number, "other")
        for item in items:
            if not isinstance(item, dict):
                yield Parsed(number, "invalid", reason="a transaction is not a JSON object", raw=str(item)[:80])
                continue
            yield _parse_webhook(chosen, item, number, bank_bin, cache)


def _json_text(value: Any) -> str:
    if value is None or isinstance(value, bool):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _parse_webhook(layout: Layout, item: Mapping[str, Any], number: int, bank_bin: str | None,
                   cache: dict[str, str | None]) -> Parsed:
    if layout.name == "sepay":
        values = {"tx_id": _json_text(item.get("referenceCode")) or
                  (f"SEPAY-{_json_text(item.get('id'))}" if item.get("id") is not None else ""),
                  "booked_at": _json_text(item.get("transactionDate")),
                  "account": _json_text(item.get("accountNumber")),
                  "content": _json_text(item.get("content")) or _json_text(item.get("description")),
                  "direction": _json_text(item.get("transferType")),
                  "amount": _json_text(item.get("transferAmount"))}
        gateway = _json_text(item.get("gateway")).strip()
        bin_ = bank_bin or (_bank_bin_of(gateway, cache) if gateway else None)
        if not bin_ and values["booked_at"]:
            return Parsed(number, "invalid", reason=f"gateway: not a known bank ({gateway!r}); give the bank",
                          raw=gateway)
    elif _is_casso_v2(item):
        signed = _json_text(item.get("amount"))
        # Only the fields below are read: the payer's (counterAccountName, counterAccountNumber,
        # counterAccountBankId, counterAccountBankName) are dropped here, on arrival.
        values = {"tx_id": _json_text(item.get("reference")) or
                  (f"CASSO-{_json_text(item.get('id'))}" if item.get("id") is not None else ""),
                  "booked_at": _webhook_time(_json_text(item.get("transactionDateTime"))),
                  "account": _json_text(item.get("accountNumber")),
                  "content": _json_text(item.get("description")),
                  "direction": "out" if signed.startswith("-") else "in",
                  "amount": signed.lstrip("-")}
        bin_ = bank_bin
        if not bin_:
            named = [_json_text(item.get(k)).strip() for k in ("bankAbbreviation", "bankName")]
            for name in filter(None, named):
                bin_ = _bank_bin_of(name, cache)
                if bin_:
                    break
            if not bin_:
                shown = " / ".join(filter(None, named))
                return Parsed(number, "invalid", reason=f"bankAbbreviation: not a known bank ({shown!r}); "
                              "give the bank (--bank)", raw=shown, tx_id=values["tx_id"] or None)
    else:
        amount = item.get("amount")
        signed = _json_text(amount)
        # Casso's legacy v1 keys (tid, when, bank_sub_acc_id) or webhook v2's (reference,
        # transactionDateTime, accountNumber, bankAbbreviation); v2 names the bank itself.
        values = {"tx_id": _json_text(item.get("tid") or item.get("reference")) or
                  (f"CASSO-{_json_text(item.get('id'))}" if item.get("id") is not None else ""),
                  "booked_at": _json_text(item.get("when") or item.get("transactionDateTime")),
                  "account": _json_text(item.get("bank_sub_acc_id") or item.get("accountNumber")),
                  "content": _json_text(item.get("description")),
                  "direction": "out" if signed.startswith("-") else "in",
                  "amount": signed.lstrip("-")}
        named = _json_text(item.get("bankAbbreviation") or item.get("bankName")).strip()
        bin_ = bank_bin or (_bank_bin_of(named, cache) if named else None)
        if named and not bin_ and values["booked_at"]:
            return Parsed(number, "invalid", reason=f"bankName: not a known bank ({named!r}); give the bank",
                          raw=named)
        if not bin_:
            return Parsed(number, "invalid", reason="Casso webhooks do not name the bank: give it (--bank)",
                          raw=values["account"])
    if isinstance(item.get("transferAmount" if layout.name == "sepay" else "amount"), bool):
        values["amount"] = "x"
    parsed = parse_values(_JSON_AS_GENERIC, {**values, "bank_bin": bin_ or ""}, number=number)
    if parsed.transfer is not None:
        t = parsed.transfer
        parsed.transfer = Transfer(t.bank_bin, t.tx_id, t.booked_at, t.account, t.amount, t.content, "webhook")
    return parsed


#: The keys that mark a Casso webhook v2 transaction (v1 has ``tid``, ``when``, ``bank_sub_acc_id``).
CASSO_V2_FIELDS = ("reference", "transactionDateTime", "runningBalance", "accountNumber", "bankAbbreviation")


def _is_casso_v2(item: Mapping[str, Any]) -> bool:
    return any(key in item for key in CASSO_V2_FIELDS) and not any(k in item for k in ("tid", "when"))


def _webhook_time(text: str) -> str:
    """A webhook's time as Vietnam time: an ISO time with an offset (``…+07:00``, ``…Z``) is converted."""
    stripped = text.strip()
    if len(stripped) > 19 and (stripped.endswith("Z") or stripped[19:20] in "+-."):
        try:
            moment = datetime.fromisoformat(stripped.replace("Z", "+00:00"))
        except ValueError:
            return text
        if moment.tzinfo is not None:
            moment = moment.astimezone(_VN).replace(tzinfo=None)
        return moment.replace(microsecond=0).isoformat(sep=" ")
    return text


_VN = timezone(timedelta(hours=7))


def excel_date_text(value: str, layout: Layout) -> str:
    """A real Excel date cell (read as ISO text, ``2025-06-01 08:05:03`` or ``2025-06-01``) in the
    layout's own date format; any other text is returned as it is.

    >>> excel_date_text("2025-06-01 08:05:03", LAYOUTS["vcb"]), excel_date_text("2025-06-01", LAYOUTS["vietinbank"])
    ('01/06/2025 08:05:03', '01/06/2025 00:00:00')
    >>> excel_date_text("01/06/2025", LAYOUTS["vcb"])
    '01/06/2025'
    """
    text = _strip(value)
    if not layout.date_formats or not re.fullmatch(r"\d{4}-\d{2}-\d{2}( \d{2}:\d{2}:\d{2})?", text):
        return value
    try:
        moment = datetime.strptime(text, "%Y-%m-%d %H:%M:%S" if " " in text else "%Y-%m-%d")
    except ValueError:
        return value
    return moment.strftime(layout.date_formats[0])


# Webhook values, once picked out of the JSON, follow the generic rules (digits, in/out).
_JSON_AS_GENERIC = Layout("webhook", "webhook values", "jsonl", LAYOUTS["generic"].fields,
                          LAYOUTS["generic"].required, ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"),
                          "plain", channel="webhook")


# ------------------------------------------------------------------------------- writing

def format_amount(amount: int, style: str) -> str:
    """How a layout writes an amount: ``format_amount(1234567, "dot")`` → ``1.234.567``."""
    grouped = f"{amount:,}"
    return {"plain": str(amount), "dot": grouped.replace(",", "."), "comma": grouped}[style]


def write_csv(layout: Layout, transfers: Iterable[Transfer], out: IO[str], *, account: str | None = None,
              title: Sequence[str] = (), footer: bool = True) -> int:
    """Write ``transfers`` in a CSV ``layout`` (samples, demo data, benchmarks); returns the row count."""
    writer = csv.writer(out, delimiter=layout.delimiter, lineterminator="\r\n")
    for line in title:
        writer.writerow([line])
    if layout.account_in_title and account and not title:
        writer.writerow(["NGÂN HÀNG TMCP NGOẠI THƯƠNG VIỆT NAM"])
        writer.writerow(["SAO KÊ TÀI KHOẢN"])
        writer.writerow([f"Số tài khoản: {account}"])
        writer.writerow([])
    writer.writerow(layout.header)
    fmt = layout.date_formats[0]
    count = total = 0
    for number, t in enumerate(transfers, start=1):
        amount = format_amount(t.amount, layout.amount_style)
        row = {"number": str(number), "booked_at": t.booked_at.strftime(fmt), "tx_id": t.tx_id,
               "bank_bin": t.bank_bin, "account": t.account, "amount": amount, "debit": "",
               "balance": "", "content": t.content, "direction": "in"}
        writer.writerow([row.get(name, "") for name in layout.fields])
        count += 1
        total += t.amount
    if footer and layout.name != "generic":
        cells = {name: "" for name in layout.fields}
        cells[next(iter(layout.fields))] = "Tổng cộng"
        cells["amount"] = format_amount(total, layout.amount_style)
        writer.writerow(list(cells.values()))
    return count


def write_jsonl(layout: Layout, transfers: Iterable[Transfer], out: IO[str], *, start_id: int = 1) -> int:
    """Write ``transfers`` as SePay or Casso webhook bodies, one per line."""
    from . import banks
    count = 0
    for offset, t in enumerate(transfers):
        if layout.name == "sepay":
            bank = banks.by_bin(t.bank_bin)
            body: dict[str, Any] = {
                "id": start_id + offset, "gateway": bank.short_name if bank else t.bank_bin,
                "transactionDate": t.booked_at.strftime("%Y-%m-%d %H:%M:%S"), "accountNumber": t.account,
                "subAccount": None, "code": None, "content": t.content, "transferType": "in",
                "transferAmount": t.amount, "accumulated": 0, "referenceCode": t.tx_id, "description": t.content}
        else:
            body = {"error": 0, "data": [{
                "id": start_id + offset, "tid": t.tx_id, "description": t.content, "amount": t.amount,
                "cusum_balance": 0, "when": t.booked_at.strftime("%Y-%m-%d %H:%M:%S"),
                "bank_sub_acc_id": t.account}]}
        out.write(json.dumps(body, ensure_ascii=False) + "\n")
        count += 1
    return count
