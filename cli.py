"""``market40``: the command line for bank staff who bring whole markets on board.

A thin door onto :mod:`market40.services`: parse options, call one service, print.
Exit codes (design.md §5): 0 done, 1 refused input (the message says why), 2 usage.
"""
from __future__ import annotations

import contextlib
import functools
import importlib
import json
import sys
from typing import Any, Callable, Iterator, Sequence

import click

import market40
from market40.exceptions import Market40Error, ValidationError

EXAMPLE_PAYLOAD = "00020101021138570010A00000072701270006970403011300110123456780208QRIBFTTA53037045802VN63049E6F"


def run_lang() -> str:
    """The language of this run: ``--lang``, else what the environment asks for (market40.messages.language)."""
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        root = ctx.find_root()
        chosen = (root.obj.get("lang") if isinstance(root.obj, dict) else None) or root.params.get("lang_")
        if chosen:
            return chosen
    from market40.messages import language
    return language()


lang = run_lang  # the short name; ``run_lang`` where a command's own ``--lang`` (poster languages) hides it


def t(key: str, /, **fields: Any) -> str:
    """The text ``key`` of market40.messages in this run's language."""
    from market40.messages import text
    return text(key, lang(), **fields)


def say(key: str, /, *, err: bool = False, **fields: Any) -> None:
    """Print the text ``key`` in this run's language."""
    click.echo(t(key, **fields), err=err)


def word(value: str | None) -> str:
    """A status or outcome word of the services (``pending``, ``created``…) in this run's language."""
    from market40.messages import word as said
    return said(value, lang())


def num(value: int | None) -> str:
    from market40 import formats
    return formats.count(value, lang())


def pct(rate: float | None) -> str:
    from market40 import formats
    return formats.percent(rate, lang())


def _tx_reason(reason: str) -> str:
    from market40.messages import transfer_reason
    return transfer_reason(reason, lang())


def day(value: Any) -> str:
    from market40 import formats
    return formats.day(value, lang())


class Refusal(click.ClickException):
    """A refusal (exit 1), shown in the language of the run it happened in."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.lang = lang()

    def show(self, file: Any = None) -> None:
        from market40.messages import text
        click.echo(text("cli.error", self.lang, message=self.format_message()), file=file or sys.stderr)


class LocalizedFormatter(click.HelpFormatter):
    """click's help page in the run's language: its headings, ``Usage:`` and each option's help
    (market40.messages.OPTION_HELP); option names, metavars and choices stay as typed."""

    lang: str | None = None  # set when the page is written outside a command (a usage error)

    def _vi(self) -> bool:
        return (self.lang or lang()) == "vi"

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        if prefix is None and self._vi():
            prefix = "Cách dùng: "
        super().write_usage(prog, args, prefix) if prefix is not None else super().write_usage(prog, args)

    def write_heading(self, heading: str) -> None:
        if self._vi():
            from market40.messages import CLICK_HEADINGS
            heading = CLICK_HEADINGS.get(heading, heading)
        super().write_heading(heading)

    def write_dl(self, rows: Sequence[tuple[str, str]], *args: Any, **kwargs: Any) -> None:
        if self._vi():
            from market40.messages import option_help
            rows = [(term, option_help(said, "vi")) for term, said in rows]
        super().write_dl(rows, *args, **kwargs)


class Market40Context(click.Context):
    formatter_class = LocalizedFormatter


class LocalizedUsageError(click.UsageError):
    """click's usage error (exit 2) said in Vietnamese: the usage line, where to find help, the error."""

    def __init__(self, original: click.UsageError) -> None:
        super().__init__(original.format_message(), original.ctx)

    def format_message(self) -> str:
        from market40.messages import click_text
        return click_text(self.message, "vi")

    def show(self, file: Any = None) -> None:
        file = file or sys.stderr
        if self.ctx is not None:
            formatter = self.ctx.make_formatter()
            if isinstance(formatter, LocalizedFormatter):
                formatter.lang = "vi"
            self.ctx.command.format_usage(self.ctx, formatter)
            names = list(self.ctx.help_option_names) or ["--help"]
            hint = f"Xem hướng dẫn: '{self.ctx.command_path} {max(names, key=len)}'."
            click.echo(f"{formatter.getvalue().rstrip()}\n{hint}\n", file=file, color=self.ctx.color)
        click.echo(f"Lỗi: {self.format_message()}", file=file, color=self.ctx.color if self.ctx else None)


def _lang_in(args: Sequence[str]) -> str | None:
    """The root's ``--lang`` among command-line ``args`` not yet parsed (None when not given there)."""
    args = list(args)
    for at, arg in enumerate(args):
        if arg.startswith("--lang="):
            return arg.split("=", 1)[1].lower() or None
        if arg == "--lang":
            return args[at + 1].lower() if at + 1 < len(args) else None
        if not arg.startswith("-") and (at == 0 or args[at - 1] not in ("--db",)):
            return None  # the command: what follows is its own
    return None


def _usage_error(error: click.UsageError, args: Sequence[str] = ()) -> click.UsageError:
    """``error`` in the run's language (the choice on the command line, else the environment)."""
    chosen = _lang_in(args)
    if chosen is None and error.ctx is not None:
        root = error.ctx.find_root()
        chosen = (root.obj.get("lang") if isinstance(root.obj, dict) else None) or root.params.get("lang_")
    if chosen not in ("vi", "en"):
        chosen = lang()
    return LocalizedUsageError(error) if chosen == "vi" and not isinstance(error, LocalizedUsageError) else error


class Localized:
    """Commands whose help is Vietnamese when the run is (market40.messages.HELP, by function name);
    the English help is the docstring. Options' help and click's own words follow (LocalizedFormatter,
    LocalizedUsageError)."""

    context_class = Market40Context

    def _help_vi(self) -> str | None:
        callback = getattr(self, "callback", None)
        if callback is None or lang() != "vi":
            return None
        from market40.messages import HELP
        return HELP.get(callback.__name__)

    def get_short_help_str(self, limit: int = 45) -> str:
        vi = self._help_vi()
        if vi is None:
            return super().get_short_help_str(limit)  # type: ignore[misc]
        first = vi.split(". ")[0].rstrip(".")
        return first if len(first) <= limit else first[:limit - 3].rsplit(" ", 1)[0] + "..."

    def format_help_text(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        vi = self._help_vi()
        english = self.help  # type: ignore[attr-defined]
        if vi is not None:  # the Vietnamese line, then the English help's examples
            import inspect
            examples = [part for part in inspect.cleandoc(english or "").split("\n\n")
                        if part.startswith("\b\n") and part.splitlines()[1].strip().startswith("Example")]
            english_page = " ".join(["market40 --lang en", *ctx.command_path.split()[1:], "--help"])
            self.help = "\n\n".join([vi, *(part.replace("Examples:", "Ví dụ:").replace("Example:", "Ví dụ:")
                                             for part in examples), t("cli.help_more", page=english_page)])
        try:
            super().format_help_text(ctx, formatter)  # type: ignore[misc]
        finally:
            self.help = english


class Market40Command(Localized, click.Command):
    pass


class Market40SubGroup(Localized, click.Group):
    command_class = Market40Command
    group_class = type


class Market40Group(Localized, click.Group):
    """Turns library errors into a message on stderr and exit code 1, never a traceback."""

    command_class = Market40Command
    group_class = Market40SubGroup

    def make_context(self, info_name: str | None, args: list[str], *rest: Any, **kwargs: Any) -> click.Context:
        given = list(args)
        chosen = _lang_in(given)
        if chosen in ("vi", "en") and not rest and kwargs.get("parent") is None:
            # known before parsing, so an eager --help or --version written before --lang speaks it too
            obj = kwargs.setdefault("obj", {})
            if isinstance(obj, dict):
                obj.setdefault("lang", chosen)
        try:
            return super().make_context(info_name, args, *rest, **kwargs)
        except click.UsageError as error:  # the root's own options
            raise _usage_error(error, given) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ValidationError as error:
            from market40.messages import describe_error
            reasons = [describe_error(e, lang()) for e in error.errors]
            lines = reasons if len(reasons) == 1 else [t("cli.problems", n=len(reasons))] + \
                [f"  - {reason}" for reason in reasons]
            raise Refusal("\n".join(lines)) from None
        except Market40Error as error:
            from market40.messages import refusal
            raise Refusal(refusal(str(error), lang())) from None
        except click.exceptions.Exit:
            raise
        except click.UsageError as error:  # click's own words (exit 2), in the run's language
            raise _usage_error(error) from None
        except (click.Abort, KeyboardInterrupt, EOFError):  # Ctrl-C, or no answer to a prompt
            if lang() != "vi":
                raise
            click.echo("\n" + t("cli.aborted"), err=True)
            raise click.exceptions.Exit(1) from None
        except click.ClickException as error:
            if isinstance(error, Refusal):
                raise
            raise Refusal(error.format_message()) from None
        except Exception as error:  # the database or the disk said no: one line, no traceback, no data
            message = _environment_error(error)
            if message is None:
                raise
            raise Refusal(message) from None


def _environment_error(error: Exception) -> str | None:
    """One line for a locked, read-only, full or outdated database or a full disk; None for a bug."""
    from market40.services.storage import describe_failure
    return describe_failure(error, lang())


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def format_vnd(amount: int | None) -> str:
    from market40 import formats
    return formats.money(amount, lang())


@click.group(cls=Market40Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(market40.__version__, "--version", prog_name="market40",
                      message="%(prog)s %(version)s")  # no English word in either language
@click.option("--db", "database", metavar="URL|PATH", envvar="MARKET40_DATABASE_URL",
              help="Registry database: an SQLite file path or a postgresql:// URL "
                   "(default ./market40.db; env MARKET40_DATABASE_URL).")
@click.option("--lang", "lang_", type=click.Choice(["vi", "en"], case_sensitive=False), is_eager=True,
              help="Language of messages: vi (tiếng Việt) or en. Default: MARKET40_LANG, then the locale "
                   "(LC_ALL, LC_MESSAGES, LANG starting with vi), else en. Files and --json never change.")
@click.pass_context
def main(ctx: click.Context, database: str | None, lang_: str | None) -> None:
    """market40: VietQR codes, stall registry and posters for Chợ 4.0 markets.

    \b
    Examples:
      market40 demo
      market40 qr encode --bank vietcombank --account 1234567890 --purpose "HL1 A12"
      market40 stall import data/samples/stalls-HH1.xlsx --market HH1
      market40 banks ngoai thuong
    """
    ctx.ensure_object(dict)  # nested runs (the demo walkthrough) pass the parent's choice in obj
    from market40.services import auth as auth_service
    auth_service.configure_breach_check_from_env()  # MARKET40_BREACHED_PASSWORDS_URL: off unless set
    if database:
        ctx.obj["database"] = database
    if lang_:
        ctx.obj["lang"] = lang_.lower()


def database_url() -> str:
    from market40.services import storage
    return storage.database_url(click.get_current_context().find_root().obj.get("database"))


def operator() -> Any:
    """The person at this terminal, as the audit trail names them."""
    import getpass
    from market40.services.registry import Actor
    try:
        name = getpass.getuser()
    except Exception:  # no user name in some containers
        name = "operator"
    return Actor.operator(name)


@contextlib.contextmanager
def unit_of_work(label: str | None = None) -> Iterator[tuple[Any, Callable[[int, int | None], None] | None]]:
    """``with unit_of_work("stalls") as (session, progress):`` the command's one transaction on the
    registry (committed when the block ends, rolled back on error), with a progress bar on a terminal."""
    from market40.services.storage import unit_of_work as registry_unit
    update, done = progress_bar(label) if label else (None, lambda: None)
    try:
        with registry_unit(require_registry()) as session:
            yield session, update
    finally:
        done()


@contextlib.contextmanager
def registry_session() -> Iterator[Any]:
    """``with registry_session() as registry:`` a Registry on one transaction (commit on success)."""
    from market40.services.registry import Registry
    with unit_of_work() as (session, _):
        yield Registry(session, operator())


def require_registry() -> str:
    """The database URL, once it is known to hold a registry (else a message saying what to run)."""
    from market40.services import storage
    url = database_url()
    if storage.current_revision(url) is None:
        raise Refusal(t("cli.no_registry", url=storage.redact(url)))
    storage.check_schema(url)
    return url


class Vocabulary(Sequence[str]):
    """The choices of an option, read from the library's own table when first needed (so ``--help``
    and a new value in the library never disagree, and the CLI starts without importing it)."""

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name

    @functools.cached_property
    def _values(self) -> tuple[str, ...]:
        return tuple(getattr(importlib.import_module(self.module), self.name))

    def __getitem__(self, index: Any) -> Any:
        return self._values[index]

    def __len__(self) -> int:
        return len(self._values)


def choice(module: str, name: str) -> click.Choice:
    return click.Choice(Vocabulary(module, name))


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
    """Rows under a header (its words in this run's language: market40.messages ``head.*``)."""
    from market40.messages import TEXTS
    header = [t(f"head.{h}") if f"head.{h}" in TEXTS else h for h in header]
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
    from market40.messages import qr_words
    for warning in result.warnings:
        say("cli.warning", message=qr_words(warning, lang()), err=True)
    if not result.ok:
        say("cli.error_line", message=qr_words(str(result.error), lang()), err=True)
        sys.exit(1)


def _simulation_summary(report: Any) -> str:
    """What ``tx simulate`` did, in the run's language."""
    from market40 import formats
    statuses = ", ".join(f"{status}: {num(n)}" for status, n in sorted(report.by_status.items()))
    return t("cli.simulated", transfers=num(report.transfers), requests=num(report.requests),
             seconds=formats.decimal(report.seconds, lang()), statuses=statuses or t("cli.simulated_none"),
             errors=num(report.errors), p99=formats.decimal(report.p99_ms, lang(), 0))


def _decoded_words(result: Any) -> str:
    """What a code that is not a valid transfer is (``result.describe()``), in the run's language."""
    from market40.messages import qr_words
    if result.other is not None:  # its fields follow, one a line
        return qr_words(result.kind, lang())
    if lang() == "en":
        return result.describe()
    kind = qr_words(result.kind, lang())
    if result.kind.startswith("not an EMV"):
        shown = result.text.strip()
        return f"{kind}: «{shown[:60]}" + ("…»" if len(shown) > 60 else "»")
    return f"{kind}: {qr_words(str(result.error), lang())}"


def _print_decoded(result: Any) -> None:
    from market40.messages import qr_words
    qr = result.qr
    bank = result.bank
    if qr is None and result.other is None:
        say("qr.not_valid", detail=_decoded_words(result))
        return
    if qr is None:  # an EMV code of another kind: name it, then every field that could be read
        other = result.other
        say("qr.not_vietqr", kind=_decoded_words(result))
        acquirer = None
        if other.bin:
            acquirer = f"{bank.short_name} ({bank.code}, {other.bin}) — {bank.name}" if bank else \
                f"{other.bin} ({t('qr.unknown_bin')})"
        rows = [
            ("Acquirer" if other.service == "QRPUSH" else "Bank", acquirer),
            ("Merchant ID", other.merchant_id), ("Service", other.service),
            ("Scheme", f"{'thẻ' if lang() == 'vi' else 'tag'} {other.template}, GUID {other.guid}"
             if other.template else None),
            ("MCC", other.mcc), ("Merchant", other.merchant_name), ("City", other.merchant_city),
            ("Type", {"static": t("qr.static"), "dynamic": t("qr.dynamic")}.get(other.initiation or "")),
            ("Amount", format_vnd(other.amount) if other.amount is not None and other.currency in (None, "704")
             else other.amount_text),
            ("Currency", other.currency if other.currency not in (None, "704") else None),
            ("Store", other.store_label), ("Terminal", other.terminal_label),
            ("Bill number", other.bill_number), ("Reference", other.reference_label), ("Purpose", other.purpose),
            ("CRC", None if other.crc_ok is None else t("qr.crc_ok") if other.crc_ok else t("qr.crc_mismatch")),
        ]
    else:
        say("qr.transfer", status=t("qr.valid" if result.ok else "qr.invalid"))
        rows = [
            ("Bank", f"{bank.short_name} ({bank.code}, {qr.bin}) — {bank.name}" if bank else
             f"{qr.bin} ({t('qr.unknown_bin')})"),
            ("Card" if qr.is_card else "Account", f"{qr.account}  [{qr.service or t('qr.no_service')}]"),
            ("Type", {"static": t("qr.static"), "dynamic": t("qr.dynamic")}.get(qr.initiation or "",
                                                                                t("qr.unspecified"))),
            ("Amount", format_vnd(qr.amount)),
            ("Purpose", qr.purpose), ("Bill number", qr.bill_number), ("Reference", qr.reference_label),
            ("Merchant", qr.merchant_name), ("City", qr.merchant_city),
            ("Other tags", ", ".join(f"{t}={v}" for t, v in qr.extra) or None),
            ("CRC", t("qr.crc_ok") if qr.crc_ok else
             f"{t('qr.crc_mismatch')} ({qr_words(str(result.error), lang())})"),
        ]
    from market40.messages import TEXTS
    width = 13 if lang() == "en" else 17
    rows = [(t(f"label.{label}") if f"label.{label}" in TEXTS else label, value) for label, value in rows
            if value is not None]
    if qr is None:  # the longer labels of a merchant code
        width = max([width] + [len(label) + 2 for label, _ in rows])
    for label, value in rows:
        click.echo(f"  {label + ':':<{width}}{value}")


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
    say("cli.wrote", file=output, err=True)


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
                click.echo(f"[{number}]")  # noqa: the same in every language
            _print_decoded(result)
    if not results:
        say("cli.error_line", message=t("qr.none_found"), err=True)
        sys.exit(1)
    if not all(r.ok for r in results):
        for r in results:
            if not r.ok:
                say("cli.error_line", message=r.error, err=True)
        sys.exit(1)


# ---------------------------------------------------------------------------- banks

@main.command("banks")
@click.argument("query", nargs=-1)
@click.option("--kind", type=choice("market40.banks", "KINDS"), help="Only this kind.")
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
        echo_json([{**b.as_dict(), "matched_former_name": banks.former_match(b, text) if text else None}
                   for b in found])
    else:
        for bank in found:
            former = banks.former_match(bank, text) if text else None
            kind = f"{word(bank.kind):<{8 if lang() == 'en' else 11}}"
            click.echo(f"{bank.bin}  {bank.code:<11} {bank.short_name:<18} {kind} {bank.name}"
                       + (t("banks.formerly", name=former) if former else ""))
    if text and not found:
        missing = banks.unlisted(text)
        for name, why in missing:
            say("banks.unlisted", name=name, why=why, err=True)
        if not missing:
            hints = banks.suggest(text)
            click.echo(t("banks.none", text=text) + (t("banks.hint", hints=", ".join(hints)) if hints else ""),
                       err=True)
        sys.exit(1)


# ---------------------------------------------------------------------------- db

@main.group("db")
def db_group() -> None:
    """Create or upgrade the registry database."""


@db_group.command("init")
@click.option("--force", is_flag=True, help="Drop every existing table first (destroys the data).")
@click.option("--province", "provinces", multiple=True, metavar="CODE|NAME",
              help="Also load this province's administrative units (as `locality load`); repeatable.")
def db_init(force: bool, provinces: tuple[str, ...]) -> None:
    """Create a fresh registry database at the latest schema.

    With --province, the province's commune-level units (GSO codes), its former district-level
    units and the old→new links are loaded too, so markets can be added straight away.

    \b
    Examples:
      market40 db init --province 22
      market40 --db postgresql://market40@db.internal/market40 db init --province "Quảng Ninh"
    """
    from market40 import localities
    from market40.services import storage
    chosen = [localities.province(p) for p in provinces]  # refuse a bad name before creating anything
    url = database_url()
    storage.init(url, drop_existing=force)
    say("cli.db_created", revision=storage.current_revision(url), err=True)
    if chosen:
        _load_provinces([p.code for p in chosen], as_json=False)


@db_group.command("upgrade")
def db_upgrade() -> None:
    """Apply pending schema migrations (safe to run again).

    \b
    Example:
      market40 db upgrade
    """
    from market40.services import storage
    url = database_url()
    before = storage.current_revision(url)
    storage.upgrade(url)
    after = storage.current_revision(url)
    click.echo(t("cli.db_latest") if before == after else t("cli.db_upgraded", before=before, after=after), err=True)


# ---------------------------------------------------------------------------- localities

@main.group("locality")
def locality_group() -> None:
    """Administrative units: the 34 provinces, their communes since 1 July 2025, the former districts.

    Official codes of the General Statistics Office, shipped with market40 (see `locality list`
    for where they come from). Markets refer to a commune-level unit (5 digits, e.g. 06688
    Phường Hạ Long); former district-level units (3 digits, e.g. 193 Thành phố Hạ Long) stay for
    history and reports.

    \b
    Examples:
      market40 locality list --province 22
      market40 locality show 06688
      market40 locality load 22
    """


@locality_group.command("list")
@click.option("--province", metavar="CODE|NAME", help="Only this province: code (22) or name (\"Quảng Ninh\").")
@click.option("--former", is_flag=True, help="The former district-level units (before 1 July 2025) instead.")
@click.option("--json", "as_json", is_flag=True, help="A JSON list.")
def locality_list(province: str | None, former: bool, as_json: bool) -> None:
    """List provinces, commune-level units or former district-level units.

    Without --province or --former: the 34 provinces with their counts.

    \b
    Examples:
      market40 locality list
      market40 locality list --province 22
      market40 locality list --province "Quảng Ninh" --former
      market40 locality list --province 22 --json
    """
    from market40 import localities
    if province is None and not former:
        rows = [{**p.as_dict(), "communes": len(localities.units(province=p.code)),
                 "former_districts": len(localities.units(province=p.code, former=True))}
                for p in localities.provinces()]
        if as_json:
            echo_json(rows)
            return
        print_table([[r["code"], r["name"], r["unit_type"], r["communes"], r["former_districts"]] for r in rows],
                    ["code", "province", "type", "communes", "former districts"])
        click.echo(_locality_sources(), err=True)
        return
    units = localities.units(province=province, former=former)
    if as_json:
        echo_json([u.as_dict(links=True) for u in units])
        return
    if former:
        print_table([[u.code, u.name, u.unit_type, u.former_province, len(localities.successors_of(u.code))]
                     for u in units], ["code", "former district-level unit", "type", "former province", "became"])
    else:
        print_table([[u.code, u.name, u.unit_type, u.province.name,
                      ", ".join(f"{d.code} {d.name}" for d in localities.formers_of(u.code))] for u in units],
                    ["code", "commune-level unit", "type", "province", "from former district(s)"])
    say("loc.count_former" if former else "loc.count_communes", n=num(len(units)), err=True)


def _locality_sources() -> str:
    from market40 import localities
    return t("loc.source") + ": " + "; ".join(f"{s['package']} {s['version']} (data {s['data_version']})"
                                  for s in localities.sources()) + " — market40/data/README.md"


@locality_group.command("show")
@click.argument("code")
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
def locality_show(code: str, as_json: bool) -> None:
    """Show one unit: name, kind, type, province, validity, and the units it came from or became.

    CODE is a 5-digit commune-level code, a 3-digit former district code or a province (22).

    \b
    Examples:
      market40 locality show 06688
      market40 locality show 193 --json
      market40 locality show 22
    """
    from market40 import localities
    from market40.exceptions import NotFound
    text = code.strip()
    found = None
    if text.isdigit() and len(text) <= 2:
        found = localities.province(text)
    elif not text.isdigit():
        try:
            found = localities.province(text)
        except NotFound:
            localities.unit(text)  # says what a unit code looks like
    if found is not None:
        data = {**found.as_dict(), "kind": "province",
                "communes": len(localities.units(province=found.code)),
                "former_districts": len(localities.units(province=found.code, former=True))}
        if as_json:
            echo_json(data)
        else:
            for key, value in (("code", found.code), ("name", found.name), ("kind", t("loc.province_kind")),
                               ("unit type", found.unit_type), ("communes", data["communes"]),
                               ("former districts", data["former_districts"])):
                click.echo(f"{t('loc.' + key) + ':':<18}{value}")
        return
    unit = localities.unit(text)
    if as_json:
        echo_json(unit.as_dict(links=True))
        return
    if unit.kind == "commune":
        kind = t("loc.commune_kind")
        province = f"{unit.province.code} {unit.province.name}"
        valid = t("loc.valid_from", day=day(unit.valid_from))
        related = ("came from", [t("loc.former_of", code=d.code, name=d.name, province=d.former_province) for d in
                                 localities.formers_of(unit.code)])
    else:
        kind = t("loc.district_kind")
        province = t("loc.former_province", former=unit.former_province, code=unit.province.code,
                     name=unit.province.name)
        last = unit.valid_to.fromordinal(unit.valid_to.toordinal() - 1) if unit.valid_to else None
        valid = t("loc.valid_until", day=day(last)) if last else t("loc.valid_unknown")
        related = ("became", [f"{c.code} {c.name}" for c in localities.successors_of(unit.code)])
    for key, value in (("code", unit.code), ("name", unit.name), ("kind", kind), ("unit type", unit.unit_type),
                       ("province", province), ("valid", valid)):
        click.echo(f"{t('loc.' + key) + ':':<18}{value}")
    click.echo(f"{t('loc.' + related[0]) + ':':<18}" + ("\n" + " " * 18).join(related[1] or ["—"]))


@locality_group.command("load")
@click.argument("provinces", nargs=-1, required=True, metavar="PROVINCE...")
@click.option("--json", "as_json", is_flag=True, help="The report as JSON.")
def locality_load(provinces: tuple[str, ...], as_json: bool) -> None:
    """Load provinces' units into the registry (safe to run again: it changes nothing then).

    Adds the province's commune-level units, its former district-level units and the old→new
    links that the registry lacks; a unit already there is kept (and corrected if the shipped
    data renamed it). PROVINCE is a code (22) or a name ("Quảng Ninh").

    \b
    Examples:
      market40 locality load 22
      market40 locality load "Quảng Ninh" --json
    """
    from market40 import localities
    _load_provinces([localities.province(p).code for p in provinces], as_json=as_json)


def _load_provinces(codes: list[str], *, as_json: bool) -> None:
    from market40.services.localities import load_province
    with unit_of_work() as (session, _):
        reports = [load_province(session, operator(), code) for code in codes]
    if as_json:
        echo_json([r.as_dict() for r in reports])
        return
    for report in reports:
        click.echo(report.summary(lang()))
        for change in report.changes:
            say("loc.corrected", change=change)

# ---------------------------------------------------------------------------- backup and restore

@main.command("backup")
@click.argument("dest", type=click.Path(file_okay=False))
@click.option("--store", "store_path", metavar="PATH", envvar="MARKET40_TX_STORE",
              help="Transaction store to include (default: beside an SQLite registry; env MARKET40_TX_STORE).")
def backup_command(dest: str, store_path: str | None) -> None:
    """Back up the registry and the transaction store into a new folder DEST, while they are in use.

    SQLite: the online backup API; PostgreSQL: pg_dump; the DuckDB store through DuckDB.
    The deployment secret is not included: keep it separately.

    \b
    Examples:
      market40 backup /srv/backups/market40-2026-12-02
      market40 --db postgresql://market40@db/market40 backup backups/today --store /srv/m40/transfers.duckdb
    """
    from market40.services import storage
    url = require_registry()
    report = storage.backup(url, dest, store=storage.store_path(url, store_path))
    for name, size in report.files.items():
        say("cli.file_size", name=f"{name:<18}", size=f"{num(size):>14}")
    for note in report.notes:
        say("cli.note", message=note, err=True)
    say("cli.backed_up", revision=report.revision, folder=report.folder)
    say("cli.remember", message=storage.SECRET_REMINDER, err=True)


@main.command("restore")
@click.argument("src", type=click.Path(exists=True, file_okay=False))
@click.option("--store", "store_path", metavar="PATH", envvar="MARKET40_TX_STORE",
              help="Where to restore the transaction store (default: beside an SQLite registry).")
@click.option("--force", is_flag=True, help="Replace a registry or store that is already there.")
def restore_command(src: str, store_path: str | None, force: bool) -> None:
    """Restore a backup folder SRC into --db (an SQLite file or an empty PostgreSQL database).

    Stop the web app first when replacing a registry with --force. Restore the
    deployment secret too (MARKET40_SECRET_KEY or .market40-secret), kept apart.

    \b
    Examples:
      market40 --db restored.db restore /srv/backups/market40-2026-12-02
      market40 --db postgresql://market40@db/market40_new restore backups/today
    """
    from market40.services import storage
    url = database_url()
    report = storage.restore(src, url, store=storage.store_path(url, store_path), force=force)
    for name, size in report.files.items():
        say("cli.file_size", name=f"{name:<18}", size=f"{num(size):>14}")
    for note in report.notes:
        say("cli.note", message=note, err=True)
    click.echo(t("cli.restored", revision=report.revision, url=storage.redact(url))
               + (t("cli.restored_store", store=report.store) if report.store else ""))
    say("cli.remember", message=storage.SECRET_REMINDER, err=True)


# ---------------------------------------------------------------------------- markets

@main.group("market")
def market_group() -> None:
    """Markets: add, list, show, import the board's list."""


@market_group.command("add")
@click.argument("code")
@click.option("--name", required=True, help="Name with diacritics, e.g. 'Chợ Hạ Long I'.")
@click.option("--tier", required=True, help="Tier as classified: I, II or III.")
@click.option("--locality", required=True, help="Commune-level unit code, e.g. 06688 (`market40 locality list`).")
@click.option("--tier-source", help="Decision or list the tier comes from.")
@click.option("--tier-date", help="Date of that classification (YYYY-MM-DD or DD/MM/YYYY).")
@click.option("--central", is_flag=True, help="A central market (chợ trung tâm).")
@click.option("--address")
@click.option("--contact", "board_contact_name", help="Market board contact person.")
@click.option("--phone", "board_contact_phone", help="Market board phone.")
@click.option("--onboarded", "onboarded_on", help="The day the cashless programme started in this market "
              "(YYYY-MM-DD or DD/MM/YYYY): adoption reports leave it out of earlier months.")
def market_add(code: str, **fields: Any) -> None:
    """Add a market, or update it if the code exists.

    \b
    Example:
      market40 market add HH1 --name "Chợ Hồng Hà" --tier III --locality 06688
    """
    fields["is_central"] = fields.pop("central")
    if fields.get("onboarded_on") is None:
        fields.pop("onboarded_on", None)  # not given: kept as it is
    with registry_session() as registry:
        market, outcome = registry.save_market(code=code, **fields)
        click.echo(f"{market.code}: {word(outcome)}")


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
        from datetime import date, datetime
        from market40 import formats
        from market40.messages import TEXTS
        for key, value in data.items():
            label = t(f"market.{key}") if f"market.{key}" in TEXTS else key
            if isinstance(value, datetime):
                value = formats.when(value, lang())
            elif isinstance(value, date):
                value = day(value)
            elif isinstance(value, bool):
                value = word("yes" if value else "no") if lang() == "vi" else value
            elif isinstance(value, int):
                value = num(value)
            click.echo(f"{label + ':':<24}{'' if value is None else value}")


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


#: Bad rows printed on the terminal; the rejects file lists them all.
SHOWN_BAD_ROWS = 100


def finish_import(report: Any, as_json: bool) -> None:
    if as_json:
        echo_json(report.as_dict())
    else:
        shown = 0
        for problem in report.problems:
            if shown == SHOWN_BAD_ROWS:  # a flood of bad rows: the rejects file has every one
                rest = len(report.problems) - shown
                say("cli.more_bad_rows", n=num(rest), err=True,
                    where=t("cli.all_in", file=report.rejects_file) if report.rejects_file else "")
                break
            shown += 1
            for line in problem.lines(lang()):
                click.echo(line, err=True)
        if report.unknown_columns:
            say("cli.columns_ignored", columns=", ".join(report.unknown_columns), err=True)
        click.echo(report.summary(lang()))
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
    from market40.services.imports import import_markets
    with unit_of_work("markets") as (session, update):
        report = import_markets(session, operator(), file, sheet=sheet, dry_run=dry_run, partial=partial,
                                rejects=default_rejects(file, rejects), progress=update)
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
@click.option("--status", type=choice("market40.services.registry", "STALL_STATUSES"), help="Default: operating.")
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
        row, outcome = registry.save_stall(market, code=code, **given)
        click.echo(f"{market}/{row.code}: {word(outcome)}")  # "a12" updates the registered "A-12"


@stall_group.command("list")
@click.argument("market")
@click.option("--status", type=choice("market40.services.registry", "STALL_STATUSES"))
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
    print_table([[r.code, r.shop_name, r.owner_name, word(r.status),
                  f"{r.account.bank} {r.account.number}" if r.account else "—",
                  word(r.account.status) if r.account else t("cli.no_qr")] for r in rows],
                ["stall", "shop", "owner", "status", "account", "account status"])
    if total > len(rows):
        say("cli.more_rows", n=num(total - len(rows)), total=num(total))


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
    from market40 import accounts
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
        value = word(data[key]) if key == "status" else data[key]
        click.echo(f"{t('key.' + key) + ':':<16}{value or ''}")
    click.echo(f"{t('key.accounts')}:" if history else f"{t('key.accounts') + ':':<16}{t('cli.no_accounts')}")
    for account in history:
        click.echo(f"  {day(accounts.event_day(account.created_at))}  {account.bank:<14} {account.number:<20} "
                   f"{account.holder_name:<26} "
                   f"{word(account.status)}{' — ' + word(account.status_reason) if account.status_reason else ''}")


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
    from market40.services.imports import import_stalls
    with unit_of_work("stalls") as (session, update):
        report = import_stalls(session, operator(), file, market=market, sheet=sheet, dry_run=dry_run,
                               partial=partial, rejects=default_rejects(file, rejects),
                               allow_unknown_bin=allow_unknown_bin, progress=update)
    finish_import(report, as_json)


@stall_group.command("close")
@click.argument("stall")
@click.option("--at", help="The day it closed, if not today: DD/MM/YYYY or YYYY-MM-DD.")
@click.option("--reason", help="Why (kept in the audit trail).")
def stall_close(stall: str, at: str | None, reason: str | None) -> None:
    """Record that a stall stopped operating (reports count it until that day).

    \b
    Examples:
      market40 stall close HL1/A-12
      market40 stall close HL1/A-12 --at 15/03/2025 --reason "Chủ hộ chuyển đi"
    """
    with registry_session() as registry:
        row = registry.close_stall(stall, at=at, reason=reason)
        live = registry.current_account(row)
        say("cli.stall_closed", stall=stall, day=day(row.closed_on))
    if live is not None:
        say("cli.stall_closed_note", status=word(live.status), stall=stall, err=True)


@stall_group.command("open")
@click.argument("stall")
@click.option("--at", help="The day it opened or reopened, if not today: DD/MM/YYYY or YYYY-MM-DD.")
def stall_open(stall: str, at: str | None) -> None:
    """Reopen a closed stall, or record the day a stall began operating (--at).

    \b
    Examples:
      market40 stall open HL1/A-12
      market40 stall open HL1/A-12 --at 01/03/2024
    """
    with registry_session() as registry:
        row, outcome = registry.open_stall(stall, at=at)
        when = t("cli.operating_since", day=day(row.opened_on)) if row.opened_on else ""
        click.echo(f"{stall}: {word(outcome)}{when}")


@stall_group.command("merge")
@click.argument("source", metavar="MARKET/FROM")
@click.argument("target", metavar="MARKET/INTO")
@click.option("--keep", type=click.Choice(["from", "into"]),
              help="When both stalls have a current account: which one stays (the other is revoked).")
@click.option("--reason", help="Why (kept in the audit trail).")
def stall_merge(source: str, target: str, keep: str | None, reason: str | None) -> None:
    """Merge a mistaken stall into the right one of the same market (audited).

    Its account history, enrollment codes, owner logins and census entries move; the
    mistaken stall is removed. Run `market40 reconcile` again for past months.

    \b
    Examples:
      market40 stall merge HL1/A12 HL1/A-12
      market40 stall merge HL1/A-21 HL1/A-12 --keep into --reason "Nhập nhầm mã sạp"
    """
    with registry_session() as registry:
        result = registry.merge_stalls(source, target, keep=keep, reason=reason)
    click.echo(t("cli.merged", merged=result.merged, into=result.into, accounts=num(result.accounts),
                 users=num(result.users), moved=num(result.census_moved)) +
               (t("cli.merged_left", n=num(result.census_left)) if result.census_left else "") +
               (t("cli.merged_revoked", account=result.revoked) if result.revoked else ""))
    if result.reference_changed:
        say("cli.merged_reference", reference=result.reference_changed, err=True)


@stall_group.command("remove")
@click.argument("stall")
@click.option("--reason", required=True, help="Why (kept in the audit trail).")
def stall_remove(stall: str, reason: str) -> None:
    """Remove a stall created by mistake (audited).

    Refused when it has a pending or once-verified account or an owner login: merge it
    into the right stall, or close it, instead.

    \b
    Example:
      market40 stall remove HL1/A-99 --reason "Không có sạp này"
    """
    with registry_session() as registry:
        registry.remove_stall(stall, reason=reason)
    click.echo(f"{stall}: {word('removed')}")


@stall_group.command("twins")
@click.argument("market", required=False)
@click.option("--json", "as_json", is_flag=True)
def stall_twins(market: str | None, as_json: bool) -> None:
    """Stalls that cannot be told apart: same code but for case, spaces or punctuation
    (merge them), or references that read alike once bank apps strip spaces (recode one).

    Exit code 1 when there are any.

    \b
    Example:
      market40 stall twins HL1
    """
    with registry_session() as registry:
        rows = registry.twins(market)
    if as_json:
        echo_json(rows)
    else:
        for row in rows:
            what = t("cli.twin" if row["kind"] == "twin" else "cli.twin_reference")
            click.echo(f"{row['key']}: {', '.join(row['stalls'])} ({what})")
        if not rows:
            say("cli.no_twins")
    if rows:
        sys.exit(1)


@stall_group.command("template")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--markets", is_flag=True, help="The market list template instead of the stall list.")
def stall_template(file: str, markets: bool) -> None:
    """Write the import template (.xlsx with a "Hướng dẫn" sheet, or .csv).

    \b
    Example:
      market40 stall template danh-sach-sap.xlsx
    """
    from market40.services.imports import write_template
    write_template(file, markets=markets)
    say("cli.wrote", file=file, err=True)


# ---------------------------------------------------------------------------- accounts

AT_HELP = ("When it happened, if not now: DD/MM/YYYY or YYYY-MM-DD (optionally HH:MM, Vietnam time); not in "
           "the future. The audit trail keeps this and the time it was recorded.")


@main.group("account")
def account_group() -> None:
    """Payment accounts: register, verify, reject, revoke, list."""


@account_group.command("set")
@click.argument("stall")
@click.option("--bank", help="Bank or e-wallet: BIN, code or name (taken from --from-qr when scanning).")
@click.option("--account", "number", help="Account, card or wallet number (taken from --from-qr when scanning).")
@click.option("--holder", "holder_name", help="Holder name exactly as the bank shows it (an HKD's business name).")
@click.option("--kind", help="bank_account, card or ewallet (default: from the bank).")
@click.option("--reference", "reference_label", help="62.05 reference (MoMo: MOMOW2W…).")
@click.option("--from-qr", "from_qr", metavar="IMAGE|PAYLOAD",
              help="The owner's own receiving QR (a photo or screenshot of the bank/wallet app's QR, or its "
                   "text): its bank, number and reference are registered exactly. A merchant QR counts as "
                   "--merchant-qr.")
@click.option("--merchant-qr", "merchant_qr", metavar="IMAGE|PAYLOAD",
              help="A bank-issued merchant QR (NAPAS QRPUSH / VIETQRPay), kept and printed as issued; "
                   "--bank/--account/--holder are then its settlement account.")
@click.option("--holder-type", type=click.Choice(["personal", "household"]),
              help="personal (default) or household: a household business (HKD) account.")
@click.option("--business-reg", "business_reg_no", help="HKD registration number (household accounts only).")
@click.option("--tax-code", help="HKD tax code, MST: 10 or 13 digits (household accounts only).")
@click.option("--consent", "consent_channel", default="paper", show_default=True,
              help="How the owner gave consent (paper, web, …).")
@click.option("--allow-unknown-bin", is_flag=True)
@click.option("--at", help=AT_HELP)
def account_set(stall: str, from_qr: str | None, merchant_qr: str | None, **fields: Any) -> None:
    """Register or change the account a stall's customers pay into (pending review).

    Spaces and dashes in the number are dropped (0011 0123 4441 8). With --at, the
    account counts from that day (and the one it replaces until then). With --from-qr,
    nothing is retyped: what the QR says is shown, then registered.

    \b
    Examples:
      market40 account set HL1/A-12 --bank vietcombank --account 0011012344418 --holder "NGUYEN THI LAN"
      market40 account set HL1/A-12 --bank vcb --account 0011012344418 --holder "NGUYEN THI LAN" --at 15/01/2025
      market40 account set HL1/A-12 --from-qr momo.jpg --holder "NGUYEN THI LAN"
      market40 account set HL1/A-12 --merchant-qr qrpay.png --account 1023456789 --holder-type household \\
          --holder "HO KINH DOANH TAP HOA 68" --tax-code 0100233488
    """
    with registry_session() as registry:
        allow = fields.get("allow_unknown_bin", False)
        for label, source in (("QR", from_qr), ("merchant QR", merchant_qr)):
            if source:
                scanned = registry.scan_qr(source, allow_unknown_bin=allow)
                click.echo(_scanned_line(t("cli.qr") if label == "QR" else t("cli.merchant_qr"), scanned), err=True)
                if label == "QR":
                    from_qr = scanned.payload
                else:
                    merchant_qr = scanned.payload
        account, outcome = registry.register_account(stall, qr=from_qr, merchant_qr=merchant_qr, **fields)
        extra = t("cli.merchant_qr_kept") if account.merchant_payload else ""
        say("cli.account_set", stall=stall, outcome=word(outcome), status=word(account.status),
            reference=account.purpose, extra=extra)


def _scanned_line(label: str, scanned: Any) -> str:
    """What a scanned receiving QR says, masked, as `account set --from-qr` shows it."""
    from market40 import accounts
    bank = scanned.bank
    parts = [f"{bank.short_name if bank else 'BIN'} ({scanned.bin})"]
    if scanned.kind == "merchant":
        parts.append(t("cli.scanned_merchant", merchant_id=scanned.merchant_id))
    else:
        parts.append(f"{word('card' if scanned.is_card else 'bank_account')} {accounts.mask(scanned.account)}")
    if scanned.reference_label:
        parts.append(t("cli.scanned_reference", reference=scanned.reference_label))
    if scanned.merchant_name:
        parts.append(t("cli.scanned_name", name=scanned.merchant_name))
    return t("cli.scanned", label=label, parts=", ".join(parts))


@account_group.command("verify")
@click.argument("stall", required=False)
@click.option("--market", help="Verify every pending account of this market.")
@click.option("--at", help=AT_HELP)
def account_verify(stall: str | None, market: str | None, at: str | None) -> None:
    """Mark a pending account verified (checked with the bank): its poster may print.

    With --at, reports count the stall as accepting from that day (not before it registered).

    \b
    Examples:
      market40 account verify HL1/A-12
      market40 account verify HL1/A-12 --at 20/01/2025
      market40 account verify --market HH1
    """
    if (stall is None) == (market is None):
        raise click.UsageError(t("cli.give_stall_or_market"))
    with registry_session() as registry:
        if stall:
            registry.verify_account(stall, at=at)
            click.echo(f"{stall}: {word('verified')}")
        else:
            done = registry.verify_pending(market, at=at)
            say("cli.accounts_verified", market=market, n=num(len(done)))


@account_group.command("reject")
@click.argument("stall")
@click.option("--reason", required=True, help="Why (the owner sees it).")
@click.option("--at", help=AT_HELP)
def account_reject(stall: str, reason: str, at: str | None) -> None:
    """Reject a pending account, with the reason.

    \b
    Example:
      market40 account reject HL1/A-12 --reason "Tên chủ tài khoản không khớp"
    """
    with registry_session() as registry:
        registry.reject_account(stall, reason, at=at)
        click.echo(f"{stall}: {word('rejected')}")


@account_group.command("revoke")
@click.argument("stall")
@click.option("--reason", required=True)
@click.option("--at", help=AT_HELP)
def account_revoke(stall: str, reason: str, at: str | None) -> None:
    """Take a stall's account out of use (its posters stop counting as registered).

    \b
    Example:
      market40 account revoke HL1/A-12 --reason "Sạp nghỉ kinh doanh"
    """
    with registry_session() as registry:
        registry.revoke_account(stall, reason, at=at)
        click.echo(f"{stall}: {word('revoked')}")


@account_group.command("list")
@click.argument("market")
@click.option("--status", type=choice("market40.services.registry", "ACCOUNT_STATUSES"))
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
    print_table([[r.stall, r.bank, r.number, r.holder_name + (" (HKD)" if r.holder_type == "household" else ""),
                  word(r.kind) + (f" + {t('cli.merchant_qr')} {r.merchant_id}" if r.merchant_id else ""),
                  word(r.status)] for r in rows],
                ["stall", "bank", "number", "holder", "kind", "status"])
    if total > len(rows):
        say("cli.more_rows", n=num(total - len(rows)), total=num(total))


# ---------------------------------------------------------------------------- users

@main.group("user")
def user_group() -> None:
    """Users of the web app and what they may see."""


@user_group.command("add")
@click.argument("username")
@click.option("--role", required=True, type=choice("market40.services.registry", "ROLES"),
              help="board: a market board (ban quản lý chợ), with --market: its fees.")
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
      market40 user add cb.halong --role officer --locality 193
    """
    if password is None and role != "owner":
        password = _new_password()
    with registry_session() as registry:
        user = registry.add_user(username, role, password=password, **fields)
        click.echo(f"{user.username}: {word('created')} ({word(role)})")


def _new_password() -> str:
    """A password typed twice, asked again until both match (click's own mismatch line is English only)."""
    while True:
        first = click.prompt(t("cli.password"), hide_input=True)
        if click.prompt(t("cli.password_again"), hide_input=True) == first:
            return first
        click.echo(t("cli.password_mismatch"), err=True)


@user_group.command("reset-2fa")
@click.argument("username")
def user_reset_2fa(username: str) -> None:
    """Clear a user's second factor (a lost phone): they set it up again at their next login,
    and every session they have ends. Audited.

    \b
    Example:
      market40 user reset-2fa nv.halong
    """
    from market40.services import second_factor
    with registry_session() as registry:
        user = second_factor.reset(registry.session, registry.actor, username)
        say("cli.second_factor_reset", user=user.username)


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
    from market40.messages import scope_name
    print_table([[r.username, word(r.role), word("yes" if r.is_active else "no"),
                  ", ".join(scope_name(scope, lang()) for scope in r.scopes)] for r in rows],
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
    from market40.config import public_url, secret_key, support_contact
    from market40.services import slips as slip_service
    with registry_session() as registry:
        slips = registry.issue_enrollment_codes(key=secret_key(), market=market, stall=stall, valid_days=days)
    where = {"base_url": public_url(), "contact": support_contact()}  # MARKET40_PUBLIC_URL, _SUPPORT_CONTACT
    if output and output.lower().endswith(".pdf"):
        slip_service.write_pdf(slips, output, **where)
    elif output:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(slip_service.as_text(slips, **where))
    else:
        click.echo(slip_service.as_text(slips, **where), nl=False)
    if output:
        say("cli.slips_written", n=num(len(slips)), file=output, err=True)


# ---------------------------------------------------------------------------- posters

@main.group("poster", invoke_without_command=True)
@click.option("--stall", help="One stall's poster (MARKET/STALL).")
@click.option("--market", help="Every stall of a market with a verified account, in one PDF.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="The .pdf (or, for one stall, .png) to write.")
@click.option("--size", type=choice("market40.services.posters", "SIZES"), default="a6", show_default=True)
@click.option("--sheet", type=choice("market40.services.posters", "SHEETS"), default="a4", show_default=True,
              help="Paper the market's posters are printed on (several per sheet, with cut marks).")
@click.option("--lang", "lang", metavar="vi[,en][,zh]",
              help="Languages printed: Vietnamese always; en adds English, zh Simplified Chinese lines.")
@click.option("--english", is_flag=True, help="Add English lines under the Vietnamese (= --lang vi,en).")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Processes building the QR codes of a --market sheet (large markets on an idle machine).")
@click.option("--skipped", type=click.Path(dir_okay=False), help="Also write the skip report to this CSV.")
@click.pass_context
def poster_group(ctx: click.Context, stall: str | None, market: str | None, output: str | None, size: str,
                 sheet: str, lang: str | None, english: bool, workers: int, skipped: str | None) -> None:
    """Print-ready stall posters (vector PDF or 300 dpi PNG), and poster inspection.

    Only verified current accounts print; stalls left out are listed with the reason.

    \b
    Examples:
      market40 poster --stall HL1/A-12 -o a12.pdf
      market40 poster --stall HL1/A-12 --size a5 -o a12.png
      market40 poster --market HL1 -o hl1.pdf --size a6 --sheet a4
      market40 poster --market MC1 -o mc1.pdf --lang vi,en,zh --workers 2
      market40 poster verify photo.jpg --stall HL1/A-12
    """
    if ctx.invoked_subcommand is not None:
        return
    if (stall is None) == (market is None) or output is None:
        raise click.UsageError(t("cli.give_poster"))
    from market40.services import posters as poster_service
    langs = poster_service.parse_langs(lang, english=english)  # a bad code is refused before anything is read
    with registry_session() as registry:
        if stall:
            data = poster_service.poster_data(registry, stall)
            poster_service.render_poster(data, output, size=size, langs=langs)
            say("cli.poster_written", stall=stall, serial=data.serial, file=output, err=True)
            return
        items, left_out = poster_service.market_posters(registry, market, size=size, langs=langs)
    update, done = progress_bar("posters")
    try:
        poster_service.render_sheet(items, output, size=size, sheet=sheet, langs=langs, progress=update,
                                    workers=workers)
    finally:
        done()
    for item in left_out:
        say("cli.poster_skipped", stall=item.stall, reason=item.said(run_lang()), err=True)
    if skipped:
        import csv
        with open(skipped, "w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["stall", "reason"])
            writer.writerows([item.stall, item.reason] for item in left_out)
    say("cli.posters_written", market=market, n=num(len(items)), file=output, skipped=num(len(left_out)))


@poster_group.command("verify")
@click.argument("photo", type=click.Path(dir_okay=False))
@click.option("--stall", help="The stall the photo was taken at (MARKET/STALL).")
@click.option("--json", "as_json", is_flag=True)
def poster_verify(photo: str, stall: str | None, as_json: bool) -> None:
    """Check the QR in a photo of a stall's poster against the registry (audited).

    \b
    Exit codes: 0 the stall's current registered QR; 3 another stall's QR;
    4 a revoked QR; 5 unknown / possible overlay: a VietQR not in the registry,
    or any other code (VNPAY sticker, QRPUSH merchant QR, other EMV code, text),
    named for what it is; 6 registered but not verified yet; 1 no QR found.

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
            click.echo(f"{t('poster.label.' + result.verdict)}: {result.said(lang())}")
            for label, value in (("code", result.kind), ("bank", result.bank), ("account", result.account),
                                 ("holder", result.holder_name), ("serial", result.serial)):
                if value:
                    click.echo(f"  {t('poster.field.' + label) + ':':<11}{value}")
            for note in result.notes_said(lang()):
                click.echo("  " + t("cli.note", message=note))
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
    from market40.demo import demo_data_dir
    from market40.services.demo import create_demo
    step = _walkthrough_step()
    step(t("demo.build"))
    update, done = progress_bar("markets")
    try:
        summary = create_demo(database_url(), operator(), replace=fresh, seed=seed, progress=update)
    finally:
        done()
    say("demo.summary", localities=num(summary.localities), links=num(summary.links), markets=num(summary.markets),
        stalls=num(summary.stalls), accounts=num(summary.accounts), pending=num(summary.pending))
    say("demo.logins")
    _print_logins(summary.logins)
    if no_walkthrough:
        return
    samples = demo_data_dir() / "samples"
    ctx = click.get_current_context()

    def run(*args: str) -> None:
        click.echo(click.style("  $ market40 " + " ".join(args), bold=True))
        try:
            main.main(list(args), standalone_mode=False, obj={**ctx.find_root().obj, "lang": lang()})
        except SystemExit as stop:  # a refusal is part of the story; say so, never hide it
            if stop.code not in (0, None):
                say("demo.exit_code", code=stop.code)
        except click.ClickException as error:
            say("demo.refused", message=error.format_message().splitlines()[0])

    step(t("demo.step_market"))
    run("market", "import", str(samples / "markets-new.csv"))
    step(t("demo.step_errors"))
    run("stall", "import", str(samples / "stalls-HH1-with-errors.csv"), "--market", "HH1",
        "--rejects", "stalls-HH1-with-errors.rejects.csv")  # here, never beside the shipped sample
    step(t("demo.step_corrected"))
    run("stall", "import", str(samples / "stalls-HH1.xlsx"), "--market", "HH1")
    step(t("demo.step_again"))
    run("stall", "import", str(samples / "stalls-HH1.xlsx"), "--market", "HH1")
    step(t("demo.step_verify"))
    run("account", "list", "HH1", "--status", "pending", "--limit", "5")
    run("account", "verify", "--market", "HH1")
    step(t("demo.step_change"))
    run("account", "set", "HH1/A-1", "--bank", "vietcombank", "--account", "1023456789", "--holder",
        "HOANG HONG MAI")
    run("stall", "show", "HH1/A-1")
    step(t("demo.step_slips"))
    run("enroll", "issue", "--stall", "HH1/A-1")
    step(t("demo.step_markets"))
    run("market", "list", "--tier", "III")
    click.echo("\n" + t("demo.next"))


def _print_logins(logins: Any) -> None:
    """The demo logins: user, password, role and what they see (its Vietnamese name in Vietnamese)."""
    for login in logins:
        scope = login.scope if lang() == "en" else (login.name or login.scope)
        click.echo(f"    {login.username:<12} {login.password:<18} {word(login.role):<8} {scope}")


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
@click.option("--graceful-timeout", "graceful", default=10, show_default=True, type=click.IntRange(1, 600),
              metavar="SECONDS",
              help="With several processes: seconds a stopping or restarting worker may finish its requests "
                   "before it is killed.")
def serve_command(host: str, port: int, workers: int, processes: int, demo: bool, graceful: int) -> None:
    """Run the web app for stall owners, staff and officers (production servers: waitress for one
    process, gunicorn for several; a stop ends every worker within --graceful-timeout seconds).

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

    from market40.exceptions import Conflict
    from market40.services import storage
    from market40.services.demo import create_demo
    config: dict[str, Any] = {}
    temporary = None
    live_demo = None
    if demo:
        explicit = click.get_current_context().find_root().obj.get("database")
        if explicit:
            url = storage.database_url(explicit)
        else:
            handle, temporary = tempfile.mkstemp(prefix="market40-demo-", suffix=".db")
            os.close(handle)
            url = storage.database_url(temporary)
            if not os.environ.get("MARKET40_SECRET_KEY"):
                config["SECRET_KEY"] = secrets.token_hex(32)  # a throw-away registry, a throw-away key
        say("cli.building_demo", url=storage.redact(url), err=True)
        try:
            summary = create_demo(url, operator())
        except Conflict:
            raise Refusal(t("cli.demo_exists", url=storage.redact(url))) from None
        say("cli.serve_demo", markets=num(summary.markets), stalls=num(summary.stalls), pending=num(summary.pending))
        say("demo.logins")
        _print_logins(summary.logins)
        live_demo = _demo_live_payments(url, config)  # live payments (issue 10)
    else:
        url = require_registry()
    config["DATABASE_URL"] = url
    if processes > 1 and not os.environ.get("MARKET40_RATELIMIT_STORAGE"):
        say("cli.rate_limits", processes=processes, err=True)

    from web.server import CannotListen, serve

    def ready(address: str) -> None:
        say("cli.serving", address=address, processes=processes, workers=workers)
        if live_demo is not None:
            live_demo(address)

    try:
        serve(config, host=host, port=port, threads=workers, processes=processes, ready=ready, graceful=graceful)
    except CannotListen as refused:
        raise Refusal(t("cli.cannot_listen", host=refused.host, port=refused.port,
                        reason=t(f"cli.listen_{refused.reason}") if refused.reason else refused.detail)) from None
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

    from market40 import webhooks
    from market40.services import storage as db  # the registry's storage (engine, session scope)
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
    say("cli.live_demo")

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
    from market40.services.transfers import open_store as open_transfer_store
    return open_transfer_store(database_url(), path, read_only=read_only)


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
    from market40.services.census import import_census
    with unit_of_work("households") as (session, update):
        report = import_census(session, operator(), file, market=market, period=period, sheet=sheet,
                               dry_run=dry_run, partial=partial, rejects=default_rejects(file, rejects),
                               progress=update)
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
    print_table([[r["market"], r["name"], r["period"], "—" if r["households"] is None else num(r["households"])]
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
    say("cli.wrote", file=file)


@main.group("tx")
def tx_group() -> None:
    """Bank transfers: import statement exports and webhook feeds into the transaction store."""


@tx_group.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--format", "fmt", type=choice("market40.services.transfers", "FORMATS"),
              default="auto", show_default=True, help="The export's layout (auto: from its headers).")
@click.option("--bank", help="The bank of the credited accounts (BIN, code or name): overrides the layout's; "
                             "needed for Casso v1 feeds.")
@click.option("--account", help="The credited account, for a one-account statement that names it nowhere.")
@store_option
@import_options
def tx_import(files: tuple[str, ...], fmt: str, bank: str | None, account: str | None, store_path: str | None,
              dry_run: bool, partial: bool, rejects: str | None, sheet: str | None, as_json: bool) -> None:
    """Import bank statement exports (CSV/XLSX) or SePay/Casso webhook feeds (JSON lines).

    Each file is one batch, deduplicated by bank and transaction id. Every row is
    stored, skipped and counted (titles, totals, blank rows, outgoing) or rejected with
    the reason, and the counts add up to the file's rows (checked on every import).

    A file with bad rows: every bad row is reported at once (and in a rejects file,
    FILE.rejects.csv); nothing of that file is stored unless all its rows are good,
    or --partial: then its good rows are stored and the bad ones left out. A file
    counts as imported only once all its rows went in: run the same command again
    with corrected options (e.g. --bank) and the missing rows are added; a file
    imported in full changes nothing the second time. Exit code 1 when any row was
    rejected.

    \b
    Examples:
      market40 tx import sao-ke-vcb-06-2025.csv vietinbank-06.xlsx
      market40 tx import sepay-2025-06.jsonl
      market40 tx import casso.jsonl --bank BIDV
      market40 tx import bank-06.csv --partial
    """
    from market40.services.transfers import import_files
    if rejects and len(files) > 1:
        raise click.UsageError(t("cli.rejects_one_file"))
    bars: list[Callable[[], None]] = []

    def bar(name: str) -> Any:
        update, done = progress_bar(name)
        bars.append(done)
        return update

    try:
        with unit_of_work() as (session, _), open_store(store_path) as store:
            results = import_files(session, operator(), store, list(files), fmt=fmt, bank=bank, account=account,
                                   progress=bar, partial=partial, dry_run=dry_run, sheet=sheet,
                                   rejects=lambda path: default_rejects(path, rejects))
    finally:
        for done in bars:
            done()
    failed = False
    for result in results:
        failed = failed or bool(result.invalid)
        if as_json:
            echo_json(result.as_dict())
            continue
        for problem in result.problems:
            where = t("cli.line", n=problem["line"]) if problem.get("line") else (problem.get("tx_id") or "?")
            click.echo(f"{result.source}: {where}: {_tx_reason(problem['reason'])} ({problem.get('raw') or ''})",
                       err=True)
        if result.invalid > len(result.problems):
            say("cli.more_rejected", source=result.source, n=num(result.invalid - len(result.problems)), err=True)
        click.echo(result.summary(lang()))
    if failed:
        sys.exit(1)


@tx_group.command("formats")
@click.option("--json", "as_json", is_flag=True)
def tx_formats(as_json: bool) -> None:
    """The export layouts `tx import` reads, with their headers.

    \b
    Example:
      market40 tx formats
    """
    from market40.services.transfers import layouts
    if as_json:
        echo_json([layout.as_dict() for layout in layouts()])
        return
    for layout in layouts():
        click.echo(f"{layout.name:<11} {word(layout.title)}"
                   + (f" (BIN {layout.bank_bin})" if layout.bank_bin else ""))
        sep = layout.delimiter if layout.kind == "csv" else " "
        click.echo(f"{'':<11} {t('cli.fields' if layout.kind == 'jsonl' else 'cli.header')}: {sep.join(layout.header)}")


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
    from market40.services.demo_activity import build_demo_activity
    with unit_of_work("months") as (session, update), open_store(store_path) as store:
        out = build_demo_activity(session, operator(), store, folder, end=end, months=months, seed=seed,
                                  progress=update)
    say("cli.tx_demo", n=num(out.accounts_backdated), shared=num(out.shared_accounts))
    for report in out.census:
        say("cli.tx_demo_census", source=report.source, households=num(sum(report.lists.values())),
            added=num(report.added), removed=num(report.removed))
    for result in out.transfers:
        say("cli.tx_demo_transfers", summary=result.summary(lang()))
    say("cli.tx_demo_next", folder=folder, end=end, months=months)


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
    from market40.reconciliation import Period
    from market40.services.reconcile import reconcile
    summaries = []
    with open_store(store_path) as store:
        for month in Period.parse(period).back(months):  # one transaction per month
            with unit_of_work(f"{month}") as (session, update):
                summary = reconcile(session, operator(), month, store=store, idle_months=idle_months,
                                    progress=update)
            summaries.append(summary)
            if not as_json:
                click.echo(summary.summary(lang()))
    if as_json:
        echo_json([s.as_dict() for s in summaries])


@main.group("report")
def report_group() -> None:
    """Adoption reports for officers and market boards (XLSX, CSV, HTML, JSON)."""


@report_group.command("adoption")
@click.option("--period", required=True, metavar="YYYY-MM", help="The month reported.")
@click.option("--by", type=choice("market40.services.reports", "VIEWS"), default="tier",
              show_default=True, help="The main view (an XLSX has every view, one sheet each).")
@click.option("--locality", metavar="CODE", help="Only markets in this locality (a former district covers "
                                                 "the communes it became).")
@click.option("--level", type=choice("market40.services.reports", "LEVEL_CHOICES"), default="auto",
              show_default=True, help="Group localities by former district-level unit (đơn vị cấp huyện cũ; "
              "'district' is the same) or by commune/ward (auto: the units in force in the period).")
@click.option("--months", default=6, show_default=True, type=click.IntRange(1, 36),
              help="Months in the trend, ending with --period.")
@click.option("--target", default=None, type=click.FloatRange(0, 100, min_open=True),
              help="Accepting rate each market should reach, in % (default: the province's target, "
                   "`market40 report target`; 100 when none is set).")
@click.option("--format", "fmt", type=choice("market40.services.reports", "EXPORT_FORMATS"), default=None,
              help="Default: from the suffix of -o.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, allow_dash=True),
              help="The file to write ('-' for standard output with csv/json).")
@click.option("--user", "username", help="Report as this user would see it (their markets or localities).")
@click.option("--detail", is_flag=True, help="Add one row per stall, with its evidence.")
def report_adoption(period: str, by: str, locality: str | None, level: str, months: int, target: float | None,
                    fmt: str | None, output: str, username: str | None, detail: bool) -> None:
    """Adoption per tier, locality, market and the province, with the monthly trend.

    Accepting and active are reported side by side, each as a stall-weighted rate and as the
    mean of market rates (the province's "83% on average" is the latter).

    \b
    Examples:
      market40 report adoption --period 2025-06 --by tier -o bao-cao-06-2025.xlsx
      market40 report adoption --period 2025-06 --by locality --level former-district --format html -o bc.html
      market40 report adoption --period 2025-06 --by market --locality 193 --user cb.halong -o hl.csv
    """
    import io
    from pathlib import Path
    from market40.services.reports import adoption_summary, export
    fmt = fmt or Path(output).suffix.lower().lstrip(".")
    if fmt not in ("xlsx", "csv", "html", "json"):
        raise click.UsageError(t("cli.choose_format"))
    with registry_session() as registry:
        actor = registry.actor
        if username:
            from market40.services.auth import find_user
            from market40.services.registry import Actor
            user = find_user(registry.session, username)
            if user is None:
                raise Refusal(t("cli.no_user", name=username))
            actor = Actor.for_user(registry.session, user)
        report = adoption_summary(registry.session, actor, period, by=by, locality=locality, level=level,
                                  months=months, target=None if target is None else target / 100, detail=detail)
    if output == "-":
        if fmt in ("xlsx",):
            raise click.UsageError(t("cli.xlsx_needs_file"))
        buffer = io.BytesIO()
        export(report, fmt, buffer)
        sys.stdout.buffer.write(buffer.getvalue())
        return
    export(report, fmt, output)
    p = report.province
    say("cli.adoption", period=report.period, scope=report.scope, markets=num(p.markets), stalls=num(p.stalls),
        accepting=pct(p.accepting_rate), mean_accepting=pct(p.mean_accepting_rate), active=pct(p.active_rate),
        mean_active=pct(p.mean_active_rate), at_target=num(p.markets_at_target), target=_target(report.target),
        file=output)
    for note in report.notes[:1] if not report.reconciled else []:
        click.echo(note, err=True)


@report_group.command("target")
@click.argument("province")
@click.argument("percent", type=click.FloatRange(0, 100, min_open=True))
@click.option("--source", help="The plan or decision the target comes from (e.g. 'KH 123/KH-UBND').")
def report_target(province: str, percent: float, source: str | None) -> None:
    """Set a province's adoption target: the share of households accepting cashless payment.

    Reports and the officers' dashboard use it (and show it) unless --target is given.

    \b
    Example:
      market40 report target "Quảng Ninh" 90 --source "KH 123/KH-UBND"
    """
    from market40.services.reports import set_target
    with registry_session() as registry:
        row = set_target(registry.session, registry.actor, province, percent / 100, source=source)
        say("cli.target", province=row.province, target=_target(row.target),
            source=f" ({row.source})" if row.source else "")


def _target(rate: float) -> str:
    """A target (0.9) as ``90%`` / ``82,5%``: its own digits, in this run's language."""
    from market40 import formats
    digits = 0 if round(rate * 100, 6) == round(rate * 100) else 1
    return formats.percent(rate, lang(), digits=digits)


@report_group.command("anomalies")
@click.option("--period", required=True, metavar="YYYY-MM", help="The month.")
@click.option("--kind", type=choice("market40.reconciliation", "ANOMALY_KINDS"),
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
    print_table([[r["kind"] if lang() == "en" else r["label"], r["market"] or "—", r["stall"] or "—", r["account"] or "", r["transfers"] or "",
                  r["detail"][:80]] for r in rows], ["kind", "market", "stall", "account", "transfers", "detail"])


# ---------------------------------------------------------------------------- fee (issue #11)

@main.group("fee")
def fee_group() -> None:
    """Market fees: the board's account, tariffs, stall areas and readings, monthly bills with a
    dynamic VietQR, slips, matching of transfers, cash receipts, status and arrears."""


@contextlib.contextmanager
def fee_session() -> Iterator[Any]:
    """``with fee_session() as fees:`` the fee use cases on one transaction (commit on success)."""
    from market40.services.fees import Fees
    with unit_of_work() as (session, _):
        yield Fees(session, operator())


@fee_group.group("account")
def fee_account_group() -> None:
    """The collection account a market's fees are paid into."""


@fee_account_group.command("set")
@click.argument("market")
@click.option("--bank", required=True, help="Bank name, code or BIN (`market40 banks`).")
@click.option("--account", "number", required=True, help="Account number of the board (or the commune).")
@click.option("--holder", "holder_name", required=True, help="Holder name exactly as the bank shows it.")
@click.option("--board-name", help="Printed on slips and receipts (default: 'Ban quản lý' + market name).")
def fee_account_set(market: str, bank: str, number: str, holder_name: str, board_name: str | None) -> None:
    """Set a market's collection account (validated like a stall's; audited).

    \b
    Example:
      market40 fee account set HL1 --bank vietcombank --account 0011009876543 --holder "BAN QUAN LY CHO HA LONG"
    """
    from market40.accounts import mask
    with fee_session() as fees:
        account, outcome = fees.set_account(market, bank=bank, number=number, holder_name=holder_name,
                                            board_name=board_name)
        click.echo(f"{market.upper()}: {word(outcome)}: {account.bin} {mask(account.number)} {account.holder_name} "
                   f"({account.board_name})")


@fee_group.group("tariff")
def fee_tariff_group() -> None:
    """Tariffs: provincial price tables as data, with their legal source and dates."""


@fee_tariff_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@import_options
def fee_tariff_import(file: str, dry_run: bool, partial: bool, rejects: str | None, sheet: str | None,
                      as_json: bool) -> None:
    """Import a price table (CSV/XLSX, template: `market40 fee tariff template FILE`).

    \b
    Every bad row is reported at once; nothing is written unless all rows are good
    (or --partial); importing the same file again changes nothing.

    \b
    Example:
      market40 fee tariff import bang-gia-2026.xlsx
    """
    with fee_session() as fees:
        report = fees.import_tariffs(file, dry_run=dry_run, partial=partial, sheet=sheet,
                                     rejects=default_rejects(file, rejects))
    finish_import(report, as_json)


@fee_tariff_group.command("list")
@click.option("--period", help="Only the rows valid on the first day of this month (YYYY-MM).")
@click.option("--json", "as_json", is_flag=True)
def fee_tariff_list(period: str | None, as_json: bool) -> None:
    """The tariff rows, by code, tier and position class.

    \b
    Example:
      market40 fee tariff list --period 2026-12
    """
    with fee_session() as fees:
        rows = [t.model_dump(exclude={"id", "imported_at"}) for t in fees.tariffs(on=period)]
    if as_json:
        echo_json(rows)
        return
    print_table([[r["code"], r["kind"], r["name"], r["tier"] or "*", r["position_class"] or "*",
                  f"{format_vnd(r['unit_price'])}/{r['unit']}", _day_text(r["valid_from"]), _day_text(r["valid_to"]),
                  r["source"]]
                 for r in rows], ["code", "kind", "name", "tier", "position", "price", "from", "to", "source"])


@fee_tariff_group.command("template")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--what", type=click.Choice(["tariffs", "stalls", "readings"]), default="tariffs", show_default=True,
              help="Which sheet: price table, stall areas, or meter readings.")
def fee_tariff_template(file: str, what: str) -> None:
    """Write an import template (.xlsx with a guide sheet, or .csv) with Vietnamese headers.

    \b
    Example:
      market40 fee tariff template bieu-phi.xlsx --what tariffs
    """
    from market40.services.fees import write_template
    write_template(file, what)
    say("cli.wrote", file=file)


def _day_text(value: Any) -> str:
    """A date (or its ISO text) as this run's language writes it; empty for none."""
    from datetime import date
    if not value:
        return ""
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value[:10])
        except ValueError:
            return value
    return day(value)


@fee_group.command("stalls")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--market", help="Market code for rows without a Mã chợ column.")
@import_options
def fee_stalls(file: str, market: str | None, dry_run: bool, partial: bool, rejects: str | None, sheet: str | None,
               as_json: bool) -> None:
    """Import stall areas (m²) and position classes from the board's sheet.

    \b
    Example:
      market40 fee stalls dien-tich-HL1.xlsx --market HL1
    """
    with fee_session() as fees:
        report = fees.import_stalls(file, market=market, dry_run=dry_run, partial=partial, sheet=sheet,
                                    rejects=default_rejects(file, rejects))
    finish_import(report, as_json)


@fee_group.command("readings")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--period", required=True, help="The month read, YYYY-MM.")
@click.option("--market", help="Market code for rows without a Mã chợ column.")
@import_options
def fee_readings(file: str, period: str, market: str | None, dry_run: bool, partial: bool, rejects: str | None,
                 sheet: str | None, as_json: bool) -> None:
    """Import meter readings (previous/current) or entry counts for a month.

    \b
    Example:
      market40 fee readings chi-so-dien-2026-12.xlsx --market HL1 --period 2026-12
    """
    with fee_session() as fees:
        report = fees.import_readings(file, period=period, market=market, dry_run=dry_run, partial=partial,
                                      sheet=sheet, rejects=default_rejects(file, rejects))
    finish_import(report, as_json)


@fee_group.command("bill")
@click.option("--market", required=True)
@click.option("--period", required=True, help="YYYY-MM")
@click.option("--due", help="Due date (DD/MM/YYYY; default the 15th of the month).")
@click.option("--partial", is_flag=True, help="Issue the bills that can be computed even if some cannot.")
@click.option("--slips", "slips_path", type=click.Path(dir_okay=False), help="Also write the slips PDF here.")
@click.option("--json", "as_json", is_flag=True)
def fee_bill(market: str, period: str, due: str | None, partial: bool, slips_path: str | None, as_json: bool) -> None:
    """Issue the month's bills: one per operating stall; re-running changes nothing;
    a changed tariff or reading gives a new version with the difference.

    \b
    Example:
      market40 fee bill --market HL1 --period 2026-12 --slips phieu-thu-HL1.pdf
    """
    with fee_session() as fees:
        run = fees.issue(market, period, due=due, partial=partial)
        if slips_path and run.written:
            fees.session.commit()
            fees.write_slips(market, period, slips_path)
    if as_json:
        echo_json(run.as_dict())
    else:
        from market40.messages import bill_problem
        for problem in run.problems:
            click.echo(bill_problem(problem, lang()), err=True)
        click.echo(run.summary(lang()))
    if run.problems and not run.written:
        sys.exit(1)


@fee_group.command("slips")
@click.option("--market", required=True)
@click.option("--period", required=True)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False))
@click.option("--sheet", type=click.Choice(["a4", "a3"]), default="a4", show_default=True)
@click.option("--size", type=click.Choice(["a6", "a7"], case_sensitive=False), default="a6", show_default=True,
              help="Slip size: A6 (4 to an A4 sheet) or A7 (8; a bill whose QR would need modules under 1.5 mm "
                   "is refused, with the bills that fit named).")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Processes building the QR codes (like poster --market --workers).")
def fee_slips(market: str, period: str, output: str, sheet: str, size: str, workers: int) -> None:
    """The month's slips of a market as one PDF: A6 or A7 slips with cut marks, QR modules ≥ 1.5 mm.

    \b
    Example:
      market40 fee slips --market HL1 --period 2026-12 -o phieu-thu-HL1.pdf
      market40 fee slips --market HL1 --period 2026-12 --size a7 --workers 2 -o phieu-thu-HL1-a7.pdf
    """
    with fee_session() as fees:
        count = fees.write_slips(market, period, output, sheet=sheet, size=size.lower(), workers=workers)
    say("cli.fee_slips", n=num(count), size=size.upper(), file=output)


@fee_group.command("match")
@click.option("--market", required=True)
@click.option("--window", "window_days", type=int, default=45, show_default=True,
              help="Days after the due date a transfer without reference may still match by amount.")
@store_option
@click.option("--json", "as_json", is_flag=True)
def fee_match(market: str, window_days: int, store_path: str | None, as_json: bool) -> None:
    """Match the transfers to the market's collection account (transaction store) to its bills.

    \b
    Example:
      market40 fee match --market HL1 --store market40.transfers.duckdb
    """
    with fee_session() as fees, open_store(store_path, read_only=True) as store:
        run = fees.match(market, fees.transfers_to_board(store, market), window_days=window_days)
    if as_json:
        echo_json(run.as_dict())
        return
    for row in run.unmatched:
        say("cli.left_for_board", tx=row["tx"], amount=format_vnd(row["amount"]), reason=row["reason"], err=True)
    click.echo(run.summary(lang()))


@fee_group.command("status")
@click.option("--market", required=True)
@click.option("--period", required=True)
@click.option("--bills", "show_bills", is_flag=True, help="One line per bill.")
@click.option("--json", "as_json", is_flag=True)
def fee_status(market: str, period: str, show_bills: bool, as_json: bool) -> None:
    """The month's bills of a market by state: unpaid, partly paid, paid, overdue.

    \b
    Example:
      market40 fee status --market HL1 --period 2026-12 --bills
    """
    with fee_session() as fees:
        summary = fees.status(market, period)
        views = fees.bills(market, period) if show_bills or as_json else []
    if as_json:
        echo_json({**summary, "list": [v.as_dict() for v in views]})
        return
    if show_bills:
        print_table([[v.number, v.stall, v.owner_name, format_vnd(v.amount), format_vnd(v.paid), v.state_label,
                      v.receipt_serial or ""] for v in views],
                    ["bill", "stall", "owner", "billed", "paid", "state", "receipt"])
    say("cli.fee_status", market=summary["market"], period=summary["period"], bills=num(summary["bills"]),
        paid=num(summary["paid"]), partly=num(summary["partly_paid"]), unpaid=num(summary["unpaid"]),
        overdue=num(summary["overdue"]), billed=format_vnd(summary["billed"]), received=format_vnd(summary["paid"]),
        cashless=format_vnd(summary["paid_cashless"]), owed=format_vnd(summary["owed"]))


@fee_group.command("arrears")
@click.option("--market", required=True)
@click.option("--reminders", is_flag=True, help="The reminder text for each overdue stall, with its phone.")
@click.option("--json", "as_json", is_flag=True)
def fee_arrears(market: str, reminders: bool, as_json: bool) -> None:
    """Who owes how much since when (overdue bills), oldest first.

    \b
    Example:
      market40 fee arrears --market HL1 --json
    """
    with fee_session() as fees:
        rows = fees.reminders(market) if reminders else fees.arrears(market)
    if as_json:
        echo_json(rows)
        return
    if reminders:
        for row in rows:
            click.echo(f"{row['phone'] or '—'}\t{row['text']}")
        return
    print_table([[r["stall"], r["owner_name"], format_vnd(r["owed"]), _day_text(r["since"]), r["days"],
                  ", ".join(b["period"] for b in r["bills"])] for r in rows],
                ["stall", "owner", "owed", "since", "days", "periods"])


@fee_group.command("cash")
@click.argument("bill")
@click.argument("amount")
@click.option("--at", help="When it was paid, if not now (DD/MM/YYYY).")
@click.option("--note", help="Kept with the payment and in the audit trail.")
def fee_cash(bill: str, amount: str, at: str | None, note: str | None) -> None:
    """Record cash paid at the board's office on a bill (audited).

    \b
    Example:
      market40 fee cash HL1-2612-A12 50.000 --note "nộp tại văn phòng"
    """
    with fee_session() as fees:
        view = fees.record_cash(bill, amount, at=at, note=note)
    say("cli.fee_cash", bill=view.number, state=view.state_label,  # the board's own words, in both languages
        paid=format_vnd(view.paid), amount=format_vnd(view.amount),
        receipt=t("cli.receipt", serial=view.receipt_serial) if view.receipt_serial else "")


@fee_group.command("receipt")
@click.argument("bill")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False))
def fee_receipt(bill: str, output: str) -> None:
    """The receipt PDF of a paid bill (serial, board, what was paid and how).

    \b
    Example:
      market40 fee receipt HL1-2612-A12 -o bien-lai.pdf
    """
    with fee_session() as fees:
        serial = fees.write_receipt(bill, output)
    say("cli.fee_receipt", serial=serial, file=output)



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
        raise click.UsageError(t("cli.give_purge"))
    from contextlib import nullcontext
    from pathlib import Path

    from market40.services.storage import store_path as resolve_store
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
        say("cli.purged", n=num(out["purged"]), age=older_than)
    if "erased" in out:
        say("cli.erased", n=num(out["erased"]), stall=stall_ref)


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
    from market40 import webhooks
    from market40.services import storage as db  # the registry's storage (engine, session scope)
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
        click.echo(_simulation_summary(report))
    if report.errors or any(status != 200 for status in report.by_status):
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    main()
