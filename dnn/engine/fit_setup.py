"""From the arguments of DNN.fit to a checked plan, before anything in the model changes.

:func:`prepare` checks every argument against the model and returns a
:class:`FitPlan`; only then does :func:`commit` let the model take what it
learns at its first fit (task, classes, column names, scaling, generator), and
:func:`dnn.engine.training.train` run the epochs. So bad input raises a ValueError
and leaves the model exactly as it was.
"""

import copy
import warnings
from dataclasses import dataclass, field

import numpy as np

from dnn.activations import check_trainable
from dnn.callbacks import check_callbacks, check_patience
from dnn.checks import as_float, check_number, positive_int
from dnn.data import preprocessing, targets
from dnn.data.tasks import get_task
from dnn.devices import get_device, to_numpy
from dnn.engine.batches import TrainingData
from dnn.engine.distributed import connect, quiet  # noqa: F401 (quiet: for DNN.fit)
from dnn.engine.evaluation import check_epoch_metrics
from dnn.engine.recording import check_record_every, parse_parameter_list
from dnn.engine.streaming import plan_stream
from dnn.engine.weighting import sample_weights
from dnn.streams import as_stream

DEFAULT_BATCH_SIZE = 30


@dataclass(frozen=True, kw_only=True)
class FitOptions:
    """The keyword arguments of DNN.fit, under snake_case names; built by keyword only, so none can shift."""

    epochs: int = 20
    batch_size: object = None
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
    callbacks: object = None
    shuffle: bool = True
    restore_best: object = None
    task: object = None
    classes: object = None
    metrics: object = None
    distributed: bool = False


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
    validation_split: object
    task: object
    classes: object
    feature_names: object
    standardize: bool
    rng: object
    epochs: int
    batch_size: int
    verbose: int
    shuffle: bool
    specs: list
    record_every: str
    patience: object
    min_delta: float
    restore_best: bool
    callbacks: list = field(default_factory=list)
    metrics: tuple = ()
    comm: object = None  # a dnn.engine.distributed.Communicator in a distributed fit
    stream: object = None  # the dnn.engine.streaming.StreamEpochs of a fit on a stream (data: a sample of its rows)


def prepare(model, X, y, options):
    """Check every argument of fit against the model; the model is not changed."""
    check_trainable(model.activations[1:])
    settings, chosen, split = _settings(model, options)
    standardize, comm = settings["standardize"], settings["comm"]
    stream = as_stream(X)
    if stream is not None:
        return _stream_plan(model, stream, y, options, settings, chosen, split)
    X, names = preprocessing.checked_features(X, model.units[0], model.feature_names, model.dtype)
    preprocessing.check_scale(X, model.dtype, standardize or model.feature_mean is not None)
    task, classes = _task_and_classes(model, options.task, options.classes)
    target_matrix, task, classes = targets.encode_targets(y, model.activations[-1], model.units[-1], model.dtype,
                                                          task, classes)
    if len(target_matrix) != len(X):
        raise ValueError(f"X has {len(X)} samples but y has {len(target_matrix)}")
    weights = sample_weights(target_matrix, task, classes, options.sample_weight, options.class_weight, model.dtype)
    names = model.feature_names or names
    validation = None
    if options.validation_data is not None:
        validation = _validation_data(model, options.validation_data, names, task, classes)
    train_rows, rng, kept_split = None, model.state.rng, model.state.validation_split
    metrics = check_epoch_metrics(options.metrics, task, validation is not None or bool(split))
    if comm is not None:  # the same rows, and rank 0's generator, on every rank
        rng = comm.agreed_generator(rng, target_matrix, weights)
    if split:
        train_rows, validation, rng, kept_split = _held_out(model, X, target_matrix, task, split, rng)
    settings["batch_size"] = _batch_size(model, settings["batch_size"], chosen,
                                         len(X) if train_rows is None else len(train_rows))
    mean, scale = model.feature_mean, model.feature_scale
    if standardize and mean is None:
        mean, scale = preprocessing.fit_standardizer(X, train_rows, model.dtype)
    data = TrainingData(X, target_matrix, weights, train_rows, mean, scale).on_device(get_device(model.device))
    return FitPlan(data=data, validation=validation, validation_split=kept_split, task=task, classes=classes,
                   feature_names=names, rng=rng, metrics=metrics, **settings)


def _settings(model, options):
    """The checked options that do not depend on the data, as FitPlan's keyword arguments; whether batchSize was
    given; the validationSplit fraction."""
    epochs = positive_int(options.epochs, "epochs")
    chosen = options.batch_size is not None
    batch_size = positive_int(options.batch_size, "batchSize") if chosen else DEFAULT_BATCH_SIZE
    if options.verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 0, 1 or 2, got {options.verbose!r}")
    if not isinstance(options.shuffle, (bool, np.bool_)):
        raise ValueError(f"shuffle must be True or False, got {options.shuffle!r}")
    specs = [] if options.parameter_list is None else parse_parameter_list(options.parameter_list, model.units)
    record_every = check_record_every(options.record_every)
    patience, min_delta, restore_best = _early_stopping(options.early_stopping, options.min_delta,
                                                        options.restore_best)
    callbacks = check_callbacks(options.callbacks)
    standardize = _standardize_flag(model, options.standardize)
    comm = _communicator(model, options.distributed)
    split = options.validation_split
    if options.validation_data is not None and split:
        raise ValueError("give either validationData or validationSplit, not both")
    fraction = as_float(split)
    if fraction is None or not 0 <= fraction < 1:
        raise ValueError(f"validationSplit must be a fraction in [0, 1), got {split!r}")
    settings = {"epochs": epochs, "batch_size": batch_size, "standardize": standardize, "comm": comm,
                "verbose": options.verbose if comm is None or comm.rank == 0 else 0,  # rank 0's
                "shuffle": bool(options.shuffle), "specs": specs, "record_every": record_every,
                "patience": patience, "min_delta": min_delta, "restore_best": restore_best, "callbacks": callbacks}
    return settings, chosen, fraction


def _batch_size(model, batch_size, chosen, n_train, stacklevel=4):
    """``batch_size`` clipped to ``n_train`` training rows (None: unknown), with a warning when it was chosen."""
    if n_train is not None and batch_size > n_train and chosen:
        warnings.warn(f"batchSize {batch_size} is larger than the {n_train} training samples; using {n_train}",
                      stacklevel=stacklevel)
    batch_size = batch_size if n_train is None else min(batch_size, n_train)  # the default is clipped silently
    if batch_size < 2 and "batch" in [layer.normalization for layer in model.layers]:
        raise ValueError("batch normalization needs at least 2 rows per batch (it normalizes over the batch's "
                         f"rows); got batches of {batch_size}: give batchSize >= 2, or normalization='layer'")
    return batch_size


def _stream_plan(model, stream, y, options, settings, chosen, split):
    """The FitPlan of a fit on a stream (see :mod:`dnn.engine.streaming`): its first pass runs here."""
    if settings["comm"] is not None:
        raise ValueError("fit(distributed=True) takes arrays, not a stream")
    if options.sample_weight is not None or options.class_weight is not None:
        raise ValueError("sampleWeight and classWeight are for arrays: a stream's rows have no weights")
    given = stream.classes if options.classes is None else options.classes
    task, classes = _task_and_classes(model, options.task, given)
    validation_stream = as_stream(options.validation_data)
    found = plan_stream(model, stream, y, task, classes, split, settings["standardize"], validation_stream)
    validation = found.validation
    if options.validation_data is not None and validation_stream is None:
        validation = _validation_data(model, options.validation_data, found.names, found.task, found.classes)
    metrics = check_epoch_metrics(options.metrics, found.task, validation is not None)
    settings["batch_size"] = found.epochs.batch_size = _batch_size(model, settings["batch_size"], chosen,
                                                                   found.epochs.train_rows, stacklevel=5)
    return FitPlan(data=found.data, validation=validation, validation_split=model.state.validation_split,
                   task=found.task, classes=found.classes, feature_names=found.names, rng=model.state.rng,
                   metrics=metrics, stream=found.epochs, **settings)


def _communicator(model, requested):
    """The :class:`dnn.engine.distributed.Communicator` of a fit with ``distributed=True``, else None."""
    if not isinstance(requested, (bool, np.bool_)):
        raise ValueError(f"distributed must be True or False, got {requested!r}")
    if not requested:
        return None
    if "batch" in [layer.normalization for layer in model.layers]:
        raise ValueError("fit(distributed=True) does not train batch normalization, whose statistics are those of "
                         "the whole batch and no rank sees all of it; use normalization='layer' (per row)")
    return connect(get_device(model.device))


def _held_out(model, X, target_matrix, task, fraction, rng):
    """(train rows, Validation, generator, split to keep) for ``validationSplit`` ``fraction`` of ``X``.

    A split kept from an earlier fit is reused (see :func:`reused_split`); a new one draws from a copy of ``rng``
    (the model's generator), which replaces it only when fit goes ahead.
    """
    kept = model.state.validation_split
    train_rows, validation_rows = reused_split(kept, fraction, len(X))
    if validation_rows is None:
        rng = copy.deepcopy(rng)
        train_rows, validation_rows = split_rows(rng, target_matrix, task, fraction)
        kept = {"fraction": fraction, "rows": len(X), "validation": validation_rows}
    return train_rows, Validation(X, target_matrix[validation_rows], validation_rows), rng, kept


def commit(model, plan):
    """What the model takes from a fit's checked arguments: task, classes, column names, scaling, generator (and,
    distributed, rank 0's parameters and optimizer state)."""
    model.task, model.classes = plan.task, plan.classes
    model.state.rng = plan.rng
    model.state.validation_split = plan.validation_split
    model.feature_names = plan.feature_names
    model.standardize = plan.standardize
    # the model keeps its scaling in numpy (files, predictions' chunks), whatever device the batches use
    mean, scale = plan.data.mean, plan.data.scale
    model.feature_mean, model.feature_scale = (None, None) if mean is None else (to_numpy(mean), to_numpy(scale))
    if plan.comm is not None:
        plan.comm.share_start(model.state)


def warn_if_the_rate_is_zero(schedule, state, epochs):
    """Warn when ``schedule`` gives 0 for every epoch of this fit (the weights would not move at all), or, for a
    schedule per step with an end (OneCycle), when it ended before this fit: every batch would take its final rate.

    The usual cause is a schedule that has ended (CosineDecay's min_lr of 0 after its ``epochs``) on a model
    trained further; the model's epochs and steps (``state``'s) are counted over all fit calls.
    """
    first_epoch = state.epochs
    if schedule.per_step:
        last = schedule.last_step
        if last is not None and state.steps > last:
            warnings.warn(f"the schedule {type(schedule).__name__} ended at step {last + 1} (this model has trained "
                          f"{state.steps}): every batch of this fit takes its final rate "
                          f"{schedule.at_step(state.steps, first_epoch):g}. Give the model a new schedule for more "
                          f"training (model.lr = ...).", stacklevel=3)
        return
    if any(schedule(epoch) != 0 for epoch in range(first_epoch, first_epoch + epochs)):
        return
    ended = isinstance(getattr(schedule, "epochs", None), int) and first_epoch >= schedule.epochs
    cause = (f"the schedule {type(schedule).__name__} ended at epoch {schedule.epochs} and has stayed at its final "
             f"rate 0 since (this model has trained {first_epoch} epochs)" if ended else
             f"the schedule {type(schedule).__name__} gives 0 for epochs {first_epoch + 1} to {first_epoch + epochs}")
    warnings.warn(f"the learning rate is 0 for the whole of this fit, so the weights will not change: {cause}. "
                  f"Give the model a new rate or schedule first (model.lr = ...).", stacklevel=3)


def _task_and_classes(model, task, classes):
    """The model's task and classes, or the ones fit's ``task=`` and ``classes=`` set at the first fit."""
    if task is not None:
        task = get_task(task)
        if model.task is not None and task is not model.task:
            raise ValueError(f"this model is already a {model.task} model; task={task.name!r} cannot change that")
        if not task.fits_output(model.activations[-1], model.units[-1]):
            raise ValueError(f"task={task.name!r} does not fit the output layer ({model.units[-1]} "
                             f"{model.activations[-1]} units)")
    task = task or model.task
    if classes is None:
        return task, model.classes
    known = targets.as_array(classes, "classes")
    if known.ndim != 1:
        raise ValueError(f"classes must be a list of labels, got shape {known.shape}")
    try:
        known = np.unique(known)
    except TypeError:
        raise ValueError("classes must be all numbers or all strings, not a mix") from None
    expected = 2 if model.units[-1] == 1 else model.units[-1]
    if (task is not None and not task.single_label) or model.activations[-1] == "identity":
        raise ValueError("classes= is for single-label classifiers")
    if len(known) != expected:
        raise ValueError(f"classes names {len(known)} distinct labels but the output layer has room for {expected}")
    if model.classes is not None and not np.array_equal(known, model.classes):
        raise ValueError(f"this model's classes are already {model.classes.tolist()}")
    return task, known


def _early_stopping(patience, min_delta, restore_best):
    if patience is not None:
        patience = check_patience(patience)
    min_delta = check_number(min_delta, "minDelta", low=0)
    if restore_best is None:
        restore_best = patience is not None
    elif not isinstance(restore_best, bool):
        raise ValueError(f"restoreBest must be True, False or None, got {restore_best!r}")
    elif restore_best and patience is None:
        raise ValueError("restoreBest=True needs earlyStopping (a patience, or math.inf to never stop)")
    return patience, min_delta, restore_best


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
        target_matrix, _, _ = targets.encode_targets(y, model.activations[-1], model.units[-1], model.dtype,
                                                     task, classes)
    except ValueError as error:
        raise ValueError(f"validationData: {error}") from None
    if len(target_matrix) != len(X):
        raise ValueError(f"validationData: X has {len(X)} samples but y has {len(target_matrix)}")
    return Validation(X, target_matrix)


def reused_split(kept, fraction, n):
    """(train rows, validation rows) of the split kept from an earlier fit, or (None, None) to draw a new one.

    The split is drawn once and kept with the model, so continued training
    never validates on rows it trained on. A call with the same fraction and
    number of rows reuses it (the rows are taken to be the same rows); any
    other call draws a new split and warns that earlier training rows may now
    be validation rows.
    """
    if kept is None:
        return None, None
    if kept["fraction"] == fraction and kept["rows"] == n:
        validation = kept["validation"]
        return np.setdiff1d(np.arange(n), validation, assume_unique=True), validation
    what = (f"{n} rows instead of the {kept['rows']}" if kept["rows"] != n
            else f"validationSplit {fraction:g} instead of {kept['fraction']:g}")
    warnings.warn(f"validationSplit: this fit has {what} of the split kept from an earlier fit; drawing a new "
                  f"split, whose validation rows may include rows the model has trained on", stacklevel=5)
    return None, None


def split_rows(rng, target_matrix, task, fraction):
    """Shuffled (train rows, validation rows); each class keeps its share in both when classifying.

    ``task`` is a :class:`dnn.data.tasks.Task` or its name.
    """
    n = len(target_matrix)
    train, validation = [], []
    for group in get_task(task).groups(target_matrix):
        group = rng.permutation(group)
        cut = round(fraction * len(group))
        validation.append(group[:cut])
        train.append(group[cut:])
    train, validation = np.concatenate(train), np.concatenate(validation)
    if len(validation) == 0 or len(train) == 0:
        raise ValueError(f"validationSplit {fraction} of {n} samples leaves an empty training or validation set")
    return np.sort(train), np.sort(validation)
