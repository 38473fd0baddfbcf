"""A file of many bad rows (issue #16): every row reported, each naming its row and column, in bounded memory.

Past :data:`market40.services.imports.MAX_DETAIL` the bad rows wait in a temporary file; what
comes back from it must read exactly as the rows kept whole: the same report, the same
rejects file, the same reasons in Vietnamese and in English.
"""
from __future__ import annotations

import csv
from datetime import date

import pytest

from market40 import messages
from market40.services import imports
from market40.services.census import import_census
from market40.services.imports import Problems, import_stalls
from market40.services.registry import Actor

from test_import_hardening import _csv  # noqa: E402  (same folder: one CSV writer for the import tests)

OPERATOR = Actor.operator("tests")


def _mixed(count: int) -> list[list[str]]:
    """Bad rows of several kinds: a phone that is not one, an unknown bank, a missing name, an unknown market."""
    rows = []
    for i in range(count):
        kind = i % 4
        if kind == 0:
            rows.append(["HL1", f"A-{i}", f"Nguyễn Thị {i}", "12", "", "", ""])
        elif kind == 1:
            rows.append(["HL1", f"A-{i}", f"Lê Văn {i}", "0912345678", "Ngân hàng Không Có", "0123456789",
                         f"LE VAN {i}"])
        elif kind == 2:
            rows.append(["HL1", f"A-{i}", "", "0912345678", "", "", ""])
        else:
            rows.append(["ZZ9", f"A-{i}", f"Phạm Thị {i}", "0912 345 678", "", "", ""])
    return rows


HEADER = ["Mã chợ", "Mã sạp", "Tên chủ hộ", "Số điện thoại", "Ngân hàng", "Số tài khoản", "Tên chủ tài khoản"]


def test_every_bad_row_is_reported_naming_its_row_and_column(session, market, tmp_path, monkeypatch):
    monkeypatch.setattr(imports, "MAX_DETAIL", 50)
    count = 3000
    path = _csv(tmp_path / "bad.csv", HEADER, _mixed(count))
    rejects = tmp_path / "bad.rejects.csv"
    report = import_stalls(session, OPERATOR, path, rejects=rejects)
    assert not report.written and report.rows == count and len(report.problems) == count
    problems = list(report.problems)
    assert [p.row for p in problems] == list(range(2, count + 2))  # every row, in order, none dropped
    expected = {0: "owner_phone", 1: "bank", 2: "owner_name", 3: "market_code"}
    for p in problems:
        assert expected[(p.row - 2) % 4] in {e.field for e in p.error.errors}, (p.row, p.error)
        for text in p.lines("vi") + p.lines("en"):
            assert str(p.row) in text
    with open(rejects, encoding="utf-8-sig", newline="") as handle:
        lines = list(csv.reader(handle))[1:]
    assert sorted({int(line[0]) for line in lines}) == list(range(2, count + 2))
    assert all(line[1] and line[2] and line[3] for line in lines)  # column, reason, reason in English


@pytest.mark.parametrize("keep", [5, 100_000])
def test_the_memory_light_path_reports_the_same_as_keeping_every_row(session, market, tmp_path, monkeypatch, keep):
    """The same file with every problem kept whole, and with all but the first five spilled: one report."""
    path = _csv(tmp_path / "bad.csv", HEADER, _mixed(400))
    outputs = {}
    for detail in (100_000, keep):
        monkeypatch.setattr(imports, "MAX_DETAIL", detail)
        rejects = tmp_path / f"rejects-{detail}.csv"
        report = import_stalls(session, OPERATOR, path, rejects=rejects)
        as_dict = report.as_dict()
        as_dict.pop("rejects_file")
        vi = [line for p in report.problems for line in p.lines("vi")]
        en = [line for p in report.problems for line in p.lines("en")]
        outputs[detail] = (as_dict, vi, en, rejects.read_bytes())
    assert outputs[keep] == outputs[100_000]
    # the values in the Vietnamese reasons survive the spill («12», the bank's name)
    assert any("«12»" in line for line in outputs[keep][1][-40:])


def test_spilled_problems_keep_codes_params_and_odd_values():
    """A spilled problem keeps what messages.describe reads: code, params, value, limit, suggestions."""
    from market40.exceptions import InvalidComponent, InvalidFormat
    problems = Problems(keep=0)
    coded = messages.problem("market_unknown", "market_code", "ZZ9", detail="no such market",
                             limit="a market in the registry")
    bank = InvalidComponent("bank: 'VCBB' is not a bank", field="bank", value="VCBB", limit="a bank",
                       suggestions=["Vietcombank", "VCB"])
    odd = InvalidFormat("registered_on: in the future", field="registered_on", value=date(2099, 1, 1),
                        limit="not in the future")
    odd.params = {"when": object()}  # does not pickle: kept as its text
    for number, error in enumerate([coded, bank, odd], start=2):
        problems.append(imports.Problem(number, error, {"stall_code": f"A-{number}"}))
    back = list(problems)
    assert [p.row for p in back] == [2, 3, 4]
    for original, again in zip([coded, bank, odd], back):
        assert messages.describe(again.error, "vi") == messages.describe(original, "vi")
        assert messages.describe(again.error, "en") == messages.describe(original, "en")
        assert (again.error.field, again.error.limit) == (original.field, original.limit)
    assert back[1].error.suggestions == ["Vietcombank", "VCB"]


def test_a_census_with_many_bad_rows_reports_them_all(session, market, tmp_path, monkeypatch):
    monkeypatch.setattr(imports, "MAX_DETAIL", 20)
    rows = [["HL1", "2025-13" if i % 2 else "2025-06", f"A-{i}", "" if i % 2 == 0 else f"Hộ {i}"]
            for i in range(600)]
    path = _csv(tmp_path / "census.csv", ["Mã chợ", "Kỳ", "Mã sạp", "Tên chủ hộ"], rows)
    report = import_census(session, OPERATOR, path, rejects=tmp_path / "census.rejects.csv")
    assert not report.written and len(report.problems) == 600
    fields = {p.row: {e.field for e in p.error.errors} for p in report.problems}
    assert all(fields[i + 2] == ({"period"} if i % 2 else {"owner_name"}) for i in range(600))
    lines = (tmp_path / "census.rejects.csv").read_text(encoding="utf-8-sig").splitlines()
    assert len(lines) == 601


def test_a_refused_row_does_not_make_a_later_reference_collide(session, market, tmp_path):
    """HL1 stall 15 and HL11 stall 5 would both read HL115: only a stall that is created can take it."""
    from market40.services.registry import Registry
    Registry(session, OPERATOR).save_market(code="HL11", name="Chợ Hạ Long XI", tier="III", locality="06688")
    session.commit()
    path = _csv(tmp_path / "stalls.csv", ["Mã chợ", "Mã sạp", "Tên chủ hộ", "Số điện thoại"],
                [["HL1", "15", "Nguyễn Thị Lan", "12"], ["HL11", "5", "Lê Thị Hoa", "0912345678"]])
    report = import_stalls(session, OPERATOR, path, partial=True)
    assert [p.row for p in report.problems] == [2] and report.written and report.created == 1
    # the other way round, a created stall still keeps the reference: the later row is refused
    path = _csv(tmp_path / "more.csv", ["Mã chợ", "Mã sạp", "Tên chủ hộ", "Số điện thoại"],
                [["HL1", "15", "Nguyễn Thị Lan", "0912345679"]])
    report = import_stalls(session, OPERATOR, path, partial=True)
    assert [p.row for p in report.problems] == [2] and report.created == 0
    assert "stall_code" in {e.field for p in report.problems for e in p.error.errors}


def test_a_census_of_twins_reports_both_rows_of_every_pair(session, market, tmp_path, monkeypatch):
    """Every stall written twice ("A-1" and "a1"): both rows of each pair, once each, in row order."""
    monkeypatch.setattr(imports, "MAX_DETAIL", 30)
    rows = []
    for i in range(1500):
        rows += [["HL1", "2025-06", f"A-{i}", f"Hộ {i}"], ["HL1", "2025-06", f"a{i}", f"Hộ {i}"]]
    path = _csv(tmp_path / "twins.csv", ["Mã chợ", "Kỳ", "Mã sạp", "Tên chủ hộ"], rows)
    report = import_census(session, OPERATOR, path)
    assert not report.written and report.lists == {"HL1 2025-06": 0}
    assert [p.row for p in report.problems] == list(range(2, 3002))
    assert all({e.field for e in p.error.errors} == {"stall_code"} for p in report.problems)


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)  # the collector is the same whatever the database
def test_the_collector_is_left_as_it_was(session, market, tmp_path):
    """Imports freeze the objects alive before them while they validate (fewer full collections) and
    collect young objects less often; after, even when refused, the collector is as it was. A caller's
    own freeze is left alone."""
    import gc
    path = _csv(tmp_path / "bad.csv", HEADER, _mixed(50))
    census = _csv(tmp_path / "census.csv", ["Mã chợ", "Kỳ", "Mã sạp", "Tên chủ hộ"], [["HL1", "2025-13", "A-1", "Lan"]])
    seen = []
    original = imports.Problems.append

    def spy(self, problem):
        seen.append((gc.get_freeze_count(), gc.get_threshold()[0]))
        return original(self, problem)

    thresholds = gc.get_threshold()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(imports.Problems, "append", spy)
        assert gc.get_freeze_count() == 0
        import_stalls(session, OPERATOR, path)
        import_census(session, OPERATOR, census)
    assert seen and all(count > 0 for count, _ in seen)  # frozen while validating
    assert all(young == imports.BULK_GC_THRESHOLD for _, young in seen)  # young objects collected less often
    assert gc.get_freeze_count() == 0 and gc.isenabled() and gc.get_threshold() == thresholds
    gc.freeze()
    try:
        before = gc.get_freeze_count()
        import_stalls(session, OPERATOR, path)
        assert gc.get_freeze_count() > before // 2  # not unfrozen by the import (a few frozen objects may die)
    finally:
        gc.unfreeze()


def test_census_twins_read_again_report_what_kept_cells_report(session, market, tmp_path):
    """A file is read again for the first rows of twins; a pipe keeps every first row: one report."""
    import io
    rows = [["HL1", "2025-06", f"A-{i}", f"Hộ {i}", "0912345678"] for i in range(40)]
    rows += [["HL1", "2025-06", "a 3", "Hộ ba", ""], ["HL1", "2025-06", "A.7", "Hộ bảy", ""],
             ["HL1", "2025-06", "a3", "Hộ ba nữa", ""]]
    path = _csv(tmp_path / "twins.csv", ["Mã chợ", "Kỳ", "Mã sạp", "Tên chủ hộ", "Số điện thoại"], rows)

    class Pipe(io.RawIOBase):  # not seekable: read once
        def __init__(self, data: bytes) -> None:
            self.data = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:
            chunk = self.data.read(len(buffer))
            buffer[:len(chunk)] = chunk
            return len(chunk)

    reports = [import_census(session, OPERATOR, path, rejects=tmp_path / "a.csv"),
               import_census(session, OPERATOR, Pipe(path.read_bytes()), rejects=tmp_path / "b.csv")]
    assert [p.row for p in reports[0].problems] == [5, 9, 42, 43, 44]
    dicts = [r.as_dict() for r in reports]
    for d in dicts:
        d.pop("source"), d.pop("rejects_file")
    assert dicts[0] == dicts[1]
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    first = next(p for p in reports[0].problems if p.row == 5)
    assert first.values["stall_code"] == "A-3" and "row 42" in first.error.message


@pytest.mark.parametrize("colliding_hashes", [False, True])
def test_a_reference_taken_by_an_earlier_chunk_is_refused_naming_its_stall(session, market, tmp_path, monkeypatch,
                                                                           colliding_hashes):
    """The guard keeps hashes of the keys written (8 bytes each) and asks the registry for the code on a
    hit: a row of a later chunk is refused naming the stall; a hash that collides refuses nothing."""
    from market40.services import registry as registry_module
    from market40.services.registry import Registry
    monkeypatch.setattr(imports, "CHUNK", 1)  # every row written (and settled) before the next is read
    if colliding_hashes:
        monkeypatch.setattr(registry_module, "hash", lambda key: 0, raising=False)
    Registry(session, OPERATOR).save_market(code="HL11", name="Chợ Hạ Long XI", tier="III", locality="06688")
    session.commit()
    path = _csv(tmp_path / "stalls.csv", ["Mã chợ", "Mã sạp", "Tên chủ hộ"],
                [["HL1", "1-5", "Nguyễn Thị Lan"], ["HL1", "16", "Trần Văn Bình"], ["HL11", "5", "Lê Thị Hoa"],
                 ["HL11", "7", "Phạm Thị Mai"]])
    report = import_stalls(session, OPERATOR, path, partial=True)
    assert report.written and report.created == 3 and [p.row for p in report.problems] == [4]
    assert "HL1/1-5" in str(report.problems[0].error)


def test_imports_ending_and_starting_in_two_threads_leave_the_collector_as_it_was(monkeypatch):
    """An import that starts in one thread while another's ends (between its unfreeze and its thresholds put
    back) must not take the raised threshold for the one to restore: the collector ends as it began."""
    import gc
    import threading
    thresholds = gc.get_threshold()
    unfreeze, started = gc.unfreeze, {}

    def ending(*args):  # thread A ends its import; thread B's import starts just then
        unfreeze(*args)
        monkeypatch.setattr(gc, "unfreeze", unfreeze)
        other = threading.Thread(target=lambda: started.update(frozen=imports.steady_gc_start()))
        other.start()
        other.join(0.3)  # B may not get in before A has put its thresholds back
        started["thread"] = other

    first = imports.steady_gc_start()
    assert first
    monkeypatch.setattr(gc, "unfreeze", ending)
    imports.steady_gc_end(first)
    started["thread"].join()
    assert started["frozen"]
    imports.steady_gc_end(started["frozen"])
    assert gc.get_threshold() == thresholds and gc.get_freeze_count() == 0


def test_a_collector_switched_off_by_threshold_stays_off():
    import gc
    thresholds = gc.get_threshold()
    gc.set_threshold(0)  # the documented way to turn automatic collection off
    try:
        frozen = imports.steady_gc_start()
        assert not frozen and gc.get_threshold()[0] == 0 and gc.get_freeze_count() == 0
        imports.steady_gc_end(frozen)
        assert gc.get_threshold()[0] == 0
    finally:
        gc.set_threshold(*thresholds)
