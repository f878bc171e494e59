"""snnjax.apps.gradient_flow: the gradient of the loss with respect to a spiking layer's input current."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from snnjax.apps import gradient_flow as gf
from snnjax.core import losses
from snnjax.nn.models.sequence_net import SequenceSNN
from snnjax.tool.config import default_loss_config


@pytest.fixture(scope="module")
def net():
    model = SequenceSNN(hidden=(8, 6), num_outputs=3, encoder="sequence", readout="mean",
                        neuron=SequenceSNN.neuron.replace(kind="lif"))
    x = jax.random.normal(jax.random.PRNGKey(1), (4, 12, 5))
    y = jnp.array([0, 1, 2, 1])
    variables = model.init({"params": jax.random.PRNGKey(0)}, x, train=False)
    cfg = default_loss_config()
    cfg.name = "cross_entropy"
    return model, variables, x, y, cfg


def test_every_spiking_layer_is_found_in_call_order(net):
    model, variables, x, _, _ = net
    assert gf.spiking_layers(model, variables, x) == [(("neuron0",), (12, 4, 8)), (("neuron1",), (12, 4, 6))]


def test_the_first_layers_current_gradient_maps_back_to_the_input_gradient(net):
    """I₀[t] = W₀ x[t] + b, so ∂L/∂x[b, t] = W₀ ∂L/∂I₀[t, b]: the interceptor's gradient against jax.grad of the input."""
    model, variables, x, y, cfg = net

    def loss_of_input(x):
        out = model.clone(scan="layer").apply(variables, x, train=False)
        return losses.total_loss_from_config(out, y, cfg)[1]["loss_global"]

    path, g0 = gf.input_gradients(model, variables, x, y, cfg, layer=("neuron0",))
    assert path == ("neuron0",)
    kernel = variables["params"]["fc0"]["kernel"]  # [inputs, neurons]
    expected = jax.grad(loss_of_input)(x)
    np.testing.assert_allclose(np.einsum("tbn,kn->btk", g0, kernel), expected, rtol=1e-5, atol=1e-7)
    assert float(jnp.abs(expected).sum()) > 0


def test_the_default_is_the_last_layer_and_an_unknown_one_is_named(net):
    model, variables, x, y, cfg = net
    path, g = gf.input_gradients(model, variables, x, y, cfg)
    assert path == ("neuron1",) and g.shape == (12, 4, 6)
    with pytest.raises(ValueError, match="neuron0, neuron1"):
        gf.input_gradients(model, variables, x, y, cfg, layer=("fc0",))


def test_the_map_is_the_mean_magnitude_over_examples_over_its_largest_value():
    grad = np.array([[[1.0, -2.0], [-3.0, 0.0]], [[0.0, 4.0], [2.0, 4.0]]])  # [T=2, B=2, N=2]
    np.testing.assert_allclose(gf.gradient_map(grad), [[0.5, 0.25], [0.25, 1.0]])
    assert not gf.gradient_map(np.zeros((3, 2, 1))).any()


def test_the_figure_is_written(tmp_path):
    record = {"run": "r", "neuron": "ce_lif", "layer": "neuron2", "map": np.eye(5, 3).tolist(),
              "per_step": [0.0, 0.5, 1.0, 0.2, 0.1]}
    png, svg = gf.plot_gradient_flow([record, record], tmp_path / gf.GRADIENT_FLOW_PNG)
    assert png.stat().st_size > 0 and svg.stat().st_size > 0


def test_the_plans_figure_is_drawn_once_every_run_has_a_checkpoint_and_kept_otherwise(tmp_path, monkeypatch):
    from snnjax.apps.reproduce import __main__ as reproduce
    from snnjax.apps.reproduce import plans
    from snnjax.apps.reproduce.results import RunResult

    runs = plans.CE_LIF_FIG6
    out = tmp_path / "out"
    out.mkdir()
    (out / "fig.png").write_bytes(b"drawn earlier")
    unfinished = [(runs[0], RunResult(status="finished")), (runs[1], RunResult(status="missing"))]
    assert reproduce.gradient_flow_plot("fig", unfinished, tmp_path / "runs", out) == [out / "fig.png"]
    assert (out / "fig.png").read_bytes() == b"drawn earlier"

    record = {"run": "r", "neuron": "ce_lif", "layer": "neuron2", "map": np.eye(4, 3).tolist(), "per_step": [1.0] * 4}
    monkeypatch.setattr(reproduce.RunDirectory, "latest_checkpoint_step", lambda self: 5000)
    monkeypatch.setattr(gf, "run_gradient_map", lambda workdir: {**record, "run": workdir.name})
    finished = [(e, RunResult(status="finished")) for e in runs]
    written = reproduce.gradient_flow_plot("fig", finished, tmp_path / "runs", out)
    assert [p.name for p in written] == ["fig.png", "fig.svg", "fig.json"]
    assert (out / "fig.png").read_bytes() != b"drawn earlier"
    assert [r["run"] for r in json.loads((out / "fig.json").read_text())] == [e.name for e in runs]
