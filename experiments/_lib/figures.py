"""`python -m experiments._lib.figures`: redraw every figure from results/*/*/results.json alone."""

from __future__ import annotations

import sys

from experiments._lib import io, registry


def main() -> int:
    found = 0
    for name in registry.names():
        module = registry.load(name)
        for res in sorted((registry.ROOT / "results" / name).glob("*/results.json")):
            module.plot(io.read_json(res), res.parent)
            found += 1
            print(f"redrew {res.parent.relative_to(registry.ROOT)}")
    if not found:
        print("no results found: run `make repro` first", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
