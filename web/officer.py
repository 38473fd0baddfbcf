"""Officers of the communes and wards and of the provincial Department of Industry and Trade (Sở Công
Thương): read-only pages of the markets in their localities.

Account numbers and phones are masked here, always (officers cannot reveal them:
the registry refuses). The adoption dashboard shows the figures of the reports
(:func:`market40.services.reports.adoption_summary`, the same as ``market40 report
adoption``), scoped to the officer's localities, with a download button.
"""
from __future__ import annotations

from typing import Any

from datetime import date, timedelta
from io import BytesIO

from flask import Blueprint, Response, abort, render_template, request
from flask_babel import gettext
from markupsafe import Markup

from market40 import accounts, formats
from market40.exceptions import ValidationError

from .db import registry
from .i18n import current_language
from .security import roles_required

bp = Blueprint("officer", __name__, url_prefix="/officer")

OFFICERS = ("officer", "admin")
PAGE = 100


@bp.get("/")
@roles_required(*OFFICERS)
def index() -> Any:
    return render_template("officer/index.html", markets=registry().markets())


@bp.get("/markets/<market>")
@roles_required(*OFFICERS)
def market(market: str) -> Any:
    reg = registry()
    row = reg.market(market)
    stalls = reg.stalls(row.code)
    try:
        page = max(1, int(request.args.get("page", "1")))
    except ValueError:
        abort(404)
    pages = max(1, (len(stalls) + PAGE - 1) // PAGE)
    if page > pages:
        abort(404)
    shown = stalls[(page - 1) * PAGE:page * PAGE]
    counts = {"total": len(stalls), "verified": sum(1 for s in stalls if s.account and s.account.status == "verified"),
              "pending": sum(1 for s in stalls if s.account and s.account.status == "pending"),
              "none": sum(1 for s in stalls if s.account is None)}
    return render_template("officer/market.html", market=row, stalls=shown, page=page, pages=pages, counts=counts,
                           mask=accounts.mask)


VIEWS = ("tier", "locality", "market")


def _dashboard_args() -> tuple[str, str, str | None]:
    """period (default: last month), view and locality from the query string; 400 when malformed."""
    last_month = (date.today().replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    period = request.args.get("period", last_month)
    by = request.args.get("by", "tier")
    if by not in VIEWS:
        abort(400)
    return period, by, request.args.get("locality") or None


def _summary(period: str, by: str, locality: str | None, months: int = 1) -> Any:
    from market40.services.reports import adoption_summary
    reg = registry()
    try:
        return adoption_summary(reg.session, reg.actor, period, by=by, locality=locality, months=months,
                                anomalies=False)
    except ValidationError as error:
        abort(400, description=str(error))


def _chart_labels() -> dict[str, str]:
    """The words of the dashboard's charts, in the page's language."""
    return {"tier": gettext("Hạng"), "accepting": gettext("% hộ chấp nhận"), "active": gettext("% hộ có giao dịch"),
            "bars": gettext("Hộ chấp nhận và có giao dịch theo hạng chợ"), "trend": gettext("Xu hướng theo tháng"),
            "households": gettext("% hộ chấp nhận"), "missing": gettext("chưa đối soát"),
            "target": gettext("Mục tiêu")}


@bp.get("/dashboard")
@roles_required(*OFFICERS)
def dashboard() -> Any:
    """Adoption of cashless payment in the officer's localities: figures, charts, the chosen view."""
    from market40.services.reports import trend_chart, tier_chart
    period, by, locality = _dashboard_args()
    report = _summary(period, by, locality, months=6)
    labels = _chart_labels()
    trend_labels = {**labels, "accepting": gettext("% sạp chấp nhận"), "active": gettext("% sạp có giao dịch")}
    charts = [Markup(c) for c in (tier_chart(report, width=420, labels=labels),
                                  trend_chart(report, width=420, labels=trend_labels)) if c]
    lang = current_language()
    return render_template("officer/dashboard.html", report=report, period=period, by=by, locality=locality,
                           views=VIEWS, charts=charts, pct=lambda rate: formats.percent(rate, lang),
                           num=lambda value: formats.count(value, lang), day=lambda value: formats.day(value, lang),
                           month=lambda text: _month(text, lang))


def _month(period: str, lang: str) -> str:
    """``06/2025`` (Vietnamese) or ``2025-06``."""
    year, month = period.split("-")
    return period if lang == "en" else f"{month}/{year}"


@bp.get("/dashboard/download")
@roles_required(*OFFICERS)
def download() -> Any:
    """The same report as a file (XLSX first; CSV, HTML, JSON), account numbers masked."""
    from market40.services.reports import EXPORT_FORMATS, export
    period, by, locality = _dashboard_args()
    fmt = request.args.get("format", "xlsx")
    if fmt not in EXPORT_FORMATS:
        abort(400)
    report = _summary(period, by, locality, months=6)
    out = BytesIO()
    export(report, fmt, out)
    registry().audit("report.export", "report", f"adoption:{period}", note=f"{fmt}, by {by}")
    media, suffix = EXPORT_FORMATS[fmt]
    response = Response(out.getvalue(), mimetype=media.split(";")[0])
    response.headers["Content-Disposition"] = f'attachment; filename="chap-nhan-{period}-{by}{suffix}"'
    return response
