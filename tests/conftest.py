"""Database fixtures shared by the whole test suite: real SQLite and PostgreSQL.

``engine``
    A migrated, empty registry; the test runs once per backend
    (ids ``sqlite`` and ``postgresql``). SQLite: a fresh file per test, copied
    from a database migrated once per session. PostgreSQL: one database per
    test session (``market40_test_<hex>``, dropped at the end), migrated once
    and emptied before each test (every row deleted, the id sequences restarted).
``session``
    A session on ``engine`` (closed after the test; nothing is committed
    unless the test commits).
``empty_db_url``
    The URL of an empty database (no tables), per backend, for migration tests.
``locality``, ``market``, ``stall``
    A small committed registry: Phường Hạ Long, Chợ Hạ Long I (HL1), stall A-12.
``chromium``
    One Chromium per test process for the browser tests (see ``tests/browser.py``).
``demo_template`` / ``demo_copy``
    The synthetic demo province as ``market40 demo --no-walkthrough`` builds it (SQLite), built
    once per test run (the xdist workers share one build) and copied for each test that needs it.
``demo_activity_template``
    A folder with the demo province after two months of synthetic activity, reconciled (built once per run).

The PostgreSQL server is ``$MARKET40_TEST_POSTGRES_URL`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``); the user needs
CREATEDB. If it cannot be reached, its tests are skipped, except in CI
(``$CI`` set), where they fail. Deselect them with ``-m "not postgres"``.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from pathlib import Path
from datetime import date
from typing import Any, Iterator

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session

from market40 import db
from market40.models import Locality, Market, Stall

from browser import _chromium_session, chromium  # noqa: F401 (the shared browser fixtures: tests/browser.py)
from dbreset import truncate_all

POSTGRES_URL_VAR = "MARKET40_TEST_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "postgres: needs the PostgreSQL server (deselect with -m 'not postgres')")
    config.addinivalue_line("markers", "production_scrypt: hash passwords at the production scrypt cost "
                                       "(every other test uses a cheap one)")


#: The scrypt cost tests hash with (about 1 ms instead of 0.3 s of CPU per hash). It differs from the
#: cheap hashes that fixtures store (webhelpers.FAST), so a first login still re-hashes them. Tests that check
#: the production parameters or the cost of a login are marked ``production_scrypt``.
TEST_SCRYPT = {"SCRYPT_N": 2**9, "SCRYPT_R": 8, "SCRYPT_P": 1}


@pytest.fixture(autouse=True)
def _cheap_scrypt(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Lowers the scrypt cost for the test unless it is marked ``production_scrypt``."""
    if request.node.get_closest_marker("production_scrypt") is None:
        from market40 import passwords
        for name, value in TEST_SCRYPT.items():
            monkeypatch.setattr(passwords, name, value)


@pytest.fixture(autouse=True)
def _english_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests read the CLI in English whatever the machine's locale (issue #12: a vi_VN locale would
    make it speak Vietnamese); tests/test_cli_lang.py sets the language it checks."""
    monkeypatch.setenv("MARKET40_LANG", "en")


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


class PostgresServer:
    """Creates and drops throw-away databases on the test server."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = make_url(db.database_url(admin_url))
        self._created: list[str] = []

    def _connect(self) -> psycopg.Connection[Any]:
        conninfo = self.admin_url.set(drivername="postgresql").render_as_string(hide_password=False)
        return psycopg.connect(conninfo, autocommit=True, connect_timeout=5)

    def check(self) -> None:
        with self._connect() as conn:
            conn.execute("SELECT 1")

    def create_database(self) -> str:
        """A new empty database; returns its SQLAlchemy URL."""
        name = f"market40_test_{uuid.uuid4().hex[:12]}"
        with self._connect() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        self._created.append(name)
        return self.admin_url.set(database=name).render_as_string(hide_password=False)

    def drop_database(self, url: str) -> None:
        name = make_url(url).database
        with self._connect() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        if name in self._created:
            self._created.remove(name)

    def drop_all(self) -> None:
        for name in list(self._created):
            self.drop_database(self.admin_url.set(database=name).render_as_string(hide_password=False))


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The PostgreSQL test server, or a skip (a failure in CI) if it is down."""
    server = PostgresServer(os.environ.get(POSTGRES_URL_VAR) or DEFAULT_POSTGRES_URL)
    try:
        server.check()
    except psycopg.Error as exc:
        shown = server.admin_url.render_as_string(hide_password=True)
        reason = " ".join(str(exc).split())
        message = f"PostgreSQL not reachable at {shown} (set {POSTGRES_URL_VAR}): {reason}"
        if _in_ci():
            pytest.fail(f"CI is set, so PostgreSQL tests must run: {message}", pytrace=False)
        pytest.skip(message)
    yield server
    server.drop_all()


@pytest.fixture(scope="session")
def _postgres_engine(postgres_server: PostgresServer) -> Iterator[Engine]:
    url = postgres_server.create_database()
    db.upgrade(url)
    engine = db.make_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "market40.db"
    db.upgrade(str(path))
    return path


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on a migrated, empty registry (once per backend)."""
    if request.param == "sqlite":
        path = tmp_path / "market40.db"
        shutil.copyfile(request.getfixturevalue("_sqlite_template"), path)
        engine = db.make_engine(str(path))
        yield engine
        engine.dispose()
    else:
        engine = request.getfixturevalue("_postgres_engine")
        truncate_all(engine)
        yield engine


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session on ``engine``; rolled back and closed after the test."""
    with Session(engine) as session:
        yield session


@pytest.fixture(params=BACKENDS)
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database with no tables (once per backend)."""
    if request.param == "sqlite":
        yield db.database_url(str(tmp_path / "empty.db"))
    else:
        server: PostgresServer = request.getfixturevalue("postgres_server")
        url = server.create_database()
        yield url
        server.drop_database(url)


# --- a small registry: Hạ Long, Chợ Hạ Long I, stall A-12 ---------------------


@pytest.fixture
def locality(session: Session) -> Locality:
    """Phường Hạ Long, a commune-level unit since 1 July 2025 (committed)."""
    row = Locality(code="06688", name="Phường Hạ Long", kind="commune", unit_type="phường",
                   province="Quảng Ninh", valid_from=date(2025, 7, 1))
    session.add(row)
    session.commit()
    return row


@pytest.fixture
def market(session: Session, locality: Locality) -> Market:
    """Chợ Hạ Long I, code HL1, tier I (committed)."""
    row = Market(code="HL1", name="Chợ Hạ Long I", tier="I", tier_source="QĐ UBND tỉnh Quảng Ninh",
                 tier_date=date(2020, 1, 1), is_central=True, locality_id=locality.id)
    session.add(row)
    session.commit()
    return row


@pytest.fixture
def stall(session: Session, market: Market) -> Stall:
    """Stall A-12 of HL1, operating (committed)."""
    row = Stall(market_id=market.id, code="A-12", shop_name="Hải sản Cô Lan", goods_category="hải sản",
                owner_name="Nguyễn Thị Lan", owner_phone="0912345678")
    session.add(row)
    session.commit()
    return row


# --- the demo province, built once per run ------------------------------------------------

#: The deployment secret the demo registries are built and used with (enrollment codes are HMACs under it).
DEMO_SECRET = "test-secret-key-of-enough-length"


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    import fcntl
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _build_once(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, name: str,
                build: Any) -> Path:
    """``root/name``, made by ``build(folder)`` once for the whole run (the xdist workers share one build)."""
    root = tmp_path_factory.getbasetemp()
    if hasattr(request.config, "workerinput"):  # an xdist worker: the run's folder is shared by all
        root = root.parent
    path = root / name
    with _file_lock(root / f"{name}.lock"):
        if not path.exists():
            building = root / f"{name}.building"
            shutil.rmtree(building, ignore_errors=True)
            building.mkdir()
            os.replace(build(building), path)
    return path


def _cli(folder: Path, *args: str) -> str:
    """Runs ``market40 *args`` in ``folder`` with the demo secret; returns its output (it must succeed)."""
    from click.testing import CliRunner

    import cli
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        patch.setenv("MARKET40_SECRET_KEY", DEMO_SECRET)
        patch.delenv("MARKET40_DATABASE_URL", raising=False)
        patch.delenv("MARKET40_TX_STORE", raising=False)
        result = CliRunner().invoke(cli.main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    """The demo registry file, built by the CLI once for the whole run; never write to it (copy it)."""
    def build(building: Path) -> Path:
        _cli(building, "--db", str(building / "demo.db"), "demo", "--no-walkthrough")
        for suffix in ("-wal", "-shm"):
            assert not (building / f"demo.db{suffix}").exists()
        return building / "demo.db"
    return _build_once(request, tmp_path_factory, "demo-template.db", build)


@pytest.fixture(scope="session")
def demo_activity_template(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest,
                           demo_template: Path) -> Path:
    """A folder with the demo province and two months of its synthetic activity, built once for the whole run
    (never write to it: copy it): ``demo.db`` after ``market40 tx demo --end 2025-06 --months 2 --out activity``
    and ``market40 reconcile --period 2025-06 --months 2``, its store ``demo.transfers.duckdb`` and ``activity/``."""
    def build(building: Path) -> Path:
        shutil.copyfile(demo_template, building / "demo.db")
        for args in (["tx", "demo", "--end", "2025-06", "--months", "2", "--out", str(building / "activity")],
                     ["reconcile", "--period", "2025-06", "--months", "2"]):
            _cli(building, "--db", str(building / "demo.db"), *args)
        return building
    return _build_once(request, tmp_path_factory, "demo-activity", build)


@pytest.fixture(scope="session")
def demo_secret() -> str:
    """The secret the demo template was built with: use it to run commands on a copy."""
    return DEMO_SECRET


@pytest.fixture
def demo_copy(demo_template: Path, tmp_path: Path) -> Path:
    """A private copy of the demo registry for one test."""
    path = tmp_path / "demo.db"
    shutil.copyfile(demo_template, path)
    return path


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    """Marks a test whose body failed (``item.call_failed``), for fixtures that keep evidence at teardown."""
    report = yield
    if report.when == "call":
        item.call_failed = report.failed
    return report
