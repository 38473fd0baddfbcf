"""QR symbols for VietQR payloads: encode, write PNG/SVG/PDF, and read them back.

An adapter over three libraries: `segno <https://segno.readthedocs.io/>`_ builds
the symbol and writes the files, Pillow makes raster images, and
`zxing-cpp <https://github.com/zxing-cpp/zxing-cpp>`_ reads codes back out of
images and photos. For bulk work (posters) :func:`matrix` gives the modules from
zxing-cpp's C++ writer when its symbol keeps these rules, else from :func:`make_symbol`.

Rules this module keeps, and where they come from:

- **Regular QR Code only, ECC level exactly as asked (M by default).** segno would
  otherwise pick a Micro QR for short data and silently *raise* the ECC level when
  the symbol has room ("boost_error"); posters promise M (``design.md`` §3 decision 4,
  ``field-notes.md`` §1.4).
- **Smallest possible version.** segno encodes a whole string in one mode, so a
  VietQR payload with one lower-case letter would go entirely into byte mode
  (8 bits a character). :func:`make_symbol` instead splits the payload into
  numeric / alphanumeric / byte segments with an exact dynamic programme over the
  bit costs of ISO/IEC 18004:2015 §7.4.3-7.4.5 and Table 3 (the optimisation
  that Annex J describes), so the version is never larger than what another
  conforming encoder needs. A smaller version means bigger modules at the same
  print size: easier scans on cheap phones.
- **Quiet zone of 4 modules** by default: ISO/IEC 18004 requires four light
  modules on every side of a QR Code, and scanners find finder patterns less
  reliably without it (https://www.denso-wave.com/qrcode/qrgene4-e.html).
  ``border`` can be set lower for a layout that supplies its own light margin.
- **Non-ASCII text** (rare: VietQR payloads are ASCII-folded) goes in byte mode as
  UTF-8 behind an ECI designator (ECI 000026, §7.4.2), so readers need not guess
  the character set.

Examples:

>>> payload = ("00020101021138570010A00000072701270006970403011300110123456780208"
...            "QRIBFTTA53037045802VN63049E6F")
>>> symbol = make_symbol(payload)
>>> symbol.designator, symbol.symbol_size(border=0)
('4-M', (33, 33))
>>> version_for(payload, error="L")
3
>>> image = to_image(payload, module_px=2)
>>> image.mode, image.size           # (33 + 2 * 4) modules * 2 px
('L', (82, 82))
>>> read(image) == [payload]
True
"""
from __future__ import annotations

import functools
import io
import os
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import IO, Any, Iterator, NamedTuple, Union

import segno
import zxingcpp
from PIL import Image, ImageFilter, ImageOps, UnidentifiedImageError
from segno import consts as _segno_consts
from segno.writers import color_to_rgb_hex

from .exceptions import InvalidFormat, InvalidLength, NotFound, ValidationError

__all__ = [
    "KINDS",
    "QUIET_ZONE",
    "DEFAULT_MODULE_PX",
    "make_symbol",
    "matrix",
    "Matrix",
    "version_for",
    "write",
    "png",
    "to_image",
    "read",
]

#: Output formats :func:`write` produces.
KINDS = ("pdf", "png", "svg")

#: Quiet zone required around a QR Code by ISO/IEC 18004, in modules.
QUIET_ZONE = 4

#: Module size when :func:`write` is given neither ``pixels`` nor ``module_mm``.
DEFAULT_MODULE_PX = 10

PathOrFile = Union[str, "os.PathLike[str]", IO[bytes]]
ImageSource = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, IO[bytes], Image.Image]

_ERROR_LEVELS = {"L": _segno_consts.ERROR_LEVEL_L, "M": _segno_consts.ERROR_LEVEL_M,
                 "Q": _segno_consts.ERROR_LEVEL_Q, "H": _segno_consts.ERROR_LEVEL_H}

# --- segmentation (ISO/IEC 18004:2015 §7.4, Annex J) ----------------------------------------

# Our segment modes. _BYTE holds ASCII in the default character set (no ECI needed,
# ASCII is the same in ISO 8859-1 and UTF-8); _UTF8 is byte mode behind an ECI 000026
# designator, which is the only mode that can hold non-ASCII characters.
_NUMERIC, _ALNUM, _BYTE, _UTF8 = range(4)
_SEGNO_MODE = {_NUMERIC: _segno_consts.MODE_NUMERIC, _ALNUM: _segno_consts.MODE_ALPHANUMERIC,
               _BYTE: _segno_consts.MODE_BYTE, _UTF8: _segno_consts.MODE_BYTE}
_DIGITS = frozenset("0123456789")
# §7.4.4 Table 5: the 45 characters of alphanumeric mode.
_ALNUM_CHARS = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")
# Table 3: bits in the character count indicator, for versions 1-9, 10-26 and 27-40.
_COUNT_BITS = {_NUMERIC: (10, 12, 14), _ALNUM: (9, 11, 13), _BYTE: (8, 16, 16), _UTF8: (8, 16, 16)}
_VERSION_RANGES = (range(1, 10), range(10, 27), range(27, 41))
# Table 2: every segment starts with a 4-bit mode indicator; a UTF-8 segment also
# carries an ECI header (4-bit ECI mode indicator + 8-bit designator 26, §7.4.2).
# segno writes that header before every non-default byte segment, so we count it per segment.
_HEADER_BITS = {_NUMERIC: 4, _ALNUM: 4, _BYTE: 4, _UTF8: 4 + 12}
# DP states: a mode plus the length of the current run modulo its group size.
# Numeric packs 3 digits in 10 bits (§7.4.3) and alphanumeric 2 characters in 11 bits
# (§7.4.4); counting a run's digits one by one as 4, 3, 3, 4, 3, 3... bits and its
# alphanumerics as 6, 5, 6, 5... bits gives the exact total, which makes the DP exact.
_STATES = ((_NUMERIC, 0), (_NUMERIC, 1), (_NUMERIC, 2), (_ALNUM, 0), (_ALNUM, 1), (_BYTE, 0), (_UTF8, 0))
_STATE_INDEX = {state: i for i, state in enumerate(_STATES)}
_GROUP = {_NUMERIC: 3, _ALNUM: 2, _BYTE: 1, _UTF8: 1}
_INF = float("inf")


def _char_bits(mode: int, run: int, char: str) -> int:
    """Bits that ``char`` adds to a segment of ``mode`` already holding ``run`` (mod group) characters."""
    if mode == _NUMERIC:
        return 4 if run == 0 else 3
    if mode == _ALNUM:
        return 6 if run == 0 else 5
    if mode == _BYTE:
        return 8
    return 8 * len(char.encode("utf-8"))


def _modes_for(char: str) -> tuple[int, ...]:
    if char in _DIGITS:
        return (_NUMERIC, _ALNUM, _BYTE, _UTF8)
    if char in _ALNUM_CHARS:
        return (_ALNUM, _BYTE, _UTF8)
    if char < "\x80":
        return (_BYTE, _UTF8)
    return (_UTF8,)


def _segment(payload: str, range_index: int) -> tuple[int, list[tuple[int, str]]]:
    """The cheapest segmentation of ``payload`` for versions in ``_VERSION_RANGES[range_index]``.

    Returns the total data bits (mode indicators, ECI headers, character counts and
    data; no terminator, which §7.4.9 lets us drop when the symbol is full) and the
    segments as ``(mode, text)``. Adjacent segments never share a mode: splitting a
    run in two only adds a header, so the DP never starts a segment in the mode it is in.
    """
    n_states = len(_STATES)
    cost: list[float] = []
    back: list[list[int]] = []
    for i, char in enumerate(payload):
        new = [_INF] * n_states
        prev = [-1] * n_states
        for mode in _modes_for(char):
            group = _GROUP[mode]
            # Either start a segment of this mode (at the beginning, or after the
            # cheapest state of another mode) ...
            start = _HEADER_BITS[mode] + _COUNT_BITS[mode][range_index] + _char_bits(mode, 0, char)
            if i == 0:
                before, base = -1, 0.0
            else:
                before = min((s for s, (other, _) in enumerate(_STATES) if other != mode), key=cost.__getitem__)
                base = cost[before]
            target = _STATE_INDEX[(mode, 1 % group)]
            if base + start < new[target]:
                new[target], prev[target] = base + start, before
            # ... or extend a run of this mode.
            for run in range(group) if i else ():
                s = _STATE_INDEX[(mode, run)]
                total = cost[s] + _char_bits(mode, run, char)
                target = _STATE_INDEX[(mode, (run + 1) % group)]
                if total < new[target]:
                    new[target], prev[target] = total, s
        cost = new
        back.append(prev)
    best = min(range(n_states), key=cost.__getitem__)
    bits = int(cost[best])
    # Walk back to label each character with its mode, then cut where the mode changes.
    modes = []
    state = best
    for i in range(len(payload) - 1, -1, -1):
        modes.append(_STATES[state][0])
        state = back[i][state]
    modes.reverse()
    segments: list[tuple[int, str]] = []
    for char, mode in zip(payload, modes):
        if segments and segments[-1][0] == mode:
            segments[-1] = (mode, segments[-1][1] + char)
        else:
            segments.append((mode, char))
    return bits, segments


def _plan(payload: str, error: str) -> tuple[int, tuple[tuple[int, str], ...]]:
    """The smallest version for ``payload`` at ``error`` and the segments that reach it."""
    level = _ERROR_LEVELS[error]
    bits = 0
    for range_index, versions in enumerate(_VERSION_RANGES):
        # The count-indicator widths change between ranges, so each range has its
        # own optimum; the first range with a version that holds it wins.
        bits, segments = _segment(payload, range_index)
        for version in versions:
            # Table 7 (segno's copy): data bits a version holds at this ECC level.
            if _segno_consts.SYMBOL_CAPACITY[version][level] >= bits:
                return version, tuple(segments)
    capacity = _segno_consts.SYMBOL_CAPACITY[40][level]
    raise InvalidLength(
        f"payload: {len(payload)} characters need {bits} data bits, more than the {capacity} bits "
        f"of the largest QR Code (version 40) at error level {error}",
        field="payload", value=payload, limit=f"at most {capacity} data bits (version 40-{error})")


def _check_error(error: Any) -> str:
    level = error.upper() if isinstance(error, str) else None
    if level not in _ERROR_LEVELS:
        raise ValidationError(f"error: {error!r} is not a QR error correction level; use one of L, M, Q, H",
                              field="error", value=error, limit="one of L, M, Q, H")
    return level


def _check_payload(payload: Any) -> str:
    if not isinstance(payload, str):
        raise InvalidFormat(f"payload: expected text (str), got {type(payload).__name__}",
                            field="payload", value=payload, limit="a str")
    if not payload:
        raise InvalidLength("payload: empty; a QR Code needs at least one character",
                            field="payload", value=payload, limit="at least 1 character")
    return payload


def version_for(payload: str, error: str = "M") -> int:
    """The QR Code version (1-40) :func:`make_symbol` uses for ``payload`` at ``error``.

    The symbol is ``17 + 4 * version`` modules wide, without the quiet zone.

    >>> version_for("00020101021138570010A00000072701270006970403011300110123456780208"
    ...             "QRIBFTTA53037045802VN63049E6F")
    4
    """
    return _plan(_check_payload(payload), _check_error(error))[0]


def make_symbol(payload: str, *, error: str = "M") -> segno.QRCode:
    """A regular QR Code for ``payload`` at exactly the ECC level ``error`` (``L``, ``M``, ``Q``, ``H``).

    The version is the smallest that holds the payload with an optimal mix of
    numeric, alphanumeric and byte segments (see the module docstring).

    >>> payload = ("00020101021138570010A00000072701270006970403011300110123456780208"
    ...            "QRIBFTTA53037045802VN63049E6F")
    >>> make_symbol(payload).designator
    '4-M'
    >>> segno.make(payload, error="M", micro=False, boost_error=False).designator   # one mode
    '5-M'
    >>> make_symbol("1234", error="H").designator
    '1-H'
    """
    level = _check_error(error)
    version, plan = _plan(_check_payload(payload), level)
    segments: list[tuple[Any, int, str | None]] = []
    for mode, text in plan:
        if mode == _UTF8:
            segments.append((text.encode("utf-8"), _SEGNO_MODE[mode], "utf-8"))
        else:
            # segno stores str byte segments as ISO 8859-1, which for ASCII is the same bytes.
            segments.append((text, _SEGNO_MODE[mode], None))
    # version is passed so segno re-checks our bit count: if it disagreed it would raise
    # DataOverflowError instead of quietly choosing a bigger symbol.
    return segno.make(segments, error=level, version=version, micro=False, boost_error=False,
                      eci=any(mode == _UTF8 for mode, _ in plan))


# --- a fast matrix (zxing-cpp) ----------------------------------------------------------------

class Matrix(NamedTuple):
    """A QR symbol's modules: ``size`` rows of ``size`` bytes, 1 for dark, no quiet zone."""

    version: int
    size: int
    rows: tuple[bytes, ...]


# Which ECC levels keep the promise of a requested level (a higher one is at least as strong).
_AT_LEAST = {"L": "LMQH", "M": "MQH", "Q": "QH", "H": "H"}
# Pixels of zxing-cpp's 8-bit image (0 dark, 255 light) to our modules (1 dark, 0 light).
_DARK_BYTES = bytes.maketrans(bytes(range(256)), bytes([1] * 128 + [0] * 128))
_CREATE = getattr(zxingcpp, "create_barcode", None)  # zxing-cpp >= 2.3 (libzint writer)


def _ascii_bits(payload: str, range_index: int) -> int:
    """The bits of :func:`_segment`'s optimum for an ASCII ``payload``, computed fast.

    The same dynamic programme with the six states ASCII needs (numeric runs mod 3,
    alphanumeric runs mod 2, byte; UTF-8 segments never help ASCII) unrolled: a tenth of
    its time, which lets every zxing-cpp symbol be checked against the optimal version.
    ``tests/test_qr_matrix.py`` checks it equals ``_segment``'s total.
    """
    head_n = 4 + _COUNT_BITS[_NUMERIC][range_index]
    head_a = 4 + _COUNT_BITS[_ALNUM][range_index]
    head_b = 4 + _COUNT_BITS[_BYTE][range_index]
    inf = 1 << 30
    n0 = n1 = n2 = a0 = a1 = b = inf
    first = True
    digits, alnum = _DIGITS, _ALNUM_CHARS
    for char in payload:
        best_n, best_a = min(n0, n1, n2), min(a0, a1)
        if first:
            from_n = from_a = from_b = 0
            first = False
        else:
            from_n, from_a, from_b = min(best_a, b), min(best_n, b), min(best_n, best_a)
        # byte mode takes any ASCII character
        new_b = min(from_b + head_b + 8, b + 8)
        if char in alnum:
            new_a1, new_a0 = min(from_a + head_a + 6, a0 + 6), a1 + 5
            if char in digits:
                n1, n2, n0 = min(from_n + head_n + 4, n0 + 4), n1 + 3, n2 + 3
            else:
                n0 = n1 = n2 = inf
            a0, a1 = new_a0, new_a1
        else:
            n0 = n1 = n2 = a0 = a1 = inf
        b = new_b
    return min(n0, n1, n2, a0, a1, b)


#: An ASCII character's class as the segmentation sees it: a digit ("0"), another alphanumeric ("A"),
#: or a byte-mode character ("a"). Payloads with the same classes in the same order (a payload's
#: *shape*) have the same optimal segmentation, hence the same version.
_SHAPE = str.maketrans({chr(code): "0" if chr(code) in _DIGITS else "A" if chr(code) in _ALNUM_CHARS else "a"
                        for code in range(128)})


def _optimal_version(payload: str, level: str) -> int:
    """:func:`version_for` for an ASCII payload, fast (41 when even version 40 cannot hold it).

    Computed once per shape (:data:`_SHAPE`) and level: a market's slips differ in digits and
    letters, not in their classes' order, so most of them reuse a version already counted.
    """
    return _optimal_version_of_shape(payload.translate(_SHAPE), level)


@functools.lru_cache(maxsize=4096)
def _optimal_version_of_shape(shape: str, level: str) -> int:
    key = _ERROR_LEVELS[level]
    capacity = _segno_consts.SYMBOL_CAPACITY
    for range_index, versions in enumerate(_VERSION_RANGES):
        bits = _ascii_bits(shape, range_index)
        for version in versions:
            if capacity[version][key] >= bits:
                return version
    return 41


def _zxing_matrix(payload: str, level: str) -> Matrix | None:
    """The symbol from zxing-cpp's C++ writer (libzint), or ``None`` when it would not keep our rules.

    Kept only when it decodes to ``payload`` (the writer reads its own symbol back), is a
    regular QR Code at ``level`` or higher, and its version is not above the optimal
    segmentation's (:func:`version_for`, checked for every symbol).
    """
    if _CREATE is None or not payload.isascii():
        return None  # non-ASCII needs our ECI segments; an old zxing-cpp has no writer API
    try:
        barcode = _CREATE(payload, zxingcpp.BarcodeFormat.QRCode, ec_level=level)
        image = barcode.to_image(scale=1, add_quiet_zones=False)
    except (ValueError, RuntimeError, TypeError):
        return None
    shape = tuple(image.shape)
    size = shape[0] if shape else 0
    version = (size - 17) // 4
    if (len(shape) != 2 or shape[1] != size or (size - 17) % 4 or not 1 <= version <= 40
            or barcode.format != zxingcpp.BarcodeFormat.QRCode or barcode.text != payload
            or str(barcode.ec_level) not in _AT_LEAST[level]):
        return None
    if version > _optimal_version(payload, level):
        return None
    data = bytes(memoryview(image)).translate(_DARK_BYTES)
    return Matrix(version, size, tuple(data[i:i + size] for i in range(0, size * size, size)))


def matrix(payload: str, *, error: str = "M") -> Matrix:
    """The modules of a regular QR Code for ``payload`` at ECC ``error`` or higher, fast.

    zxing-cpp's C++ writer builds the symbol (about 20x faster than segno's mask
    selection in Python); it is used only when its symbol decodes to ``payload``, keeps
    the ECC level and is no larger than :func:`make_symbol`'s optimal segmentation.
    Otherwise (non-ASCII text, an old zxing-cpp) :func:`make_symbol` builds it.

    >>> payload = ("00020101021138570010A00000072701270006970403011300110123456780208"
    ...            "QRIBFTTA53037045802VN63049E6F")
    >>> m = matrix(payload)
    >>> m.version, m.size, len(m.rows), m.rows[0][:8]
    (4, 33, 33, b'\\x01\\x01\\x01\\x01\\x01\\x01\\x01\\x00')
    """
    level = _check_error(error)
    payload = _check_payload(payload)
    fast = _zxing_matrix(payload, level)
    if fast is not None:
        return fast
    symbol = make_symbol(payload, error=level)
    return Matrix(symbol.version, len(symbol.matrix), tuple(bytes(row) for row in symbol.matrix))


# --- writing -----------------------------------------------------------------------------------

_PNG_GREY = bytes.maketrans(b"\x00\x01", b"\xff\x00")  # module 1 (dark) -> black, 0 -> white


def png(payload: str, *, pixels: int, error: str = "M", border: int = QUIET_ZONE) -> bytes:
    """The QR Code for ``payload`` as a black-and-white PNG at most ``pixels`` wide, fast.

    The same symbol as :func:`matrix` (zxing-cpp's writer when it keeps the rules, else
    segno), in whole pixels per module, quiet zone included, written directly as a 1-bit
    greyscale PNG (no image library, no resampling): the web app draws one per request.

    >>> data = png("HL1 A12", pixels=120)
    >>> data[:8] == b"\\x89PNG\\r\\n\\x1a\\n", read(data)
    (True, ['HL1 A12'])
    """
    border = _check_int("border", border, 0)
    symbol = matrix(payload, error=error)
    width = symbol.size + 2 * border
    scale = _module_px(pixels, None, 300, width, symbol.size, border)
    return _png_1bit(symbol.rows, border, scale)


_LIGHT_BITS = bytes.maketrans(b"\x00\x01", b"10")  # PNG greyscale, 1 bit: 1 is white, a dark module 0


_SPREAD: dict[int, list[int]] = {}


def _spread_table(scale: int) -> list[int]:
    """Byte -> its 8 bits each repeated ``scale`` times (an int of 8 x scale bits)."""
    found = _SPREAD.get(scale)
    if found is None:
        ones = (1 << scale) - 1
        found = _SPREAD[scale] = [sum(ones << (i * scale) for i in range(8) if b >> i & 1) for b in range(256)]
    return found


def _png_1bit(rows: tuple[bytes, ...], border: int, scale: int) -> bytes:
    """Square module ``rows`` (1 = dark) as a 1-bit greyscale PNG, ``scale`` pixels a module."""
    import struct
    import zlib
    size = len(rows) + 2 * border
    side = size * scale
    groups, extra, pad = (size + 7) // 8, -size % 8, -side % 8  # modules in bytes; scanlines are whole bytes
    table, light = _spread_table(scale), b"1" * border  # the quiet zone

    def scanline(bits: bytes) -> bytes:
        modules = int(bits + b"1" * extra, 2)
        wide = 0
        for shift in range(8 * (groups - 1), -8, -8):
            wide = (wide << 8 * scale) | table[modules >> shift & 255]
        wide = (wide >> extra * scale << pad) | ((1 << pad) - 1)
        return (b"\x00" + wide.to_bytes((side + pad) // 8, "big")) * scale  # filter type 0, then the pixels

    blank = scanline(b"1" * size) * border
    body = b"".join(scanline(light + row.translate(_LIGHT_BITS) + light) for row in rows)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # 1-bit greyscale, no interlace
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(blank + body + blank, 1))
            + chunk(b"IEND", b""))


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValidationError(f"{name}: {value!r} is not a whole number >= {minimum}",
                              field=name, value=value, limit=f">= {minimum}")
    return value


def _check_kind(out: Any, kind: str | None) -> str:
    limit = "one of " + ", ".join(KINDS)
    source = ""
    if kind is None:
        if hasattr(out, "write"):
            raise ValidationError(f"kind: required when writing to a file object; use {limit}",
                                  field="kind", value=None, limit=limit)
        name = os.fspath(out)
        kind = Path(name).suffix[1:]
        if not kind:
            raise ValidationError(f"kind: cannot tell the format of {name!r} (no file suffix); "
                                  f"pass kind=, {limit}", field="kind", value=None, limit=limit)
        source = f" (from the suffix of {name!r})"
    normal = kind.lower().lstrip(".") if isinstance(kind, str) else kind
    if normal not in KINDS:
        raise ValidationError(f"kind: {kind!r}{source} is not a supported format; use {limit}",
                              field="kind", value=kind, limit=limit)
    return normal


def _module_px(pixels: int | None, module_mm: float | None, dpi: int, width_modules: int,
               symbol_modules: int, border: int) -> int:
    """Whole pixels per module for ``pixels`` / ``module_mm`` / the default."""
    if pixels is not None:
        pixels = _check_int("pixels", pixels, 1)
        if pixels < width_modules:
            raise InvalidLength(
                f"pixels: image of {pixels} px is too small for a {width_modules}-module symbol "
                f"({symbol_modules} modules + 2 x {border} quiet zone; needs at least {width_modules} px)",
                field="pixels", value=pixels, limit=f">= {width_modules} px (1 px per module)")
        # Whole pixels only: a fractional module size would blur or unevenly size modules.
        return pixels // width_modules
    if module_mm is not None:
        # Decimal with half-up rounding: 1.5 mm at 300 dpi is 17.716 px -> 18, and an exact
        # .5 always rounds up (Python's round() would send 16.5 to 16).
        module_px = int((Decimal(str(module_mm)) * dpi / Decimal("25.4")).to_integral_value(ROUND_HALF_UP))
        if module_px < 1:
            smallest = Decimal("12.7") / dpi  # half a pixel rounds up to one
            raise InvalidLength(
                f"module_mm: {module_mm} mm at {dpi} dpi is {module_mm * dpi / 25.4:.2f} px, which rounds to "
                f"0 px; needs at least 1 px per module (module_mm >= {smallest:.4f} at {dpi} dpi)",
                field="module_mm", value=module_mm, limit=f">= {smallest:.4f} mm at {dpi} dpi")
        return module_px
    return DEFAULT_MODULE_PX


def write(payload: str, out: PathOrFile, *, kind: str | None = None, error: str = "M",
          border: int = QUIET_ZONE, pixels: int | None = None, module_mm: float | None = None,
          dpi: int = 300, dark: Any = "#000", light: Any = "#fff") -> None:
    """Write the QR Code for ``payload`` as PNG, SVG or PDF.

    ``out`` is a path (the format comes from its suffix unless ``kind`` is given) or a
    binary file object (then ``kind`` is required). Size, at most one of:

    - ``pixels``: the largest image, quiet zone included, that the symbol may fill.
      Modules get the largest whole number of pixels that fits, so the image is
      ``module_px * (size + 2 * border)`` px, at most ``pixels``.
    - ``module_mm``: the printed module width. PNG modules are
      ``round(module_mm * dpi / 25.4)`` px and the PNG records ``dpi``;
      SVG (``mm`` units) and PDF use ``module_mm`` exactly.
    - neither: 10 px modules (:data:`DEFAULT_MODULE_PX`).

    Pixel sizes map to physical ones at ``dpi``: a PDF gets the size the PNG
    would print at. SVG with a pixel size is in ``px`` units.

    ``border`` is the quiet zone in modules. Keep the default 4 (required by
    ISO/IEC 18004) unless the layout around the code provides its own light margin.
    ``light=None`` leaves the background transparent.

    >>> import io
    >>> buffer = io.BytesIO()
    >>> write("HL1 A12", buffer, kind="svg", module_mm=1.5)
    >>> buffer.getvalue().count(b'width="43.5mm"')     # (21 + 2 * 4) * 1.5 mm
    1
    """
    kind = _check_kind(out, kind)
    border = _check_int("border", border, 0)
    dpi = _check_int("dpi", dpi, 1)
    if pixels is not None and module_mm is not None:
        raise ValidationError("pixels, module_mm: give one size, not both",
                              field="pixels, module_mm", value=(pixels, module_mm), limit="at most one of them")
    if module_mm is not None and (isinstance(module_mm, bool) or not isinstance(module_mm, (int, float))
                                  or not module_mm > 0 or module_mm == float("inf")):
        raise ValidationError(f"module_mm: {module_mm!r} is not a positive size in millimetres",
                              field="module_mm", value=module_mm, limit="> 0 mm")
    for name, colour in (("dark", dark), ("light", light)):
        if colour is None and name == "light":
            continue
        try:
            color_to_rgb_hex(colour)
        except (ValueError, TypeError):
            raise ValidationError(f"{name}: {colour!r} is not a colour (use a name, #rgb, #rrggbb or an RGB tuple)",
                                  field=name, value=colour, limit="a web colour name, #rgb, #rrggbb or (r, g, b)"
                                  ) from None

    symbol = make_symbol(payload, error=error)
    symbol_modules = symbol.symbol_size(border=0)[0]
    width_modules = symbol_modules + 2 * border
    options: dict[str, Any] = {"border": border, "dark": dark, "light": light}

    if kind == "png":
        options["scale"] = _module_px(pixels, module_mm, dpi, width_modules, symbol_modules, border)
        if module_mm is not None:
            options["dpi"] = dpi  # pHYs chunk, so print dialogs reproduce the asked size
    elif kind == "svg":
        if module_mm is not None:
            # Decimal keeps segno's "modules x scale" exact: width="43.5mm", not 43.50000000001mm.
            scale = _decimal(module_mm)
            if not scale:
                raise InvalidLength(f"module_mm: {module_mm} mm rounds to 0 at the 0.0001 mm precision of SVG output",
                                    field="module_mm", value=module_mm, limit=">= 0.0001 mm")
            options.update(scale=scale, unit="mm")
        else:
            options.update(scale=_module_px(pixels, module_mm, dpi, width_modules, symbol_modules, border),
                           unit="px")
    else:  # pdf: user space unit is the point, 1/72 inch
        if module_mm is not None:
            scale = _decimal(Decimal(str(module_mm)) * 72 / Decimal("25.4"))
            size_field, size_value = "module_mm", module_mm
        else:
            module_px = _module_px(pixels, None, dpi, width_modules, symbol_modules, border)
            scale = _decimal(Decimal(module_px) * 72 / dpi)
            size_field, size_value = ("pixels", pixels) if pixels is not None else ("dpi", dpi)
        if scale < 1:
            # segno's PDF writer only applies scales above 1 (it skips the transform
            # otherwise), so smaller modules would be drawn 1 pt wide on a smaller page.
            # Modules under 1 pt (0.353 mm) are below any print recommendation anyway.
            raise InvalidLength(
                f"{size_field}: a {scale} pt module is too small for PDF output (needs at least 1 pt = 0.353 mm)",
                field=size_field, value=size_value, limit=">= 1 pt (0.353 mm) per module")
        options["scale"] = scale
    symbol.save(out, kind=kind, **options)


def _decimal(value: Any) -> Decimal:
    """``value`` as a Decimal rounded to 0.0001 (mm or pt), trailing zeros dropped."""
    result = Decimal(str(value)).quantize(Decimal("0.0001"), ROUND_HALF_UP).normalize()
    # normalize() may give an exponent form ("1E+1"); re-quantize whole numbers to plain digits.
    return result.quantize(Decimal(1)) if result == result.to_integral_value() else result


def to_image(payload: str, *, module_px: int = DEFAULT_MODULE_PX, border: int = QUIET_ZONE,
             error: str = "M") -> Image.Image:
    """The QR Code for ``payload`` as a black-on-white Pillow image in mode ``"L"``.

    Each module is ``module_px`` x ``module_px`` pixels; the quiet zone is ``border`` modules.

    >>> to_image("HL1 A12", module_px=3).size     # (21 + 8) * 3
    (87, 87)
    """
    module_px = _check_int("module_px", module_px, 1)
    border = _check_int("border", border, 0)
    symbol = make_symbol(payload, error=error)
    width = symbol.symbol_size(border=border)[0]
    data = bytes(0 if dark else 255 for row in symbol.matrix_iter(scale=1, border=border) for dark in row)
    image = Image.frombytes("L", (width, width), data)
    if module_px > 1:
        image = image.resize((width * module_px, width * module_px), Image.Resampling.NEAREST)
    return image


# --- reading -----------------------------------------------------------------------------------

# Photos whose longest side exceeds this (px) get their rescues on a half-size copy: box
# averaging cancels sensor noise and speckle, and a QR that covers a fair part of a
# phone photo still has modules several pixels wide at half size.
_LARGE_SIDE = 1600


def _open_image(image: ImageSource) -> Image.Image:
    if isinstance(image, Image.Image):
        return image
    if isinstance(image, (bytes, bytearray, memoryview)):
        source: Any = io.BytesIO(bytes(image))
        label = f"<{len(source.getvalue())} bytes>"
    elif hasattr(image, "read"):
        source = image
        label = repr(getattr(image, "name", image))
    elif isinstance(image, (str, os.PathLike)):
        source = os.fspath(image)
        label = repr(source)
    else:
        raise InvalidFormat(f"image: expected a path, bytes, a binary file or a PIL image, got {type(image).__name__}",
                            field="image", value=image, limit="path, bytes, file object or PIL.Image.Image")
    try:
        # Image.open is lazy: truncated or corrupt data only shows up in load(). Leaving the
        # with-block closes a file Pillow opened itself (not a caller's); the pixels stay loaded.
        with Image.open(source) as opened:
            opened.load()
    except FileNotFoundError:
        raise NotFound(f"image file not found: {label}") from None
    except (IsADirectoryError, PermissionError) as exc:
        raise NotFound(f"cannot read image file {label}: {exc.strerror}") from None
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError) as exc:
        # Pillow reports broken files as OSError/SyntaxError/ValueError depending on the plugin.
        raise InvalidFormat(f"image: {label} is not a readable image ({exc})",
                            field="image", value=label, limit="a PNG, JPEG or other image Pillow can open"
                            ) from None
    return opened


def _grayscale(image: Image.Image) -> Image.Image:
    """8-bit grey, with any transparency laid over white (a transparent PNG's background
    is "black, alpha 0", which would otherwise hide a dark-on-transparent code)."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    return image if image.mode == "L" else image.convert("L")


def _scan(image: Image.Image, binarizer: Any = None) -> list[Any]:
    options: dict[str, Any] = {"formats": zxingcpp.BarcodeFormat.QRCode, "text_mode": zxingcpp.TextMode.Plain}
    if binarizer is not None:
        options["binarizer"] = binarizer
    return zxingcpp.read_barcodes(image, **options)


def _text(barcode: Any) -> str:
    # The raw bytes are the truth: take them as UTF-8 when they are valid UTF-8 (what
    # VietQR and qrcode/segno UTF-8 output carry, even without an ECI), so zxing's
    # character-set guess can never alter them. Otherwise (e.g. ISO 8859-1 bytes) fall
    # back to zxing's own ECI-aware transcoding.
    try:
        return bytes(barcode.bytes).decode("utf-8")
    except UnicodeDecodeError:
        return barcode.text


def _rescues(gray: Image.Image) -> Iterator[tuple[Image.Image, Any]]:
    """Cheap alternative versions of a photo to retry, most useful first.

    Each was kept because it decodes photos the plain scan misses (tested on
    synthetic photos: blurred, noisy, speckled, low contrast); the costliest
    (median filter) runs last and on the half-size copy for large photos.
    """
    # Camera shake and soft focus: restore module edges before binarization
    # (at full resolution: small blurred modules do not survive downscaling).
    yield gray.filter(ImageFilter.UnsharpMask(radius=2, percent=150, threshold=3)), None
    if max(gray.size) > _LARGE_SIDE:
        gray = gray.reduce(2)
        yield gray, None
    # Dim market lighting, washed-out prints: stretch the histogram, then try one
    # global threshold instead of zxing's default local one.
    stretched = ImageOps.autocontrast(gray, cutoff=1)
    yield stretched, None
    yield stretched, zxingcpp.Binarizer.GlobalHistogram
    # Speckle (dust, JPEG noise on a cheap sensor) breaks the local binarizer's edges.
    yield gray.filter(ImageFilter.MedianFilter(3)), None


def read(image: ImageSource) -> list[str]:
    """Decode every QR Code in ``image`` and return their texts, top to bottom.

    ``image`` is a path, the bytes of an image file, a binary file object, or a
    PIL image. Photos that do not decode as they are get a few cheap retries
    (downscaled, contrast-stretched, binarized, denoised). Returns ``[]`` when
    there is no readable QR Code.

    Raises :class:`~market40.exceptions.NotFound` for a missing or unreadable
    file and :class:`~market40.exceptions.InvalidFormat` for data that is not an image.

    >>> read(to_image("HL1 A12 thanh toan"))
    ['HL1 A12 thanh toan']
    >>> read(Image.new("L", (50, 50), 255))
    []
    """
    gray = _grayscale(_open_image(image))
    found = _scan(gray)
    if not found:
        for candidate, binarizer in _rescues(gray):
            found = _scan(candidate, binarizer)
            if found:
                break
    # Reading order (top, then left) so results are stable across zxing versions.
    found.sort(key=lambda b: (b.position.top_left.y, b.position.top_left.x))
    return [_text(barcode) for barcode in found]
