"""Deployment settings read at the edges (CLI, web app factory), never inside pure code.

* ``MARKET40_DATABASE_URL``: the registry (see :func:`market40.db.database_url`);
* ``MARKET40_SECRET_KEY``: the server secret that keys enrollment-code hashes and signs web
  sessions. Without it, a random key is generated once into ``.market40-secret`` (mode 0600)
  in the working directory, so the CLI and a web app started in the same place agree.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

__all__ = ["secret_key", "SECRET_FILE", "public_url", "support_contact"]

SECRET_FILE = ".market40-secret"


def secret_key(directory: str | Path | None = None) -> bytes:
    """The deployment's secret (at least 32 bytes)."""
    env = os.environ.get("MARKET40_SECRET_KEY")
    if env:
        if len(env.encode()) < 16:
            raise ValueError("MARKET40_SECRET_KEY must be at least 16 bytes long")
        return env.encode()
    path = Path(directory or Path.cwd()) / SECRET_FILE
    if path.exists():
        return path.read_bytes().strip()
    key = secrets.token_hex(32).encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
    return key


def public_url() -> str | None:
    """``MARKET40_PUBLIC_URL``: where owners reach the web app (``https://cho40.example.vn``), printed on
    onboarding slips and in their QR code; None when not set (the slip then says to ask the bank staff)."""
    value = (os.environ.get("MARKET40_PUBLIC_URL") or "").strip().rstrip("/")
    return value or None


def support_contact() -> str | None:
    """``MARKET40_SUPPORT_CONTACT``: who owners call for help when their market has no board contact
    (``Ngân hàng X, chi nhánh Hạ Long — 0203 3825 xxx``)."""
    value = (os.environ.get("MARKET40_SUPPORT_CONTACT") or "").strip()
    return value or None
