"""Where the seed net's train step goes on a CPU: the 3×3 conv's backward, two ways.

    python -m bench.conv_backward                # seed net conv1 at T = 8, batch 16
    python -m bench.conv_backward --batch 4 --steps 3

Times, for the seed net's second conv (``[T·B, 14, 14, 128] -> 128`` channels, 3×3, SAME, as
``snnjax.layers.synapse.SeqConv`` runs it after merging time into the batch), one JSON line each:

- ``forward``: ``lax.conv_general_dilated`` alone;
- ``grad_conv``: forward + backward as XLA differentiates the conv (a transposed conv for the
  input gradient, a conv over the batch for the kernel gradient);
- ``grad_conv_input_only`` / ``grad_conv_kernel_only``: the two halves of that backward apart;
- ``grad_im2col``: the same maths as 9 shifted views of the padded input + one matmul, whose
  backward is two matmuls and the views' transpose (pads and adds);
- ``kernel_grad_9_matmuls``: the kernel gradient alone as 9 matmuls, one per kernel offset, of the
  shifted input ``[T·B·H·W, C]ᵀ`` with the output gradient ``[T·B·H·W, O]`` (no patch matrix);

and checks that both give the same gradients; where torch is importable, also ``torch_forward`` and
``torch_grad`` (``torch.nn.functional.conv2d`` and its backward, NCHW, same sizes) in the same process. A finding for the conv side of the issue-12 profile,
not part of the library.
"""

from __future__ import annotations

import json
import sys

import jax
import jax.numpy as jnp
import numpy as np

from bench.timing import device_record, sizes_parser, time_steps

DN = ("NHWC", "HWIO", "NHWC")


def conv(x, k):
    return jax.lax.conv_general_dilated(x, k, (1, 1), "SAME", dimension_numbers=DN)


def conv_im2col(x, k):
    """The same conv as 9 shifted views of the padded input, concatenated, and one matmul."""
    kh, kw, c_in, c_out = k.shape
    h, w = x.shape[1:3]
    xp = jnp.pad(x, ((0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)))
    patches = jnp.concatenate([xp[:, i:i + h, j:j + w, :] for i in range(kh) for j in range(kw)], axis=-1)
    return patches @ k.reshape(kh * kw * c_in, c_out)  # HWIO flattens in the same (i, j, c) order


def kernel_grad_9_matmuls(x, g, kh=3, kw=3):
    """dL/dk of :func:`conv` (stride 1, SAME) for output gradient ``g``: one matmul per kernel offset."""
    h, w = x.shape[1:3]
    xp = jnp.pad(x, ((0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)))
    gf = g.reshape(-1, g.shape[-1])
    out = [xp[:, i:i + h, j:j + w, :].reshape(-1, x.shape[-1]).T @ gf for i in range(kh) for j in range(kw)]
    return jnp.stack(out).reshape(kh, kw, x.shape[-1], g.shape[-1])


def main(argv: list[str] | None = None) -> int:
    args = sizes_parser(__doc__.splitlines()[0]).parse_args(argv)
    rng = np.random.default_rng(0)
    n = args.T * args.batch
    x = jnp.asarray(rng.uniform(0, 1, (n, 14, 14, 128)) < 0.2, jnp.float32)  # spikes
    k = jnp.asarray(rng.normal(0, 0.03, (3, 3, 128, 128)), jnp.float32)
    w = jnp.asarray(rng.normal(0, 1, (n, 14, 14, 128)), jnp.float32)

    def grad_of(f, argnums=(0, 1)):
        return jax.jit(jax.grad(lambda x, k: jnp.sum(f(x, k) * w), argnums))

    fns = {"forward": jax.jit(conv), "grad_conv": grad_of(conv), "grad_conv_input_only": grad_of(conv, 0),
           "grad_conv_kernel_only": grad_of(conv, 1), "grad_im2col": grad_of(conv_im2col)}
    g_conv, g_im2col = fns["grad_conv"](x, k), fns["grad_im2col"](x, k)
    for a, b in zip(g_conv, g_im2col):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-4)
    fns["kernel_grad_9_matmuls"] = jax.jit(lambda x, k: kernel_grad_9_matmuls(x, w))
    np.testing.assert_allclose(np.asarray(fns["kernel_grad_9_matmuls"](x, k)), np.asarray(g_conv[1]),
                               rtol=1e-4, atol=1e-3)
    for name, f in fns.items():
        seconds, _ = time_steps(lambda c, f=f: (f(x + 0 * jnp.sum(jax.tree.leaves(c)[0][:1]), k)), f(x, k), 2, args.steps)
        print(json.dumps({"what": name, "shape": [n, 14, 14, 128], "ms": round(1000 * seconds, 2), **device_record()}),
              flush=True)
    _torch_lines(n, args.steps)
    return 0


def _torch_lines(n: int, steps: int) -> None:
    try:
        import torch
    except ImportError:
        return
    import time

    x = (torch.rand(n, 128, 14, 14) < 0.2).float().requires_grad_()
    k = (0.03 * torch.randn(128, 128, 3, 3)).requires_grad_()
    w = torch.randn(n, 128, 14, 14)

    def forward():
        with torch.no_grad():
            torch.nn.functional.conv2d(x, k, padding=1)

    def grad():
        x.grad = k.grad = None
        (torch.nn.functional.conv2d(x, k, padding=1) * w).sum().backward()

    for name, f in (("torch_forward", forward), ("torch_grad", grad)):
        for _ in range(2):
            f()
        start = time.perf_counter()
        for _ in range(steps):
            f()
        ms = 1000 * (time.perf_counter() - start) / steps
        print(json.dumps({"what": name, "shape": [n, 14, 14, 128], "ms": round(ms, 2), "torch": torch.__version__,
                          "torch_threads": torch.get_num_threads()}), flush=True)


if __name__ == "__main__":
    sys.exit(main())
