"""The province's printable report and charts in a real browser (Debian's Chromium via Playwright).

On the demo province with a reconciled month (about 700 anomalies), the HTML report printed to
PDF (A4, as officials print it) fits a few pages: figures, charts, the views, anomalies summarised
by kind and count (the full list is in the XLSX). The charts are screenshotted at 360 px (a phone)
and 1366 px (a laptop): they fit the width and their smallest text stays readable. Artefacts go to
``test-artifacts/e2e/``.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlmodel import Session

from market40 import db
from market40.services.demo_activity import build_demo_activity
from market40.services.reconcile import reconcile
from market40.services.registry import Actor
from market40.services.reports import adoption_summary, export
from market40.txstore import TransferStore

from test_journey import ARGS, ARTIFACTS, CHROMIUM, _require_browser

PERIOD = "2025-06"
MAX_PAGES = 4


def _pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?!s)", pdf))


@pytest.fixture(scope="module")
def sync_playwright():
    return _require_browser()


@pytest.fixture
def report_html(demo_copy: Path, tmp_path: Path) -> Path:
    engine = db.make_engine(str(demo_copy))
    actor = Actor.operator("e2e")
    with Session(engine) as session, TransferStore(tmp_path / "tx.duckdb") as store:
        build_demo_activity(session, actor, store, tmp_path / "activity", end="2025-06", months=2)
        session.commit()
        for period in ("2025-05", PERIOD):
            reconcile(session, actor, period, store=store)
        report = adoption_summary(session, actor, PERIOD, months=6)
    assert report.reconciled and len(report.anomalies) > 300  # the lists that used to fill 116 pages
    path = tmp_path / "bao-cao.html"
    export(report, "html", path)
    return path


def test_the_printed_province_report_fits_a_few_pages(sync_playwright, report_html: Path) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
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
        finally:
            browser.close()
