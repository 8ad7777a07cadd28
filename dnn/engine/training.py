"""The training engine: epochs of mini-batches, with callbacks around them.

:func:`train` runs the epochs of one checked ``fit`` call (a
:class:`dnn.engine.fit_setup.FitPlan`) on a model's :class:`dnn.engine.state.TrainingState`.
Each batch goes gather -> ``backprop.forward_pass`` -> ``losses`` ->
``backprop.backward_pass`` -> the optimizer, in :meth:`Trainer.step`.

Every epoch starts from a snapshot of the state, which lets an interrupted or
diverged epoch be rebuilt exactly up to its last good mini-batch by replaying
it (batches are deterministic given the epoch's row order and generator;
an epoch of a stream replays from its last window's start, see
:class:`dnn.engine.streaming.StreamEpochs`). In a distributed fit every
rank runs this loop on the same global batches and decides on the same
values (see :mod:`dnn.engine.distributed`).
"""

import math
import sys
import time

import numpy as np

from dnn.backprop import backward_pass, forward_pass
from dnn.callbacks import CallbackList, EarlyStopping, EpochLogger, ProgressBarLogger
from dnn.devices import CPU_NAME
from dnn.engine.batches import Workspace, batch_count
from dnn.engine.diagnostics import StallMonitor
from dnn.engine.distributed import TAIL
from dnn.engine.divergence import SafeStarts, recover_from_divergence
from dnn.engine.evaluation import epoch_metric_values, epoch_scores, evaluate_chunks, mean_loss
from dnn.engine.inference import forward_chunks
from dnn.engine.interrupt import InterruptFlag
from dnn.engine.recording import ParameterRecording
from dnn.engine.run import EpochProgress, TrainingRun
from dnn.engine.stream_evaluation import StreamValidation
from dnn.engine.update import UpdateRules, update_settings
from dnn.losses import output_delta, summed_loss
from dnn.model.parameters import TRAINABLE
from dnn.normalization import TRAIN
from dnn.report.results import History


def train(model, plan):
    """Run the epochs of ``plan`` on ``model``; returns ``model.history``, made a :class:`dnn.report.results.History`.

    The history becomes a History in place of the plain dict a new or loaded
    model starts with, so what ``fit`` returns is ``model.history`` itself
    and echoes as one line in a REPL.
    """
    state = model.state
    state.stopped_early = state.restored_epoch = None
    comm = plan.comm
    on_cpu = model.device == CPU_NAME  # the BLAS thread policy times every batch, first (a GPU has none)
    policy = [model.thread_policy() if comm is None else comm.thread_policy(model.threads)] if on_cpu else []
    callbacks = CallbackList([*policy, *_built_in_callbacks(plan)])
    run = TrainingRun(model, plan)
    trainer = Trainer(state, model.activations[1:], model.loss, plan.task, model.l2, plan.batch_size,
                      model.dropout[1:], update_settings(model), comm)
    safe_starts = SafeStarts()
    try:
        callbacks.call("on_train_begin", run)
        with InterruptFlag() as interrupted:
            if comm is not None:  # every rank stops after the same batch
                interrupted = comm.agreed_interrupt(interrupted)
            for epoch in range(plan.epochs):
                done = _train_epoch(model, trainer, plan, run, callbacks, epoch, interrupted, safe_starts)
                if not done or run.stop_training:
                    break
                safe_starts.epoch_ended(state.history["loss"][-1])
    finally:
        callbacks.call_all("on_train_end", run)
    if not isinstance(state.history, History):
        state.history = History(state.history)
    return state.history


def _built_in_callbacks(plan):
    """Recording and progress first, the user's callbacks, and early stopping last (it may restore weights).

    The model's thread policy comes before all of them, so it times the whole of every batch.
    """
    callbacks = []
    if plan.specs:
        callbacks.append(ParameterRecording(plan.specs, plan.record_every))
    if plan.verbose == 1:
        callbacks.append(ProgressBarLogger())
    elif plan.verbose == 2:
        callbacks.append(EpochLogger())
    callbacks.append(StallMonitor())
    callbacks.extend(plan.callbacks)
    if plan.patience is not None:
        callbacks.append(EarlyStopping(plan.patience, plan.min_delta, restore_best=plan.restore_best))
    return callbacks


class Epoch:
    """What replaying an epoch needs: its row order, learning rate, starting state and batch count.

    ``trained_before`` is the model's epoch count at its start (``state.epochs``), what a return to it restores.
    """

    def __init__(self, order, lr, snapshot, batches, trained_before):
        self.order, self.lr, self.snapshot, self.batches = order, lr, snapshot, batches
        self.trained_before = trained_before


def _train_epoch(model, trainer, plan, run, callbacks, epoch, interrupted, safe_starts):
    """Run one epoch and record it; returns whether it completed. Its start is offered to ``safe_starts``."""
    state = model.state
    lr = state.learning_rate()
    if plan.stream is None:
        order = plan.data.epoch_order(state.rng, plan.batch_size, plan.shuffle)
        batches = batch_count(len(order), plan.batch_size)
    else:  # a stream's rows are ordered window by window; its batches are counted once it has been read through
        order, batches = None, plan.stream.batches
        run.batches = batches
    current = Epoch(order, lr, state.snapshot(), batches, state.epochs)
    safe_starts.offer(current)
    callbacks.call("on_epoch_begin", run, epoch)
    progress = run.progress = EpochProgress()
    started = time.perf_counter()
    completed = _run_batches(trainer, plan, current, progress, run, callbacks, interrupted)
    state.steps += progress.batches  # a divergence below puts back the count of the start it returns to
    updated_to_nan = False
    if progress.diverged is None and not trainer.finite_after_last_update():
        # A batch's loss is computed before its update, so the last update of an epoch is checked by no loss:
        # check the weights, and the outputs and loss on the last batch's rows, once per epoch.
        progress.diverged, updated_to_nan = progress.batches, True
    if progress.diverged is not None:
        recover_from_divergence(model, plan, current, safe_starts, progress.diverged, updated_to_nan)
    if interrupted() or not completed:
        if interrupted() and (plan.comm is None or plan.comm.rank == 0):
            of = "" if current.batches is None else f" of {current.batches}"
            print(f"Training interrupted in epoch {state.epochs + 1} after batch {progress.batches}{of}; the model "
                  f"keeps the weights of that batch and the history of the {state.completed_epochs()} completed "
                  f"epochs.", file=sys.stderr)
        return False
    values = {"loss": progress.mean_loss, "lr": lr if progress.lr is None else progress.lr}  # the last rate used
    if plan.task.is_classifier:
        values["accuracy"] = progress.correct / progress.rows
    if plan.validation is not None:
        evaluated = (model, plan.task, plan.validation, plan.metrics)  # distributed: rank 0's values, on every rank
        values["val_loss"], accuracy, scores = (evaluate(*evaluated) if plan.comm is None else
                                                plan.comm.from_main(evaluate, *evaluated))
        if not math.isfinite(values["val_loss"]):  # finite on the training rows, overflowing on others
            recover_from_divergence(model, plan, current, safe_starts, progress.batches, updated_to_nan=True)
        if accuracy is not None:
            values["val_accuracy"] = accuracy
        values.update((f"val_{name}", value) for name, value in scores.items())
    values["time"] = time.perf_counter() - started
    state.record_history(values)
    state.epochs += 1
    callbacks.call("on_epoch_end", run, epoch, values)
    return True


def _run_batches(trainer, plan, epoch, progress, run, callbacks, interrupted):
    """Train the :class:`Epoch`'s batches; returns whether all of them ran.

    Ctrl-C inside a batch rebuilds the state after the last whole one (see :func:`_replay`). A stream's chunk
    found bad in the middle of the epoch puts the model back at the epoch's start before its ValueError goes on:
    the model is then as its history says.
    """
    def stop():
        return interrupted() or run.stop_training

    try:
        if plan.stream is not None:
            return plan.stream.train(trainer, epoch.lr, progress, run, callbacks, stop, plan.shuffle)
        trainer.train_batches(plan.data, epoch.order, epoch.lr, progress, run, callbacks, stop=stop)
        return progress.diverged is None and progress.batches == epoch.batches
    except KeyboardInterrupt:
        if trainer.comm is not None:  # the other ranks cannot replay with this one: the run ends
            raise
        # Interrupted inside a batch: rebuild the state after the last whole one.
        if plan.stream is None:
            _replay(trainer, plan.data, epoch, progress.batches, keep_records=None)
        else:
            plan.stream.replay(trainer, epoch.lr, progress.batches)
        interrupted.requested = True
        return False
    except ValueError:
        if plan.stream is not None:
            trainer.state.restore(epoch.snapshot)
        raise


def _replay(trainer, data, epoch, batches, keep_records=0):
    """Restore the :class:`Epoch`'s starting state and redo its first ``batches`` batches.

    Every batch is deterministic given the epoch's order and the generator
    (dropout masks), so this rebuilds the exact state after that batch without
    copying weights every batch. Values recorded after the epoch's start are
    kept up to ``keep_records`` per spec (None: all).
    """
    trainer.state.restore(epoch.snapshot, keep_records=keep_records)
    trainer.train_batches(data, epoch.order, epoch.lr, EpochProgress(), last=batches)


def evaluate(model, task, validation, metrics=()):
    """Loss (with the L2 and L1 penalties, as in training), accuracy (None for regression) and ``{name: value}``
    of the ``metrics`` (canonical names of :data:`dnn.engine.evaluation.EPOCH_METRICS`) on validation rows."""
    if isinstance(validation, StreamValidation):
        return validation.evaluate(model, task, metrics)
    params = model.state.params
    # Outputs that overflow give an infinite loss here, which training reports as divergence.
    chunks = forward_chunks(validation.x, params.weights, params.biases, model.activations[1:], model.units,
                            model.dtype, model.feature_mean, model.feature_scale, validation.rows, check_outputs=False,
                            norms=params.normalizations())
    n = len(validation.targets)
    scorer, probabilities = (epoch_scores(metrics, task, model.classes, n, model.activations[-1], model.dtype)
                             if metrics else (None, None))
    loss_sum, correct = evaluate_chunks(chunks, validation.targets, model.loss, task, scorer=scorer,
                                        probabilities=probabilities)
    scores = epoch_metric_values(metrics, scorer, probabilities, model.classes) if metrics else {}
    return (mean_loss(loss_sum, n, params.weights, model.l2, model.l1),
            correct / n if task.is_classifier else None, scores)


class Trainer:
    """The update step of one ``fit`` call over a training state's flat parameter array.

    Parameters
    ----------
    state : dnn.engine.state.TrainingState
        Its parameters and optimizer state are updated in place; its
        generator draws the dropout masks.
    activations : list of str
    loss : str
    task : dnn.data.tasks.Task
    l2 : float
    batch_size : int
    dropout : list of float
        Dropout rate of every layer after the input (0 for none).
    update : dict, optional
        The settings of :class:`dnn.engine.update.UpdateRules` beyond ``l2``
        (``l1``, ``clip_norm``, ``clip_value``, ``max_norms``); none by default.
    comm : dnn.engine.distributed.Communicator, optional
        In a distributed fit: ``batch_size`` is the global batch, of which this
        rank computes its share of the gradient before the ranks sum theirs.
    """

    def __init__(self, state, activations, loss, task, l2, batch_size, dropout, update=None, comm=None):
        params = state.params
        self.state, self.optimizer, self.rng, self.comm = state, state.optimizer, state.rng, comm
        self.flat, self.weights, self.biases = params.flat, params.weights, params.biases
        self.device = params.device
        xp = self.device.xp
        # Distributed, the batch's loss, correct count and stop requests follow the gradient: one reduction a batch.
        self.reduced = xp.empty(params.flat.size + (0 if comm is None else TAIL), params.flat.dtype)
        self.grad = self.reduced[:params.flat.size]
        grads = params.views(self.grad)
        self.grad_w, self.grad_b, self.grad_scale, self.grad_shift = (grads[name] for name in TRAINABLE)
        self.norms = params.normalizations()
        if not any(self.norms):
            self.norms = None
        self.activations, self.loss, self.task = activations, loss, task
        # None when no penalty, clipping or constraint is set: then the optimizer alone updates.
        self.rules = UpdateRules.make(params, self.grad, self.optimizer, l2, **(update or {}))
        # A schedule per step sets the rate of every batch (state.rate_at_step); None: one rate per epoch.
        self.rates = state.rate_at_step if state.schedule.per_step else None
        self.optimizer.prepare(params.flat)
        units = [self.weights[0].shape[0]] + [w.shape[1] for w in self.weights]
        self.dropout = [float(rate) for rate in dropout] if any(dropout) else None
        self.workspace = Workspace(batch_size, units, params.flat.dtype, self.dropout, activations,
                                   [norm is not None for norm in self.norms or ()], xp)
        self.batch_size = batch_size
        self.last_rows = None  # rows of the last batch stepped on, still in the workspace

    def train_batches(self, data, order, lr, progress, run=None, callbacks=None, last=None, stop=None):
        """Train on the first ``last`` batches of ``order`` (all by default); returns whether all of them ran.

        ``progress`` (an :class:`EpochProgress`) accumulates the completed
        batches, and its count so far numbers them: a stream's epoch trains
        window after window with one progress, so the batch indices that the
        per-batch hooks of ``callbacks`` get, ``progress.diverged`` (set to
        the index of a batch whose loss was not finite, which makes no
        update) and the steps of a schedule per step count from the epoch's
        start. ``stop()`` ends the loop when it is true. ``lr`` is the rate
        of every batch, unless the schedule is per step: then each batch asks
        it for its own (the state's step count is that of the epoch's first
        batch); the last rate used ends in ``progress.lr``, and every batch's
        in ``logs["lr"]`` of the ``on_batch_end`` hooks.
        """
        size = self.batch_size
        last = batch_count(len(order), size) if last is None else last
        begin = () if callbacks is None else callbacks.batch_begin
        end = () if callbacks is None else callbacks.batch_end
        rates, first, ran = self.rates, progress.batches, 0
        first_step = self.state.steps + first
        # A diverging network overflows; the non-finite loss is what reports it, once and clearly.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for batch in range(last):
                for hook in begin:
                    hook(run, first + batch)
                if rates is not None:
                    lr = rates(first_step + batch)
                index = order[batch * size:(batch + 1) * size]
                loss, correct = self.step(data, index, lr)
                if not math.isfinite(loss):
                    progress.diverged = first + batch
                    break
                progress.add(len(index), loss, correct)
                ran += 1
                if end:
                    logs = {"loss": loss / len(index), "size": len(index), "lr": lr}
                    for hook in end:
                        hook(run, first + batch, logs)
                if stop is not None and stop():
                    break
        progress.lr = lr
        return ran == last

    def step(self, data, index, lr):
        """One mini-batch update; returns the batch's summed loss and correct count.

        Distributed, ``index`` is the whole (global) batch: this rank computes the gradient of its share, and the
        ranks sum their gradients, losses and counts before every rank makes the same update.
        """
        m = len(index)
        rows, masks = self._share(index)
        if len(rows):
            loss, correct = self._gradient(data, rows, masks, m, lr)
        else:  # a last batch of fewer rows than ranks leaves some ranks none
            self.last_rows, loss, correct = 0, 0.0, 0
            self.grad.fill(0)
        if self.comm is not None:
            loss, correct = self.comm.reduce_batch(self.reduced, loss, correct)
        if not math.isfinite(loss):
            return loss, 0
        if self.rules is None:
            self.optimizer.update(self.flat, self.grad, lr)
        else:  # the penalties' gradient, clipping, the optimizer, max-norms
            self.rules.update(lr)
        return loss, correct

    def _share(self, index):
        """This rank's rows of the batch ``index`` (all of them in one process) and their dropout masks (or None).

        The masks are drawn for the whole batch, so the ranks draw the same numbers as one process would.
        """
        masks = None
        if self.dropout is not None:
            masks = self.workspace.views(len(index)).masks
            self._draw_masks(masks)
        if self.comm is None:
            return index, masks
        start, stop = self.comm.share(len(index))
        return index[start:stop], masks and [None if mask is None else mask[start:stop] for mask in masks]

    def _gradient(self, data, index, masks, m, lr):
        """Loss, correct count and gradient (into ``self.grad``) of the rows ``index`` of a batch of ``m`` rows."""
        rows = self.last_rows = len(index)
        x, t, s, outputs, deltas, _, dropped, ones, pre_activations, sums = self.workspace.views(rows)
        data.gather(index, x, t, s)
        cache = forward_pass(x, self.weights, self.biases, self.activations, outputs, masks, dropped, pre_activations,
                             self.norms, TRAIN, sums)
        p = cache[-1]
        weighted = data.weights is not None
        loss = summed_loss(self.loss, p, t, s[:, 0] if weighted else None)
        scale = s * (1.0 / m) if weighted else 1.0 / m
        if self.rules is not None:
            loss += rows * self.rules.penalty()
        if not math.isfinite(loss):
            return loss, 0
        correct = self.task.count_correct(p, t)
        folded = self.optimizer.folds_learning_rate
        # Folding the learning rate into the (batch, outputs) delta makes the
        # weight gradients come out as SGD steps for free.
        delta = output_delta(self.activations[-1], self.loss, p, t, scale * lr if folded else scale, deltas[-1])
        backward_pass(cache, delta, self.weights, self.activations, self.grad_w, self.grad_b, deltas[:-1], masks,
                      outputs, ones, self.norms, self.grad_scale, self.grad_shift)
        return loss, correct

    def finite_after_last_update(self):
        """Whether the weights, and the outputs and loss on the last batch's rows, are finite after its update.

        The last batch's rows are still in the workspace; its output buffers are scratch until the next batch.
        Distributed, on every rank's rows.
        """
        finite = self._finite_after_last_update()
        return finite if self.comm is None else self.comm.all_true(finite)

    def _finite_after_last_update(self):
        xp = self.device.xp
        if not (xp.isfinite(self.flat).all() and xp.isfinite(self.state.params.buffers).all()):
            return False
        if not self.last_rows:
            return True
        x, t, _, outputs, *_, sums = self.workspace.views(self.last_rows)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            p = forward_pass(x, self.weights, self.biases, self.activations, outputs, norms=self.norms, sums=sums)[-1]
            return bool(xp.isfinite(p).all()) and math.isfinite(summed_loss(self.loss, p, t))

    def _draw_masks(self, masks):
        """Inverted dropout: 0 for a dropped unit, 1 / (1 - rate) for a kept one, drawn from the model's generator."""
        for mask, rate in zip(masks, self.dropout):
            if mask is not None:
                self.device.fill_random(self.rng, mask)
                self.device.xp.multiply(mask >= rate, 1.0 / (1.0 - rate), out=mask)
