"""Messages to stall owners (one-time reset codes, status notices) through a pluggable sender.

A deployment chooses how messages leave with ``MARKET40_SENDER``:

* ``console`` (the default): written to standard error, for development and a demo;
* ``file:PATH``: one JSON line per message appended to ``PATH`` (what the tests read);
* ``none``: nothing is sent; the web app tells owners to ask the bank staff or the market
  board, who print a new code on paper (the onboarding slip) instead;
* ``module:Class`` (``mycompany.sms:EsmsSender``): a class of your own, built with no
  arguments (read your provider's key from the environment), with a ``send`` method as in
  :class:`Sender`. This is how an SMS gateway or Zalo ZNS is plugged in.

A sender raises :class:`SendFailed` when the provider refused; callers report that to the
user and audit it. Phones given to a sender are the registry's (``0912345678``).

>>> sender = from_spec("file:/tmp/x.jsonl"); type(sender).__name__, sender.path.name
('FileSender', 'x.jsonl')
>>> from_spec("console").name, from_spec("none").available
('console', False)
"""
from __future__ import annotations

import importlib
import json
import os
import sys
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Protocol, runtime_checkable

from .exceptions import InvalidFormat, Market40Error

__all__ = ["Message", "Sender", "SendFailed", "ConsoleSender", "FileSender", "NoSender", "from_spec", "ENV_VAR"]

ENV_VAR = "MARKET40_SENDER"


class SendFailed(Market40Error):
    """The provider did not take the message."""


@dataclass(frozen=True)
class Message:
    """One message to one phone. ``kind``: ``reset_code``, ``account_verified``, ``account_rejected``,
    ``erasure_done``... (a provider with templates, such as Zalo ZNS, picks its template by kind)."""

    phone: str
    text: str
    kind: str
    data: dict = field(default_factory=dict)


@runtime_checkable
class Sender(Protocol):
    """What a deployment's message provider implements."""

    #: Shown to owners as how the message comes (``SMS``, ``Zalo``...), and in the audit trail.
    name: str
    #: False when nothing is sent (the owner must ask the staff or the board in person).
    available: bool

    def send(self, message: Message) -> None:
        """Deliver ``message`` or raise :class:`SendFailed`."""
        ...


class ConsoleSender:
    """Development: messages printed to standard error."""

    name = "console"
    available = True

    def __init__(self, stream=None) -> None:  # type: ignore[no-untyped-def]
        self.stream = stream

    def send(self, message: Message) -> None:
        print(f"[market40 → {message.phone}] ({message.kind}) {message.text}", file=self.stream or sys.stderr)


class FileSender:
    """Development and tests: one JSON line per message, appended to a file."""

    name = "file"
    available = True

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def send(self, message: Message) -> None:
        record = {"at": datetime.now(timezone.utc).isoformat(), **asdict(message)}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")

    def messages(self) -> list[dict]:
        """What was sent so far (for tests and the demo)."""
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line.strip()]


class NoSender:
    """No provider: nothing leaves; staff or the board print codes on paper."""

    name = "none"
    available = False

    def send(self, message: Message) -> None:
        raise SendFailed("no message provider is configured (MARKET40_SENDER=none)")


def from_spec(spec: str | None) -> Sender:
    """The sender a ``MARKET40_SENDER`` value names (None or empty: ``console``)."""
    text = (spec or "console").strip()
    if text == "console":
        return ConsoleSender()
    if text == "none":
        return NoSender()
    if text.startswith("file:") and len(text) > 5:
        return FileSender(text[5:])
    if ":" in text:
        module, _, name = text.partition(":")
        try:
            cls = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError) as error:
            raise InvalidFormat(f"{ENV_VAR}: cannot load {text!r} ({error})", field=ENV_VAR, value=text,
                                limit="console, none, file:PATH or module:Class") from None
        sender = cls()
        if not callable(getattr(sender, "send", None)):
            raise InvalidFormat(f"{ENV_VAR}: {text} has no send(message) method", field=ENV_VAR, value=text,
                                limit="a class with send(message)")
        return sender  # type: ignore[no-any-return]
    raise InvalidFormat(f"{ENV_VAR}: console, none, file:PATH or module:Class, got {text!r}", field=ENV_VAR,
                        value=text, limit="console, none, file:PATH or module:Class")
