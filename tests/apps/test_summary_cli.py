"""``python -m snnjax.summary``: the layer table, its parameter counts, no compilation."""

import importlib.util
import math
import subprocess
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp

from snnjax import summary
from snnjax.models import build_model

REPO = Path(__file__).resolve().parents[2]
CE_LIF_SEQ_MNIST = [  # the CE-LIF paper's Seq-MNIST net, T = 784 steps
    "--config.model.arch=sequence", "--config.model.encoder=pixel", "--config.model.neuron.kind=ce_lif",
    "--config.model.hidden=(64,152,152)", "--config.loss.name=cross_entropy",
]


def smoke_config():
    spec = importlib.util.spec_from_file_location("smoke", REPO / "configs" / "smoke.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.get_config()


def _cli(*args):
    cmd = [sys.executable, "-m", "snnjax.summary", *args]
    return subprocess.run(cmd, check=False, cwd=REPO, capture_output=True, text=True, timeout=120)


def test_cli_prints_layers_shapes_and_the_total_last():
    result = _cli("configs/smoke.py")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    config = smoke_config()
    variables = jax.eval_shape(lambda x: build_model(config.model, 10).init(jax.random.PRNGKey(0), x, train=False),
                               jax.ShapeDtypeStruct((1, 28, 28, 1), jnp.float32))
    total = sum(math.prod(x.shape) for x in jax.tree.leaves(variables["params"]))
    assert lines[-1] == f"Total parameters: {total:,}"
    table = "\n".join(lines)
    for path, shape in [("conv0/conv", "float32[1,28,28,16]"), ("conv1/neuron", "float32[4,1,14,14,32]"),
                        ("fc0", "float32[4,1,100]")]:
        row = next(line for line in lines if line.split()[0] == path)
        assert shape in row, row
    assert "kernel[1568,100]" in table and "156,900" in table


def test_cli_overrides_and_ce_lif_seq_mnist_is_fast():
    start = time.time()
    result = _cli("configs/smoke.py", *CE_LIF_SEQ_MNIST)
    assert result.returncode == 0, result.stderr
    assert time.time() - start < 60
    lines = result.stdout.strip().splitlines()
    assert lines[-1] == "Total parameters: 153,962"  # the CE-LIF paper's Table 1 count
    assert any("float32[784,1,152]" in line for line in lines)


def test_cli_bad_override_is_a_clear_error():
    result = _cli("configs/smoke.py", "--config.model.specc=1")
    assert result.returncode != 0 and "specc" in result.stderr and "Traceback" not in result.stderr


def test_summarize_does_not_compile():
    compiled = []

    def listener(name, *args, **kwargs):
        if name == "/jax/core/compile/backend_compile_duration":
            compiled.append(name)

    config = smoke_config()
    config.model.arch, config.model.encoder, config.model.neuron.kind = "sequence", "pixel", "ce_lif"
    config.model.hidden, config.loss.name = (64, 152, 152), "cross_entropy"
    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        table = summary.summarize(config)
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)
    assert compiled == []
    assert table.splitlines()[-1] == "Total parameters: 153,962"
    assert "te[784,152]" in table
