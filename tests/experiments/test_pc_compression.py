"""pc_compression's data handling, baselines and bad input (the quick preset runs in test_smoke)."""

from __future__ import annotations

import gzip
import json
import pathlib

import numpy as np
import pytest

from experiments import pc_compression as pcc
from experiments._lib.config import UsageError
from models import image_data, pc
from tests.experiments.test_smoke import _python_m

PAPER = "liu2022_pc_compression"  # the paper this module's time is charged to (conftest)


def test_fashion_preset_without_the_debian_package_stops_with_the_command(monkeypatch, tmp_path):
    monkeypatch.setattr(pcc, "FASHION_DIR", str(tmp_path / "absent"))
    with pytest.raises(UsageError, match="apt-get install -y dataset-fashion-mnist"):
        pcc.load(pcc.PRESETS["full"])


@pytest.mark.parametrize(
    "setting, message",
    [
        ("dataset=cifar", "dataset must be one of"),  # caught by Config
        ("batch_size=5000", "exceeds the 1497 training images"),  # caught by Config
        ("n_train=2000", "digits has 1497 training and 300 test images"),
        ("mi_images=-5", "mi_images and n_roundtrip must be >= 0"),
        # counts past the set they draw from: refused, not capped to the set
        ("mi_images=1000000000000", "mi_images 1000000000000 exceeds the 1497 training images"),
        ("n_code=301", "n_code 301 exceeds the 300 test images"),
        ("n_roundtrip=301", "must be <= the 300 coded images"),
        ("code_batch=1000000000", "too large: pc_compression [quick] needs"),  # runtime.memory
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(capsys, tmp_path, setting, message):
    out = tmp_path / "out"
    assert pcc.main(["--set", setting, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert not out.exists()


def test_idx_reader(tmp_path):
    imgs = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    path = tmp_path / "x-idx3-ubyte.gz"
    header = b"\x00\x00\x08\x03" + b"".join(int(v).to_bytes(4, "big") for v in (2, 3, 3))
    with gzip.open(path, "wb") as f:
        f.write(header + imgs.tobytes())
    np.testing.assert_array_equal(image_data.idx_images(path), imgs.reshape(2, 9))
    bad = tmp_path / "bad.gz"
    with gzip.open(bad, "wb") as f:
        f.write(b"\x00\x00\x08\x01" + bytes(12))
    with pytest.raises(ValueError, match="not an idx3"):
        image_data.idx_images(bad)


def test_resize_crops_and_upsamples():
    x = np.arange(16).reshape(1, 16)  # a 4x4 image
    np.testing.assert_array_equal(pcc.resize(x, 4, 2), [[5, 6, 9, 10]])
    up = pcc.resize(x, 4, 8).reshape(8, 8)
    np.testing.assert_array_equal(up[::2, ::2], x.reshape(4, 4))


def test_baselines_are_normalised_and_coded_exactly():
    rng = np.random.default_rng(0)
    K, D = 4, 9
    train, test = rng.integers(0, K, (400, D)), rng.integers(0, K, (30, D))
    tree = pc.chow_liu_tree(pc.mutual_information(train, K))
    ind = pcc.independent_model(train, K, 1.0)
    np.testing.assert_allclose(np.exp(ind).sum(-1), 1.0)
    clt = pcc.clt_model(tree, train, K, 1.0)
    np.testing.assert_allclose(np.exp(clt).sum(-1), 1.0)
    bits, ideal, ok = pcc._code_baseline(
        lambda xb: pcc.clt_logpmfs(tree, clt, xb), test, tree.preorder, chunk=7
    )
    assert ok and np.all(bits >= ideal - 1) and np.all(bits <= ideal + 96)
    # the chain of coded conditionals is the CLT log-likelihood
    ll = pcc.clt_symbol_logp(tree, clt, test).sum(1)
    np.testing.assert_allclose(ideal, -ll / np.log(2), rtol=1e-10)


def test_classic_codecs_report_bits_per_dimension():
    x = np.zeros((3, 64), np.int64)
    out = pcc.classic_codecs(x, 8, 17)
    assert {"zlib (per image)", "PNG (per image)", "WebP lossless (per image)"} <= set(out)
    assert all(v > 0 for v in out.values())


TINY = [
    *("--set", "epochs=2", "--set", "full_batch_epochs=1", "--set", "batch_size=300"),
    *("--set", "n_code=40", "--set", "code_batch=20", "--set", "n_agree=2"),
    *("--set", "scaling_sides=4,6,8", "--set", "scaling_images=300", "--set", "n_samples=4"),
]


def _deterministic_part(path):
    results = json.loads(pathlib.Path(path).read_text())
    results.pop("timing")  # wall-clock speed measurements are the one non-seeded part
    return results


def _run(out, env_extra=None):
    proc = _python_m("experiments.pc_compression", [*TINY, "--out", str(out)], env_extra)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return _deterministic_part(out / "results.json")


# Slow tier: three processes at a size above smoke (~5 min cold on 2 cores); in the fast suite the
# smoke test compares pc_compression's smoke preset on 1 and 4 devices.
@pytest.mark.slow
def test_same_seed_same_results_and_four_devices(tmp_path):
    a, b = _run(tmp_path / "a"), _run(tmp_path / "b")
    assert a == b
    # EM batches sharded over 4 simulated devices: the flow sums are reduced in another order,
    # so the parameters differ in the last float32 bits; everything coded stays exact and the
    # rates agree to ~1e-5 bpd (float32 relative rounding x a few hundred EM updates).
    four = _run(tmp_path / "four", {"XLA_FLAGS": "--xla_force_host_platform_device_count=4"})
    ma, m4 = a["metrics"], four["metrics"]
    assert m4["lossless_per_image"] == ma["lossless_per_image"]
    for k in ("hclt_test_bpd", "hclt_ideal_bpd", "clt_test_bpd", "independent_test_bpd"):
        assert abs(m4[k] - ma[k]) < 1e-4, k
    assert [c["status"] for c in four["claims"]] == [c["status"] for c in a["claims"]]
