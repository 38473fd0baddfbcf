"""The per-test reset of the shared PostgreSQL test database (used by tests/conftest.py).

Its own module so a guard test can import it: several test folders have a conftest, and which one
``import conftest`` finds depends on the collection order.
"""
from __future__ import annotations

from sqlalchemy import inspect
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError


def truncate_all(engine: Engine) -> None:
    """Empties every table and restarts the id sequences, as ``TRUNCATE ... RESTART IDENTITY CASCADE`` would.

    By ``DELETE`` (children before parents) and ``setval``: a TRUNCATE gives each table and index new files,
    which costs the server about ten times as much for the few rows a test leaves. If a DELETE is refused
    (a cycle of foreign keys), the TRUNCATE does it.
    """
    order = _delete_order(engine)
    quote = engine.dialect.identifier_preparer.quote
    try:
        with engine.begin() as conn:
            for table in order:
                conn.exec_driver_sql(f"DELETE FROM {quote(table)}")
            # No '%' in this SQL: psycopg reads '%I' as a placeholder and refuses the statement,
            # which once sent every test down the slow TRUNCATE path unnoticed.
            conn.exec_driver_sql(_RESTART_SEQUENCES)
    except DBAPIError:
        _TRUNCATED.append(engine.url.database or "")
        with engine.begin() as conn:
            names = ", ".join(quote(t) for t in order)
            conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")


_RESTART_SEQUENCES = (
    "SELECT setval((quote_ident(schemaname) || '.' || quote_ident(sequencename))::regclass, start_value, false) "
    "FROM pg_sequences WHERE schemaname = current_schema() AND last_value IS NOT NULL")
_TRUNCATED: list[str] = []  # databases that needed the TRUNCATE fallback (a guard test reads it)


_DELETE_ORDERS: dict[str, list[str]] = {}


def _delete_order(engine: Engine) -> list[str]:
    """The tables (without alembic_version), children before parents."""
    key = engine.url.render_as_string(hide_password=False)
    if key not in _DELETE_ORDERS:
        with engine.connect() as conn:
            sorted_names = inspect(conn).get_sorted_table_and_fkc_names()
        tables = [name for name, _ in sorted_names if name and name != "alembic_version"]
        _DELETE_ORDERS[key] = tables[::-1]
    return _DELETE_ORDERS[key]
