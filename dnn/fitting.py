"""DNN.fit from the arguments to the trained model: check, commit, run the epochs.

Everything the user passed is checked before the model changes, so bad input
raises a ValueError and leaves the model as it was. The epochs then run through
:class:`dnn.training.Trainer`. Each epoch starts from a snapshot of the
parameters and optimizer state, which lets an interrupted or diverged epoch be
rebuilt exactly up to its last good mini-batch by replaying it.
"""

import copy
import math
import sys
import time
import warnings
from dataclasses import dataclass

import numpy as np

from dnn import metrics, preprocessing
from dnn import targets as targets_module
from dnn.checks import check_number, positive_int
from dnn.errors import TrainingDivergedError
from dnn.losses import l2_penalty, summed_loss
from dnn.optimizers import decayed_learning_rate, init_state
from dnn.recording import ParameterRecorder, check_record_every, parse_parameter_list
from dnn.reporting import epoch_line, progress_bar
from dnn.training import EpochProgress, InterruptFlag, Trainer, TrainingData, batch_count


@dataclass
class FitOptions:
    """The keyword arguments of DNN.fit, under snake_case names."""

    epochs: int = 20
    batch_size: int = 30
    verbose: int = 1
    parameter_list: object = None
    record_every: str = "epoch"
    validation_data: object = None
    validation_split: float = 0.0
    early_stopping: object = None
    min_delta: float = 0.0
    class_weight: object = None
    sample_weight: object = None
    standardize: object = None


@dataclass
class Validation:
    """Rows to evaluate after every epoch: ``rows`` of ``x`` (all rows when None) and their targets."""

    x: object
    targets: object
    rows: object = None


@dataclass
class FitPlan:
    """The checked arguments of one fit call, and what the model learns from them at its first fit."""

    data: TrainingData
    validation: object
    task: str
    classes: object
    feature_names: object
    standardize: bool
    rng: object
    epochs: int
    batch_size: int
    verbose: int
    specs: list
    record_every: str
    patience: object
    min_delta: float


def fit(model, X, y, options):
    """Train ``model``; see DNN.fit. Returns ``model.history``."""
    plan = prepare(model, X, y, options)
    commit(model, plan)
    weights, biases = model._parameters()
    recorder = None
    if plan.specs:
        recorder = ParameterRecorder(plan.specs, weights, biases, model.parameterRecord)
        recorder.start()
    trainer = Trainer(model._params, model.activations[1:], model.loss, plan.task,
                      optimizer_settings(model), model.l2, plan.batch_size)
    stopper = None
    if plan.patience is not None:
        stopper = EarlyStopping(plan.patience, plan.min_delta, "val_loss" if plan.validation else "loss")
    model.stoppedEarly = None
    previous = None
    with InterruptFlag() as interrupted:
        for epoch in range(plan.epochs):
            values, previous = train_epoch(model, trainer, plan, recorder, epoch, interrupted, previous)
            if values is None:
                break
            if stopper is not None and stopper.update(values[stopper.monitor], model):
                stopper.stop(model, plan.verbose)
                break
    return model.history


def prepare(model, X, y, options):
    """Check every argument of fit against the model; the model is not changed."""
    model._require_network("fit")
    model._check_hyperparameters()
    epochs = positive_int(options.epochs, "epochs")
    batch_size = positive_int(options.batch_size, "batchSize")
    if options.verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 0, 1 or 2, got {options.verbose!r}")
    specs = [] if options.parameter_list is None else parse_parameter_list(options.parameter_list, model.units)
    record_every = check_record_every(options.record_every)
    patience, min_delta = _early_stopping(options.early_stopping, options.min_delta)
    standardize = _standardize_flag(model, options.standardize)
    split = options.validation_split
    if options.validation_data is not None and split:
        raise ValueError("give either validationData or validationSplit, not both")
    if split is None or isinstance(split, bool) or not isinstance(split, (int, float)) or not 0 <= split < 1:
        raise ValueError(f"validationSplit must be a fraction in [0, 1), got {split!r}")
    model._parameters()
    X, names = preprocessing.checked_features(X, model.units[0], model.feature_names, model.dtype)
    targets, task, classes = model._encode_targets(y)
    if len(targets) != len(X):
        raise ValueError(f"X has {len(X)} samples but y has {len(targets)}")
    weights = sample_weights(targets, task, classes, options.sample_weight, options.class_weight, model.dtype)
    names = model.feature_names or names
    validation = None
    if options.validation_data is not None:
        validation = _validation_data(model, options.validation_data, names, task, classes)
    train_rows = None
    rng = model._rng
    if split:
        # The split draws from a copy of the model's generator, which replaces it only when fit goes ahead.
        rng = copy.deepcopy(model._rng)
        train_rows, validation_rows = split_rows(rng, targets, task, split)
        validation = Validation(X, targets[validation_rows], validation_rows)
    n_train = len(X) if train_rows is None else len(train_rows)
    if batch_size > n_train:
        warnings.warn(f"batchSize {batch_size} is larger than the {n_train} training samples; using {n_train}",
                      stacklevel=3)
        batch_size = n_train
    mean, scale = model.feature_mean, model.feature_scale
    if standardize and mean is None:
        mean, scale = preprocessing.fit_standardizer(X, train_rows, model.dtype)
    data = TrainingData(X, targets, weights, train_rows, mean, scale)
    return FitPlan(data, validation, task, classes, names, standardize, rng, epochs, batch_size, options.verbose,
                   specs, record_every, patience, min_delta)


def commit(model, plan):
    """What the model takes from a fit's checked arguments: task, classes, column names, scaling, generator."""
    model.task, model.classes = plan.task, plan.classes
    model._rng = plan.rng
    model.feature_names = plan.feature_names
    model.standardize = plan.standardize
    model.feature_mean, model.feature_scale = plan.data.mean, plan.data.scale
    if plan.specs:
        model._record_every = plan.record_every


def _early_stopping(patience, min_delta):
    if patience is not None:
        patience = positive_int(patience, "earlyStopping (the patience, in epochs)")
    check_number(min_delta, "minDelta", low=0)
    return patience, float(min_delta)


def _standardize_flag(model, requested):
    if requested is None:
        return bool(model.standardize)
    if not isinstance(requested, bool):
        raise ValueError(f"standardize must be True, False or None, got {requested!r}")
    if not requested and model.feature_mean is not None:
        raise ValueError("this model already standardizes its inputs with the scaling it learned at its first fit; "
                         "its weights depend on it, so it cannot be turned off")
    return requested


def _validation_data(model, validation_data, names, task, classes):
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
        raise ValueError("validationData must be a pair (X_validation, y_validation)")
    X, y = validation_data
    try:
        X, _ = preprocessing.checked_features(X, model.units[0], names, model.dtype)
        targets, _, _ = targets_module.encode_targets(y, model.activations[-1], model.units[-1], model.dtype,
                                                      task, classes)
    except ValueError as error:
        raise ValueError(f"validationData: {error}") from None
    if len(targets) != len(X):
        raise ValueError(f"validationData: X has {len(X)} samples but y has {len(targets)}")
    return Validation(X, targets)


def sample_weights(targets, task, classes, sample_weight, class_weight, dtype):
    """Per-sample weights from sampleWeight and classWeight (their product when both are given), or None."""
    weights = None
    n = len(targets)
    if sample_weight is not None:
        weights = targets_module.as_array(sample_weight, "sampleWeight").astype(np.float64, copy=True)
        if weights.ndim != 1 or len(weights) != n:
            raise ValueError(f"sampleWeight must have one weight per sample ({n}), got shape {weights.shape}")
        _check_weights(weights, "sampleWeight")
    if class_weight is not None:
        if task not in ("multiclass", "binary"):
            raise ValueError(f"classWeight needs a single-label classifier (this model's task is {task}); "
                             f"use sampleWeight instead")
        index = metrics.class_indices(task, targets)
        per_class = _class_weights(class_weight, classes, index)
        weights = per_class[index] if weights is None else weights * per_class[index]
    if weights is not None and not weights.sum() > 0:
        raise ValueError("the sample weights are all zero")
    return None if weights is None else weights.astype(dtype)


def _class_weights(class_weight, classes, index):
    labels = classes.tolist()
    if isinstance(class_weight, str) and class_weight == "balanced":
        counts = np.bincount(index, minlength=len(labels)).astype(np.float64)
        # n / (k * count): every class weighs the same in total; absent classes get 1
        return np.where(counts > 0, len(index) / (len(labels) * np.maximum(counts, 1)), 1.0)
    if not isinstance(class_weight, dict):
        raise ValueError(f"classWeight must be a dict {{class: weight}} or 'balanced', got {class_weight!r}")
    unknown = [key for key in class_weight if key not in labels]
    if unknown:
        raise ValueError(f"classWeight names classes {unknown} that the model does not have; its classes: {labels}")
    weights = np.ones(len(labels))
    for key, value in class_weight.items():
        weights[labels.index(key)] = value if isinstance(value, (int, float)) and not isinstance(value, bool) else -1
    _check_weights(weights, "classWeight")
    return weights


def _check_weights(weights, name):
    if not np.isfinite(weights).all() or (weights < 0).any():
        raise ValueError(f"{name} must hold finite, non-negative numbers")


def split_rows(rng, targets, task, fraction):
    """Shuffled (train rows, validation rows); each class keeps its share in both when classifying."""
    n = len(targets)
    if task in ("multiclass", "binary"):
        index = metrics.class_indices(task, targets)
        groups = [np.flatnonzero(index == c) for c in np.unique(index)]
    else:
        groups = [np.arange(n)]
    train, validation = [], []
    for group in groups:
        group = rng.permutation(group)
        cut = round(fraction * len(group))
        validation.append(group[:cut])
        train.append(group[cut:])
    train, validation = np.concatenate(train), np.concatenate(validation)
    if len(validation) == 0 or len(train) == 0:
        raise ValueError(f"validationSplit {fraction} of {n} samples leaves an empty training or validation set")
    return np.sort(train), np.sort(validation)


@dataclass
class Epoch:
    """What replaying an epoch needs: its row order, learning rate and starting state."""

    order: object
    lr: float
    snapshot: tuple
    batches: int


def train_epoch(model, trainer, plan, recorder, epoch, interrupted, previous):
    """Run one epoch and record it.

    Returns its history values (None when training was interrupted) and its
    :class:`Epoch`, which the next epoch needs if it diverges at once.
    """
    lr = decayed_learning_rate(model.lr, model.decay, model.epochs)
    order = plan.data.epoch_order(model._rng, plan.batch_size)
    current = Epoch(order, lr, take_snapshot(model), batch_count(len(order), plan.batch_size))
    recorded = None if recorder is None else recorder.lengths()
    by_batch = recorder if recorder is not None and plan.record_every == "batch" else None
    bar = progress_bar(epoch, plan.epochs, current.batches) if plan.verbose == 1 else None
    on_batch = combine(bar.advance if bar is not None else None, by_batch)
    progress = EpochProgress()
    started = time.perf_counter()
    try:
        trainer.run(plan.data, order, lr, progress, on_batch=on_batch, stop=interrupted)
    except KeyboardInterrupt:
        # Interrupted inside a batch: rebuild the state after the last whole one.
        replay(model, trainer, plan.data, current, progress.batches)
        interrupted.requested = True
    if bar is not None and (interrupted() or progress.diverged is not None):
        bar.close()
    if progress.diverged is not None:
        recover_from_divergence(model, trainer, plan, recorder, recorded, current, previous, progress.diverged)
    if interrupted():
        print(f"Training interrupted in epoch {model.epochs + 1} after batch {progress.batches} of "
              f"{current.batches}; the model keeps the weights of that batch and the history of the "
              f"{len(model.history.get('lr', []))} completed epochs.", file=sys.stderr)
        return None, current
    values = {"loss": progress.mean_loss, "lr": lr}
    if plan.task != "regression":
        values["accuracy"] = progress.correct / progress.rows
    if plan.validation is not None:
        values["val_loss"], accuracy = evaluate(model, plan, plan.validation)
        if accuracy is not None:
            values["val_accuracy"] = accuracy
    values["time"] = time.perf_counter() - started
    if bar is not None:
        bar.finish(values)
    record_history(model.history, values)
    model.epochs += 1
    if recorder is not None and plan.record_every == "epoch":
        recorder()
    if plan.verbose == 2:
        print(epoch_line(epoch, plan.epochs, values))
    return values, current


def recover_from_divergence(model, trainer, plan, recorder, recorded, current, previous, batch):
    """Put the model back in the last state whose loss was finite, then raise TrainingDivergedError.

    Batch ``batch`` of the current epoch saw a non-finite loss, so the state
    it started from is bad and the last good one is a batch earlier: in this
    epoch, or at the end of the previous one when ``batch`` is its first. The
    optimizer's state (momentum, Adam's averages) is then reset: it carries the
    runaway steps, and would repeat them at any learning rate.
    """
    where = f"epoch {model.epochs + 1}, batch {batch + 1}"
    if batch > 0:
        replay(model, trainer, plan.data, current, batch - 1)
        if recorder is not None:
            kept = batch - 1 if plan.record_every == "batch" else 0
            recorder.truncate({spec: n + kept for spec, n in recorded.items()})
    elif previous is not None:
        replay(model, trainer, plan.data, previous, previous.batches - 1)
        if recorder is not None:  # the last record is of the state that failed
            recorder.truncate({spec: n - 1 for spec, n in recorded.items()})
    else:
        raise TrainingDivergedError(f"the loss is infinite or NaN with the model's weights as they were when fit "
                                    f"started ({where}); the weights are unchanged. Check the weights set by "
                                    f"hand, or lower the learning rate.")
    model._optimizer_state.clear()
    hint = "" if plan.standardize else " or standardize=True (for features of very different scales)"
    raise TrainingDivergedError(
        f"training diverged in {where}: the loss became infinite or NaN. The model keeps the last weights with "
        f"a finite loss. Try a lower learning rate (lr={model.lr:g}){hint}."
    )


def evaluate(model, plan, validation):
    """Loss (with the L2 penalty, as in training) and accuracy (None for regression) on validation rows."""
    weights, biases = model._params.weights, model._params.biases
    loss_sum, correct = 0.0, 0
    for start, stop, p in model._forward_chunks(validation.x, weights, biases, model.activations[1:],
                                                validation.rows):
        t = validation.targets[start:stop]
        loss_sum += summed_loss(model.loss, p, t)
        correct += metrics.count_correct(plan.task, p, t)
    n = len(validation.targets)
    return loss_sum / n + l2_penalty(weights, model.l2), (None if plan.task == "regression" else correct / n)


class EarlyStopping:
    """Stops training when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs.

    At every improvement it keeps a copy of the parameters and optimizer
    state, and puts them back when it stops.
    """

    def __init__(self, patience, min_delta, monitor):
        self.patience, self.min_delta, self.monitor = patience, min_delta, monitor
        self.best = math.inf
        self.best_epoch = None
        self.snapshot = None
        self.wait = 0

    def update(self, value, model):
        """Take the value of the epoch just finished; True when training should stop."""
        if value < self.best - self.min_delta:
            self.best, self.best_epoch, self.wait = value, model.epochs, 0
            self.snapshot = take_snapshot(model)
            return False
        self.wait += 1
        return self.wait >= self.patience

    def stop(self, model, verbose):
        if self.snapshot is None:  # the monitored value was never a number: nothing better to go back to
            return
        restore_snapshot(model, self.snapshot)
        model.stoppedEarly = {"epoch": model.epochs, "best_epoch": self.best_epoch, "monitor": self.monitor,
                              "best": self.best}
        if verbose:
            print(f"Early stopping after epoch {model.epochs}: {self.monitor} has not improved by more than "
                  f"{self.min_delta:g} for {self.patience} epochs; restored the weights of epoch {self.best_epoch} "
                  f"({self.monitor} {self.best:.4f}).")


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


def replay(model, trainer, data, epoch, batches):
    """Restore the :class:`Epoch`'s starting state and redo its first ``batches`` batches.

    Every batch is deterministic given the epoch's order, so this rebuilds the
    exact state after that batch without copying weights every batch.
    """
    restore_snapshot(model, epoch.snapshot)
    trainer.run(data, epoch.order, epoch.lr, EpochProgress(), last=batches)


def restore_snapshot(model, snapshot):
    """Put back the parameters and optimizer state of :func:`take_snapshot`, in the same arrays."""
    flat, state = snapshot
    model._params.flat[...] = flat
    for key, value in state.items():
        if isinstance(value, list):
            for array, saved in zip(model._optimizer_state[key], value):
                array[...] = saved
        else:
            model._optimizer_state[key] = value


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
