"""Training control: validation, early stopping, sample and class weights, divergence, Ctrl-C."""

import copy
import math
import os
import re
import signal

import numpy as np
import pytest

from dnn import DNN, TrainingDivergedError
from dnn.engine import training
from dnn.engine.fit_setup import split_rows
from dnn.losses import get_loss
from tests.conftest import FakeRun, feed


def model_for(features=4, classes=3, **options):
    model = DNN(**{"lr": 0.1, "momentum": 0.9, "seed": 0, **options})
    model.addInputLayer([features])
    model.addHiddenLayer([8])
    model.addOutputLayer([classes])
    return model


def blobs(n=150, features=4, classes=3, seed=0, noise=1.0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    centers = rng.normal(0, 3, (classes, features))
    return centers[y] + rng.normal(0, noise, (n, features)), y


ALL_PARAMETERS_OF_A_2_3_2_NET = (
    [("w", 2, j, i) for j in (1, 2, 3) for i in (1, 2)] + [("b", 2, j) for j in (1, 2, 3)]
    + [("w", 3, j, i) for j in (1, 2) for i in (1, 2, 3)] + [("b", 3, j) for j in (1, 2)]
)


# ---------------------------------------------------------------- validation


def test_validation_data_metrics_are_the_evaluation_of_each_epoch():
    X, y = blobs()
    Xv, yv = blobs(n=60, seed=1)
    model = model_for(l2=0.01)
    history = model.fit(X, y, epochs=3, batchSize=16, verbose=0, validationData=(Xv, yv))
    assert len(history["val_loss"]) == len(history["val_accuracy"]) == 3
    final = model.modelEvaluate(Xv, yv, verbose=0)
    assert history["val_loss"][-1] == pytest.approx(final["loss"], rel=1e-6)
    assert history["val_accuracy"][-1] == final["accuracy"]


def test_stratified_split_keeps_every_class_share_and_is_seeded():
    targets = np.eye(3)[np.repeat([0, 1, 2], [50, 30, 20])]
    train, validation = split_rows(np.random.default_rng(0), targets, "multiclass", 0.2)
    assert sorted(np.concatenate([train, validation]).tolist()) == list(range(100))
    assert np.bincount(targets[validation].argmax(axis=1)).tolist() == [10, 6, 4]
    again, _ = split_rows(np.random.default_rng(0), targets, "multiclass", 0.2)
    np.testing.assert_array_equal(train, again)
    other, _ = split_rows(np.random.default_rng(1), targets, "multiclass", 0.2)
    assert not np.array_equal(train, other)


def test_validation_split_trains_on_the_rest_only():
    """With one batch per epoch, the first epoch's loss is the mean loss of the training rows before the update."""
    X, y = blobs(n=100)
    model = model_for(dtype="float64")
    train_rows, validation_rows = split_rows(copy.deepcopy(model.state.rng), np.eye(3)[y], "multiclass", 0.25)
    losses = get_loss("categorical_crossentropy")[0](model.forwardPropagation(X), np.eye(3)[y])
    with pytest.warns(UserWarning, match="larger than the 75 training samples"):
        history = model.fit(X, y, epochs=1, batchSize=100, verbose=0, validationSplit=0.25)
    assert len(train_rows) == 75 and len(validation_rows) == 25
    assert history["loss"][0] == pytest.approx(losses[train_rows].mean(), rel=1e-12)
    assert history["val_loss"][0] == pytest.approx(model.modelEvaluate(X[validation_rows], y[validation_rows],
                                                                       verbose=0)["loss"], rel=1e-12)


def test_validation_data_and_split_together_are_refused():
    X, y = blobs()
    with pytest.raises(ValueError, match="either validationData or validationSplit"):
        model_for().fit(X, y, epochs=1, verbose=0, validationData=(X, y), validationSplit=0.1)


# ---------------------------------------------------------------- early stopping


def test_early_stopping_restores_the_best_weights(capsys):
    X, y = blobs(n=40, noise=4.0)
    Xv, yv = blobs(n=200, noise=4.0, seed=1)
    model = model_for(lr=0.3)
    specs = [("w", 2, 1, 1), ("b", 3, 2), ("w", 3, 3, 8)]
    model.fit(X, y, epochs=200, batchSize=8, verbose=1, validationData=(Xv, yv), earlyStopping=5,
              parameterList=specs)
    stopped = model.stoppedEarly
    assert stopped is not None and stopped["epoch"] < 200 and stopped["monitor"] == "val_loss"
    val_loss = model.history["val_loss"]
    assert stopped["best_epoch"] == int(np.argmin(val_loss)) + 1
    assert stopped["epoch"] == stopped["best_epoch"] + 5 == len(val_loss)
    for spec in specs:  # records hold the value after every epoch: index e is after epoch e
        current = model.w[spec[1]][spec[3] - 1, spec[2] - 1] if spec[0] == "w" else model.b[spec[1]][spec[2] - 1]
        assert float(current) == model.parameterRecord[spec][stopped["best_epoch"]]
    assert model.modelEvaluate(Xv, yv, verbose=0)["loss"] == pytest.approx(min(val_loss), rel=1e-5)
    assert f"Early stopping after epoch {stopped['epoch']}" in capsys.readouterr().out


def test_early_stopping_without_validation_monitors_the_training_loss():
    """minDelta=100 makes no epoch count as progress, but the best epoch is still the lowest training loss."""
    X, y = blobs()
    model = model_for()
    model.fit(X, y, epochs=50, batchSize=16, verbose=0, earlyStopping=2, minDelta=100.0,
              parameterList=[("w", 2, 1, 1)])
    loss = model.history["loss"]
    best = int(np.argmin(loss)) + 1
    assert len(loss) == 3
    assert model.stoppedEarly == {"epoch": 3, "best_epoch": best, "monitor": "loss", "mode": "min", "best": min(loss),
                                  "restored_epoch": best}
    assert model.restoredEpoch == best
    assert float(model.w[2][0, 0]) == model.parameterRecord[("w", 2, 1, 1)][best]


def test_min_delta_does_not_decide_the_best_epoch():
    """Small improvements do not reset the patience, but the lowest value is still the epoch kept."""
    from dnn.callbacks import EarlyStopping

    stopper, run = EarlyStopping(3, min_delta=0.2), FakeRun()
    # val_loss: 1.0 is progress; 0.9, 0.85, 0.84 are improvements smaller than 0.2: the patience runs out at 0.84
    feed(stopper, run, "val_loss", [1.0, 0.9, 0.85, 0.84, 0.1])
    assert run.state.epochs == 4 and run.state.kept == 4
    assert run.state.stopped_early == {"epoch": 4, "best_epoch": 4, "monitor": "val_loss", "mode": "min", "best": 0.84,
                                       "restored_epoch": 4}


def test_best_weights_are_restored_when_the_epochs_run_out_first():
    X, y = blobs(n=40, noise=4.0)
    Xv, yv = blobs(n=200, noise=4.0, seed=1)
    specs = [("w", 2, 1, 1), ("b", 3, 2)]
    model = model_for(lr=0.3)
    model.fit(X, y, epochs=25, batchSize=8, verbose=0, validationData=(Xv, yv), earlyStopping=math.inf,
              parameterList=specs)
    val_loss = model.history["val_loss"]
    best = int(np.argmin(val_loss)) + 1
    assert len(val_loss) == 25 and best < 25  # ran all epochs; the best one is an earlier one
    assert model.stoppedEarly is None and model.restoredEpoch == best
    for spec in specs:
        current = model.w[spec[1]][spec[3] - 1, spec[2] - 1] if spec[0] == "w" else model.b[spec[1]][spec[2] - 1]
        assert float(current) == model.parameterRecord[spec][best]
    assert model.modelEvaluate(Xv, yv, verbose=0)["loss"] == pytest.approx(min(val_loss), rel=1e-5)
    twin = model_for(lr=0.3)
    twin.fit(X, y, epochs=25, batchSize=8, verbose=0, validationData=(Xv, yv), earlyStopping=math.inf,
             restoreBest=False, parameterList=specs)
    assert twin.history["val_loss"] == val_loss and twin.restoredEpoch is None
    assert float(twin.w[2][0, 0]) == twin.parameterRecord[("w", 2, 1, 1)][25]


@pytest.mark.parametrize(("options", "message"), [
    ({"earlyStopping": 0}, "earlyStopping \\(the patience, in epochs, or math.inf\\) must be a positive integer"),
    ({"restoreBest": True}, "restoreBest=True needs earlyStopping"),
    ({"earlyStopping": 2, "restoreBest": 1}, "restoreBest must be True, False or None"),
    ({"earlyStopping": 3, "minDelta": -1}, "minDelta must be >= 0"),
    ({"validationSplit": 1.0}, "validationSplit must be a fraction in \\[0, 1\\)"),
])
def test_bad_training_control_arguments(options, message):
    with pytest.raises(ValueError, match=message):
        model_for().fit(*blobs(), epochs=1, verbose=0, **options)


# ---------------------------------------------------------------- weights


def test_sample_weights_define_a_weighted_mean_loss():
    X, y = blobs(n=30)
    weights = np.random.default_rng(5).uniform(0, 3, 30)
    model = model_for(dtype="float64")
    per_sample = get_loss("categorical_crossentropy")[0](model.forwardPropagation(X), np.eye(3)[y])
    history = model.fit(X, y, epochs=1, batchSize=30, verbose=0, sampleWeight=weights)
    assert history["loss"][0] == pytest.approx(float(per_sample @ weights) / 30, rel=1e-12)


def test_class_weights_equal_the_matching_sample_weights():
    X, y = blobs(n=60)
    by_class, by_sample = model_for(), model_for()
    by_class.fit(X, y, epochs=2, batchSize=12, verbose=0, classWeight={0: 1.0, 1: 5.0, 2: 0.5})
    by_sample.fit(X, y, epochs=2, batchSize=12, verbose=0, sampleWeight=np.array([1.0, 5.0, 0.5])[y])
    for layer in (2, 3):
        np.testing.assert_array_equal(by_class.w[layer], by_sample.w[layer])


def test_balanced_class_weights_follow_the_formula():
    X, y = blobs(n=60)
    counts = np.bincount(y)
    balanced, explicit = model_for(), model_for()
    balanced.fit(X, y, epochs=1, batchSize=12, verbose=0, classWeight="balanced")
    explicit.fit(X, y, epochs=1, batchSize=12, verbose=0,
                 classWeight={c: 60 / (3 * counts[c]) for c in range(3)})
    np.testing.assert_allclose(balanced.w[2], explicit.w[2], rtol=1e-6)


@pytest.mark.parametrize(("options", "message"), [
    ({"classWeight": {7: 2.0}}, r"classWeight names classes \[7\] that the model does not have"),
    ({"classWeight": {0: -1.0}}, "classWeight must hold finite, non-negative numbers"),
    ({"sampleWeight": np.ones(3)}, r"one weight per sample \(150\)"),
    ({"sampleWeight": np.zeros(150)}, "all zero"),
    ({"sampleWeight": np.full(150, np.nan)}, "finite, non-negative"),
])
def test_bad_weights(options, message):
    with pytest.raises(ValueError, match=message):
        model_for().fit(*blobs(), epochs=1, verbose=0, **options)


def test_class_weights_need_a_single_label_classifier():
    model = DNN()
    model.addInputLayer([2])
    model.addOutputLayer([1], activation="identity")
    with pytest.raises(ValueError, match="classWeight needs a single-label classifier"):
        model.fit(np.eye(2), [0.5, 1.5], epochs=1, verbose=0, classWeight={0: 1.0})


# ---------------------------------------------------------------- failures during training


def tiny_net(**options):
    model = DNN(**{"lr": 0.1, "momentum": 0.9, "seed": 1, **options})
    model.addInputLayer([2])
    model.addHiddenLayer([3], activation="relu")
    model.addOutputLayer([2])
    return model


def weights_now(model):
    return {spec: float(model.w[spec[1]][spec[3] - 1, spec[2] - 1] if spec[0] == "w"
                        else model.b[spec[1]][spec[2] - 1]) for spec in ALL_PARAMETERS_OF_A_2_3_2_NET}


# Where the loss of a batch became infinite ("diverged in"), or where the last update of an epoch made the outputs
# on that batch's rows infinite (the check at the end of the epoch: "the update of"), which the next epoch's first
# batch would otherwise be the first to see.
@pytest.mark.parametrize(("scale", "lr", "where"), [
    (1000, 50.0, "diverged in epoch 1, batch 5"), (10, 5.0, "diverged in epoch 2, batch 6"),
    (10, 1.0, "the update of epoch 5, batch 8"), (30, 1.0, "the update of epoch 2, batch 8"),
])
def test_divergence_stops_restores_the_last_finite_state_and_says_what_to_do(scale, lr, where):
    rng = np.random.default_rng(0)
    X = rng.normal(0, scale, (64, 2))
    y = (X[:, 0] > 0).astype(int)
    model = tiny_net(lr=lr)
    with pytest.raises(TrainingDivergedError, match=rf"{where}.*lower learning rate "
                                                    rf"\(lr={lr:g}\).*standardize=True") as raised:
        model.fit(X, y, epochs=30, batchSize=8, verbose=0, parameterList=ALL_PARAMETERS_OF_A_2_3_2_NET,
                  recordEvery="batch")
    assert isinstance(raised.value, ArithmeticError)
    # the model is back at the start of an epoch before the loss took off (after the lowest loss so far)
    epoch, batch = (int(n) for n in re.findall(r"\d+", where))
    batch += where.startswith("the update")   # the batch after the update is the first to see its outputs
    kept = int(re.search(r"back at the start of epoch (\d+)", str(raised.value)).group(1))
    assert 1 <= kept <= (epoch - 1 if batch == 1 else epoch)
    assert all(np.isfinite(model.w[layer]).all() and np.isfinite(model.b[layer]).all() for layer in (2, 3))
    assert weights_now(model) == {spec: values[-1] for spec, values in model.parameterRecord.items()}
    assert len(next(iter(model.parameterRecord.values()))) == 1 + 8 * (kept - 1)
    assert len(model.history.get("loss", [])) == kept - 1 == model.epochs
    # ... which is exactly where an uninterrupted run of kept - 1 epochs stands
    reference = tiny_net(lr=lr)
    if kept > 1:
        reference.fit(X, y, epochs=kept - 1, batchSize=8, verbose=0)
    assert weights_now(model) == weights_now(reference)
    model.lr = 1e-4  # and training can go on
    model.fit(X, y, epochs=1, batchSize=8, verbose=0)


def test_weights_that_fail_from_the_start_are_left_alone():
    model = tiny_net()
    model.w[2] = np.full((2, 3), 1e38)
    with pytest.raises(TrainingDivergedError, match=r"as they were when fit started.*the weights are unchanged"):
        model.fit(np.ones((8, 2)) * 1e3, np.arange(8) % 2, epochs=2, batchSize=4, verbose=0)
    np.testing.assert_array_equal(model.w[2], np.full((2, 3), np.float32(1e38)))


def reference_records(X, y, epochs, batch_size):
    model = tiny_net()
    model.fit(X, y, epochs=epochs, batchSize=batch_size, verbose=0, parameterList=ALL_PARAMETERS_OF_A_2_3_2_NET,
              recordEvery="batch")
    return model.parameterRecord


@pytest.mark.parametrize("how", ["signal", "exception"])
def test_ctrl_c_leaves_the_model_at_its_last_whole_batch(how, monkeypatch, capsys):
    X, y = blobs(n=40, features=2, classes=2)
    reference = reference_records(X, y, epochs=3, batch_size=5)
    calls = {"n": 0}
    original = training.backward_pass

    def interrupting_backward_pass(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 13:  # in the 5th batch of the second epoch
            if how == "signal":
                os.kill(os.getpid(), signal.SIGINT)  # a real Ctrl-C: fit finishes this batch, then stops
            else:
                raise KeyboardInterrupt  # as if Ctrl-C arrived mid-batch: the batch is undone
        return original(*args, **kwargs)

    monkeypatch.setattr(training, "backward_pass", interrupting_backward_pass)
    model = tiny_net()
    history = model.fit(X, y, epochs=3, batchSize=5, verbose=0, parameterList=ALL_PARAMETERS_OF_A_2_3_2_NET,
                        recordEvery="batch")
    done = 13 if how == "signal" else 12
    assert history is model.history and len(history["loss"]) == 1 and model.epochs == 1
    for spec, values in model.parameterRecord.items():
        assert values == reference[spec][: 1 + done]
    assert weights_now(model) == {spec: values[-1] for spec, values in model.parameterRecord.items()}
    message = capsys.readouterr().err
    assert f"interrupted in epoch 2 after batch {done - 8} of 8" in message
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.parametrize("seed", [0, 1, 3])
def test_after_a_divergence_a_lower_rate_trains_on(seed):
    """The rate a fresh model trains at also continues a rolled-back one (one batch back, it diverged again)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(0, 10, (64, 3))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)

    def net(lr):
        model = DNN(lr=lr, momentum=0.9, seed=seed)
        model.addInputLayer([3])
        model.addHiddenLayer([8])
        model.addOutputLayer([2])
        return model

    net(0.1).fit(X, y, epochs=30, batchSize=8, verbose=0)  # from scratch, 0.1 trains
    model = net(1.0)
    with pytest.raises(TrainingDivergedError):
        model.fit(X, y, epochs=30, batchSize=8, verbose=0)
    model.lr = 0.1
    model.fit(X, y, epochs=30, batchSize=8, verbose=0)  # no TrainingDivergedError
    assert np.isfinite(model.history["loss"][-1])
