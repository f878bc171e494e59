"""The environment for a subprocess that runs JAX on ``num_devices`` CPU devices (not conftest's 4)."""

import os


def cpu_env(num_devices: int, **extra: str) -> dict[str, str]:
    """``os.environ`` with JAX on the CPU, split into ``num_devices`` devices, and ``extra`` set."""
    return dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={num_devices}", JAX_PLATFORMS="cpu",
                **extra)
