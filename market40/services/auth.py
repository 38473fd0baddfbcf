"""Who may come in: logins, owner enrolment, sessions that can be ended, erasure requests.

The web app's sessions are signed cookies; what makes them revocable is the user's
``session_epoch`` (ASVS 5.0 7.4.1: a self-contained token needs a revocation scheme).
A session carries the epoch it was opened under and is honoured only while it still
equals the user's: logging out, changing the password, re-enrolling and disabling a
user all bump it, so every copy of an older cookie stops working at once.

Every attempt is audited (ASVS 16.3.1): ``auth.login``, ``auth.login_failed``,
``auth.logout``, ``enrollment.redeem``/``enrollment.failed``, ``consent.accept``,
``user.password_change``, ``user.disable``/``user.enable``, ``erasure.request``.
Phones in the trail are masked.

Every login attempt costs exactly one scrypt computation with the current parameters,
whether the user exists or not, is active or not, and whatever the password's length
(empty, 1,000 characters): timing tells nothing about accounts (ASVS 6.3.8).

>>> normalize_username(" +84 912 345 678 "), normalize_username(" Staff.HaLong ")
('0912345678', 'staff.halong')
>>> check_new_password("12345678")
Traceback (most recent call last):
...
market40.passwords.PasswordRefused: password: Mật khẩu này quá phổ biến, rất dễ bị đoán. Hãy chọn mật khẩu khác. (too common, choose another)

No Flask: the web layer passes addresses and texts in.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, literal_column, or_
from sqlmodel import Session, select

from . import auditlog
from .. import accounts, breached, db, passwords
from ..exceptions import Conflict, Forbidden, InvalidComponent, InvalidFormat, NotFound, \
    ValidationError
from ..models import CURRENT_ACCOUNT_STATUSES, EnrollmentCode, Market, PaymentAccount, Stall, User, \
    utcnow
from .registry import Actor, Registry, _natural

__all__ = [
    "configure_breach_check",
    "configure_breach_check_from_env",
    "MIN_PASSWORD_LENGTH",
    "MAX_PASSWORD_LENGTH",
    "ERASURE_DAYS",
    "CodeRefused",
    "ErasureRequest",
    "normalize_username",
    "find_user",
    "enrolment_identity",
    "check_new_password",
    "authenticate",
    "record_login",
    "session_user",
    "bump_epoch",
    "record_logout",
    "change_password",
    "enroll_owner",
    "request_erasure",
    "set_active",
    "OwnerView",
    "owner_view",
    "owner_stall",
    "owner_stall_ref",
    "enrolment_markets",
    "enrolment_stalls",
    "find_stall",
    "consent_version",
]

#: Turn the breached-password check on (a URL) or off (None) for this process; from the
#: environment (``MARKET40_BREACHED_PASSWORDS_URL``) for the CLI and the web app.
configure_breach_check = breached.configure
configure_breach_check_from_env = breached.configure_from_env

#: The new-password rule lives in :mod:`market40.passwords` (one rule for every door).
MIN_PASSWORD_LENGTH = passwords.MIN_NEW_PASSWORD
MAX_PASSWORD_LENGTH = passwords.MAX_NEW_PASSWORD
#: Erasure requests are answered within 15 days (Decree 356/2025 Art. 5(2), field-notes §3.1).
ERASURE_DAYS = 15


class CodeRefused(InvalidComponent):
    """The enrollment code cannot be used; ``reason`` says why, for the owner.

    ``wrong`` (no such code for this stall), ``expired``, ``used`` (already redeemed) or
    ``replaced`` (a newer code was issued for the stall).
    """

    message = "enrollment code refused"

    def __init__(self, message: str | None = None, *, reason: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.reason = reason


@dataclass
class ErasureRequest:
    """An owner's request to erase their data, and what staff must do about it."""

    stall: str
    requested_at: datetime
    due_by: datetime
    steps: list[str] = field(default_factory=list)


# ------------------------------------------------------------------ helpers

def _audit(session: Session, actor: str, action: str, entity: str, entity_id: Any, *,
           after: dict | None = None, note: str | None = None) -> None:
    auditlog.record(session, actor, action, entity, entity_id, after=after, note=note)


def record_denied(session: Session, user: User, *, route: str, detail: str) -> None:
    """Audit a request refused because of the user's role (ASVS 16.3.2: log failed authorisation)."""
    _audit(session, f"user:{user.id}", "access.denied", "route", route[:64], note=detail[:500])


def _masked_phone(phone: str | None) -> str:
    return "•••" + phone[-3:] if phone else ""


def _shown_username(username: str) -> str:
    """A username for the audit trail: phones masked, control characters dropped, short."""
    text = "".join(c for c in (username or "") if c.isprintable())[:64]
    try:
        return _masked_phone(accounts.clean_phone(text))
    except ValidationError:
        return text


def _from(address: str | None) -> str:
    return f" from {address}" if address else ""


def normalize_username(text: str) -> str:
    """The account a typed login name names: :func:`market40.accounts.clean_username`.

    Text that cannot be a username (spaces inside, too long...) comes back stripped and
    lower-case: no account has it, and the rate limits still count it on its own.
    """
    try:
        return accounts.clean_username(text)
    except ValidationError:
        return (text if isinstance(text, str) else "").strip().lower()


def check_new_password(password: str, *, field: str = "password", username: str | None = None,
                       phone: str | None = None) -> None:
    """:func:`market40.passwords.check_new_password`, with the deployment's breach check if on."""
    passwords.check_new_password(password, field=field, username=username, phone=phone,
                                 breached=breached.current())


def enrolment_identity(market_code: str, stall_code: str, phone: str) -> tuple[str, str]:
    """(``MARKET/STALL``, phone) as :func:`enroll_owner` reads them, for counting attempts per stall and
    per phone: the same cleaners, so no spelling of the same stall or phone counts apart."""
    def clean(rule: Any, text: Any, field: str) -> str:
        try:
            return rule(text, field=field)
        except ValidationError:
            return "?" + (text if isinstance(text, str) else "").strip().upper()
    def stall_key(text: Any) -> str:  # a48, A 48 and A-48 are one stall: one key, one count
        cleaned = clean(accounts.clean_stall_code, text, "stall")
        return cleaned if cleaned.startswith("?") else (accounts.stall_key(cleaned) or cleaned)
    return (f"{clean(accounts.clean_market_code, market_code, 'market')}/{stall_key(stall_code)}",
            clean(accounts.clean_phone, phone, "phone"))


def find_user(session: Session, username: str) -> User | None:
    """The user a typed username names (any spelling :func:`normalize_username` accepts)."""
    try:
        name = accounts.clean_username(username)
    except ValidationError:
        return None
    return session.exec(select(User).where(User.username == name)).first()


# ------------------------------------------------------------------ logins and sessions

def authenticate(session: Session, username: str, password: str, *, address: str | None = None,
                 second_step: bool = False) -> User | None:
    """The active user with this username and password, or None; audited either way.

    The caller commits. A hash made with older scrypt parameters is replaced. With
    ``second_step`` the login is not recorded yet: the caller asks for the second factor
    when the user has one, then calls :func:`record_login`.
    """
    user = find_user(session, username)
    stored = user.password_hash if user is not None else None
    try:
        ok = passwords.verify_password(password or "", stored)
    except ValidationError:  # a corrupt stored hash: refuse, after the same work
        passwords.verify_password(password or "", None)
        ok = False
    if not ok or user is None or not user.is_active:
        reason = "unknown user" if user is None else ("disabled" if not user.is_active and ok else "bad password")
        _audit(session, f"web:{address or 'unknown'}", "auth.login_failed", "user",
               None if user is None else user.id, note=f"{_shown_username(username)}: {reason}{_from(address)}")
        return None
    if passwords.needs_rehash(stored):
        user.password_hash = passwords.hash_password(password)
        session.add(user)
    if not second_step:
        record_login(session, user, address=address)
    return user


def record_login(session: Session, user: User, *, address: str | None = None, method: str | None = None) -> None:
    """A completed login (after the second factor, if any): audited, ``last_login_at`` set."""
    user.last_login_at = utcnow()
    session.add(user)
    how = f" with {'a recovery code' if method == 'recovery' else 'TOTP'}" if method else ""
    _audit(session, f"user:{user.id}", "auth.login", "user", user.id, note=f"login{how}{_from(address)}")


def session_user(session: Session, user_id: Any, epoch: Any) -> User | None:
    """The user a session cookie names, if that session is still valid (active user, same epoch)."""
    if not isinstance(user_id, int) or not isinstance(epoch, int):
        return None
    user = session.get(User, user_id)
    if user is None or not user.is_active or user.session_epoch != epoch:
        return None
    return user


def bump_epoch(session: Session, user: User, *, actor: str, reason: str) -> int:
    """End every session of ``user`` (each cookie carries the old epoch). Returns the new epoch."""
    user.session_epoch = (user.session_epoch or 0) + 1
    session.add(user)
    _audit(session, actor, "session.revoke_all", "user", user.id, note=reason)
    return user.session_epoch


def record_logout(session: Session, user: User, *, address: str | None = None) -> None:
    """Logout: the user's sessions end everywhere (a copied cookie no longer works)."""
    _audit(session, f"user:{user.id}", "auth.logout", "user", user.id, note=f"logout{_from(address)}")
    bump_epoch(session, user, actor=f"user:{user.id}", reason="logout")


def change_password(session: Session, user: User, current: str, new: str, *, address: str | None = None) -> int:
    """Change a password (the current one is checked); other sessions end. Returns the new epoch."""
    errors: list[ValidationError] = []
    if not passwords.verify_password(current or "", user.password_hash):
        errors.append(InvalidFormat("current_password: not your current password", field="current_password",
                                    value=None, limit="your current password"))
    try:
        check_new_password(new, field="new_password", username=user.username, phone=user.phone)
    except ValidationError as error:
        errors.append(error)
    if errors:
        _audit(session, f"user:{user.id}", "user.password_change_failed", "user", user.id,
               note=f"refused{_from(address)}")
        raise ValidationError.combine(errors)
    user.password_hash = passwords.hash_password(new)
    session.add(user)
    _audit(session, f"user:{user.id}", "user.password_change", "user", user.id, note=f"changed{_from(address)}")
    return bump_epoch(session, user, actor=f"user:{user.id}", reason="password changed")


def set_active(session: Session, actor: Actor, username: str, active: bool) -> User:
    """Disable (or enable again) a user; disabling ends their sessions at once (ASVS 7.4.2)."""
    if actor.role not in ("operator", "admin"):
        raise Forbidden("only administrators disable or enable users")
    user = find_user(session, username)
    if user is None:
        raise NotFound(f"user {username!r} not found")
    if user.id is not None and user.id == actor.user_id and not active:
        raise Conflict("you cannot disable yourself")
    if user.is_active == active:
        return user
    user.is_active = active
    session.add(user)
    _audit(session, actor.name, "user.enable" if active else "user.disable", "user", user.id,
           after={"username": user.username, "is_active": active})
    if not active:
        bump_epoch(session, user, actor=actor.name, reason="user disabled")
    return user


# ------------------------------------------------------------------ owners

def consent_version(text: str) -> str:
    """A short fingerprint of the consent text an owner accepted (which wording, in which language)."""
    return hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()[:16]


def enrolment_markets(session: Session) -> list[tuple[str, str]]:
    """(code, name) of every market, for the enrolment form's list (public: names are on the gate)."""
    return [(m.code, m.name) for m in session.exec(select(Market).order_by(Market.name)).all()]


def find_stall(session: Session, market_code: str, stall_code: str) -> tuple[Stall, Market] | None:
    """The stall a typed ``stall_code`` names in a market, in any spelling of its canonical key
    (``a48``, ``A 48`` and ``A-48`` all find ``A-48``), with its market; None if there is none."""
    market = session.exec(select(Market).where(Market.code == market_code)).first()
    if market is None or market.id is None:
        return None
    stall = Registry(session, Actor.operator("enrolment")).find_stall(market.id, stall_code)
    return None if stall is None else (stall, market)


def enrolment_stalls(session: Session, market_code: str) -> list[tuple[str, str]]:
    """(code, shop name) of a market's operating stalls, for the enrolment form's stall picker.

    Public like the market list: stall codes and shop names are painted on the stalls. No
    owner names or phones.
    """
    market = session.exec(select(Market).where(Market.code == (market_code or "").strip().upper())).first()
    if market is None:
        return []
    rows = session.exec(select(Stall.code, Stall.shop_name).where(Stall.market_id == market.id,
                                                                  Stall.status == "operating")).all()
    return sorted(((code, shop or "") for code, shop in rows), key=lambda r: _natural(r[0]))


@dataclass
class OwnerView:
    """An owner's stall, its market and its current (pending or verified) account, if any."""

    stall: Stall
    market: Market
    account: PaymentAccount | None
    #: A replacement waiting for review beside the verified ``account`` (not usable yet).
    replacement: PaymentAccount | None = None

    @property
    def ref(self) -> str:
        return f"{self.market.code}/{self.stall.code}"


# Built once: the owner's pages run it on every request (building a statement costs more than running it).
_OWNER_VIEW = (
    select(Stall, Market, PaymentAccount).join(Market, Market.id == Stall.market_id)
    .outerjoin(PaymentAccount, and_(PaymentAccount.stall_id == Stall.id,
                                    PaymentAccount.status.in_(CURRENT_ACCOUNT_STATUSES)))  # type: ignore
    .where(Stall.id == bindparam("stall_id")))


# What a request needs about its signed-in user, in one statement: the user and, for an owner,
# their stall, its market and its current account (the owner's pages need nothing else).
_SESSION_VIEW = (
    select(User, Stall, Market, PaymentAccount)
    .outerjoin(Stall, and_(Stall.id == User.stall_id, User.role == "owner"))  # type: ignore[arg-type]
    .outerjoin(Market, Market.id == Stall.market_id)  # type: ignore[arg-type]
    .outerjoin(PaymentAccount, and_(PaymentAccount.stall_id == Stall.id, or_(*(  # constants in the SQL: no
        PaymentAccount.status == literal_column(f"'{status}'")  # expanding IN to render on every request
        for status in CURRENT_ACCOUNT_STATUSES))))  # type: ignore
    .where(User.id == bindparam("user_id")))


def session_user_view(session: Session, user_id: Any, epoch: Any) -> tuple[User | None, OwnerView | None]:
    """:func:`session_user` and, for an owner, :func:`owner_view`, read with one query."""
    if not isinstance(user_id, int) or not isinstance(epoch, int) or isinstance(user_id, bool):
        return None, None
    rows = session.execute(_SESSION_VIEW, {"user_id": user_id}).all()  # two while a replacement waits
    if not rows:
        return None, None
    user, stall, market = rows[0][0], rows[0][1], rows[0][2]
    if not user.is_active or user.session_epoch != epoch:
        return None, None
    if stall is None or market is None:
        return user, None
    return user, _view(stall, market, [row[3] for row in rows])


def owner_view(session: Session, user: User) -> OwnerView | None:
    """What an owner's own pages show, in one query; None for a user without a stall.

    The stall comes from the user's own row, so there is nothing to check against a
    scope; the database keeps at most one verified and one pending account per stall.
    """
    if user.role != "owner" or user.stall_id is None:
        return None
    rows = session.execute(_OWNER_VIEW, {"stall_id": user.stall_id}).all()
    if not rows:
        return None
    return _view(rows[0][0], rows[0][1], [row[2] for row in rows])


def _view(stall: Stall, market: Market, accounts_: list[PaymentAccount | None]) -> OwnerView:
    """The verified account in use and a replacement waiting beside it, else the one pending account."""
    current = [a for a in accounts_ if a is not None]
    verified = [a for a in current if a.status == "verified"]
    pending = [a for a in current if a.status == "pending"]
    if verified:
        return OwnerView(stall, market, verified[0], pending[0] if pending else None)
    return OwnerView(stall, market, pending[0] if pending else None)


def owner_stall(session: Session, user: User) -> tuple[Stall, Market] | None:
    """An owner's own stall and its market (one query), or None. Nobody else's: it comes from their user row."""
    if user.role != "owner" or user.stall_id is None:
        return None
    row = session.exec(select(Stall, Market).join(Market, Market.id == Stall.market_id)
                       .where(Stall.id == user.stall_id)).first()
    return None if row is None else (row[0], row[1])


def owner_stall_ref(session: Session, user: User) -> str | None:
    """``MARKET/STALL`` of an owner's stall, or None."""
    found = owner_stall(session, user)
    return None if found is None else f"{found[1].code}/{found[0].code}"


def enroll_owner(session: Session, key: bytes | str, market_code: str, stall_code: str, code: str, phone: str,
                 password: str, consent_accepted: bool, *, consent_text: str, channel: str = "web",
                 language: str = "vi", address: str | None = None, now: datetime | None = None,
                 check_only: bool = False) -> User | None:
    """Let a stall owner in with the one-time code from their slip; returns their user (caller commits).

    Every problem with the typed fields is reported at once (fields ``market``, ``stall``,
    ``code``, ``phone``, ``password``, ``consent``). A code that exists but cannot be used
    raises :class:`CodeRefused` saying why. Re-enrolment with a new code (a forgotten
    password, a new phone) updates the stall's owner and ends their old sessions. The
    consent (its text, language, time and channel) goes to the audit trail.
    ``check_only``: the door found a problem of its own (the password typed twice differently);
    check the fields, so every problem is reported at once, and return None without using the code.
    """
    now = now or utcnow()
    errors: list[ValidationError] = []
    try:
        market_code = accounts.clean_market_code(market_code, field="market")
    except ValidationError as error:
        errors.append(error)
    try:
        stall_code = accounts.clean_stall_code(stall_code, field="stall")
    except ValidationError as error:
        errors.append(error)
    try:
        normalized_code = passwords.normalize_enrollment_code(code)
    except ValidationError:
        errors.append(InvalidFormat("code: 8 characters like 7KQM-X3HC, as printed on the slip", field="code",
                                    value=None, limit="XXXX-XXXX"))
    try:
        phone = accounts.clean_phone(phone, field="phone")
    except ValidationError as error:
        errors.append(error)
    try:
        check_new_password(password, phone=phone if isinstance(phone, str) else None)
    except ValidationError as error:
        errors.append(error)
    if consent_accepted is not True:
        errors.append(InvalidFormat("consent: read and accept how your data is used", field="consent",
                                    value=None, limit="accepted"))
    if errors:
        raise ValidationError.combine(errors)
    if check_only:
        return None

    db.begin_write(session)  # the code is checked, then used: nobody else may use it in between
    row = find_stall(session, market_code, stall_code)
    if row is not None:  # held until the end of the transaction (PostgreSQL; SQLite has one writer)
        session.exec(select(Stall.id).where(Stall.id == row[0].id).with_for_update()).first()
    if row is None:
        # Same work as a real check, so the answer time does not tell which stalls exist.
        passwords.hash_enrollment_code(normalized_code, key)
        _audit(session, f"web:{address or 'unknown'}", "enrollment.failed", "market", market_code,
               note=f"no stall {market_code}/{stall_code}{_from(address)}")
        raise CodeRefused("code: no such stall, or the code is not for it", reason="wrong", field="code",
                          value=None, limit="the code printed for this stall")
    stall, market = row
    ref = f"{market.code}/{stall.code}"
    digest = passwords.hash_enrollment_code(normalized_code, key)
    found = session.exec(select(EnrollmentCode).where(EnrollmentCode.code_hash == digest,
                                                      EnrollmentCode.stall_id == stall.id)).first()
    reason = None
    if found is None or (found.created_by or "").startswith("reset:"):  # a password-reset code is not a slip's
        reason = "wrong"
    elif found.used_at is not None:
        reason = "used"
    elif found.expires_at <= now:
        newer = session.exec(select(EnrollmentCode.id).where(EnrollmentCode.stall_id == stall.id,
                                                             EnrollmentCode.id > found.id)).first()
        reason = "replaced" if newer is not None else "expired"
    if reason is not None:
        _audit(session, f"web:{address or 'unknown'}", "enrollment.failed", "stall", stall.id,
               note=f"{ref}: code {reason}{_from(address)}")
        messages = {"wrong": "code: not the code printed for this stall",
                    "used": "code: already used; ask the bank staff for a new one",
                    "expired": "code: expired; ask the bank staff for a new one",
                    "replaced": "code: a newer code was issued for this stall; use that one"}
        raise CodeRefused(messages[reason], reason=reason, field="code", value=None,
                          limit="an unused, unexpired code for this stall")

    owner = session.exec(select(User).where(User.stall_id == stall.id, User.role == "owner")
                         .order_by(User.id)).first()
    holder = session.exec(select(User).where(User.username == phone)).first()
    if holder is not None and (owner is None or holder.id != owner.id):
        raise Conflict(f"phone {_masked_phone(phone)}: already used by another login; ask the bank staff")
    found.used_at = now
    session.add(found)
    if owner is None:
        owner = User(username=phone, display_name=stall.owner_name, role="owner", phone=phone, stall_id=stall.id,
                     password_hash=passwords.hash_password(password))
        session.add(owner)
        session.flush()
        action = "enrollment.redeem"
    else:
        owner.username, owner.phone, owner.is_active = phone, phone, True
        owner.password_hash = passwords.hash_password(password)
        session.add(owner)
        session.flush()
        bump_epoch(session, owner, actor=f"user:{owner.id}", reason="re-enrolled with a new code")
        action = "enrollment.reenrol"
    actor = f"user:{owner.id}"
    _audit(session, actor, action, "stall", stall.id,
           after={"user": owner.id, "phone": _masked_phone(phone)}, note=f"{ref}{_from(address)}")
    _audit(session, actor, "consent.accept", "user", owner.id,
           after={"stall": ref, "channel": channel, "language": language, "at": now.isoformat(),
                  "version": consent_version(consent_text)}, note=consent_text)
    return owner


def request_erasure(session: Session, user: User, *, address: str | None = None, note: str | None = None,
                    now: datetime | None = None) -> ErasureRequest:
    """Record an owner's request to erase their data (Law 91/2025 Art. 16) for staff to carry out.

    Nothing is deleted here: staff revoke the account and clear the personal fields
    through the registry, where each step is audited and the market's figures stay whole.
    """
    if user.role != "owner" or user.stall_id is None:
        raise Forbidden("only a stall owner can ask to erase their stall's data")
    now = now or utcnow()
    ref = owner_stall_ref(session, user) or f"stall {user.stall_id}"
    due = now + timedelta(days=ERASURE_DAYS)
    steps = [
        "revoke the stall's payment account (reason: owner asked for erasure)",
        "clear the owner's phone and replace the owner name with the stall code in the stall record",
        "disable the owner's login",
        f"tell the owner it is done, by {due.date().isoformat()}",
    ]
    _audit(session, f"user:{user.id}", "erasure.request", "stall", user.stall_id,
           after={"stall": ref, "due_by": due.isoformat(), "steps": steps},
           note=(note or "").strip()[:500] or None)
    return ErasureRequest(ref, now, due, steps)
