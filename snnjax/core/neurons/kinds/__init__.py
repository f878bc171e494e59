"""The built-in neuron kinds, one module per family, each registered where it is defined.

Importing :mod:`snnjax.core.neurons` imports this package, so :data:`~snnjax.core.neurons.kind.NEURON_KINDS`
always holds them. A new built-in kind is a module here (a :class:`~snnjax.core.neurons.kind.NeuronKind`
subclass under ``@register_neuron(name)``) and its import line below.
"""

from snnjax.core.neurons.kinds import alif, ce_lif, lif, parallel, snntorch  # noqa: F401  (they register)
