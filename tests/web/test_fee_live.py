"""Fee bills paid through the live feed (issues #10 + #11): a signed webhook to the board's account pays
the bill at once, and the owner's and the board's bill streams carry the new state."""
from __future__ import annotations

import json
from datetime import datetime

import pytest
from sqlmodel import Session, select

from market40 import webhooks as wh
from market40.models import FeeBill, FeePayment, LiveTransfer
from market40.reconciliation import VN_TZ
from market40.services import live as live_service
from market40.services.fees import Fees
from market40.services.registry import Actor
from test_board import billed  # noqa: F401  (the fixture: both markets billed for 2026-12)
from web import create_app
from webhelpers import SECRET, sign_in

SOURCE = wh.Source("qn-bank", "market40", ("generic-secret-0123456789",))
BOARD_HL = ("970436", "0011009876543")


@pytest.fixture
def app(engine, clock):
    live_service.forget_index()
    return create_app({"ENGINE": engine, "SECRET_KEY": SECRET, "TESTING": True, "CLOCK": clock,
                       "SECOND_FACTOR_ROLES": "", "RATELIMIT_STORAGE_URI": "memory://",
                       "LIVE_SOURCES": {SOURCE.name: SOURCE}, "LIVE_STREAM_SECONDS": 0.3,
                       "LIVE_HEARTBEAT_SECONDS": 0.1, "LIVE_BUS": "poll"})


def _send(client, tx_id: str, amount: int, content: str, account: tuple[str, str] = BOARD_HL):
    payload = json.dumps({"bank_bin": account[0], "account": account[1], "tx_id": tx_id, "amount": amount,
                          "booked_at": datetime.now(VN_TZ).strftime("%Y-%m-%d %H:%M:%S"),
                          "content": content}).encode()
    response = client.post(f"/hook/{SOURCE.name}", data=payload, headers=wh.sign(SOURCE, payload))
    assert response.status_code == 200, response.data


def _states(client, url: str) -> list[list[dict]]:
    response = client.get(url)
    assert response.status_code == 200 and response.mimetype == "text/event-stream"
    text = response.get_data(as_text=True)
    return [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: [")]


def _bill(engine, market: str = "HL1"):
    with Session(engine) as session:
        return Fees(session, Actor.operator("tests")).bills(market, "2026-12")[0]


def test_a_webhook_to_the_board_account_pays_the_bill_once_and_the_streams_say_so(client, billed, engine):
    bill = _bill(engine)
    sign_in(client, billed.user("owner_a"))
    before = _states(client, "/owner/bills/stream")
    assert before and before[0][0]["number"] == bill.number and before[0][0]["state"] == "unpaid"
    _send(client, "FT-FEE-1", 20_000, bill.reference)
    _send(client, "FT-FEE-1", 20_000, bill.reference)  # the provider's retry: stored once, applied once
    partly = _states(client, "/owner/bills/stream")[-1][0]
    assert (partly["state"], partly["paid"], partly["owed"]) == ("partly_paid", 20_000, bill.amount - 20_000)
    _send(client, "FT-FEE-2", bill.amount - 20_000, bill.reference.replace(" ", "").lower())
    paid = _states(client, "/owner/bills/stream")[-1][0]
    assert (paid["state"], paid["label"], paid["owed"], paid["payload"]) == ("paid", "Đã nộp", 0, False)
    assert paid["receipt"]  # a receipt once paid in full
    with Session(engine) as session:
        pays = session.exec(select(FeePayment).join(FeeBill, FeeBill.id == FeePayment.bill_id).where(
            FeeBill.number == bill.number)).all()
        assert sorted((p.amount, p.channel) for p in pays) == sorted(
            [(20_000, "webhook"), (bill.amount - 20_000, "webhook")])
        # the transfer stays the board's: no stall's loa announces it
        assert {t.stall_id for t in session.exec(select(LiveTransfer)).all()} == {None}
    # the board's list of the month says the same; another market's board, an owner: refused
    sign_in(client, billed.user("board_hl"))
    board = _states(client, "/board/HL1/stream?period=2026-12")[-1]
    assert {b["number"]: b["state"] for b in board}[bill.number] == "paid"
    assert client.get("/owner/bills/stream").status_code in (403, 404)
    sign_in(client, billed.user("owner_a"))
    assert client.get("/board/HL1/stream?period=2026-12").status_code in (403, 404)


def test_a_transfer_to_another_account_or_without_a_bill_pays_nothing(client, billed, engine):
    bill = _bill(engine)
    _send(client, "FT-X-1", bill.amount, bill.reference, account=("970415", "1023456789"))  # a stall's account
    _send(client, "FT-X-2", 123, "chuyen tien")  # the board's account, nothing fits: left for the board
    with Session(engine) as session:
        assert session.exec(select(FeePayment)).all() == []
    assert _bill(engine).state == "unpaid"
    sign_in(client, billed.user("board_hl"))  # scoped to HL1: CP1's list is not theirs
    assert client.get("/board/CP1/stream?period=2026-12").status_code in (403, 404)


def test_a_stopping_process_ends_the_bill_stream(app, client, billed):
    """A restart must not wait out an open bill page (the graceful timeout, or waitress' 5 s): the
    stream ends as soon as the process drains, and the page reconnects to the next one."""
    import threading
    import time
    app.config["LIVE_STREAM_SECONDS"] = 30.0
    sign_in(client, billed.user("owner_a"))
    started = time.monotonic()
    timer = threading.Timer(0.3, lambda: app.extensions["market40.live"].drain(0))
    timer.start()
    states = _states(client, "/owner/bills/stream")
    timer.join()
    assert states and time.monotonic() - started < 10  # not the stream's 30 s
