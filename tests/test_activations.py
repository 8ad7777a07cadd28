import math
import warnings

import numpy as np
import pytest
from conftest import central_difference

from dnn import activations as act
from dnn.activations import ACTIVATIONS, LEAKY_RELU_SLOPE, PRE_ACTIVATION, get_activation

NAMES = sorted(ACTIVATIONS)
#: The constants of Klambauer et al. (2017), as PyTorch writes them.
SELU_ALPHA, SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
NEW = ["gelu", "silu", "elu", "selu", "softplus"]


def backward_input(name, z, a):
    """What the backward step of ``name`` takes: the pre-activation z for gelu and silu, else the output a."""
    return z if name in PRE_ACTIVATION else a


def reference(name, z):
    """Textbook formulas, written independently of dnn.activations (math.erf for gelu)."""
    if name == "gelu":
        return z * 0.5 * (1 + np.vectorize(math.erf)(z / math.sqrt(2)))
    if name == "silu":
        return z / (1 + np.exp(-z))
    if name == "elu":
        return np.where(z > 0, z, np.exp(np.minimum(z, 0)) - 1)
    if name == "selu":
        return SELU_SCALE * np.where(z > 0, z, SELU_ALPHA * (np.exp(np.minimum(z, 0)) - 1))
    if name == "softplus":
        return np.logaddexp(0, z)
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
    analytic = backward(backward_input(name, z, forward(z.copy())), upstream.copy())
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
    given = backward_input(name, z, expected)
    expected_grad = backward(given, grad.copy())
    assert backward(given, grad, out=grad) is grad
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-6)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept(name, dtype, rng):
    forward, backward = get_activation(name)
    z = rng.normal(size=(4, 3)).astype(dtype)
    a = forward(z.copy())
    assert a.dtype == dtype
    assert backward(backward_input(name, z, a), np.ones_like(a)).dtype == dtype


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
    if name in ("gelu", "silu", "softplus"):
        np.testing.assert_array_equal(a[:, [0, 2]], [[0.0, 1e4], [1e4, 0.0]])
    if name == "elu":
        np.testing.assert_array_equal(a[:, [0, 2]], [[-1.0, 1e4], [1e4, -1.0]])


@pytest.mark.parametrize("name", NAMES)
def test_backward_of_extreme_inputs_stays_finite_without_warnings(name):
    z = np.array([[-1e4, 0.0, 1e4], [1e30, -1e30, 1.0]], dtype=np.float32)
    forward, backward = get_activation(name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = forward(z.copy())
        grad = backward(backward_input(name, z, a), np.ones_like(a))
    assert np.isfinite(grad).all()


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


@pytest.mark.parametrize("name", NEW)
def test_new_activations_by_hand(name):
    function, derivative = getattr(act, name), getattr(act, f"{name}_derivative")
    assert act.DERIVATIVES[name] is derivative
    z = np.array([[-3.1, -0.6], [0.45, 2.2]])
    value = function(0.7)
    assert type(value) is float and value == pytest.approx(float(reference(name, np.array(0.7))), rel=1e-14, abs=0)
    # 1e-12: the reference's 1 + erf(z / sqrt 2) cancels for gelu at z = -3.1 (dnn's value is exact there)
    np.testing.assert_allclose(function(z.tolist()), reference(name, z), rtol=1e-12)
    assert function(z.astype(np.float32)).dtype == np.float32
    numeric = central_difference(lambda v: float(np.sum(function(v))), z)
    np.testing.assert_allclose(derivative(z), numeric, rtol=1e-7, atol=1e-10)
    assert type(derivative(-1)) is float


def test_new_activations_hand_values():
    # gelu(1) = Phi(1); gelu'(0) = Phi(0) = 1/2; silu(z) = z / 2 at 0's slope; elu and softplus at 0
    assert act.gelu(1.0) == pytest.approx(0.8413447460685429, rel=1e-15, abs=0)
    assert act.gelu(-1.0) == pytest.approx(-0.15865525393145707, rel=1e-15, abs=0)
    assert act.gelu_derivative(0.0) == 0.5 and act.silu_derivative(0.0) == 0.5 and act.softplus_derivative(0) == 0.5
    assert act.silu(2.0) == pytest.approx(2 / (1 + math.exp(-2)), rel=1e-15, abs=0)
    assert act.elu(-1.0) == pytest.approx(math.exp(-1) - 1, rel=1e-15, abs=0) and act.elu_derivative(0.0) == 1.0
    assert act.selu(1.0) == SELU_SCALE and act.selu_derivative(2.0) == SELU_SCALE
    assert act.selu_derivative(-1e-300) == pytest.approx(SELU_SCALE * SELU_ALPHA, rel=1e-15, abs=0)
    assert act.softplus(0.0) == pytest.approx(math.log(2), rel=1e-15, abs=0)
    assert act.softplus(-800.0) == 0.0 and act.softplus(800.0) == 800.0
    assert act.softplus(-700.0) == pytest.approx(math.exp(-700), rel=1e-12, abs=0)


def test_swish_is_silu_and_only_gelu_and_silu_keep_the_pre_activation():
    assert act.canonical_name("Swish") == "silu" and act.canonical_name("SiLU") == "silu"
    assert act.get_activation("swish") is ACTIVATIONS["silu"]
    assert {"gelu", "silu"} == PRE_ACTIVATION
    assert [name for name in NAMES if act.takes_pre_activation(name)] == ["gelu", "silu"]
    assert act.takes_pre_activation("Swish")
    assert list(act.HIDDEN_ACTIVATIONS) == ["sigmoid", "tanh", "relu", "leaky_relu", "identity", "step", *NEW]


@pytest.mark.parametrize("name", ["gelu", "silu"])
def test_the_output_does_not_determine_the_derivative_of_gelu_and_silu(name):
    # Why their backward steps take z: left of its minimum and right of it, the same output, opposite slopes.
    function, derivative = getattr(act, name), getattr(act, f"{name}_derivative")
    left, target = -3.0, function(-3.0)
    low, high = -1.0, 0.0  # the minimum is below -0.7 for both, and f rises from it to f(0) = 0
    for _ in range(80):  # bisection for the right-hand z with f(z) = f(-3)
        middle = (low + high) / 2
        low, high = (middle, high) if function(middle) < target else (low, middle)
    right = (low + high) / 2
    assert function(right) == pytest.approx(target, rel=1e-12, abs=0)
    assert derivative(left) < 0 < derivative(right)


def test_gelu_equals_mpmath_to_float64_accuracy(rng):
    # Relative accuracy down the far tail too, where z (1 + erf(z / sqrt 2)) / 2 would cancel to 0.
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 40
    z = np.concatenate([rng.normal(0, 2, 300), rng.uniform(-37, 37, 300)])
    exact = np.array([float(mpmath.mpf(v) * mpmath.ncdf(v)) for v in z])
    slope = np.array([float(mpmath.ncdf(v) + v * mpmath.npdf(v)) for v in z])
    forward, backward = get_activation("gelu")
    normal = np.abs(exact) > 1e-300
    np.testing.assert_allclose(forward(z.copy())[normal], exact[normal], rtol=2e-15, atol=0)
    # the derivative: exp(-z^2 / 2) from a rounded z^2 costs up to z^2 eps relative, and where it crosses 0
    # (z near -0.75) Phi(z) + z phi(z) cancels: a few roundings of terms near 1/4 remain, 5e-16 absolute
    error = np.abs(backward(z, np.ones_like(z)) - slope)
    assert (error <= 1e-15 * np.maximum(z * z, 4) * np.abs(slope) + 5e-16).all(), z[np.argmax(error / np.abs(slope))]
