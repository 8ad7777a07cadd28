"""Every numeric setting is bounded, and checked the same way wherever it enters a model.

The entries: the constructor, add*Layer, assignment to an attribute, fromConfig and a model file's config. A refused
value raises ValueError (ModelFileError for a file) naming the setting and the value, and leaves the model unchanged.
"""

import copy
import math
import pickle
import re
from fractions import Fraction

import numpy as np
import pytest

from dnn import DNN, ModelFileError
from dnn.checks import SETTINGS, check_setting
from dnn.files import persistence
from dnn.schedules import CosineDecay, ExponentialDecay, StepDecay


def network(**options):
    model = DNN(seed=0, **options)
    model.addInputLayer([3])
    model.addHiddenLayer([4])
    model.addOutputLayer([2])
    return model


def snapshot(model):
    """Everything an assignment could change, compared by value."""
    return (model.getConfig(), model.optimizer.config(), str(model.dtype), model.state.rng.bit_generator.state,
            [None if model.w[layer] is None else model.w[layer].copy() for layer in (2, 3)])


def assert_same(before, after):
    assert before[:4] == after[:4]
    for a, b in zip(before[4], after[4]):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------- the ranges, at their edges


EDGES = [  # setting, the last value accepted, the first refused, what the message says
    ("lr", 1000, 1000.5, "lr must be <= 1000, got 1000.5"),
    ("lr", 1e-12, 0, "lr must be > 0, got 0"),
    ("decay", 1000, 1e300, "decay must be <= 1000, got 1e+300"),
    ("l2", 1000, 1e300, "l2 must be <= 1000, got 1e+300"),
    ("momentum", 0.999, 1, "momentum must be < 1, got 1"),
    ("epsilon", 1e-20, 1e-21, "epsilon must be >= 1e-20, got 1e-21"),
    ("epsilon", 1.0, 1.5, "epsilon must be <= 1, got 1.5"),
    ("beta1", 0.0, 1.0, "beta1 must be < 1, got 1.0"),
    ("seed", 2**128 - 1, 2**128, "seed must be < 2**128"),
]


@pytest.mark.parametrize(("name", "good", "bad", "message"), EDGES)
def test_the_constructor_takes_the_edge_and_refuses_past_it(name, good, bad, message):
    optimizer = "adam" if name in ("epsilon", "beta1") else "sgd"
    model = DNN(optimizer=optimizer, **{name: good})
    assert getattr(model, name) == good
    with pytest.raises(ValueError, match=re.escape(message)):
        DNN(optimizer=optimizer, **{name: bad})


@pytest.mark.parametrize(("name", "good", "bad", "message"), EDGES)
def test_assignment_takes_the_edge_refuses_past_it_and_leaves_the_model_unchanged(name, good, bad, message):
    model = network(optimizer="adam" if name in ("epsilon", "beta1") else "sgd")
    setattr(model, name, good)
    assert getattr(model, name) == good
    before = snapshot(model)
    with pytest.raises(ValueError, match=re.escape(message)):
        setattr(model, name, bad)
    assert_same(before, snapshot(model))


def test_the_message_says_why_the_ceiling_is_where_it_is():
    with pytest.raises(ValueError, match=r"lr must be <= 1000, got 1e\+300 \(.*diverge\)"):
        DNN(lr=1e300)
    with pytest.raises(ValueError, match=r"\(at 1 the velocity never forgets"):
        DNN(momentum=1.0)


def test_every_setting_in_the_table_has_a_reason():
    assert all(bound.why for bound in SETTINGS.values())
    assert {"lr", "decay", "l2", "momentum", "beta1", "beta2", "rho", "epsilon", "dropout", "std", "factor", "rate",
            "min_lr", "every", "epochs", "warmup", "seed"} <= set(SETTINGS)


# ---------------------------------------------------------------- assignment is checked like the constructor


@pytest.mark.parametrize(("name", "value", "message"), [
    ("lr", "fast", "lr must be a finite number, got 'fast'"),
    ("lr", print, "lr must be a number or a dnn.schedules.Schedule"),
    ("lr", math.inf, "lr must be a finite number"),
    ("decay", "0.1", "decay must be a finite number"),
    ("l2", -1.0, "l2 must be >= 0"),
    ("seed", "7", "seed must be a non-negative integer or None, got '7'"),
    ("seed", 1.5, "seed must be a non-negative integer or None"),
    ("dtype", "float16", "dtype must be 'float32' or 'float64', got 'float16'"),
    ("dtype", "float64", "dtype is fixed once layers are added"),
    ("standardize", 1, "standardize must be True or False, got 1"),
    ("momentum", math.nan, "momentum must be a finite number"),
])
def test_a_refused_assignment_leaves_the_model_unchanged(name, value, message):
    model = network()
    before = snapshot(model)
    with pytest.raises(ValueError, match=message):
        setattr(model, name, value)
    assert_same(before, snapshot(model))


def test_a_bad_rate_assigned_fails_at_assignment_not_at_fit():
    model = network()
    with pytest.raises(ValueError, match="lr must be a finite number, got 'fast'"):
        model.lr = "fast"
    assert model.lr == 0.01


def test_assigned_numbers_are_kept_as_floats_and_schedules_as_given():
    model = network()
    model.lr = Fraction(1, 8)
    model.decay = np.float32(0.5)
    assert type(model.lr) is float and model.lr == 0.125
    assert type(model.decay) is float and model.decay == 0.5
    schedule = StepDecay(0.1, factor=0.5, every=2)
    with pytest.raises(ValueError, match=r"not both: model\.decay is 0\.5"):
        model.lr = schedule
    assert model.lr == 0.125
    model.decay = 0
    model.lr = schedule
    assert model.lr is schedule
    with pytest.raises(ValueError, match="schedule or decay, not both"):
        model.decay = 0.1
    assert model.decay == 0.0 and model.getConfig()["lr"] == {"name": "step", "lr": 0.1, "factor": 0.5, "every": 2}


def test_the_dtype_may_be_set_before_layers_exist():
    model = DNN()
    model.dtype = "float64"
    model.addInputLayer([2])
    model.addOutputLayer([2])
    assert model.w[2].dtype == np.float64


def test_one_check_gives_one_message_at_every_entry():
    """The constructor, assignment, fromConfig and check_setting itself say the same about the same value."""
    messages = []
    for attempt in (lambda: DNN(lr=1e300), lambda: setattr(network(), "lr", 1e300),
                    lambda: DNN.fromConfig({**network().getConfig(), "lr": 1e300}),
                    lambda: check_setting("lr", 1e300)):
        with pytest.raises(ValueError) as raised:
            attempt()
        messages.append(str(raised.value))
    assert len(set(messages)) == 1 and messages[0].startswith("lr must be <= 1000, got 1e+300")


def test_a_model_pickled_with_plain_attributes_still_unpickles():
    """Up to dnn 0.2.0 lr, decay, seed, dtype and standardize were plain attributes of the instance."""
    model = network(lr=0.2, decay=0.1)
    state = model.__getstate__()
    for name in ("lr", "decay", "seed", "dtype", "standardize"):
        state[name] = state.pop("_" + name)
    old = DNN.__new__(DNN)
    old.__setstate__(state)
    assert (old.lr, old.decay, old.seed, old.dtype, old.standardize) == (0.2, 0.1, 0, np.float32, False)
    assert pickle.loads(pickle.dumps(old)).lr == copy.deepcopy(old).lr == 0.2


# ---------------------------------------------------------------- the initializer's standard deviation


def test_a_huge_standard_deviation_is_refused_and_the_model_is_unchanged():
    model = DNN(seed=0)
    model.addInputLayer([4])
    before = model.state.rng.bit_generator.state
    with pytest.raises(ValueError, match=r"normal initializer must be <= 100, got 1e\+300"):
        model.addHiddenLayer([4], initializer=("normal", 1e300))
    assert model.units == [4] and model.initializers == [None]
    assert model.state.rng.bit_generator.state == before


def test_the_largest_standard_deviation_draws_finite_weights_of_that_spread():
    model = DNN(seed=0)
    model.addInputLayer([50])
    model.addHiddenLayer([400], initializer={"name": "normal", "std": 100})
    weights = model.w[2]
    assert np.isfinite(weights).all()
    # 20,000 draws: the sample standard deviation is within 2 % of 100 (its own spread is 100 / sqrt(40,000) = 0.5 %)
    assert abs(weights.std() - 100) < 2


def test_from_config_refuses_a_huge_standard_deviation():
    config = network().getConfig()
    config["layers"][1]["initializer"] = {"name": "normal", "std": 1e300}
    with pytest.raises(ValueError, match=r"normal initializer must be <= 100"):
        DNN.fromConfig(config)


@pytest.mark.parametrize(("change", "message"), [
    (lambda config: config["layers"][1].update(initializer={"name": "normal", "std": 1e300}),
     r"normal initializer must be <= 100, got 1e\+300"),
    (lambda config: config.update(lr=1e300), r"lr must be <= 1000"),
    (lambda config: config.update(l2=1e300), r"l2 must be <= 1000"),
    (lambda config: config.update(optimizer={"name": "adam", "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-300}),
     r"epsilon must be >= 1e-20"),
    (lambda config: config.update(seed=2**128), r"seed must be < 2\*\*128"),
    (lambda config: config["layers"][1].update(dropout=1.0), "dropout must be < 1"),
])
def test_a_model_file_with_an_out_of_range_setting_is_refused(change, message, tmp_path):
    payload = persistence.to_payload(network())
    change(payload["config"])
    path = tmp_path / "m.pkl"
    path.write_bytes(persistence.file_bytes(payload))   # a valid checksum over the changed config
    with pytest.raises(ModelFileError, match=message):
        DNN.importModel(path)


# ---------------------------------------------------------------- schedules


@pytest.mark.parametrize(("make", "message"), [
    (lambda: StepDecay(0.1, factor=2.0), "factor must be <= 1, got 2.0"),
    (lambda: ExponentialDecay(0.1, rate=1.5), "rate must be <= 1, got 1.5"),
    (lambda: StepDecay(0.1, every=2**31), r"every must be <= 2\*\*31 - 1"),
    (lambda: CosineDecay(0.1, epochs=10, warmup=True), "warmup must be an integer"),
    (lambda: CosineDecay(1e300, epochs=10), "lr must be <= 1000"),
])
def test_schedule_settings_are_bounded(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_a_growing_schedule_would_overflow_which_is_why_rates_stop_at_1():
    # what a rate above 1 came to: lr * 2 ** epoch is beyond float range by epoch 1100
    with pytest.raises(OverflowError):
        _ = 0.1 * 2.0**1100
    assert ExponentialDecay(0.1, rate=1.0)(10**6) == 0.1
    assert StepDecay(0.1, factor=1.0, every=1)(10**6) == 0.1


# ---------------------------------------------------------------- epsilon's floor


def test_the_epsilon_floor_keeps_adam_finite_where_a_gradient_is_always_zero():
    """A zero feature gives its weights a zero gradient: sqrt(v) + epsilon is then epsilon in float32.

    Below float32's range (1e-300) that sum was 0 and the step 0 / 0; at the floor 1e-20 it stays finite.
    """
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    X[:, 2] = 0
    y = (X[:, 0] > 0).astype(int)
    with pytest.raises(ValueError, match="epsilon must be >= 1e-20"):
        DNN(optimizer="adam", epsilon=1e-300)
    assert np.float32(1e-300) == 0 and np.float32(1e-20) > 0
    model = network(optimizer="adam", epsilon=1e-20)
    model.fit(X, y, epochs=3, batchSize=10, verbose=0)
    assert all(np.isfinite(model.w[layer]).all() for layer in (2, 3))
    np.testing.assert_array_equal(model.w[2][2], network().w[2][2])   # the zero feature's weights never moved
