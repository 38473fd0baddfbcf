"""What an adoption report holds: plain records, no storage and no file format.

:mod:`market40.services.reports` fills them from the registry; :mod:`market40.reportfiles`
writes them as XLSX, CSV, HTML or JSON; the web dashboard shows them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from . import reconciliation as rules

__all__ = ["LEVEL_LABELS", "PROVINCE_LABEL", "TrendPoint", "AdoptionReport", "DEFINITIONS_EN", "market_dict"]

#: What the levels are called in reports (after the 2025 reform there is no district level any more).
LEVEL_LABELS = {"district": "Đơn vị cấp huyện cũ (trước 1/7/2025)", "commune": "Xã, phường, đặc khu (từ 1/7/2025)"}
PROVINCE_LABEL = "Toàn bộ phạm vi"


@dataclass
class TrendPoint:
    """One month of the trend: the scope's figures (None when the month was not reconciled)."""

    period: str
    figures: rules.Figures | None
    by_tier: dict[str, rules.Figures] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"period": self.period, "figures": self.figures.as_dict() if self.figures else None,
                "by_tier": {k: v.as_dict() for k, v in self.by_tier.items()}}


@dataclass
class AdoptionReport:
    """Everything one adoption report shows, as plain records."""

    period: str
    by: str
    level: str
    target: float
    scope: str
    generated_at: datetime
    generated_by: str
    reconciled: bool
    reconciled_at: datetime | None
    province: rules.Figures
    views: dict[str, list[rules.Figures]]
    markets: list[rules.MarketCounts]
    trend: list[TrendPoint]
    anomalies: list[dict[str, Any]] = field(default_factory=list)
    stalls: list[dict[str, Any]] | None = None
    notes: list[str] = field(default_factory=list)
    banks: list[str] = field(default_factory=list)
    #: where ``target`` comes from: "province" (configured), "given" (asked for), "default" (none set: 100%)
    target_source: str = "default"
    province_name: str | None = None
    target_note: str | None = None  # the plan or decision a configured target comes from
    #: markets left out of the period because their programme started after it
    not_yet_onboarded: list[dict[str, Any]] = field(default_factory=list)

    @property
    def level_label(self) -> str:
        """``Đơn vị cấp huyện cũ (trước 1/7/2025)`` or ``Xã, phường, đặc khu (từ 1/7/2025)``."""
        return LEVEL_LABELS.get(self.level, self.level)

    @property
    def rows(self) -> list[rules.Figures]:
        """The figures of the chosen view (``by``)."""
        return self.views.get(self.by) or [self.province]

    def as_dict(self) -> dict[str, Any]:
        return {
            "period": self.period, "by": self.by, "level": self.level, "level_label": self.level_label,
            "target": self.target, "target_source": self.target_source, "target_note": self.target_note,
            "province_name": self.province_name, "scope": self.scope,
            "generated_at": self.generated_at.isoformat(), "generated_by": self.generated_by,
            "reconciled": self.reconciled,
            "reconciled_at": self.reconciled_at.isoformat() if self.reconciled_at else None,
            "definitions": DEFINITIONS_EN,
            "province": self.province.as_dict(),
            "views": {k: [f.as_dict() for f in v] for k, v in self.views.items()},
            "markets": [market_dict(m) for m in self.markets],
            "trend": [t.as_dict() for t in self.trend],
            "anomalies": self.anomalies, "anomaly_summary": self.anomaly_summary,
            "stalls": self.stalls, "notes": self.notes, "banks": self.banks,
            "not_yet_onboarded": [{**m, "onboarded_on": m["onboarded_on"].isoformat() if m.get("onboarded_on")
                                   else None} for m in self.not_yet_onboarded]}

    @property
    def anomaly_summary(self) -> list[dict[str, Any]]:
        """The anomalies by kind: label, count, markets, transfers and amount (what the printable report shows)."""
        kinds: dict[str, dict[str, Any]] = {}
        for a in self.anomalies:
            row = kinds.setdefault(a["kind"], {"kind": a["kind"], "label": a.get("label") or a["kind"],
                                               "count": 0, "markets": set(), "transfers": 0, "amount": 0})
            row["count"] += 1
            if a.get("market"):
                row["markets"].add(a["market"])
            row["transfers"] += a.get("transfers") or 0
            row["amount"] += a.get("amount") or 0
        return [{**row, "markets": len(row["markets"])} for row in sorted(kinds.values(), key=lambda r: -r["count"])]


DEFINITIONS_EN = {
    "stalls": "the denominator, in stalls: the stalls on the market board's census for the month, or, for "
              "markets without a census, the registry's operating stalls",
    "households": "business households (hộ kinh doanh) among those stalls: the stalls sharing a household key "
                  "(tax code, else phone + owner name) count once; a household is accepting (active) when one "
                  "of its stalls is",
    "accepting": "a verified payment account (and poster) live at the end of the month",
    "active": "at least one incoming transfer attributed to the stall in the month (bank export or webhook)",
    "accepting_rate": "stall-weighted: accepting stalls / stalls, over all stalls of the group",
    "mean_accepting_rate": "mean of market rates: each market's accepting rate, averaged over its markets "
                           "(the figure provinces publish as 'on average')",
    "target": "the accepting rate every market should reach; markets_at_target and stalls_to_target measure "
              "the progress",
    "covered": "stalls whose bank had transfers in the store for the month: active is only known for them",
    "fees_cashless_rate": "market fees of the month paid by transfer (matched to their bills) / market fees billed "
                          "for the month; cash paid at the board's office does not count",
}


def market_dict(m: rules.MarketCounts) -> dict[str, Any]:
    return {"code": m.code, "name": m.name, "tier": m.tier, "stalls": m.stalls, "households": m.household_count,
            "households_accepting": m.households_accepting, "households_active": m.households_active,
            "registered": m.registered,
            "accepting": m.accepting, "active": m.active, "covered": m.covered,
            "accepting_rate": m.accepting_rate, "active_rate": m.active_rate, "denominator": m.denominator,
            "fees_billed": m.fees_billed, "fees_cashless": m.fees_cashless, "fees_cashless_rate": m.fees_cashless_rate,
            "groups": {k: list(v) for k, v in m.groups.items()}}
