"""Evaluation metrics in plain numpy (no scikit-learn at run time).

What a metric means for each task (thresholds, correct rows) is decided in
:mod:`dnn.data.tasks`; these are the task-independent formulas.
"""

import numpy as np


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
    p = np.asarray(p, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    residual = p - y
    ss_res = (residual**2).sum(axis=0)
    ss_tot = ((y - y.mean(axis=0)) ** 2).sum(axis=0)
    r2 = np.where(ss_tot > 0, 1 - ss_res / np.where(ss_tot > 0, ss_tot, 1), np.where(ss_res == 0, 1.0, 0.0))
    return {
        "mse": float((residual**2).mean()),
        "mae": float(np.abs(residual).mean()),
        "r2": float(r2.mean()),
    }


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
        r2 = np.where(ss_tot > 0, 1 - self.ss_res / np.where(ss_tot > 0, ss_tot, 1),
                      np.where(self.ss_res == 0, 1.0, 0.0))
        return {"mse": self.squares / size, "mae": self.absolute / size, "r2": float(r2.mean())}
