"""The owner's status page and QR image read on the driver, with templates translated once per language
(issue #15), show exactly what the ORM path and the templates as written show, and refuse what they refuse.

Each state of a stall (pending, verified, a replacement waiting, rejected, revoked, an erasure asked, a
notice) is rendered both ways, in Vietnamese and in English, and the pages must be equal byte for byte.
"""
from __future__ import annotations

import io

import pytest
from sqlmodel import Session

from market40 import qrimage
from market40.services import auth as auth_service
from market40.services import owner_page
from market40.services.registry import Actor, Registry
from web.i18n import translate_source

from webhelpers import ACCOUNT_A, audit_events, driver_statements, post, sign_in


def _registry_do(engine, action):
    with Session(engine) as session:
        action(Registry(session, Actor.operator("tests")))
        session.commit()


def _both_ways(client, path, monkeypatch=None):
    """The response on the fast path (driver + translated template) and on the ORM path as written."""
    config = client.application.config
    fast = client.get(path)
    config.update(DRIVER_READS=False, TRANSLATED_TEMPLATES=False)
    try:
        slow = client.get(path)
    finally:
        config.update(DRIVER_READS=True, TRANSLATED_TEMPLATES=True)
    return fast, slow


def _verified(registry):
    registry.verify_account("HL1/A-12")


def _replacement(registry):
    registry.verify_account("HL1/A-12")
    registry.register_account("HL1/A-12", bank="vietinbank", number="1012345678", holder_name="Nguyễn Thị Lan")


def _rejected(registry):
    registry.reject_account("HL1/A-12", "Tên chủ tài khoản không khớp <b>&</b>")


def _revoked(registry):
    registry.verify_account("HL1/A-12")
    registry.revoke_account("HL1/A-12", "replaced by a new account")


STATES = {"pending": lambda registry: None, "verified": _verified, "replacement": _replacement,
          "rejected": _rejected, "revoked": _revoked}


@pytest.mark.parametrize("state", sorted(STATES))
@pytest.mark.parametrize("lang", ["vi", "en"])
def test_the_status_page_is_the_same_both_ways(client, world, engine, state, lang):
    _registry_do(engine, STATES[state])
    sign_in(client, world.user("owner_a"))
    client.get(f"/owner/?lang={lang}")  # the language cookie
    fast, slow = _both_ways(client, "/owner/")
    assert fast.status_code == slow.status_code == 200
    assert fast.text == slow.text
    assert dict(fast.headers) == dict(slow.headers)
    assert ("Sạp của tôi" in fast.text) == (lang == "vi") and ("My stall" in fast.text) == (lang == "en")
    assert ACCOUNT_A not in fast.text  # masked


def test_notices_and_an_erasure_request_show_the_same_both_ways(client, world, engine, session):
    _registry_do(engine, _replacement)
    _registry_do(engine, lambda registry: registry.verify_account("HL1/A-12"))  # the replacement: a notice
    owner = world.user("owner_a")
    auth_service.request_erasure(session, owner, address="127.0.0.1", note="nghỉ bán")
    session.commit()
    sign_in(client, owner)
    for lang in ("vi", "en"):
        client.get(f"/owner/?lang={lang}")
        fast, slow = _both_ways(client, "/owner/")
        assert fast.text == slow.text and "erasure-heading" in fast.text and "notices-heading" in fast.text


def test_the_qr_image_is_the_same_both_ways(client, world, engine):
    _registry_do(engine, _replacement)  # the verified account's QR, never the waiting one
    sign_in(client, world.user("owner_a"))
    fast, slow = _both_ways(client, "/owner/qr.png")
    assert fast.status_code == 200 and fast.data == slow.data and fast.headers["ETag"] == slow.headers["ETag"]
    assert ACCOUNT_A in qrimage.read(io.BytesIO(fast.data))[0]


def test_the_driver_read_says_what_the_orm_says(world, engine, session):
    _registry_do(engine, _replacement)
    owner = world.user("owner_a")
    user, view = auth_service.session_user_view(session, owner.id, owner.session_epoch)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        read = owner_page.read_session_page(cursor, engine.dialect, owner.id, owner.session_epoch)
        assert not hasattr(read.user, "password_hash")
        for mine, theirs in ((read.user, user), (read.stall, view.stall), (read.market, view.market)):
            assert {"id", "code", "name", "role", "display_name", "shop_name"} & set(vars(mine))
            for name, value in vars(mine).items():  # the columns the pages read, as the ORM reads them
                assert value == getattr(theirs, name), name
        for mine, theirs in ((read.account, view.account), (read.replacement, view.replacement)):
            for column in type(theirs).__table__.c:  # every column of an account
                assert getattr(mine, column.name) == getattr(theirs, column.name), column.name
        assert read.latest.id == view.replacement.id  # the newest account of the stall
        assert read_notices(cursor, engine, owner) == owner_page.owner_page(session, owner)
        # a session of another epoch, an unknown user, a forged id: nothing
        assert owner_page.read_session_page(cursor, engine.dialect, owner.id, owner.session_epoch + 1) is None
        assert owner_page.read_session_page(cursor, engine.dialect, 99999, 0) is None
        assert owner_page.read_session_page(cursor, engine.dialect, True, 0) is None
        # another owner's read holds their own stall only
        other = world.user("owner_b")
        theirs = owner_page.read_session_page(cursor, engine.dialect, other.id, other.session_epoch)
        assert theirs.stall.id == other.stall_id != read.stall.id and theirs.account.stall_id == other.stall_id
    finally:
        raw.close()


def read_notices(cursor, engine, owner):
    return owner_page.read_owner_page(cursor, engine.dialect, owner.stall_id)


def test_logout_ends_the_session_on_the_driver_path(client, world, engine):
    _registry_do(engine, _verified)
    sign_in(client, world.user("owner_a"))
    assert client.get("/owner/").status_code == 200
    copy = client.get_cookie("market40").value
    assert post(client, "/logout").status_code == 302
    client.set_cookie("market40", copy)  # the old cookie, replayed
    for path in ("/owner/", "/owner/qr.png"):
        gone = client.get(path)
        assert gone.status_code == 302 and "/login" in gone.headers["Location"]


def test_a_disabled_owner_is_refused_on_the_driver_path(client, world, engine):
    _registry_do(engine, _verified)
    owner = world.user("owner_a")
    sign_in(client, owner)
    with Session(engine) as session:
        user = session.get(type(owner), owner.id)
        user.is_active = False
        session.add(user)
        session.commit()
    assert client.get("/owner/").status_code == 302


def test_idle_sessions_still_expire_on_the_driver_path(client, world, engine, clock, monkeypatch):
    sign_in(client, world.user("owner_a"), clock)
    seen = driver_statements(monkeypatch)
    clock.advance(31 * 60)
    page = client.get("/owner/")
    assert page.status_code == 302 and seen == []  # refused before any read


def test_other_roles_on_the_owner_pages_are_refused_and_audited(client, world):
    sign_in(client, world.user("staff_hl"))
    for path in ("/owner/", "/owner/qr.png"):
        assert client.get(path).status_code == 403
    assert len(audit_events(client.application.extensions["market40.engine"], "access.denied")) == 2


def test_posts_never_take_the_driver_path(client, world, monkeypatch):
    sign_in(client, world.user("owner_a"))
    seen = driver_statements(monkeypatch)
    client.get("/owner/account")  # not listed: the ORM path
    post(client, "/owner/account", {"action": "preview"})
    assert seen == []


def test_translate_source_keeps_what_runs_and_escapes_constants():
    table = {"Xin chào": "Hello", "Ngôn ngữ": 'Lang "x" \\ y', "Dấu": "{{ not jinja }}"}
    source = ('<p>{{ _("Xin chào") }}</p><a title="{{ _(\'Ngôn ngữ\') }}">'
              '{{ _("Sạp %(code)s", code=c) }}{{ _("Dấu") }}{{ x if y else _("Xin chào") }}{{ _("Ngôn ngữ")|upper }}')
    out = translate_source(source, lambda text: table.get(text, text))
    # trusted markup, as _ returns it: a whole output is the text itself, a call inside an expression a safe constant
    assert out.startswith('<p>Hello</p><a title="Lang "x" \\ y">') and '_("Sạp %(code)s", code=c)' in out
    assert "{% raw %}{{ not jinja }}{% endraw %}" in out
    assert '("Hello"|safe)' in out and '("Lang \\"x\\" \\\\ y"|safe)|upper' in out
    from jinja2 import Environment
    rendered = Environment(autoescape=True).from_string(out).render(x="", y=False, c="1", _=lambda t, **k: t % k)
    assert rendered == '<p>Hello</p><a title="Lang "x" \\ y">Sạp 1{{ not jinja }}HelloLANG "X" \\ Y'


def test_resolve_urls_builds_constant_links_only():
    from web.i18n import resolve_urls

    def url_for(endpoint, **values):
        if endpoint == "missing":
            raise LookupError(endpoint)
        return "/" + endpoint.replace(".", "/") + "".join(f"?{k}={v}" for k, v in sorted(values.items()))
    source = ('{{ url_for("owner.status") }}|{{ url_for(\'owner.download\', size=\'a6\', fmt="pdf") }}|'
              '{{ url_for("owner.download", size=size, fmt="pdf") }}|{{ url_for("missing") }}')
    assert resolve_urls(source, url_for) == (
        '{{ "/owner/status" }}|{{ "/owner/download?fmt=pdf?size=a6" }}|'
        '{{ url_for("owner.download", size=size, fmt="pdf") }}|{{ url_for("missing") }}')


def test_a_page_mounted_below_the_root_keeps_its_links(client, world, engine):
    _registry_do(engine, _verified)
    sign_in(client, world.user("owner_a"))
    page = client.get("/owner/", environ_overrides={"SCRIPT_NAME": "/cho"})
    assert page.status_code == 200 and 'href="/cho/owner/account"' in page.text and 'href="/owner/' not in page.text


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_a_busy_database_on_the_driver_path_is_a_503_not_a_500(client, world, engine, monkeypatch):
    import sqlite3
    sign_in(client, world.user("owner_a"))

    def busy(cursor, dialect, user_id, epoch):
        raise sqlite3.OperationalError("database is locked")
    monkeypatch.setattr(owner_page, "read_session_page", busy)
    page = client.get("/owner/")
    assert page.status_code == 503 and page.headers["Retry-After"]
    assert "Set-Cookie" not in page.headers


@pytest.mark.parametrize("path", ["/owner/", "/owner/account"])
def test_no_free_database_connection_is_a_503_not_a_500(client, world, app, path, monkeypatch):
    """Every pooled connection in use past the pool's timeout (a gevent worker keeps a fixed number and
    a request waits for one): the busy page, to retry, not an error page."""
    from sqlalchemy.exc import TimeoutError as PoolTimeout
    sign_in(client, world.user("owner_a"))
    assert client.get(path).status_code == 200  # the app has read the schema version once
    pool = app.extensions["market40.engine"].pool

    def none_free(*args, **kwargs):
        raise PoolTimeout("QueuePool limit of size 16 overflow 0 reached, connection timed out, timeout 30.00")
    monkeypatch.setattr(pool, "_do_get", none_free)
    page = client.get(path)
    assert page.status_code == 503 and page.headers["Retry-After"], page.status_code
    assert "Hệ thống đang bận" in page.text and "Set-Cookie" not in page.headers
