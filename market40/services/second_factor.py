"""A second factor for logins (OWASP ASVS 5.0 6.3.3): TOTP codes and single-use recovery codes.

* **TOTP** (RFC 6238, ``pyotp``): 6 digits, 30-second steps, one step of clock drift either way.
  A code is accepted once (the step is remembered: ASVS 6.5.1). The shared secret is stored
  *sealed* under the deployment key (an HMAC-SHA-256 keystream with a random nonce, plus a
  tag), so a copy of the database alone does not give anyone the codes.
* **Recovery codes**: 10 codes of 16 symbols (``XXXX-XXXX-XXXX-XXXX``, the enrollment-code
  alphabet: no vowels, no look-alikes), shown once, stored as salted scrypt hashes (ASVS 6.5.2),
  each usable once. The first four symbols select the row, so checking a code costs one hash.
* **Who must have it**: the roles a deployment lists (``MARKET40_2FA_ROLES``; default every
  role but owners); owners may opt in.
* **Audited**: ``2fa.enrol``, ``2fa.used``, ``2fa.failed``, ``2fa.recovery_used``,
  ``2fa.recovery_renew``, ``2fa.disable``, ``2fa.reset`` (by an administrator).

No Flask: the web app passes the key, the time and the address in.

>>> sealed = seal_secret("JBSWY3DPEHPK3PXP", key="a deployment secret of 16+ bytes")
>>> open_secret(sealed, key="a deployment secret of 16+ bytes")
'JBSWY3DPEHPK3PXP'
>>> parse_roles("staff, officer ,admin")
('staff', 'officer', 'admin')
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from typing import Iterable

import pyotp
from sqlmodel import Session, select

from . import auditlog
from .. import passwords
from ..exceptions import Conflict, Forbidden, InvalidFormat, NotFound, ValidationError
from ..models import ROLES, RecoveryCode, User, utcnow
from .registry import Actor

__all__ = ["DEFAULT_ROLES", "ISSUER", "RECOVERY_CODES", "parse_roles", "is_enrolled", "is_required",
           "new_secret", "seal_secret", "open_secret", "provisioning_uri", "totp_now", "confirm_enrolment",
           "verify", "renew_recovery_codes", "disable", "reset", "recovery_codes_left"]

#: Roles that must use a second factor unless the deployment says otherwise.
DEFAULT_ROLES = tuple(r for r in ROLES if r != "owner")
ISSUER = "market40"
RECOVERY_CODES = 10
RECOVERY_SYMBOLS = 16
_SELECTOR = 4
# Recovery codes carry 12 secret symbols (~53 bits) beyond the selector: cheaper scrypt is enough.
_RECOVERY_COST = {"n": 2**12, "r": 8, "p": 1}
_DIGITS, _STEP = 6, 30
_SEAL_DOMAIN = b"market40 totp secret\x00"
_TAG_DOMAIN = b"market40 totp tag\x00"


def parse_roles(text: str | Iterable[str] | None) -> tuple[str, ...]:
    """The roles named in a setting (``"staff,officer,admin"``); an unknown name is an error."""
    if text is None:
        return DEFAULT_ROLES
    names = [n.strip().lower() for n in (text.split(",") if isinstance(text, str) else text)]
    names = [n for n in names if n]
    unknown = [n for n in names if n not in ROLES]
    if unknown:
        raise InvalidFormat(f"2FA roles: unknown role(s) {', '.join(unknown)}; roles are {', '.join(ROLES)}",
                            field="MARKET40_2FA_ROLES", value=",".join(unknown), limit=", ".join(ROLES))
    return tuple(dict.fromkeys(names))


def is_enrolled(user: User) -> bool:
    return user.totp_enabled_at is not None and bool(user.totp_secret)


def is_required(user: User, roles: Iterable[str]) -> bool:
    return user.role in tuple(roles)


def _audit(session: Session, actor: str, action: str, user: User, note: str) -> None:
    auditlog.record(session, actor, action, "user", user.id, note=note)


def _from(address: str | None) -> str:
    return f" from {address}" if address else ""


# ------------------------------------------------------------------ the secret

def new_secret() -> str:
    """A new random TOTP secret (160 bits, base32)."""
    return pyotp.random_base32(32)


def _keystream(key: bytes | str, nonce: bytes) -> tuple[bytes, bytes]:
    secret = key.encode("utf-8") if isinstance(key, str) else bytes(key)
    if len(secret) < passwords.MIN_KEY_BYTES:
        raise InvalidFormat("the deployment key is too short", field="key", value="(hidden)",
                            limit=f"at least {passwords.MIN_KEY_BYTES} bytes")
    return (hmac.new(secret, _SEAL_DOMAIN + nonce, hashlib.sha256).digest(),
            hmac.new(secret, _TAG_DOMAIN + nonce, hashlib.sha256).digest())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def seal_secret(secret: str, *, key: bytes | str) -> str:
    """``secret`` (base32) sealed for storage under ``key``: ``v1$nonce$ciphertext$tag``."""
    raw = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    if len(raw) > 32:
        raise InvalidFormat("TOTP secret too long", field="secret", value="(hidden)", limit="≤ 32 bytes")
    nonce = secrets.token_bytes(16)
    stream, tag_key = _keystream(key, nonce)
    sealed = bytes(a ^ b for a, b in zip(raw, stream))
    tag = hmac.new(tag_key, sealed, hashlib.sha256).digest()[:16]
    return "$".join(["v1", _b64(nonce), _b64(sealed), _b64(tag)])


def open_secret(sealed: str, *, key: bytes | str) -> str:
    """The base32 secret inside ``sealed``; :class:`Conflict` if it was sealed under another key."""
    try:
        version, nonce, body, tag = sealed.split("$")
        nonce_b, body_b, tag_b = _unb64(nonce), _unb64(body), _unb64(tag)
    except (ValueError, AttributeError):
        raise Conflict("the stored second-factor secret is damaged; an administrator must reset it") from None
    stream, tag_key = _keystream(key, nonce_b)
    if version != "v1" or not hmac.compare_digest(hmac.new(tag_key, body_b, hashlib.sha256).digest()[:16], tag_b):
        raise Conflict("the second-factor secret was sealed under another deployment key; "
                       "an administrator must reset it (market40 user reset-2fa)")
    return base64.b32encode(bytes(a ^ b for a, b in zip(body_b, stream))).decode("ascii").rstrip("=")


def provisioning_uri(secret: str, username: str, *, issuer: str = ISSUER) -> str:
    """The ``otpauth://totp/...`` URI an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret, digits=_DIGITS, interval=_STEP).provisioning_uri(name=username, issuer_name=issuer)


def totp_now(secret: str, now: float | None = None) -> str:
    """The current code for ``secret`` (for tests and the demo)."""
    return pyotp.TOTP(secret, digits=_DIGITS, interval=_STEP).at(int(time.time() if now is None else now))


def _match_step(secret: str, code: str, now: float, after: int | None) -> int | None:
    """The time step (now, or one either side) whose code is ``code`` and that is later than ``after``."""
    totp = pyotp.TOTP(secret, digits=_DIGITS, interval=_STEP)
    current = int(now) // _STEP
    found = None
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.generate_otp(step), code) and (after is None or step > after):
            found = step
    return found


def _digits(code: str) -> str | None:
    compact = "".join((code or "").split()).replace("-", "")
    return compact if len(compact) == _DIGITS and compact.isascii() and compact.isdigit() else None


# ------------------------------------------------------------------ recovery codes

def _new_recovery_codes(session: Session, user: User) -> list[str]:
    for row in session.exec(select(RecoveryCode).where(RecoveryCode.user_id == user.id)).all():
        session.delete(row)
    codes: list[str] = []
    selectors: set[str] = set()
    while len(codes) < RECOVERY_CODES:
        code = "".join(secrets.choice(passwords.ENROLLMENT_ALPHABET) for _ in range(RECOVERY_SYMBOLS))
        if code[:_SELECTOR] in selectors:
            continue
        selectors.add(code[:_SELECTOR])
        session.add(RecoveryCode(user_id=user.id, selector=code[:_SELECTOR],
                                 code_hash=passwords.hash_password(code, **_RECOVERY_COST)))
        codes.append("-".join(code[i:i + 4] for i in range(0, RECOVERY_SYMBOLS, 4)))
    return codes


def recovery_codes_left(session: Session, user: User) -> int:
    return len(session.exec(select(RecoveryCode.id).where(RecoveryCode.user_id == user.id,
                                                          RecoveryCode.used_at.is_(None))).all())  # type: ignore


def _use_recovery_code(session: Session, user: User, code: str) -> bool:
    folded = passwords.fold_code(code)
    rows = []
    if len(folded) == RECOVERY_SYMBOLS and all(c in passwords.ENROLLMENT_ALPHABET for c in folded):
        rows = session.exec(select(RecoveryCode).where(RecoveryCode.user_id == user.id,
                                                       RecoveryCode.selector == folded[:_SELECTOR],
                                                       RecoveryCode.used_at.is_(None))).all()  # type: ignore
    if not rows:  # the same work as a real check
        passwords.verify_password(folded or "-", passwords.hash_password("-", **_RECOVERY_COST))
        return False
    for row in rows:
        if passwords.verify_password(folded, row.code_hash):
            row.used_at = utcnow()
            session.add(row)
            return True
    return False


# ------------------------------------------------------------------ use cases

def _refused(message: str) -> ValidationError:
    return InvalidFormat(f"code: {message}", field="code", value=None,
                         limit="the 6-digit code from your authenticator app, or an unused recovery code")


def confirm_enrolment(session: Session, user: User, sealed: str, code: str, *, key: bytes | str,
                      now: float | None = None, address: str | None = None) -> list[str]:
    """Turn the second factor on once the user typed a code from the new secret; returns the
    recovery codes (shown once). Other sessions of the user end. The caller commits."""
    now = time.time() if now is None else now
    secret = open_secret(sealed, key=key)
    typed = _digits(code)
    step = _match_step(secret, typed, now, None) if typed else None
    if step is None:
        _audit(session, f"user:{user.id}", "2fa.failed", user, f"enrolment: wrong code{_from(address)}")
        raise _refused("not the code the app shows for this QR code")
    user.totp_secret, user.totp_enabled_at, user.totp_last_step = sealed, utcnow(), step
    user.session_epoch = (user.session_epoch or 0) + 1
    session.add(user)
    session.flush()
    codes = _new_recovery_codes(session, user)
    _audit(session, f"user:{user.id}", "2fa.enrol", user, f"TOTP enrolled, {len(codes)} recovery codes{_from(address)}")
    return codes


def verify(session: Session, user: User, code: str, *, key: bytes | str, now: float | None = None,
           address: str | None = None, purpose: str = "login") -> str:
    """Check a code at login (or before a change): ``"totp"`` or ``"recovery"`` when accepted.

    A TOTP code is accepted once; a recovery code is used up. Raises a ValidationError
    (field ``code``) otherwise. Audited either way; the caller commits.
    """
    if not is_enrolled(user):
        raise Conflict("this user has no second factor")
    now = time.time() if now is None else now
    typed = _digits(code)
    actor = f"user:{user.id}"
    if typed is not None:
        step = _match_step(open_secret(user.totp_secret or "", key=key), typed, now, user.totp_last_step)
        if step is not None:
            user.totp_last_step = step
            session.add(user)
            _audit(session, actor, "2fa.used", user, f"{purpose}: TOTP{_from(address)}")
            return "totp"
    elif _use_recovery_code(session, user, code):
        left = recovery_codes_left(session, user)
        _audit(session, actor, "2fa.recovery_used", user, f"{purpose}: recovery code, {left} left{_from(address)}")
        return "recovery"
    _audit(session, actor, "2fa.failed", user, f"{purpose}: wrong code{_from(address)}")
    raise _refused("wrong or already used")


def renew_recovery_codes(session: Session, user: User, code: str, *, key: bytes | str, now: float | None = None,
                         address: str | None = None) -> list[str]:
    """New recovery codes (the old ones stop working), after a current code."""
    verify(session, user, code, key=key, now=now, address=address, purpose="new recovery codes")
    codes = _new_recovery_codes(session, user)
    _audit(session, f"user:{user.id}", "2fa.recovery_renew", user, f"{len(codes)} new recovery codes{_from(address)}")
    return codes


def _clear(session: Session, user: User) -> None:
    user.totp_secret = user.totp_enabled_at = user.totp_last_step = None
    user.session_epoch = (user.session_epoch or 0) + 1
    session.add(user)
    for row in session.exec(select(RecoveryCode).where(RecoveryCode.user_id == user.id)).all():
        session.delete(row)


def disable(session: Session, user: User, code: str, *, roles: Iterable[str], key: bytes | str,
            now: float | None = None, address: str | None = None) -> None:
    """Turn an optional second factor off (after a current code); refused when the role requires it."""
    if is_required(user, roles):
        raise Forbidden("your role requires a second factor")
    verify(session, user, code, key=key, now=now, address=address, purpose="turn off")
    _clear(session, user)
    _audit(session, f"user:{user.id}", "2fa.disable", user, f"turned off by the user{_from(address)}")


def reset(session: Session, actor: Actor, username: str) -> User:
    """An administrator clears a user's second factor (lost phone): the user enrols again at the
    next login; their sessions end. The caller commits."""
    if actor.role not in ("operator", "admin"):
        raise Forbidden("only administrators reset a second factor")
    from .auth import find_user
    user = find_user(session, username)
    if user is None:
        raise NotFound(f"user {username!r} not found")
    had = is_enrolled(user)
    _clear(session, user)
    _audit(session, actor.name, "2fa.reset", user,
           f"reset by {actor.name}" + ("" if had else " (none was enrolled)"))
    return user

