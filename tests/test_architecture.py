"""The package levels of docs/architecture.md: each package imports only below it."""

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "tf_lattice"

#: Level of each top-level unit of tf_lattice (as in docs/architecture.md).
LEVELS = {
    "_native": 0, "_quiet": 0, "specs": 0, "ops": 1, "datasets": 1, "constraints": 2, "regularizers": 2, "layers": 3,
    "models": 4, "saved_model": 5, "estimators": 6, "distribute": 6, "plotting": 7, "cli": 7,
    "demo": 7, "tf_estimator": 7, "__main__": 8,
}
#: Imports allowed across a level boundary only by name (the package root).
ROOT_NAMES = {"__version__", "_quiet"}
#: Upward imports allowed inside a function body only: the estimators'
#: ``plot_*`` convenience methods draw with tf_lattice.plotting.
LAZY_UPWARD = {("estimators", "plotting")}


def _unit(path):
    relative = path.relative_to(PACKAGE).with_suffix("")
    return relative.parts[0] if relative.parts[0] != "__init__" else None


def _imported_units(tree, unit):
    lazy = {id(node) for function in ast.walk(tree)
            if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef))
            for node in ast.walk(function)}
    for node in ast.walk(tree):
        if id(node) in lazy and any((unit, target) in LAZY_UPWARD
                                    for target in _targets(node)):
            continue
        yield from _targets(node)


def _targets(node):
    """The tf_lattice units an import node names."""
    if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        parts = node.module.split(".")
        if parts[0] == "tf_lattice" and len(parts) == 1:
            yield from (alias.name for alias in node.names if alias.name not in ROOT_NAMES)
        elif parts[0] == "tf_lattice":
            yield parts[1]
    elif isinstance(node, ast.Import):
        for alias in node.names:
            parts = alias.name.split(".")
            if parts[0] == "tf_lattice" and len(parts) > 1:
                yield parts[1]


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if _unit(p) is not None)


def test_every_unit_has_a_level():
    units = {_unit(p) for p in MODULES}
    assert units <= set(LEVELS), sorted(units - set(LEVELS))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down(path):
    unit = _unit(path)
    upward = sorted({target for target in _imported_units(ast.parse(path.read_text()), unit)
                     if target != unit and LEVELS.get(target, 99) >= LEVELS[unit]})
    assert not upward, f"{path.relative_to(PACKAGE)} (level {LEVELS[unit]}) imports {upward}"


SPEC_MODULES = sorted((PACKAGE / "specs").rglob("*.py"))
#: What the specs may import: the standard library, NumPy and themselves.
SPEC_IMPORTS = {"dataclasses", "math", "numbers", "numpy", "tf_lattice"}


@pytest.mark.parametrize("path", SPEC_MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_specs_import_nothing_from_tensorflow(path):
    tree = ast.parse(path.read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module and node.level == 0}
    assert imported <= SPEC_IMPORTS, sorted(imported - SPEC_IMPORTS)
