"""Vietnamese first, every string translatable, English on request; the shipped catalogue is complete."""
from __future__ import annotations

import re

from babel.messages.pofile import read_po

from web import i18n

from webhelpers import post, sign_in

PO = i18n.TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po"
#: Vietnamese letters with marks (and đ): none may be left on an English page but data and the switch.
VIETNAMESE = re.compile(r"[àáạảãâầấậẩẫăằắặẳẵèéẹẻẽêềếệểễìíịỉĩòóọỏõôồốộổỗơờớợởỡùúụủũưừứựửữỳýỵỷỹđ]", re.I)


def _catalog():
    with PO.open("rb") as handle:
        return read_po(handle, locale="en")


def test_every_string_in_the_views_and_templates_is_in_the_catalogue():
    extracted = {m.id for m in i18n.extract() if m.id}
    catalogue = {m.id for m in _catalog() if m.id}
    assert extracted - catalogue == set(), "run `python -m web.i18n update` and translate the new strings"
    assert len(extracted) > 250


def test_the_english_catalogue_is_complete_and_well_formed():
    catalog = _catalog()
    assert i18n.untranslated(catalog) == []
    problems = [(m.id, errors) for m, errors in catalog.check()]
    assert problems == []  # placeholders match (python-format)


def _messages(catalog):
    """What a catalogue translates: id -> text (headers, which name the tool's version, left out)."""
    def key(value):
        return tuple(value) if isinstance(value, (list, tuple)) else value
    return {key(m.id): key(m.string) for m in catalog if m.id and not m.fuzzy}


def test_the_shipped_mo_is_compiled_from_the_po():
    # Content, not bytes: the .mo header names the Babel that compiled it, which is not pinned.
    from babel.messages.mofile import read_mo
    with PO.with_suffix(".mo").open("rb") as handle:
        shipped = _messages(read_mo(handle))
    assert shipped == _messages(_catalog()), "run `python -m web.i18n compile`"


def test_pages_are_vietnamese_by_default_whatever_the_browser_says(client, world):
    page = client.get("/login", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert '<html lang="vi">' in page.text and "Đăng nhập" in page.text


def test_the_english_switch_is_remembered(client, world):
    page = client.get("/login?lang=en")
    assert '<html lang="en">' in page.text and "Sign in" in page.text
    assert "lang=en" in page.headers["Set-Cookie"]
    assert "Sign in" in client.get("/enrol").text  # the cookie keeps it
    assert "Đăng nhập" in client.get("/login?lang=vi").text
    assert client.get("/login?lang=fr").status_code == 200


def test_english_pages_have_no_untranslated_vietnamese(client, world):
    client.get("/login?lang=en")
    pages = {url: client.get(url).text for url in ("/login", "/privacy", "/nope")}
    sign_in(client, world.user("owner_a"))
    pages["/owner/erasure"] = client.get("/owner/erasure").text
    pages["account errors"] = post(client, "/owner/account", {"bank": "", "number": "x y", "holder_name": "",
                                                             "action": "preview"}).text
    allowed = {"Tiếng Việt", "Chợ 4.0", "Chợ Hạ Long I", "Hải sản Cô Lan", "Nguyễn Thị Lan"}
    for url, html in pages.items():
        text = re.sub(r"<[^>]+>", " ", re.sub(r"<(script|style|select)[\s\S]*?</\1>", " ", html))
        for word in allowed:
            text = text.replace(word, "")
        leftovers = VIETNAMESE.findall(text)
        assert not leftovers, (url, re.findall(r"\S*" + VIETNAMESE.pattern + r"\S*", text, re.I)[:5])
    assert "Choose the bank or e-wallet" in pages["account errors"]


def test_the_429_page_is_vietnamese():
    from web.errors import _MESSAGES
    title, message = _MESSAGES[429]
    assert title == "Bạn đã thử quá nhiều lần" and "phút" in message
