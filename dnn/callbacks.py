"""Hooks around the training loop, and the behaviours built on them.

``fit(..., callbacks=[...])`` calls every callback at these points:

- ``on_train_begin(run)`` and ``on_train_end(run)``: around the whole call;
  ``on_train_end`` is called however ``fit`` ends, also by an exception;
- ``on_epoch_begin(run, epoch)`` and ``on_epoch_end(run, epoch, logs)``:
  ``epoch`` counts from 0 within the call, ``logs`` holds the epoch's history
  values (``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``, ``lr``, ``time``);
- ``on_batch_begin(run, batch)`` and ``on_batch_end(run, batch, logs)``:
  ``logs`` holds the batch's mean ``loss``, its ``size`` in rows and the
  learning rate ``lr`` its update used (a schedule per step, such as
  :class:`dnn.schedules.OneCycle`, changes it every batch; the history keeps
  the last of each epoch).

``run`` is the :class:`dnn.engine.training.TrainingRun`: ``run.model``, ``run.state``
(the :class:`dnn.engine.state.TrainingState`), ``run.requested_epochs`` (epochs asked for),
``run.verbose``, and ``run.stop_training``, which a callback sets to end
training after the current batch. An exception raised by a callback ends
``fit`` with the model as it was after the last whole batch, and propagates.

The progress bar, the per-epoch lines of ``verbose=2``, parameter recording
(:mod:`dnn.engine.recording`) and early stopping are callbacks on this interface.
"""

import csv
import math
import os
import sys
import threading

from dnn.checks import check_number, positive_int
from dnn.engine.monitors import Monitor, resolve_mode
from dnn.report.text import ProgressBar, epoch_line


class Callback:
    """Base class: every hook does nothing. Override the ones you need."""

    def on_train_begin(self, run):
        pass

    def on_epoch_begin(self, run, epoch):
        pass

    def on_batch_begin(self, run, batch):
        pass

    def on_batch_end(self, run, batch, logs):
        pass

    def on_epoch_end(self, run, epoch, logs):
        pass

    def on_train_end(self, run):
        pass


HOOKS = ("on_train_begin", "on_epoch_begin", "on_batch_begin", "on_batch_end", "on_epoch_end", "on_train_end")


class CallbackList:
    """Calls a hook on every callback that defines it; per-batch hooks only where overridden (they are hot)."""

    def __init__(self, callbacks):
        self.callbacks = list(callbacks)
        self.batch_begin = [c.on_batch_begin for c in self.callbacks if _overrides(c, "on_batch_begin")]
        self.batch_end = [c.on_batch_end for c in self.callbacks if _overrides(c, "on_batch_end")]

    def call(self, hook, *arguments):
        for callback in self.callbacks:
            method = getattr(callback, hook, None)
            if method is not None:
                method(*arguments)

    def call_all(self, hook, *arguments):
        """Call ``hook`` on every callback even if some raise (cleanup: files, threads); then raise the first error."""
        first = None
        for callback in self.callbacks:
            method = getattr(callback, hook, None)
            try:
                if method is not None:
                    method(*arguments)
            except Exception as error:
                first = first or error
        if first is not None:
            raise first


def _overrides(callback, hook):
    method = getattr(type(callback), hook, None)
    return method is not None and method is not getattr(Callback, hook)


def check_callbacks(callbacks):
    """The callbacks argument of fit as a list; ValueError for anything without a hook."""
    if callbacks is None:
        return []
    if isinstance(callbacks, (Callback,)) or not isinstance(callbacks, (list, tuple)):
        callbacks = [callbacks]
    for callback in callbacks:
        if not any(callable(getattr(callback, hook, None)) for hook in HOOKS):
            raise ValueError(f"callbacks must have hooks such as on_epoch_end (see dnn.callbacks.Callback); "
                             f"got {type(callback).__name__}")
    return list(callbacks)


def monitored(run, monitor):
    """The name of the monitored value: ``monitor``, or val_loss with validation data and loss without."""
    if monitor is not None:
        return monitor
    return "val_loss" if run.has_validation else "loss"


def watched(run, monitor, mode, min_delta=0.0):
    """The :class:`dnn.engine.monitors.Monitor` of a callback's ``monitor`` and ``mode`` in this fit."""
    key = monitored(run, monitor)
    return Monitor(key, resolve_mode(key, mode), min_delta)


def _checked_mode(monitor, mode):
    """``mode`` after checking it; with a ``monitor`` given, "auto" must be able to read its direction now."""
    resolve_mode("loss" if monitor is None else monitor, mode)
    return mode


class ProgressBarLogger(Callback):
    """A progress bar over each epoch's batches with the running loss (``verbose=1``).

    Epochs are numbered over the model's whole life, as in the history, the
    early-stopping messages and ``model.restoredEpoch``: a second fit of 20
    epochs after 32 shows ``Epoch 33/52`` to ``Epoch 52/52``.
    """

    def __init__(self):
        self.bar = None

    def on_train_begin(self, run):
        self.before = run.state.epochs

    def on_epoch_begin(self, run, epoch):
        self.bar = ProgressBar(self.before + epoch, self.before + run.requested_epochs, run.batches)

    def on_batch_end(self, run, batch, logs):
        self.bar.advance(run.progress)

    def on_epoch_end(self, run, epoch, logs):
        self.bar.finish(logs)
        self.bar = None

    def on_train_end(self, run):
        if self.bar is not None:  # interrupted inside an epoch
            self.bar.close()
            self.bar = None


class EpochLogger(Callback):
    """One line per epoch with its loss, accuracy, learning rate and time (``verbose=2``).

    Epochs are numbered over the model's whole life, like the progress bar's.
    """

    def on_train_begin(self, run):
        self.before = run.state.epochs

    def on_epoch_end(self, run, epoch, logs):
        print(epoch_line(self.before + epoch, self.before + run.requested_epochs, logs))


class EarlyStopping(Callback):
    """Stop when ``monitor`` has made no progress for ``patience`` epochs, and keep the best epoch's weights.

    The best epoch is the one with the best monitored value: the lowest in
    mode "min", the highest in mode "max" (the first of equal ones). ``min_delta``
    only decides what counts as progress for the patience: an epoch makes
    progress when its value beats the last progress by more than ``min_delta``.
    So a small improvement does not reset the patience, but it is still the
    best epoch if nothing later beats it.

    At every new best it keeps a copy of the training state (parameters,
    optimizer state). With ``restore_best`` that copy is put back when the
    patience runs out and also when the epochs run out first;
    ``model.restoredEpoch`` then says which epoch the weights are from, and
    ``model.stoppedEarly`` (only when the patience ran out) says when it
    stopped and which epoch was kept.

    Epochs are numbered over the model's whole life (1 is the first epoch of
    the first fit), in its messages as in the progress bar, the history and
    ``model.restoredEpoch``: a second fit continues the count.

    Parameters
    ----------
    patience : int or math.inf
        ``math.inf`` never stops: training runs all its epochs and ends on the
        best one.
    min_delta : float
    monitor : str, optional
        A history key; default val_loss with validation, else loss.
    restore_best : bool
    mode : {"auto", "min", "max"}
        Whether the monitored value should go down or up; "auto" reads it off
        the key (see :mod:`dnn.engine.monitors`): losses down, accuracy, AUC, R² up.
    """

    def __init__(self, patience, min_delta=0.0, monitor=None, restore_best=True, mode="auto"):
        self.patience = check_patience(patience)
        check_number(min_delta, "minDelta", low=0)
        self.min_delta, self.monitor, self.mode = float(min_delta), monitor, _checked_mode(monitor, mode)
        if not isinstance(restore_best, bool):
            raise ValueError(f"restoreBest must be True or False, got {restore_best!r}")
        self.restore_best = restore_best
        self.ended = None  # epochs finished in this fit; None until on_train_begin has run

    def on_train_begin(self, run):
        self.watch = watched(run, self.monitor, self.mode, self.min_delta)
        self.key = self.watch.key
        self.best, self.best_epoch, self.snapshot = self.watch.worst, None, None
        self.progress, self.wait, self.ended = self.watch.worst, 0, 0
        run.state.restored_epoch = None

    def on_epoch_end(self, run, epoch, logs):
        value = self.watch.value(logs)
        self.ended = epoch + 1
        if self.watch.better(value, self.best):
            self.best, self.best_epoch = value, run.state.epochs
            if self.restore_best:
                self.snapshot = run.state.snapshot()
        if self.watch.progress(value, self.progress):
            self.progress, self.wait = value, 0
            return
        self.wait += 1
        if self.wait >= self.patience:
            run.stop_training = True
            restored = self._restore(run)
            state = run.state
            state.stopped_early = {"epoch": state.epochs, "best_epoch": self.best_epoch, "monitor": self.key,
                                   "mode": self.watch.mode, "best": self.best, "restored_epoch": restored}
            if run.verbose:
                kept = f"restored the weights of epoch {restored}" if restored else "kept the last weights"
                print(f"Early stopping after epoch {state.epochs}: {self.key} has not improved by more than "
                      f"{self.min_delta:g} for {self.patience} epochs; {kept} (best {self.key} {self.best:.4f} "
                      f"in epoch {self.best_epoch}).")

    def on_train_end(self, run):
        # The epochs ran out before the patience: the best epoch may still be an earlier one. Only after a
        # normal end: an interrupted, diverged or failed fit keeps the state it reports.
        finished = self.ended == run.requested_epochs and not run.stop_training
        if self.ended is None or not finished or run.state.stopped_early is not None:
            return
        restored = self._restore(run)
        if restored is not None and restored != run.state.epochs and run.verbose:
            print(f"Restored the weights of epoch {restored}, the {self.watch.adjective} {self.key} "
                  f"({self.best:.4f}); the last epoch was {run.state.epochs}.")

    def _restore(self, run):
        """Put the best epoch's state back; returns its epoch number (None when nothing was restored)."""
        if self.snapshot is None:  # restore_best off, or the monitored value was never a number
            return None
        run.state.restore(self.snapshot, generator=False, keep_records=None)
        run.state.restored_epoch = self.best_epoch
        return self.best_epoch


def check_patience(patience):
    """The patience of early stopping: a positive integer, or ``math.inf`` for never stopping."""
    if isinstance(patience, float) and patience == math.inf:
        return math.inf
    return positive_int(patience, "earlyStopping (the patience, in epochs, or math.inf)")


class ModelCheckpoint(Callback):
    """Save the model after epochs, through the atomic ``saveModel``.

    Parameters
    ----------
    path : str or path-like
        May contain ``{epoch}`` (1-based, over all fit calls), formatted per save.
    best_only : bool
        Save only when ``monitor`` is better than at every earlier save of this fit.
    monitor : str, optional
        A history key; default val_loss with validation, else loss.
    mode : {"auto", "min", "max"}
        Which way ``monitor`` improves (see :class:`EarlyStopping`).
    """

    def __init__(self, path, best_only=True, monitor=None, mode="auto"):
        self.path, self.best_only, self.monitor = os.fspath(path), bool(best_only), monitor
        self.mode = _checked_mode(monitor, mode)

    def on_train_begin(self, run):
        self.watch = watched(run, self.monitor, self.mode)
        self.best = self.watch.worst

    def on_epoch_end(self, run, epoch, logs):
        value = self.watch.value(logs)
        if self.best_only and not self.watch.better(value, self.best):
            return
        self.best = value
        run.model.saveModel(self.path.format(epoch=run.state.epochs))


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` when ``monitor`` stalls for ``patience`` epochs.

    The reduction applies on top of the model's schedule (``state.lr_factor``)
    and is kept with the model; the rate never goes below ``min_lr``. After a
    reduction, ``cooldown`` epochs pass before counting stalls again. ``mode``
    says which way ``monitor`` improves (see :class:`EarlyStopping`).
    """

    def __init__(self, factor=0.1, patience=10, min_delta=1e-4, min_lr=0.0, cooldown=0, monitor=None, mode="auto"):
        check_number(factor, "factor", low=0, high=1, low_inclusive=False)
        check_number(min_delta, "min_delta", low=0)
        check_number(min_lr, "min_lr", low=0)
        self.factor, self.patience = float(factor), positive_int(patience, "patience")
        self.min_delta, self.min_lr, self.monitor = float(min_delta), float(min_lr), monitor
        self.cooldown = 0 if cooldown == 0 else positive_int(cooldown, "cooldown")
        self.mode = _checked_mode(monitor, mode)

    def on_train_begin(self, run):
        self.watch = watched(run, self.monitor, self.mode, self.min_delta)
        self.best, self.wait, self.cooling = self.watch.worst, 0, 0

    def on_epoch_end(self, run, epoch, logs):
        value = self.watch.value(logs)
        if self.watch.progress(value, self.best):
            self.best, self.wait = value, 0
            return
        if self.cooling:
            self.cooling -= 1
            return
        self.wait += 1
        if self.wait < self.patience:
            return
        state = run.state
        current = state.learning_rate()
        reduced = max(current * self.factor, self.min_lr)
        if reduced < current:
            state.lr_factor *= reduced / current
            if run.verbose:
                print(f"ReduceLROnPlateau after epoch {state.epochs}: learning rate {current:.4g} -> {reduced:.4g}")
        self.wait, self.cooling = 0, self.cooldown


class CSVLogger(Callback):
    """Write every epoch's history values as a row of a CSV file (flushed per epoch).

    The header is written with the first row; with ``append`` an existing file
    is continued.
    """

    def __init__(self, path, append=False):
        self.path, self.append = os.fspath(path), bool(append)
        self.file = None

    def on_train_begin(self, run):
        self.file = open(self.path, "a" if self.append else "w", newline="")  # noqa: SIM115 (closed at train end)
        self.writer = None

    def on_epoch_end(self, run, epoch, logs):
        row = {"epoch": run.state.epochs, **logs}
        if self.writer is None:
            self.writer = csv.DictWriter(self.file, fieldnames=list(row), extrasaction="ignore", restval="")
            if self.file.tell() == 0:
                self.writer.writeheader()
        self.writer.writerow(row)
        self.file.flush()

    def on_train_end(self, run):
        if self.file is not None:
            self.file.close()
            self.file = None


class StopOnRequest(Callback):
    """Stop training after the current batch when :meth:`request` is called, from any thread.

    ``stopper = StopOnRequest(); model.fit(..., callbacks=[stopper])``, then
    ``stopper.request()`` from a button, a timer or another callback: the
    model keeps the weights of the last whole batch and the history of the
    completed epochs.
    """

    def __init__(self):
        self._requested = threading.Event()

    def request(self):
        self._requested.set()

    def on_train_begin(self, run):
        self._requested.clear()

    def on_batch_end(self, run, batch, logs):
        if self._requested.is_set():
            run.stop_training = True
            print(f"Training stopped on request after batch {batch + 1} of epoch {run.state.epochs + 1}.",
                  file=sys.stderr)
