import warnings
from fractions import Fraction

import numpy as np
import pytest
from conftest import central_difference

from dnn import losses
from dnn.activations import get_activation
from dnn.losses import (
    COMPATIBLE_LOSSES,
    FUSED_PAIRS,
    LOSSES,
    canonical,
    get_loss,
    mean_loss,
    output_delta,
    output_loss,
    summed_loss,
)

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


#: A confidently wrong prediction costs about -log(eps) per wrong output in the losses of probabilities.
WRONG_OUTPUTS = {"categorical_crossentropy": 1, "categorical_focal": 1, "binary_crossentropy": 2, "binary_focal": 2}

#: Losses with settings, each setting away from its default (and the output activations they follow).
SPECS = [
    {"name": "categorical_crossentropy", "label_smoothing": 0.1},
    {"name": "binary_crossentropy", "label_smoothing": 0.2},
    {"name": "huber", "delta": 0.3},
    {"name": "binary_focal", "gamma": 0.5, "alpha": 0.25},
    {"name": "binary_focal", "gamma": 3.0},
    {"name": "categorical_focal", "gamma": 1.5, "alpha": 0.6},
    {"name": "categorical_focal", "gamma": 0.0},
]
SPEC_PAIRS = [(act, spec) for spec in SPECS for act in COMPATIBLE_LOSSES if spec["name"] in COMPATIBLE_LOSSES[act]]


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
    assert values.dtype == dtype and grads.dtype == dtype
    if name in WRONG_OUTPUTS:
        # a perfect prediction costs almost nothing, a confidently wrong one -log(eps) per wrong output
        assert values[1] < 1e-5
        assert values[0] == pytest.approx(-WRONG_OUTPUTS[name] * np.log(np.finfo(dtype).eps), rel=1e-3)


@pytest.mark.parametrize("spec", SPECS, ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_settings_keep_the_dtype_and_stay_finite(spec, dtype):
    p = np.array([[0.0, 1.0], [1.0, 0.0], [0.3, 0.7]], dtype=dtype)
    y = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]], dtype=dtype)
    loss, gradient = get_loss(spec)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        values, grads = loss(p, y), gradient(p, y)
    assert np.isfinite(values).all() and np.isfinite(grads).all()
    assert values.dtype == dtype and grads.dtype == dtype


@pytest.mark.parametrize("name", sorted(LOSSES) + SPECS, ids=str)
def test_gradient_matches_central_differences(name, rng):
    p = rng.uniform(0.05, 0.95, (4, 3))
    y = rng.uniform(0, 1, (4, 3))
    loss, gradient = get_loss(name)
    numeric = central_difference(lambda q: float(loss(q, y).sum()), p)
    np.testing.assert_allclose(gradient(p, y), numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize(("activation", "loss"), PAIRS + SPEC_PAIRS, ids=str)
def test_output_delta_is_gradient_of_mean_loss(activation, loss, rng):
    """Several outputs and a mean over samples: the delta and the loss are reduced the same way."""
    n, k = 5, 3
    z = rng.normal(0, 1.5, (n, k))
    name = loss["name"] if isinstance(loss, dict) else loss
    if activation == "identity":
        y = rng.normal(size=(n, k))
    elif activation == "softmax" or name in ("categorical_crossentropy", "categorical_focal"):
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


def test_hand_worked_values_of_the_new_losses():
    p = np.array([[0.6, 3.0], [0.2, 0.5]])
    y = np.array([[0.0, 1.0], [1.0, 0.5]])
    # huber, delta 0.5: |r| = 0.6 and 2 are past delta: 0.5 (0.6 - 0.25) + 0.5 (2 - 0.25); then 0.5 (0.8 - 0.25) + 0
    np.testing.assert_allclose(get_loss({"name": "huber", "delta": 0.5})[0](p, y), [0.175 + 0.875, 0.275], rtol=1e-12)
    np.testing.assert_allclose(get_loss("huber")[0](p, y), [0.18 + 1.5, 0.32], rtol=1e-12)  # delta 1
    np.testing.assert_allclose(get_loss("mae")[0](p, y), [2.6, 0.8], rtol=1e-12)
    eps = 1e-8  # PyTorch's
    np.testing.assert_allclose(get_loss("poisson")[0](p, y),
                               [0.6 + 3.0 - np.log(3.0 + eps), 0.2 - np.log(0.2 + eps) + 0.5 - 0.5 * np.log(0.5 + eps)],
                               rtol=1e-12)
    q = np.array([[0.9, 0.2]])
    t = np.array([[1.0, 0.0]])
    # binary focal, gamma 2, alpha 0.25: -0.25 (0.1)^2 log 0.9 - 0.75 (0.2)^2 log 0.8
    expected = -0.25 * 0.01 * np.log(0.9) - 0.75 * 0.04 * np.log(0.8)
    np.testing.assert_allclose(get_loss({"name": "binary_focal", "alpha": 0.25})[0](q, t), [expected], rtol=1e-12)
    # categorical focal, gamma 2: -(1 - 0.9)^2 log 0.9 (the other class does not count)
    np.testing.assert_allclose(get_loss("categorical_focal")[0](q, t), [-0.01 * np.log(0.9)], rtol=1e-12)
    # label smoothing 0.2 over 2 classes: targets 0.9 and 0.1
    np.testing.assert_allclose(get_loss({"name": "cce", "label_smoothing": 0.2})[0](q, t),
                               [-0.9 * np.log(0.9) - 0.1 * np.log(0.2)], rtol=1e-12)
    np.testing.assert_allclose(get_loss({"name": "bce", "label_smoothing": 0.2})[0](q, t),
                               [-(0.9 * np.log(0.9) + 0.1 * np.log(0.1)) - (0.1 * np.log(0.2) + 0.9 * np.log(0.8))],
                               rtol=1e-12)


def test_without_their_settings_the_focal_losses_are_the_cross_entropies(rng):
    p = rng.uniform(0.05, 0.95, (6, 3))
    y = np.eye(3)[rng.integers(0, 3, 6)]
    for focal, cross_entropy in (("binary_focal", "binary_crossentropy"),
                                 ("categorical_focal", "categorical_crossentropy")):
        for part in (0, 1):
            np.testing.assert_allclose(get_loss({"name": focal, "gamma": 0})[part](p, y),
                                       get_loss(cross_entropy)[part](p, y), rtol=1e-12)


@pytest.mark.parametrize(("spec", "stored"), [
    ("MAE", "absolute_error"),
    ("l1", "absolute_error"),
    ("Huber", {"name": "huber", "delta": 1.0}),
    ({"name": "huber", "delta": 0.5}, {"name": "huber", "delta": 0.5}),
    ({"name": "huber", "delta": Fraction(1, 2)}, {"name": "huber", "delta": 0.5}),
    ("focal", {"name": "binary_focal", "gamma": 2.0}),
    ({"name": "focal", "alpha": 0.25, "gamma": 1}, {"name": "binary_focal", "gamma": 1.0, "alpha": 0.25}),
    ({"name": "crossentropy", "label_smoothing": 0}, "categorical_crossentropy"),
    ({"name": "bce", "label_smoothing": 0.1}, {"name": "binary_crossentropy", "label_smoothing": 0.1}),
    ({"name": "poisson_nll_loss"}, "poisson"),
])
def test_the_stored_form_of_a_loss(spec, stored):
    result = canonical(spec)
    assert result == stored
    assert canonical(result) == stored  # stored once, stored the same again
    if isinstance(result, dict):
        assert all(type(value) is float for key, value in result.items() if key != "name")


@pytest.mark.parametrize(("spec", "message"), [
    ({"name": "huber", "delta": 0}, r"delta \(of the huber loss\) must be > 0, got 0"),
    ({"name": "huber", "delta": 1e7}, r"must be <= 1e\+06, got 10000000.0 \(above, the loss is the squared error"),
    ({"name": "huber", "delta": "big"}, r"delta \(of the huber loss\) must be a finite number, got 'big'"),
    ({"name": "focal", "gamma": -1}, r"gamma \(of the binary_focal loss\) must be >= 0"),
    ({"name": "focal", "gamma": 101}, r"must be <= 100.*nothing is learned"),
    ({"name": "focal", "alpha": 1.5}, r"alpha \(of the binary_focal loss\) must be <= 1"),
    ({"name": "cce", "label_smoothing": -0.1}, r"label_smoothing \(of the categorical_crossentropy loss\) must be >="),
    ({"name": "cce", "label_smoothing": float("nan")}, r"must be a finite number"),
    ({"name": "mse", "delta": 1}, r"the squared_error loss takes no settings; got 'delta'"),
    ({"name": "huber", "gamma": 1}, r"the huber loss takes delta; got 'gamma'"),
    ({"delta": 1}, r"a loss given as a dict is \{'name': 'huber', 'delta': 0.5\}"),
    (("huber", 0.5), r"a loss is a name such as 'huber' or a dict of its name and settings"),
    ("hubber", r"unknown loss 'hubber'; did you mean 'huber'\?"),
])
def test_bad_losses_and_settings_are_refused_with_the_value(spec, message):
    with pytest.raises(ValueError, match=message):
        canonical(spec)


@pytest.mark.parametrize(("activation", "spec", "stored"), [
    ("softmax", "focal", {"name": "categorical_focal", "gamma": 2.0}),
    ("sigmoid", "focal", {"name": "binary_focal", "gamma": 2.0}),
    ("softmax", "binary_focal", {"name": "binary_focal", "gamma": 2.0}),  # named: kept as named
    ("softmax", {"name": "Focal", "gamma": 1}, {"name": "categorical_focal", "gamma": 1.0}),
    ("identity", "huber", {"name": "huber", "delta": 1.0}),
    ("step", "mae", "absolute_error"),
    ("sigmoid", "poisson", "poisson"),
    ("softmax", None, "categorical_crossentropy"),
])
def test_the_loss_an_output_layer_gets(activation, spec, stored):
    assert output_loss(activation, spec) == stored


@pytest.mark.parametrize(("activation", "spec", "message"), [
    ("identity", "focal", r"loss 'binary_focal' needs probabilities and cannot follow identity outputs; use one of "
                          r"squared_error, huber, absolute_error"),
    ("identity", "poisson", r"loss 'poisson' needs positive rates .* cannot follow identity outputs"),
    ("step", {"name": "bce", "label_smoothing": 0.1}, r"'binary_crossentropy' needs probabilities .* step outputs"),
    ("identity", "crossentropy", r"needs probabilities"),
    ("softmax", "nope", r"unknown loss 'nope'; losses of your own are registered with dnn.losses.register .*; valid "
                        r"names: categorical_crossentropy"),
    ("softmax", "hubr", r"unknown loss 'hubr'; did you mean 'huber'\? losses of your own are registered"),
])
def test_a_loss_that_cannot_follow_the_output_is_refused_saying_why(activation, spec, message):
    with pytest.raises(ValueError, match=message):
        output_loss(activation, spec)


def test_by_hand_with_settings():
    assert losses.huber([0.6, 3.0], [0, 1], delta=0.5) == pytest.approx(0.175 + 0.875, rel=1e-12)
    np.testing.assert_allclose(losses.huber_gradient([0.6, 3.0, 1.2], [0, 1, 1], delta=0.5), [0.5, 0.5, 0.2])
    assert losses.absolute_error([[0.5], [2.0]], [1, 1]) == pytest.approx(0.75, rel=1e-12)
    np.testing.assert_allclose(losses.absolute_error_gradient([0.5, 2.0, 1.0], [1, 1, 1]), [-1, 1, 0])
    assert losses.poisson([2.0], [3]) == pytest.approx(2.0 - 3 * np.log(2.0 + 1e-8), rel=1e-12)
    np.testing.assert_allclose(losses.poisson_gradient([2.0], [3]), [1 - 3 / (2.0 + 1e-8)], rtol=1e-12)
    assert losses.categorical_crossentropy([0.7, 0.2, 0.1], 0, label_smoothing=0.3) == pytest.approx(
        -(0.8 * np.log(0.7) + 0.1 * np.log(0.2) + 0.1 * np.log(0.1)), rel=1e-12)
    assert losses.binary_focal([0.9], [1], gamma=2, alpha=0.25) == pytest.approx(-0.25 * 0.01 * np.log(0.9))
    assert losses.categorical_focal([[0.9, 0.1]], [0], gamma=1) == pytest.approx(-0.1 * np.log(0.9))
    with pytest.raises(ValueError, match=r"delta \(of the huber loss\) must be > 0"):
        losses.huber([1.0], [0.0], delta=-1)
    with pytest.raises(ValueError, match=r"binary_focal takes probabilities in \[0, 1\].*sigmoid first"):
        losses.binary_focal([2.0], [1])
    with pytest.raises(ValueError, match=r"categorical_focal takes probabilities.*softmax first"):
        losses.categorical_focal([2.0, -1.0], 0)
    with pytest.raises(ValueError, match=r"poisson takes rates p >= 0 .* down to -1"):
        losses.poisson([-1.0], [1])
    assert losses.huber([-5.0], [5.0]) == pytest.approx(9.5)  # any real outputs


def test_reductions_take_a_spec_and_output_delta_fuses_smoothed_targets(rng):
    z = rng.normal(size=(4, 3))
    p = get_activation("softmax")[0](z.copy())
    y = np.eye(3)[[0, 2, 1, 1]]
    spec = {"name": "categorical_crossentropy", "label_smoothing": 0.3}
    smoothed = y * 0.7 + 0.1
    assert mean_loss(spec, p, y) == pytest.approx(-np.sum(smoothed * np.log(p)) / 4, rel=1e-12)
    assert summed_loss(spec, p, y, np.array([1.0, 2.0, 0.0, 1.0])) == pytest.approx(
        -np.sum(np.array([1.0, 2.0, 0.0, 1.0])[:, None] * smoothed * np.log(p)), rel=1e-12)
    np.testing.assert_allclose(output_delta("softmax", spec, p, y, 0.25), (p - smoothed) / 4, rtol=1e-12)
