import numpy as np
import pytest

from dnn.data.targets import default_task, encode_targets


def test_integer_labels_are_class_indices():
    t, task, classes = encode_targets([2, 0, 1], "softmax", 4, np.float32)
    np.testing.assert_array_equal(t, [[0, 0, 1, 0], [1, 0, 0, 0], [0, 1, 0, 0]])
    assert task == "multiclass" and classes.tolist() == [0, 1, 2, 3] and t.dtype == np.float32


def test_string_labels_become_sorted_classes():
    t, _task, classes = encode_targets(np.array(["b", "a", "c", "a"]), "softmax", 3, np.float64)
    assert classes.tolist() == ["a", "b", "c"]
    np.testing.assert_array_equal(t.argmax(axis=1), [1, 0, 2, 0])


def test_distinct_integers_outside_the_index_range_are_classes():
    t, _, classes = encode_targets([1, 2, 3, 3], "softmax", 3, np.float64)
    assert classes.tolist() == [1, 2, 3]
    np.testing.assert_array_equal(t.argmax(axis=1), [0, 1, 2, 2])


def test_integral_floats_are_labels_and_other_floats_are_refused():
    t, _, _ = encode_targets([0.0, 1.0], "softmax", 2, np.float64)
    np.testing.assert_array_equal(t, np.eye(2))
    with pytest.raises(ValueError, match=r"non-integer values such as 0.5.*use an identity output"):
        encode_targets([0.5, 1.0], "softmax", 2, np.float64)


def test_binary_column_and_booleans():
    t, task, classes = encode_targets(np.array([[1], [0]]), "sigmoid", 1, np.float64)
    assert task == "binary" and t.tolist() == [[1.0], [0.0]] and classes.tolist() == [0, 1]
    t, _, classes = encode_targets([True, False], "sigmoid", 1, np.float64)
    assert classes.tolist() == [False, True] and t.tolist() == [[1.0], [0.0]]


def test_one_hot_rows_and_multilabel_matrices():
    onehot = np.eye(3)[[0, 2]]
    assert encode_targets(onehot, "softmax", 3, np.float64)[1] == "multiclass"
    assert encode_targets(onehot, "sigmoid", 3, np.float64)[1] == "multiclass"
    assert encode_targets(np.array([[1, 1, 0], [0, 0, 0]]), "sigmoid", 3, np.float64)[1] == "multilabel"
    with pytest.raises(ValueError, match="row 1 sums to 2"):
        encode_targets(np.array([[1, 0, 0], [1, 1, 0]]), "softmax", 3, np.float64)
    with pytest.raises(ValueError, match="3 columns but the output layer has 4 units"):
        encode_targets(onehot, "softmax", 4, np.float64)


def test_regression_targets():
    t, task, classes = encode_targets([1.5, -2.0], "identity", 1, np.float32)
    assert task == "regression" and classes is None and t.shape == (2, 1)
    with pytest.raises(ValueError, match="1 target column\\(s\\) but the output layer has 2 unit"):
        encode_targets([1.5, -2.0], "identity", 2, np.float32)
    with pytest.raises(ValueError, match="fits real targets, but y has dtype <U1"):
        encode_targets(["a", "b"], "identity", 1, np.float32)


@pytest.mark.parametrize(("y", "units", "message"), [
    ([0, 5], 3, r"class indices 0..2 for this output layer \(or 3 distinct values naming the classes\), got \[5\]"),
    (["a", "b", "c", "d"], 3, "y has 4 classes but the output layer has room for 3"),
    (["a", "b"], 3, "y has 2 distinct labels"),
    ([0.0, np.nan], 2, "NaN or infinity"),
    (np.array(["a", None], dtype=object), 2, "missing labels"),
])
def test_bad_labels(y, units, message):
    with pytest.raises(ValueError, match=message):
        encode_targets(y, "softmax", units, np.float64)


def test_a_one_column_table_of_labels_is_a_label_vector():
    t, _, classes = encode_targets(np.array([["a"], ["a"], ["b"]]), "softmax", 2, np.float64)
    assert classes.tolist() == ["a", "b"] and t.argmax(axis=1).tolist() == [0, 0, 1]


def test_fitted_classes_are_kept():
    _, task, classes = encode_targets(["x", "y"], "softmax", 2, np.float64)
    t, _, same = encode_targets(["y"], "softmax", 2, np.float64, task, classes)
    assert same is classes and t.tolist() == [[0.0, 1.0]]
    with pytest.raises(ValueError, match=r"labels \['z'\] are not among the model's classes \['x', 'y'\]"):
        encode_targets(["z"], "softmax", 2, np.float64, task, classes)


def test_default_tasks():
    assert default_task("identity", 3)[0] == "regression"
    assert default_task("sigmoid", 1)[1].tolist() == [0, 1]
    assert default_task("softmax", 4)[1].tolist() == [0, 1, 2, 3]
