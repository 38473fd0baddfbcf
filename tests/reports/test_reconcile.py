"""Reconciliation end to end: the small world (conftest) on both backends, with a real DuckDB store."""
import pytest
from sqlmodel import select

from market40.exceptions import Forbidden
from market40.models import AuditEvent, ReconcileAnomaly, ReconcileRun, StallPeriod
from market40.services.reconcile import reconcile
from market40.services.registry import Actor

from reporthelpers import NOW, PERIOD


def states(session):
    return {row.stall_code: row for row in session.exec(select(StallPeriod).where(StallPeriod.period == PERIOD)).all()}


def test_states_evidence_and_totals(session, world, loaded_store):
    summary = reconcile(session, world.operator, PERIOD, store=loaded_store, now=NOW)
    rows = states(session)
    expect = {
        "A-1": ("active", True, True, True), "A-2": ("accepting", True, False, True),
        "A-3": ("active", False, True, True), "A-4": ("active", False, True, True),
        "A-5": ("active", True, True, True), "A-6": ("active", True, True, True),
        "A-8": ("active", True, True, True), "A-12": ("no_qr", False, False, True),
        "M-1": ("no_qr", False, False, True), "A-9": ("accepting", True, False, False),
        "B-1": ("active", True, True, True), "B-2": ("no_qr", False, False, True),
    }
    assert {code: (r.state, r.accepting, r.active, r.counted) for code, r in rows.items()} == expect
    assert "A-7" not in rows  # closed before June
    assert rows["A-1"].transfers == 3 and rows["A-1"].amount == 155_000 and rows["A-1"].by_reference == 0
    assert rows["A-4"].by_reference == 1 and rows["A-4"].stall_id == world.stalls["A-4"].id
    assert rows["M-1"].stall_id is None and rows["M-1"].in_census and not rows["A-9"].in_census
    assert rows["A-8"].account_status == "verified" and rows["A-3"].account_status == "pending"
    assert rows["A-1"].channels == "statement" and rows["A-1"].last_transfer_at.hour == 10  # 17:45 VN = 10:45 UTC
    assert (summary.stalls, summary.accepting, summary.active) == (11, 6, 7)
    assert summary.transfers == 11 and summary.by_reference == 3 and summary.unattributed == 2
    assert summary.by_account == 6 and summary.census_markets == 1 and summary.unknown_accounts == 1


def test_anomalies(session, world, loaded_store):
    reconcile(session, world.operator, PERIOD, store=loaded_store, now=NOW)
    found = session.exec(select(ReconcileAnomaly).where(ReconcileAnomaly.period == PERIOD)).all()
    kinds = {(a.kind, a.stall_code) for a in found}
    assert ("closed_stall_live_qr", "A-7") in kinds
    assert ("not_in_census_live_qr", "A-9") in kinds
    assert ("name_mismatch", "A-2") in kinds and ("name_mismatch", "A-1") not in kinds
    assert ("idle_account", "A-2") in kinds
    shared = [a for a in found if a.kind == "shared_account"]
    assert len(shared) == 1 and "A-5, A-6" in shared[0].detail
    unknown = [a for a in found if a.kind == "unknown_account"]
    assert len(unknown) == 1 and unknown[0].transfers == 2 and unknown[0].bank_bin == "970422"
    reasons = sorted(a.detail.split(";")[0] for a in found if a.kind == "unattributed")
    assert reasons == ["mã sạp có thể bị cắt ở cuối nội dung", "nội dung không có mã sạp"]
    assert all("0900000005" not in (a.account or "") and "0999999999" not in a.detail for a in found)


def test_running_again_replaces_the_results(session, world, loaded_store):
    first = reconcile(session, world.operator, PERIOD, store=loaded_store, now=NOW)
    second = reconcile(session, world.operator, PERIOD, store=loaded_store, now=NOW)
    runs = session.exec(select(ReconcileRun).where(ReconcileRun.period == PERIOD)).all()
    assert [r.id for r in runs] == [second.run_id]  # one run per period (SQLite may reuse the id)
    assert len(states(session)) == 12
    assert first.as_dict() | {"run_id": 0, "seconds": 0} == second.as_dict() | {"run_id": 0, "seconds": 0}
    assert len(session.exec(select(AuditEvent).where(AuditEvent.action == "reconcile.run")).all()) == 2


def test_without_census_the_registry_is_the_denominator(session, world, loaded_store):
    summary = reconcile(session, world.operator, "2025-05", store=loaded_store, now=NOW)
    rows = {r.stall_code: r for r in session.exec(select(StallPeriod).where(StallPeriod.period == "2025-05")).all()}
    assert not rows["A-7"].counted  # closed on 15 May: not operating at the end of the month
    assert rows["A-7"].state == "accepting"  # its QR is still live: listed for follow-up
    assert "M-1" not in rows and rows["A-9"].counted
    assert summary.transfers == 0 and summary.banks == []
    assert rows["A-1"].state == "accepting" and not rows["A-1"].covered  # no data: active unknown


def test_only_operators_and_administrators(session, world, loaded_store):
    officer = Actor(name="user:2", role="officer", markets=frozenset(), localities=frozenset({world.district.id}))
    with pytest.raises(Forbidden):
        reconcile(session, officer, PERIOD, store=loaded_store)
    admin = Actor(name="user:1", role="admin")
    assert reconcile(session, admin, PERIOD, store=loaded_store, now=NOW).stalls == 11
