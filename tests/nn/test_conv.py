"""``snnjax.layers.conv.conv2d``: the convolution with a canonical-layout backward pass."""

import itertools
import re

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax
from jax import test_util as jtu

from snnjax import layers, models
from snnjax.layers import conv as conv_lib

DN = ("NHWC", "HWIO", "NHWC")


def _numpy_conv(x, w, s, pads):
    """The forward written out: y[b,p,q,o] = sum x[b, s·p + i - l, s·q + j - l', c] w[i,j,c,o]."""
    (lo_h, hi_h), (lo_w, hi_w) = pads
    xp = np.pad(x, ((0, 0), (lo_h, hi_h), (lo_w, hi_w), (0, 0)))
    kh, kw = w.shape[:2]
    p, q = (xp.shape[1] - kh) // s + 1, (xp.shape[2] - kw) // s + 1
    y = np.zeros((x.shape[0], p, q, w.shape[3]))
    for a, b in itertools.product(range(p), range(q)):
        patch = xp[:, a * s:a * s + kh, b * s:b * s + kw, :]
        y[:, a, b] = np.einsum("nijc,ijco->no", patch, w)
    return y


CASES = [((7, 7), 3, 1, "SAME"), ((8, 5), 3, 2, "SAME"), ((7, 6), 2, 2, "SAME"), ((9, 9), 5, 3, "SAME"),
         ((6, 6), 3, 1, "VALID"), ((7, 8), 3, 2, "VALID"), ((6, 7), 3, 2, ((2, 0), (1, 3))), ((5, 5), 1, 1, "SAME")]


@pytest.mark.slow
@pytest.mark.parametrize("size,k,s,padding", CASES)
def test_conv2d_forward_equals_numpy_and_gradients_equal_autodiff_in_float64(size, k, s, padding):
    with jax.enable_x64(True):
        rng = np.random.default_rng(k * 10 + s)
        x, w = rng.normal(size=(2, *size, 3)), rng.normal(size=(k, k, 3, 4))
        y = conv_lib.conv2d(jnp.asarray(x), jnp.asarray(w), (s, s), padding)
        pads = conv_lib._padding(x.shape, w.shape, (s, s), padding)
        np.testing.assert_allclose(np.asarray(y), _numpy_conv(x, w, s, pads), rtol=1e-12, atol=1e-12)

        def reference(x, w):
            return lax.conv_general_dilated(x, w, (s, s), padding, dimension_numbers=DN)

        ct = jnp.asarray(rng.normal(size=y.shape))
        ours = jax.vjp(lambda x, w: conv_lib.conv2d(x, w, (s, s), padding), jnp.asarray(x), jnp.asarray(w))[1](ct)
        theirs = jax.vjp(reference, jnp.asarray(x), jnp.asarray(w))[1](ct)
        chex.assert_trees_all_close(ours, theirs, rtol=1e-12, atol=1e-12)


def test_conv2d_gradients_match_finite_differences():
    with jax.enable_x64(True):
        rng = np.random.default_rng(0)
        x, w = jnp.asarray(rng.normal(size=(1, 5, 5, 2))), jnp.asarray(rng.normal(size=(3, 3, 2, 2)))
        jtu.check_grads(lambda x, w: jnp.tanh(conv_lib.conv2d(x, w, (2, 2), "SAME")), (x, w),
                                  order=1, modes=("rev",), eps=1e-6)


@pytest.mark.slow
def test_same_padding_is_xlas():
    for size, k, s in itertools.product(range(1, 12), range(1, 6), range(1, 4)):
        lo, hi = conv_lib.same_padding(size, k, s)
        x = jnp.ones((1, size, 1, 1))
        ours = lax.conv_general_dilated(x, jnp.ones((k, 1, 1, 1)), (s, 1), ((lo, hi), (0, 0)), dimension_numbers=DN)
        theirs = lax.conv_general_dilated(x, jnp.ones((k, 1, 1, 1)), (s, 1), "SAME", dimension_numbers=DN)
        np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))


def test_conv2d_under_jit_vmap_and_bfloat16():
    rng = np.random.default_rng(1)
    x = jnp.asarray(rng.normal(size=(3, 2, 6, 6, 2)), jnp.float32)
    w = jnp.asarray(rng.normal(size=(3, 3, 2, 4)), jnp.float32)
    f = jax.jit(jax.vmap(lambda x: conv_lib.conv2d(x, w)))
    chex.assert_shape(f(x), (3, 2, 6, 6, 4))
    gx, gw = jax.grad(lambda x, w: jnp.sum(conv_lib.conv2d(x, w) ** 2), (0, 1))(x[0].astype(jnp.bfloat16),
                                                                             w.astype(jnp.bfloat16))
    assert gx.dtype == gw.dtype == jnp.bfloat16


def _dim_labels(compiled_text: str) -> list[str]:
    return re.findall(r"convolution\(.*?dim_labels=([0-9a-z_>-]+)", compiled_text)


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="the layout fallback is XLA:CPU's")
def test_inside_a_while_loop_every_gradient_convolution_stays_canonical():
    """The reason conv2d exists: in a loop body XLA:CPU keeps autodiff's permuted dimension labels
    (a naive, ~25x slower convolution); conv2d's backward has only b01f_01io->b01f convolutions."""
    x, w = jnp.ones((4, 8, 8, 8)), jnp.ones((3, 3, 8, 8)) * 0.01

    def labels(conv):
        def step(carry):
            x, w = carry
            gx, gw = jax.grad(lambda x, w: jnp.sum(jnp.tanh(conv(x, w))), (0, 1))(x, w)
            return x - gx, w - gw

        loop = jax.jit(lambda c, n: lax.fori_loop(0, n, lambda i, c: step(c), c))
        return set(_dim_labels(loop.lower((x, w), 2).compile().as_text()))

    assert labels(conv_lib.conv2d) == {"b01f_01io->b01f"}
    # The premise: the plain autodiff version is not canonical there (if XLA ever fixes this, "auto"
    # could go back to "xla" on CPU).
    autodiff = labels(lambda x, w: lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=DN))
    assert autodiff != {"b01f_01io->b01f"}


@pytest.mark.slow
def test_seq_conv_impls_agree_and_auto_resolves_by_platform(key):
    x = jax.random.bernoulli(key, 0.3, (3, 2, 6, 6, 2)).astype(jnp.float32)
    outs = {}
    for impl in ("xla", "canonical"):
        module = layers.SeqConv(4, 3, impl=impl)
        params = module.init(jax.random.PRNGKey(0), x)["params"]
        outs[impl] = jax.value_and_grad(lambda p: jnp.sum(jnp.sin(module.apply({"params": p}, x))))(params)
    chex.assert_trees_all_close(outs["canonical"], outs["xla"], rtol=1e-6, atol=1e-6)
    expected = "canonical" if jax.default_backend() == "cpu" else "xla"
    assert conv_lib.resolve_impl("auto") == expected
    with pytest.raises(ValueError, match="conv_impl must be one of"):
        conv_lib.resolve_impl("cudnn")


def test_conv_impl_is_a_model_switch_with_a_clear_error():
    cfg = models.default_model_config()
    cfg.spec = "4c3-mp2-10"
    cfg.time_steps = 2
    cfg.conv_impl = "im2col"
    with pytest.raises(ValueError, match="model.conv_impl must be one of"):
        models.build_model(cfg, 10)
