"""Streaming / chunked inference of the CE-LIF paper's Seq-MNIST net: the same outputs as one call.

The model takes a carried state in and returns it (``state=``, ``return_state=True``), so a 784-step
sequence can be fed in chunks (streaming, truncated BPTT, closed loop) or one pixel at a time with
the per-step whole-net scan (``scan="step"``). The net is ``configs/ce_lif_seq_mnist.py``'s
([64, 152, 152] CE-LIF, untrained here), the digits the MNIST subset shipped with snnjax.

    python examples/chunked_inference.py
"""

import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))  # for configs/

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import snnjax  # noqa: E402
from configs import ce_lif_seq_mnist  # noqa: E402
from snnjax.core import encoders  # noqa: E402


def main(batch: int = 2, chunk: int = 196) -> dict:
    config = ce_lif_seq_mnist.get_config()
    model = snnjax.models.build_model(config.model, num_outputs=10)
    digits = np.load(pathlib.Path(snnjax.__file__).parent / "assets" / "mnist_small.npz")["x_test"][:batch]
    x = jnp.asarray(digits[..., None], jnp.float32) / 255.0              # [B, 28, 28, 1], batch-major
    variables = model.init(jax.random.PRNGKey(0), x, train=False)

    one_call = jax.jit(lambda v, x: model.apply(v, x, train=False).out)(variables, x)   # [784, B, 10]

    h = encoders.encode("pixel", x, 1)                                   # the encoder's [784, B, 1]
    run_chunk = jax.jit(lambda v, h, st: model.apply(v, h, train=False, encoded=True, state=st, return_state=True))
    outs, state = [], None
    for start in range(0, h.shape[0], chunk):
        out, state = run_chunk(variables, h[start:start + chunk], state)
        outs.append(out.out)
    chunked = jnp.concatenate(outs)

    streaming = model.clone(scan="step")                                 # one scan of the whole net per step
    per_step = jax.jit(lambda v, x: streaming.apply(v, x, train=False).out)(variables, x)

    result = {
        "steps": int(h.shape[0]),
        "chunks": len(outs),
        "state_t": int(state.t),
        "max_abs_difference_chunked": float(jnp.max(jnp.abs(chunked - one_call))),
        "max_abs_difference_per_step_scan": float(jnp.max(jnp.abs(per_step - one_call))),
        "predictions_equal": bool(jnp.all(jnp.argmax(chunked.mean(0), -1) == jnp.argmax(one_call.mean(0), -1))),
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
