"""`market40 tx purge`: the retention of live transfers and an owner's erasure, from the command line."""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlmodel import Session

import cli
from market40 import db
from market40 import webhooks as wh
from market40.models import AuditEvent, LiveTransfer, Locality, Market, PaymentAccount, Stall, utcnow
from market40.services import live

SOURCE = wh.Source("cli-feed", "market40", ("secret-0123456789abcdef",))


@pytest.fixture
def registry(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MARKET40_SECRET_KEY", "test-secret-key-of-enough-length")
    monkeypatch.delenv("MARKET40_DATABASE_URL", raising=False)
    path = str(tmp_path / "registry.db")
    runner = CliRunner()
    assert runner.invoke(cli.main, ["--db", path, "db", "init"]).exit_code == 0
    engine = db.make_engine(path)
    with Session(engine) as session:
        loc = Locality(code="QN-HG", name="Phường Hồng Gai", kind="commune", unit_type="phường", province="Quảng Ninh",
                       valid_from=date(2025, 7, 1))
        session.add(loc)
        session.flush()
        market = Market(code="HL1", name="Chợ Hạ Long I", tier="I", locality_id=loc.id)
        session.add(market)
        session.flush()
        for code in ("A-1", "A-2"):
            stall = Stall(market_id=market.id, code=code, owner_name="Chủ sạp")
            session.add(stall)
            session.flush()
            session.add(PaymentAccount(stall_id=stall.id, kind="bank_account", bin="970436", number=f"00110000{code[-1]}",
                                       holder_name="CHU SAP", consent_purpose="t", consent_at=utcnow(), consent_channel="paper",
                                       created_by="t", purpose=f"HL1 {code}", payload="000201", status="verified",
                                       created_at=utcnow() - timedelta(days=900), verified_at=utcnow() - timedelta(days=900)))
        session.commit()
        now = datetime.now().replace(microsecond=0)
        for n, (days, account) in enumerate([(400, "001100001"), (10, "001100001"), (10, "001100002")]):
            live.receive(session, SOURCE, wh.Incoming("market40", f"T{n}", "970436", account, f"T{n}", 1000 + n,
                                                      now - timedelta(days=days), "ck"))
        session.commit()

    def invoke(*args):
        return runner.invoke(cli.main, ["--db", path, *args], catch_exceptions=False)
    yield invoke, engine
    engine.dispose()


def count(engine) -> int:
    with Session(engine) as session:
        return session.execute(select(func.count()).select_from(LiveTransfer)).scalar_one()


def test_purge_older_than(registry) -> None:
    invoke, engine = registry
    result = invoke("tx", "purge", "--older-than", "13m")
    assert result.exit_code == 0, result.output
    assert "1 live transfers older than 13m deleted" in result.output
    assert count(engine) == 2
    with Session(engine) as session:
        assert session.execute(select(AuditEvent).where(AuditEvent.action == "live.purge")).scalar().actor.startswith("cli:")


def test_erase_one_stall(registry) -> None:
    invoke, engine = registry
    result = invoke("tx", "purge", "--stall", "HL1/A-2", "--json")
    assert result.exit_code == 0 and json.loads(result.output) == {"erased": 1}
    assert count(engine) == 2


@pytest.mark.parametrize("args", [[], ["--older-than", "ninety days"]])
def test_purge_refuses_unclear_requests(registry, args) -> None:
    invoke, engine = registry
    result = invoke("tx", "purge", *args)
    assert result.exit_code == 2 and count(engine) == 3


def test_purge_and_erasure_reach_the_store_copies(registry, tmp_path) -> None:
    from market40.services.registry import Actor
    from market40.txstore import TransferStore
    invoke, engine = registry
    store_file = tmp_path / "registry.transfers.duckdb"
    with Session(engine) as session, TransferStore(store_file) as store:
        live.sync_into_store(session, store, actor="t")
        assert store.count() == 3
    assert invoke("tx", "purge", "--older-than", "13m", "--store", str(store_file)).exit_code == 0
    assert invoke("tx", "purge", "--stall", "HL1/A-2", "--store", str(store_file)).exit_code == 0
    with TransferStore(store_file) as store:
        assert store.count() == 1  # the A-1 transfer inside the retention
