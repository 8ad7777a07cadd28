import re

import numpy as np
import pytest
from conftest import central_difference

from dnn import DNN
from dnn.activations import HIDDEN_ACTIVATIONS
from dnn.backprop import forward_pass
from dnn.losses import COMPATIBLE_LOSSES, mean_loss

OUTPUT_PAIRS = [(act, loss) for act, losses in COMPATIBLE_LOSSES.items() for loss in losses]


def build(sizes, hidden="relu", output="softmax", loss=None, **options):
    model = DNN(**options)
    model.addInputLayer([sizes[0]])
    if len(sizes) > 2:
        model.addHiddenLayer(list(sizes[1:-1]), activation=hidden)
    model.addOutputLayer([sizes[-1]], activation=output, loss=loss)
    return model


def weights_of(model):
    return [model.w[k].copy() for k in sorted(model.w)] + [model.b[k].copy() for k in sorted(model.b)]


# ---------------------------------------------------------------- building


def test_summary_counts_parameters_of_the_tutorial_network(capsys):
    model = build([784, 50, 100, 10])
    assert model.summary() is None
    text = capsys.readouterr().out
    assert "Total parameters: 45,360" in text
    # every layer's row: number, kind, units, activation, shapes, count
    assert re.search(r"\|\s+2 \| hidden\s+\|\s+50 \| relu\s+\|\s+\(784, 50\) \|\s+\(50,\) \|\s+39,250 \|", text)
    assert re.search(r"\|\s+4 \| output\s+\|\s+10 \| softmax\s+\|\s+\(100, 10\) \|", text)
    assert "categorical_crossentropy" in text and "lr 0.01" in text


def test_layers_and_parameter_shapes():
    model = build([4, 3, 2], hidden="tanh", output="sigmoid")
    assert model.units == [4, 3, 2]
    assert model.w[2].shape == (4, 3) and model.b[2].shape == (3,)
    assert model.w[3].shape == (3, 2) and model.b[3].shape == (2,)
    assert model.loss == "binary_crossentropy"
    assert model.w[2].dtype == np.float32


def test_one_activation_per_hidden_layer():
    model = DNN()
    model.addInputLayer([3])
    model.addHiddenLayer([4, 5], activation=["tanh", "relu"])
    assert model.activations == [None, "tanh", "relu"]
    with pytest.raises(ValueError, match="one per layer: 2 layers but 3 activations"):
        model.addHiddenLayer([4, 5], activation=["tanh", "relu", "relu"])


@pytest.mark.parametrize(("call", "message"), [
    (lambda m: m.addHiddenLayer([3]), "add the input layer first"),
    (lambda m: m.addOutputLayer([3]), "add the input layer first"),
    (lambda m: m.fit(np.zeros((2, 2)), [0, 1]), "fit needs a complete network"),
    (lambda m: m.predict(np.zeros((2, 2))), "needs a complete network"),
])
def test_wrong_order_is_refused(call, message):
    with pytest.raises(ValueError, match=message):
        call(DNN())


def test_layers_after_the_output_are_refused():
    model = build([2, 3, 2])
    before = (list(model.units), weights_of(model))
    with pytest.raises(ValueError, match="output layer is already added"):
        model.addHiddenLayer([4])
    with pytest.raises(ValueError, match="output layer is already added"):
        model.addOutputLayer([2])
    with pytest.raises(ValueError, match="input layer is already added"):
        model.addInputLayer([2])
    assert model.units == before[0]
    for a, b in zip(weights_of(model), before[1]):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(("call", "message"), [
    (lambda m: m.addHiddenLayer([3], activation="softmax"), "only available in the output layer"),
    (lambda m: m.addHiddenLayer([3], activation="relux"), "valid names: sigmoid, tanh, relu, leaky_relu, identity"),
    (lambda m: m.addOutputLayer([3], activation="relu"), "valid names: softmax, sigmoid, identity"),
    (lambda m: m.addOutputLayer([3], loss="msee"), "unknown loss 'msee'; did you mean 'squared_error'"),
    (lambda m: m.addOutputLayer([3], activation="identity", loss="categorical_crossentropy"), "needs probabilities"),
    (lambda m: m.addOutputLayer([1], activation="softmax"), "at least 2 units"),
    (lambda m: m.addHiddenLayer([0]), "positive integers, got 0"),
    (lambda m: m.addHiddenLayer([2.5]), "positive integers, got 2.5"),
    (lambda m: m.addHiddenLayer([]), "list of layer sizes"),
])
def test_bad_layer_arguments(call, message):
    model = DNN()
    model.addInputLayer([4])
    with pytest.raises(ValueError, match=message):
        call(model)
    assert model.units == [4]


@pytest.mark.parametrize(("options", "message"), [
    ({"optimizer": "adamax"}, "valid names: sgd, adam, rmsprop"),
    ({"lr": 0}, "lr must be > 0"),
    ({"lr": float("nan")}, "lr must be a finite number"),
    ({"momentum": 1.0}, "momentum must be < 1"),
    ({"dtype": "float16"}, "dtype must be 'float32' or 'float64'"),
    ({"seed": -1}, "seed must be a non-negative integer"),
    ({"decay": -0.1}, "decay must be >= 0"),
])
def test_bad_constructor_arguments(options, message):
    with pytest.raises(ValueError, match=message):
        DNN(**options)


# ---------------------------------------------------------------- gradients


@pytest.mark.parametrize("hidden", HIDDEN_ACTIVATIONS)
@pytest.mark.parametrize(("output", "loss"), OUTPUT_PAIRS)
def test_gradient_check_every_combination(hidden, output, loss):
    rng = np.random.default_rng(7)
    X = rng.normal(size=(12, 4))
    y = rng.normal(size=(12, 3)) if output == "identity" else rng.integers(0, 3, 12)
    model = build([4, 6, 5, 3], hidden=hidden, output=output, loss=loss, seed=3, dtype="float64", l2=0.01)
    errors = model.gradientCheck(X, y)
    assert set(errors) == {"w2", "b2", "w3", "b3", "w4", "b4"}
    assert max(errors.values()) < 1e-6, errors


def test_gradient_check_detects_a_wrong_gradient(monkeypatch):
    """A check that cannot fail is no check: corrupt relu's derivative and the error must show."""
    from dnn import activations

    def wrong_backward(a, grad, out=None):
        return np.multiply(grad, 0.9 * (a > 0), out=out)

    monkeypatch.setitem(activations.ACTIVATIONS, "relu", (activations.relu_forward, wrong_backward))
    rng = np.random.default_rng(0)
    model = build([3, 4, 2], seed=0, dtype="float64")
    errors = model.gradientCheck(rng.normal(size=(8, 3)), rng.integers(0, 2, 8))
    assert errors["w2"] > 0.05 and errors["w3"] < 1e-6


def test_gradient_check_leaves_a_float32_model_unchanged():
    rng = np.random.default_rng(1)
    model = build([3, 5, 2], hidden="tanh", seed=1)
    before = weights_of(model)
    errors = model.gradientCheck(rng.normal(size=(6, 3)), rng.integers(0, 2, 6), entries=4)
    assert max(errors.values()) < 1e-6
    for a, b in zip(weights_of(model), before):
        np.testing.assert_array_equal(a, b)
        assert a.dtype == np.float32


def test_back_propagation_returns_layer_dicts_matching_central_differences():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(5, 3))
    y = np.array([0, 1, 1, 0, 1])
    model = build([3, 4, 2], hidden="sigmoid", output="sigmoid", loss="squared_error", seed=5, dtype="float64")
    output = model.forwardPropagation(X)
    assert output.shape == (5, 2)
    dW, db = model.backPropagation(y)
    assert set(dW) == set(db) == {2, 3}
    onehot = np.eye(2)[y]
    acts = model.activations[1:]
    weights = [model.w[2], model.w[3]]
    biases = [model.b[2], model.b[3]]
    numeric_w3 = central_difference(lambda v: mean_loss("squared_error",
                                    forward_pass(X, [weights[0], v], biases, acts)[-1], onehot), weights[1])
    numeric_b2 = central_difference(lambda v: mean_loss("squared_error",
                                    forward_pass(X, weights, [v, biases[1]], acts)[-1], onehot), biases[0])
    np.testing.assert_allclose(dW[3], numeric_w3, rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(db[2], numeric_b2, rtol=1e-6, atol=1e-10)


def test_back_propagation_needs_a_forward_pass():
    with pytest.raises(ValueError, match="call forwardPropagation"):
        build([2, 2]).backPropagation([0])


# ---------------------------------------------------------------- weights by hand


def test_weights_set_by_hand_textbook_example():
    model = build([2, 2, 1], hidden="relu", output="identity")
    model.w[2] = [[1.0, -1.0], [2.0, 0.5]]
    model.b[2] = np.array([0.0, 1.0])
    model.w[3] = np.array([[3.0], [-2.0]])
    model.b[3] = np.array([0.5])
    np.testing.assert_allclose(model.forwardPropagation([[1.0, 1.0], [-1.0, 2.0]]), [[8.5], [3.5]])
    np.testing.assert_allclose(model.predict([[1.0, 1.0]]), [8.5])
    assert model.w[2].dtype == np.float32


def test_weights_of_the_wrong_shape_are_refused_when_assigned():
    model = build([2, 3, 1], output="identity", seed=0)
    before = model.w[2].copy()
    with pytest.raises(ValueError, match=r"model.w\[2\] must have shape \(2, 3\), got \(3, 2\)"):
        model.w[2] = np.zeros((3, 2))
    np.testing.assert_array_equal(model.w[2], before)


def test_training_does_not_write_into_the_users_array():
    X = np.array([[0.0, 1.0], [1.0, 0.0]])
    mine = np.full((2, 2), 0.1)
    model = build([2, 2], seed=0)
    model.w[2] = mine
    model.fit(X, [0, 1], epochs=3, batchSize=2, verbose=0)
    np.testing.assert_array_equal(mine, np.full((2, 2), 0.1))
    assert not np.allclose(model.w[2], 0.1)


# ---------------------------------------------------------------- training


def test_xor_is_learned():
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    y = np.array([0, 1, 1, 0])
    model = build([2, 8, 2], hidden="tanh", lr=0.5, momentum=0.9, seed=0)
    model.fit(X, y, epochs=300, batchSize=4, verbose=0)
    np.testing.assert_array_equal(model.predict(X), y)
    assert model.history["accuracy"][-1] == 1.0


# Random labels: nothing to learn, and a stall warning that is expected; the bits are the point.
@pytest.mark.filterwarnings("ignore::dnn.errors.TrainingStalledWarning")
def test_same_seed_gives_bit_identical_weights():
    rng = np.random.default_rng(4)
    X, y = rng.normal(size=(50, 5)), rng.integers(0, 3, 50)
    runs = []
    for _ in range(2):
        model = build([5, 8, 3], seed=42, momentum=0.9)
        runs.append(weights_of(model))
        model.fit(X, y, epochs=3, batchSize=7, verbose=0)
        runs.append(weights_of(model))
    for a, b in zip(runs[0] + runs[1], runs[2] + runs[3]):
        np.testing.assert_array_equal(a, b)
    other = build([5, 8, 3], seed=43)
    assert not np.array_equal(other.w[2], runs[0][0])


def test_decay_gives_the_exact_learning_rates():
    model = build([2, 2], lr=0.1, decay=0.5, seed=0)
    history = model.fit(np.eye(2), [0, 1], epochs=3, batchSize=2, verbose=0)
    assert history["lr"] == [0.1, 0.1 / 1.5, 0.1 / 2.0]
    history = model.fit(np.eye(2), [0, 1], epochs=1, batchSize=2, verbose=0)
    assert history["lr"][-1] == 0.1 / 2.5


def test_epoch_loss_is_accumulated_from_the_batches():
    """With one batch per epoch, the epoch's loss is the loss before its only update."""
    rng = np.random.default_rng(5)
    X, y = rng.normal(size=(20, 3)), rng.integers(0, 2, 20)
    model = build([3, 4, 2], seed=1, dtype="float64", l2=0.1)
    before = model.modelEvaluate(X, y, verbose=0)
    history = model.fit(X, y, epochs=1, batchSize=20, verbose=0)
    assert history["loss"][0] == pytest.approx(before["loss"], rel=1e-12)
    assert history["accuracy"][0] == before["accuracy"]
    assert set(history) == {"loss", "accuracy", "lr", "time"}


def test_continuing_fit_equals_one_long_fit():
    rng = np.random.default_rng(6)
    X, y = rng.normal(size=(40, 4)), rng.integers(0, 3, 40)
    once = build([4, 6, 3], seed=9, momentum=0.9, decay=0.1)
    once.fit(X, y, epochs=4, batchSize=8, verbose=0)
    twice = build([4, 6, 3], seed=9, momentum=0.9, decay=0.1)
    twice.fit(X, y, epochs=2, batchSize=8, verbose=0)
    history = twice.fit(X, y, epochs=2, batchSize=8, verbose=0)
    for a, b in zip(weights_of(once), weights_of(twice)):
        np.testing.assert_array_equal(a, b)
    assert history is twice.history and len(history["loss"]) == 4
    assert history["loss"] == once.history["loss"]


def test_adam_trains():
    rng = np.random.default_rng(8)
    X = rng.normal(size=(200, 2))
    y = (X[:, 0] * X[:, 1] > 0).astype(int)
    model = build([2, 16, 2], optimizer="adam", lr=0.01, seed=0)
    model.fit(X, y, epochs=60, batchSize=20, verbose=0)
    assert model.modelEvaluate(X, y, verbose=0)["accuracy"] > 0.95


def test_regression_with_several_outputs():
    rng = np.random.default_rng(9)
    X = rng.uniform(-1, 1, (300, 2))
    Y = np.column_stack([X[:, 0] + 2 * X[:, 1], X[:, 0] - X[:, 1]])
    model = build([2, 2], output="identity", lr=0.1, seed=0, dtype="float64")
    model.fit(X, Y, epochs=100, batchSize=30, verbose=0)
    np.testing.assert_allclose(model.w[2], [[1, 1], [2, -1]], atol=1e-6)
    result = model.modelEvaluate(X, Y, verbose=0)
    assert result["r2"] > 0.999999 and "accuracy" not in result
    assert model.predict(X).shape == (300, 2)
    assert "accuracy" not in model.history


def test_predict_gives_back_the_users_labels():
    X = np.array([[0.0, 1.0], [1.0, 0.0]] * 10)
    y = np.array(["cat", "dog"] * 10)
    model = build([2, 2], lr=0.5, seed=0)
    model.fit(X, y, epochs=50, batchSize=4, verbose=0)
    assert model.predict(X[:2]).tolist() == ["cat", "dog"]
    proba = model.predictProba(X[:2])
    assert proba.shape == (2, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-6)


def test_binary_sigmoid_output():
    X = np.array([[0.0], [1.0], [2.0], [3.0]])
    y = np.array([False, False, True, True])
    model = build([1, 1], output="sigmoid", lr=1.0, seed=0)
    model.fit(X, y, epochs=300, batchSize=4, verbose=0)
    assert model.predict(X).tolist() == [False, False, True, True]
    proba = model.predictProba(X)
    assert proba.shape == (4, 2)
    np.testing.assert_allclose(proba[:, 1], model.forwardPropagation(X)[:, 0])


def test_float64_on_request_and_float32_stays_float32():
    rng = np.random.default_rng(10)
    X, y = rng.normal(size=(30, 3)), rng.integers(0, 2, 30)
    for dtype in ("float32", "float64"):
        model = build([3, 4, 2], seed=0, dtype=dtype, momentum=0.9, l2=1e-3)
        model.fit(X, y, epochs=2, batchSize=8, verbose=0)
        assert all(a.dtype == np.dtype(dtype) for a in weights_of(model))
        assert model.predictProba(X).dtype == np.dtype(dtype)


def test_batch_size_above_sample_count_is_clipped_with_a_warning():
    model = build([2, 2], seed=0)
    with pytest.warns(UserWarning, match="batchSize 50 is larger than the 4 training samples; using 4"):
        model.fit(np.eye(2).repeat(2, axis=0), [0, 1, 0, 1], epochs=1, batchSize=50, verbose=0)


def test_verbose_modes(capsys):
    X, y = np.eye(2), [0, 1]
    model = build([2, 2], seed=0)
    model.fit(X, y, epochs=2, batchSize=1, verbose=2)
    out = capsys.readouterr().out.splitlines()
    epochs = [line for line in out if line.startswith("Epoch")]
    assert len(epochs) == 2 and epochs[1].startswith("Epoch 2/2 - loss ")
    assert any("BLAS thread" in line for line in out)  # verbose=2 also says which thread count it uses
    model.fit(X, y, epochs=1, batchSize=1, verbose=1)
    captured = capsys.readouterr()
    # stderr captured, not a terminal: the epoch's line instead of a bar; epochs count over both fits
    assert captured.err.startswith("Epoch 3/3 - loss ") and len(captured.err.splitlines()) == 1
    model.fit(X, y, epochs=1, batchSize=1, verbose=0)
    captured = capsys.readouterr()
    assert captured.out == captured.err == ""


def test_model_evaluate_prints_a_table(capsys):
    model = build([2, 2], seed=0)
    result = model.modelEvaluate(np.eye(2), [0, 1])
    out = capsys.readouterr().out
    assert "accuracy" in out and f"{result['loss']:.4f}" in out


def test_predict_proba_refuses_regression():
    with pytest.raises(ValueError, match="predictProba is for classifiers"):
        build([2, 1], output="identity").predictProba([[1.0, 2.0]])
