"""The market board's fee pages (ban quản lý chợ) and the owner's own bills.

The board sees its markets' bills by state for a month, the arrears list, downloads the
month's slips as one PDF and a receipt once a bill is paid, and records cash paid at its
office (a POST with a CSRF token, audited by the service). Scope is the service's: a board
user reaches only the markets of their scopes (others are 403, and audited). The owner's
page lists their own stall's bills with the QR to scan or save; nothing takes a stall in
the URL, and a bill of another stall is 403.

Both pages turn "paid" without a reload: a transfer to the board's account that a webhook
brings is matched to the bills at once (:func:`market40.services.fees.match_live`, called by
``web/live.py``'s hook) and the live bus wakes these pages' streams (``event: bill``, the bills'
states). The streams also read again at every heartbeat, so a process whose bus carries only
stall transfers (the poll bus) is at most a heartbeat late.
"""
from __future__ import annotations

import io
import json
import random
import time
from typing import Any, Callable, Iterator

from flask import (Blueprint, Response, abort, current_app, flash, redirect, render_template, request, send_file,
                   stream_with_context, url_for)
from flask_babel import gettext as _
from sqlmodel import Session

from market40 import formats
from market40.exceptions import Conflict, Forbidden, NotFound, ValidationError
from market40.reconciliation import Period
from market40.services import fees as fee_service
from market40.services.fees import Fees

from . import posters
from .db import actor, get_session
from .i18n import N_
from .security import roles_required

bp = Blueprint("board", __name__)

BOARD = ("board", "admin")
#: The bill states as market40.fees.STATE_LABELS words them, marked for translation.
STATE_WORDS = (N_("Chưa nộp"), N_("Nộp một phần"), N_("Đã nộp"), N_("Quá hạn"))


def _fees() -> Fees:
    return Fees(get_session(), actor())


def _period() -> str:
    raw = request.args.get("period", "")[:10]
    try:
        return str(Period.parse(raw)) if raw else str(Period.of(formats.to_vietnam(_now())))
    except ValidationError:
        abort(404)


def _now() -> Any:
    from market40.services.registry import utcnow
    return utcnow()


def _market(fees: Fees, code: str) -> Any:
    try:
        return fees.market(code)
    except NotFound:
        abort(404)
    except Forbidden:
        abort(403)


@bp.get("/board/")
@roles_required(*BOARD)
def index() -> Any:
    reg = _fees().registry
    markets = reg.session.exec(reg.scoped_markets()).all()
    return render_template("board/index.html", markets=sorted(markets, key=lambda m: m.code))


@bp.get("/board/<market>")
@roles_required(*BOARD)
def market(market: str) -> Any:
    fees = _fees()
    row = _market(fees, market)
    period = _period()
    views = fees.bills(row.code, period)
    summary = fees.status(row.code, period)
    return render_template("board/market.html", market=row, period=period, bills=views, summary=summary,
                           money=formats.money)


@bp.get("/board/<market>/arrears")
@roles_required(*BOARD)
def arrears(market: str) -> Any:
    fees = _fees()
    row = _market(fees, market)
    return render_template("board/arrears.html", market=row, rows=fees.reminders(row.code), money=formats.money)


@bp.post("/board/<market>/cash")
@roles_required(*BOARD)
def cash(market: str) -> Any:
    fees = _fees()
    row = _market(fees, market)
    number = request.form.get("bill", "")[:30]
    try:
        view = fees.bill(number)
        if view.market != row.code:
            abort(404)
        view = fees.record_cash(number, request.form.get("amount", "")[:20], note=request.form.get("note", "")[:200] or None)
    except NotFound:
        abort(404)
    except Forbidden:
        abort(403)
    except (ValidationError, Conflict) as error:
        flash(_("Không ghi được: %(reason)s", reason=str(error)), "error")
        return redirect(url_for("board.market", market=row.code, period=request.form.get("period", "")[:7] or None))
    flash(_("Đã ghi %(amount)s tiền mặt cho phiếu %(bill)s: %(state)s.", amount=formats.money(view.paid),
            bill=view.number, state=_(view.state_label)), "info")
    return redirect(url_for("board.market", market=row.code, period=view.period))


@bp.get("/board/<market>/slips.pdf")
@roles_required(*BOARD)
def slips(market: str) -> Any:
    fees = _fees()
    row = _market(fees, market)
    period = _period()
    out = io.BytesIO()
    try:
        fees.write_slips(row.code, period, out)
    except (ValidationError, NotFound) as error:
        flash(_("Không có phiếu để in: %(reason)s", reason=str(error)), "error")
        return redirect(url_for("board.market", market=row.code, period=period))
    out.seek(0)
    return send_file(out, mimetype="application/pdf", as_attachment=True,
                     download_name=f"phieu-thu-{row.code}-{period}.pdf")


@bp.get("/board/<market>/receipt/<bill>")
@roles_required(*BOARD)
def receipt(market: str, bill: str) -> Any:
    fees = _fees()
    row = _market(fees, market)
    try:
        view = fees.bill(bill)
        if view.market != row.code:
            abort(404)
        out = io.BytesIO()
        serial = fees.write_receipt(bill, out)
    except NotFound:
        abort(404)
    except Forbidden:
        abort(403)
    except Conflict:
        abort(404)
    out.seek(0)
    return send_file(out, mimetype="application/pdf", as_attachment=True, download_name=f"bien-lai-{serial}.pdf")


# ------------------------------------------------------------------ the owner's bills

@bp.get("/owner/bills")
@roles_required("owner")
def my_bills() -> Any:
    views = _fees().my_bills()
    return render_template("board/my_bills.html", bills=views, money=formats.money)


@bp.get("/owner/bills/<bill>/qr.png")
@roles_required("owner")
def my_bill_qr(bill: str) -> Any:
    try:
        view = _fees().bill(bill)
    except NotFound:
        abort(404)
    except Forbidden:
        abort(403)
    if not view.payload:
        abort(404)
    return Response(posters.qr_png(view.payload), mimetype="image/png",
                    headers={"Content-Disposition": f'inline; filename="phieu-{view.number}.png"'})


# ------------------------------------------------------------------ live bill states (server-sent events)

def _bill_stream(key: int, read: Callable[[Session], list[dict[str, Any]]]) -> Response:
    """``event: bill`` with the bills' states: at once, then whenever they change (woken by the live bus)."""
    from .live import _live  # the process's hub and bus listener: one per process, shared with the Loa
    state = _live()
    state.ensure_listening()
    engine = state.engine
    seconds = float(current_app.config["LIVE_STREAM_SECONDS"])
    heartbeat = float(current_app.config["LIVE_HEARTBEAT_SECONDS"])

    def generate() -> Iterator[str]:
        waiter = state.hub.register(key)
        deadline = time.monotonic() + seconds * random.uniform(0.8, 1.2)
        last = None
        try:
            yield "retry: 1500\n\n"
            while True:
                with Session(engine) as db:
                    bills = read(db)
                if bills != last:
                    last = bills
                    yield f"event: bill\ndata: {json.dumps(bills, ensure_ascii=False)}\n\n"
                if waiter.closing:
                    return  # the process is stopping: the page reconnects to another one (retry: above)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                if not waiter.wait(min(heartbeat, remaining)):
                    yield ": ping\n\n"
        finally:
            state.hub.unregister(waiter)

    request_session = get_session()  # no pooled connection held for the stream's lifetime
    request_session.commit()
    request_session.close()
    response = Response(stream_with_context(generate()), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"
    return response


@bp.get("/owner/bills/stream")
@roles_required("owner")
def my_bills_stream() -> Any:
    who = actor()
    if not who.stall_id:
        abort(403)
    return _bill_stream(int(who.stall_id), lambda db: _labelled(fee_service.bill_states(db, who)))


@bp.get("/board/<market>/stream")
@roles_required(*BOARD)
def market_stream(market: str) -> Any:
    who = actor()
    row = _market(_fees(), market)
    code, period = row.code, _period()
    return _bill_stream(fee_service.board_key(row.id), lambda db: _labelled(fee_service.bill_states(
        db, who, market_code=code, period=period)))


def _labelled(bills: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [dict(bill, label=_(bill["label"])) for bill in bills]
