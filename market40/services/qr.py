"""VietQR use cases: encode with the bank directory, decode for people and machines, images.

The payload core (:mod:`market40.vietqr`) does not know the bank list; this is where
a bank name becomes a BIN and an unknown BIN is refused (or allowed explicitly).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from .. import banks, qrimage, vietqr
from ..exceptions import InvalidChecksum, InvalidFormat, NotVietQR, ValidationError
from ..vietqr import VietQR

__all__ = ["encode", "resolve_bank", "Decoded", "decode", "write_image", "read_image"]


def resolve_bank(*, bank: str | None = None, bin: str | None = None,
                 allow_unknown_bin: bool = False) -> tuple[str, banks.Bank | None]:
    """The BIN to put in a payload, from a bank (BIN, code or name) or a BIN.

    Refuses an unknown BIN unless ``allow_unknown_bin`` (then the bank is None).
    """
    if (bank is None) == (bin is None):
        raise InvalidFormat("bank: give either a bank (BIN, code or name) or a BIN", field="bank",
                            value=bank or bin, limit="exactly one of bank, bin")
    if bin is not None:
        return bin, banks.require_bin(bin.strip(), allow_unknown=allow_unknown_bin)
    found = banks.lookup(bank)  # type: ignore[arg-type]
    return found.bin, found


def encode(*, bank: str | None = None, bin: str | None = None, allow_unknown_bin: bool = False,
           **fields: Any) -> VietQR:
    """Build a payload for a bank named by BIN, code or name (other fields as :func:`vietqr.build`).

    Every problem is reported at once, the bank's included.
    """
    errors: list[ValidationError] = []
    resolved = "000000"
    try:
        resolved, _ = resolve_bank(bank=bank, bin=bin, allow_unknown_bin=allow_unknown_bin)
    except ValidationError as error:
        errors.append(error)
    except LookupError as error:  # NotFound from the directory
        errors.append(InvalidFormat(str(error), field="bank", value=bank, limit="a NAPAS participant"))
    try:
        qr = vietqr.build(bin=resolved, **fields)
    except ValidationError as error:
        errors.append(error)
    if errors:
        raise ValidationError.combine(errors)
    return qr


@dataclass
class Decoded:
    """What a payload turned out to be, for people (``describe``) and machines (``as_dict``)."""

    text: str
    qr: VietQR | None
    error: ValidationError | None
    bank: banks.Bank | None
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True only for a valid VietQR transfer payload."""
        return self.error is None

    @property
    def kind(self) -> str:
        if isinstance(self.error, NotVietQR):
            return self.error.kind
        if self.qr is not None:
            return "VietQR transfer"
        return "not a VietQR payload"

    def as_dict(self) -> dict[str, Any]:
        keys = ("bin", "account", "service", "initiation", "amount", "purpose", "bill_number",
                "reference_label", "merchant_name", "merchant_city")
        data: dict[str, Any] = {key: None for key in keys}
        if self.qr is not None:
            data.update({key: value for key, value in self.qr.as_dict().items() if key in keys})
            data["extra"] = dict(self.qr.extra)
            data["extra_62"] = dict(self.qr.extra_62)
        data["crc_ok"] = None if self.qr is None else self.qr.crc_ok
        data["bank"] = self.bank.as_dict() if self.bank else None
        data["valid"] = self.ok
        data["kind"] = self.kind
        data["error"] = None if self.error is None else str(self.error)
        data["warnings"] = list(self.warnings)
        return data


def decode(text: str) -> Decoded:
    """Parse a payload without raising: the verdict, the fields that could be read, the bank."""
    try:
        qr: VietQR | None = vietqr.parse(text)
        error: ValidationError | None = None
    except InvalidChecksum as exc:
        qr, error = exc.parsed, exc
    except ValidationError as exc:
        qr, error = None, exc
    bank = None
    warnings = []
    if qr is not None and qr.bin:
        bank = banks.by_bin(qr.bin)
        if bank is None:
            warnings.append(f"BIN {qr.bin} is not in the NAPAS participant directory "
                            "(a newer bank, or a wrong BIN)")
        elif qr.bin in bank.alternate_bins:
            warnings.append(f"BIN {qr.bin} is an alternate BIN of {bank.short_name} ({bank.bin})")
    return Decoded(text, qr, error, bank, warnings)


def write_image(payload: str, out: str | Path | IO[bytes], **options: Any) -> None:
    """Draw a payload as PNG, SVG or PDF (see :func:`market40.qrimage.write`), after checking it."""
    vietqr.parse(payload)  # never draw something that is not a valid VietQR transfer
    qrimage.write(payload, out, **options)


def read_image(image: Any) -> list[Decoded]:
    """Find every QR code in a photo or scan and decode each one."""
    return [decode(text) for text in qrimage.read(image)]
