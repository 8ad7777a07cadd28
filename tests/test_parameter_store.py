"""One store for the weights: model.w[l] and model.b[l] are views of the flat parameter array, checked when assigned."""

import copy
import pickle

import numpy as np
import pytest

from dnn import DNN


def network(dtype="float32", seed=0):
    model = DNN(lr=0.1, seed=seed, dtype=dtype)
    model.addInputLayer([2])
    model.addHiddenLayer([3], activation="tanh")
    model.addOutputLayer([1], activation="identity")
    return model


def by_hand(model, X):
    """The network's output for X, computed here from copies of its weights."""
    h = np.tanh(X @ model.w[2].astype(np.float64) + model.b[2])
    return h @ model.w[3].astype(np.float64) + model.b[3]


X = np.array([[0.5, -1.0], [2.0, 0.25], [-0.75, 1.5]])
Y = np.array([0.3, -0.2, 0.9])


def test_w_and_b_are_views_of_the_one_flat_array_from_the_start():
    model = network()
    flat = model.state.params.flat
    for layer in (2, 3):
        assert np.shares_memory(model.w[layer], flat) and np.shares_memory(model.b[layer], flat)
    # laid out w_2, w_3, b_2, b_3
    expected = np.concatenate([model.w[2].ravel(), model.w[3].ravel(), model.b[2], model.b[3]])
    np.testing.assert_array_equal(flat, expected)


def test_an_edit_in_place_is_seen_by_predict_and_by_fit():
    model, twin = network(), network()
    model.w[2][0, 0] = 1.5
    model.b[3][...] = -0.25
    np.testing.assert_allclose(model.predict(X), by_hand(model, X).ravel(), rtol=1e-6)
    assert model.w[2][0, 0] == 1.5
    # fit starts from the edited values: the same as assigning them
    twin.w[2] = np.where(np.arange(6).reshape(2, 3) == 0, 1.5, twin.w[2])
    twin.b[3] = [-0.25]
    model.fit(X, Y, epochs=2, batchSize=3, verbose=0)
    twin.fit(X, Y, epochs=2, batchSize=3, verbose=0)
    for layer in (2, 3):
        np.testing.assert_array_equal(model.w[layer], twin.w[layer])
        np.testing.assert_array_equal(model.b[layer], twin.b[layer])


def test_an_assigned_array_is_copied_in_and_never_kept():
    model = network()
    mine = np.full((2, 3), 0.5)
    model.w[2] = mine
    assert model.w[2].dtype == np.float32 and not np.shares_memory(model.w[2], mine)
    mine[...] = 7.0  # the model holds its own copy
    np.testing.assert_array_equal(model.w[2], np.full((2, 3), 0.5, np.float32))
    model.fit(X, Y, epochs=3, batchSize=3, verbose=0)
    np.testing.assert_array_equal(mine, 7.0)  # training never writes the caller's array
    assert np.shares_memory(model.w[2], model.state.params.flat)


REFUSED = [
    ("w", 2, np.zeros((3, 2)), r"model.w\[2\] must have shape \(2, 3\), got \(3, 2\)"),
    ("b", 3, np.zeros(2), r"model.b\[3\] must have shape \(1,\), got \(2,\)"),
    ("w", 3, None, r"model.w\[3\] must be an array of shape \(3, 1\), got None"),
    ("w", 2, [[1.0, 2.0, 3.0], [4.0, 5.0]], r"model.w\[2\] must be an array of shape \(2, 3\), got a list"),
    ("w", 2, np.full((2, 3), "1.5"), r"model.w\[2\] must hold real numbers .*got dtype <U3"),
    ("b", 2, np.zeros(3, complex), r"model.b\[2\] must hold real numbers .*got dtype complex128"),
    ("w", 2, [[0.0, np.nan, 0.0], [0.0, 0.0, 0.0]], r"model.w\[2\] must hold finite numbers in the model's float32, "
                                                   r"got NaN or infinite values"),
    ("b", 3, [-np.inf], r"model.b\[3\] must hold finite numbers .*got NaN or infinite values"),
    # finite in float64, infinite once stored in float32 (largest about 3.4e38)
    ("w", 3, np.full((3, 1), 1e300), r"model.w\[3\] must hold finite numbers in the model's float32, got values "
                                     r"beyond its range"),
]


@pytest.mark.parametrize(("name", "layer", "value", "message"), REFUSED)
def test_a_refused_assignment_names_the_layer_and_changes_nothing(name, layer, value, message):
    model = network()
    before = model.state.params.flat.copy()
    with pytest.raises(ValueError, match=message):
        getattr(model, name)[layer] = value
    np.testing.assert_array_equal(model.state.params.flat, before)


def test_a_float64_model_takes_what_float32_cannot_hold():
    model = network(dtype="float64")
    model.w[3] = np.full((3, 1), 1e300)
    assert model.w[3][0, 0] == 1e300


def test_assigning_several_layers_checks_them_all_first():
    model = network()
    before = model.state.params.flat.copy()
    with pytest.raises(ValueError, match=r"model.w\[3\] must have shape \(3, 1\)"):
        model.w.update({2: np.ones((2, 3)), 3: np.ones((1, 3))})
    np.testing.assert_array_equal(model.state.params.flat, before)  # w[2] was not written either
    model.w |= {3: np.ones((3, 1))}
    np.testing.assert_array_equal(model.w[3], np.ones((3, 1)))


def test_assigning_the_whole_dict_sets_every_layer():
    model, other = network(seed=0), network(seed=1)
    model.w, model.b = dict(other.w), dict(other.b)
    np.testing.assert_array_equal(model.predict(X), other.predict(X))
    assert not np.shares_memory(model.w[2], other.state.params.flat)
    with pytest.raises(ValueError, match=r"model.w = \{...\} must give every layer; it lacks \[3\]"):
        model.w = {2: np.zeros((2, 3))}
    with pytest.raises(ValueError, match=r"model\.b takes a dict from layer number to array, got list"):
        model.b = [np.zeros(3), np.zeros(1)]
    np.testing.assert_array_equal(model.w[2], other.w[2])


@pytest.mark.parametrize("duplicate", [copy.deepcopy, lambda m: pickle.loads(pickle.dumps(m))])
def test_copies_are_independent_models_with_their_own_store(duplicate):
    model = network()
    model.fit(X, Y, epochs=1, batchSize=3, verbose=0)
    twin = duplicate(model)
    assert all(np.shares_memory(twin.w[layer], twin.state.params.flat) for layer in (2, 3))
    assert not np.shares_memory(twin.state.params.flat, model.state.params.flat)
    twin.w[2][0, 0] = 100.0
    assert model.w[2][0, 0] != 100.0
    np.testing.assert_allclose(twin.predict(X), by_hand(twin, X).ravel(), rtol=1e-5)


def test_a_model_built_without_initial_weights_needs_every_array_before_use():
    model = DNN.fromConfig(network().getConfig(), initialize=False)
    assert model.w[2] is None and model.b[3] is None
    model.w[2], model.b[2] = np.ones((2, 3)), np.zeros(3)
    with pytest.raises(ValueError, match=r"model.w\[3\] is missing; it must be an array of shape \(3, 1\)"):
        model.predict(X)
    model.w[3], model.b[3] = np.ones((3, 1)), np.zeros(1)
    np.testing.assert_allclose(model.predict(X), np.tanh(X.sum(axis=1, keepdims=True) * np.ones((1, 3))).sum(axis=1),
                               rtol=1e-6)
