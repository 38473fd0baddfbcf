"""Issue #9 "Nothing is lost silently" and #10's Casso v2 bodies: every row of an imported file is
stored, skipped and counted, or rejected and reported; the counts add up; bad rows follow the
all-or-nothing rule of every market40 import."""
import csv
import json
import shutil
from datetime import datetime
from pathlib import Path

import pytest
from sqlmodel import select

from market40 import reconciliation as rules
from market40.models import CensusEntry, ReconcileAnomaly, StallPeriod
from market40.services.reconcile import reconcile
from market40.services.transfers import import_file
from market40.transactions import read_jsonl
from market40.txstore import TransferStore, UnaccountedRows, count_csv_rows

from reporthelpers import NOW, PERIOD, TRANSFERS, _account, at, write_generic

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples" / "transactions"
HEADER = ["transaction_id", "booked_at", "bank_bin", "account", "amount", "content"]
FILLER = "thanh toan tien hang cho ngay hom nay tai cho Ha Long I, xin cam on quy khach"


def _row(i, bad):
    return [f"T{i:07d}", "31/06/2025 08:00:00" if bad else "2025-06-01 08:00:00", "970436",
            f"0011{i % 997:06d}", str(1000 + i % 7), f"HL1 A{i % 50} {FILLER}"]


def test_a_file_larger_than_the_reader_buffers_loses_no_row(store, tmp_path):
    """DuckDB's reader, asked to set aside bad lines, stopped ~16 MB in without an error (today:
    good rows after that point were neither stored nor reported). 200,000 rows, ~27 MB: the
    first 120,000 with bad dates, then good and bad alternating."""
    path = tmp_path / "big.csv"
    bad = lambda i: i < 120_000 or i % 2 == 1  # noqa: E731
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(_row(i, bad(i)) for i in range(200_000))
    assert path.stat().st_size > 24 << 20
    result = import_file(store, path, partial=True)
    good = sum(not bad(i) for i in range(200_000))
    assert (result.rows, result.inserted, result.invalid) == (200_000, good, 200_000 - good)
    assert result.accounted == result.rows and result.written
    assert store.count() == good
    assert store.con.execute("SELECT count(*) FROM transfer_reject").fetchone()[0] == 200_000 - good
    assert {t.tx_id for t in store.transfers()} == {f"T{i:07d}" for i in range(200_000) if not bad(i)}


def test_rows_that_do_not_add_up_are_never_committed(store, tmp_path, monkeypatch):
    """The importer counts the file's rows itself; a reader that drops rows makes it refuse."""
    import market40.txstore as txstore
    path = write_generic(tmp_path / "a.csv", TRANSFERS)

    def one_more(real):
        def count(*args):
            counted = real(*args)
            return txstore.CsvCount(counted.rows + 1, counted.blank, counted.quoted_newlines, counted.digest)
        return count
    monkeypatch.setattr(txstore, "count_csv_rows", one_more(txstore.count_csv_rows))
    monkeypatch.setattr(txstore, "count_csv_rows_exactly", one_more(txstore.count_csv_rows_exactly))
    with pytest.raises(UnaccountedRows, match="nothing was imported"):
        store.import_csv(path)
    assert store.count() == 0 and store.batches() == []
    with pytest.raises(UnaccountedRows):  # the Python-parsed path (XLSX, webhooks) is checked too
        store.import_transfers([], source="x.jsonl", layout="sepay", channel="webhook", file_fingerprint="f",
                               rows=1)
    assert store.batches() == []


@pytest.mark.parametrize("name", sorted(p.name for p in SAMPLES.glob("*.*") if p.suffix != ".md"))
def test_every_layout_accounts_for_every_row(store, name):
    result = import_file(store, SAMPLES / name, bank="BIDV" if "casso" in name else None)
    assert result.rows and result.accounted == result.rows, result.summary()
    if name.endswith(".csv"):
        lines = (SAMPLES / name).read_text(encoding="utf-8-sig").splitlines()
        header = next(i for i, line in enumerate(lines) if line.count(";") + line.count(",") >= 4)
        assert result.rows == len(lines) - header - 1  # every line after the header, title/total rows included
    elif name.endswith(".jsonl"):
        assert result.rows == len((SAMPLES / name).read_text(encoding="utf-8").splitlines())


def test_count_csv_rows_agrees_with_the_csv_module(tmp_path):
    path = tmp_path / "q.csv"
    rows = [HEADER] + [[f"T{i}", "2025-06-01", "970436", "0011", "1", f'nội dung "{i}"\r\ndòng hai' if i % 3 else ""]
                       for i in range(5000)]
    with open(path, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)
    with open(path, "a", encoding="utf-8", newline="") as handle:
        handle.write("\r\n\r\nT-last,2025-06-01,970436,0011,1,x")  # two blank lines, no final line break
    start = len(",".join(HEADER)) + 2
    counted = count_csv_rows(path, start)
    with open(path, encoding="utf-8", newline="") as handle:
        expected = list(csv.reader(handle))[1:]
    assert (counted.rows, counted.blank) == (len(expected), sum(not r for r in expected))
    assert counted.quoted_newlines == sum(1 for r in expected if r and "\n" in r[5])


@pytest.mark.parametrize("layout", ["generic", "mb"])
def test_a_quoted_line_break_in_the_content_imports(store, tmp_path, layout):
    """Today: DuckDB's parallel reader refuses quoted line breaks with null padding (a traceback)."""
    path = tmp_path / "nl.csv"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        if layout == "generic":
            writer.writerow(HEADER)
            writer.writerow(["T1", "2025-06-01 08:00:00", "970436", "0011", "1000", "HL1 A1\ntiền cá"])
            writer.writerow(["T2", "2025-06-01 09:00:00", "970436", "0011", "2000", "HL1 A2"])
        else:
            writer.writerow(["Số tài khoản/Account No", "Ngày giao dịch/Transaction date", "Mã giao dịch/Reference No",
                             "Ghi có/Credit", "Ghi nợ/Debit", "Nội dung/Description"])
            writer.writerow(["0011", "01-06-2025 08:00:00", "T1", "1,000", "", "HL1 A1\r\ntiền cá"])
            writer.writerow(["0011", "01-06-2025 09:00:00", "T2", "2,000", "", "HL1 A2"])
    result = import_file(store, path, partial=False)
    assert (result.rows, result.inserted, result.invalid) == (2, 2, 0) and result.written
    contents = {t.tx_id: t.content for t in store.transfers()}
    assert contents["T1"].startswith("HL1 A1") and "tiền cá" in contents["T1"]


# ---------------------------------------------------------------- bad rows: all or nothing, --partial, re-run

def _bad_file(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("transaction_id,booked_at,bank_bin,account,amount,content\n"
                    "T1,2025-06-01 08:00:00,970436,0011,1000,ok\nT2,2025-06-31 08:00:00,970436,0011,1000,x\n",
                    encoding="utf-8")
    return path


def test_a_file_with_bad_rows_stores_nothing_by_default(store, tmp_path):
    rejects = tmp_path / "bad.rejects.csv"
    result = import_file(store, _bad_file(tmp_path), partial=False, rejects=rejects)
    assert not result.written and result.invalid == 1 and result.batch is None
    assert store.count() == 0 and store.batches() == []
    assert "nothing was written because some rows are bad (fix them, or use --partial)" in result.summary()
    assert rejects.exists() and "T2" in rejects.read_text(encoding="utf-8-sig")
    dry = import_file(store, SAMPLES / "generic.csv", dry_run=True)
    assert not dry.written and dry.inserted > 0 and store.count() == 0 and "dry run" in dry.summary()


def test_partial_keeps_the_good_rows_and_the_file_is_not_imported_in_full(store, tmp_path):
    path = _bad_file(tmp_path)
    first = import_file(store, path, partial=True)
    assert first.written and first.inserted == 1 and "written (the bad rows were left out)" in first.summary()
    again = import_file(store, path, partial=True)  # not "already imported": its bad row never went in
    assert not again.already_imported and (again.inserted, again.duplicates, again.invalid) == (0, 1, 1)
    assert store.count() == 1


def test_casso_without_the_bank_is_not_recorded_and_the_rerun_imports_it(store, tmp_path):
    """Today: every row rejected, yet the file was recorded; with --bank: 'already imported'."""
    path = SAMPLES / "casso-bidv.jsonl"
    lines = len(path.read_text(encoding="utf-8").splitlines())
    refused = import_file(store, path, partial=False)
    assert refused.invalid == lines and not refused.written and store.batches() == []
    kept = import_file(store, path, partial=True)  # --partial with nothing good: still nothing stored
    assert kept.inserted == 0 and not kept.already_imported
    fixed = import_file(store, path, bank="BIDV", partial=False)
    assert not fixed.already_imported and fixed.inserted == lines and fixed.written
    assert import_file(store, path, bank="BIDV").already_imported


def test_rerun_with_corrected_options_adds_only_the_missing_rows(store, tmp_path):
    """A feed mixing Casso v2 bodies (they name the bank) and v1 bodies (they do not)."""
    feed = tmp_path / "mixed.jsonl"
    lines = [json.dumps(_casso_v2(f"FT{i}", 10_000 * i)) for i in range(1, 4)]
    lines += [json.dumps({"error": 0, "data": [{"id": i, "tid": f"V1-{i}", "description": "HL1 A1", "amount": 5000,
                                                "when": "2025-06-03 08:00:00", "bank_sub_acc_id": "44710000175410"}]})
              for i in range(2)]
    feed.write_text("\n".join(lines) + "\n", encoding="utf-8")
    first = import_file(store, feed, partial=True)
    assert (first.inserted, first.invalid) == (3, 2) and first.written
    second = import_file(store, feed, bank="BIDV", partial=False)
    assert (second.inserted, second.duplicates, second.invalid) == (2, 3, 0) and second.written
    assert store.count() == 5 and import_file(store, feed, bank="BIDV").already_imported


# ---------------------------------------------------------------- Casso webhook v2 (#10)

def _casso_v2(reference, amount, *, bank="BIDV"):
    return {"error": 0, "data": {
        "id": 90001, "reference": reference, "description": "HL1 A1 tien ca", "amount": amount,
        "runningBalance": 1_000_000, "transactionDateTime": "2025-06-02 09:15:00", "accountNumber": "44710000175410",
        "bankName": "Ngân hàng TMCP Đầu tư và Phát triển Việt Nam", "bankAbbreviation": bank,
        "virtualAccountNumber": "", "virtualAccountName": "", "counterAccountName": "NGUYEN VAN PAYER",
        "counterAccountNumber": "0123456789999", "counterAccountBankId": "970436",
        "counterAccountBankName": "Vietcombank"}}


def test_casso_v2_bodies_are_read_and_the_payer_is_dropped(store, tmp_path):
    single = _casso_v2("FT-OBJ", 150_000)
    listed = _casso_v2("FT-LIST", 50_000)
    listed["data"] = [listed["data"], {**listed["data"], "reference": "FT-OUT", "amount": -20_000}]
    feed = tmp_path / "casso-v2.jsonl"
    feed.write_text(json.dumps(single, ensure_ascii=False) + "\n" + json.dumps(listed, ensure_ascii=False) + "\n",
                    encoding="utf-8")
    parsed = list(read_jsonl(feed.read_bytes().splitlines()))
    assert [p.kind for p in parsed] == ["ok", "ok", "outgoing"]
    t = parsed[0].transfer
    assert (t.bank_bin, t.tx_id, t.account, t.amount, t.booked_at) == (
        "970418", "FT-OBJ", "44710000175410", 150_000, datetime(2025, 6, 2, 9, 15))
    result = import_file(store, feed, partial=False)
    assert (result.inserted, result.outgoing, result.invalid) == (2, 1, 0) and result.layout == "casso"
    stored = json.dumps([list(map(str, row)) for row in store.con.execute("SELECT * FROM transfer").fetchall()])
    assert "PAYER" not in stored and "0123456789999" not in stored
    odd = _casso_v2("FT-X", 1000, bank="Ngân hàng không có")
    odd["data"]["bankName"] = "Ngân hàng không có"
    parsed = list(read_jsonl([json.dumps(odd).encode()]))
    assert parsed[0].kind == "invalid" and "--bank" in parsed[0].reason
    assert list(read_jsonl([json.dumps(odd).encode()], bank_bin="970418"))[0].kind == "ok"
    iso = _casso_v2("FT-Z", 1000)
    iso["data"]["transactionDateTime"] = "2025-06-02T02:15:00Z"
    assert list(read_jsonl([json.dumps(iso).encode()]))[0].transfer.booked_at == datetime(2025, 6, 2, 9, 15)


# ---------------------------------------------------------------- XLSX date cells

def test_bank_xlsx_with_real_excel_date_cells_imports(store, tmp_path):
    from openpyxl import load_workbook
    path = tmp_path / "dates.xlsx"
    shutil.copy(SAMPLES / "vietinbank.xlsx", path)
    book = load_workbook(path)
    sheet = book.active
    header_row = next(r for r in range(1, 6) if sheet.cell(r, 4).value == "Ngày giao dịch")
    expected = {}
    for row in range(header_row + 1, sheet.max_row + 1):
        text, tx_id = sheet.cell(row, 4).value, sheet.cell(row, 3).value
        if text and tx_id:
            moment = datetime.strptime(text, "%d/%m/%Y %H:%M:%S")
            sheet.cell(row, 4).value = moment  # a real date cell, as a bank's export writes it
            sheet.cell(row, 4).number_format = "dd/mm/yyyy hh:mm:ss"
            expected[tx_id] = moment
    book.save(path)
    result = import_file(store, path, partial=False)
    assert result.invalid == 0 and result.inserted == len(expected) == 30, result.summary()
    assert {t.tx_id: t.booked_at for t in store.transfers()} == expected


# ---------------------------------------------------------------- reconciliation

def test_a_census_household_stays_counted_when_the_registry_closed_its_stall(session, world, loaded_store):
    """A-7 was closed on 15 May in the registry; June's census still lists it."""
    session.add(CensusEntry(market_id=world.hl1.id, period=PERIOD, stall_code="A-7", stall_key="A7",
                            owner_name="Bùi Văn Long", source="test", imported_by="test"))
    session.commit()
    summary = reconcile(session, world.operator, PERIOD, store=loaded_store, now=NOW)
    rows = {r.stall_code: r for r in session.exec(select(StallPeriod).where(StallPeriod.period == PERIOD)).all()}
    assert rows["A-7"].counted and rows["A-7"].in_census and rows["A-7"].stall_id == world.stalls["A-7"].id
    assert summary.stalls == 12  # 11 + A-7
    kinds = {(a.kind, a.stall_code) for a in session.exec(select(ReconcileAnomaly)).all()}
    assert ("census_lists_closed_stall", "A-7") in kinds and ("closed_stall_live_qr", "A-7") not in kinds


CIMB, CIMB_ALT, MIRAE, MIRAE_ALT = "422589", "970459", "977777", "970468"


def test_alternate_bins_are_the_registered_account(session, world, store, tmp_path):
    """Transfers booked under a participant's alternate BIN attribute to the account registered
    under its main BIN, in Python and in the store's SQL, and the reverse."""
    t0 = datetime(2025, 1, 1, tzinfo=rules.VN_TZ)
    directory = rules.Directory([rules.Registration(1, 7, CIMB, "8001", "verified", t0, t0),
                                 rules.Registration(2, 8, MIRAE_ALT, "8002", "verified", t0, t0)])
    index = rules.ReferenceIndex([])
    for bin_, number, stall in ((CIMB_ALT, "8001", 7), (MIRAE, "8002", 8)):
        assert rules.attribute(rules.Transfer(bin_, "X", datetime(2025, 6, 2), number, 1), directory, index).stall == stall
    for code, bin_, number in (("A-4", CIMB, "8000000001"), ("A-12", MIRAE_ALT, "8000000012")):
        _account(session, world.stalls[code], world.hl1, bin_, number, "X", "verified", at(2025, 1, 2),
                 at(2025, 1, 3))
    session.commit()
    path = write_generic(tmp_path / "alt.csv", [("C-1", "2025-06-03 08:00:00", CIMB_ALT, "8000000001", 1000, "ck"),
                                                ("M-1", "2025-06-04 08:00:00", MIRAE, "8000000012", 2000, "ck")])
    assert store.import_csv(path).inserted == 2
    assert {t.bank_bin for t in store.transfers()} == {CIMB, MIRAE}  # stored under the registered participant BIN
    store.con.execute(f"UPDATE transfer SET bank_bin = '{CIMB_ALT}' WHERE tx_id = 'C-1'")  # a store from before
    reconcile(session, world.operator, PERIOD, store=store, now=NOW)
    rows = {r.stall_code: r for r in session.exec(select(StallPeriod).where(StallPeriod.period == PERIOD)).all()}
    assert rows["A-4"].active and rows["A-4"].transfers == 1
    assert rows["A-12"].active and rows["A-12"].transfers == 1
    unknown = session.exec(select(ReconcileAnomaly).where(ReconcileAnomaly.kind == "unknown_account")).all()
    assert unknown == []
