"""Loss and correct rows of a network's outputs, chunk by chunk: fit's validation and modelEvaluate share it.

Both report the loss as training does: the mean over the rows of each row's
loss (times its weight, when rows are weighted) plus the L2 penalty.
"""

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
