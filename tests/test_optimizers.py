"""The update rules of dnn.optimizers against hand-worked steps and the published algorithms."""

import numpy as np
import pytest

from dnn.optimizers import SGD, Adam, RMSprop
from dnn.schedules import decayed_learning_rate


def prepared(optimizer, w):
    optimizer.prepare(w)
    return optimizer


def test_decay_exact_values():
    assert [decayed_learning_rate(0.1, 0.5, e) for e in range(4)] == [0.1, 0.1 / 1.5, 0.1 / 2.0, 0.1 / 2.5]
    assert decayed_learning_rate(0.3, 0.0, 100) == 0.3


def test_plain_sgd_subtracts_the_step():
    w = np.array([1.0, 2.0])
    optimizer = prepared(SGD(), w)
    optimizer.update(w, np.array([0.1, -0.2]), lr=123.0)   # the step comes with lr folded in: lr is unused
    np.testing.assert_allclose(w, [0.9, 2.2])
    assert optimizer.state == {}


def test_momentum_hand_worked():
    w = np.array([1.0])
    optimizer = prepared(SGD(momentum=0.9), w)
    optimizer.update(w, np.array([0.1]), 0.1)   # v = -0.1, w = 0.9
    optimizer.update(w, np.array([0.1]), 0.1)   # v = -0.09 - 0.1 = -0.19, w = 0.71
    np.testing.assert_allclose(optimizer.state["velocity"], [-0.19])
    np.testing.assert_allclose(w, [0.71])


def test_nesterov_hand_worked():
    w = np.array([1.0])
    optimizer = prepared(SGD(momentum=0.5, nesterov=True), w)
    optimizer.update(w, np.array([0.2]), 0.1)
    # v = -0.2; w += 0.5 * v - 0.2 = -0.3
    np.testing.assert_allclose(w, [0.7])
    optimizer.update(w, np.array([0.2]), 0.1)
    # v = -0.1 - 0.2 = -0.3; w += 0.5 * (-0.3) - 0.2 = -0.35
    np.testing.assert_allclose(w, [0.35])
    np.testing.assert_allclose(optimizer.state["velocity"], [-0.3])


def test_adam_matches_the_paper_algorithm(rng):
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
    w = rng.normal(size=5)
    reference = w.copy()
    m = np.zeros(5)
    v = np.zeros(5)
    optimizer = prepared(Adam(b1, b2, eps), w)
    for t in range(1, 4):
        g = rng.normal(size=5)
        # Kingma & Ba, section 2: the bias correction folded into the step size
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        reference -= lr * np.sqrt(1 - b2**t) / (1 - b1**t) * m / (np.sqrt(v) + eps)
        optimizer.update(w, g.copy(), lr)
    np.testing.assert_allclose(w, reference, rtol=1e-12)
    np.testing.assert_allclose(optimizer.state["m"], m, rtol=1e-12)
    np.testing.assert_allclose(optimizer.state["v"], v, rtol=1e-12)
    assert optimizer.state["step"] == 3


def test_adam_float32_stays_float32():
    w = np.ones(3, np.float32)
    optimizer = prepared(Adam(), w)
    # one step: m = 0.05, v = 0.00025, lr_t = 0.1 sqrt(0.001) / 0.1; the step is lr_t 0.05 / sqrt(0.00025) = 0.1
    optimizer.update(w, np.full(3, 0.5, np.float32), 0.1)
    assert w.dtype == np.float32 and optimizer.state["m"].dtype == optimizer.state["v"].dtype == np.float32
    assert w == pytest.approx(np.full(3, 0.9), abs=1e-6)


@pytest.mark.parametrize("optimizer", [SGD(), SGD(momentum=0.9), SGD(momentum=0.9, nesterov=True), Adam(),
                                       RMSprop()], ids=repr)
def test_an_update_changes_the_parameters_in_place_and_keeps_its_state_arrays(optimizer):
    w = np.linspace(-1, 1, 6)
    prepared_state = prepared(optimizer, w).state
    arrays = {key: value for key, value in prepared_state.items() if isinstance(value, np.ndarray)}
    before, target = w.copy(), w
    optimizer.update(w, np.full(6, 0.1), 0.1)
    assert target is w and not np.array_equal(w, before)
    assert all(optimizer.state[key] is value for key, value in arrays.items())   # updated in place, not rebound
    optimizer.prepare(w)                                                           # the state fits: kept
    assert all(optimizer.state[key] is value for key, value in arrays.items())


def test_an_optimizer_by_any_spelling_and_the_nearest_name_for_a_typo():
    from dnn import DNN
    from dnn.optimizers import from_config, make_optimizer

    assert make_optimizer("Adam", beta1=0.8, momentum=0.5) == Adam(beta1=0.8)   # settings of others ignored
    assert DNN(optimizer="RMSProp").optimizer == RMSprop()
    assert from_config({"name": "SGD", "momentum": 0.9}) == SGD(momentum=0.9)
    with pytest.raises(ValueError, match=r"unknown optimizer 'adma'; did you mean 'adam'\? valid names: sgd, adam, "
                                         r"rmsprop, or an instance such as dnn.optimizers.Adam\(\)"):
        make_optimizer("adma")


def test_the_list_based_update_functions_are_gone():
    # one optimizer API: the classes' update; sgd_update / adam_update / init_state were a second one
    from dnn import optimizers

    assert not {"sgd_update", "adam_update", "init_state"} & set(vars(optimizers))


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
