"""A forgotten password, without a trip to the bank where possible.

The owner types their phone; a one-time reset code goes to that phone through the
deployment's sender (:mod:`market40.notify`: SMS, Zalo...). With the code they choose a new
password; every older session ends. Where no sender exists, staff or the market board print
a new enrollment code on the onboarding slip (re-enrolment sets a new password too).

* The answer to a request never says whether the phone has an account (no enumeration).
* Codes are the enrollment codes' kind (8 characters, stored as a keyed hash, one use),
  valid :data:`RESET_MINUTES` minutes, marked ``reset:`` so they never work as an enrollment
  code and an enrollment code never works here. A new code withdraws older unused ones.
* Rate limits are the web door's (on the normalised phone and the address).
* Audited: ``password.reset_request``, ``password.reset``, ``password.reset_failed``.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, select

from .. import passwords
from ..exceptions import InvalidComponent, InvalidFormat, ValidationError
from ..models import EnrollmentCode, User, utcnow
from ..notify import Sender
from . import auth
from .notices import send_to_owner

__all__ = ["RESET_MINUTES", "RESET_MARK", "request_reset", "reset_password", "ResetRefused"]

RESET_MINUTES = 30
#: ``EnrollmentCode.created_by`` of a reset code.
RESET_MARK = "reset:"


class ResetRefused(InvalidComponent):
    """The reset code does not work (wrong, used, expired, or for another phone)."""

    message = "reset code refused"


def _owner(session: Session, phone: str) -> User | None:
    user = auth.find_user(session, phone)
    if user is None or user.role != "owner" or not user.is_active or user.stall_id is None or not user.phone:
        return None
    return user


def request_reset(session: Session, sender: Sender | None, phone: str, *, key: bytes | str,
                  address: str | None = None, now: datetime | None = None) -> bool:
    """Send a reset code to ``phone`` if it is an active owner's login; audited either way.

    Returns whether a code went out (the web page says the same thing in both cases).
    """
    now = now or utcnow()
    shown = auth._shown_username(phone)
    user = _owner(session, phone)
    if user is None:
        auth._audit(session, f"web:{address or 'unknown'}", "password.reset_request", "user", None,
                    note=f"{shown}: no owner login with this phone{auth._from(address)}")
        return False
    for old in session.exec(select(EnrollmentCode).where(
            EnrollmentCode.stall_id == user.stall_id, EnrollmentCode.used_at.is_(None),  # type: ignore
            EnrollmentCode.created_by.startswith(RESET_MARK),  # type: ignore[attr-defined]
            EnrollmentCode.expires_at > now)).all():
        old.expires_at = now
        session.add(old)
    code = passwords.new_enrollment_code()
    session.add(EnrollmentCode(stall_id=user.stall_id, code_hash=passwords.hash_enrollment_code(code, key),
                               expires_at=now + timedelta(minutes=RESET_MINUTES),
                               created_by=f"{RESET_MARK}user:{user.id}"))
    shown_code = passwords.format_enrollment_code(code)
    sent = send_to_owner(session, sender, user.stall_id, "reset_code",  # type: ignore[arg-type]
                         f"market40: mã đặt lại mật khẩu của bạn là {shown_code}, dùng trong {RESET_MINUTES} "
                         "phút. Không đưa mã này cho ai, kể cả cán bộ ngân hàng.",
                         actor=f"web:{address or 'unknown'}", data={"code": shown_code}, user=user)
    auth._audit(session, f"web:{address or 'unknown'}", "password.reset_request", "user", user.id,
                note=f"{shown}: code {'sent' if sent else 'not sent (no message provider)'}{auth._from(address)}")
    return sent


def reset_password(session: Session, phone: str, code: str, new_password: str, *, key: bytes | str,
                   address: str | None = None, now: datetime | None = None) -> User:
    """Set a new password with a reset code; every session of the user ends. All problems at once."""
    now = now or utcnow()
    errors: list[ValidationError] = []
    normalized = None
    try:
        normalized = passwords.normalize_enrollment_code(code)
    except ValidationError:
        errors.append(InvalidFormat("code: 8 characters like 7KQM-X3HC, as in the message", field="code",
                                    value=None, limit="XXXX-XXXX"))
    user = _owner(session, phone)
    try:
        auth.check_new_password(new_password, field="new_password", username=user.username if user else None,
                                phone=user.phone if user else None)
    except ValidationError as error:
        errors.append(error)
    if errors:
        raise ValidationError.combine(errors)
    digest = passwords.hash_enrollment_code(normalized, key)  # type: ignore[arg-type]
    found = None
    if user is not None:
        found = session.exec(select(EnrollmentCode).where(
            EnrollmentCode.code_hash == digest, EnrollmentCode.stall_id == user.stall_id,
            EnrollmentCode.created_by == f"{RESET_MARK}user:{user.id}")).first()
    if user is None or found is None or found.used_at is not None or found.expires_at <= now:
        auth._audit(session, f"web:{address or 'unknown'}", "password.reset_failed", "user",
                    None if user is None else user.id,
                    note=f"{auth._shown_username(phone)}: code refused{auth._from(address)}")
        raise ResetRefused("code: wrong, used or expired; ask for a new one", field="code", value=None,
                           limit="the latest code sent to this phone, within 30 minutes")
    found.used_at = now
    session.add(found)
    user.password_hash = passwords.hash_password(new_password)
    session.add(user)
    auth._audit(session, f"user:{user.id}", "password.reset", "user", user.id,
                note=f"new password with a reset code{auth._from(address)}")
    auth.bump_epoch(session, user, actor=f"user:{user.id}", reason="password reset")
    return user
