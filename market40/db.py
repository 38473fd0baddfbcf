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

import logging
import os
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, event, inspect
from sqlalchemy.engine import URL, Connection, Engine, create_engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError
from sqlalchemy.pool import StaticPool
from sqlmodel import Session

from market40.exceptions import Conflict, InvalidComponent, InvalidFormat, Market40Error

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
    "begin_write",
    "refresh_statistics",
    "schema_state",
    "SchemaBehind",
    "describe_error",
    "check_schema",
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
    savepoints are transactional too, not only INSERT/UPDATE/DELETE). A
    transaction takes SQLite's write lock before its first write, waiting for
    it up to the busy timeout (see :func:`begin_write`).

    Bound parameters never appear in error messages or logs
    (``hide_parameters``): they hold owners' names, phones and account numbers.
    """
    resolved = make_url(database_url(url))
    if resolved.get_backend_name() != "sqlite":
        # MARKET40_DB_POOL: connections kept open per process; MARKET40_DB_OVERFLOW: how many more may
        # open under load, each closed again when returned. `market40 serve` with gevent workers keeps
        # every connection it may open (web/server.py).
        size = _pool_setting("MARKET40_DB_POOL", 5, least=1)
        overflow = _pool_setting("MARKET40_DB_OVERFLOW", max(size, 10), least=0)
        server = create_engine(resolved, echo=echo, pool_size=size, max_overflow=overflow, hide_parameters=True)
        _ping_when_idle(server)
        return server
    kwargs: dict[str, Any] = {}
    if resolved.database in (None, "", ":memory:"):
        # One connection shared by all, or every checkout would see an empty database.
        kwargs = {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
    engine = create_engine(resolved, echo=echo, hide_parameters=True, **kwargs)
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    event.listen(engine, "before_cursor_execute", _sqlite_before_execute)
    return engine


def _pool_setting(name: str, default: int, *, least: int) -> int:
    """An integer connection-pool setting from the environment (``default`` when unset)."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        value = least - 1
    if value < least:
        raise Market40Error(f"{name}: a whole number of connections, at least {least}; got {text!r}")
    return value


#: A pooled connection back from its last use less than this many seconds ago is taken as alive; one idle
#: longer is pinged (``SELECT 1``) before it is handed out, and replaced if the server has dropped it.
PING_AFTER_IDLE = 5.0


def _ping_when_idle(engine: Engine) -> None:
    """SQLAlchemy's ``pool_pre_ping``, but only for connections that sat idle in the pool.

    ``pool_pre_ping`` pings on every checkout: on PostgreSQL a round trip (a quarter of a page view's wall
    time and ~0.1 CPU-ms on each side) before each request's own statements. A connection used a moment
    ago is alive but for a server restart in that moment; then the statement fails as a disconnect,
    SQLAlchemy invalidates every pooled connection at once, and the next checkouts connect afresh.
    """
    import time

    from sqlalchemy.exc import InvalidatePoolError
    dialect, key = engine.dialect, "market40.returned"

    def connected(dbapi_connection: Any, record: Any) -> None:
        record.info[key] = None  # just connected: no ping needed

    def checked_in(dbapi_connection: Any, record: Any) -> None:
        if dbapi_connection is not None:
            record.info[key] = time.monotonic()

    def checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        returned = record.info.get(key, 0.0)
        if returned is None or time.monotonic() - returned < PING_AFTER_IDLE:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            if not dialect.is_disconnect(error, dbapi_connection, None):
                raise
            # the server went away (a restart, most likely): every pooled connection is as old as this one,
            # so the pool drops them all and this checkout connects afresh
            raise InvalidatePoolError("the pooled connection was dropped") from error

    event.listen(engine, "connect", connected)
    event.listen(engine, "checkin", checked_in)
    event.listen(engine, "checkout", checked_out)


def begin_write(session: Session) -> None:
    """Declare that ``session``'s unit of work writes: take the database's write lock now.

    On SQLite a transaction starts as a reader; when it writes after reading, it cannot
    become the writer once another connection has committed in between (SQLITE_BUSY,
    which the busy timeout does not cover). This ends a transaction that has only read
    and starts ``BEGIN IMMEDIATE`` instead, which *waits* for the lock (up to the busy
    timeout). Call it before the reads a write depends on (check, then act). Writing
    without calling it is safe too: the first write of a transaction takes the lock the
    same way. A no-op on PostgreSQL (row locks and constraints do the work there), and
    when the transaction already holds the lock.
    """
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return
    _take_write_lock(connection, connection.connection.driver_connection)


#: The registry's tables a bulk write fills (imports, the demo), whose planner statistics :func:`refresh_statistics`
#: renews.
BULK_TABLES = ("market", "stall", "payment_account", "census_entry", "app_user", "audit_event")
#: A bulk write renews a table's statistics when it added or changed at least this many rows and more than this
#: share of the rows PostgreSQL's statistics assume (autovacuum's own rule is 50 rows and 10 %).
ANALYZE_MIN_ROWS, ANALYZE_SHARE = 1_000, 0.1
#: The statistics target of that ANALYZE (PostgreSQL's default is 100: it samples 300 × the target rows).
STATISTICS_TARGET = 30


def refresh_statistics(session: Session, tables: tuple[str, ...] = BULK_TABLES, *, changed: int | None = None) -> None:
    """PostgreSQL: give the planner fresh statistics on ``tables`` now (``ANALYZE``), then commit.

    Call it after a bulk write has committed. Until autovacuum's next analyze (a minute or more
    later, and never where autovacuum is off) PostgreSQL plans on what it knew before the load. Just
    after 12,000 accounts were loaded into an empty registry, it read an owner's accounts through
    every verified account's index entry: 1.1 ms for each page view instead of 0.2. ANALYZE reads a
    sample of each table (9,000 rows at :data:`STATISTICS_TARGET`): ~0.15 s for each of ``stall`` and
    ``payment_account`` at 100,000 rows, about as much at a million. With ``changed`` (the rows the write added or
    changed), only the tables that many rows behind: never analysed, or ``changed`` at least
    :data:`ANALYZE_MIN_ROWS` and above :data:`ANALYZE_SHARE` of the rows the planner assumes (an
    import run again, or a market added to a large registry, costs nothing). SQLite is left alone: its
    planner chooses the same indexes without statistics (measured on the owner's pages), and
    ``sqlite_stat1`` would change plans the tests have checked.
    """
    connection = session.connection()
    if connection.dialect.name != "postgresql" or (changed is not None and changed < ANALYZE_MIN_ROWS):
        return
    try:
        if changed is not None:
            assumed = dict(connection.exec_driver_sql(
                "SELECT relname, reltuples FROM pg_class WHERE relkind = 'r' AND relname = ANY(%(names)s) "
                "AND relnamespace = to_regnamespace(current_schema())::oid", {"names": list(tables)}).fetchall())
            # reltuples is -1 before a table's first ANALYZE (PostgreSQL 14+; 0 before that)
            tables = tuple(t for t in tables if assumed.get(t, -1) <= 0 or changed > ANALYZE_SHARE * assumed[t])
        if tables:
            # a first look (9,000 rows a table, not 30,000: 0.3 s instead of 0.9 for two tables of 100,000
            # rows) is all these plans need; autovacuum's own analyze later uses the server's setting
            connection.exec_driver_sql(f"SET LOCAL default_statistics_target = {STATISTICS_TARGET}")
            connection.exec_driver_sql("ANALYZE " + ", ".join(f'"{table}"' for table in tables))
        session.commit()
    except DBAPIError as error:  # the write is committed; fresh statistics only make later reads faster
        session.rollback()
        logging.getLogger(__name__).warning("planner statistics not renewed (autovacuum will): %s",
                                            " ".join(str(error.orig or error).split())[:300])


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


class SchemaBehind(Market40Error):
    """The database's schema is not the one this version of market40 needs."""


def schema_state(url_or_engine: str | Engine | None = None) -> tuple[str, str | None, str | None]:
    """``(state, current, head)``: state is ``current``, ``behind`` (run ``db upgrade``),
    ``ahead`` (a newer market40 migrated it) or ``empty`` (no registry)."""
    head = head_revision()
    if isinstance(url_or_engine, Engine):
        with url_or_engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
    else:
        current = current_revision(url_or_engine)
    if current is None:
        return "empty", None, head
    if current == head:
        return "current", current, head
    known = {script.revision for script in ScriptDirectory.from_config(_scripts_config()).walk_revisions()}
    return ("behind" if current in known else "ahead"), current, head


def check_schema(url_or_engine: str | Engine | None = None) -> None:
    """Raise :class:`SchemaBehind` unless the registry is at this version's schema."""
    state, current, head = schema_state(url_or_engine)
    if state == "behind":
        raise SchemaBehind(f"the registry's schema is at revision {current}, this market40 needs {head}: "
                           "run `market40 db upgrade` (back the database up first)")
    if state == "ahead":
        raise SchemaBehind(f"the registry's schema is at revision {current}, newer than this market40 knows "
                           f"({head}): install the market40 version that migrated it")


_QUOTED = re.compile(r"\"[^\"]*\"|'[^']*'")


def describe_error(error: BaseException) -> str:
    """One line saying what a database error means and what to do, with no data in it.

    Bound parameters, DETAIL lines (PostgreSQL prints the duplicate key's value there)
    and quoted values are left out: they may hold owners' names, phones, account numbers.
    """
    orig = getattr(error, "orig", None) or error
    text = str(orig).split("\n", 1)[0]
    code = getattr(orig, "sqlstate", None) or ""
    low = text.lower()
    if "database is locked" in low or "database table is locked" in low or code in ("55P03", "40P01"):
        return ("the registry is busy: another market40 command or the web app is writing to it; "
                "try again in a moment")
    if "readonly database" in low or "read-only" in low or code == "25006":
        return "cannot write to the registry: the database file or its folder is read-only"
    if "disk is full" in low or "disk full" in low or code == "53100" or getattr(orig, "errno", None) == 28:
        return "the disk holding the registry is full: free some space, then try again"
    if "unable to open database file" in low:
        return "cannot open the registry file: check that its folder exists and that you may write there"
    if "disk i/o error" in low or "malformed" in low or "not a database" in low:
        return "the registry file is damaged or unreadable: restore it from a backup (`market40 restore`)"
    if "no such table" in low or "no such column" in low or code in ("42P01", "42703"):
        return "the registry's schema is older than this market40: run `market40 db upgrade`"
    if code.startswith("08") or "could not connect" in low or "connection refused" in low:
        return "cannot reach the database server: check that it runs and that the URL is right"
    name = type(error).__name__
    kind = f"{name} {code}".strip()
    if code or isinstance(error, DBAPIError):
        primary = getattr(getattr(orig, "diag", None), "message_primary", None) or text
        return f"database error ({kind}): {_QUOTED.sub('…', primary)[:200]}"
    return f"database error ({kind})"


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


_LOCK = "market40.write_lock"
_WRITE = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER)\b", re.IGNORECASE)


def _sqlite_on_begin(connection: Connection) -> None:
    connection.info[_LOCK] = False
    # Straight to the driver (as _take_write_lock does): a statement through SQLAlchemy would run the
    # engine's execution events and context for a bare BEGIN, on every read-only request too.
    try:
        connection.connection.driver_connection.execute("BEGIN")
    except Exception as error:
        if type(error).__module__.startswith("sqlite3"):
            raise OperationalError("BEGIN", None, error, hide_parameters=True) from None
        raise


def _sqlite_before_execute(connection: Connection, cursor: Any, statement: str, parameters: Any, context: Any,
                           executemany: bool) -> None:
    if connection.info.get(_LOCK) is False and _WRITE.match(statement):
        _take_write_lock(connection, cursor.connection)


def _take_write_lock(connection: Connection, raw: Any) -> None:
    """Swap a read-only transaction for ``BEGIN IMMEDIATE`` (see :func:`begin_write`)."""
    if connection.info.get(_LOCK) is not False:
        return  # outside a transaction begun by SQLAlchemy, or already the writer
    if connection.in_nested_transaction():
        return  # a savepoint cannot be moved; its outer transaction decides
    raw.execute("COMMIT")  # only reads so far: nothing is lost
    try:
        raw.execute("BEGIN IMMEDIATE")  # waits for the writer, up to the busy timeout
    except BaseException as error:
        raw.execute("BEGIN")  # never leave the connection outside a transaction
        if isinstance(error, Exception) and type(error).__module__.startswith("sqlite3"):
            raise OperationalError("BEGIN IMMEDIATE", None, error, hide_parameters=True) from None
        raise
    connection.info[_LOCK] = True


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
