"""Hardware loa: each stall's announcements published to an MQTT broker (the protocol payment sound boxes use).

**Topic**: ``market40/v1/loa/<MARKET>/<STALL>`` — the market code and the stall code as the
matcher compares them (letters and digits only: ``HL1/A-12`` → ``market40/v1/loa/HL1/A12``), so
no code can carry MQTT's ``+``, ``#`` or ``/``. One topic per stall: a broker ACL can give each
device its own topic and nothing else.

**Message** (UTF-8 JSON, QoS 1, *retained*: a device that (re)connects gets the last announcement
at once)::

    {"v": 1, "tx": "970436:FT26060123456", "id": 1234, "amount": 21000,
     "text": "Đã nhận hai mươi mốt nghìn đồng", "verdict": "paid", "requested": null,
     "shortfall": 0, "at": "2026-03-01T08:05:03"}

``tx`` is the bank + bank transaction id: QoS 1 may deliver a message twice, and a retained message
comes again on every reconnect, so a device speaks a message only when its ``tx`` differs from the
last one it spoke. ``verdict`` is ``paid`` (a payment), ``full``/``short``/``over`` (against an
amount the owner asked for; ``short`` never sounds like the full amount: the text says "THIẾU").
No account number, no content, nothing about the payer.

The broker is ``MARKET40_MQTT`` (``mqtt://[user:password@]host:1883``, ``mqtts://`` for TLS).
A message is published once per stored transfer by the process that stored it, after the commit.
"""
from __future__ import annotations

import json
import logging
import threading
from typing import Any
from urllib.parse import urlsplit

from .reconciliation import stall_key

__all__ = ["TOPIC_PREFIX", "topic_for", "message_for", "MqttAnnouncer"]

TOPIC_PREFIX = "market40/v1/loa"
log = logging.getLogger(__name__)


def topic_for(market_code: str, stall_code: str) -> str:
    """The topic of one stall.

    >>> topic_for("HL1", "A-12")
    'market40/v1/loa/HL1/A12'
    """
    return f"{TOPIC_PREFIX}/{stall_key(market_code)}/{stall_key(stall_code)}"


def message_for(event: dict[str, Any]) -> bytes:
    keep = ("tx", "id", "amount", "text", "verdict", "requested", "shortfall", "at")
    return json.dumps({"v": 1, **{k: event.get(k) for k in keep}}, ensure_ascii=False).encode()


class MqttAnnouncer:
    """Publishes announcements (call it with an event); resolves a stall's topic from the registry."""

    def __init__(self, url: str, engine: Any, *, client_id: str | None = None) -> None:
        import paho.mqtt.client as mqtt
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts"):
            raise ValueError(f"MARKET40_MQTT: mqtt://host:port or mqtts://…, got {parts.scheme!r}")
        self.engine = engine
        self._topics: dict[int, str] = {}
        self._lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id or "",
                                  protocol=mqtt.MQTTv311)
        if parts.username:
            self.client.username_pw_set(parts.username, parts.password)
        if parts.scheme == "mqtts":
            self.client.tls_set()
        self.client.reconnect_delay_set(1, 30)
        self.client.connect_async(parts.hostname or "127.0.0.1", parts.port or (8883 if parts.scheme == "mqtts" else 1883))
        self.client.loop_start()

    def topic(self, stall_id: int) -> str:
        with self._lock:
            found = self._topics.get(stall_id)
        if found is None:
            from sqlalchemy import text
            with self.engine.connect() as conn:
                market, stall = conn.execute(text(
                    "SELECT m.code, s.code FROM stall s JOIN market m ON m.id = s.market_id WHERE s.id = :id"),
                    {"id": stall_id}).one()
                conn.rollback()
            found = topic_for(market, stall)
            with self._lock:
                self._topics[stall_id] = found
        return found

    def __call__(self, event: dict[str, Any]) -> Any:
        info = self.client.publish(self.topic(int(event["stall"])), message_for(event), qos=1, retain=True)
        return info

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()
