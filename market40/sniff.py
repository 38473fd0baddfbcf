"""What a file is, before anyone reads it: the one file sniffer of every importer.

Stall lists, markets, the census, fee tariffs and meter readings (:func:`market40.tabular.read_table`)
and bank statement exports and webhook feeds (:mod:`market40.transactions`,
:mod:`market40.services.transfers`) all ask the same three questions here:

* **kind**: ``xlsx`` (a zip archive), ``jsonl`` (text that starts with ``{``, where the caller
  reads JSON lines) or ``csv`` (other text). An empty file, an Excel 97-2003 ``.xls``, a PDF, a
  photo or an archive is refused with a message that names the file and says what it is;
* **encoding**: UTF-8 (with or without its BOM), UTF-16 with a BOM (Excel's "Unicode text"), or
  Windows-1258, the code page of older Vietnamese Windows exports, accepted only when the bytes
  decode cleanly and hold no control characters (which betray binary data);
* **delimiter**: ``,`` ``;`` or tab, counted outside quotes in the first lines; Excel's ``sep=``
  line is honoured.

>>> import io
>>> found = sniff(io.BytesIO("Tên;Ghi chú\\nLê;Hà Đông\\n".encode("cp1258")), "s.csv")
>>> found.kind, found.encoding, found.delimiter
('csv', 'cp1258', ';')
>>> found = sniff(io.BytesIO("\\ufeffMã sạp\\tTên\\n".encode("utf-16-le")), "s.txt")
>>> found.encoding, found.delimiter, found.sample.splitlines()[0]
('utf-16', '\\t', 'Mã sạp\\tTên')

Standard library only; the readers decide what to do with the answer.
"""
from __future__ import annotations

import codecs
import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Iterable, Sequence

from .exceptions import InvalidFormat, NotFound

__all__ = ["Sniff", "KINDS", "DELIMITERS", "sniff", "sniff_path", "open_path", "detect_kind",
           "choose_encoding", "sniff_delimiter", "transcode_to_utf8"]

#: What a file can be found to be.
KINDS = ("csv", "xlsx", "jsonl")
#: The delimiters a CSV export may use, in the order they win a tie.
DELIMITERS = (",", ";", "\t")
#: How much text the sample holds (and how much a ``whole=False`` sniff reads).
SAMPLE = 1 << 16

_CHUNK = 1 << 20
_NUL = re.compile("\x00")  # text in any 8-bit or UTF-8 file never holds NUL: binary data
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f]")  # tab, newlines, \v and \f are allowed
#: (byte-order mark, the encoding to open the file with, the codec of the bytes after the mark)
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig", "utf-8"),
         (codecs.BOM_UTF16_LE, "utf-16", "utf-16-le"),
         (codecs.BOM_UTF16_BE, "utf-16", "utf-16-be"))
_ZIP = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
_MAGIC = (
    (b"\xd0\xcf\x11\xe0", "an Excel 97-2003 .xls workbook or a password-protected workbook; "
                          "remove the password and save it as .xlsx"),
    (b"%PDF", "a PDF document; export the list from Excel as .xlsx or .csv"),
    (b"\x89PNG", "a PNG image; export the list from Excel as .xlsx or .csv"),
    (b"\xff\xd8\xff", "a JPEG photo; export the list from Excel as .xlsx or .csv"),
    (b"GIF8", "a GIF image; export the list from Excel as .xlsx or .csv"),
    (b"\x1f\x8b", "a gzip archive, not a table"),
    (b"Rar!", "a RAR archive, not a table"),
    (b"7z\xbc\xaf", "a 7-Zip archive, not a table"),
)
_QUOTED = re.compile(r'"[^"]*"')


@dataclass(frozen=True)
class Sniff:
    """What :func:`sniff` found. Text fields are None for an XLSX workbook."""

    name: str
    kind: str  # one of KINDS
    encoding: str | None = None  # what to open the text with: utf-8, utf-8-sig, utf-16, cp1258
    delimiter: str | None = None  # csv only
    sep_line: bool = False  # the first line is Excel's "sep=;" (skip it)
    sample: str = ""  # the first 64 KB of text, without the byte-order mark
    bom: int = 0  # bytes of byte-order mark at the start
    codec: str | None = None  # the codec of the bytes after the mark (byte offsets count in it)


def open_path(path: str | os.PathLike[str]) -> IO[bytes]:
    """Open ``path`` for reading bytes; a missing file is :class:`NotFound`, others :class:`InvalidFormat`."""
    path = Path(path)
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise NotFound(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InvalidFormat(f"{path}: is a directory, not a CSV or XLSX file", value=str(path)) from None
    except OSError as exc:
        raise InvalidFormat(f"{path}: cannot be opened ({exc.strerror})", value=str(path)) from None


def detect_kind(stream: IO[bytes], name: str, kind: str | None = None, *,
                accept: Sequence[str] = ("csv", "xlsx")) -> str:
    """``csv``, ``xlsx`` or ``jsonl`` (only where ``accept`` has it) from the first bytes of ``stream``.

    ``kind`` given is trusted (the file still must not be empty). Leaves ``stream`` at its start.
    """
    head = stream.read(SAMPLE)
    stream.seek(0)
    if not head:
        raise InvalidFormat(f"{name}: the file is empty", value=name)
    if kind is not None:
        return kind
    if head.startswith(_ZIP):
        if "xlsx" in accept:
            return "xlsx"
        raise InvalidFormat(f"{name}: this is an XLSX workbook (a zip archive), not a CSV text file", value=name)
    for magic, what in _MAGIC:
        if head.startswith(magic):
            raise InvalidFormat(f"{name}: this is {what}", value=name)
    if PurePosixPath(name).suffix.lower() in (".xlsx", ".xlsm") and "xlsx" in accept:
        raise InvalidFormat(f"{name}: not a valid XLSX file (it is not a zip archive)", value=name)
    if len(head) < SAMPLE and not head.lstrip(codecs.BOM_UTF8).strip():
        raise InvalidFormat(f"{name}: the file is empty (blank lines only)", value=name)
    if "jsonl" in accept and head.lstrip(codecs.BOM_UTF8 + b" \t\r\n").startswith(b"{"):
        return "jsonl"
    return "csv"


def _scan_text(stream: IO[bytes], start: int, codec: str, binary: re.Pattern = _NUL,
               whole: bool = True) -> tuple[str | None, str]:
    """Decode the stream (all of it, or its first 64 KB); return (problem or None, the first 64 KB of text).

    ``binary`` matches the characters that mean "this is not a text file".
    """
    stream.seek(start)
    decoder = codecs.getincrementaldecoder(codec)()
    sample = ""
    position = start
    while True:
        chunk = stream.read(_CHUNK if whole else SAMPLE)
        last = not chunk
        pending = len(decoder.getstate()[0])
        nul = chunk.find(b"\x00") if not codec.startswith("utf-16") else -1
        if nul >= 0:  # no 8-bit or UTF-8 text holds a NUL byte: say "binary" before any decoding error
            return f"binary data: control character 0x00 at byte offset {position + nul}", sample
        try:
            text = decoder.decode(chunk, final=last)
        except UnicodeDecodeError as exc:
            offset = position - pending + exc.start
            bad = (exc.object[exc.start:exc.start + 1] or b"?")[0]
            return f"byte 0x{bad:02X} at offset {offset} is not valid {codec.upper()}", sample
        control = binary.search(text)
        if control:
            offset = position - pending + len(text[:control.start()].encode(codec))
            return (f"binary data: control character 0x{ord(control.group()):02X} at byte offset {offset}",
                    sample)
        if len(sample) < SAMPLE:
            sample += text[:SAMPLE]
        if last or not whole:
            return None, sample
        position += len(chunk)


def choose_encoding(stream: IO[bytes], name: str, *, whole: bool = True) -> tuple[str, str, int, str]:
    """(encoding, the first 64 KB of text, bytes of byte-order mark, codec after it) of a text file.

    ``whole`` False decides from the first 64 KB alone (for files another reader streams).
    Raises :class:`InvalidFormat` naming the file, the byte and its offset.
    """
    stream.seek(0)
    head = stream.read(4)
    for bom, encoding, codec in _BOMS:
        if head.startswith(bom):
            problem, sample = _scan_text(stream, len(bom), codec, whole=whole)
            if problem:
                raise InvalidFormat(f"{name}: not a CSV text file: {problem}", value=name)
            return encoding, sample, len(bom), codec
    problem, sample = _scan_text(stream, 0, "utf-8", whole=whole)
    if problem is None:
        return "utf-8", sample, 0, "utf-8"
    if problem.startswith("binary"):
        raise InvalidFormat(f"{name}: not a CSV text file: {problem}", value=name)
    # cp1258 maps almost every byte to something: control characters betray binary data.
    fallback, sample = _scan_text(stream, 0, "cp1258", _CONTROL, whole=whole)
    if fallback is None:
        return "cp1258", sample, 0, "cp1258"
    if fallback.startswith("binary"):
        raise InvalidFormat(f"{name}: not a CSV text file: {fallback}", value=name)
    raise InvalidFormat(
        f"{name}: not a CSV text file: {problem}, and it is not Windows-1258 either; "
        "save it from Excel as 'CSV UTF-8 (Comma delimited)'", value=name)


def sniff_delimiter(sample: str, candidates: Iterable[str] = DELIMITERS) -> tuple[str, bool]:
    """(delimiter, whether the first line is Excel's ``sep=`` line) from the first lines of ``sample``.

    >>> sniff_delimiter('a;"b;c";d\\n1;2;3\\n'), sniff_delimiter("sep=|\\na|b\\n"), sniff_delimiter("")
    ((';', False), ('|', True), (',', False))
    """
    lines = sample.splitlines()
    if lines and lines[0].startswith("sep=") and len(lines[0]) == 5:
        return lines[0][4], True
    counts = dict.fromkeys(candidates, 0)
    for line in [line for line in lines[:-1] or lines if line.strip()][:5]:
        unquoted = _QUOTED.sub("", line)
        for delimiter in counts:
            counts[delimiter] += unquoted.count(delimiter)
    best = max(counts, key=lambda d: counts[d])
    return (best if counts[best] else next(iter(counts))), False


def sniff(stream: IO[bytes], name: str, kind: str | None = None, *, accept: Sequence[str] = ("csv", "xlsx"),
          whole: bool = True) -> Sniff:
    """Kind, encoding and delimiter of a seekable binary ``stream`` (left at its start).

    ``accept``: the kinds the caller reads (a zip archive is refused where XLSX is not
    read; text starting with ``{`` is JSON lines only where ``jsonl`` is read). ``whole``
    False checks the encoding of the first 64 KB only.
    """
    kind = detect_kind(stream, name, kind, accept=accept)
    if kind == "xlsx":
        return Sniff(name, kind)
    if kind == "jsonl":  # UTF-8 by RFC 8259; a line that does not decode is reported by its reader
        return Sniff(name, kind, "utf-8-sig", codec="utf-8")
    encoding, sample, bom, codec = choose_encoding(stream, name, whole=whole)
    stream.seek(0)
    delimiter, sep_line = sniff_delimiter(sample)
    return Sniff(name, kind, encoding, delimiter, sep_line, sample, bom, codec)


def sniff_path(path: str | os.PathLike[str], kind: str | None = None, *,
               accept: Sequence[str] = ("csv", "xlsx"), whole: bool = True) -> Sniff:
    """:func:`sniff` of the file at ``path`` (named in every message)."""
    with open_path(path) as stream:
        return sniff(stream, str(path), kind, accept=accept, whole=whole)


def transcode_to_utf8(path: str | os.PathLike[str], found: Sniff, target: str | os.PathLike[str]) -> None:
    """Write the text of ``path`` (as :func:`sniff` found it) to ``target`` as UTF-8, NFC, lines kept.

    For readers that take UTF-8 only (the transaction store's bulk CSV reader). Raises
    :class:`InvalidFormat` naming the file when a byte further on does not decode.
    """
    done = 0
    try:
        with open(path, encoding=found.encoding, newline="") as source, \
                open(target, "w", encoding="utf-8", newline="") as out:
            for done, line in enumerate(source, start=1):
                out.write(unicodedata.normalize("NFC", line))
    except UnicodeDecodeError as exc:
        raise InvalidFormat(f"{found.name}: line {done + 1}: not valid {found.encoding} text ({exc.reason}); "
                            "save it from Excel as 'CSV UTF-8 (Comma delimited)'", value=found.name) from None
