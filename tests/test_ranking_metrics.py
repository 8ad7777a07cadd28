"""modelEvaluate's log_loss, roc_auc and average_precision: scikit-learn's, also weighted; NaN with a note where
undefined; printed in their own table; every score kept up to a bound, chunk by chunk."""

import contextlib
import io
import tracemalloc

import numpy as np
import pytest

from dnn import DNN
from dnn.engine import evaluation

sk = pytest.importorskip("sklearn.metrics")


def network(features, outputs, activation, hidden=6, dtype="float64"):
    model = DNN(lr=0.1, seed=0, dtype=dtype)
    model.addInputLayer([features])
    model.addHiddenLayer([hidden], activation="tanh")
    model.addOutputLayer([outputs], activation=activation)
    return model


@pytest.fixture
def data(rng):
    X = rng.normal(size=(300, 4))
    classes = (X[:, :3] + rng.normal(0, 0.8, size=(300, 3))).argmax(axis=1)  # three classes, learnable, not perfect
    labels = (X[:, :3] + rng.normal(0, 0.8, size=(300, 3)) > 0.3).astype(int)  # three labels
    return X, classes, labels, rng.uniform(0, 3, 300)


def fitted(model, X, y):
    model.fit(X, y, epochs=3, batchSize=30, verbose=0)
    return model


def mean_label_log_loss(Y, P, weights):
    """The multi-label log_loss dnn reports: the mean over labels of each label's binary log loss."""
    return np.mean([sk.log_loss(Y[:, k], P[:, k], sample_weight=weights, labels=[0, 1]) for k in range(Y.shape[1])])


def macro_average_precision(y, p, weights=None):
    """scikit-learn's macro one-vs-rest average precision of class labels, column by column (before 1.3 it takes no
    multiclass y): the columns of ``p`` are the sorted classes, as the model's are."""
    classes = np.unique(y)
    return np.mean([sk.average_precision_score(y == c, p[:, k], sample_weight=weights) for k, c in enumerate(classes)])


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("kind", ["multiclass", "sigmoid multiclass", "binary", "multilabel", "string labels"])
def test_equal_to_scikit_learn(data, kind, weighted):
    X, classes, labels, weights = data
    weights = weights if weighted else None
    y = {"multiclass": classes, "sigmoid multiclass": classes, "binary": (classes == 1).astype(int),
         "multilabel": labels, "string labels": np.array(["cat", "dog", "eel"])[classes]}[kind]
    model = {"multiclass": network(4, 3, "softmax"), "sigmoid multiclass": network(4, 3, "sigmoid"),
             "binary": network(4, 1, "sigmoid"), "multilabel": network(4, 3, "sigmoid"),
             "string labels": network(4, 3, "softmax")}[kind]
    fit_options = {"task": "multiclass"} if kind == "sigmoid multiclass" else {}
    model.fit(X, y, epochs=3, batchSize=30, verbose=0, **fit_options)
    result = model.modelEvaluate(X, y, verbose=0, sampleWeight=weights)
    p = model.predictProba(X)
    if kind == "binary":
        expected = (sk.roc_auc_score(y, p[:, 1], sample_weight=weights),
                    sk.average_precision_score(y, p[:, 1], sample_weight=weights),
                    sk.log_loss(y, p[:, 1], sample_weight=weights))
    elif kind == "multilabel":
        expected = (sk.roc_auc_score(y, p, average="macro", sample_weight=weights),
                    sk.average_precision_score(y, p, average="macro", sample_weight=weights),
                    mean_label_log_loss(y, p, weights))
    else:
        expected = (sk.roc_auc_score(y, p, multi_class="ovr", average="macro", sample_weight=weights),
                    macro_average_precision(y, p, weights),
                    sk.log_loss(y, p, sample_weight=weights))
    ours = result["roc_auc"], result["average_precision"], result["log_loss"]
    assert ours == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert 0.5 < result["roc_auc"] < 1 and "notes" not in result


@pytest.mark.filterwarnings("ignore:The y_prob values do not sum to one")  # not to float64 precision
def test_float32_models_agree_to_float32_precision(data):
    X, classes, _, weights = data
    model = fitted(network(4, 3, "softmax", dtype="float32"), X, classes)
    result = model.modelEvaluate(X, classes, verbose=0, sampleWeight=weights)
    p = model.predictProba(X).astype(np.float64)
    assert result["roc_auc"] == pytest.approx(sk.roc_auc_score(classes, p, multi_class="ovr", sample_weight=weights),
                                              rel=1e-6)
    assert result["log_loss"] == pytest.approx(sk.log_loss(classes, p, sample_weight=weights), rel=1e-5)


def test_evaluated_in_chunks_as_on_the_whole(rng):
    # more rows than one chunk of the forward pass (2048): the kept scores are filled chunk by chunk
    X = rng.normal(size=(5000, 3))
    y = (X + rng.normal(0, 0.8, size=X.shape)).argmax(axis=1)
    model = fitted(network(3, 3, "softmax"), X, y)
    result = model.modelEvaluate(X, y, verbose=0)
    p = model.predictProba(X)
    assert result["roc_auc"] == pytest.approx(sk.roc_auc_score(y, p, multi_class="ovr"), rel=1e-9)
    assert result["average_precision"] == pytest.approx(macro_average_precision(y, p), rel=1e-9)
    assert result["log_loss"] == pytest.approx(sk.log_loss(y, p), rel=1e-9)


def test_an_absent_class_gives_nan_and_a_note_not_an_exception(data):
    X, classes, _, weights = data
    model = fitted(network(4, 3, "softmax"), X, classes)
    present = classes != 2
    result = model.modelEvaluate(X[present], classes[present], verbose=0)
    assert np.isnan(result["roc_auc"]) and np.isnan(result["average_precision"])
    assert result["log_loss"] == pytest.approx(sk.log_loss(classes[present], model.predictProba(X[present]),
                                                           labels=[0, 1, 2]), rel=1e-9)
    assert result["notes"] == ["roc_auc is NaN (undefined): y has no samples of class 2",
                               "average_precision is NaN (undefined): y has no samples of class 2"]
    only = model.modelEvaluate(X[classes == 0], classes[classes == 0], verbose=0, sampleWeight=weights[classes == 0])
    assert only["notes"][0] == ("roc_auc is NaN (undefined): every sample in y is of class 0, y has no samples of "
                                "class 1, y has no samples of class 2 (counting the samples of nonzero weight)")


def test_undefined_for_a_binary_model_and_for_labels(data):
    X, classes, labels, _ = data
    binary = fitted(network(4, 1, "sigmoid"), X, (classes == 1).astype(int))
    result = binary.modelEvaluate(X[:5], np.ones(5, dtype=int), verbose=0)
    assert np.isnan(result["roc_auc"]) and result["average_precision"] == 1.0
    assert result["notes"] == ["roc_auc is NaN (undefined): y has no samples of class 0"]
    multilabel = fitted(network(4, 3, "sigmoid"), X, labels)
    labels = labels.copy()
    labels[:, 0], labels[:, 2] = 0, 1
    result = multilabel.modelEvaluate(X, labels, verbose=0)
    assert np.isnan(result["roc_auc"]) and np.isnan(result["average_precision"])
    assert result["notes"] == [
        "roc_auc is NaN (undefined): label 0 is set in no sample of y, label 2 is set in every sample of y",
        "average_precision is NaN (undefined): label 0 is set in no sample of y"]


def test_printed_in_a_table_of_their_own_with_the_notes(data):
    X, classes, _, _ = data
    model = fitted(network(4, 3, "softmax"), X, classes)
    text = io.StringIO()
    with contextlib.redirect_stdout(text):
        result = model.modelEvaluate(X[classes != 2], classes[classes != 2])
    out = text.getvalue()
    assert f"| accuracy        | {result['accuracy']:.4f} |" in out  # the first table as wide as before
    assert "| Probabilities     |  Value |" in out
    assert f"| log_loss          | {result['log_loss']:.4f} |" in out
    assert "| roc_auc           |    nan |" in out
    assert out.rstrip().endswith("Note: average_precision is NaN (undefined): y has no samples of class 2")


def test_regression_has_none_of_them(rng):
    X = rng.normal(size=(50, 2))
    model = fitted(network(2, 1, "identity"), X, X @ [1.0, -1.0])
    assert {"log_loss", "roc_auc", "average_precision", "notes"}.isdisjoint(model.modelEvaluate(X, X[:, 0], verbose=0))


def test_past_the_bound_the_ranking_metrics_are_left_out_with_a_note_unless_asked(data, monkeypatch):
    X, classes, _, _ = data
    model = fitted(network(4, 3, "softmax"), X, classes)
    monkeypatch.setattr(evaluation, "RANKING_MAX_SCORES", 899)  # 300 rows x 3 classes = 900 scores
    left_out = model.modelEvaluate(X, classes, verbose=0)
    assert "roc_auc" not in left_out and "average_precision" not in left_out and "log_loss" in left_out
    assert left_out["notes"] == ["roc_auc and average_precision are left out: they rank all 900 scores at once, "
                                 "more than the 899 kept by default; modelEvaluate(..., ranking=True) computes them"]
    asked = model.modelEvaluate(X, classes, verbose=0, ranking=True)
    assert asked["roc_auc"] == pytest.approx(sk.roc_auc_score(classes, model.predictProba(X), multi_class="ovr"))
    assert "notes" not in asked
    monkeypatch.setattr(evaluation, "RANKING_MAX_SCORES", 900)
    assert "roc_auc" in model.modelEvaluate(X, classes, verbose=0)
    refused = model.modelEvaluate(X, classes, verbose=0, ranking=False)
    assert "roc_auc" not in refused and "notes" not in refused
    with pytest.raises(ValueError, match="ranking must be True, False or None, got 'yes'"):
        model.modelEvaluate(X, classes, verbose=0, ranking="yes")


def test_the_kept_scores_take_the_memory_of_the_scores_and_little_more(rng):
    n, k = 200_000, 8
    X, y = rng.normal(size=(n, 4)).astype(np.float32), rng.integers(0, k, n)
    model = network(4, k, "softmax", dtype="float32")
    model.fit(X[:1000], y[:1000], epochs=1, verbose=0)
    tracemalloc.start()
    result = model.modelEvaluate(X, y, verbose=0)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    kept = n * k * (4 + 1)  # float32 scores and a byte per true answer: 8 MB
    assert peak < kept + 12 * n * 8, f"{peak / 2**20:.1f} MiB"  # and one column's sort, about 12 arrays of n
    assert 0.4 < result["roc_auc"] < 0.6  # random labels
