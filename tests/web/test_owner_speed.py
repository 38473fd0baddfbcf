"""The owner's status page and QR image on their fast path (issue #15) keep what owners rely on.

* The status page is a pure read: two SELECTs (the signed-in owner with their stall and accounts;
  their notices and erasure state), no write, no commit, and no new session cookie.
* The one-statement notices and erasure state say exactly what the services' own readers say.
* The QR image carries an ETag: the owner's browser keeps it (``private, no-cache``) and gets a 304
  while it is unchanged, but only while signed in; another owner never gets a 304 for it.
* The QR PNG is written pixel for pixel from the symbol's modules (quiet zone, whole pixels).
"""
from __future__ import annotations

import io

import pytest
from PIL import Image
from sqlalchemy import event
from sqlmodel import Session

from market40 import qrimage
from market40.services import auth as auth_service
from market40.services import erasure, notices, owner_page
from market40.services.registry import Actor, Registry

from webhelpers import driver_statements, post, sign_in


def _verify(engine, *refs):
    with Session(engine) as session:
        for ref in refs:
            Registry(session, Actor.operator("tests")).verify_account(ref)
        session.commit()


def _record(engine):
    seen: list[str] = []

    def statement(conn, cursor, text, parameters, context, executemany):
        seen.append(text.lstrip().split(None, 1)[0].upper())

    def commit(conn):
        seen.append("COMMIT")

    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "commit", commit)

    def stop():
        event.remove(engine, "before_cursor_execute", statement)
        event.remove(engine, "commit", commit)
    return seen, stop


def test_the_status_page_writes_nothing_and_sends_no_cookie(client, world, engine, monkeypatch):
    _verify(engine, "HL1/A-12")
    sign_in(client, world.user("owner_a"))
    client.get("/owner/")  # first-use caches
    driver = driver_statements(monkeypatch)
    seen, stop = _record(engine)
    try:
        page = client.get("/owner/")
    finally:
        stop()
    assert page.status_code == 200 and "Hải sản Cô Lan" in page.text and "/owner/qr.png" in page.text
    assert "Set-Cookie" not in page.headers  # nothing in the session changed
    assert seen == [] and driver == ["SELECT", "SELECT"], (seen, driver)  # on the driver: no INSERT/UPDATE, no COMMIT
    assert page.headers["Cache-Control"] == "no-store"


def test_the_page_statement_says_what_the_services_say(world, engine, session):
    owner = world.user("owner_a")
    with Session(engine) as other:
        registry = Registry(other, Actor.operator("tests"))
        registry.verify_account("HL1/A-12")
        other.commit()
    page_notices, page_erasure = owner_page.owner_page(session, owner)
    assert [n.kind for n in page_notices] == ["verified"] and page_erasure is None
    assert page_notices == notices.owner_notices(session, owner)
    auth_service.request_erasure(session, owner, address="127.0.0.1", note="nghỉ bán")
    session.commit()
    page_notices, page_erasure = owner_page.owner_page(session, owner)
    assert page_erasure is not None and not page_erasure.done
    assert page_erasure == erasure.erasure_state(session, owner)
    assert page_notices == notices.owner_notices(session, owner)
    # another owner's page shows none of it
    assert owner_page.owner_page(session, world.user("owner_b")) == ([], None)


def test_the_page_keeps_only_the_ten_newest_notices(world, engine, session):
    owner = world.user("owner_a")
    with Session(engine) as other:
        registry = Registry(other, Actor.operator("tests"))
        registry.verify_account("HL1/A-12")
        other.commit()
    from sqlmodel import select

    from market40.models import AuditEvent, PaymentAccount
    [account_id] = session.exec(select(PaymentAccount.id).where(PaymentAccount.stall_id == owner.stall_id)).all()
    for i in range(12):
        session.add(AuditEvent(actor="tests", action="account.reject", entity="payment_account",
                               entity_id=str(account_id), note=f"lý do {i}"))
    session.commit()
    found, _ = owner_page.owner_page(session, owner)
    assert found == notices.owner_notices(session, owner) and len(found) == 10


def test_the_qr_image_is_revalidated_with_its_etag_and_only_while_signed_in(client, app, world, engine):
    _verify(engine, "HL1/A-12", "CP1/B-1")
    sign_in(client, world.user("owner_a"))
    first = client.get("/owner/qr.png")
    tag = first.headers["ETag"]
    assert first.status_code == 200 and first.headers["Cache-Control"] == "private, no-cache"
    assert qrimage.read(io.BytesIO(first.data))  # a real image
    again = client.get("/owner/qr.png", headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == tag
    assert again.headers["Cache-Control"] == "private, no-cache"
    # another owner sending the same tag gets their own image, never a 304 for someone else's
    other = app.test_client()
    sign_in(other, world.user("owner_b"))
    theirs = other.get("/owner/qr.png", headers={"If-None-Match": tag})
    assert theirs.status_code == 200 and theirs.headers["ETag"] != tag
    assert qrimage.read(io.BytesIO(theirs.data)) != qrimage.read(io.BytesIO(first.data))
    # logged out: the tag opens nothing
    assert post(client, "/logout").status_code == 302
    gone = client.get("/owner/qr.png", headers={"If-None-Match": tag})
    assert gone.status_code == 302 and "/login" in gone.headers["Location"]
    assert gone.headers["Cache-Control"] == "no-store"


def test_the_etag_does_not_show_the_payload(client, world, engine):
    _verify(engine, "HL1/A-12")
    sign_in(client, world.user("owner_a"))
    import hashlib
    image = client.get("/owner/qr.png")
    [payload] = qrimage.read(io.BytesIO(image.data))
    tag = image.headers["ETag"].strip('"')
    assert tag != hashlib.sha256(payload.encode()).hexdigest()[:32]  # keyed with the deployment's secret
    assert "1012345678" not in tag
    from web.owner import qr_etag  # what bench_web sends as each owner's browser would
    assert tag == qr_etag(client.application.secret_key, payload)


@pytest.mark.parametrize(("pixels", "border"), [(360, 4), (41, 4), (123, 0), (200, 2), (97, 1), (370, 3)])
def test_the_png_is_the_symbol_pixel_for_pixel(pixels, border):
    payload = ("00020101021138570010A00000072701270006970403011300110123456780208"
               "QRIBFTTA53037045802VN63049E6F")
    symbol = qrimage.matrix(payload)
    side = symbol.size + 2 * border
    scale = pixels // side
    image = Image.open(io.BytesIO(qrimage.png(payload, pixels=pixels, border=border)))
    assert image.mode == "1" and image.size == (side * scale, side * scale)
    grey = image.convert("L")
    for y in range(side * scale):
        for x in range(side * scale):
            row, column = y // scale - border, x // scale - border
            dark = 0 <= row < symbol.size and 0 <= column < symbol.size and symbol.rows[row][column] == 1
            assert (grey.getpixel((x, y)) == 0) == dark, (x, y)
    assert qrimage.read(grey) == [payload]
