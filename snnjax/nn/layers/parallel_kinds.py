"""The neuron kind ``lif_no_reset`` (a LIF without reset, run by an associative scan).

It is defined and registered in :mod:`snnjax.core.neurons.kinds.parallel`, beside the other kinds;
this module keeps its 0.1 name.
"""

from __future__ import annotations

from snnjax.core.neurons.kind import NEURON_KINDS

LIF_NO_RESET = NEURON_KINDS["lif_no_reset"]
