"""gelu, silu, elu, selu and softplus equal PyTorch's, forward and derivative, in float64."""

import numpy as np
import pytest

from dnn.activations import get_activation, takes_pre_activation

torch = pytest.importorskip("torch")
F = torch.nn.functional

TORCH_FUNCTIONS = {"gelu": lambda t: F.gelu(t, approximate="none"), "silu": F.silu, "elu": F.elu, "selu": F.selu,
                   "softplus": F.softplus}


def inputs(rng):
    """Typical pre-activations, large ones on both sides, and the far tails."""
    return np.concatenate([rng.normal(0, 3, 2000), rng.uniform(-60, 60, 500),
                           [-745.0, -700.0, -100.0, -30.0, -10.0, -5.0, -1e-12, 0.0, 1e-12, 5.0, 10.0, 30.0, 100.0,
                            700.0, 1e4]])


@pytest.mark.parametrize("name", sorted(TORCH_FUNCTIONS))
def test_forward_and_derivative_equal_pytorch(name, rng):
    z, grad = inputs(rng), rng.normal(size=2515)
    tensor = torch.tensor(z, requires_grad=True)
    expected = TORCH_FUNCTIONS[name](tensor)
    expected.backward(torch.tensor(grad))
    forward, backward = get_activation(name)
    a = forward(z.copy())
    derivative = backward(z.copy() if takes_pre_activation(name) else a.copy(), grad.copy())
    # atol 2e-15: PyTorch's gelu is z (1 + erf(z / sqrt 2)) / 2, whose 1 + erf cancels to 0 below z = -8 where
    # dnn keeps Phi(z) (see test_gelu_equals_mpmath); elu's and selu's derivatives from the output, a + 1 and
    # a + scale alpha, resolve e^z only to float64's spacing near 1 where PyTorch takes exp(z).
    np.testing.assert_allclose(a, expected.detach().numpy(), rtol=1e-6, atol=2e-15)
    np.testing.assert_allclose(derivative, tensor.grad.numpy(), rtol=1e-6, atol=2e-15)
    # in the bulk, where PyTorch's 1 + erf has not yet cancelled, the same to rounding
    bulk = np.abs(z) < 2
    np.testing.assert_allclose(a[bulk], expected.detach().numpy()[bulk], rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(derivative[bulk], tensor.grad.numpy()[bulk], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", sorted(TORCH_FUNCTIONS))
def test_float32_equals_pytorch(name, rng):
    z = inputs(rng).astype(np.float32)
    tensor = torch.tensor(z, requires_grad=True)
    expected = TORCH_FUNCTIONS[name](tensor)
    expected.sum().backward()
    forward, backward = get_activation(name)
    a = forward(z.copy())
    derivative = backward(z.copy() if takes_pre_activation(name) else a.copy(), np.ones_like(z))
    assert a.dtype == derivative.dtype == np.float32
    # atol 1e-6, eight times float32's spacing near 1: PyTorch's float32 1 + erf(z / sqrt 2) cancels for z < -3
    # (its gelu is off by up to |z| 1e-7 there), and where gelu's derivative crosses 0 (z near -0.75) or selu's
    # is taken from an output near -scale alpha, a few roundings are all that is left of the value
    np.testing.assert_allclose(a, expected.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(derivative, tensor.grad.numpy(), rtol=1e-5, atol=1e-6)
