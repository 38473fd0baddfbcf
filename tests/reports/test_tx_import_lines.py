"""Issue #15: the import counts the file in a thread beside DuckDB's read; what a user relies on
stays: a file imported in full changes nothing when imported again, a file with quoted line
breaks still imports, and every refused row of the SQL path names its line in the rejects file."""
import csv

from market40.services.transfers import import_file

HEADER = ["transaction_id", "booked_at", "bank_bin", "account", "amount", "content"]


def _write(path, rows, header=HEADER):
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _good(i):
    return [f"G{i:06d}", "2025-06-01 08:00:00", "970436", f"0011{i % 97:04d}", str(1000 + i), f"HL1 A{i % 9}"]


def test_a_file_imported_in_full_changes_nothing_when_imported_again(store, tmp_path):
    path = _write(tmp_path / "a.csv", [_good(i) for i in range(5000)])
    first = import_file(store, path, partial=False)
    assert first.written and first.inserted == 5000
    again = import_file(store, path, partial=False)
    assert again.already_imported and again.batch == first.batch and not again.changed
    assert store.count() == 5000 and len(store.batches()) == 1


def test_refused_rows_name_their_line_in_the_rejects_file(store, tmp_path):
    """Bad amounts and bad dates, read by the SQL path: each refused row's line as a spreadsheet shows it
    (line 1 the header; a quoted content with a line break makes its row two lines long)."""
    rows, bad_lines, line = [], {}, 2
    for i in range(3000):
        row = _good(i)
        if i % 500 == 7:
            row[4] = "12,5"  # not a whole number of đồng
            bad_lines[row[0]] = line
        elif i % 700 == 3:
            row[1] = "31/06/2025 08:00:00"  # no such date
            bad_lines[row[0]] = line
        if i == 10:
            row[5] = "HL1 A1\ntiền cá"  # a quoted line break: this row spans two lines
        rows.append(row)
        line += 2 if i == 10 else 1
    path = _write(tmp_path / "bad.csv", rows)
    rejects = tmp_path / "bad.rejects.csv"
    result = import_file(store, path, partial=False, rejects=rejects)
    assert not result.written and result.invalid == len(bad_lines) and store.count() == 0
    with open(rejects, encoding="utf-8-sig", newline="") as handle:
        written = list(csv.reader(handle))
    head, body = written[0], written[1:]
    assert len(body) == len(bad_lines)
    line_col = next(i for i, name in enumerate(head) if name.strip().lower() in ("dòng", "row", "line", "hàng"))
    id_col = head.index("transaction_id")
    assert {r[id_col]: int(r[line_col]) for r in body} == bad_lines
