"""Backups that restore (issue #16): a backup taken while the registry is written to, restored into a
fresh place, is served by the web app (login works, a stall shows). SQLite and PostgreSQL."""
from __future__ import annotations

import json
import re
import subprocess
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlmodel import Session, select

import cli
from market40 import backup as backups
from market40 import db
from market40.exceptions import Conflict, Market40Error
from market40.models import AuditEvent, Stall
from market40.services.registry import Actor, Registry
from market40.txstore import TransferStore
from web import create_app

from webhelpers import PASSWORD, SECRET

ROOT = Path(__file__).resolve().parents[2]


def _url(engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def _serve(url: str) -> None:
    """The restored registry is served: login works and a stall's page shows."""
    engine = db.make_engine(url)
    try:
        app = create_app({"ENGINE": engine, "SECRET_KEY": SECRET, "TESTING": True, "SECOND_FACTOR_ROLES": ""})
        client = app.test_client()
        page = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        response = client.post("/login", data={"csrf_token": token, "username": "staff.hl", "password": PASSWORD})
        assert response.status_code == 302
        stall = client.get("/staff/stall/HL1/A-12")
        assert stall.status_code == 200 and "Hải sản Cô Lan" in stall.text
    finally:
        engine.dispose()


def _writer(url: str, stop: threading.Event) -> threading.Thread:
    """Keeps writing stalls while the backup runs (the app in use); returns once it has written some."""
    started = threading.Event()

    def run() -> None:
        engine = db.make_engine(url)
        index = 0
        while not stop.is_set():
            with db.session_scope(engine) as session:
                Registry(session, Actor.operator("writer")).save_stall("HL1", code=f"W-{index}",
                                                                       owner_name="Người Ghi")
            index += 1
            if index == 3:
                started.set()
        engine.dispose()
    thread = threading.Thread(target=run)
    thread.start()
    started.wait(60)
    return thread


def _target(request, tmp_path) -> str:
    if request.node.callspec.params["engine"] == "sqlite":
        return db.database_url(str(tmp_path / "restored" / "market40.db"))
    return request.getfixturevalue("postgres_server").create_database()


def test_a_backup_taken_while_in_use_restores_and_is_served(request, engine, world, tmp_path):
    url = _url(engine)
    store = tmp_path / "market40.transfers.duckdb"
    with TransferStore(store) as transfers:
        transfers.con.execute("CREATE TABLE probe AS SELECT range AS n FROM range(1000)")
    stop = threading.Event()
    writer = _writer(url, stop)
    try:
        report = backups.backup(url, tmp_path / "backup", store=str(store))
    finally:
        stop.set()
        writer.join()
    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text())
    assert manifest["revision"] == db.head_revision() and "secret" in manifest
    assert set(report.files) == {"registry.db" if engine.dialect.name == "sqlite" else "registry.pgdump",
                                 "transfers.duckdb"}

    target = _target(request, tmp_path)
    restored_store = tmp_path / "restored" / "transfers.duckdb"
    backups.restore(tmp_path / "backup", target, store=str(restored_store))
    _serve(target)
    restored = db.make_engine(target)
    try:
        with Session(restored) as session:
            stalls = session.exec(select(Stall)).all()
            assert {"A-12", "B-1"} <= {s.code for s in stalls}
            # consistent: every stall the writer created has its audit event, and the reverse
            written = {s.id for s in stalls if s.code.startswith("W-")}
            created = {int(e.entity_id) for e in session.exec(select(AuditEvent).where(
                AuditEvent.action == "stall.create")).all()}
            assert written and written <= created
    finally:
        restored.dispose()
    with TransferStore(restored_store, read_only=True) as transfers:
        assert transfers.con.execute("SELECT count(*) FROM probe").fetchone()[0] == 1000

    with pytest.raises(Conflict):  # never over a registry by accident
        backups.restore(tmp_path / "backup", target, store=str(tmp_path / "other.duckdb"))
    with pytest.raises(Conflict):  # nor into a folder that holds something
        backups.backup(url, tmp_path / "backup")


def test_a_damaged_backup_is_refused(engine, world, tmp_path):
    backups.backup(_url(engine), tmp_path / "backup")
    name = next(p for p in (tmp_path / "backup").iterdir() if p.name.startswith("registry"))
    data = bytearray(name.read_bytes())
    data[len(data) // 2] ^= 0xFF
    name.write_bytes(bytes(data))
    with pytest.raises(Market40Error, match="damaged"):
        backups.restore(tmp_path / "backup", db.database_url(str(tmp_path / "new.db")))


def test_the_cli_backs_up_restores_and_reminds_of_the_secret(tmp_path, monkeypatch, demo_copy, demo_secret):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MARKET40_SECRET_KEY", demo_secret)
    monkeypatch.delenv("MARKET40_TX_STORE", raising=False)
    runner = CliRunner()
    # the source is ``market40 demo --no-walkthrough`` (built once per run, copied here)
    source, restored = str(demo_copy), str(tmp_path / "restored" / "r.db")
    result = runner.invoke(cli.main, ["--db", source, "backup", str(tmp_path / "b")])
    assert result.exit_code == 0, result.output
    assert "secret" in result.output and "separately" in result.output
    (tmp_path / "restored").mkdir()
    result = runner.invoke(cli.main, ["--db", restored, "restore", str(tmp_path / "b")])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli.main, ["--db", restored, "stall", "list", "HL1", "--limit", "3"])
    assert result.exit_code == 0 and "A-" in result.output
    result = runner.invoke(cli.main, ["--db", restored, "restore", str(tmp_path / "b")])
    assert result.exit_code == 1 and "--force" in result.output and "Traceback" not in result.output


def test_stores_and_secrets_are_ignored_by_git(tmp_path):
    names = ["market40.transfers.duckdb", "x/y.duckdb", ".market40-secret", "market40.db", "registry.pgdump"]
    done = subprocess.run(["git", "check-ignore", "--no-index", *names], cwd=ROOT, capture_output=True, text=True)
    assert sorted(done.stdout.split()) == sorted(names)
