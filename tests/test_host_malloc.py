"""``snnjax.host_malloc``: the malloc settings stop XLA:CPU's per-call page faults, the switch
reads its mode and refuses bad ones, and ``train.py`` reports a bad value in one line."""

import json
import platform
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from cpu_env import cpu_env

from snnjax import host_malloc

REPO = Path(__file__).resolve().parents[1]
GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"

# A jitted call whose 36 MiB output and cumulative-sum buffers (above glibc's largest mmap threshold, 32 MiB)
# are freed after each call: with malloc's defaults every call maps them anew and page-faults all of
# them in (about 19,000 faults of 4 KiB a call here); retained, the heap's freed blocks serve them.
FAULTS_PER_CALL = textwrap.dedent("""
    import json, resource
    from snnjax import host_malloc
    applied = host_malloc.retain_freed_memory()
    import jax, jax.numpy as jnp
    f = jax.jit(lambda x: jnp.cumsum(x) * 2.0)
    x = jnp.ones((9 * 2**20,), jnp.float32)  # 36 MiB
    for _ in range(5):
        f(x).block_until_ready()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(20):
        y = f(x).block_until_ready()
        del y
    after = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    print(json.dumps({"applied": applied, "faults_per_call": (after - before) / 20}))
""")


def _faults_per_call(mode: str) -> dict:
    done = subprocess.run([sys.executable, "-c", FAULTS_PER_CALL], env=cpu_env(1, SNNJAX_HOST_MALLOC=mode),
                          capture_output=True, text=True, timeout=300, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not GLIBC, reason="the settings are glibc's")
def test_retained_memory_stops_the_per_call_page_faults():
    default, retained = _faults_per_call("default"), _faults_per_call("retain")
    assert not default["applied"] and retained["applied"]
    pages = 36 * 2**20 // 4096
    assert default["faults_per_call"] > pages  # the output and the cumulative sum's buffers, at every call
    # reused: no new pages at most calls (glibc's heap fragments, so a call now and then still grows
    # it: ~1,900 faults a call on average here, against ~19,000)
    assert retained["faults_per_call"] < default["faults_per_call"] / 4


def test_the_mode_is_read_from_the_argument_or_the_environment(monkeypatch):
    monkeypatch.setattr(host_malloc, "_applied", False)
    assert host_malloc.retain_freed_memory("default") is False and not host_malloc.applied()
    monkeypatch.setenv(host_malloc.ENV, "default")
    assert host_malloc.retain_freed_memory() is False
    monkeypatch.setenv(host_malloc.ENV, "sometimes")
    with pytest.raises(ValueError, match="SNNJAX_HOST_MALLOC must be one of auto, retain, default, got 'sometimes'"):
        host_malloc.retain_freed_memory()
    with pytest.raises(ValueError, match="got 'never'"):
        host_malloc.retain_freed_memory("never")


@pytest.mark.parametrize("platforms, cpu", [("cpu", True), ("cuda", False), ("cuda,cpu", False), (" cpu , cuda", True)])
def test_auto_applies_where_jax_platforms_puts_the_cpu_first(monkeypatch, platforms, cpu):
    monkeypatch.setenv("JAX_PLATFORMS", platforms)
    assert host_malloc.runs_on_cpu() is cpu


def test_auto_without_jax_platforms_asks_whether_an_accelerator_plugin_is_installed(monkeypatch):
    monkeypatch.delenv("JAX_PLATFORMS", raising=False)
    monkeypatch.setattr(host_malloc, "_accelerator_plugin_installed", lambda: True)
    assert not host_malloc.runs_on_cpu()
    assert host_malloc.retain_freed_memory("auto") is False  # a GPU host: left alone
    monkeypatch.setattr(host_malloc, "_accelerator_plugin_installed", lambda: False)
    assert host_malloc.runs_on_cpu()


def test_train_py_names_a_bad_setting_in_one_line(tmp_path):
    done = subprocess.run([sys.executable, "train.py", "--config", "configs/smoke.py", "--workdir", str(tmp_path / "w")],
                          cwd=REPO, env=cpu_env(1, SNNJAX_HOST_MALLOC="yes"), capture_output=True, text=True,
                          timeout=300)
    assert done.returncode != 0
    assert done.stderr.strip().splitlines()[-1] == (
        "error: SNNJAX_HOST_MALLOC must be one of auto, retain, default, got 'yes'")
    assert not (tmp_path / "w").exists()
