"""The province's printable report and charts in a real browser (Debian's Chromium via Playwright).

On the demo province with a reconciled month (about 700 anomalies), the HTML report printed to
PDF (A4, as officials print it) fits a few pages: figures, charts, the views, anomalies summarised
by kind and count (the full list is in the XLSX). The charts are screenshotted at 360 px (a phone)
and 1366 px (a laptop): they fit the width and their smallest text stays readable. Artefacts go to
``test-artifacts/e2e/``.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from sqlmodel import Session

from market40 import db
from market40.services.registry import Actor
from market40.services.reports import adoption_summary, export

from browser import ARTIFACTS

PERIOD = "2025-06"
MAX_PAGES = 4


def _pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?!s)", pdf))


@pytest.fixture
def report_html(demo_activity_template: Path, tmp_path: Path) -> Path:
    # The demo province after two months of synthetic activity ending in June 2025, reconciled for May and June
    # (build_demo_activity and reconcile, run once per test run by tests/conftest.py).
    shutil.copyfile(demo_activity_template / "demo.db", tmp_path / "demo.db")
    engine = db.make_engine(str(tmp_path / "demo.db"))
    actor = Actor.operator("e2e")
    with Session(engine) as session:
        report = adoption_summary(session, actor, PERIOD, months=6)
    assert report.reconciled and len(report.anomalies) > 300  # the lists that used to fill 116 pages
    path = tmp_path / "bao-cao.html"
    export(report, "html", path)
    return path


def test_the_printed_province_report_fits_a_few_pages(chromium, report_html: Path) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser = chromium  # this process's Chromium (tests/browser.py); contexts are closed after the test
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    page.goto(report_html.as_uri())
    pdf = page.pdf(prefer_css_page_size=True, print_background=True)
    (ARTIFACTS / "province-report.pdf").write_bytes(pdf)
    assert 1 <= _pages(pdf) <= MAX_PAGES, f"{_pages(pdf)} A4 pages"
    for width, height in ((360, 740), (1366, 768)):
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=str(ARTIFACTS / f"province-report-{width}.png"), full_page=True)
        charts = page.locator(".charts svg")
        assert charts.count() == 2
        for index in range(charts.count()):
            box = charts.nth(index).bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width + 1, (width, box)
            charts.nth(index).screenshot(path=str(ARTIFACTS / f"chart-{index}-{width}.png"))
        # the smallest chart text, as rendered, stays readable on a phone
        smallest = page.evaluate("""() => Math.min(...[...document.querySelectorAll('.charts svg text')]
            .filter(t => t.textContent.trim()).map(t => t.getBoundingClientRect().height))""")
        assert smallest >= (8 if width == 360 else 10), (width, smallest)
        overflow = page.evaluate("() => document.documentElement.scrollWidth")
        assert overflow <= width + 1 or width == 360, overflow  # wide tables scroll on a phone
