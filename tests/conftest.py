"""Test set-up: several fake CPU devices, strict dtype and rank promotion, a PRNG-key fixture.

Strict promotion makes any silent float32/bfloat16 mix or implicit broadcast in library code an error,
so the dtype and shape conventions of docs/design.md are enforced by every test.
"""

import os
import shutil
import tempfile

# One persistent XLA compilation cache per test session, shared by the xdist workers (they inherit
# the controller's environment) and by the train.py subprocesses the tests start. Many tests build
# the same programs (a model's init, a train step) from new Python functions, which jax.jit's
# in-memory cache cannot match but this cache, keyed by the program, does. Made fresh for each
# session, so a compile regression still shows; a user's own JAX_COMPILATION_CACHE_DIR is used
# as it is. Without eviction jax writes entries without a lock: a worker reading one another is
# still writing fails to decompress it, warns, and compiles (jax's fallback), so results never change.
_OWN_COMPILE_CACHE = None
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    _OWN_COMPILE_CACHE = tempfile.mkdtemp(prefix="snnjax-tests-xla-cache-")
    os.environ["JAX_COMPILATION_CACHE_DIR"] = _OWN_COMPILE_CACHE
    os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"  # the small programs are the many

# Must happen before JAX initialises its backends.
if "xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (
        os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4"
    ).strip()

import jax  # noqa: E402
import pytest  # noqa: E402

jax.config.update("jax_numpy_dtype_promotion", "strict")
jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture
def key() -> jax.Array:
    return jax.random.PRNGKey(0)


def pytest_unconfigure(config: pytest.Config) -> None:
    """The session's compilation cache goes with the session (only the process that made it)."""
    if _OWN_COMPILE_CACHE is not None:
        shutil.rmtree(_OWN_COMPILE_CACHE, ignore_errors=True)
