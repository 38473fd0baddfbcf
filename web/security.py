"""Sessions that can be ended, roles, CSRF, rate limits, security headers and error pages.

What each piece answers for (OWASP ASVS 5.0, field-notes §5):

* **Session cookie** (3.3.1, 3.3.4, 3.3.2): ``HttpOnly``, ``SameSite=Lax``; ``Secure`` with the
  ``__Host-`` prefix when the request came over TLS (or always, ``TLS=always``).
* **Revocable sessions** (7.4.1, 7.4.2): the signed cookie carries the user's
  ``session_epoch``; every request checks it against the database, so logout, a password
  change or disabling the user ends every copy of the cookie.
* **Timeouts** (7.3.1, 7.3.2): idle (``IDLE_TIMEOUT``) and absolute (``ABSOLUTE_TIMEOUT``),
  measured with the app's ``CLOCK`` so tests can move time.
* **New session at login** (7.2.4): :func:`login_user` clears the old one first.
* **CSRF** (3.5.1): Flask-WTF on every POST; no state change on GET (3.5.3).
* **Rate limits** (6.3.1, 2.4.1, 6.6.3): failed attempts at login, enrolment and the second-factor
  step are counted with ``limits`` (memory, or Redis to share them between processes), keyed on
  the *normalised* identity, the very value the service looks up (a username however it is
  typed, a stall, a phone), with the address, per account, and per address; counted atomically
  *before* the attempt runs (a success gives its count back), so simultaneous tries cannot pass
  together; a 429 in Vietnamese.
* **Second factor** (6.3.3): users whose role requires it and who have not enrolled can reach
  nothing but the enrolment page (:func:`_second_factor_gate`).
* **Headers** (3.4.x, 14.3.2): CSP without inline script, ``frame-ancestors 'none'``,
  nosniff, HSTS on TLS, ``Cache-Control: no-store`` on everything but static files and the
  owner's own QR image (the symbol printed on their public poster): ``private, no-cache`` with
  an ETag, so the owner's browser keeps it but asks again, signed in, on every view (a 304 if
  unchanged; after logout the request is refused like any other).
* **Authorisation** (8.2.1): :func:`roles_required` on every view; data-level scope is the
  registry's (owners their stall, staff their markets, officers their localities).
"""
from __future__ import annotations

import functools
import hashlib
import time
from typing import Any, Callable
from urllib.parse import urlsplit

from flask import Flask, abort, current_app, flash, g, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from itsdangerous.signer import HMACAlgorithm
from itsdangerous.encoding import want_bytes
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

from market40.exceptions import Forbidden, NotFound
from market40.services import auth as auth_service
from market40.services import second_factor

from .db import get_session
from .errors import error_page

__all__ = ["init_app", "apply_rate_limits", "AttemptLimiter", "needs_second_factor_setup", "roles_required", "public", "login_user", "logout_user",
           "home_for", "client_address", "PUBLIC_ENDPOINTS"]

SESSION_COOKIE = "market40"
SESSION_COOKIE_TLS = "__Host-market40"
#: How often the "last seen" time in the cookie is refreshed (seconds): not on every request.
SEEN_RESOLUTION = 60

CSP = "; ".join([
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "connect-src 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
])
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
HSTS = "max-age=31536000; includeSubDomains"

#: Endpoints anyone may reach (everything else names its roles with :func:`roles_required`).
PUBLIC_ENDPOINTS: set[str] = {"static"}


def _tls(app: Flask) -> bool:
    mode = app.config.get("TLS", "auto")
    if mode == "always":
        return True
    if mode == "never":
        return False
    from flask import has_request_context
    if not has_request_context():
        return False
    found = g.get("_tls")  # asked four times a request (cookie name, Secure flag, headers)
    if found is None:
        found = g._tls = bool(request.is_secure)
    return found


class _KeyedSigner(TimestampSigner):
    """itsdangerous' timestamp signer with its derived keys remembered.

    A derived key is a function of the secret, the salt, the derivation and the digest only, yet
    itsdangerous derives it again (a hash or an HMAC) for every cookie and token it signs or checks.
    Signatures, their format and their checks are itsdangerous' own, unchanged.
    """

    _keys: dict[tuple[Any, ...], bytes] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Flask and itsdangerous name SHA-1 through a Python function (``_lazy_sha1``, for FIPS builds), which
        # sends every HMAC down the standard library's pure-Python path; OpenSSL's own SHA-1 gives the same bytes
        if getattr(self.digest_method, "__name__", "") == "_lazy_sha1":
            self.digest_method = hashlib.sha1
            if isinstance(self.algorithm, HMACAlgorithm):
                self.algorithm = HMACAlgorithm(hashlib.sha1)

    def derive_key(self, secret_key: Any = None) -> bytes:
        secret = self.secret_keys[-1] if secret_key is None else want_bytes(secret_key)
        key = (secret, self.salt, self.key_derivation, self.digest_method)
        found = self._keys.get(key)
        if found is None:
            if len(self._keys) > 64:
                self._keys.clear()
            found = self._keys[key] = super().derive_key(secret_key)
        return found


def _keyed(serializer: Any) -> Any:
    """``serializer`` signing with :class:`_KeyedSigner`, one signer per salt (signers keep no state)."""
    serializer.signer = _KeyedSigner
    serializer.make_signer = functools.lru_cache(maxsize=8)(serializer.make_signer)
    return serializer


_CSRF_SERIALIZERS: dict[Any, Any] = {}


def _csrf_serializer(secret: Any) -> Any:
    """The serializer Flask-WTF signs CSRF tokens with (same secret, salt and format), built once per secret."""
    found = _CSRF_SERIALIZERS.get(secret)
    if found is None:
        if len(_CSRF_SERIALIZERS) > 8:
            _CSRF_SERIALIZERS.clear()
        found = _CSRF_SERIALIZERS[secret] = _keyed(URLSafeTimedSerializer(secret, salt="wtf-csrf-token"))
    return found


class SessionInterface(SecureCookieSessionInterface):
    """Signed-cookie sessions whose name and ``Secure`` flag follow the transport."""

    def get_cookie_name(self, app: Flask) -> str:
        return SESSION_COOKIE_TLS if _tls(app) else SESSION_COOKIE

    def get_cookie_secure(self, app: Flask) -> bool:
        return _tls(app)

    def get_signing_serializer(self, app: Flask) -> Any:
        """Flask's serializer, built once per secret (and fallbacks) instead of on every request."""
        key = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        cached = app.extensions.get("market40.session_serializer")
        if cached is None or cached[0] != key:
            serializer = super().get_signing_serializer(app)
            cached = app.extensions["market40.session_serializer"] = (key, serializer and _keyed(serializer))
        return cached[1]


csrf = CSRFProtect()

#: Signed CSRF tokens by (secret, the session's raw token): signing one costs a key derivation and an
#: HMAC on every page with a form; the same session gets the same valid token back (bounded, per process).
_CSRF_SIGNED: dict[tuple[str, str], tuple[str, float]] = {}
_CSRF_CACHE_SIZE = 20_000


def csrf_token() -> str:
    """The page's CSRF token (Flask-WTF's, signed once per session rather than once per render).

    With a token time limit, a cached token is reused only for the first half of its life.
    Validation is Flask-WTF's own, unchanged: the token is still bound to this session's secret.
    """
    from flask_wtf.csrf import generate_csrf
    config = current_app.config
    field = config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    if field in g:
        return g.get(field)
    raw = session.get(field)
    secret = config.get("WTF_CSRF_SECRET_KEY") or current_app.secret_key
    limit = config.get("WTF_CSRF_TIME_LIMIT", 3600)
    key = (str(secret), raw) if isinstance(raw, str) else None
    found = _CSRF_SIGNED.get(key) if key else None
    now = time.monotonic()
    if found is not None and (limit is None or now - found[1] < limit / 2):
        setattr(g, field, found[0])
        return found[0]
    if key is not None:  # the session has its raw token: signed as Flask-WTF signs it, with a remembered key
        token = _csrf_serializer(secret).dumps(raw)
        setattr(g, field, token)
    else:
        token = generate_csrf()  # makes the session's raw token
    raw = session.get(field)
    if isinstance(raw, str):
        if len(_CSRF_SIGNED) >= _CSRF_CACHE_SIZE:
            _CSRF_SIGNED.clear()
        _CSRF_SIGNED[(str(secret), raw)] = (token, now)
    return token


def client_address() -> str:
    return request.remote_addr or "unknown"


def _now() -> float:
    return float(current_app.config["CLOCK"]())


# ------------------------------------------------------------------ sessions

def login_user(user: Any) -> None:
    """A brand-new session for ``user`` (the old one, CSRF token included, is dropped)."""
    session.clear()
    g.user = user
    session.permanent = True
    now = int(_now())
    session.update({"uid": user.id, "epoch": user.session_epoch, "iat": now, "seen": now})


def logout_user() -> None:
    session.clear()


def _load_user() -> None:
    g.user = None
    if request.endpoint == "static" or "uid" not in session:
        return
    now = _now()
    iat, seen = session.get("iat"), session.get("seen")
    config = current_app.config
    fresh = isinstance(iat, (int, float)) and isinstance(seen, (int, float)) and \
        now - iat <= config["ABSOLUTE_TIMEOUT"] and now - seen <= config["IDLE_TIMEOUT"]
    reads = _driver_reads() if fresh else None
    if reads is not None:  # an owner's read-only page: read on the driver, no ORM session (see driver_reads)
        from market40.services.owner_page import read_session_page

        from .db import driver_cursor
        extra, page = reads.get(request.endpoint), None
        with driver_cursor() as (cursor, dialect):
            page = read_session_page(cursor, dialect, session.get("uid"), session.get("epoch"))
            if page is not None and page.user.role == "owner" and page.stall is not None:
                g.owner_read, g.owner_extra = page, (extra(cursor, dialect, page) if extra else None)
        if page is None:
            session.clear()
            g.session_ended = "revoked"
            return
        if page.stall is not None and page.user.role == "owner":
            g.user = page.user
            if now - seen >= SEEN_RESOLUTION:
                session["seen"] = int(now)
            return
        # anyone else (another role refused by the view, an owner without a stall): the ORM's user below
    user, g.owner_view = (auth_service.session_user_view(get_session(), session.get("uid"), session.get("epoch"))
                          if fresh else (None, None))
    if user is None:
        session.clear()
        g.session_ended = "expired" if not fresh else "revoked"
        return
    g.user = user
    if now - seen >= SEEN_RESOLUTION:
        session["seen"] = int(now)


def driver_reads(app: Flask, reads: dict[str, Any]) -> None:
    """Endpoints (GET and HEAD) whose signed-in owner is read on the driver: one SELECT, no ORM session.

    ``reads`` maps each endpoint to None or to ``read(cursor, dialect, page)``, a further read-only look-up
    made on the same connection (its answer in ``g.owner_extra``). There, ``g.user`` is a read-only
    :class:`~market40.services.owner_page.Record` and ``g.owner_read`` the owner's stall, market and
    accounts; the checks are the same (session epoch, active user, timeouts, the stall from the user's
    own row). Users who are not owners with a stall are read with the ORM as everywhere else.
    ``DRIVER_READS = False`` in the configuration turns it off.
    """
    app.extensions.setdefault("market40.driver_reads", {}).update(reads)


def _driver_reads() -> dict[str, Any] | None:
    if request.method not in ("GET", "HEAD") or not current_app.config.get("DRIVER_READS", True):
        return None
    reads = current_app.extensions.get("market40.driver_reads")
    return reads if reads and request.endpoint in reads else None


def home_for(user: Any) -> str:
    """Where a user lands after login."""
    return {"owner": "owner.status", "staff": "staff.index", "officer": "officer.index",
            "admin": "admin.users", "board": "board.index"}.get(user.role, "auth.login")


def safe_next(target: str | None) -> str | None:
    """A local path to go back to after login, or None (no open redirects)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    if not target.isascii() or not target.isprintable():  # CRLF would split the Location header
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def roles_required(*roles: str) -> Callable:
    """Only signed-in users with one of ``roles`` (admins everywhere but the owner pages)."""
    allowed = frozenset(roles)

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            user = g.get("user")
            if user is None:
                if g.get("session_ended") == "expired":
                    flash(_("Phiên đăng nhập đã hết hạn. Vui lòng đăng nhập lại."), "info")
                next_path = request.full_path if request.method == "GET" else None
                return redirect(url_for("auth.login", next=safe_next(next_path and next_path.rstrip("?"))))
            if user.role not in allowed:
                from market40.services.auth import record_denied
                record_denied(get_session(), user, route=request.endpoint or "",
                              detail=f"{request.method} {request.path[:200]} as {user.role}")
                abort(403)
            return view(*args, **kwargs)

        wrapped.roles = allowed  # type: ignore[attr-defined]
        return wrapped
    return decorator


def public(view: Callable) -> Callable:
    """Marks a view reachable without signing in (listed for the route-scope test)."""
    view.public = True  # type: ignore[attr-defined]
    return view


# ------------------------------------------------------------------ headers

_HEADER_ITEMS = tuple(HEADERS.items())
_HEADER_NAMES = frozenset(name.lower() for name in HEADERS)


def _headers(response: Any) -> Any:
    headers = response.headers
    present = {name.lower() for name, _ in headers} & _HEADER_NAMES
    if present:  # a view set one of them itself: keep its value
        for name, value in _HEADER_ITEMS:
            headers.setdefault(name, value)
    else:  # the usual case: all seven at once, no look-up per header
        headers.extend(_HEADER_ITEMS)
    if _tls(current_app):
        response.headers["Strict-Transport-Security"] = HSTS
    if g.get("revalidate") and response.status_code in (200, 304):
        response.headers["Cache-Control"] = "private, no-cache"
    elif request.endpoint != "static":
        response.headers["Cache-Control"] = "no-store"
        response.headers.pop("Expires", None)
    return response


# ------------------------------------------------------------------ second factor

#: What a user who must enrol a second factor may still reach.
SETUP_ENDPOINTS = {"static", "auth.second_factor", "auth.logout", "auth.privacy"}


def second_factor_roles(app: Flask | None = None) -> tuple[str, ...]:
    return (app or current_app).extensions["market40.2fa_roles"]


def needs_second_factor_setup(user: Any) -> bool:
    return second_factor.is_required(user, second_factor_roles()) and not second_factor.is_enrolled(user)


def _second_factor_gate() -> Any:
    """Required and not enrolled: the enrolment page before anything else."""
    user = g.get("user")
    if user is None or request.endpoint in SETUP_ENDPOINTS or not needs_second_factor_setup(user):
        return None
    if request.method == "GET":
        flash(_("Vai trò của bạn cần xác thực hai lớp. Hãy thiết lập trước khi tiếp tục."), "info")
    return redirect(url_for("auth.second_factor"))


# ------------------------------------------------------------------ rate limits

def _digest(*values: str) -> str:
    # Hash what identifies someone: the limiter's storage must not become a list of phones.
    return hashlib.sha256("\x00".join(values).encode("utf-8")).hexdigest()[:32]


def _login_name() -> str:
    """The account a login form names, exactly as :func:`auth_service.authenticate` finds it."""
    return auth_service.normalize_username(request.form.get("username", ""))


def _login_keys() -> list[tuple[str, str]]:
    name, address = _digest(_login_name()), client_address()
    return [("RATELIMIT_LOGIN", f"login:{name}@{address}"), ("RATELIMIT_LOGIN_ACCOUNT", f"account:{name}"),
            ("RATELIMIT_LOGIN_ADDRESS", f"login-from:{address}")]


def _enrol_keys() -> list[tuple[str, str]]:
    form, address = request.form, client_address()
    stall, phone = auth_service.enrolment_identity(form.get("market", ""), form.get("stall", ""),
                                                   form.get("phone", ""))
    return [("RATELIMIT_ENROL", f"enrol-stall:{_digest(stall)}@{address}"),
            ("RATELIMIT_ENROL", f"enrol-phone:{_digest(phone)}@{address}"),
            ("RATELIMIT_ENROL_ADDRESS", f"enrol-from:{address}")]


def _second_factor_keys() -> list[tuple[str, str]]:
    uid = session.get("mfa_uid") or session.get("uid")
    who = f"user:{uid}" if isinstance(uid, int) else f"anonymous@{client_address()}"
    return [("RATELIMIT_SECOND_FACTOR", f"2fa:{who}")]


def _reset_phone() -> str:
    """The login a reset form names, as the recovery service finds it (any spelling of the phone)."""
    return _digest(auth_service.normalize_username(request.form.get("phone", "")))


def _forgot_keys() -> list[tuple[str, str]]:
    # Each request may send a paid SMS: counted per phone whatever the address, and per address.
    address = client_address()
    return [("RATELIMIT_RESET_REQUEST", f"reset-request:{_reset_phone()}"),
            ("RATELIMIT_RESET_ADDRESS", f"reset-from:{address}")]


def _reset_keys() -> list[tuple[str, str]]:
    address = client_address()
    return [("RATELIMIT_RESET", f"reset:{_reset_phone()}"), ("RATELIMIT_RESET_ADDRESS", f"reset-from:{address}")]


#: Endpoint → the limits its POSTs are counted against.
LIMITED: dict[str, Callable[[], list[tuple[str, str]]]] = {
    "auth.forgot": _forgot_keys,
    "auth.reset": _reset_keys,
    "auth.login": _login_keys,
    "auth.enrol": _enrol_keys,
    "auth.login_code": _second_factor_keys,
    "auth.second_factor": _second_factor_keys,
}


class AttemptLimiter:
    """Fixed-window counters (``limits``) taken *before* an attempt runs and given back after a success.

    Taking first makes the count atomic: of N simultaneous tries against a limit of L, at most
    L run, whatever the timing (the storage's increment is atomic: a lock in memory, INCRBY
    in Redis). A try that is refused gives back what it took, so hammering a closed door does
    not use up the account's daily allowance.
    """

    def __init__(self, storage_uri: str) -> None:
        from limits import parse_many
        from limits.storage import storage_from_string
        from limits.strategies import FixedWindowRateLimiter
        self.storage = storage_from_string(storage_uri)
        self.strategy = FixedWindowRateLimiter(self.storage)
        self._parse = functools.lru_cache(maxsize=64)(lambda spec: tuple(parse_many(spec)))

    def take(self, checks: list[tuple[str, str]]) -> tuple[list[tuple[Any, str]], float | None]:
        """Count one attempt under every (limit spec, key); ([taken], None), or ([], seconds to wait)."""
        taken: list[tuple[Any, str]] = []
        for spec, key in checks:
            for item in self._parse(spec):
                allowed = self.strategy.hit(item, key)
                taken.append((item, key))
                if not allowed:
                    reset = self.strategy.get_window_stats(item, key).reset_time
                    self.give_back(taken)
                    return [], max(1.0, reset - time.time())
        return taken, None

    def give_back(self, taken: list[tuple[Any, str]]) -> None:
        for item, key in taken:
            name = item.key_for(key)
            decr = getattr(self.storage, "decr", None)
            if decr is not None:
                decr(name)
            else:  # Redis: INCRBY -1 (atomic too)
                self.storage.incr(name, item.get_expiry(), amount=-1)


def _count_attempt() -> Any:
    keys = LIMITED.get(request.endpoint or "") if request.method == "POST" else None
    if keys is None:
        return None
    config = current_app.config
    checks = [(config[setting], key) for setting, key in keys() if config.get(setting)]
    taken, wait = current_app.extensions["market40.limits"].take(checks)
    if wait is not None:
        return _too_many(wait)
    g.attempt_taken = taken
    return None


def attempt_succeeded() -> None:
    """A limited view that answers a success with a page (not a redirect) says so here."""
    g.attempt_succeeded = True


def _settle_attempt(response: Any) -> Any:
    """Only attempts that did not get in count (a success redirects, or the view says so)."""
    taken = g.pop("attempt_taken", None)
    if taken and (response.status_code == 302 or g.get("attempt_succeeded")):
        current_app.extensions["market40.limits"].give_back(taken)
    return response


def apply_rate_limits(app: Flask) -> AttemptLimiter:
    """One limiter per app (its own storage), on the login, enrolment and second-factor views."""
    limiter = AttemptLimiter(app.config["RATELIMIT_STORAGE_URI"])
    app.extensions["market40.limits"] = limiter
    app.before_request(_count_attempt)
    app.after_request(_settle_attempt)
    return limiter


# ------------------------------------------------------------------ error pages

def _http_error(error: HTTPException) -> Any:
    if error.code is None or error.code < 400:
        return error
    return error_page(error.code)


def _csrf_error(error: CSRFError) -> Any:
    return error_page(400, _("Biểu mẫu đã hết hạn hoặc không hợp lệ. Hãy tải lại trang rồi gửi lại."))


def _too_many(seconds: float) -> Any:
    minutes = max(1, round(seconds / 60))
    body, status = error_page(429, minutes=minutes)
    response = current_app.make_response((body, status))
    response.headers["Retry-After"] = str(max(1, int(seconds + 0.999)))
    return response


def _forbidden(error: Forbidden) -> Any:
    return error_page(403)


def _not_found(error: NotFound) -> Any:
    return error_page(404)


def _server_error(error: Exception) -> Any:
    return error_page(500)


def init_app(app: Flask) -> None:
    app.session_interface = SessionInterface()
    app.config["PERMANENT_SESSION_LIFETIME"] = app.config["ABSOLUTE_TIMEOUT"]
    proxies = int(app.config.get("PROXIES") or 0)
    if proxies:
        from werkzeug.middleware.proxy_fix import ProxyFix
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)  # type: ignore
    csrf.init_app(app)
    app.jinja_env.globals["csrf_token"] = csrf_token  # Flask-WTF's, cached per session
    app.before_request(_load_user)
    app.before_request(_second_factor_gate)
    app.extensions["market40.2fa_roles"] = second_factor.parse_roles(app.config.get("SECOND_FACTOR_ROLES"))
    app.after_request(_headers)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Forbidden, _forbidden)
    app.register_error_handler(NotFound, _not_found)
    app.register_error_handler(500, _server_error)

    @app.context_processor
    def _context() -> dict[str, Any]:
        # csrf_token: Flask-WTF's own context processor (registered before this one) would sign a new
        # token on every render; this one, cached per session, replaces it
        return {"current_user": g.get("user"), "home_for": home_for, "csrf_token": csrf_token}
