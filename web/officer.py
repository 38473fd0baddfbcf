"""District and commune officers: read-only pages of the markets in their localities.

Account numbers and phones are masked here, always (officers cannot reveal them:
the registry refuses). The adoption dashboard comes with the reports issue.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template, request

from market40 import accounts

from .db import registry
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
