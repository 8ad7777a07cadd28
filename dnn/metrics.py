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


class ProbabilityScores:
    """A classifier's log loss summed chunk by chunk and, for the ranking metrics, every score kept.

    Parameters
    ----------
    rows, columns : int
        Rows to come, and probabilities per row.
    exclusive : bool
        The columns are the probabilities of exclusive classes, one true per
        row; else each column is an independent yes/no (a binary output, labels).
    weights : ndarray (rows,), optional
    ranking : bool
        Keep the scores and the true answers of every row, (columns, rows) of
        ``dtype`` and of booleans, for :meth:`ranking`.
    """

    def __init__(self, rows, columns, exclusive, weights=None, ranking=True, dtype=np.float64):
        self.rows, self.exclusive, self.weights, self.loss_sum = rows, exclusive, weights, 0.0
        self.scores = np.empty((columns, rows), dtype) if ranking else None
        self.positives = np.empty((columns, rows), bool) if ranking else None

    def add(self, start, stop, probabilities, positives):
        """Rows start..stop: ``probabilities`` (m, columns) and the boolean true answers ``positives`` (m, columns)."""
        if self.exclusive:
            losses = -np.log(clipped(probabilities[positives]))
        else:  # the probability of each answer as given: 1 - p computed before clipping, as scikit-learn does
            losses = -np.log(clipped(np.where(positives, probabilities, 1 - probabilities))).mean(axis=1)
        self.loss_sum += float(losses.sum() if self.weights is None else self.weights[start:stop] @ losses)
        if self.scores is not None:
            self.scores[:, start:stop] = probabilities.T
            self.positives[:, start:stop] = positives.T

    def log_loss(self):
        """The (weighted) mean over rows; for independent columns each row's loss is the mean over them."""
        return self.loss_sum / (self.rows if self.weights is None else float(self.weights.sum()))

    def ranking(self):
        """ROC AUC and average precision of every column (see :func:`ranking_scores`): two float arrays (columns,)."""
        weights = None if self.weights is None else np.asarray(self.weights, dtype=np.float64)
        scores = [ranking_scores(p, s, weights) for p, s in zip(self.positives, self.scores)]
        return np.array([s[0] for s in scores]), np.array([s[1] for s in scores])


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


def _columns(y_true, y_score, what):
    """Boolean positives and float64 scores, both (k, n): one row per class (one-vs-rest) or label.

    One score per sample is the binary case (see :func:`_binary`); scores (n, k)
    with labels (n,) are one-vs-rest over the k classes of ``y_true``, sorted;
    with a 0/1 matrix (n, k) they are k independent labels.
    """
    score = np.asarray(y_score, dtype=np.float64)
    if score.ndim == 1 or score.shape[1] == 1:
        positive, score = _binary(y_true, score, what)
        return positive[None, :], score[None, :]
    y_true = np.asarray(y_true)
    if y_true.ndim == 2:
        if y_true.shape != score.shape:
            raise ValueError(f"{what}: labels of shape {y_true.shape} for scores of shape {score.shape}")
        return (y_true > 0).T, score.T
    classes = np.unique(y_true)
    if len(classes) != score.shape[1] or len(y_true) != len(score):
        raise ValueError(f"{what}: {len(y_true)} targets of {len(classes)} classes for scores of shape "
                         f"{score.shape} (one column per class, in sorted order)")
    return y_true[None, :] == classes[:, None], score.T


def ranked_totals(positive, score, weight=None):
    """True and false positives (weighted) of calling positive every score at least each distinct threshold.

    ``positive`` boolean (n,), ``score`` (n,), ``weight`` (n,) or None; samples of weight 0 are left out, as
    scikit-learn does. Returns two float64 arrays (thresholds,), highest threshold first.
    """
    if weight is not None:
        kept = weight != 0
        positive, score, weight = positive[kept], score[kept], weight[kept]
    order = np.argsort(score, kind="stable")[::-1]
    score, positive = score[order], positive[order]
    last = np.append(np.flatnonzero(np.diff(score)), len(score) - 1)  # the last sample of each threshold
    if weight is None:
        tps = np.cumsum(positive, dtype=np.float64)[last]
        return tps, (last + 1) - tps
    weight = np.asarray(weight, dtype=np.float64)[order]
    return np.cumsum(weight * positive)[last], np.cumsum(weight * ~positive)[last]


def ranking_scores(positive, score, weight=None):
    """ROC AUC and average precision of one yes/no column, NaN where undefined.

    The AUC is the trapezoidal area under the ROC curve (ties counting half);
    it is undefined without positives or without negatives. The average
    precision is sum_n (R_n - R_{n-1}) P_n over the thresholds, highest first;
    undefined without positives (scikit-learn then returns 0 with a warning). Returns the two floats.
    """
    tps, fps = ranked_totals(positive, score, weight)
    if len(tps) == 0 or tps[-1] <= 0:
        return np.nan, np.nan
    recall = tps / tps[-1]
    ap = float(np.diff(recall, prepend=0.0) @ (tps / (tps + fps)))
    if fps[-1] <= 0:
        return np.nan, ap
    fpr = np.concatenate(([0.0], fps / fps[-1]))
    tpr = np.concatenate(([0.0], recall))
    return float(np.diff(fpr) @ (tpr[1:] + tpr[:-1]) / 2), ap


def _macro_ranking(y_true, y_score, sample_weight, what, which):
    positives, scores = _columns(y_true, y_score, what)
    weight = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64).ravel()
    return float(np.mean([ranking_scores(p, s, weight)[which] for p, s in zip(positives, scores)]))


def roc_auc(y_true, y_score, sample_weight=None):
    """Area under the ROC curve: the chance that a positive scores above a negative, ties counting half.

    With one score per sample, (n,) or (n, 1), ``y_true`` holds two classes
    and the greater one is positive. With scores (n, k): for labels ``y_true``
    (n,) of k classes, the macro average of every class against the rest (the
    columns in the order of the sorted classes: scikit-learn's
    ``multi_class="ovr"``); for a 0/1 matrix (n, k), the macro average over the
    k labels. A class or label without positives, or without negatives, has
    no AUC: the average is then NaN. ``sample_weight`` (n,) weighs the samples.
    """
    return _macro_ranking(y_true, y_score, sample_weight, "roc_auc", 0)


def average_precision(y_true, y_score, sample_weight=None):
    """Average precision, sum_n (R_n - R_{n-1}) P_n over the distinct score thresholds, highest first.

    P_n and R_n are the precision and recall of calling positive every sample
    scoring at least the n-th threshold (scikit-learn's definition, no
    interpolation). ``y_true``, ``y_score`` and ``sample_weight`` as in
    :func:`roc_auc` (macro averages for scores (n, k)); a class or label
    without positives has none, and makes the average NaN.
    """
    return _macro_ranking(y_true, y_score, sample_weight, "average_precision", 1)


def log_loss(y_true, y_prob, sample_weight=None):
    """Mean negative log-probability of the true classes, -(1/n) sum_i log p_i[y_i].

    ``y_true`` holds class indices 0..k-1; ``y_prob`` the probabilities (n, k),
    or with two classes the positive class's, (n,) or (n, 1). As scikit-learn,
    the probabilities are clipped to [eps, 1 - eps] (eps of their dtype), and
    ``sample_weight`` (n,) makes it the weighted mean.
    """
    p = np.asarray(y_prob)
    if p.ndim == 1 or p.shape[1] == 1:
        p = p.reshape(-1, 1)
        p = np.hstack([1 - p, p])
    picked = p[np.arange(len(p)), np.asarray(y_true).ravel().astype(np.intp)]
    return float(np.average(-np.log(clipped(picked)), weights=sample_weight))


def clipped(p):
    """Probabilities ``p`` in float64, clipped to [eps, 1 - eps] with eps of their own float dtype (float64 else)."""
    eps = np.finfo(p.dtype if p.dtype.kind == "f" else np.float64).eps
    return np.clip(np.asarray(p, dtype=np.float64), eps, 1 - eps)


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
