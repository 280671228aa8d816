"""The layers import only downward, and tests use public names only (WORKSPACE.md, "Layers").

    runtime < kernels < theory < models < experiments < papers_repro

Every module of a layer is parsed (ast, imports inside functions included): importing a layer
above its own, or a package outside the layer stack (tests, colab, tools), fails. Imports within
one package are allowed (theory/cnn_spectra uses theory/cnn_kernels). Tests and notebooks may
import any layer, but only public names: `from m import _private` is how tests came to depend on
an experiment's internals (the NT oracle and the NumPy bandit loop are now public functions).
"""

from __future__ import annotations

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
LAYERS = ("runtime", "kernels", "theory", "models", "experiments", "papers_repro")
RANK = {name: i for i, name in enumerate(LAYERS)}
OUTSIDE = ("tests", "colab", "tools")  # repo packages no layer may import


def _imports(path: pathlib.Path):
    """(line, top-level package, full module, imported names) for every import in the file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield node.lineno, a.name.split(".")[0], a.name, ()
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: within the same package
                continue
            mod = node.module or ""
            yield node.lineno, mod.split(".")[0], mod, tuple(a.name for a in node.names)


def _files(top: str):
    return sorted((ROOT / top).rglob("*.py"))


def _rel(p: pathlib.Path) -> str:
    return str(p.relative_to(ROOT))


@pytest.mark.parametrize("layer", LAYERS)
def test_layer_imports_only_downward(layer):
    bad = []
    for path in _files(layer):
        for line, top, mod, _ in _imports(path):
            if top in OUTSIDE:
                bad.append(f"{_rel(path)}:{line} imports {mod} (outside the layers)")
            elif top in RANK and RANK[top] > RANK[layer]:
                bad.append(f"{_rel(path)}:{line} imports {mod} (upward: {top} > {layer})")
    assert not bad, "\n".join(bad)


def test_every_layer_is_a_package_and_nothing_else_is_layered():
    for layer in LAYERS:
        assert (ROOT / layer / "__init__.py").exists(), layer
    # a new top-level package must be placed in LAYERS (or OUTSIDE) on purpose
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")}
    assert packages <= set(LAYERS) | set(OUTSIDE), packages - set(LAYERS) - set(OUTSIDE)


def test_runtime_imports_no_other_layer():
    for path in _files("runtime"):
        for line, top, mod, _ in _imports(path):
            assert top not in RANK or top == "runtime", f"{_rel(path)}:{line} imports {mod}"


@pytest.mark.parametrize("top", ["tests", "colab"])
def test_tests_and_notebooks_import_public_names_only(top):
    bad = []
    for path in _files(top):
        for line, pkg, mod, names in _imports(path):
            if pkg not in RANK:
                continue
            private = [n for n in names if n.startswith("_")]
            if private:
                bad.append(f"{_rel(path)}:{line} imports {', '.join(private)} from {mod}")
    assert not bad, "\n".join(bad)


def test_the_checker_sees_an_upward_import(tmp_path):
    """The parser catches the forms that matter: top-level, inside a function, `import a.b`."""
    src = "import jax\nfrom theory import x\n\ndef f():\n    import experiments.all\n"
    p = tmp_path / "m.py"
    p.write_text(src)
    tops = [(line, top) for line, top, _, _ in _imports(p)]
    assert tops == [(1, "jax"), (2, "theory"), (5, "experiments")]
