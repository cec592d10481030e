"""No import cycle anywhere in ``cxrlib``: the graph of its modules' imports of one another, read with
``ast`` (top-level, function-level and ``TYPE_CHECKING`` imports alike: a study's result does not import
its discussion, the discussion imports the result), has no cycle."""

import ast
from pathlib import Path

import cxrlib

ROOT = Path(cxrlib.__file__).parent


def _module_name(path: Path) -> str:
    parts = ("cxrlib",) + path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """The cxrlib modules ``path`` imports (a ``from package import name`` counts the submodule ``name``
    where there is one, else the package)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()

    def visit(node):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                found.update(a.name for a in child.names if a.name.startswith("cxrlib"))
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")
                    base = base[: len(base) - child.level + 1]
                    target = ".".join(base + ([child.module] if child.module else []))
                else:
                    target = child.module or ""
                if target.startswith("cxrlib"):
                    subs = [f"{target}.{a.name}" for a in child.names if f"{target}.{a.name}" in modules]
                    found.update(subs or [target])
            visit(child)

    visit(ast.parse(path.read_text()))
    return {m for m in found if m in modules and m != name}


def _graph() -> dict[str, set[str]]:
    files = {(_module_name(p)): p for p in ROOT.rglob("*.py")}
    modules = set(files)
    return {name: _imports(path, modules) for name, path in files.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as a list of modules (first == last), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def walk(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (found := walk(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := walk(node)):
            return found
    return None


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_the_package_is_read_in_full():
    graph = _graph()
    assert "cxrlib.train" in graph and "cxrlib.models.pylon" in graph["cxrlib.models.baselines"]


def test_cxrlib_has_no_import_cycle():
    cycle = _cycle(_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def _private_reaches(path: Path) -> list[str]:
    """``from cxrlib.x import _name`` and ``module._name`` on an imported cxrlib module, in ``path``."""
    tree = ast.parse(path.read_text())
    found, module_aliases = [], set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("cxrlib")):
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append(f"{path.name}:{node.lineno} imports {alias.name}")
                module_aliases.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            module_aliases |= {(a.asname or a.name).split(".")[0] for a in node.names if a.name.startswith("cxrlib")}
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in module_aliases
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
        ):
            found.append(f"{path.name}:{node.lineno} reads {node.value.id}.{node.attr}")
    return found


def test_no_module_reaches_into_another_modules_private_names():
    reaches = [r for p in sorted(ROOT.rglob("*.py")) for r in _private_reaches(p)]
    assert not reaches, reaches


def test_the_private_name_finder_finds_both_kinds(tmp_path):
    path = tmp_path / "m.py"
    path.write_text("from cxrlib.train import _to\nfrom . import baseline as b\nx = b._stride\ny = b.public\n")
    assert _private_reaches(path) == ["m.py:1 imports _to", "m.py:3 reads b._stride"]
