"""Every class of bad input gets a ValueError that names the problem, and the model does not change."""

import copy

import numpy as np
import pandas as pd
import pytest

from dnn import DNN


def fitted():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"height": rng.normal(170, 10, 60), "weight": rng.normal(70, 8, 60),
                          "age": rng.integers(18, 80, 60)})
    model = DNN(lr=0.05, momentum=0.9, seed=0, standardize=True)
    model.addInputLayer([3])
    model.addHiddenLayer([5])
    model.addOutputLayer([3])
    model.fit(frame, rng.integers(0, 3, 60), epochs=2, batchSize=10, verbose=0, parameterList=[("w", 2, 1, 1)])
    return model, frame


def state(model):
    """Everything a failed call must leave as it was."""
    training_state = vars(model.state)
    return {
        "params": model.state.params.flat.copy(),
        "optimizer": model.state.optimizer.snapshot(),
        "rng": copy.deepcopy(model.state.rng.bit_generator.state),
        "attributes": copy.deepcopy({**{k: v for k, v in vars(model).items()
                                        if k not in ("state", "w", "b", "_cache", "_thread_policies")},
                                     **{f"state.{k}": v for k, v in training_state.items()
                                        if k not in ("params", "optimizer", "rng")},
                                     "optimizer": model.state.optimizer.config()}),
    }


def assert_same(before, after):
    np.testing.assert_array_equal(before["params"], after["params"])
    assert before["rng"] == after["rng"]
    assert before["optimizer"].keys() == after["optimizer"].keys()
    for key, value in before["optimizer"].items():
        np.testing.assert_array_equal(value, after["optimizer"][key])
    assert before["attributes"].keys() == after["attributes"].keys()
    for key, value in before["attributes"].items():
        other = after["attributes"][key]
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(value, other)
        else:
            assert value == other, key


def check_refused(call, message):
    model, frame = fitted()
    before = state(model)
    with pytest.raises(ValueError, match=message):
        call(model, frame)
    assert_same(before, state(model))


def labels(n=60):
    return np.arange(n) % 3


def test_nan_or_infinity_in_X():
    def with_value(value):
        def call(model, frame):
            bad = frame.copy()
            bad.iloc[7, 1] = value
            model.fit(bad, labels(), epochs=1, verbose=0)
        return call

    check_refused(with_value(np.nan), r"X contains NaN or infinity \(first in row 7\)")
    check_refused(with_value(np.inf), r"X contains NaN or infinity \(first in row 7\)")
    check_refused(lambda m, f: m.predict(f.assign(age=np.where(np.arange(60) == 3, -np.inf, 1.0))),
                  r"first in row 3")


def test_nan_or_missing_values_in_y():
    y = labels().astype(float)
    y[5] = np.nan
    check_refused(lambda m, f: m.fit(f, y, epochs=1, verbose=0), r"y contains NaN or infinity \(first at index")
    series = pd.Series(pd.array(labels(), dtype="Int64"))
    series[9] = pd.NA
    check_refused(lambda m, f: m.fit(f, series, epochs=1, verbose=0), r"y contains missing values \(first in row 9\)")


def test_wrong_number_of_features():
    check_refused(lambda m, f: m.fit(f.to_numpy()[:, :2], labels(), epochs=1, verbose=0),
                  "X has 2 features but the input layer has 3 units")
    check_refused(lambda m, f: m.predict(np.ones((4, 5))), "X has 5 features but the input layer has 3 units")


def test_X_and_y_of_different_lengths():
    check_refused(lambda m, f: m.fit(f, labels(59), epochs=1, verbose=0), "X has 60 samples but y has 59")


def test_empty_X():
    check_refused(lambda m, f: m.fit(f.iloc[:0], labels(0), epochs=1, verbose=0), "X is empty")
    check_refused(lambda m, f: m.predict(np.empty((0, 3))), "X is empty")


def test_non_numeric_columns_are_named():
    check_refused(lambda m, f: m.fit(f.assign(age=["young"] * 60), labels(), epochs=1, verbose=0),
                  r"X has non-numeric columns \['age'\]")
    check_refused(lambda m, f: m.predict([["a", "b", "c"]]), "X must hold numbers")


def test_labels_outside_the_classes():
    check_refused(lambda m, f: m.fit(f, np.where(labels() == 2, 7, labels()), epochs=1, verbose=0),
                  r"integer labels must be class indices 0..2 for this output layer, got \[7\]")
    check_refused(lambda m, f: m.fit(f, np.array(["a", "b", "c"])[labels()], epochs=1, verbose=0),
                  r"labels \['a', 'b', 'c'\] are not among the model's classes \[0, 1, 2\]")


def test_more_classes_than_output_units():
    model = DNN(seed=0)
    model.addInputLayer([1])
    model.addOutputLayer([3])
    before = state(model)
    with pytest.raises(ValueError, match="y has 4 classes but the output layer has room for 3"):
        model.fit(np.ones((4, 1)), ["a", "b", "c", "d"], epochs=1, verbose=0)
    assert_same(before, state(model))


def test_one_hot_width_mismatch():
    check_refused(lambda m, f: m.fit(f, np.eye(4)[labels() % 4], epochs=1, verbose=0),
                  "y is a matrix with 4 columns but the output layer has 3 units")


@pytest.mark.parametrize(("options", "message"), [
    ({"epochs": 0}, "epochs must be a positive integer, got 0"),
    ({"epochs": -3}, "epochs must be a positive integer, got -3"),
    ({"epochs": 2.5}, "epochs must be a positive integer, got 2.5"),
    ({"batchSize": 0}, "batchSize must be a positive integer, got 0"),
    ({"batchSize": -8}, "batchSize must be a positive integer, got -8"),
    ({"verbose": 3}, "verbose must be 0, 1 or 2"),
])
def test_bad_epochs_or_batch_size(options, message):
    check_refused(lambda m, f: m.fit(f, labels(), **{"verbose": 0, **options}), message)


def test_regression_targets_with_a_classification_output():
    check_refused(lambda m, f: m.fit(f, np.linspace(0, 1, 60), epochs=1, verbose=0),
                  "non-integer values such as .* look like regression targets, but the output layer is a classifier")


def test_bad_validation_data_names_itself():
    check_refused(lambda m, f: m.fit(f, labels(), epochs=1, verbose=0, validationData=(f.iloc[:, :2], labels())),
                  r"validationData: X does not have the columns .*missing columns \['age'\]")


def test_a_split_that_leaves_no_validation_rows():
    check_refused(lambda m, f: m.fit(f.iloc[:3], labels(3), epochs=1, verbose=0, validationSplit=0.1),
                  "leaves an empty training or validation set")


# ---------------------------------------------------------------- issue 12, item 9: no error worded by numpy


def fresh(output=3, activation="softmax"):
    model = DNN(seed=0)
    model.addInputLayer([3])
    model.addOutputLayer([output], activation=activation)
    return model


@pytest.mark.parametrize("output", [(3, "softmax"), (1, "sigmoid"), (1, "identity")])
def test_empty_y_on_a_fresh_model(output):
    """Was IndexError (learning the classes of no labels) for the classifiers."""
    with pytest.raises(ValueError, match=r"^y is empty: it has no samples$"):
        fresh(*output).fit(np.zeros((4, 3)), np.array([], dtype=int), epochs=1, verbose=0)
    check_refused(lambda m, f: m.fit(f, [], epochs=1, verbose=0), "^y is empty")


@pytest.mark.parametrize("activation", ["softmax", "sigmoid"])
def test_empty_one_hot_y(activation):
    """Was "zero-size array to reduction operation minimum which has no identity"."""
    with pytest.raises(ValueError, match=r"^y is empty: it has no samples$"):
        fresh(3, activation).fit(np.zeros((4, 3)), np.zeros((0, 3)), epochs=1, verbose=0)
    check_refused(lambda m, f: m.modelEvaluate(f, np.zeros((0, 3)), verbose=0), "^y is empty")


@pytest.mark.parametrize("weights", [["a", "b"] * 30, ["1", "2"] * 30, np.array(["x"] * 60, dtype=object)])
def test_string_sample_weights(weights):
    """Was "could not convert string to float" (and strings of digits were silently read as numbers)."""
    check_refused(lambda m, f: m.fit(f, labels(), epochs=1, verbose=0, sampleWeight=weights),
                  "^sampleWeight must hold numbers, got ")


@pytest.mark.parametrize("dtype", [int, float, object])
def test_an_empty_series(dtype):
    """Was "cannot reshape array of size 0 into shape (0,newaxis)"."""
    check_refused(lambda m, f: m.fit(f, pd.Series([], dtype=dtype), epochs=1, verbose=0), "^y is empty")
    check_refused(lambda m, f: m.fit(f, labels(), epochs=1, verbose=0, sampleWeight=pd.Series([], dtype=dtype)),
                  "^sampleWeight is empty")


@pytest.mark.parametrize(("name", "value", "message"), [
    ("lr", "fast", "lr must be a finite number, got 'fast'"),
    ("lr", 1e300, r"lr must be <= 1000, got 1e\+300"),
    ("decay", -1, "decay must be >= 0"),
    ("l2", float("inf"), "l2 must be a finite number"),
    ("momentum", 1.5, "momentum must be < 1"),
    ("seed", -3, "seed must be a non-negative integer or None"),
    ("dtype", "int8", "dtype must be 'float32' or 'float64'"),
    ("dtype", "float64", "dtype is fixed once layers are added"),
    ("standardize", "yes", "standardize must be True or False"),
    ("optimizer", "adamax", "unknown optimizer 'adamax'"),
])
def test_a_refused_setting_leaves_a_fitted_model_as_it_was(name, value, message):
    check_refused(lambda model, frame: setattr(model, name, value), message)
