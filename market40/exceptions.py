"""The market40 exception family.

::

    Market40Error
    ├── ValidationError (also ValueError)      bad input: carries field, value, limit
    │   ├── InvalidFormat                      wrong characters / structure
    │   │   └── NotVietQR                      EMV, but not a VietQR transfer (carries kind)
    │   ├── InvalidLength                      too short / too long / out of range
    │   ├── InvalidChecksum                    CRC mismatch (carries the parsed payload)
    │   └── InvalidComponent                   unknown BIN, tag, tier, ...
    ├── NotFound (also LookupError)            a record or bank that does not exist
    ├── Forbidden (also PermissionError)       outside what this user may see or do
    └── Conflict                               a state change that is not allowed now

A ``ValidationError`` may bundle several problems (``errors``): builders and
importers check every field and report all of them at once.

Standard library only.
"""
from __future__ import annotations

from typing import Any, Iterable, Sequence

__all__ = [
    "Market40Error",
    "ValidationError",
    "InvalidFormat",
    "InvalidLength",
    "InvalidChecksum",
    "InvalidComponent",
    "NotVietQR",
    "NotFound",
    "Forbidden",
    "Conflict",
]


class Market40Error(Exception):
    """Root of every error market40 raises on purpose."""

    message = "market40 error"

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.message
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


class ValidationError(Market40Error, ValueError):
    """Input that breaks a rule.

    ``field`` names the input (``"amount"``, ``"38.01.00 bin"``, ``"row 7 / Số tài khoản"``),
    ``value`` is what was received and ``limit`` states the rule that was broken.
    ``errors`` lists the individual problems when several were found at once
    (it holds just ``self`` for a single problem).
    """

    message = "invalid value"

    def __init__(
        self,
        message: str | None = None,
        *,
        field: str | None = None,
        value: Any = None,
        limit: str | None = None,
        errors: Sequence["ValidationError"] | None = None,
    ) -> None:
        super().__init__(message)
        self.field = field
        self.value = value
        self.limit = limit
        self.errors: list[ValidationError] = list(errors) if errors else [self]

    @classmethod
    def combine(cls, errors: Iterable["ValidationError"]) -> "ValidationError":
        """One error standing for all of ``errors`` (the error itself when there is one)."""
        flat: list[ValidationError] = []
        for error in errors:
            flat.extend(error.errors)
        if not flat:
            raise ValueError("combine() needs at least one error")
        if len(flat) == 1:
            return flat[0]
        text = f"{len(flat)} problems: " + "; ".join(e.message for e in flat)
        return ValidationError(text, errors=flat)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form, one entry per problem."""
        return {
            "error": self.message,
            "problems": [
                {"field": e.field, "value": _jsonable(e.value), "limit": e.limit, "message": e.message}
                for e in self.errors
            ],
        }


class InvalidFormat(ValidationError):
    """The value has the wrong characters or structure."""

    message = "invalid format"


class InvalidLength(ValidationError):
    """The value is too short, too long, or out of range."""

    message = "invalid length"


class InvalidChecksum(ValidationError):
    """A payload's CRC does not match its content.

    ``expected`` and ``found`` are the two CRCs; ``parsed`` holds what could be
    read from the payload (its ``crc_ok`` is False) so callers can still show it.
    """

    message = "checksum mismatch"

    def __init__(self, message: str | None = None, *, expected: str = "", found: str = "",
                 parsed: Any = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.expected = expected
        self.found = found
        self.parsed = parsed


class InvalidComponent(ValidationError):
    """A well-formed value that names something unknown (BIN, tag, tier...)."""

    message = "unknown component"

    def __init__(self, message: str | None = None, *, suggestions: Sequence[str] = (), **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.suggestions = list(suggestions)


class NotVietQR(InvalidFormat):
    """A valid-looking EMV payload that is not a VietQR transfer.

    ``kind`` says what it is instead (``"VNPAY-QR"``, ``"ShopeePay"``...); ``parsed``
    holds the fields that could be read (a :class:`market40.vietqr.OtherQR`: acquirer BIN,
    merchant id, MCC, name, city, amount...) or None.
    """

    message = "not a VietQR transfer payload"

    def __init__(self, message: str | None = None, *, kind: str = "unknown", parsed: Any = None,
                 **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.kind = kind
        self.parsed = parsed


class NotFound(Market40Error, LookupError):
    """A record, bank or file that does not exist."""

    message = "not found"


class Forbidden(Market40Error, PermissionError):
    """The user's role or scope (their markets, localities or stall) does not cover this."""

    message = "not allowed"


class Conflict(Market40Error):
    """A change that the current state does not allow (duplicate, wrong status...)."""

    message = "conflict"


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)
