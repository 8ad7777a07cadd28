import numpy as np
import pytest
from conftest import central_difference

from dnn.backprop import backward_pass, forward_pass
from dnn.losses import mean_loss, output_delta


def network(rng, sizes, dtype=np.float64):
    weights = [rng.normal(0, 0.7, (a, b)).astype(dtype) for a, b in zip(sizes[:-1], sizes[1:])]
    biases = [rng.normal(0, 0.2, b).astype(dtype) for b in sizes[1:]]
    return weights, biases


def test_forward_pass_hand_worked():
    # 2 inputs -> 2 relu units -> 1 identity output, worked on paper
    w = [np.array([[1.0, -1.0], [2.0, 0.5]]), np.array([[3.0], [-2.0]])]
    b = [np.array([0.0, 1.0]), np.array([0.5])]
    x = np.array([[1.0, 1.0], [-1.0, 2.0]])
    cache = forward_pass(x, w, b, ["relu", "identity"])
    # sample 1: z = (3, 0.5) -> a = (3, 0.5) -> 9 - 1 + 0.5 = 8.5
    # sample 2: z = (3, 3)   -> a = (3, 3)   -> 9 - 6 + 0.5 = 3.5
    np.testing.assert_allclose(cache[1], [[3.0, 0.5], [3.0, 3.0]])
    np.testing.assert_allclose(cache[2], [[8.5], [3.5]])


@pytest.mark.parametrize("hidden", ["sigmoid", "tanh", "relu", "leaky_relu", "identity"])
@pytest.mark.parametrize(("output", "loss"), [("softmax", "categorical_crossentropy"),
                                              ("sigmoid", "squared_error"),
                                              ("identity", "squared_error")])
def test_backward_pass_matches_central_differences(hidden, output, loss, rng):
    sizes = [4, 6, 5, 3]
    weights, biases = network(rng, sizes)
    x = rng.normal(size=(7, 4))
    y = rng.normal(size=(7, 3)) if output == "identity" else np.eye(3)[rng.integers(0, 3, 7)]
    activations = [hidden, hidden, output]
    cache = forward_pass(x, weights, biases, activations)
    delta = output_delta(output, loss, cache[-1], y, 1.0 / len(x))
    grad_w, grad_b = backward_pass(cache, delta, weights, activations)
    for i in range(len(weights)):
        def loss_of_w(v, i=i):
            return mean_loss(loss, forward_pass(x, [*weights[:i], v, *weights[i + 1:]], biases, activations)[-1], y)

        def loss_of_b(v, i=i):
            return mean_loss(loss, forward_pass(x, weights, [*biases[:i], v, *biases[i + 1:]], activations)[-1], y)

        np.testing.assert_allclose(grad_w[i], central_difference(loss_of_w, weights[i]), rtol=1e-5, atol=1e-8)
        np.testing.assert_allclose(grad_b[i], central_difference(loss_of_b, biases[i]), rtol=1e-5, atol=1e-8)


def softmax_problem(rng, sizes=(5, 8, 4), rows=6):
    """A float32 tanh-softmax network, ``rows`` inputs and one-hot targets."""
    weights, biases = network(rng, sizes, np.float32)
    x = rng.normal(size=(rows, sizes[0])).astype(np.float32)
    y = np.eye(sizes[-1], dtype=np.float32)[rng.integers(0, sizes[-1], rows)]
    return weights, biases, x, y, ["tanh", "softmax"]


def test_preallocated_buffers_give_the_same_result(rng):
    sizes = [5, 8, 4]
    weights, biases, x, y, activations = softmax_problem(rng, sizes)
    fresh = forward_pass(x, weights, biases, activations)
    outputs = [np.empty((6, u), np.float32) for u in sizes[1:]]
    reused = forward_pass(x, weights, biases, activations, outputs)
    assert reused[-1] is outputs[-1]
    np.testing.assert_array_equal(fresh[-1], reused[-1])
    expected = backward_pass(fresh, output_delta("softmax", "categorical_crossentropy", fresh[-1], y, 1 / 6),
                             weights, activations)
    grad_w = [np.empty_like(w) for w in weights]
    grad_b = [np.empty_like(b) for b in biases]
    deltas = [np.empty((6, 8), np.float32)]
    delta = output_delta("softmax", "categorical_crossentropy", reused[-1], y, 1 / 6)
    backward_pass(reused, delta, weights, activations, grad_w, grad_b, deltas)
    for a, b in zip(expected[0] + expected[1], grad_w + grad_b):
        np.testing.assert_array_equal(a, b)
        assert b.dtype == np.float32


def test_a_ones_vector_given_by_the_caller_gives_the_same_bias_gradients(rng):
    weights, biases, x, y, activations = softmax_problem(rng)
    cache = forward_pass(x, weights, biases, activations)

    def delta():
        return output_delta("softmax", "categorical_crossentropy", cache[-1], y, 1 / 6)

    expected = backward_pass(cache, delta(), weights, activations)
    ones = np.ones(10, np.float32)[:6]  # the first rows of a workspace's vector, as training passes it
    given = backward_pass(cache, delta(), weights, activations, ones=ones)
    for a, b in zip(expected[0] + expected[1], given[0] + given[1]):
        np.testing.assert_array_equal(a, b)
    # the bias gradients are the column sums of the output delta, by hand
    np.testing.assert_allclose(given[1][-1], delta().sum(axis=0), rtol=1e-6)


def test_training_allocates_no_ones_vector_in_the_backward_pass(monkeypatch):
    import sys

    import dnn.backprop
    from dnn import DNN

    calls = []
    real_ones = np.ones

    def counting_ones(*args, **kwargs):
        if sys._getframe(1).f_code.co_filename == dnn.backprop.__file__:
            calls.append(args)
        return real_ones(*args, **kwargs)

    X = np.random.default_rng(0).normal(size=(64, 3))
    y = (X[:, 0] > 0).astype(int)
    model = DNN(seed=0)
    model.addInputLayer([3])
    model.addHiddenLayer([4])
    model.addOutputLayer([2])
    monkeypatch.setattr(np, "ones", counting_ones)
    model.fit(X, y, epochs=2, batchSize=4, verbose=0)  # 16 batches an epoch, the last of each as large
    monkeypatch.setattr(np, "ones", real_ones)
    assert calls == []


@pytest.mark.parametrize("hidden", ["gelu", "silu", "elu", "selu", "softplus"])
def test_backward_pass_through_the_new_activations_with_dropout_matches_central_differences(hidden, rng):
    # Masks fixed, as in one training step: the masked outputs feed the next layer, the derivative reads z or a.
    sizes = [4, 6, 5, 3]
    weights, biases = network(rng, sizes)
    x = rng.normal(size=(7, 4))
    y = np.eye(3)[rng.integers(0, 3, 7)]
    activations = [hidden, "tanh", "softmax"]
    masks = [(rng.random((7, 6)) >= 0.3) / 0.7, None, None]

    def loss_of(w=weights, b=biases):
        cache = forward_pass(x, w, b, activations, [np.empty((7, u)) for u in sizes[1:]], masks)
        return mean_loss("categorical_crossentropy", cache[-1], y)

    outputs = [np.empty((7, u)) for u in sizes[1:]]
    pre = [np.empty((7, 6)), None, None]
    cache = forward_pass(x, weights, biases, activations, outputs, masks, pre_activations=pre)
    delta = output_delta("softmax", "categorical_crossentropy", cache[-1], y, 1.0 / len(x))
    grad_w, grad_b = backward_pass(cache, delta, weights, activations, masks=masks, outputs=outputs)
    for i in range(len(weights)):
        numeric_w = central_difference(lambda v, i=i: loss_of(w=[*weights[:i], v, *weights[i + 1:]]), weights[i])
        numeric_b = central_difference(lambda v, i=i: loss_of(b=[*biases[:i], v, *biases[i + 1:]]), biases[i])
        np.testing.assert_allclose(grad_w[i], numeric_w, rtol=1e-5, atol=1e-8)
        np.testing.assert_allclose(grad_b[i], numeric_b, rtol=1e-5, atol=1e-8)
    # gelu and silu keep z, in the buffer given; the other layers keep nothing besides their outputs
    keeps = hidden in ("gelu", "silu")
    assert [z is not None for z in cache.pre_activations] == [keeps, False, False]
    if keeps:
        assert cache.pre_activations[0] is pre[0]
        np.testing.assert_allclose(pre[0], x @ weights[0] + biases[0], rtol=1e-15)


def test_the_cache_is_the_list_of_layer_outputs_and_keeps_z_only_where_needed(rng):
    weights, biases = network(rng, [3, 4, 4, 2])
    x = rng.normal(size=(5, 3))
    cache = forward_pass(x, weights, biases, ["silu", "relu", "sigmoid"])
    assert isinstance(cache, list) and len(cache) == 4 and cache[0] is x
    z = x @ weights[0] + biases[0]
    np.testing.assert_allclose(cache.pre_activations[0], z, rtol=1e-15)
    np.testing.assert_allclose(cache[1], z / (1 + np.exp(-z)), rtol=1e-14)
    assert cache.pre_activations[1:] == [None, None]
    assert forward_pass(x, weights, biases, ["relu", "tanh", "sigmoid"]).pre_activations == [None, None, None]


def test_a_training_step_through_gelu_is_the_textbook_gradient_step():
    # One full batch of plain SGD: the weights move by -lr times backPropagation's gradients, through the
    # workspace's pre-activation buffers and dropout-free training path.
    from dnn import DNN

    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(16, 3)), rng.integers(0, 2, 16)
    model = DNN(lr=0.1, seed=0, dtype="float64")
    model.addInputLayer([3])
    model.addHiddenLayer([5, 4], activation=["gelu", "silu"])
    model.addOutputLayer([2])
    before = {layer: model.w[layer].copy() for layer in (2, 3, 4)}
    model.forwardPropagation(X)
    dW, _ = model.backPropagation(y)
    model.fit(X, y, epochs=1, batchSize=16, shuffle=False, verbose=0)
    for layer in (2, 3, 4):
        np.testing.assert_allclose(model.w[layer], before[layer] - 0.1 * dW[layer], rtol=1e-12, atol=1e-15)


def test_the_workspace_keeps_pre_activations_only_for_gelu_and_silu_layers():
    from dnn.engine.batches import Workspace

    plain = Workspace(8, [3, 5, 4, 2], np.float32, activations=["relu", "tanh", "softmax"])
    assert plain.views(8).pre_activations == [None, None, None]
    workspace = Workspace(8, [3, 5, 4, 2], np.float32, activations=["gelu", "elu", "softmax"])
    views = workspace.views(6).pre_activations
    assert views[0].shape == (6, 5) and views[0].dtype == np.float32 and views[1:] == [None, None]
    assert workspace.views(6).pre_activations is views  # made once per batch size
    assert np.shares_memory(workspace.views(8).pre_activations[0], views[0])
