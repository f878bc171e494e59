"""Training a CE-LIF sequence net written in Flax NNX (``snnjax.nnx``) with ``nnx.Optimizer``.

The task, on random data: say whether a noisy sequence's hidden drift is up or down (the sign of its
mean), reading the leaky readout at the last step. The model is the CE-LIF paper's net, a recurrent
second layer and the learnable temporal encoding TE included; its state is an explicit value, so the
same weights also run one step at a time in a plain ``lax.scan``, and convert to the Linen model of
:mod:`snnjax.models`, which computes the same outputs.

    python examples/nnx_sequence.py
"""

import json

import jax
import jax.numpy as jnp
import optax
from flax import nnx
from tqdm.auto import tqdm

from snnjax import nnx as snnx

T, BATCH, HIDDEN = 24, 32, (16, 16)


def batch(key: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``x [T, B, 1]`` time-major, labels ``[B]``: 1 when the sequence drifts up."""
    k_label, k_noise = jax.random.split(key)
    labels = jax.random.bernoulli(k_label, 0.5, (BATCH,)).astype(jnp.int32)
    drift = jnp.where(labels == 1, 0.3, -0.3)
    return drift[None, :, None] + jax.random.normal(k_noise, (T, BATCH, 1)), labels


def loss_fn(model: snnx.SequenceSNN, x: jax.Array, labels: jax.Array) -> tuple[jax.Array, jax.Array]:
    out, _ = model(x)  # from rest; out.out [T, B, 2]
    logits = out.prediction()  # readout="last": [B, 2]
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
    return loss, jnp.mean(jnp.argmax(logits, -1) == labels)


@nnx.jit
def train_step(model: snnx.SequenceSNN, optimizer: nnx.Optimizer, x: jax.Array, labels: jax.Array):
    (loss, accuracy), grads = nnx.value_and_grad(loss_fn, has_aux=True)(model, x, labels)
    optimizer.update(model, grads)  # in place: model and optimizer state
    return loss, accuracy


def main(steps: int = 60) -> dict:
    model = snnx.SequenceSNN(1, HIDDEN, 2, te_steps=T, recurrent_layers=(1,), readout="last",
                             readout_decay=0.8, rngs=nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, optax.adam(1e-2), wrt=nnx.Param)
    key = jax.random.PRNGKey(1)
    losses, accuracies = [], []
    bar = tqdm(range(steps), desc="nnx.Optimizer steps", unit="step", leave=False)  # on stderr
    for _ in bar:
        key, sub = jax.random.split(key)
        loss, accuracy = train_step(model, optimizer, *batch(sub))
        losses.append(float(loss))
        accuracies.append(float(accuracy))
        bar.set_postfix(loss=f"{losses[-1]:.3f}", refresh=False)

    x, labels = batch(jax.random.PRNGKey(2))  # a held-out batch
    out, state = model(x)
    test_accuracy = float(jnp.mean(jnp.argmax(out.prediction(), -1) == labels))

    # the same weights, one step at a time (streaming): the state is the scan's carry
    _, outs = jax.lax.scan(lambda st, x_t: model.step(x_t, st)[::-1], model.initial_state(BATCH), x)
    # ...and as the Linen model the training tool uses
    linen_out = model.to_linen().apply(snnx.linen_variables(model), x, train=False, encoded=True)

    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    print(f"loss {first:.3f} -> {last:.3f} over {steps} nnx.Optimizer steps; held-out accuracy {test_accuracy:.2f}; "
          f"the state after the call is at t = {int(state.t)}")
    return {
        "first_loss": first,
        "last_loss": last,
        "test_accuracy": test_accuracy,
        "max_abs_difference_step_scan": float(jnp.max(jnp.abs(outs - out.out))),
        "max_abs_difference_linen": float(jnp.max(jnp.abs(linen_out.out - out.out))),
    }


if __name__ == "__main__":
    print(json.dumps(main()))
