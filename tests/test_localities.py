"""Vietnam's administrative units (market40.localities) and loading them into a registry.

The data: 34 provinces, their commune-level units since 1 July 2025 with the GSO's 5-digit codes,
the former district-level units and the old→new links. The commands: ``locality list|show|load``
and ``db init --province`` (CliRunner on real SQLite files), the load service on SQLite and
PostgreSQL, and a fresh registry that takes a real market straight away.
"""
from __future__ import annotations

import collections
import csv
import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlmodel import Session, func, select

import cli
from market40 import db, localities
from market40.exceptions import Forbidden, InvalidFormat, NotFound
from market40.models import AuditEvent, Locality, LocalityLink, Market
from market40.services.localities import load_province
from market40.services.registry import Actor, Registry

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "market40" / "data"
OPERATOR = Actor.operator("tests")


# --- the shipped data ---------------------------------------------------------------------

def test_34_provinces_with_gso_codes():
    provinces = localities.provinces()
    assert len(provinces) == 34
    assert all(re.fullmatch(r"[0-9]{2}", p.code) for p in provinces)
    by_code = {p.code: p.name for p in provinces}
    assert by_code["22"] == "Quảng Ninh" and by_code["01"] == "Hà Nội" and by_code["79"] == "Hồ Chí Minh"
    assert by_code["31"] == "Hải Phòng" and by_code["46"] == "Huế"
    assert collections.Counter(p.unit_type for p in provinces) == {"tỉnh": 28, "thành phố trung ương": 6}


def test_every_commune_and_former_district_is_there_and_linked():
    communes = localities.units()
    districts = localities.units(former=True)
    assert len(communes) == 3321 and len(districts) == 696
    assert all(re.fullmatch(r"[0-9]{5}", u.code) for u in communes)
    assert all(re.fullmatch(r"[0-9]{3}", u.code) for u in districts)
    assert len({u.code for u in communes + districts}) == 3321 + 696
    assert {u.unit_type for u in communes} == {"xã", "phường", "đặc khu"}
    assert {u.unit_type for u in districts} >= {"quận", "huyện", "thị xã", "thành phố"}
    assert all(u.valid_from == localities.REFORM_DAY and u.valid_to is None for u in communes)
    assert all(u.valid_from is None and u.valid_to == localities.REFORM_DAY for u in districts)
    assert all("  " not in u.name and u.name == u.name.strip() for u in communes + districts)
    links = localities.links()
    assert len(set(links)) == len(links)
    assert {o for o, _ in links} == {u.code for u in districts}  # all 34 provinces: nothing left out
    assert {n for _, n in links} == {u.code for u in communes}
    # a former district and the communes it became are in the same (new) province
    units = {u.code: u for u in communes + districts}
    assert all(units[o].province_code == units[n].province_code for o, n in links)


def test_quang_ninh():
    qn = localities.province("22")
    assert len(localities.units(province=qn.code)) == 54
    assert len(localities.units(province="Quảng Ninh", former=True)) == 13
    ha_long = localities.unit("06688")
    assert (ha_long.name, ha_long.kind, ha_long.unit_type, ha_long.province.code) == \
        ("Phường Hạ Long", "commune", "phường", "22")
    assert [u.code for u in localities.formers_of("06688")] == ["193"]
    assert "06688" in [u.code for u in localities.successors_of("193")]
    assert localities.unit("193").former_province == "Quảng Ninh"


def test_merged_provinces_keep_their_former_districts():
    """Hải Dương joined Hải Phòng: its former districts are listed under 31, named with Hải Dương."""
    former = localities.units(province="31", former=True)
    assert {u.former_province for u in former} == {"Hải Phòng", "Hải Dương"}
    assert all(u.province.name == "Hải Phòng" for u in former)


@pytest.mark.parametrize("query", ["22", 22, "Quảng Ninh", "quang ninh", "QUẢNG NINH", "Tỉnh Quảng Ninh", " 22 "])
def test_a_province_by_code_or_name(query):
    assert localities.province(query).code == "22"


@pytest.mark.parametrize("query, code", [("TP Hồ Chí Minh", "79"), ("hcm", "79"), ("Thành phố Hà Nội", "01"),
                                         ("1", "01"), ("thanh pho hue", "46")])
def test_cities_by_their_usual_names(query, code):
    assert localities.province(query).code == code


def test_an_unknown_province_names_the_value_and_suggests():
    with pytest.raises(NotFound) as error:
        localities.province("Quang Nihn")
    assert "'Quang Nihn'" in str(error.value) and "22 Quảng Ninh" in str(error.value)
    assert "không có tỉnh" in str(error.value)
    with pytest.raises(NotFound, match="'99'"):
        localities.province("99")
    with pytest.raises(InvalidFormat):
        localities.province(" ")


def test_an_unknown_unit_says_what_a_code_looks_like():
    with pytest.raises(NotFound, match=r"'QN-HL'.*5-digit.*06688.*3-digit.*193"):
        localities.unit("QN-HL")
    with pytest.raises(NotFound, match="'99999'"):
        localities.unit("99999")


def test_the_data_says_where_it_comes_from():
    sources = {s["package"]: s for s in localities.sources()}
    assert set(sources) == {"vietnam-provinces", "vietnamadminunits"}
    assert all(s["version"] and s["data_version"] and s["licence"] for s in sources.values())
    readme = (DATA / "README.md").read_text(encoding="utf-8")
    assert "vn-localities.csv" in readme and "make_localities.py" in readme
    assert (ROOT / "data" / "make_localities.py").is_file()
    with open(DATA / "vn-localities.csv", encoding="utf-8", newline="") as handle:
        header = next(csv.reader(handle))
    assert header == ["code", "name", "kind", "unit_type", "province_code", "former_province", "valid_from",
                      "valid_to"]


# --- loading a province into a registry (SQLite and PostgreSQL) -------------------------

def _count(session: Session, model) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def test_load_is_idempotent(session):
    first = load_province(session, OPERATOR, "22")
    session.commit()
    assert (first.communes, first.districts, first.created, first.links_created) == (54, 13, 67, 60)
    assert first.changed and "67 units added" in first.summary()
    assert (_count(session, Locality), _count(session, LocalityLink)) == (67, 60)
    audits = _count(session, AuditEvent)
    again = load_province(session, OPERATOR, "Quảng Ninh")
    session.commit()
    assert (again.created, again.updated, again.unchanged, again.links_created) == (0, 0, 67, 0)
    assert not again.changed and "nothing changed" in again.summary()
    assert (_count(session, Locality), _count(session, LocalityLink)) == (67, 60)
    assert _count(session, AuditEvent) == audits  # nothing happened, nothing recorded
    registry = Registry(session, OPERATOR)
    assert registry.locality("06688").name == "Phường Hạ Long"
    assert registry.locality("193").valid_to == localities.REFORM_DAY


def test_load_corrects_a_renamed_unit_and_keeps_everything_else(session):
    registry = Registry(session, OPERATOR)
    registry.add_locality(code="06688", name="P. Ha Long (typed by hand)", kind="commune", unit_type="phường",
                          province="Quảng Ninh", valid_from=localities.REFORM_DAY)
    registry.save_market(code="HH1", name="Chợ Hồng Hà", tier="III", locality="06688")
    session.commit()
    report = load_province(session, OPERATOR, "22")
    session.commit()
    assert (report.created, report.updated, report.unchanged) == (66, 1, 0)
    assert "Phường Hạ Long" in report.changes[0]
    assert _count(session, Locality) == 67  # the existing row was kept, not duplicated
    market = session.exec(select(Market).where(Market.code == "HH1")).one()
    assert session.get(Locality, market.locality_id).name == "Phường Hạ Long"
    assert session.exec(select(AuditEvent).where(AuditEvent.action == "locality.update")).one()


def test_only_operators_and_admins_load_master_data(session):
    with pytest.raises(Forbidden):
        load_province(session, Actor(name="user:9", role="staff", markets=frozenset()), "22")
    with pytest.raises(NotFound, match="Quảng Ninh"):
        load_province(session, OPERATOR, "Quang Nihn")
    assert _count(session, Locality) == 0


def test_a_user_scoped_to_a_former_district_sees_the_markets_of_its_communes(session):
    load_province(session, OPERATOR, "22")
    registry = Registry(session, OPERATOR)
    registry.save_market(code="HL1", name="Chợ Hạ Long I", tier="I", locality="06685")
    registry.save_market(code="CP1", name="Chợ Trung tâm Cẩm Phả", tier="I", locality="06793")
    user = registry.add_user("cb.halong", "officer", password="mat-khau-du-dai", localities=["193"])
    session.commit()
    officer = Registry(session, Actor.for_user(session, user))
    assert [m.code for m in officer.markets()] == ["HL1"]


def test_a_code_whose_leading_zero_a_spreadsheet_dropped_is_found(session):
    load_province(session, OPERATOR, "22")
    registry = Registry(session, OPERATOR)
    assert registry.locality("6688").code == "06688"
    with pytest.raises(NotFound, match="locality load"):
        registry.locality("12345")


# --- the commands -------------------------------------------------------------------------

@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MARKET40_SECRET_KEY", "test-secret-key-of-enough-length")
    monkeypatch.delenv("MARKET40_DATABASE_URL", raising=False)
    runner = CliRunner()
    database = str(tmp_path / "registry.db")

    def invoke(*args, db=database):
        return runner.invoke(cli.main, ["--db", db, *map(str, args)], catch_exceptions=False)
    return invoke


def test_locality_list(run):
    provinces = json.loads(run("locality", "list", "--json").output)
    assert len(provinces) == 34
    qn = next(p for p in provinces if p["code"] == "22")
    assert (qn["name"], qn["communes"], qn["former_districts"]) == ("Quảng Ninh", 54, 13)
    table = run("locality", "list")
    assert "Quảng Ninh" in table.output and "vietnam-provinces" in table.output  # the source is named
    communes = json.loads(run("locality", "list", "--province", "22", "--json").output)
    assert len(communes) == 54 and all(len(c["code"]) == 5 for c in communes)
    ha_long = next(c for c in communes if c["code"] == "06688")
    assert ha_long["came_from"] == [{"code": "193", "name": "Thành phố Hạ Long"}]
    former = run("locality", "list", "--province", "Quảng Ninh", "--former")
    assert former.exit_code == 0 and "Thành phố Hạ Long" in former.output and "13 former" in former.output
    text = run("locality", "list", "--province", "quang ninh").output
    assert "06688" in text and "Phường Hạ Long" in text and "193 Thành phố Hạ Long" in text


def test_locality_show(run):
    shown = run("locality", "show", "06688")
    assert shown.exit_code == 0
    # dates as market40.formats writes them in English (Vietnamese: 01/07/2025, tests/test_cli_lang.py)
    for expected in ("Phường Hạ Long", "commune-level unit", "phường", "22 Quảng Ninh", "2025-07-01",
                     "193 Thành phố Hạ Long"):
        assert expected in shown.output
    district = json.loads(run("locality", "show", "193", "--json").output)
    assert (district["kind"], district["valid_to"], district["valid_from"]) == ("district", "2025-07-01", None)
    assert {"code": "06688", "name": "Phường Hạ Long"} in district["became"] and len(district["became"]) == 13
    text = run("locality", "show", "193").output
    assert "2025-06-30" in text and "start not recorded" in text and "đơn vị cấp huyện cũ" in text
    vietnamese = run("--lang", "vi", "locality", "show", "193").output
    assert "đến 30/06/2025 (không ghi ngày bắt đầu)" in vietnamese
    province = json.loads(run("locality", "show", "22", "--json").output)
    assert (province["kind"], province["communes"]) == ("province", 54)


def test_bad_input_names_the_value_and_suggests(run):
    result = run("locality", "list", "--province", "Quang Nihn")
    assert result.exit_code == 1 and "'Quang Nihn'" in result.output and "22 Quảng Ninh" in result.output
    result = run("locality", "show", "QN-HL")
    assert result.exit_code == 1 and "'QN-HL'" in result.output and "5-digit" in result.output
    result = run("locality", "load", "Quang Nihn")
    assert result.exit_code == 1 and "did you mean 22 Quảng Ninh" in result.output
    for args in (("locality", "--help"), ("locality", "list", "--help"), ("locality", "show", "--help"),
                 ("locality", "load", "--help")):
        assert "Example" in run(*args).output


def test_locality_load_needs_a_registry_and_is_idempotent(run):
    result = run("locality", "load", "22")
    assert result.exit_code == 1 and "db init" in result.output
    assert run("db", "init").exit_code == 0
    first = run("locality", "load", "22")
    assert first.exit_code == 0 and "67 units added" in first.output and "60 links added" in first.output
    again = run("locality", "load", "Quảng Ninh", "--json")
    report = json.loads(again.output)[0]
    assert (report["created"], report["updated"], report["links_created"], report["changed"]) == (0, 0, 0, False)
    assert "nothing changed" in run("locality", "load", "22").output


def test_a_fresh_registry_takes_a_real_market_and_a_market_list(run, tmp_path):
    init = run("db", "init", "--province", "22")
    assert init.exit_code == 0 and "54 commune-level units" in init.output
    added = run("market", "add", "HH1", "--name", "Chợ Hồng Hà", "--tier", "III", "--locality", "06688")
    assert added.exit_code == 0 and "HH1: created" in added.output
    imported = run("market", "import", ROOT / "data" / "samples" / "markets-new.csv", "--json")
    assert imported.exit_code == 0, imported.output
    assert json.loads(imported.output)["created"] == 1  # TC1 (HH1 exists: same values, unchanged)
    markets = {m["code"]: m for m in json.loads(run("market", "list", "--json").output)}
    assert set(markets) == {"HH1", "TC1"} and markets["TC1"]["locality"] == "Phường Tuần Châu"
    # a locality that is not loaded is named, with what to do
    other = run("market", "add", "HN1", "--name", "Chợ Đồng Xuân", "--tier", "I", "--locality", "00070")
    assert other.exit_code == 1 and "'00070'" in other.output and "locality load" in other.output


def test_db_init_refuses_an_unknown_province_before_creating_anything(run, tmp_path):
    result = run("db", "init", "--province", "Quảng Nimh")
    assert result.exit_code == 1 and "'Quảng Nimh'" in result.output and "22 Quảng Ninh" in result.output
    assert not (tmp_path / "registry.db").exists()


def test_the_demo_registry_uses_the_official_codes(run, demo_template, tmp_path):
    shutil.copyfile(demo_template, tmp_path / "registry.db")  # ``market40 demo --no-walkthrough``, built once per run
    hl1 = json.loads(run("market", "list", "--locality", "06685", "--json").output)
    assert "HL1" in [m["code"] for m in hl1]  # Chợ Hạ Long I, in Phường Hồng Gai
    assert "nothing changed" in run("locality", "load", "22").output  # the demo loaded exactly these


def test_load_on_postgresql_too(empty_db_url):
    """The same command on both back ends (empty_db_url is parametrised over SQLite and PostgreSQL)."""
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(cli.main, ["--db", empty_db_url, *args], catch_exceptions=False)

    assert invoke("db", "init", "--province", "22").exit_code == 0
    again = invoke("locality", "load", "22")
    assert again.exit_code == 0 and "nothing changed" in again.output
    engine = db.make_engine(empty_db_url)
    try:
        with Session(engine) as session:
            assert (_count(session, Locality), _count(session, LocalityLink)) == (67, 60)
    finally:
        engine.dispose()
