"""No English or internal codes in the Vietnamese interface (issue #12): the owner's, staff's and
officer's pages, rendered in Vietnamese, show no status codes, system notes in English, user ids or
English chart labels."""
import re
from datetime import date

from market40.services.registry import Actor, Registry
from webhelpers import sign_in

PERIOD = date.today().strftime("%Y-%m")

#: Words and codes a Vietnamese reader must never meet (matched as whole words in the visible text).
FORBIDDEN = ["pending", "verified", "rejected", "revoked", "operating", "closed", "replaced by a new account",
             "replaced", "Accepting", "Active", "households", "stalls", "markets", "target", "tier", "Tier",
             "Mã poster", "bank_account", "ewallet", "None", "null", "user:[0-9]+", "cli:[a-z]+", "Not reconciled",
             "Monthly trend", "mean of market rates", "by stalls", "former", "everything"]
_TAGS = re.compile(r"<(script|style|svg:title)\b.*?</\1>|<[^>]+>", re.S)


def visible_text(html: str) -> str:
    """The text a person reads: tags, attribute values, scripts and styles removed (SVG text kept)."""
    return re.sub(r"\s+", " ", _TAGS.sub(" ", html))


def leaks(html: str) -> list[str]:
    text = visible_text(html)
    return [word for word in FORBIDDEN if re.search(rf"(?<![\w/.-]){word}(?![\w/-])", text)]


def _history(session):
    """A replaced account (revoked, with the system's reason) and a verified one, then a reconciled month."""
    registry = Registry(session, Actor.operator("tests"))
    registry.register_account("HL1/A-12", bank="vietcombank", number="0011012349999", holder_name="Nguyễn Thị Lan")
    registry.verify_account("HL1/A-12")
    session.commit()


def test_officer_pages_in_vietnamese_leak_nothing(app, client, world, session, tmp_path):
    from market40.services.reconcile import reconcile
    from market40.txstore import TransferStore
    _history(session)
    reconcile(session, Actor.operator("tests"), PERIOD, store=TransferStore(tmp_path / "tx.duckdb"))
    sign_in(client, world.user("officer_hl"))
    for path in ("/officer/", "/officer/markets/HL1", f"/officer/dashboard?period={PERIOD}",
                 f"/officer/dashboard?period={PERIOD}&by=market", "/officer/dashboard?period=2020-01"):
        page = client.get(path + ("&" if "?" in path else "?") + "lang=vi")
        assert page.status_code == 200, path
        assert leaks(page.get_data(as_text=True)) == [], path


def test_staff_and_owner_pages_in_vietnamese_leak_nothing(app, client, world, session):
    _history(session)
    sign_in(client, world.user("staff_hl"))
    for path in ("/staff/", "/staff/markets/HL1", "/staff/stall/HL1/A-12"):
        page = client.get(path + "?lang=vi")
        assert page.status_code == 200, path
        assert leaks(page.get_data(as_text=True)) == [], path
    client.get("/logout")
    sign_in(client, world.user("owner_a"))
    for path in ("/owner/", "/owner/account", "/owner/poster"):
        page = client.get(path + "?lang=vi")
        assert page.status_code == 200, path
        assert leaks(page.get_data(as_text=True)) == [], path


def test_the_leak_finder_finds_leaks():
    assert leaks("<p>Trạng thái: pending</p><p>user:2</p>") == ["pending", "user:[0-9]+"]
    assert leaks('<a href="/x?status=pending">Chờ xác minh</a>') == []
