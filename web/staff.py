"""Bank staff: the review queue, stall search, a stall's page (verify, reject, new enrollment code), its trail.

Every stall is addressed by its reference (``/staff/stall/HL1/A-12``) and reached through
the registry, which refuses stalls outside the staff member's markets (and audits the
refusal). Actions are POSTs with a CSRF token. A full account number is shown only when
asked for, one stall at a time, and that is audited.
"""
from __future__ import annotations

import base64
from io import BytesIO
from typing import Any

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from market40 import accounts, banks, qrimage
from market40.exceptions import Conflict, ValidationError
from market40.services import audit as audit_service
from market40.services import slips as slip_service

from .db import registry
from .messages import form_errors
from .security import roles_required

bp = Blueprint("staff", __name__, url_prefix="/staff")

STAFF = ("staff", "admin")
#: Stalls listed on a market page before searching.
PAGE = 100


def _public_url() -> str:
    """Where owners reach the app: ``MARKET40_PUBLIC_URL``, else the address this request came to."""
    return current_app.config.get("PUBLIC_URL") or request.url_root.rstrip("/")


@bp.get("/")
@roles_required(*STAFF)
def index() -> Any:
    reg = registry()
    markets = reg.markets()
    pending = []
    for market in markets:
        if market.pending:
            pending.extend(reg.accounts(market.code, status="pending"))
    pending.sort(key=lambda a: a.created_at)
    erasures = audit_service.erasure_requests(reg)
    return render_template("staff/index.html", markets=markets, pending=pending, erasures=erasures)


@bp.route("/markets/<market>", methods=["GET", "POST"])
@roles_required(*STAFF)
def market(market: str) -> Any:
    """A market's stalls; searching (by code, shop, owner or phone) is a POST, so no phone ends up in a URL."""
    reg = registry()
    row = reg.market(market)
    query = (request.form.get("q", "") if request.method == "POST" else "").strip()[:100]
    stalls = reg.stalls(row.code, search=query or None)
    shown = stalls if query else stalls[:PAGE]
    return render_template("staff/market.html", market=row, stalls=shown, total=len(stalls), query=query,
                           mask=accounts.mask)


def _stall_page(ref: str, *, revealed: Any = None, errors: dict[str, list[str]] | None = None,
                slip: Any = None, status: int = 200) -> Any:
    reg = registry()
    stall = reg.stall(ref)
    market_row = reg.market(ref.split("/", 1)[0])
    current = reg.current_account(stall)
    history = list(reversed(stall.accounts))
    erasures = [e for e in audit_service.stall_trail(reg, ref) if e.action == "erasure.request"]
    return render_template("staff/stall.html", ref=f"{market_row.code}/{stall.code}", stall=stall, market=market_row,
                           current=current, history=history, bank=lambda b: banks.by_bin(b),
                           mask=accounts.mask, group=accounts.group, revealed=revealed, errors=errors or {},
                           slip=slip, erasures=erasures), status


@bp.route("/stall/<market>/<path:stall>", methods=["GET", "POST"])
@roles_required(*STAFF)
def stall(market: str, stall: str) -> Any:
    ref = f"{market}/{stall}"
    if request.method == "GET":
        return _stall_page(ref)
    reg = registry()
    row = reg.stall(ref)  # scope check first, for every action
    action = request.form.get("action", "")
    if action == "reveal":
        account = reg.current_account(row)
        if account is None:
            return _stall_page(ref)
        reg.audit("account.reveal", "payment_account", account.id, note=f"stall {ref}: full number shown to staff")
        return _stall_page(ref, revealed=account)
    if action == "verify":
        try:
            reg.verify_account(ref)
        except Conflict:
            flash(_("Không xác minh được: tài khoản không còn ở trạng thái chờ xác minh."), "error")
            return redirect(url_for("staff.stall", market=market, stall=stall))
        flash(_("Đã xác minh tài khoản. Chủ sạp có thể tải biển."), "success")
        return redirect(url_for("staff.stall", market=market, stall=stall))
    if action == "reject":
        try:
            reg.reject_account(ref, request.form.get("reason", "")[:500])
        except ValidationError as error:
            return _stall_page(ref, errors=form_errors(error, {"reason": "reason"}))
        except Conflict:
            flash(_("Không từ chối được: tài khoản không còn ở trạng thái chờ xác minh."), "error")
            return redirect(url_for("staff.stall", market=market, stall=stall))
        flash(_("Đã từ chối tài khoản. Chủ sạp sẽ thấy lý do."), "success")
        return redirect(url_for("staff.stall", market=market, stall=stall))
    if action == "reissue":
        slips = reg.issue_enrollment_codes(key=current_app.config["ENROLLMENT_KEY"], stall=ref)
        base, contact = _public_url(), current_app.config.get("SUPPORT_CONTACT")
        if request.form.get("format") == "pdf":
            out = BytesIO()
            slip_service.write_pdf(slips, out, base_url=base, contact=contact)
            name = f"phieu-dang-ky-{ref}.pdf".replace("/", "-").replace(" ", "")
            return Response(out.getvalue(), mimetype="application/pdf",
                            headers={"Content-Disposition": f'attachment; filename="{name}"',
                                     "Cache-Control": "no-store"})
        slip = slips[0]
        url = slip_service.enrol_url(base, slip.stall)
        qr = None
        if url:
            image = BytesIO()
            qrimage.write(url, image, kind="png", pixels=360)
            qr = "data:image/png;base64," + base64.b64encode(image.getvalue()).decode("ascii")
        return render_template("staff/slip.html", slip=slip, ref=ref, url=url, qr=qr,
                               contact=slip_service.contact_line(slip, contact))
    return _stall_page(ref, status=400)


@bp.get("/audit/<market>/<path:stall>")
@roles_required(*STAFF)
def trail(market: str, stall: str) -> Any:
    ref = f"{market}/{stall}"
    entries = audit_service.stall_trail(registry(), ref)
    return render_template("staff/audit.html", ref=ref, entries=entries)
