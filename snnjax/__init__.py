"""snnjax: spiking neural networks in JAX and Flax."""

from snnjax import neurons, surrogate

__version__ = "0.1.0"

__all__ = ["neurons", "surrogate", "__version__"]
