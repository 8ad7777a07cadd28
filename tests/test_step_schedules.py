"""Schedules that set the rate of every mini-batch: OneCycle against PyTorch, Warmup by hand, and the training loop."""

import math
import warnings

import numpy as np
import pytest

from dnn import DNN, callbacks
from dnn.schedules import CosineDecay, InverseTimeDecay, OneCycle, StepDecay, Warmup, from_config


def torch_one_cycle(total, **settings):
    """The rate PyTorch's OneCycleLR gives each of ``total`` optimizer steps."""
    torch = pytest.importorskip("torch")
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=0.1)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, total_steps=total, cycle_momentum=False, **settings)
    rates = []
    for _ in range(total):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return rates


@pytest.mark.parametrize("settings", [
    {"max_lr": 0.1},
    {"max_lr": 0.5, "pct_start": 0.25, "anneal_strategy": "linear"},
    {"max_lr": 0.05, "pct_start": 0.4, "div_factor": 10.0, "final_div_factor": 100.0, "three_phase": True},
    {"max_lr": 1.0, "pct_start": 0.1, "anneal_strategy": "linear", "three_phase": True},
], ids=repr)
@pytest.mark.parametrize("total", [37, 100])
def test_one_cycle_gives_pytorchs_rate_at_every_step(settings, total):
    schedule = OneCycle(total_steps=total, **settings)
    ours = [schedule.at_step(step, 0) for step in range(total)]
    np.testing.assert_allclose(ours, torch_one_cycle(total, **settings), rtol=1e-12, atol=0)


def test_one_cycle_from_epochs_and_steps_per_epoch_and_after_its_end():
    schedule = OneCycle(0.2, epochs=4, steps_per_epoch=25)
    assert [schedule.at_step(s, 0) for s in range(100)] == [OneCycle(0.2, total_steps=100).at_step(s, 0)
                                                            for s in range(100)]
    assert schedule.at_step(0, 0) == pytest.approx(0.2 / 25)
    assert schedule.at_step(99, 3) == schedule.at_step(500, 20) == pytest.approx(0.2 / 25 / 1e4)
    with pytest.raises(TypeError, match="sets the rate of every mini-batch: ask its at_step"):
        schedule(0)


@pytest.mark.parametrize(("settings", "message"), [
    ({}, "give total_steps, or epochs and steps_per_epoch"),
    ({"total_steps": 10, "epochs": 2}, "give total_steps, or epochs and steps_per_epoch"),
    ({"epochs": 2}, "give total_steps, or epochs and steps_per_epoch"),
    ({"total_steps": 0}, "total_steps must be >= 1"),
    ({"total_steps": 10, "pct_start": 1.5}, "pct_start must be <= 1"),
    ({"total_steps": 10, "anneal_strategy": "cosine"}, "anneal_strategy must be 'cos' or 'linear'"),
    ({"total_steps": 10, "div_factor": 0.5}, "div_factor must be >= 1"),
    ({"total_steps": 10, "three_phase": 1}, "three_phase must be True or False"),
])
def test_one_cycle_checks_its_settings(settings, message):
    with pytest.raises(ValueError, match=message):
        OneCycle(0.1, **settings)


def test_warmup_hand_worked_over_a_schedule_per_epoch():
    schedule = Warmup(StepDecay(0.4, factor=0.5, every=1), steps=4)
    # steps 0-3 in epoch 0 warm up to 0.4; the epoch rate halves every epoch
    assert [schedule.at_step(s, 0) for s in range(4)] == [0.1, 0.2, 0.30000000000000004, 0.4]
    assert schedule.at_step(4, 0) == 0.4 and schedule.at_step(2, 1) == 0.2 * 3 / 4 and schedule.at_step(9, 2) == 0.1
    assert Warmup(0.3, steps=2).at_step(0, 5) == 0.15   # a number is a constant rate


def test_warmup_over_one_cycle_and_its_config():
    cycle = OneCycle(0.1, total_steps=50)
    schedule = Warmup(cycle, steps=10)
    assert [schedule.at_step(s, 0) for s in range(12)] == pytest.approx(
        [cycle.at_step(s, 0) * min(1, (s + 1) / 10) for s in range(12)], rel=1e-15)
    config = schedule.config()
    assert config == {"name": "warmup", "schedule": cycle.config(), "steps": 10}
    assert from_config(config) == schedule and repr(schedule).startswith("Warmup(schedule=OneCycle(max_lr=0.1")
    with pytest.raises(ValueError, match="steps must be >= 1"):
        Warmup(cycle, steps=0)


class BatchRates(callbacks.Callback):
    def __init__(self):
        self.rates = []

    def on_batch_end(self, run, batch, logs):
        self.rates.append(logs["lr"])


def data(rows=60):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(rows, 3))
    return X, (X[:, 0] + X[:, 1] > 0).astype(int)


def network(lr, **settings):
    model = DNN(lr=lr, seed=0, **settings)
    model.addInputLayer([3])
    model.addHiddenLayer([5])
    model.addOutputLayer([2])
    return model


def test_training_takes_a_rate_per_batch_and_the_history_the_last_of_each_epoch():
    X, y = data()
    schedule = OneCycle(0.5, epochs=5, steps_per_epoch=4)
    model = network(schedule, momentum=0.9)
    seen = BatchRates()
    model.fit(X, y, epochs=3, batchSize=15, verbose=0, callbacks=[seen])
    model.fit(X, y, epochs=2, batchSize=15, verbose=0, callbacks=[seen])   # the count goes on over fits
    expected = [schedule.at_step(step, 0) for step in range(20)]
    assert seen.rates == expected and model.state.steps == 20
    assert model.history["lr"] == expected[3::4]
    assert max(seen.rates) == pytest.approx(0.5, rel=0.01)


def test_a_schedule_per_step_trains_as_an_explicit_loop_would():
    """Every batch takes its own rate: the same as training one batch at a time at that rate."""
    X, y = data(rows=30)
    schedule = Warmup(CosineDecay(0.3, epochs=4), steps=5)
    stepped = network(schedule)
    stepped.fit(X, y, epochs=2, batchSize=10, shuffle=False, verbose=0)
    by_hand = network(0.3)
    for step in range(6):
        epoch, batch = divmod(step, 3)
        by_hand.lr = schedule.at_step(step, epoch)
        rows = slice(batch * 10, batch * 10 + 10)
        by_hand.fit(X[rows], y[rows], epochs=1, batchSize=10, shuffle=False, verbose=0)
    for layer in (2, 3):
        np.testing.assert_array_equal(stepped.w[layer], by_hand.w[layer])


def test_the_step_count_and_the_rate_continue_exactly_from_a_model_file(tmp_path):
    X, y = data()
    model = network(OneCycle(0.3, total_steps=24), optimizer="adam")
    model.fit(X, y, epochs=2, batchSize=15, verbose=0)
    model.saveModel(tmp_path / "m.pkl")
    loaded = DNN.importModel(tmp_path / "m.pkl")
    assert loaded.state.steps == 8 and loaded.lr == model.lr
    for m in (model, loaded):
        m.fit(X, y, epochs=3, batchSize=15, verbose=0)
    np.testing.assert_array_equal(loaded.w[2], model.w[2])
    assert loaded.history["lr"] == model.history["lr"]


def test_the_state_counts_steps_and_rewinds_them_only_when_it_goes_back_in_time():
    X, y = data()
    model = network(Warmup(0.1, steps=100))
    model.fit(X, y, epochs=1, batchSize=15, verbose=0)
    state = model.state
    snapshot = state.snapshot()
    model.fit(X, y, epochs=1, batchSize=15, verbose=0)
    assert state.steps == 8
    state.restore(snapshot, generator=False)   # early stopping's restore: the weights, not the count
    assert state.steps == 8
    state.restore(snapshot)                    # a divergence's: back in time
    assert state.steps == 4
    assert state.learning_rate() == pytest.approx(0.1 * 5 / 100)   # the next step's rate
    state.lr_factor = 0.5
    assert state.rate_at_step(9) == pytest.approx(0.5 * 0.1 * 10 / 100)


def test_a_divergence_puts_the_step_count_back_with_the_weights():
    X, y = data()
    X[:, 0] *= 1e3
    model = network(Warmup(InverseTimeDecay(50.0), steps=3), momentum=0.9)
    with pytest.raises(ArithmeticError):
        model.fit(X, y, epochs=5, batchSize=15, verbose=0)
    assert model.state.steps == 4 * model.epochs
    assert all(math.isfinite(v) for v in model.history["loss"])


@pytest.mark.parametrize("wrapped", [False, True])
def test_a_fit_after_the_cycle_ended_warns_once_and_trains_at_the_final_rate(wrapped):
    """OneCycle over 8 steps: a second fit starts at step 8, past the last one (7), at max_lr / (25 * 1e4)."""
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(32, 3)), np.arange(32) % 2
    cycle = OneCycle(0.1, total_steps=8)
    model = DNN(lr=Warmup(cycle, 2) if wrapped else cycle, seed=0)
    model.addInputLayer([3])
    model.addOutputLayer([2])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the first fit, inside the cycle, warns nothing
        model.fit(X, y, epochs=2, batchSize=8, verbose=0)
    with pytest.warns(UserWarning, match=r"OneCycle ended at step 8 \(this model has trained 8\): every batch of "
                                         r"this fit takes its final rate 4e-07") if not wrapped else \
            pytest.warns(UserWarning, match=r"Warmup ended at step 8 \(this model has trained 8\)"):
        model.fit(X, y, epochs=1, batchSize=8, verbose=0)
    assert model.history["lr"][-1] == pytest.approx(0.1 / 25 / 1e4)
