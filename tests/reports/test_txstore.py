"""market40.txstore on a real DuckDB file: imports, deduplication, atomicity, the SQL twins."""
import csv
import shutil
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from market40 import reconciliation as rules
from market40.exceptions import InvalidFormat, NotFound
from market40.services.transfers import import_file
from market40.txstore import TransferStore, store_path

from reporthelpers import TRANSFERS, write_generic

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples" / "transactions"


def test_store_path_rules(monkeypatch, tmp_path):
    monkeypatch.delenv("MARKET40_TX_STORE", raising=False)
    monkeypatch.chdir(tmp_path)
    assert store_path(f"sqlite:///{tmp_path}/reg/market40.db") == f"{tmp_path}/reg/market40.transfers.duckdb"
    assert store_path("sqlite://") == ":memory:"
    assert store_path("postgresql+psycopg://u@h/db") == str(tmp_path / "market40-transfers.duckdb")
    assert store_path("sqlite:///x.db", "/data/t.duckdb") == "/data/t.duckdb"
    monkeypatch.setenv("MARKET40_TX_STORE", "/srv/t.duckdb")
    assert store_path("sqlite:///x.db") == "/srv/t.duckdb"


def test_read_only_store_must_exist(tmp_path):
    with pytest.raises(NotFound, match="tx import"):
        TransferStore(tmp_path / "none.duckdb", read_only=True)


def test_every_sample_imports_and_twice_changes_nothing(store):
    files = sorted(p for p in SAMPLES.glob("*.*") if p.suffix != ".md")
    first = {}
    for path in files:
        result = import_file(store, path, bank="BIDV" if "casso" in path.name else None)
        assert not result.problems and result.inserted + result.duplicates > 0, result.summary()
        first[path.name] = result
    assert first["vcb-statement.csv"].outgoing == 1 and first["vcb-statement.csv"].other == 2
    count = store.count()
    assert count == sum(r.inserted for r in first.values())
    for path in files:
        again = import_file(store, path, bank="BIDV" if "casso" in path.name else None)
        assert again.already_imported and again.batch == first[path.name].batch
    assert store.count() == count
    assert [b["layout"] for b in store.batches()][:2] == [first[files[0].name].layout, first[files[1].name].layout]


def test_overlapping_files_store_each_transfer_once(store, tmp_path):
    june = write_generic(tmp_path / "a.csv", TRANSFERS[:6])
    both = write_generic(tmp_path / "b.csv", TRANSFERS[3:9] + [TRANSFERS[8]])  # overlaps, and one line twice
    assert store.import_csv(june).inserted == 6
    result = store.import_csv(both)
    assert (result.rows, result.inserted, result.duplicates) == (7, 3, 4)
    assert store.count() == 9
    ids = [t.tx_id for t in store.transfers()]
    assert len(ids) == len(set(ids)) == 9


@pytest.mark.parametrize("case", ["inside the file", "an earlier file", "earlier rows, no shared id",
                                  "same id, another bank", "outside the window"])
def test_each_duplicate_check_finds_what_the_exact_comparison_finds(store, tmp_path, case):
    """The cheap questions before the exact comparison (a key repeated in the batch? a key met
    in earlier rows of the window?) each lead to the exact answer: what is stored twice is
    dropped, what is not is kept."""
    a = ("D-1", "2025-06-02 08:00:00", "970436", "0011000000001", 1000, "x")
    b = ("D-2", "2025-06-03 08:00:00", "970436", "0011000000001", 2000, "y")
    earlier, later, kept, dropped = {
        "inside the file": ([], [a, b, a], 2, 1),
        "an earlier file": ([a], [b, a], 1, 1),
        "earlier rows, no shared id": ([a], [b], 1, 0),
        "same id, another bank": ([a], [(a[0], a[1], "970422", *a[3:])], 1, 0),
        "outside the window": ([a], [(a[0], "2025-08-01 08:00:00", *a[2:])], 1, 0),
    }[case]
    if earlier:
        assert store.import_csv(write_generic(tmp_path / "earlier.csv", earlier)).inserted == len(earlier)
    result = store.import_csv(write_generic(tmp_path / "later.csv", later))
    assert (result.inserted, result.duplicates) == (kept, dropped)
    keys = [(t.bank_bin, t.tx_id) for t in store.transfers()]
    assert len(keys) == len(earlier) + kept
    # the same id booked more than DEDUP_WINDOW_DAYS apart is another transfer (README)
    assert len(set(keys)) == len(keys) - (case == "outside the window")


def test_account_activity_groups_by_the_registered_bin(store, tmp_path):
    """Grouping by the stored BIN gives the rows of grouping by the registered BIN (an alternate
    BIN is translated on import; one left in an older store sends the query to the translated grouping)."""
    from market40.txstore import canonical_bin_sql
    rows = [("A-1", "2025-06-02 08:00:00", "970459", "8001", 1000, "x"),  # CIMB's alternate BIN
            ("A-2", "2025-06-03 08:00:00", "422589", "8001", 2000, "y"),
            ("A-3", "2025-06-04 08:00:00", "970436", "0011", 3000, "z"),
            ("A-4", "2025-04-04 08:00:00", "970436", "0011", 4000, "old")]
    store.import_csv(write_generic(tmp_path / "a.csv", rows))
    start, end, since = datetime(2025, 6, 1), datetime(2025, 7, 1), datetime(2025, 4, 1)

    def translated() -> list[tuple]:
        return sorted(store.con.execute(f"""
            SELECT {canonical_bin_sql("bank_bin")}, account, count(*) FILTER (WHERE booked_at >= $start),
                   coalesce(sum(amount) FILTER (WHERE booked_at >= $start), 0),
                   min(booked_at) FILTER (WHERE booked_at >= $start), max(booked_at) FILTER (WHERE booked_at >= $start),
                   list(DISTINCT channel) FILTER (WHERE booked_at >= $start), max(booked_at)
            FROM transfer WHERE booked_at >= $since AND booked_at < $end GROUP BY 1, 2""",
            {"start": start, "end": end, "since": since}).fetchall())
    assert sorted(store.account_activity(start, end, since)) == translated()
    assert [r[:3] for r in sorted(store.account_activity(start, end, since))] == [("422589", "8001", 2),
                                                                                 ("970436", "0011", 1)]
    store.con.execute("UPDATE transfer SET bank_bin = '970459' WHERE tx_id = 'A-1'")  # a store from before
    assert sorted(store.account_activity(start, end, since)) == translated()
    assert [r[:3] for r in sorted(store.account_activity(start, end, since))][0] == ("422589", "8001", 2)


def test_same_transfer_from_a_webhook_and_a_statement(store, tmp_path):
    """SePay's referenceCode is the bank's id: the statement's copy is recognised."""
    sepay = tmp_path / "feed.jsonl"
    sepay.write_text('{"id": 1, "gateway": "Vietcombank", "transactionDate": "2025-06-02 08:00:05", '
                     '"accountNumber": "0011000000001", "transferType": "in", "transferAmount": 100000, '
                     '"referenceCode": "T-A1-1", "content": "HL1 A1"}\n', encoding="utf-8")
    assert import_file(store, sepay).inserted == 1
    statement = write_generic(tmp_path / "s.csv", TRANSFERS[1:3])
    result = store.import_csv(statement)
    assert (result.inserted, result.duplicates) == (1, 1)


def test_bad_rows_are_rejected_with_reason_and_line(store, tmp_path):
    path = tmp_path / "bad.csv"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["transaction_id", "booked_at", "bank_bin", "account", "amount", "content"])
        writer.writerow(["OK1", "2025-06-01 08:00:00", "970436", "0011", "1000", "a"])
        writer.writerow(["BAD-DATE", "31/06/2025", "970436", "0011", "1000", "b"])
        writer.writerow(["BAD-AMOUNT", "2025-06-01 08:00:00", "970436", "0011", "1.000", "c"])
        writer.writerow(["", "", "", "", "", ""])
        writer.writerow(["OUT1", "2025-06-01 08:00:00", "970436", "0011", "1000", "d", "extra"])
    result = store.import_csv(path)
    assert (result.inserted, result.invalid, result.other) == (2, 2, 1)
    by_id = {p["tx_id"]: p for p in result.problems}
    assert by_id["BAD-DATE"]["reason"].startswith("booked_at") and by_id["BAD-DATE"]["line"] == 3
    assert by_id["BAD-AMOUNT"]["reason"].startswith("amount") and by_id["BAD-AMOUNT"]["line"] == 4
    assert store.con.execute("SELECT count(*) FROM transfer_reject").fetchone()[0] == 2


@pytest.mark.parametrize("name", ["generic", "vcb", "vietinbank", "mb"])
def test_bulk_import_gives_every_row_the_python_outcome(store, tmp_path, name):
    """The generic layout's fast path (typed reader + cheap checks + recheck) and the full SQL
    path of the bank layouts both end where parse_values() says, row by row."""
    from test_transactions import _junk_rows

    from market40.transactions import LAYOUTS, parse_values
    layout = LAYOUTS[name]
    rows = _junk_rows(layout) + [{"tx_id": " SPACED ", "booked_at": "2025-06-01 08:00:00", "amount": "1000",
                                  "account": "0011", "direction": "IN"}]
    path = tmp_path / "junk.csv"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=layout.delimiter)
        if layout.account_in_title:
            writer.writerow(["Số tài khoản: 0011000009"])
        writer.writerow(layout.header)
        for row in rows:
            writer.writerow([row.get(f, "970436" if f == "bank_bin" else "") for f in layout.fields])
    expected = [parse_values(layout, {f: row.get(f, "970436" if f == "bank_bin" else "") for f in layout.fields},
                             account="0011000009") for row in rows]
    result = store.import_csv(path)
    ok = {p.transfer.tx_id: p.transfer for p in expected if p.kind == "ok"}
    assert {t.tx_id: t for t in store.transfers()} == ok
    rejected = dict(store.con.execute("SELECT tx_id, reason FROM transfer_reject").fetchall())
    assert rejected == {p.tx_id: p.reason for p in expected if p.kind == "invalid"}
    assert (result.outgoing, result.other) == (sum(p.kind == "outgoing" for p in expected),
                                               sum(p.kind == "other" for p in expected))


def test_an_import_is_all_or_nothing(store, tmp_path, monkeypatch):
    path = write_generic(tmp_path / "a.csv", TRANSFERS)

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")
    monkeypatch.setattr(store, "_drop_duplicates", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        store.import_csv(path)
    assert store.count() == 0 and store.batches() == []
    monkeypatch.undo()
    assert store.import_csv(path).inserted == len(TRANSFERS)


def test_one_account_statement_needs_its_account(store, tmp_path):
    lines = (SAMPLES / "vcb-statement.csv").read_text(encoding="utf-8-sig").splitlines()
    path = tmp_path / "no-title.csv"
    path.write_text("\n".join(line for line in lines if "Số tài khoản" not in line), encoding="utf-8")
    with pytest.raises(InvalidFormat, match="--account"):
        store.import_csv(path)
    result = store.import_csv(path, account="1010967379")
    assert result.inserted == 25 and {t.account for t in store.transfers()} == {"1010967379"}


def test_xlsx_export_is_read_in_python_with_row_numbers(store, tmp_path):
    from openpyxl import load_workbook
    path = tmp_path / "v.xlsx"
    shutil.copy(SAMPLES / "vietinbank.xlsx", path)
    book = load_workbook(path)
    book.active["D5"] = "32/06/2025 08:00:00"
    book.save(path)
    result = import_file(store, path)
    assert result.layout == "vietinbank" and result.invalid == 1 and result.inserted == 29
    assert result.problems[0]["line"] == 5 and result.problems[0]["reason"].startswith("booked_at")


def test_content_text_sql_twin():
    corpus = ["HL1 A12", "  Chợ Hạ Long I – sạp A-12 / trả tiền ", "ĐẶNG VĂN ĐỨC đ", "MBVCB.3278614981.hl1 a12.CT",
              "ß straße", "ǅ Ǆ ǆ", "ＡＢ１ fullwidth", "tab\tnew\nline", "", "emoji 🐟 cá", "Ư ư Ơ ơ ấ ầ ẩ ẫ ậ",
              "Cộng hòa xã hội chủ nghĩa Việt Nam", "n\u0303 decomposed e\u0301", "ı İ ĳ", "Ø ø Œ œ Æ æ"]
    con = duckdb.connect()
    for text in corpus:
        got = con.execute(f"SELECT {rules.CONTENT_TEXT_SQL.format('?')}", [text]).fetchone()[0]
        assert got == rules.content_text(text), text


def test_sql_attribution_matches_python(loaded_store):
    """attribute_rest (SQL) and reconciliation.attribute (Python) agree transfer by transfer."""
    t0 = datetime(2025, 1, 1, tzinfo=rules.VN_TZ)
    regs = [rules.Registration(1, 1, "970436", "0011000000001", "verified", t0, t0),
            rules.Registration(5, 5, "970422", "0900000005", "verified", t0, t0),
            rules.Registration(6, 6, "970422", "0900000005", "verified", t0, t0)]
    references = [("HL1 A1", 1), ("HL1 A4", 4), ("HL1 A5", 5), ("HL1 A6", 6), ("HL1 A12", 12), ("TY1 B1", 21)]
    directory, index = rules.Directory(regs), rules.ReferenceIndex(references)
    loaded_store.load_directory(directory.rows(), index.rows())
    period = rules.Period.parse("2025-06")
    out = loaded_store.attribute_rest(period.start_local, period.end_local, index.pattern, detail=True)
    sql = {tx_id: (stall, method, reason) for tx_id, stall, method, reason in out["rows"]}
    single = {(r.bin, r.number) for r in directory.rows() if r.single}
    expected = {}
    for t in loaded_store.transfers(period.start_local, period.end_local):
        if (t.bank_bin, t.account) in single:
            continue  # settled per account by account_activity
        a = rules.attribute(t, directory, index)
        expected[t.tx_id] = (a.stall, a.method, a.reason)
    assert sql == expected
    assert sql["T-CUT"] == (None, None, "reference possibly truncated")
    assert sql["T-A4"] == (4, "reference", None) and sql["T-SH"][2] == "no stall reference in the content"
    assert sql["T-B1"] == (21, "reference", None)  # TY1 B1's account is not in this directory


def test_sql_attribution_of_a_short_account_list_is_the_same(loaded_store):
    """attribute_rest given the accounts account_activity found (the reconciliation's route) answers as
    without them, also when a transfer was stored under an alternate BIN (an older store)."""
    t0 = datetime(2025, 1, 1, tzinfo=rules.VN_TZ)
    regs = [rules.Registration(1, 1, "970436", "0011000000001", "verified", t0, t0),
            rules.Registration(5, 5, "970422", "0900000005", "verified", t0, t0),
            rules.Registration(6, 6, "970422", "0900000005", "verified", t0, t0),
            rules.Registration(7, 7, "422589", "0777", "verified", t0, t0),
            rules.Registration(8, 8, "422589", "0777", "verified", t0, t0)]
    references = [("HL1 A1", 1), ("HL1 A4", 4), ("HL1 A5", 5), ("HL1 A6", 6), ("HL1 A7", 7), ("HL1 A8", 8),
                  ("HL1 A12", 12), ("TY1 B1", 21)]
    directory, index = rules.Directory(regs), rules.ReferenceIndex(references)
    period = rules.Period.parse("2025-06")
    start, end = period.start_local, period.end_local
    single = {(r.bin, r.number) for r in directory.rows() if r.single}

    def both() -> tuple[dict, dict]:
        loaded_store.load_directory(directory.rows(), index.rows())
        activity = loaded_store.account_activity(start, end, start)
        short = loaded_store.attribute_rest(start, end, index.pattern, detail=True, accounts=[
            (row[0], row[1]) for row in activity if row[2] and (row[0], row[1]) not in single])
        loaded_store._alternates_seen = None  # noqa: SLF001 - the route without the list
        every = loaded_store.attribute_rest(start, end, index.pattern, detail=True)
        return short, every

    short, every = both()
    assert short == every and short["rows"]
    loaded_store.con.execute("INSERT INTO transfer VALUES ('970459', 'T-ALT', TIMESTAMP '2025-06-03 09:00:00', "
                             "'0777', 5000, 'HL1 A8 tien hang', 'statement', 99)")  # CIMB's alternate BIN
    short, every = both()
    assert short == every
    assert {tx: (stall, method) for tx, stall, method, _ in short["rows"]}["T-ALT"] == (8, "reference")


def test_line_numbers_count_the_title_rows(store, tmp_path):
    path = tmp_path / "titled.csv"
    path.write_text("BÁO CÁO GIAO DỊCH\n\ntransaction_id,booked_at,bank_bin,account,amount,content\n"
                    "T1,2025-06-01 08:00:00,970436,0011,1000,a\nT2,2025-06-31 08:00:00,970436,0011,1000,b\n",
                    encoding="utf-8")
    result = store.import_csv(path)
    assert result.inserted == 1 and [(p["line"], p["tx_id"]) for p in result.problems] == [(5, "T2")]
