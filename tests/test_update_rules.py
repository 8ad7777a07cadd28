"""Clipping, the L1 penalty and max-norm constraints (dnn.engine.update), against PyTorch, Keras and by hand."""

import numpy as np
import pytest
from conftest import central_difference

from dnn import DNN, optimizers
from dnn.engine.training import Trainer
from dnn.engine.update import UpdateRules, constrain_norms, l1_penalty, update_settings
from dnn.optimizers import SGD, AdamW

STEPS = 20


def small_model(dtype="float64", **settings):
    model = DNN(seed=0, dtype=dtype, **settings)
    model.addInputLayer([3])
    model.addOutputLayer([2])
    return model


def gradients(rng, size):
    """20 gradients whose norms run from 0.01 to 100, so that some are clipped and some are not."""
    return [rng.normal(size=size) * 10.0 ** rng.uniform(-2, 2) for _ in range(STEPS)]


def torch_clipped_trajectory(w, grads, lr, optimizer, clip):
    torch = pytest.importorskip("torch")
    param = torch.nn.Parameter(torch.tensor(w, dtype=torch.float64))
    step = {"sgd": lambda: torch.optim.SGD([param], lr=lr),
            "momentum": lambda: torch.optim.SGD([param], lr=lr, momentum=0.9),
            "adam": lambda: torch.optim.Adam([param], lr=lr)}[optimizer]()
    path = []
    for g in grads:
        param.grad = torch.tensor(g, dtype=torch.float64)
        clip(torch, param)
        step.step()
        path.append(param.detach().numpy().copy())
    return np.array(path)


def dnn_clipped_trajectory(w, grads, lr, optimizer, **clipping):
    params = small_model().state.params
    params.flat[...] = w
    grad = np.empty_like(params.flat)
    optimizer = {"sgd": SGD(), "momentum": SGD(momentum=0.9), "adam": AdamW(weight_decay=0.0)}[optimizer]
    optimizer.prepare(params.flat)
    rules = UpdateRules(params, grad, optimizer, **clipping)
    path = []
    for g in grads:
        # as the training loop hands it over: SGD's gradient arrives multiplied by the rate
        grad[...] = g * lr if optimizer.folds_learning_rate else g
        rules.update(lr)
        path.append(params.flat.copy())
    return np.array(path)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
@pytest.mark.parametrize("limit", [0.5, 3.0])
def test_clip_norm_is_pytorchs_clip_grad_norm(optimizer, limit):
    rng = np.random.default_rng(3)
    w = rng.normal(size=8)
    grads = gradients(rng, 8)
    assert sum(np.linalg.norm(g) > limit for g in grads) >= 5   # some steps clipped, some not
    expected = torch_clipped_trajectory(w, grads, 0.05, optimizer,
                                        lambda torch, p: torch.nn.utils.clip_grad_norm_([p], limit))
    ours = dnn_clipped_trajectory(w, grads, 0.05, optimizer, clip_norm=limit)
    np.testing.assert_allclose(ours, expected, rtol=1e-6, atol=0)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_clip_value_is_pytorchs_clip_grad_value(optimizer):
    rng = np.random.default_rng(4)
    w = rng.normal(size=8)
    grads = gradients(rng, 8)
    expected = torch_clipped_trajectory(w, grads, 0.05, optimizer,
                                        lambda torch, p: torch.nn.utils.clip_grad_value_([p], 0.2))
    ours = dnn_clipped_trajectory(w, grads, 0.05, optimizer, clip_value=0.2)
    np.testing.assert_allclose(ours, expected, rtol=1e-6, atol=0)


def test_clip_norm_then_value_as_pytorch_applies_them_one_after_the_other():
    rng = np.random.default_rng(5)
    w = rng.normal(size=8)
    grads = gradients(rng, 8)

    def both(torch, p):
        torch.nn.utils.clip_grad_norm_([p], 1.0)
        torch.nn.utils.clip_grad_value_([p], 0.3)

    expected = torch_clipped_trajectory(w, grads, 0.05, "momentum", both)
    ours = dnn_clipped_trajectory(w, grads, 0.05, "momentum", clip_norm=1.0, clip_value=0.3)
    np.testing.assert_allclose(ours, expected, rtol=1e-6, atol=0)


def xor_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 2))
    return X * 10, (X[:, 0] * X[:, 1] > 0).astype(int)


def test_training_clips_the_true_gradient_also_under_sgd(monkeypatch):
    """SGD gets the gradient multiplied by the rate; what it gets is at most lr * clipNorm, and often exactly."""
    norms = []
    update = SGD.update

    def spy(self, param, grad, lr):
        norms.append(np.linalg.norm(grad))
        update(self, param, grad, lr)

    monkeypatch.setattr(SGD, "update", spy)
    X, y = xor_data()
    model = DNN(lr=0.1, seed=0, clipNorm=0.5)
    model.addInputLayer([2])
    model.addHiddenLayer([8])
    model.addOutputLayer([2])
    model.fit(X, y, epochs=3, batchSize=16, verbose=0)
    norms = np.array(norms) / 0.1
    assert norms.max() <= 0.5 * (1 + 1e-5)
    assert np.sum(np.isclose(norms, 0.5, rtol=1e-4)) >= 3   # the clipping acted


def test_a_clip_that_never_acts_changes_no_bit():
    X, y = xor_data()

    def trained(**settings):
        model = DNN(lr=0.05, momentum=0.9, seed=0, l2=0.01, **settings)
        model.addInputLayer([2])
        model.addHiddenLayer([8], maxNorm=1e3)
        model.addOutputLayer([2])
        model.fit(X, y, epochs=3, batchSize=16, verbose=0)
        return model

    plain, clipped = trained(), trained(clipNorm=1e6, clipValue=1e6)
    for layer in (2, 3):
        np.testing.assert_array_equal(clipped.w[layer], plain.w[layer])
    assert clipped.history["loss"] == plain.history["loss"]


def test_no_rules_and_no_rate_per_step_when_every_option_is_off():
    """The hot loop is the plain one: the trainer calls the optimizer directly and uses the epoch's rate."""
    model = small_model()
    trainer = Trainer(model.state, model.activations[1:], "categorical_crossentropy", None, model.l2, 4,
                      model.dropout[1:], update_settings(model))
    assert trainer.rules is None and trainer.rates is None
    model.l2 = 0.1
    trainer = Trainer(model.state, model.activations[1:], "categorical_crossentropy", None, model.l2, 4,
                      model.dropout[1:], update_settings(model))
    assert trainer.rules is not None and trainer.rules.l1 == 0


# ---------------------------------------------------------------- L1


def test_l1_hand_worked():
    model = small_model(l1=0.5)
    params = model.state.params
    model.w[2] = [[1.0, -2.0], [0.0, 3.0], [-0.5, 0.25]]
    model.b[3 - 1] = [4.0, -4.0]
    assert l1_penalty(params.weights, 0.5) == 0.5 * (1 + 2 + 0 + 3 + 0.5 + 0.25)
    grad = np.zeros_like(params.flat)
    rules = UpdateRules(params, grad, SGD(), l1=0.5)
    assert rules.penalty() == 3.375
    rules.update(0.1)   # SGD: the gradient arrives times lr, so the step is lr * l1 * sign(w)
    np.testing.assert_allclose(model.w[2], [[0.95, -1.95], [0.0, 2.95], [-0.45, 0.2]], rtol=1e-15)
    np.testing.assert_array_equal(model.b[2], [4.0, -4.0])   # biases are not penalized


def test_the_l1_term_passes_a_gradient_check(monkeypatch):
    """The gradient the optimizer gets is d/dw of the loss the history reports, l1 sum |w| and (l2 / 2) sum w^2 in."""
    captured = []

    class Capture(optimizers.Optimizer):
        name = "capture"

        def update(self, param, grad, lr):   # takes the gradient, leaves the weights
            captured.append(grad.copy())

    monkeypatch.setitem(optimizers.OPTIMIZERS, "capture", Capture)
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(12, 3)), rng.integers(0, 2, 12)
    model = DNN(optimizer=Capture(), dtype="float64", seed=0, l1=0.3, l2=0.2)
    model.addInputLayer([3])
    model.addHiddenLayer([4], activation="tanh")
    model.addOutputLayer([2])

    def loss(w):
        model.w[2] = w
        model.fit(X, y, epochs=1, batchSize=12, shuffle=False, verbose=0)
        return model.history["loss"][-1]

    w = model.w[2].copy()
    assert np.abs(w).min() > 1e-3   # away from the kink at 0
    numeric = central_difference(loss, w)
    loss(w)
    analytic = model.state.params.split(captured[-1])[0]
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-9)


def test_the_training_and_validation_losses_carry_the_l1_penalty():
    X, y = xor_data()

    def run(l1):
        model = DNN(lr=1e-12, seed=0, l1=l1)   # a rate that leaves the weights as they are
        model.addInputLayer([2])
        model.addOutputLayer([2])
        model.fit(X, y, epochs=1, batchSize=64, verbose=0, validationData=(X, y))
        return model

    penalized, plain = run(0.1), run(0.0)
    penalty = 0.1 * np.abs(penalized.w[2]).sum()
    for key in ("loss", "val_loss"):
        assert penalized.history[key][0] == pytest.approx(plain.history[key][0] + penalty, rel=1e-5)


# ---------------------------------------------------------------- max-norm


def test_max_norm_hand_worked_and_as_keras():
    w = np.array([[3.0, 0.0, 1.0], [4.0, 0.5, 1.0]])
    keras = w * np.clip(np.linalg.norm(w, axis=0), 0, 2.0) / (1e-7 + np.linalg.norm(w, axis=0))
    constrain_norms(w, 2.0)
    np.testing.assert_allclose(w, [[1.2, 0.0, 1.0], [1.6, 0.5, 1.0]], rtol=1e-15)   # norms 5 -> 2; 0.5, 1.41 kept
    np.testing.assert_allclose(w, keras, rtol=1e-6)


def test_training_keeps_every_constrained_unit_within_its_norm():
    X, y = xor_data()
    model = DNN(lr=0.5, momentum=0.9, seed=0)
    model.addInputLayer([2])
    model.addHiddenLayer([8, 6], activation="tanh", maxNorm=[0.5, None])
    model.addOutputLayer([2])
    model.fit(X, y, epochs=3, batchSize=16, verbose=0)
    norms = np.linalg.norm(model.w[2], axis=0)
    assert norms.max() <= 0.5 * (1 + 1e-6) and np.isclose(norms, 0.5, rtol=1e-5).sum() >= 4
    assert np.linalg.norm(model.w[3], axis=0).max() > 0.5   # the layer without a bound is free
    assert [layer.max_norm for layer in model.layers] == [None, 0.5, None, None]


def test_max_norm_is_checked_recorded_and_kept_in_files(tmp_path):
    model = DNN(seed=0, l1=0.01, clipNorm=2.0, clipValue=0.5)
    model.addInputLayer([2])
    with pytest.raises(ValueError, match="maxNorm must be > 0, got 0"):
        model.addHiddenLayer([4], maxNorm=0)
    with pytest.raises(ValueError, match="give one maxNorm, or one per layer"):
        model.addHiddenLayer([4, 3], maxNorm=[1.0])
    model.addHiddenLayer([4], maxNorm=3)
    model.addOutputLayer([2])
    config = model.getConfig()
    assert config["layers"][1]["maxNorm"] == 3.0 and "maxNorm" not in config["layers"][2]
    assert (config["l1"], config["clipNorm"], config["clipValue"]) == (0.01, 2.0, 0.5)
    assert DNN.fromConfig(config).getConfig() == config
    X, y = xor_data()
    model.fit(X, y, epochs=1, verbose=0)
    model.saveModel(tmp_path / "m.pkl")
    loaded = DNN.importModel(tmp_path / "m.pkl")
    assert loaded.getConfig() == config and loaded.layers == model.layers
    for m in (model, loaded):
        m.fit(X, y, epochs=2, verbose=0)
    np.testing.assert_array_equal(loaded.w[2], model.w[2])


@pytest.mark.parametrize(("setting", "value", "message"), [
    ("l1", -0.1, "l1 must be >= 0"), ("l1", 1e4, "l1 must be <= 1000"), ("clipNorm", 0, "clipNorm must be > 0"),
    ("clipValue", float("inf"), "clipValue must be a finite number"), ("clipNorm", "big", "clipNorm must be a finite"),
])
def test_the_new_settings_are_checked_in_the_constructor_and_on_assignment(setting, value, message):
    with pytest.raises(ValueError, match=message):
        DNN(**{setting: value})
    model = DNN(**{setting: 0.5})
    with pytest.raises(ValueError, match=message):
        setattr(model, setting, value)
    assert getattr(model, setting) == 0.5
    model.clipNorm = None
    assert model.clipNorm is None


def test_summary_shows_l1_clipping_and_max_norm_only_when_set():
    from dnn import DNN

    plain = DNN(seed=0)
    plain.addInputLayer([3])
    plain.addOutputLayer([2])
    lines = []
    plain.summary(printFn=lines.append)
    assert "Regularization" not in lines[0]
    tuned = DNN(seed=0, l1=1e-4, clipNorm=1.0, clipValue=0.5)
    tuned.addInputLayer([3])
    tuned.addHiddenLayer([4, 4], maxNorm=[None, 2.5])
    tuned.addOutputLayer([2])
    lines = []
    tuned.summary(printFn=lines.append)
    assert "Regularization: l1 0.0001, clipNorm 1, clipValue 0.5, maxNorm 2.5 (layer 3)" in lines[0].splitlines()
