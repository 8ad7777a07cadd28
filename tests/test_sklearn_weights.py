"""The scikit-learn estimators: sample weights, class weights and early stopping, alone and in scikit-learn's tools."""

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_iris  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402
from sklearn.metrics import accuracy_score, log_loss, r2_score  # noqa: E402
from sklearn.model_selection import GridSearchCV, StratifiedKFold  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.class_weight import compute_sample_weight  # noqa: E402

from dnn.adapters.sklearn import DNNClassifier, DNNRegressor  # noqa: E402

#: One batch of all the rows in their order, plain gradient descent in float64 and no learned scaling: the setting
#: in which a weight of k is exactly k copies of the row and a weight of 0 exactly its removal, once the weights are
#: scaled to keep the mean weight of a row at 1 (a batch's loss is divided by its number of rows).
EXACT = dict(hidden_layer_sizes=(8,), optimizer="sgd", momentum=0.0, lr=0.1, epochs=50, batch_size=1000,
             shuffle=False, standardize=False, dtype="float64", random_state=0)


def iris():
    X, y = load_iris(return_X_y=True)
    return X, np.array(["setosa", "versicolor", "virginica"])[y]


def same_network(a, b):
    """Whether two fitted estimators hold the same weights and biases, bit for bit."""
    layers = range(2, len(a.model_.units) + 1)
    return all(np.array_equal(a.model_.w[k], b.model_.w[k]) and np.array_equal(a.model_.b[k], b.model_.b[k])
               for k in layers)


def outputs(estimator, X):
    return estimator.predict_proba(X) if hasattr(estimator, "predict_proba") else estimator.predict(X)


@pytest.mark.parametrize("cls", [DNNClassifier, DNNRegressor])
def test_in_one_full_batch_weights_are_repeated_and_removed_rows(cls):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(30, 4))
    y = rng.integers(0, 3, size=30)
    y = y if cls is DNNClassifier else y.astype(np.float64)
    counts = rng.integers(0, 4, size=30)  # 0 removes the row, k repeats it k times
    assert (counts == 0).sum() >= 5 and set(y[counts > 0]) == set(y)
    repeated = cls(**EXACT).fit(X.repeat(counts, axis=0), y.repeat(counts))
    mean_one = counts * (len(X) / counts.sum())
    weighted = cls(**EXACT).fit(X, y, sample_weight=mean_one)
    np.testing.assert_allclose(outputs(weighted, X), outputs(repeated, X), rtol=1e-12, atol=1e-14)
    # The weights as given: every row's loss counts k times but the batch is divided by its 30 rows, not by the
    # sum of the weights, so plain gradient descent takes steps sum(k)/30 times as long as on the repeated rows.
    as_given = cls(**EXACT).fit(X, y, sample_weight=counts)
    longer = cls(**dict(EXACT, lr=EXACT["lr"] * counts.sum() / len(X))).fit(X.repeat(counts, axis=0),
                                                                            y.repeat(counts))
    np.testing.assert_allclose(outputs(as_given, X), outputs(longer, X), rtol=1e-12, atol=1e-14)
    assert np.abs(outputs(cls(**EXACT).fit(X, y), X) - outputs(repeated, X)).max() > 1e-3


def test_zero_weights_on_a_class_act_like_removing_its_rows():
    rng = np.random.default_rng(0)
    centres = {"a": 0.0, "b": -4.0, "c": 4.0}  # on a line, b beyond a: without b, its points are nearest to a
    X = np.vstack([np.column_stack([rng.normal(c, 0.3, 20), rng.normal(0, 1, 20)]) for c in centres.values()])
    y = np.repeat(list(centres), 20)
    b = y == "b"
    settings = dict(hidden_layer_sizes=(), lr=0.05, epochs=60, random_state=0)
    assert (DNNClassifier(**settings).fit(X, y).predict(X[b]) == "b").all()
    assert (DNNClassifier(**settings).fit(X[~b], y[~b]).predict(X[b]) == "a").all()
    weighted = DNNClassifier(**settings).fit(X, y, sample_weight=(~b).astype(float))
    assert weighted.classes_.tolist() == ["a", "b", "c"]
    assert (weighted.predict(X[b]) == "a").all()
    np.testing.assert_array_equal(weighted.predict(X[~b]), y[~b])


def test_score_weighs_like_scikit_learns_metrics():
    X, y = iris()
    w = np.random.default_rng(0).uniform(0.0, 3.0, len(y))
    clf = DNNClassifier(hidden_layer_sizes=(4,), lr=0.01, epochs=3, random_state=0).fit(X, y, sample_weight=w)
    assert clf.score(X, y, sample_weight=w) == accuracy_score(y, clf.predict(X), sample_weight=w)
    assert clf.score(X, y, sample_weight=w) != clf.score(X, y)
    target = X[:, 3]
    reg = DNNRegressor(hidden_layer_sizes=(4,), lr=0.01, epochs=3, random_state=0).fit(X[:, :3], target,
                                                                                        sample_weight=w)
    assert reg.score(X[:, :3], target, sample_weight=w) == r2_score(target, reg.predict(X[:, :3]), sample_weight=w)
    assert reg.score(X[:, :3], target, sample_weight=w) != reg.score(X[:, :3], target)


def imbalanced_iris():
    X, y = iris()
    keep = np.r_[0:50, 50:70, 100:110]  # 50, 20 and 10 rows
    return X[keep], y[keep]


SMALL = dict(hidden_layer_sizes=(6,), lr=0.01, epochs=15, batch_size=16, random_state=0)


def test_balanced_class_weight_is_compute_sample_weight_balanced():
    X, y = imbalanced_iris()
    balanced = DNNClassifier(class_weight="balanced", **SMALL).fit(X, y)
    weighted = DNNClassifier(**SMALL).fit(X, y, sample_weight=compute_sample_weight("balanced", y))
    assert same_network(balanced, weighted)
    assert not same_network(balanced, DNNClassifier(**SMALL).fit(X, y))


def test_a_class_weight_dict_multiplies_the_sample_weights():
    X, y = imbalanced_iris()
    labels = y.astype(object)  # labels held as Python strings: the model keeps numpy strings
    w = np.random.default_rng(0).uniform(0.5, 2.0, len(y))
    both = DNNClassifier(class_weight={"virginica": 3.0}, **SMALL).fit(X, labels, sample_weight=w)
    by_hand = DNNClassifier(**SMALL).fit(X, labels, sample_weight=w * np.where(y == "virginica", 3.0, 1.0))
    assert same_network(both, by_hand)
    with pytest.raises(ValueError, match=r"classWeight names classes \['rose'\]"):
        DNNClassifier(class_weight={"rose": 2.0}, **SMALL).fit(X, labels)


def test_partial_fit_takes_sample_weights_and_refuses_what_cannot_apply_to_one_epoch():
    X, y = iris()
    w = np.random.default_rng(0).uniform(0.0, 2.0, len(y))
    once = DNNClassifier(**dict(SMALL, epochs=1)).fit(X, y, sample_weight=w)
    part = DNNClassifier(**SMALL).partial_fit(X, y, classes=np.unique(y), sample_weight=w)
    assert same_network(part, once) and part.n_iter_ == 1
    assert not same_network(part, DNNClassifier(**dict(SMALL, epochs=1)).fit(X, y))
    assert part.partial_fit(X, y, sample_weight=w).n_iter_ == 2
    with pytest.raises(ValueError, match="class_weight='balanced' is not supported by partial_fit"):
        DNNClassifier(class_weight="balanced").partial_fit(X, y, classes=np.unique(y))
    with pytest.raises(ValueError, match="early_stopping=3 cannot apply to partial_fit"):
        DNNRegressor(early_stopping=3).partial_fit(X, y == "setosa")


def test_a_refused_first_fit_leaves_the_estimator_unfitted():
    X, y = iris()
    clf = DNNClassifier(epochs=1).fit(X, y)
    with pytest.raises(ValueError, match=r"sampleWeight must have one weight per sample \(150\)"):
        clf.fit(X, y, sample_weight=np.ones(3))
    with pytest.raises(NotFittedError):
        clf.predict(X)
    assert not hasattr(clf, "n_iter_")
    with pytest.raises(ValueError, match="the sample weights are all zero"):
        DNNRegressor(epochs=1).fit(X, X[:, 0], sample_weight=np.zeros(150))


def noise():
    """Targets unrelated to the features: the validation loss reaches its best early, then the network overfits."""
    rng = np.random.default_rng(0)
    return rng.normal(size=(200, 5)), rng.normal(size=200)


EARLY = dict(hidden_layer_sizes=(32,), lr=0.01, epochs=100, validation_split=0.25, random_state=0)


def test_early_stopping_stops_on_a_plateau_and_keeps_the_best_epoch():
    X, y = noise()
    reg = DNNRegressor(early_stopping=5, **EARLY).fit(X, y)
    val_loss = reg.model_.history["val_loss"]
    best = int(np.argmin(val_loss)) + 1
    assert reg.n_iter_ == len(val_loss) == best + 5 < 100  # no lower validation loss in the 5 epochs after the best
    assert reg.model_.restoredEpoch == best and reg.model_.stoppedEarly["epoch"] == reg.n_iter_
    # The weights are those after epoch `best`: a network trained for exactly that long, on the same split.
    assert same_network(reg, DNNRegressor(**dict(EARLY, epochs=best)).fit(X, y))
    last = DNNRegressor(early_stopping=5, restore_best=False, **EARLY).fit(X, y)
    assert last.n_iter_ == reg.n_iter_ and last.model_.restoredEpoch is None
    assert same_network(last, DNNRegressor(**dict(EARLY, epochs=reg.n_iter_)).fit(X, y))


def test_min_delta_decides_what_counts_as_progress():
    X, y = noise()
    reg = DNNRegressor(early_stopping=3, min_delta=1e9, **EARLY).fit(X, y)
    assert reg.n_iter_ == 4  # the first epoch is progress from nothing; no later one gains 1e9
    assert reg.model_.restoredEpoch == int(np.argmin(reg.model_.history["val_loss"])) + 1


GRID_PIPELINE = make_pipeline(StandardScaler(), DNNClassifier(hidden_layer_sizes=(4,), epochs=10, batch_size=16,
                                                              standardize=False, random_state=0))


def test_grid_search_routes_sample_weight_through_the_pipeline_to_every_fold():
    X, y = iris()
    w = np.random.default_rng(0).uniform(0.2, 3.0, len(y))
    grid = {"dnnclassifier__lr": [0.003, 0.03]}
    search = GridSearchCV(GRID_PIPELINE, grid, cv=3, scoring="neg_log_loss").fit(X, y, dnnclassifier__sample_weight=w)
    folds = list(StratifiedKFold(3).split(X, y))
    for i, params in enumerate(search.cv_results_["params"]):
        for k, (train, test) in enumerate(folds):
            pipeline = clone(GRID_PIPELINE).set_params(**params)
            fold = pipeline.fit(X[train], y[train], dnnclassifier__sample_weight=w[train])
            score = -log_loss(y[test], fold.predict_proba(X[test]), labels=fold.classes_)
            assert search.cv_results_[f"split{k}_test_score"][i] == pytest.approx(score, rel=1e-12)
            unweighted = clone(GRID_PIPELINE).set_params(**params).fit(X[train], y[train])
            assert -log_loss(y[test], unweighted.predict_proba(X[test]), labels=fold.classes_) != pytest.approx(score)
    refit = clone(GRID_PIPELINE).set_params(**search.best_params_).fit(X, y, dnnclassifier__sample_weight=w)
    assert same_network(search.best_estimator_[-1], refit[-1])


def test_metadata_routing_weighs_both_fit_and_score():
    if tuple(int(part) for part in sklearn.__version__.split(".")[:2]) < (1, 4):
        pytest.skip("GridSearchCV routes metadata since scikit-learn 1.4")
    X, y = iris()
    w = np.random.default_rng(1).uniform(0.0, 3.0, len(y))
    with sklearn.config_context(enable_metadata_routing=True):
        clf = DNNClassifier(hidden_layer_sizes=(4,), epochs=5, random_state=0)
        clf.set_fit_request(sample_weight=True).set_score_request(sample_weight=True)
        search = GridSearchCV(clf, {"lr": [0.003, 0.01]}, cv=3).fit(X, y, sample_weight=w)
        unweighted_scores = []
        for i, params in enumerate(search.cv_results_["params"]):
            for k, (train, test) in enumerate(StratifiedKFold(3).split(X, y)):
                fold = clone(clf).set_params(**params).fit(X[train], y[train], sample_weight=w[train])
                expected = accuracy_score(y[test], fold.predict(X[test]), sample_weight=w[test])
                assert search.cv_results_[f"split{k}_test_score"][i] == pytest.approx(expected, rel=1e-12)
                unweighted_scores.append(fold.score(X[test], y[test]))
    assert not np.allclose(unweighted_scores, [search.cv_results_[f"split{k}_test_score"][i] for i in range(2)
                                               for k in range(3)])
