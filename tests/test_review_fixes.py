"""Defects a review found, each pinned by the value it got wrong."""

import tracemalloc

import numpy as np
import pytest

from dnn import DNN
from dnn.callbacks import Callback
from dnn.images import image_to_row
from dnn.threads import predict_threads, runnable_others


def blobs(n=60, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    return rng.normal(0, 3, (3, 4))[y] + rng.normal(size=(n, 4)), y


def net(**options):
    model = DNN(**{"lr": 0.1, "momentum": 0.9, "seed": 0, **options})
    model.addInputLayer([4])
    model.addHiddenLayer([6])
    model.addOutputLayer([3])
    return model


def test_a_model_whose_momentum_was_turned_off_saves_and_loads(tmp_path):
    X, y = blobs()
    model = net()
    model.fit(X, y, epochs=2, batchSize=10, verbose=0)
    model.momentum = 0.0  # the velocity is no state of plain SGD any more
    assert model.optimizer.state == {}
    model.saveModel(tmp_path / "m.pkl")
    assert DNN.importModel(tmp_path / "m.pkl").momentum == 0.0


def test_restored_epoch_belongs_to_the_last_fit():
    X, y = blobs()
    model = net()
    model.fit(X, y, epochs=4, batchSize=10, verbose=0, earlyStopping=np.inf)
    assert model.restoredEpoch is not None
    model.fit(X, y, epochs=1, batchSize=10, verbose=0)
    assert model.restoredEpoch is None


class FailsAtStart(Callback):
    def on_train_begin(self, run):
        raise RuntimeError("the user's own error")


def test_a_callback_failing_at_the_start_raises_its_own_error():
    X, y = blobs()
    with pytest.raises(RuntimeError, match="the user's own error"):
        net().fit(X, y, epochs=2, verbose=0, earlyStopping=2, callbacks=[FailsAtStart()])


def test_class_weights_may_be_numpy_numbers():
    X, y = blobs()
    plain, numpy_typed = net(), net()
    plain.fit(X, y, epochs=2, batchSize=10, verbose=0, classWeight={0: 2.0, 1: 1.0, 2: 0.5})
    numpy_typed.fit(X, y, epochs=2, batchSize=10, verbose=0,
                    classWeight={0: np.int64(2), 1: np.float32(1.0), 2: np.float64(0.5)})
    np.testing.assert_array_equal(plain.w[2], numpy_typed.w[2])


def test_this_processs_own_runnable_threads_are_not_other_load(tmp_path):
    """After a product, dnn's own BLAS workers still spin: counted as others, they made predict alternate 2, 1, 2."""
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc" / "loadavg").write_text("0.10 0.20 0.30 3/100 999\n")
    for task, state in ((101, "R"), (102, "R"), (103, "S")):  # the caller and a spinning worker run; one sleeps
        (tmp_path / "proc" / "self" / "task" / str(task)).mkdir(parents=True)
        (tmp_path / "proc" / "self" / "task" / str(task) / "stat").write_text(f"{task} (py thon) {state} 1 2 3\n")
    assert runnable_others(tmp_path) == 1  # 3 running on the machine, 2 of them ours
    big = (784, 256, 128, 10)
    assert predict_threads(None, 200_000, big, cpus=2, load=lambda: runnable_others(tmp_path)) == 1
    (tmp_path / "proc" / "loadavg").write_text("0.10 0.20 0.30 2/100 999\n")  # only ours: both cores are free
    assert predict_threads(None, 200_000, big, cpus=2, load=lambda: runnable_others(tmp_path)) == 2


def test_a_large_photo_becomes_a_row_in_little_memory():
    photo = np.zeros((2000, 2000))
    photo[100:1900, 900:1100] = 255.0  # a "1": a bar in the middle
    tracemalloc.start()
    row = image_to_row(photo, side=28, max_value=1)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 200e6  # the photo itself is 32 MB; repeating its pixels 28 x 28 times took over 6 GB
    image = row.reshape(28, 28)
    assert image.max() == pytest.approx(1.0) and image[:, 0].max() == 0.0  # ink in the middle, none at the edge
