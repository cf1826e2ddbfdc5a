"""The layer's import direction, kept by a test (docs/architecture.md, "The rule that keeps it").

Every module of ``layers/commerce/commerce`` is parsed (nothing is imported or run) and every
``commerce.*`` import it makes, at the top or inside a function, becomes an arrow between the
layer's top-level rooms (``orders``, ``store``, ``clock``, ...). The rules:

1. no two rooms import each other, directly or through a longer cycle;
2. no module of ``commerce.store`` imports a use-case room: the store knows tables, never the
   decisions made with them;
3. ``commerce.domain`` imports only itself, the clock and the errors: the rules stay pure.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

LAYER = Path(__file__).resolve().parents[2] / "layers" / "commerce" / "commerce"
USE_CASES = frozenset(
    {
        "analytics",
        "carts",
        "catalog",
        "coupons",
        "customers",
        "loyalty",
        "notifications",
        "orders",
        "payments",
        "shipping",
        "tickets",
        "webhooks",
    }
)
DOMAIN_MAY_IMPORT = frozenset({"domain", "clock", "errors"})


@dataclass(frozen=True)
class Arrow:
    """``source`` (a file of the layer) imports ``target`` (a dotted module of the layer)."""

    source: str
    target: str

    @property
    def source_room(self) -> str:
        return room_of_path(self.source)

    @property
    def target_room(self) -> str:
        return self.target.split(".")[1]


def room_of_path(relative: str) -> str:
    first = relative.split("/")[0]
    return first.removesuffix(".py")


def _module_of(path: Path) -> str:
    parts = list(path.relative_to(LAYER.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imported(node: ast.AST, module: str, is_package: bool) -> Iterator[str]:
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom):
        if node.level:
            base = module.split(".")
            if not is_package:
                base = base[:-1]
            base = base[: len(base) - (node.level - 1)]
            origin = ".".join([*base, node.module] if node.module else base)
        else:
            origin = node.module or ""
        yield origin
        # ``from commerce import clock`` names the module ``commerce.clock``.
        yield from (f"{origin}.{alias.name}" for alias in node.names if origin == "commerce")


def arrows() -> list[Arrow]:
    found: list[Arrow] = []
    for path in sorted(LAYER.rglob("*.py")):
        module = _module_of(path)
        relative = path.relative_to(LAYER).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            for target in _imported(node, module, path.name == "__init__.py"):
                if target.startswith("commerce.") and target.count(".") >= 1:
                    found.append(Arrow(relative, target))
    return found


def room_graph(found: list[Arrow]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for arrow in found:
        if arrow.source_room != arrow.target_room:
            graph[arrow.source_room].add(arrow.target_room)
    return graph


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one room (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                group.append(top)
                if top == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(set(graph) | {t for targets in graph.values() for t in targets}):
        if node not in index:
            visit(node)
    return groups


def _why(found: list[Arrow], rooms: list[str]) -> list[str]:
    members = set(rooms)
    return sorted(
        f"{a.source} -> {a.target}"
        for a in found
        if a.source_room in members and a.target_room in members and a.source_room != a.target_room
    )


# --- the rules --------------------------------------------------------------------------------


def test_the_layer_is_read_at_all() -> None:
    found = arrows()
    assert len({a.source for a in found}) > 50
    assert {"orders", "store", "domain", "payments"} <= set(room_graph(found))


def test_no_two_rooms_of_the_layer_import_each_other() -> None:
    found = arrows()
    circles = cycles(room_graph(found))
    assert circles == [], "\n".join(
        f"{' <-> '.join(group)}: " + "; ".join(_why(found, group)) for group in circles
    )


def test_the_store_never_imports_a_use_case() -> None:
    upward = sorted(
        f"{a.source} -> {a.target}"
        for a in arrows()
        if a.source_room == "store" and a.target_room in USE_CASES
    )
    assert upward == []


def test_the_domain_imports_only_itself_the_clock_and_the_errors() -> None:
    impure = sorted(
        f"{a.source} -> {a.target}"
        for a in arrows()
        if a.source_room == "domain" and a.target_room not in DOMAIN_MAY_IMPORT
    )
    assert impure == []


def test_payments_hold_only_the_port_its_adapters_and_the_factory() -> None:
    """Settlement belongs to orders: payments never reach up into the order use cases."""
    reaching = sorted(
        f"{a.source} -> {a.target}"
        for a in arrows()
        if a.source_room == "payments" and a.target_room in USE_CASES - {"payments"}
    )
    assert reaching == []


# --- the checker itself -----------------------------------------------------------------------


def test_cycles_are_found_through_longer_paths_and_only_there() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_lazy_and_from_imports_are_arrows() -> None:
    source = (
        "from commerce import clock\n"
        "def f():\n"
        "    from commerce.orders import settlement\n"
        "    import commerce.store.kit\n"
    )
    tree = ast.parse(source)
    targets = {
        t
        for node in ast.walk(tree)
        for t in _imported(node, "commerce.payments.thing", False)
        if t.startswith("commerce.")
    }
    assert {"commerce.clock", "commerce.orders", "commerce.store.kit"} <= targets


# --- the README's map -------------------------------------------------------------------------

ROOT = LAYER.parents[2]


def _readme_map() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("## How it is built")
    opening = text.index("```", start)
    return text[opening : text.index("```", opening + 3)]


def test_the_readme_map_names_every_room_of_the_layer_and_nothing_else() -> None:
    block = _readme_map()
    rooms = {
        f"commerce/{p.name}/" if p.is_dir() else f"commerce/{p.name}"
        for p in LAYER.iterdir()
        if (p.is_dir() and (p / "__init__.py").exists())
        or (p.suffix == ".py" and p.name != "__init__.py")
    }
    named = {word for word in block.split() if word.startswith("commerce/")}
    assert rooms - named == set(), "rooms missing from the README map"
    assert named - rooms == set(), "the README map names rooms that do not exist"


def test_the_readme_map_places_every_module_of_the_local_stack() -> None:
    words = set(_readme_map().replace(",", " ").replace("(", " ").split())
    modules = {
        p.stem
        for p in (ROOT / "infra" / "local").glob("*.py")
        if p.stem not in ("__init__", "__main__")
    }
    assert modules - words == set(), "infra/local modules missing from the README map"


def _models_on_bare_base_model() -> list[str]:
    """Classes of the layer that derive from pydantic's ``BaseModel`` directly."""
    bare: list[str] = []
    for path in sorted(LAYER.rglob("*.py")):
        if path == LAYER / "http" / "model.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and any(
                (isinstance(base, ast.Name) and base.id == "BaseModel")
                or (isinstance(base, ast.Attribute) and base.attr == "BaseModel")
                for base in node.bases
            ):
                bare.append(f"{path.relative_to(LAYER)}:{node.name}")
    return bare


def test_every_api_model_derives_from_schema() -> None:
    """``commerce.http.model.Schema`` defers each model's building to its first use; a model on
    the bare ``BaseModel`` would be built at every cold start of its function."""
    assert _models_on_bare_base_model() == []
