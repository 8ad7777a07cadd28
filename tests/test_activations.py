import warnings

import numpy as np
import pytest
from conftest import central_difference

from dnn.activations import ACTIVATIONS, LEAKY_RELU_SLOPE, get_activation

NAMES = sorted(ACTIVATIONS)


def reference(name, z):
    """Textbook formulas, written independently of dnn.activations."""
    if name == "sigmoid":
        return 1 / (1 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.where(z > 0, z, 0.0)
    if name == "leaky_relu":
        return np.where(z > 0, z, LEAKY_RELU_SLOPE * z)
    if name == "identity":
        return z
    if name == "step":
        return np.where(z > 0, 1.0, 0.0)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("name", NAMES)
def test_forward_matches_textbook_formula(name, rng):
    z = rng.normal(0, 2, (6, 4))
    np.testing.assert_allclose(get_activation(name)[0](z.copy()), reference(name, z), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", NAMES)
def test_backward_matches_central_differences(name, rng):
    # Away from the kink of relu-type functions, where the derivative is defined.
    z = rng.normal(0, 1.5, (5, 4))
    z[np.abs(z) < 0.05] = 0.3
    upstream = rng.normal(size=z.shape)
    forward, backward = get_activation(name)
    numeric = central_difference(lambda v: float(np.sum(upstream * forward(v.copy()))), z)
    analytic = backward(forward(z.copy()), upstream.copy())
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", NAMES)
def test_in_place_equals_out_of_place(name, rng):
    forward, backward = get_activation(name)
    z = rng.normal(size=(3, 5)).astype(np.float32)
    expected = forward(z.copy())
    buffer = z.copy()
    assert forward(buffer, out=buffer) is buffer
    np.testing.assert_array_equal(buffer, expected)
    grad = rng.normal(size=z.shape).astype(np.float32)
    expected_grad = backward(expected, grad.copy())
    assert backward(expected, grad, out=grad) is grad
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-6)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept(name, dtype, rng):
    forward, backward = get_activation(name)
    a = forward(rng.normal(size=(4, 3)).astype(dtype))
    assert a.dtype == dtype
    assert backward(a, np.ones_like(a)).dtype == dtype


@pytest.mark.parametrize("name", NAMES)
def test_extreme_inputs_stay_finite_without_warnings(name):
    z = np.array([[-1e4, 0.0, 1e4], [1e4, 1e4, -1e4]], dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = get_activation(name)[0](z.copy())
    assert np.isfinite(a).all()
    if name == "sigmoid":
        np.testing.assert_array_equal(a, [[0.0, 0.5, 1.0], [1.0, 1.0, 0.0]])
    if name == "softmax":
        np.testing.assert_allclose(a, [[0.0, 0.0, 1.0], [0.5, 0.5, 0.0]])


def test_sigmoid_hand_values():
    a = get_activation("sigmoid")[0](np.array([[0.0, np.log(3.0), -np.log(3.0)]]))
    np.testing.assert_allclose(a, [[0.5, 0.75, 0.25]], rtol=1e-15)


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match=r"valid names: .*relu.*softmax"):
        get_activation("relux")


@pytest.mark.parametrize("name", NAMES)
def test_nan_propagates(name):
    # A diverging network is detected by its loss turning NaN: no activation may hide a NaN.
    z = np.array([[np.nan, 1.0, -1.0], [0.5, -0.5, 2.0]], dtype=np.float32)
    a = get_activation(name)[0](z.copy())
    assert np.isnan(a[0]).any()
    assert np.isfinite(a[1]).all()
