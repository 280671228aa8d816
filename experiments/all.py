"""`python -m experiments.all [--preset quick]`: run every experiment, write results/SUMMARY.md.

A failing experiment (non-zero exit or an exception) is reported and the others still run; the
exit status is 1 if any failed. Ctrl-C stops the whole sweep (exit 130)."""

from __future__ import annotations

import argparse
import sys
import traceback

from experiments._lib import registry, summary


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m experiments.all")
    p.add_argument("--preset", default="quick")
    args = p.parse_args(argv)
    # a preset every experiment has, checked before anything runs or results/SUMMARY.md is written
    missing = [n for n in registry.names() if args.preset not in registry.load(n).PRESETS]
    if missing:
        print(
            f"experiments.all: error: preset {args.preset!r} is not defined by "
            + ", ".join(missing),
            file=sys.stderr,
        )
        return 2
    failed = []
    for name in registry.names():
        print(f"=== {name} [{args.preset}]", flush=True)
        try:
            code = registry.load(name).main(["--preset", args.preset])
        except KeyboardInterrupt:
            print(f"interrupted in {name}", file=sys.stderr)
            return 130
        except Exception:  # report and carry on: one broken experiment must not hide the others
            traceback.print_exc()
            code = 1
        if code == 130:
            return 130
        if code != 0:
            failed.append(name)
    text = summary.write_summary(args.preset)
    print(text.split("## Every row")[0].rstrip())  # the counts; every row is in the file
    print("every row: results/SUMMARY.md")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    from experiments._lib import cli  # here: the listing imports no experiment and no jax

    cli.exit_script(main())
