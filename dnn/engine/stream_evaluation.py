"""Outputs, losses and scores over a stream, chunk by chunk: predict*, modelEvaluate and fit's validation rows.

Each chunk of the stream goes through :func:`dnn.engine.inference.forward_chunks` and
:func:`dnn.engine.evaluation.evaluate_chunks`, the code arrays go through, so a stream gives what its rows
loaded as arrays give (every output is computed row by row). Memory holds a chunk, and what is kept of every row:
the predictions, or the scores of the ranking metrics.
"""

import numpy as np

from dnn.engine.evaluation import epoch_metric_values, epoch_scores, evaluate_chunks, mean_loss, ranking_choice
from dnn.engine.inference import forward_chunks
from dnn.errors import NonFiniteOutputError
from dnn.streams import held_out


class StreamValidation:
    """A fit's validation rows read from a stream after every epoch.

    The rows ``fraction`` holds out of the training stream (:func:`dnn.streams.held_out`), or every row of a
    validation stream (``fraction`` None). ``rows`` is their count, when known (needed for log_loss and the ranking
    metrics of ``fit(metrics=...)``).
    """

    def __init__(self, reader, fraction=None, rows=None):
        self.reader, self.fraction, self.rows = reader, fraction, rows

    def evaluate(self, model, task, metrics=()):
        """(loss, accuracy or None, {metric: value}), as :func:`dnn.engine.training.evaluate` of arrays."""
        params = model.state.params
        scorer, probabilities = (epoch_scores(metrics, task, model.classes, self.rows, model.activations[-1],
                                              model.dtype) if metrics else (None, None))
        loss_sum, correct, n = 0.0, 0, 0
        for x, t in self._chunks():
            # Outputs that overflow give an infinite loss here, which training reports as divergence.
            chunks = forward_chunks(x, params.weights, params.biases, model.activations[1:], model.units, model.dtype,
                                    model.feature_mean, model.feature_scale, check_outputs=False,
                                    norms=params.normalizations())
            part, hits = evaluate_chunks(chunks, t, model.loss, task, scorer=scorer,
                                         probabilities=_shifted(probabilities, n))
            loss_sum, correct, n = loss_sum + part, correct + hits, n + len(t)
        self.rows = n
        scores = epoch_metric_values(metrics, scorer, probabilities, model.classes) if metrics else {}
        return (mean_loss(loss_sum, n, params.weights, model.l2, model.l1),
                correct / n if task.is_classifier else None, scores)

    def _chunks(self):
        for start, x, t in self.reader.chunks("encoded"):
            if self.fraction is None:
                yield x, t
                continue
            held = held_out(np.arange(start, start + len(x)), self.fraction)
            if held.any():
                yield x[held], t[held]


class Shifted:
    """A :class:`dnn.data.tasks.ProbabilityScorer` given the rows of one chunk, numbered from ``offset``."""

    def __init__(self, scorer, offset):
        self.scorer, self.offset = scorer, offset

    def add(self, start, stop, outputs, targets):
        self.scorer.add(self.offset + start, self.offset + stop, outputs, targets)


def _shifted(scorer, offset):
    return None if scorer is None else Shifted(scorer, offset)


def stream_outputs(reader, weights, biases, activations, model, y=None):
    """Yield ``(start, stop, outputs, targets)`` over a stream's rows, chunk by chunk (``targets``: with ``y``
    "encoded", the target matrix of those rows; else None).

    ``outputs`` is a buffer reused for the next rows, as from :func:`dnn.engine.inference.forward_chunks`.
    """
    norms = model.state.params.normalizations()
    for offset, x, labels in reader.chunks(y):
        try:
            for start, stop, outputs in forward_chunks(x, weights, biases, activations, model.units, model.dtype,
                                                       model.feature_mean, model.feature_scale, norms=norms):
                yield offset + start, offset + stop, outputs, None if labels is None else labels[start:stop]
        except NonFiniteOutputError as error:
            raise NonFiniteOutputError(f"in the stream's chunk whose rows start at row {offset} (the row below "
                                       f"counts from there): {error}") from None


def evaluate_stream(model, reader, task, classes, ranking, weights, biases):
    """(modelEvaluate's result dict, rows) on a stream whose y ``reader`` encodes; see :meth:`dnn.DNN.modelEvaluate`.

    roc_auc and average_precision keep every score, so they need the row count first: a stream whose ``rows`` is
    not known is counted by a pass of its own with ``ranking=True``, and left without them by default.
    """
    rows, notes = reader.stream.rows, []
    if rows is None and ranking and task.is_classifier:
        for _ in reader.chunks(None):
            pass
        rows = reader.stream.rows
    if rows is None:
        keep = False
        if ranking is None and task.is_classifier:
            notes = ["roc_auc and average_precision are left out: they keep every score, and the stream's row count "
                     "is not known yet; modelEvaluate(..., ranking=True) counts the rows first and computes them"]
    else:
        keep, notes = ranking_choice(ranking, rows * task.ranked_columns(classes) if task.is_classifier else 0)
    scorer = task.scorer(classes)
    # without the row count, log_loss is summed as over one row and divided by the count at the end
    probabilities = task.probability_scorer(classes, rows or 1, model.activations[-1], None, keep, model.dtype)
    loss_sum, n = 0.0, 0
    for start, stop, outputs, t in stream_outputs(reader, weights, biases, model.activations[1:], model, "encoded"):
        part, _ = evaluate_chunks([(0, stop - start, outputs)], t, model.loss, task, scorer=scorer,
                                  count_correct=False, probabilities=_shifted(probabilities, start))
        loss_sum, n = loss_sum + part, stop
    result = {"loss": mean_loss(loss_sum, n, weights, model.l2, model.l1)}
    result.update(scorer.result(classes))
    if probabilities is not None:
        result.update(probabilities.result(classes))
        if rows is None:
            result["log_loss"] /= n
        notes = result.pop("notes", []) + notes
    if notes:
        result["notes"] = notes
    return result, n


def collected(rows, chunks, part):
    """``part(outputs)`` of every chunk of ``chunks`` (``(start, stop, outputs, ...)``) in one array of ``rows`` rows
    (None: as many as the chunks give, gathered at the end)."""
    result, parts = None, []
    for start, stop, outputs, *_ in chunks:
        value = part(outputs)
        if rows is None:
            parts.append(np.array(value, copy=True))
            continue
        if result is None:
            result = np.empty((rows, *value.shape[1:]), dtype=value.dtype)
        result[start:stop] = value
    return result if rows is not None else np.concatenate(parts)
