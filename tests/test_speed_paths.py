"""Fast paths keep what users rely on (issue #15): a compact but complete audit trail, the
reference guard, the owner's one-query view, the fast QR image."""
from __future__ import annotations

import csv
import io

import pytest
from PIL import Image
from sqlmodel import select

from market40 import qrimage
from market40.models import AuditEvent, Stall, User, utcnow
from market40.services import audit as audit_service
from market40.services import auth as auth_service
from market40.services.imports import import_stalls
from market40.services.registry import CONSENT_PURPOSE, Actor, Registry

ACTOR = Actor.operator("tester")
HEADER = ["Mã sạp", "Tên cửa hàng", "Tên chủ hộ", "Số điện thoại", "Ngân hàng", "Số tài khoản", "Tên chủ tài khoản"]


def _csv(path, rows):
    with open(path, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


def test_an_import_refers_to_the_consent_text_and_the_history_shows_it_in_full(session, market, tmp_path):
    rows = [[f"A-{n}", "", f"Nguyễn Văn {n}", "", "Vietcombank", "0011012344418", "NGUYEN VAN A"] for n in (1, 2)]
    assert import_stalls(session, ACTOR, _csv(tmp_path / "list.csv", rows), market="HL1").written
    events = session.exec(select(AuditEvent)).all()
    assert [e.action for e in events] == ["import.create"]  # one batch event, no copy of each row
    assert CONSENT_PURPOSE not in events[0].after and "NGUYEN" not in events[0].after
    trail = audit_service.stall_trail(Registry(session, ACTOR), "HL1/A-1")
    [register] = [e for e in trail if e.action == "account.register"]
    assert register.after["consent_purpose"] == CONSENT_PURPOSE and register.after["number"] == "•••• 4418"
    assert "payload" not in register.after and register.actor == ACTOR.name
    [create] = [e for e in trail if e.action == "stall.create"]
    assert create.after["owner_name"] == "Nguyễn Văn 1" and "shop_name" not in create.after
    assert [e.entity_id for e in audit_service.stall_trail(Registry(session, ACTOR), "HL1/A-2")
            if e.action == "stall.create"] == [str(session.exec(select(Stall).where(Stall.code == "A-2")).one().id)]


def test_an_unknown_reference_reads_as_written():
    record = {"consent_purpose": {"$ref": "consent/0000000000000000"}, "x": 1}
    assert audit_service.expand_record(dict(record)) == record


def test_references_that_read_alike_across_markets_are_still_refused(session, market, tmp_path):
    registry = Registry(session, ACTOR)
    registry.save_market(code="HL11", name="Chợ Hạ Long XI", tier="I", locality="06688")
    registry.save_stall("HL1", code="15", owner_name="Lan")
    report = import_stalls(session, ACTOR, _csv(tmp_path / "x.csv", [["5", "", "Bình", "", "", "", ""]]),
                           market="HL11")
    assert not report.written and "HL115" in report.problems[0].lines()[0]


def test_the_session_user_and_the_owner_view_come_from_one_query(session, market):
    registry = Registry(session, ACTOR)
    stall, _ = registry.save_stall("HL1", code="A-9", owner_name="Lan")
    registry.register_account("HL1/A-9", bank="vietcombank", number="0011012344418", holder_name="LAN")
    owner = User(username="0912000009", display_name="Lan", role="owner", stall_id=stall.id)
    staff = User(username="staff.x", display_name="X", role="staff", stall_id=stall.id)
    session.add_all([owner, staff])
    session.commit()
    user, view = auth_service.session_user_view(session, owner.id, owner.session_epoch)
    assert user.id == owner.id and view.ref == "HL1/A-9" and view.account.number == "0011012344418"
    assert auth_service.session_user_view(session, owner.id, owner.session_epoch + 1) == (None, None)
    assert auth_service.session_user_view(session, True, 0) == (None, None)
    user, view = auth_service.session_user_view(session, staff.id, 0)
    assert user.id == staff.id and view is None  # only an owner's own stall is ever read with the user


@pytest.mark.parametrize("payload", ["00020101021138570010A00000072701270006970403011300110123456780208"
                                     "QRIBFTTA53037045802VN63049E6F", "Chợ Hạ Long sạp A-12"])
def test_the_fast_png_decodes_and_is_no_larger_than_the_symbol(payload):
    data = qrimage.png(payload, pixels=360)
    image = Image.open(io.BytesIO(data))
    assert qrimage.read(data) == [payload]
    modules = qrimage.make_symbol(payload).symbol_size(border=4)[0]
    assert image.size[0] <= 360 and image.size[0] % modules == 0 and image.size[0] // modules >= 360 // modules


def test_an_import_records_its_creations_in_one_event_and_the_history_reads_each_back(session, market, tmp_path):
    rows = [["A-1", "", "Nguyễn Văn 1", "0912345678", "Vietcombank", "0011012344418", "NGUYEN VAN A"]]
    assert import_stalls(session, ACTOR, _csv(tmp_path / "list.csv", rows), market="HL1").written
    [batch] = session.exec(select(AuditEvent)).all()
    stall = session.exec(select(Stall)).one()
    trail = {e.action: e for e in audit_service.stall_trail(Registry(session, ACTOR), "HL1/A-1")}
    assert set(trail) == {"stall.create", "account.register"}
    assert trail["stall.create"].after["id"] == stall.id and trail["stall.create"].after["code_key"] == "A1"
    assert trail["stall.create"].after["created_at"] == str(batch.at)
    assert trail["stall.create"].after["owner_phone"] == "•••678"  # masked as every record is
    assert trail["account.register"].after["created_by"] == ACTOR.name
    assert trail["account.register"].after["consent_at"] == str(batch.at)
    assert trail["account.register"].after["status"] == "pending"


def test_a_batch_creation_reads_as_it_was_created_after_later_changes(session, market, tmp_path):
    rows = [["A-1", "", "Nguyễn Văn 1", "", "Vietcombank", "0011012344418", "NGUYEN VAN A"]]
    assert import_stalls(session, ACTOR, _csv(tmp_path / "one.csv", rows), market="HL1").written
    registry = Registry(session, ACTOR)
    registry.save_stall("HL1", code="A-1", owner_name="Trần Thị Bích")
    session.commit()
    rows = [["A-1", "", "Trần Thị Bích", "", "Vietcombank", "0011012344426", "TRAN THI BICH"]]
    report = import_stalls(session, ACTOR, _csv(tmp_path / "two.csv", rows), market="HL1")
    assert report.written and report.accounts_replaced == 1
    trail = audit_service.stall_trail(Registry(session, ACTOR), "HL1/A-1")
    creations = [e for e in trail if e.action in ("stall.create", "account.register")]
    # newest first: the second account, the first account, the stall
    assert [e.action for e in creations] == ["account.register", "account.register", "stall.create"]
    assert creations[2].after["owner_name"] == "Nguyễn Văn 1"  # as created, not as it is now
    assert creations[1].after["status"] == "pending" and "revoked_at" not in creations[1].after
    assert creations[1].after["number"] == "•••• 4418" and creations[0].after["number"] == "•••• 4426"
    [update] = [e for e in trail if e.action == "stall.update"]
    assert update.before["owner_name"] == "Nguyễn Văn 1" and update.after["owner_name"] == "Trần Thị Bích"
    assert trail.index(update) < trail.index(creations[2])


def test_an_import_creation_row_reads_as_the_general_writer_would_write_it():
    from datetime import datetime, timezone

    from market40.services import auditlog
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    record = {"stall_id": 7, "number": "0011012344418", "owner_phone": "0912345678", "tax_code": "0100233488",
              "phone": "•••678", "payload": "000201", "purpose": None, "consent_purpose": CONSENT_PURPOSE,
              "holder_name": "NGUYEN VAN A", "is_active": True, "created_at": datetime(2025, 1, 1)}
    general = auditlog.row("cli:x", "account.register", "payment_account", 9, after=record, at=at)
    assert auditlog.creation_row("cli:x", "account.register", "payment_account", 9, record, at) == \
        tuple(general[column] for column in auditlog.COLUMNS)


def test_a_webhook_finds_its_account_by_the_bank_and_number_index(engine):
    """Each webhook looks its account up by bank and number (services.live's fast lane and full path):
    an index search on either database, never a read of the whole table (5 ms a webhook at 15,000
    accounts on PostgreSQL, a core at 200 webhooks a second)."""
    from market40.services import live
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            plan = " ".join(str(row[-1]) for row in connection.exec_driver_sql(
                "EXPLAIN QUERY PLAN SELECT id FROM payment_account WHERE bin = '970436' AND number = '1'"))
            fee = " ".join(str(row[-1]) for row in connection.exec_driver_sql(
                "EXPLAIN QUERY PLAN SELECT 1 FROM fee_account WHERE bin = '970436' AND number = '1'"))
        else:
            connection.exec_driver_sql("SET enable_seqscan = off")  # an empty table: ask for the index if any
            params = {"bin": "970436", "number": "1", "now": utcnow()}
            plan = fee = " ".join(row[0] for row in connection.exec_driver_sql(
                "EXPLAIN " + live._LOOKUP, params))
    assert "ix_payment_account_bin_number" in plan, plan
    assert "ix_fee_account_bin_number" in fee, fee


def test_a_large_import_gives_postgresql_fresh_statistics_at_once(session, market, tmp_path, monkeypatch):
    """After a bulk import PostgreSQL plans on statistics of what is there now, not of an empty table
    (with none, it read an owner's accounts through every verified account's index entry: 1.1 ms a page
    view at 12,000 accounts, 0.2 with them). Small writes leave them to autovacuum, as does a write that
    changes too small a share of what the statistics know; SQLite keeps none."""
    from market40 import db
    monkeypatch.setattr(db, "ANALYZE_MIN_ROWS", 6)  # rows added or changed: a stall and its account count 2
    bank = ["Vietcombank", "0011012344418", "NGUYEN VAN A"]
    postgres = session.connection().dialect.name == "postgresql"

    def assumed() -> float | None:
        """The stalls PostgreSQL's statistics assume (-1: never analysed); None on SQLite unless it has some."""
        connection = session.connection()
        if not postgres:
            return connection.exec_driver_sql(
                "SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'").scalar() or None
        return connection.exec_driver_sql("SELECT reltuples FROM pg_class WHERE relname = 'stall' "
                                          "AND relnamespace = to_regnamespace(current_schema())::oid").scalar()

    def add(name: str, numbers: range) -> None:
        rows = [[f"B-{n}", "", f"Hoa {n}", "", *bank] for n in numbers]
        assert import_stalls(session, ACTOR, _csv(tmp_path / name, rows), market="HL1").written

    if postgres:  # the statistics of the empty tables (an earlier test's survive the truncation)
        session.connection().exec_driver_sql("ANALYZE stall, payment_account")
        session.commit()
    add("small.csv", range(1, 3))  # 4 rows written: fewer than the minimum
    assert assumed() == (0 if postgres else None)
    add("large.csv", range(3, 7))  # 8, where the statistics assume an empty table: analysed now
    assert assumed() == (6 if postgres else None)
    add("more.csv", range(7, 11))  # 8 more, above 10 % of the 6 assumed: again
    assert assumed() == (10 if postgres else None)
    monkeypatch.setattr(db, "ANALYZE_SHARE", 1.0)
    add("last.csv", range(11, 15))  # 8, not above the 10 now assumed: left to autovacuum
    assert assumed() == (10 if postgres else None)
    assert session.connection().exec_driver_sql("SELECT count(*) FROM stall").scalar() == 14  # all committed


def test_statistics_that_cannot_be_renewed_never_undo_or_fail_the_import(session, market, tmp_path, monkeypatch,
                                                                          caplog):
    """ANALYZE refused (a lock held too long, a timeout): the import stays written and says so; the log says why."""
    from sqlalchemy import event
    from sqlalchemy.exc import OperationalError

    from market40 import db
    monkeypatch.setattr(db, "ANALYZE_MIN_ROWS", 1)
    engine = session.get_bind()

    def refuse(conn, cursor, statement, *args):
        if statement.startswith("ANALYZE"):
            raise OperationalError(statement, {}, Exception("canceling statement due to lock timeout"))

    event.listen(engine, "before_cursor_execute", refuse)
    try:
        rows = [[f"C-{n}", "", f"Mai {n}", "", "Vietcombank", "0011012344418", "NGUYEN VAN A"] for n in (1, 2)]
        report = import_stalls(session, ACTOR, _csv(tmp_path / "c.csv", rows), market="HL1")
    finally:
        event.remove(engine, "before_cursor_execute", refuse)
    assert report.written and report.created == 2
    assert session.connection().exec_driver_sql("SELECT count(*) FROM stall").scalar() == 2
    postgres = session.connection().dialect.name == "postgresql"
    assert ("lock timeout" in caplog.text) is postgres  # SQLite keeps no statistics: nothing was tried


HEADER_WITH_MARKET = ["Mã chợ", *HEADER]


def _province_rows(count: int) -> list[list[str]]:
    """Stalls of two markets, interleaved in chunks, every other one with an account (numbers differ)."""
    return [["HL1" if n % 7 < 4 else "HL2", f"K-{n}", "", f"Trần Thị {n}", "",
             *(["Vietcombank", f"00110123{n:05d}", "TRAN THI"] if n % 2 else ["", "", ""])]
            for n in range(1, count + 1)]


def test_rows_written_behind_the_validation_land_as_written_inline(session, market, tmp_path, monkeypatch):
    """PostgreSQL's COPYs run in a thread while the next chunk is validated (SQLite inline): across many
    chunks and two markets every stall and account lands, each account on its own stall."""
    from market40.models import PaymentAccount
    from market40.services import imports
    Registry(session, ACTOR).save_market(code="HL2", name="Chợ Hạ Long II", tier="II", locality="06688")
    session.commit()
    monkeypatch.setattr(imports, "CHUNK", 3)
    path = tmp_path / "province.csv"
    with open(path, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER_WITH_MARKET)
        writer.writerows(_province_rows(40))
    report = import_stalls(session, ACTOR, path)
    assert report.written and report.created == 40 and report.accounts_created == 20, report.problems
    stalls = {s.id: s for s in session.exec(select(Stall)).all()}
    accounts = session.exec(select(PaymentAccount)).all()
    assert len(stalls) == 40 and len(accounts) == 20
    for account in accounts:  # each account is its own stall's (the number carries the stall's n)
        assert stalls[account.stall_id].code == f"K-{int(account.number[-5:])}"
    assert session.info.get("market40.copy_behind") is None  # the connection is the session's alone again


def _hl1_list(tmp_path):
    """A stall list of market HL1's 69 rows (23 chunks of 3), with its market column."""
    path = tmp_path / "list.csv"
    with open(path, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER_WITH_MARKET)
        writer.writerows(row for row in _province_rows(120) if row[0] == "HL1")
    return path


def test_a_copy_that_fails_behind_the_validation_fails_the_import_and_writes_nothing(session, market, tmp_path,
                                                                                  monkeypatch):
    """An error in a COPY running behind (the server refusing a row) is raised in the import as soon as it
    is known (the next chunk, not the end of the file), as the database error SQLAlchemy raises, which the
    CLI and the web app explain in a line without the rows' values; the import writes nothing and the
    session goes on working."""
    from sqlalchemy.exc import IntegrityError

    from market40.services import imports, storage
    monkeypatch.setattr(imports, "CHUNK", 3)
    original, copies = imports._executemany, []

    def failing(session_, compiled, names, rows, **kwargs):
        if len(copies) == 3:  # the second chunk's stalls (the first's stalls, accounts and audit went in)
            rows = [rows[0], rows[0]]  # one stall twice, with the same id: the database refuses it
        copies.append(kwargs.get("copy_into") is not None)
        return original(session_, compiled, names, rows, **kwargs)

    monkeypatch.setattr(imports, "_executemany", failing)
    path = _hl1_list(tmp_path)  # 69 rows, 23 chunks
    with pytest.raises(IntegrityError) as raised:
        import_stalls(session, ACTOR, path)
    assert "duplicate" in str(raised.value).lower() or "unique" in str(raised.value).lower()
    said = storage.describe_failure(raised.value)
    assert said and "database error (IntegrityError" in said and "K-" not in said
    assert len(copies) <= 4 * 3  # stopped a chunk or two after the second of 23 (three writes a chunk)
    assert all(copies) is (session.connection().dialect.name == "postgresql")  # COPYs there, behind
    assert session.connection().exec_driver_sql("SELECT count(*) FROM stall").scalar() == 0
    assert session.connection().exec_driver_sql("SELECT count(*) FROM payment_account").scalar() == 0
    assert session.info.get("market40.copy_behind") is None


@pytest.mark.parametrize("engine", ["postgresql"], indirect=True)  # COPYs run behind on PostgreSQL alone
def test_a_connection_lost_under_a_copy_behind_fails_the_import_cleanly(session, market, tmp_path, monkeypatch,
                                                                        engine):
    """The server ends the import's connection while COPYs run behind the validation (a restart, an
    administrator): the import stops with SQLAlchemy's OperationalError, marked as a lost connection, the
    rollback after it does not fail on the dead connection, nothing is written, and the session (on a new
    connection from the pool) goes on working."""
    import psycopg
    from sqlalchemy.exc import OperationalError

    from market40.services import imports, storage
    monkeypatch.setattr(imports, "CHUNK", 3)
    original, copies = imports._executemany, []
    conninfo = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)

    def cut(session_, compiled, names, rows, **kwargs):
        if len(copies) == 3:  # the second chunk: the server ends the import's connection under its COPYs
            pid = session_.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar()
            with psycopg.connect(conninfo, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        copies.append(kwargs.get("copy_into") is not None)
        return original(session_, compiled, names, rows, **kwargs)

    monkeypatch.setattr(imports, "_executemany", cut)
    path = _hl1_list(tmp_path)
    with pytest.raises(OperationalError) as raised:
        import_stalls(session, ACTOR, path)
    assert raised.value.connection_invalidated and "administrator command" in str(raised.value), raised.value
    said = storage.describe_failure(raised.value)
    assert said and "K-" not in said and "\n" not in said
    assert session.info.get("market40.copy_behind") is None
    session.rollback()  # what a caller does after any failed import: no second error from the dead connection
    assert session.connection().exec_driver_sql("SELECT count(*) FROM stall").scalar() == 0
    assert session.connection().exec_driver_sql("SELECT count(*) FROM payment_account").scalar() == 0


@pytest.mark.parametrize("engine", ["postgresql"], indirect=True)  # SQLite writes in line
def test_a_statement_after_a_queued_copy_sees_its_rows(session, market):
    """The import's next statement waits for the COPYs queued before it, even one not yet begun."""
    import time

    from market40.services import imports
    market_id = market.id  # read here: the COPY's thread touches nothing but its driver connection
    behind = imports._CopyBehind.start(session)
    driver = session.connection().connection.dbapi_connection

    def late_copy() -> None:
        time.sleep(0.3)  # the import has gone on meanwhile
        with driver.cursor() as cursor, cursor.copy("COPY stall (market_id, code, code_key, owner_name, status, "
                                                    "created_at, updated_at) FROM STDIN") as copy:
            copy.write_row((market_id, "Z-1", "Z1", "Lan", "operating", utcnow(), utcnow()))

    try:
        behind.copy(late_copy)
        assert session.connection().exec_driver_sql("SELECT count(*) FROM stall").scalar() == 1
    finally:
        behind.end()
    session.rollback()


@pytest.mark.parametrize("engine", ["postgresql"], indirect=True)  # SQLite numbers rows after they are in
def test_new_ids_are_drawn_beside_queued_copies_not_after_them(session, market):
    """While one chunk's COPYs run, the next chunk's ids come from the sequence at once (on a second
    connection): no chunk waits for the one before it to be written just to number its rows."""
    import threading

    from market40.services import imports
    behind = imports._CopyBehind.start(session)
    first = imports._draw_ids(session, Stall.__table__, 2)  # nothing queued: on the import's own connection
    release, ran = threading.Event(), []

    def slow_copy() -> None:
        release.wait(10)
        ran.append(True)

    try:
        behind.copy(slow_copy)
        drawn = imports._draw_ids(session, Stall.__table__, 3)
        assert not ran  # drawn while the COPY was still waiting
        assert len(set(first + drawn)) == 5 and min(drawn) > max(first)
    finally:
        release.set()
        behind.end()
    assert ran and behind.second is None  # the second connection went back with the import's end
    session.rollback()


def test_bulk_rows_read_back_exactly_as_written(session, market):
    """PostgreSQL takes bulk rows in binary when every value fits (dates, times to the microsecond, text with
    Vietnamese marks, empty cells): what is read back is what was written, as on SQLite."""
    from datetime import date, datetime, timedelta, timezone

    from market40.services import imports
    at = datetime(2026, 7, 1, 9, 30, 15, 123456, tzinfo=timezone(timedelta(hours=7)))
    rows = [(market.id, "Đ-1", "D1", "Tiệm Bà Tư “Hạnh”\\tab", "Nguyễn Thị Hạnh", None, "operating",
             date(2025, 7, 1), at, at),
            (market.id, "Đ-2", "D2", None, "Lê Văn Ất", "0912345678", "closed", None, at, at)]
    columns = ("market_id", "code", "code_key", "shop_name", "owner_name", "owner_phone", "status", "opened_on",
               "created_at", "updated_at")
    imports.bulk_insert(session, Stall.__table__, rows, columns)
    got = sorted(session.exec(select(Stall).where(Stall.market_id == market.id)).all(), key=lambda s: s.code)
    assert [(s.code, s.shop_name, s.owner_name, s.owner_phone, s.status, s.opened_on) for s in got] == [
        ("Đ-1", "Tiệm Bà Tư “Hạnh”\\tab", "Nguyễn Thị Hạnh", None, "operating", date(2025, 7, 1)),
        ("Đ-2", None, "Lê Văn Ất", "0912345678", "closed", None)]
    assert all(s.created_at == at for s in got)  # the same instant, to the microsecond
    if session.connection().dialect.name == "postgresql":
        assert imports._binary_copy_types(session, "stall", list(columns), rows) is not None  # went in binary
        text_in_number = [(str(market.id), *rows[0][1:])]  # a value a binary column cannot take as it is
        assert imports._binary_copy_types(session, "stall", list(columns), text_in_number) is None
        stamped_day = [(*rows[0][:7], at, at, at)]  # a time where a date goes
        assert imports._binary_copy_types(session, "stall", list(columns), stamped_day) is None
        too_large = [(2**31, *rows[0][1:])]  # binary would cut it to the column's 32 bits without a word
        assert imports._binary_copy_types(session, "stall", list(columns), too_large) is None
        assert imports._binary_copy_types(session, "stall", list(columns), [(2**31 - 1, *rows[0][1:])])
    imports.bulk_insert(session, Stall.__table__, [(str(market.id), "Đ-3", "D3", *rows[1][3:])], columns)
    assert session.exec(select(Stall.market_id).where(Stall.code == "Đ-3")).one() == market.id  # as text, converted
    session.rollback()


@pytest.mark.parametrize("engine", ["postgresql"], indirect=True)
def test_an_import_without_a_second_connection_still_lands_whole(session, market, engine, tmp_path, monkeypatch,
                                                                 caplog):
    """A server that takes no more connections: the ids are drawn on the import's own connection (after
    the COPYs before them), and the import lands as it would have."""
    from sqlalchemy.exc import OperationalError

    from market40.services import imports
    monkeypatch.setattr(imports, "CHUNK", 3)

    import threading
    connect = engine.connect

    def refused(*args, **kwargs):  # while COPYs run behind the import, the server is full
        if any(thread.name == "market40-copy" for thread in threading.enumerate()):
            raise OperationalError("connect", {}, Exception("too many clients already"))
        return connect(*args, **kwargs)

    path = tmp_path / "list.csv"
    with open(path, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER_WITH_MARKET)
        writer.writerows(row for row in _province_rows(12) if row[0] == "HL1")
    monkeypatch.setattr(engine, "connect", refused)
    report = import_stalls(session, ACTOR, path)
    assert report.written and report.created == 7 and not report.problems
    assert session.connection().exec_driver_sql("SELECT count(*) FROM stall").scalar() == 7
    assert "no second connection" in caplog.text
