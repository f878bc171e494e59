"""The pure core: neuron dynamics, surrogate spike functions, Pallas kernels, encoders, voting, losses,
energy, gradient-check helpers and the error classes. Needs JAX (and optax for the losses, chex for
``testing``); imports nothing from the other layers and never Flax.
"""
