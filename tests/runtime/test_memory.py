"""runtime.memory plans against the memory this process may use: the host's, or an rlimit's."""

import resource

from runtime import memory


def test_an_address_space_limit_lowers_the_budget(monkeypatch):
    host = memory.host_bytes()
    cap = 6 * 2**30
    monkeypatch.setattr(memory.resource, "getrlimit", lambda which: (cap, resource.RLIM_INFINITY))
    assert memory.host_bytes() == min(host, cap)
    assert memory.budget_bytes() == int(memory.FRACTION * min(host, cap))
    line = memory.refusal(5 * 2**30)
    if cap < host:  # 5 GiB fits 60% of the host here but not 60% of the 6 GiB cap
        assert line is not None and "this process may use" in line and "\n" not in line


def test_no_limit_means_the_host(monkeypatch):
    unlimited = (resource.RLIM_INFINITY, resource.RLIM_INFINITY)
    monkeypatch.setattr(memory.resource, "getrlimit", lambda which: unlimited)
    assert 0 < memory.host_bytes()
    assert memory.refusal(1) is None


def test_compiled_bytes_reads_xla_s_memory_analysis():
    import jax.numpy as jnp

    x = jnp.ones((256, 256), jnp.float32)
    b = memory.compiled_bytes(lambda a: a @ a.T, x)
    assert set(b) == {"temp", "output", "argument"}
    assert b["argument"] == b["output"] == 256 * 256 * 4  # one float32 256 x 256 each way
