"""Signing in and out (password, then the second factor), owner enrolment with the one-time code,
password change, the second-factor page, the privacy notice."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, g, jsonify, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from market40.exceptions import Conflict, Forbidden, ValidationError
from market40.services import auth as auth_service
from market40.services import qr as qr_service
from market40.services import recovery, second_factor

from . import consent
from .db import get_session, sender
from .i18n import current_language
from .messages import ENROL_FIELDS, PASSWORD_FIELDS, RESET_FIELDS, form_errors
from .security import attempt_succeeded, client_address, home_for, login_user, logout_user, needs_second_factor_setup, public, \
    roles_required, safe_next, second_factor_roles

bp = Blueprint("auth", __name__)

ALL_ROLES = ("owner", "staff", "officer", "admin", "board")


@bp.get("/")
@public
def index() -> Any:
    if g.user is not None:
        return redirect(url_for(home_for(g.user)))
    return redirect(url_for("auth.login"))


@bp.route("/login", methods=["GET", "POST"])
@public
def login() -> Any:
    if request.method == "GET":
        if g.user is not None:
            return redirect(url_for(home_for(g.user)))
        return render_template("auth/login.html", username="", error=None,
                               next=safe_next(request.args.get("next")))
    username = request.form.get("username", "")  # whole: the service and the rate limits read the same text
    password = request.form.get("password", "")
    user = auth_service.authenticate(get_session(), username, password, address=client_address(),
                                     second_step=True)
    next_path = safe_next(request.form.get("next"))
    if user is None:
        return render_template("auth/login.html", username=username[:128], next=next_path,
                               error=_("Số điện thoại (tên đăng nhập) hoặc mật khẩu không đúng.")), 200
    if second_factor.is_enrolled(user):
        # The password was right; the session opens only after the code (step two).
        session.clear()
        session.update({"mfa_uid": user.id, "mfa_epoch": user.session_epoch, "mfa_at": int(_now()),
                        "mfa_next": next_path})
        return redirect(url_for("auth.login_code"))
    auth_service.record_login(get_session(), user, address=client_address())
    login_user(user)
    if needs_second_factor_setup(user):
        return redirect(url_for("auth.second_factor"))
    return redirect(next_path or url_for(home_for(user)))


#: How long the code step waits after a right password (seconds).
CODE_STEP_SECONDS = 5 * 60


def _now() -> float:
    return float(current_app.config["CLOCK"]())


def _pending_user() -> Any:
    """The user who typed the right password and now owes a code (None if the step expired)."""
    uid, epoch, at = session.get("mfa_uid"), session.get("mfa_epoch"), session.get("mfa_at")
    if not isinstance(at, int) or _now() - at > CODE_STEP_SECONDS:
        return None
    user = auth_service.session_user(get_session(), uid, epoch)
    return user if user is not None and second_factor.is_enrolled(user) else None


@bp.route("/login/code", methods=["GET", "POST"])
@public
def login_code() -> Any:
    user = _pending_user()
    if user is None:
        session.pop("mfa_uid", None)
        flash(_("Bước nhập mã đã hết hạn. Vui lòng đăng nhập lại."), "info")
        return redirect(url_for("auth.login"))
    if request.method == "GET":
        return render_template("auth/login_code.html", errors={})
    try:
        kind = second_factor.verify(get_session(), user, request.form.get("code", ""),
                                    key=current_app.config["SECOND_FACTOR_KEY"], now=_now(),
                                    address=client_address())
    except (ValidationError, Conflict):
        return render_template("auth/login_code.html", errors={
            "code": [_("Mã không đúng hoặc đã được dùng. Hãy nhập mã 6 số đang hiện trong ứng dụng xác thực, "
                       "hoặc một mã khôi phục chưa dùng.")]}), 200
    next_path = safe_next(session.get("mfa_next"))
    auth_service.record_login(get_session(), user, address=client_address(), method=kind)
    login_user(user)
    if kind == "recovery":
        left = second_factor.recovery_codes_left(get_session(), user)
        flash(_("Bạn đã dùng một mã khôi phục; còn %(n)s mã. Hãy tạo mã mới nếu sắp hết.", n=left), "info")
    return redirect(next_path or url_for(home_for(user)))


# ------------------------------------------------------------------ the second-factor page

def _qr_data_uri(uri: str) -> str:
    """The otpauth:// URI as a QR image drawn by the QR service (market40's own QR code, no outside service)."""
    return qr_service.png_data_uri(uri, pixels=264)


def _grouped(secret: str) -> str:
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def _setup_page(errors: dict[str, list[str]], status: int = 200) -> Any:
    """The enrolment step: a new secret (kept sealed in the session until confirmed), its QR code."""
    key = current_app.config["SECOND_FACTOR_KEY"]
    sealed = session.get("mfa_setup")
    secret = None
    if isinstance(sealed, str):
        try:
            secret = second_factor.open_secret(sealed, key=key)
        except Conflict:
            secret = None
    if secret is None:
        secret = second_factor.new_secret()
        session["mfa_setup"] = second_factor.seal_secret(secret, key=key)
    uri = second_factor.provisioning_uri(secret, g.user.username)
    return render_template("auth/second_factor_setup.html", qr=_qr_data_uri(uri), secret=_grouped(secret),
                           errors=errors, required=second_factor.is_required(g.user, second_factor_roles())), status


def _codes_page(codes: list[str]) -> Any:
    attempt_succeeded()  # a right code: it does not count against the limit
    return render_template("auth/recovery_codes.html", codes=codes)


@bp.route("/2fa", methods=["GET", "POST"], endpoint="second_factor")
@roles_required(*ALL_ROLES)
def second_factor_page() -> Any:
    user, db = g.user, get_session()
    key, address = current_app.config["SECOND_FACTOR_KEY"], client_address()
    if not second_factor.is_enrolled(user):
        if request.method == "GET":
            return _setup_page({})
        sealed = session.get("mfa_setup")
        if not isinstance(sealed, str):
            return _setup_page({})
        try:
            codes = second_factor.confirm_enrolment(db, user, sealed, request.form.get("code", ""), key=key,
                                                    now=_now(), address=address)
        except ValidationError:
            return _setup_page({"code": [_("Mã không đúng. Hãy nhập mã 6 số ứng dụng đang hiện cho tài khoản "
                                           "vừa thêm.")]})
        db.flush()
        login_user(user)  # the new epoch: every other session has ended
        return _codes_page(codes)
    if request.method == "GET":
        return render_template("auth/second_factor.html", errors={},
                               left=second_factor.recovery_codes_left(db, user),
                               required=second_factor.is_required(user, second_factor_roles()))
    action, code = request.form.get("action"), request.form.get("code", "")
    try:
        if action == "renew":
            codes = second_factor.renew_recovery_codes(db, user, code, key=key, now=_now(), address=address)
            return _codes_page(codes)
        if action == "disable":
            second_factor.disable(db, user, code, roles=second_factor_roles(), key=key, now=_now(), address=address)
            db.flush()
            login_user(user)
            flash(_("Đã tắt xác thực hai lớp."), "success")
            return redirect(url_for("auth.second_factor"))
    except (ValidationError, Conflict):
        return render_template("auth/second_factor.html", left=second_factor.recovery_codes_left(db, user),
                               required=second_factor.is_required(user, second_factor_roles()),
                               errors={"code": [_("Mã không đúng hoặc đã được dùng.")]})
    except Forbidden:
        flash(_("Vai trò của bạn bắt buộc dùng xác thực hai lớp."), "error")
    return redirect(url_for("auth.second_factor"))


@bp.post("/logout")
@roles_required(*ALL_ROLES)
def logout() -> Any:
    auth_service.record_logout(get_session(), g.user, address=client_address())
    logout_user()
    flash(_("Bạn đã đăng xuất."), "info")
    return redirect(url_for("auth.login"))


#: The enrolment form's fields in the order the page shows them (errors are listed in this order).
ENROL_ORDER = ("market", "stall", "code", "phone", "password", "password2", "consent", "_form")


def _in_order(errors: dict[str, list[str]], order: tuple[str, ...]) -> dict[str, list[str]]:
    """``errors`` with its fields in the form's order (the summary lists them top to bottom)."""
    return {name: errors[name] for name in sorted(errors, key=lambda n: order.index(n) if n in order else len(order))}


def _enrol_form(values: dict[str, str], errors: dict[str, list[str]], status: int = 200) -> Any:
    db = get_session()
    markets = auth_service.enrolment_markets(db)
    market = values.get("market", "")
    stalls = auth_service.enrolment_stalls(db, market) if market else []
    return render_template("auth/enrol.html", markets=markets, values=values, errors=_in_order(errors, ENROL_ORDER),
                           stalls=stalls, consent=consent.sections()), status


@bp.get("/enrol/stalls")
@public
def enrol_stalls() -> Any:
    """The stall picker's list for one market (JavaScript fills the picker without reloading the page)."""
    market = request.args.get("market", "")[:16]
    return jsonify(stalls=[{"code": code, "shop": shop}
                           for code, shop in auth_service.enrolment_stalls(get_session(), market)])


@bp.route("/enrol", methods=["GET", "POST"])
@public
def enrol() -> Any:
    if request.method == "GET":
        # From the slip's QR code: market and stall filled in (never the code: it stays on paper).
        values = {name: request.args.get(name, "")[:32] for name in ("market", "stall")}
        return _enrol_form({k: v for k, v in values.items() if v}, {})
    form = request.form
    typed = {name: form.get(name, "") for name in ("market", "stall", "code", "phone")}
    values = {name: text[:200] for name, text in typed.items()}  # shown again; the service reads it whole
    if form.get("consent") == "yes":
        values["consent"] = "yes"
    if form.get("action") == "market":  # step one without JavaScript: the market chosen, show its stalls
        return _enrol_form(values, {})
    password, password2 = form.get("password", ""), form.get("password2", "")
    errors: dict[str, list[str]] = {}
    if password != password2:
        errors["password2"] = [_("Hai lần nhập mật khẩu không giống nhau.")]
    try:
        user = auth_service.enroll_owner(
            get_session(), current_app.config["ENROLLMENT_KEY"], typed["market"], typed["stall"], typed["code"],
            typed["phone"], password, form.get("consent") == "yes", consent_text=consent.as_text(),
            channel="web", language=current_language(), address=client_address(),
            check_only=bool(errors))
        if not errors and user is not None:
            get_session().flush()
    except ValidationError as error:
        return _enrol_form(values, {**form_errors(error, ENROL_FIELDS), **errors})
    except IntegrityError:  # the same phone enrolled for another stall at the same moment
        get_session().rollback()
        return _enrol_form(values, {**errors, "phone": [_("Số điện thoại này đã dùng cho một tài khoản khác. "
                                                          "Hãy nhờ cán bộ ngân hàng giúp.")]})
    except Conflict:
        return _enrol_form(values, {**errors, "phone": [_("Số điện thoại này đã dùng cho một tài khoản khác. "
                                                          "Hãy nhờ cán bộ ngân hàng giúp.")]})
    if errors or user is None:
        return _enrol_form(values, errors)
    login_user(user)
    flash(_("Đăng ký thành công. Bây giờ hãy đăng ký tài khoản nhận tiền của sạp."), "success")
    return redirect(url_for("owner.status"))


# ------------------------------------------------------------------ a forgotten password

@bp.route("/forgot", methods=["GET", "POST"])
@public
def forgot() -> Any:
    """Step one: the phone. The same answer whether or not it has an account (counted per phone)."""
    available = getattr(sender(), "available", True)
    if request.method == "GET":
        return render_template("auth/forgot.html", values={}, errors={}, available=available)
    phone = request.form.get("phone", "")
    if not phone.strip():
        return render_template("auth/forgot.html", values={}, available=available,
                               errors={"phone": [_("Hãy nhập số điện thoại bạn dùng để đăng nhập.")]})
    recovery.request_reset(get_session(), sender(), phone, key=current_app.config["ENROLLMENT_KEY"],
                           address=client_address())
    return render_template("auth/reset.html", values={"phone": phone[:20]}, errors={}, sent=True,
                           available=available)


@bp.route("/forgot/reset", methods=["GET", "POST"], endpoint="reset")
@public
def reset() -> Any:
    """Step two: the code from the message and a new password; every old session ends."""
    if request.method == "GET":
        return render_template("auth/reset.html", values={}, errors={}, sent=False, available=True)
    form = request.form
    values = {"phone": form.get("phone", "")[:20], "code": form.get("code", "")[:20]}
    errors: dict[str, list[str]] = {}
    if form.get("new_password", "") != form.get("new_password2", ""):
        errors["new_password2"] = [_("Hai lần nhập mật khẩu mới không giống nhau.")]
    try:
        if errors:  # still check the rest, so every problem shows at once
            auth_service.check_new_password(form.get("new_password", ""), field="new_password")
        else:
            recovery.reset_password(get_session(), form.get("phone", ""), form.get("code", ""),
                                    form.get("new_password", ""), key=current_app.config["ENROLLMENT_KEY"],
                                    address=client_address())
    except recovery.ResetRefused:
        errors = {"code": [_("Mã không đúng, đã dùng hoặc đã hết hạn. Hãy kiểm tra số điện thoại, hoặc xin mã "
                             "mới.")], **errors}
    except ValidationError as error:
        errors = {**form_errors(error, RESET_FIELDS), **errors}
    if errors:
        order = ("phone", "code", "new_password", "new_password2", "_form")
        return render_template("auth/reset.html", values=values, errors=_in_order(errors, order), sent=False,
                               available=True)
    flash(_("Đã đặt mật khẩu mới. Mọi phiên đăng nhập cũ đã kết thúc; hãy đăng nhập bằng mật khẩu mới."),
          "success")
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
@roles_required(*ALL_ROLES)
def password() -> Any:
    if request.method == "GET":
        return render_template("auth/password.html", errors={})
    form = request.form
    if form.get("new_password", "") != form.get("new_password2", ""):
        return render_template("auth/password.html",
                               errors={"new_password2": [_("Hai lần nhập mật khẩu mới không giống nhau.")]})
    try:
        auth_service.change_password(get_session(), g.user, form.get("current_password", ""),
                                     form.get("new_password", ""), address=client_address())
    except ValidationError as error:
        return render_template("auth/password.html", errors=form_errors(error, PASSWORD_FIELDS))
    login_user(g.user)  # this session continues under the new epoch; every other one has ended
    flash(_("Đã đổi mật khẩu. Các phiên đăng nhập khác đã kết thúc."), "success")
    return redirect(url_for(home_for(g.user)))


@bp.get("/privacy")
@public
def privacy() -> Any:
    return render_template("auth/privacy.html", consent=consent.sections())
