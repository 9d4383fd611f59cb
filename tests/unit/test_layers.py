"""The package's imports point one way: domain <- config <- store <- outgoing <- app <- cases <- intake/admin
<- runner <- scheduler/demo <- cli, with no cycles, a standard-library-only domain, and no function-level
mailbot import outside cli.py."""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "mailbot"

# Lower numbers are lower layers; a module may import only from strictly lower layers or its own package.
LAYERS: dict[str, int] = {
    "domain": 0,
    "config_reader": 1,
    "config": 2, "office_calendar": 2,
    "store": 3, "oauth2": 3,
    "outgoing": 4,
    "app": 5,
    "cases": 6,
    "intake": 7, "admin": 7,
    "runner": 8,
    "scheduler": 9, "demo": 9, "cli_check": 9, "cli_parser": 9,
    "cli": 10,
    "__main__": 11,
}
FUNCTION_IMPORTS_ALLOWED = {"mailbot.cli"}
THIRD_PARTY_ALLOWED_IN_DOMAIN: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Import:
    source: str  # importing module, dotted
    target: str  # imported module, dotted
    line: int
    top_level: bool


def module_name(root: Path, path: Path) -> str:
    rel = path.relative_to(root.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(root: Path, path: Path, modules: set[str]) -> list[Import]:
    """Every import in a file (also inside functions and `if TYPE_CHECKING:`), resolved to modules."""
    name = module_name(root, path)
    tree = ast.parse(path.read_text(), str(path))
    top = {id(n) for n in tree.body}
    for node in tree.body:  # imports under a top-level `if` (TYPE_CHECKING, version checks) are top level too
        if isinstance(node, (ast.If, ast.Try)):
            top.update(id(n) for n in ast.walk(node))
    found: list[Import] = []
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                pkg = base if path.name == "__init__.py" else base[:-1]
                pkg = pkg[:len(pkg) - node.level + 1]
                mod = ".".join(pkg + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            # `from mailbot.demo import samplepdf` imports a module; `from x import name` imports x.
            targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in modules else mod for a in node.names]
        for t in targets:
            found.append(Import(name, t, node.lineno, id(node) in top))
    return found


def layer_of(module: str) -> tuple[str, int] | None:
    parts = module.split(".")
    if parts[0] != "mailbot" or len(parts) < 2:
        return None
    return parts[1], LAYERS.get(parts[1], -1)


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle (as a path that returns to its start), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def problems(root: Path) -> list[str]:
    """Every rule broken by the package at `root` (a folder named mailbot), one line each."""
    files = sorted(root.rglob("*.py"))
    modules = {module_name(root, f) for f in files}
    out: list[str] = []
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for f in files:
        for imp in imports_of(root, f, modules):
            where = f"{f.relative_to(root.parent)}:{imp.line}"
            target_top = imp.target.split(".")[0]
            src = layer_of(imp.source)
            if src and src[0] == "domain" and target_top != "mailbot":
                if target_top not in sys.stdlib_module_names and target_top not in THIRD_PARTY_ALLOWED_IN_DOMAIN:
                    out.append(f"{where}: domain imports {imp.target}, which is not the standard library")
            if target_top != "mailbot":
                continue
            if imp.target in modules or any(m.startswith(imp.target + ".") for m in modules):
                graph[imp.source].add(imp.target)
            if not imp.top_level and imp.source not in FUNCTION_IMPORTS_ALLOWED:
                out.append(f"{where}: function-level import of {imp.target} (only cli.py may import lazily)")
            dst = layer_of(imp.target)
            if src is None or dst is None:
                continue
            if src[1] < 0:
                out.append(f"{where}: {imp.source} is in no layer; add {src[0]!r} to LAYERS")
            elif dst[1] < 0:
                out.append(f"{where}: {imp.target} is in no layer; add {dst[0]!r} to LAYERS")
            elif src[0] != dst[0] and dst[1] >= src[1]:
                out.append(f"{where}: {imp.source} (layer {src[1]}) imports {imp.target} (layer {dst[1]}): "
                           "imports must point down the layers")
    cycle = find_cycle(graph)
    if cycle:
        out.append("import cycle: " + " -> ".join(cycle))
    return out


def test_the_package_imports_point_one_way() -> None:
    assert problems(PACKAGE) == []


def test_every_package_folder_is_in_a_layer() -> None:
    names = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()
             if (p.suffix == ".py" and p.stem != "__init__") or (p.is_dir() and (p / "__init__.py").exists())}
    assert sorted(names - set(LAYERS)) == []


# -- the checker itself catches what it is for ------------------------------------------------
def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "mailbot"
    for rel, text in {"__init__.py": "", **files}.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
        if p.parent != root and not (p.parent / "__init__.py").exists():
            (p.parent / "__init__.py").write_text("")
    return root


def test_checker_passes_a_clean_tree(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"domain/a.py": "import re\n", "cases/b.py": "from mailbot.domain.a import x\n",
                            "cli.py": "def main():\n    from mailbot.cases.b import y\n"})
    assert problems(root) == []


def test_checker_reports_an_upward_import(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"store/a.py": "from mailbot.cases.b import y\n", "cases/b.py": "y = 1\n"})
    assert any("imports must point down" in p for p in problems(root))


def test_checker_reports_a_sibling_import(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"admin/a.py": "from mailbot.intake.b import y\n", "intake/b.py": "y = 1\n"})
    assert any("imports must point down" in p for p in problems(root))


def test_checker_reports_a_cycle_inside_one_package(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"cases/a.py": "from mailbot.cases.b import y\n",
                            "cases/b.py": "from mailbot.cases import a\n"})
    assert any(p.startswith("import cycle: ") for p in problems(root))


def test_checker_reports_a_function_level_import(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"domain/a.py": "x = 1\n", "cases/b.py": "def f():\n    from mailbot.domain.a import x\n"})
    assert any("function-level import" in p for p in problems(root))


def test_checker_reports_a_type_checking_upward_import(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"store/a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                          "    from mailbot.app import App\n", "app.py": "App = 1\n"})
    assert any("imports must point down" in p for p in problems(root))


@pytest.mark.parametrize("line", ["import sqlalchemy\n", "from jinja2 import Environment\n"])
def test_checker_reports_a_third_party_import_in_domain(tmp_path: Path, line: str) -> None:
    root = _tree(tmp_path, {"domain/a.py": line})
    assert any("not the standard library" in p for p in problems(root))
