"""`python -m experiments._lib.figures [OUT ...]`: redraw figures from results.json alone.

With no argument, every results/<name>/<preset>/ folder; otherwise the named output folders (e.g.
one written with `--no-figures`), each drawn by the experiment its results.json names."""

from __future__ import annotations

import pathlib
import sys

from experiments._lib import io, registry


def redraw(folder: pathlib.Path) -> None:
    """Draws the figures of one output folder into it from its results.json."""
    results = io.read_json(folder / "results.json")
    registry.load(results["experiment"]).plot(results, folder)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv:
        folders = [pathlib.Path(a) for a in argv]
        missing = [str(f) for f in folders if not (f / "results.json").is_file()]
        if missing:
            print(f"figures: error: no results.json in {', '.join(missing)}", file=sys.stderr)
            return 2
    else:
        folders = [
            res.parent
            for name in registry.names()
            for res in sorted((registry.ROOT / "results" / name).glob("*/results.json"))
        ]
        if not folders:
            print("no results found: run `make repro` first", file=sys.stderr)
            return 1
    for folder in folders:
        redraw(folder)
        print(f"redrew {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
