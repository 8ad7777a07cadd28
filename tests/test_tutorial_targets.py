"""The classic tutorials' targets, the task users choose, and classes known in advance."""

import numpy as np
import pytest

from dnn import DNN


def blobs(n=150, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    return rng.normal(0, 3, (classes, 4))[y] + rng.normal(size=(n, 4)), y


def sigmoid_net(units=3, loss="squared_error"):
    model = DNN(lr=0.3, momentum=0.9, seed=0)
    model.addInputLayer([4])
    model.addHiddenLayer([8], activation="sigmoid")
    model.addOutputLayer([units], activation="sigmoid", loss=loss)
    return model


def test_rows_of_001_and_099_train_a_multiclass_classifier():
    X, y = blobs()
    tutorial = np.full((len(y), 3), 0.01)
    tutorial[np.arange(len(y)), y] = 0.99
    model = sigmoid_net()
    model.fit(X, tutorial, epochs=30, batchSize=10, verbose=0)
    shown = []
    model.summary(printFn=shown.append)
    assert model.task == "multiclass" and "Task: multiclass" in shown[0]
    outputs = model.forwardPropagation(X)
    np.testing.assert_array_equal(model.predict(X), outputs.argmax(axis=1))  # labels, not 0/1 rows
    expected = float(np.mean(outputs.argmax(axis=1) == y))
    assert model.modelEvaluate(X, tutorial, verbose=0)["accuracy"] == pytest.approx(expected, abs=1e-12)
    assert model.modelEvaluate(X, y, verbose=0)["accuracy"] == pytest.approx(expected, abs=1e-12)
    with pytest.raises(ValueError, match="row 0 has 2"):
        model.fit(X[:2], np.array([[0.9, 0.9, 0.0], [0.99, 0.01, 0.01]]), epochs=1, verbose=0)


def test_several_high_targets_per_row_stay_multilabel_and_task_overrides():
    X, y = blobs()
    labels = np.stack([y == 0, y != 2, X[:, 0] > 0], axis=1).astype(float)
    model = sigmoid_net(loss=None)
    model.fit(X, labels, epochs=2, batchSize=10, verbose=0)
    assert model.task == "multilabel"
    one_high = np.eye(3)[y]
    chosen = sigmoid_net(loss=None)
    chosen.fit(X, one_high, epochs=2, batchSize=10, verbose=0, task="multilabel")
    assert chosen.task == "multilabel" and set(np.unique(chosen.predict(X))) <= {0, 1}
    assert chosen.predict(X).shape == (len(X), 3)
    with pytest.raises(ValueError, match="already a multilabel model"):
        chosen.fit(X, one_high, epochs=1, verbose=0, task="multiclass")
    with pytest.raises(ValueError, match="does not fit the output layer"):
        sigmoid_net().fit(X, y, epochs=1, verbose=0, task="binary")


def test_classes_known_in_advance_allow_training_in_increments():
    X, y = blobs()
    names = np.array(["cat", "dog", "eel"])[y]
    first = names != "eel"
    model = DNN(lr=0.1, momentum=0.9, seed=0)
    model.addInputLayer([4])
    model.addHiddenLayer([8])
    model.addOutputLayer([3])
    with pytest.raises(ValueError, match="must name every class"):
        model.fit(X[first], names[first], epochs=1, verbose=0)
    model.fit(X[first], names[first], epochs=5, batchSize=10, verbose=0, classes=["eel", "dog", "cat"])
    assert model.classes.tolist() == ["cat", "dog", "eel"]
    model.fit(X[~first], names[~first], epochs=5, batchSize=10, verbose=0)
    assert set(model.predict(X)) <= {"cat", "dog", "eel"}
    with pytest.raises(ValueError, match="already"):
        model.fit(X, names, epochs=1, verbose=0, classes=["a", "b", "c"])
    with pytest.raises(ValueError, match="2 distinct labels but the output layer has room for 3"):
        DNN.fromConfig(model.getConfig()).fit(X, names, epochs=1, verbose=0, classes=["cat", "dog"])
