"""Administrators: users, their roles and what each may see (markets, localities, a stall)."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from market40.exceptions import Conflict, NotFound, ValidationError
from market40.services.registry import ROLES
from market40.services import auth as auth_service
from market40.services.registry import OwnerExists

from .db import actor, get_session, registry
from .messages import USER_FIELDS, form_errors
from .security import roles_required

bp = Blueprint("admin", __name__, url_prefix="/admin")

FIELDS = ("username", "display_name", "role", "phone", "markets", "localities", "stall")


def _codes(text: str) -> list[str]:
    return [c.strip() for c in text.replace(";", ",").split(",") if c.strip()]


@bp.get("/users")
@roles_required("admin")
def users() -> Any:
    return render_template("admin/users.html", users=registry().users())


@bp.route("/users/new", methods=["GET", "POST"])
@roles_required("admin")
def new_user() -> Any:
    if request.method == "GET":
        return render_template("admin/user_new.html", values={}, errors={}, roles=ROLES)
    form = request.form
    values = {name: form.get(name, "")[:200] for name in FIELDS}
    try:
        registry().add_user(values["username"], values["role"], display_name=values["display_name"] or None,
                            password=form.get("password") or None, phone=values["phone"] or None,
                            markets=_codes(values["markets"]), localities=_codes(values["localities"]),
                            stall=values["stall"] or None)
    except ValidationError as error:
        return render_template("admin/user_new.html", values=values, errors=form_errors(error, USER_FIELDS),
                               roles=ROLES)
    except NotFound:
        get_session().rollback()
        return render_template("admin/user_new.html", values=values, roles=ROLES, errors={
            "_form": [_("Không tìm thấy chợ, địa phương hoặc sạp đã nhập. Hãy kiểm tra các mã.")]})
    except OwnerExists:
        get_session().rollback()
        return render_template("admin/user_new.html", values=values, roles=ROLES, errors={"stall": [
            _("Sạp này đã có tài khoản đăng nhập của chủ sạp (mỗi sạp một tài khoản). Để đổi số điện thoại hoặc "
              "mật khẩu, hãy cấp mã đăng ký mới cho sạp.")]})
    except Conflict:
        get_session().rollback()
        return render_template("admin/user_new.html", values=values, roles=ROLES,
                               errors={"username": [_("Tên đăng nhập này đã có.")]})
    flash(_("Đã tạo người dùng %(name)s.", name=values["username"].strip().lower()), "success")
    return redirect(url_for("admin.users"))


@bp.post("/users/<username>/active")
@roles_required("admin")
def set_active(username: str) -> Any:
    active = request.form.get("active") == "1"
    try:
        auth_service.set_active(get_session(), actor(), username, active)
    except Conflict:
        flash(_("Bạn không thể tự khoá tài khoản của mình."), "error")
        return redirect(url_for("admin.users"))
    flash(_("Đã mở khoá %(name)s.", name=username) if active else
          _("Đã khoá %(name)s. Mọi phiên đăng nhập của người này đã kết thúc.", name=username), "success")
    return redirect(url_for("admin.users"))
