"""The transaction store: incoming transfers in a DuckDB file beside the registry.

Why a second store: a province's month is millions of transfers (8 M ≈ 600 MB of CSV), read
in full by every reconciliation and never changed. A columnar engine imports such a file in
seconds with bounded memory and aggregates it without Python loops; the registry (SQLite or
PostgreSQL) keeps what people edit and what the web app reads, including the results of each
reconciliation. The store is a local file even when the registry is a PostgreSQL server: the
batch jobs (``market40 tx import``, ``market40 reconcile``) run where the file is; nothing else
opens it.

Where it is (:func:`store_path`): ``--store PATH``, else ``$MARKET40_TX_STORE``, else beside an
SQLite registry (``market40.db`` → ``market40.transfers.duckdb``), else
``market40-transfers.duckdb`` in the working directory.

Tables: ``transfer`` (one incoming transfer: bank BIN, the bank's transaction id, booking time
in Vietnam time, credited account, amount in đồng, content, channel, import batch),
``import_batch`` (one imported file: its SHA-256, counts, who and when) and ``transfer_reject``
(rows that could not be read, with the reason).

Importing is one transaction: the file is read by :meth:`Layout.select_sql
<market40.transactions.Layout.select_sql>` straight into ``transfer``; rows that are not
incoming transfers move to ``transfer_reject`` (bad ones) or are counted and dropped (titles,
totals, outgoing); then every transfer already stored under the same bank and transaction id
(booked within :data:`DEDUP_WINDOW_DAYS` days) is removed from the new batch. BINs are stored
as the participant's registered BIN (an alternate BIN, :func:`market40.banks.by_bin`, is
translated on arrival), so the same transfer under both BINs is one transfer.

**Nothing is lost silently.** Every row of a file ends up stored (new or already stored),
skipped and counted (title, total and blank rows; outgoing transfers) or rejected with the
reason, and the importer checks on every import, for every layout, that these add up to the
rows of the file, counted independently of the reader (:func:`count_csv_rows`: line breaks
outside quoted fields; Python's ``csv`` module when the two disagree). When they do not,
:class:`UnaccountedRows` is raised and nothing is written. (DuckDB's reader, asked to set
aside the lines it cannot read, was seen to stop about 16 MB into a file with many bad dates
without an error: its reject tables are not used.)

A file whose SHA-256 was imported before *in full* (no rejected row) changes nothing; a file
imported with rejected rows (``--partial``) can be imported again, with corrected options:
the rows stored the first time are recognised as already stored, the others are added.
Whether a batch with rejected rows is kept or rolled back is the caller's decision
(``settle``: the CLI's all-or-nothing rule, :func:`market40.services.imports.settle`).
"""
from __future__ import annotations

import csv
import functools
import hashlib
import io
import mmap
import os
import re
import tempfile
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import duckdb

from . import formats, messages
from . import reconciliation as rules
from .exceptions import InvalidFormat, Market40Error, NotFound
from .transactions import LAYOUTS, Layout, Sniffed, fast_sql, sniff_csv

__all__ = ["ENV_VAR", "DEFAULT_FILENAME", "DEDUP_WINDOW_DAYS", "MEMORY_LIMIT", "store_path", "TransferStore", "BatchResult",
           "fingerprint", "count_csv_rows", "CsvCount", "UnaccountedRows", "canonical_bin_sql"]

ENV_VAR = "MARKET40_TX_STORE"
DEFAULT_FILENAME = "market40-transfers.duckdb"
#: The same bank transaction id booked this many days apart is still the same transfer (a
#: statement books on the value date, a webhook on the transaction date).
DEDUP_WINDOW_DAYS = 7
SCHEMA_VERSION = "1"
#: DuckDB's memory budget: beyond it, it spills to disk (``.duckdb-spill`` beside the store). The
#: import and reconcile of 8 M transfers run as fast within 512 MB as within 1 GB.
MEMORY_LIMIT = "512MB"

#: How ``transfer.tx_id`` is compressed. Transaction ids are nearly all distinct: DuckDB's default
#: choice for text weighs dictionary and FSST encodings on every row group, and storing 8 M ids that
#: way cost 2.9 CPU-s over reading them (measured 2026-12-03), more than any other column; zstd
#: stores them for 1.0, in a slightly larger file (51 MB against 40).
TX_ID_COMPRESSION = " USING COMPRESSION zstd"

Progress = Callable[[int, "int | None"], None]
#: Decides the fate of an import's open transaction: commits (setting ``written``) or rolls back.
Settle = Callable[[Any, "BatchResult"], None]


class UnaccountedRows(Market40Error):
    """The rows stored, skipped and rejected do not add up to the rows of the file: nothing was written."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS store_meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE IF NOT EXISTS import_batch (
    id INTEGER PRIMARY KEY, fingerprint VARCHAR NOT NULL, source VARCHAR NOT NULL, layout VARCHAR NOT NULL,
    channel VARCHAR NOT NULL, imported_at TIMESTAMP NOT NULL, imported_by VARCHAR NOT NULL,
    rows BIGINT NOT NULL, inserted BIGINT NOT NULL, duplicates BIGINT NOT NULL, outgoing BIGINT NOT NULL,
    other BIGINT NOT NULL, invalid BIGINT NOT NULL, amount HUGEINT NOT NULL,
    first_at TIMESTAMP, last_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS transfer (
    bank_bin VARCHAR, tx_id VARCHAR{tx_id_compression}, booked_at TIMESTAMP, account VARCHAR, amount BIGINT,
    content VARCHAR, channel VARCHAR, batch INTEGER);
CREATE TABLE IF NOT EXISTS transfer_reject (
    batch INTEGER NOT NULL, line BIGINT, tx_id VARCHAR, reason VARCHAR NOT NULL, raw VARCHAR);
"""


def store_path(registry_url: str | None = None, explicit: str | os.PathLike[str] | None = None) -> str:
    """Where the transaction store of a registry is (see the module docstring)."""
    if explicit:
        return str(explicit)
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        return env
    if registry_url and registry_url.startswith("sqlite"):
        from sqlalchemy.engine import make_url
        database = make_url(registry_url).database
        if not database or database == ":memory:":
            return ":memory:"
        path = Path(database)
        return str(path.with_name(path.stem + ".transfers.duckdb"))
    return str(Path.cwd() / DEFAULT_FILENAME)


def fingerprint(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class BatchResult:
    """What importing one file did."""

    source: str
    layout: str
    batch: int | None = None
    rows: int = 0
    inserted: int = 0
    duplicates: int = 0
    outgoing: int = 0
    other: int = 0
    invalid: int = 0
    amount: int = 0
    first_at: datetime | None = None
    last_at: datetime | None = None
    already_imported: bool = False
    problems: list[dict[str, Any]] = field(default_factory=list)  # the first invalid rows
    written: bool = False  # the batch was committed
    dry_run: bool = False
    rejects_file: str | None = None
    verdict: str = ""  # what became of the import, in words (set by the service)
    rejected: list[tuple] = field(default_factory=list, repr=False)  # every refused row, when asked for

    @property
    def changed(self) -> bool:
        return self.inserted > 0

    @property
    def accounted(self) -> int:
        """Rows stored (new or already stored), skipped (outgoing, title/total/blank) or rejected."""
        return self.inserted + self.duplicates + self.outgoing + self.other + self.invalid

    def summary(self, lang: str = "en") -> str:
        if self.already_imported:
            return messages.text("summary.transfers.already", lang, source=self.source, batch=self.batch)
        n = functools.partial(formats.count, lang=lang)
        span = (messages.text("summary.transfers.span", lang, first=formats.day(self.first_at.date(), lang),
                              last=formats.day(self.last_at.date(), lang))
                if self.first_at and self.last_at else "")
        stored = messages.text("summary.transfers.stored" if self.written or not self.verdict
                               else "summary.transfers.not_stored", lang)
        counts = messages.text("summary.transfers", lang, source=self.source, layout=self.layout, rows=n(self.rows),
                               inserted=n(self.inserted), stored=stored, amount=formats.money(self.amount, lang),
                               span=span, duplicates=n(self.duplicates), outgoing=n(self.outgoing),
                               other=n(self.other), invalid=n(self.invalid))
        said = self.verdict
        if said and lang != "en":  # the service said it in English: say it again in ``lang``
            said = messages.verdict(dry_run=self.dry_run, refused=bool(self.invalid and not self.written),
                                    changed=self.changed, partial=bool(self.invalid),
                                    rejects_file=self.rejects_file, already="transfers", lang=lang)
        return counts + (f". {messages.sentence(said, lang)}." if said else ".")

    def as_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "rejected"}
        for key in ("first_at", "last_at"):
            out[key] = out[key].isoformat(sep=" ") if out[key] else None
        return out


class TransferStore:
    """An open store. Use it as a context manager (``with TransferStore(path) as store:``)."""

    def __init__(self, path: str | os.PathLike[str] = ":memory:", *, read_only: bool = False,
                 memory_limit: str = MEMORY_LIMIT, threads: int | None = None) -> None:
        self.path = str(path)
        #: ``(since, end, found)``: whether :meth:`account_activity` found an alternate BIN stored
        #: among the transfers booked in ``[since, end)`` (None: not asked yet)
        self._alternates_seen: tuple[datetime, datetime, bool] | None = None
        if read_only and self.path != ":memory:" and not Path(self.path).exists():
            raise NotFound(f"no transaction store at {self.path}: import transfers first (market40 tx import)")
        try:
            self.con = duckdb.connect(self.path, read_only=read_only)
        except duckdb.IOException as error:
            raise Market40Error(f"cannot open the transaction store {self.path}: {error}") from None
        self.con.execute(f"SET memory_limit = '{memory_limit}'")
        self.con.execute("SET preserve_insertion_order = false")
        self.con.execute("SET enable_progress_bar = true")
        self.con.execute("SET enable_progress_bar_print = false")
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")
        temp = Path(self.path).parent / ".duckdb-spill" if self.path != ":memory:" else None
        if temp is not None and not read_only:
            self.con.execute(f"SET temp_directory = '{_sql_text(str(temp))}'")
        if not read_only:
            try:
                self.con.execute(_SCHEMA.format(tx_id_compression=TX_ID_COMPRESSION))
            except duckdb.Error:  # a DuckDB before 1.2 cannot compress text with zstd: its default choice
                self.con.execute(_SCHEMA.format(tx_id_compression=""))
            self.con.execute("INSERT OR IGNORE INTO store_meta VALUES ('schema_version', ?)", [SCHEMA_VERSION])

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> "TransferStore":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ---------------------------------------------------------------- progress

    def _run(self, sql: str, params: Sequence[Any] | None = None, progress: Progress | None = None) -> Any:
        """Execute one statement; with ``progress``, report DuckDB's percentage (0–100) meanwhile."""
        if progress is None:
            return self.con.execute(sql, params or [])
        done = threading.Event()

        def watch() -> None:
            while not done.wait(0.2):
                value = self.con.query_progress()
                if value >= 0:
                    progress(int(value), 100)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        try:
            return self.con.execute(sql, params or [])
        finally:
            done.set()
            watcher.join()
            progress(100, 100)

    # ---------------------------------------------------------------- import

    def import_csv(self, path: str | os.PathLike[str], *, layout: Layout | None = None, actor: str = "",
                   bank_bin: str | None = None, account: str | None = None, source: str | None = None,
                   file_fingerprint: str | None = None, sniffed: Sniffed | None = None,
                   progress: Progress | None = None, settle: Settle | None = None,
                   keep_rejected: bool = False) -> BatchResult:
        """Import a CSV export (any CSV layout, detected from its header unless ``layout`` is given).

        One pass stores the rows that are good transfers and marks the others (``channel``
        NULL). Only when some are marked, a second pass sorts them out with the SQL twin of
        :func:`parse_values`. The generic layout first tries a faster reader that types the
        date itself; a file it cannot read that way (a bad date, a row it would not take as it
        is) is read by the full path instead, inside the same transaction.

        The file's own count of rows and its SHA-256 (:func:`count_csv_rows`) are made in a
        thread while DuckDB reads the file (DuckDB works outside Python's lock): the count is
        checked before anything is committed, and a file already imported in full stops the
        read as soon as its digest is known (nothing changes). DuckDB's parallel reader is
        used unless the count finds line breaks inside quoted fields: then the file is read
        again with the sequential reader, inside the same transaction.

        ``settle(connection, result)`` commits or rolls back the batch (default: commit);
        ``keep_rejected`` fills ``result.rejected`` with every refused row. Raises
        :class:`UnaccountedRows` (nothing written) when the rows do not add up.
        """
        self._alternates_seen = None  # what account_activity saw may change now
        sniffed = sniffed or sniff_csv(path, layout)
        layout = sniffed.layout
        name = source or Path(path).name
        account = account or sniffed.account
        if file_fingerprint is not None:
            existing = self._imported_in_full(file_fingerprint)
            if existing is not None:
                return BatchResult(name, layout.name, batch=existing, already_imported=True)
        if layout.account_in_title and not account:
            counted = count_csv_rows(path, sniffed.data_offset)
            existing = self._imported_in_full(file_fingerprint or counted.digest)
            if existing is not None:
                return BatchResult(name, layout.name, batch=existing, already_imported=True)
            raise InvalidFormat(f"{name}: a {layout.title} names its account in the title rows, and none was "
                                "found: give the account number (--account)", field="account", value=None)
        counting = _Counting(self, path, sniffed.data_offset, known=file_fingerprint is not None)
        try:
            result = self._import_csv(path, sniffed, counting, name=name, actor=actor, bank_bin=bank_bin,
                                      account=account, file_fingerprint=file_fingerprint, progress=progress,
                                      settle=settle, keep_rejected=keep_rejected, sequential=False)
            if result is _QUOTED_NEWLINES:  # read again, sequentially (the count is kept)
                result = self._import_csv(path, sniffed, counting, name=name, actor=actor, bank_bin=bank_bin,
                                          account=account, file_fingerprint=file_fingerprint, progress=progress,
                                          settle=settle, keep_rejected=keep_rejected, sequential=True)
        finally:
            counting.join()
        assert isinstance(result, BatchResult)
        return result

    def _import_csv(self, path: str | os.PathLike[str], sniffed: Sniffed, counting: "_Counting", *, name: str,
                    actor: str, bank_bin: str | None, account: str | None, file_fingerprint: str | None,
                    progress: Progress | None, settle: Settle | None, keep_rejected: bool,
                    sequential: bool) -> "BatchResult | object":
        """One attempt of :meth:`import_csv`; returns ``_QUOTED_NEWLINES`` when the parallel reader may not be used."""
        layout = sniffed.layout
        positions = {name_: f"c{index}" for name_, index in sniffed.positions.items()}

        def source_sql(typed: bool) -> str:
            columns = {f"c{i}": "VARCHAR" for i in range(len(sniffed.header))}
            options = (f"header = true, skip = {sniffed.skip}, auto_detect = false, "
                       f"delim = '{_sql_text(sniffed.delimiter)}', quote = '\"', escape = '\"', "
                       "null_padding = true, strict_mode = false")
            if sequential:  # DuckDB's parallel reader refuses quoted line breaks with null_padding
                options += ", parallel = false"
            if typed:
                columns[positions["booked_at"]] = "TIMESTAMP"
                options += f", timestampformat = '{layout.date_formats[0]}'"
            return f"read_csv('{_sql_text(str(path))}', {options}, columns = {_struct(columns)})"

        canon = canonical_bin_sql("bank_bin")
        fast = layout.name == "generic" and bank_bin is None
        try:
            try:
                self.con.execute("BEGIN TRANSACTION")
                batch = self._next_batch()
                read = marked = 0
                if fast:  # clean files: one typed pass; a row it would not take sends the file to the full path
                    try:
                        self._run(f"INSERT INTO transfer SELECT {canon}, tx_id, booked_at, account, amount, content, "
                                  f"CASE WHEN ok THEN '{layout.channel}' END, {batch} "
                                  f"FROM ({fast_sql(layout, source_sql(True), positions)})", progress=progress)
                        read, marked = self._batch_counts(batch)
                    except duckdb.ConversionException:
                        self.con.execute("ROLLBACK")
                        self.con.execute("BEGIN TRANSACTION")
                        marked = -1
                    if marked:
                        self.con.execute("DELETE FROM transfer WHERE batch = ?", [batch])
                        fast = False
                select = layout.select_sql(source_sql(False), positions, bank_bin=bank_bin or layout.bank_bin,
                                           account=account)
                if not fast:
                    self._run(f"INSERT INTO transfer SELECT {canon}, tx_id, booked_at, account, amount, content, "
                              f"CASE WHEN kind = 'ok' THEN '{layout.channel}' END, {batch} FROM ({select})",
                              progress=progress)
                    read, marked = self._batch_counts(batch)
                counted = counting.result()
                if counting.already is not None:
                    self._rollback()
                    return BatchResult(name, layout.name, batch=counting.already, already_imported=True)
                if counted.quoted_newlines and not sequential:
                    self._rollback()
                    return _QUOTED_NEWLINES
            except (duckdb.InterruptException, duckdb.Error) as error:
                if isinstance(error, duckdb.InterruptException) or counting.already is not None:
                    counting.join()
                    if counting.already is not None:  # the digest came first: already imported in full
                        self._rollback()
                        return BatchResult(name, layout.name, batch=counting.already, already_imported=True)
                if not sequential and "quoted new lines" in str(error):
                    self._rollback()
                    return _QUOTED_NEWLINES
                raise
            counts: dict[str, int] = {}
            if marked:
                self.con.execute(f"CREATE OR REPLACE TEMP TABLE _marked AS SELECT kind, reason, raw, tx_id "
                                 f"FROM ({select}) WHERE kind <> 'ok'")
                counts = dict(self.con.execute("SELECT kind, count(*) FROM _marked GROUP BY kind").fetchall())
                self.con.execute("INSERT INTO transfer_reject SELECT ?, NULL, nullif(tx_id, ''), reason, raw "
                                 "FROM _marked WHERE kind = 'invalid'", [batch])
                self.con.execute("DROP TABLE _marked")
                self.con.execute("DELETE FROM transfer WHERE batch = ? AND channel IS NULL", [batch])
                if sum(counts.values()) != marked:
                    raise UnaccountedRows(_unaccounted_message(name, marked, sum(counts.values()),
                                                               "rows set aside by the first pass"))
            if read != counted.rows - counted.blank:
                exact = count_csv_rows_exactly(path, sniffed.data_offset, sniffed.delimiter)
                if read != exact.rows - exact.blank:
                    raise UnaccountedRows(_unaccounted_message(name, exact.rows, read + exact.blank,
                                                               "rows read"))
                counted = exact
            if keep_rejected and counts.get("invalid"):
                self._number_rejects(batch, path, sniffed)
            digest = file_fingerprint or counting.digest
            result = self._settle(batch, name, layout, digest, actor, rejects=None,
                                  extra_other=counts.get("other", 0) + counted.blank,
                                  extra_outgoing=counts.get("outgoing", 0), invalid=counts.get("invalid", 0),
                                  expected_rows=counted.rows, keep_rejected=keep_rejected)
            if result.problems:
                _locate(path, result.problems, sniffed.data_offset)
            self._finish(result, settle)
        except BaseException:
            self._rollback()
            raise
        return result

    def _number_rejects(self, batch: int, path: str | os.PathLike[str], sniffed: Sniffed) -> None:
        """Give the rows the SQL path refused (``transfer_reject.line`` NULL) their line in the file.

        DuckDB's reader does not say which line a row came from: one pass of Python's ``csv``
        reader finds each refused transaction id (in file order, for an id refused twice).
        Rows without an id keep no line. Used when every refused row is asked for (a rejects file).
        """
        column = sniffed.positions.get("tx_id")
        if column is None:
            return
        wanted: dict[str, list[int]] = {}
        for rid, tx_id in self.con.execute("SELECT rowid, tx_id FROM transfer_reject WHERE batch = ? AND line IS NULL "
                                           "AND tx_id IS NOT NULL ORDER BY rowid", [batch]).fetchall():
            wanted.setdefault(tx_id, []).append(rid)
        if not wanted:
            return
        found: list[tuple[int, int]] = []
        with open(path, "rb") as raw:
            base = raw.read(sniffed.data_offset).count(b"\n")  # lines before the first data row
            with io.TextIOWrapper(raw, encoding="utf-8" if "sig" in sniffed.encoding else sniffed.encoding,
                                  errors="replace", newline="") as text:
                reader = csv.reader(text, delimiter=sniffed.delimiter)
                previous = 0
                for cells in reader:
                    line, previous = base + previous + 1, reader.line_num
                    if len(cells) > column:
                        ids = wanted.get(cells[column].strip())
                        if ids:
                            found.append((ids.pop(0), line))
                            if not ids:
                                del wanted[cells[column].strip()]
                                if not wanted:
                                    break
        if found:
            self.con.execute("CREATE OR REPLACE TEMP TABLE _lines (rid BIGINT, line BIGINT)")
            _insert_rows(self.con, "_lines", ["rid", "line"], ["BIGINT", "BIGINT"], found)
            self.con.execute("UPDATE transfer_reject SET line = _lines.line FROM _lines "
                             "WHERE transfer_reject.rowid = _lines.rid")
            self.con.execute("DROP TABLE _lines")

    def _batch_counts(self, batch: int) -> tuple[int, int]:
        """Rows of ``batch`` in ``transfer``, and how many of them are marked (channel NULL)."""
        read, marked = self.con.execute("SELECT count(*), count(*) FILTER (WHERE channel IS NULL) FROM transfer "
                                        "WHERE batch = ?", [batch]).fetchone()
        return read, marked

    def _imported_in_full(self, digest: str) -> int | None:
        """The batch that imported this file in full (no rejected row), if any."""
        row = self.con.execute("SELECT id, invalid FROM import_batch WHERE fingerprint = ? ORDER BY id DESC LIMIT 1",
                               [digest]).fetchone()
        return row[0] if row is not None and row[1] == 0 else None

    def _rollback(self) -> None:
        """Roll back the open transaction, if there is one (a failed settle may have closed it)."""
        try:
            self.con.execute("ROLLBACK")
        except duckdb.TransactionException:
            pass

    def _finish(self, result: BatchResult, settle: Settle | None) -> None:
        """Commit the batch, or let ``settle`` decide (it commits or rolls back, and sets ``written``)."""
        if result.accounted != result.rows:
            raise UnaccountedRows(_unaccounted_message(result.source, result.rows, result.accounted, "rows"))
        if settle is None:
            self.con.execute("COMMIT")
            result.written = True
        else:
            settle(_Transaction(self.con), result)
        if not result.written:
            result.batch = None

    def import_transfers(self, transfers: Iterable[rules.Transfer], *, source: str, layout: str, channel: str,
                         file_fingerprint: str, actor: str = "",
                         rejected: Iterable[tuple] = (), other: int = 0,
                         outgoing: int = 0, rows: int | None = None, settle: Settle | None = None,
                         keep_rejected: bool = False) -> BatchResult:
        """Import transfers parsed in Python (XLSX exports, webhook feeds), through the same SQL path.

        ``rejected`` are ``(line, tx_id, reason, raw)`` of the rows the parser refused; ``other`` and
        ``outgoing`` the counts of rows it skipped; ``rows`` the rows of the file (checked against
        all of these). ``settle`` and ``keep_rejected`` as for :meth:`import_csv`.
        """
        self._alternates_seen = None  # what account_activity saw may change now
        existing = self._imported_in_full(file_fingerprint)
        if existing is not None:
            return BatchResult(source, layout, batch=existing, already_imported=True)
        rejected = list(rejected)
        with tempfile.TemporaryDirectory(prefix="market40-tx-") as folder:
            staged = Path(folder) / "transfers.csv"
            written = 0
            with open(staged, "w", encoding="utf-8", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(["bank_bin", "tx_id", "booked_at", "account", "amount", "content", "channel"])
                for t in transfers:
                    writer.writerow([t.bank_bin, t.tx_id, t.booked_at.isoformat(sep=" "), t.account, t.amount,
                                     t.content, t.channel or channel])
                    written += 1
            if rows is None:
                rows = written + len(rejected) + other + outgoing
            canon = canonical_bin_sql("bank_bin")
            self.con.execute("BEGIN TRANSACTION")
            try:
                batch = self._next_batch()
                self.con.execute(
                    f"INSERT INTO transfer SELECT {canon}, tx_id, booked_at, account, amount, content, channel, "
                    f"{batch} FROM read_csv('{_sql_text(str(staged))}', header = true, parallel = false, "
                    "auto_detect = false, quote = '\"', escape = '\"', columns = {'bank_bin': 'VARCHAR', "
                    "'tx_id': 'VARCHAR', 'booked_at': 'TIMESTAMP', 'account': 'VARCHAR', 'amount': 'BIGINT', "
                    "'content': 'VARCHAR', 'channel': 'VARCHAR'})")
                read, _ = self._batch_counts(batch)
                if read != written:
                    raise UnaccountedRows(_unaccounted_message(source, written, read, "transfers staged"))
                result = self._settle(batch, source, LAYOUTS.get(layout) or LAYOUTS["generic"], file_fingerprint,
                                      actor, channel=channel, extra_other=other, extra_outgoing=outgoing,
                                      rejects=rejected, expected_rows=rows, keep_rejected=keep_rejected)
                self._finish(result, settle)
            except BaseException:
                self._rollback()
                raise
        return result

    def _next_batch(self) -> int:
        return self.con.execute("SELECT coalesce(max(id), 0) + 1 FROM import_batch").fetchone()[0]

    def _settle(self, batch: int, source: str, layout: Layout, digest: str, actor: str, *,
                channel: str | None = None, extra_other: int = 0, extra_outgoing: int = 0,
                rejects: Sequence[tuple] | None = (), invalid: int = 0, expected_rows: int | None = None,
                keep_rejected: bool = False) -> BatchResult:
        """Count the new batch, record its refused rows, drop duplicates, record the batch.

        ``rejects`` are the refused rows (``(line, tx_id, reason, raw)``), or None when they are
        already in ``transfer_reject`` (``invalid`` of them); ``extra_other`` and
        ``extra_outgoing`` the counts of the rows skipped (titles, totals and blanks; outgoing);
        ``expected_rows`` the rows of the file (the batch's ``rows``).
        """
        con = self.con
        stored = con.execute("SELECT count(*) FROM transfer WHERE batch = ?", [batch]).fetchone()[0]
        if rejects is not None:
            invalid = len(rejects)
        result = BatchResult(source, layout.name, batch=batch, outgoing=extra_outgoing, other=extra_other,
                             invalid=invalid)
        counted = stored + extra_other + extra_outgoing + invalid
        result.rows = counted if expected_rows is None else expected_rows
        if rejects:
            _insert_rows(con, "transfer_reject", ["batch", "line", "tx_id", "reason", "raw"],
                         ["INTEGER", "BIGINT", "VARCHAR", "VARCHAR", "VARCHAR"],
                         ([batch, line, tx, reason, raw] for line, tx, reason, raw in rejects))
        if invalid:
            if keep_rejected:
                result.rejected = con.execute("SELECT line, tx_id, reason, raw FROM transfer_reject WHERE batch = ? "
                                              "ORDER BY line NULLS LAST", [batch]).fetchall()
            result.problems = [
                {"line": line, "tx_id": tx or None, "reason": reason, "raw": raw}
                for line, tx, reason, raw in con.execute(
                    "SELECT line, tx_id, reason, raw FROM transfer_reject WHERE batch = ? "
                    "ORDER BY line NULLS LAST, tx_id LIMIT 20", [batch]).fetchall()]
        low, high = con.execute("SELECT min(booked_at), max(booked_at) FROM transfer WHERE batch = ?",
                                [batch]).fetchone()
        if low is not None:
            result.duplicates = self._drop_duplicates(batch, low - timedelta(days=DEDUP_WINDOW_DAYS),
                                                      high + timedelta(days=DEDUP_WINDOW_DAYS))
        inserted, amount, first, last = con.execute(
            "SELECT count(*), coalesce(sum(amount), 0), min(booked_at), max(booked_at) FROM transfer "
            "WHERE batch = ?", [batch]).fetchone()
        result.inserted, result.amount, result.first_at, result.last_at = inserted, int(amount), first, last
        con.execute("INSERT INTO import_batch VALUES (?, ?, ?, ?, ?, current_localtimestamp(), ?, ?, ?, ?, ?, ?, ?, "
                    "?, ?, ?)",
                    [batch, digest, source, layout.name, channel or layout.channel, actor, result.rows, inserted,
                     result.duplicates, result.outgoing, result.other, result.invalid, int(amount), first, last])
        return result

    def _drop_duplicates(self, batch: int, low: datetime, high: datetime) -> int:
        """Remove from ``batch`` the transfers stored before (or twice in it): same BIN and id."""
        con = self.con
        window = "booked_at BETWEEN ? AND ?"
        # A 64-bit hash finds the candidates cheaply; the exact keys are then compared. Two cheap
        # questions first: is a key repeated inside the batch, and does one of the batch's keys
        # meet a key stored before (asked only when earlier rows fall in the window)?
        inside = con.execute("SELECT count(*) - count(DISTINCT hash(bank_bin, tx_id)) FROM transfer WHERE batch = ?",
                             [batch]).fetchone()[0]
        if not inside:
            earlier = con.execute(f"SELECT count(*) FROM transfer WHERE {window} AND batch <> ?",
                                  [low, high, batch]).fetchone()[0]
            if not earlier or not con.execute(
                    f"SELECT count(*) FROM transfer WHERE batch = ? AND hash(bank_bin, tx_id) IN ("
                    f"SELECT hash(bank_bin, tx_id) FROM transfer WHERE {window} AND batch <> ?)",
                    [batch, low, high, batch]).fetchone()[0]:
                return 0
        before = con.execute("SELECT count(*) FROM transfer WHERE batch = ?", [batch]).fetchone()[0]
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE _dup AS
            SELECT bank_bin, tx_id, min(batch) AS first_batch, min(rowid) FILTER (WHERE batch = ?) AS keep
            FROM transfer
            WHERE {window} AND hash(bank_bin, tx_id) IN (
                SELECT hash(bank_bin, tx_id) FROM transfer WHERE {window} GROUP BY 1 HAVING count(*) > 1)
            GROUP BY bank_bin, tx_id HAVING count(*) > 1""", [batch, low, high, low, high])
        con.execute("""
            DELETE FROM transfer WHERE rowid IN (
                SELECT t.rowid FROM transfer t JOIN _dup d USING (bank_bin, tx_id)
                WHERE t.batch = ? AND (d.first_batch < ? OR t.rowid <> d.keep))""", [batch, batch])
        con.execute("DROP TABLE _dup")
        return before - con.execute("SELECT count(*) FROM transfer WHERE batch = ?", [batch]).fetchone()[0]

    # ---------------------------------------------------------------- reading

    def batches(self) -> list[dict[str, Any]]:
        cursor = self.con.execute("SELECT * FROM import_batch ORDER BY id")
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]

    def count(self) -> int:
        return self.con.execute("SELECT count(*) FROM transfer").fetchone()[0]

    def transfers(self, start: datetime | None = None, end: datetime | None = None) -> Iterator[rules.Transfer]:
        """Stored transfers booked in ``[start, end)`` (for tests and small exports)."""
        sql = "SELECT bank_bin, tx_id, booked_at, account, amount, content, channel FROM transfer"
        params: list[Any] = []
        if start is not None:
            sql += " WHERE booked_at >= ? AND booked_at < ?"
            params = [start, end or datetime.max]
        for row in self.con.execute(sql + " ORDER BY booked_at, bank_bin, tx_id", params).fetchall():
            yield rules.Transfer(*row[:5], row[5] or "", row[6] or "statement")

    # ---------------------------------------------------------------- reconciliation

    def load_directory(self, rows: Iterable[rules.DirectoryRow], references: Iterable[tuple]) -> None:
        """Load the account directory and the stall references into temporary tables."""
        with tempfile.TemporaryDirectory(prefix="market40-dir-") as folder:
            path = Path(folder) / "dir.csv"
            with open(path, "w", encoding="utf-8", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(["bin", "number", "stall_id", "live_from", "live_to", "single"])
                for r in rows:
                    writer.writerow([r.bin, r.number, r.stall_id, r.live_from.isoformat(sep=" "),
                                     r.live_to.isoformat(sep=" ") if r.live_to else "", "true" if r.single else "false"])
            self.con.execute(
                f"CREATE OR REPLACE TEMP TABLE dir AS SELECT * FROM read_csv('{_sql_text(str(path))}', header = true, "
                "auto_detect = false, quote = '\"', escape = '\"', columns = {'bin': 'VARCHAR', 'number': 'VARCHAR', "
                "'stall_id': 'BIGINT', 'live_from': 'TIMESTAMP', 'live_to': 'TIMESTAMP', 'single': 'BOOLEAN'})")
            path = Path(folder) / "ref.csv"
            with open(path, "w", encoding="utf-8", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(["key", "stall_id", "ambiguous", "prefix"])
                for key, stall, ambiguous, prefix in references:
                    writer.writerow([key, "" if stall is None else stall, str(ambiguous).lower(),
                                     str(prefix).lower()])
            self.con.execute(
                f"CREATE OR REPLACE TEMP TABLE refkey AS SELECT * FROM read_csv('{_sql_text(str(path))}', "
                "header = true, auto_detect = false, columns = {'key': 'VARCHAR', 'stall_id': 'BIGINT', "
                "'ambiguous': 'BOOLEAN', 'prefix': 'BOOLEAN'})")
        self.con.execute("CREATE OR REPLACE TEMP TABLE dir_single AS SELECT DISTINCT bin, number, stall_id "
                         "FROM dir WHERE single")

    def account_activity(self, start: datetime, end: datetime, since: datetime,
                         progress: Progress | None = None) -> list[tuple]:
        """Per credited account: transfers in ``[start, end)`` and the latest in ``[since, end)``.

        Rows: ``(bin, account, transfers, amount, first_at, last_at, channels, last_any)``.
        """
        def query(bin_key: str) -> list[tuple]:
            return self._run(f"""
                SELECT {bin_key} AS bank_bin, account,
                       count(*) FILTER (WHERE booked_at >= $start) AS transfers,
                       coalesce(sum(amount) FILTER (WHERE booked_at >= $start), 0) AS amount,
                       min(booked_at) FILTER (WHERE booked_at >= $start) AS first_at,
                       max(booked_at) FILTER (WHERE booked_at >= $start) AS last_at,
                       list(DISTINCT channel) FILTER (WHERE booked_at >= $start) AS channels,
                       max(booked_at) AS last_any
                FROM transfer WHERE booked_at >= $since AND booked_at < $end
                GROUP BY 1, account""", {"start": start, "end": end, "since": min(since, start)},
                             progress=progress).fetchall()
        # Grouped by the stored BIN (cheap: no expression per row); imports store the registered
        # BIN, so the translated grouping is needed only when an alternate BIN is found stored.
        rows = query("bank_bin")
        found = any(row[0] in _alternate_bins() for row in rows)
        self._alternates_seen = (min(since, start), end, found)
        if found:
            rows = query(canonical_bin_sql("bank_bin"))
        return rows

    def attribute_rest(self, start: datetime, end: datetime, pattern: str, *, detail: bool = False,
                       accounts: Iterable[tuple[str, str]] | None = None) -> dict[str, list]:
        """Attribute the transfers of ``[start, end)`` that the single-owner accounts do not settle.

        ``accounts``: the ``(BIN, account)`` pairs those transfers went to, when the caller knows
        them (from :meth:`account_activity`: its pairs that no single-owner registration settles).
        Then only their rows are read, through a join with that short list; otherwise every row
        of the period is matched against the single-owner accounts. The answer is the same.

        The SQL twin of :func:`market40.reconciliation.attribute` for shared and unknown accounts
        (the directory and references come from :meth:`load_directory`). Returns aggregates:
        ``stalls`` (stall, method, transfers, amount, first, last, channels), ``unattributed``
        (bin, account, known, reason, transfers, amount, example content) and ``unknown``
        (bin, account, transfers, amount, by reference); with ``detail``, also ``rows``
        (tx_id, stall, method, reason) per transfer.
        """
        con = self.con
        text = rules.CONTENT_TEXT_SQL.format("r.content")
        # the stored BIN is the registered one unless an alternate BIN was found stored
        seen = self._alternates_seen
        plain = seen is not None and seen[0] <= start and end <= seen[1] and not seen[2]
        stored_bin = "t.bank_bin" if plain else canonical_bin_sql("t.bank_bin")
        if accounts is None:
            chosen = f"ANTI JOIN dir_single d ON d.bin = {stored_bin} AND d.number = t.account"
        else:
            con.execute("CREATE OR REPLACE TEMP TABLE _rest_keys (bin VARCHAR, number VARCHAR)")
            _insert_rows(con, "_rest_keys", ["bin", "number"], ["VARCHAR", "VARCHAR"], set(accounts))
            # IS NOT DISTINCT FROM: a pair with a missing BIN or account is still read (as the anti-join does)
            chosen = (f"SEMI JOIN _rest_keys k ON k.bin IS NOT DISTINCT FROM {stored_bin}"
                      " AND k.number IS NOT DISTINCT FROM t.account")
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE _rest AS
            WITH r AS (
                SELECT t.rowid AS rid, {stored_bin} AS bank_bin, t.tx_id, t.booked_at, t.account, t.amount, t.content, t.channel
                FROM transfer t {chosen}
                WHERE t.booked_at >= $start AND t.booked_at < $end),
            owned AS (
                SELECT r.rid,
                       list(DISTINCT m.stall_id) FILTER (WHERE r.booked_at >= m.live_from
                            AND (m.live_to IS NULL OR r.booked_at < m.live_to)) AS live,
                       list(DISTINCT m.stall_id) AS everyone
                FROM r JOIN dir m ON m.bin = r.bank_bin AND m.number = r.account AND NOT m.single
                GROUP BY r.rid)
            SELECT r.*, CASE WHEN len(o.live) > 0 THEN o.live ELSE o.everyone END AS owners,
                   {text} AS txt
            FROM r LEFT JOIN owned o USING (rid)""", {"start": start, "end": end})
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE _rest_out AS
            WITH m AS (
                SELECT *, regexp_extract_all(txt, '{_sql_text(pattern)}', 0) AS found FROM _rest),
            k AS (
                SELECT *, list_distinct([replace(x, ' ', '') FOR x IN found]) AS keys FROM m)
            SELECT k.bank_bin, k.tx_id, k.account, k.amount, k.booked_at, k.channel, k.content,
                   k.owners IS NOT NULL AS known,
                   CASE WHEN len(k.owners) = 1 THEN k.owners[1]
                        WHEN len(k.keys) = 1 AND rk.stall_id IS NOT NULL AND NOT rk.ambiguous
                             AND NOT (ends_with(k.txt, k.found[-1]) AND length(k.content) >= {rules.CUT_LENGTH}
                                      AND rk.prefix)
                             AND (k.owners IS NULL OR list_contains(k.owners, rk.stall_id))
                        THEN rk.stall_id END AS stall,
                   CASE WHEN len(k.owners) = 1 THEN 'account' END AS by_account,
                   CASE WHEN len(k.owners) = 1 THEN NULL
                        WHEN len(k.keys) = 0 THEN '{rules.UNATTRIBUTED_REASONS[0]}'
                        WHEN len(k.keys) > 1 THEN '{rules.UNATTRIBUTED_REASONS[1]}'
                        WHEN rk.key IS NULL THEN '{rules.UNATTRIBUTED_REASONS[2]}'
                        WHEN rk.ambiguous THEN '{rules.UNATTRIBUTED_REASONS[3]}'
                        WHEN ends_with(k.txt, k.found[-1]) AND length(k.content) >= {rules.CUT_LENGTH} AND rk.prefix
                             THEN '{rules.UNATTRIBUTED_REASONS[4]}'
                        WHEN k.owners IS NOT NULL AND NOT list_contains(k.owners, rk.stall_id)
                             THEN '{rules.UNATTRIBUTED_REASONS[5]}'
                        END AS reason
            FROM k LEFT JOIN refkey rk ON len(k.keys) = 1 AND rk.key = k.keys[1]""")
        out: dict[str, list] = {}
        out["stalls"] = con.execute("""
            SELECT stall, coalesce(by_account, 'reference') AS method, count(*), sum(amount), min(booked_at),
                   max(booked_at), list_sort(list(DISTINCT channel))
            FROM _rest_out WHERE stall IS NOT NULL GROUP BY ALL ORDER BY 1, 2""").fetchall()
        # in one order whatever route and threads DuckDB took (ties broken by the account)
        out["unattributed"] = con.execute("""
            SELECT bank_bin, account, known, reason, count(*), sum(amount), min(content)
            FROM _rest_out WHERE stall IS NULL GROUP BY ALL ORDER BY count(*) DESC, 1, 2, 3, 4""").fetchall()
        out["unknown"] = con.execute("""
            SELECT bank_bin, account, count(*), sum(amount), count(stall)
            FROM _rest_out WHERE NOT known GROUP BY ALL ORDER BY count(*) DESC, 1, 2""").fetchall()
        if detail:
            out["rows"] = con.execute("""
                SELECT tx_id, stall, CASE WHEN stall IS NULL THEN NULL ELSE coalesce(by_account, 'reference') END,
                       reason FROM _rest_out ORDER BY tx_id""").fetchall()
        con.execute("DROP TABLE _rest")
        con.execute("DROP TABLE _rest_out")
        con.execute("DROP TABLE IF EXISTS _rest_keys")
        return out

    def banks_with_data(self, start: datetime, end: datetime) -> list[str]:
        """BINs with at least one transfer booked in ``[start, end)``."""
        return [row[0] for row in self.con.execute(
            f"SELECT DISTINCT {canonical_bin_sql('bank_bin')} FROM transfer WHERE booked_at >= ? AND booked_at < ? "
            "ORDER BY 1",
            [start, end]).fetchall()]

    def erase_accounts(self, accounts: Iterable[tuple[str, str]]) -> int:
        """An owner's erasure: the transfers into these (bank BIN, account number) pairs keep their
        amount and time (the market's figures stay whole) but lose the account number and the
        transfer content (the only text that can name someone). Returns how many rows changed."""
        pairs = [(b, n) for b, n in accounts if b and n]
        if not pairs:
            return 0
        before = self.con.execute("SELECT count(*) FROM transfer WHERE account = 'erased'").fetchone()[0]
        for bin_, number in pairs:
            self.con.execute("UPDATE transfer SET account = 'erased', content = NULL "
                             f"WHERE {canonical_bin_sql('bank_bin')} = ? AND account = ?", [bin_, number])
        after = self.con.execute("SELECT count(*) FROM transfer WHERE account = 'erased'").fetchone()[0]
        return int(after - before)

    def months_with_data(self) -> list[str]:
        return [row[0] for row in self.con.execute(
            "SELECT DISTINCT strftime(booked_at, '%Y-%m') FROM transfer ORDER BY 1").fetchall()]


def _sql_text(text: str) -> str:
    return text.replace("'", "''")


def _struct(columns: dict[str, str]) -> str:
    return "{" + ", ".join(f"'{k}': '{v}'" for k, v in columns.items()) + "}"


def _locate(path: str | os.PathLike[str], problems: list[dict[str, Any]], start: int = 0) -> None:
    """Find the line numbers of a few rejected rows (by their transaction id) among the file's rows."""
    wanted = [p for p in problems if p.get("tx_id") and not p.get("line")]
    if not wanted:
        return
    try:
        with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            for problem in wanted:
                needle = problem["tx_id"].encode()
                position = data.find(needle, start)
                if position >= 0:
                    lines, offset = 1, 0
                    while offset < position:  # count in blocks: never a copy of the whole file
                        block = data[offset:min(position, offset + (1 << 22))]
                        lines += block.count(b"\n")
                        offset += len(block)
                    problem["line"] = lines
    except (OSError, ValueError):
        pass


def window_start(period: rules.Period, idle_months: int) -> datetime:
    """The first moment of the ``idle_months`` periods ending with ``period`` (naive Vietnam time)."""
    return period.shift(1 - idle_months).start_local



#: :meth:`TransferStore._import_csv`'s answer when the file must be read with the sequential reader.
_QUOTED_NEWLINES = object()


class _Counting:
    """:func:`count_csv_rows` in a thread, beside DuckDB's read of the same file.

    When the digest shows the file was imported in full before (and the caller gave no
    fingerprint), the store's running statement is interrupted: nothing is written.
    """

    def __init__(self, store: "TransferStore", path: str | os.PathLike[str], start: int, *, known: bool) -> None:
        self.already: int | None = None
        self.digest = ""
        self._counted: CsvCount | None = None
        self._error: BaseException | None = None
        self._store, self._known = store, known
        self._cursor = store.con.cursor()  # reads import_batch while the store's connection works
        self._thread = threading.Thread(target=self._work, args=(path, start), daemon=True)
        self._thread.start()

    def _work(self, path: str | os.PathLike[str], start: int) -> None:
        try:
            counted = count_csv_rows(path, start)
            self.digest = counted.digest
            if not self._known:
                row = self._cursor.execute("SELECT id, invalid FROM import_batch WHERE fingerprint = ? "
                                           "ORDER BY id DESC LIMIT 1", [counted.digest]).fetchone()
                if row is not None and row[1] == 0:
                    self.already = row[0]
                    self._store.con.interrupt()
            self._counted = counted
        except BaseException as error:  # handed to the importer by result()
            self._error = error

    def join(self) -> None:
        self._thread.join()
        try:
            self._cursor.close()
        except duckdb.Error:
            pass

    def result(self) -> CsvCount:
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._counted is not None
        return self._counted


class _Transaction:
    """The store's open transaction, as :func:`market40.services.imports.settle` sees a session."""

    def __init__(self, con: Any) -> None:
        self.con = con

    def commit(self) -> None:
        self.con.execute("COMMIT")

    def rollback(self) -> None:
        self.con.execute("ROLLBACK")


def _insert_rows(con: Any, table: str, names: Sequence[str], types: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Bulk insert through a staged CSV file (DuckDB's ``executemany`` runs one statement per row)."""
    with tempfile.TemporaryDirectory(prefix="market40-rows-") as folder:
        staged = Path(folder) / "rows.csv"
        count = 0
        with open(staged, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(names)
            for row in rows:
                writer.writerow(["" if v is None else v for v in row])
                count += 1
        columns = _struct(dict(zip(names, types)))
        con.execute(f"INSERT INTO {table} SELECT * FROM read_csv('{_sql_text(str(staged))}', header = true, "
                    f"auto_detect = false, parallel = false, quote = '\"', escape = '\"', columns = {columns})")
    return count


def _unaccounted_message(source: str, expected: int, found: int, what: str) -> str:
    expected_, found_ = formats.count(expected), formats.count(found)
    return (f"{source}: {expected_} rows in the file but {found_} {what} accounted for; nothing was imported. "
            "This is a fault in market40 or an unusual file: keep the file and report it "
            f"({expected_} dòng trong tệp nhưng chỉ đối chiếu được {found_}; chưa nhập gì)")


@dataclass(frozen=True)
class CsvCount:
    """The rows of a CSV file after its header, counted without the store's reader."""

    rows: int  # records (blank lines included)
    blank: int  # empty lines (DuckDB's reader skips them; they are counted as blank rows)
    quoted_newlines: int  # line breaks inside quoted fields
    digest: str = ""  # SHA-256 of the whole file


_BLANK_LINE = re.compile(rb"\n(?=\r?\n)")
_BLANK_PAIR = re.compile(rb"\n\r?\n")


def count_csv_rows(path: str | os.PathLike[str], start: int = 0) -> CsvCount:
    r"""Count the records from byte ``start`` (a line start) to the end, and hash the whole file.

    A record ends at a line break outside quotes; a quote opens or closes a quoted field
    (RFC 4180; ``""`` inside one is an escaped quote and changes nothing). The file is read
    once in blocks (memory does not grow with it), with C-speed byte operations only. A file
    whose quotes do not follow RFC 4180 (a stray ``"`` inside an unquoted field) can be
    counted wrong here: the importer then counts again with :func:`count_csv_rows_exactly`.

    >>> import tempfile, os
    >>> with tempfile.NamedTemporaryFile("wb", suffix=".csv", delete=False) as f:
    ...     _ = f.write(b'h1,h2\r\na,"b\r\nc"\r\n\r\nd,e')
    >>> count = count_csv_rows(f.name, 7); os.unlink(f.name)
    >>> (count.rows, count.blank, count.quoted_newlines)
    (3, 1, 1)
    """
    digest = hashlib.sha256()
    rows = blank = quoted = 0
    inside = False
    carry = b""
    position = 0
    with open(path, "rb") as handle:
        while block := handle.read(1 << 22):
            digest.update(block)
            if position + len(block) <= start:
                position += len(block)
                continue
            if position < start:
                block = block[start - position:]
                position = start
            position += len(block)
            data = carry + block if carry else block
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                carry = data
                continue
            carry = data[cut:]
            r, b, q, inside = _count_block(data[:cut] if carry else data, inside)
            rows, blank, quoted = rows + r, blank + b, quoted + q
    if carry:
        r, b, q, inside = _count_block(carry + b"\n", inside)
        if inside:
            q -= 1  # the line break added above is not the file's
        rows, blank, quoted = rows + r, blank + b, quoted + q
    if inside:
        rows += 1  # a quoted field left open runs to the end of the file: one last record
    return CsvCount(rows, blank, quoted, digest.hexdigest())


def _count_block(data: bytes, inside: bool) -> tuple[int, int, int, bool]:
    """(records, blank lines, quoted line breaks, inside quotes after) of whole lines ``data``."""
    if b'"' not in data:
        if inside:
            return 0, 0, data.count(b"\n"), True
        return data.count(b"\n"), _blank_lines(data), 0, False
    parts = data.split(b'"')
    outside = b'"'.join(parts[1 if inside else 0::2])
    total = data.count(b"\n")
    records = outside.count(b"\n")
    blank = len(_BLANK_LINE.findall(outside if inside else b"\n" + outside))
    inside = inside != (len(parts) % 2 == 0)
    return records, blank, total - records, inside


def _blank_lines(data: bytes) -> int:
    r"""Empty lines in whole lines ``data`` (the first line included); no copy when there are none.

    One regular-expression search asks whether there is any (``\n\n`` or ``\n\r\n``): 2.5–3× faster
    than two ``in`` tests, which stop at every line break of the block."""
    if not data.startswith(b"\n") and not data.startswith(b"\r\n") and _BLANK_PAIR.search(data) is None:
        return 0
    return len(_BLANK_LINE.findall(b"\n" + data))


def count_csv_rows_exactly(path: str | os.PathLike[str], start: int, delimiter: str) -> CsvCount:
    """The records from byte ``start`` as Python's ``csv`` module reads them (slow; for odd quoting)."""
    rows = blank = 0
    with open(path, "rb") as raw:
        raw.seek(start)
        with io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="") as text:
            for cells in csv.reader(text, delimiter=delimiter):
                rows += 1
                blank += not cells
    return CsvCount(rows, blank, 0)


@functools.lru_cache(maxsize=1)
def _alternate_bins() -> frozenset[str]:
    """The alternate BINs :func:`canonical_bin_sql` translates."""
    from .banks import all_banks
    return frozenset(alt for bank in all_banks() for alt in bank.alternate_bins if alt != bank.bin)


def canonical_bin_sql(column: str) -> str:
    """SQL turning an alternate BIN into the participant's registered BIN (``970459`` → ``422589``, CIMB)."""
    from .banks import all_banks
    pairs = [(alt, bank.bin) for bank in all_banks() for alt in bank.alternate_bins if alt != bank.bin]
    if not pairs:
        return column
    cases = " ".join(f"WHEN '{alt}' THEN '{main}'" for alt, main in sorted(pairs))
    return f"CASE {column} {cases} ELSE {column} END"
