"""`make gpu-check`: every device check of the repository in one command, on one NVIDIA GPU.

    python3 tools/gpu_check.py [--dry-run] [--out DIR] [--budget-s 480]

What it runs (the first session lent a GPU runs this once and commits what it records):
  1. finds the GPU (nvidia-smi) and a Python whose jax has a CUDA backend: the repo's .venv
     (after `uv sync --frozen --extra gpu`, the lock's CUDA jaxlib, where there is network), else
     a system python3 that already has CUDA jax (the lent machines: no network, jax preinstalled);
  2. if that jaxlib is not one runtime/xla_flags.py has examined, runs its probe (the XLA:CPU
     ynn-fusion bug, jit vs eager in fresh processes) and passes the verdict on through
     MEMLEARN_XLA_EXAMINED, so the CPU-side guard knows which flags that jaxlib needs;
  3. every `gpu`-marked test (compiled Pallas kernels: logmatmul, cnn_gram, linear attention, and
     any later kernel), with a JUnit report;
  4. every benchmark experiment (`experiments/bench_*.py`) at the preset its GPU setting lives in
     (BENCH_PRESET below), into the results folder, cheapest first (by its committed CPU run),
     so a budget that runs out skips the longest;
and writes DIR/gpu_check.json (device, versions, each step's command, exit code and wall time)
beside the logs, inside --budget-s (8 minutes by default: the device lease is 15 minutes with
start-up). Exit 0 only if every step passed.

On a machine without an NVIDIA GPU it stops at once with one line and exit 2. `--dry-run` prints
the plan (the interpreter it would use, the gpu tests it would run, the benchmarks) and checks
what a CPU can: the gpu tests collect and the benchmark configs parse. Stdlib only: it must start
before any environment is known to work.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
VENV_PY = ROOT / ".venv" / "bin" / "python"
# benchmark experiment -> the preset that holds its GPU setting (bench_linear_attention: the
# paper's Table 5 sizes are added to timing["gpu"] on a GPU backend at any preset; full adds the
# long CPU-side lengths too, which take seconds on a GPU; bench_cnn_gram: on a GPU "ours" is the
# Pallas kernel, and its peak memory is also read from the device's allocator; bench_pc_em: M to
# 64, where the flows' sum layers are large enough for a GPU to matter; it reads Fashion-MNIST
# from the Debian package dataset-fashion-mnist and stops in one line naming it when absent;
# bench_token_nll: its gpu_sizes, GPT-2's vocabulary, run on a GPU backend at any preset, full
# adds the wider CPU-side sizes; bench_mec_coupling: on a GPU its gpu_batches replace the CPU
# batches, full has the game's 512 x 4; bench_gpt_train: GPT-2 small's training step on a GPU
# backend at any preset)
BENCH_PRESET = {"bench_cnn_gram": "full", "bench_linear_attention": "full", "bench_pc_em": "full",
                "bench_token_nll": "full", "bench_mec_coupling": "full",
                "bench_gpt_train": "full"}  # fmt: skip


def _gpus() -> list[str]:
    exe = shutil.which("nvidia-smi")
    if not exe:
        return []
    try:
        out = subprocess.run([exe, "-L"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [line for line in out.stdout.splitlines() if line.startswith("GPU ")]


def _jax_backend(python: str) -> str | None:
    code = "import jax; print(jax.default_backend(), jax.__version__)"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("XLA_FLAGS", None)
    try:
        out = subprocess.run(
            [python, "-c", code], capture_output=True, text=True, timeout=300, env=env
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _benches() -> list[str]:
    """Every benchmark, cheapest first by its committed run's wall time here (the CPU run of its
    preset; none committed: last), so a budget that runs out skips the longest, not the rest."""

    def cpu_seconds(name: str) -> float:
        man = ROOT / "results" / name / BENCH_PRESET.get(name, "full") / "manifest.json"
        try:
            return float(json.loads(man.read_text())["wall_seconds"])
        except (OSError, ValueError, KeyError, TypeError):
            return float("inf")

    names = sorted(p.stem for p in (ROOT / "experiments").glob("bench_*.py"))
    return sorted(names, key=cpu_seconds)


def _choose_python(dry_run: bool, log) -> tuple[str | None, str]:
    """(interpreter, how it was found)."""
    if VENV_PY.exists():
        got = _jax_backend(str(VENV_PY))
        if got and got.startswith("gpu"):
            return str(VENV_PY), f".venv ({got})"
        uv = ROOT / ".venv" / "bin" / "uv"
        if uv.exists() and not dry_run:
            log("syncing .venv with the lock's CUDA jaxlib (uv sync --frozen --extra gpu)")
            r = subprocess.run([str(uv), "sync", "--frozen", "--extra", "gpu"], cwd=ROOT)
            got = _jax_backend(str(VENV_PY)) if r.returncode == 0 else None
            if got and got.startswith("gpu"):
                return str(VENV_PY), f".venv + gpu extra ({got})"
    system = shutil.which("python3")
    if system:
        got = _jax_backend(system)
        if got and got.startswith("gpu"):
            return system, f"system python3 with CUDA jax ({got})"
    return None, "no Python with a CUDA jax backend found"


def _gpu_tests(python: str) -> list[str]:
    out = subprocess.run(
        [python, "-m", "pytest", "--collect-only", "-q", "-m", "gpu", "-p", "no:cacheprovider"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    return [line for line in out.stdout.splitlines() if "::" in line]


def _examine_jaxlib(python: str, log) -> dict:
    """The XLA flag verdict for the interpreter's jaxlib (runtime/xla_flags.py)."""
    code = (
        "import json, sys; sys.path.insert(0, 'runtime'); import xla_flags as X\n"
        "v = X.jaxlib_version()\n"
        "if v in X.EXAMINED:\n"
        "    print(json.dumps({'jaxlib': v, 'examined': True}))\n"
        "else:\n"
        "    err = X.probe_ynn_bug(fusions_on=True)\n"
        "    print(json.dumps({'jaxlib': v, 'examined': False, 'probe_max_abs_err': err}))\n"
    )
    env = dict(os.environ)
    env.pop("XLA_FLAGS", None)
    out = subprocess.run(
        [python, "-c", code], cwd=ROOT, capture_output=True, text=True, env=env, timeout=600
    )
    if out.returncode != 0:
        return {"error": out.stderr.strip()[-500:]}
    verdict = json.loads(out.stdout.strip().splitlines()[-1])
    if not verdict["examined"]:
        clean = verdict["probe_max_abs_err"] < 1e-3
        verdict["MEMLEARN_XLA_EXAMINED"] = f"{verdict['jaxlib']}={'clean' if clean else 'flag'}"
        log(
            f"jaxlib {verdict['jaxlib']} not in EXAMINED; probe: {verdict['probe_max_abs_err']:.3g}"
        )
    return verdict


def _step(name, cmd, out_dir, env, deadline, steps):
    left = deadline - time.time()
    rec = {"step": name, "cmd": " ".join(cmd)}
    if left < 5:
        rec.update(rc=None, wall_s=0.0, skipped="budget spent")
        steps.append(rec)
        return
    t0 = time.time()
    with open(out_dir / f"{name}.log", "w") as f:
        try:
            r = subprocess.run(cmd, cwd=ROOT, env=env, stdout=f, stderr=subprocess.STDOUT,
                               timeout=left)  # fmt: skip
            rec["rc"] = r.returncode
        except subprocess.TimeoutExpired:
            rec["rc"] = 124
    rec["wall_s"] = round(time.time() - t0, 1)
    steps.append(rec)
    print(f"gpu-check: {name}: rc {rec['rc']} in {rec['wall_s']} s", flush=True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python3 tools/gpu_check.py")
    p.add_argument("--dry-run", action="store_true", help="print the plan; run nothing on a GPU")
    p.add_argument("--out", default=None, help="results folder (default results/gpu_check/<time>)")
    p.add_argument("--budget-s", type=float, default=480.0)
    args = p.parse_args(argv)
    if not args.budget_s > 0:
        print("gpu-check: error: --budget-s must be > 0", file=sys.stderr)
        return 2
    log = lambda msg: print(f"gpu-check: {msg}", flush=True)  # noqa: E731
    gpus = _gpus()
    if not gpus and not args.dry_run:
        print(
            "gpu-check: error: no NVIDIA GPU on this machine (nvidia-smi lists none); run it "
            "where one is, or use --dry-run to see the plan",
            file=sys.stderr,
        )
        return 2
    python, how = _choose_python(args.dry_run, log)
    if args.dry_run:
        py = python or (str(VENV_PY) if VENV_PY.exists() else sys.executable)
        tests = _gpu_tests(py)
        log(f"dry run; GPUs: {gpus or 'none here'}")
        log(f"interpreter: {how}" + ("" if python else f" (would sync the gpu extra; using {py})"))
        log("step examine_jaxlib: runtime/xla_flags probe if the jaxlib is not in EXAMINED")
        log(f"step gpu_tests: pytest -m gpu ({len(tests)} tests)")
        for t in tests:
            print(f"    {t}")
        for b in _benches():
            preset = BENCH_PRESET.get(b, "full")
            cfg = subprocess.run(
                [py, "-c", f"from experiments import {b} as m; print(m.PRESETS[{preset!r}])"],
                cwd=ROOT, capture_output=True, text=True,
                env=dict(os.environ, PYTHONPATH=str(ROOT)),
            )  # fmt: skip
            ok = "ok" if cfg.returncode == 0 else f"FAILS: {cfg.stderr.strip()[-200:]}"
            log(f"step {b}: python -m experiments.{b} --preset {preset} (config {ok})")
        log(f"budget {args.budget_s:.0f} s; results folder results/gpu_check/<time>/")
        return 0 if tests and all(b in BENCH_PRESET for b in _benches()) else 1
    if python is None:
        print(f"gpu-check: error: {how}", file=sys.stderr)
        return 2
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    out_dir = pathlib.Path(args.out) if args.out else ROOT / "results" / "gpu_check" / stamp
    out_dir.mkdir(parents=True, exist_ok=True)
    deadline = time.time() + args.budget_s
    verdict = _examine_jaxlib(python, log)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("XLA_FLAGS", None)
    if "MEMLEARN_XLA_EXAMINED" in verdict:
        env["MEMLEARN_XLA_EXAMINED"] = verdict["MEMLEARN_XLA_EXAMINED"]
    steps: list[dict] = []
    junit = out_dir / "gpu_tests.xml"
    _step("gpu_tests", [python, "-m", "pytest", "-m", "gpu", "-p", "no:cacheprovider",
                        f"--junitxml={junit}"], out_dir, env, deadline, steps)  # fmt: skip
    for b in _benches():
        preset = BENCH_PRESET.get(b, "full")
        _step(b, [python, "-m", f"experiments.{b}", "--preset", preset,
                  "--out", str(out_dir / b)], out_dir, env, deadline, steps)  # fmt: skip
    record = {
        "gpus": gpus,
        "interpreter": how,
        "xla_flags_verdict": verdict,
        "budget_s": args.budget_s,
        "steps": steps,
        "passed": all(s.get("rc") == 0 for s in steps),
    }
    (out_dir / "gpu_check.json").write_text(json.dumps(record, indent=1) + "\n")
    log(f"{'passed' if record['passed'] else 'FAILED'}; record in {out_dir}")
    return 0 if record["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
