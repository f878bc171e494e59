"""The benchmark runs and prints well-formed JSON lines, and its peer nets are ours (speed itself is never asserted)."""

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

from bench import run, workloads
from snnjax import models
from snnjax.layers import NeuronConfig

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _malloc_left_alone(monkeypatch):
    """``bench.run`` would apply ``SNNJAX_HOST_MALLOC=retain`` to its process: not to the test worker's."""
    monkeypatch.setenv("SNNJAX_HOST_MALLOC", "default")


@pytest.mark.slow
def test_quick_bench_prints_one_record_per_mode(capsys):
    assert run.main(["--quick", "--steps", "1", "--only", "seq_plif"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["workload"], r["mode"]) for r in lines] == [("seq_plif", "train"), ("seq_plif", "eval")]
    for r in lines:
        assert r["framework"] == "snnjax" and r["T"] == 49 and r["batch"] == 4
        assert r["samples_per_s"] > 0 and r["ms_per_step"] > 0
        assert {"device", "jax", "peak_mem_MiB"} <= set(r)
    assert lines[0]["all_finite"] is True  # the train record says whether its steps were finite


def test_peer_mode_without_the_peers_says_so(capsys, monkeypatch):
    monkeypatch.setattr(run.peer_spikingjelly, "available", lambda: False)
    monkeypatch.setattr(run.peer_spyx, "available", lambda: False)
    assert run.main(["--quick", "--steps", "1", "--only", "nothing", "--peer"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines == [{"note": "peer spikingjelly needs torch and spikingjelly importable; running snnjax only"},
                     {"note": "peer spyx needs spyx importable; running snnjax only"}]
    monkeypatch.setattr(run.peer_spyx, "available", lambda: True)  # one missing of two: that one is skipped
    assert run.main(["--quick", "--steps", "1", "--only", "nothing", "--peer"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines == [{"note": "peer spikingjelly needs torch and spikingjelly importable; skipped"}]
    assert run.main(["--quick", "--steps", "1", "--only", "nothing", "--peer", "spyx"]) == 0  # named: that one
    assert capsys.readouterr().out == ""
    with pytest.raises(SystemExit):
        run.main(["--quick", "--peer", "snntorch"])


@pytest.mark.slow
def test_batch_and_time_steps_override_the_workload_sizes(capsys):
    seed = {w.name: w for w in workloads.workloads(quick=True)}["seed_bn_lif"]
    resized = run.resized(seed, batch=2, time_steps=3)
    assert resized.batch_sizes == (2,) and resized.config.model.time_steps == 3
    assert seed.config.model.time_steps == 8  # the original is left alone
    with pytest.raises(SystemExit):  # the batch is split over the devices (4 fake CPU devices here)
        run.main(["--only", "seq_ce_lif", "--batch", "6"])
    assert run.main(["--quick", "--steps", "1", "--only", "seq_ce_lif", "--batch", "8", "--T", "6"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["mode"], r["batch"], r["T"]) for r in lines] == [("train", 8, 6), ("eval", 8, 6)]


@pytest.mark.slow
def test_scan_option_times_both_sequence_scans_and_their_ratio(capsys):
    assert run.main(["--quick", "--steps", "1", "--only", "seq_ce_lif", "--batch", "4", "--T", "5",
                     "--scan", "layer", "step"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r.get("workload"), r.get("mode")) for r in lines if "framework" in r] == [
        ("seq_ce_lif", "train"), ("seq_ce_lif", "eval"), ("seq_ce_lif[scan=step]", "train"),
        ("seq_ce_lif[scan=step]", "eval")]
    ratios = [r["ratio"] for r in lines if "ratio" in r]
    assert ratios == ["scan step/layer seq_ce_lif train batch 4", "scan step/layer seq_ce_lif eval batch 4"]
    seed = {w.name: w for w in workloads.workloads(quick=True)}["seed_bn_lif"]
    assert run.resized(seed, scan="step") == seed  # conv nets have no scan switch


# The peer nets, layer for layer (SpikingJelly class names) and parameter for parameter.
PEER_LAYERS = {
    "seed_bn_lif": ["Conv2d", "BatchNorm2d", "LIFNode", "MaxPool2d", "Conv2d", "BatchNorm2d", "LIFNode",
                    "MaxPool2d", "Flatten", "Dropout", "Linear", "LIFNode", "Dropout", "Linear", "LIFNode",
                    "VotingLayer"],
    "seq_plif": ["Linear", "ParametricLIFNode"] * 3 + ["Linear"],
    "seq_ce_lif": ["Linear", "CELIFNode"] * 3 + ["Linear"],
}
PEER_LAYERS["seed_llc_lif"] = [n.replace("LIFNode", "ParametricLIFNode") for n in PEER_LAYERS["seed_bn_lif"]]
PARAMETER_COUNTS = {"seed_bn_lif": 13_201_124, "seed_llc_lif": 13_201_128, "seq_plif": 34_797,
                    "seq_ce_lif": 34_794 + 784 * 152}  # TE is [T = 784, 152]


def _flax_layout(name, shape):
    """A torch weight's shape in flax's layout: conv [O, I, kh, kw] -> [kh, kw, I, O], linear [O, I] -> [I, O]."""
    if not name.endswith("weight") or len(shape) < 2:
        return shape  # biases, norms, PLIF's w, CE-LIF's TE [T, N] (as in snnjax)
    return (shape[2], shape[3], shape[1], shape[0]) if len(shape) == 4 else (shape[1], shape[0])


@pytest.mark.slow
def test_unroll_option_alternates_the_values_and_gives_ratios_to_the_first(capsys):
    assert run.main(["--quick", "--steps", "1", "--only", "dense_lif", "--unroll", "1", "auto"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    records = [r for r in lines if "framework" in r]
    assert sorted((r["workload"], r["mode"]) for r in records) == sorted(
        (f"dense_lif[unroll={u}]", m) for u in ("1", "auto") for m in ("train", "eval"))
    ratios = {r["ratio"]: r["samples_per_s_ratio"] for r in lines if "ratio" in r}
    assert set(ratios) == {f"unroll auto/1 dense_lif {m} batch {records[0]['batch']}" for m in ("train", "eval")}
    with pytest.raises(SystemExit):
        run.main(["--quick", "--unroll", "0"])


def _our_parameter_shapes(workload) -> list[tuple[int, ...]]:
    """The snnjax model's parameter shapes, sorted."""
    model = models.build_model(workload.config.model, workload.num_classes)
    x = np.zeros((1,) + workload.input_shape, np.float32)
    keys = {k: jax.random.PRNGKey(0) for k in ("params", "dropout", "encoder")}
    params = jax.eval_shape(lambda: model.init(keys, x, train=False))["params"]
    return sorted(tuple(p.shape) for p in jax.tree.leaves(params))


@pytest.mark.parametrize("name", sorted(PEER_LAYERS))
def test_peer_nets_are_ours_layer_for_layer(name):
    pytest.importorskip("spikingjelly.activation_based", exc_type=ImportError)
    workload = {w.name: w for w in workloads.workloads()}[name]
    net, _ = run.peer_spikingjelly.build(workload)
    assert run.peer_spikingjelly.layer_list(net) == PEER_LAYERS[name]
    ours = _our_parameter_shapes(workload)
    theirs = sorted(_flax_layout(n, tuple(p.shape)) for n, p in net.named_parameters())
    assert ours == theirs
    assert sum(int(np.prod(s)) for s in ours) == run.peer_spikingjelly.parameter_count(net) == PARAMETER_COUNTS[name]


# The Spyx peer nets (Spyx / NNX class names; pools, flatten and voting by kind), parameter for
# parameter: Spyx's LIF always makes its β a parameter, so the LIF seed net has 4 more than ours.
SPYX_LAYERS = {
    "seed_bn_lif": ["Conv", "BatchNorm", "LIF", "Pool", "Conv", "BatchNorm", "LIF", "Pool", "Flatten", "Dropout",
                    "Linear", "LIF", "Dropout", "Linear", "LIF", "Vote"],
    "seq_plif": ["Linear", "LIF"] * 3 + ["Linear"],
    "seq_ce_lif": ["Linear", "CELIF"] * 3 + ["Linear"],
}
SPYX_LAYERS["seed_llc_lif"] = SPYX_LAYERS["seed_bn_lif"]
SPYX_EXTRA = {"seed_bn_lif": [()] * 4}  # the four LIF β


@pytest.mark.parametrize("name", sorted(SPYX_LAYERS))
def test_spyx_peer_nets_are_ours_layer_for_layer(name):
    pytest.importorskip("spyx")
    workload = {w.name: w for w in workloads.workloads()}[name]
    net, _ = run.peer_spyx.build(workload)
    assert run.peer_spyx.layer_list(net) == SPYX_LAYERS[name]
    ours = sorted(_our_parameter_shapes(workload) + SPYX_EXTRA.get(name, []))
    assert sorted(run.peer_spyx.parameter_shapes(net)) == ours  # TE shared by the CE-LIF layers: once


def test_spyx_ce_lif_neuron_is_the_papers_step():
    """The Spyx-contract CE-LIF of the peer against a NumPy loop of the ce-lif paper's step."""
    pytest.importorskip("spyx")
    import spyx
    from flax import nnx

    rng = np.random.default_rng(0)
    T, B, N, decay, rho, v_th = 12, 3, 5, 0.5, 0.99, 0.3
    te = rng.normal(0.05, 0.1, (T, N + 2)).astype(np.float32)
    x = rng.uniform(0.0, 0.8, (T, B, N)).astype(np.float32)
    node = run.peer_spyx._ce_lif_class()(N, nnx.Param(jax.numpy.asarray(te)), decay, rho, v_th, 0.2)
    spikes, _ = spyx.nn.run(node, jax.numpy.asarray(x))
    v, u_prev, theta, expected = np.zeros((B, N)), np.zeros((B, N)), np.full((B, N), v_th), []
    for t in range(T):
        u = decay * v + x[t]
        theta = rho * theta + (1 - rho) * v_th + u_prev * te[t, :N]
        s = (u - theta > 0).astype(np.float64)
        v, u_prev = u * (1 - s), u
        expected.append(s)
    np.testing.assert_array_equal(np.asarray(spikes), np.stack(expected))
    assert np.asarray(spikes).any() and not np.asarray(spikes).all()


def test_peer_mode_times_spyx_beside_ours(capsys):
    pytest.importorskip("spyx")
    assert run.main(["--quick", "--steps", "1", "--peer", "spyx", "--only", "seq_ce_lif", "seed_bn_lif",
                     "--batch", "4", "--T", "3"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r.get("framework"), r.get("workload"), r.get("mode")) for r in lines if "framework" in r] == [
        (f, w, m) for w in ("seed_bn_lif", "seq_ce_lif") for m in ("train", "eval") for f in ("snnjax", "spyx")]
    assert [r["ratio"] for r in lines if "ratio" in r] == [
        f"snnjax/spyx {w} {m} batch 4" for w in ("seed_bn_lif", "seq_ce_lif") for m in ("train", "eval")]
    for r in lines:
        if r.get("framework") == "spyx":
            assert r["samples_per_s"] > 0 and r["T"] == 3 and "spyx" in r


@pytest.mark.slow
def test_peer_mode_runs_spikingjelly_on_this_machine(capsys):
    """Where SpikingJelly is installed (on the CPU too), ``--peer`` times the peer net beside ours."""
    pytest.importorskip("spikingjelly.activation_based", exc_type=ImportError)
    assert run.main(["--quick", "--steps", "1", "--peer", "spikingjelly", "--only", "seq_ce_lif", "--batch", "4",
                     "--T", "5"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r.get("framework"), r.get("mode")) for r in lines] == [
        ("snnjax", "train"), ("spikingjelly", "train"), (None, None),
        ("snnjax", "eval"), ("spikingjelly", "eval"), (None, None),
    ]
    for r in lines[1::3]:
        assert (r["workload"], r["batch"], r["T"]) == ("seq_ce_lif", 4, 5)
        assert r["samples_per_s"] > 0 and "torch" in r
    assert lines[2]["ratio"] == "snnjax/spikingjelly seq_ce_lif train batch 4"


@pytest.mark.slow
def test_peer_mode_with_loops_compares_each_loop_with_the_peer_step(capsys):
    pytest.importorskip("spikingjelly.activation_based", exc_type=ImportError)
    argv = ["--quick", "--steps", "2", "--steps_per_call", "2", "--peer", "spikingjelly", "--only", "seq_ce_lif", "--batch", "4",
            "--T", "5", "--loop", "host", "device"]
    assert run.main(argv) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r.get("framework"), r.get("loop")) for r in lines[:4]] == [
        ("snnjax", "host"), ("snnjax", "device"), (None, None), ("spikingjelly", None)]
    ratios = {r["ratio"]: r["samples_per_s_ratio"] for r in lines[4:]}
    for loop in ("host", "device"):
        ours = lines[0 if loop == "host" else 1]["samples_per_s"]
        expected = round(ours / lines[3]["samples_per_s"], 2)
        assert ratios[f"snnjax {loop} loop/spikingjelly step seq_ce_lif train batch 4"] == expected


def test_pallas_impl_covers_every_neuron():
    for kind in ("lif", "llc_lif", "alif", "ce_lif"):
        assert NeuronConfig(kind=kind, impl="pallas").impl == "pallas"
    with pytest.raises(ValueError, match="neuron.impl must be"):
        NeuronConfig(kind="ce_lif", impl="cuda")


def test_table_pairs_each_record_with_its_peer():
    from bench import table

    records = [
        {"note": "a note"},
        {"framework": "snnjax", "workload": "w", "mode": "train", "batch": 4, "T": 8, "samples_per_s": 30.0},
        {"framework": "spikingjelly", "workload": "w", "mode": "train", "batch": 4, "T": 8, "samples_per_s": 12.0},
        {"ratio": "snnjax/spikingjelly w train batch 4", "samples_per_s_ratio": 2.5},
        {"framework": "snnjax", "workload": "w", "mode": "eval", "batch": 4, "T": 8, "samples_per_s": 50.0},
    ]
    lines = table.table(records, impl="pallas").splitlines()
    assert lines[2] == "| w | train | 4 | 8 | step | pallas | default | 30 | 12 | 2.50× |"
    assert lines[3] == "| w | eval | 4 | 8 | step | pallas | default | 50 | – | – |"
    assert lines[-1] == "note: a note"


def test_table_labels_loop_records_and_pairs_each_with_the_peer_of_its_run():
    from bench import table

    ours = {"framework": "snnjax", "workload": "w", "mode": "train", "batch": 4, "T": 8}
    theirs = {"framework": "spikingjelly", "workload": "w", "mode": "train", "batch": 4, "T": 8}
    records = [{**ours, "samples_per_s": 30.0, "run": 0}, {**theirs, "samples_per_s": 10.0, "run": 0},
               {**ours, "loop": "host", "samples_per_s": 20.0, "run": 1},
               {**ours, "loop": "device", "samples_per_s": 60.0, "run": 1},
               {**theirs, "samples_per_s": 20.0, "run": 1}]
    lines = table.table(records).splitlines()
    assert lines[2] == "| w | train | 4 | 8 | step | scan | default | 30 | 10 | 3.00× |"
    assert lines[3] == "| w | train | 4 | 8 | host | scan | default | 20 | 20 | 1.00× |"
    assert lines[4] == "| w | train | 4 | 8 | device | scan | default | 60 | 20 | 3.00× |"


def test_table_gives_each_peer_its_columns():
    from bench import table

    ours = {"framework": "snnjax", "workload": "w", "mode": "train", "batch": 4, "T": 8}
    records = [{**ours, "samples_per_s": 30.0}, {**ours, "framework": "spyx", "samples_per_s": 60.0},
               {**ours, "framework": "spikingjelly", "samples_per_s": 10.0},
               {**ours, "mode": "eval", "samples_per_s": 90.0}, {**ours, "mode": "eval", "framework": "spyx",
                                                                 "samples_per_s": 45.0}]
    lines = table.table(records).splitlines()
    assert lines[0].endswith("| snnjax samples/s | SpikingJelly samples/s | ratio | Spyx samples/s | ratio |")
    assert lines[1].count("---:") == 5 and lines[0].count("| malloc |") == 1
    assert lines[2] == "| w | train | 4 | 8 | step | scan | default | 30 | 10 | 3.00× | 60 | 0.50× |"
    assert lines[3] == "| w | eval | 4 | 8 | step | scan | default | 90 | – | – | 45 | 2.00× |"


def test_table_pairs_records_only_within_one_malloc_mode():
    """Two table runs, one per host-malloc mode, read back together: each row's ratio is to the peer
    timed in the same process (same mode, same run index)."""
    from bench import table

    ours = {"framework": "snnjax", "workload": "w", "mode": "train", "batch": 4, "T": 8, "run": 0}
    theirs = {**ours, "framework": "spikingjelly"}
    records = [{**ours, "samples_per_s": 30.0, "host_malloc": "default"},
               {**theirs, "samples_per_s": 20.0, "host_malloc": "default"},
               {**ours, "samples_per_s": 45.0, "host_malloc": "retain"},
               {**theirs, "samples_per_s": 25.0, "host_malloc": "retain"}]
    lines = table.table(records).splitlines()
    assert lines[2] == "| w | train | 4 | 8 | step | scan | default | 30 | 20 | 1.50× |"
    assert lines[3] == "| w | train | 4 | 8 | step | scan | retain | 45 | 25 | 1.80× |"


@pytest.mark.slow
def test_a_loop_whose_steps_are_not_finite_gives_no_device_figure(capsys, monkeypatch):
    """The device loop stops a call at a non-finite step, so its time would not be that of the steps
    asked for: a note replaces its figure; the host loop's (the same arithmetic) is kept, flagged."""
    real = run.random_batch
    monkeypatch.setattr(run, "random_batch", lambda w, b, seed=0: (np.full_like(real(w, b, seed)[0], np.nan),
                                                                     real(w, b, seed)[1]))
    assert run.main(["--quick", "--steps", "2", "--only", "dense_lif", "--loop", "host", "device",
                     "--steps_per_call", "2"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["loop"] for r in lines if "framework" in r] == ["host"]
    assert next(r for r in lines if "framework" in r)["all_finite"] is False
    assert any("the device loop stopped early; no device-loop figure" in r.get("note", "") for r in lines)
    assert not any("ratio" in r for r in lines)


def test_bench_lines_say_their_malloc_mode(capsys):
    assert run.main(["--quick", "--steps", "1", "--only", "dense_lif", "--host_malloc", "default"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines and all(r["host_malloc"] == "default" for r in lines)


@pytest.mark.slow
def test_host_malloc_bench_measures_each_mode_in_its_own_process(capsys):
    """``bench.host_malloc``: a child process per mode, each record saying what it measured, and a
    summary with each mode's fastest record and the ratio of their step times."""
    from bench import host_malloc as bench_host_malloc

    assert bench_host_malloc.main(["--quick", "--steps", "1", "--warmup", "1", "--repeats", "1", "--only", "dense_lif"]) == 0
    *records, summary = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    glibc = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"  # elsewhere nothing is applied
    assert [(r["mode"], r["host_malloc"]) for r in records] == [("default", "default"),
                                                               ("retain", "retain" if glibc else "default")]
    assert all(r["ms_per_step"] > 0 and r["page_faults_per_step"] >= 0 and r["all_finite"] for r in records)
    assert summary["summary"] == "dense_lif" and summary["retain_speedup"] == round(
        records[0]["ms_per_step"] / records[1]["ms_per_step"], 2)


def test_gpu_check_script_parses_and_wants_an_outdir():
    import subprocess
    from pathlib import Path

    script = Path(run.__file__).with_name("gpu_check.sh")
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    result = subprocess.run(["bash", str(script)], capture_output=True, text=True)
    assert result.returncode == 2 and "usage: bench/gpu_check.sh OUTDIR" in result.stderr


def test_cpu_ops_checks_each_pair_equal_and_prints_a_ratio(capsys):
    from bench import cpu_ops

    assert cpu_ops.main(["--batch", "1", "--T", "3", "--steps", "1"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r.get("variant") for r in lines] == ["broadcast_to", "encoders.repeat", None]
    assert lines[2]["ratio"] == "repeat_grad broadcast_to/encoders.repeat" and lines[2]["ms_ratio"] > 0


def test_conv_backward_checks_every_variant_equal_and_prints_each(capsys):
    from bench import conv_backward

    assert conv_backward.main(["--batch", "1", "--T", "2", "--steps", "1"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    names = [r["what"] for r in lines]
    assert names[:6] == ["forward", "grad_conv", "grad_conv_input_only", "grad_conv_kernel_only", "grad_im2col",
                         "kernel_grad_9_matmuls"]
    assert all(r["ms"] > 0 for r in lines)


@pytest.mark.slow
def test_compile_random_checks_each_draw_equal_and_prints_both_compile_times(capsys):
    from bench import compile_random

    assert compile_random.main(["--quick"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    draws = [r for r in lines if "draw" in r]
    assert sorted({r["draw"] for r in draws}) == ["bernoulli", "normal", "uniform"] and len(draws) == 6
    assert all(r["equal"] and r["jax_random_s"] > 0 and r["flat_random_s"] > 0 for r in draws)
    assert lines[-1]["jax"] == jax.__version__


@pytest.mark.slow
def test_compile_profile_plugin_records_each_tests_compile_time(tmp_path):
    from bench import compile_profile

    (tmp_path / "test_tiny.py").write_text(
        "import jax, jax.numpy as jnp\n"
        "def test_compiles():\n    assert float(jax.jit(lambda x: jnp.sin(x) * 3.0)(jnp.float32(0.5))) > 0\n"
        "def test_plain():\n    assert True\n")
    out = tmp_path / "profile.jsonl"
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "bench.compile_profile", "-p", "no:cacheprovider",
                           str(tmp_path / "test_tiny.py")], cwd=REPO, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "COMPILE_PROFILE": str(out), "JAX_ENABLE_COMPILATION_CACHE": "false"})
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    records = {r["test"].split("::")[1]: r for r in map(json.loads, out.read_text().splitlines())}
    assert records["test_compiles"]["backend_compile_duration"] > 0 and records["test_compiles"]["wall"] > 0
    assert "backend_compile_duration" not in records["test_plain"]
    assert compile_profile.summarize(str(out)).startswith("2 tests: wall ")


def test_dense_over_time_checks_both_forms_equal_and_prints_each(capsys):
    from bench import dense_over_time

    assert dense_over_time.main(["--T", "3", "--batch", "2", "--units", "4", "--steps", "1", "--repeats", "1"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r.get("mode") for r in lines[:2]] == ["3d", "merged"] and lines[2]["ratio"] == "3d / merged"
