r"""Energy estimate of an SNN against the ANN of the same shape.

This is the estimate of the BPSA/BPTA paper (Energy Efficiency Study, Eq. 11), which follows
Chakraborty, She & Mukhopadhyay (2021):

.. math::
    E_{ANN} = FLOPS_{ANN} \times E_{FL\_MAC}, \qquad
    E_{SNN} = FLOPS_{SNN} \times E_{INT\_AC} \times T .

An ANN layer does one multiply-accumulate (MAC) per synapse per example. An SNN layer fed with
binary spikes does one accumulate (AC) per synapse per *input spike*, so per time step its operation
count is the ANN's scaled by the firing rate :math:`r_l` of its input:
:math:`FLOPS_{SNN,l} = MACs_l \cdot r_l`. A layer fed with analog values (the first layer under
direct coding) still multiplies, so it is charged :math:`MACs_l \cdot E_{MAC}` per step:

.. math::
    E_{SNN} = T \Big( \sum_{l\ \text{spiking in}} MACs_l\, r_l\, E_{AC}
              + \sum_{l\ \text{analog in}} MACs_l\, E_{MAC} \Big), \qquad
    E_{ANN} = \sum_l MACs_l\, E_{MAC}.

Constants are the 45 nm, 0.9 V figures of Horowitz (ISSCC 2014), in joules per operation:

=================  =========  ====================================================
operation          energy     name in the paper
=================  =========  ====================================================
32-bit float MAC   4.6 pJ     :math:`E_{FL\_MAC}` (default ``e_mac``)
32-bit float add   0.9 pJ     (default ``e_ac``, the AC cost common in SNN papers)
32-bit int add     0.1 pJ     :math:`E_{INT\_AC}`: pass ``e_ac=E_INT_ADD`` for the paper
32-bit int MAC     3.2 pJ
=================  =========  ====================================================

The paper names :math:`E_{FL\_MAC}` and :math:`E_{INT\_AC}`; its Table 6 ratios match
:math:`4.6 / (0.1\, r\, T)` with :math:`T = 16` (e.g. MNIST, :math:`r = 0.082`: 35.1x), i.e. the
integer add and one network-wide rate. Bias additions and neuron updates are not counted, as in the
paper.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

# Horowitz 2014, 45 nm, joules per operation.
E_FL_MAC = 4.6e-12
E_FL_ADD = 0.9e-12
E_INT_ADD = 0.1e-12
E_INT_MAC = 3.2e-12


class LayerCost(NamedTuple):
    """One synaptic layer.

    Attributes:
      name: a label for the report.
      macs: multiply-accumulates per example per time step of the ANN of the same shape
        (:func:`conv_macs`, :func:`dense_macs`).
      input_rate: mean firing rate of the layer's input spikes, spikes per neuron per time step in
        ``[0, 1]``; ``None`` when the input is analog (e.g. the first layer under direct coding),
        which is then counted as MACs.
    """

    name: str
    macs: float
    input_rate: float | None = None


def conv_macs(h_out: int, w_out: int, c_in: int, c_out: int, k: int | tuple[int, int]) -> int:
    r"""MACs of a convolution for one example: :math:`H_{out} W_{out} C_{out} \cdot C_{in} k_h k_w`."""
    kh, kw = (k, k) if isinstance(k, int) else k
    return h_out * w_out * c_out * c_in * kh * kw


def dense_macs(n_in: int, n_out: int) -> int:
    r"""MACs of a dense layer for one example: :math:`n_{in} n_{out}`."""
    return n_in * n_out


def _layer_energy(layer: LayerCost, time_steps: int, e_mac: float, e_ac: float) -> dict:
    # float() also takes rates sown as 0-d JAX/NumPy arrays.
    layer = layer._replace(macs=float(layer.macs),
                           input_rate=None if layer.input_rate is None else float(layer.input_rate))
    if layer.macs < 0:
        raise ValueError(f"{layer.name}: macs must be >= 0, got {layer.macs}")
    ann = layer.macs * e_mac
    if layer.input_rate is None:
        sops, snn_macs = 0.0, layer.macs * time_steps
        snn = snn_macs * e_mac
    else:
        if not 0.0 <= layer.input_rate <= 1.0:
            raise ValueError(f"{layer.name}: input_rate must be in [0, 1], got {layer.input_rate}")
        sops, snn_macs = layer.macs * layer.input_rate * time_steps, 0.0
        snn = sops * e_ac
    return dict(name=layer.name, macs=layer.macs, input_rate=layer.input_rate, sops=sops,
                snn_macs=snn_macs, e_snn=snn, e_ann=ann)


def estimate_energy(
    layers: Sequence[LayerCost], time_steps: int, e_mac: float = E_FL_MAC, e_ac: float = E_FL_ADD
) -> dict:
    r"""Estimates the inference energy per example of an SNN and of the ANN of the same shape.

    Args:
      layers: the synaptic layers, in any order.
      time_steps: :math:`T`, simulation steps per example.
      e_mac: joules per MAC (:math:`E_{FL\_MAC}` = 4.6 pJ).
      e_ac: joules per accumulate; default the float add 0.9 pJ, ``E_INT_ADD`` (0.1 pJ) reproduces
        the paper's :math:`E_{INT\_AC}`.

    Returns:
      A dict with

      - ``layers``: per layer ``name, macs, input_rate, sops, snn_macs, e_snn, e_ann``,
      - ``e_snn``, ``e_ann``: totals in joules per example,
      - ``ratio``: ``e_ann / e_snn`` (``inf`` when the SNN costs nothing),
      - ``sops``: synaptic (AC) operations per example, :math:`\sum MACs_l\, r_l\, T` over spiking
        inputs; ``snn_macs``: MACs per example of the analog-input layers, :math:`\sum MACs_l\, T`,
      - ``time_steps``, ``e_mac``, ``e_ac``: the constants used.
    """
    if time_steps < 1:
        raise ValueError(f"time_steps must be >= 1, got {time_steps}")
    per_layer = [_layer_energy(layer, time_steps, e_mac, e_ac) for layer in layers]
    e_snn = sum(l["e_snn"] for l in per_layer)
    e_ann = sum(l["e_ann"] for l in per_layer)
    return dict(
        layers=per_layer,
        e_snn=e_snn,
        e_ann=e_ann,
        ratio=e_ann / e_snn if e_snn > 0 else float("inf"),
        sops=sum(l["sops"] for l in per_layer),
        snn_macs=sum(l["snn_macs"] for l in per_layer),
        time_steps=time_steps,
        e_mac=e_mac,
        e_ac=e_ac,
    )
