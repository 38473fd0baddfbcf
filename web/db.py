"""One database session per request, committed before the response leaves (not after).

Views get it with :func:`get_session` (or a :class:`Registry` for the signed-in user
with :func:`registry`). The session is committed in ``after_request`` for every
response below 500 that wrote something (a read-only page view is neither flushed
nor committed: its read transaction ends with the session), so audit events written while
refusing access (403) are kept, and a failed commit becomes an error page instead of a
success page that lied.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

from flask import Flask, current_app, g, has_app_context
from sqlalchemy import event
from sqlmodel import Session

from market40.services import storage
from market40.services.registry import Actor, Registry

__all__ = ["init_app", "get_session", "registry", "actor", "anonymous_actor", "driver_cursor"]


def init_app(app: Flask) -> None:
    engine = app.config.get("ENGINE")
    if engine is None:
        engine = storage.make_engine(app.config.get("DATABASE_URL"))
    app.extensions["market40.engine"] = engine
    if not event.contains(engine, "before_cursor_execute", _mark_write):
        event.listen(engine, "before_cursor_execute", _mark_write)
    app.after_request(_commit)
    app.teardown_request(_close)


def get_session() -> Session:
    if "db" not in g:
        g.db = Session(current_app.extensions["market40.engine"], expire_on_commit=False)
    return g.db


@contextmanager
def driver_cursor() -> Iterator[tuple[Any, Any]]:
    """A DB-API cursor from the app's pool, and the dialect, for read-only statements on the driver.

    No ORM session and no transaction: SQLite's driver runs a lone SELECT in autocommit (the engine
    leaves BEGIN to SQLAlchemy, see :func:`market40.db.make_engine`), PostgreSQL's connection is put
    in autocommit for the block (no BEGIN, no ROLLBACK round trip). The connection goes back to the
    pool at the end, as after any request. Never for writes: nothing here commits.
    """
    engine = current_app.extensions["market40.engine"]
    connection = engine.raw_connection()
    try:
        driver = connection.driver_connection
        autocommit = engine.dialect.name == "postgresql" and not driver.autocommit
        if autocommit:
            driver.autocommit = True
        cursor = connection.cursor()
        try:
            yield cursor, engine.dialect
        except engine.dialect.loaded_dbapi.Error as error:  # as the ORM would raise it (guards: 503, 409)
            from sqlalchemy.exc import DBAPIError
            raise DBAPIError.instance(None, None, error, engine.dialect.loaded_dbapi.Error, hide_parameters=True,
                                      dialect=engine.dialect) from error
        finally:
            cursor.close()
            if autocommit:
                driver.autocommit = False
    finally:
        connection.close()


def actor() -> Actor:
    """The signed-in user as the registry's actor (cached for the request).

    An owner's scope is their stall alone (the registry ignores market and locality
    scopes for owners), so their actor is made without reading the scope table.
    """
    if "actor" not in g:
        user = g.user
        if user.role == "owner":
            g.actor = Actor(name=f"user:{user.id}", role="owner", user_id=user.id, markets=frozenset(),
                            localities=frozenset(), stall_id=user.stall_id)
        else:
            g.actor = Actor.for_user(get_session(), user)
    return g.actor


def registry() -> Registry:
    return Registry(get_session(), actor())


def anonymous_actor() -> Actor:
    from flask import request
    return Actor(name=f"web:{request.remote_addr or 'unknown'}", role="anonymous")


_READS = frozenset({"SELECT", "BEGIN", "BEGIN "})


def _mark_write(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
    """Notes that this request's session wrote (anything but a SELECT), whatever path the write took."""
    if statement.lstrip()[:6].upper() not in _READS and has_app_context():
        g.db_wrote = True


def _commit(response: Any) -> Any:
    """Commit a response below 500, else roll back; either failing leaves no cookie change behind.

    A commit that fails (the database busy past its timeout, a constraint refusing a change
    made at the same time) turns the response into the error page instead of a success page
    that lied, and the session cookie is not re-issued: no half-done login.
    """
    from sqlalchemy.exc import SQLAlchemyError

    from .guards import database_failure, discard_cookie_changes
    session: Session | None = g.get("db")
    if response.status_code >= 500:
        discard_cookie_changes()
        if session is not None:
            session.rollback()
        return response
    if session is not None:
        if not (g.get("db_wrote") or session.new or session.dirty or session.deleted):
            # A read-only request (a page view): nothing to commit, nothing to flush. Its read transaction
            # ends at teardown, right after (closing the session gives the connection back, rolled back);
            # a streamed response ends it here, as the stream may stay open for hours.
            if response.is_streamed:
                session.rollback()
            return response
        try:
            session.commit()
        except SQLAlchemyError as error:
            body, status, headers = database_failure(error)
            response.status_code = status
            response.set_data(body)
            response.mimetype = "text/html"
            response.headers.pop("Location", None)
            response.headers.update(headers)
    return response


def _close(exc: BaseException | None) -> None:
    session: Session | None = g.pop("db", None)
    if session is not None:
        if exc is not None:
            session.rollback()
        session.close()


def sender() -> Any:
    """The deployment's message sender (``MARKET40_SENDER``; :func:`market40.services.notices.sender`), built once
    per app."""
    app = current_app
    found = app.extensions.get("market40.sender")
    if found is None:
        from market40.services import notices
        found = app.extensions["market40.sender"] = notices.sender(app.config.get("SENDER"))
    return found
