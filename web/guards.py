"""Requests that must never become a 500: bad bytes, malformed codes, a busy or outdated database.

* **NUL bytes** (in the path, the query or any form field) are refused with 400 before a view
  runs: PostgreSQL cannot store them, and no field of the registry may hold one.
* **Malformed codes in URLs** (``/staff/markets/!!``, a CRLF, U+202E, 40 characters): the
  registry's :class:`~market40.exceptions.ValidationError` becomes 404 on a GET (no such page)
  and 400 otherwise, instead of a 500.
* **A busy database** (SQLite's write lock not free within the busy timeout): 503 with
  ``Retry-After``; **two changes at once** that a constraint refused (PostgreSQL's unique
  violations): 409. Both roll back the whole request.
* **A failed or refused request changes no cookie**: whenever the response is 500 or more, or
  the commit fails, the session cookie is not re-issued, so a login whose audit row was rolled
  back does not leave a working session behind.
* **An outdated schema**: while the database is behind the code, every page answers 503 saying
  to run ``market40 db upgrade``, and the log says so once.
* **Logs leak nothing**: an unexpected database error is logged with its traceback but with
  its message reduced to :func:`market40.db.describe_error` (no bound parameters, no DETAIL
  line with a duplicate key's value).
"""
from __future__ import annotations

import logging
import sys
import traceback
from typing import Any

from flask import Flask, current_app, g, request
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from market40.services import storage as registry_storage
from market40.exceptions import ValidationError

__all__ = ["init_app", "discard_cookie_changes", "database_failure"]

log = logging.getLogger("market40.web")

#: How long a client should wait before retrying after a busy database (seconds).
RETRY_AFTER = 2


def discard_cookie_changes() -> None:
    """Send no session cookie with this response: the browser keeps what it had."""
    g.market40_discard_session = True


def _guard_session_saving(app: Flask) -> None:
    interface = app.session_interface
    save = interface.save_session

    def save_session(app: Flask, session: Any, response: Any) -> None:
        if g.get("market40_discard_session"):
            return
        save(app, session, response)

    interface.save_session = save_session  # type: ignore[method-assign]


def _page(status: int, title: str, message: str) -> str:
    from flask import render_template
    return render_template("errors/error.html", status=status, title=title, message=message, detail=None)


def _busy_page() -> str:
    return _page(503, _("Hệ thống đang bận"),
                 _("Nhiều người đang dùng cùng lúc. Vui lòng đợi vài giây rồi thử lại; chưa có gì được lưu."))


def _conflict_page() -> str:
    return _page(409, _("Dữ liệu vừa được thay đổi"),
                 _("Một thay đổi khác vừa được lưu cùng lúc. Hãy tải lại trang và thử lại; chưa có gì được lưu."))


def _outdated_page() -> str:
    return _page(503, _("Hệ thống đang bảo trì"),
                 _("Cơ sở dữ liệu cần được nâng cấp: người quản trị cần chạy lệnh `market40 db upgrade`."))


def database_failure(error: SQLAlchemyError) -> tuple[str, int, dict[str, str]]:
    """The page, status and headers for a database error that reached the door."""
    _rollback()
    discard_cookie_changes()
    text = registry_storage.describe_error(error)
    if isinstance(error, IntegrityError):
        log.warning("%s %s: refused, changed at the same time (%s)", request.method, request.path, text)
        return _conflict_page(), 409, {}
    if isinstance(error, OperationalError) and "busy" in text:
        log.warning("%s %s: database busy (%s)", request.method, request.path, text)
        return _busy_page(), 503, {"Retry-After": str(RETRY_AFTER)}
    if isinstance(error, PoolTimeout):  # every pooled connection stayed in use past the pool's timeout
        log.warning("%s %s: no database connection free (%s)", request.method, request.path, error)
        return _busy_page(), 503, {"Retry-After": str(RETRY_AFTER)}
    if "db upgrade" in text:
        log.error("%s %s: %s", request.method, request.path, text)
        return _outdated_page(), 503, {"Retry-After": "60"}
    raise error  # anything else is a bug: the 500 handler (and its scrubbed log) take it


def _rollback() -> None:
    session = g.get("db")
    if session is not None:
        session.rollback()


def _refuse_nul() -> Any:
    if "\x00" in request.path or "%00" in request.query_string.decode("latin-1"):
        return _bad_request()
    if request.method in ("POST", "PUT", "PATCH", "DELETE"):
        try:
            form = request.form
        except Exception:  # noqa: BLE001 - an unreadable body is the framework's 400
            return None
        if any("\x00" in key or any("\x00" in value for value in form.getlist(key)) for key in form):
            return _bad_request()
    if any("\x00" in value for values in request.args.listvalues() for value in values):
        return _bad_request()
    return None


def _bad_request() -> Any:
    from .errors import error_page
    return error_page(400)


def _validation_error(error: ValidationError) -> Any:
    """A malformed code in a URL: no such page (GET), or a request that cannot be understood."""
    _rollback()
    from .errors import error_page
    return error_page(404 if request.method in ("GET", "HEAD") else 400)


def _database_error(error: SQLAlchemyError) -> Any:
    return database_failure(error)


def _check_schema() -> Any:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    state = app.extensions.get("market40.schema")
    if state == "current" or request.endpoint == "static":
        return None
    try:
        found, current, head = registry_storage.schema_state(app.extensions["market40.engine"])
    except SQLAlchemyError as error:
        log.error("cannot read the registry's schema version: %s", registry_storage.describe_error(error))
        found, current, head = "unknown", None, None
    if found == "current":
        app.extensions["market40.schema"] = "current"
        return None
    if app.extensions.get("market40.schema_logged") != found:
        app.extensions["market40.schema_logged"] = found
        if found == "behind":
            log.error("the registry's schema is at revision %s, this market40 needs %s: run `market40 db "
                      "upgrade`; every page answers 503 until then", current, head)
        elif found == "ahead":
            log.error("the registry's schema is at revision %s, newer than this market40 knows (%s): install "
                      "the version that migrated it; every page answers 503 until then", current, head)
        else:
            log.error("the database holds no registry (state %s): create it with `market40 db init`, or "
                      "`market40 db upgrade`; every page answers 503 until then", found)
    return _outdated_page(), 503, {"Retry-After": "60"}


def _log_exception(app: Flask) -> Any:
    """Flask's exception log, with database errors' messages reduced to what they mean."""
    original = app.log_exception

    def log_exception(exc_info: Any) -> None:
        kind, error, tb = exc_info if exc_info != (None, None, None) else sys.exc_info()
        if not isinstance(error, SQLAlchemyError):
            return original(exc_info)
        frames = "".join(traceback.format_tb(tb))
        app.logger.error("Exception on %s [%s]\nTraceback (most recent call last):\n%s%s: %s", request.path,
                         request.method, frames, type(error).__name__, registry_storage.describe_error(error))
    return log_exception


def init_app(app: Flask) -> None:
    app.before_request_funcs.setdefault(None, []).insert(0, _refuse_nul)
    app.before_request_funcs[None].insert(0, _check_schema)
    app.register_error_handler(ValidationError, _validation_error)
    app.register_error_handler(SQLAlchemyError, _database_error)
    app.log_exception = _log_exception(app)  # type: ignore[method-assign]
    _guard_session_saving(app)
