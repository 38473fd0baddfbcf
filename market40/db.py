"""Where the registry lives: database URL, engine, sessions and migrations.

An SQLite file (``market40.db`` in the working directory) by default; a
PostgreSQL server by URL for a multi-user deployment. The schema is created
and changed only by the Alembic migrations shipped in ``market40/migrations``
(no ``alembic.ini`` needed).

>>> database_url("postgresql://market40@db.internal/market40")
'postgresql+psycopg://market40@db.internal/market40'
>>> database_url("sqlite:///registry.db")
'sqlite:///registry.db'
>>> database_url(":memory:")
'sqlite://'

No Flask, no click: configuration comes in as arguments, and the one
environment variable (``MARKET40_DATABASE_URL``) is read in
:func:`database_url` alone.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, event, inspect
from sqlalchemy.engine import URL, Connection, Engine, create_engine, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import StaticPool
from sqlmodel import Session

from market40.exceptions import Conflict, InvalidComponent, InvalidFormat

__all__ = [
    "ENV_VAR",
    "DEFAULT_FILENAME",
    "MIGRATIONS_DIR",
    "database_url",
    "make_engine",
    "session_scope",
    "alembic_config",
    "upgrade",
    "init",
    "current_revision",
    "head_revision",
]

#: Environment variable holding the database URL (or an SQLite file path).
ENV_VAR = "MARKET40_DATABASE_URL"
#: The SQLite file used when nothing else is given, in the working directory.
DEFAULT_FILENAME = "market40.db"
#: The Alembic environment shipped inside the package.
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

#: How long SQLite waits for another writer before "database is locked" (ms).
SQLITE_BUSY_TIMEOUT_MS = 5000

_POSTGRES_DRIVERS = {"postgres", "postgresql", "postgresql+psycopg"}


def database_url(explicit: str | None = None) -> str:
    """The database URL to use, as a string SQLAlchemy understands.

    In order: ``explicit``, then ``$MARKET40_DATABASE_URL``, then
    ``market40.db`` in the working directory. Either may be a URL or a plain
    file path (an SQLite database; ``:memory:`` for a throw-away one).
    ``postgresql://`` and ``postgres://`` URLs get the psycopg 3 driver.

    Raises :class:`~market40.exceptions.InvalidComponent` for a database other
    than SQLite or PostgreSQL and :class:`~market40.exceptions.InvalidFormat`
    for text that is not a URL.
    """
    raw = (explicit or os.environ.get(ENV_VAR) or "").strip()
    if not raw:
        return _sqlite_file_url(DEFAULT_FILENAME)
    if raw == ":memory:":
        return "sqlite://"
    if "://" not in raw:
        return _sqlite_file_url(raw)
    try:
        url = make_url(raw)
    except ArgumentError:
        raise InvalidFormat(f"not a database URL: {redact(raw)!r}", field="database URL",
                            value=redact(raw), limit="a URL such as postgresql://user@host/db, or a file path") from None
    if url.drivername in _POSTGRES_DRIVERS:
        url = url.set(drivername="postgresql+psycopg")
    elif url.get_backend_name() != "sqlite":
        shown = url.render_as_string(hide_password=True)
        raise InvalidComponent(f"unsupported database {url.get_backend_name()!r} in {shown!r}: "
                               "use SQLite or PostgreSQL", field="database URL", value=shown,
                               limit="sqlite or postgresql (psycopg 3)")
    return url.render_as_string(hide_password=False)


def make_engine(url: str | None = None, *, echo: bool = False) -> Engine:
    """An engine for ``url`` (resolved by :func:`database_url`).

    SQLite connections get write-ahead logging, foreign keys, a busy timeout
    and real transactions (SQLAlchemy emits ``BEGIN``, so reads, DDL and
    savepoints are transactional too, not only INSERT/UPDATE/DELETE).
    """
    resolved = make_url(database_url(url))
    if resolved.get_backend_name() != "sqlite":
        # MARKET40_DB_POOL: connections kept per process (gevent servers with many open loa streams
        # set it higher; `market40 serve` does); as many again may open under load.
        size = int(os.environ.get("MARKET40_DB_POOL", "5"))
        return create_engine(resolved, echo=echo, pool_pre_ping=True, pool_size=size, max_overflow=max(size, 10))
    kwargs: dict[str, Any] = {}
    if resolved.database in (None, "", ":memory:"):
        # One connection shared by all, or every checkout would see an empty database.
        kwargs = {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
    engine = create_engine(resolved, echo=echo, **kwargs)
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits when the block ends and rolls back on any exception.

    Objects stay readable after the commit (``expire_on_commit=False``), so
    a service can return what it wrote.
    """
    session = Session(engine, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def alembic_config(url: str | None = None) -> Config:
    """An Alembic configuration for the migrations inside the package and ``url``.

    For Alembic's own commands, e.g. writing a new migration::

        command.revision(alembic_config("dev.db"), message="...", autogenerate=True)
    """
    config = _scripts_config()
    # ConfigParser interpolates "%": escape it (URL-encoded passwords have some).
    config.set_main_option("sqlalchemy.url", database_url(url).replace("%", "%%"))
    return config


def upgrade(url: str | None = None, revision: str = "head") -> None:
    """Bring the database up to ``revision`` (all migrations by default).

    Running it again when up to date changes nothing. All steps run in one
    transaction: if one fails, the database is left as it was.
    """
    with _migration(url) as (_, config):
        command.upgrade(config, revision)


def init(url: str | None = None, *, drop_existing: bool = False) -> None:
    """Create the registry in an empty database (all migrations).

    Refuses with :class:`~market40.exceptions.Conflict` if the database already
    has tables, unless ``drop_existing`` is true: then every table in it is
    dropped first (all data is lost).
    """
    with _migration(url) as (connection, config):
        tables = sorted(inspect(connection).get_table_names())
        if tables and not drop_existing:
            shown = ", ".join(tables[:5]) + (", ..." if len(tables) > 5 else "")
            raise Conflict(f"the database already has {len(tables)} tables ({shown}): "
                           "upgrade it instead, or drop the existing tables first")
        if tables:
            existing = MetaData()
            existing.reflect(connection)
            existing.drop_all(connection)
        command.upgrade(config, "head")


def current_revision(url: str | None = None) -> str | None:
    """The migration the database is at, or None if it has none.

    An SQLite file that does not exist is not created: its revision is None.
    """
    resolved = make_url(database_url(url))
    if resolved.get_backend_name() == "sqlite" and resolved.database not in (None, "", ":memory:"):
        if not Path(resolved.database).exists():
            return None
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str | None:
    """The newest migration shipped with this version of market40."""
    return ScriptDirectory.from_config(_scripts_config()).get_current_head()


# --- internals --------------------------------------------------------------


def _scripts_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    return config


def _sqlite_file_url(path: str) -> str:
    return URL.create("sqlite", database=str(Path(path).expanduser().absolute())).render_as_string()


def redact(raw: str) -> str:
    """``raw`` with anything between ``://`` and ``@`` hidden (it may hold a password)."""
    scheme, sep, rest = raw.partition("://")
    if sep and "@" in rest:
        return f"{scheme}://***@{rest.rpartition('@')[2]}"
    return raw


def _sqlite_on_connect(dbapi_connection: Any, connection_record: Any) -> None:
    # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin
    # (see _sqlite_on_begin); PRAGMAs below then run outside any transaction.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")  # readers never block the writer
        cursor.execute("PRAGMA synchronous = NORMAL")  # durable enough with WAL, much faster
    finally:
        cursor.close()


def _sqlite_on_begin(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN")


@contextmanager
def _migration(url: str | None) -> Iterator[tuple[Connection, Config]]:
    """A connection in a transaction, and an Alembic config that uses it.

    On SQLite, foreign keys are off meanwhile: batch migrations rebuild a
    table by copying it and dropping the original, and with foreign keys on,
    that DROP would first delete (ON DELETE CASCADE) every dependent row.
    The links are checked before committing instead.
    """
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            sqlite = connection.dialect.name == "sqlite"
            if sqlite:  # before BEGIN: the pragma has no effect inside a transaction
                raw = connection.connection.driver_connection
                raw.execute("PRAGMA foreign_keys = OFF")
            try:
                with connection.begin():
                    config = alembic_config(url)
                    config.attributes["connection"] = connection
                    yield connection, config
                    if sqlite:
                        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                        if broken:
                            raise Conflict(f"migration left {len(broken)} rows with broken foreign keys, "
                                           f"first in table {broken[0][0]!r}: rolled back")
            finally:
                if sqlite:
                    raw.execute("PRAGMA foreign_keys = ON")
    finally:
        engine.dispose()
