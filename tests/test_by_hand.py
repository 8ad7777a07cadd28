"""The math called by hand: activations, their derivatives and the losses on numbers, lists, vectors and matrices."""

import numpy as np
import pytest
from conftest import central_difference

from dnn import activations as act
from dnn import losses as los

ELEMENTWISE = {
    # name: (function, derivative, textbook formula written independently)
    "sigmoid": (act.sigmoid, act.sigmoid_derivative, lambda z: 1 / (1 + np.exp(-z))),
    "tanh": (act.tanh, act.tanh_derivative, lambda z: (np.exp(z) - np.exp(-z)) / (np.exp(z) + np.exp(-z))),
    "relu": (act.relu, act.relu_derivative, lambda z: np.where(z > 0, z, 0.0)),
    "leaky_relu": (act.leaky_relu, act.leaky_relu_derivative, lambda z: np.where(z > 0, z, 0.01 * z)),
    "identity": (act.identity, act.identity_derivative, lambda z: z * 1.0),
    "step": (act.step, act.step_derivative, lambda z: np.where(z > 0, 1.0, 0.0)),
}


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_numbers_lists_vectors_and_matrices(name):
    function, _, formula = ELEMENTWISE[name]
    value = function(0.7)
    assert type(value) is float and value == pytest.approx(formula(0.7), rel=1e-12)
    assert type(function(-2)) is float and function(-2) == pytest.approx(formula(-2.0), rel=1e-12)
    np.testing.assert_allclose(function([0, 1, 2]), formula(np.array([0.0, 1.0, 2.0])), rtol=1e-12)
    matrix = np.array([[-1.5, 0.25], [3.0, -0.5]])
    before = matrix.copy()
    np.testing.assert_allclose(function(matrix), formula(matrix), rtol=1e-12)
    np.testing.assert_array_equal(matrix, before)  # the caller's array is left alone
    assert function(matrix.astype(np.float32)).dtype == np.float32


def test_hand_values():
    assert act.sigmoid(0.0) == 0.5
    np.testing.assert_allclose(act.sigmoid([0.0, np.log(3), -np.log(3)]), [0.5, 0.75, 0.25], rtol=1e-15)
    assert act.relu(-3) == 0.0 and act.relu(2.5) == 2.5
    np.testing.assert_array_equal(act.step([-1.0, 0.0, 1e-9, 2.0]), [0.0, 0.0, 1.0, 1.0])  # step(0) = 0
    assert act.leaky_relu(-2.0) == pytest.approx(-0.02)


def test_softmax_of_a_vector_and_of_rows():
    # The classic example of "Deep Learning from Scratch", section 3.5.
    np.testing.assert_allclose(act.softmax(np.array([0.3, 2.9, 4.0])), [0.01821127, 0.24519181, 0.73659691], atol=1e-8)
    np.testing.assert_allclose(act.softmax([1010, 1000, 990]), act.softmax([20, 10, 0]), rtol=1e-12)
    rows = [[0.3, 2.9, 4.0], [1.0, 1.0, 1.0]]
    result = act.softmax(rows)
    np.testing.assert_allclose(result[0], act.softmax(rows[0]), rtol=1e-15)
    np.testing.assert_allclose(result[1], [1 / 3] * 3, rtol=1e-15)


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_derivative_at_the_input_matches_central_differences(name):
    function, derivative, _ = ELEMENTWISE[name]
    z = np.array([-2.0, -0.7, 0.3, 1.9])  # away from the kinks at 0
    numeric = central_difference(lambda v: float(np.sum(function(v))), z)
    np.testing.assert_allclose(derivative(z), numeric, rtol=1e-6, atol=1e-9)
    assert type(derivative(0.3)) is float


def test_derivative_hand_values():
    assert act.sigmoid_derivative(0.0) == 0.25
    assert act.tanh_derivative(0.0) == 1.0
    np.testing.assert_array_equal(act.relu_derivative([-1, 0, 2]), [0.0, 0.0, 1.0])  # 0 at the kink
    np.testing.assert_array_equal(act.leaky_relu_derivative([-1, 0, 2]), [0.01, 0.01, 1.0])
    np.testing.assert_array_equal(act.step_derivative([[-1, 0, 2]]), [[0.0, 0.0, 0.0]])
    np.testing.assert_array_equal(act.identity_derivative([[-1, 0, 2]]), [[1.0, 1.0, 1.0]])


def test_softmax_jacobian():
    z = np.array([0.3, 2.9, 4.0])
    numeric = np.stack([central_difference(lambda v, i=i: float(act.softmax(v)[i]), z) for i in range(3)])
    jacobian = act.softmax_derivative(z)
    np.testing.assert_allclose(jacobian, numeric, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(jacobian.sum(axis=0), 0, atol=1e-15)
    batch = act.softmax_derivative(np.stack([z, -z]))
    assert batch.shape == (2, 3, 3)
    np.testing.assert_allclose(batch[0], jacobian, rtol=1e-15)
    with pytest.raises(ValueError, match="vector or a matrix"):
        act.softmax_derivative(1.0)


def test_non_numbers_are_refused():
    with pytest.raises(ValueError, match="sigmoid takes a number, a list or an array of numbers"):
        act.sigmoid("a")
    with pytest.raises(ValueError, match="relu_derivative takes"):
        act.relu_derivative([1, "x"])


# ------------------------------------------------------------------ losses


def test_losses_on_one_sample_with_a_label_or_a_one_hot_row():
    p = [0.1, 0.7, 0.2]
    assert los.categorical_crossentropy(p, 1) == pytest.approx(-np.log(0.7), rel=1e-12)
    assert los.categorical_crossentropy(p, [0, 1, 0]) == pytest.approx(-np.log(0.7), rel=1e-12)
    assert los.squared_error([0.6, 0.9], [0, 1]) == pytest.approx(0.5 * (0.36 + 0.01), rel=1e-12)
    assert los.binary_crossentropy([0.9, 0.2], [1, 0]) == pytest.approx(-np.log(0.9) - np.log(0.8), rel=1e-12)
    # The textbook squared error of "Deep Learning from Scratch" 4.2.1: 0.0975 for the right class.
    p = [0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0]
    assert los.squared_error(p, 2) == pytest.approx(0.0975, rel=1e-12)
    assert los.categorical_crossentropy(p, 2) == pytest.approx(0.5108256237659907, rel=1e-9)


def test_losses_on_a_batch_are_the_mean_over_samples():
    p = np.array([[0.1, 0.7, 0.2], [0.8, 0.1, 0.1]])
    expected = (-np.log(0.7) - np.log(0.8)) / 2
    assert los.categorical_crossentropy(p, [1, 0]) == pytest.approx(expected, rel=1e-12)
    assert los.categorical_crossentropy(p, [[0, 1, 0], [1, 0, 0]]) == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(los.categorical_crossentropy(p, [1, 0], per_sample=True), [-np.log(0.7), -np.log(0.8)])
    # n samples of one sigmoid output: a column and one 0/1 label per sample
    column = np.array([[0.9], [0.2], [0.6]])
    assert los.binary_crossentropy(column, [1, 0, 1]) == pytest.approx(
        -(np.log(0.9) + np.log(0.8) + np.log(0.6)) / 3, rel=1e-12)
    assert los.squared_error([[1.5], [-2.0]], [1.0, 0.0]) == pytest.approx((0.125 + 2.0) / 2, rel=1e-12)


def test_cross_entropy_matches_scikit_learn():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    p = act.softmax(rng.normal(size=(20, 4)))
    y = rng.integers(0, 4, 20)
    assert los.categorical_crossentropy(p, y) == pytest.approx(metrics.log_loss(y, p, labels=range(4)), rel=1e-12)


def test_logits_are_refused_with_a_message_saying_so():
    with pytest.raises(ValueError, match=r"takes probabilities in \[0, 1\].*logits.*softmax first"):
        los.categorical_crossentropy([2.0, -1.0, 0.5], 0)
    with pytest.raises(ValueError, match=r"logits.*sigmoid first"):
        los.binary_crossentropy([[1.5], [0.2]], [1, 0])
    assert los.squared_error([2.0, -1.0], [0, 1]) == pytest.approx(0.5 * (4 + 4))  # any real outputs


@pytest.mark.parametrize(("call", "message"), [
    (lambda: los.categorical_crossentropy([0.5, 0.5], 2), r"labels must be in 0..1 for 2 outputs"),
    (lambda: los.categorical_crossentropy([0.5, 0.5], 0.5), r"labels must be integers"),
    (lambda: los.squared_error([[0.5, 0.5]], [[1, 0, 0]]), r"y has shape \(1, 3\) but p has \(1, 2\)"),
    (lambda: los.squared_error(np.zeros((2, 2, 2)), 0), r"one sample .* or a batch"),
    (lambda: los.squared_error([np.nan, 1.0], [0, 1]), "finite"),
])
def test_bad_loss_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("name", sorted(los.LOSSES))
def test_gradient_by_hand_matches_central_differences(name):
    p = np.array([[0.2, 0.5, 0.3], [0.6, 0.3, 0.1]])
    y = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    loss = getattr(los, name)
    numeric = central_difference(lambda q: loss(q, y, per_sample=True).sum(), p)
    np.testing.assert_allclose(getattr(los, f"{name}_gradient")(p, y), numeric, rtol=1e-6)
    one = getattr(los, f"{name}_gradient")(p[0], 1)
    assert one.shape == (3,)
    np.testing.assert_allclose(one, numeric[0], rtol=1e-6)


def test_by_hand_equals_the_training_loop_functions():
    rng = np.random.default_rng(1)
    p = act.softmax(rng.normal(size=(6, 3))).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 6)]
    for name in los.LOSSES:
        assert getattr(los, name)(p, y) == pytest.approx(los.mean_loss(name, p, y), rel=1e-6)
    assert los.get_loss("mse") is los.get_loss("squared_error")
