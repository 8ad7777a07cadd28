"""The training engine's parts: optimizer objects, schedules, callbacks, dropout, shuffle, config, copies."""

import copy
import csv
import json
import math
import pickle

import numpy as np
import pytest

from dnn import DNN
from dnn.backprop import backward_pass, forward_pass
from dnn.callbacks import Callback, CSVLogger, ModelCheckpoint, ReduceLROnPlateau, StopOnRequest
from dnn.losses import mean_loss, output_delta
from dnn.optimizers import SGD, Adam
from dnn.schedules import CosineDecay, ExponentialDecay, InverseTimeDecay, StepDecay


def blobs(n=96, features=4, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    return rng.normal(0, 2.5, (classes, features))[y] + rng.normal(size=(n, features)), y


def net(hidden=(8,), dropout=0.0, **options):
    model = DNN(**{"lr": 0.05, "momentum": 0.9, "seed": 2, **options})
    model.addInputLayer([4])
    model.addHiddenLayer(list(hidden), activation="relu", dropout=dropout)
    model.addOutputLayer([3])
    return model


def flat(model):
    return np.concatenate([model.w[k].ravel() for k in sorted(model.w)] + [model.b[k].ravel() for k in sorted(model.b)])


# ---------------------------------------------------------------- optimizers and schedules


def test_an_optimizer_instance_trains_like_its_name_and_is_copied():
    X, y = blobs()
    by_name = net(optimizer="adam", beta1=0.8, lr=0.01)
    shared = Adam(beta1=0.8)
    by_instance, other = net(optimizer=shared, lr=0.01), net(optimizer=shared, lr=0.01)
    for model in (by_name, by_instance):
        model.fit(X, y, epochs=3, batchSize=16, verbose=0)
    np.testing.assert_array_equal(flat(by_name), flat(by_instance))
    assert shared.state == {} and other.optimizer.state == {}  # each model owns a copy
    assert by_instance.optimizer == Adam(beta1=0.8) and by_instance.beta1 == 0.8 and by_instance.momentum is None


def test_optimizer_settings_stay_settable_on_the_model():
    model = net()
    model.momentum = 0.5
    assert model.optimizer == SGD(momentum=0.5) and model.momentum == 0.5
    with pytest.raises(ValueError, match="momentum must be < 1"):
        model.momentum = 1.5
    with pytest.raises(AttributeError, match="beta1 is not a setting of the sgd optimizer"):
        model.beta1 = 0.5


def test_schedules_hand_worked():
    assert [StepDecay(0.1, factor=0.5, every=2)(e) for e in range(5)] == [0.1, 0.1, 0.05, 0.05, 0.025]
    assert ExponentialDecay(0.2, rate=0.5)(3) == 0.2 * 0.125
    assert InverseTimeDecay(0.3, 0.5)(2) == 0.3 / 2.0
    cosine = CosineDecay(1.0, epochs=6, min_lr=0.2, warmup=2)
    expected = [0.5, 1.0] + [0.2 + 0.8 * (1 + math.cos(math.pi * t / 4)) / 2 for t in range(4)] + [0.2, 0.2]
    assert [cosine(e) for e in range(8)] == pytest.approx(expected, abs=1e-15)


def test_a_schedule_sets_the_rate_of_every_epoch_over_fit_calls():
    X, y = blobs()
    model = net(lr=StepDecay(0.1, factor=0.5, every=2))
    model.fit(X, y, epochs=3, batchSize=16, verbose=0)
    model.fit(X, y, epochs=2, batchSize=16, verbose=0)
    assert model.history["lr"] == [0.1, 0.1, 0.05, 0.05, 0.025]
    with pytest.raises(ValueError, match="schedule or decay, not both"):
        DNN(lr=StepDecay(0.1), decay=0.1)


# ---------------------------------------------------------------- callbacks


class Log(Callback):
    def __init__(self):
        self.calls = []

    def on_train_begin(self, run):
        self.calls.append("train_begin")

    def on_epoch_begin(self, run, epoch):
        self.calls.append(f"epoch_begin {epoch}")

    def on_batch_begin(self, run, batch):
        self.calls.append(f"batch_begin {batch}")

    def on_batch_end(self, run, batch, logs):
        self.calls.append(f"batch_end {batch} {logs['size']}")

    def on_epoch_end(self, run, epoch, logs):
        self.calls.append(f"epoch_end {epoch} {sorted(logs)}")

    def on_train_end(self, run):
        self.calls.append("train_end")


def test_hooks_are_called_in_order_with_the_epochs_logs():
    X, y = blobs(n=40)
    log = Log()
    net().fit(X, y, epochs=2, batchSize=16, verbose=0, callbacks=[log])
    batches = [call for b, size in enumerate((16, 16, 8)) for call in (f"batch_begin {b}", f"batch_end {b} {size}")]
    keys = "['accuracy', 'loss', 'lr', 'time']"
    assert log.calls == ["train_begin", "epoch_begin 0", *batches, f"epoch_end 0 {keys}",
                         "epoch_begin 1", *batches, f"epoch_end 1 {keys}", "train_end"]


class EpochCounts(Callback):
    def __init__(self):
        self.seen = []

    def on_train_end(self, run):
        self.seen.append((run.requested_epochs, run.epochs, run.state.epochs))


def test_a_run_tells_the_epochs_asked_of_this_fit_from_those_of_the_models_life():
    X, y = blobs(n=40)
    model, counts = net(), EpochCounts()
    model.fit(X, y, epochs=2, batchSize=16, verbose=0, callbacks=[counts])
    model.fit(X, y, epochs=3, batchSize=16, verbose=0, callbacks=[counts])
    # run.epochs, the former name of requested_epochs, still reads the same
    assert counts.seen == [(2, 2, 2), (3, 3, 5)] and model.epochs == 5


class FailAt(Callback):
    def __init__(self, batch):
        self.batch, self.seen = batch, 0

    def on_batch_end(self, run, batch, logs):
        self.seen += 1
        if self.seen == self.batch:
            raise RuntimeError("the user's callback failed")


class StopAt(Callback):
    def __init__(self, batch):
        self.stopper, self.batch, self.seen = StopOnRequest(), batch, 0

    def on_batch_end(self, run, batch, logs):
        self.seen += 1
        if self.seen == self.batch:
            self.stopper.request()


@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_a_failing_callback_ends_fit_at_the_last_whole_batch(dropout):
    """The failing model equals, bit for bit, one trained exactly as many batches (recorded after every batch)."""
    X, y = blobs()
    reference = net(dropout=dropout)
    reference.fit(X, y, epochs=3, batchSize=16, verbose=0, parameterList=[("w", 2, 1, 1), ("b", 3, 2)],
                  recordEvery="batch")
    failing = net(dropout=dropout)
    with pytest.raises(RuntimeError, match="the user's callback failed"):
        failing.fit(X, y, epochs=3, batchSize=16, verbose=0, callbacks=[FailAt(9)])
    assert failing.epochs == 1 and len(failing.history["loss"]) == 1
    assert float(failing.w[2][0, 0]) == reference.parameterRecord[("w", 2, 1, 1)][9]
    assert float(failing.b[3][1]) == reference.parameterRecord[("b", 3, 2)][9]
    stop = StopAt(9)
    stopped = net(dropout=dropout)
    stopped.fit(X, y, epochs=3, batchSize=16, verbose=0, callbacks=[stop, stop.stopper])
    np.testing.assert_array_equal(flat(stopped), flat(failing))


def test_model_checkpoint_keeps_the_best_epoch_and_csv_logger_the_history(tmp_path):
    X, y = blobs()
    Xv, yv = blobs(n=60, seed=1)
    model = net(lr=0.3)
    best = tmp_path / "best.pkl"
    model.fit(X, y, epochs=8, batchSize=8, verbose=0, validationData=(Xv, yv),
              callbacks=[ModelCheckpoint(best), CSVLogger(tmp_path / "log.csv")])
    saved = DNN.importModel(best)
    best_epoch = int(np.argmin(model.history["val_loss"])) + 1
    assert saved.epochs == best_epoch
    assert saved.modelEvaluate(Xv, yv, verbose=0)["loss"] == pytest.approx(min(model.history["val_loss"]), rel=1e-5)
    with open(tmp_path / "log.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == list(range(1, 9))
    assert [float(r["val_loss"]) for r in rows] == pytest.approx(model.history["val_loss"], rel=1e-12)


def test_reduce_lr_on_plateau_multiplies_the_rate_and_keeps_it(tmp_path):
    X, y = blobs()
    model = net(lr=0.1)
    # min_delta so large that every epoch after the first (which sets the best) is a stall: the rate
    # halves after every second stalled epoch, down to min_lr
    model.fit(X, y, epochs=7, batchSize=16, verbose=0,
              callbacks=[ReduceLROnPlateau(factor=0.5, patience=2, min_delta=1e9, min_lr=0.03)])
    assert model.history["lr"] == pytest.approx([0.1, 0.1, 0.1, 0.05, 0.05, 0.03, 0.03], rel=1e-12)
    model.saveModel(tmp_path / "m.pkl")
    assert DNN.importModel(tmp_path / "m.pkl").state.learning_rate() == pytest.approx(0.03)


# ---------------------------------------------------------------- dropout and shuffle


def test_backprop_through_a_dropout_mask_matches_central_differences():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(5, 3)), np.eye(2)[rng.integers(0, 2, 5)]
    weights = [rng.normal(size=(3, 4)), rng.normal(size=(4, 2))]
    biases = [rng.normal(size=4), rng.normal(size=2)]
    mask = (rng.uniform(size=(5, 4)) >= 0.4) / 0.6
    acts = ["tanh", "softmax"]

    def loss(w):
        return mean_loss("categorical_crossentropy", forward_pass(x, [w, weights[1]], biases, acts,
                                                                  [np.empty((5, 4)), np.empty((5, 2))],
                                                                  [mask, None])[-1], y)

    outputs = [np.empty((5, 4)), np.empty((5, 2))]
    cache = forward_pass(x, weights, biases, acts, outputs, [mask, None])
    delta = output_delta("softmax", "categorical_crossentropy", cache[-1], y, 1 / 5)
    grad_w, _ = backward_pass(cache, delta, weights, acts, masks=[mask, None], outputs=outputs)
    numeric = np.zeros_like(weights[0])
    for index in np.ndindex(numeric.shape):
        step = np.zeros_like(weights[0])
        step[index] = 1e-6
        numeric[index] = (loss(weights[0] + step) - loss(weights[0] - step)) / 2e-6
    np.testing.assert_allclose(grad_w[0], numeric, rtol=1e-6, atol=1e-9)


def test_dropout_is_seeded_trains_differently_and_predicts_deterministically(tmp_path):
    X, y = blobs()
    runs = [net(hidden=(16,), dropout=0.5) for _ in range(2)]
    for model in runs:
        model.fit(X, y, epochs=3, batchSize=16, verbose=0)
    np.testing.assert_array_equal(flat(runs[0]), flat(runs[1]))
    plain = net(hidden=(16,))
    plain.fit(X, y, epochs=3, batchSize=16, verbose=0)
    assert not np.array_equal(flat(plain), flat(runs[0]))
    np.testing.assert_array_equal(runs[0].predictProba(X), runs[0].predictProba(X))
    shown = []
    runs[0].summary(printFn=shown.append)
    assert "Dropout" in shown[0]
    runs[0].saveModel(tmp_path / "m.pkl")
    assert DNN.importModel(tmp_path / "m.pkl").dropout == [0.0, 0.5, 0.0]


def test_dropout_rate_is_checked():
    with pytest.raises(ValueError, match="dropout must be < 1"):
        net(dropout=1.0)


def test_without_shuffle_the_rows_are_visited_in_order():
    """Plain SGD on consecutive batches, written out in numpy, gives the same weights."""
    X, y = blobs(n=40)
    model = DNN(lr=0.1, seed=0, dtype="float64")
    model.addInputLayer([4])
    model.addHiddenLayer([5], activation="tanh")
    model.addOutputLayer([3])
    w2, b2, w3, b3 = (a.copy() for a in (model.w[2], model.b[2], model.w[3], model.b[3]))
    model.fit(X, y, epochs=2, batchSize=16, verbose=0, shuffle=False)
    targets = np.eye(3)[y]
    for _ in range(2):
        for start in range(0, 40, 16):
            x, t = X[start:start + 16], targets[start:start + 16]
            h = np.tanh(x @ w2 + b2)
            z = h @ w3 + b3
            p = np.exp(z - z.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            d3 = (p - t) / len(x)
            d2 = d3 @ w3.T * (1 - h**2)
            w3, b3 = w3 - 0.1 * h.T @ d3, b3 - 0.1 * d3.sum(axis=0)
            w2, b2 = w2 - 0.1 * x.T @ d2, b2 - 0.1 * d2.sum(axis=0)
    for ours, theirs in zip((model.w[2], model.b[2], model.w[3], model.b[3]), (w2, b2, w3, b3)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------- config and copies


def test_get_config_is_plain_data_and_from_config_builds_an_untrained_twin():
    model = net(hidden=(8, 5), dropout=[0.1, 0.0], optimizer="adam", lr=CosineDecay(0.01, 10), l2=0.001)
    config = model.getConfig()
    assert json.loads(json.dumps(config)) == config
    twin = DNN.fromConfig(config)
    assert twin.getConfig() == config
    np.testing.assert_array_equal(flat(twin), flat(model))


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_a_copied_model_trains_exactly_like_the_original(how):
    X, y = blobs()
    model = net()
    model.fit(X, y, epochs=2, batchSize=16, verbose=0)
    twin = copy.deepcopy(model) if how == "deepcopy" else pickle.loads(pickle.dumps(model))
    for m in (model, twin):
        m.fit(X, y, epochs=3, batchSize=16, verbose=0)
    np.testing.assert_array_equal(flat(twin), flat(model))
    assert twin.history["loss"] == model.history["loss"]
