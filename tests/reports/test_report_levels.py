"""Reports group localities by former district-level unit or by commune, named as after the 2025 reform."""
import io

import pytest

from market40.exceptions import InvalidFormat
from market40.services.reconcile import reconcile
from market40.services.reports import LEVELS, adoption_summary, export

from reporthelpers import NOW, PERIOD


@pytest.fixture
def reconciled(session, world, loaded_store):
    reconcile(session, world.operator, PERIOD, store=loaded_store, now=NOW)
    return world


def test_former_district_level_and_its_alias(session, reconciled):
    assert LEVELS == ("auto", "former-district", "commune")
    former = adoption_summary(session, reconciled.operator, PERIOD, by="locality", level="former-district")
    alias = adoption_summary(session, reconciled.operator, PERIOD, by="locality", level="district")
    assert [(f.label, f.stalls) for f in former.rows] == [(f.label, f.stalls) for f in alias.rows]
    assert former.level_label == "Đơn vị cấp huyện cũ (trước 1/7/2025)"
    assert former.as_dict()["level_label"] == former.level_label
    commune = adoption_summary(session, reconciled.operator, PERIOD, by="locality", level="commune")
    assert commune.level_label == "Xã, phường, đặc khu (từ 1/7/2025)"
    page = io.BytesIO()
    export(former, "html", page)
    assert "Cấp địa phương: Đơn vị cấp huyện cũ" in page.getvalue().decode("utf-8")
    with pytest.raises(InvalidFormat, match="former-district"):
        adoption_summary(session, reconciled.operator, PERIOD, level="huyen")


def test_the_command_offers_former_district_and_keeps_district():
    from click.testing import CliRunner

    import cli
    text = CliRunner().invoke(cli.main, ["report", "adoption", "--help"]).output
    assert "former-district" in text and "đơn vị cấp huyện cũ" in text and "district" in text
