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
from ..vietqr import OtherQR, VietQR

__all__ = ["encode", "resolve_bank", "Decoded", "decode", "write_image", "read_image", "png", "png_data_uri"]


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
    """What a payload turned out to be, for people (``describe``) and machines (``as_dict``).

    ``qr`` holds a VietQR transfer's fields (also when its CRC is wrong); ``other`` the
    fields of an EMV code that is not a transfer (NAPAS QRPUSH/QRCASH merchant or cash
    QR, VNPAY-QR, a wallet's merchant QR...): acquirer BIN, merchant id, MCC, name,
    city, amount. ``bank`` is the directory entry of the BIN read from either.
    """

    text: str
    qr: VietQR | None
    error: ValidationError | None
    bank: banks.Bank | None
    warnings: list[str] = field(default_factory=list)
    other: OtherQR | None = None

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
        if self.text.strip().startswith("0002"):
            return "malformed EMV / VietQR payload"
        return "not an EMV payment code (plain text or another format)"

    def describe(self) -> str:
        """One line saying what the code is, for verdicts and logs."""
        if self.qr is not None:
            bank = self.bank.short_name if self.bank else self.qr.bin
            state = "" if self.ok else " with a wrong CRC" if not self.qr.crc_ok else " (invalid)"
            return f"VietQR transfer{state} to {bank}"
        other = self.other
        if other is not None:
            parts = []
            if other.bin:
                parts.append(f"acquirer {self.bank.short_name if self.bank else other.bin} ({other.bin})")
            if other.merchant_id:
                parts.append(f"merchant id {other.merchant_id}")
            if other.merchant_name:
                parts.append(f"name {other.merchant_name!r}")
            return self.kind + (f": {', '.join(parts)}" if parts else "")
        if self.kind.startswith("not an EMV"):
            shown = self.text.strip()
            return f"{self.kind}: {shown[:60]!r}" + ("…" if len(shown) > 60 else "")
        return f"{self.kind}: {self.error}"

    def as_dict(self) -> dict[str, Any]:
        """Every key always present (None when not read): the ``qr decode --json`` contract."""
        keys = ("bin", "account", "service", "initiation", "amount", "purpose", "bill_number",
                "reference_label", "merchant_name", "merchant_city")
        other_keys = ("merchant_id", "mcc", "template", "guid", "currency", "country", "postal_code",
                      "store_label", "terminal_label", "amount_text")
        data: dict[str, Any] = {key: None for key in keys + other_keys}
        data["extra"], data["extra_62"], data["notes"] = {}, {}, []
        if self.qr is not None:
            data.update({key: value for key, value in self.qr.as_dict().items() if key in keys})
            data["extra"] = dict(self.qr.extra)
            data["extra_62"] = dict(self.qr.extra_62)
            data["notes"] = list(self.qr.notes)
            data["crc_ok"] = self.qr.crc_ok
        elif self.other is not None:
            data.update({key: value for key, value in self.other.as_dict().items() if key in keys + other_keys})
            data["crc_ok"] = self.other.crc_ok
        else:
            data["crc_ok"] = None
        data["bank"] = self.bank.as_dict() if self.bank else None
        data["valid"] = self.ok
        data["kind"] = self.kind
        data["description"] = self.describe()
        data["error"] = None if self.error is None else str(self.error)
        data["warnings"] = list(self.warnings)
        return data


def decode(text: str) -> Decoded:
    """Parse a payload without raising: the verdict, the fields that could be read, the bank."""
    qr: VietQR | None = None
    other: OtherQR | None = None
    error: ValidationError | None = None
    try:
        qr = vietqr.parse(text)
    except InvalidChecksum as exc:
        qr, error = exc.parsed, exc
    except NotVietQR as exc:
        other, error = exc.parsed, exc
    except ValidationError as exc:
        error = exc
    bank = None
    warnings = list(qr.notes) if qr is not None else []
    bin = qr.bin if qr is not None else other.bin if other is not None else None
    if bin:
        bank = banks.by_bin(bin)
        if bank is None:
            warnings.append(f"BIN {bin} is not in the NAPAS participant directory "
                            "(a newer bank, or a wrong BIN)")
        elif bin in bank.alternate_bins:
            warnings.append(f"BIN {bin} is an alternate BIN of {bank.short_name} ({bank.bin})")
    if other is not None and other.crc_ok is False:
        warnings.append("63 CRC: does not match the content (altered or badly generated)")
    return Decoded(text if isinstance(text, str) else str(text), qr, error, bank, warnings, other)


def write_image(payload: str, out: str | Path | IO[bytes], **options: Any) -> None:
    """Draw a payload as PNG, SVG or PDF (see :func:`market40.qrimage.write`), after checking it."""
    vietqr.parse(payload)  # never draw something that is not a valid VietQR transfer
    qrimage.write(payload, out, **options)


def png(text: str, *, pixels: int = 360) -> bytes:
    """Any text (a payload, an enrolment link, an otpauth:// URI) as a QR PNG at most ``pixels`` wide."""
    return qrimage.png(text, pixels=pixels)


def png_data_uri(text: str, *, pixels: int = 360) -> str:
    """:func:`png` as a ``data:`` URI, for a page that shows the code without a second request."""
    import base64
    return "data:image/png;base64," + base64.b64encode(png(text, pixels=pixels)).decode("ascii")


def read_image(image: Any) -> list[Decoded]:
    """Find every QR code in a photo or scan and decode each one."""
    return [decode(text) for text in qrimage.read(image)]
