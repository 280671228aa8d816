"""The one command-line entry every experiment shares.

    python -m experiments.<name> [--preset quick|full] [--seed N] [--out DIR] [--set field=value]...

Bad input (unknown preset or field, a value of the wrong type, a config its `__post_init__`
rejects) prints one line on stderr and returns 2 before anything is written. Outputs go to a
temporary folder renamed into place at the end (experiments._lib.io.atomic_dir).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import pathlib
import sys
import time
import typing
from types import ModuleType

from experiments._lib import checkpoint, io, manifest, registry
from experiments._lib import claims as C
from experiments._lib.config import UsageError, override
from runtime import interrupts, memory, progress


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse would print usage + exit; we want one line
        raise UsageError(message)


def _type_name(annotation) -> str:
    return annotation.__name__ if isinstance(annotation, type) else str(annotation)


def _runtime(name: str, preset: str) -> str:
    """Wall time of the run committed under results/<name>/<preset>, if any."""
    try:
        m = io.read_json(registry.results_dir(name, preset) / "manifest.json")
        return f"{manifest.runtime_text(m)} ({m.get('devices', {}).get('backend', '?')})"
    except (OSError, KeyError, TypeError, ValueError, AttributeError):
        return "no committed run"


def describe(module: ModuleType) -> str:
    """The --help epilog, generated from the module: what it reproduces (first docstring
    paragraph), every Config field with its type, default and the value in each preset, and the
    wall time of each preset's committed run."""
    name = experiment_name(module)
    doc = (module.__doc__ or "").strip().split("\n\n")[0]
    hints = typing.get_type_hints(module.Config)
    default = module.Config()
    lines = [doc, "", "presets (wall time of the committed run in results/):"]
    width = max(6, *map(len, module.PRESETS))
    for preset in module.PRESETS:
        lines.append(f"  {preset:<{width}} {_runtime(name, preset)}")
    lines += ["", "fields (--set FIELD=VALUE; tuples a,b,c; tuples of tuples a,b;c,d):"]
    for f in dataclasses.fields(module.Config):
        d = getattr(default, f.name)
        lines.append(f"  {f.name}: {_type_name(hints[f.name])} = {d!r}")
        vals = {p: getattr(c, f.name) for p, c in module.PRESETS.items()}
        if any(v != d for v in vals.values()):
            lines.append("      " + "; ".join(f"{p}: {v!r}" for p, v in vals.items()))
    return "\n".join(lines)


def _parser(name: str, presets, epilog: str | None = None) -> _Parser:
    p = _Parser(
        prog=f"python -m experiments.{name}",
        add_help=True,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--preset", default="quick", help=f"one of {', '.join(presets)}")
    p.add_argument("--seed", type=int, default=None, help="root PRNG seed (overrides the preset)")
    p.add_argument("--out", default=None, help="output folder (default results/<name>/<preset>)")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="FIELD=VALUE")
    p.add_argument(
        "--no-figures",
        dest="figures",
        action="store_false",
        help="write results.json and manifest.json only; draw the figures later from the file "
        "with `python -m experiments._lib.figures OUT`",
    )
    return p


def experiment_name(module: ModuleType) -> str:
    # The file stem, not __name__ (which is "__main__" under `python -m`).
    return pathlib.Path(module.__file__).stem


def make_config(module: ModuleType, preset: str, seed: int | None, sets: list[str]):
    if preset not in module.PRESETS:
        raise UsageError(f"unknown preset {preset!r} (presets: {', '.join(module.PRESETS)})")
    cfg = module.PRESETS[preset]
    if seed is not None:
        sets = [f"seed={seed}", *sets]
    cfg = override(cfg, sets)
    # every PRNG here (jax.random.key, numpy's default_rng) takes seeds in [0, 2^32)
    s = getattr(cfg, "seed", 0)
    if not 0 <= s < 2**32:
        raise UsageError(f"seed must be an integer in [0, 2^32), got {s}")
    # sizes that cannot fit: refused here, before any array exists (runtime.memory)
    estimate = getattr(module, "memory_estimate", None)  # the contract asks every experiment
    why = estimate and memory.refusal(int(estimate(cfg)), f"{experiment_name(module)} [{preset}]")
    if why:
        raise UsageError(why)
    return cfg


def assemble(module: ModuleType, cfg, preset: str, computed: dict) -> dict:
    """The results.json dict: schema, experiment, preset, config, metrics, series, claims."""
    results = {
        "schema": io.SCHEMA,
        "experiment": experiment_name(module),
        "paper": getattr(module, "PAPER", None),
        "preset": preset,
        "config": dataclasses.asdict(cfg),
        "metrics": computed.get("metrics", {}),
        "series": computed.get("series", {}),
        # Wall-clock measurements: the only part of results.json that is not a function of seed.
        "timing": computed.get("timing", {}),
    }
    results = io.to_jsonable(results)
    results["claims"] = io.to_jsonable(module.check_claims(results))
    return results


def run_to_dir(
    module: ModuleType, cfg, preset: str, out: pathlib.Path, argv: list[str], figures: bool = True
) -> dict:
    started = time.time()
    git = manifest.git_state()  # the code that runs is the code at start
    checkpoint.reset_resumed()
    computed = module.run(cfg)
    resumed = checkpoint.resumed()  # units read back, not computed here: their cost apart
    interrupts.check()  # a Ctrl-C whose raise was swallowed mid-run (runtime/interrupts.py)
    results = assemble(module, cfg, preset, computed)
    with io.atomic_dir(out) as tmp:
        io.write_json(tmp / "results.json", results)
        if figures:
            # drawn from the file just written, not from the dict in memory: the figures are a
            # pure function of results.json by construction (as `experiments._lib.figures` draws)
            module.plot(io.read_json(tmp / "results.json"), tmp)
        finished = time.time()
        io.write_json(
            tmp / "manifest.json",
            manifest.build(
                argv=argv,
                config=dataclasses.asdict(cfg),
                started=started,
                finished=finished,
                git=git,
                resumed=resumed,
            ),
        )
    return results


def format_claims(claims: list[dict]) -> str:
    """Counts by kind and status, then one line per row."""
    rows = [
        C.counts_line(C.counts(claims)),
        f"{'id':<36} {'kind':<11} {'status':<15} {'reference':>14} {'measured':>14}",
    ]
    for c in claims:
        rows.append(
            f"{c['id']:<36} {c['kind']:<11} {c['status']:<15} {_fmt(c.get('reference')):>14} "
            f"{_fmt(c.get('measured')):>14}"
        )
    return "\n".join(rows)


def show_committed(name: str, preset: str, keep=None) -> pathlib.Path | None:
    """For notebooks: prints the claims of the committed run results/<name>/<preset>/ (those
    `keep(row)` selects) and returns its folder; where there is none, prints the command that
    makes it and returns None."""
    folder = registry.results_dir(name, preset)
    if not (folder / "results.json").exists():
        print(f"no committed run: python -m experiments.{name} --preset {preset}")
        return None
    claims = io.read_json(folder / "results.json")["claims"]
    print(format_claims([c for c in claims if keep is None or keep(c)]))
    return folder


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return "—" if v is None else str(v)


def exit_script(code: int) -> None:
    """The end of `python -m experiments.<name>`: exit with `code`. After an interrupt (130) the
    process leaves with os._exit once stdout and stderr are flushed: a Ctrl-C that lands inside
    an XLA computation leaves XLA's worker threads mid-work, and the interpreter's teardown then
    crashed with SIGSEGV (exit 139; every experiment, tools/bad_input_campaign.py, 2026-12-04)
    although the results folder was already intact. Nothing is left to clean up at that point:
    the run wrote nothing (io.atomic_dir), and the message is printed."""
    if code == 130:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)
    raise SystemExit(code)


def main(module: ModuleType, argv: list[str] | None = None) -> int:
    name = experiment_name(module)
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        if "-h" in argv or "--help" in argv:  # the epilog reads committed manifests: only here
            _parser(name, module.PRESETS, describe(module)).print_help()
            return 0
        args = _parser(name, module.PRESETS).parse_args(argv)
        cfg = make_config(module, args.preset, args.seed, args.sets)
    except UsageError as e:
        print(f"{name}: error: {e}", file=sys.stderr)
        return 2
    out = pathlib.Path(args.out) if args.out else registry.results_dir(name, args.preset)
    try:
        io.check_out_dir(out)
        progress.enabled()  # a bad MEMLEARN_PROGRESS is refused here, before any work
    except ValueError as e:
        print(f"{name}: error: {e}", file=sys.stderr)
        return 2
    interrupts.install()
    try:
        results = run_to_dir(module, cfg, args.preset, out, argv, figures=args.figures)
    except KeyboardInterrupt:
        print(f"{name}: interrupted; nothing written to {out}", file=sys.stderr)
        return 130
    except UsageError as e:  # validation that needs the run (e.g. memory budget vs K)
        print(f"{name}: error: {e}", file=sys.stderr)
        return 2
    print(f"{name} [{args.preset}] -> {out}")
    print(format_claims(results["claims"]))
    return 0
