"""The architecture of design.md §4, enforced: imports point down only.

* the payload core (exceptions, text, emv, vietqr) uses the standard library alone;
* pure domain modules never touch storage, images or delivery;
* nothing in ``market40`` imports Flask, click, ``web`` or ``cli``; ``web`` and ``cli`` never
  import each other.
"""
import ast
import functools
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STDLIB = set(sys.stdlib_module_names) | {"__future__"}
CORE = ["exceptions", "text", "emv", "vietqr"]
PURE = CORE + ["banks", "accounts", "demo", "passwords", "config", "reconciliation", "formats", "localities",
               "adoption", "fees", "households", "messages"]
DELIVERY = {"flask", "flask_wtf", "flask_limiter", "flask_babel", "click", "web", "cli", "waitress", "werkzeug"}
HEAVY = {"sqlalchemy", "sqlmodel", "alembic", "psycopg", "segno", "PIL", "zxingcpp", "openpyxl", "duckdb", "fpdf"}


@functools.cache
def parsed(path: Path) -> ast.Module:
    """A project file's syntax tree, parsed once per test process (the guards below read each file many times)."""
    return ast.parse(path.read_text(encoding="utf-8"))


def imports_of(path: Path) -> set[str]:
    tree = parsed(path)
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


# --- the whole import graph: every import, relative ones included ---------------------------

#: design.md §4, bottom up. A module may import its own layer and the layers below it.
LAYERS = {
    "core": {"market40.exceptions", "market40.text", "market40.emv", "market40.vietqr"},
    "domain": {"market40.banks", "market40.accounts", "market40.reconciliation", "market40.demo",
               "market40.passwords", "market40.config", "market40.formats", "market40.localities",
               "market40.adoption", "market40.fees", "market40.households", "market40.messages",
               "market40.speech", "market40.webhooks"},
    "adapters": {"market40.db", "market40.models", "market40.tabular", "market40.qrimage", "market40.posters",
                 "market40.transactions", "market40.txstore", "market40.reportfiles",
                 "market40.demo_transactions", "market40.backup", "market40.breached", "market40.feeslips",
                 "market40.notify", "market40.livebus", "market40.loamqtt", "market40.sniff"},
    "services": {"market40.services"},
    "doors": {"cli", "web"},
}
ORDER = list(LAYERS)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def resolve(module: str, node: ast.ImportFrom | ast.Import, is_package: bool,
            known: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """Absolute names a statement imports: ``from x import y`` is ``x.y`` where that is a module, else ``x``."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        base = module.split(".")
        base = base if is_package else base[:-1]
        base = base[: len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    submodules = [f"{target}.{alias.name}" for alias in node.names]
    return [name if name in known else target for name in submodules]


def project_files() -> list[Path]:
    files = [ROOT / "cli.py"]
    for folder in ("market40", "web"):
        files += [p for p in (ROOT / folder).rglob("*.py") if "migrations" not in p.parts]
    return sorted(files)


@functools.cache
def import_graph() -> dict[str, frozenset[str]]:
    """module -> the project modules it imports (at any depth of the file, relative or absolute); built once."""
    files = project_files()
    known = {module_name(p) for p in files}
    graph: dict[str, set[str]] = {}
    for path in files:
        name = module_name(path)
        edges = set()
        for node in ast.walk(parsed(path)):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for target in resolve(name, node, path.name == "__init__.py", known):
                    if target in known and target != name:
                        edges.add(target)
        graph[name] = frozenset(edges)
    return graph


def layer_of(module: str) -> str:
    for layer, members in LAYERS.items():
        if any(module == m or module.startswith(m + ".") for m in members):
            return layer
    return "package"  # market40/__init__.py and the like: imports nothing of ours


def test_every_project_module_has_a_layer():
    unplaced = sorted(m for m in import_graph() if layer_of(m) == "package" and m not in ("market40",))
    assert unplaced == [], "add these modules to LAYERS in tests/test_layers.py"


def test_relative_imports_are_seen():
    graph = import_graph()
    assert "market40.emv" in graph["market40.vietqr"]          # `from . import emv`
    assert "market40.services.registry" in graph["market40.services.auth"]  # `from .registry import …`


def test_no_import_runs_back_up_a_layer():
    wrong = []
    for module, targets in import_graph().items():
        for target in targets:
            if ORDER.index(layer_of(target)) > ORDER.index(layer_of(module)) if layer_of(module) in ORDER \
                    and layer_of(target) in ORDER else False:
                wrong.append(f"{module} ({layer_of(module)}) imports {target} ({layer_of(target)})")
    assert wrong == []


def test_the_payload_core_imports_only_the_core_and_the_standard_library():
    graph = import_graph()
    for module in LAYERS["core"]:
        assert graph[module] <= LAYERS["core"], f"{module} imports {graph[module] - LAYERS['core']}"


def test_the_import_graph_has_no_circle():
    graph = import_graph()
    state: dict[str, int] = {}
    circles = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                circles.append(" → ".join(trail[trail.index(target):] + [target]) if target in trail else target)
            elif target not in state:
                visit(target, trail + [target])
        state[node] = 2

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    assert circles == []


def test_a_relative_import_into_the_core_would_be_caught(tmp_path, monkeypatch):
    """The guard itself: `from . import posters` in vietqr.py (Pillow into the core) must fail it."""
    source = (ROOT / "market40" / "vietqr.py").read_text(encoding="utf-8")
    tree = ast.parse(source + "\nfrom . import posters\n")
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.update(resolve("market40.vietqr", node, False, {"market40.posters", "market40.emv"}))
    assert "market40.posters" in found and layer_of("market40.posters") == "adapters"


# --- doors call services only -------------------------------------------------------------------

#: Doors that still reach an adapter themselves, with the reason; this list only shrinks (a test
#: below fails on an entry that is no longer needed). Empty: web/live.py's bus, MQTT and queries
#: now go through services/live.py like every other door.
DOOR_EXCEPTIONS: dict[str, set[str]] = {}


def door_violations(graph: dict[str, set[str]]) -> list[str]:
    """Every import from the doors (cli.py, web/) into the adapters, models included."""
    return sorted(f"{module} imports {target} ({layer_of(target)}): call a service instead"
                  for module, targets in graph.items() if layer_of(module) == "doors"
                  for target in targets
                  if layer_of(target) == "adapters" and target not in DOOR_EXCEPTIONS.get(module, set()))


def test_doors_call_services_not_adapters():
    """cli.py and web/ import services, domain rules and the core: never storage, files or images."""
    assert door_violations(import_graph()) == []


def test_door_exceptions_are_still_needed():
    graph = import_graph()
    stale = {module: targets - graph.get(module, set()) for module, targets in DOOR_EXCEPTIONS.items()}
    assert {m: t for m, t in stale.items() if t} == {}, "remove these from DOOR_EXCEPTIONS"


@pytest.mark.parametrize("module, line", [
    ("web.db", "from market40 import db as registry_db"),
    ("web.posters", "from market40 import posters, qrimage"),
    ("cli", "from market40.models import Stall"),
    ("web.staff", "from market40.txstore import TransferStore"),
    ("web.officer", "import market40.sniff"),
])
def test_an_adapter_import_in_a_door_would_be_caught(module, line):
    """The guard itself: each of these lines, added to a door, fails the rule; a service import does not."""
    graph = {name: set(targets) for name, targets in import_graph().items()}
    known = set(graph)
    for added, expected in ((line, True), ("from market40.services import storage", False)):
        changed = {name: set(targets) for name, targets in graph.items()}
        changed[module] |= {t for t in resolve(module, ast.parse(added).body[0], False, known) if t in known}
        caught = door_violations(changed)
        assert bool(caught) is expected and all(entry.startswith(module + " ") for entry in caught), added


def test_the_readme_layout_names_every_module():
    """README's layout section matches the tree: every module of market40/, services/ and web/ is named."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]
    words = set(section.replace("/", " ").split())
    missing = [str(path.relative_to(ROOT)) for folder in ("market40", "market40/services", "web")
               for path in sorted((ROOT / folder).glob("*.py"))
               if path.name != "__init__.py" or folder == "web"
               if path.name not in words]
    assert missing == [], "name these in README's layout section"
