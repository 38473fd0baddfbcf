"""Data-scoped authorisation (ASVS 5.0 8.2.1, 8.2.2; the flaskr ``test_author_required`` pattern).

Every route of the app is tried with every user who must not reach it, and must answer
403 or 404, never 200. The routes come from ``app.url_map``: a route added without a
role decorator, or without an entry in :data:`ALLOWED`, fails here.
"""
from __future__ import annotations

import pytest

from webhelpers import ACCOUNT_A, ACCOUNT_B, audit_events, csrf_token, fetch, sign_in

ROLES = ("owner", "staff", "officer", "admin", "board")
#: Who may use each endpoint (besides the public ones).
ALLOWED = {
    "auth.logout": set(ROLES), "auth.password": set(ROLES), "auth.second_factor": set(ROLES),
    "owner.status": {"owner"}, "owner.qr": {"owner"}, "owner.account": {"owner"}, "owner.preview": {"owner"},
    "owner.poster": {"owner"}, "owner.download": {"owner"}, "owner.erasure": {"owner"},
    "staff.index": {"staff", "admin"}, "staff.market": {"staff", "admin"}, "staff.stall": {"staff", "admin"},
    "staff.trail": {"staff", "admin"},
    "staff.queue": {"staff", "admin"}, "staff.verify_many": {"staff", "admin"},
    "officer.index": {"officer", "admin"}, "officer.market": {"officer", "admin"},
    "officer.dashboard": {"officer", "admin"}, "officer.download": {"officer", "admin"},
    "admin.users": {"admin"}, "admin.new_user": {"admin"}, "admin.set_active": {"admin"},
    "board.index": {"board", "admin"}, "board.market": {"board", "admin"}, "board.arrears": {"board", "admin"},
    "board.cash": {"board", "admin"}, "board.slips": {"board", "admin"}, "board.receipt": {"board", "admin"},
    "board.my_bills": {"owner"}, "board.my_bill_qr": {"owner"},
    "board.my_bills_stream": {"owner"}, "board.market_stream": {"board", "admin"},  # bills turning "paid" live
    # live payments (issue 10)
    "live.loa": {"owner"}, "live.loa_stream": {"owner"}, "live.loa_collect": {"owner"}, "live.loa_qr": {"owner"},
    "live.helpers": {"owner"}, "live.book": {"owner"}, "live.feeds": {"staff", "admin"},
}
PUBLIC = {"static", "auth.index", "auth.login", "auth.enrol", "auth.privacy", "auth.login_code",
          "auth.enrol_stalls", "auth.forgot", "auth.reset",
          # live payments: signed webhooks, and helpers holding an owner's code (checked in the view)
          "live.hook", "live.watch", "live.watch_enter", "live.watch_stream", "live.watch_collect", "live.watch_qr"}
#: Sample values for URL variables: the *other* party's data for scope tests is chosen below.
ARGS = {"market": "HL1", "stall": "A-12", "username": "staff.cp", "size": "a6", "fmt": "pdf", "filename": "app.css",
        "bill": "HL1-2612-A12", "source": "nobody"}
USERS_BY_ROLE = {"owner": "owner_a", "staff": "staff_hl", "officer": "officer_hl", "admin": "admin",
                 "board": "board_hl"}


def _rules(app):
    return [rule for rule in app.url_map.iter_rules()]


def _url(rule, **overrides):
    values = {name: overrides.get(name, ARGS[name]) for name in rule.arguments}
    adapter = rule.map.bind("localhost")
    return adapter.build(rule.endpoint, values)


def test_every_route_declares_who_may_use_it(app):
    for rule in _rules(app):
        view = app.view_functions[rule.endpoint]
        if rule.endpoint in PUBLIC:
            assert rule.endpoint == "static" or getattr(view, "public", False), rule.endpoint
            continue
        assert rule.endpoint in ALLOWED, f"{rule.endpoint}: new route without a scope test (add it to ALLOWED)"
        assert getattr(view, "roles", None) == frozenset(ALLOWED[rule.endpoint]), rule.endpoint


def test_no_route_takes_an_account_number_or_code(app):
    for rule in _rules(app):
        assert not set(rule.arguments) & {"number", "account", "code", "card", "phone", "password"}, rule.rule


@pytest.mark.parametrize("role", ROLES)
def test_every_route_refuses_the_wrong_role(app, client, world, role):
    """GET and POST on every route by a user whose role is not allowed there: 403/404, never 200."""
    user = world.user(USERS_BY_ROLE[role])
    sign_in(client, user)
    token = csrf_token(client)
    tried = 0
    for rule in _rules(app):
        if rule.endpoint in PUBLIC or role in ALLOWED[rule.endpoint]:
            continue
        url = _url(rule)
        for method in sorted(rule.methods & {"GET", "POST"}):
            response = client.open(url, method=method, data={"csrf_token": token} if method == "POST" else None)
            assert response.status_code in (403, 404), f"{role} {method} {url}: {response.status_code}"
            tried += 1
    assert tried > 0 or role == "admin"


def test_refusals_are_audited(app, client, world, engine):
    sign_in(client, world.user("owner_a"))
    assert client.get("/staff/").status_code == 403
    sign_in(client, world.user("staff_hl"))
    assert client.get("/staff/stall/CP1/B-1").status_code == 403
    events = audit_events(engine, "access.denied")
    assert any(e.entity == "route" and e.entity_id == "staff.index" for e in events)
    assert any(e.entity == "market" and e.entity_id == "CP1" and e.actor == f"user:{world.user('staff_hl').id}"
               for e in events)


def test_anonymous_users_are_sent_to_the_login(app, client, world):
    token = csrf_token(client, "/login")
    for rule in _rules(app):
        if rule.endpoint in PUBLIC:
            continue
        url = _url(rule)
        for method in sorted(rule.methods & {"GET", "POST"}):
            response = client.open(url, method=method, data={"csrf_token": token} if method == "POST" else None)
            assert response.status_code == 302 and "/login" in response.headers["Location"], f"{method} {url}"


# ------------------------------------------------------------------ data scope within a role

STALL_ROUTES = [("GET", "/staff/stall/CP1/B-1"), ("POST", "/staff/stall/CP1/B-1"), ("GET", "/staff/audit/CP1/B-1"),
                ("GET", "/staff/markets/CP1"), ("POST", "/staff/markets/CP1")]


@pytest.mark.parametrize("action", ["", "reveal", "verify", "reject", "reissue"])
def test_staff_cannot_reach_another_markets_stall(app, client, world, engine, action):
    sign_in(client, world.user("staff_hl"))
    token = csrf_token(client)
    for method, url in STALL_ROUTES:
        data = {"csrf_token": token, "action": action, "reason": "x"} if method == "POST" else None
        response = client.open(url, method=method, data=data)
        assert response.status_code in (403, 404), f"{method} {url} {action}: {response.status_code}"
        assert ACCOUNT_B[-4:] not in response.text
    from market40.models import PaymentAccount
    [other] = fetch(engine, PaymentAccount, PaymentAccount.number == ACCOUNT_B)
    assert other.status == "pending"


def test_staff_can_reach_their_own(app, client, world):
    sign_in(client, world.user("staff_hl"))
    assert client.get("/staff/stall/HL1/A-12").status_code == 200
    assert client.get("/staff/markets/HL1").status_code == 200
    assert client.get("/staff/audit/HL1/A-12").status_code == 200
    queue = client.get("/staff/").text
    assert "HL1/A-12" in queue and "CP1/B-1" not in queue


def test_unknown_stalls_are_404(app, client, world):
    sign_in(client, world.user("staff_hl"))
    assert client.get("/staff/stall/HL1/Z-99").status_code == 404
    assert client.get("/staff/markets/NOPE").status_code == 404


def test_officers_see_only_their_localities(app, client, world):
    sign_in(client, world.user("officer_hl"))
    assert client.get("/officer/markets/CP1").status_code in (403, 404)
    page = client.get("/officer/")
    assert page.status_code == 200 and "HL1" in page.text and "CP1" not in page.text
    market = client.get("/officer/markets/HL1")
    assert market.status_code == 200 and "A-12" in market.text
    assert ACCOUNT_A not in market.text and "•••• " + ACCOUNT_A[-4:] in market.text


def test_owners_see_only_their_stall(app, client, world):
    sign_in(client, world.user("owner_b"))
    for url in ("/owner/", "/owner/account", "/owner/poster", "/owner/erasure"):
        page = client.get(url, follow_redirects=True)
        assert page.status_code == 200
        assert "A-12" not in page.text and ACCOUNT_A[-4:] not in page.text and "Nguyễn Thị Lan" not in page.text
    assert "B-1" in client.get("/owner/").text


def test_an_owner_without_a_stall_gets_404(app, client, world, session):
    owner = world.user("owner_a")
    owner.stall_id = None
    session.add(owner)
    session.commit()
    sign_in(client, owner)
    assert client.get("/owner/").status_code == 404
