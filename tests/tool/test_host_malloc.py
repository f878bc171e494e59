"""``snnjax.tool.host_malloc``: the malloc settings stop XLA:CPU's per-call page faults, the switch is
off unless asked for and refuses bad values, and ``train.py`` applies it when asked (its summary
says so) and reports a bad value in one line."""

import json
import platform
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from cpu_env import cpu_env

from snnjax.tool import host_malloc

REPO = Path(__file__).resolve().parents[2]
GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"

# A jitted call whose 36 MiB output and cumulative-sum buffers (above glibc's largest mmap threshold, 32 MiB)
# are freed after each call: with malloc's defaults every call maps them anew and page-faults all of
# them in (about 19,000 faults of 4 KiB a call here); retained, the heap's freed blocks serve them.
FAULTS_PER_CALL = textwrap.dedent("""
    import json, resource
    from snnjax.tool import host_malloc
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


@pytest.mark.slow
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
    monkeypatch.delenv(host_malloc.ENV, raising=False)
    assert host_malloc.retain_freed_memory() is False and not host_malloc.applied()  # off unless asked for
    assert host_malloc.retain_freed_memory("default") is False
    monkeypatch.setenv(host_malloc.ENV, "sometimes")
    with pytest.raises(ValueError, match="SNNJAX_HOST_MALLOC must be one of default, retain, got 'sometimes'"):
        host_malloc.retain_freed_memory()
    with pytest.raises(ValueError, match="got 'never'"):
        host_malloc.retain_freed_memory("never")


def test_train_py_names_a_bad_setting_in_one_line(tmp_path):
    done = subprocess.run([sys.executable, "train.py", "--config", "configs/smoke.py", "--workdir", str(tmp_path / "w")],
                          cwd=REPO, env=cpu_env(1, SNNJAX_HOST_MALLOC="yes"), capture_output=True, text=True,
                          timeout=300)
    assert done.returncode != 0
    assert done.stderr.strip().splitlines()[-1] == (
        "error: SNNJAX_HOST_MALLOC must be one of default, retain, got 'yes'")
    assert not (tmp_path / "w").exists()


@pytest.mark.slow
def test_train_py_reuses_freed_memory_when_asked_and_says_so_in_its_summary(tmp_path):
    env = cpu_env(1, SNNJAX_HOST_MALLOC="retain")
    subprocess.run([sys.executable, "train.py", "--config", "configs/smoke.py", "--workdir", str(tmp_path / "w"),
                    "--config.train.num_steps=2", "--config.train.eval_batch_size=1000"],
                   cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=True)
    summary = json.loads((tmp_path / "w" / "summary.json").read_text())
    assert summary["device"]["host_malloc"] == ("retain" if GLIBC else "default")
