"""How long XLA takes to compile a random draw, shaped (``jax.random``) and flat (``snnjax.core.flat_random``).

    python -m bench.compile_random
    python -m bench.compile_random --quick     # two small shapes, no nets (the test's)

For each shape the library draws at (dense and conv kernels, a rate-coded batch, a dropout mask),
one JSON line: the compile seconds of ``jax.random.<fn>(key, shape)`` and of the same numbers drawn
by :mod:`snnjax.core.flat_random` (flat, then reshaped), and their ratio; then the compile seconds of a
model's ``train_steps.init_state`` (parameters and optimiser state) for two small nets, whose
weights are drawn flat. Every program is new to the process (no compile cache hit): the shapes
differ between lines. Compile time, not run time: the per-run start-up of ``train.py`` and most of
the test suite's time on a CPU.
"""

from __future__ import annotations

import argparse
import json
import time

import jax
import jax.numpy as jnp
import optax

from snnjax.core import flat_random
from snnjax.models import build_model, default_model_config
from snnjax.tool.train_steps import init_state

# (name, shape): what the library draws at; each used once per process
SHAPES = [
    ("dense kernel", (784, 101)),
    ("conv kernel 3x3", (3, 3, 33, 64)),
    ("TE table", (783, 152)),
    ("rate-coded batch [T, B, H, W, C]", (8, 16, 28, 28, 1)),
    ("dropout mask [1, B, N]", (1, 16, 2049)),
]
QUICK_SHAPES = [("dense kernel", (5, 6)), ("conv kernel 3x3", (3, 3, 2, 4))]  # --quick
DRAWS = {
    "uniform": (jax.random.uniform, flat_random.uniform),
    "normal": (jax.random.normal, flat_random.normal),
    "bernoulli": (lambda k, s: jax.random.bernoulli(k, 0.5, s), lambda k, s: flat_random.bernoulli(k, 0.5, s)),
}



def compile_seconds(fn, *args) -> tuple[float, jax.Array]:
    """Seconds to compile ``jax.jit(fn)`` for ``args``, and its result."""
    lowered = jax.jit(fn).lower(*args)
    start = time.perf_counter()
    compiled = lowered.compile()
    return time.perf_counter() - start, compiled(*args)


def _nets():
    conv = default_model_config()
    conv.spec, conv.time_steps = "16c3-p2-32c3-p2-100-10", 4
    seq = default_model_config()
    seq.arch, seq.hidden, seq.encoder = "sequence", (64, 152, 152), "pixel"
    seq.neuron.kind = "ce_lif"
    return [("conv net 16c3-p2-32c3-p2-100-10", conv, (28, 28, 1)), ("CE-LIF net [64,152,152]", seq, (28, 28, 1))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.compile_random", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two small shapes and no nets")
    args = parser.parse_args(argv)
    key = jax.random.PRNGKey(0)
    compile_seconds(lambda k: k + 1, key)  # the backend's first compile pays its own set-up
    for i, (what, shape) in enumerate(QUICK_SHAPES if args.quick else SHAPES):
        for name, (shaped, flat) in DRAWS.items():
            shape_i = shape[:-1] + (shape[-1] + i,)  # distinct programs: no cache hit across lines
            a, want = compile_seconds(lambda k: shaped(k, shape_i), key)
            b, got = compile_seconds(lambda k: flat(k, shape_i), key)
            if not bool(jnp.all(want == got)):
                raise AssertionError(f"{name} {shape_i}: flat_random drew other numbers than jax.random")
            print(json.dumps({"draw": name, "what": what, "shape": shape_i, "jax_random_s": round(a, 3),
                              "flat_random_s": round(b, 3), "ratio": round(a / b, 2), "equal": True}), flush=True)
    for what, cfg, input_shape in [] if args.quick else _nets():
        model = build_model(cfg, 10)
        x = jnp.zeros((1, *input_shape), jnp.float32)
        s, _ = compile_seconds(lambda k: init_state(model, optax.adam(1e-3), x, k), key)
        print(json.dumps({"init_state": what, "compile_s": round(s, 3)}), flush=True)
    print(json.dumps({"device": jax.devices()[0].device_kind, "jax": jax.__version__}))
    return 0


if __name__ == "__main__":
    # A persistent compilation cache (JAX_COMPILATION_CACHE_DIR) would time its reads, not XLA:
    # off for this process, before its first compile (jax decides then).
    jax.config.update("jax_enable_compilation_cache", False)
    raise SystemExit(main())
