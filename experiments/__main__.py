"""`python -m experiments`: list the experiments; `python -m experiments <name> [args]`: run one."""

from __future__ import annotations

import sys

from experiments._lib import registry
from experiments._lib.config import UsageError


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and not argv[0].startswith("-"):
        try:
            module = registry.load(argv[0])
        except UsageError as e:
            print(f"experiments: error: {e}", file=sys.stderr)
            return 2
        return module.main(argv[1:])
    for name in registry.names():  # from the sources: no experiment (nor jax) is imported
        print(f"{name:<28} {registry.summary_line(name)}")
    print("\nrun one: python -m experiments.<name> [--preset quick|full] [--set field=value]")
    print("run all quick presets: python -m experiments.all")
    return 0


if __name__ == "__main__":
    from experiments._lib import cli  # here: the listing imports no experiment and no jax

    cli.exit_script(main())
