"""The benchmark runs and prints well-formed JSON lines (speed itself is never asserted in tests)."""

import json

import pytest

from bench import run
from snnjax.layers import NeuronConfig


def test_quick_bench_prints_one_record_per_mode(capsys):
    assert run.main(["--quick", "--steps", "1", "--only", "seq_plif"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["workload"], r["mode"]) for r in lines] == [("seq_plif", "train"), ("seq_plif", "eval")]
    for r in lines:
        assert r["framework"] == "snnjax" and r["T"] == 49 and r["batch"] == 4
        assert r["samples_per_s"] > 0 and r["ms_per_step"] > 0
        assert {"device", "jax", "peak_mem_MiB"} <= set(r)


def test_peer_mode_without_spikingjelly_says_so(capsys):
    if run.peer_spikingjelly.available():
        pytest.skip("SpikingJelly with CUDA is available here: peer mode runs for real")
    assert run.main(["--quick", "--steps", "1", "--only", "nothing", "--peer"]) == 0
    out = capsys.readouterr().out
    assert "spikingjelly" in out  # a note, since torch+CUDA+spikingjelly are not here


def test_pallas_impl_is_limited_to_lif_neurons():
    NeuronConfig(kind="llc_lif", impl="pallas")
    with pytest.raises(ValueError, match="impl='pallas' supports lif and llc_lif"):
        NeuronConfig(kind="ce_lif", impl="pallas")
