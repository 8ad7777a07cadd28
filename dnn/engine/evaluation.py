"""Loss and correct rows of a network's outputs, chunk by chunk: fit's validation and modelEvaluate share it.

Both report the loss as training does: the mean over the rows of each row's
loss (times its weight, when rows are weighted) plus the L2 penalty.
"""

import numpy as np

from dnn import metrics as metric_functions
from dnn.engine.update import l1_penalty
from dnn.losses import l2_penalty, summed_loss

#: By default modelEvaluate keeps every score for roc_auc and average_precision up to this many (rows x columns):
#: 32 MiB of float32 (64 MiB of float64) and 8 MiB of true answers, a million rows of 8 classes.
RANKING_MAX_SCORES = 2**23


def evaluate_chunks(chunks, targets, loss, task, *, encode=None, weights=None, scorer=None, count_correct=True,
                    probabilities=None):
    """Sums over the chunks of outputs from :func:`dnn.engine.inference.forward_chunks`.

    Parameters
    ----------
    chunks : iterable of (start, stop, outputs)
        ``outputs`` (stop - start, k), the network's outputs for rows start..stop.
    targets : ndarray, shape (n, k), or labels (n,) with ``encode``
    loss : str
        The model's loss.
    task : dnn.data.tasks.Task
    encode : callable, optional
        Turns ``targets[start:stop]`` into the chunk's target matrix (labels
        encoded chunk by chunk keep memory bounded).
    weights : ndarray of shape (n,), optional
        A weight per row, for the loss and the correct rows.
    scorer : optional
        An accumulator from ``task.scorer(classes)``, given every chunk.
    count_correct : bool
        Count the correct rows (classifiers only).
    probabilities : dnn.data.tasks.ProbabilityScorer, optional
        From ``task.probability_scorer(...)``, given every chunk with its rows.

    Returns
    -------
    loss_sum : float
        sum_i w_i loss_i (w_i = 1 without ``weights``); see :func:`mean_loss`.
    correct : int or float
        The number of correct rows, or the sum of their weights; 0 for
        regression or without ``count_correct``.
    """
    loss_sum, correct = 0.0, 0
    count_correct = count_correct and task.is_classifier
    for start, stop, p in chunks:
        t = targets[start:stop] if encode is None else encode(targets[start:stop])
        w = None if weights is None else weights[start:stop]
        loss_sum += summed_loss(loss, p, t, w)
        if scorer is not None:
            task.add_to(scorer, p, t)
        if probabilities is not None:
            probabilities.add(start, stop, p, t)
        if count_correct:
            correct += task.count_correct(p, t) if w is None else float(w @ task.correct_rows(p, t))
    return loss_sum, correct


def mean_loss(loss_sum, rows, weights, l2, l1=0.0):
    """The loss as training reports it: ``loss_sum`` over ``rows`` rows plus the L2 and L1 penalties of ``weights``."""
    return loss_sum / rows + l2_penalty(weights, l2) + l1_penalty(weights, l1)


def ranking_choice(ranking, scores):
    """Whether to keep ``scores`` scores for the ranking metrics (``ranking``: True, False or None for the default),
    and a list with the note that says they were left out by the default, if they were."""
    if ranking is not None and not isinstance(ranking, bool):
        raise ValueError(f"ranking must be True, False or None, got {ranking!r:.80}")
    if ranking is not None or scores <= RANKING_MAX_SCORES:
        return bool(ranking is None or ranking) and scores > 0, []
    return False, [f"roc_auc and average_precision are left out: they rank all {scores:,} scores at once, more "
                   f"than the {RANKING_MAX_SCORES:,} kept by default; modelEvaluate(..., ranking=True) computes them"]


#: The metrics ``fit(metrics=...)`` reports on the validation rows after every epoch (history key ``val_<name>``):
#: registry name -> the key of modelEvaluate's result it reads (error is 1 - accuracy).
EPOCH_METRICS = {"accuracy": "accuracy", "error": "accuracy", "precision": "macro_precision",
                 "recall": "macro_recall", "f1": "macro_f1", "log_loss": "log_loss", "roc_auc": "roc_auc",
                 "average_precision": "average_precision", "mse": "mse", "mae": "mae", "r2": "r2"}
_CLASSIFIER_ONLY = ("accuracy", "error", "precision", "recall", "f1", "log_loss", "roc_auc", "average_precision")


def check_epoch_metrics(names, task, has_validation):
    """The canonical names of ``fit(metrics=...)`` (None: none) for ``task``; ValueError naming the problem."""
    if names is None:
        return ()
    names = [names] if isinstance(names, str) else names
    if not isinstance(names, (list, tuple)) or not all(isinstance(name, str) for name in names):
        raise ValueError(f"metrics must be a list of metric names such as ['roc_auc'], got {names!r:.80}")
    valid = [name for name in EPOCH_METRICS if (name in _CLASSIFIER_ONLY) == task.is_classifier]
    checked = [metric_functions.REGISTRY.canonical(name, among=valid, kind=f"{task} metric") for name in names]
    if checked and not has_validation:
        raise ValueError(f"metrics {checked} are computed on validation rows after every epoch: give "
                         f"validationSplit or validationData")
    return tuple(dict.fromkeys(checked))


def epoch_scores(names, task, classes, rows, activation, dtype):
    """The accumulators :func:`evaluate_chunks` fills for the metrics ``names``: (scorer, probabilities)."""
    needs_probabilities = any(name in ("log_loss", "roc_auc", "average_precision") for name in names)
    ranking = any(name in ("roc_auc", "average_precision") for name in names)
    probabilities = (task.probability_scorer(classes, rows, activation, None, ranking, dtype)
                     if needs_probabilities else None)
    return task.scorer(classes), probabilities


def epoch_metric_values(names, scorer, probabilities, classes):
    """``{name: value}`` of the metrics ``names`` from the filled accumulators of :func:`epoch_scores`."""
    result = scorer.result(classes)
    if probabilities is not None:
        result.update(probabilities.result(classes))
    values = {name: float(result.get(EPOCH_METRICS[name], np.nan)) for name in names}
    if "error" in values:
        values["error"] = 1.0 - values["error"]
    return values
