"""fit(metrics=...): metrics on the validation rows after every epoch, equal to scikit-learn's, and monitorable."""

import numpy as np
import pytest

from dnn import DNN
from dnn.callbacks import Callback, EarlyStopping

metrics = pytest.importorskip("sklearn.metrics")


def data(rng, classes=2, rows=240):
    X = rng.normal(size=(rows, 4))
    y = np.digitize(X[:, 0] + 0.5 * X[:, 1] + rng.normal(0, 0.7, rows), np.linspace(-1, 1, classes - 1))
    return X, y


def classifier(classes, seed=0):
    model = DNN(seed=seed, optimizer="adam", lr=0.01)
    model.addInputLayer([4])
    model.addHiddenLayer([8], normalization="batch")
    if classes == 2:
        model.addOutputLayer([1], activation="sigmoid")
    else:
        model.addOutputLayer([classes])
    return model


class Probabilities(Callback):
    """Keeps predictProba on the validation rows after every epoch: what scikit-learn is given."""

    def __init__(self, X):
        self.X, self.seen = X, []

    def on_epoch_end(self, run, epoch, logs):
        self.seen.append(run.model.predictProba(self.X).astype(np.float64))


@pytest.mark.parametrize("classes", [2, 3])
def test_every_epochs_metrics_equal_scikit_learns(classes, rng):
    X, y = data(rng, classes)
    X_val, y_val = data(rng, classes, rows=90)
    model = classifier(classes)
    seen = Probabilities(X_val)
    history = model.fit(X, y, epochs=4, batchSize=32, verbose=0, validationData=(X_val, y_val), callbacks=[seen],
                        metrics=["auc", "average_precision", "log_loss", "f1", "error"])
    one_hot = np.eye(classes)[y_val]
    for epoch, p in enumerate(seen.seen):
        score = p[:, 1] if classes == 2 else p
        expected = {
            "val_roc_auc": metrics.roc_auc_score(y_val, score, multi_class="ovr"),
            "val_average_precision": metrics.average_precision_score(y_val if classes == 2 else one_hot, score),
            "val_log_loss": metrics.log_loss(y_val, p / p.sum(axis=1, keepdims=True)),
            "val_f1": metrics.f1_score(y_val, p.argmax(axis=1), average="macro"),
            "val_error": 1 - metrics.accuracy_score(y_val, p.argmax(axis=1)),
        }
        for key, value in expected.items():
            # the probabilities are float32: log_loss of float32 values agrees to their rounding, the ranks exactly
            assert history[key][epoch] == pytest.approx(value, rel=1e-6 if key == "val_log_loss" else 1e-9), key


def test_regression_metrics_equal_scikit_learns(rng):
    X = rng.normal(size=(200, 3))
    y = X @ [1.0, -2.0, 0.5] + 0.1 * rng.normal(size=200)
    model = DNN(seed=0, optimizer="adam", lr=0.01, dtype="float64")
    model.addInputLayer([3])
    model.addHiddenLayer([8], normalization="layer")
    model.addOutputLayer([1], activation="identity")
    history = model.fit(X, y, epochs=3, verbose=0, validationSplit=0.25, metrics=["r2", "mae", "mse"])
    rows = model.state.validation_split["validation"]
    p = model.predict(X[rows])
    assert history["val_r2"][-1] == pytest.approx(metrics.r2_score(y[rows], p), rel=1e-9)
    assert history["val_mae"][-1] == pytest.approx(metrics.mean_absolute_error(y[rows], p), rel=1e-9)
    assert history["val_mse"][-1] == pytest.approx(metrics.mean_squared_error(y[rows], p), rel=1e-9)


def test_early_stopping_watches_a_metric_upwards(rng):
    X, y = data(rng)
    model = classifier(2)
    stopping = EarlyStopping(patience=2, monitor="val_roc_auc")
    history = model.fit(X, y, epochs=40, batchSize=16, verbose=0, validationSplit=0.3, metrics=["roc_auc"],
                        callbacks=[stopping])
    assert model.stoppedEarly["mode"] == "max"
    best = int(np.argmax(history["val_roc_auc"]))  # the first of the highest
    assert model.stoppedEarly["best_epoch"] == best + 1 and len(history["val_roc_auc"]) == best + 3


def test_bad_metrics_are_refused_naming_the_problem(rng):
    X, y = data(rng)
    model = classifier(2)
    flat = model.state.params.flat.copy()
    with pytest.raises(ValueError, match="mse is not a valid binary metric; valid names: accuracy, error"):
        model.fit(X, y, verbose=0, validationSplit=0.2, metrics=["mse"])
    with pytest.raises(ValueError, match="computed on validation rows after every epoch: give validationSplit"):
        model.fit(X, y, verbose=0, metrics=["roc_auc"])
    with pytest.raises(ValueError, match="metrics must be a list of metric names"):
        model.fit(X, y, verbose=0, validationSplit=0.2, metrics=[3])
    assert np.array_equal(model.state.params.flat, flat) and model.epochs == 0
