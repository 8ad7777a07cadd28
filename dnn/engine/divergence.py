"""What a diverging fit goes back to, and how: the safe starts of its epochs and the recovery.

:func:`dnn.engine.training.train` offers the start of every epoch to a
:class:`SafeStarts`; when the loss of a batch, or the weights after an update,
are not finite, :func:`recover_from_divergence` puts the model back at the last
safe start and raises :class:`dnn.errors.TrainingDivergedError`.
"""

import math

from dnn.errors import TrainingDivergedError


class SafeStarts:
    """The starts of epochs that a diverging fit goes back to (see :func:`recover_from_divergence`).

    An epoch's start is safe when the epoch before it brought the lowest training loss of the fit so far (the
    fit's first epoch counts too). The last two are kept, in case the latest fails at its first batch.
    """

    def __init__(self):
        self.kept, self._lowest_loss, self._next_is_safe = [], math.inf, True

    def offer(self, epoch):
        """Keep ``epoch``, a :class:`dnn.engine.training.Epoch` about to run, when its start is safe."""
        if self._next_is_safe:
            self.kept.append(epoch)
            del self.kept[:-2]

    def epoch_ended(self, loss):
        """Take the training loss of the epoch that just completed."""
        self._next_is_safe = loss < self._lowest_loss
        self._lowest_loss = min(self._lowest_loss, loss)


def recover_from_divergence(model, plan, current, safe_starts, batch, updated_to_nan=False):
    """Put the model back in a state that is safe to continue from, then raise TrainingDivergedError.

    Batch ``batch`` of the current epoch saw a non-finite loss (with
    ``updated_to_nan``: the update of batch ``batch`` made the weights
    non-finite). The state one batch earlier has a finite loss but is usually
    already blown up, and training on from it at a lower rate mostly diverges
    again; so the model goes back to the start of the epoch that followed the
    lowest training loss of this fit, before the loss took off (the start of
    the fit at the latest). The epochs after it are undone (history, epoch
    count, records), and the optimizer's state, which carries the runaway
    steps, is reset.
    """
    state = model.state
    where = f"epoch {state.epochs + 1}, batch {batch + 1}"
    what = f" in {where}: the loss became infinite or NaN"
    if updated_to_nan:
        what = (f": the update of epoch {state.epochs + 1}, batch {batch} made the weights, or the network's "
                f"outputs or loss, infinite or NaN")
    bad_start = batch == 0 and not updated_to_nan  # the current epoch's starting weights give no finite loss
    usable = [epoch for epoch in safe_starts.kept if not (epoch is current and bad_start)]
    if not usable:
        state.restore(current.snapshot)  # the weights are as they were; the running statistics may have moved
        raise TrainingDivergedError(f"the loss is infinite or NaN with the model's weights as they were when fit "
                                    f"started ({where}); the weights are unchanged. Check the weights set by "
                                    f"hand, or lower the learning rate.")
    target = usable[-1]
    state.restore(target.snapshot)
    for values in state.history.values():
        del values[target.trained_before:]
    state.epochs = target.trained_before
    state.optimizer.reset()
    hint = "" if plan.standardize else " or standardize=True (for features of very different scales)"
    raise TrainingDivergedError(
        f"training diverged{what}. The model is back at the start of epoch {state.epochs + 1}, before the loss "
        f"took off, and its momentum is reset. Try a lower learning rate (lr={_describe(model.lr)}){hint}."
    )


def _describe(lr):
    return f"{lr:g}" if isinstance(lr, (int, float)) else repr(lr)
