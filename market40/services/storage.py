"""The registry's storage as the doors see it: where it is, whether it exists, one unit of work.

The CLI and the web app never reach :mod:`market40.db` (an adapter) directly: they name a
database here and run their use cases inside :func:`unit_of_work`, one transaction that is
committed when the block ends and rolled back on any error.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from sqlmodel import Session

from .. import backup as _backup
from .. import db, messages
from ..txstore import store_path

__all__ = ["Storage", "unit_of_work", "database_url", "redact", "current_revision", "head_revision", "init",
           "upgrade", "backup", "restore", "store_path", "SECRET_REMINDER", "describe_failure", "check_schema",
           "make_engine", "session_scope", "describe_error", "schema_state"]

database_url = db.database_url
redact = db.redact
current_revision = db.current_revision
head_revision = db.head_revision
init = db.init
upgrade = db.upgrade
check_schema = db.check_schema
#: For a door that holds one engine for its life (the web app: a session per request).
make_engine = db.make_engine
session_scope = db.session_scope
describe_error = db.describe_error
schema_state = db.schema_state
backup = _backup.backup
restore = _backup.restore
SECRET_REMINDER = _backup.SECRET_REMINDER


class Storage:
    """An open registry database; ``with Storage(url) as storage:`` then ``storage.unit()`` per transaction."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = db.make_engine(url)

    @contextmanager
    def unit(self) -> Iterator[Session]:
        with db.session_scope(self.engine) as session:
            yield session

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> "Storage":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


#: The lines :func:`market40.db.describe_error` says → their code in :mod:`market40.messages`.
_FAILURES = {messages.text(code, "en"): code for code in (
    "failure.busy", "failure.read_only", "failure.full", "failure.cannot_open", "failure.damaged",
    "failure.old_schema", "failure.unreachable")}


def describe_failure(error: Exception, lang: str = "en") -> str | None:
    """One line, without data, for a locked, read-only, full or outdated database or a full disk
    (in ``lang``); ``None`` when ``error`` is none of these (a bug: let it be seen)."""
    import errno

    from sqlalchemy.exc import SQLAlchemyError
    if isinstance(error, SQLAlchemyError):
        said = db.describe_error(error)
        if said in _FAILURES:
            return messages.text(_FAILURES[said], lang)
        if said.startswith("database error (") and said.endswith(")") and lang != "en":
            return messages.text("failure.database", lang, detail=said[len("database error ("):-1])
        return said
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM,
                                                       getattr(errno, "EDQUOT", errno.ENOSPC)):
        where = f" {error.filename}" if error.filename else ""
        code = {errno.ENOSPC: "failure.disk_full", errno.EROFS: "failure.disk_read_only"}.get(error.errno)
        if code or lang != "en" or not error.strerror:
            reason = messages.text(code or "failure.refused", lang)
        else:
            reason = error.strerror  # the system's own words, in English
        return messages.text("failure.disk", lang, where=where, reason=reason)
    return None


@contextmanager
def unit_of_work(url: str) -> Iterator[Session]:
    """One transaction on the registry at ``url`` (committed at the end, rolled back on error)."""
    with Storage(url) as storage, storage.unit() as session:
        yield session
