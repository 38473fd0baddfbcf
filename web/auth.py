"""Signing in and out, owner enrolment with the one-time code, password change, the privacy notice."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from market40.exceptions import Conflict, ValidationError
from market40.services import auth as auth_service

from . import consent
from .db import get_session
from .i18n import current_language
from .messages import ENROL_FIELDS, PASSWORD_FIELDS, form_errors
from .security import client_address, home_for, login_user, logout_user, public, roles_required, safe_next

bp = Blueprint("auth", __name__)

ALL_ROLES = ("owner", "staff", "officer", "admin")


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
    username = request.form.get("username", "")[:128]
    password = request.form.get("password", "")
    user = auth_service.authenticate(get_session(), username, password, address=client_address())
    if user is None:
        return render_template("auth/login.html", username=username, next=safe_next(request.form.get("next")),
                               error=_("Số điện thoại (tên đăng nhập) hoặc mật khẩu không đúng.")), 200
    login_user(user)
    return redirect(safe_next(request.form.get("next")) or url_for(home_for(user)))


@bp.post("/logout")
@roles_required(*ALL_ROLES)
def logout() -> Any:
    auth_service.record_logout(get_session(), g.user, address=client_address())
    logout_user()
    flash(_("Bạn đã đăng xuất."), "info")
    return redirect(url_for("auth.login"))


def _enrol_form(values: dict[str, str], errors: dict[str, list[str]], status: int = 200) -> Any:
    markets = auth_service.enrolment_markets(get_session())
    return render_template("auth/enrol.html", markets=markets, values=values, errors=errors,
                           consent=consent.sections()), status


@bp.route("/enrol", methods=["GET", "POST"])
@public
def enrol() -> Any:
    if request.method == "GET":
        return _enrol_form({}, {})
    form = request.form
    values = {name: form.get(name, "")[:200] for name in ("market", "stall", "code", "phone")}
    password, password2 = form.get("password", ""), form.get("password2", "")
    if password != password2:
        return _enrol_form(values, {"password2": [_("Hai lần nhập mật khẩu không giống nhau.")]})
    try:
        user = auth_service.enroll_owner(
            get_session(), current_app.config["ENROLLMENT_KEY"], values["market"], values["stall"], values["code"],
            values["phone"], password, form.get("consent") == "yes", consent_text=consent.as_text(),
            channel="web", language=current_language(), address=client_address())
        get_session().flush()
    except ValidationError as error:
        return _enrol_form(values, form_errors(error, ENROL_FIELDS))
    except IntegrityError:  # the same phone enrolled for another stall at the same moment
        get_session().rollback()
        return _enrol_form(values, {"phone": [_("Số điện thoại này đã dùng cho một tài khoản khác. Hãy nhờ cán bộ "
                                                "ngân hàng giúp.")]})
    except Conflict:
        return _enrol_form(values, {"phone": [_("Số điện thoại này đã dùng cho một tài khoản khác. Hãy nhờ cán bộ "
                                                "ngân hàng giúp.")]})
    login_user(user)
    flash(_("Đăng ký thành công. Bây giờ hãy đăng ký tài khoản nhận tiền của sạp."), "success")
    return redirect(url_for("owner.status"))


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
