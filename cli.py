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
@click.option("--db", "database", metavar="URL|PATH", envvar="MARKET40_DATABASE_URL",
              help="Registry database: an SQLite file path or a postgresql:// URL "
                   "(default ./market40.db; env MARKET40_DATABASE_URL).")
@click.pass_context
def main(ctx: click.Context, database: str | None) -> None:
    """market40: VietQR codes, stall registry and posters for Chợ 4.0 markets.

    \b
    Examples:
      market40 demo
      market40 qr encode --bank vietcombank --account 1234567890 --purpose "HL1 A12"
      market40 stall import data/samples/stalls-HH1.xlsx --market HH1
      market40 banks ngoai thuong
    """
    ctx.ensure_object(dict)  # nested runs (the demo walkthrough) pass the parent's choice in obj
    if database:
        ctx.obj["database"] = database


def database_url() -> str:
    from market40 import db
    return db.database_url(click.get_current_context().find_root().obj.get("database"))


def operator() -> Any:
    """The person at this terminal, as the audit trail names them."""
    import getpass
    from market40.services.registry import Actor
    try:
        name = getpass.getuser()
    except Exception:  # no user name in some containers
        name = "operator"
    return Actor.operator(name)


class registry_session:
    """``with registry_session() as registry:`` a Registry on one transaction (commit on success)."""

    def __enter__(self) -> Any:
        from market40 import db
        from market40.services.registry import Registry
        url = require_registry()
        self.engine = db.make_engine(url)
        self.scope = db.session_scope(self.engine)
        session = self.scope.__enter__()
        return Registry(session, operator())

    def __exit__(self, *exc: Any) -> Any:
        try:
            return self.scope.__exit__(*exc)
        finally:
            self.engine.dispose()


def require_registry() -> str:
    """The database URL, once it is known to hold a registry (else a message saying what to run)."""
    from market40 import db
    url = database_url()
    if db.current_revision(url) is None:
        raise click.ClickException(f"no registry in {db.redact(url)}: create one with `market40 db init` "
                                   "(or try `market40 demo`), or choose another with --db")
    return url


def progress_bar(label: str) -> Any:
    """A progress callback that draws a bar on a terminal and stays quiet in pipes."""
    if not sys.stderr.isatty():
        return None, lambda: None
    bar = click.progressbar(length=1, label=label, file=sys.stderr, show_pos=True)
    bar.__enter__()
    state = {"total": None}

    def update(done: int, total: int | None) -> None:
        if total and total != state["total"]:
            state["total"] = total
            bar.length = total
        bar.update(done - bar.pos)

    return update, lambda: bar.__exit__(None, None, None)


def print_table(rows: list[list[Any]], header: list[str]) -> None:
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows)] if rows else [len(h) for h in header]
    for line in [header, *rows]:
        click.echo("  ".join(str("" if v is None else v).ljust(w) for v, w in zip(line, widths)).rstrip())


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


# ---------------------------------------------------------------------------- db

@main.group("db")
def db_group() -> None:
    """Create or upgrade the registry database."""


@db_group.command("init")
@click.option("--force", is_flag=True, help="Drop every existing table first (destroys the data).")
def db_init(force: bool) -> None:
    """Create a fresh registry database at the latest schema.

    \b
    Examples:
      market40 db init
      market40 --db postgresql://market40@db.internal/market40 db init
    """
    from market40 import db
    url = database_url()
    db.init(url, drop_existing=force)
    click.echo(f"created the registry at revision {db.current_revision(url)}", err=True)


@db_group.command("upgrade")
def db_upgrade() -> None:
    """Apply pending schema migrations (safe to run again).

    \b
    Example:
      market40 db upgrade
    """
    from market40 import db
    url = database_url()
    before = db.current_revision(url)
    db.upgrade(url)
    after = db.current_revision(url)
    click.echo("already at the latest revision" if before == after else f"upgraded {before} → {after}", err=True)


# ---------------------------------------------------------------------------- markets

@main.group("market")
def market_group() -> None:
    """Markets: add, list, show, import the board's list."""


@market_group.command("add")
@click.argument("code")
@click.option("--name", required=True, help="Name with diacritics, e.g. 'Chợ Hạ Long I'.")
@click.option("--tier", required=True, help="Tier as classified: I, II or III.")
@click.option("--locality", required=True, help="Locality code (see the demo's data/demo/*.csv).")
@click.option("--tier-source", help="Decision or list the tier comes from.")
@click.option("--tier-date", help="Date of that classification (YYYY-MM-DD or DD/MM/YYYY).")
@click.option("--central", is_flag=True, help="A central market (chợ trung tâm).")
@click.option("--address")
@click.option("--contact", "board_contact_name", help="Market board contact person.")
@click.option("--phone", "board_contact_phone", help="Market board phone.")
def market_add(code: str, **fields: Any) -> None:
    """Add a market, or update it if the code exists.

    \b
    Example:
      market40 market add HH1 --name "Chợ Hồng Hà" --tier III --locality QN-P-HALONG
    """
    fields["is_central"] = fields.pop("central")
    with registry_session() as registry:
        market, outcome = registry.save_market(code=code, **fields)
        click.echo(f"{market.code}: {outcome}")


@market_group.command("list")
@click.option("--locality", help="Only markets of this locality code.")
@click.option("--tier", help="Only this tier (I, II, III).")
@click.option("--json", "as_json", is_flag=True)
def market_list(locality: str | None, tier: str | None, as_json: bool) -> None:
    """List markets with stall and account counts.

    \b
    Example:
      market40 market list --tier I
    """
    with registry_session() as registry:
        rows = registry.markets(locality=locality, tier=tier)
    if as_json:
        echo_json([r.as_dict() for r in rows])
        return
    print_table([[r.code, r.name, r.tier, r.locality, r.stalls, r.verified, r.pending] for r in rows],
                ["code", "name", "tier", "locality", "stalls", "verified", "pending"])


@market_group.command("show")
@click.argument("code")
@click.option("--json", "as_json", is_flag=True)
def market_show(code: str, as_json: bool) -> None:
    """Show one market.

    \b
    Example:
      market40 market show HL1
    """
    with registry_session() as registry:
        market = registry.market(code)
        summary = next(r for r in registry.markets() if r.code == market.code)
        data = {**market.model_dump(exclude={"id", "locality_id"}), **summary.as_dict()}
    if as_json:
        echo_json(data)
    else:
        for key, value in data.items():
            click.echo(f"{key + ':':<22}{'' if value is None else value}")


def import_options(func: Callable) -> Callable:
    for option in reversed([
        click.option("--dry-run", is_flag=True, help="Check every row, write nothing."),
        click.option("--partial", is_flag=True, help="Import the good rows even if some are bad."),
        click.option("--rejects", type=click.Path(dir_okay=False), help="Where to write the bad rows "
                     "(.csv or .xlsx; default: FILE.rejects.csv beside the input when there are any)."),
        click.option("--sheet", help="XLSX sheet name (default: the first)."),
        click.option("--json", "as_json", is_flag=True, help="Print the report as JSON."),
    ]):
        func = option(func)
    return func


def finish_import(report: Any, as_json: bool) -> None:
    if as_json:
        echo_json(report.as_dict())
    else:
        for problem in report.problems:
            for line in problem.lines():
                click.echo(line, err=True)
        if report.unknown_columns:
            click.echo(f"note: columns ignored: {', '.join(report.unknown_columns)}", err=True)
        click.echo(report.summary())
    if report.problems:
        sys.exit(1)


def default_rejects(path: str, rejects: str | None) -> str:
    from pathlib import Path
    return rejects or str(Path(path).with_suffix("")) + ".rejects.csv"


@market_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@import_options
def market_import(file: str, dry_run: bool, partial: bool, rejects: str | None, sheet: str | None,
                  as_json: bool) -> None:
    """Import markets from CSV or XLSX (Vietnamese or English headers).

    Every bad row is reported at once; nothing is written unless all rows are good
    (or --partial). Importing the same file again changes nothing.

    \b
    Example:
      market40 market import data/samples/markets-new.csv
    """
    from market40 import db
    from market40.services.imports import import_markets
    engine = db.make_engine(require_registry())
    try:
        with db.session_scope(engine) as session:
            update, done = progress_bar("markets")
            try:
                report = import_markets(session, operator(), file, sheet=sheet, dry_run=dry_run, partial=partial,
                                        rejects=default_rejects(file, rejects), progress=update)
            finally:
                done()
    finally:
        engine.dispose()
    finish_import(report, as_json)


# ---------------------------------------------------------------------------- stalls

@main.group("stall")
def stall_group() -> None:
    """Stalls: add, list, show, import the board's stall list, print the template."""


@stall_group.command("add")
@click.argument("stall")
@click.option("--owner", "owner_name", required=True, help="Owner household name (with diacritics).")
@click.option("--phone", "owner_phone", help="Owner phone, e.g. 0912345678.")
@click.option("--shop", "shop_name", help="Shop name on the poster.")
@click.option("--category", "goods_category", help="Goods category (ngành hàng).")
@click.option("--status", type=click.Choice(["operating", "closed"]), help="Default: operating.")
def stall_add(stall: str, **fields: Any) -> None:
    """Add a stall (MARKET/STALL), or update the given fields if it exists.

    \b
    Example:
      market40 stall add HL1/A-12 --owner "Nguyễn Thị Lan" --phone 0912345678 --shop "Hải sản Lan"
    """
    from market40.services.registry import parse_stall_ref
    market, code = parse_stall_ref(stall)
    with registry_session() as registry:
        given = {k: v for k, v in fields.items() if v is not None}
        _, outcome = registry.save_stall(market, code=code, **given)
        click.echo(f"{market}/{code}: {outcome}")


@stall_group.command("list")
@click.argument("market")
@click.option("--status", type=click.Choice(["operating", "closed"]))
@click.option("--search", help="Match code, shop, owner or phone (diacritics optional).")
@click.option("--limit", type=int, help="Show at most this many rows.")
@click.option("--json", "as_json", is_flag=True)
def stall_list(market: str, status: str | None, search: str | None, limit: int | None, as_json: bool) -> None:
    """List a market's stalls with their account (numbers masked).

    \b
    Example:
      market40 stall list HL1 --search "thu hang"
    """
    with registry_session() as registry:
        rows = registry.stalls(market, status=status, search=search)
    total, rows = len(rows), rows[:limit] if limit else rows
    if as_json:
        echo_json([r.as_dict() for r in rows])
        return
    print_table([[r.code, r.shop_name, r.owner_name, r.status,
                  f"{r.account.bank} {r.account.number}" if r.account else "—",
                  r.account.status if r.account else "no QR"] for r in rows],
                ["stall", "shop", "owner", "status", "account", "account status"])
    if total > len(rows):
        click.echo(f"… {total - len(rows)} more (of {total})")


@stall_group.command("show")
@click.argument("stall")
@click.option("--reveal", is_flag=True, help="Show the full account number (written to the audit trail).")
@click.option("--json", "as_json", is_flag=True)
def stall_show(stall: str, reveal: bool, as_json: bool) -> None:
    """Show one stall and its account history.

    \b
    Example:
      market40 stall show HL1/A-12
    """
    market, _ = stall.split("/", 1) if "/" in stall else (stall, "")
    with registry_session() as registry:
        row = registry.stall(stall)
        summary = next(s for s in registry.stalls(market, search=None) if s.code == row.code)
        history = [a for a in registry.accounts(market, history=True, reveal=reveal) if a.stall == summary.ref]
        data = {**summary.as_dict(), "accounts": [a.as_dict() for a in history]}
    if as_json:
        echo_json(data)
        return
    for key in ("ref", "shop_name", "goods_category", "owner_name", "owner_phone", "status"):
        click.echo(f"{key + ':':<16}{data[key] or ''}")
    click.echo("accounts:" if history else "accounts:       none (no QR yet)")
    for account in history:
        click.echo(f"  {account.created_at:%Y-%m-%d}  {account.bank:<14} {account.number:<20} {account.holder_name:<26} "
                   f"{account.status}{' — ' + account.status_reason if account.status_reason else ''}")


@stall_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--market", help="Market code for rows without a Mã chợ column.")
@click.option("--allow-unknown-bin", is_flag=True, help="Accept BINs missing from the directory.")
@import_options
def stall_import(file: str, market: str | None, allow_unknown_bin: bool, dry_run: bool, partial: bool,
                 rejects: str | None, sheet: str | None, as_json: bool) -> None:
    """Import a market board's stall list (CSV or XLSX), with accounts if given.

    Every bad row is reported at once (row, column, reason; and in a rejects file);
    nothing is written unless all rows are good (or --partial). Re-importing the
    same file changes nothing; a changed row updates that stall (audited).
    New accounts wait for `market40 account verify`.

    \b
    Examples:
      market40 stall import data/samples/stalls-HH1.xlsx --market HH1
      market40 stall import board-list.csv --market HL1 --dry-run
    """
    from market40 import db
    from market40.services.imports import import_stalls
    engine = db.make_engine(require_registry())
    try:
        with db.session_scope(engine) as session:
            update, done = progress_bar("stalls")
            try:
                report = import_stalls(session, operator(), file, market=market, sheet=sheet, dry_run=dry_run,
                                       partial=partial, rejects=default_rejects(file, rejects),
                                       allow_unknown_bin=allow_unknown_bin, progress=update)
            finally:
                done()
    finally:
        engine.dispose()
    finish_import(report, as_json)


@stall_group.command("template")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--markets", is_flag=True, help="The market list template instead of the stall list.")
def stall_template(file: str, markets: bool) -> None:
    """Write the import template (.xlsx with a "Hướng dẫn" sheet, or .csv).

    \b
    Example:
      market40 stall template danh-sach-sap.xlsx
    """
    from market40 import tabular
    tabular.write_template(file, tabular.MARKET_COLUMNS if markets else tabular.STALL_COLUMNS)
    click.echo(f"wrote {file}", err=True)


# ---------------------------------------------------------------------------- accounts

@main.group("account")
def account_group() -> None:
    """Payment accounts: register, verify, reject, revoke, list."""


@account_group.command("set")
@click.argument("stall")
@click.option("--bank", required=True, help="Bank or e-wallet: BIN, code or name.")
@click.option("--account", "number", required=True, help="Account, card or wallet number.")
@click.option("--holder", "holder_name", required=True, help="Holder name exactly as the bank shows it.")
@click.option("--kind", help="bank_account, card or ewallet (default: from the bank).")
@click.option("--reference", "reference_label", help="62.05 reference (MoMo: MOMOW2W…).")
@click.option("--consent", "consent_channel", default="paper", show_default=True,
              help="How the owner gave consent (paper, web, …).")
@click.option("--allow-unknown-bin", is_flag=True)
def account_set(stall: str, **fields: Any) -> None:
    """Register or change the account a stall's customers pay into (pending review).

    \b
    Example:
      market40 account set HL1/A-12 --bank vietcombank --account 0011012344418 --holder "NGUYEN THI LAN"
    """
    with registry_session() as registry:
        account, outcome = registry.register_account(stall, **fields)
        click.echo(f"{stall}: {outcome}; {account.status}; QR reference {account.purpose!r}")


@account_group.command("verify")
@click.argument("stall", required=False)
@click.option("--market", help="Verify every pending account of this market.")
def account_verify(stall: str | None, market: str | None) -> None:
    """Mark a pending account verified (checked with the bank): its poster may print.

    \b
    Examples:
      market40 account verify HL1/A-12
      market40 account verify --market HH1
    """
    if (stall is None) == (market is None):
        raise click.UsageError("give a STALL or --market")
    with registry_session() as registry:
        if stall:
            registry.verify_account(stall)
            click.echo(f"{stall}: verified")
        else:
            done = registry.verify_pending(market)
            click.echo(f"{market}: {len(done)} accounts verified")


@account_group.command("reject")
@click.argument("stall")
@click.option("--reason", required=True, help="Why (the owner sees it).")
def account_reject(stall: str, reason: str) -> None:
    """Reject a pending account, with the reason.

    \b
    Example:
      market40 account reject HL1/A-12 --reason "Tên chủ tài khoản không khớp"
    """
    with registry_session() as registry:
        registry.reject_account(stall, reason)
        click.echo(f"{stall}: rejected")


@account_group.command("revoke")
@click.argument("stall")
@click.option("--reason", required=True)
def account_revoke(stall: str, reason: str) -> None:
    """Take a stall's account out of use (its posters stop counting as registered).

    \b
    Example:
      market40 account revoke HL1/A-12 --reason "Sạp nghỉ kinh doanh"
    """
    with registry_session() as registry:
        registry.revoke_account(stall, reason)
        click.echo(f"{stall}: revoked")


@account_group.command("list")
@click.argument("market")
@click.option("--status", type=click.Choice(["pending", "verified", "rejected", "revoked"]))
@click.option("--history", is_flag=True, help="Every account ever registered, not only current ones.")
@click.option("--reveal", is_flag=True, help="Full account numbers (written to the audit trail).")
@click.option("--limit", type=int, help="Show at most this many rows.")
@click.option("--json", "as_json", is_flag=True)
def account_list(market: str, status: str | None, history: bool, reveal: bool, limit: int | None,
                 as_json: bool) -> None:
    """List a market's payment accounts (numbers masked unless --reveal).

    \b
    Example:
      market40 account list HL1 --status pending
    """
    with registry_session() as registry:
        rows = registry.accounts(market, status=status, history=history, reveal=reveal)
    total, rows = len(rows), rows[:limit] if limit else rows
    if as_json:
        echo_json([r.as_dict() for r in rows])
        return
    print_table([[r.stall, r.bank, r.number, r.holder_name, r.kind, r.status] for r in rows],
                ["stall", "bank", "number", "holder", "kind", "status"])
    if total > len(rows):
        click.echo(f"… {total - len(rows)} more (of {total})")


# ---------------------------------------------------------------------------- users

@main.group("user")
def user_group() -> None:
    """Users of the web app and what they may see."""


@user_group.command("add")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(["owner", "staff", "officer", "admin"]))
@click.option("--name", "display_name", help="Display name.")
@click.option("--password", help="Password (asked for when not given; at least 8 characters).")
@click.option("--phone")
@click.option("--market", "markets", multiple=True, help="A market the user may see (repeatable).")
@click.option("--locality", "localities", multiple=True, help="A locality the user may see (repeatable).")
@click.option("--stall", help="The owner's stall (MARKET/STALL).")
def user_add(username: str, role: str, password: str | None, **fields: Any) -> None:
    """Add a user with a role and scope.

    \b
    Examples:
      market40 user add nv.halong --role staff --market HL1 --market HL2
      market40 user add cb.halong --role officer --locality QN-HL
    """
    if password is None and role != "owner":
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    with registry_session() as registry:
        user = registry.add_user(username, role, password=password, **fields)
        click.echo(f"{user.username}: created ({role})")


@user_group.command("list")
@click.option("--json", "as_json", is_flag=True)
def user_list(as_json: bool) -> None:
    """List users, roles and scopes.

    \b
    Example:
      market40 user list
    """
    with registry_session() as registry:
        rows = registry.users()
    if as_json:
        echo_json([r.as_dict() for r in rows])
        return
    print_table([[r.username, r.role, "yes" if r.is_active else "no", ", ".join(r.scopes)] for r in rows],
                ["username", "role", "active", "scope"])


# ---------------------------------------------------------------------------- enrollment

@main.group("enroll")
def enroll_group() -> None:
    """One-time enrollment codes for stall owners."""


@enroll_group.command("issue")
@click.option("--market", help="Every operating stall of this market.")
@click.option("--stall", help="One stall (MARKET/STALL).")
@click.option("--days", default=14, show_default=True, help="Days the codes stay valid (1–90).")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Write the slips to a .pdf or .txt file (default: print them).")
def enroll_issue(market: str | None, stall: str | None, days: int, output: str | None) -> None:
    """Issue enrollment codes and print onboarding slips (codes are shown once, stored hashed).

    \b
    Examples:
      market40 enroll issue --stall HL1/A-12
      market40 enroll issue --market HH1 -o slips-HH1.pdf
    """
    from market40.config import secret_key
    from market40.services import slips as slip_service
    with registry_session() as registry:
        slips = registry.issue_enrollment_codes(key=secret_key(), market=market, stall=stall, valid_days=days)
    if output and output.lower().endswith(".pdf"):
        slip_service.write_pdf(slips, output)
    elif output:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(slip_service.as_text(slips))
    else:
        click.echo(slip_service.as_text(slips), nl=False)
    if output:
        click.echo(f"{len(slips)} slips written to {output}", err=True)


# ---------------------------------------------------------------------------- posters

@main.group("poster", invoke_without_command=True)
@click.option("--stall", help="One stall's poster (MARKET/STALL).")
@click.option("--market", help="Every stall of a market with a verified account, in one PDF.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="The .pdf (or, for one stall, .png) to write.")
@click.option("--size", type=click.Choice(["a6", "a5", "a4"]), default="a6", show_default=True)
@click.option("--sheet", type=click.Choice(["a6", "a5", "a4"]), default="a4", show_default=True,
              help="Paper the market's posters are printed on (several per sheet, with cut marks).")
@click.option("--english", is_flag=True, help="Add English lines under the Vietnamese.")
@click.option("--skipped", type=click.Path(dir_okay=False), help="Also write the skip report to this CSV.")
@click.pass_context
def poster_group(ctx: click.Context, stall: str | None, market: str | None, output: str | None, size: str,
                 sheet: str, english: bool, skipped: str | None) -> None:
    """Print-ready stall posters (vector PDF or 300 dpi PNG), and poster inspection.

    Only verified current accounts print; stalls left out are listed with the reason.

    \b
    Examples:
      market40 poster --stall HL1/A-12 -o a12.pdf
      market40 poster --stall HL1/A-12 --size a5 -o a12.png
      market40 poster --market HL1 -o hl1.pdf --size a6 --sheet a4
      market40 poster verify photo.jpg --stall HL1/A-12
    """
    if ctx.invoked_subcommand is not None:
        return
    if (stall is None) == (market is None) or output is None:
        raise click.UsageError("give --stall or --market, and -o FILE")
    from market40 import posters
    from market40.services import posters as poster_service
    with registry_session() as registry:
        if stall:
            data = poster_service.poster_data(registry, stall)
            if output.lower().endswith(".png"):
                posters.render_png(data, output, size=size, english=english)
            else:
                posters.render_pdf(data, output, size=size, english=english)
            click.echo(f"{stall}: poster {data.serial} written to {output}", err=True)
            return
        items, left_out = poster_service.market_posters(registry, market)
    update, done = progress_bar("posters")
    try:
        posters.render_sheet_pdf(items, output, size=size, sheet=sheet, english=english, progress=update)
    finally:
        done()
    for item in left_out:
        click.echo(f"skipped {item.stall}: {item.reason}", err=True)
    if skipped:
        import csv
        with open(skipped, "w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["stall", "reason"])
            writer.writerows([item.stall, item.reason] for item in left_out)
    click.echo(f"{market}: {len(items)} posters written to {output}; {len(left_out)} stalls skipped")


@poster_group.command("verify")
@click.argument("photo", type=click.Path(dir_okay=False))
@click.option("--stall", help="The stall the photo was taken at (MARKET/STALL).")
@click.option("--json", "as_json", is_flag=True)
def poster_verify(photo: str, stall: str | None, as_json: bool) -> None:
    """Check the QR in a photo of a stall's poster against the registry (audited).

    \b
    Exit codes: 0 the stall's current registered QR; 3 another stall's QR;
    4 a revoked QR; 5 unknown to the registry (possible overlay); 6 registered
    but not verified yet; 1 no QR / not a VietQR.

    \b
    Example:
      market40 poster verify inspection/HL1-A12.jpg --stall HL1/A-12
    """
    from market40.services import posters as poster_service
    with registry_session() as registry:
        results = poster_service.inspect(registry, photo, stall=stall)
    if as_json:
        echo_json([r.as_dict() for r in results])
    else:
        for result in results:
            click.echo(f"{result.verdict.upper()}: {result.message}")
            for label, value in (("bank", result.bank), ("account", result.account),
                                 ("holder", result.holder_name), ("serial", result.serial)):
                if value:
                    click.echo(f"  {label + ':':<9}{value}")
            for note in result.notes:
                click.echo(f"  note: {note}")
    sys.exit(max(r.exit_code for r in results) if results else 1)


# ---------------------------------------------------------------------------- demo

@main.command("demo")
@click.option("--fresh", is_flag=True, help="Replace an existing registry at --db (destroys its data).")
@click.option("--no-walkthrough", is_flag=True, help="Only build the demo province.")
@click.option("--seed", default=2025, show_default=True, help="Random seed of the synthetic data.")
def demo_command(fresh: bool, no_walkthrough: bool, seed: int) -> None:
    """Build the synthetic demo province and walk through onboarding one market.

    Quảng Ninh's 13 former districts and 54 communes, its 43 Chợ 4.0 markets
    (19 tier I, 11 tier II, 13 tier III) and ~14,000 invented stalls; then the
    market board's list for a new market (Chợ Hồng Hà, HH1) is imported step by
    step, as bank staff would. All people and accounts are invented.

    \b
    Examples:
      market40 demo
      market40 --db demo.db demo --fresh
    """
    from market40 import db
    from market40.demo import demo_data_dir
    from market40.services.demo import build_demo, is_empty
    url = database_url()
    if db.current_revision(url) is not None:
        with registry_session() as registry:
            empty = is_empty(registry.session)
        if not empty and not fresh:
            raise click.ClickException("the registry already holds data; use --fresh to replace it, "
                                       "or --db to choose another file")
    db.init(url, drop_existing=True)
    step = _walkthrough_step()
    step("Build the demo province (synthetic data: data/demo/README.md)")
    engine = db.make_engine(url)
    try:
        with db.session_scope(engine) as session:
            update, done = progress_bar("markets")
            try:
                summary = build_demo(session, operator(), seed=seed, progress=update)
            finally:
                done()
    finally:
        engine.dispose()
    click.echo(f"  {summary.localities} localities ({summary.links} old→new links), {summary.markets} markets, "
               f"{summary.stalls:,} stalls, {summary.accounts:,} accounts ({summary.pending} waiting for review)")
    click.echo("  demo logins for the web app (demo passwords, never for a deployment):")
    for login in summary.logins:
        click.echo(f"    {login.username:<12} {login.password:<18} {login.role:<8} {login.scope}")
    if no_walkthrough:
        return
    samples = demo_data_dir() / "samples"
    ctx = click.get_current_context()

    def run(*args: str) -> None:
        click.echo(click.style("  $ market40 " + " ".join(args), bold=True))
        try:
            main.main(list(args), standalone_mode=False, obj=ctx.find_root().obj)
        except SystemExit as stop:  # a refusal is part of the story; say so, never hide it
            if stop.code not in (0, None):
                click.echo(f"  (exit code {stop.code})")
        except click.ClickException as error:
            click.echo(f"  (refused, as expected: {error.format_message().splitlines()[0]})")

    step("The market board sends a new market: import it")
    run("market", "import", str(samples / "markets-new.csv"))
    step("Its stall list arrives with mistakes: every bad row is reported at once, nothing is written")
    run("stall", "import", str(samples / "stalls-HH1-with-errors.csv"), "--market", "HH1")
    step("The corrected list (XLSX: leading zeros of accounts and phones survive)")
    run("stall", "import", str(samples / "stalls-HH1.xlsx"), "--market", "HH1")
    step("Importing the same file again changes nothing")
    run("stall", "import", str(samples / "stalls-HH1.xlsx"), "--market", "HH1")
    step("Staff check the accounts with the bank, then verify them")
    run("account", "list", "HH1", "--status", "pending", "--limit", "5")
    run("account", "verify", "--market", "HH1")
    step("One owner changes bank: the old account is revoked, the history kept")
    run("account", "set", "HH1/A-1", "--bank", "vietcombank", "--account", "1023456789", "--holder",
        "HOANG HONG MAI")
    run("stall", "show", "HH1/A-1")
    step("Onboarding slips with one-time enrollment codes for the owners")
    run("enroll", "issue", "--stall", "HH1/A-1")
    step("The markets now")
    run("market", "list", "--tier", "III")
    click.echo("\nNext: `market40 stall list HL1`, `market40 account list HL1 --status pending`, "
               "`market40 qr decode …`.")


def _walkthrough_step() -> Callable[[str], None]:
    counter = {"n": 0}

    def step(title: str) -> None:
        counter["n"] += 1
        click.echo(click.style(f"\n{counter['n']}. {title}", fg="cyan", bold=True))
    return step


# ---------------------------------------------------------------------------- web app

@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0: every interface; put a TLS proxy in front).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on (0: any free port, printed).")
@click.option("--workers", default=4, show_default=True, type=click.IntRange(1, 256),
              help="Worker threads per server process.")
@click.option("--processes", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Server processes sharing the port, to use several cores: 1 runs waitress, more run "
                   "gunicorn workers (POSIX). Above 1, rate limits count per process unless "
                   "MARKET40_RATELIMIT_STORAGE points at Redis.")
@click.option("--demo", is_flag=True,
              help="Build the synthetic demo province first (into --db if given and empty, else a temporary "
                   "file removed on exit) and print its logins.")
def serve_command(host: str, port: int, workers: int, processes: int, demo: bool) -> None:
    """Run the web app for stall owners, staff and officers (production servers: waitress for one
    process, gunicorn for several; a stop ends every worker within 10 seconds).

    Settings come from the environment: MARKET40_SECRET_KEY, MARKET40_TLS
    (auto/always/never), MARKET40_PROXIES (reverse proxies in front),
    MARKET40_RATELIMIT_STORAGE, MARKET40_TRUSTED_HOSTS.

    \b
    Examples:
      market40 serve --demo
      market40 serve --port 8080 --workers 8 --processes 2
      market40 --db postgresql://market40@db/market40 serve --host 0.0.0.0
    """
    import os
    import secrets
    import tempfile

    from market40 import db
    config: dict[str, Any] = {}
    temporary = None
    live_demo = None
    if demo:
        explicit = click.get_current_context().find_root().obj.get("database")
        if explicit:
            url = db.database_url(explicit)
            if db.current_revision(url) is not None:
                from market40.services.demo import is_empty
                with registry_session() as registry:
                    if not is_empty(registry.session):
                        raise click.ClickException(
                            f"{db.redact(url)} already holds a registry: serve it without --demo, or rebuild it "
                            "with `market40 --db ... demo --fresh`")
        else:
            handle, temporary = tempfile.mkstemp(prefix="market40-demo-", suffix=".db")
            os.close(handle)
            url = db.database_url(temporary)
            if not os.environ.get("MARKET40_SECRET_KEY"):
                config["SECRET_KEY"] = secrets.token_hex(32)  # a throw-away registry, a throw-away key
        from market40.services.demo import build_demo
        click.echo(f"building the demo province into {db.redact(url)} ...", err=True)
        db.init(url, drop_existing=True)
        engine = db.make_engine(url)
        try:
            with db.session_scope(engine) as session:
                summary = build_demo(session, operator())
        finally:
            engine.dispose()
        click.echo(f"  {summary.markets} markets, {summary.stalls:,} stalls, {summary.pending} accounts waiting for "
                   "review (synthetic data)")
        click.echo("  demo logins (demo passwords, never for a deployment):")
        for login in summary.logins:
            click.echo(f"    {login.username:<12} {login.password:<18} {login.role:<8} {login.scope}")
        live_demo = _demo_live_payments(url, config)  # live payments (issue 10)
    else:
        url = require_registry()
    config["DATABASE_URL"] = url
    if processes > 1 and not os.environ.get("MARKET40_RATELIMIT_STORAGE"):
        click.echo(f"note: rate limits are counted per process ({processes} processes): set "
                   "MARKET40_RATELIMIT_STORAGE=redis://... to count them together", err=True)

    from web.server import serve

    def ready(address: str) -> None:
        click.echo(f"market40 web app on {address} ({processes} × {workers} threads; Ctrl+C to stop)")
        if live_demo is not None:
            live_demo(address)

    try:
        serve(config, host=host, port=port, threads=workers, processes=processes, ready=ready)
    finally:
        if temporary:
            for suffix in ("", "-wal", "-shm"):
                try:
                    os.unlink(temporary + suffix)
                except OSError:
                    pass


def _demo_live_payments(url: str, config: dict[str, Any]) -> Callable[[str], None]:
    """For ``serve --demo``: a signed demo feed, and a starter that pays HL1's stalls once the server listens."""
    import secrets
    import threading

    from market40 import db, webhooks
    from market40.services import simulate
    source = webhooks.Source("demo", "market40", (secrets.token_hex(24),))
    config["LIVE_SOURCES"] = {source.name: source}
    engine = db.make_engine(url)
    try:
        with db.session_scope(engine) as session:
            chosen = simulate.targets(session, "HL1")
    finally:
        engine.dispose()
    featured = next((t for t in chosen if t.ref == "HL1/A-1"), None)
    click.echo("  live payments: sign in as the demo owner and open /loa/ (Loa báo tiền); a payment to HL1/A-1 "
               "arrives every few seconds")

    def start(address: str) -> None:
        stop = threading.Event()
        threading.Thread(target=simulate.demo_payments, args=(address, source, chosen, featured),
                         kwargs={"stop": stop}, name="market40-demo-payments", daemon=True).start()
    return start


# ---------------------------------------------------------------------------- census, transfers, reports

def store_option(func: Callable) -> Callable:
    return click.option("--store", "store_path", metavar="PATH", envvar="MARKET40_TX_STORE",
                        help="Transaction store (DuckDB file; default beside an SQLite registry: "
                             "market40.transfers.duckdb; env MARKET40_TX_STORE).")(func)


def open_store(path: str | None, *, read_only: bool = False) -> Any:
    from market40.txstore import TransferStore, store_path
    return TransferStore(store_path(database_url(), path), read_only=read_only)


@main.group("census")
def census_group() -> None:
    """Market censuses: the board's list of operating households per market and month."""


@census_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--market", help="Market code for rows without a Mã chợ column.")
@click.option("--period", metavar="YYYY-MM", help="Month for rows without a Kỳ column.")
@import_options
def census_import(file: str, market: str | None, period: str | None, dry_run: bool, partial: bool,
                  rejects: str | None, sheet: str | None, as_json: bool) -> None:
    """Import a census list (CSV/XLSX): it replaces that market's list for the month.

    Every bad row is reported; nothing is written unless all rows are good (or --partial).
    Importing the same file again changes nothing.

    \b
    Examples:
      market40 census import ds-ho-HL1-2025-06.xlsx --market HL1 --period 2025-06
      market40 census import census-2025-06.csv --dry-run
    """
    from market40 import db
    from market40.services.census import import_census
    engine = db.make_engine(require_registry())
    try:
        with db.session_scope(engine) as session:
            update, done = progress_bar("households")
            try:
                report = import_census(session, operator(), file, market=market, period=period, sheet=sheet,
                                       dry_run=dry_run, partial=partial, rejects=default_rejects(file, rejects),
                                       progress=update)
            finally:
                done()
    finally:
        engine.dispose()
    finish_import(report, as_json)


@census_group.command("list")
@click.option("--period", required=True, metavar="YYYY-MM", help="The month.")
@click.option("--market", help="Only this market.")
@click.option("--json", "as_json", is_flag=True)
def census_list(period: str, market: str | None, as_json: bool) -> None:
    """Households in each market's census for a month (— : no census, the registry counts).

    \b
    Example:
      market40 census list --period 2025-06
    """
    from market40.services.census import census_summary
    with registry_session() as registry:
        rows = census_summary(registry.session, registry.actor, period, market=market)
    if as_json:
        echo_json(rows)
        return
    print_table([[r["market"], r["name"], r["period"], "—" if r["households"] is None else r["households"]]
                 for r in rows], ["market", "name", "period", "households"])


@census_group.command("template")
@click.argument("file", type=click.Path(dir_okay=False))
def census_template(file: str) -> None:
    """Write the census form (XLSX with a "Hướng dẫn" sheet, or CSV).

    \b
    Example:
      market40 census template ds-ho-kinh-doanh.xlsx
    """
    from market40.services.census import write_census_template
    write_census_template(file)
    click.echo(f"wrote {file}")


@main.group("tx")
def tx_group() -> None:
    """Bank transfers: import statement exports and webhook feeds into the transaction store."""


@tx_group.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["auto", "generic", "vcb", "vietinbank", "mb", "sepay", "casso"]),
              default="auto", show_default=True, help="The export's layout (auto: from its headers).")
@click.option("--bank", help="The bank of the credited accounts (BIN, code or name): overrides the layout's; "
                             "needed for Casso feeds.")
@click.option("--account", help="The credited account, for a one-account statement that names it nowhere.")
@store_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per file.")
def tx_import(files: tuple[str, ...], fmt: str, bank: str | None, account: str | None, store_path: str | None,
              as_json: bool) -> None:
    """Import bank statement exports (CSV/XLSX) or SePay/Casso webhook feeds (JSON lines).

    Each file is one batch: all or nothing, deduplicated by bank and transaction id, and a
    file imported before changes nothing. Rows that are not incoming transfers (titles,
    totals, outgoing) are skipped and counted; bad rows are reported with the reason.

    \b
    Examples:
      market40 tx import sao-ke-vcb-06-2025.csv vietinbank-06.xlsx
      market40 tx import sepay-2025-06.jsonl
      market40 tx import casso.jsonl --bank BIDV
    """
    from market40 import db
    from market40.services.transfers import import_files
    engine = db.make_engine(require_registry())
    bars: list[Callable[[], None]] = []

    def bar(name: str) -> Any:
        update, done = progress_bar(name)
        bars.append(done)
        return update

    try:
        with db.session_scope(engine) as session, open_store(store_path) as store:
            try:
                results = import_files(session, operator(), store, list(files), fmt=fmt, bank=bank, account=account,
                                       progress=bar)
            finally:
                for done in bars:
                    done()
    finally:
        engine.dispose()
    failed = False
    for result in results:
        failed = failed or bool(result.invalid)
        if as_json:
            echo_json(result.as_dict())
            continue
        for problem in result.problems:
            where = f"line {problem['line']}" if problem.get("line") else (problem.get("tx_id") or "?")
            click.echo(f"{result.source}: {where}: {problem['reason']} ({problem.get('raw') or ''})", err=True)
        click.echo(result.summary())
    if failed:
        if not as_json:
            click.echo("some rows were rejected (listed above); the good rows were imported", err=True)
        sys.exit(1)


@tx_group.command("formats")
@click.option("--json", "as_json", is_flag=True)
def tx_formats(as_json: bool) -> None:
    """The export layouts `tx import` reads, with their headers.

    \b
    Example:
      market40 tx formats
    """
    from market40.transactions import LAYOUTS
    if as_json:
        echo_json([layout.as_dict() for layout in LAYOUTS.values()])
        return
    for layout in LAYOUTS.values():
        click.echo(f"{layout.name:<11} {layout.title}" + (f" (BIN {layout.bank_bin})" if layout.bank_bin else ""))
        sep = layout.delimiter if layout.kind == "csv" else " "
        click.echo(f"{'':<11} {'fields' if layout.kind == 'jsonl' else 'header'}: {sep.join(layout.header)}")


@tx_group.command("demo")
@click.option("--end", default="2025-06", show_default=True, metavar="YYYY-MM", help="The last month.")
@click.option("--months", default=6, show_default=True, type=click.IntRange(1, 24), help="How many months.")
@click.option("--seed", default=2025, show_default=True, type=int)
@click.option("--out", "folder", type=click.Path(file_okay=False), default="demo-activity", show_default=True,
              help="Where the generated census and transfer files go.")
@store_option
def tx_demo(end: str, months: int, seed: int, folder: str, store_path: str | None) -> None:
    """Give the demo province a history: onboarding dates, censuses and transfers (synthetic).

    Run it after `market40 demo`; then reconcile and report. Only a demo registry is changed.

    \b
    Example:
      market40 demo --no-walkthrough && market40 tx demo --end 2025-06 --months 6
      market40 reconcile --period 2025-06 --months 6 && market40 report adoption --period 2025-06 --months 6 -o bc.xlsx
    """
    from market40 import db
    from market40.services.demo_activity import build_demo_activity
    engine = db.make_engine(require_registry())
    try:
        with db.session_scope(engine) as session, open_store(store_path) as store:
            update, done = progress_bar("months")
            try:
                out = build_demo_activity(session, operator(), store, folder, end=end, months=months, seed=seed,
                                          progress=update)
            finally:
                done()
    finally:
        engine.dispose()
    click.echo(f"{out.accounts_backdated:,} demo accounts given an onboarding history "
               f"({out.shared_accounts} shared by two stalls)")
    for report in out.census:
        click.echo(f"  census  {report.source}: {sum(report.lists.values()):,} households, "
                   f"{report.added} added, {report.removed} removed")
    for result in out.transfers:
        click.echo(f"  transfers {result.summary()}")
    click.echo(f"files in {folder}/. Next: market40 reconcile --period {end} --months {months}")


@main.command("reconcile")
@click.option("--period", required=True, metavar="YYYY-MM", help="The month (the last one with --months).")
@click.option("--months", default=1, show_default=True, type=click.IntRange(1, 36),
              help="Reconcile this many months ending with --period.")
@click.option("--idle-months", default=3, show_default=True, type=click.IntRange(1, 24),
              help="List accepting accounts with no transfer for this many months.")
@store_option
@click.option("--json", "as_json", is_flag=True, help="Print the summaries as JSON.")
def reconcile_command(period: str, months: int, idle_months: int, store_path: str | None, as_json: bool) -> None:
    """Reconcile census × registry × transfers for a month: states, anomalies, totals.

    Every stall gets no QR / registered / accepting / active, with its evidence; the results
    replace the month's earlier ones and feed `report adoption` and the web dashboard.

    \b
    Examples:
      market40 reconcile --period 2025-06
      market40 reconcile --period 2025-06 --months 6 --json
    """
    from market40 import db
    from market40.reconciliation import Period
    from market40.services.reconcile import reconcile
    engine = db.make_engine(require_registry())
    summaries = []
    try:
        with open_store(store_path) as store:
            for month in Period.parse(period).back(months):
                update, done = progress_bar(f"{month}")
                try:
                    with db.session_scope(engine) as session:
                        summary = reconcile(session, operator(), month, store=store, idle_months=idle_months,
                                            progress=update)
                finally:
                    done()
                summaries.append(summary)
                if not as_json:
                    click.echo(summary.summary())
    finally:
        engine.dispose()
    if as_json:
        echo_json([s.as_dict() for s in summaries])


@main.group("report")
def report_group() -> None:
    """Adoption reports for officers and market boards (XLSX, CSV, HTML, JSON)."""


@report_group.command("adoption")
@click.option("--period", required=True, metavar="YYYY-MM", help="The month reported.")
@click.option("--by", type=click.Choice(["tier", "locality", "market", "province"]), default="tier",
              show_default=True, help="The main view (an XLSX has every view, one sheet each).")
@click.option("--locality", metavar="CODE", help="Only markets in this locality (a former district covers "
                                                 "the communes it became).")
@click.option("--level", type=click.Choice(["auto", "district", "commune"]), default="auto", show_default=True,
              help="Group localities by former district or by commune (auto: the units of the period).")
@click.option("--months", default=6, show_default=True, type=click.IntRange(1, 36),
              help="Months in the trend, ending with --period.")
@click.option("--target", default=100.0, show_default=True, type=click.FloatRange(0, 100, min_open=True),
              help="Accepting rate each market should reach, in %.")
@click.option("--format", "fmt", type=click.Choice(["xlsx", "csv", "html", "json"]), default=None,
              help="Default: from the suffix of -o.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, allow_dash=True),
              help="The file to write ('-' for standard output with csv/json).")
@click.option("--user", "username", help="Report as this user would see it (their markets or localities).")
@click.option("--detail", is_flag=True, help="Add one row per stall, with its evidence.")
def report_adoption(period: str, by: str, locality: str | None, level: str, months: int, target: float,
                    fmt: str | None, output: str, username: str | None, detail: bool) -> None:
    """Adoption per tier, locality, market and the province, with the monthly trend.

    Accepting and active are reported side by side, each as a stall-weighted rate and as the
    mean of market rates (the province's "83% on average" is the latter).

    \b
    Examples:
      market40 report adoption --period 2025-06 --by tier -o bao-cao-06-2025.xlsx
      market40 report adoption --period 2025-06 --by locality --level district --format html -o bc.html
      market40 report adoption --period 2025-06 --by market --locality QN-HL --user cb.halong -o hl.csv
    """
    import io
    from pathlib import Path
    from market40.services.reports import adoption_summary, export
    fmt = fmt or Path(output).suffix.lower().lstrip(".")
    if fmt not in ("xlsx", "csv", "html", "json"):
        raise click.UsageError("choose --format xlsx, csv, html or json (or an -o file with that suffix)")
    with registry_session() as registry:
        actor = registry.actor
        if username:
            from sqlmodel import select
            from market40.models import User
            from market40.services.registry import Actor
            user = registry.session.exec(select(User).where(User.username == username.strip().lower())).first()
            if user is None:
                raise click.ClickException(f"no user {username!r}")
            actor = Actor.for_user(registry.session, user)
        report = adoption_summary(registry.session, actor, period, by=by, locality=locality, level=level,
                                  months=months, target=target / 100, detail=detail)
    if output == "-":
        if fmt in ("xlsx",):
            raise click.UsageError("an XLSX workbook needs a file: -o report.xlsx")
        buffer = io.BytesIO()
        export(report, fmt, buffer)
        sys.stdout.buffer.write(buffer.getvalue())
        return
    export(report, fmt, output)
    p = report.province
    rate = (lambda x: "—" if x is None else f"{x:.1%}")
    stalls = f"{p.stalls:,}".replace(",", ".")
    click.echo(f"{report.period} · {report.scope}: {p.markets} markets, {stalls} stalls; accepting "
               f"{rate(p.accepting_rate)} (stall-weighted), {rate(p.mean_accepting_rate)} (mean of market rates); "
               f"active {rate(p.active_rate)} / {rate(p.mean_active_rate)}; {p.markets_at_target}/{p.markets} markets "
               f"at the {target:g}% target. Wrote {output}.")
    for note in report.notes[:1] if not report.reconciled else []:
        click.echo(note, err=True)


@report_group.command("anomalies")
@click.option("--period", required=True, metavar="YYYY-MM", help="The month.")
@click.option("--kind", type=click.Choice(["shared_account", "closed_stall_live_qr", "not_in_census_live_qr",
                                           "name_mismatch", "unknown_account", "idle_account", "unattributed"]),
              help="Only this kind.")
@click.option("--market", help="Only this market.")
@click.option("--limit", type=int, help="Show at most this many.")
@click.option("--json", "as_json", is_flag=True)
def report_anomalies(period: str, kind: str | None, market: str | None, limit: int | None, as_json: bool) -> None:
    """What the month's reconciliation found for follow-up (account numbers masked).

    \b
    Example:
      market40 report anomalies --period 2025-06 --kind shared_account
    """
    from market40.services.reports import anomaly_list
    with registry_session() as registry:
        ids = [registry.market(market).id] if market else [m.id for m in registry.session.exec(
            registry.scoped_markets()).all()]
        rows = anomaly_list(registry.session, ids, period, include_province=not market, kind=kind)
    rows = rows[:limit] if limit else rows
    if as_json:
        echo_json(rows)
        return
    print_table([[r["kind"], r["market"] or "—", r["stall"] or "—", r["account"] or "", r["transfers"] or "",
                  r["detail"][:80]] for r in rows], ["kind", "market", "stall", "account", "transfers", "detail"])



# ---------------------------------------------------------------------------- live payments (issue 10)

@tx_group.command("purge")
@click.option("--older-than", "older_than", metavar="AGE",
              help="Delete live transfers booked longer ago than this (90d, 12w, 6m, 1y): the retention.")
@click.option("--stall", "stall_ref", metavar="MARKET/STALL",
              help="Erase every live transfer, requested amount and helper link of one stall (an owner's erasure).")
@store_option
@click.option("--json", "as_json", is_flag=True)
def tx_purge(older_than: str | None, stall_ref: str | None, store_path: str | None, as_json: bool) -> None:
    """Delete live transfers (webhooks kept in the registry): past the retention, or of one stall.

    Transaction histories are sensitive personal data (Decree 356/2025 Art. 4): keep them no longer
    than needed. Audited. The copies a reconciliation made of them in the transaction store (when
    it exists) go too; imported statement files stay until removed there.

    \b
    Examples:
      market40 tx purge --older-than 13m
      market40 tx purge --stall HL1/A-12
    """
    from market40.services import live
    if not older_than and not stall_ref:
        raise click.UsageError("give --older-than AGE or --stall MARKET/STALL")
    from contextlib import nullcontext
    from pathlib import Path

    from market40.txstore import store_path as resolve_store
    out: dict[str, Any] = {}
    if older_than:
        try:
            age = live.parse_retention(older_than)
        except Exception as error:
            raise click.BadParameter(str(error), param_hint="--older-than") from None
    has_store = Path(resolve_store(database_url(), store_path)).exists()
    with registry_session() as registry, (open_store(store_path) if has_store else nullcontext()) as store:
        if older_than:
            out["purged"] = live.purge(registry.session, registry.actor, age, store=store)
        if stall_ref:
            out["erased"] = live.erase_stall(registry.session, registry.actor, registry.stall(stall_ref).id,
                                             store=store)
    if as_json:
        echo_json(out)
        return
    if "purged" in out:
        click.echo(f"{out['purged']:,} live transfers older than {older_than} deleted")
    if "erased" in out:
        click.echo(f"{out['erased']:,} live transfers of {stall_ref} erased, with its requested amounts and helper links")


@tx_group.command("simulate")
@click.option("--url", "base_url", default="http://127.0.0.1:8000", show_default=True,
              help="The running market40 web app.")
@click.option("--market", required=True, help="Pay the stalls of this market (those with an account).")
@click.option("--stall", help="Only this stall of the market (its code, e.g. A-12).")
@click.option("--count", default=20, show_default=True, type=click.IntRange(1, 10_000_000), help="Transfers to send.")
@click.option("--rate", default=2.0, show_default=True, type=click.FloatRange(0.01, 100_000),
              help="Requests per second.")
@click.option("--source", "source_name", help="The configured webhook source to sign as (default: the only one).")
@click.option("--webhooks", "webhooks_file", envvar="MARKET40_WEBHOOKS", type=click.Path(exists=True, dir_okay=False),
              help="The sources' JSON file, as the server reads it (env MARKET40_WEBHOOKS).")
@click.option("--retries", default=0, show_default=True, type=click.IntRange(0, 7),
              help="Send each body this many more times (as a provider retries).")
@click.option("--duplicates", default=0.0, show_default=True, type=click.FloatRange(0, 1),
              help="Share of transfers delivered once more (as a second provider would).")
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 512))
@click.option("--seed", type=int, help="Repeatable amounts and stalls.")
@click.option("--json", "as_json", is_flag=True)
def tx_simulate(base_url: str, market: str, stall: str | None, count: int, rate: float, source_name: str | None,
                webhooks_file: str | None, retries: int, duplicates: float, threads: int, seed: int | None,
                as_json: bool) -> None:
    """Send correctly signed bank webhooks for a market's stalls to a running server.

    For demos, tests and benchmarks: the stalls' own accounts and references, a fresh bank
    transaction id per transfer, signed with the source's secret as its provider signs.

    \b
    Examples:
      market40 tx simulate --market HL1 --count 50 --rate 5 --webhooks webhooks.json
      market40 tx simulate --market HL1 --stall A-1 --count 3 --retries 2
    """
    from market40 import db, webhooks
    from market40.services import simulate
    if not webhooks_file:
        raise click.UsageError("give the webhook sources' file (--webhooks or MARKET40_WEBHOOKS)")
    with open(webhooks_file, encoding="utf-8") as handle:
        sources = webhooks.load_sources(handle.read())
    if source_name is None and len(sources) == 1:
        source_name = next(iter(sources))
    if source_name not in sources:
        raise click.UsageError(f"--source: one of {', '.join(sources) or '(none configured)'}")
    engine = db.make_engine(require_registry())
    try:
        with db.session_scope(engine) as session:
            chosen = simulate.targets(session, market, stall=stall)
    finally:
        engine.dispose()
    report = simulate.run(base_url, sources[source_name],
                          simulate.transfers(chosen, count, seed=seed, retries=retries, duplicates=duplicates),
                          rate=rate, threads=threads)
    if as_json:
        echo_json({k: v for k, v in report.__dict__.items() if k != "latencies"})
    else:
        click.echo(report.summary())
    if report.errors or any(status != 200 for status in report.by_status):
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    main()
