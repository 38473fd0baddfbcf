"""Backups that restore: the registry and the transaction store, copied consistently while in use.

A backup is a folder::

    backup-2026-12-02/
      manifest.json          what is in it: version, schema revision, backend, files and their SHA-256
      registry.db            an SQLite registry (SQLite's online backup API: a consistent snapshot
                             while the web app reads and writes)
      registry.pgdump        or a PostgreSQL registry (pg_dump, custom format: one snapshot)
      transfers.duckdb       the DuckDB transaction store, if there is one (copied through DuckDB,
                             never as a file that a batch job may be writing)

The deployment secret (``MARKET40_SECRET_KEY`` or ``.market40-secret``) is **not** in it, on
purpose: it keys every enrollment code and signs every session, so it is kept apart from
the data (a stolen backup alone opens nothing). Without it, a restored registry still holds
every stall and account, but every enrollment code and session stops working.

No click, no Flask: the CLI (``market40 backup`` / ``market40 restore``) prints.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from . import __version__, db
from .exceptions import Conflict, Market40Error, NotFound

__all__ = ["BackupReport", "backup", "restore", "SECRET_REMINDER", "MANIFEST"]

MANIFEST = "manifest.json"
SQLITE_FILE = "registry.db"
POSTGRES_FILE = "registry.pgdump"
STORE_FILE = "transfers.duckdb"

SECRET_REMINDER = ("the deployment secret (MARKET40_SECRET_KEY or .market40-secret) is NOT in the backup: keep "
                   "a copy of it separately and safely; without it every enrollment code and every session stops "
                   "working after a restore")


@dataclass
class BackupReport:
    """What a backup or restore did."""

    folder: str
    backend: str
    revision: str | None
    files: dict[str, int] = field(default_factory=dict)  # name → bytes
    store: str | None = None  # where the transaction store came from / went to
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"folder": self.folder, "backend": self.backend, "revision": self.revision, "files": self.files,
                "store": self.store, "notes": self.notes}


# ------------------------------------------------------------------ backup

def backup(url: str | None, dest: str | os.PathLike[str], *, store: str | None = None) -> BackupReport:
    """Copy the registry at ``url`` (and the transaction store at ``store``, if it exists) into ``dest``.

    ``dest`` is a folder that must not exist yet or be empty. Safe while the web app and
    batch jobs run: each part is one consistent snapshot.
    """
    resolved = make_url(db.database_url(url))
    folder = Path(dest)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise Conflict(f"{folder}: already exists and is not an empty folder; choose a new one")
    revision = db.current_revision(url)
    if revision is None:
        raise NotFound(f"no registry in {db.redact(str(resolved))}: nothing to back up")
    folder.mkdir(parents=True, exist_ok=True)
    backend = resolved.get_backend_name()
    report = BackupReport(str(folder), backend, revision)
    try:
        if backend == "sqlite":
            _sqlite_copy(_sqlite_path(resolved), folder / SQLITE_FILE)
            report.files[SQLITE_FILE] = (folder / SQLITE_FILE).stat().st_size
        else:
            _pg_dump(resolved, folder / POSTGRES_FILE)
            report.files[POSTGRES_FILE] = (folder / POSTGRES_FILE).stat().st_size
        if store and store != ":memory:" and Path(store).exists():
            _duckdb_copy(store, folder / STORE_FILE)
            report.files[STORE_FILE] = (folder / STORE_FILE).stat().st_size
            report.store = store
        else:
            report.notes.append("no transaction store to copy" + (f" at {store}" if store else ""))
        manifest = {"format": 1, "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    "market40": __version__, "backend": backend, "revision": revision,
                    "files": {name: {"bytes": size, "sha256": _sha256(folder / name)}
                              for name, size in report.files.items()},
                    "secret": "not included: " + SECRET_REMINDER}
        (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)  # no half backup that looks whole
        raise
    return report


# ------------------------------------------------------------------ restore

def restore(src: str | os.PathLike[str], url: str | None, *, store: str | None = None,
            force: bool = False) -> BackupReport:
    """Restore the backup folder ``src`` into the database at ``url`` (and the store at ``store``).

    Refuses a target that already holds a registry (or a store file), unless ``force``: then
    it is replaced. The files are checked against the manifest's SHA-256 first.
    """
    folder = Path(src)
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        raise NotFound(f"{folder}: not a market40 backup (no {MANIFEST})")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        files = manifest["files"]
    except (ValueError, KeyError, TypeError):
        raise Market40Error(f"{manifest_path}: damaged manifest") from None
    for name, info in files.items():
        if not (folder / name).is_file() or _sha256(folder / name) != info.get("sha256"):
            raise Market40Error(f"{folder / name}: missing or damaged (its SHA-256 differs from the manifest)")
    resolved = make_url(db.database_url(url))
    backend = resolved.get_backend_name()
    source = SQLITE_FILE if SQLITE_FILE in files else POSTGRES_FILE
    if source not in files:
        raise Market40Error(f"{folder}: the backup holds no registry")
    if (source == SQLITE_FILE) != (backend == "sqlite"):
        raise Conflict(f"{folder} holds a{' SQLite' if source == SQLITE_FILE else ' PostgreSQL'} registry; restore "
                       f"it into a{'n SQLite file' if source == SQLITE_FILE else ' PostgreSQL database'} "
                       "(copy between the two with an export, not a backup)")
    report = BackupReport(str(folder), backend, manifest.get("revision"))
    if backend == "sqlite":
        target = _sqlite_path(resolved)
        if Path(target).exists() and db.current_revision(url) is not None and not force:
            raise Conflict(f"{target} already holds a registry: restore into a new place, or use --force to "
                           "replace it")
        _sqlite_copy(str(folder / SQLITE_FILE), Path(target))
    else:
        if _has_tables(url) and not force:
            raise Conflict(f"{db.redact(str(resolved))} already holds tables: restore into an empty database, "
                           "or use --force to replace them")
        _pg_restore(resolved, folder / POSTGRES_FILE, clean=force)
    report.files[source] = files[source]["bytes"]
    if STORE_FILE in files:
        if not store or store == ":memory:":
            report.notes.append("the backup has a transaction store but no place was given for it")
        else:
            if Path(store).exists() and not force:
                raise Conflict(f"{store} already exists: restore the transaction store into a new place, or "
                               "use --force to replace it")
            Path(store).unlink(missing_ok=True)
            Path(store + ".wal").unlink(missing_ok=True)
            _duckdb_copy(str(folder / STORE_FILE), Path(store))
            report.files[STORE_FILE] = files[STORE_FILE]["bytes"]
            report.store = store
    state, current, head = db.schema_state(url)
    if state == "behind":
        report.notes.append(f"the restored registry is at revision {current}: run `market40 db upgrade` before "
                            "serving it")
    return report


# ------------------------------------------------------------------ the parts

def _sqlite_path(resolved: Any) -> str:
    if resolved.database in (None, "", ":memory:"):
        raise Market40Error("an in-memory database cannot be backed up or restored")
    return str(resolved.database)


def _sqlite_copy(source: str, target: Path) -> None:
    """SQLite's online backup API: one consistent snapshot, even while others write (WAL included)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=db.SQLITE_BUSY_TIMEOUT_MS / 1000)
    try:
        dst = sqlite3.connect(partial)
        try:
            src.backup(dst)
            check = dst.execute("PRAGMA integrity_check").fetchone()[0]
            if check != "ok":
                raise Market40Error(f"{source}: the copy failed its integrity check ({check})")
            dst.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
        finally:
            dst.close()
    except sqlite3.Error as error:
        partial.unlink(missing_ok=True)
        raise Market40Error(f"{source}: cannot copy the registry ({error})") from None
    finally:
        src.close()
    for suffix in ("-wal", "-shm"):
        Path(str(target) + suffix).unlink(missing_ok=True)
    os.replace(partial, target)


def _duckdb_copy(source: str, target: Path) -> None:
    """The transaction store through DuckDB (read-only attach, COPY FROM DATABASE): never a torn file."""
    import duckdb
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        con = duckdb.connect(str(partial))
        try:
            escaped = source.replace("'", "''")
            con.execute(f"ATTACH '{escaped}' AS source_store (READ_ONLY)")
            name = con.execute("SELECT current_database()").fetchone()[0]
            con.execute(f'COPY FROM DATABASE source_store TO "{name}"')
            con.execute("DETACH source_store")
            con.execute("CHECKPOINT")
        finally:
            con.close()
    except duckdb.Error as error:
        partial.unlink(missing_ok=True)
        raise Market40Error(f"{source}: cannot copy the transaction store ({str(error).splitlines()[0]}); if a "
                            "batch job (tx import, reconcile) is running, back up again when it ends") from None
    os.replace(partial, target)


def _libpq(resolved: Any) -> tuple[str, dict[str, str]]:
    """A libpq URL without the password, and the environment carrying it (not on the command line)."""
    env = dict(os.environ)
    if resolved.password:
        env["PGPASSWORD"] = str(resolved.password)
    url = resolved.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    return url, env


def _run(command: list[str], env: dict[str, str], what: str) -> None:
    tool = command[0]
    if shutil.which(tool) is None:
        raise Market40Error(f"{tool} not found: install the PostgreSQL client tools (e.g. apt install "
                            "postgresql-client) to {what}")
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        reason = " ".join((done.stderr or done.stdout).split())[:300]
        raise Market40Error(f"{tool} failed ({what}): {reason}")


def _pg_dump(resolved: Any, target: Path) -> None:
    url, env = _libpq(resolved)
    _run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges", "--file", str(target), "--dbname", url],
         env, "back up the registry")


def _pg_restore(resolved: Any, source: Path, *, clean: bool) -> None:
    url, env = _libpq(resolved)
    command = ["pg_restore", "--no-owner", "--no-privileges", "--single-transaction", "--exit-on-error",
               "--dbname", url]
    if clean:
        command[1:1] = ["--clean", "--if-exists"]
    _run(command + [str(source)], env, "restore the registry")


def _has_tables(url: str | None) -> bool:
    engine = db.make_engine(url)
    try:
        with engine.connect() as connection:
            return bool(inspect(connection).get_table_names())
    finally:
        engine.dispose()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
