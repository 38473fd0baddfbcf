"""Bank staff: the review queue, stall search, a stall's page (verify, reject, new enrollment code), its trail.

Every stall is addressed by its reference (``/staff/stall/HL1/A-12``) and reached through
the registry, which refuses stalls outside the staff member's markets (and audits the
refusal). Actions are POSTs with a CSRF token. A full account number is shown only when
asked for, one stall at a time, and that is audited.
"""
from __future__ import annotations

import contextlib
from io import BytesIO
from typing import Any, Iterator

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from market40 import accounts, banks
from market40.exceptions import Conflict, Forbidden, NotFound, ValidationError
from market40.services import audit as audit_service
from market40.services import erasure as erasure_service
from market40.services import notices
from market40.services import qr as qr_service
from market40.services import review as review_service
from market40.services import slips as slip_service

from . import trail as trail_text
from .db import registry, sender
from .messages import form_errors
from .security import roles_required

bp = Blueprint("staff", __name__, url_prefix="/staff")

STAFF = ("staff", "admin")
#: Stalls listed on a market page before searching.
PAGE = 100


def _next_url() -> str | None:
    """Back to the review queue (with its filters) after an action taken from it; only our own queue."""
    target = request.values.get("next", "")
    return target if target.startswith("/staff/queue") and "//" not in target else None


@contextlib.contextmanager
def _transfer_store() -> Iterator[Any]:
    """The transaction store beside the registry, if there is one (None: nothing imported yet)."""
    from pathlib import Path

    from market40.services.storage import store_path
    from market40.services.transfers import open_store
    path = current_app.config.get("TX_STORE") or store_path(_registry_url())
    if not path or path == ":memory:" or not Path(path).exists():
        yield None
        return
    with open_store(_registry_url(), path) as store:
        yield store


def _registry_url() -> Any:
    engine = current_app.extensions.get("market40.engine")
    return None if engine is None else engine.url.render_as_string(hide_password=False)


def _public_url() -> str:
    """Where owners reach the app: ``MARKET40_PUBLIC_URL``, else the address this request came to."""
    return current_app.config.get("PUBLIC_URL") or request.url_root.rstrip("/")


def _queue_filters(source: Any) -> dict[str, Any]:
    """The queue's filters from a query string or a form: market code, bank BIN, minimum age, page."""
    def number(name: str) -> int | None:
        text = (source.get(name) or "").strip()
        return int(text) if text.isdigit() and len(text) <= 4 else None
    market = (source.get("market") or "").strip().upper()[:16] or None
    bank = (source.get("bank") or "").strip()[:6] or None
    return {"market": market, "bank": bank if bank and bank.isdigit() else None, "min_days": number("age"),
            "page": number("page") or 1}


def _queue_url(filters: dict[str, Any]) -> str:
    return url_for("staff.queue", market=filters.get("market") or None, bank=filters.get("bank") or None,
                   age=filters.get("min_days") or None, page=filters.get("page") if filters.get("page", 1) > 1 else None)


@bp.get("/")
@roles_required(*STAFF)
def index() -> Any:
    return queue()


@bp.get("/queue")
@roles_required(*STAFF)
def queue() -> Any:
    """The review queue: every account waiting, oldest first, filtered by market, bank and age; paged."""
    reg = registry()
    filters = _queue_filters(request.args)
    found = review_service.review_queue(reg, **filters)
    return render_template("staff/index.html", markets=reg.markets(), queue=found, filters=filters,
                           here=_queue_url(filters), erasures=erasure_service.erasure_cases(reg))


@bp.post("/queue/verify")
@roles_required(*STAFF)
def verify_many() -> Any:
    """Bulk verify: first a confirmation naming how many and which, then all of them or none."""
    reg = registry()
    refs = [r for r in request.form.getlist("ref") if r][:500]
    back = _next_url() or url_for("staff.queue")
    if not refs:
        flash(_("Hãy chọn ít nhất một tài khoản để xác minh."), "error")
        return redirect(back)
    if request.form.get("confirm") != "yes":
        chosen = []
        for ref in refs:
            try:
                stall = reg.stall(ref)
            except (NotFound, Forbidden):
                continue
            account = reg.pending_account(stall)
            if account is not None:
                participant = banks.by_bin(account.bin)
                chosen.append({"ref": ref, "bank": participant.short_name if participant else account.bin,
                               "number": accounts.mask(account.number), "holder": account.holder_name})
        return render_template("staff/verify_many.html", chosen=chosen, back=back)
    try:
        done = reg.verify_many(refs)
    except Conflict:
        flash(_("Không xác minh được: có tài khoản đã được xử lý hoặc không thuộc chợ của bạn. Không tài khoản nào "
                "được xác minh; hãy xem lại danh sách."), "error")
        return redirect(back)
    for account in done:
        notices.account_reviewed(reg.session, sender(), account, actor=reg.actor.name)
    flash(ngettext("Đã xác minh %(num)s tài khoản: %(refs)s.", "Đã xác minh %(num)s tài khoản: %(refs)s.",
                   len(done), refs=", ".join(dict.fromkeys(refs))), "success")
    return redirect(back)


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
    review = reg.pending_account(stall)
    history = list(reversed(stall.accounts))
    full = f"{market_row.code}/{stall.code}"
    erasure = next((c for c in erasure_service.erasure_cases(reg) if c.stall == full), None)
    return render_template("staff/stall.html", ref=full, stall=stall, market=market_row,
                           current=current, review=review, history=history, bank=lambda b: banks.by_bin(b),
                           mask=accounts.mask, group=accounts.group, revealed=revealed, errors=errors or {},
                           slip=slip, erasure=erasure, next_url=_next_url()), status


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
    after = _next_url()
    if action == "verify":
        try:
            verified = reg.verify_account(ref)
        except Conflict:
            flash(_("Không xác minh được: tài khoản không còn ở trạng thái chờ xác minh."), "error")
            return redirect(url_for("staff.stall", market=market, stall=stall))
        notices.account_reviewed(reg.session, sender(), verified, actor=reg.actor.name)
        flash(_("Đã xác minh tài khoản của sạp %(ref)s. Chủ sạp đã được báo và có thể tải biển.", ref=ref), "success")
        return redirect(after or url_for("staff.stall", market=market, stall=stall))
    if action == "reject":
        try:
            rejected = reg.reject_account(ref, request.form.get("reason", "")[:500])
        except ValidationError as error:
            return _stall_page(ref, errors=form_errors(error, {"reason": "reason"}))
        except Conflict:
            flash(_("Không từ chối được: tài khoản không còn ở trạng thái chờ xác minh."), "error")
            return redirect(url_for("staff.stall", market=market, stall=stall))
        notices.account_reviewed(reg.session, sender(), rejected, actor=reg.actor.name)
        flash(_("Đã từ chối tài khoản của sạp %(ref)s. Chủ sạp đã được báo lý do.", ref=ref), "success")
        return redirect(after or url_for("staff.stall", market=market, stall=stall))
    if action == "erase":
        if request.form.get("confirm_erase") != "yes":
            return _stall_page(ref, errors={"confirm_erase": [_("Hãy đánh dấu xác nhận trước khi xoá dữ liệu.")]})
        try:
            with _transfer_store() as store:
                erasure_service.complete_erasure(reg, ref, store=store, sender=sender())
        except Conflict:
            flash(_("Không có yêu cầu xoá dữ liệu nào đang chờ cho sạp này."), "error")
            return redirect(url_for("staff.stall", market=market, stall=stall))
        flash(_("Đã xoá dữ liệu của sạp %(ref)s: tài khoản đã thu hồi, thông tin cá nhân đã xoá, đăng nhập đã "
                "khoá.", ref=ref), "success")
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
            qr = qr_service.png_data_uri(url, pixels=360)
        return render_template("staff/slip.html", slip=slip, ref=ref, url=url, qr=qr,
                               contact=slip_service.contact_line(slip, contact))
    return _stall_page(ref, status=400)


@bp.get("/audit/<market>/<path:stall>")
@roles_required(*STAFF)
def trail(market: str, stall: str) -> Any:
    ref = f"{market}/{stall}"
    entries = audit_service.stall_trail(registry(), ref)
    return render_template("staff/audit.html", ref=ref, entries=[trail_text.readable(e) for e in entries])
