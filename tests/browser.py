"""The browser and server set-up shared by every test that drives a real browser (tests/e2e, tests/web).

One Chromium per test process (Debian's, driven by Playwright; never downloaded): the
``chromium`` fixture is that browser, and each test opens its own contexts on it
(``browser.new_context(...)``), so no cookie, storage or download is shared between tests.
Close the contexts you open (or leave them: they are closed after the test).

``serve(app)`` runs a Flask app under waitress on 127.0.0.1:<any free port> in a thread.

Without Chromium, Playwright or pdftoppm the browser tests are skipped, except in CI (``$CI``
set), where they fail. ``$MARKET40_CHROMIUM`` overrides ``/usr/bin/chromium``.
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest

os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")

CHROMIUM = os.environ.get("MARKET40_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PHONE = {"width": 360, "height": 740}
DESK = {"width": 1366, "height": 768}
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "e2e"


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require_browser() -> Any:
    """Playwright's ``sync_playwright``, or a skip (a failure in CI) without Chromium, Playwright or pdftoppm."""
    problem = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:  # pragma: no cover - depends on the machine
        problem, sync_playwright = f"playwright is not installed ({error})", None
    if problem is None and not Path(CHROMIUM).exists():
        problem = f"no Chromium at {CHROMIUM} (apt-get install chromium, or set MARKET40_CHROMIUM)"
    if problem is None and shutil.which("pdftoppm") is None:
        problem = "pdftoppm is missing (apt-get install poppler-utils)"
    if problem:
        if _in_ci():
            pytest.fail(f"CI is set, so the browser test must run: {problem}", pytrace=False)
        pytest.skip(problem)
    return sync_playwright


class _Session:
    """Playwright and one Chromium, started on first use and kept for the test process.

    Playwright's sync API marks its event loop as the thread's running loop between calls; that
    would stop other tests from using asyncio (``asyncio.run`` refuses to start inside a running
    loop). So the mark is lifted after each browser test and put back before the next one.
    """

    def __init__(self) -> None:
        self.manager: Any = None
        self.browser: Any = None
        self.loop: Any = None

    def enter(self) -> Any:
        if self.browser is None:
            sync_playwright = require_browser()
            self.manager = sync_playwright()
            playwright = self.manager.start()
            self.browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        else:
            asyncio._set_running_loop(self.loop)
        return self.browser

    def leave(self) -> None:
        for context in list(self.browser.contexts):
            context.close()
        self.loop = asyncio._get_running_loop()
        asyncio._set_running_loop(None)

    def close(self) -> None:
        if self.browser is not None:
            asyncio._set_running_loop(self.loop)
            self.browser.close()
            self.manager.__exit__(None, None, None)
            self.browser = self.manager = self.loop = None


@pytest.fixture(scope="session")
def _chromium_session() -> Iterator[_Session]:
    session = _Session()
    try:
        yield session
    finally:
        session.close()


@pytest.fixture
def chromium(_chromium_session: _Session, request: pytest.FixtureRequest) -> Iterator[Any]:
    """The test process's Chromium (a Playwright ``Browser``); open a context per user.

    When the test fails, every page still open is kept as ``test-artifacts/e2e/FAILED-<test>-<n>.png``
    and its address printed, so a failure seen once in CI shows where each user stood."""
    browser = _chromium_session.enter()
    try:
        yield browser
        if getattr(request.node, "call_failed", False):
            _keep_pages(browser, request.node.name)
    finally:
        _chromium_session.leave()


def _keep_pages(browser: Any, test: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pages = [page for context in browser.contexts for page in context.pages]
    for number, page in enumerate(pages):
        path = ARTIFACTS / f"FAILED-{test}-{number}.png".replace("/", "_")
        try:
            page.screenshot(path=str(path), full_page=True)
            print(f"page {number} of the failed test: {page.url} (screenshot {path})")
        except Exception as error:  # a page that crashed or closed: its address is still worth printing
            print(f"page {number} of the failed test: {page.url} (no screenshot: {error})")


@contextlib.contextmanager
def serve(app: Any, threads: int = 4) -> Iterator[str]:
    """``app`` served by waitress on 127.0.0.1 in a thread; yields its base URL."""
    from waitress.server import create_server
    server = create_server(app, host="127.0.0.1", port=0, threads=threads)
    closing = threading.Event()

    def run() -> None:
        try:
            server.run()
        except (OSError, ValueError):
            # close() from this side may pull the sockets from under the loop's select() (EBADF, or fd -1):
            # expected while closing, a failure otherwise (seen once in CI as an unhandled thread exception)
            if not closing.is_set():
                raise

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        closing.set()
        server.close()
        thread.join(timeout=5)


def sign_in(page: Any, base: str, username: str, password: str, *, lands_on: str | None = None) -> None:
    """Sign in through the login form, as a person does; wait for ``lands_on`` (a URL glob) or the load."""
    page.goto(base + "/login")
    page.fill("#f-username", username)
    page.fill("#f-password", password)
    page.click("main button[type=submit]")
    if lands_on:
        page.wait_for_url(lands_on)
    else:
        page.wait_for_load_state()
