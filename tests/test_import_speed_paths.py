"""The import's fast paths keep what users rely on (issues #15, #16): a file is read once unless two
rows name one stall, and then every row of the group is still reported; the totals-line check and
the name rule's quick exits decide as the full rules do; audit records are masked once and complete."""
from __future__ import annotations

import csv
import io
import json

import pytest
from sqlmodel import select

from market40 import tabular, text
from market40.models import AuditEvent, Stall
from market40.services import audit, imports
from market40.services.imports import import_stalls
from market40.exceptions import ValidationError
from market40.services.registry import CONSENT_PURPOSE, Actor, Registry

ACTOR = Actor.operator("tester")
HEADER = ["Mã sạp", "Tên chủ hộ", "Số điện thoại", "Ngân hàng", "Số tài khoản", "Tên chủ tài khoản"]


def _data(rows) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8-sig")


def _rows_with_a_late_twin():
    good = [[f"A-{n}", f"Nguyễn Văn {n}", f"091234567{n}", "", "", ""] for n in range(1, 5)]
    return good + [["a 1", "Phạm Văn D", "", "", "", ""]]  # row 6: A-1 again


def test_a_twin_found_late_is_reported_with_its_first_row_and_nothing_of_the_first_pass_stays(
        session, market, tmp_path, monkeypatch):
    monkeypatch.setattr(imports, "CHUNK", 2)  # A-1 is written (partial) before its twin is read
    path = tmp_path / "twins.csv"
    path.write_bytes(_data(_rows_with_a_late_twin()))
    report = import_stalls(session, ACTOR, path, market="HL1", partial=True, rejects=tmp_path / "rejects.csv")
    assert report.written and report.created == 3 and [p.row for p in report.problems] == [2, 6]
    assert "same stall as row 6" in str(report.problems[0].error)
    assert "same stall as row 2" in str(report.problems[1].error)
    assert sorted(s.code for s in session.exec(select(Stall)).all()) == ["A-2", "A-3", "A-4"]
    batches = session.exec(select(AuditEvent).where(AuditEvent.action == "import.create")).all()
    listed = [n for e in batches for first, last in json.loads(e.after)["stall"] for n in range(first, last + 1)]
    assert sorted(listed) == sorted(s.id for s in session.exec(select(Stall)).all())  # the abandoned pass left none
    assert len(audit.batch_creations(session, session.exec(select(Stall)).all())) == 3
    with open(tmp_path / "rejects.csv", encoding="utf-8-sig") as handle:
        assert [line["Dòng"] for line in csv.DictReader(handle)] == ["2", "6"]


def test_an_uploaded_file_with_twins_reports_both_rows(session, market):
    report = import_stalls(session, ACTOR, io.BytesIO(_data(_rows_with_a_late_twin())), market="HL1")
    assert not report.written and [p.row for p in report.problems] == [2, 6]
    assert session.exec(select(Stall)).all() == []


class _Pipe(io.RawIOBase):
    """A stream that cannot be rewound (stdin, a pipe)."""

    def __init__(self, data: bytes) -> None:
        self._inner = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readinto(self, buffer) -> int:
        chunk = self._inner.read(len(buffer))
        buffer[:len(chunk)] = chunk
        return len(chunk)


def test_a_pipe_with_twins_is_refused_and_its_later_row_named(session, market):
    report = import_stalls(session, ACTOR, _Pipe(_data(_rows_with_a_late_twin())), market="HL1")
    assert not report.written and 6 in [p.row for p in report.problems]
    assert session.exec(select(Stall)).all() == []


def test_a_file_without_twins_is_imported_in_one_pass(session, market, tmp_path, monkeypatch):
    opened = []
    real = tabular.read_table
    monkeypatch.setattr(tabular, "read_table", lambda *a, **k: opened.append(a) or real(*a, **k))
    path = tmp_path / "ok.csv"
    path.write_bytes(_data(_rows_with_a_late_twin()[:4]))
    report = import_stalls(session, ACTOR, path, market="HL1")
    assert report.written and report.created == 4 and len(opened) == 1


@pytest.mark.parametrize("values, extra, expected", [
    ({"stall_code": "", "owner_name": "Tổng cộng: 120 hộ"}, {}, True),
    ({"stall_code": "", "owner_name": "Tổng cộng"}, {"STT": "120 hộ"}, True),
    ({"stall_code": "Cộng", "owner_name": ""}, {"Số sạp": "12"}, True),
    ({"stall_code": "", "owner_name": "Tổng cộng"}, {"Ghi chú": "Lan"}, False),
    ({"stall_code": "A1", "owner_name": "Công Thị Hoa"}, {}, False),
    ({"stall_code": "", "owner_name": "Công Thị Hoa"}, {}, False),
    ({"stall_code": "", "owner_name": "“Tổng cộng”"}, {}, True),  # quoted: the full rule decides
])
def test_the_totals_line_rule_decides_alike_on_its_quick_path(values, extra, expected):
    assert tabular._is_totals(values, extra) is expected


@pytest.mark.parametrize("name, refused", [
    ("Nguyễn Thị Lan", None), ("Lan\tHoa", None), ("A\u202eB", "\u202e"), ("A\u200bB", "\u200b"),
    ("A\x1bB", "\x1b"), ("A\x07", "\x07"), ("A\u2028B", "\u2028"), ("\ue000", "\ue000"), ("\ufeffLan", "\ufeff"),
])
def test_the_name_rule_refuses_the_same_characters_on_its_quick_path(name, refused):
    assert text.unsafe_char(name) == refused


def test_imported_audit_records_are_masked_and_complete(session, market, tmp_path):
    path = tmp_path / "one.csv"
    path.write_bytes(_data([["A-1", "Nguyễn Thị Lan", "0912345678", "Vietcombank", "0011012344418",
                             "NGUYEN THI LAN"]]))
    assert import_stalls(session, ACTOR, path, market="HL1").written
    [batch] = session.exec(select(AuditEvent)).all()
    for secret in ("0912345678", "0011012344418", "Lan", "NGUYEN", CONSENT_PURPOSE):
        assert secret not in batch.after  # the batch event lists ids only
    trail = {e.action: e for e in audit.stall_trail(Registry(session, ACTOR), "HL1/A-1")}
    stall = trail["stall.create"].after
    assert stall["owner_phone"] == "•••678" and stall["owner_name"] == "Nguyễn Thị Lan" and stall["code"] == "A-1"
    account = trail["account.register"].after
    assert account["number"].endswith("4418") and "0011012344418" not in json.dumps(account)
    assert "payload" not in account and account["consent_purpose"] == CONSENT_PURPOSE
    assert account["holder_name"] == "NGUYEN THI LAN" and account["status"] == "pending"


def test_the_batch_writer_inserts_dicts_or_tuples_and_updates_by_key_as_the_orm_would(session, market):
    from datetime import datetime, timedelta, timezone

    vn = timezone(timedelta(hours=7))
    at = datetime(2026, 12, 5, 9, 30, tzinfo=vn)
    columns = ("market_id", "code", "code_key", "owner_name", "status", "created_at", "updated_at")
    imports.bulk_insert(session, Stall.__table__, [
        dict(zip(columns, (market.id, "Z-1", "Z1", "Lê Thị Á", "operating", at, at)))])
    imports.bulk_insert(session, Stall.__table__, [
        (market.id, "Z-2", "Z2", "Trần Văn Bé", "operating", at, at),
        (market.id, "Z-3", "Z3", "Đỗ Thị Cúc", "operating", at, at)], columns)
    stalls = {s.code: s for s in session.exec(select(Stall).where(Stall.code.like("Z-%"))).all()}
    assert [stalls[c].owner_name for c in ("Z-1", "Z-2", "Z-3")] == ["Lê Thị Á", "Trần Văn Bé", "Đỗ Thị Cúc"]
    assert all(s.created_at == at and s.created_at.tzinfo is not None for s in stalls.values())
    later = at + timedelta(days=1)
    imports.bulk_update(session, Stall.__table__, "id", ("owner_name", "updated_at"),
                         [(stalls["Z-3"].id, "Đỗ Thị Cúc (mới)", later), (stalls["Z-1"].id, "Lê Thị Á", later)])
    session.expire_all()
    after = {s.code: s for s in session.exec(select(Stall).where(Stall.code.like("Z-%"))).all()}
    assert after["Z-3"].owner_name == "Đỗ Thị Cúc (mới)" and after["Z-3"].updated_at == later
    assert after["Z-1"].updated_at == later and after["Z-2"].updated_at == at  # the row not named is untouched
    imports.bulk_update(session, Stall.__table__, "id", ("owner_name",), [])  # nothing to write: no statement


def test_an_imported_household_tax_code_is_masked_in_the_audit_trail(session, market, tmp_path):
    """owner_tax_code is an identifier like an HKD account's tax code: the trail keeps its last digits only."""
    path = tmp_path / "mst.csv"
    out = io.StringIO()
    csv.writer(out).writerows([["Mã sạp", "Tên chủ hộ", "Mã số thuế"], ["A-7", "Trần Văn Hải", "0101234567"]])
    path.write_bytes(out.getvalue().encode("utf-8-sig"))
    assert import_stalls(session, ACTOR, path, market="HL1").written
    [event] = audit.batch_creations(session, session.exec(select(Stall)).all())
    assert event.action == "stall.create" and event.after["owner_tax_code"].endswith("567")
    assert "0101234567" not in json.dumps(event.after)


# --- the validator's fast path decides as the general path does (issue #15) --------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_POOLS = {
    "market_code": ["HL1", " hl1 ", "XX9", ""],
    "stall_code": ["A-1", "a 12", "A  12", "", "K/03", "A\u200b1", "Á-1", "x" * 33, " B-2 "],
    "shop_name": ["", "Hải sản Cô Lan", "  Lan", "Lan  Hoa", "Lan\tHoa", "A\u202eB", "x" * 201, "Lan\u00a0Hoa",
                  "Lan "],
    "category": ["", "rau củ", "Rau  củ", "x" * 121, "thịt\u200b"],
    "owner_name": ["", "Nguyễn Thị Lan", " Lan ", "Lan\u2028", "x" * 201, "Lê Văn Á", "Lan\n"],
    "owner_phone": ["", "0912345678", "09123456789", "+84912345678", "84912345678", "0912 345 678", "12",
                    "091234567a", "0912.345.678"],
    "bank": ["", "Vietcombank", "970436", "BIDV - CN Hạ Long", "970499", "MoMo", "971025", "Ngân hàng lạ",
             " vietcombank ", "123"],
    "account": ["", "0011012344418", "0011 0123 4441 8", "1" * 20, "00110-1234", "ÁB12", "4111111111111111",
                "abc123"],
    "account_holder": ["", "NGUYEN THI LAN", "nguyen thi lan", "NGUYEN  THI", "A", "NGUYỄN THỊ LAN",
                       "O'NEIL-SMITH", "X" * 51, " LAN", "LAN ", "LAN2"],
    "account_kind": ["", "Tài khoản ngân hàng", "Thẻ", "card", "Ví điện tử", "xyz"],
    "reference": ["", " REF1 ", "MOMOW2W123"],
    "status": ["", "Đang kinh doanh", "Nghỉ kinh doanh", "closed", "maybe"],
    "owner_tax_code": ["0101234567"],
    "registered_on": ["01/02/2025"],
}
#: A clean value per column (the usual row): drawn most of the time, so that the fast path is taken often.
_CLEAN = {"market_code": "HL1", "stall_code": "A-1", "shop_name": "Hải sản Cô Lan", "category": "rau củ",
          "owner_name": "Nguyễn Thị Lan", "owner_phone": "0912345678", "bank": "Vietcombank",
          "account": "0011012344418", "account_holder": "NGUYEN THI LAN", "account_kind": "", "reference": "",
          "status": "Đang kinh doanh"}
_ROWS = st.fixed_dictionaries({key: st.sampled_from([_CLEAN[key]] * 3 * len(_POOLS[key]) + _POOLS[key])
                               for key in _CLEAN},
                              optional={key: st.sampled_from(pool) for key, pool in _POOLS.items()
                                        if key not in _CLEAN}).map(
    lambda row: {k: v for k, v in row.items() if v != "" or k in ("owner_name", "stall_code", "account")})


def _outcome(validator, values):
    try:
        good = validator._check(2, dict(values))
    except ValidationError as error:
        return ("refused", str(error))
    return (good.market.id, good.stall, good.account, good.registered, good.verified, good.closed, good.key)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=_ROWS, default=st.sampled_from([None, "HL1"]))
def test_the_validators_fast_path_gives_what_the_general_path_gives(session, market, values, default):
    registry = Registry(session, ACTOR)
    fast = imports._StallValidator(registry, default, False)._fast(dict(values))
    general = _outcome(imports._StallValidator(registry, default, False), values)
    if fast is not None:
        found_market, stall, account = fast
        assert general[:3] == (found_market.id, stall, account) and general[3:6] == (None, None, None)
    # and the whole check (fast path first) decides as the general path alone, errors worded alike
    validator = imports._StallValidator(registry, default, False)
    try:
        good = validator.check(2, dict(values))
        whole = (good.market.id, good.stall, good.account, good.registered, good.verified, good.closed, good.key)
    except ValidationError as error:
        whole = ("refused", str(error))
    assert whole == general


def test_the_usual_clean_row_takes_the_fast_path(session, market):
    values = {"market_code": "HL1", "stall_code": "A-1", "shop_name": "Hải sản Cô Lan", "category": "hải sản",
              "owner_name": "Nguyễn Thị Lan", "owner_phone": "0912345678", "bank": "Vietcombank",
              "account": "0011012344418", "account_holder": "NGUYEN THI LAN", "account_kind": "",
              "reference": "", "status": "Đang kinh doanh"}
    found = imports._StallValidator(Registry(session, ACTOR), None, False)._fast(values)
    assert found is not None and found[2]["payload"].startswith("000201")


def test_a_hash_collision_in_the_first_pass_only_costs_the_exact_second_pass(session, market, tmp_path,
                                                                            monkeypatch):
    """The first pass keeps only hashes of the stall keys seen (memory flat with the file): two keys with
    one hash read as twins there, and the second pass, exact, finds none and imports every row."""
    monkeypatch.setattr(imports, "hash", lambda key: 0, raising=False)  # every key collides
    calls = []
    original = imports.find_twins
    monkeypatch.setattr(imports, "find_twins", lambda *a, **k: calls.append(1) or original(*a, **k))
    path = tmp_path / "distinct.csv"
    path.write_bytes(_data([[f"A-{n}", f"Nguyễn Văn {n}", "", "", "", ""] for n in range(1, 6)]))
    report = import_stalls(session, ACTOR, path, market="HL1")
    assert calls and report.written and report.created == 5 and not report.problems


def test_the_compact_hash_set_answers_as_a_set_does():
    import random
    rng = random.Random(7)
    compact, reference = imports._KeyHashes(), set()
    for _ in range(30_000):
        value = rng.randrange(-2**63, 2**63) if rng.random() < .9 else rng.choice([0, 1, -1, 2**63 - 1])
        assert (value in compact) == (value in reference)
        if value not in compact:  # as the validator adds: after asking
            compact.add(value)
        reference.add(value)
    assert all(v in compact for v in reference) and len(compact.sorted) + len(compact.recent) == len(reference)
    assert list(compact.sorted) == sorted(compact.sorted)


_CELLS = ["", " ", "A-1", " a 12 ", "Nguyễn Thị Lan", "Nguye\u0303n Thi\u0323 Lan", "\u00a0Lan\u00a0", "Lan\u3000",
          "0912345678", "1E+12", "1,5e3", "9.7e12 ", "E12", "Tổng cộng", "Tổng cộng: 12 hộ", "Cộng", "12", "120 hộ",
          "e\u0301", "\u0301", "\u1100\u1161", "Ω", "\ufeffLan", "Lan\t", "\n"]


@settings(max_examples=150, deadline=None)
@given(rows=st.lists(st.lists(st.sampled_from(_CELLS), min_size=0, max_size=8), min_size=1, max_size=6),
       extra_column=st.booleans(), schema=st.sampled_from(["stalls", None]))
def test_the_csv_reader_gives_what_the_cell_by_cell_reader_gives(rows, extra_column, schema):
    """A CSV row is stripped and normalised as a whole (tabular.Table._text_rows): the same values, cell
    problems (Excel's 1E+12), skipped blank and totals lines as each cell read by _text_cell."""
    header = ["Mã sạp", "Tên chủ hộ", "Số điện thoại", "Số tài khoản", "Tên chủ tài khoản", "Ngân hàng"]
    if extra_column:
        header.insert(2, "Ghi chú")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    data = out.getvalue().encode("utf-8")

    def read(whole_rows: bool):
        with tabular.read_table(io.BytesIO(data), kind="csv", schema=schema) as table:
            if not whole_rows:  # any other converter takes the cell-by-cell path
                table._convert = lambda cell, text_like: tabular._text_cell(cell, text_like)
            found = [(r.number, r.values, r.extra, [(e.field, str(e)) for e in r.errors]) for r in table]
            return found, table.totals_rows, table.rows_read

    assert read(True) == read(False)


def _indexes(session):
    return dict(session.connection().exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL").fetchall())


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)  # PostgreSQL keeps its indexes during an import
def test_a_large_import_builds_its_unordered_indexes_at_the_end_as_they_were(session, market, tmp_path, monkeypatch):
    """SQLite: past DEFER_INDEXES_AFTER new stalls, the payload, bank + number and household-key indexes are dropped and
    built again before the commit, exactly as defined; a refused or dry-run import leaves them untouched,
    and the registry reads the same either way."""
    before = _indexes(session)
    assert set(imports._DeferredIndexes.NAMES) <= set(before)
    monkeypatch.setattr(imports, "DEFER_INDEXES_AFTER", 1)
    monkeypatch.setattr(imports, "CHUNK", 2)  # several chunks: the drop happens between two of them
    rows = [[f"A-{n}", f"Nguyễn Văn {n}", f"091234567{n}", "Vietcombank", f"001101234441{n}",
             f"NGUYEN VAN {chr(64 + n)}"] for n in range(1, 8)]
    bad = tmp_path / "bad.csv"
    bad.write_bytes(_data(rows + [["A-99", "Lê Thị Hoa", "12", "", "", ""]]))
    refused = import_stalls(session, ACTOR, bad, market="HL1")
    assert not refused.written and len(refused.problems) == 1, [p.lines() for p in refused.problems]
    assert _indexes(session) == before
    good = tmp_path / "good.csv"
    good.write_bytes(_data(rows))
    assert import_stalls(session, ACTOR, good, market="HL1", dry_run=True).created == 7
    assert _indexes(session) == before
    rebuilt = []
    restore = imports._DeferredIndexes.restore
    monkeypatch.setattr(imports._DeferredIndexes, "restore", lambda self: rebuilt.extend(self.dropped) or restore(self))
    report = import_stalls(session, ACTOR, good, market="HL1")
    assert report.written and report.created == 7 and report.accounts_created == 7
    assert len(rebuilt) == 3 and _indexes(session) == before
    for column, index in (("payload = 'x'", "ix_payment_account_payload"),
                          ("bin = '970436' AND number = '1'", "ix_payment_account_bin_number")):
        plan = " ".join(str(row) for row in session.connection().exec_driver_sql(
            f"EXPLAIN QUERY PLAN SELECT id FROM payment_account WHERE {column}").fetchall())
        assert index in plan
    assert session.connection().exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    again = import_stalls(session, ACTOR, good, market="HL1")
    assert again.unchanged == 7 and not again.changed
    stalls = session.exec(select(Stall).where(Stall.market_id == market.id)).all()
    assert len(stalls) == 7 and all(s.household_key and s.household_key.startswith("tel:") for s in stalls)


def test_the_reference_guards_quick_clearance_passes_only_what_its_check_passes(session, market):
    """Market codes that start one another (HL1, HL11, HL-1-1 reads HL11 too, HL115, H; D1, D12; E1, E-1):
    the guard's few-lookup :meth:`clear` (rows of the 1M-row file take it) never passes a stall key that
    :meth:`check` refuses, with stalls both in the registry and added by the import; and it does clear
    the usual key (a letter first) of markets B10 and B100, whose stall keys all start with a letter."""

    from itertools import product

    from market40.services.registry import ReferenceGuard
    registry = Registry(session, ACTOR)
    for code in ("HL11", "HL-1-1", "HL115", "H", "B10", "B100", "D1", "D12", "E1", "E-1"):
        registry.save_market(code=code, name=f"Chợ {code}", tier="III", locality="06688")
    for market_code, stall_code in (("HL11", "5"), ("HL1", "A1"), ("H", "L15"), ("HL115", "0"), ("B10", "A1"),
                                    ("E1", "A5")):
        registry.save_stall(market_code, code=stall_code, owner_name="Hoa")
    session.commit()
    guard = ReferenceGuard(session)
    markets = {m: registry.market(m) for m in ("HL1", "HL11", "HL-1-1", "HL115", "H", "B10", "B100", "D1", "D12",
                                              "E1", "E-1")}
    guard.add("1A", markets["HL11"])  # as an import does for the rows it accepted
    guard.add("B7", markets["HL-1-1"])
    guard.add("2L", markets["D1"])  # D1 has no stall in the registry: D12 L would read D12L as it does
    keys = ["".join(chars) for size in (1, 2, 3) for chars in product("015AL", repeat=size)]
    cleared = refused = 0
    for market_code, found in markets.items():
        for key in keys:
            try:
                guard.check(key, found)
                passes = True
            except ValidationError:
                passes, refused = False, refused + 1
            if guard.clear(found.id, key):
                cleared += 1
                assert passes, (market_code, key)
    assert refused and cleared  # both verdicts were met
    assert guard.clear(markets["B100"].id, "A1") and guard.clear(markets["B10"].id, "A1")  # the benchmark's file
    assert not guard.clear(markets["B10"].id, "0A1")
