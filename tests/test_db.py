"""market40.db: where the database is, engines, sessions, migrations."""
from datetime import date
from pathlib import Path

import psycopg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel, select

from market40 import db
from market40.exceptions import Conflict, InvalidComponent, InvalidFormat, Market40Error
from market40.models import Locality, Market

REGISTRY_TABLES = {"locality", "locality_link", "market", "stall", "payment_account",
                   "app_user", "user_scope", "audit_event", "enrollment_code",
                   "census_entry", "reconcile_run", "stall_period", "reconcile_anomaly"}


# --- database_url -------------------------------------------------------------


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.delenv(db.ENV_VAR, raising=False)
    return monkeypatch


def test_default_is_market40_db_in_working_directory(no_env, tmp_path):
    no_env.chdir(tmp_path)
    assert db.database_url() == f"sqlite:///{tmp_path / 'market40.db'}"


def test_environment_variable_is_used_when_nothing_explicit(no_env):
    no_env.setenv(db.ENV_VAR, "postgresql://app:s3cret@db.internal:5432/market40")
    assert db.database_url() == "postgresql+psycopg://app:s3cret@db.internal:5432/market40"


def test_explicit_beats_environment(no_env, tmp_path):
    no_env.setenv(db.ENV_VAR, "postgresql://app@db.internal/market40")
    assert db.database_url(str(tmp_path / "mine.db")) == f"sqlite:///{tmp_path / 'mine.db'}"


def test_relative_path_becomes_absolute_sqlite_url(no_env, tmp_path):
    no_env.chdir(tmp_path)
    assert db.database_url("data/registry.db") == f"sqlite:///{tmp_path / 'data' / 'registry.db'}"


@pytest.mark.parametrize("given, expected", [
    ("postgresql://u@h/d", "postgresql+psycopg://u@h/d"),
    ("postgres://u@h/d", "postgresql+psycopg://u@h/d"),  # Heroku-style
    ("postgresql+psycopg://u@h:5433/d", "postgresql+psycopg://u@h:5433/d"),
    ("sqlite:///relative.db", "sqlite:///relative.db"),
    ("sqlite:////abs/market40.db", "sqlite:////abs/market40.db"),
    ("  sqlite:///spaces.db  ", "sqlite:///spaces.db"),
    (":memory:", "sqlite://"),
])
def test_urls_are_normalised(no_env, given, expected):
    assert db.database_url(given) == expected


def test_other_databases_are_refused_without_showing_the_password(no_env):
    with pytest.raises(InvalidComponent) as info:
        db.database_url("mysql://root:hunter2@localhost/market40")
    assert info.value.field == "database URL"
    assert "hunter2" not in str(info.value) and "mysql" in str(info.value)


def test_garbage_url_is_refused_without_showing_the_password(no_env):
    with pytest.raises(InvalidFormat) as info:
        db.database_url("not a url://root:hunter2@x")
    assert "hunter2" not in str(info.value)


# --- SQLite engine ------------------------------------------------------------------


def test_sqlite_pragmas_are_on(tmp_path):
    engine = db.make_engine(str(tmp_path / "pragmas.db"))
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == db.SQLITE_BUSY_TIMEOUT_MS
    finally:
        engine.dispose()


def test_in_memory_database_is_shared_by_the_engine():
    engine = db.make_engine(":memory:")
    try:
        SQLModel.metadata.create_all(engine)
        with db.session_scope(engine) as session:
            session.add(Locality(code="193", name="Hạ Long", kind="district", unit_type="thành phố",
                                 province="Quảng Ninh", valid_from=date(2020, 1, 1)))
        with db.session_scope(engine) as session:
            assert session.exec(select(Locality.name)).all() == ["Hạ Long"]
    finally:
        engine.dispose()


# --- migrations -------------------------------------------------------------------


def test_migrations_produce_exactly_the_models_schema(empty_db_url):
    db.upgrade(empty_db_url)
    engine = db.make_engine(empty_db_url)
    try:
        with engine.connect() as conn:
            assert REGISTRY_TABLES <= set(inspect(conn).get_table_names())
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, SQLModel.metadata) == []
    finally:
        engine.dispose()


def test_current_revision_does_not_create_a_missing_file(tmp_path):
    missing = tmp_path / "typo.db"
    assert db.current_revision(str(missing)) is None
    assert not missing.exists()


def test_upgrade_is_idempotent(empty_db_url):
    assert db.current_revision(empty_db_url) is None
    db.upgrade(empty_db_url)
    db.upgrade(empty_db_url)
    assert db.current_revision(empty_db_url) == db.head_revision() is not None


def test_init_refuses_a_database_that_has_tables(empty_db_url):
    db.init(empty_db_url)
    engine = db.make_engine(empty_db_url)
    try:
        with db.session_scope(engine) as session:
            session.add(Locality(code="193", name="Hạ Long", kind="district", unit_type="thành phố",
                                 province="Quảng Ninh", valid_from=date(2020, 1, 1)))
        with pytest.raises(Conflict, match="already has"):
            db.init(empty_db_url)
        with db.session_scope(engine) as session:  # refused: the data is still there
            assert session.exec(select(Locality.code)).all() == ["193"]

        db.init(empty_db_url, drop_existing=True)  # asked to: a fresh registry
        with db.session_scope(engine) as session:
            assert session.exec(select(Locality.code)).all() == []
        assert db.current_revision(empty_db_url) == db.head_revision()
    finally:
        engine.dispose()


def test_downgrade_to_base_removes_the_registry(empty_db_url):
    db.upgrade(empty_db_url)
    command.downgrade(db.alembic_config(empty_db_url), "base")
    engine = db.make_engine(empty_db_url)
    try:
        with engine.connect() as conn:
            assert not REGISTRY_TABLES & set(inspect(conn).get_table_names())
    finally:
        engine.dispose()
    assert db.current_revision(empty_db_url) is None


def test_migrations_ship_inside_the_package():
    assert db.MIGRATIONS_DIR == Path(db.__file__).resolve().parent / "migrations"
    assert (db.MIGRATIONS_DIR / "env.py").is_file()
    assert (db.MIGRATIONS_DIR / "script.py.mako").is_file()
    assert (db.MIGRATIONS_DIR / "versions" / "0001_initial.py").is_file()


# --- sessions -----------------------------------------------------------------------


def test_session_scope_commits_on_success(engine, locality):
    with db.session_scope(engine) as session:
        session.add(Market(code="HL1", name="Chợ Hạ Long I", tier="I", locality_id=locality.id))
    with db.session_scope(engine) as session:
        market = session.exec(select(Market)).one()
    assert market.name == "Chợ Hạ Long I"  # still readable after the session closed


def test_session_scope_rolls_back_everything_on_error(engine, locality):
    with pytest.raises(RuntimeError, match="power cut"):
        with db.session_scope(engine) as session:
            session.add(Market(code="HL1", name="Chợ Hạ Long I", locality_id=locality.id))
            session.flush()  # written to the database, not committed
            session.add(Market(code="HL2", name="Chợ Hạ Long II", locality_id=locality.id))
            raise RuntimeError("power cut")
    with db.session_scope(engine) as session:
        assert session.exec(select(Market)).all() == []


# --- the test suite's own reset of PostgreSQL -----------------------------------------


def test_test_reset_empties_postgres_without_the_truncate_fallback(_postgres_engine):
    """The per-test reset (tests/dbreset.py) takes its fast path: the rows go and the ids restart.

    It once fell back to TRUNCATE for every test because psycopg refused its SQL, which no
    test noticed and which cost the suite about a minute.
    """
    import dbreset

    engine = _postgres_engine
    with db.session_scope(engine) as session:
        session.add(Locality(code="00001", name="Xã Một", kind="commune", unit_type="xã",
                             province="Quảng Ninh", valid_from=date(2025, 7, 1)))
    before = list(dbreset._TRUNCATED)
    dbreset.truncate_all(engine)
    assert dbreset._TRUNCATED == before
    with db.session_scope(engine) as fresh:
        assert fresh.exec(select(Locality)).all() == []
        again = Locality(code="00002", name="Xã Hai", kind="commune", unit_type="xã",
                         province="Quảng Ninh", valid_from=date(2025, 7, 1))
        fresh.add(again)
        fresh.flush()
        assert again.id == 1


@pytest.mark.postgres
def test_a_pooled_postgres_connection_is_pinged_only_after_sitting_idle(postgres_server, monkeypatch):
    """No ``SELECT 1`` round trip before every request: a connection used a moment ago goes straight out;
    one idle longer than PING_AFTER_IDLE is pinged, and replaced when the server has dropped it."""
    url = postgres_server.create_database()
    engine = db.make_engine(url)
    pings: list[int] = []
    ping = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda c: pings.append(1) or ping(c))
    monkeypatch.setattr(db, "PING_AFTER_IDLE", 3600.0)  # however slow the machine, "a moment ago"
    try:
        first = engine.raw_connection()
        backend = first.driver_connection.info.backend_pid
        first.close()
        for _ in range(3):
            engine.raw_connection().close()
        assert pings == []
        with psycopg.connect(url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (backend,))
        monkeypatch.setattr(db, "PING_AFTER_IDLE", 0.0)
        again = engine.raw_connection()
        cursor = again.cursor()
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,) and again.driver_connection.info.backend_pid != backend
        assert pings == [1]
        again.close()
    finally:
        engine.dispose()
        postgres_server.drop_database(url)


def test_pool_sizes_come_from_the_environment(monkeypatch):
    """MARKET40_DB_POOL and MARKET40_DB_OVERFLOW (gevent servers keep every connection: 16, none over)."""
    monkeypatch.setenv("MARKET40_DB_POOL", "16")
    monkeypatch.setenv("MARKET40_DB_OVERFLOW", "0")
    engine = db.make_engine("postgresql://market40@127.0.0.1:1/nothing")  # no connection is made
    assert (engine.pool.size(), engine.pool._max_overflow) == (16, 0)
    monkeypatch.delenv("MARKET40_DB_OVERFLOW")
    monkeypatch.setenv("MARKET40_DB_POOL", " 4 ")
    engine = db.make_engine("postgresql://market40@127.0.0.1:1/nothing")
    assert (engine.pool.size(), engine.pool._max_overflow) == (4, 10)


@pytest.mark.parametrize("name, value, least", [("MARKET40_DB_POOL", "zero", 1), ("MARKET40_DB_POOL", "0", 1),
                                                ("MARKET40_DB_OVERFLOW", "-1", 0), ("MARKET40_DB_OVERFLOW", "2.5", 0)])
def test_a_bad_pool_size_names_the_variable_the_limit_and_the_value(monkeypatch, name, value, least):
    monkeypatch.setenv(name, value)
    with pytest.raises(Market40Error) as caught:  # the CLI says it in a line, in the run's language
        db.make_engine("postgresql://market40@127.0.0.1:1/nothing")
    assert str(caught.value) == f"{name}: a whole number of connections, at least {least}; got {value!r}"
