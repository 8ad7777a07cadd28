"""No prediction or evaluation returns NaN or infinity: an overflowing network raises, naming the layer."""

import numpy as np
import pytest

from dnn import DNN, NonFiniteOutputError


def network(hidden=(5,)):
    model = DNN(seed=0)
    model.addInputLayer([4])
    model.addHiddenLayer(list(hidden), activation="relu")
    model.addOutputLayer([3])
    return model


QUERIES = {
    "predict": lambda m, X, y: m.predict(X),
    "predictProba": lambda m, X, y: m.predictProba(X),
    "predictLogProba": lambda m, X, y: m.predictLogProba(X),
    "modelEvaluate": lambda m, X, y: m.modelEvaluate(X, y, verbose=0),
}


@pytest.mark.parametrize("query", sorted(QUERIES))
def test_weights_near_the_float32_limit_raise_instead_of_returning_nan(query):
    model = network()
    model.w[2] = np.full((4, 5), 3e38)          # finite, but four of them summed overflow float32 (max 3.4e38)
    X, y = np.ones((6, 4)), np.zeros(6, dtype=int)
    with pytest.raises(NonFiniteOutputError, match=r"row 0: layer 2's weighted sums overflow float32 \(w\[2\] has "
                                                   r"weights as large as 3e\+38"):
        QUERIES[query](model, X, y)


def test_the_first_overflowing_layer_is_named_and_the_row_is_the_first_bad_one():
    model = network(hidden=(5, 5))
    model.w[3] = np.full((5, 5), 1e37)
    model.w[2] = np.zeros((4, 5))
    model.b[2] = np.zeros(5)
    X = np.zeros((4, 4))
    X[2, 0] = 1.0
    model.w[2][0] = 50.0                         # only row 2 reaches layer 3 with 50s: 5 * 50 * 1e37 overflows
    with pytest.raises(NonFiniteOutputError, match=r"row 2: layer 3's weighted sums overflow float32 .*what enters "
                                                   r"layer 3 reaches 50"):
        model.predictProba(X)
    np.testing.assert_array_equal(model.predict(X[:2]), model.predict(X[:2]))   # the finite rows still answer


def test_a_model_file_with_huge_finite_weights_loads_but_never_predicts_nan(tmp_path):
    model = network()
    model.w[2] = np.full((4, 5), 3e38)
    model.saveModel(tmp_path / "huge.pkl")
    loaded = DNN.importModel(tmp_path / "huge.pkl")
    with pytest.raises(NonFiniteOutputError, match="Retrain with a lower learning rate"):
        loaded.predictProba(np.ones((1, 4)))


def test_float64_holds_what_overflows_float32():
    model = DNN(seed=0, dtype="float64")
    model.addInputLayer([4])
    model.addOutputLayer([3])
    model.w[2] = np.full((4, 3), 3e38)
    p = model.predictProba(np.ones((2, 4)))
    np.testing.assert_allclose(p, 1 / 3)         # equal logits: equal probabilities
