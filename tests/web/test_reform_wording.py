"""Roles and levels are named as they are after the 2025 reform: commune/ward officers and the
provincial Department of Industry and Trade, not "district officers"; former districts stay for history."""
import re
from pathlib import Path

from webhelpers import sign_in

WEB = Path(__file__).resolve().parents[2] / "web"


def test_the_officer_role_is_named_after_the_reform(client, world):
    sign_in(client, world.user("admin"))
    form = client.get("/admin/users/new").get_data(as_text=True)
    assert "Cán bộ xã/phường, Sở Công Thương" in form and "Cán bộ địa phương" not in form
    assert "06688" in form and "đơn vị cấp huyện cũ" in form  # how to scope each kind of officer
    users = client.get("/admin/users").get_data(as_text=True)
    assert "Cán bộ xã/phường, Sở Công Thương" in users
    english = client.get("/admin/users/new?lang=en").get_data(as_text=True)
    assert "Commune/ward officer, provincial Department of Industry and Trade" in english
    assert "Local officer" not in english


def test_no_district_officers_left_in_the_web_app():
    texts = [p.read_text(encoding="utf-8") for p in [*WEB.glob("*.py"), *WEB.glob("templates/**/*.html"),
                                                      *WEB.glob("translations/*/LC_MESSAGES/*.po")]]
    for text in texts:
        assert not re.search(r"district officer|cán bộ (huyện|quận)|cán bộ địa phương", text, re.IGNORECASE)
