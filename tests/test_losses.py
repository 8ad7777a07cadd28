import warnings

import numpy as np
import pytest
from conftest import central_difference

from dnn.activations import get_activation
from dnn.losses import COMPATIBLE_LOSSES, FUSED_PAIRS, LOSSES, get_loss, mean_loss, output_delta, summed_loss

PAIRS = [(act, loss) for act, losses in COMPATIBLE_LOSSES.items() for loss in losses]


def test_hand_worked_values():
    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    y = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    cce = get_loss("categorical_crossentropy")[0](p, y)
    np.testing.assert_allclose(cce, [-np.log(0.7), -np.log(0.8)], rtol=1e-12)
    bce = get_loss("binary_crossentropy")[0](p, y)
    expected = [-(np.log(0.7) + np.log(0.8) + np.log(0.9)), -(np.log(0.9) + np.log(0.9) + np.log(0.8))]
    np.testing.assert_allclose(bce, expected, rtol=1e-12)
    se = get_loss("squared_error")[0](p, y)
    np.testing.assert_allclose(se, [0.5 * (0.09 + 0.04 + 0.01), 0.5 * (0.01 + 0.01 + 0.04)], rtol=1e-12)
    # mean over samples of the per-sample sums
    assert mean_loss("squared_error", p, y) == pytest.approx((0.07 + 0.03) / 2, rel=1e-12)
    assert mean_loss("squared_error", p, y, np.array([2.0, 0.0])) == pytest.approx(0.07, rel=1e-12)
    # cross-entropy's sum over the batch takes its own path (one dot product)
    assert summed_loss("categorical_crossentropy", p, y) == pytest.approx(-np.log(0.7) - np.log(0.8), rel=1e-12)
    assert summed_loss("categorical_crossentropy", p, y, np.array([0.5, 3.0])) == pytest.approx(
        -0.5 * np.log(0.7) - 3.0 * np.log(0.8), rel=1e-12)
    assert mean_loss("categorical_crossentropy", p, y) == pytest.approx(-(np.log(0.7) + np.log(0.8)) / 2, rel=1e-12)
    # p = 0 on the true class costs -log(eps), as in the per-sample loss
    zero = np.array([[0.0, 1.0]], dtype=np.float32)
    assert summed_loss("categorical_crossentropy", zero, np.array([[1.0, 0.0]], np.float32)) == pytest.approx(
        -np.log(np.finfo(np.float32).eps), rel=1e-6)


@pytest.mark.parametrize("name", sorted(LOSSES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_finite_at_probabilities_zero_and_one(name, dtype):
    p = np.array([[0.0, 1.0], [1.0, 0.0]], dtype=dtype)
    y = np.array([[1.0, 0.0], [1.0, 0.0]], dtype=dtype)
    loss, gradient = get_loss(name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        values, grads = loss(p, y), gradient(p, y)
    assert np.isfinite(values).all() and np.isfinite(grads).all()
    assert values.dtype == dtype
    if name != "squared_error":
        # a perfect prediction costs almost nothing, a confidently wrong one -log(eps) per wrong output
        wrong_outputs = 1 if name == "categorical_crossentropy" else 2
        assert values[1] < 1e-5
        assert values[0] == pytest.approx(-wrong_outputs * np.log(np.finfo(dtype).eps), rel=1e-3)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_gradient_matches_central_differences(name, rng):
    p = rng.uniform(0.05, 0.95, (4, 3))
    y = rng.uniform(0, 1, (4, 3))
    loss, gradient = get_loss(name)
    numeric = central_difference(lambda q: float(loss(q, y).sum()), p)
    np.testing.assert_allclose(gradient(p, y), numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize(("activation", "loss"), PAIRS)
def test_output_delta_is_gradient_of_mean_loss(activation, loss, rng):
    """Several outputs and a mean over samples: the delta and the loss are reduced the same way."""
    n, k = 5, 3
    z = rng.normal(0, 1.5, (n, k))
    if activation == "identity":
        y = rng.normal(size=(n, k))
    elif activation == "softmax" or loss == "categorical_crossentropy":
        y = np.eye(k)[rng.integers(0, k, n)]
    else:
        y = (rng.uniform(size=(n, k)) > 0.5).astype(float)
    forward = get_activation(activation)[0]
    numeric = central_difference(lambda v: mean_loss(loss, forward(v.copy()), y), z)
    analytic = output_delta(activation, loss, forward(z.copy()), y, 1.0 / n)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-9)


def test_output_delta_with_sample_weights(rng):
    z = rng.normal(size=(4, 3))
    y = np.eye(3)[[0, 2, 1, 1]]
    s = np.array([1.0, 3.0, 0.5, 0.0])
    forward = get_activation("softmax")[0]
    numeric = central_difference(lambda v: mean_loss("categorical_crossentropy", forward(v.copy()), y, s), z)
    analytic = output_delta("softmax", "categorical_crossentropy", forward(z.copy()), y, s[:, None] / 4)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-9)


def test_fused_pairs_are_the_defaults():
    assert set(FUSED_PAIRS) == {("softmax", "categorical_crossentropy"), ("sigmoid", "binary_crossentropy"),
                                ("identity", "squared_error")}


def test_unknown_loss_suggests_the_nearest_and_lists_valid_names():
    with pytest.raises(ValueError, match=r"unknown loss 'msee'; did you mean 'squared_error'\? valid names: .*"
                                         r"squared_error"):
        get_loss("msee")
