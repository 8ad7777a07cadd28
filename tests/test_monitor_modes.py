"""Monitored values that should go up (accuracy, AUC, R²) are maximized; losses minimized; unknown keys refused."""

import numpy as np
import pytest

from dnn import DNN, metrics
from dnn.callbacks import EarlyStopping, ModelCheckpoint, ReduceLROnPlateau
from dnn.engine.monitors import resolve_mode
from tests.conftest import FakeRun, feed


@pytest.mark.parametrize(("key", "mode"), [
    ("loss", "min"), ("val_loss", "min"), ("accuracy", "max"), ("val_accuracy", "max"), ("val_roc_auc", "max"),
    ("r2", "max"), ("val_average_precision", "max"), ("log_loss", "min"), ("val_auc", "max"), ("val_mse", "min"),
])
def test_auto_reads_the_direction_off_the_key(key, mode):
    assert resolve_mode(key, "auto") == mode


def test_auto_refuses_a_key_it_cannot_read_and_names_the_keys_it_knows():
    with pytest.raises(ValueError, match=r"cannot tell whether 'val_score' should go up or down: give mode='min' or "
                                         r"mode='max'.*accuracy.*loss"):
        EarlyStopping(2, monitor="val_score")
    EarlyStopping(2, monitor="val_score", mode="max")        # an explicit mode serves any key
    with pytest.raises(ValueError, match=r"mode must be one of 'min', 'max', 'auto', got 'up'"):
        ModelCheckpoint("m.pkl", mode="up")


def test_early_stopping_on_rising_accuracy_keeps_training_and_keeps_the_highest_epoch():
    # the outside suite's sequence: accuracy rose 0.47 -> 0.53 -> 0.58 and early stopping kept epoch 1
    stopper, run = EarlyStopping(2, monitor="val_accuracy"), FakeRun()
    feed(stopper, run, "val_accuracy", [0.47, 0.53, 0.58])
    assert not run.stop_training
    stopper.on_train_end(FakeRunEnded(run))
    assert run.state.kept == 3 and run.state.restored_epoch == 3


class FakeRunEnded:
    """The run as on_train_end sees it after its epochs ran out."""

    def __init__(self, run):
        self.state, self.stop_training, self.verbose, self.requested_epochs = run.state, False, 0, run.state.epochs


def test_early_stopping_on_accuracy_stops_after_the_patience_and_restores_the_highest():
    stopper, run = EarlyStopping(2, monitor="val_accuracy"), FakeRun()
    feed(stopper, run, "val_accuracy", [0.5, 0.7, 0.65, 0.69, 0.9])
    assert run.stop_training and run.state.epochs == 4
    assert run.state.stopped_early == {"epoch": 4, "best_epoch": 2, "monitor": "val_accuracy", "mode": "max",
                                       "best": 0.7, "restored_epoch": 2}


def test_without_min_delta_any_improvement_resets_the_patience_and_the_lowest_is_kept():
    stopper, run = EarlyStopping(2), FakeRun()
    # 0.9 and 0.899 are both progress; then two epochs without: stop after epoch 5, keep epoch 3
    feed(stopper, run, "val_loss", [1.0, 0.9, 0.899, 0.95, 0.92, 0.1])
    assert run.state.epochs == 5 and run.state.kept == 3
    assert run.state.stopped_early["best_epoch"] == 3


def test_with_min_delta_in_max_mode_small_gains_do_not_reset_the_patience_but_still_count_as_best():
    stopper, run = EarlyStopping(2, min_delta=0.05, monitor="val_accuracy"), FakeRun()
    feed(stopper, run, "val_accuracy", [0.5, 0.52, 0.53, 0.9])
    assert run.state.epochs == 3 and run.state.kept == 3          # 0.52, 0.53: gains below 0.05; 0.53 the highest


def test_checkpoint_in_max_mode_saves_each_new_highest(tmp_path):
    saved = []

    class Model:
        def saveModel(self, path):
            saved.append(path)

    run = FakeRun()
    run.model = Model()
    feed(ModelCheckpoint(tmp_path / "m{epoch}.pkl", monitor="val_accuracy"), run, "val_accuracy",
         [0.5, 0.4, 0.6, 0.6, 0.7])
    assert [p.rsplit("m", 1)[1] for p in saved] == ["1.pkl", "3.pkl", "5.pkl"]


def test_reduce_lr_in_max_mode_reduces_when_accuracy_stops_rising():
    callback, run = ReduceLROnPlateau(factor=0.5, patience=2, min_delta=0.0, monitor="val_accuracy"), FakeRun()
    feed(callback, run, "val_accuracy", [0.5, 0.6, 0.7, 0.8])
    assert run.state.lr_factor == 1.0                               # rising all along: no reduction
    feed(callback, run, "val_accuracy", [0.5, 0.6, 0.6, 0.55])
    assert run.state.lr_factor == 0.5


def test_a_real_fit_stopped_on_accuracy_keeps_the_epoch_with_the_highest_validation_accuracy():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2))
    y = (X[:, 0] + 0.8 * rng.normal(size=200) > 0).astype(int)
    model = DNN(lr=0.5, momentum=0.9, seed=0, threads=1)
    model.addInputLayer([2])
    model.addHiddenLayer([8])
    model.addOutputLayer([2])
    model.fit(X, y, epochs=30, batchSize=20, verbose=0, validationSplit=0.3,
              callbacks=[EarlyStopping(3, monitor="val_accuracy")])
    accuracy = model.history["val_accuracy"]
    best = int(np.argmax(accuracy)) + 1                             # the first of the highest
    assert model.restoredEpoch == best
    Xv, yv = X[model.state.validation_split["validation"]], y[model.state.validation_split["validation"]]
    assert model.modelEvaluate(Xv, yv, verbose=0)["accuracy"] == pytest.approx(max(accuracy))


@pytest.mark.parametrize("name", sorted(metrics.METRICS))
def test_auto_follows_the_direction_of_every_metric(name):
    expected = "max" if metrics.METRICS[name][1] else "min"
    assert resolve_mode(name, "auto") == resolve_mode(f"val_{name}", "auto") == expected


def test_auto_reads_a_metric_added_to_the_registry(monkeypatch):
    with pytest.raises(ValueError, match="cannot tell whether 'val_balanced_accuracy'"):
        resolve_mode("val_balanced_accuracy", "auto")
    monkeypatch.setitem(metrics.METRICS, "balanced_accuracy", (metrics.recall, True))
    assert resolve_mode("val_balanced_accuracy", "auto") == "max"
