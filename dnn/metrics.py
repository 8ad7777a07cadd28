"""Evaluation metrics in plain numpy (no scikit-learn at run time).

What a metric means for each task (thresholds, correct rows) is decided in
:mod:`dnn.data.tasks`; these are the task-independent formulas.

Every metric with a name is in :data:`METRICS` as a pair ``(function,
higher_is_better)``: ``function(y_true, y_pred)`` takes the targets first,
as scikit-learn's metrics do, and returns a float; ``higher_is_better`` is
the direction a callback watching the metric in ``mode="auto"`` follows (see
:mod:`dnn.engine.monitors`).
"""

import numpy as np

from dnn.registry import Registry


def confusion_matrix(true_index, predicted_index, n_classes):
    """Counts C[i, j] of samples of class i predicted as class j, shape (k, k)."""
    flat = np.asarray(true_index) * n_classes + np.asarray(predicted_index)
    return np.bincount(flat, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def precision_recall_f1(confusion):
    """Per-class precision, recall and F1 from a confusion matrix.

    A class never predicted has precision 0, a class never present recall 0
    (scikit-learn's ``zero_division=0``), instead of a division by zero.

    Returns
    -------
    precision, recall, f1, support : ndarrays of shape (k,)
    """
    confusion = np.asarray(confusion, dtype=np.float64)
    hits = np.diag(confusion)
    predicted = confusion.sum(axis=0)
    support = confusion.sum(axis=1)
    precision = np.divide(hits, predicted, out=np.zeros_like(hits), where=predicted > 0)
    recall = np.divide(hits, support, out=np.zeros_like(hits), where=support > 0)
    total = precision + recall
    f1 = np.divide(2 * precision * recall, total, out=np.zeros_like(hits), where=total > 0)
    return precision, recall, f1, support.astype(np.int64)


def per_class_scores(precision, recall, f1, support, classes):
    """Macro averages and per-class dicts (keyed by class label) of per-class score arrays."""
    labels = classes.tolist()
    result = {"macro_precision": float(precision.mean()), "macro_recall": float(recall.mean()),
              "macro_f1": float(f1.mean())}
    for name, values in (("precision", precision), ("recall", recall), ("f1", f1), ("support", support)):
        result[name] = {label: value.item() for label, value in zip(labels, values)}
    return result


def regression_scores(p, y):
    """Mean squared error, mean absolute error and R^2 of outputs ``p`` for targets ``y``.

    Errors are averaged over samples and outputs; R^2 is averaged over outputs
    (scikit-learn's "uniform_average"), and an output with constant targets
    counts 1 when predicted exactly, else 0.
    """
    return {"mse": mse(y, p), "mae": mae(y, p), "r2": r2(y, p)}


def _r2(ss_res, ss_tot):
    """R^2 of every output, 1 - ss_res / ss_tot; an output with constant targets: 1 if predicted exactly, else 0."""
    return np.where(ss_tot > 0, 1 - ss_res / np.where(ss_tot > 0, ss_tot, 1), np.where(ss_res == 0, 1.0, 0.0))


class ConfusionCounts:
    """Single-label scores accumulated chunk by chunk: a confusion matrix of class indices."""

    def __init__(self, n_classes):
        self.confusion = np.zeros((n_classes, n_classes), dtype=np.int64)

    def add(self, true_index, predicted_index):
        self.confusion += confusion_matrix(true_index, predicted_index, len(self.confusion))

    def result(self, classes):
        """``accuracy``, macro averages, per-class scores and the ``confusion_matrix``."""
        result = {"accuracy": float(np.trace(self.confusion) / max(self.confusion.sum(), 1))}
        result.update(per_class_scores(*precision_recall_f1(self.confusion), classes))
        result["confusion_matrix"] = self.confusion
        return result


class LabelCounts:
    """Multi-label scores accumulated chunk by chunk: a yes/no confusion matrix per label, and whole-row hits."""

    def __init__(self, n_labels):
        self.per_label = np.zeros((n_labels, 2, 2), dtype=np.int64)
        self.rows = self.correct = 0

    def add(self, actual, predicted):
        """``actual``, ``predicted``: boolean (n, labels)."""
        for k in range(self.per_label.shape[0]):
            self.per_label[k] += confusion_matrix(actual[:, k], predicted[:, k], 2)[::-1, ::-1]
        self.rows += len(actual)
        self.correct += int(np.count_nonzero((actual == predicted).all(axis=1)))

    def result(self, classes):
        """``accuracy`` (rows with every label right) and per-label precision, recall, F1 and support."""
        scores = np.array([[s[0] for s in precision_recall_f1(c)] for c in self.per_label]).T
        result = {"accuracy": self.correct / max(self.rows, 1)}
        result.update(per_class_scores(scores[0], scores[1], scores[2], scores[3].astype(np.int64), classes))
        return result


class RegressionSums:
    """:func:`regression_scores` accumulated chunk by chunk, in float64 around the first chunk's mean."""

    def __init__(self):
        self.n, self.shift = 0, None

    def add(self, p, y):
        p, y = np.asarray(p, dtype=np.float64), np.asarray(y, dtype=np.float64)
        residual = p - y
        if self.shift is None:
            self.shift = y.mean(axis=0)
            self.squares = self.absolute = 0.0
            self.ss_res = self.y_sum = self.y_squares = np.zeros(y.shape[1])
        self.n += len(y)
        self.squares += float((residual**2).sum())
        self.absolute += float(np.abs(residual).sum())
        self.ss_res = self.ss_res + (residual**2).sum(axis=0)
        centred = y - self.shift
        self.y_sum = self.y_sum + centred.sum(axis=0)
        self.y_squares = self.y_squares + (centred**2).sum(axis=0)

    def result(self, classes=None):
        """``mse``, ``mae`` and ``r2`` as :func:`regression_scores` defines them."""
        size = self.n * len(self.ss_res)
        ss_tot = np.maximum(self.y_squares - self.y_sum**2 / self.n, 0.0)
        return {"mse": self.squares / size, "mae": self.absolute / size, "r2": float(_r2(self.ss_res, ss_tot).mean())}


# ------------------------------------------------------------------ metrics by name
# Targets first, then predictions (labels, scores or outputs, as each says); a float out.


def accuracy(y_true, y_pred):
    """The fraction of samples predicted right: labels equal (rows of labels (n, k): every label right)."""
    hits = np.asarray(y_true) == np.asarray(y_pred)
    return float((hits.all(axis=1) if hits.ndim == 2 else hits).mean())


def error(y_true, y_pred):
    """The fraction of samples predicted wrong, 1 - accuracy."""
    return 1.0 - accuracy(y_true, y_pred)


def _class_scores(y_true, y_pred):
    """Per-class precision, recall, F1 and support over the labels found in either argument."""
    y_true, y_pred = np.asarray(y_true).ravel(), np.asarray(y_pred).ravel()
    classes = np.union1d(y_true, y_pred)
    index = np.searchsorted(classes, y_true), np.searchsorted(classes, y_pred)
    return precision_recall_f1(confusion_matrix(*index, len(classes)))


def precision(y_true, y_pred):
    """Macro precision: the mean over classes of the fraction of a class's predictions that are right."""
    return float(_class_scores(y_true, y_pred)[0].mean())


def recall(y_true, y_pred):
    """Macro recall: the mean over classes of the fraction of a class's samples predicted as it."""
    return float(_class_scores(y_true, y_pred)[1].mean())


def f1(y_true, y_pred):
    """Macro F1: the mean over classes of 2 precision recall / (precision + recall)."""
    return float(_class_scores(y_true, y_pred)[2].mean())


def _binary(y_true, y_score, what):
    """The positive samples (the greater of two labels) as a boolean vector, and the scores as float64 (n,)."""
    y_true, score = np.asarray(y_true).ravel(), np.asarray(y_score, dtype=np.float64)
    if score.ndim == 2 and score.shape[1] == 1:
        score = score[:, 0]
    if score.shape != y_true.shape:
        raise ValueError(f"{what} takes one score per sample, (n,) or (n, 1), for n = {len(y_true)} targets; "
                         f"got shape {score.shape}")
    classes = np.unique(y_true)
    if len(classes) != 2:
        raise ValueError(f"{what} needs targets of two classes, both present; got {len(classes)}")
    return y_true == classes[1], score


def roc_auc(y_true, y_score):
    """Area under the ROC curve: the chance that a positive scores above a negative, ties counting half.

    ``y_true`` holds two classes, the greater one positive; ``y_score`` one
    score of the positive class per sample. From the ranks of the scores
    (Mann-Whitney), tied scores sharing their mean rank.
    """
    positive, score = _binary(y_true, y_score, "roc_auc")
    _, group, counts = np.unique(score, return_inverse=True, return_counts=True)
    ranks = (np.cumsum(counts) - (counts - 1) / 2)[group]
    n_positive = np.count_nonzero(positive)
    n_negative = len(positive) - n_positive
    return float((ranks[positive].sum() - n_positive * (n_positive + 1) / 2) / (n_positive * n_negative))


def average_precision(y_true, y_score):
    """Average precision, sum_n (R_n - R_{n-1}) P_n over the distinct score thresholds, highest first.

    P_n and R_n are the precision and recall of calling positive every sample
    scoring at least the n-th threshold (scikit-learn's definition, no
    interpolation). ``y_true``, ``y_score`` as in :func:`roc_auc`.
    """
    positive, score = _binary(y_true, y_score, "average_precision")
    order = np.argsort(-score, kind="stable")
    last = np.append(np.flatnonzero(np.diff(score[order])), len(score) - 1)  # the last sample of each threshold
    true_positives = np.cumsum(positive[order])[last]
    precision_at = true_positives / (last + 1)
    recall_at = true_positives / true_positives[-1]
    return float(np.diff(recall_at, prepend=0.0) @ precision_at)


def log_loss(y_true, y_prob):
    """Mean negative log-probability of the true classes, -(1/n) sum_i log p_i[y_i], each p at least eps.

    ``y_true`` holds class indices 0..k-1; ``y_prob`` the probabilities (n, k),
    or with two classes the positive class's, (n,) or (n, 1).
    """
    p = np.asarray(y_prob, dtype=np.float64)
    if p.ndim == 1 or p.shape[1] == 1:
        p = p.reshape(-1, 1)
        p = np.hstack([1 - p, p])
    picked = p[np.arange(len(p)), np.asarray(y_true).ravel().astype(np.intp)]
    return float(-np.log(np.maximum(picked, np.finfo(np.float64).eps)).mean())


def mse(y_true, y_pred):
    """Mean squared error over samples and outputs, mean((p - y)^2) (the squared_error loss halves a sum instead)."""
    residual = np.asarray(y_pred, dtype=np.float64) - np.asarray(y_true, dtype=np.float64)
    return float((residual**2).mean())


def mae(y_true, y_pred):
    """Mean absolute error over samples and outputs, mean(|p - y|)."""
    residual = np.asarray(y_pred, dtype=np.float64) - np.asarray(y_true, dtype=np.float64)
    return float(np.abs(residual).mean())


def r2(y_true, y_pred):
    """Coefficient of determination 1 - sum (p - y)^2 / sum (y - mean y)^2, averaged over outputs.

    An output with constant targets counts 1 when predicted exactly, else 0
    (scikit-learn's "uniform_average" with that convention).
    """
    y, p = np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)
    ss_res = ((p - y) ** 2).sum(axis=0)
    ss_tot = ((y - y.mean(axis=0)) ** 2).sum(axis=0)
    return float(_r2(ss_res, ss_tot).mean())


def _is_metric(name, entry):
    return (isinstance(entry, tuple) and len(entry) == 2 and callable(entry[0])
            and isinstance(entry[1], (bool, np.bool_)))


#: Every metric by name: ``(function(y_true, y_pred), higher_is_better)``.
METRICS = {
    "accuracy": (accuracy, True), "error": (error, False),
    "precision": (precision, True), "recall": (recall, True), "f1": (f1, True),
    "roc_auc": (roc_auc, True), "average_precision": (average_precision, True), "log_loss": (log_loss, False),
    "mse": (mse, False), "mae": (mae, False), "r2": (r2, True),
}

#: Other spellings users reach for; any case, and "_", "-" or spaces, are accepted besides.
ALIASES = {
    "roc_auc": ("auc",), "f1": ("f1_score",), "r2": ("r2_score",),
    "mse": ("mean_squared_error",), "mae": ("mean_absolute_error",),
}

REGISTRY = Registry("metric", METRICS, "a pair (function(y_true, y_pred), higher_is_better)", _is_metric,
                    aliases=ALIASES)


def higher_is_better(name):
    """Whether the metric ``name`` (any spelling) improves upward; ValueError for an unknown name."""
    return bool(REGISTRY.get(name)[1])
