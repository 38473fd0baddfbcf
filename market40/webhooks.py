"""Bank-feed webhooks: who signed a request, and the one incoming transfer it carries.

Four providers, each checked the way its documentation says (the raw body is verified before
it is parsed; signatures are compared with :func:`hmac.compare_digest`; each source may have
two secrets valid at once so a secret can be rotated without losing a delivery):

``sepay`` — SePay (developer.sepay.vn/en/sepay-webhooks/xac-thuc, …/bao-mat)
    HMAC-SHA256 mode: ``X-SePay-Timestamp: <unix seconds>`` and ``X-SePay-Signature:
    sha256=<hex>``, the HMAC of ``"<timestamp>.<raw body>"``; the documentation asks receivers to
    refuse a timestamp more than 5 minutes from their clock. API-key mode: ``Authorization:
    Apikey <key>`` (no timestamp: replays are answered by the deduplication). Body: ``id, gateway,
    transactionDate, accountNumber, code, content, transferType, transferAmount, accumulated,
    subAccount, referenceCode, description``. SePay retries (up to 7 times over about 33 minutes)
    until it gets HTTP 200 with ``{"success": true}``.
``casso`` — Casso webhook v2 (developer.casso.vn, "webhook v2")
    ``X-Casso-Signature: t=<unix milliseconds>,v1=<hex>``: HMAC-SHA512 with the checksum key over
    ``"<t>." + JSON(data with its keys sorted)`` (compact JSON, as ``JSON.stringify`` writes it).
    Body ``{"error": 0, "data": {id, reference, description, amount, runningBalance,
    transactionDateTime, accountNumber, bankName, bankAbbreviation, virtualAccountNumber,
    virtualAccountName, counterAccountName, counterAccountNumber, counterAccountBankId,
    counterAccountBankName}}``. Answered ``{"success": true}``.
``payos`` — payOS (payos.vn/docs/tich-hop-webhook/kiem-tra-du-lieu-voi-signature)
    ``signature`` in the body: HMAC-SHA256 with the checksum key over ``key1=value1&key2=value2…``
    of ``data``, keys in alphabetical order (null → empty; nested values as JSON). payOS signs no
    time: replays are answered by the deduplication. payOS names no bank: the source's
    configuration gives it. Answered ``{"success": true}``.
``market40`` — market40's own generic JSON, for any bank or reconciler
    ``X-Market40-Timestamp: <unix seconds>`` and ``X-Market40-Signature: v1=<hex>``, HMAC-SHA256
    of ``"<timestamp>." + raw body``; body ``{"bank_bin", "account", "tx_id", "amount",
    "booked_at" (ISO 8601, Vietnam time), "content", "direction" ("in"/"out", default in)}``.
    Answered ``{"ok": true}``.

**Payer fields are dropped at the door**: only the fields of :class:`Incoming` are kept (the
counter-account name, number and bank of Casso and payOS never leave :func:`parse`): the
transaction history of an account is sensitive personal data (Decree 356/2025, Art. 4).

>>> src = Source("qn-generic", "market40", ("new-secret-0123456789", "old-secret-0123456789"))
>>> body = b'{"bank_bin":"970436","account":"0011001234567","tx_id":"FT1","amount":9034,"booked_at":"2026-03-01 08:00:00","content":"HL1 A12"}'
>>> headers = sign(src, body, now=1_772_326_800, secret="old-secret-0123456789")
>>> verify(src, headers, body, now=1_772_326_830)
'timestamp'
>>> parse(src, body).amount
9034

Standard library only.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping

from .exceptions import Market40Error, NotFound, ValidationError

__all__ = ["PROVIDERS", "WINDOW_SECONDS", "MAX_BODY", "Source", "Incoming", "Refused", "load_sources",
           "verify", "parse", "sign", "response", "header"]

PROVIDERS = ("sepay", "casso", "payos", "market40")
#: A signed timestamp further than this from the server's clock is refused (replay window).
WINDOW_SECONDS = 300
#: The largest body accepted: a transfer is well under 4 KB; 64 KB leaves room for any provider.
MAX_BODY = 64 * 1024
_VN = timezone(timedelta(hours=7))


class Refused(Market40Error):
    """A webhook request refused before anything is stored: ``status`` (HTTP) and ``reason`` (audited)."""

    def __init__(self, status: int, reason: str, message: str = "") -> None:
        super().__init__(message or reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Source:
    """A configured feed: its name (the URL's last part), provider, secrets (newest first)."""

    name: str
    provider: str
    secrets: tuple[str, ...]
    auth: str = "hmac"  # SePay only: "hmac" or "apikey"
    bank_bin: str | None = None  # the bank, for feeds that do not name it (payOS)
    rate_per_minute: int = 1200

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,39}", self.name or ""):
            raise ValidationError(f"webhook source name: 1–40 lower-case letters, digits, - or _, got {self.name!r}",
                                  field="name", value=self.name, limit="[a-z0-9_-]{1,40}")
        if self.provider not in PROVIDERS:
            raise ValidationError(f"webhook provider: one of {', '.join(PROVIDERS)}, got {self.provider!r}",
                                  field="provider", value=self.provider, limit=", ".join(PROVIDERS))
        if not 1 <= len(self.secrets) <= 2 or any(len(s) < 16 for s in self.secrets):
            raise ValidationError(f"webhook source {self.name}: one or two secrets (current, previous) of at "
                                  "least 16 characters", field="secrets", value=len(self.secrets), limit="1–2")
        if self.auth not in ("hmac", "apikey") or (self.auth == "apikey" and self.provider != "sepay"):
            raise ValidationError(f"webhook source {self.name}: auth hmac (or apikey for SePay), got {self.auth!r}",
                                  field="auth", value=self.auth, limit="hmac, apikey")

    def __repr__(self) -> str:  # secrets never in logs
        return f"Source({self.name!r}, {self.provider!r}, secrets=<{len(self.secrets)}>)"


def load_sources(text: str) -> dict[str, Source]:
    """Sources from the JSON configuration ``{"sources": [{"name", "provider", "secrets", …}]}``.

    >>> cfg = '{"sources": [{"name": "sepay", "provider": "sepay", "secrets": ["0123456789abcdef"]}]}'
    >>> load_sources(cfg)["sepay"]
    Source('sepay', 'sepay', secrets=<1>)
    """
    try:
        data = json.loads(text)
    except ValueError as error:
        raise ValidationError(f"webhook configuration: not JSON ({error})", field="webhooks", value=None) from None
    out: dict[str, Source] = {}
    for item in data.get("sources", []) if isinstance(data, dict) else []:
        source = Source(str(item.get("name", "")), str(item.get("provider", "")),
                        tuple(str(s) for s in item.get("secrets") or ()), str(item.get("auth", "hmac")),
                        _bin_of(item.get("bank")) if item.get("bank") else None,
                        int(item.get("rate_per_minute", 1200)))
        if source.name in out:
            raise ValidationError(f"webhook source {source.name}: configured twice", field="name", value=source.name)
        out[source.name] = source
    return out


@dataclass(frozen=True)
class Incoming:
    """One transfer as a feed reported it; nothing about the payer.

    ``tx_id`` is the bank's transaction reference as the feed gives it (the deduplication key
    with ``bank_bin``); ``provider_id`` the provider's own id (SePay ``id``, Casso ``id``, payOS
    ``orderCode``): a retry repeats both. ``booked_at`` is naive Vietnam time.
    """

    provider: str
    provider_id: str
    bank_bin: str
    account: str
    tx_id: str
    amount: int
    booked_at: datetime
    content: str
    incoming: bool = True
    signed_at: int | None = field(default=None, compare=False)


# ----------------------------------------------------------------------------- verifying

def header(headers: Mapping[str, str], name: str) -> str:
    """A header's value, case-insensitively (``""`` when absent)."""
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value.strip()
    return ""


def _hex(key: str, message: bytes, algorithm: str = "sha256") -> str:
    return hmac.new(key.encode(), message, getattr(hashlib, algorithm)).hexdigest()


def _any_matches(source: Source, given: str, message: bytes, algorithm: str = "sha256") -> bool:
    given = given.strip().lower()
    ok = False
    for secret in source.secrets:  # every secret is tried: the time taken does not say which matched
        ok |= hmac.compare_digest(_hex(secret, message, algorithm), given)
    return ok


def _check_time(stamp: str, now: float, scale: int) -> int:
    if not stamp.isdigit():
        raise Refused(401, "missing timestamp")
    value = int(stamp)
    if abs(value / scale - now) > WINDOW_SECONDS:
        raise Refused(401, "stale timestamp")
    return value


def verify(source: Source, headers: Mapping[str, str], body: bytes, *, now: float | None = None) -> str:
    """Check a request's authentication; return how (``timestamp``, ``apikey``, ``body-signature``).

    Raises :class:`Refused` (401) for a missing or wrong signature or a timestamp outside
    :data:`WINDOW_SECONDS`. The body is checked as received, byte for byte.
    """
    now = time.time() if now is None else now
    if source.provider == "market40":
        stamp = _check_time(header(headers, "X-Market40-Timestamp"), now, 1)
        given = header(headers, "X-Market40-Signature").removeprefix("v1=")
        if not given or not _any_matches(source, given, f"{stamp}.".encode() + body):
            raise Refused(401, "bad signature")
        return "timestamp"
    if source.provider == "sepay":
        if source.auth == "apikey":
            auth = header(headers, "Authorization")
            key = auth[7:].strip() if auth[:7].lower() == "apikey " else ""
            ok = False
            for secret in source.secrets:
                ok |= hmac.compare_digest(secret.encode(), key.encode())
            if not ok:
                raise Refused(401, "bad api key")
            return "apikey"
        stamp = _check_time(header(headers, "X-SePay-Timestamp"), now, 1)
        given = header(headers, "X-SePay-Signature").removeprefix("sha256=")
        if not given or not _any_matches(source, given, f"{stamp}.".encode() + body):
            raise Refused(401, "bad signature")
        return "timestamp"
    if source.provider == "casso":
        parts = dict(p.split("=", 1) for p in header(headers, "X-Casso-Signature").split(",") if "=" in p)
        stamp = _check_time(parts.get("t", "").strip(), now, 1000)
        data = _json(body).get("data")
        if not isinstance(data, dict):
            raise Refused(400, "no data")
        message = f"{stamp}.".encode() + _casso_json(data).encode()
        if not parts.get("v1") or not _any_matches(source, parts["v1"], message, "sha512"):
            raise Refused(401, "bad signature")
        return "timestamp"
    # payOS: the signature is inside the body
    payload = _json(body)
    data = payload.get("data")
    if not isinstance(data, dict) or not isinstance(payload.get("signature"), str):
        raise Refused(401, "bad signature")
    if not _any_matches(source, payload["signature"], payos_string(data).encode()):
        raise Refused(401, "bad signature")
    return "body-signature"


def _json(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise Refused(400, "not JSON") from None
    if not isinstance(value, dict):
        raise Refused(400, "not a JSON object")
    return value


def _casso_json(data: Mapping[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def payos_string(data: Mapping[str, Any]) -> str:
    """payOS's signed text: ``key=value`` pairs of ``data`` sorted by key, joined with ``&``.

    >>> payos_string({"b": 2, "a": None, "c": True, "d": [1]})
    'a=&b=2&c=true&d=[1]'
    """
    def text(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (list, dict)):
            return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return str(value)

    return "&".join(f"{key}={text(data[key])}" for key in sorted(data))


def sign(source: Source, body: bytes, *, now: float | None = None, secret: str | None = None) -> dict[str, str]:
    """The headers a provider would send with ``body`` (for ``tx simulate``, tests, the demo).

    payOS bodies carry their signature inside: use :func:`sign_payos` to build them.
    """
    key = secret or source.secrets[0]
    now = time.time() if now is None else now
    if source.provider == "market40":
        stamp = str(int(now))
        return {"Content-Type": "application/json", "X-Market40-Timestamp": stamp,
                "X-Market40-Signature": "v1=" + _hex(key, f"{stamp}.".encode() + body)}
    if source.provider == "sepay":
        if source.auth == "apikey":
            return {"Content-Type": "application/json", "Authorization": f"Apikey {key}"}
        stamp = str(int(now))
        return {"Content-Type": "application/json", "X-SePay-Timestamp": stamp,
                "X-SePay-Signature": "sha256=" + _hex(key, f"{stamp}.".encode() + body)}
    if source.provider == "casso":
        stamp = str(int(now * 1000))
        data = json.loads(body)["data"]
        digest = _hex(key, f"{stamp}.".encode() + _casso_json(data).encode(), "sha512")
        return {"Content-Type": "application/json", "X-Casso-Signature": f"t={stamp},v1={digest}"}
    return {"Content-Type": "application/json"}


def sign_payos(source: Source, data: Mapping[str, Any], *, secret: str | None = None) -> bytes:
    """A payOS webhook body for ``data``, signed."""
    signature = _hex(secret or source.secrets[0], payos_string(data).encode())
    return json.dumps({"code": "00", "desc": "success", "success": True, "data": dict(data),
                       "signature": signature}, ensure_ascii=False).encode()


# ----------------------------------------------------------------------------- parsing

def _text(value: Any, limit: int = 500) -> str:
    if value is None or isinstance(value, bool):
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()[:limit]


def _amount(value: Any) -> int:
    if isinstance(value, bool):
        raise Refused(422, "amount: a whole number of đồng")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and re.fullmatch(r"-?\d{1,15}", value.strip()):
        value = int(value.strip())
    if not isinstance(value, int):
        raise Refused(422, "amount: a whole number of đồng")
    return value


def _when(value: Any) -> datetime:
    text = _text(value, 40)
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M"):
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise Refused(422, "booking time: ISO 8601 in Vietnam time") from None
    return moment.astimezone(_VN).replace(tzinfo=None) if moment.tzinfo else moment


def _bin_of(name: Any) -> str:
    text = _text(name, 80)
    if re.fullmatch(r"\d{6}", text):
        return text
    from . import banks
    try:
        return banks.lookup(text).bin
    except Market40Error:
        raise Refused(422, f"bank: not a known bank ({text!r})") from None


def _account(value: Any) -> str:
    text = re.sub(r"\s+", "", _text(value, 40))
    if not re.fullmatch(r"[A-Za-z0-9]{1,19}", text):
        raise Refused(422, "account: 1 to 19 letters or digits")
    return text


def _tx_id(value: Any) -> str:
    text = _text(value, 100)
    if not 1 <= len(text) <= 64:
        raise Refused(422, "transaction id: required, at most 64 characters")
    return text


def parse(source: Source, body: bytes) -> Incoming:
    """The transfer in a verified body (payer fields dropped); :class:`Refused` (422) when unusable."""
    payload = _json(body)
    if source.provider == "sepay":
        amount = _amount(payload.get("transferAmount"))
        provider_id = _text(payload.get("id"), 64)
        reference = _text(payload.get("referenceCode"), 64)
        return Incoming("sepay", provider_id, source.bank_bin or _bin_of(payload.get("gateway")),
                        _account(payload.get("accountNumber")),
                        _tx_id(reference or f"SEPAY-{provider_id}"), amount, _when(payload.get("transactionDate")),
                        _text(payload.get("content")) or _text(payload.get("description")),
                        _text(payload.get("transferType")).lower() != "out" and amount > 0)
    if source.provider == "market40":
        amount = _amount(payload.get("amount"))
        return Incoming("market40", _text(payload.get("tx_id"), 64), _bin_of(payload.get("bank_bin")),
                        _account(payload.get("account")), _tx_id(payload.get("tx_id")), amount,
                        _when(payload.get("booked_at")), _text(payload.get("content")),
                        _text(payload.get("direction")).lower() != "out" and amount > 0)
    data = payload.get("data")
    if not isinstance(data, dict):
        raise Refused(422, "no data")
    if source.provider == "casso":
        amount = _amount(data.get("amount"))
        bank = source.bank_bin or _bin_of(data.get("bankAbbreviation") or data.get("bankName"))
        provider_id = _text(data.get("id"), 64)
        return Incoming("casso", provider_id, bank,
                        _account(data.get("accountNumber")),
                        _tx_id(_text(data.get("reference"), 64) or f"CASSO-{provider_id}"), abs(amount),
                        _when(data.get("transactionDateTime")), _text(data.get("description")), amount > 0)
    if source.provider == "payos":
        if not source.bank_bin:
            raise Refused(422, "payOS names no bank: configure the source's bank")
        amount = _amount(data.get("amount"))
        return Incoming("payos", _text(data.get("orderCode"), 64), source.bank_bin,
                        _account(data.get("accountNumber")),
                        _tx_id(data.get("reference")), amount, _when(data.get("transactionDateTime")),
                        _text(data.get("description")), amount > 0 and _text(data.get("code")) in ("", "00"))
    raise Refused(422, f"unknown provider {source.provider}")


def response(source: Source) -> dict[str, Any]:
    """The body each provider expects once a transfer is stored (SePay stops retrying on it)."""
    return {"ok": True} if source.provider == "market40" else {"success": True}


def source_named(sources: Mapping[str, Source], name: str) -> Source:
    try:
        return sources[name]
    except KeyError:
        raise NotFound(f"webhook source {name!r}: not configured") from None
