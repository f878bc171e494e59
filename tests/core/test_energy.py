"""Tests for snnjax.energy against numbers worked out by hand."""

import math

import jax.numpy as jnp
import numpy as np
import pytest

from snnjax import energy


def test_mac_helpers():
    assert energy.conv_macs(32, 32, 3, 64, 3) == 1_769_472  # 32*32*64 outputs x 3*3*3 taps
    assert energy.conv_macs(16, 16, 64, 128, (3, 1)) == 6_291_456
    assert energy.conv_macs(1, 1, 1, 1, 1) == 1
    assert energy.dense_macs(784, 10) == 7840


def test_constants_are_horowitz_45nm():
    assert energy.E_FL_MAC == 4.6e-12
    assert energy.E_FL_ADD == 0.9e-12
    assert energy.E_INT_ADD == 0.1e-12
    assert energy.E_INT_MAC == 3.2e-12


def test_two_layer_network_by_hand():
    # conv1 sees analog input (direct coding): 1000 MACs x T=4 steps x 4.6 pJ = 18.4 nJ.
    # fc sees spikes at rate 0.1: 2000 x 0.1 x 4 = 800 ACs x 0.9 pJ = 0.72 nJ.
    # ANN: (1000 + 2000) MACs x 4.6 pJ = 13.8 nJ.
    layers = [energy.LayerCost("conv1", 1000, None), energy.LayerCost("fc", 2000, 0.1)]
    got = energy.estimate_energy(layers, time_steps=4)
    assert got["e_snn"] == pytest.approx(1.912e-8, rel=1e-12)
    assert got["e_ann"] == pytest.approx(1.38e-8, rel=1e-12)
    assert got["ratio"] == pytest.approx(0.7217573221757322, rel=1e-12)
    assert got["sops"] == pytest.approx(800.0)
    assert got["snn_macs"] == pytest.approx(4000.0)
    conv1, fc = got["layers"]
    assert conv1["name"] == "conv1" and conv1["e_snn"] == pytest.approx(1.84e-8) and conv1["sops"] == 0.0
    assert fc["e_snn"] == pytest.approx(7.2e-10) and fc["e_ann"] == pytest.approx(9.2e-9)
    assert (got["time_steps"], got["e_mac"], got["e_ac"]) == (4, 4.6e-12, 0.9e-12)


def test_default_ac_is_float_add():
    got = energy.estimate_energy([energy.LayerCost("fc", 1000, 0.1)], time_steps=4)
    assert got["e_snn"] == pytest.approx(3.6e-10)  # 1000 x 0.1 x 4 x 0.9 pJ
    assert got["ratio"] == pytest.approx(4.6e-9 / 3.6e-10)


@pytest.mark.parametrize(
    "rate, table_ratio",
    # Table 6 of the BPSA/BPTA paper (ours / baseline, per dataset): firing rate -> E_ANN/E_SNN.
    [(0.082, 35.1), (0.183, 15.7), (0.097, 29.6), (0.176, 16.3), (0.108, 26.6), (0.214, 13.4),
     (0.083, 34.6), (0.165, 17.4), (0.177, 16.2)],
)
def test_reproduces_paper_table6_with_int_ac_and_t16(rate, table_ratio):
    layers = [energy.LayerCost("net", 1e6, rate)]
    got = energy.estimate_energy(layers, time_steps=16, e_ac=energy.E_INT_ADD)
    assert round(got["ratio"], 1) == table_ratio


def test_silent_network_has_infinite_ratio():
    got = energy.estimate_energy([energy.LayerCost("fc", 100, 0.0)], time_steps=8)
    assert got["e_snn"] == 0.0 and math.isinf(got["ratio"])


def test_accepts_rates_as_arrays():
    got = energy.estimate_energy([energy.LayerCost("fc", 10, jnp.asarray(0.5))], time_steps=2)
    assert isinstance(got["e_snn"], float)
    assert got["sops"] == pytest.approx(10.0)
    got = energy.estimate_energy([energy.LayerCost("fc", np.int64(10), np.float32(0.25))], time_steps=2)
    assert got["sops"] == pytest.approx(5.0)


@pytest.mark.parametrize(
    "layers, steps",
    [([energy.LayerCost("fc", 10, 1.5)], 4), ([energy.LayerCost("fc", 10, -0.1)], 4),
     ([energy.LayerCost("fc", -1, 0.1)], 4), ([energy.LayerCost("fc", 10, 0.1)], 0)],
)
def test_bad_inputs_raise(layers, steps):
    with pytest.raises(ValueError):
        energy.estimate_energy(layers, time_steps=steps)
