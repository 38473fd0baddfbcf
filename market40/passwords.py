"""Password hashing and one-time enrollment codes. Standard library only.

**Passwords** (staff, officers, admins) are hashed with scrypt (RFC 7914,
:func:`hashlib.scrypt`) and stored as one self-describing string::

    scrypt$32768$8$3$<salt, base64>$<hash, base64>

The parameters are N = 2**15, r = 8, p = 3: one of the settings the OWASP
Password Storage Cheat Sheet lists as equivalent to its scrypt floor
(N = 2**17, r = 8, p = 1), and the one that needs the least memory, 32 MiB
per hash instead of 128 MiB, which matters on a small server where several
people log in at once (about 0.3 s of CPU each). ASVS 5.0 11.4.2 asks for such
a computationally intensive KDF. Passwords are NFKC-normalised first (NIST
SP 800-63B), so the same Vietnamese password typed on two keyboards matches.
:func:`needs_rehash` says when a stored hash uses other parameters, so the
login can re-hash it with the current ones.

**Enrollment codes** let a stall owner claim their stall once. They are
8 characters in two groups, ``XXXX-XXXX``, from 21 symbols (about 35 bits)
chosen for people typing on a phone with a Vietnamese keyboard:

* no vowels (A E I O U Y), no D and no W: Telex and VNI input methods turn
  ``aa``, ``dd``, ``w``, ``a1``... into â, đ, ư, á; without a vowel (or D, W)
  nothing is transformed. It also means no code spells a word;
* no 0/O, 1/I/L, 2/Z, 5/S, 6/G, 8/B look-alikes (the letters are read as the
  digits if typed anyway); case, spaces and dashes are ignored.

Only a keyed hash of a code is stored: HMAC-SHA-256 under a server secret.
The hash must be deterministic, because the owner types only the code and
the registry finds it by its hash; a plain SHA-256 of 35 bits would be
reversed in seconds by anyone holding a copy of the database, whereas with a
key kept outside the database (the deployment's secret) a stolen table is
useless. scrypt would add nothing here that the key, the short expiry and
rate limiting do not already give.

>>> encoded = hash_password("mật khẩu chợ 4.0", n=2**10)
>>> encoded.split("$")[:4]
['scrypt', '1024', '8', '3']
>>> verify_password("mật khẩu chợ 4.0", encoded), verify_password("mat khau cho 4.0", encoded)
(True, False)
>>> needs_rehash(encoded)
True
>>> normalize_enrollment_code(" 7kqm-x3hc ")
'7KQMX3HC'
>>> format_enrollment_code("7KQMX3HC")
'7KQM-X3HC'
>>> len(hash_enrollment_code("7KQM-X3HC", key="a deployment secret, 16+ bytes"))
64

**New passwords** (one rule for the CLI, the web forms and enrolment):
:func:`check_new_password` refuses passwords shorter than 8 or longer than 128
characters, the ~20,000 most common ones (``data/common-passwords.txt.gz``,
Django's list: OWASP ASVS 5.0 6.2.4), the user's own phone or username, and,
when a deployment turns it on, passwords known from breaches (6.2.12, see
:mod:`market40.breached`). No composition rules (6.2.5).

>>> check_new_password("admin1234")
Traceback (most recent call last):
...
market40.passwords.PasswordRefused: password: Mật khẩu này quá phổ biến, rất dễ bị đoán. Hãy chọn mật khẩu khác. (too common, choose another)
>>> check_new_password("Chợ Hạ Long 2026")
"""
from __future__ import annotations

import base64
import binascii
import functools
import gzip
import hashlib
import hmac
import secrets
import unicodedata
from pathlib import Path
from typing import Any, Callable, Optional

from market40.exceptions import InvalidFormat, InvalidLength

__all__ = [
    "SCRYPT_N",
    "SCRYPT_R",
    "SCRYPT_P",
    "MAX_PASSWORD_LENGTH",
    "ENROLLMENT_ALPHABET",
    "ENROLLMENT_CODE_LENGTH",
    "hash_password",
    "verify_password",
    "needs_rehash",
    "new_enrollment_code",
    "fold_code",
    "normalize_enrollment_code",
    "format_enrollment_code",
    "hash_enrollment_code",
    "verify_enrollment_code",
    "MIN_NEW_PASSWORD",
    "MAX_NEW_PASSWORD",
    "PASSWORD_RULES",
    "PasswordRefused",
    "check_new_password",
    "common_passwords",
]

SCHEME = "scrypt"
SCRYPT_N = 2**15  # CPU/memory cost: 128 * r * N bytes = 32 MiB
SCRYPT_R = 8  # block size (1 KiB)
SCRYPT_P = 3  # parallelisation (run sequentially by OpenSSL: time, not memory)
SALT_BYTES = 16
HASH_BYTES = 32
#: Longer input is refused: it costs nothing more to hash, but has no use.
MAX_PASSWORD_LENGTH = 1024
# Refuse stored hashes that would make verification a denial of service.
_MAX_MEMORY = 256 * 2**20
_MAX_P = 16

ENROLLMENT_ALPHABET = "23456789CFHJKMNPQRTVX"
ENROLLMENT_CODE_LENGTH = 8
# Letters left out of the alphabet that are read as the digit they resemble.
_LOOK_ALIKES = str.maketrans({"S": "5", "Z": "2", "B": "8", "G": "6"})
_SEPARATORS = str.maketrans("", "", " -_.\u2010\u2011\u2012\u2013\u2014\u2212\t")
_ENROLLMENT_DOMAIN = b"market40 enrollment code\x00"
MIN_KEY_BYTES = 16


# --- passwords ----------------------------------------------------------------


def _cost(n: int | None, r: int | None, p: int | None) -> tuple[int, int, int]:
    # The module's parameters, read at call time: the test suite lowers them for speed (tests/conftest.py);
    # a deployment never changes them.
    return (SCRYPT_N if n is None else n, SCRYPT_R if r is None else r, SCRYPT_P if p is None else p)


def hash_password(password: str, *, n: int | None = None, r: int | None = None, p: int | None = None) -> str:
    """The storable scrypt hash of ``password``, with a new random salt.

    The cost is :data:`SCRYPT_N`, :data:`SCRYPT_R`, :data:`SCRYPT_P` unless given.

    Raises :class:`~market40.exceptions.InvalidLength` for an empty password
    or one longer than :data:`MAX_PASSWORD_LENGTH` characters. (Length and
    block-list rules for new passwords belong to the caller.)
    """
    if not password:
        raise InvalidLength("the password is empty", field="password", value="", limit="at least 1 character")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidLength(f"the password is longer than {MAX_PASSWORD_LENGTH} characters", field="password",
                            value=f"{len(password)} characters", limit=f"at most {MAX_PASSWORD_LENGTH}")
    n, r, p = _cost(n, r, p)
    _check_parameters(n, r, p, shown=f"n={n} r={r} p={p}")
    salt = secrets.token_bytes(SALT_BYTES)
    digest = _scrypt(password, salt, n, r, p, HASH_BYTES)
    return "$".join([SCHEME, str(n), str(r), str(p), _b64encode(salt), _b64encode(digest)])


def verify_password(password: str, encoded: str | None) -> bool:
    """Whether ``password`` matches the stored hash ``encoded`` (constant-time compare).

    ``encoded`` None (a user without a password, or no such user) gives False
    after the same amount of work, so timing does not tell which users exist.
    Raises :class:`~market40.exceptions.InvalidFormat` if ``encoded`` is not a
    hash made by :func:`hash_password`.
    """
    if encoded is None:
        _scrypt(password or "-", b"\x00" * SALT_BYTES, SCRYPT_N, SCRYPT_R, SCRYPT_P, HASH_BYTES)
        return False
    n, r, p, salt, expected = _parse(encoded)
    if not password or len(password) > MAX_PASSWORD_LENGTH:
        # The same work as a real check: an empty or over-long password must not answer faster.
        _scrypt("-", salt, n, r, p, len(expected))
        return False
    return hmac.compare_digest(_scrypt(password, salt, n, r, p, len(expected)), expected)


def needs_rehash(encoded: str | None, *, n: int | None = None, r: int | None = None, p: int | None = None) -> bool:
    """Whether ``encoded`` should be replaced by a hash with the current parameters.

    True when its parameters, salt or hash size differ from today's, or when
    it is not a market40 scrypt hash at all.
    """
    if not encoded:
        return True
    try:
        hn, hr, hp, salt, digest = _parse(encoded)
    except InvalidFormat:
        return True
    return (hn, hr, hp, len(salt), len(digest)) != (*_cost(n, r, p), SALT_BYTES, HASH_BYTES)


# --- new passwords ----------------------------------------------------------------

#: ASVS 5.0 6.2.1: at least 8 characters (a PIN of 8 digits is allowed; 15+ recommended).
MIN_NEW_PASSWORD = 8
#: ASVS 6.2.9: at least 64 characters must be allowed.
MAX_NEW_PASSWORD = 128
COMMON_PASSWORDS_FILE = Path(__file__).resolve().parent / "data" / "common-passwords.txt.gz"
# Vietnamese favourites that the shipped list lacks (it is built from mostly English-language breaches).
_LOCAL_COMMON = frozenset("""
matkhau matkhau1 matkhau123 matkhau@123 anhyeuem anhyeuem1 emyeuanh emyeuanh1 yeuem123 yeuanh123
iloveyou1 68686868 86868686 13579246 cho40cho40 vietnam1 vietnam123 hanoi123 saigon123 nguyen123
""".split())

#: Every refusal, Vietnamese first (the web forms show this same sentence), then English.
PASSWORD_RULES: dict[str, tuple[str, str]] = {
    "short": (f"Mật khẩu hoặc mã PIN cần ít nhất {MIN_NEW_PASSWORD} ký tự (có thể toàn chữ số).",
              f"at least {MIN_NEW_PASSWORD} characters"),
    "long": (f"Mật khẩu dài tối đa {MAX_NEW_PASSWORD} ký tự.", f"at most {MAX_NEW_PASSWORD} characters"),
    "common": ("Mật khẩu này quá phổ biến, rất dễ bị đoán. Hãy chọn mật khẩu khác.",
               "too common, choose another"),
    "personal": ("Mật khẩu không được là số điện thoại hay tên đăng nhập của bạn.",
                 "must not be your phone number or username"),
    "breached": ("Mật khẩu này đã bị lộ trong các vụ rò rỉ dữ liệu. Hãy chọn mật khẩu khác.",
                 "found in known data breaches, choose another"),
}


class PasswordRefused(InvalidFormat):
    """A new password that breaks the rules; ``reason`` is a key of :data:`PASSWORD_RULES`."""

    message = "password refused"

    def __init__(self, message: Optional[str] = None, *, reason: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.reason = reason


@functools.lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The shipped list of common passwords (lower-case), with the Vietnamese additions."""
    with gzip.open(COMMON_PASSWORDS_FILE, "rt", encoding="utf-8") as handle:
        listed = {line.strip() for line in handle if line.strip()}
    return frozenset(listed | _LOCAL_COMMON)


def check_new_password(password: str, *, field: str = "password", username: Optional[str] = None,
                       phone: Optional[str] = None, breached: Optional[Callable[[str], bool]] = None) -> None:
    """Refuse a new password that is too short or long, common, the user's own name or phone,
    or (``breached`` given: a deployment's range-API client) known from breaches.

    Raises :class:`PasswordRefused` naming ``field``; its ``reason`` says which rule.
    """
    def refuse(reason: str) -> None:
        vietnamese, english = PASSWORD_RULES[reason]
        limits = {"short": f"≥ {MIN_NEW_PASSWORD} characters", "long": f"≤ {MAX_NEW_PASSWORD} characters"}
        raise PasswordRefused(f"{field}: {vietnamese} ({english})", reason=reason, field=field, value=None,
                              limit=limits.get(reason, "not a common or breached password, not your phone or name"))

    if not isinstance(password, str) or len(password) < MIN_NEW_PASSWORD:
        refuse("short")
    if len(password) > MAX_NEW_PASSWORD:
        refuse("long")
    folded = unicodedata.normalize("NFKC", password).strip().lower()
    compact = "".join(folded.split())
    own = {x.strip().lower() for x in (username, phone) if x}
    phones = {x for x in own if x.isdigit() and len(x) >= 9}
    if own & {folded, compact} or any(x in compact for x in phones):
        refuse("personal")
    if folded in common_passwords() or compact in common_passwords() or len(set(folded)) == 1 or \
            folded in "01234567890123456789" or folded in "98765432109876543210":
        refuse("common")
    if breached is not None and breached(password):
        refuse("breached")


# --- enrollment codes -----------------------------------------------------------


def new_enrollment_code() -> str:
    """A new random code, grouped for reading aloud: ``'XXXX-XXXX'``."""
    code = "".join(secrets.choice(ENROLLMENT_ALPHABET) for _ in range(ENROLLMENT_CODE_LENGTH))
    return format_enrollment_code(code)


def fold_code(text: str) -> str:
    """A typed code as its symbols: NFKC, upper-case, separators dropped, look-alikes read as digits.

    >>> fold_code(" 7kqm-x3hc ")
    '7KQMX3HC'
    """
    return unicodedata.normalize("NFKC", text or "").upper().translate(_SEPARATORS).translate(_LOOK_ALIKES)


def normalize_enrollment_code(text: str) -> str:
    """The 8 symbols of a typed code, upper-case, without separators.

    Raises :class:`~market40.exceptions.InvalidFormat` if what remains is not
    8 symbols of :data:`ENROLLMENT_ALPHABET`.
    """
    code = fold_code(text)
    if len(code) != ENROLLMENT_CODE_LENGTH or any(c not in ENROLLMENT_ALPHABET for c in code):
        raise InvalidFormat(f"not an enrollment code: {text!r}", field="enrollment code", value=text,
                            limit=f"{ENROLLMENT_CODE_LENGTH} characters from {ENROLLMENT_ALPHABET}, "
                                  "like 7KQM-X3HC")
    return code


def format_enrollment_code(code: str) -> str:
    """``code`` normalised and shown in two groups of four: ``'7KQM-X3HC'``."""
    compact = normalize_enrollment_code(code)
    return f"{compact[:4]}-{compact[4:]}"


def hash_enrollment_code(code: str, key: bytes | str) -> str:
    """The hash to store for ``code``: HMAC-SHA-256 under ``key``, 64 hex digits.

    ``key`` is a deployment secret of at least 16 bytes, kept outside the
    database and the same for every process that creates or redeems codes.
    Raises :class:`~market40.exceptions.InvalidFormat` for a malformed code.
    """
    secret = _key_bytes(key)
    compact = normalize_enrollment_code(code)
    return hmac.new(secret, _ENROLLMENT_DOMAIN + compact.encode("ascii"), hashlib.sha256).hexdigest()


def verify_enrollment_code(code: str, code_hash: str, key: bytes | str) -> bool:
    """Whether the typed ``code`` is the one ``code_hash`` was made from (constant-time)."""
    try:
        candidate = hash_enrollment_code(code, key)
    except InvalidFormat:
        return False
    return hmac.compare_digest(candidate, code_hash or "")


# --- internals ------------------------------------------------------------------


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    secret = unicodedata.normalize("NFKC", password).encode("utf-8")
    memory = 128 * r * (n + p + 2)
    return hashlib.scrypt(secret, salt=salt, n=n, r=r, p=p, maxmem=memory + 2**20, dklen=dklen)


def _check_parameters(n: int, r: int, p: int, shown: str) -> None:
    ok = n > 1 and n & (n - 1) == 0 and r >= 1 and 1 <= p <= _MAX_P and 128 * r * n <= _MAX_MEMORY
    if not ok:
        raise InvalidFormat(f"unusable scrypt parameters {shown}", field="scrypt parameters", value=shown,
                            limit=f"N a power of 2, r >= 1, 1 <= p <= {_MAX_P}, "
                                  f"128*r*N <= {_MAX_MEMORY // 2**20} MiB")


def _parse(encoded: str) -> tuple[int, int, int, bytes, bytes]:
    parts = encoded.split("$") if isinstance(encoded, str) else []
    problem = InvalidFormat("not a market40 password hash", field="password hash", value="(hidden)",
                            limit="scrypt$N$r$p$salt$hash")
    if len(parts) != 6 or parts[0] != SCHEME or not all(x.isascii() and x.isdigit() for x in parts[1:4]):
        raise problem
    n, r, p = (int(x) for x in parts[1:4])
    _check_parameters(n, r, p, shown=f"n={n} r={r} p={p}")
    try:
        salt, digest = _b64decode(parts[4]), _b64decode(parts[5])
    except (binascii.Error, ValueError):
        raise problem from None
    if not salt or len(digest) < 16:
        raise problem
    return n, r, p, salt, digest


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _b64decode(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def _key_bytes(key: bytes | str) -> bytes:
    secret = key.encode("utf-8") if isinstance(key, str) else bytes(key)
    if len(secret) < MIN_KEY_BYTES:
        raise InvalidLength(f"the enrollment key is shorter than {MIN_KEY_BYTES} bytes", field="enrollment key",
                            value="(hidden)", limit=f"at least {MIN_KEY_BYTES} bytes of secret")
    return secret
