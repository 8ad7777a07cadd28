"""Issue 12, item 1: validationSplit is drawn once, kept in the training state and in the model file."""

import copy

import numpy as np
import pytest

from dnn import DNN, ModelFileError
from dnn.engine.fit_setup import split_rows
from dnn.files import persistence
from dnn.losses import get_loss


def model_for():
    model = DNN(lr=0.1, momentum=0.9, seed=0, dtype="float64")
    model.addInputLayer([4])
    model.addHiddenLayer([8])
    model.addOutputLayer([3])
    return model


def blobs(n=100, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    return rng.normal(0, 3, (3, 4))[y] + rng.normal(size=(n, 4)), y


def first_epoch_loss_on(model, X, y, rows):
    """The mean loss of ``rows`` under the current weights: a one-batch epoch reports it before its update."""
    return get_loss("categorical_crossentropy")[0](model.forwardPropagation(X), np.eye(3)[y])[rows].mean()


def test_a_second_fit_validates_on_the_same_rows_and_trains_on_the_rest():
    X, y = blobs()
    model = model_for()
    train, validation = split_rows(copy.deepcopy(model.state.rng), np.eye(3)[y], "multiclass", 0.25)
    model.fit(X, y, epochs=2, batchSize=75, verbose=0, validationSplit=0.25)
    np.testing.assert_array_equal(model.state.validation_split["validation"], validation)
    expected = first_epoch_loss_on(model, X, y, train)
    history = model.fit(X, y, epochs=1, batchSize=75, verbose=0, validationSplit=0.25)
    assert history["loss"][-1] == pytest.approx(expected, rel=1e-12)  # trained on the first call's training rows
    assert history["val_loss"][-1] == pytest.approx(
        model.modelEvaluate(X[validation], y[validation], verbose=0)["loss"], rel=1e-12)
    np.testing.assert_array_equal(model.state.validation_split["validation"], validation)


def test_the_split_is_saved_with_the_model(tmp_path):
    X, y = blobs()
    model = model_for()
    model.fit(X, y, epochs=1, batchSize=10, verbose=0, validationSplit=0.2)
    model.saveModel(tmp_path / "m.pkl")
    loaded = DNN.importModel(tmp_path / "m.pkl")
    np.testing.assert_array_equal(loaded.state.validation_split["validation"],
                                  model.state.validation_split["validation"])
    for m in (model, loaded):
        m.fit(X, y, epochs=2, batchSize=10, verbose=0, validationSplit=0.2)
    assert loaded.history == {**model.history, "time": loaded.history["time"]}
    np.testing.assert_array_equal(loaded.w[2], model.w[2])


def test_a_different_number_of_rows_draws_a_new_split_and_says_so():
    X, y = blobs(120)
    model = model_for()
    model.fit(X[:100], y[:100], epochs=1, batchSize=10, verbose=0, validationSplit=0.25)
    rng = copy.deepcopy(model.state.rng)
    _, expected = split_rows(rng, np.eye(3)[y], "multiclass", 0.25)
    with pytest.warns(UserWarning, match="this fit has 120 rows instead of the 100 of the split kept") as caught:
        model.fit(X, y, epochs=1, batchSize=10, verbose=0, validationSplit=0.25)
    assert caught[0].filename == __file__  # the warning points at the fit call
    np.testing.assert_array_equal(model.state.validation_split["validation"], expected)
    assert model.state.validation_split["rows"] == 120
    with pytest.warns(UserWarning, match="validationSplit 0.5 instead of 0.25"):
        model.fit(X, y, epochs=1, batchSize=10, verbose=0, validationSplit=0.5)


@pytest.mark.parametrize(("split", "message"), [
    ({"fraction": 0.2, "rows": 10}, "must hold 'fraction', 'rows' and 'validation'"),
    ({"fraction": 1.5, "rows": 10, "validation": np.array([1])}, "fraction must be a number in \\(0, 1\\)"),
    ({"fraction": 0.2, "rows": 10, "validation": np.array([3, 3])}, "increasing row numbers"),
    ({"fraction": 0.2, "rows": 10, "validation": np.array([4, 10])}, "increasing row numbers below"),
    ({"fraction": 0.2, "rows": 10, "validation": np.array([0.5])}, "must be a list of row numbers"),
])
def test_a_bad_kept_split_in_a_file_is_refused(split, message, tmp_path):
    X, y = blobs(20)
    model = model_for()
    model.fit(X, y, epochs=1, batchSize=10, verbose=0)
    payload = {**persistence.to_payload(model), "validation_split": split}
    path = tmp_path / "m.pkl"
    path.write_bytes(persistence.file_bytes(payload))
    with pytest.raises(ModelFileError, match=message):
        DNN.importModel(path)
    del payload["validation_split"]  # files written before the field existed load without a kept split
    path.write_bytes(persistence.file_bytes(payload))
    assert DNN.importModel(path).state.validation_split is None
