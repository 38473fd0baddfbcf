"""An optional check of new passwords against known breaches (OWASP ASVS 5.0 6.2.12).

Off unless a deployment turns it on with ``MARKET40_BREACHED_PASSWORDS_URL`` (for Have I Been
Pwned: ``https://api.pwnedpasswords.com``). It uses the *k-anonymity range* protocol: only the
first five hex digits of the password's SHA-1 leave the server (``GET <url>/range/ABCDE`` with
``Add-Padding: true``); the answer lists the suffixes of every breached hash with that prefix
(``SUFFIX:COUNT`` lines, padding rows have count 0), and the match is made here. The password,
and its full hash, are never sent.

If the service cannot be reached or answers nonsense, the password is *accepted* and a warning is
logged: a deployment without internet must still be able to set passwords (the shipped list of
common passwords applies in any case).

>>> client = RangeClient("http://127.0.0.1:9")
>>> client.prefix_and_suffix("password")
('5BAA6', '1E4C9B93F3F0682250B6CF8331B7EE68FD8')
"""
from __future__ import annotations

import hashlib
import logging
import os
import urllib.error
import urllib.request
from typing import Callable, Optional

__all__ = ["ENV", "RangeClient", "configure", "configure_from_env", "current"]

ENV = "MARKET40_BREACHED_PASSWORDS_URL"
log = logging.getLogger(__name__)
_current: Optional[Callable[[str], bool]] = None


class RangeClient:
    """Asks a range API (HIBP's protocol) whether a password appears in breaches."""

    def __init__(self, url: str, *, timeout: float = 3.0, user_agent: str = "market40") -> None:
        if not url.startswith(("https://", "http://")):
            raise ValueError(f"{ENV} must be an http(s) URL, got {url!r}")
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.user_agent = user_agent

    @staticmethod
    def prefix_and_suffix(password: str) -> tuple[str, str]:
        digest = hashlib.sha1(password.encode("utf-8")).hexdigest().upper()  # the protocol's hash, not storage
        return digest[:5], digest[5:]

    def __call__(self, password: str) -> bool:
        """True when the password is known from breaches; False when not, or when the service fails."""
        prefix, suffix = self.prefix_and_suffix(password)
        request = urllib.request.Request(f"{self.url}/range/{prefix}",
                                         headers={"Add-Padding": "true", "User-Agent": self.user_agent})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 (configured URL)
                body = response.read(4 * 2**20).decode("ascii", errors="replace")
        except (urllib.error.URLError, OSError, ValueError) as error:
            log.warning("breached-password check unavailable (%s): password accepted", error)
            return False
        for line in body.splitlines():
            found, _, count = line.strip().partition(":")
            if found.upper() == suffix:
                return count.strip() not in ("0", "")
        return False


def configure(url: Optional[str], *, timeout: float = 3.0) -> None:
    """Turn the check on for this process (``url``), or off (None)."""
    global _current
    _current = RangeClient(url, timeout=timeout) if url else None


def configure_from_env() -> None:
    """On when ``MARKET40_BREACHED_PASSWORDS_URL`` is set (the CLI and the web app call this)."""
    configure(os.environ.get(ENV, "").strip() or None)


def current() -> Optional[Callable[[str], bool]]:
    """The configured check, or None (the default)."""
    return _current
