"""Issue #14 (in #9): one account-number rule for the web form, `account set` and the imports."""
from __future__ import annotations

import csv

from click.testing import CliRunner
from sqlmodel import Session, select

from market40.models import PaymentAccount, Stall
from market40.services.imports import import_stalls
from market40.services.registry import Actor, Registry

from webhelpers import post, sign_in

ACTOR = Actor.operator("tests")
CASES = (("0011 0123 44418", True), ("0011-0123-44418", True), ("0011.0123.44418", True), ("0011012344418", True),
         ("0011/012344418", False), ("0011ă12344418", False), ("00110123444180000000", False))


def test_the_web_form_account_set_and_the_board_list_agree(client, world, engine, tmp_path):
    with Session(engine) as session:
        Registry(session, ACTOR).save_stall("HL1", code="Z-1", owner_name="Nguyễn Thị Lan")
        session.commit()
    sign_in(client, world.user("owner_a"))
    url = engine.url.render_as_string(hide_password=False)
    from cli import main
    runner = CliRunner()

    def web(number):
        page = post(client, "/owner/account", {"bank": "970436", "number": number, "holder_name": "Nguyễn Thị Lan",
                                               "action": "preview"})
        return 'id="f-number-error"' not in page.text

    def cli(number):
        return runner.invoke(main, ["--db", url, "account", "set", "HL1/Z-1", "--bank", "vcb", "--account", number,
                                    "--holder", "NGUYEN THI LAN"]).exit_code == 0

    def board(number):
        path = tmp_path / "list.csv"
        with open(path, "w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerows([["Mã sạp", "Tên chủ hộ", "Ngân hàng", "Số tài khoản", "Tên chủ tài khoản"],
                                          ["Z-1", "Nguyễn Thị Lan", "VCB", number, "NGUYEN THI LAN"]])
        with Session(engine) as session:
            return not import_stalls(session, ACTOR, path, market="HL1", dry_run=True).problems

    for number, good in CASES:
        assert (web(number), cli(number), board(number)) == (good, good, good), number
    with Session(engine) as session:
        z1 = session.exec(select(Stall).where(Stall.code == "Z-1")).one()
        numbers = {a.number for a in session.exec(select(PaymentAccount).where(PaymentAccount.stall_id == z1.id))}
    assert numbers == {"0011012344418"}  # stored once, without separators; the variants change nothing
