"""A stall owner's pages: status, register or change the account (with a preview), poster, erasure.

Nothing here takes a stall or an account in the URL: every page works on the signed-in
owner's own stall, so there is nothing to tamper with. Account numbers show in full only
in the preview of what the owner just typed and on their own poster page (audited).
"""
from __future__ import annotations

import base64
import functools
import hashlib
import hmac
from typing import Any

from flask import (Blueprint, Response, abort, current_app, flash, g, jsonify, redirect, render_template, request,
                   url_for)
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from market40 import accounts, banks
from market40.exceptions import Conflict, ValidationError
from market40.services import auth as auth_service
from market40.services import erasure as erasure_service
from market40.services import owner_page
from market40.services.registry import CONSENT_PURPOSE

from . import posters
from .consent import ACCOUNT_CONSENT
from .db import get_session, registry
from .i18n import current_language, render_translated
from .messages import ACCOUNT_FIELDS, form_errors
from .security import client_address, roles_required

bp = Blueprint("owner", __name__, url_prefix="/owner")

ACCOUNT_INPUTS = ("bank", "number", "holder_name", "kind", "reference_label", "holder_type", "business_reg_no",
                  "tax_code", "qr_payload", "merchant_payload")
#: Scanned payloads ride along in hidden fields: up to 512 characters, like the stored payload.
_LONG_INPUTS = {"qr_payload": 512, "merchant_payload": 512}


class _Stall:
    """The owner's stall, market and current account (from their own user row), for one request."""

    def __init__(self) -> None:
        read = g.get("owner_read")  # read on the driver with the signed-in owner (DRIVER_READS below)
        if read is not None:
            self.stall, self.market, self.current = read.stall, read.market, read.account
            self.replacement, self.latest = read.replacement, read.latest
            self.ref = f"{read.market.code}/{read.stall.code}"
            return
        view = g.get("owner_view")  # read with the signed-in user (web.security), else now
        if view is None:
            view = auth_service.owner_view(get_session(), g.user)
        if view is None:
            abort(404)
        self.stall, self.market, self.current = view.stall, view.market, view.account
        self.replacement = view.replacement  # waiting for review beside the verified account
        self.ref = view.ref

    @functools.cached_property
    def latest(self) -> Any:
        """The stall's newest account of any status (ORM path: the stall's account history)."""
        history = self.stall.accounts
        return history[-1] if history else None

    @functools.cached_property
    def registry(self) -> Any:
        return registry()

    @property
    def shop_name(self) -> str:
        return self.stall.shop_name or self.stall.owner_name


def _bank(bin_: str | None) -> banks.Bank | None:
    return banks.by_bin(bin_) if bin_ else None


def _latest(here: _Stall) -> Any:
    """The current account, else the most recent one (rejected or revoked) to explain what happened."""
    if here.current is not None:
        return here.current
    return here.latest


@bp.get("/")
@roles_required("owner")
def status() -> Any:
    here = _Stall()
    account = _latest(here)
    replacement = here.replacement
    if g.get("owner_read") is not None:  # read on the driver with the owner (_notices)
        told, erasure = g.owner_extra
    else:
        told, erasure = owner_page.owner_page(get_session(), g.user)  # one SELECT beside the signed-in user's
    return render_translated("owner/status.html", here=here, account=account, bank=_bank(account and account.bin),
                           masked=accounts.mask(account.number) if account else "",
                           replacement=replacement, replacement_bank=_bank(replacement and replacement.bin),
                           replacement_masked=accounts.mask(replacement.number) if replacement else "",
                           notices=told, erasure=erasure,
                           reason_text=_reason_text, downloads=_downloads())


def _downloads() -> list[tuple[str, str, str, str]]:
    """(PDF link, its label, PNG link, its label) for each poster size: the same for every owner, so built
    once per app, language and mount point rather than with a dozen template calls on every view."""
    built = current_app.extensions.setdefault("market40.downloads", {})
    key = (current_language(), request.script_root)
    found = built.get(key)
    if found is None:
        found = built[key] = [(url_for("owner.download", size=size, fmt="pdf"), _("PDF %(size)s", size=size.upper()),
                               url_for("owner.download", size=size, fmt="png"), _("Ảnh PNG %(size)s", size=size.upper()))
                              for size in posters.SIZES]
    return found


def _reason_text(reason: str | None) -> str:
    """The registry's own reasons in the owner's words (staff's reasons are shown as typed)."""
    known = {"replaced by a new account": _("đã thay bằng tài khoản mới"),
             "owner asked for erasure": _("theo yêu cầu xoá dữ liệu của bạn")}
    return known.get(reason or "", reason or "—")


@bp.get("/qr.png")
@roles_required("owner")
def qr() -> Any:
    """The QR of the stall's verified account (the same symbol the poster prints).

    Never the QR of an account waiting for review: a customer could pay into an account
    nobody checked, and the owner would take it for a working poster."""
    here = _Stall()
    if here.current is None or here.current.status != "verified":
        abort(404)
    payload = here.current.merchant_payload or here.current.payload
    tag = qr_etag(current_app.secret_key, payload)
    if tag in request.if_none_match:  # the browser has this very symbol: nothing to draw or send
        response = Response(status=304)
    else:
        response = Response(posters.qr_png(payload), mimetype="image/png")
    response.set_etag(tag)
    g.revalidate = True  # private, no-cache: kept by the owner's browser, asked again (signed in) on every view
    return response


def qr_etag(secret: str | bytes, payload: str) -> str:
    """The QR image's ETag: keyed on the deployment's secret, so it says nothing of the payload."""
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()[:32]


# ------------------------------------------------------------------ the account form

def _words(*names: str) -> str:
    from market40.text import search_key
    return " ".join(dict.fromkeys(search_key(" ".join(names)).split()))


def _bank_choices() -> list[tuple[str, list[dict[str, str]]]]:
    from market40.text import search_key
    groups: list[tuple[str, list[dict[str, str]]]] = []
    for kind, label in (("bank", _("Ngân hàng")), ("ewallet", _("Ví điện tử")), ("other", _("Khác"))):
        items = sorted(banks.all_banks(kind), key=lambda b: search_key(b.short_name))
        groups.append((label, [{"bin": b.bin, "label": f"{b.short_name} ({b.code}) — {b.name}",
                                "key": _words(b.short_name, b.code, b.name, b.bin, *b.aliases),
                                # what the bank is called (not its full legal name): a match here ranks
                                # first, as in banks.search ("ngoai thuong" → Vietcombank, not VCBNeo)
                                "names": _words(b.short_name, b.code, b.bin, *b.aliases)}
                               for b in items]))
    return groups


def _notices(cursor: Any, dialect: Any, page: owner_page.PageRead) -> Any:
    return owner_page.read_owner_page(cursor, dialect, page.stall.id)


#: The owner's read-only pages opened most: their signed-in owner, stall and accounts (and the status page's
#: notices) are read on the driver with one connection and no ORM session (web.security.driver_reads).
DRIVER_READS = {"owner.status": _notices, "owner.qr": None}


#: The pages that take a photo of the owner's QR: a larger body than other forms.
UPLOAD_ENDPOINTS = frozenset({"owner.account", "owner.preview"})


def allow_uploads(app: Any) -> None:
    """Let the account form's photo through (MAX_QR_UPLOAD_LENGTH); every other form keeps the small limit.

    Registered before the CSRF check, which is the first to read the form.
    """
    from .security import driver_reads
    driver_reads(app, DRIVER_READS)

    @app.before_request
    def _upload_limit() -> None:
        if request.endpoint in UPLOAD_ENDPOINTS:
            request.max_content_length = current_app.config["MAX_QR_UPLOAD_LENGTH"]


def _values() -> dict[str, str]:
    values = {name: (request.form.get(name, "") or "")[:_LONG_INPUTS.get(name, 200)] for name in ACCOUNT_INPUTS}
    for tick in ("consent", "confirm_change"):  # ticks stay ticked after an error
        if request.form.get(tick) == "yes":
            values[tick] = "yes"
    return values


def _scan(here: _Stall, values: dict[str, str]) -> dict[str, list[str]]:
    """Read an uploaded photo of the owner's own receiving QR into ``values`` (errors if refused).

    A transfer QR replaces the bank, number and MoMo reference (they come from the QR, never
    retyped); a bank-issued merchant QR is kept as the stall's merchant QR.
    """
    upload = request.files.get("qr_image")
    if upload is None or not upload.filename:
        if request.form.get("action") == "scan":
            return {"qr_image": [_("Hãy chọn hoặc chụp ảnh mã QR nhận tiền trong ứng dụng ngân hàng hoặc ví.")]}
        return {}
    try:
        scanned = here.registry.scan_qr(upload.stream.read())
    except ValidationError as error:
        return form_errors(error, ACCOUNT_FIELDS)
    if scanned.kind == "merchant":
        values["merchant_payload"] = scanned.payload
    else:
        values.update(qr_payload=scanned.payload, bank="", number="", reference_label="")
        if scanned.is_card:
            values["kind"] = "card"
    return {}


def _scanned(values: dict[str, str]) -> dict[str, Any]:
    """What the scanned QRs say, for the owner to check (numbers masked)."""
    out: dict[str, Any] = {}
    for key, name in (("qr_payload", "transfer"), ("merchant_payload", "merchant")):
        if values.get(key):
            try:
                found = accounts.receiving_qr(values[key], allow_unknown_bin=True)
            except ValidationError:
                values[key] = ""
                continue
            bank = found.bank
            out[name] = {"bank": bank.short_name if bank else found.bin, "bin": found.bin,
                         "number": accounts.mask(found.account) if found.account else "",
                         "reference": found.reference_label or "", "name": found.merchant_name or "",
                         "merchant_id": found.merchant_id or "", "city": found.merchant_city or ""}
    return out


def _prepare(here: _Stall, values: dict[str, str]) -> dict[str, Any]:
    return here.registry.prepare_account(here.market.code, here.stall.code, bank=values["bank"] or None,
                                         number=values["number"] or None,
                                         holder_name=values["holder_name"], kind=values["kind"] or None,
                                         reference_label=values["reference_label"] or None,
                                         qr=values["qr_payload"] or None,
                                         merchant_qr=values["merchant_payload"] or None,
                                         holder_type=values["holder_type"] or None,
                                         business_reg_no=values["business_reg_no"] or None,
                                         tax_code=values["tax_code"] or None)


def _preview_png(here: _Stall, prepared: dict[str, Any]) -> bytes | None:
    """The poster of what the owner typed, or None when the poster refuses what the QR accepts
    (a name too long to print, say): the QR alone still lets the owner check what they typed."""
    try:
        data = posters.preview_data(prepared, market_name=here.market.name, stall_code=here.stall.code,
                                    shop_name=here.shop_name)
    except ValidationError:
        return None
    for size in ("a6", "a5"):  # a long code (a bank's merchant QR) may need A5 to keep its modules readable
        try:
            return posters.render(data, size, "png", dpi=posters.PREVIEW_DPI)
        except ValidationError:
            continue
    return None


def _preview_images(here: _Stall, prepared: dict[str, Any]) -> dict[str, str]:
    shown = prepared.get("merchant_payload") or prepared["payload"]
    images = {"qr": "data:image/png;base64," + base64.b64encode(posters.qr_png(shown)).decode()}
    png = _preview_png(here, prepared)
    if png is not None:
        images["poster"] = "data:image/png;base64," + base64.b64encode(png).decode()
    return images


def _form(here: _Stall, values: dict[str, str], errors: dict[str, list[str]], *, prepared: Any = None,
          images: Any = None, status: int = 200) -> Any:
    current = here.current
    replacement = here.replacement
    return render_template("owner/account.html", here=here, values=values, errors=errors, prepared=prepared,
                           replacement=replacement, replacement_bank=_bank(replacement and replacement.bin),
                           replacement_masked=accounts.mask(replacement.number) if replacement else "",
                           images=images, bank_groups=_bank_choices(), current=current,
                           current_bank=_bank(current and current.bin),
                           current_masked=accounts.mask(current.number) if current else "",
                           account_consent=_(ACCOUNT_CONSENT), grouped=accounts.group,
                           scanned=_scanned(values), holder_types=accounts.HOLDER_TYPE_LABELS), status


@bp.route("/account", methods=["GET", "POST"])
@roles_required("owner")
def account() -> Any:
    here = _Stall()
    if request.method == "GET":
        current = here.current
        values = {name: "" for name in ACCOUNT_INPUTS}
        if current is not None:  # the bank and name help; the number is typed again, never shown here
            values.update(bank=current.bin, holder_name=current.holder_name, holder_type=current.holder_type)
        return _form(here, values, {})
    values = _values()
    if request.form.get("action") == "clear_qr":
        values.update(qr_payload="", merchant_payload="")
        return _form(here, values, {})
    scan_errors = _scan(here, values)
    if scan_errors:
        return _form(here, values, scan_errors)
    try:
        prepared = _prepare(here, values)
    except ValidationError as error:
        return _form(here, values, form_errors(error, ACCOUNT_FIELDS))
    if request.form.get("action") != "submit":
        return _form(here, values, {}, prepared=prepared, images=_preview_images(here, prepared))
    problems: dict[str, list[str]] = {}
    if request.form.get("consent") != "yes":
        problems["consent"] = [_("Hãy đánh dấu đồng ý để đăng ký tài khoản này.")]
    changing = here.current is not None and here.current.status == "verified"
    if changing and request.form.get("confirm_change") != "yes":
        problems["confirm_change"] = [_("Hãy đọc điều sẽ xảy ra với tài khoản và biển hiện tại, rồi đánh dấu "
                                        "xác nhận đổi tài khoản.")]
    if problems:
        return _form(here, values, problems, prepared=prepared, images=_preview_images(here, prepared))
    try:  # exactly what was previewed: the scanned QRs again, so their fields are registered as read
        _account, outcome = here.registry.register_account(
            here.ref, bank=values["bank"] or None, number=values["number"] or None,
            holder_name=values["holder_name"], kind=values["kind"] or None,
            reference_label=values["reference_label"] or None, qr=values["qr_payload"] or None,
            merchant_qr=values["merchant_payload"] or None, holder_type=values["holder_type"] or None,
            business_reg_no=values["business_reg_no"] or None, tax_code=values["tax_code"] or None,
            consent_channel="web", consent_purpose=CONSENT_PURPOSE)
        get_session().flush()
    except ValidationError as error:
        return _form(here, values, form_errors(error, ACCOUNT_FIELDS))
    except IntegrityError:  # another registration of this stall's account was saved at the same moment
        get_session().rollback()
        here = _Stall()
        return _form(here, values, {"_form": [_("Tài khoản của sạp vừa được thay đổi cùng lúc ở nơi khác. Hãy xem "
                                                "lại rồi gửi lại nếu cần.")]}, status=409)
    if outcome == "unchanged":
        flash(_("Tài khoản này đã được đăng ký, không có gì thay đổi."), "info")
    elif outcome == "requested":
        flash(_("Đã gửi yêu cầu đổi tài khoản. Tài khoản và biển hiện tại vẫn dùng được cho đến khi cán bộ ngân "
                "hàng xác minh tài khoản mới; khi đó hãy in biển mới."), "success")
    elif outcome == "replaced":
        flash(_("Đã thay tài khoản đang chờ xác minh bằng tài khoản mới. Tài khoản mới đang chờ cán bộ ngân "
                "hàng xác minh."), "success")
    else:
        flash(_("Đã đăng ký tài khoản. Cán bộ ngân hàng sẽ xác minh trước khi bạn in biển."), "success")
    return redirect(url_for("owner.status"))


@bp.post("/account/preview")
@roles_required("owner")
def preview() -> Any:
    """The preview picture for what is typed (JavaScript asks for it as the owner types)."""
    here = _Stall()
    values = _values()
    try:
        prepared = _prepare(here, values)
    except ValidationError as error:
        return jsonify(errors=form_errors(error, ACCOUNT_FIELDS)), 422
    png = _preview_png(here, prepared)
    shown = prepared.get("merchant_payload") or prepared["payload"]
    return Response(png if png is not None else posters.qr_png(shown), mimetype="image/png")


# ------------------------------------------------------------------ the poster

@bp.get("/poster")
@roles_required("owner")
def poster() -> Any:
    """The owner's poster: the one page showing their full account number (audited)."""
    here = _Stall()
    account = here.current
    if account is None:
        return redirect(url_for("owner.status"))
    here.registry.audit("account.reveal", "payment_account", account.id,
                        note=f"stall {here.ref}: the owner's poster page{' from ' + client_address()}")
    image = None
    if account.status == "verified":
        try:
            data = posters.poster_for(here.registry, here.ref)
            image = None
            for size in ("a6", "a5"):  # a bank's long merchant QR may need A5
                try:
                    image = "data:image/png;base64," + base64.b64encode(
                        posters.render(data, size, "png", dpi=posters.PREVIEW_DPI)).decode()
                    break
                except ValidationError:
                    continue
        except (ValidationError, Conflict):
            image = None
    return render_template("owner/poster.html", here=here, account=account, bank=_bank(account.bin),
                           grouped=accounts.group(account.number), image=image, downloads=_downloads())


@bp.get("/poster/<size>.<fmt>")
@roles_required("owner")
def download(size: str, fmt: str) -> Any:
    """The print file (PDF or PNG, A6/A5/A4) of a verified account (audited by the poster service)."""
    if size not in posters.SIZES or fmt not in posters.FORMATS:
        abort(404)
    here = _Stall()
    try:
        data = posters.poster_for(here.registry, here.ref)
    except Conflict:
        flash(_("Biển chỉ tải được khi tài khoản đã được xác minh."), "error")
        return redirect(url_for("owner.status"))
    try:
        body = posters.render(data, size, fmt)
    except ValidationError:
        flash(_("Mã QR này quá dày để in rõ ở khổ %(size)s. Hãy chọn khổ lớn hơn.", size=size.upper()), "error")
        return redirect(url_for("owner.poster"))
    name = f"bien-qr-{here.market.code}-{here.stall.code}-{size}.{fmt}".replace("/", "-").replace(" ", "")
    return Response(body, mimetype="application/pdf" if fmt == "pdf" else "image/png",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


# ------------------------------------------------------------------ erasure

@bp.route("/erasure", methods=["GET", "POST"])
@roles_required("owner")
def erasure() -> Any:
    here = _Stall()
    state = erasure_service.erasure_state(get_session(), g.user)
    if request.method == "GET":
        return render_template("owner/erasure.html", here=here, errors={}, erasure_days=auth_service.ERASURE_DAYS,
                               erasure=state)
    if request.form.get("confirm") != "yes":
        return render_template("owner/erasure.html", here=here, erasure_days=auth_service.ERASURE_DAYS,
                               erasure=state, errors={"confirm": [_("Hãy đánh dấu xác nhận để gửi yêu cầu.")]})
    request_ = auth_service.request_erasure(get_session(), g.user, address=client_address(),
                                            note=request.form.get("note", "")[:500])
    return render_template("owner/erasure_done.html", here=here, request_=request_)
