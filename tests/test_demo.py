import importlib.util
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn")

DEMO = Path(__file__).resolve().parents[1] / "demo.py"


def load_demo():
    spec = importlib.util.spec_from_file_location("demo", DEMO)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_demo_network_reaches_97_percent_on_the_digits_test_split():
    model, X_test, y_test = load_demo().train_digits_model(verbose=0)
    assert model.modelEvaluate(X_test, y_test, verbose=0)["accuracy"] >= 0.97


def small_model(seed=0):
    from dnn import DNN

    model = DNN(lr=0.1, seed=seed, threads=1)
    model.addInputLayer([3])
    model.addHiddenLayer([4], activation="tanh")
    model.addOutputLayer([2], activation="softmax")
    X = np.array([[0.0, 1.0, 2.0], [1.0, 0.0, -1.0], [2.0, 2.0, 0.5], [-1.0, 0.5, 1.0]])
    model.fit(X, [0, 1, 1, 0], epochs=3, batchSize=2, verbose=0)
    return model


def test_demo_leaves_the_file_alone_when_only_the_timing_changed(tmp_path):
    demo = load_demo()
    path = tmp_path / "model.pkl"
    assert demo.save_if_changed(small_model(), path)       # no file yet: written
    before = path.read_bytes()
    rerun = small_model()
    rerun.history["time"] = [t + 1.0 for t in rerun.history["time"]]   # a slower machine, same training
    assert not demo.save_if_changed(rerun, path)
    assert path.read_bytes() == before


def test_demo_rewrites_the_file_when_the_model_changed(tmp_path):
    demo = load_demo()
    path = tmp_path / "model.pkl"
    demo.save_if_changed(small_model(seed=0), path)
    changed = small_model(seed=0)
    changed.w[2] = changed.w[2] + np.float32(1e-3)          # one weight array differs
    assert demo.save_if_changed(changed, path)
    from dnn import DNN

    np.testing.assert_array_equal(DNN.importModel(path).w[2], changed.w[2])
    assert demo.save_if_changed(small_model(seed=1), path)   # other weights from another seed
