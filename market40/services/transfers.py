"""Importing bank statement exports and webhook feeds into the transaction store.

``import_files`` takes any mix of files: CSV exports go straight into the store's SQL
(millions of rows, bounded memory); XLSX exports and JSON-lines webhook feeds are parsed in
Python (:mod:`market40.transactions`) and then take the same path. Every file is one
batch: atomic, deduplicated by bank and transaction id, and a file imported before
changes nothing. Each batch is written to the registry's audit trail (file, counts).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Iterable, Sequence

from sqlmodel import Session

from .. import banks, tabular
from ..exceptions import InvalidFormat, NotFound
from ..models import AuditEvent
from ..transactions import LAYOUTS, Layout, Parsed, parse_values, read_jsonl
from ..txstore import BatchResult, TransferStore, fingerprint
from .registry import Actor

__all__ = ["import_files", "import_file", "detect_kind", "resolve_bank"]

Progress = Callable[[int, "int | None"], None]


def resolve_bank(bank: str | None) -> str | None:
    """A BIN from what the user typed (BIN, code or name), or None."""
    if not bank:
        return None
    return banks.lookup(bank).bin


def detect_kind(path: str | Path, fmt: str | None = None) -> str:
    """``csv``, ``xlsx`` or ``jsonl`` from the format asked for, else from the file's first bytes."""
    if fmt and fmt != "auto":
        if fmt not in LAYOUTS:
            raise InvalidFormat(f"format: one of {', '.join(LAYOUTS)}, got {fmt!r}", field="format", value=fmt,
                                limit=", ".join(LAYOUTS))
        if LAYOUTS[fmt].kind == "jsonl":
            return "jsonl"
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096)
    except FileNotFoundError:
        raise NotFound(f"{path}: no such file") from None
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        return "jsonl"
    return "csv"


def import_file(store: TransferStore, path: str | Path, *, fmt: str | None = None, bank: str | None = None,
                account: str | None = None, actor: str = "", progress: Progress | None = None) -> BatchResult:
    """Import one file into ``store`` (no registry needed); see the module docstring."""
    layout = LAYOUTS.get(fmt) if fmt and fmt != "auto" else None
    bin_ = resolve_bank(bank)
    kind = detect_kind(path, fmt)
    name = Path(path).name
    if kind == "csv":
        if layout is not None and layout.kind != "csv":
            raise InvalidFormat(f"{name}: {layout.name} is a JSON-lines format, this is a CSV file", value=name)
        return store.import_csv(path, layout=layout, actor=actor, bank_bin=bin_, account=account,
                                progress=progress)
    digest = fingerprint(path)
    if kind == "jsonl":
        with open(path, "rb") as handle:
            parsed = list(read_jsonl(handle, layout, bank_bin=bin_, name=name))
        used = layout.name if layout else _jsonl_layout(path)
        return _store_parsed(store, parsed, source=name, layout=used, channel="webhook", digest=digest, actor=actor)
    return _import_xlsx(store, path, layout, bin_, account, digest, actor, progress)


def _jsonl_layout(path: str | Path) -> str:
    """``sepay`` or ``casso``, from the first line that is a JSON object."""
    with open(path, "rb") as handle:
        for line in handle:
            try:
                body = json.loads(line)
            except ValueError:
                continue
            if isinstance(body, dict):
                return "sepay" if "transferAmount" in body or "gateway" in body else "casso"
    return "sepay"


def _import_xlsx(store: TransferStore, path: str | Path, layout: Layout | None, bank_bin: str | None,
                 account: str | None, digest: str, actor: str, progress: Progress | None) -> BatchResult:
    name = Path(path).name
    candidates = [layout] if layout else [l for l in LAYOUTS.values() if l.kind == "csv"]
    # One schema with every header any candidate knows, keyed by the folded header itself: the
    # table's header row is found once (title rows above it skipped), then the layout is chosen.
    keys = {tabular.header_key(alias): alias for c in candidates for aliases in c.fields.values() for alias in aliases}
    schema = {key: tabular.Column((alias,)) for key, alias in keys.items()}
    with tabular.read_table(path, kind="xlsx", schema=schema) as table:
        present = set(table.columns)
        chosen = None
        for candidate in candidates:
            fields = {f: next((tabular.header_key(a) for a in aliases if tabular.header_key(a) in present), None)
                      for f, aliases in candidate.fields.items()}
            if all(fields[f] for f in candidate.required):
                found = sum(1 for v in fields.values() if v)
                if chosen is None or found > chosen[0]:
                    chosen = (found, candidate, fields)
        if chosen is None:
            wanted = layout.title if layout else "a known export (market40 tx formats lists them)"
            raise InvalidFormat(f"{name}: no header of {wanted} (found {', '.join(table.header[:8])})", value=name)
        _, candidate, fields = chosen
        if candidate.account_in_title and not account:
            raise InvalidFormat(f"{name}: a {candidate.title} in XLSX names its account only in the title rows: "
                                "give the account number (--account)", field="account", value=None)
        parsed = []
        for row in table:
            values = {f: row.values.get(key, "") for f, key in fields.items() if key}
            parsed.append(parse_values(candidate, values, number=row.number,
                                       bank_bin=bank_bin or candidate.bank_bin, account=account))
            if progress and table.total:
                progress(len(parsed), table.total)
    return _store_parsed(store, parsed, source=name, layout=candidate.name, channel=candidate.channel,
                         digest=digest, actor=actor)


def _store_parsed(store: TransferStore, parsed: Iterable[Parsed], *, source: str, layout: str, channel: str,
                  digest: str, actor: str) -> BatchResult:
    items = list(parsed)
    return store.import_transfers(
        (p.transfer for p in items if p.transfer is not None), source=source, layout=layout, channel=channel,
        file_fingerprint=digest, actor=actor,
        rejected=[(p.number, p.tx_id, p.reason or "invalid", p.raw) for p in items if p.kind == "invalid"],
        other=sum(p.kind == "other" for p in items), outgoing=sum(p.kind == "outgoing" for p in items))


def import_files(session: Session, actor: Actor, store: TransferStore, paths: Sequence[str | Path], *,
                 fmt: str | None = None, bank: str | None = None, account: str | None = None,
                 progress: Callable[[str], Progress | None] | None = None) -> list[BatchResult]:
    """Import several files, one batch each; every batch is audited in the registry (caller commits).

    ``progress(name)`` returns a progress callback for that file (or None).
    """
    results = []
    for path in paths:
        result = import_file(store, path, fmt=fmt, bank=bank, account=account, actor=actor.name,
                             progress=progress(Path(path).name) if progress else None)
        results.append(result)
        if not result.already_imported:
            session.add(AuditEvent(actor=actor.name, action="transfers.import", entity="transfer_batch",
                                   entity_id=str(result.batch), note=str(path)[:500],
                                   after=json.dumps({k: v for k, v in result.as_dict().items()
                                                     if k not in ("problems",)}, default=str)))
    session.flush()
    return results
