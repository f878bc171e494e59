"""``python -m snnjax.export <workdir> --format nir`` on a real (tiny) run: the exported graph,
read back and imported, gives the trained network's outputs on test images."""

import jax.numpy as jnp
import numpy as np
import pytest

nir = pytest.importorskip("nir")

from configs import smoke  # noqa: E402
from snnjax import export, nir_io  # noqa: E402
from snnjax.tool import train_lib
from snnjax.tool.run_dir import load_run  # noqa: E402


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    config = smoke.get_config()
    with config.unlocked():
        config.model.spec = "8c3-ap2-8c3-ap2-40-10"  # average pooling: NIR 1.0 has no max pool
        config.model.neuron.kind = "llc_lif"
        config.model.norm = "llc_bn"
        config.train.num_steps = 20
        config.model.neuron.v_th = 0.5
        config.train.num_epochs = 1.0
    workdir = tmp_path_factory.mktemp("run")
    train_lib.train_and_evaluate(config, workdir, progress=False)
    return workdir


@pytest.mark.slow
def test_export_cli_round_trip(run_dir):
    assert export.main([str(run_dir), "--format", "nir"]) == 0
    graph = nir.read(str(run_dir / "model.nir"))
    assert "conv0_neuron" in graph.nodes and isinstance(graph.nodes["conv0_neuron"], nir.LIF)
    apply_fn, params = nir_io.import_nir(graph, input_layout="nhwc")
    run = load_run(run_dir)
    x, _ = run.dataset.test.get(np.arange(8))
    expected = run.model.apply(run.variables, jnp.asarray(x), train=False).out
    x_seq = jnp.broadcast_to(jnp.asarray(x)[None], (expected.shape[0],) + x.shape)
    got = apply_fn(params, x_seq)
    assert 0 < float(expected.mean()) < 1
    np.testing.assert_allclose(np.asarray(got), np.asarray(expected), atol=1e-5)


def test_export_errors_are_clear(tmp_path, run_dir, capsys):
    assert export.main([str(tmp_path)]) == 2
    assert "config.json" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        export.main([str(run_dir), "--format", "onnx"])
