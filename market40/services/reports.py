"""Adoption reports: per market, tier, locality and the province, per month and over months.

The reports read what :func:`market40.services.reconcile.reconcile` stored (one row per stall
and period) and add up markets with :mod:`market40.reconciliation`'s arithmetic. Two doors
use them, with the same figures:

* the CLI, ``market40 report adoption`` → :func:`adoption_summary` then :func:`export`;
* the web dashboard → :func:`adoption_summary` (plain records: ``report.as_dict()`` for
  templates or JSON) and :func:`export` for the download button (``EXPORT_FORMATS`` gives the
  media type and file suffix).

Scoped: an officer's report covers the markets of their localities (a former district covers
the communes it became), staff their markets, administrators and the local operator
everything (:class:`~market40.services.registry.Actor`); owners get none.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path
from typing import IO, Any, Iterable

from sqlalchemy import case, func, select
from sqlmodel import Session

from . import auditlog
from .. import accounts, formats
from .. import reconciliation as rules
from ..adoption import LEVEL_LABELS, PROVINCE_LABEL, AdoptionReport, TrendPoint
from ..reportfiles import EXPORT_FORMATS, WRITERS, svg_bars, svg_lines, tier_chart, trend_chart
from ..exceptions import Forbidden, InvalidFormat, InvalidLength
from ..models import (AdoptionTarget, CensusEntry, Locality, LocalityLink, Market, PaymentAccount, ReconcileAnomaly,
                      ReconcileRun, Stall, StallPeriod, utcnow)
from .registry import Actor, Registry, descendant_localities

__all__ = ["VIEWS", "LEVELS", "LEVEL_LABELS", "EXPORT_FORMATS", "TrendPoint", "AdoptionReport", "adoption_summary",
           "set_target",
           "anomaly_list", "export", "PROVINCE_LABEL", "svg_bars", "svg_lines", "tier_chart", "trend_chart"]

VIEWS = ("tier", "locality", "market", "province")
LEVELS = ("auto", "former-district", "commune")
#: What ``--level`` accepts: the levels and the older name ``district``.
LEVEL_CHOICES = (*LEVELS, "district")
#: ``district`` (the unit kind in the registry) is still accepted for ``former-district``.
_LEVEL_ALIASES = {"former-district": "district", "former_district": "district", "district": "district",
                  "commune": "commune", "auto": "auto"}
_TIER_ORDER = {"I": 1, "II": 2, "III": 3}


def _tier_order(label: str) -> tuple:
    return (_TIER_ORDER.get(label, 9), label)


def adoption_summary(session: Session, actor: Actor, period: str | rules.Period, *, by: str = "tier",
                     locality: str | None = None, level: str = "auto", months: int = 1, target: float | None = None,
                     anomalies: bool = True, detail: bool = False) -> AdoptionReport:
    """The adoption report of ``period`` as this actor may see it.

    ``by``: the main view (``tier``, ``locality``, ``market``, ``province``); every view is
    computed anyway (an XLSX has one sheet each). ``locality``: only markets in this
    locality (a commune, or a former district and the communes it became). ``level``: group
    localities by ``former-district`` (alias ``district``, the value the report keeps) or by
    ``commune`` (``auto``: the units in force at the end of the period). ``months``: the trend covers this many months ending with
    ``period``. ``target``: the accepting rate each market should reach (0–1); None: the province's
    configured target (:func:`set_target`), 100% when none is set (the report says which).
    A market whose programme started after a month (``onboarded_on``) is left out of that
    month, with a note, rather than counted as 0%.
    ``anomalies`` and ``detail`` (one row per stall) add the lists for follow-up; reading
    them is written to the audit trail (they name households).
    """
    if by not in VIEWS:
        raise InvalidFormat(f"by: one of {', '.join(VIEWS)}, got {by!r}", field="by", value=by, limit=", ".join(VIEWS))
    if level not in _LEVEL_ALIASES:
        raise InvalidFormat(f"level: one of {', '.join(LEVELS)} (district: the same as former-district), "
                            f"got {level!r}", field="level", value=level, limit=", ".join(LEVELS))
    level = _LEVEL_ALIASES[level]
    if not 1 <= months <= 36:
        raise InvalidLength(f"months: 1 to 36, got {months}", field="months", value=months, limit="1–36")
    if target is not None and not 0 < target <= 1:
        raise InvalidLength(f"target: a share above 0 and at most 1 (100%), got {target}", field="target",
                            value=target, limit="0 < target ≤ 1")
    if actor.role == "owner":
        raise Forbidden("adoption reports are for market boards, officers and staff")
    period = rules.Period.parse(period)
    month = str(period)
    periods = [str(p) for p in period.back(months)]
    registry = Registry(session, actor)

    markets = list(session.execute(registry.scoped_markets()).scalars())
    all_localities = {loc.id: loc for loc in session.execute(select(Locality)).scalars()}
    olds: dict[int, list[int]] = defaultdict(list)
    for old_id, new_id in session.execute(select(LocalityLink.old_id, LocalityLink.new_id)).all():
        olds[new_id].append(old_id)
    scope = _scope_label(actor, all_localities, markets)
    if locality:
        chosen = registry.locality(locality)
        inside = _descendants(session, chosen.id)
        markets = [m for m in markets if m.locality_id in inside]
        scope = chosen.name
    if level == "auto":
        level = _level_at(all_localities.values(), period.end - timedelta(days=1))
    ids = [m.id for m in markets]
    province_name, configured = _province_target(session, markets, all_localities)
    target_source = "given" if target is not None else ("province" if configured is not None else "default")
    if target is None:
        target = configured.target if configured is not None else 1.0

    counts = _counts(session, ids, periods)
    from .fees import fee_counts
    fee_totals = fee_counts(session, ids, periods)
    household_maps = _households(session, ids, periods)
    census_markets = {(market_id, p) for market_id, p in session.execute(
        select(CensusEntry.market_id, CensusEntry.period).where(CensusEntry.period.in_(periods)).distinct()).all()}
    runs = {p: (finished, banks) for p, finished, banks in session.execute(
        select(ReconcileRun.period, ReconcileRun.finished_at, ReconcileRun.banks).where(
            ReconcileRun.period.in_(periods))).all()}

    def groups(m: Market) -> dict[str, tuple[str, ...]]:
        place = all_localities.get(m.locality_id)
        if level == "district" and place is not None and place.kind == "commune":
            names = tuple(sorted(all_localities[o].name for o in olds.get(m.locality_id, ()))) or (place.name,)
        else:
            names = (place.name,) if place else ("—",)
        return {"tier": (m.tier or "—",), "locality": names, "market": (f"{m.code} · {m.name}",),
                "province": (PROVINCE_LABEL,)}

    def onboarded(m: Market, p: str) -> bool:
        return m.onboarded_on is None or m.onboarded_on < rules.Period.parse(p).end

    def market_counts(p: str) -> list[rules.MarketCounts]:
        out = []
        for m in markets:
            c = counts.get((m.id, p))
            if c is None:
                if (m.id, p) not in fee_totals or not onboarded(m, p):
                    continue
                c = (0, 0, 0, 0, 0)  # billed for fees, not reconciled: only the fee figures are known
            elif not onboarded(m, p):
                continue
            out.append(rules.MarketCounts(m.code, *c, name=m.name, tier=m.tier, market_id=m.id, groups=groups(m),
                                          denominator="census" if (m.id, p) in census_markets else "registry",
                                          households=household_maps.get((m.id, p), {}),
                                          fees_billed=fee_totals.get((m.id, p), (0, 0))[0],
                                          fees_cashless=fee_totals.get((m.id, p), (0, 0))[1]))
        return out

    current = market_counts(month)
    province = rules.summarise(current, label=PROVINCE_LABEL, target=target)
    views = {view: rules.adoption(current, view, target=target,
                                  order=_tier_order if view == "tier" else None) for view in VIEWS}
    trend = []
    for p in periods:
        items = market_counts(p) if p in runs else []
        trend.append(TrendPoint(p, rules.summarise(items, label=p, target=target) if items else None,
                                {f.label: f for f in rules.adoption(items, "tier", target=target, order=_tier_order)}
                                if items else {}))
    report = AdoptionReport(
        period=month, by=by, level=level, target=target, scope=scope, generated_at=utcnow(),
        generated_by=actor.name, reconciled=month in runs, reconciled_at=runs.get(month, (None, None))[0],
        province=province, views=views, markets=sorted(current, key=lambda m: (_tier_order(m.tier or "—"), m.code)),
        trend=trend, banks=[b for b in (runs.get(month, (None, ""))[1] or "").split(",") if b],
        target_source=target_source, province_name=province_name,
        target_note=configured.source if configured is not None and target_source == "province" else None,
        not_yet_onboarded=[{"code": m.code, "name": m.name, "onboarded_on": m.onboarded_on}
                           for m in sorted(markets, key=lambda m: m.code) if not onboarded(m, month)])
    report.notes = _notes(report, locality_overlap=level == "district" and any(
        len(m.groups["locality"]) > 1 for m in current))
    unrestricted = actor.markets is None and actor.localities is None
    if anomalies:
        report.anomalies = anomaly_list(session, ids, month, include_province=unrestricted)
    if detail:
        report.stalls = _stall_detail(session, ids, month)
    if anomalies or detail:
        auditlog.record(session, actor.name, "report.adoption", "report", month,
                        note=f"scope {scope}; {len(report.anomalies)} anomalies"
                             + (f"; {len(report.stalls or [])} stalls" if detail else ""))
        session.commit()
    return report


def _counts(session: Session, market_ids: list[int], periods: list[str]) -> dict[tuple[int, str], tuple]:
    """(market, period) → (stalls, registered, accepting, active, covered), counted stalls only."""
    if not market_ids:
        return {}

    def total(condition: Any) -> Any:
        return func.sum(case((condition, 1), else_=0))

    query = (select(StallPeriod.market_id, StallPeriod.period, func.count(),
                    total(StallPeriod.state == "registered"), total(StallPeriod.accepting.is_(True)),  # type: ignore
                    total(StallPeriod.active.is_(True)), total(StallPeriod.covered.is_(True)))  # type: ignore
             .where(StallPeriod.counted.is_(True), StallPeriod.period.in_(periods),  # type: ignore[attr-defined]
                    StallPeriod.market_id.in_(market_ids))  # type: ignore[attr-defined]
             .group_by(StallPeriod.market_id, StallPeriod.period))
    return {(m, p): tuple(int(x or 0) for x in rest) for m, p, *rest in session.execute(query).all()}


def _households(session: Session, market_ids: list[int], periods: list[str]
                ) -> dict[tuple[int, str], dict[str, tuple[bool, bool]]]:
    """(market, period) → household key → (accepting, active), over the counted stalls.

    The key is the stall's (tax code, else phone + name: :mod:`market40.households`), else the
    census line's; a stall with neither is a household of its own.
    """
    if not market_ids:
        return {}
    query = (select(StallPeriod.market_id, StallPeriod.period, StallPeriod.stall_key, Stall.household_key,
                    CensusEntry.household_key, StallPeriod.accepting, StallPeriod.active)
             .outerjoin(Stall, Stall.id == StallPeriod.stall_id)
             .outerjoin(CensusEntry, (CensusEntry.market_id == StallPeriod.market_id)
                        & (CensusEntry.period == StallPeriod.period) & (CensusEntry.stall_key == StallPeriod.stall_key))
             .where(StallPeriod.counted.is_(True), StallPeriod.period.in_(periods),  # type: ignore[attr-defined]
                    StallPeriod.market_id.in_(market_ids)))  # type: ignore[attr-defined]
    out: dict[tuple[int, str], dict[str, tuple[bool, bool]]] = defaultdict(dict)
    for market_id, p, key, stall_household, census_household, accepting, active in session.execute(query).all():
        household = stall_household or census_household or f"sap:{market_id}:{key}"
        was = out[(market_id, p)].get(household, (False, False))
        out[(market_id, p)][household] = (was[0] or bool(accepting), was[1] or bool(active))
    return out


def _province_target(session: Session, markets: list[Market], localities: dict[int, Locality]
                     ) -> tuple[str | None, AdoptionTarget | None]:
    """The province of these markets (the most common one) and its configured target, if any."""
    names = [localities[m.locality_id].province for m in markets if m.locality_id in localities]
    if not names:
        return None, None
    province = max(sorted(set(names)), key=names.count)
    return province, session.get(AdoptionTarget, province)


def set_target(session: Session, actor: Actor, province: str, target: float, *, source: str | None = None
               ) -> AdoptionTarget:
    """Set the share of households ``province`` plans to have accepting cashless payment (0 < target ≤ 1)."""
    if actor.role not in ("operator", "admin") or actor.markets is not None or actor.localities is not None:
        raise Forbidden("the provincial target is set by administrators")
    if not 0 < target <= 1:
        raise InvalidLength(f"target: a share above 0 and at most 1 (100%), got {target}", field="target",
                            value=target, limit="0 < target ≤ 1")
    known = {name for (name,) in session.execute(select(Locality.province).distinct()).all()}
    match = next((name for name in known if name.casefold() == province.strip().casefold()), None)
    if match is None:
        raise InvalidFormat(f"province: {province!r} has no localities in the registry (known: "
                            f"{', '.join(sorted(known)) or 'none'})", field="province", value=province,
                            limit="a province of the registry")
    row = session.get(AdoptionTarget, match)
    before = None if row is None else {"target": row.target, "source": row.source}
    if row is None:
        row = AdoptionTarget(province=match, target=target, source=source, set_by=actor.name)
    else:
        row.target, row.source, row.set_by, row.set_at = target, source, actor.name, utcnow()
    session.add(row)
    auditlog.record(session, actor.name, "report.target", "province", match, before=before,
                    after={"target": target, "source": source})
    session.commit()
    return row


def _descendants(session: Session, locality_id: int) -> set[int]:
    """A locality and every unit it became (through the old→new links)."""
    return descendant_localities(session, {locality_id})


def _level_at(localities: Iterable[Locality], day: date) -> str:
    for loc in localities:
        if loc.kind == "district" and loc.valid_from <= day and (loc.valid_to is None or day < loc.valid_to):
            return "district"
    return "commune"


def _scope_label(actor: Actor, localities: dict[int, Locality], markets: list[Market]) -> str:
    if actor.markets is None and actor.localities is None:
        return PROVINCE_LABEL
    names = sorted({localities[i].name for i in actor.localities or () if i in localities
                    and localities[i].kind == "district"}) or sorted(
        {localities[i].name for i in actor.localities or () if i in localities})
    codes = sorted(m.code for m in markets if m.id in (actor.markets or ()))
    parts = names[:3] + ([f"chợ {', '.join(codes)}"] if codes else [])
    return "; ".join(parts) or "—"


def anomaly_list(session: Session, market_ids: list[int], period: str, *, include_province: bool = False,
                 kind: str | None = None) -> list[dict[str, Any]]:
    """The anomalies of a period for these markets (and the province-wide ones, if asked)."""
    condition = ReconcileAnomaly.market_id.in_(market_ids)  # type: ignore[union-attr]
    if include_province:
        condition = condition | ReconcileAnomaly.market_id.is_(None)  # type: ignore[union-attr]
    query = (select(ReconcileAnomaly, Market.code).outerjoin(Market, Market.id == ReconcileAnomaly.market_id)
             .where(ReconcileAnomaly.period == str(rules.Period.parse(period)), condition)
             .order_by(ReconcileAnomaly.kind, Market.code, ReconcileAnomaly.stall_code, ReconcileAnomaly.id))
    if kind:
        if kind not in rules.ANOMALY_KINDS:
            raise InvalidFormat(f"kind: one of {', '.join(rules.ANOMALY_KINDS)}, got {kind!r}", field="kind",
                                value=kind, limit=", ".join(rules.ANOMALY_KINDS))
        query = query.where(ReconcileAnomaly.kind == kind)
    return [{"kind": a.kind, "label": rules.ANOMALY_LABELS[a.kind], "market": code, "stall": a.stall_code,
             "account": a.account, "bank_bin": a.bank_bin, "detail": a.detail, "transfers": a.transfers,
             "amount": a.amount} for a, code in session.execute(query).all()]


def _stall_detail(session: Session, market_ids: list[int], period: str) -> list[dict[str, Any]]:
    query = (select(StallPeriod, Market.code, Stall.shop_name, PaymentAccount.number)
             .join(Market, Market.id == StallPeriod.market_id)
             .outerjoin(Stall, Stall.id == StallPeriod.stall_id)
             .outerjoin(PaymentAccount, PaymentAccount.id == StallPeriod.account_id)
             .where(StallPeriod.period == period, StallPeriod.market_id.in_(market_ids))  # type: ignore[attr-defined]
             .order_by(Market.code, StallPeriod.stall_key))
    out = []
    for row, market_code, shop, number in session.execute(query).all():
        record = {"market": market_code, "stall": row.stall_code, "shop_name": shop, "state": row.state,
                  "state_label": rules.STATE_LABELS[row.state], "accepting": row.accepting, "active": row.active,
                  "in_census": row.in_census, "counted": row.counted, "covered": row.covered,
                  "account": accounts.mask(number), "account_status": row.account_status,
                  "transfers": row.transfers, "amount": row.amount, "by_reference": row.by_reference,
                  "last_transfer_at": formats.to_vietnam(row.last_transfer_at).replace(tzinfo=None)
                  if row.last_transfer_at else None, "channels": row.channels}
        record["evidence"] = rules.describe_evidence(
            {**record, "stall_id": row.stall_id, "verified_at": formats.to_vietnam(row.verified_at)
             if row.verified_at else None}, masked_account=record["account"])
        out.append(record)
    return out


def _notes(report: AdoptionReport, *, locality_overlap: bool) -> list[str]:
    p = report.province
    notes = []
    if not report.reconciled:
        notes.append(f"Kỳ {_period_vi(report.period)} chưa được đối soát: chưa có số liệu (chạy market40 reconcile "
                     f"--period {report.period}).")
    if report.not_yet_onboarded:
        notes.append("Chưa tính các chợ bắt đầu triển khai sau kỳ này: " + "; ".join(
            f"{m['code']} · {m['name']} (từ {formats.day(m['onboarded_on'])})" for m in report.not_yet_onboarded)
            + ".")
    if report.target_source == "default":
        notes.append("Chưa đặt mục tiêu của tỉnh: dùng 100% (đặt bằng market40 report target).")
    if p.households:
        notes.append(f"Hộ kinh doanh: {_n(p.households)} hộ có {_n(p.stalls)} sạp; một hộ có nhiều sạp được tính "
                     "một lần (theo mã số thuế, hoặc số điện thoại và tên chủ hộ).")
    if p.markets:
        notes.append(f"Mẫu số: {p.census_markets}/{p.markets} chợ có danh sách hộ kinh doanh của ban quản lý chợ; "
                     "các chợ còn lại dùng số sạp đang kinh doanh trong sổ đăng ký.")
    if p.stalls:
        notes.append(f"Có giao dịch chỉ biết được với sạp có dữ liệu giao dịch của ngân hàng: {_n(p.covered)}/"
                     f"{_n(p.stalls)} hộ.")
    if locality_overlap:
        notes.append("Một số xã/phường mới được lập từ hai huyện cũ: chợ ở đó được tính ở cả hai dòng; "
                     "dòng tổng tính mỗi chợ một lần.")
    return notes


def _n(value: int) -> str:
    return formats.count(value)


def _period_vi(period: str) -> str:
    year, month = period.split("-")
    return f"{month}/{year}"


def export(report: AdoptionReport, fmt: str, target: str | Path | IO[bytes]) -> None:
    """Write ``report`` as ``xlsx``, ``csv``, ``html`` or ``json`` to a path or a binary file."""
    if fmt not in WRITERS:
        raise InvalidFormat(f"format: one of {', '.join(WRITERS)}, got {fmt!r}", field="format", value=fmt,
                            limit=", ".join(WRITERS))
    WRITERS[fmt](report, target)

