"""DNNClassifier and DNNRegressor: scikit-learn's own estimator checks, and the tools that use estimators."""

import inspect

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_iris, make_regression  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from dnn import DNN  # noqa: E402
from dnn.adapters.sklearn import EXPECTED_FAILED_CHECKS, DNNClassifier, DNNRegressor  # noqa: E402
from dnn.callbacks import Callback  # noqa: E402
from dnn.schedules import StepDecay  # noqa: E402

#: Small and quick instances for scikit-learn's checks, which fit a few hundred times.
CHECKED = [DNNClassifier(hidden_layer_sizes=(16,), lr=0.01, epochs=40, batch_size=16, random_state=0),
           DNNRegressor(hidden_layer_sizes=(16,), lr=0.01, epochs=40, batch_size=16, random_state=0)]


def expected_failed_checks(estimator):
    return EXPECTED_FAILED_CHECKS


# scikit-learn < 1.6 reads the expected failures from the estimators' _more_tags instead. Strict: a check
# listed there that starts to pass fails the test, so the list cannot go stale.
_PARAMETERS = inspect.signature(parametrize_with_checks).parameters
_EXPECTED = ({"expected_failed_checks": expected_failed_checks} if "expected_failed_checks" in _PARAMETERS else {})
if "xfail_strict" in _PARAMETERS:
    _EXPECTED["xfail_strict"] = True


@parametrize_with_checks(CHECKED, **_EXPECTED)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def iris():
    X, y = load_iris(return_X_y=True)
    return X, np.array(["setosa", "versicolor", "virginica"])[y]


def test_settings_reach_the_network():
    clf = DNNClassifier(hidden_layer_sizes=(8, 4), activation="tanh", optimizer="sgd", lr=0.05, momentum=0.5,
                        l2=1e-3, epochs=2, random_state=3, dtype="float64").fit(*iris())
    model = clf.model_
    assert isinstance(model, DNN)
    assert model.units == [4, 8, 4, 3] and model.activations == [None, "tanh", "tanh", "softmax"]
    assert (model.lr, model.optimizer.name, model.momentum, model.l2, model.seed) == (0.05, "sgd", 0.5, 1e-3, 3)
    assert model.dtype == np.float64 and model.epochs == 2


def test_string_labels_probabilities_and_scores():
    X, y = iris()
    clf = DNNClassifier(hidden_layer_sizes=(16,), lr=0.01, epochs=60, random_state=0).fit(X, y)
    assert clf.classes_.tolist() == ["setosa", "versicolor", "virginica"] and clf.n_features_in_ == 4
    proba = clf.predict_proba(X)
    np.testing.assert_array_equal(proba, clf.model_.predictProba(X))
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(axis=1)])
    assert clf.score(X, y) == pytest.approx(np.mean(clf.predict(X) == y))
    assert clf.score(X, y) > 0.9


def test_binary_classifier_uses_one_sigmoid_unit():
    X, y = iris()
    clf = DNNClassifier(hidden_layer_sizes=(), epochs=30, lr=0.05, random_state=0).fit(X, y == "setosa")
    assert clf.model_.units == [4, 1] and clf.model_.activations[-1] == "sigmoid"
    assert clf.classes_.tolist() == [False, True]
    assert clf.score(X, y == "setosa") == 1.0


def test_pipeline_clone_grid_search_and_cross_validation():
    X, y = iris()
    pipeline = make_pipeline(StandardScaler(), DNNClassifier(hidden_layer_sizes=(8,), lr=0.01, epochs=30,
                                                             standardize=False, random_state=0))
    scores = cross_val_score(pipeline, X, y, cv=3)
    assert scores.shape == (3,) and scores.min() > 0.6
    twin = clone(pipeline)
    assert twin.get_params()["dnnclassifier__epochs"] == 30 and not hasattr(twin[-1], "model_")
    search = GridSearchCV(DNNClassifier(epochs=20, random_state=0), {"lr": [1e-5, 0.01]}, cv=3).fit(X, y)
    assert search.best_params_ == {"lr": 0.01}  # 1e-5 barely moves the weights in 20 epochs


def test_feature_names_are_checked():
    pd = pytest.importorskip("pandas")
    X, y = iris()
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    clf = DNNClassifier(epochs=2, random_state=0).fit(frame, y)
    assert clf.feature_names_in_.tolist() == ["a", "b", "c", "d"]
    # scikit-learn refuses reordered columns since 1.2 (1.1 warned that it would)
    expected = pytest.raises(ValueError, match="feature names")
    if tuple(int(p) for p in sklearn.__version__.split(".")[:2]) < (1, 2):
        expected = pytest.warns(FutureWarning, match="feature names")
    with expected:
        clf.predict(frame[["d", "c", "b", "a"]])


def test_partial_fit_needs_the_classes_first_and_then_trains_one_epoch_per_call():
    X, y = iris()
    clf = DNNClassifier(epochs=50, random_state=0)
    with pytest.raises(ValueError, match="classes must be given"):
        clf.partial_fit(X, y)
    setosa = y == "setosa"
    clf.partial_fit(X[setosa], y[setosa], classes=np.unique(y))  # a batch with one of the three classes
    clf.partial_fit(X, y)
    assert clf.model_.epochs == 2 and clf.classes_.tolist() == ["setosa", "versicolor", "virginica"]


def test_regressor_one_and_several_targets(tmp_path):
    X, y = make_regression(n_samples=200, n_features=5, n_targets=2, noise=0.1, random_state=0)
    reg = DNNRegressor(hidden_layer_sizes=(32,), lr=0.01, epochs=150, random_state=0).fit(X, y)
    assert reg.predict(X).shape == (200, 2) and reg.score(X, y) > 0.9
    reg = DNNRegressor(hidden_layer_sizes=(32,), lr=0.01, epochs=150, random_state=0).fit(X, y[:, 0])
    assert reg.predict(X).shape == (200,)
    reg.model_.saveModel(tmp_path / "reg.pkl")
    np.testing.assert_array_equal(DNN.importModel(tmp_path / "reg.pkl").predict(X), reg.predict(X))


def test_settings_are_checked_at_fit_not_in_init():
    clf = DNNClassifier(lr=-1, activation="nope")
    assert clf.get_params()["lr"] == -1
    with pytest.raises(ValueError, match="lr"):
        clf.fit(*iris())
    with pytest.raises(ValueError, match="dropout"):
        DNNClassifier(dropout=1.5).fit(*iris())
    with pytest.raises(ValueError, match=r"dropout.*needs hidden layers"):
        DNNClassifier(hidden_layer_sizes=(), dropout=0.5).fit(*iris())
    with pytest.raises(ValueError, match="threads"):
        DNNClassifier(threads=0).fit(*iris())


def test_dropout_threads_and_a_schedule_reach_the_network():
    X, y = iris()
    schedule = StepDecay(0.04, factor=0.5, every=2)
    clf = DNNClassifier(hidden_layer_sizes=(8, 4), dropout=(0.25, 0.0), threads=1, lr=schedule, epochs=4,
                        random_state=0).fit(X, y)
    assert clf.model_.dropout == [0.0, 0.25, 0.0, 0.0] and clf.model_.threads == 1
    assert clf.model_.lr is schedule and clf.get_params()["lr"] is schedule  # passed as given (schedules are stateless)
    np.testing.assert_allclose(clf.model_.history["lr"], [0.04, 0.04, 0.02, 0.02])
    assert DNNRegressor(hidden_layer_sizes=(8,), dropout=0.5, epochs=1, random_state=0).fit(
        X, X[:, 0]).model_.dropout == [0.0, 0.5, 0.0]


class EpochCounter(Callback):
    def __init__(self):
        self.epochs = []

    def on_epoch_end(self, run, epoch, logs):
        self.epochs.append(epoch)


def test_callbacks_and_shuffle_reach_fit():
    X, y = iris()
    counter = EpochCounter()
    DNNClassifier(hidden_layer_sizes=(4,), epochs=3, callbacks=[counter], random_state=0).fit(X, y)
    assert counter.epochs == [0, 1, 2]
    # Unshuffled, the estimator trains exactly as DNN.fit(shuffle=False) on the same rows in the same order.
    clf = DNNClassifier(hidden_layer_sizes=(4,), epochs=2, batch_size=10, shuffle=False, random_state=0,
                        optimizer="sgd", lr=0.1, momentum=0.0, standardize=False).fit(X, y)
    model = DNN(lr=0.1, seed=0)
    model.addInputLayer([4])
    model.addHiddenLayer([4])
    model.addOutputLayer([3])
    model.fit(X, y, epochs=2, batchSize=10, verbose=0, shuffle=False)
    np.testing.assert_array_equal(clf.model_.w[2], model.w[2])
    shuffled = DNNClassifier(hidden_layer_sizes=(4,), epochs=2, batch_size=10, random_state=0, optimizer="sgd",
                             lr=0.1, momentum=0.0, standardize=False).fit(X, y)
    assert not np.array_equal(shuffled.model_.w[2], model.w[2])
