"""Test set-up: several fake CPU devices, strict dtype and rank promotion, a PRNG-key fixture.

Strict promotion makes any silent float32/bfloat16 mix or implicit broadcast in library code an error,
so the dtype and shape conventions of docs/design.md are enforced by every test.
"""

import os

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
