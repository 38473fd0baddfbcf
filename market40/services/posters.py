"""Posters from the registry, and poster inspection against it (anti-overlay fraud).

* :func:`poster_data` — what one stall's poster prints (only a *verified* current account
  prints; revoked, rejected and pending ones never do);
* :func:`market_posters` — every printable poster of a market, sorted by stall code, and a
  skip report naming each stall left out and why;
* :func:`inspect` — read the QR in a photo of a hanging poster and say whether it is the
  stall's current registered QR, another stall's, a revoked one, or unknown to the registry
  (any other code — a VNPAY sticker, a NAPAS QRPUSH merchant QR, another EMV code, plain
  text, a VietQR with a wrong CRC — is unknown too: a possible overlay, named for what it is);
* poster serials: a short id printed on each poster (``P-0K3Q7``) that leads back to the
  registered account, with a check character so a mistyped serial is caught.

Every print and every inspection is audited (printing reads unmasked account numbers).
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from sqlmodel import select

from .. import banks, messages, posters, qrimage
from . import qr as qr_service
from ..exceptions import Conflict, InvalidFormat, ValidationError
from ..models import PaymentAccount, Stall
from .registry import Registry, _natural, parse_stall_ref

__all__ = ["render_poster", "render_sheet", "parse_langs", "LANGS", "serial_for", "account_id_for_serial", "poster_data", "preview_data", "market_posters", "Skipped", "Inspection",
           "inspect", "VERDICT_EXIT"]

# Crockford's base 32: no I, L, O, U; read aloud and typed without confusion.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CHECK = _ALPHABET + "*~$=U"  # Crockford's check symbols (mod 37)


def serial_for(account_id: int) -> str:
    """The poster serial of a registered account: ``P-`` + base-32 id (≥ 4) + a check symbol."""
    if account_id < 1:
        raise ValueError("account ids start at 1")
    digits, n = "", account_id
    while n:
        n, rest = divmod(n, 32)
        digits = _ALPHABET[rest] + digits
    return f"P-{digits.rjust(4, '0')}{_CHECK[account_id % 37]}"


def account_id_for_serial(serial: str) -> int:
    """The account id a serial stands for; raises :class:`InvalidFormat` for a mistyped serial."""
    text = re.sub(r"[\s-]", "", serial.upper()).translate(str.maketrans("OIL", "011"))
    if text.startswith("P"):
        text = text[1:]
    if len(text) < 2 or any(c not in _ALPHABET for c in text[:-1]) or text[-1] not in _CHECK:
        raise InvalidFormat(f"serial: not a poster serial (like P-0K3Q7), got {serial!r}", field="serial",
                            value=serial, limit="P- + base-32 digits + check symbol")
    number = 0
    for char in text[:-1]:
        number = number * 32 + _ALPHABET.index(char)
    if number < 1 or _CHECK[number % 37] != text[-1]:
        raise InvalidFormat(f"serial: the check symbol of {serial!r} does not match (mistyped?)", field="serial",
                            value=serial, limit="a valid check symbol")
    return number


def _poster(*, payload: str, bin: str, number: str, kind: str, holder_name: str, stall_code: str,
            shop_name: str, market_name: str, serial: str, printed_on: date,
            merchant_payload: str | None = None) -> posters.PosterData:
    """The one place an account becomes what a poster prints (bank names from the directory).

    A registration with a bank-issued merchant QR prints that QR exactly as issued, with the
    acquirer, the merchant id and the merchant name the QR carries (what the payer's app shows).
    """
    if merchant_payload:
        from .. import accounts
        from ..text import emv_text
        scanned = accounts.receiving_qr(merchant_payload, allow_unknown_bin=True)
        acquirer = banks.by_bin(scanned.bin)
        return posters.PosterData(
            payload=merchant_payload, holder_name=emv_text(scanned.merchant_name or holder_name),
            bank_short_name=acquirer.short_name if acquirer else scanned.bin,
            bank_name=acquirer.name if acquirer else f"BIN {scanned.bin}", account_number=scanned.merchant_id or "",
            stall_code=stall_code, shop_name=shop_name, market_name=market_name, serial=serial,
            printed_on=printed_on, is_merchant=True)
    bank = banks.by_bin(bin)
    return posters.PosterData(
        payload=payload, holder_name=holder_name, bank_short_name=bank.short_name if bank else bin,
        bank_name=bank.name if bank else f"BIN {bin}", account_number=number, stall_code=stall_code,
        shop_name=shop_name, market_name=market_name, serial=serial, printed_on=printed_on,
        is_card=kind == "card", is_ewallet=kind == "ewallet")


def _data(registry: Registry, stall: Stall, account: PaymentAccount, printed_on: date) -> posters.PosterData:
    from ..models import Market
    market = registry.session.get(Market, stall.market_id)
    return _poster(payload=account.payload, bin=account.bin, number=account.number, kind=account.kind,
                   holder_name=account.holder_name, stall_code=stall.code,
                   shop_name=stall.shop_name or stall.owner_name, market_name=market.name if market else "",
                   serial=serial_for(account.id), printed_on=printed_on,
                   merchant_payload=account.merchant_payload)


#: Printed instead of a serial on the preview of an account that is not registered yet.
PREVIEW_SERIAL = "XEM-TRUOC"


def preview_data(prepared: dict[str, Any], *, market_name: str, stall_code: str,
                 shop_name: str) -> posters.PosterData:
    """The poster of an account being typed (``Registry.prepare_account``'s result), not yet registered."""
    return _poster(payload=prepared["payload"], bin=prepared["bin"], number=prepared["number"],
                   kind=prepared["kind"], holder_name=prepared["holder_name"], stall_code=stall_code,
                   shop_name=shop_name, market_name=market_name, serial=PREVIEW_SERIAL, printed_on=date.today(),
                   merchant_payload=prepared.get("merchant_payload"))


def poster_data(registry: Registry, ref: str, *, printed_on: date | None = None) -> posters.PosterData:
    """What one stall's poster prints. Refuses stalls without a verified current account."""
    stall = registry.stall(ref)
    account = registry.current_account(stall)
    if stall.status != "operating":
        raise Conflict(f"stall {ref}: closed; its poster must not hang")
    if account is None:
        raise Conflict(f"stall {ref}: no registered account (no QR yet)")
    if account.status != "verified":
        raise Conflict(f"stall {ref}: the account is {account.status}; only verified accounts print")
    registry.audit("poster.print", "payment_account", account.id, note=f"stall {ref}")
    return _data(registry, stall, account, printed_on or date.today())


@dataclass
class Skipped:
    """A stall left out of a market's sheet; ``reason`` in English, :meth:`said` in any language."""

    stall: str
    reason: str
    code: str = field(default="", repr=False, compare=False)
    fields: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def because(cls, stall: str, code: str, **fields: Any) -> "Skipped":
        return cls(stall, messages.text(f"poster.skip.{code}", "en", **fields), code, fields)

    def said(self, lang: str = "vi") -> str:
        if not self.code:
            return self.reason
        fields = {k: messages.word(v, lang) if k == "status" else v for k, v in self.fields.items()}
        return messages.text(f"poster.skip.{self.code}", lang, **fields)

    def as_dict(self) -> dict[str, str]:
        return {"stall": self.stall, "reason": self.reason}


def market_posters(registry: Registry, market_code: str, *, printed_on: date | None = None,
                   size: str | None = None, langs: Any = None) -> tuple[list[posters.PosterData], list[Skipped]]:
    """Every printable poster of a market (by stall code) and the stalls skipped, with the reason.

    With ``size``, a merchant QR too dense for that size is skipped with the reason (print it
    alone on a larger size) instead of stopping the whole sheet.
    """
    market = registry.market(market_code)
    stalls = sorted(registry.session.exec(select(Stall).where(Stall.market_id == market.id)).all(),
                    key=lambda s: _natural(s.code))
    current = registry._current_accounts([s.id for s in stalls])
    printed_on = printed_on or date.today()
    items, skipped = [], []
    for stall in stalls:
        ref = f"{market.code}/{stall.code}"
        account = current.get(stall.id)
        if stall.status != "operating":
            skipped.append(Skipped.because(ref, "closed"))
        elif account is None:
            skipped.append(Skipped.because(ref, "no_account"))
        elif account.status != "verified":
            skipped.append(Skipped.because(ref, "waiting", status=account.status))
        else:
            try:
                data = _data(registry, stall, account, printed_on)
                if size is not None and data.is_merchant:
                    posters.layout(data, size=size, langs=langs)
                items.append(data)
            except ValidationError as error:  # a registry row that no longer passes the poster's checks
                skipped.append(Skipped.because(ref, "cannot_print", error=error))
    registry.audit("poster.print", "market", market.code, note=f"{len(items)} posters, {len(skipped)} skipped")
    return items, skipped


# ------------------------------------------------------------------ inspection

#: Exit codes of ``market40 poster verify`` per verdict (1 = refused input, 2 = usage).
VERDICT_EXIT = {"registered": 0, "other_stall": 3, "revoked": 4, "unknown": 5, "pending": 6, "no_qr": 1}



@dataclass
class Inspection:
    """The verdict on one QR found in a photo."""

    verdict: str
    message: str
    stall: str | None = None
    expected: str | None = None
    payload: str | None = None
    bank: str | None = None
    account: str | None = None  # masked
    holder_name: str | None = None
    serial: str | None = None
    kind: str | None = None  # what the code is: "VietQR transfer", "VNPAY-QR merchant payment", ...
    notes: list[str] = field(default_factory=list)
    fields: dict[str, Any] = field(default_factory=dict, repr=False)  # what the message names
    note_codes: list[str | None] = field(default_factory=list, repr=False)

    @classmethod
    def found(cls, verdict: str, code: str | None = None, fields: dict[str, Any] | None = None,
              **details: Any) -> "Inspection":
        """An inspection whose message is the ``poster.verdict.<code>`` text (English kept in ``message``)."""
        fields = fields or {}
        return cls(verdict, messages.text(f"poster.verdict.{code or verdict}", "en", **fields),
                   fields={"_code": code or verdict, **fields}, **details)

    def note(self, code: str | None, english: str | None = None) -> None:
        """Add a note: a ``poster.note.<code>`` text, or (``code`` None) a text only said in English."""
        self.notes.append(messages.text(f"poster.note.{code}", "en") if code else str(english))
        self.note_codes.append(code)

    def said(self, lang: str = "vi") -> str:
        """The message in ``lang``."""
        fields = {k: messages.word(v, lang) if k == "status" else v for k, v in self.fields.items() if k != "_code"}
        return messages.text(f"poster.verdict.{self.fields['_code']}", lang, **fields) if self.fields else self.message

    def notes_said(self, lang: str = "vi") -> list[str]:
        return [messages.text(f"poster.note.{c}", lang) if c else n
                for n, c in zip(self.notes, self.note_codes + [None] * len(self.notes))]

    @property
    def exit_code(self) -> int:
        return VERDICT_EXIT[self.verdict]

    def as_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k not in ("fields", "note_codes")}
        return {**out, "exit_code": self.exit_code}


def inspect(registry: Registry, image: Any, *, stall: str | None = None) -> list[Inspection]:
    """Check the QR code(s) in a photo of a stall's poster against the registry (audited)."""
    from ..accounts import mask
    expected = None
    if stall is not None:
        market_code, _ = parse_stall_ref(stall)
        expected = f"{market_code}/{registry.stall(stall).code}"
    texts = qrimage.read(image)
    results = []
    if not texts:
        results.append(Inspection.found("no_qr", expected=expected))
    for text in texts:
        decoded = qr_service.decode(text)
        qr = decoded.qr
        merchant_rows = [] if decoded.ok and qr is not None else registry.session.exec(
            select(PaymentAccount, Stall).join(Stall, Stall.id == PaymentAccount.stall_id)
            .where(PaymentAccount.merchant_payload == text.strip())
            .order_by(PaymentAccount.id.desc())).all()  # type: ignore[attr-defined]
        if (not decoded.ok or qr is None) and not merchant_rows:
            # Not a valid VietQR transfer nor a registered merchant QR: whatever it is, it is not what
            # market40 printed for the stall, so it is reported as a possible overlay (exit 5).
            other = decoded.other
            inspection = Inspection.found("unknown", "other_code", {"detail": decoded.describe()},
                                    expected=expected, payload=text, kind=decoded.kind,
                                    bank=(decoded.bank.short_name if decoded.bank else
                                          (qr.bin if qr else other.bin if other else None)),
                                    account=mask(qr.account) if qr is not None and qr.account else None)
            if decoded.error is not None and (qr is not None or decoded.kind.startswith("malformed")):
                inspection.note(None, str(decoded.error))  # a damaged or altered VietQR: say what broke
            elif other is not None and other.is_napas_merchant:
                inspection.note("merchant_unregistered")
            results.append(inspection)
            continue
        if merchant_rows:
            other = decoded.other
            bank = banks.by_bin(other.bin) if other is not None and other.bin else None
            base = dict(expected=expected, payload=text.strip(), kind=decoded.kind,
                        bank=bank.short_name if bank else (other.bin if other else None),
                        account=other.merchant_id if other is not None else None)
            rows = merchant_rows
        else:
            assert qr is not None
            bank = banks.by_bin(qr.bin)
            base = dict(expected=expected, payload=qr.payload, bank=bank.short_name if bank else qr.bin,
                        account=mask(qr.account), kind=decoded.kind)
            rows = registry.session.exec(select(PaymentAccount, Stall).join(Stall, Stall.id == PaymentAccount.stall_id)
                                         .where(PaymentAccount.payload == qr.payload)
                                         .order_by(PaymentAccount.id.desc())).all()  # type: ignore[attr-defined]
        if not rows:
            inspection = Inspection.found("unknown", **base)
            same_account = registry.session.exec(select(PaymentAccount).where(
                PaymentAccount.bin == qr.bin, PaymentAccount.number == qr.account)).first()
            if same_account is not None:
                inspection.note("content_differs")
            results.append(inspection)
            continue
        current = [(a, s) for a, s in rows if a.status in ("verified", "pending")]
        account, owner = current[0] if current else rows[0]
        from ..models import Market
        market = registry.session.get(Market, owner.market_id)
        where = f"{market.code}/{owner.code}" if market else str(owner.id)
        details = dict(stall=where, holder_name=account.holder_name, serial=serial_for(account.id), **base)
        if account.status in ("revoked", "rejected"):
            verdict = "revoked"
        elif expected is not None and where != expected:
            verdict = "other_stall"
        elif account.status == "pending":
            verdict = "pending"
        else:
            verdict = "registered"
        results.append(Inspection.found(verdict, fields=dict(stall=where, expected=expected, status=account.status),
                                        **details))
    for result in results:
        registry.audit("poster.inspect", "stall", result.stall or expected, note=f"{result.verdict}: {result.message}")
    return results


# --- drawing, for the doors (they reach the renderer through here) ------------------------------

parse_langs = posters.parse_langs
LANGS = posters.LANGS
SIZES = tuple(posters.SIZES)
SHEETS = tuple(posters.SHEETS)


def render_poster(data: posters.PosterData, output: Any, *, size: str = "a6", langs: Any = None,
                  fmt: str | None = None, dpi: int = 300) -> None:
    """One poster, to a path or a binary file: ``fmt`` ``png`` (at ``dpi``) or ``pdf`` (vector);
    by default PNG when ``output`` ends in .png, else PDF."""
    if (fmt or ("png" if str(output).lower().endswith(".png") else "pdf")) == "png":
        posters.render_png(data, output, size=size, dpi=dpi, langs=langs)
    else:
        posters.render_pdf(data, output, size=size, langs=langs)


def render_sheet(items: list[posters.PosterData], output: Any, *, size: str = "a6", sheet: str = "a4",
                 langs: Any = None, progress: Any = None, workers: int = 1) -> None:
    """A market's posters as PDF sheets with cut marks."""
    posters.render_sheet_pdf(items, output, size=size, sheet=sheet, langs=langs, progress=progress, workers=workers)
