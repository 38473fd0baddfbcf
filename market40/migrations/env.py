"""Alembic environment of market40, run through :mod:`market40.db`.

There is no ``alembic.ini``: :func:`market40.db.alembic_config` builds the
configuration and :func:`market40.db.upgrade` passes an open connection in
``config.attributes["connection"]``, inside a transaction it owns (so a failed
upgrade leaves nothing behind, on SQLite too). To write a new migration::

    from alembic import command
    from market40 import db
    command.revision(db.alembic_config("dev.db"), message="...", autogenerate=True)

(run it against a database upgraded to head, then review the file).
"""
from typing import Any

from alembic import context
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import AutoString

from market40 import models


def _render_item(type_: str, obj: Any, autogen_context: Any) -> Any:
    """Render SQLModel's and market40's column types as plain SQLAlchemy types.

    Migrations then import nothing from the application, and the DDL they
    emit is the same as the models' (AutoString is a VARCHAR, UTCDateTime a
    timestamp with time zone).
    """
    if type_ == "type" and isinstance(obj, AutoString):
        return f"sa.String(length={obj.length})" if obj.length else "sa.String()"
    if type_ == "type" and isinstance(obj, models.UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _configure(**kwargs: Any) -> None:
    context.configure(
        target_metadata=SQLModel.metadata,
        compare_type=True,
        render_item=_render_item,
        **kwargs,
    )


def _run_online(connection: Connection) -> None:
    _configure(
        connection=connection,
        # SQLite cannot ALTER most things: rebuild tables in batch mode instead.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run() -> None:
    config = context.config
    url = config.get_main_option("sqlalchemy.url")
    if context.is_offline_mode():
        _configure(url=url, literal_binds=True, render_as_batch=bool(url and url.startswith("sqlite")))
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_online(connection)
        return
    from market40 import db  # only when alembic is driven without market40.db

    engine = db.make_engine(url)
    try:
        with engine.connect() as connection:
            _run_online(connection)
            connection.commit()
    finally:
        engine.dispose()


# Alembic executes this file with its proxies installed; a plain import (for
# example pytest collecting doctests) must not try to migrate anything.
if hasattr(context, "config"):
    run()
