"""Reconcile a period: census × registry × bank transfers → a state per stall, anomalies, totals.

Steps (each rule is in :mod:`market40.reconciliation`; this module only moves data):

1. read the registry (markets, stalls, every account registration, the period's census) into
   plain records;
2. in the transaction store, aggregate the period's transfers per credited account (and the
   latest transfer per account over the idle window) and attribute the transfers of shared
   and unknown accounts by stall reference, in SQL;
3. classify every stall of the period's population (the census where the board sent one,
   else the registry's operating stalls) and list the anomalies;
4. replace the period's results in the registry (``reconcile_run``, ``stall_period``,
   ``reconcile_anomaly``) and audit the run.

Running it again for the same period replaces the results: it is idempotent.
"""
from __future__ import annotations

import functools
import json
import re
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from sqlalchemy import delete, select
from sqlmodel import Session

from . import auditlog
from .. import accounts, formats, messages
from .. import reconciliation as rules
from ..exceptions import Forbidden, ValidationError
from ..models import (CensusEntry, Market, PaymentAccount, ReconcileAnomaly, ReconcileRun, Stall,
                      StallPeriod, utcnow)
from ..txstore import TransferStore, window_start
from .live import sync_into_store as _live_into_store  # issue 10 hook: live transfers join the store
from .registry import Actor

__all__ = ["ReconcileSummary", "reconcile", "DEFAULT_IDLE_MONTHS"]

#: An accepting account with no transfer for this many months is listed as idle.
DEFAULT_IDLE_MONTHS = 3
Progress = Callable[[int, "int | None"], None]


@dataclass
class ReconcileSummary:
    period: str
    run_id: int = 0
    markets: int = 0
    census_markets: int = 0
    stalls: int = 0  # counted (the denominator)
    registered: int = 0
    accepting: int = 0
    active: int = 0
    transfers: int = 0
    amount: int = 0
    by_account: int = 0
    by_reference: int = 0
    unattributed: int = 0
    unknown_accounts: int = 0
    banks: list[str] = field(default_factory=list)
    anomalies: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def summary(self, lang: str = "en") -> str:
        n = functools.partial(formats.count, lang=lang)

        def rate(k: int) -> str:
            return formats.percent(k / self.stalls if self.stalls else None, lang)
        none = messages.text("summary.none", lang)
        anomalies = (", ".join(f"{k} {n(v)}" for k, v in sorted(self.anomalies.items())) if lang == "en" else
                     "; ".join(f"{rules.ANOMALY_LABELS.get(k, k)}: {n(v)}" for k, v in sorted(self.anomalies.items())))
        anomalies = anomalies or none
        return messages.text("summary.reconcile", lang, period=self.period, markets=n(self.markets),
                             census=n(self.census_markets), stalls=n(self.stalls), accepting=n(self.accepting),
                             accepting_rate=rate(self.accepting), active=n(self.active), active_rate=rate(self.active),
                             registered=n(self.registered), transfers=n(self.transfers),
                             amount=formats.money(self.amount, lang), by_account=n(self.by_account),
                             by_reference=n(self.by_reference), unattributed=n(self.unattributed),
                             unknown=n(self.unknown_accounts), banks=", ".join(self.banks) or none,
                             anomalies=anomalies, seconds=formats.decimal(self.seconds, lang))

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _local_to_utc(moment: datetime | None) -> datetime | None:
    """A naive Vietnam time from the store → aware UTC for the registry."""
    if moment is None:
        return None
    return moment.replace(tzinfo=rules.VN_TZ).astimezone(timezone.utc)


def reconcile(session: Session, actor: Actor, period: str | rules.Period, *, store: TransferStore,
              idle_months: int = DEFAULT_IDLE_MONTHS, now: datetime | None = None,
              progress: Progress | None = None) -> ReconcileSummary:
    """Reconcile ``period`` for the whole registry (operators and administrators only); commits."""
    started = time.perf_counter()
    if actor.markets is not None or actor.localities is not None or actor.role not in ("operator", "admin"):
        raise Forbidden("reconciliation covers the whole registry: operators and administrators only")
    if not 1 <= idle_months <= 24:
        raise ValidationError(f"idle_months: 1 to 24, got {idle_months}", field="idle_months", value=idle_months,
                              limit="1–24")
    period = rules.Period.parse(period)
    month = str(period)
    now = now or utcnow()
    snapshot = period.snapshot(now)
    summary = ReconcileSummary(month)

    # 1. the registry, as plain records
    markets = {row.id: row for row in session.execute(select(Market.id, Market.code)).all()}
    stall_rows = session.execute(select(Stall.id, Stall.market_id, Stall.code, Stall.code_key, Stall.status,
                                        Stall.opened_on, Stall.closed_on, Stall.owner_name)).all()
    registrations = [rules.Registration(
        r.id, r.stall_id, r.bin, r.number, r.status, _aware(r.created_at), _aware(r.verified_at),
        _aware(r.revoked_at), _aware(r.rejected_at), r.holder_name, r.holder_type)
        for r in session.execute(select(PaymentAccount.id, PaymentAccount.stall_id, PaymentAccount.bin,
                                        PaymentAccount.number, PaymentAccount.status, PaymentAccount.created_at,
                                        PaymentAccount.verified_at, PaymentAccount.revoked_at,
                                        PaymentAccount.rejected_at, PaymentAccount.holder_name,
                                        PaymentAccount.holder_type)).all()]
    census: dict[int, dict[str, tuple[str, str]]] = defaultdict(dict)
    for market_id, key, code, owner in session.execute(select(
            CensusEntry.market_id, CensusEntry.stall_key, CensusEntry.stall_code, CensusEntry.owner_name).where(
            CensusEntry.period == month)).all():
        census[market_id][key] = (code, owner)
    directory = rules.Directory(registrations)
    references = []
    for stall in stall_rows:
        try:
            references.append((accounts.stall_reference(markets[stall.market_id].code, stall.code), stall.id))
        except ValidationError:
            continue  # codes too long for a reference: such a stall can only be paid by account
    index = rules.ReferenceIndex(references)

    # 2. the transfers
    _live_into_store(session, store)  # issue 10 hook: webhook transfers kept in the registry, through the store's dedupe
    start, end = period.start_local, period.end_local
    directory_rows = list(directory.rows())
    store.load_directory(directory_rows, index.rows())
    activity_rows = store.account_activity(start, end, window_start(period, idle_months), progress=progress)
    single = {(r.bin, r.number): r.stall_id for r in directory_rows if r.single}
    rest = store.attribute_rest(start, end, index.pattern, accounts=[
        (row[0], row[1]) for row in activity_rows if row[2] and (row[0], row[1]) not in single])
    activity: dict[int, rules.Activity] = defaultdict(rules.Activity)
    last_transfer: dict[tuple[str, str], datetime | None] = {}
    covered_bins: set[str] = set()
    for bin_, number, count, amount, first, last, channels, last_any in activity_rows:
        if count:
            covered_bins.add(bin_)
            summary.transfers += count
            summary.amount += int(amount)
        if (bin_, number) in directory:
            last_transfer[(bin_, number)] = last_any
        stall_id = single.get((bin_, number))
        if stall_id is not None and count:
            _merge(activity[stall_id], count, int(amount), first, last, channels, by_reference=0)
            summary.by_account += count
    for stall_id, method, count, amount, first, last, channels in rest["stalls"]:
        _merge(activity[stall_id], count, int(amount), first, last, channels,
               by_reference=count if method == "reference" else 0)
        if method == "reference":
            summary.by_reference += count
        else:
            summary.by_account += count
    summary.unattributed = sum(row[4] for row in rest["unattributed"])
    summary.unknown_accounts = len(rest["unknown"])
    summary.banks = sorted(covered_bins)

    # 3. the population, its states and the anomalies
    idle_start = window_start(period, idle_months)
    idle_start_end = rules.Period.of(idle_start).end_local
    by_stall: dict[int, list[rules.Registration]] = defaultdict(list)
    for reg in registrations:
        by_stall[reg.stall_id].append(reg)
    inputs: dict[int, rules.StallInput] = {}
    results: list[rules.StallPeriodResult] = []
    keys: list[str] = []
    for stall in stall_rows:
        if stall.opened_on is not None and stall.opened_on >= period.end:
            continue  # not open yet
        closed_at_end = stall.status == "closed" and (stall.closed_on is None or stall.closed_on < period.end)
        # The registry's unique key (market40.accounts.stall_key): twins cannot collide in stall_period.
        key = stall.code_key
        listed = census.get(stall.market_id)
        in_census = listed is not None and key in listed
        owner = listed[key][1] if in_census else stall.owner_name  # type: ignore[index]
        item = rules.StallInput(stall.market_id, stall.code, stall.id, "closed" if closed_at_end else "operating",
                                stall.closed_on, in_census, owner)
        inputs[stall.id] = item  # the anomalies look at every stall, closed ones too
        if stall.status == "closed" and stall.closed_on is not None and stall.closed_on < period.start \
                and not in_census:
            continue  # closed before the period: not part of its population, unless the census lists it
        # The census is the source of truth for who operates: a household it lists is counted even
        # when the registry closed its stall (an anomaly, census_lists_closed_stall, says so).
        counted = in_census if listed is not None else not closed_at_end
        results.append(rules.classify(item, by_stall.get(stall.id, ()), activity.get(stall.id), snapshot,
                                      counted=counted, covered_bins=frozenset(covered_bins)))
        keys.append(key)
    registry_keys = {(stall.market_id, stall.code_key) for stall in stall_rows}
    for market_id, households in census.items():
        for key, (code, owner) in households.items():
            if (market_id, key) in registry_keys:
                continue
            item = rules.StallInput(market_id, code, None, "operating", None, True, owner)
            results.append(rules.classify(item, (), None, snapshot, counted=True))
            keys.append(key)

    anomalies = rules.find_anomalies(
        stalls=inputs, registrations=registrations, directory=directory, snapshot=snapshot,
        census_markets=frozenset(census), last_transfer=last_transfer,
        observed_bins=frozenset(store.banks_with_data(idle_start, idle_start_end)),
        idle_since=idle_start.replace(tzinfo=rules.VN_TZ), mask=accounts.mask)
    extra_bins: dict[int, str] = {}
    for bin_, number, count, amount, by_reference in rest["unknown"]:
        anomalies.append(rules.Anomaly("unknown_account", f"{formats.count(count)} giao dịch vào tài khoản không có "
                                       f"trong sổ đăng ký, {formats.count(by_reference)} xác định được sạp theo mã sạp",
                                       account=accounts.mask(number), transfers=count, amount=int(amount)))
        extra_bins[len(anomalies) - 1] = bin_
    for bin_, number, known, reason, count, amount, example in rest["unattributed"]:
        anomalies.append(rules.Anomaly("unattributed", f"{_REASONS_VI.get(reason, reason)}; ví dụ: "
                                       f"{_example(example)}", account=accounts.mask(number), transfers=count,
                                       amount=int(amount)))
        extra_bins[len(anomalies) - 1] = bin_
    for anomaly in anomalies:
        summary.anomalies[anomaly.kind] = summary.anomalies.get(anomaly.kind, 0) + 1

    # 4. the results, replacing the period's earlier ones
    old = [row[0] for row in session.execute(select(ReconcileRun.id).where(ReconcileRun.period == month)).all()]
    if old:
        for table in (StallPeriod, ReconcileAnomaly):
            session.execute(delete(table).where(table.run_id.in_(old)))  # type: ignore[attr-defined]
        session.execute(delete(ReconcileRun).where(ReconcileRun.id.in_(old)))  # type: ignore[attr-defined]
    counted = [r for r in results if r.counted]
    summary.markets = len({r.market_id for r in results})
    summary.census_markets = len(census)
    summary.stalls = len(counted)
    summary.accepting = sum(r.accepting for r in counted)
    summary.active = sum(r.active for r in counted)
    summary.registered = sum(r.state == "registered" for r in counted)
    run = ReconcileRun(period=month, actor=actor.name, snapshot_at=snapshot, idle_months=idle_months,
                       markets=summary.markets, stalls=summary.stalls, transfers=summary.transfers,
                       amount=summary.amount, by_account=summary.by_account, by_reference=summary.by_reference,
                       unattributed=summary.unattributed, banks=",".join(summary.banks)[:500],
                       summary=json.dumps({"store": store.path, "census_markets": summary.census_markets,
                                           "unknown_accounts": summary.unknown_accounts,
                                           "anomalies": summary.anomalies}))
    session.add(run)
    session.flush()
    summary.run_id = run.id  # type: ignore[assignment]
    rows = []
    for result, key in zip(results, keys):
        rows.append({"run_id": run.id, "period": month, "market_id": result.market_id, "stall_id": result.stall_id,
                     "stall_code": result.stall_code[:32], "stall_key": key[:32], "state": result.state,
                     "accepting": result.accepting, "active": result.active, "in_census": result.in_census,
                     "counted": result.counted, "covered": result.covered, "account_id": result.account_id,
                     "account_status": result.account_status, "verified_at": result.verified_at,
                     "transfers": result.transfers, "amount": result.amount, "by_reference": result.by_reference,
                     "first_transfer_at": _local_to_utc(result.first_transfer_at),
                     "last_transfer_at": _local_to_utc(result.last_transfer_at),
                     "channels": result.channels or None})
    for chunk in _chunks(rows, 5000):
        session.execute(StallPeriod.__table__.insert(), chunk)  # type: ignore[attr-defined]
    anomaly_rows = [{"run_id": run.id, "period": month, "kind": a.kind, "market_id": a.market_id,
                     "stall_id": a.stall_id, "stall_code": a.stall_code, "account": a.account,
                     "bank_bin": extra_bins.get(i), "detail": a.detail[:500], "transfers": a.transfers,
                     "amount": a.amount} for i, a in enumerate(anomalies)]
    for chunk in _chunks(anomaly_rows, 5000):
        session.execute(ReconcileAnomaly.__table__.insert(), chunk)  # type: ignore[attr-defined]
    run.finished_at = utcnow()
    session.add(run)
    auditlog.record(session, actor.name, "reconcile.run", "reconcile_run", run.id, note=f"period {month}",
                    after={k: v for k, v in summary.as_dict().items() if k != "seconds"})
    session.commit()
    summary.seconds = time.perf_counter() - started
    return summary


_REASONS_VI = {
    rules.UNATTRIBUTED_REASONS[0]: "nội dung không có mã sạp",
    rules.UNATTRIBUTED_REASONS[1]: "nội dung có nhiều mã sạp",
    rules.UNATTRIBUTED_REASONS[2]: "mã sạp không có trong sổ đăng ký",
    rules.UNATTRIBUTED_REASONS[3]: "mã sạp trùng ở nhiều sạp",
    rules.UNATTRIBUTED_REASONS[4]: "mã sạp có thể bị cắt ở cuối nội dung",
    rules.UNATTRIBUTED_REASONS[5]: "mã sạp không phải của sạp dùng tài khoản này",
}


def _example(content: str | None) -> str:
    """A content shown in a report: cut short, long digit runs (account numbers) masked."""
    text = (content or "").strip()
    text = re.sub(r"\d{6,}", lambda m: "•••" + m.group(0)[-3:], text)
    return (text[:60] + "…") if len(text) > 60 else text or "(trống)"


def _merge(target: rules.Activity, count: int, amount: int, first: datetime | None, last: datetime | None,
           channels: Any, *, by_reference: int) -> None:
    target.transfers += count
    target.amount += amount
    target.by_reference += by_reference
    target.first_at = min(x for x in (target.first_at, first) if x is not None) if (target.first_at or first) else None
    target.last_at = max(x for x in (target.last_at, last) if x is not None) if (target.last_at or last) else None
    target.channels = tuple(sorted(set(target.channels) | set(channels or ())))


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start:start + size]

