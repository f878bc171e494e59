"""Plain NumPy loops of every neuron, written from the papers' equations (NOTES.md), for the tests.

Deliberately independent of snnjax: explicit Python loops over time, float64.
"""

import numpy as np


def lif(x, decay, v_th, reset="hard", decay_input=False):
    """u[t] = k·v[t-1] + x[t] (or k·v + (1-k)·x); s = u >= v_th; v = u(1-s) or u - s·v_th."""
    v = np.zeros(x.shape[1:])
    spikes = []
    for t in range(x.shape[0]):
        u = decay * v + ((1 - decay) * x[t] if decay_input else x[t])
        s = (u >= v_th).astype(np.float64)
        v = u * (1 - s) if reset == "hard" else u - s * v_th
        spikes.append(s)
    return np.stack(spikes), v


def alif(x, decay, rho, beta, v_th, reset="hard"):
    """θ[t] = v_th + β·η[t]; η[t] = ρ·η[t-1] + (1-ρ)·s[t-1]."""
    v = np.zeros(x.shape[1:])
    eta = np.zeros(x.shape[1:])
    spikes = []
    for t in range(x.shape[0]):
        u = decay * v + x[t]
        theta = v_th + beta * eta
        s = (u >= theta).astype(np.float64)
        v = u * (1 - s) if reset == "hard" else u - s * theta
        eta = rho * eta + (1 - rho) * s
        spikes.append(s)
    return np.stack(spikes), v, eta


def ce_lif(x, te, decay, rho, theta0, reset="hard", threshold_drive="u_prev"):
    """u[t] = α·u[t-1]·(1-s[t-1]) + x[t]; θ[t] = ρθ[t-1] + (1-ρ)θ0 + u[t-1]·TE[t]; θ[0] = θ0."""
    u_prev = np.zeros(x.shape[1:])
    s_prev = np.zeros(x.shape[1:])
    theta_prev = np.full(x.shape[1:], theta0)
    spikes = []
    for t in range(x.shape[0]):
        carried = u_prev * (1 - s_prev) if reset == "hard" else u_prev - s_prev * theta_prev
        u = decay * carried + x[t]
        drive = (u if threshold_drive == "u_now" else u_prev) * te[t]
        if threshold_drive == "u_prev_scaled":
            drive = (1 - rho) * drive
        theta = rho * theta_prev + (1 - rho) * theta0 + drive
        s = (u >= theta).astype(np.float64)
        spikes.append(s)
        u_prev, s_prev, theta_prev = u, s, theta
    return np.stack(spikes), u_prev, theta_prev
