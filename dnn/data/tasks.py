"""What differs between the four tasks a network can learn, in one place.

- :data:`MULTICLASS`: one output per class (softmax, or sigmoid with several
  units trained on one label per sample); the largest output wins.
- :data:`BINARY`: one sigmoid output, the probability of the second class;
  threshold 0.5 (or one step output set by hand: 1 is the second class).
- :data:`MULTILABEL`: independent sigmoid outputs, threshold 0.5 each; a
  sample counts as correct when every label is.
- :data:`REGRESSION`: real-valued identity outputs.

Each task decodes network outputs into predictions, probabilities, correct
counts and scores; :mod:`dnn.data.targets` encodes what users pass as ``y`` and
decides which task it implies.
"""

import numpy as np

from dnn import metrics
from dnn.activations import get_activation
from dnn.devices import namespace

#: An output, or a target, at least this high is a yes: the class of a binary output, a label of a multi-label
#: one, a class marked in a row of independent (sigmoid) targets. Training, evaluation and encoding all use it.
THRESHOLD = 0.5

#: Output activations whose units are independent yes/no answers in [0, 1].
SIGMOID_LIKE = ("sigmoid", "step")


def _says_yes(z, activation):
    """Where the outputs reach the threshold, from the pre-activations ``z``.

    The output is computed and compared with THRESHOLD, the rule evaluation and
    training use on outputs: reading the sign of z instead disagrees where
    sigmoid(z) rounds to 0.5 for a z just below 0.
    """
    return get_activation(activation)[0](z.copy()) >= THRESHOLD


class Task:
    """Behaviour shared by the classification tasks; see the module docstring."""

    name = None
    is_classifier = True
    single_label = True

    #: Output activations a network of this task can end in.
    outputs = ("softmax", "sigmoid", "step")

    def fits_output(self, activation, units):
        """Whether an output layer of ``units`` units with ``activation`` can serve this task."""
        return activation in self.outputs and units >= 2

    def class_indices(self, outputs):
        """Index of the class each row of outputs (or of a target matrix) stands for."""
        return outputs.argmax(axis=1)

    def correct_rows(self, p, t):
        """Boolean (n,): which rows of outputs ``p`` (n, k) match targets ``t`` (n, k)."""
        return self.class_indices(p) == self.class_indices(t)

    def count_correct(self, p, t):
        """Number of rows of outputs ``p`` (n, k) that match targets ``t`` (n, k)."""
        return int(namespace(p).count_nonzero(self.correct_rows(p, t)))

    def predictions(self, z, classes, activation):
        """Labels from the output layer's pre-activations ``z`` (n, k) and its ``activation``.

        Softmax and sigmoid keep the order of z, and the thresholds are read
        off z (see :func:`_says_yes`), so no activation needs computing.
        """
        return classes[z.argmax(axis=1)]

    def probabilities(self, outputs, activation):
        """Class probabilities (n, classes) from the network's outputs."""
        if activation in SIGMOID_LIKE:  # independent units of a single-label model: normalized to sum to 1
            outputs = outputs / np.maximum(outputs.sum(axis=1, keepdims=True), np.finfo(outputs.dtype).tiny)
        return outputs

    def log_probabilities(self, z, activation):
        """Logarithms of :meth:`probabilities`, from the output layer's pre-activations ``z`` (n, k).

        Computed as log-softmax or log-sigmoid of ``z``, never as log(p): a
        probability that rounds to 0 or 1 keeps its exact logarithm.
        """
        if activation == "softmax":
            return log_softmax(z)
        # independent sigmoids of a single-label model, normalized: log p_k - log sum_j p_j
        return log_softmax(log_sigmoid(z))

    def scores(self, outputs, targets, classes):
        """Accuracy, per-class precision, recall, F1 and support, macro averages and the confusion matrix."""
        scorer = self.scorer(classes)
        self.add_to(scorer, outputs, targets)
        return scorer.result(classes)

    def scorer(self, classes):
        """An accumulator for :meth:`add_to`, chunk by chunk; ``scorer.result(classes)`` gives :meth:`scores`."""
        return metrics.ConfusionCounts(len(classes))

    def add_to(self, scorer, outputs, targets):
        scorer.add(self.class_indices(targets), self.class_indices(outputs))

    #: The columns of :meth:`ranked_probabilities` are exclusive classes (one true per row), not yes/no answers.
    exclusive = True

    def probability_scorer(self, classes, rows, activation, weights=None, ranking=True, dtype=np.float64):
        """A :class:`ProbabilityScorer` of ``rows`` rows to come: log_loss and, with ``ranking``, roc_auc and
        average_precision."""
        return ProbabilityScorer(self, classes, rows, activation, weights, ranking, dtype)

    def ranked_columns(self, classes):
        """The number of columns of :meth:`ranked_probabilities`."""
        return len(classes)

    def ranked_probabilities(self, outputs, activation):
        """The probabilities log_loss and the ranking metrics read, (n, columns): one column per class."""
        return self.probabilities(outputs, activation)

    def positives(self, targets):
        """Boolean (n, columns): the true answer for each column of :meth:`ranked_probabilities`."""
        return self.class_indices(targets)[:, None] == np.arange(targets.shape[1])

    def missing(self, classes, column, positives):
        """Why a column has no positives (``positives``) or no negatives, in words, for a note."""
        label = classes[column]
        return f"y has no samples of class {label}" if positives else f"every sample in y is of class {label}"

    def groups(self, targets):
        """Row indices of every class present, for stratified splits."""
        index = self.class_indices(targets)
        return [np.flatnonzero(index == c) for c in np.unique(index)]

    def __eq__(self, other):
        # A task equals its name, so ``model.task == "binary"`` reads as it did when tasks were strings.
        return other is self or (isinstance(other, str) and other == self.name)

    def __hash__(self):
        return hash(self.name)

    def __str__(self):
        return self.name

    def __repr__(self):
        return f"<task {self.name}>"

    def __reduce__(self):
        # One instance per task, also after copying or unpickling a model.
        return get_task, (self.name,)


class Multiclass(Task):
    name = "multiclass"


class Binary(Task):
    name = "binary"
    outputs = ("sigmoid", "step")

    def fits_output(self, activation, units):
        return activation in self.outputs and units == 1

    def class_indices(self, outputs):
        return (outputs[:, 0] >= THRESHOLD).astype(np.intp)

    def predictions(self, z, classes, activation):
        return classes[_says_yes(z[:, 0], activation).astype(np.intp)]

    def probabilities(self, outputs, activation):
        return np.hstack([1 - outputs, outputs])

    def log_probabilities(self, z, activation):
        return np.hstack([log_sigmoid(-z), log_sigmoid(z)])  # 1 - sigmoid(z) = sigmoid(-z)

    exclusive = False

    def ranked_columns(self, classes):
        return 1

    def ranked_probabilities(self, outputs, activation):
        return outputs[:, :1]  # the positive class's: classes[1]

    def positives(self, targets):
        return targets >= THRESHOLD

    def missing(self, classes, column, positives):
        return f"y has no samples of class {classes[1] if positives else classes[0]}"


class Multilabel(Task):
    name = "multilabel"
    single_label = False
    outputs = ("sigmoid", "step")

    def correct_rows(self, p, t):
        return ((p >= THRESHOLD) == (t >= THRESHOLD)).all(axis=1)

    def log_probabilities(self, z, activation):
        return log_sigmoid(z)

    def predictions(self, z, classes, activation):
        return _says_yes(z, activation).astype(np.int64)

    def probabilities(self, outputs, activation):
        return outputs

    def scorer(self, classes):
        """Accuracy, then every label scored as its own yes/no question; no confusion matrix."""
        return metrics.LabelCounts(len(classes))

    def add_to(self, scorer, outputs, targets):
        scorer.add(targets >= THRESHOLD, outputs >= THRESHOLD)

    exclusive = False

    def ranked_probabilities(self, outputs, activation):
        return outputs

    def positives(self, targets):
        return targets >= THRESHOLD

    def missing(self, classes, column, positives):
        return f"label {classes[column]} is set in {'no' if positives else 'every'} sample of y"

    def groups(self, targets):
        return [np.arange(len(targets))]


class Regression(Task):
    name = "regression"
    is_classifier = False
    single_label = False
    outputs = ("identity",)

    def fits_output(self, activation, units):
        return activation in self.outputs

    def count_correct(self, p, t):
        return 0

    def predictions(self, z, classes, activation):
        return z[:, 0] if z.shape[1] == 1 else z

    def scorer(self, classes):
        return metrics.RegressionSums()

    def add_to(self, scorer, outputs, targets):
        scorer.add(outputs, targets)

    def probability_scorer(self, classes, rows, activation, weights=None, ranking=True, dtype=np.float64):
        return None  # no probabilities

    def groups(self, targets):
        return [np.arange(len(targets))]


class ProbabilityScorer:
    """log_loss, roc_auc and average_precision of a classifier's outputs, chunk by chunk.

    The probabilities are those of ``predictProba`` (for a binary model, its
    positive column); log_loss is scikit-learn's, and for a multi-label model
    the mean over the labels of each label's binary log loss. roc_auc and
    average_precision (kept only with ``ranking``) are macro averages: over the
    classes one-vs-rest, over the labels, or of the one binary output; NaN
    where a class or label leaves them undefined, said in the result's ``notes``.
    """

    #: A note names at most this many classes.
    NAMED = 5

    def __init__(self, task, classes, rows, activation, weights, ranking, dtype):
        self.task, self.activation, self.weighted = task, activation, weights is not None
        self.scores = metrics.ProbabilityScores(rows, task.ranked_columns(classes), task.exclusive, weights, ranking,
                                                dtype)

    def add(self, start, stop, outputs, targets):
        """The outputs (m, k) and the target matrix (m, k) of rows start..stop."""
        self.scores.add(start, stop, self.task.ranked_probabilities(outputs, self.activation),
                        self.task.positives(targets))

    def result(self, classes):
        """``log_loss``, and with the ranking metrics ``roc_auc``, ``average_precision`` and any ``notes``."""
        result = {"log_loss": self.scores.log_loss()}
        if self.scores.scores is None:
            return result
        auc, ap = self.scores.ranking()
        result["roc_auc"], result["average_precision"] = float(auc.mean()), float(ap.mean())
        no_positives = np.isnan(ap)
        notes = []
        for name, undefined in (("roc_auc", np.isnan(auc)), ("average_precision", no_positives)):
            reasons = [self.task.missing(classes, c, no_positives[c]) for c in np.flatnonzero(undefined)]
            if reasons:
                more = len(reasons) - self.NAMED
                named = ", ".join(reasons[:self.NAMED]) + (f" and {more} more" if more > 0 else "")
                counted = " (counting the samples of nonzero weight)" if self.weighted else ""
                notes.append(f"{name} is NaN (undefined): {named}{counted}")
        if notes:
            result["notes"] = notes
        return result


def log_sigmoid(z):
    """log sigmoid(z) = -log(1 + exp(-z)), without overflow for any z."""
    return -np.logaddexp(0, -z)


def log_softmax(z):
    """log softmax(z) row-wise, shape (n, k), in float64 and returned in z's dtype.

    With m the row's largest entry, log p_k = (z_k - m) - log1p(sum_{j != argmax} exp(z_j - m)): the largest term
    of the sum is exactly 1, and log1p keeps the logarithm of a probability close to 1 exact where log(1 + s)
    would round it to 0. Finite for any finite z.
    """
    shifted = z.astype(np.float64)
    shifted -= shifted.max(axis=1, keepdims=True)
    terms = np.exp(shifted)
    terms[np.arange(len(terms)), shifted.argmax(axis=1)] = 0.0
    shifted -= np.log1p(terms.sum(axis=1, keepdims=True))
    return shifted.astype(z.dtype, copy=False)


MULTICLASS, BINARY, MULTILABEL, REGRESSION = Multiclass(), Binary(), Multilabel(), Regression()
TASKS = {task.name: task for task in (MULTICLASS, BINARY, MULTILABEL, REGRESSION)}


def get_task(name):
    """The task registered under ``name``; ValueError listing the names otherwise."""
    if isinstance(name, Task):
        return name
    try:
        return TASKS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown task {name!r}; valid names: {', '.join(TASKS)}") from None
