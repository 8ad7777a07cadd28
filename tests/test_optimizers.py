"""The update rules of dnn.optimizers against hand-worked steps and the published algorithms."""

import numpy as np
import pytest

from dnn.optimizers import SGD, Adagrad, Adam, AdamW, NAdam, RMSprop
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
                                       RMSprop(), AdamW(), NAdam(), Adagrad()], ids=repr)
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
                                         r"rmsprop, adamw, nadam, adagrad, or an instance such as "
                                         r"dnn.optimizers.Adam\(\)"):
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


# ---------------------------------------------------------------- PyTorch's optimizers, step for step

STEPS = 20


def gradients(rng, size=7):
    """20 gradients of mixed scales, some entries tiny so that epsilon matters."""
    scales = np.array([1.0, 0.1, 1e-3, 1e-6, 3.0, 1e-8, 0.5])[:size]
    return [rng.normal(size=size) * scales for _ in range(STEPS)]


def torch_trajectory(torch_class, w, grads, lr, **settings):
    """The parameters after each step of ``torch_class`` on the given gradients, in float64."""
    torch = pytest.importorskip("torch")
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)   # PyTorch's scalar state (NAdam's running product) in float64 too
    try:
        param = torch.nn.Parameter(torch.tensor(w, dtype=torch.float64))
        optimizer = torch_class([param], lr=lr, **settings)
        path = []
        for g in grads:
            param.grad = torch.tensor(g, dtype=torch.float64)
            optimizer.step()
            path.append(param.detach().numpy().copy())
    finally:
        torch.set_default_dtype(previous)
    return np.array(path)


def dnn_trajectory(optimizer, w, grads, lr):
    w = w.copy()
    optimizer.prepare(w)
    path = []
    for g in grads:
        optimizer.update(w, g.copy(), lr)
        path.append(w.copy())
    return np.array(path)


def torch_optimizers():
    torch = pytest.importorskip("torch")
    return torch.optim


@pytest.mark.parametrize(("ours", "theirs", "settings", "lr"), [
    (AdamW(), "AdamW", {}, 1e-3),
    (AdamW(beta1=0.8, beta2=0.99, epsilon=1e-6, weight_decay=0.1), "AdamW",
     {"betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1}, 0.05),
    (AdamW(weight_decay=0.0), "Adam", {}, 1e-2),
    (NAdam(), "NAdam", {}, 2e-3),
    (NAdam(beta1=0.95, beta2=0.98, epsilon=1e-7, momentum_decay=0.01), "NAdam",
     {"betas": (0.95, 0.98), "eps": 1e-7, "momentum_decay": 0.01}, 0.05),
    (Adagrad(), "Adagrad", {}, 1e-2),
    (Adagrad(epsilon=1e-6, initial_accumulator_value=0.1), "Adagrad",
     {"eps": 1e-6, "initial_accumulator_value": 0.1}, 0.3),
], ids=lambda value: repr(value) if not isinstance(value, (dict, float)) else None)
def test_the_trajectory_over_20_steps_is_pytorchs(ours, theirs, settings, lr):
    rng = np.random.default_rng(7)
    w = rng.normal(size=7)
    grads = gradients(rng)
    expected = torch_trajectory(getattr(torch_optimizers(), theirs), w, grads, lr, **settings)
    np.testing.assert_allclose(dnn_trajectory(ours, w, grads, lr), expected, rtol=1e-6, atol=0)


def test_adam_places_epsilon_as_keras_and_so_parts_from_pytorchs_adam():
    # kept bit for bit for the models trained with it; AdamW(weight_decay=0) is PyTorch's Adam (above)
    rng = np.random.default_rng(7)
    w = rng.normal(size=7)
    grads = gradients(rng)
    theirs = torch_trajectory(torch_optimizers().Adam, w, grads, 1e-2)
    ours = dnn_trajectory(Adam(), w, grads, 1e-2)
    difference = np.max(np.abs(ours - theirs) / np.abs(theirs), axis=0)
    large = [0, 1, 4, 6]   # gradients of 0.1 and more: sqrt(v) dwarfs epsilon either way
    assert difference[large].max() < 1e-5 and difference.max() > 1e-3


def test_nadam_and_adagrad_float32_stay_float32():
    for optimizer in (NAdam(), Adagrad(), AdamW()):
        w = np.ones(3, np.float32)
        optimizer.prepare(w)
        optimizer.update(w, np.full(3, 0.5, np.float32), 0.1)
        assert w.dtype == np.float32 and all(value.dtype == np.float32 for value in optimizer.state.values()
                                             if isinstance(value, np.ndarray))


def test_adagrad_hand_worked():
    w = np.array([1.0, -1.0])
    optimizer = prepared(Adagrad(epsilon=1e-300, initial_accumulator_value=1.0), w)
    optimizer.update(w, np.array([0.0, 3.0]), 0.5)   # s = [1, 10]: steps 0 and 0.5 * 3 / sqrt(10)
    np.testing.assert_allclose(w, [1.0, -1.0 - 1.5 / np.sqrt(10)], rtol=1e-15)
    optimizer.update(w, np.array([2.0, 0.0]), 0.5)   # s = [5, 10]
    np.testing.assert_allclose(w, [1.0 - 1.0 / np.sqrt(5), -1.0 - 1.5 / np.sqrt(10)], rtol=1e-15)


def test_the_new_optimizers_by_name_with_pytorchs_defaults():
    from dnn import DNN

    assert DNN(optimizer="adamw").optimizer == AdamW(weight_decay=0.01, epsilon=1e-8)
    assert DNN(optimizer="NAdam").optimizer == NAdam(momentum_decay=0.004)
    assert DNN(optimizer="adagrad").optimizer == Adagrad(epsilon=1e-10)   # its own epsilon unless one is given
    assert DNN(optimizer="adagrad", epsilon=1e-7).optimizer == Adagrad(epsilon=1e-7)
    assert DNN(optimizer="adam").optimizer == Adam(epsilon=1e-8)
    with pytest.raises(ValueError, match="weight_decay must be <= 1000"):
        DNN(optimizer=AdamW(weight_decay=5000))


@pytest.mark.parametrize(("optimizer", "lr", "expected"), [
    ("rmsprop", 0.01, RMSprop(epsilon=1e-8)),            # by name, with the constructor's epsilon
    (AdamW(weight_decay=0.05), 0.01, AdamW(weight_decay=0.05)), (NAdam(), 0.01, NAdam()),
    (Adagrad(initial_accumulator_value=0.1), 0.1, Adagrad(initial_accumulator_value=0.1)),
], ids=repr)
def test_optimizers_train_and_continue_exactly_from_a_model_file(optimizer, lr, expected, tmp_path):
    from dnn import DNN

    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = (X[:, 0] > 0).astype(int)
    model = DNN(optimizer=optimizer, lr=lr, seed=0)
    model.addInputLayer([3])
    model.addHiddenLayer([6])
    model.addOutputLayer([2])
    model.fit(X, y, epochs=20, batchSize=10, verbose=0)
    assert model.history["accuracy"][-1] > 0.9
    model.saveModel(tmp_path / "m.pkl")
    loaded = DNN.importModel(tmp_path / "m.pkl")
    assert loaded.optimizer == expected
    assert loaded.optimizer.state.keys() == model.optimizer.state.keys()
    for m in (model, loaded):
        m.fit(X, y, epochs=2, batchSize=10, verbose=0)
    np.testing.assert_array_equal(loaded.w[2], model.w[2])


@pytest.mark.filterwarnings("ignore::dnn.errors.TrainingStalledWarning")  # two rows, three small steps: by design
def test_changing_a_setting_keeps_nadams_running_product():
    from dnn import DNN

    model = DNN(optimizer="nadam", seed=0)
    model.addInputLayer([2])
    model.addOutputLayer([2])
    model.fit(np.eye(2), [0, 1], epochs=3, verbose=0)
    before = dict(model.optimizer.state)
    model.beta2 = 0.99
    assert model.optimizer.state["mu_product"] == before["mu_product"] < 1
    assert model.optimizer.state["step"] == before["step"] == 3


def test_the_optimizers_scratch_array_is_never_shared_by_copies():
    """A step's scratch space is made once per optimizer; a deep copy or a pickled one makes its own."""
    import copy
    import pickle

    optimizer = RMSprop()
    param, grad = np.zeros(4), np.ones(4)
    optimizer.prepare(param)
    optimizer.update(param, grad.copy(), 0.1)
    for twin in (copy.deepcopy(optimizer), pickle.loads(pickle.dumps(optimizer))):
        assert "_work" not in twin.__dict__
        twin.update(param.copy(), grad.copy(), 0.1)
        assert not np.shares_memory(twin.work_array(param), optimizer.work_array(param))
