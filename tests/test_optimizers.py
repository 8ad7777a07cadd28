import numpy as np
import pytest

from dnn.optimizers import RMSprop, adam_update, init_state, sgd_update
from dnn.schedules import decayed_learning_rate


def test_decay_exact_values():
    assert [decayed_learning_rate(0.1, 0.5, e) for e in range(4)] == [0.1, 0.1 / 1.5, 0.1 / 2.0, 0.1 / 2.5]
    assert decayed_learning_rate(0.3, 0.0, 100) == 0.3


def test_plain_sgd_subtracts_the_step():
    w = np.array([1.0, 2.0])
    sgd_update([w], [np.array([0.1, -0.2])], {})
    np.testing.assert_allclose(w, [0.9, 2.2])


def test_momentum_hand_worked():
    w = np.array([1.0])
    state = init_state("sgd", [w], momentum=0.9)
    sgd_update([w], [np.array([0.1])], state, momentum=0.9)   # v = -0.1, w = 0.9
    sgd_update([w], [np.array([0.1])], state, momentum=0.9)   # v = -0.09 - 0.1 = -0.19, w = 0.71
    np.testing.assert_allclose(state["velocity"][0], [-0.19])
    np.testing.assert_allclose(w, [0.71])


def test_nesterov_hand_worked():
    w = np.array([1.0])
    state = init_state("sgd", [w], momentum=0.5)
    sgd_update([w], [np.array([0.2])], state, momentum=0.5, nesterov=True)
    # v = -0.2; w += 0.5 * v - 0.2 = -0.3
    np.testing.assert_allclose(w, [0.7])
    sgd_update([w], [np.array([0.2])], state, momentum=0.5, nesterov=True)
    # v = -0.1 - 0.2 = -0.3; w += 0.5 * (-0.3) - 0.2 = -0.35
    np.testing.assert_allclose(w, [0.35])


def test_adam_matches_the_paper_algorithm(rng):
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
    w = rng.normal(size=5)
    reference = w.copy()
    m = np.zeros(5)
    v = np.zeros(5)
    state = init_state("adam", [w])
    for t in range(1, 4):
        g = rng.normal(size=5)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        reference -= lr * np.sqrt(1 - b2**t) / (1 - b1**t) * m / (np.sqrt(v) + eps)
        adam_update([w], [g.copy()], state, lr, b1, b2, eps)
    np.testing.assert_allclose(w, reference, rtol=1e-12)
    assert state["step"] == 3


def test_float32_stays_float32():
    w = np.ones(3, np.float32)
    state = init_state("adam", [w])
    adam_update([w], [np.full(3, 0.5, np.float32)], state, 0.1)
    assert w.dtype == np.float32 and state["m"][0].dtype == np.float32
    assert w == pytest.approx(np.full(3, 0.9), abs=1e-6)


def test_rmsprop_hand_worked():
    w = np.array([1.0, -2.0])
    optimizer = RMSprop(rho=0.5, epsilon=1e-300)  # vanishes beside sqrt(v)
    optimizer.prepare(w)
    optimizer.update(w, np.array([2.0, -4.0]), 0.1)   # v = 0.5 g^2 = [2, 8]; step = 0.1 g / sqrt(v)
    np.testing.assert_allclose(w, [1.0 - 0.1 * 2 / np.sqrt(2), -2.0 + 0.1 * 4 / np.sqrt(8)], rtol=1e-15)
    optimizer.update(w, np.array([2.0, 0.0]), 0.1)    # v = [0.5 * 2 + 0.5 * 4, 0.5 * 8] = [3, 4]
    np.testing.assert_allclose(optimizer.state["v"], [3.0, 4.0], rtol=1e-15)
    np.testing.assert_allclose(w[1], -2.0 + 0.1 * 4 / np.sqrt(8), rtol=1e-15)


def test_rmsprop_by_name_trains_and_survives_a_model_file(tmp_path):
    from dnn import DNN

    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = (X[:, 0] > 0).astype(int)
    model = DNN(optimizer="rmsprop", lr=0.01, seed=0)
    model.addInputLayer([3])
    model.addHiddenLayer([6])
    model.addOutputLayer([2])
    model.fit(X, y, epochs=20, batchSize=10, verbose=0)
    assert model.history["accuracy"][-1] > 0.9
    model.saveModel(tmp_path / "m.pkl")
    loaded = DNN.importModel(tmp_path / "m.pkl")
    assert loaded.optimizer == RMSprop(epsilon=1e-8)
    for m in (model, loaded):
        m.fit(X, y, epochs=2, batchSize=10, verbose=0)
    np.testing.assert_array_equal(loaded.w[2], model.w[2])
