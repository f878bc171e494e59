"""Training a small spiking conv net with the library API instead of ``train.py``.

Data, model, loss and optimiser come from snnjax; the loop is ten lines of plain JAX, with a tqdm
progress bar per epoch on stderr (its first step compiles the train step: seconds). The shipped
MNIST subset needs no download.

    python examples/train_with_library_api.py [epochs] [examples per epoch]
"""

import json
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
from tqdm.auto import tqdm

from snnjax import data, losses, models


def main(epochs: int = 2, batch_size: int = 64, limit: int | None = None) -> dict:
    dataset = data.load(data.default_data_config())  # mnist_small: 5,000 train / 1,000 test images
    cfg = models.default_model_config()
    cfg.spec, cfg.time_steps = "16c3-p2-32c3-p2-100-10", 4
    model = models.build_model(cfg, dataset.num_classes)

    x0, _ = dataset.train.get(np.arange(batch_size))
    rngs = {"params": jax.random.PRNGKey(0), "dropout": jax.random.PRNGKey(1)}
    variables = model.init(rngs, jnp.asarray(x0), train=False)
    params, batch_stats = variables["params"], variables["batch_stats"]
    tx = optax.adam(1e-3)
    opt_state = tx.init(params)

    @jax.jit
    def train_step(params, batch_stats, opt_state, x, y, key):
        def loss_fn(params):
            out, state = model.apply({"params": params, "batch_stats": batch_stats}, x, train=True,
                                     rngs={"dropout": key}, mutable=["batch_stats", "spikes", "synops"])
            return losses.mse_rate(out.out, y), state["batch_stats"]

        (loss, batch_stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), batch_stats, opt_state, loss

    @jax.jit
    def predict(params, batch_stats, x):
        return model.apply({"params": params, "batch_stats": batch_stats}, x, train=False).prediction().argmax(-1)

    n = dataset.train.num_examples if limit is None else limit
    key = jax.random.PRNGKey(2)
    for epoch in range(epochs):
        order = np.random.default_rng(epoch).permutation(n)
        bar = tqdm(range(n // batch_size), desc=f"epoch {epoch + 1}/{epochs}", unit="step", leave=False)
        for i in bar:
            x, y = dataset.train.get(order[i * batch_size:(i + 1) * batch_size])
            key, sub = jax.random.split(key)
            params, batch_stats, opt_state, loss = train_step(params, batch_stats, opt_state, jnp.asarray(x), jnp.asarray(y), sub)
            if i % 10 == 0:
                bar.set_postfix(loss=f"{float(loss):.4f}")  # float() waits for the step: only every 10th
        x_test, y_test = dataset.test.get(np.arange(dataset.test.num_examples))
        accuracy = float(np.mean(np.asarray(predict(params, batch_stats, jnp.asarray(x_test))) == y_test))
        tqdm.write(f"epoch {epoch + 1}: last batch loss {float(loss):.4f}, test accuracy {accuracy:.3f}")
    return {"test_accuracy": accuracy}


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    print(json.dumps(main(epochs=args[0] if args else 2, limit=args[1] if len(args) > 1 else None)))
