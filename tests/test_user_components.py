"""Optimizers and schedules of the user's own: registered by name, kept in model files by name and settings only."""

from fractions import Fraction

import numpy as np
import pytest

from dnn import DNN, ModelFileError, optimizers, schedules
from dnn.schedules import Warmup


class Halving(schedules.Schedule):
    """lr / 2 ** (epoch // every)."""

    name = "halving"
    settings = ("lr", "every")

    def __init__(self, lr, every=1):
        self.lr, self.every = lr, every

    def __call__(self, epoch):
        return self.lr / 2 ** (epoch // self.every)


class SignSGD(optimizers.Optimizer):
    """param <- param - lr sign(g), with a step count."""

    name = "sign_sgd"
    state_numbers = (("step", 0),)
    settings = ("scale",)

    def __init__(self, scale=1.0):
        super().__init__()
        self.scale = scale

    def update(self, param, grad, lr):
        self.state["step"] += 1
        param -= lr * self.scale * np.sign(grad)


@pytest.fixture
def registered(monkeypatch):
    """Register the classes with the public functions; take them out of the registries afterwards."""
    def register(*classes):
        for cls in classes:
            module = schedules if issubclass(cls, schedules.Schedule) else optimizers
            monkeypatch.setitem(module.REGISTRY.entries, cls.name, cls)   # removed again at teardown
            assert module.register(cls) is cls
    return register


def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    return X, (X[:, 0] > 0).astype(int)


def trained(lr, optimizer):
    model = DNN(lr=lr, optimizer=optimizer, seed=0)
    model.addInputLayer([3])
    model.addHiddenLayer([4])
    model.addOutputLayer([2])
    model.fit(*data(), epochs=3, batchSize=10, verbose=0)
    return model


def test_registered_components_round_trip_a_model_file(registered, tmp_path):
    registered(Halving, SignSGD)
    model = trained(Warmup(Halving(0.02, every=2), steps=6), "sign_sgd")   # by name once registered
    assert model.optimizer == SignSGD() and model.optimizer.state["step"] == 12
    model.saveModel(tmp_path / "m.pkl")
    loaded = DNN.importModel(tmp_path / "m.pkl")
    assert loaded.getConfig() == model.getConfig() and loaded.optimizer.state["step"] == 12
    assert type(loaded.lr.schedule) is Halving and type(loaded.optimizer) is SignSGD
    for m in (model, loaded):
        m.fit(*data(), epochs=2, batchSize=10, verbose=0)
    for layer in (2, 3):
        np.testing.assert_array_equal(loaded.w[layer], model.w[layer])
    assert all(loaded.history[key] == model.history[key] for key in ("loss", "accuracy", "lr"))


@pytest.mark.parametrize(("missing", "named"), [
    (Halving, r"its learning-rate schedule 'halving' is not registered in this process.*subclass of "
              r"dnn.schedules.Schedule with name = 'halving'.*dnn.schedules.register\(cls\)"),
    (SignSGD, r"its optimizer 'sign_sgd' is not registered in this process.*dnn.optimizers.register\(cls\)"),
])
def test_a_file_whose_component_is_not_registered_here_names_it(registered, monkeypatch, tmp_path, missing, named):
    registered(Halving, SignSGD)
    trained(Warmup(Halving(0.02), steps=6), SignSGD(scale=0.5)).saveModel(tmp_path / "m.pkl")
    module = schedules if missing is Halving else optimizers
    monkeypatch.delitem(module.REGISTRY.entries, missing.name)   # a process that never registered it
    built = []
    monkeypatch.setattr(missing, "__init__", lambda *args, **kwargs: built.append(args))
    with pytest.raises(ModelFileError, match=named):
        DNN.importModel(tmp_path / "m.pkl")
    assert built == []   # refused before anything was built


def test_save_refuses_unregistered_classes_before_touching_the_target(tmp_path):
    target = tmp_path / "m.pkl"
    target.write_bytes(b"before")
    model = trained(Warmup(0.1, steps=2), "sgd")
    model.lr = Warmup(Halving(0.1), steps=2)   # the nested schedule is the user's own, not registered
    with pytest.raises(ValueError, match=r"learning-rate schedule Halving is not one of dnn's own .* nor registered "
                                         r"under its name 'halving'.*dnn.schedules.register\(Halving\)"):
        model.saveModel(target)
    assert target.read_bytes() == b"before"


def test_save_refuses_settings_that_are_not_plain_data(registered, tmp_path):
    registered(Halving)
    model = trained(0.1, "sgd")
    model.lr = Halving(0.1, every=Fraction(2))   # works in memory; a file holds no Fraction
    with pytest.raises(ValueError, match="cannot save this model: its settings are not all plain data"):
        model.saveModel(tmp_path / "m.pkl")
    assert not (tmp_path / "m.pkl").exists()


def test_register_checks_what_it_is_given(registered):
    with pytest.raises(TypeError, match=r"register takes a subclass of dnn\.schedules\.Schedule"):
        schedules.register(SignSGD)
    with pytest.raises(TypeError, match=r"register takes a subclass of dnn\.optimizers\.Optimizer"):
        optimizers.register(lambda param, grad, lr: None)

    class Adam2(optimizers.Adam):
        pass   # named "adam", as its parent

    with pytest.raises(ValueError, match="'adam' is a built-in optimizer; pass replace=True"):
        optimizers.register(Adam2)
    registered(SignSGD)
    assert DNN(optimizer="Sign-SGD").optimizer == SignSGD()
