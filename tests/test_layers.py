"""The architecture of design.md §4, enforced: imports point down only.

* the payload core (exceptions, text, emv, vietqr) uses the standard library alone;
* pure domain modules never touch storage, images or delivery;
* nothing in ``market40`` imports Flask, click, ``web`` or ``cli``; ``web`` and ``cli`` never
  import each other.
"""
import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STDLIB = set(sys.stdlib_module_names) | {"__future__"}
CORE = ["exceptions", "text", "emv", "vietqr"]
PURE = CORE + ["banks", "accounts", "demo", "passwords", "config", "reconciliation"]
DELIVERY = {"flask", "flask_wtf", "flask_limiter", "flask_babel", "click", "web", "cli", "waitress", "werkzeug"}
HEAVY = {"sqlalchemy", "sqlmodel", "alembic", "psycopg", "segno", "PIL", "zxingcpp", "openpyxl", "duckdb", "fpdf"}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def package_modules():
    return sorted(p for p in (ROOT / "market40").rglob("*.py"))


@pytest.mark.parametrize("name", CORE)
def test_payload_core_uses_the_standard_library_only(name):
    outside = imports_of(ROOT / "market40" / f"{name}.py") - STDLIB - {"market40"}
    assert not outside, f"market40/{name}.py imports {outside}"


@pytest.mark.parametrize("name", PURE)
def test_pure_modules_touch_no_storage_images_or_delivery(name):
    path = ROOT / "market40" / f"{name}.py"
    assert path.exists(), f"market40/{name}.py is listed as a pure module but does not exist"
    assert not imports_of(path) & (HEAVY | DELIVERY)


@pytest.mark.parametrize("path", package_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_library_never_imports_delivery(path):
    assert not imports_of(path) & DELIVERY, f"{path.relative_to(ROOT)} imports a delivery layer"


def test_web_and_cli_do_not_import_each_other():
    for path in (ROOT / "web").rglob("*.py") if (ROOT / "web").exists() else []:
        assert "cli" not in imports_of(path), path
    # cli.py may only reach the web app through its factory, inside the `serve` command
    tree = ast.parse((ROOT / "cli.py").read_text(encoding="utf-8"))
    top_level = {n.module for n in tree.body if isinstance(n, ast.ImportFrom) and n.module} | {
        a.name for n in tree.body if isinstance(n, ast.Import) for a in n.names}
    assert not {m for m in top_level if m.split(".")[0] == "web"}
