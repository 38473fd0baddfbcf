"""``market40``: the command line for bank staff who bring whole markets on board.

A thin door onto :mod:`market40.services`: parse options, call one service, print.
Exit codes (design.md §5): 0 done, 1 refused input (the message says why), 2 usage.
"""
from __future__ import annotations

import json
import sys
from typing import Any, Callable

import click

import market40
from market40.exceptions import Market40Error, ValidationError

EXAMPLE_PAYLOAD = "00020101021138570010A00000072701270006970403011300110123456780208QRIBFTTA53037045802VN63049E6F"


class Market40Group(click.Group):
    """Turns library errors into a message on stderr and exit code 1, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ValidationError as error:
            lines = [error.message] if len(error.errors) == 1 else \
                [f"{len(error.errors)} problems:"] + [f"  - {e.message}" for e in error.errors]
            raise click.ClickException("\n".join(lines)) from None
        except Market40Error as error:
            raise click.ClickException(str(error)) from None


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def format_vnd(amount: int | None) -> str:
    return "—" if amount is None else f"{amount:,} đ".replace(",", ".")


@click.group(cls=Market40Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(market40.__version__, "--version", prog_name="market40")
def main() -> None:
    """market40: VietQR codes, stall registry and posters for Chợ 4.0 markets.

    \b
    Examples:
      market40 qr encode --bank vietcombank --account 1234567890 --purpose "HL1 A12"
      market40 qr decode 000201010211385700...
      market40 banks ngoai thuong
    """


# ---------------------------------------------------------------------------- qr

@main.group()
def qr() -> None:
    """Make, read and draw VietQR payment codes."""


def payload_options(func: Callable) -> Callable:
    """The fields of a VietQR payload, shared by ``qr encode`` and ``qr image``."""
    options = [
        click.option("--bank", help="Bank or e-wallet: BIN, code or name (diacritics optional)."),
        click.option("--bin", "bin_", metavar="BIN", help="6-digit NAPAS BIN (instead of --bank)."),
        click.option("--allow-unknown-bin", is_flag=True,
                     help="Accept a well-formed BIN missing from the directory (a newer bank)."),
        click.option("--account", help="Account number (1–19 letters/digits): service QRIBFTTA."),
        click.option("--card", help="Card number (16–19 digits): service QRIBFTTC."),
        click.option("--amount", help="Whole đồng; 150.000, 150,000 and 150 000 all mean 150000."),
        click.option("--purpose", help="Transfer content (62.08), ≤ 25 characters after folding."),
        click.option("--bill", "bill_number", help="Bill number (62.01), ≤ 25 characters."),
        click.option("--reference", "reference_label",
                     help="Reference label (62.05), e.g. the MOMOW2W… code MoMo wallets need."),
        click.option("--name", "merchant_name", help="Merchant name (59), ≤ 25; usually omitted."),
        click.option("--city", "merchant_city", help="Merchant city (60), ≤ 15; usually omitted."),
        click.option("--dynamic/--static", default=None,
                     help="One-payment (12) or reusable (11) code. Default: dynamic iff --amount."),
        click.option("--keep-case", is_flag=True, help="Do not upper-case text fields."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _encode(bank, bin_, allow_unknown_bin, keep_case, **fields):
    from market40.services import qr as qr_service
    return qr_service.encode(bank=bank, bin=bin_, allow_unknown_bin=allow_unknown_bin,
                             upper=not keep_case, **fields)


@qr.command("encode")
@payload_options
def qr_encode(**options: Any) -> None:
    """Print the VietQR payload for an account, card or e-wallet.

    \b
    Examples:
      market40 qr encode --bank vietcombank --account 1234567890 --purpose "HL1 A12"
      market40 qr encode --bin 970422 --account 0912345678 --amount 150.000
      market40 qr encode --bank momo --account PSP123456789012345 --reference MOMOW2W12345678
    """
    click.echo(_encode(**options).payload)


@qr.command("decode")
@click.argument("payload")
@click.option("--json", "as_json", is_flag=True, help="One JSON object (fields printed even when invalid).")
def qr_decode(payload: str, as_json: bool) -> None:
    """Explain a VietQR payload. Exit 0 only for a valid VietQR transfer.

    Use "-" to read the payload from standard input.

    \b
    Example:
      market40 qr decode 00020101021138570010A00000072701270006970403011300110123456780208QRIBFTTA53037045802VN63049E6F
    """
    from market40.services import qr as qr_service
    if payload == "-":
        payload = sys.stdin.read()
    result = qr_service.decode(payload)
    if as_json:
        echo_json(result.as_dict())
    else:
        _print_decoded(result)
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    if not result.ok:
        click.echo(f"error: {result.error}", err=True)
        sys.exit(1)


def _print_decoded(result: Any) -> None:
    qr = result.qr
    if qr is None:
        click.echo(f"Not a valid VietQR transfer: {result.kind}")
        return
    status = "valid" if result.ok else "INVALID"
    click.echo(f"VietQR transfer ({status})")
    bank = result.bank
    rows = [
        ("Bank", f"{bank.short_name} ({bank.code}, {qr.bin}) — {bank.name}" if bank else f"{qr.bin} (unknown BIN)"),
        ("Card" if qr.is_card else "Account", f"{qr.account}  [{qr.service or 'no service code'}]"),
        ("Type", {"static": "static (reusable)", "dynamic": "dynamic (one payment)"}.get(qr.initiation or "",
                                                                                          "unspecified")),
        ("Amount", format_vnd(qr.amount)),
        ("Purpose", qr.purpose), ("Bill number", qr.bill_number), ("Reference", qr.reference_label),
        ("Merchant", qr.merchant_name), ("City", qr.merchant_city),
        ("Other tags", ", ".join(f"{t}={v}" for t, v in qr.extra) or None),
        ("CRC", "ok" if qr.crc_ok else f"MISMATCH ({result.error})"),
    ]
    for label, value in rows:
        if value is not None:
            click.echo(f"  {label + ':':<13}{value}")


@qr.command("image")
@payload_options
@click.option("--payload", help="Draw this payload instead of building one from the options.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, writable=True),
              help="File to write: .png, .svg or .pdf.")
@click.option("--pixels", type=int, help="Total width in pixels, quiet zone included.")
@click.option("--module-mm", type=float, help="Module size in millimetres (at --dpi).")
@click.option("--dpi", type=int, default=300, show_default=True, help="Resolution for --module-mm.")
@click.option("--error", "error_level", type=click.Choice(["L", "M", "Q", "H"]), default="M",
              show_default=True, help="Error-correction level.")
def qr_image(payload: str | None, output: str, pixels: int | None, module_mm: float | None, dpi: int,
             error_level: str, **options: Any) -> None:
    """Draw a VietQR code as PNG, SVG or PDF (ECC M, 4-module quiet zone).

    \b
    Examples:
      market40 qr image --bank vcb --account 1234567890 --purpose "HL1 A12" -o a12.png
      market40 qr image --payload 000201... --module-mm 1.5 -o a12.pdf
    """
    from market40.services import qr as qr_service
    if payload is None:
        payload = _encode(**options).payload
    qr_service.write_image(payload, output, pixels=pixels, module_mm=module_mm, dpi=dpi, error=error_level)
    click.echo(f"wrote {output}", err=True)


@qr.command("read")
@click.argument("image", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="A JSON list, one object per code found.")
def qr_read(image: str, as_json: bool) -> None:
    """Find and decode the QR code(s) in a photo or scan.

    Exit 0 when every code found is a valid VietQR transfer, 1 otherwise (or none found).

    \b
    Example:
      market40 qr read photo-of-stall-A12.jpg
    """
    from market40.services import qr as qr_service
    results = qr_service.read_image(image)
    if as_json:
        echo_json([{"text": r.text, **r.as_dict()} for r in results])
    else:
        for number, result in enumerate(results, 1):
            if len(results) > 1:
                click.echo(f"[{number}]")
            _print_decoded(result)
    if not results:
        click.echo("error: no QR code found in the image", err=True)
        sys.exit(1)
    if not all(r.ok for r in results):
        for r in results:
            if not r.ok:
                click.echo(f"error: {r.error}", err=True)
        sys.exit(1)


# ---------------------------------------------------------------------------- banks

@main.command("banks")
@click.argument("query", nargs=-1)
@click.option("--kind", type=click.Choice(["bank", "ewallet", "other"]), help="Only this kind.")
@click.option("--json", "as_json", is_flag=True, help="JSON list of directory entries.")
def banks_command(query: tuple[str, ...], kind: str | None, as_json: bool) -> None:
    """List NAPAS participants, or search by BIN, code or name (diacritics optional).

    \b
    Examples:
      market40 banks
      market40 banks ngoai thuong
      market40 banks --kind ewallet --json
    """
    from market40 import banks
    text = " ".join(query)
    found = banks.search(text) if text else banks.all_banks()
    if kind:
        found = [b for b in found if b.kind == kind]
    if as_json:
        echo_json([b.as_dict() for b in found])
    else:
        for bank in found:
            click.echo(f"{bank.bin}  {bank.code:<11} {bank.short_name:<18} {bank.kind:<8} {bank.name}")
    if text and not found:
        from market40.banks import suggest
        hints = suggest(text)
        click.echo(f"no participant matches {text!r}" + (f"; did you mean {', '.join(hints)}?" if hints else ""),
                   err=True)
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    main()
