"""DNN.fit from the arguments to the trained model: check, commit, run the epochs.

Everything the user passed is checked before the model changes, so bad input
raises a ValueError and leaves the model as it was. The epochs then run through
:class:`dnn.training.Trainer`. Each epoch starts from a snapshot of the
parameters and optimizer state, which lets an interrupted or diverged epoch be
rebuilt exactly up to its last good mini-batch by replaying it.
"""

import math
import sys
import time
import warnings
from dataclasses import dataclass

from dnn import preprocessing
from dnn.checks import positive_int
from dnn.errors import TrainingDivergedError
from dnn.optimizers import decayed_learning_rate, init_state
from dnn.recording import ParameterRecorder, check_record_every, parse_parameter_list
from dnn.reporting import epoch_line, progress_bar
from dnn.training import EpochProgress, InterruptFlag, Trainer, TrainingData


@dataclass
class FitPlan:
    """The checked arguments of one fit call."""

    data: TrainingData
    task: str
    classes: object
    epochs: int
    batch_size: int
    verbose: int
    specs: list
    record_every: str


def fit(model, X, y, epochs, batch_size, verbose, parameter_list, record_every):
    """Train ``model``; see DNN.fit. Returns ``model.history``."""
    plan = prepare(model, X, y, epochs, batch_size, verbose, parameter_list, record_every)
    model.task, model.classes = plan.task, plan.classes
    weights, biases = model._parameters()
    recorder = None
    if plan.specs:
        recorder = ParameterRecorder(plan.specs, weights, biases, model.parameterRecord)
        recorder.start()
    trainer = Trainer(model._params, model.activations[1:], model.loss, plan.task,
                      optimizer_settings(model), model.l2, plan.batch_size)
    with InterruptFlag() as interrupted:
        for epoch in range(plan.epochs):
            if not train_epoch(model, trainer, plan, recorder, epoch, interrupted):
                break
    return model.history


def prepare(model, X, y, epochs, batch_size, verbose, parameter_list, record_every):
    """Check every argument of fit against the model; the model is not changed."""
    model._require_network("fit")
    model._check_hyperparameters()
    epochs = positive_int(epochs, "epochs")
    batch_size = positive_int(batch_size, "batchSize")
    if verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 0, 1 or 2, got {verbose!r}")
    specs = [] if parameter_list is None else parse_parameter_list(parameter_list, model.units)
    record_every = check_record_every(record_every)
    model._parameters()
    X, _ = preprocessing.feature_matrix(X, model.units[0])
    X = preprocessing.in_model_dtype(X, model.dtype)
    preprocessing.check_finite(X)
    targets, task, classes = model._encode_targets(y)
    if len(targets) != len(X):
        raise ValueError(f"X has {len(X)} samples but y has {len(targets)}")
    if batch_size > len(X):
        warnings.warn(f"batchSize {batch_size} is larger than the {len(X)} samples; using {len(X)}", stacklevel=3)
        batch_size = len(X)
    return FitPlan(TrainingData(X, targets), task, classes, epochs, batch_size, verbose, specs, record_every)


def train_epoch(model, trainer, plan, recorder, epoch, interrupted):
    """Run one epoch and record it; False when training stops early."""
    lr = decayed_learning_rate(model.lr, model.decay, model.epochs)
    order = plan.data.epoch_order(model._rng, plan.batch_size)
    snapshot = take_snapshot(model)
    recorded = None if recorder is None else recorder.lengths()
    by_batch = recorder if recorder is not None and plan.record_every == "batch" else None
    bar = progress_bar(epoch, plan.epochs, len(order), plan.batch_size) if plan.verbose == 1 else None
    on_batch = combine(bar.advance if bar is not None else None, by_batch)
    progress = EpochProgress()
    started = time.perf_counter()
    try:
        trainer.run(plan.data, order, lr, progress, on_batch=on_batch, stop=interrupted)
    except KeyboardInterrupt:
        # Interrupted inside a batch: rebuild the state after the last whole one.
        replay(model, trainer, plan.data, order, lr, snapshot, progress.batches)
        interrupted.requested = True
    finally:
        if bar is not None:
            bar.close()
    if progress.diverged is not None:
        kept = max(progress.diverged - 1, 0)
        replay(model, trainer, plan.data, order, lr, snapshot, kept)
        if recorder is not None:
            recorder.truncate({spec: n + (kept if by_batch else 0) for spec, n in recorded.items()})
        raise TrainingDivergedError(
            f"training diverged in epoch {model.epochs + 1}, batch {progress.diverged + 1}: the loss became "
            f"infinite or NaN. The model keeps the last weights with a finite loss. Try a lower learning rate "
            f"(lr={model.lr:g})."
        )
    if interrupted():
        batches = -(-len(order) // plan.batch_size)
        print(f"Training interrupted in epoch {model.epochs + 1} after batch {progress.batches} of {batches}; "
              f"the model keeps the weights of that batch and the history of the "
              f"{len(model.history.get('lr', []))} completed epochs.", file=sys.stderr)
        return False
    values = {"loss": progress.mean_loss, "lr": lr, "time": time.perf_counter() - started}
    if plan.task != "regression":
        values["accuracy"] = progress.correct / progress.rows
    record_history(model.history, values)
    model.epochs += 1
    if recorder is not None and plan.record_every == "epoch":
        recorder()
    if plan.verbose == 2:
        print(epoch_line(epoch, plan.epochs, values))
    return True


def combine(*callbacks):
    """One callback calling every given one that is not None (None if there is none)."""
    active = [c for c in callbacks if c is not None]
    if not active:
        return None
    if len(active) == 1:
        return active[0]

    def call_all(progress):
        for callback in active:
            callback(progress)

    return call_all


def take_snapshot(model):
    """Copies of every array an update changes, taken at the start of an epoch."""
    state = model._optimizer_state
    return (model._params.flat.copy(),
            {k: [a.copy() for a in v] if isinstance(v, list) else v for k, v in state.items()})


def replay(model, trainer, data, order, lr, snapshot, batches):
    """Restore the epoch's starting state and redo its first ``batches`` batches.

    Every batch is deterministic given the epoch's order, so this rebuilds the
    exact state after that batch without copying weights every batch.
    """
    flat, state = snapshot
    model._params.flat[...] = flat
    for key, value in state.items():
        if isinstance(value, list):
            for array, saved in zip(model._optimizer_state[key], value):
                array[...] = saved
        else:
            model._optimizer_state[key] = value
    trainer.run(data, order, lr, EpochProgress(), last=batches)


def record_history(history, values):
    """Append one epoch to every history list; a value missing in an epoch is NaN."""
    done = len(history.get("lr", []))
    for key in values.keys() | history.keys():
        history.setdefault(key, [math.nan] * done).append(values.get(key, math.nan))


def optimizer_settings(model):
    """The optimizer's settings and state for the trainer; the state is (re)created when it does not fit."""
    flat = model._params.flat
    state = model._optimizer_state
    wanted = ("m", "v") if model.optimizer == "adam" else ("velocity",) if model.momentum > 0 else ()
    if any(key not in state or state[key][0].shape != flat.shape for key in wanted):
        state.clear()
        state.update(init_state(model.optimizer, [flat], model.momentum))
    return {"name": model.optimizer, "state": state, "momentum": model.momentum, "nesterov": model.nesterov,
            "beta1": model.beta1, "beta2": model.beta2, "epsilon": model.epsilon}
