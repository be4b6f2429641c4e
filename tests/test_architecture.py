"""The structure an auditor relies on: no module imports itself back through
others, and none reaches into another's private names. (The layering is the
import-linter contracts in pyproject.toml, which CI checks with
`lint-imports`.)"""

from __future__ import annotations

import ast
import gc
from pathlib import Path

import grimp
from aiohttp.test_utils import make_mocked_request

import aiohttp_guard
from aiohttp_guard import AuthService, CookieTicketPolicy, RequestContext

SOURCE = Path(aiohttp_guard.__file__).parent


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """The chains by which a module imports itself, one per module found
    on one (type-checking imports count)."""
    found: list[list[str]] = []
    for module in sorted(graph.modules):
        for imported in graph.find_modules_directly_imported_by(module):
            chain = graph.find_shortest_chain(imported=module, importer=imported)
            if chain is not None:
                found.append([module, *chain])
                break
    return found


def test_no_module_imports_itself_back() -> None:
    assert _cycles(grimp.build_graph("aiohttp_guard")) == []


def test_the_cycle_check_sees_a_cycle() -> None:
    graph = grimp.ImportGraph()
    for module in ("pkg.a", "pkg.b", "pkg.c"):
        graph.add_module(module)
    graph.add_import(importer="pkg.a", imported="pkg.b")
    graph.add_import(importer="pkg.b", imported="pkg.c")
    assert _cycles(graph) == []
    graph.add_import(importer="pkg.c", imported="pkg.a")
    assert _cycles(graph) == [
        ["pkg.a", "pkg.b", "pkg.c", "pkg.a"],
        ["pkg.b", "pkg.c", "pkg.a", "pkg.b"],
        ["pkg.c", "pkg.a", "pkg.b", "pkg.c"],
    ]


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _own_names(tree: ast.Module) -> set[str]:
    """The private names a module defines: functions, classes, attributes
    and slots of its own."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Name | ast.arg):
            names.add(node.id if isinstance(node, ast.Name) else node.arg)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names.add(node.value)  # __slots__ entries
    return {name for name in names if _private(name)}


def _foreign_private_uses(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    own = _own_names(tree)
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            found.extend(
                f"imports {alias.name} from {node.module}"
                for alias in node.names
                if _private(alias.name)
            )
        elif (
            isinstance(node, ast.Attribute)
            and _private(node.attr)
            and node.attr not in own
        ):
            found.append(f"uses .{node.attr} (line {node.lineno})")
    return found


def test_no_module_uses_another_modules_private_names() -> None:
    uses = {
        str(path.relative_to(SOURCE)): found
        for path in sorted(SOURCE.rglob("*.py"))
        if (found := _foreign_private_uses(path))
    }
    assert uses == {}


def test_the_check_sees_a_private_name_used_across_modules(tmp_path: Path) -> None:
    module = tmp_path / "guard.py"
    module.write_text(
        "from .service import _secret\n"
        "async def check(service):\n"
        "    return await service._identity()\n"
    )
    assert _foreign_private_uses(module) == [
        "imports _secret from service",
        "uses ._identity (line 3)",
    ]


def test_the_readme_layout_lists_every_module() -> None:
    readme = (SOURCE.parent.parent / "README.md").read_text()
    layout = readme.split("## Layout", 1)[1].split("```")[1]
    listed = {line.split()[0] for line in layout.splitlines() if line.strip()}
    modules = {
        path.name
        for path in SOURCE.rglob("*.py")
        if path.parent.name != "demo" and path.name != "__init__.py"
    }
    assert modules - listed == set()


def test_a_request_and_its_context_make_no_reference_cycle() -> None:
    """The request holds its context; a context holding the request too
    would leave every request to the garbage collector, whose pauses showed
    as a tripled p99 under load."""
    request = make_mocked_request("GET", "/")
    context = RequestContext(request, AuthService(CookieTicketPolicy(b"k" * 32, 60)))
    assert context.request is request
    assert not any(referent is request for referent in gc.get_referents(context))
