"""`python -m experiments`: list the experiments, one line each."""

from __future__ import annotations

import sys

from experiments._lib import registry


def main() -> int:
    for name in registry.names():
        module = registry.load(name)
        print(f"{name:<28} {registry.summary_line(module)}")
    print("\nrun one: python -m experiments.<name> [--preset quick|full] [--set field=value]")
    print("run all quick presets: python -m experiments.all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
