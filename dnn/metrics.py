"""Evaluation metrics in plain numpy (no scikit-learn at run time).

Tasks: "multiclass" (one output per class, the largest wins), "binary" (one
sigmoid output, threshold 0.5), "multilabel" (independent sigmoid outputs,
threshold 0.5, a sample counts as correct when every label is) and "regression".
"""

import numpy as np

THRESHOLD = 0.5


def count_correct(task, p, t):
    """Number of rows of outputs ``p`` that match targets ``t``, both (n, k)."""
    if task in ("multiclass", "binary"):
        return int(np.count_nonzero(class_indices(task, p) == class_indices(task, t)))
    if task == "multilabel":
        return int(np.count_nonzero(((p >= THRESHOLD) == (t >= THRESHOLD)).all(axis=1)))
    return 0


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


def class_indices(task, outputs):
    """Index of the class each row of outputs (or of a target matrix) stands for, single-label tasks."""
    if task == "binary":
        return (outputs[:, 0] >= THRESHOLD).astype(np.intp)
    return outputs.argmax(axis=1)


def classification_scores(task, outputs, targets, classes):
    """Accuracy, per-class precision, recall, F1 and support, their macro averages, and the confusion matrix.

    For a multi-label task every label is scored as its own yes/no question
    and there is no confusion matrix.

    Returns
    -------
    dict
        ``accuracy``, ``macro_precision``, ``macro_recall``, ``macro_f1``
        (floats); ``precision``, ``recall``, ``f1``, ``support`` (dicts from
        class label to value); ``confusion_matrix`` (k, k) for single-label tasks.
    """
    result = {"accuracy": count_correct(task, outputs, targets) / len(outputs)}
    labels = classes.tolist()
    if task == "multilabel":
        predicted, actual = outputs >= THRESHOLD, targets >= THRESHOLD
        per_label = [confusion_matrix(actual[:, k], predicted[:, k], 2)[::-1, ::-1] for k in range(len(labels))]
        scores = np.array([[s[0] for s in precision_recall_f1(c)] for c in per_label]).T
        precision, recall, f1, support = scores[0], scores[1], scores[2], scores[3].astype(np.int64)
    else:
        confusion = confusion_matrix(class_indices(task, targets), class_indices(task, outputs), len(labels))
        precision, recall, f1, support = precision_recall_f1(confusion)
        result["confusion_matrix"] = confusion
    result.update(macro_precision=float(precision.mean()), macro_recall=float(recall.mean()),
                  macro_f1=float(f1.mean()))
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
