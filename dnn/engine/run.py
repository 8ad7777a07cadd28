"""What callbacks see of a running ``fit``: the :class:`TrainingRun`, and the running sums of its current epoch.

Made by :func:`dnn.engine.training.train` (which also offers both names).
"""

import math

from dnn.engine.batches import batch_count


class TrainingRun:
    """What callbacks see of a running ``fit``: the model, its state, and a way to stop.

    Attributes
    ----------
    model : dnn.DNN
    state : dnn.engine.state.TrainingState
    requested_epochs : int
        Epochs this fit call was asked for (``state.epochs`` counts those of
        the model's whole life).
    batches : int
        Mini-batches per epoch.
    data : dnn.engine.batches.TrainingData
        The training rows.
    task : dnn.data.tasks.Task
    verbose : int
    has_validation : bool
    progress : EpochProgress
        Running sums of the current epoch.
    stop_training : bool
        Set it to end training after the current batch.
    """

    def __init__(self, model, plan):
        self.model, self.state = model, model.state
        self.requested_epochs, self.verbose = plan.epochs, plan.verbose
        self.batches = batch_count(len(plan.data), plan.batch_size)
        self.data, self.task = plan.data, plan.task
        self.has_validation = plan.validation is not None
        self.progress = EpochProgress()
        self.stop_training = False

    @property
    def epochs(self):
        """The former name of :attr:`requested_epochs`, for callbacks written against it."""
        return self.requested_epochs


class EpochProgress:
    """Running sums over the completed batches of an epoch."""

    def __init__(self):
        self.rows = 0
        self.batches = 0
        self.loss_sum = 0.0
        self.correct = 0
        self.diverged = None
        self.lr = None  # the rate of the last batch

    def add(self, rows, loss, correct):
        self.rows += rows
        self.batches += 1
        self.loss_sum += loss
        self.correct += correct

    @property
    def mean_loss(self):
        return self.loss_sum / self.rows if self.rows else math.nan
