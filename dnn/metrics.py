"""Evaluation metrics in plain numpy (no scikit-learn at run time).

What a metric means for each task (thresholds, correct rows) is decided in
:mod:`dnn.tasks`; these are the task-independent formulas.
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
