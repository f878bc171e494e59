"""The training tool: config, config checks, optimiser, train steps, the host and device loops,
checkpointing, the run directory, metrics and summaries; ``train`` is its command (``snnjax-train``,
``python -m snnjax.train``). Imports from ``core``, ``nn`` and ``io``.
"""
