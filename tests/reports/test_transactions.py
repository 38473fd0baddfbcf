"""market40.transactions: export layouts, detection, cell rules, webhook feeds, junk.

The bulk path runs the same rules as SQL inside DuckDB (:meth:`Layout.select_sql`): the
differential tests at the end feed both the same junk and compare row by row.
"""
import csv
import io
import json
import string
import sys
import unicodedata
from datetime import datetime
from pathlib import Path

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from market40 import transactions as tx
from market40.exceptions import InvalidFormat, Market40Error, NotFound
from market40.transactions import LAYOUTS, parse_amount, parse_booked_at, parse_values

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from legacy_bytes import cp1258  # noqa: E402  (Windows-1258 as Excel writes it)

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples" / "transactions"


# --- cells --------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, style, amount", [
    ("150.000", "dot", 150_000), ("1.234.567", "dot", 1_234_567), ("1.234.567,00", "dot", 1_234_567),
    ("500", "dot", 500), ("500,0", "dot", 500), (" 20.000 ", "dot", 20_000), ("", "dot", 0),
    ("150,000", "comma", 150_000), ("1,234,567.00", "comma", 1_234_567), ("1234567.00", "comma", 1_234_567),
    ("150000", "plain", 150_000), ("0", "plain", 0),
])
def test_amounts(text, style, amount):
    assert parse_amount(text, style) == amount


@pytest.mark.parametrize("text, style", [
    ("150.00", "dot"),      # two digits after a dot: not a thousands group
    ("1.5", "dot"), ("1.2345", "dot"), ("1,234", "dot"), ("1.234,56", "dot"),  # fractions of a đồng
    ("-50.000", "dot"), ("+50.000", "dot"), ("50.000 VND", "dot"), ("50 000", "dot"),
    ("1,234,567", "dot"), ("1.234.567", "comma"), ("12,34", "comma"),
    ("1.000", "plain"), ("1e5", "plain"), ("١٢٣", "plain"), ("9" * 16, "plain"), ("abc", "comma"),
])
def test_bad_amounts_are_refused(text, style):
    with pytest.raises(InvalidFormat) as info:
        parse_amount(text, style)
    assert info.value.field == "amount"


def test_dates():
    vcb = LAYOUTS["vcb"].date_formats
    assert parse_booked_at("01/06/2025 08:05:03", vcb) == datetime(2025, 6, 1, 8, 5, 3)
    assert parse_booked_at("1/6/2025", vcb) == datetime(2025, 6, 1)
    assert parse_booked_at("2025-06-01T08:05:03", LAYOUTS["generic"].date_formats) == datetime(2025, 6, 1, 8, 5, 3)
    for junk in ("31/02/2025 00:00:00", "2025-06-01", "01/06/1999", "", "01/06/2025 25:00:00", "hôm nay"):
        with pytest.raises(InvalidFormat):
            parse_booked_at(junk, vcb)


@pytest.mark.parametrize("text, account", [
    ("0141000123456", "0141000123456"), ("'0141000123456", "0141000123456"), ("0141 000 123-456", "0141000123456"),
    ("PSP123456789012345", "PSP123456789012345"),
])
def test_accounts(text, account):
    assert tx.clean_account(text) == account


@pytest.mark.parametrize("text", ["1.41E+12", "", "01410001234567890123", "0141/000", "ΑΒΓ"])
def test_bad_accounts(text):
    with pytest.raises(InvalidFormat):
        tx.clean_account(text)


# --- rows ---------------------------------------------------------------------------------------

VCB = LAYOUTS["vcb"]


@pytest.mark.parametrize("values, kind, reason", [
    ({"tx_id": "FT1", "booked_at": "01/06/2025 08:00:00", "amount": "50.000", "content": "HL1 A12"}, "ok", None),
    ({"tx_id": "", "booked_at": "", "amount": "", "content": ""}, "other", None),                 # blank
    ({"tx_id": "Tổng cộng", "booked_at": "", "amount": "1.000.000"}, "invalid", "booked_at"),    # a total row with text
    ({"tx_id": "", "booked_at": "Số dư cuối kỳ", "amount": "1.000"}, "other", None),
    ({"tx_id": "FT2", "booked_at": "01/06/2025", "amount": "", "debit": "50.000"}, "outgoing", None),
    ({"tx_id": "FT3", "booked_at": "01/06/2025", "amount": "0"}, "outgoing", None),
    ({"tx_id": "FT4", "booked_at": "01/13/2025", "amount": "5.000"}, "invalid", "booked_at"),
    ({"tx_id": "FT5", "booked_at": "01/06/2025", "amount": "5.0"}, "invalid", "amount"),
    ({"tx_id": "", "booked_at": "01/06/2025", "amount": "5.000"}, "invalid", "transaction id"),
    ({"tx_id": "X" * 65, "booked_at": "01/06/2025", "amount": "5.000"}, "invalid", "transaction id"),
])
def test_row_kinds(values, kind, reason):
    parsed = parse_values(VCB, values, number=7, account="0141000123456")
    assert parsed.kind == kind
    if reason:
        assert parsed.reason.startswith(reason) and parsed.number == 7
    if kind == "ok":
        t = parsed.transfer
        assert (t.bank_bin, t.account, t.amount, t.channel) == ("970436", "0141000123456", 50_000, "statement")


def test_generic_rows():
    generic = LAYOUTS["generic"]
    ok = {"tx_id": "T1", "booked_at": "2025-06-01 08:00:00", "bank_bin": "970436", "account": "0011",
          "amount": "1000", "content": "  HL1 A1  ", "direction": ""}
    assert parse_values(generic, ok).transfer.content == "HL1 A1"
    assert parse_values(generic, {**ok, "direction": "OUT"}).kind == "outgoing"
    assert parse_values(generic, {**ok, "direction": "sideways"}).reason == "direction: in or out"
    assert parse_values(generic, {**ok, "amount": "0"}).reason == "amount: must be at least 1 đồng"
    assert parse_values(generic, {**ok, "bank_bin": "VCB"}).reason == "bank_bin: 6 digits"
    assert parse_values(generic, {**ok, "account": "1.41E+12"}).reason == "account: 1 to 19 letters or digits"
    assert len(parse_values(generic, {**ok, "content": "x" * 900}).transfer.content) == tx.MAX_CONTENT


# --- detection ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, layout, skip, account", [
    ("generic.csv", "generic", 0, None),
    ("vcb-statement.csv", "vcb", 6, "1010967379"),
    ("vietinbank.csv", "vietinbank", 0, None),
    ("mb.csv", "mb", 0, None),
])
def test_samples_are_detected(name, layout, skip, account):
    sniffed = tx.sniff_csv(SAMPLES / name)
    assert (sniffed.layout.name, sniffed.skip, sniffed.account) == (layout, skip, account)
    assert sniffed.delimiter == LAYOUTS[layout].delimiter


def test_headers_in_any_case_and_without_diacritics(tmp_path):
    path = tmp_path / "vtb.csv"
    path.write_text("stt;SO TAI KHOAN;ma giao dich;NGAY GIAO DICH;so tien ghi no;so tien ghi co;noi dung\n"
                    "1;1011;FT1;01/06/2025 08:00:00;;5.000;HL1 A1\n", encoding="utf-8")
    assert tx.sniff_csv(path).layout.name == "vietinbank"


@pytest.mark.parametrize("content, message", [
    (b"", "empty"), (b"   \n\n", "empty"),
    # UTF-16 and Windows-1258 are read now (market40/sniff.py, as for stall lists): what is
    # left to refuse in these two is that their header is no known layout
    ("STT,Ngày".encode("utf-16"), "no header"),
    (b"Ng\xe0y giao d\xf2ch,S\xf4 ti\xean\n" * 3, "no header"),
    (b"PK\x03\x04rest", "XLSX"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100), ".xls"),
    (b"a,b,c\n1,2,3\n", "no header"),
    (b"\x00\x01\x02binary", "binary"),
    (b"STT,N\x81g\x01\x02", "not a CSV text file"),  # neither UTF-8 nor Windows-1258
])
def test_sniff_refuses_junk_with_the_file_name(tmp_path, content, message):
    path = tmp_path / "junk.csv"
    path.write_bytes(content)
    with pytest.raises(InvalidFormat) as info:
        tx.sniff_csv(path)
    assert "junk.csv" in str(info.value) and message in str(info.value)


@pytest.mark.parametrize("sample", ["generic.csv", "vcb-statement.csv", "vietinbank.csv", "mb.csv"])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "cp1258"])
def test_samples_in_every_encoding_excel_writes_are_detected(tmp_path, sample, encoding):
    text = (SAMPLES / sample).read_text(encoding="utf-8-sig") + "Nguyễn Thị Lựu\n"
    path = tmp_path / sample
    path.write_bytes(text.encode(encoding) if encoding != "cp1258" else cp1258(text))
    sniffed = tx.sniff_csv(path)
    original = tx.sniff_csv(SAMPLES / sample)
    assert (sniffed.layout, sniffed.skip, sniffed.account, sniffed.delimiter, sniffed.encoding) == (
        original.layout, original.skip, original.account, original.delimiter, encoding)
    # the rows start at the same text in either encoding (data_offset is a byte offset)
    data = path.read_bytes()[sniffed.data_offset:]
    codec = {"utf-8-sig": "utf-8", "utf-16": "utf-16-le"}.get(encoding, encoding)
    assert unicodedata.normalize("NFC", data.decode(codec)).startswith(text.split("\n")[original.skip + 1])


@pytest.mark.parametrize("sample", sorted(p.name for p in SAMPLES.iterdir() if p.suffix != ".md"))
def test_every_shipped_sample_is_recognised_by_the_one_chooser(sample):
    """Every file in data/samples/transactions/ (CSV, XLSX, JSON lines) is told apart by its layout's name."""
    from market40.services.transfers import import_file
    from market40.txstore import TransferStore
    with TransferStore(":memory:") as store:
        result = import_file(store, SAMPLES / sample, bank="BIDV" if sample.startswith("casso") else None,
                             dry_run=True)
    assert result.layout == sample.split("-")[0].split(".")[0] and result.invalid == 0


def test_an_unknown_header_lists_every_known_layout(tmp_path):
    path = tmp_path / "other-bank.csv"
    path.write_text("Ngày,Số tiền,Ghi chú\n01/06/2025,5.000,HL1 A1\n", encoding="utf-8")
    with pytest.raises(InvalidFormat) as info:
        tx.sniff_csv(path)
    message = str(info.value)
    assert "other-bank.csv" in message and "'Ngày, Số tiền, Ghi chú'" in message
    assert all(f"{name} (" in message for name, layout in LAYOUTS.items() if layout.kind == "csv")


def test_an_unknown_xlsx_header_gets_the_same_answer(tmp_path):
    import openpyxl
    from market40.services.transfers import import_file
    from market40.txstore import TransferStore
    book = openpyxl.Workbook()
    book.active.append(["Ngày", "Số tiền", "Ghi chú"])
    book.active.append(["01/06/2025", "5.000", "HL1 A1"])
    book.save(tmp_path / "other-bank.xlsx")
    with TransferStore(":memory:") as store, pytest.raises(InvalidFormat) as info:
        import_file(store, tmp_path / "other-bank.xlsx")
    message = str(info.value)
    assert "other-bank.xlsx: no header of a known export" in message and "'Ngày, Số tiền, Ghi chú'" in message
    assert all(f"{name} (" in message for name, layout in LAYOUTS.items() if layout.kind == "csv")


def test_the_one_chooser_knows_every_shipped_layout_and_nothing_else():
    for layout in LAYOUTS.values():
        if layout.kind == "csv":
            assert tx.detect_layout(layout.header) is layout
            assert tx.detect_layout([h.upper() for h in layout.header]) is layout
            others = [l for l in LAYOUTS.values() if l.kind == "csv" and l is not layout]
            assert all(tx.detect_layout(layout.header, layout=o) is None for o in others)
    assert tx.detect_layout(["a", "b"]) is None
    assert tx.webhook_layout({"gateway": "VCB", "transferAmount": 1}) is LAYOUTS["sepay"]
    assert tx.webhook_layout({"error": 0, "data": {"id": 1}}) is LAYOUTS["casso"]
    assert tx.webhook_layout({"id": 1, "tid": "x", "amount": 5}) is LAYOUTS["casso"]


def test_sniff_missing_file():
    with pytest.raises(NotFound):
        tx.sniff_csv("/nonexistent/export.csv")


def test_a_layout_can_be_forced(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("STT,Ngày giao dịch,Số tham chiếu,Số tiền ghi nợ,Số tiền ghi có,Số dư,Nội dung chi tiết\n",
                    encoding="utf-8")
    assert tx.sniff_csv(path, LAYOUTS["vcb"]).layout.name == "vcb"
    with pytest.raises(InvalidFormat, match="no header of MB-style"):
        tx.sniff_csv(path, LAYOUTS["mb"])


# --- webhook feeds ----------------------------------------------------------------------------------

def test_sepay_and_casso_samples():
    with open(SAMPLES / "sepay.jsonl", "rb") as handle:
        sepay = list(tx.read_jsonl(handle))
    assert all(p.kind == "ok" and p.transfer.channel == "webhook" for p in sepay) and len(sepay) == 30
    first = json.loads((SAMPLES / "sepay.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert sepay[0].transfer.tx_id == first["referenceCode"] and sepay[0].transfer.amount == first["transferAmount"]
    with open(SAMPLES / "casso-bidv.jsonl", "rb") as handle:
        refused = list(tx.read_jsonl(handle))
    assert {p.reason for p in refused} == {"Casso webhooks do not name the bank: give it (--bank)"}
    with open(SAMPLES / "casso-bidv.jsonl", "rb") as handle:
        casso = list(tx.read_jsonl(handle, bank_bin="970418"))
    assert all(p.kind == "ok" and p.transfer.bank_bin == "970418" for p in casso)


def test_webhook_junk_is_reported_per_line():
    lines = [
        b'{"id": 1, "gateway": "Vietcombank", "transactionDate": "2025-06-01 08:00:00", "accountNumber": "0011",'
        b' "transferType": "in", "transferAmount": 5000, "referenceCode": "FT1", "content": "HL1 A1"}',
        b"not json at all",
        b"[1, 2, 3]",
        b'{"id": 2, "gateway": "No Such Bank Ltd", "transactionDate": "2025-06-01 08:00:00", "accountNumber": "1",'
        b' "transferType": "in", "transferAmount": 5000}',
        b'{"id": 3, "gateway": "MB", "transactionDate": "2025-06-01 08:00:00", "accountNumber": "1",'
        b' "transferType": "out", "transferAmount": 5000, "referenceCode": "FT3"}',
        b'{"id": 4, "gateway": "MB", "transactionDate": "2025-06-01 08:00:00", "accountNumber": "1",'
        b' "transferType": "in", "transferAmount": true, "referenceCode": "FT4"}',
        b'{"id": 5, "gateway": "MB", "transactionDate": "01/06/2025", "accountNumber": "1",'
        b' "transferType": "in", "transferAmount": 10, "referenceCode": "FT5"}',
        b'{"error": 0, "data": [{"id": 6, "tid": "TF6", "amount": -20000, "when": "2025-06-01 09:00:00",'
        b' "bank_sub_acc_id": "0022", "description": "tra tien"}, "junk"]}',
        b"",
        b'{"id": 7, "gateway": "MB", "transactionDate": "2025-06-01 08:00:00", "accountNumber": "1",'
        b' "transferType": "in", "transferAmount": 1.5, "referenceCode": "FT7"}',
    ]
    parsed = list(tx.read_jsonl(lines, bank_bin=None))
    kinds = [(p.number, p.kind) for p in parsed]
    assert kinds[0] == (1, "ok") and parsed[0].transfer.bank_bin == "970436"
    assert (2, "invalid") in kinds and (3, "invalid") in kinds
    assert next(p for p in parsed if p.number == 4).reason.startswith("gateway: not a known bank")
    assert next(p for p in parsed if p.number == 5).kind == "outgoing"
    assert next(p for p in parsed if p.number == 6).reason.startswith("amount")
    assert next(p for p in parsed if p.number == 7).reason.startswith("booked_at")
    casso = [p for p in parsed if p.number == 8]
    assert casso[0].reason.startswith("Casso webhooks do not name the bank") and casso[1].kind == "invalid"
    assert next(p for p in parsed if p.number == 10).reason.startswith("amount")


# --- junk never crashes -------------------------------------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["tx_id", "booked_at", "amount", "account", "content", "bank_bin",
                                        "direction"]), st.text(max_size=40)),
       st.sampled_from(sorted(LAYOUTS)))
def test_parse_values_never_crashes(values, name):
    parsed = parse_values(LAYOUTS[name], values, account="0011", bank_bin="970436")
    assert parsed.kind in ("ok", "other", "outgoing", "invalid")
    assert (parsed.transfer is not None) == (parsed.kind == "ok")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.binary(max_size=60), st.text(max_size=60).map(str.encode)), max_size=8))
def test_read_jsonl_never_crashes(lines):
    for parsed in tx.read_jsonl(lines, bank_bin="970436"):
        assert parsed.kind in ("ok", "other", "outgoing", "invalid")


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_sniff_never_crashes(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("sniff") / "f.csv"
    path.write_bytes(data)
    try:
        tx.sniff_csv(path)
    except Market40Error:
        pass


# --- the SQL twin gives the same rows as Python --------------------------------------------------------

JUNK_CELLS = {
    "booked_at": ["01/06/2025 08:05:03", "1/6/2025 8:05:03", "01/06/2025", " 01/06/2025 ", "31/02/2025 00:00:00",
                  "2025-06-01 08:05:03", "2025-06-01", "2025-06-01T08:05:03", "01-06-2025 08:05:03",
                  "01-06-2025 08:05", "", "Tổng cộng", "01/06/1999", "x"],
    "amount": ["50.000", "1.234.567,00", "50,000", "1,234,567.00", "50000", "5.0", "", "0", "-5.000",
               "99999999999999999999", "1.000.000.000.000.000", " 7.000 ", "1e3", "5.000,5"],
    "tx_id": ["FT1", "", " FT2 ", "X" * 65, "Số dư"],
    "account": ["0011000001", "'0011000002", "0011 000 003", "1.41E+12", "", "ABC-123"],
    "direction": ["", "in", "OUT", " In ", "sideways"],
}


def _junk_rows(layout):
    import itertools
    fields = [f for f in ("tx_id", "booked_at", "amount", "account", "direction") if f in layout.fields]
    # every value of each field at least once, combined with the first value of the others
    base = {f: JUNK_CELLS[f][0] for f in fields}
    rows = [dict(base)]
    for f in fields:
        for value in JUNK_CELLS[f][1:]:
            rows.append({**base, f: value})
    rows += [dict(zip(fields, combo)) for combo in itertools.islice(
        itertools.product(*(JUNK_CELLS[f] for f in fields)), 0, None, 37)]
    for number, row in enumerate(rows):
        row["tx_id"] = row.get("tx_id", "") and f"{row['tx_id']}-{number}" if row.get("tx_id", "").strip() else \
            row.get("tx_id", "")
        row["content"] = "HL1 A12"
    return rows


@pytest.mark.parametrize("name", ["generic", "vcb", "vietinbank", "mb"])
def test_sql_twin_agrees_with_python(tmp_path, name):
    layout = LAYOUTS[name]
    rows = _junk_rows(layout)
    path = tmp_path / f"{name}.csv"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=layout.delimiter)
        writer.writerow(layout.header)
        for row in rows:
            writer.writerow([row.get(f, "" if f != "bank_bin" else "970436") for f in layout.fields])
    sniffed = tx.sniff_csv(path, layout)
    columns = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(len(sniffed.header))) + "}"
    source = (f"read_csv('{path}', header = true, skip = {sniffed.skip}, auto_detect = false, "
              f"delim = '{sniffed.delimiter}', quote = '\"', escape = '\"', null_padding = true, columns = {columns})")
    positions = {f: f"c{i}" for f, i in sniffed.positions.items()}
    sql = layout.select_sql(source, positions, bank_bin=layout.bank_bin, account="0011000009")
    got = duckdb.connect().execute(sql).fetchall()
    assert len(got) == len(rows)
    for row, (bin_, tx_id, booked, account, amount, content, kind, reason, raw) in zip(rows, got):
        values = {f: row.get(f, "970436" if f == "bank_bin" else "") for f in layout.fields}
        parsed = parse_values(layout, values, bank_bin=layout.bank_bin, account="0011000009")
        assert (kind, reason) == (parsed.kind, parsed.reason), (name, values)
        if kind == "ok":
            t = parsed.transfer
            assert (bin_, tx_id, booked, account, amount, content) == (
                t.bank_bin, t.tx_id, t.booked_at, t.account, t.amount, t.content), values
        if kind == "invalid":
            assert raw == parsed.raw


def test_writers_round_trip(tmp_path):
    t = tx.Transfer("970436", "FT9", datetime(2025, 6, 1, 8, 0, 0), "0011", 1_234_000, "HL1 A1, \"quoted\"")
    for name in ("generic", "vietinbank", "mb"):
        buffer = io.StringIO()
        tx.write_csv(LAYOUTS[name], [t], buffer)
        path = tmp_path / f"{name}.csv"
        path.write_text(buffer.getvalue(), encoding="utf-8")
        sniffed = tx.sniff_csv(path)
        assert sniffed.layout.name == name
    assert tx.format_amount(1_234_567, "dot") == "1.234.567" and tx.format_amount(5, "comma") == "5"
    assert set(string.digits) >= set(tx.format_amount(1234, "plain"))
