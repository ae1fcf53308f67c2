"""The package's folders are its layers: the drawing of its imports is the design.

Every module of ``ent_idp`` is parsed (``ast``, nothing imported) and each import checked
against the table below, read from the bottom up: a module imports only the layers below its
own; ``directory/`` and ``store/`` never import each other, and are the only homes of ldap3
and redis-py; the domain modules are siblings that never import each other. Each rule also
runs on a small tree that breaks it, so a rule that no longer catches anything fails here.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "ent_idp"

# Bottom to top. A unit is a top-level module or folder of ent_idp (in domain/, each module
# or folder of it). Units of "base" may import each other; in every other layer, a unit
# imports only its own files and the layers below.
LAYERS: list[tuple[str, set[str]]] = [
    (
        "base",
        {"errors", "settings", "audit", "languages", "shipped", "mail_records", "metrics", "logs"},
    ),
    ("services", {"directory", "store", "mails", "cas"}),
    ("core", {"core"}),
    ("domain", {"domain"}),
    ("web", {"web"}),
    ("cli", {"cli"}),
    ("entry points", {"__init__", "__main__"}),  # create_app; python -m ent_idp
]
# Third-party packages only one unit may import.
HOMES = {"ldap3": "directory", "redis": "store"}
MAX_MODULE_LINES = 320  # "readable in one sitting" (~300)
MAX_VIEW_LINES = 30


@dataclass(frozen=True)
class Module:
    name: str  # dotted, below ent_idp: "store.tokens", "domain.admin.check", "__init__"
    source: str


def modules(root: Path = PACKAGE) -> list[Module]:
    found = []
    for path in sorted(root.rglob("*.py")):
        name = ".".join(path.relative_to(root).with_suffix("").parts)
        found.append(Module(name, path.read_text(encoding="utf-8")))
    return found


def unit(name: str) -> str:
    """The unit a dotted name below ent_idp belongs to."""
    parts = name.split(".")
    if parts[0] == "domain" and len(parts) > 1 and parts[1] != "__init__":
        return f"domain.{parts[1]}"
    return parts[0]


def layer(name: str) -> int:
    top = unit(name).split(".")[0]
    for index, (_, members) in enumerate(LAYERS):
        if top in members:
            return index
    raise AssertionError(f"ent_idp/{name.replace('.', '/')}: in no layer of test_layers.LAYERS")


def imports(module: Module) -> list[tuple[str, int]]:
    """(what it imports, line): ``ent_idp.<name>`` for ours, the top package otherwise."""
    package = module.name.split(".")[:-1]  # a/b/c.py and a/b/__init__.py: a.b
    found = []
    for node in ast.walk(ast.parse(module.source)):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join([*base, *(node.module.split(".") if node.module else [])])
                names = [target] if node.module else [f"{target}.{a.name}" for a in node.names]
                found += [(".".join(("ent_idp", n.strip("."))), node.lineno) for n in names]
            else:
                found.append((node.module or "", node.lineno))
    return found


def violations(found: list[Module]) -> list[str]:
    broken = []
    for module in found:
        here = f"ent_idp/{module.name.replace('.', '/')}.py"
        mine = unit(module.name)
        for target, line in imports(module):
            top = target.split(".")[0]
            if top in HOMES and mine != HOMES[top]:
                broken.append(f"{here}:{line}: imports {top}, which only {HOMES[top]}/ may")
            if top != "ent_idp" or target == "ent_idp":
                continue
            theirs = target.removeprefix("ent_idp.")
            if unit(theirs) == mine:
                continue
            below, above = layer(theirs), layer(module.name)
            if below < above or (below == above == 0):
                continue
            how = "a sibling" if below == above else "a layer above"
            broken.append(f"{here}:{line}: imports ent_idp.{theirs}, {how}")
    return broken


def oversized(found: list[Module]) -> list[str]:
    broken = []
    for module in found:
        here = f"ent_idp/{module.name.replace('.', '/')}.py"
        lines = module.source.count("\n")
        if lines > MAX_MODULE_LINES:
            broken.append(f"{here}: {lines} lines")
        if not module.name.startswith("web.views."):
            continue
        for node in ast.parse(module.source).body:
            if isinstance(node, ast.FunctionDef) and node.decorator_list:
                length = node.end_lineno - node.lineno + 1
                if length > MAX_VIEW_LINES:
                    broken.append(f"{here}:{node.lineno}: view {node.name} is {length} lines")
    return broken


def test_every_import_goes_down_the_layers():
    """A module that reaches up (the directory calling a view) or sideways (one domain flow
    calling another, the store reading the directory) ties together what the layout keeps
    apart: the next change to one would break the other."""
    assert violations(modules()) == []


def test_modules_and_views_stay_small():
    """A module is read in one sitting, a view is parse-call-render: when either grows, the
    logic belongs a layer down."""
    assert oversized(modules()) == []


@pytest.mark.parametrize(
    ("name", "source", "expected"),
    [
        ("domain.activation", "import ldap3\n", "imports ldap3, which only directory/ may"),
        ("web.views.flow", "from redis import Redis\n", "imports redis, which only store/"),
        ("domain.terms", "from .activation import identify\n", "domain.activation, a sibling"),
        ("domain.admin.check", "from ..unlock import peek\n", "domain.unlock, a sibling"),
        ("store.tokens", "from ..directory import Account\n", "directory, a sibling"),
        ("directory.app", "from ..core import flows\n", "core, a layer above"),
        ("core.flows", "from ..web.links import cas_login\n", "web.links, a layer above"),
        ("settings.defaults", "from ent_idp.store import Store\n", "store, a layer above"),
    ],
)
def test_the_rules_catch_what_breaks_them(name, source, expected):
    """Each rule, on a module that breaks it: a checker that stopped seeing imports (a new
    import syntax, a renamed folder) would otherwise pass forever."""
    [found] = violations([Module(name, source)])
    assert expected in found


def test_a_module_in_no_layer_is_named():
    with pytest.raises(AssertionError, match="in no layer"):
        violations([Module("helpers", "from .errors import Conflict\n")])


def test_what_may_be_imported_within_a_unit_or_from_below():
    allowed = [
        Module("domain.admin.check", "from .accounts import Outcome\nfrom ...store import Store\n"),
        Module("settings.checks", "from ..errors import ConfigError\n"),
        Module("web.views.flow", "from ...domain import activation\nfrom ..forms import X\n"),
        Module("__init__", "from .web import create_app\n"),
    ]
    assert violations(allowed) == []
