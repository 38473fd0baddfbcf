"""The registry's storage as the doors see it: where it is, whether it exists, one unit of work.

The CLI and the web app never reach :mod:`market40.db` (an adapter) directly: they name a
database here and run their use cases inside :func:`unit_of_work`, one transaction that is
committed when the block ends and rolled back on any error.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from sqlmodel import Session

from .. import db

__all__ = ["Storage", "unit_of_work", "database_url", "redact", "current_revision", "head_revision", "init",
           "upgrade"]

database_url = db.database_url
redact = db.redact
current_revision = db.current_revision
head_revision = db.head_revision
init = db.init
upgrade = db.upgrade


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


@contextmanager
def unit_of_work(url: str) -> Iterator[Session]:
    """One transaction on the registry at ``url`` (committed at the end, rolled back on error)."""
    with Storage(url) as storage, storage.unit() as session:
        yield session
