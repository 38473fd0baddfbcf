"""Speed and memory of market40.tabular.read_table on a 100,000-stall list (issues #3, #15).

    python benchmarks/bench_tabular.py [--rows 100000] [--skip-openpyxl]

Target (issue #15): XLSX streamed row by row, memory flat with the file size. Run it
at two sizes (e.g. ``--rows 100000`` and ``--rows 400000``) and compare the peaks.

Writes a stall CSV and XLSX (openpyxl, write-only) to a temporary folder. Then
each reader runs in a fresh process, so that the peak RSS
(``resource.getrusage``) belongs to that reader alone. It prints seconds, rows/s
and peak RSS, and also the RSS of a process that has only imported the modules.

XLSX readers compared:
  read_table             what the importer uses: extent scan + the streaming reader + Row objects
  calamine iter_rows     python-calamine alone, raw values (the peer: Rust, loads the whole sheet)
  openpyxl read_only     openpyxl.load_workbook(read_only=True), iter_rows(values_only=True)
  extent guard           the extent scan read_table runs first (progress, stray cells)
"""
from __future__ import annotations

import argparse
import csv
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEADER = ["Mã chợ", "Mã sạp", "Tên cửa hàng", "Ngành hàng", "Tên chủ hộ", "Số điện thoại", "Ngân hàng",
          "Số tài khoản", "Tên chủ tài khoản", "Loại tài khoản", "Mã tham chiếu", "Trạng thái"]


def stall(i: int) -> list[str]:
    return ["HL1", f"A{i}", f"Tạp hoá Bà Lan {i}", "Tạp hoá", f"Nguyễn Thị Lan {i}", f"09{i % 10**8:08d}",
            "970436", f"00{i:011d}", f"NGUYEN THI LAN {i}", "Tài khoản", "", "Đang kinh doanh"]


def generate(folder: Path, rows: int) -> tuple[Path, Path]:
    import openpyxl

    csv_path = folder / "stalls.csv"
    with open(csv_path, "w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out, delimiter=";")
        writer.writerow(HEADER)
        writer.writerows(stall(i) for i in range(rows))
    xlsx_path = folder / "stalls.xlsx"
    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet("Danh sách")
    sheet.append(HEADER)
    for i in range(rows):
        sheet.append(stall(i))
    workbook.save(xlsx_path)
    return csv_path, xlsx_path


def measure(reader: str, path: str) -> None:
    """Run one reader in this (fresh) process and print a result line."""
    sys.path.insert(0, str(ROOT))
    import openpyxl  # noqa: F401  imported up front so the baseline covers every reader's imports
    import python_calamine

    from market40 import tabular

    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    count = 0
    if reader == "baseline":
        pass
    elif reader == "read_table":
        with tabular.read_table(path, schema="stalls") as table:
            for row in table:
                count += 1
    elif reader == "calamine":
        workbook = python_calamine.CalamineWorkbook.from_path(path)
        for _ in workbook.get_sheet_by_index(0).iter_rows():
            count += 1
        count -= 1  # header
    elif reader == "openpyxl":
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
        for _ in workbook.worksheets[0].iter_rows(values_only=True):
            count += 1
        count -= 1
    elif reader == "guard":
        import zipfile

        with zipfile.ZipFile(path) as archive:
            rows, columns, _ = tabular._sheet_extent(archive, "xl/worksheets/sheet1.xml")
        count = rows - 1
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"{seconds:.3f} {count} {baseline // 1024} {peak // 1024}")


def run(reader: str, path: Path) -> tuple[float, int, int, int]:
    out = subprocess.run([sys.executable, __file__, "--measure", reader, str(path)],
                         capture_output=True, text=True, check=True).stdout.split()
    seconds, count, baseline, peak = float(out[0]), int(out[1]), int(out[2]), int(out[3])
    return seconds, count, baseline, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--skip-openpyxl", action="store_true", help="skip the slow openpyxl reader")
    parser.add_argument("--measure", nargs=2, metavar=("READER", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(*args.measure)
        return
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        csv_path, xlsx_path = generate(Path(folder), args.rows)
        print(f"generated {args.rows:,} stalls in {time.perf_counter() - start:.1f} s: "
              f"CSV {csv_path.stat().st_size / 1e6:.1f} MB, XLSX {xlsx_path.stat().st_size / 1e6:.1f} MB")
        _, _, baseline, _ = run("baseline", csv_path)
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; "
              f"RSS after imports: {baseline} MB\n")
        print(f"{'file':5} {'reader':20} {'seconds':>8} {'rows/s':>10} {'peak RSS':>9}")
        cases = [("CSV", "read_table", csv_path), ("XLSX", "read_table", xlsx_path),
                 ("XLSX", "calamine", xlsx_path), ("XLSX", "guard", xlsx_path)]
        if not args.skip_openpyxl:
            cases.append(("XLSX", "openpyxl", xlsx_path))
        for kind, reader, path in cases:
            seconds, count, _, peak = run(reader, path)
            assert count == args.rows, (reader, count)
            label = {"calamine": "calamine iter_rows", "openpyxl": "openpyxl read_only",
                     "guard": "extent guard"}.get(reader, reader)
            print(f"{kind:5} {label:20} {seconds:8.2f} {count / seconds:10,.0f} {peak:6d} MB")


if __name__ == "__main__":
    main()
