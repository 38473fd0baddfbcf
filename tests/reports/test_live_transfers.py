"""Live transfers: stored once across retries, providers, processes and statement files;
attributed by the reconciliation's rules; requested amounts; retention and erasure."""
from __future__ import annotations

import json
import multiprocessing
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from market40 import db
from market40 import transactions as tx
from market40 import webhooks as wh
from market40.models import AuditEvent, LiveRequest, LiveTransfer, LiveWatch, StallPeriod
from market40.services import live
from market40.services.reconcile import reconcile
from market40.services.registry import Actor
from market40.reconciliation import VN_TZ
from market40.txstore import TransferStore
from reporthelpers import MB, NOW, PERIOD, TRANSFERS, VCB, write_generic

SOURCE = wh.Source("test-feed", "market40", ("secret-0123456789abcdef",))


def incoming(tx_id: str, booked: str, bank: str, account: str, amount: int, content: str,
             provider: str = "market40") -> wh.Incoming:
    return wh.Incoming(provider, tx_id, bank, account, tx_id, amount, datetime.fromisoformat(booked), content)


@pytest.fixture(autouse=True)
def _fresh_index():
    live.forget_index()
    yield
    live.forget_index()


def test_live_attribution_is_the_reconciliations(session: Session, world, loaded_store, tmp_path) -> None:
    """Every transfer received live is attributed as the reconciliation attributes the same file."""
    for row in TRANSFERS:
        assert live.receive(session, SOURCE, incoming(*row), now=NOW).outcome == "stored"
    session.commit()
    stalls = {s.id: code for code, s in world.stalls.items()}
    by_stall = dict(session.execute(select(LiveTransfer.stall_id, func.count()).where(
        LiveTransfer.booked_at < datetime(2025, 7, 1, tzinfo=VN_TZ)).group_by(LiveTransfer.stall_id)).all())
    assert {stalls.get(k): v for k, v in by_stall.items()} == {
        "A-1": 4, "A-3": 1, "A-4": 1, "A-5": 1, "A-6": 1, "A-8": 1, "B-1": 1, None: 2}

    def results(store) -> set[tuple]:
        summary = reconcile(session, Actor.operator("tester"), PERIOD, store=store, now=NOW)
        return {(r.stall_code, r.state, r.transfers, r.amount, r.by_reference) for r in session.execute(
            select(StallPeriod).where(StallPeriod.run_id == summary.run_id)).scalars()}

    session.execute(LiveTransfer.__table__.update().values(tx_id=LiveTransfer.tx_id + "-live"))  # other ids
    session.commit()
    from_file = results(loaded_store)  # the file and the live rows (their twins are dropped)
    with TransferStore(tmp_path / "live-only.duckdb") as only_live:
        assert results(only_live) == from_file


def test_retries_and_second_provider_are_one_transfer(session: Session, world) -> None:
    first = incoming("FT26001", "2026-03-01 08:00:00", VCB, "0011000000001", 50_000, "HL1 A1")
    assert live.receive(session, SOURCE, first).outcome == "stored"
    assert live.receive(session, SOURCE, first).outcome == "duplicate"
    casso = wh.Incoming("casso", "777", VCB, "0011000000001", "FT26001", 50_000, first.booked_at, "HL1 A1")
    assert live.receive(session, wh.Source("c", "casso", ("x" * 16,)), casso).outcome == "duplicate"
    other_bank = incoming("FT26001", "2026-03-01 08:00:00", MB, "0900000005", 50_000, "HL1 A5")
    assert live.receive(session, SOURCE, other_bank).outcome == "stored"
    out = wh.Incoming("market40", "X", VCB, "0011000000001", "FT-OUT", 10_000, first.booked_at, "", incoming=False)
    assert live.receive(session, SOURCE, out).outcome == "outgoing"
    session.commit()
    assert session.execute(select(func.count()).select_from(LiveTransfer)).scalar() == 2


def _hammer(url: str, worker: int, results) -> None:
    engine = db.make_engine(url)
    stored = 0
    for n in range(30):
        with Session(engine) as session:
            got = live.receive(session, SOURCE, incoming(f"FT-C{n}", "2026-03-01 08:00:00", VCB, "0011000000001",
                                                         1000 + n, "HL1 A1"))
            session.commit()
            stored += got.outcome == "stored"
    results.put(stored)
    engine.dispose()


def test_concurrent_processes_store_each_transfer_once(session: Session, world, engine) -> None:
    url = engine.url.render_as_string(hide_password=False)
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    workers = [ctx.Process(target=_hammer, args=(url, w, results)) for w in range(4)]
    for p in workers:
        p.start()
    for p in workers:
        p.join(60)
    stored = sum(results.get(timeout=5) for _ in workers)
    assert stored == 30
    assert session.execute(select(func.count()).select_from(LiveTransfer)).scalar() == 30


def test_statement_and_live_are_one_set(session: Session, world, store, tmp_path) -> None:
    """Live rows (SePay ids) and the statement (its own ids) of the same transfers count once, either order."""
    live_rows = [("MBVCB.111", "2025-06-02 08:00:00", VCB, "0011000000001", 20_000, "HL1 A1"),
                 ("MBVCB.112", "2025-06-02 09:00:00", VCB, "0011000000001", 20_000, "HL1 A1"),  # a second buyer
                 ("MBVCB.113", "2025-06-03 09:00:00", VCB, "0011000000001", 35_000, "HL1 A1 ca")]
    for row in live_rows:
        live.receive(session, SOURCE, incoming(*row), now=NOW)
    session.commit()
    # the statement knows the first 20,000 and the 35,000 under its own references
    statement = [("VCB-9001", "2025-06-02 08:00:07", VCB, "0011000000001", 20_000, "HL1 A1"),
                 ("VCB-9002", "2025-06-03 09:00:02", VCB, "0011000000001", 35_000, "HL1 A1 ca")]
    assert live.sync_into_store(session, store)["copied"] == 3
    store.import_csv(write_generic(tmp_path / "stmt.csv", statement), actor="test", layout=tx.LAYOUTS["generic"])
    assert live.sync_into_store(session, store)["twins"] == 2
    assert store.count() == 3  # two statement rows + the second buyer's 20,000
    again = live.sync_into_store(session, store)
    assert again["twins"] == 0 and store.count() == 3


def test_same_id_across_channels_is_the_stores_dedupe(session: Session, world, loaded_store) -> None:
    before = loaded_store.count()
    live.receive(session, SOURCE, incoming(*TRANSFERS[1]), now=NOW)  # T-A1-1, also in the file
    session.commit()
    live.sync_into_store(session, loaded_store)
    assert loaded_store.count() == before


def test_reconcile_sees_live_transfers(session: Session, world, store) -> None:
    live.receive(session, SOURCE, incoming("LIVE-1", "2025-06-12 08:00:00", VCB, "0011000000002", 5_000, "x"),
                 now=NOW)
    session.commit()
    summary = reconcile(session, Actor.operator("tester"), PERIOD, store=store, now=NOW)
    a2 = session.execute(select(StallPeriod).where(StallPeriod.run_id == summary.run_id,
                                                   StallPeriod.stall_code == "A-2")).scalar_one()
    assert (a2.transfers, a2.amount, a2.active) == (1, 5_000, True)


def test_requested_amount_short_then_full(session: Session, world) -> None:
    a1 = world.stalls["A-1"]
    owner = Actor(name="user:1", role="owner", stall_id=a1.id)
    request = live.create_request(session, owner, a1.id, 9_034_000)
    assert request.reference.startswith("HL1 A1 ") and len(request.reference) <= 19
    session.commit()
    short = live.receive(session, SOURCE, incoming("R1", "2026-03-01 08:00:00", VCB, "0011000000001", 9_034,
                                                   f"HL1 A1 {request.code}"))
    assert short.event["verdict"] == "short"
    assert short.event["text"] == ("Chỉ nhận chín nghìn không trăm ba mươi tư đồng. THIẾU chín triệu không trăm "
                                   "hai mươi tư nghìn chín trăm sáu mươi sáu đồng")
    rest = live.receive(session, SOURCE, incoming("R2", "2026-03-01 08:01:00", VCB, "0011000000001", 9_024_966,
                                                  f"{request.code}"))
    assert rest.event["verdict"] == "full" and rest.event["text"].endswith(". Đủ")
    session.commit()
    assert session.get(LiveRequest, request.id).settled_at is not None
    # replayed from the store, the events say the same
    again = live.events_after(session, a1.id, 0)
    assert [e["verdict"] for e in again] == ["short", "full"]
    with pytest.raises(Exception):
        live.create_request(session, owner, world.stalls["A-2"].id, 1000)


def test_expired_request_is_a_plain_payment(session: Session, world) -> None:
    a1 = world.stalls["A-1"]
    owner = Actor(name="user:1", role="owner", stall_id=a1.id)
    start = datetime(2026, 3, 1, 1, 0, tzinfo=timezone.utc)
    request = live.create_request(session, owner, a1.id, 50_000, now=start)
    got = live.receive(session, SOURCE, incoming("R3", "2026-03-01 08:30:00", VCB, "0011000000001", 50_000,
                                                 request.code), now=start + timedelta(minutes=live.REQUEST_MINUTES + 1))
    assert got.event["verdict"] == "paid" and got.event["text"] == "Đã nhận năm mươi nghìn đồng"


def test_events_never_carry_the_account_or_payer(session: Session, world) -> None:
    got = live.receive(session, SOURCE, incoming("P1", "2026-03-01 08:00:00", VCB, "0011000000001", 1000,
                                                 "MBVCB.3278614981.HL1 A1.CT tu 0011001234567 NGUYEN VAN AN"))
    text = json.dumps(got.event, ensure_ascii=False)
    assert "0011000000001" not in text and "0011001234567" not in text and "3278614981" not in text


def test_unattributed_is_stored_not_announced(session: Session, world) -> None:
    got = live.receive(session, SOURCE, incoming("U1", "2026-03-01 08:00:00", MB, "0900000005", 1000, "chuyen tien"))
    assert got.outcome == "stored" and got.event is None and got.transfer.reason == "no stall reference in the content"


def test_purge_and_erasure(session: Session, world) -> None:
    now = datetime(2026, 3, 1, tzinfo=timezone.utc)
    live.receive(session, SOURCE, incoming("OLD", "2025-06-02 08:00:00", VCB, "0011000000001", 1000, "HL1 A1"))
    live.receive(session, SOURCE, incoming("NEW", "2026-02-27 08:00:00", VCB, "0011000000001", 2000, "HL1 A1"))
    live.receive(session, SOURCE, incoming("B1", "2026-02-27 08:00:00", "970405", "8000205000001", 3000, "TY1 B1"))
    session.commit()
    with pytest.raises(Exception):
        live.purge(session, Actor(name="user:9", role="staff"), timedelta(days=90), now=now)
    assert live.purge(session, Actor.operator("t"), live.parse_retention("90d"), now=now) == 1
    owner = Actor(name="user:1", role="owner", stall_id=world.stalls["A-1"].id)
    live.create_watch(session, owner, b"k" * 32, "Con gái")
    assert live.erase_stall(session, Actor.operator("t"), world.stalls["A-1"].id) == 1
    session.commit()
    left = session.execute(select(LiveTransfer.tx_id)).scalars().all()
    assert left == ["B1"]
    assert session.execute(select(func.count()).select_from(LiveWatch)).scalar() == 0
    actions = set(session.execute(select(AuditEvent.action)).scalars())
    assert {"live.purge", "live.erase", "live.watch_create"} <= actions


def test_helper_codes(session: Session, world) -> None:
    key = b"k" * 32
    owner = Actor(name="user:1", role="owner", stall_id=world.stalls["A-1"].id)
    row, code = live.create_watch(session, owner, key, "Con gái")
    session.commit()
    assert live.watch_stall(session, key, code).stall_id == world.stalls["A-1"].id
    assert live.watch_stall(session, key, code.lower()).id == row.id
    assert live.watch_stall(session, key, "WRONGCODE123") is None
    with pytest.raises(Exception):
        live.revoke_watch(session, Actor(name="user:2", role="owner", stall_id=world.stalls["A-2"].id), row.id)
    live.revoke_watch(session, owner, row.id)
    session.commit()
    assert live.watch_stall(session, key, code) is None


def test_casso_v2_bodies_import_from_files(tmp_path) -> None:
    body = {"error": 0, "data": {"id": 1, "reference": "FT1", "description": "HL1 A1", "amount": 20000,
                                 "transactionDateTime": "2026-03-01 08:00:00", "accountNumber": "0011000000001",
                                 "bankName": "Vietcombank", "bankAbbreviation": "VCB",
                                 "counterAccountName": "NGUYEN VAN PAYER", "counterAccountNumber": "123456789"}}
    parsed = list(tx.read_jsonl([json.dumps(body).encode()]))
    assert [p.kind for p in parsed] == ["ok"]
    t = parsed[0].transfer
    assert (t.bank_bin, t.tx_id, t.account, t.amount) == (VCB, "FT1", "0011000000001", 20000)
    assert "PAYER" not in repr(t)
