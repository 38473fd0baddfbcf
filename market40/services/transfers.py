"""Importing bank statement exports and webhook feeds into the transaction store.

``import_files`` takes any mix of files: CSV exports go straight into the store's SQL
(millions of rows, bounded memory); XLSX exports and JSON-lines webhook feeds are parsed in
Python (:mod:`market40.transactions`) and then take the same path. Every file is one
batch, deduplicated by bank and transaction id. Each batch is written to the registry's
audit trail (file, counts).

The rule for a file with bad rows is the one of every market40 import
(:func:`market40.services.imports.settle`, the same words from
:func:`~market40.services.imports.verdict`): by default **nothing** of the file is stored
(all or nothing), every bad row is reported and written to a rejects file; with
``partial`` the good rows are stored and the bad ones left out; ``dry_run`` checks and
stores nothing. A file counts as imported only once all its rows went in: importing it
again, with corrected options (say ``--bank``), stores the rows missing so far; the rows
already stored are recognised and counted as such.
"""
from __future__ import annotations

import json
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

from sqlmodel import Session

from . import auditlog
from .. import banks, tabular
from ..exceptions import InvalidFormat
from ..sniff import Sniff, sniff_path, transcode_to_utf8
from ..transactions import (LAYOUTS, Layout, Parsed, detect_layout, excel_date_text, header_positions, no_layout,
                            parse_values, read_jsonl, webhook_layout)
from ..txstore import BatchResult, TransferStore, UnaccountedRows, fingerprint
from .imports import Problem, settle, verdict, write_rejects
from .registry import Actor

__all__ = ["import_files", "import_file", "detect_kind", "resolve_bank", "open_store", "layouts"]

Progress = Callable[[int, "int | None"], None]


def resolve_bank(bank: str | None) -> str | None:
    """A BIN from what the user typed (BIN, code or name), or None."""
    if not bank:
        return None
    return banks.lookup(bank).bin


def detect_kind(path: str | Path, fmt: str | None = None) -> str:
    """``csv``, ``xlsx`` or ``jsonl`` from the format asked for, else from the file (the one sniffer)."""
    return _sniff(path, fmt).kind


def _sniff(path: str | Path, fmt: str | None) -> Sniff:
    if fmt and fmt != "auto":
        if fmt not in LAYOUTS:
            raise InvalidFormat(f"format: one of {', '.join(LAYOUTS)}, got {fmt!r}", field="format", value=fmt,
                                limit=", ".join(LAYOUTS))
        if LAYOUTS[fmt].kind == "jsonl":
            return sniff_path(path, "jsonl", accept=("jsonl",), whole=False)
    # the first 64 KB decide; the store's reader checks the rest of a UTF-8 file as it goes
    return sniff_path(path, accept=("csv", "xlsx", "jsonl"), whole=False)


#: How :func:`verdict` words an import that stored nothing new.
ALREADY = "every transfer in it is already stored"


def import_file(store: TransferStore, path: str | Path, *, fmt: str | None = None, bank: str | None = None,
                account: str | None = None, actor: str = "", progress: Progress | None = None,
                partial: bool = True, dry_run: bool = False, rejects: str | Path | None = None,
                sheet: str | None = None) -> BatchResult:
    """Import one file into ``store`` (no registry needed); see the module docstring.

    ``partial`` (the default here, for scripts and the demo) keeps the good rows of a file with
    bad ones; the ``tx import`` command passes False unless asked (all or nothing). ``rejects``:
    where to write the bad rows (CSV or XLSX), when there are any.
    """
    layout = LAYOUTS.get(fmt) if fmt and fmt != "auto" else None
    bin_ = resolve_bank(bank)
    found = _sniff(path, fmt)
    kind = found.kind
    name = Path(path).name

    def decide(transaction: object, result: BatchResult) -> None:
        result.dry_run = dry_run
        settle(transaction, result, dry_run=dry_run, partial=partial)  # type: ignore[arg-type]

    options = dict(actor=actor, settle=decide, keep_rejected=rejects is not None)
    if kind == "csv":
        if layout is not None and layout.kind != "csv":
            raise InvalidFormat(f"{name}: {layout.name} is a JSON-lines format, this is a CSV file", value=name)
        with _utf8(path, found) as readable:
            result = store.import_csv(readable, layout=layout, bank_bin=bin_, account=account, progress=progress,
                                      source=name, file_fingerprint=None if readable == path else fingerprint(path),
                                      **options)  # type: ignore[arg-type]
    else:
        digest = fingerprint(path)
        if kind == "jsonl":
            with open(path, "rb") as handle:
                parsed = list(read_jsonl(handle, layout, bank_bin=bin_, name=name))
            with open(path, "rb") as handle:
                lines = sum(1 for _ in handle)
            if lines != len({p.number for p in parsed}):
                raise UnaccountedRows(f"{name}: {lines} lines in the file, {len({p.number for p in parsed})} read; "
                                      "nothing was imported")
            used = layout.name if layout else _jsonl_layout(path)
            result = _store_parsed(store, parsed, source=name, layout=used, channel="webhook", digest=digest,
                                   **options)
        else:
            result = _import_xlsx(store, path, layout, bin_, account, digest, progress, sheet, options)
    _report(result, rejects)
    return result


def _report(result: BatchResult, rejects: str | Path | None) -> None:
    """Write the rejects file (every bad row) and put the verdict in words on ``result``."""
    if result.already_imported:
        return
    if rejects is not None and result.rejected:
        problems = [Problem(line or 0, InvalidFormat(reason, field=reason.split(":")[0], value=raw),
                            {"transaction_id": tx_id or "", "raw": raw or ""})
                    for line, tx_id, reason, raw in result.rejected]
        carrier = _Rejects(problems)
        write_rejects(carrier, rejects)
        result.rejects_file = carrier.rejects_file
    result.rejected = []
    result.verdict = verdict(result, already=ALREADY)


class _Rejects:
    """What :func:`write_rejects` needs of a report: the problems, and where they went."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        self.rejects_file: str | None = None


@contextmanager
def _utf8(path: str | Path, found: Sniff) -> Iterator[str | Path]:
    """``path`` itself when it is UTF-8, else a UTF-8 copy (UTF-16, Windows-1258) for the store's reader."""
    if found.encoding in ("utf-8", "utf-8-sig"):
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="market40-tx-") as folder:
        copy = Path(folder) / Path(path).name
        transcode_to_utf8(path, found, copy)
        yield copy


def _jsonl_layout(path: str | Path) -> str:
    """``sepay`` or ``casso``, from the first line that is a JSON object (:func:`webhook_layout` decides)."""
    with open(path, "rb") as handle:
        for line in handle:
            try:
                body = json.loads(line)
            except ValueError:
                continue
            if isinstance(body, dict):
                return webhook_layout(body).name
    return "sepay"


def _import_xlsx(store: TransferStore, path: str | Path, layout: Layout | None, bank_bin: str | None,
                 account: str | None, digest: str, progress: Progress | None, sheet: str | None,
                 options: dict) -> BatchResult:
    name = Path(path).name
    candidates = [layout] if layout else [l for l in LAYOUTS.values() if l.kind == "csv"]
    # One schema with every header any candidate knows, keyed by the folded header itself: the
    # table's header row is found once (title rows above it skipped), then the layout is chosen.
    keys = {tabular.header_key(alias): alias for c in candidates for aliases in c.fields.values() for alias in aliases}
    schema = {key: tabular.Column((alias,)) for key, alias in keys.items()}
    with tabular.read_table(path, kind="xlsx", schema=schema, sheet=sheet) as table:
        candidate = detect_layout(table.header, layout=layout)
        if candidate is None:
            raise no_layout(name, [", ".join(table.header[:8])], layout)
        positions = header_positions(table.header, candidate)
        fields = {f: tabular.header_key(table.header[index]) for f, index in positions.items()}
        if candidate.account_in_title and not account:
            raise InvalidFormat(f"{name}: a {candidate.title} in XLSX names its account only in the title rows: "
                                "give the account number (--account)", field="account", value=None)
        parsed = []
        for row in table:
            values = {f: row.values.get(key, "") for f, key in fields.items() if key}
            if "booked_at" in values:  # a real Excel date cell reaches us as ISO text
                values["booked_at"] = excel_date_text(values["booked_at"], candidate)
            parsed.append(parse_values(candidate, values, number=row.number,
                                       bank_bin=bank_bin or candidate.bank_bin, account=account))
            if progress and table.total:
                progress(len(parsed), table.total)
    return _store_parsed(store, parsed, source=name, layout=candidate.name, channel=candidate.channel,
                         digest=digest, **options)


def _store_parsed(store: TransferStore, parsed: Iterable[Parsed], *, source: str, layout: str, channel: str,
                  digest: str, **options: Any) -> BatchResult:
    items = list(parsed)
    return store.import_transfers(
        (p.transfer for p in items if p.transfer is not None), source=source, layout=layout, channel=channel,
        file_fingerprint=digest, rows=len(items),
        rejected=[(p.number, p.tx_id, p.reason or "invalid", p.raw) for p in items if p.kind == "invalid"],
        other=sum(p.kind == "other" for p in items), outgoing=sum(p.kind == "outgoing" for p in items), **options)


def import_files(session: Session, actor: Actor, store: TransferStore, paths: Sequence[str | Path], *,
                 fmt: str | None = None, bank: str | None = None, account: str | None = None,
                 progress: Callable[[str], Progress | None] | None = None, partial: bool = False,
                 dry_run: bool = False, rejects: Callable[[str], str | Path | None] | None = None,
                 sheet: str | None = None) -> list[BatchResult]:
    """Import several files, one batch each; every stored batch is audited in the registry (caller commits).

    All or nothing per file unless ``partial`` (see the module docstring). ``progress(name)``
    returns a progress callback for that file (or None); ``rejects(path)`` where that file's
    bad rows go (or None).
    """
    results = []
    for path in paths:
        result = import_file(store, path, fmt=fmt, bank=bank, account=account, actor=actor.name,
                             progress=progress(Path(path).name) if progress else None, partial=partial,
                             dry_run=dry_run, rejects=rejects(str(path)) if rejects else None, sheet=sheet)
        results.append(result)
        if result.written:
            auditlog.record(session, actor.name, "transfers.import", "transfer_batch", result.batch,
                            note=str(path)[:500],
                            after={k: v for k, v in result.as_dict().items() if k not in ("problems",)})
    session.flush()
    return results


def open_store(database_url: str, path: str | Path | None = None, *, read_only: bool = False) -> TransferStore:
    """The transaction store: ``path``, or the DuckDB file beside an SQLite registry."""
    from ..txstore import store_path
    return TransferStore(store_path(database_url, path), read_only=read_only)


def layouts() -> list[Layout]:
    """The bank export layouts and webhook feeds ``import_files`` reads."""
    return list(LAYOUTS.values())


#: What ``--format`` may name: ``auto`` (detect from the headers) or one layout.
FORMATS = ("auto", *LAYOUTS)
