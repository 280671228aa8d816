"""`python -m experiments.all [--preset quick]`: run every experiment, write results/SUMMARY.md."""

from __future__ import annotations

import argparse
import sys

from experiments._lib import registry, summary


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m experiments.all")
    p.add_argument("--preset", default="quick")
    args = p.parse_args(argv)
    failed = []
    for name in registry.names():
        module = registry.load(name)
        print(f"=== {name} [{args.preset}]", flush=True)
        code = module.main(["--preset", args.preset])
        if code != 0:
            failed.append(name)
    print(summary.write_summary(args.preset))
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
