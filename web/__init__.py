"""The market40 web app: stall owners enrol and register their account, staff review, officers read.

A thin door onto :mod:`market40.services` (design.md §4): one blueprint per feature,
templates named after their blueprint, no rules of its own beyond translating the
services' errors into Vietnamese.

Run it with ``market40 serve`` (waitress), or for development ``flask --app web run``.
Configuration comes from the environment (see :data:`ENVIRONMENT`), or from
``test_config`` in tests::

    app = create_app({"DATABASE_URL": "sqlite:///x.db", "SECRET_KEY": "...", "TESTING": True})
"""
from __future__ import annotations

import os
import time
from typing import Any, Mapping

from flask import Flask, templating

__all__ = ["create_app", "ENVIRONMENT"]

#: Environment variables read by :func:`create_app` (configuration lives at the edges).
ENVIRONMENT = {
    "MARKET40_DATABASE_URL": "the registry (a file path or postgresql:// URL); default ./market40.db",
    "MARKET40_SECRET_KEY": "signs sessions and keys enrollment-code hashes; default ./.market40-secret",
    "MARKET40_TLS": "auto (Secure cookies and HSTS when the request came over TLS), always, never",
    "MARKET40_PROXIES": "how many reverse proxies in front set X-Forwarded-For/-Proto (default 0)",
    "MARKET40_RATELIMIT_STORAGE": "rate-limit storage (limits), e.g. redis://localhost:6379 (default memory://)",
    "MARKET40_2FA_ROLES": "roles that must use a second factor (TOTP), comma-separated; default staff,officer,admin",
    "MARKET40_BREACHED_PASSWORDS_URL": "check new passwords against a breach range API, e.g. "
                                       "https://api.pwnedpasswords.com (default: off)",
    "MARKET40_TRUSTED_HOSTS": "comma-separated host names the app answers to (default: any)",
    "MARKET40_PUBLIC_URL": "the address owners reach the app at, printed with a QR code on onboarding slips "
                           "(default: the address of the staff member's request)",
    "MARKET40_SUPPORT_CONTACT": "whom owners call when their market has no board contact (printed on slips)",
    "MARKET40_SENDER": "how reset codes and notices reach owners: console (default), file:PATH or "
                       "module:Class (see market40.notify)",
    "MARKET40_WEBHOOKS": "JSON file of the bank-feed webhook sources and their secrets (live payments)",
    "MARKET40_LIVE_BUS": "fan-out of live payments: redis://…, postgresql://… or poll (default: the database)",
    "MARKET40_MQTT": "MQTT broker for hardware loa, e.g. mqtt://127.0.0.1:1883 (default: none)",
}

DEFAULTS: dict[str, Any] = {
    "TLS": "auto",
    "PROXIES": 0,
    # Sessions (ASVS 5.0 7.3.1, 7.3.2): ended after 30 idle minutes, and 12 hours after login at the latest.
    "IDLE_TIMEOUT": 30 * 60,
    "ABSOLUTE_TIMEOUT": 12 * 3600,
    "CLOCK": time.time,
    # Rate limits on failed attempts, keyed on the normalised identity (username, stall, phone)
    # *and* the address: a whole market may share one carrier address, so the address alone
    # would lock everyone out; the per-address limits are higher and stop sweeps over many names.
    "RATELIMIT_STORAGE_URI": "memory://",
    "RATELIMIT_LOGIN": "5 per minute;20 per hour",
    "RATELIMIT_LOGIN_ACCOUNT": "100 per day",
    "RATELIMIT_LOGIN_ADDRESS": "30 per minute;300 per hour",
    "RATELIMIT_ENROL": "5 per minute;20 per hour",
    "RATELIMIT_ENROL_ADDRESS": "30 per minute;300 per hour",
    # Forgotten passwords: a code request may cost an SMS (per phone, any address); tries per phone.
    "RATELIMIT_RESET_REQUEST": "3 per hour;6 per day",
    "RATELIMIT_RESET": "5 per minute;20 per hour",
    "RATELIMIT_RESET_ADDRESS": "30 per minute;300 per hour",
    "RATELIMIT_SECOND_FACTOR": "5 per minute;20 per hour",
    # Second factor (ASVS 6.3.3): None = every role but owners; owners may opt in.
    "SECOND_FACTOR_ROLES": None,
    "BREACHED_PASSWORDS_URL": None,
    "BABEL_DEFAULT_LOCALE": "vi",
    "BABEL_DEFAULT_TIMEZONE": "Asia/Ho_Chi_Minh",
    "LANGUAGES": ("vi", "en"),
    "WTF_CSRF_TIME_LIMIT": None,  # bound to the session, which has its own timeouts
    "MAX_CONTENT_LENGTH": 64 * 1024,  # no uploads: forms only
    "MAX_QR_UPLOAD_LENGTH": 12 * 1024 * 1024,  # except a photo of the owner's QR on the account form
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_REFRESH_EACH_REQUEST": False,
    "JSON_SORT_KEYS": False,
    # What the consent text says about keeping data (a deployment states its own rule).
    "RETENTION_MONTHS": 12,
    "CONTROLLER": None,  # who controls the data, for the consent text; default: "the partner bank"
}


def _cached_url_for(endpoint: str, **values: Any) -> str:
    """``url_for`` for templates, remembered: a page builds the same dozen links on every request.

    Only relative URLs are cached (they depend on the endpoint, the values and the script
    root, all in the key); the cache is dropped whole when it grows past 20,000 entries.
    Outside a render's context processor (see :func:`_bound_url_for`) it binds the request each call.
    """
    return _bound_url_for()(endpoint, **values)


def _bound_url_for() -> Any:
    """:func:`_cached_url_for` bound to this request once (per render: no context look-ups per link)."""
    from flask import current_app, request, url_for
    cache, root = current_app.extensions["market40.urls"], request.script_root

    def bound(endpoint: str, **values: Any) -> str:
        if endpoint.startswith(".") or values.get("_external"):
            return url_for(endpoint, **values)
        key = (root, endpoint, tuple(sorted(values.items())) if values else ())
        found = cache.get(key)
        if found is None:
            if len(cache) > 20_000:
                cache.clear()
            found = cache[key] = url_for(endpoint, **values)
        return found
    return bound


def _sync_once(app: Flask) -> Any:
    """``app.ensure_sync`` remembered per function: Flask asks ``inspect`` about each of a dozen hooks on
    every request, and the answer never changes for a function. At most 512 are remembered (views and
    hooks; a callback made per request, ``after_this_request``, just fills the rest and is asked again)."""
    original, known = app.ensure_sync, {}

    def ensure_sync(func: Any) -> Any:
        try:
            return known[func]
        except KeyError:
            found = original(func)
            if len(known) < 512:
                known[func] = found
            return found
        except TypeError:  # not hashable
            return original(func)
    return ensure_sync


class _Environment(templating.Environment):
    """Flask's Jinja environment, each template's globals a plain dict (the environment's, as they are when
    the template loads) instead of Jinja's ChainMap over them.

    Every render copies its template's globals into a new context, and an ``{% import %}`` compares their
    keys; over a ChainMap that walked every map for every key, ~40 CPU-µs of an owner's page view. The app
    sets all its globals while it is built, before any template loads, as Jinja asks ("avoid modifying any
    globals after a template is loaded"); a template's own globals still overlay the environment's.
    """

    def make_globals(self, d: Any) -> Any:
        return {**self.globals, **d} if d else dict(self.globals)


class _App(Flask):
    jinja_environment = _Environment


class TakeTurns:
    """WSGI middleware: under gevent, each request first lets the other connections' requests run.

    A gevent worker serves each connection in a greenlet that gives the hub back only when a read or a
    write would block. On a busy keep-alive connection the next request is already waiting when the
    last response is sent, so that greenlet serves request after request while the worker's other
    connections wait: wrk at 16 connections saw p50 1–17 ms but p99 0.3–1.7 s, the bare hello too.
    Waiting for the loop to go idle (``gevent.idle``: every ready socket and callback served once)
    before each request makes the connections take turns. The wait is bounded
    (:data:`TAKE_TURNS_SECONDS`): a loop that never goes idle (a download streaming, thousands of loa
    streams and webhooks) must not hold a request back for as long as it stays busy. Outside gevent
    (waitress, tests) the request runs straight through; the choice is made per process at its first
    request (gunicorn builds the app before forking, and each worker patches itself afterwards).
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.pid: int | None = None
        self.wait: Any = None

    def __call__(self, environ: Any, start_response: Any) -> Any:
        if self.pid != os.getpid():
            self.wait, self.pid = _gevent_idle(), os.getpid()
        if self.wait is not None:
            self.wait()
        return self.app(environ, start_response)


#: The longest a request waits for the other connections' turns (:class:`TakeTurns`). Any wait on a timer
#: runs the loop once (every ready socket served), which is all the fairness needs; on PostgreSQL, where a
#: loop with requests waiting on their queries is seldom idle, 20 ms halved the throughput of 2 processes
#: (bench_web: 378–395 req/s against 630–673 at 1 ms, p99 112–118 ms against 68–90), and on SQLite 1 ms
#: kept the tail (p99 19–22 ms at 1,678–1,773 req/s).
TAKE_TURNS_SECONDS = 0.001


def _gevent_idle() -> Any:
    """A wait for gevent's loop to go idle, at most :data:`TAKE_TURNS_SECONDS`, when this process runs on
    gevent's patched sockets; else None."""
    import sys
    monkey = sys.modules.get("gevent.monkey")
    if monkey is None or not monkey.is_module_patched("socket"):
        return None
    import gevent

    def wait() -> None:
        with gevent.Timeout(TAKE_TURNS_SECONDS, False):
            gevent.idle()
    return wait


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """The app, configured from the environment, then from ``test_config``."""
    app = _App(__name__)
    app.ensure_sync = _sync_once(app)  # type: ignore[method-assign]
    app.config.from_mapping(DEFAULTS)
    if test_config is None or "SECRET_KEY" not in test_config:
        from market40.config import secret_key
        app.config["SECRET_KEY"] = secret_key()
    app.config["ENROLLMENT_KEY"] = app.config["SECRET_KEY"]
    env = os.environ
    if env.get("MARKET40_TLS"):
        app.config["TLS"] = env["MARKET40_TLS"].strip().lower()
    if env.get("MARKET40_PROXIES"):
        app.config["PROXIES"] = int(env["MARKET40_PROXIES"])
    if env.get("MARKET40_RATELIMIT_STORAGE"):
        app.config["RATELIMIT_STORAGE_URI"] = env["MARKET40_RATELIMIT_STORAGE"]
    if env.get("MARKET40_2FA_ROLES") is not None:
        app.config["SECOND_FACTOR_ROLES"] = env["MARKET40_2FA_ROLES"]
    if env.get("MARKET40_BREACHED_PASSWORDS_URL"):
        app.config["BREACHED_PASSWORDS_URL"] = env["MARKET40_BREACHED_PASSWORDS_URL"].strip()
    if env.get("MARKET40_TRUSTED_HOSTS"):
        app.config["TRUSTED_HOSTS"] = [h.strip() for h in env["MARKET40_TRUSTED_HOSTS"].split(",") if h.strip()]
    from market40.config import public_url, support_contact
    app.config["PUBLIC_URL"] = public_url()
    app.config["SUPPORT_CONTACT"] = support_contact()
    if env.get("MARKET40_SENDER"):
        app.config["SENDER"] = env["MARKET40_SENDER"].strip()
    if test_config:
        app.config.update(test_config)
    if "ENROLLMENT_KEY" not in (test_config or {}):
        app.config["ENROLLMENT_KEY"] = app.config["SECRET_KEY"]
    app.config.setdefault("SECOND_FACTOR_KEY", app.config["SECRET_KEY"])
    if app.config.get("BREACHED_PASSWORDS_URL"):
        from market40.services import auth as auth_service
        auth_service.configure_breach_check(app.config["BREACHED_PASSWORDS_URL"])
    if app.config["TLS"] not in ("auto", "always", "never"):
        raise ValueError(f"TLS must be auto, always or never, got {app.config['TLS']!r}")

    from . import db, guards, i18n, owner as owner_pages, security
    db.init_app(app)
    i18n.init_app(app)
    owner_pages.allow_uploads(app)  # before the CSRF check reads the form
    security.init_app(app)
    guards.init_app(app)

    import market40
    app.jinja_env.globals["asset_version"] = market40.__version__
    app.extensions["market40.urls"] = {}
    app.jinja_env.globals["url_for"] = _cached_url_for

    @app.context_processor
    def _url_for_this_render() -> dict[str, Any]:
        from flask import has_request_context
        return {"url_for": _bound_url_for()} if has_request_context() else {}

    from . import admin, auth, board, live, officer, owner, staff
    for module in (auth, owner, staff, officer, admin, board, live):
        app.register_blueprint(module.bp)
    security.apply_rate_limits(app)
    live.init_app(app)  # live payments (issue 10): webhook sources, fan-out bus, stream hub
    app.wsgi_app = TakeTurns(app.wsgi_app)  # type: ignore[method-assign]
    return app
