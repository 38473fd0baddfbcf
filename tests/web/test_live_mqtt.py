"""Hardware loa over MQTT, against the real Mosquitto broker: a topic per stall, retained, QoS 1, once per transfer."""
from __future__ import annotations

import json
import os
import queue
import socket
import time
import uuid

import pytest

from market40 import loamqtt
from market40 import webhooks as wh
from web import create_app
from webhelpers import ACCOUNT_A, SECRET

BROKER = os.environ.get("MARKET40_TEST_MQTT", "mqtt://127.0.0.1:1883")
SOURCE = wh.Source("mqtt-feed", "market40", ("mqtt-secret-0123456789",))


def _broker_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 1883), timeout=1).close()
        return True
    except OSError:
        return False


@pytest.fixture
def subscriber():
    if not _broker_up():
        if os.environ.get("CI"):
            raise AssertionError("no MQTT broker at 127.0.0.1:1883")
        pytest.skip("no MQTT broker")
    import paho.mqtt.client as mqtt
    clients = []

    def make(topic: str) -> "queue.Queue":
        got: "queue.Queue" = queue.Queue()
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-{uuid.uuid4().hex[:8]}")
        client.on_message = lambda c, u, m: got.put((m.topic, m.payload, m.qos, m.retain))
        client.connect("127.0.0.1", 1883)
        client.subscribe(topic, qos=1)
        client.loop_start()
        clients.append(client)
        time.sleep(0.3)
        return got
    yield make
    for client in clients:
        client.loop_stop()
        client.disconnect()


def test_topic_is_safe_per_stall():
    assert loamqtt.topic_for("HL1", "A-12") == "market40/v1/loa/HL1/A12"
    assert "+" not in loamqtt.topic_for("HL+1", "A#12/x")


def test_announcement_published_retained_once_per_transfer(engine, world, subscriber):
    from webhelpers import build_world  # noqa: F401  (world fixture builds it)
    prefix = f"test{uuid.uuid4().hex[:6]}"
    app = create_app({"ENGINE": engine, "SECRET_KEY": SECRET, "TESTING": True, "RATELIMIT_STORAGE_URI": "memory://",
                      "LIVE_SOURCES": {SOURCE.name: SOURCE}, "LIVE_BUS": "poll", "LIVE_MQTT": BROKER})
    topic = loamqtt.topic_for("HL1", "A-12")
    live = subscriber(topic)
    client = app.test_client()
    tx_id = f"{prefix}-1"
    body = json.dumps({"bank_bin": "970436", "account": ACCOUNT_A, "tx_id": tx_id, "amount": 21_000,
                       "booked_at": "2026-03-01 08:05:03", "content": "HL1 A12"}).encode()
    for _ in range(3):  # the provider retries twice
        assert client.post(f"/hook/{SOURCE.name}", data=body, headers=wh.sign(SOURCE, body)).status_code == 200
    got_topic, payload, qos, retained = live.get(timeout=5)
    while retained:  # what an earlier run left retained on the topic
        got_topic, payload, qos, retained = live.get(timeout=5)
    message = json.loads(payload)
    assert got_topic == topic and qos == 1
    assert message["tx"] == f"970436:{tx_id}" and message["text"] == "Đã nhận hai mươi mốt nghìn đồng"
    assert message["verdict"] == "paid" and message["amount"] == 21_000
    assert ACCOUNT_A not in payload.decode() and "HL1 A12" not in payload.decode()
    with pytest.raises(queue.Empty):
        live.get(timeout=1)  # the retries announced nothing more
    # a device that connects later gets the last announcement at once (retained)
    late = subscriber(topic)
    _, again, _, retained = late.get(timeout=5)
    assert retained and json.loads(again)["tx"] == f"970436:{tx_id}"
    app.extensions["market40.live"].sinks[0].close()
