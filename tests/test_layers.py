"""Imports run downward: a module never imports a higher layer nor another package of its own layer,
and only the tools and the edge speak MCP (STYLE.md, principles 1 and 17).

Every import counts, inside functions too: a deferred import is still a dependency.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import athena_mcp

PACKAGE = Path(athena_mcp.__file__).resolve().parent

# Lowest first. A component is a subpackage (store, tools, ...) or a group of top-level modules named
# in GROUPS. A module may import its own component and the layers below it; a value type that two
# layers share lives in the lower one.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("foundation",),  # value types, bounded fields, errors, settings, allocator tuning
    ("store", "embeddings"),  # SQL and the embedders; neither knows the other
    ("retrieval",),
    ("memory",),  # one module per memory system
    ("consolidation", "worker", "briefing"),  # background work and context assembly over the systems
    ("services", "importers", "exchange"),
    ("tools", "maintenance", "hooks", "viewer"),  # MCP toolsets; maintenance commands; editor hooks
    ("transports",),  # stdio and HTTP, and the memory check before reading a message
    ("edge",),  # server factory, command line
)
GROUPS: dict[str, frozenset[str]] = {
    "foundation": frozenset(
        {
            "athena_mcp",
            "athena_mcp.caller",
            "athena_mcp.errors",
            "athena_mcp.fields",
            "athena_mcp.governance",
            "athena_mcp.in_flight",
            "athena_mcp.logs",
            "athena_mcp.paths",
            "athena_mcp.models",
            "athena_mcp.native_memory",
            "athena_mcp.prospective_models",
            "athena_mcp.settings",
        }
    ),
    "services": frozenset({"athena_mcp.services"}),
    "maintenance": frozenset({"athena_mcp.maintenance"}),
    "edge": frozenset(
        {
            "athena_mcp.__main__",
            "athena_mcp.cli",
            "athena_mcp.data_commands",
            "athena_mcp.server",
        }
    ),
}
LAYER = {component: number for number, layer in enumerate(LAYERS) for component in layer}
# Components that may import the MCP SDK: the store knows nothing of MCP.
SPEAK_MCP = frozenset({"tools", "transports", "edge"})
MCP_PACKAGES = frozenset({"mcp", "mcp_types"})


def package_modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imported(source: str, module: str, is_package: bool, known: set[str]) -> Iterator[tuple[int, str]]:
    """(line, module) for every import in `source`, at any depth; `from package import name` counts
    as importing the submodule when `name` is one of `known`."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".") if is_package else module.split(".")[:-1]
                anchor = package[: len(package) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            targets = (f"{base}.{alias.name}" for alias in node.names)
            for target in dict.fromkeys(t if t in known else base for t in targets):
                yield node.lineno, target


def scan() -> Iterator[tuple[str, Path, int, str]]:
    """(module, its file, line, module imported) across the package."""
    modules = package_modules()
    for module, path in modules.items():
        source = path.read_text("utf-8")
        for line, target in imported(source, module, path.name == "__init__.py", set(modules)):
            yield module, path, line, target


def component(module: str) -> str:
    for name, members in GROUPS.items():
        if module in members:
            return name
    parts = module.split(".")
    if len(parts) > 1 and (PACKAGE / parts[1]).is_dir():
        return parts[1]
    raise AssertionError(f"{module} belongs to no component: add it to GROUPS in {__file__}")


def describe(name: str) -> str:
    return f"{name} (layer {LAYER[name]})"


def test_every_module_has_a_layer():
    unplaced = {component(module) for module in package_modules()} - LAYER.keys()
    assert not unplaced, f"components in no layer: {sorted(unplaced)}; add them to LAYERS in {__file__}"


def test_no_module_imports_a_higher_layer_or_a_neighbour_of_its_own():
    problems: list[str] = []
    checked = 0
    for module, path, line, target in scan():
        if target.partition(".")[0] != "athena_mcp":
            continue
        checked += 1
        own, other = component(module), component(target)
        if other == own or LAYER[other] < LAYER[own]:
            continue
        direction = "a higher layer" if LAYER[other] > LAYER[own] else "another package of its layer"
        problems.append(
            f"{path.relative_to(PACKAGE.parent)}:{line}: {module} in {describe(own)} imports "
            f"{target} in {describe(other)}, {direction}"
        )
    assert checked > 100, "the scan found almost no imports: the checker is broken"
    assert not problems, "imports against the layer order:\n" + "\n".join(problems)


def test_only_the_tools_and_the_edge_import_mcp():
    problems = [
        f"{path.relative_to(PACKAGE.parent)}:{line}: {module} in {component(module)} imports {target}"
        for module, path, line, target in scan()
        if component(module) not in SPEAK_MCP and target.partition(".")[0] in MCP_PACKAGES
    ]
    assert not problems, "MCP outside the tools and the edge:\n" + "\n".join(problems)


def test_the_scan_sees_imports_inside_functions_and_relative_ones():
    source = (
        "from . import planner\n"
        "from ..store import vectors\n"
        "def later():\n"
        "    from athena_mcp.tools.graph import MAX_BATCH\n"
        "    import mcp_types\n"
    )
    known = {"athena_mcp.consolidation.planner", "athena_mcp.store.vectors"}
    assert list(imported(source, "athena_mcp.consolidation.worker", False, known)) == [
        (1, "athena_mcp.consolidation.planner"),
        (2, "athena_mcp.store.vectors"),
        (4, "athena_mcp.tools.graph"),
        (5, "mcp_types"),
    ]
