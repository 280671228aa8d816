"""Prints the Debian packages every experiment declares (DEBIAN_PACKAGES), space-separated.

Reads the modules' source with `ast` so that it runs before the experiments' dependencies exist.
"""

from __future__ import annotations

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]


def declared() -> list[str]:
    pkgs: set[str] = set()
    for path in sorted((ROOT / "experiments").glob("*.py")):
        for node in ast.parse(path.read_text()).body:
            targets = []
            if isinstance(node, ast.Assign):
                targets, value = node.targets, node.value
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                targets, value = [node.target], node.value
            for t in targets:
                if isinstance(t, ast.Name) and t.id == "DEBIAN_PACKAGES":
                    pkgs.update(ast.literal_eval(value))
    return sorted(pkgs)


if __name__ == "__main__":
    print(" ".join(declared()))
