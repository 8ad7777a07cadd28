"""model.lrFind: a geometric sweep of the rate, one mini-batch a rate, stopped when the smoothed loss takes off; a
suggestion that trains; and the model left bit for bit as it was."""

import copy
import math

import numpy as np
import pytest

from dnn import DNN, TrainingDivergedError
from dnn.model import lr_find
from tests.conftest import run_cells


def toy(kind, rng, n=200):
    """A small float64 network and data: "regression" (a plane plus noise) or "binary" (a noisy half-plane)."""
    X = rng.normal(size=(n, 2))
    if kind == "regression":
        y = X @ [1.5, -2.0] + 0.5 + 0.1 * rng.normal(size=n)
    else:
        y = (X[:, 0] - 0.5 * X[:, 1] + 0.3 * rng.normal(size=n) > 0).astype(int)
    return X, y


def network(kind, **settings):
    model = DNN(seed=3, dtype="float64", **settings)
    model.addInputLayer([2])
    model.addHiddenLayer([8], activation="tanh")
    model.addOutputLayer([1], activation="identity" if kind == "regression" else "sigmoid")
    return model


def final_loss(kind, optimizer, lr, X, y):
    """The training loss after 20 epochs of full batches at ``lr``; inf when training diverges."""
    try:
        history = network(kind, optimizer=optimizer, lr=lr).fit(X, y, epochs=20, batchSize=len(X), verbose=0)
    except TrainingDivergedError:
        return math.inf
    return history["loss"][-1] if math.isfinite(history["loss"][-1]) else math.inf


@pytest.mark.parametrize(("kind", "optimizer", "end"), [("regression", "sgd", 100.0), ("binary", "adam", 10.0)])
def test_the_suggested_rate_trains_and_a_rate_100_times_higher_does_worse(rng, kind, optimizer, end):
    X, y = toy(kind, rng)
    found = network(kind, optimizer=optimizer).lrFind(X, y, startLr=1e-5, endLr=end, batchSize=len(X))
    first = network(kind, optimizer=optimizer).fit(X, y, epochs=1, batchSize=len(X), verbose=0)["loss"][0]
    trained = final_loss(kind, optimizer, found.suggestion, X, y)
    # over 40 seeds: the loss drops by 47% or more, and 100 times the rate diverges or ends 2.4 times higher or more
    assert trained < 0.6 * first
    assert final_loss(kind, optimizer, 100 * found.suggestion, X, y) > 2 * trained
    assert found.lrs[0] < found.suggestion < found.lrs[-1]


def test_the_rates_are_exactly_geometric(rng):
    X, y = toy("binary", rng)
    found = network("binary").lrFind(X, y, startLr=1e-6, endLr=1.0, steps=61, stopFactor=None)
    assert len(found.lrs) == len(found.losses) == len(found.smoothed) == 61 and not found.stopped
    np.testing.assert_array_equal(found.lrs, np.geomspace(1e-6, 1.0, 61))
    assert found.lrs[0] == 1e-6 and found.lrs[-1] == 1.0
    np.testing.assert_allclose(found.lrs[1:] / found.lrs[:-1], 10 ** 0.1, rtol=1e-13)


def test_the_losses_are_smoothed_with_bias_correction_and_the_sweep_stops_past_4_times_the_best(rng):
    X, y = toy("regression", rng)
    found = network("regression").lrFind(X, y, startLr=1e-4, endLr=100.0, batchSize=20, smoothing=0.9)
    assert found.stopped and len(found.lrs) < 100
    average, expected = 0.0, []
    for k, loss in enumerate(found.losses[np.isfinite(found.losses)]):
        average = 0.9 * average + 0.1 * loss
        expected.append(average / (1 - 0.9 ** (k + 1)))
    np.testing.assert_allclose(found.smoothed[:len(expected)], expected, rtol=1e-12)
    smoothed = found.smoothed
    # it stopped at the first step past 4 times the lowest so far (or at a loss no longer finite), not before
    assert not (smoothed[:-1] > 4 * np.minimum.accumulate(smoothed[:-1])).any()
    assert smoothed[-1] > 4 * smoothed[:-1].min() or not math.isfinite(found.losses[-1])


def test_the_suggestion_is_the_steepest_descent_of_the_smoothed_loss():
    lrs = np.geomspace(1e-6, 1e2, 81)  # ten points a decade: 1e-2 is point 40
    smoothed = 2 - np.tanh(np.log10(lrs) + 2)  # falls fastest at 1e-2
    assert lr_find.steepest(lrs, smoothed) == pytest.approx(1e-2, rel=1e-12)
    assert lr_find.lowest(lrs, smoothed) == lrs[-6]  # the last 5 points are left out
    noisy = smoothed + 0.05 * (-1) ** np.arange(81)  # a zigzag between neighbours does not fool it
    assert lr_find.steepest(lrs, noisy) == pytest.approx(1e-2, rel=1e-12)
    assert math.isnan(lr_find.steepest(lrs[:1], smoothed[:1]))


def state_of(model):
    """Everything lrFind must leave alone, copied."""
    state = model.state
    return copy.deepcopy({
        "flat": state.params.flat, "optimizer": state.optimizer.state, "rng": state.rng.bit_generator.state,
        "history": dict(state.history), "epochs": state.epochs, "record": state.parameter_record,
        "split": state.validation_split, "schedule": state.schedule.config(), "factor": state.lr_factor,
        "stopped": state.stopped_early, "task": model.task, "classes": model.classes, "mean": model.feature_mean,
        "scale": model.feature_scale, "names": model.feature_names,
        "thread policies": {work: (id(policy), {key: v for key, v in vars(policy).items() if not callable(v)})
                            for work, policy in model._thread_policies.items()},  # what they measured
    })


def assert_same(a, b):
    assert a.keys() == b.keys()
    for key in a:
        if isinstance(a[key], dict):
            assert_same(a[key], b[key])
        elif isinstance(a[key], np.ndarray) or isinstance(b[key], np.ndarray):
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)
        else:
            assert a[key] == b[key], key


def classifier():
    model = DNN(lr=0.05, optimizer="adam", seed=7, standardize=True)
    model.addInputLayer([4])
    model.addHiddenLayer([12], dropout=0.2)
    model.addOutputLayer([3])
    return model


def fit(model, X, y, epochs):
    return model.fit(X, y, epochs=epochs, batchSize=25, verbose=0, validationSplit=0.2,
                     parameterList=[("w", 2, 1, 1)])


@pytest.mark.parametrize("fitted_before", [True, False])
def test_the_model_is_left_exactly_as_it_was_and_fits_bit_for_bit_as_without_it(rng, fitted_before):
    X = rng.normal(3.0, 2.0, size=(300, 4))
    y = (X[:, :3] + rng.normal(0, 1.0, size=(300, 3))).argmax(axis=1)
    model, twin = classifier(), classifier()
    if fitted_before:
        fit(model, X, y, 2)
        fit(twin, X, y, 2)
    before = state_of(model)
    found = model.lrFind(X, y, steps=40, batchSize=25)
    assert len(found.lrs) > 10
    assert_same(state_of(model), before)
    history, expected = fit(model, X, y, 3), fit(twin, X, y, 3)
    np.testing.assert_array_equal(model.state.params.flat, twin.state.params.flat)
    for key in model.optimizer.state:
        np.testing.assert_array_equal(model.optimizer.state[key], twin.optimizer.state[key])
    assert {k: v for k, v in history.items() if k != "time"} == {k: v for k, v in expected.items() if k != "time"}
    assert model.parameterRecord == twin.parameterRecord
    assert model.state.rng.bit_generator.state == twin.state.rng.bit_generator.state


@pytest.mark.parametrize(("arguments", "message"), [
    ({"startLr": 1.0, "endLr": 1.0}, "startLr must be below endLr, got startLr=1.0 and endLr=1.0"),
    ({"startLr": 0}, "startLr must be > 0, got 0"),
    ({"endLr": 2e3}, "endLr must be <= 1000, got 2000.0"),
    ({"steps": 1}, "steps must be at least 2, got 1"),
    ({"smoothing": 1.0}, "smoothing must be < 1, got 1.0"),
    ({"stopFactor": 1}, "stopFactor must be > 1, got 1"),
    ({"batchSize": 0}, "batchSize must be a positive integer"),
])
def test_bad_arguments_are_refused_and_leave_the_model_alone(rng, arguments, message):
    X, y = toy("binary", rng)
    model = network("binary")
    before = state_of(model)
    with pytest.raises(ValueError, match=message):
        model.lrFind(X, y, **arguments)
    assert_same(state_of(model), before)


def test_an_incomplete_network_is_refused():
    model = DNN()
    model.addInputLayer([2])
    with pytest.raises(ValueError, match="lrFind needs a complete network"):
        model.lrFind(np.zeros((4, 2)), [0, 1, 0, 1])


def test_the_curve_is_drawn_on_a_log_scale_with_the_suggestion(rng, tmp_path):
    X, y = toy("binary", rng)
    found = network("binary", optimizer="adam").lrFind(X, y, startLr=1e-5, endLr=10.0, batchSize=len(X))
    figure = found.plot(tmp_path / "runs" / "lr.png")
    assert (tmp_path / "runs" / "lr.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    [axes] = figure.axes
    assert axes.get_xscale() == "log" and axes.get_title() == "Learning-rate finder"
    raw, smoothed, suggestion = axes.lines
    np.testing.assert_array_equal(raw.get_ydata(), found.losses)
    np.testing.assert_array_equal(smoothed.get_xdata(), found.lrs)
    np.testing.assert_array_equal(smoothed.get_ydata(), found.smoothed)
    assert list(suggestion.get_xdata()) == [found.suggestion] * 2
    assert suggestion.get_label() == f"suggestion {found.suggestion:.3g} (steepest descent)"
    assert repr(found) == f"<LrFindResult: 100 rates from 1e-05 to 10, suggestion {found.suggestion:.3g}>"


def test_in_a_notebook_the_curve_is_shown_once_and_the_result_echoes_as_one_line(tmp_path):
    cells = [
        "import numpy as np\nfrom dnn import DNN\n"
        "model = DNN(seed=0); model.addInputLayer([4]); model.addOutputLayer([2])\n"
        "found = model.lrFind(np.tile(np.eye(4), (10, 1)), [0, 1, 0, 1] * 10, steps=20, batchSize=8)",
        "found.plot()",  # shown once although the cell ends with it
        "fig = found.plot('saved/lr.png')\nfig",  # shown when drawn, saved, not shown again
        "found",
    ]
    notebook, images = run_cells(cells, tmp_path)
    assert images == [0, 1, 1, 0]
    [echo] = [output.data["text/plain"] for output in notebook.cells[3].outputs]
    assert echo.startswith("<LrFindResult: 20 rates from 1e-07 to 10")
    assert (tmp_path / "saved" / "lr.png").exists()
