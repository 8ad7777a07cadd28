"""The scikit-learn estimators' options for activations, optimizers, schedules, penalties, clipping and max-norm.

Each is checked against the same network built and trained by hand with DNN, bit for bit (same seed, same machine).
"""

import math

import numpy as np
import pytest
from conftest import assert_same_parameters

sklearn = pytest.importorskip("sklearn")

from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_iris  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402

from dnn import DNN  # noqa: E402
from dnn.adapters.sklearn import DNNClassifier, DNNRegressor  # noqa: E402
from dnn.optimizers import AdamW  # noqa: E402
from dnn.schedules import CosineDecay, OneCycle, StepDecay, Warmup  # noqa: E402

NEW_DEFAULTS = {"normalization": None, "clip_norm": None, "clip_value": None, "l1": 0.0, "max_norm": None,
                "schedule": None, "weight_decay": None}


def iris():
    X, y = load_iris(return_X_y=True)
    return X, np.array(["setosa", "versicolor", "virginica"])[y]


def regression_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 3))
    return X, X @ [1.0, -2.0, 0.5] + 0.1 * rng.normal(size=100)


def by_hand(X, y, hidden, output, fit_options, layer_options=None, **settings):
    """A DNN built and trained with the calls the estimators stand for (their defaults: standardized, float32)."""
    model = DNN(standardize=True, **settings)
    model.addInputLayer([X.shape[1]])
    model.addHiddenLayer(hidden, **(layer_options or {}))
    model.addOutputLayer(*output)
    model.fit(X, y, verbose=0, **fit_options)
    return model


def test_the_new_settings_default_to_what_the_estimators_did_before():
    for cls in (DNNClassifier, DNNRegressor):
        params = cls().get_params()
        assert {key: params[key] for key in NEW_DEFAULTS} == NEW_DEFAULTS


def test_classifier_options_train_exactly_as_the_network_built_by_hand():
    X, y = iris()
    clf = DNNClassifier(hidden_layer_sizes=(8, 4), activation="gelu", optimizer="adamw", weight_decay=0.05,
                        lr=0.02, schedule="one_cycle", clip_norm=0.5, clip_value=0.1, l1=1e-3, max_norm=2.0,
                        epochs=3, batch_size=16, random_state=0).fit(X, y)
    # 150 rows in batches of 16: 10 steps per epoch
    model = by_hand(X, y, [8, 4], ([3], "softmax"), {"epochs": 3, "batchSize": 16},
                    {"activation": "gelu", "maxNorm": 2.0}, lr=OneCycle(0.02, epochs=3, steps_per_epoch=10),
                    optimizer=AdamW(weight_decay=0.05), clipNorm=0.5, clipValue=0.1, l1=1e-3, seed=0)
    assert_same_parameters(clf.model_, model)
    config = clf.model_.getConfig()
    assert config["optimizer"] == {"name": "adamw", "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8,
                                   "weight_decay": 0.05}
    assert (config["clipNorm"], config["clipValue"], config["l1"]) == (0.5, 0.1, 1e-3)
    assert config["lr"] == {"name": "one_cycle", "max_lr": 0.02, "total_steps": None, "epochs": 3,
                            "steps_per_epoch": 10, "pct_start": 0.3, "anneal_strategy": "cos", "div_factor": 25.0,
                            "final_div_factor": 1e4, "three_phase": False}
    assert [layer["activation"] for layer in config["layers"][1:]] == ["gelu", "gelu", "softmax"]
    assert [layer.get("maxNorm") for layer in config["layers"][1:]] == [2.0, 2.0, None]
    assert clf.get_params()["activation"] == "gelu" and clf.model_.history["lr"][-1] == pytest.approx(
        0.02 / 25 / 1e4)  # the cycle ends on its last step


def test_a_schedule_by_name_counts_the_training_rows_a_validation_split_leaves():
    X, y = regression_data()
    reg = DNNRegressor(hidden_layer_sizes=(6,), activation="elu", schedule="one_cycle", lr=0.05, epochs=4,
                       batch_size=20, validation_split=0.25, random_state=1).fit(X, y)
    # 100 rows less 25 held out, in batches of 20: 4 steps per epoch
    assert reg.model_.lr == OneCycle(0.05, epochs=4, steps_per_epoch=4)
    model = by_hand(X, y, [6], ([1], "identity"), {"epochs": 4, "batchSize": 20, "validationSplit": 0.25},
                    {"activation": "elu"}, lr=OneCycle(0.05, epochs=4, steps_per_epoch=4), optimizer="adam",
                    seed=1)
    assert_same_parameters(reg.model_, model)
    # stratified by class: 50 rows per class less round(0.2 * 50) = 10 each leave 120, in batches of 32: 4 steps
    X, y = iris()
    clf = DNNClassifier(hidden_layer_sizes=(4,), schedule="OneCycle", lr=0.05, epochs=2, validation_split=0.2,
                        random_state=0).fit(X, y)
    assert clf.model_.lr == OneCycle(0.05, epochs=2, steps_per_epoch=4)


def test_cosine_by_name_gives_the_rates_of_its_formula():
    X, y = iris()
    clf = DNNClassifier(hidden_layer_sizes=(4,), schedule="cosine", lr=0.1, epochs=4, random_state=0).fit(X, y)
    assert clf.model_.lr == CosineDecay(0.1, 4)
    np.testing.assert_allclose(clf.model_.history["lr"], [0.1 * (1 + math.cos(math.pi * e / 4)) / 2
                                                          for e in range(4)], rtol=1e-15)


def test_decay_still_works_alone_or_with_the_inverse_time_schedule():
    X, y = iris()
    expected = [0.1, 0.1 / 1.5, 0.1 / 2.0]
    for schedule in (None, "inverse_time"):
        clf = DNNClassifier(hidden_layer_sizes=(4,), lr=0.1, decay=0.5, schedule=schedule, epochs=3,
                            random_state=0).fit(X, y)
        np.testing.assert_allclose(clf.model_.history["lr"], expected, rtol=1e-15)


def test_a_schedule_object_trains_as_that_schedule_given_as_lr():
    X, y = iris()
    schedule = Warmup(StepDecay(0.05, factor=0.5, every=1), steps=3)
    clf = DNNClassifier(hidden_layer_sizes=(4,), schedule=schedule, epochs=2, random_state=0).fit(X, y)
    twin = DNNClassifier(hidden_layer_sizes=(4,), lr=schedule, epochs=2, random_state=0).fit(X, y)
    assert clf.model_.lr is schedule and clf.get_params()["schedule"] is schedule
    assert_same_parameters(clf.model_, twin.model_)


def test_an_optimizer_instance_is_copied_and_clones_with_the_estimator():
    X, y = regression_data()
    optimizer = AdamW(weight_decay=0.2)
    reg = DNNRegressor(hidden_layer_sizes=(5,), optimizer=optimizer, clip_norm=1.0, l1=1e-4, max_norm=(1.5,),
                       schedule=OneCycle(0.01, total_steps=20), epochs=3, random_state=0)
    twin = clone(reg)
    params = twin.get_params()
    assert params["optimizer"] is not optimizer and params["optimizer"] == optimizer  # equal settings, a copy
    assert params["schedule"] == OneCycle(0.01, total_steps=20)
    assert {key: params[key] for key in ("clip_norm", "l1", "max_norm")} == {"clip_norm": 1.0, "l1": 1e-4,
                                                                          "max_norm": (1.5,)}
    reg.fit(X, y)
    twin.fit(X, y)
    assert_same_parameters(reg.model_, twin.model_)
    assert optimizer.state == {} and reg.model_.optimizer is not optimizer  # the model trained a copy
    assert reg.model_.getConfig()["optimizer"]["weight_decay"] == 0.2
    by_name = DNNRegressor(hidden_layer_sizes=(5,), optimizer="adamw", weight_decay=0.2, clip_norm=1.0, l1=1e-4,
                           max_norm=(1.5,), schedule=OneCycle(0.01, total_steps=20), epochs=3,
                           random_state=0).fit(X, y)
    assert_same_parameters(reg.model_, by_name.model_)


def test_set_params_and_grid_search_reach_the_new_settings():
    X, y = regression_data()
    reg = DNNRegressor(hidden_layer_sizes=(4,), epochs=2, random_state=0)
    assert reg.set_params(clip_value=0.5, weight_decay=0.01, optimizer="adamw") is reg
    assert (reg.clip_value, reg.weight_decay, reg.optimizer) == (0.5, 0.01, "adamw")
    assert reg.fit(X, y).model_.clipValue == 0.5
    search = GridSearchCV(DNNRegressor(hidden_layer_sizes=(4,), epochs=2, random_state=0),
                          {"clip_norm": [None, 1.0], "l1": [0.0, 1e-3]}, cv=2).fit(X, y)
    results = search.cv_results_["params"]
    assert len(results) == 4 and {(p["clip_norm"], p["l1"]) for p in results} == {
        (None, 0.0), (None, 1e-3), (1.0, 0.0), (1.0, 1e-3)}
    assert search.best_estimator_.model_.clipNorm == search.best_params_["clip_norm"]


@pytest.mark.parametrize(("given", "canonical"), [
    ("gelu", "gelu"), ("silu", "silu"), ("swish", "silu"), ("elu", "elu"), ("selu", "selu"),
    ("softplus", "softplus"), ("leaky_relu", "leaky_relu"), ("tanh", "tanh"), ("sigmoid", "sigmoid")])
def test_every_trainable_hidden_activation_reaches_the_network(given, canonical):
    X, y = iris()
    clf = DNNClassifier(hidden_layer_sizes=(4, 3), activation=given, epochs=1, random_state=0).fit(X, y)
    assert clf.model_.activations[1:3] == [canonical, canonical]
    model = by_hand(X, y, [4, 3], ([3], "softmax"), {"epochs": 1, "batchSize": 32}, {"activation": given},
                    optimizer="adam", lr=0.001, seed=0)
    assert_same_parameters(clf.model_, model)


@pytest.mark.parametrize(("settings", "message"), [
    ({"optimizer": "sgd", "weight_decay": 0.01}, "weight_decay 0.01 is a setting of the optimizer adamw, not of 'sgd'"),
    ({"optimizer": AdamW(), "weight_decay": 0.01}, "weight_decay 0.01 goes with an optimizer name"),
    ({"optimizer": "adamw", "weight_decay": -1.0}, "weight_decay must be >= 0, got -1.0"),
    ({"lr": StepDecay(0.1), "schedule": "cosine"}, "give a learning-rate schedule as lr or as schedule, not both"),
    ({"schedule": 0.5}, "schedule must be None, a name among inverse_time, step, exponential, cosine, one_cycle"),
    ({"schedule": "cycle"}, "unknown schedule by name 'cycle'"),
    ({"schedule": "cosine", "decay": 0.1}, "decay 0.1 goes with the inverse_time schedule (or none), not with "
                                           "'cosine'"),
    ({"schedule": StepDecay(0.1), "decay": 0.1}, "give either a learning-rate schedule or decay, not both"),
    ({"clip_norm": -1.0}, "clipNorm"),
    ({"clip_value": 0}, "clipValue"),
    ({"l1": -0.5}, "l1"),
    ({"max_norm": 0.0}, "maxNorm"),
    ({"hidden_layer_sizes": (), "max_norm": 2.0}, "max_norm=2.0 needs hidden layers; hidden_layer_sizes is empty"),
])
def test_bad_settings_are_refused_at_fit_with_the_value(settings, message):
    clf = DNNClassifier(epochs=1, **settings)  # stored as given
    assert all(clf.get_params()[key] is value for key, value in settings.items())
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        clf.fit(*iris())
    assert not hasattr(clf, "model_")


@pytest.mark.parametrize("normalization", ["batch", "layer", ["layer", None]])
def test_normalization_reaches_the_hidden_layers_and_trains_as_by_hand(normalization):
    X, y = iris()
    clf = DNNClassifier(hidden_layer_sizes=(8, 4), normalization=normalization, lr=0.01, epochs=2,
                        random_state=0).fit(X, y)
    kinds = normalization if isinstance(normalization, list) else [normalization] * 2
    assert [layer.normalization for layer in clf.model_.layers[1:3]] == kinds
    assert clf.model_.layers[3].normalization is None and clf.get_params()["normalization"] is normalization
    model = by_hand(X, y, [8, 4], ([3], "softmax"), {"epochs": 2, "batchSize": 32}, {"normalization": normalization},
                    optimizer="adam", lr=0.01, seed=0)
    assert_same_parameters(clf.model_, model)
    assert np.array_equal(clf.predict_proba(X), model.predictProba(X))  # the learned scales and running statistics
    reg = DNNRegressor(hidden_layer_sizes=(4,), normalization=kinds[0], epochs=1, random_state=0)
    assert reg.fit(*regression_data()).model_.layers[1].normalization == kinds[0]


def test_normalization_needs_hidden_layers_and_a_known_kind():
    with pytest.raises(ValueError, match="normalization='batch' needs hidden layers; hidden_layer_sizes is empty"):
        DNNClassifier(hidden_layer_sizes=(), normalization="batch", epochs=1).fit(*iris())
    with pytest.raises(ValueError, match="normalization must be None, 'batch' or 'layer', got 'bath'"):
        DNNClassifier(normalization="bath", epochs=1).fit(*iris())


def test_partial_fit_refuses_a_schedule_by_name_sized_for_one_call():
    """A schedule by name counts fit's epochs and batches; over partial_fit calls it would end after the first."""
    X, y = np.random.default_rng(0).normal(size=(40, 3)), np.arange(40) % 2
    with pytest.raises(ValueError, match="schedule='one_cycle' is sized from fit's epochs and batches"):
        DNNClassifier(schedule="one_cycle").partial_fit(X, y, classes=[0, 1])
