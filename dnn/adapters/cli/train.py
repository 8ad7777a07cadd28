"""``dnn train``: a network built from the options, trained with defaults that learn a small table well.

Every choice is printed with the option that changes it (see :mod:`dnn.adapters.cli`).
"""

from __future__ import annotations

import numpy as np

from dnn.adapters.cli.reading import CommandError, no_empty_cells, numeric, read_csv, split_target
from dnn.adapters.settings import named_schedule, optimizer_with_weight_decay, steps_per_epoch
from dnn.checks import check_setting

#: A numeric target with more distinct values than this is taken for a real-valued one (a regression).
MAX_INFERRED_CLASSES = 20


def train(args):
    frame = read_csv(args.csv)
    X, y = split_target(frame, args.target, args.csv)
    X = numeric(X, args.csv)
    no_empty_cells(y, args.target, args.csv)
    regression, reason = _is_regression(y, args)
    if regression:
        y = numeric(y.to_frame(), args.csv)[args.target]
    specs = [_record_spec(text) for text in args.record]
    if args.epochs < 1:
        raise CommandError(f"--epochs must be a positive integer, got {args.epochs}")
    if not 0 <= args.validation_split < 1:
        raise CommandError(f"--validation-split must be a fraction in [0, 1), got {args.validation_split:g}")
    model, task = _build(args, X.shape[1], y, regression)
    specs = _checked_specs(specs, args.record, model.units)
    mean, scale = (float(y.mean()), float(y.std(ddof=0))) if regression and args.scale_target else (None, None)
    if scale == 0:
        raise CommandError(f"the target column {args.target!r} holds the same number in every row; nothing to learn")
    _print_choices(args, model, f"{task} ({reason})", len(X), mean, scale)
    try:
        model.fit(X, y if mean is None else (y - mean) / scale, epochs=args.epochs, batchSize=args.batch_size,
                  verbose=0 if args.quiet else 1, validationSplit=args.validation_split,
                  earlyStopping=args.early_stopping, restoreBest=args.restore_best if args.early_stopping is not None
                  else None, parameterList=specs or None, recordEvery=args.record_every)
    except ValueError as error:
        if "leaves an empty training or validation set" in str(error):  # said with the option, and a way out
            by_class = "" if regression else ", split class by class,"
            raise CommandError(f"--validation-split {args.validation_split:g} of {len(X)} rows{by_class} leaves "
                               f"no training or validation rows; give --validation-split 0 for a table this "
                               f"small") from None
        raise
    if mean is not None:
        _fold_target_scale(model, mean, scale)
    model.saveModel(args.out)
    _print_outcome(model, mean is not None)
    print(f"saved {args.out}")


def _build(args, features, y, regression):
    """The network ``args`` ask for, its output layer fitting ``y``; returns it and the task in words."""
    from dnn import DNN

    sizes = [_positive(s, "--hidden") for s in args.hidden.split(",")] if args.hidden.strip() else []
    classes = 0 if regression else y.nunique()
    if not regression and classes < 2:
        raise CommandError(f"the target column {args.target!r} holds a single class; a classifier needs two")
    groups = [len(y)] if regression else y.value_counts().to_numpy()  # the rows a stratified split divides
    try:
        model = DNN(lr=_rate(args, groups), optimizer=optimizer_with_weight_decay(args.optimizer, args.weight_decay,
                                                                                "--weight-decay"),
                    momentum=args.momentum, l2=args.l2, seed=args.seed, dtype=args.dtype, standardize=args.standardize,
                    l1=check_setting("l1", args.l1, "--l1"),
                    clipNorm=_optional("clipNorm", args.clip_norm, "--clip-norm"),
                    clipValue=_optional("clipValue", args.clip_value, "--clip-value"), device=args.device)
    except (ImportError, RuntimeError) as error:  # --device cuda without CuPy, or without a GPU
        raise CommandError(f"--device {args.device}: {error}") from None
    model.addInputLayer([features])
    if sizes:
        model.addHiddenLayer(sizes, **_layer_options(args))
    elif args.normalization is not None or args.max_norm is not None:
        raise CommandError(f"--{'normalization' if args.normalization is not None else 'max-norm'} needs hidden "
                           f"layers, and --hidden is empty")
    if regression:
        model.addOutputLayer([1], activation="identity")
        return model, "regression"
    model.addOutputLayer([1] if classes == 2 else [classes], activation="sigmoid" if classes == 2 else "softmax")
    return model, f"classification into {classes} classes"


def _rate(args, groups):
    """DNN's lr: --lr, or the --schedule built from it, behind a --warmup-steps warm-up."""
    from dnn.schedules import Warmup

    rate = check_setting("lr", args.lr, "--lr")
    if args.schedule is not None:
        rate = named_schedule(args.schedule, rate, args.epochs,
                              steps_per_epoch(groups, args.validation_split, args.batch_size))
    if args.warmup_steps != 0:
        rate = Warmup(rate, check_setting("steps", args.warmup_steps, "--warmup-steps"))
    return rate


def _layer_options(args):
    """addHiddenLayer's activation, maxNorm and (only when asked for) normalization, each one or one per layer."""
    options = {"activation": _one_or_list(args.activation.split(","))}
    if args.max_norm is not None:
        options["maxNorm"] = _one_or_list([None if part.strip().lower() == "none" else _max_norm(part, args.max_norm)
                                           for part in args.max_norm.split(",")])
    if args.normalization is not None:
        options["normalization"] = _one_or_list([None if part.strip().lower() == "none" else part.strip()
                                                 for part in args.normalization.split(",")])
    return options


def _one_or_list(values):
    return values[0] if len(values) == 1 else values


def _max_norm(part, text):
    try:
        value = float(part)
    except ValueError:
        raise CommandError(f"--max-norm takes numbers (or 'none'), one or one per hidden layer separated by commas, "
                           f"got {text!r}") from None
    return check_setting("maxNorm", value, "--max-norm")


def _optional(setting, value, option):
    return None if value is None else check_setting(setting, value, option)


def _is_regression(y, args):
    """(whether to train a regression, the reason in words)."""
    if args.regression:
        return True, "--regression"
    if args.classification:
        return False, "--classification"
    if y.dtype.kind not in "iuf":
        return False, "the target holds labels, not numbers"
    values = y.to_numpy(dtype=np.float64)
    if not np.array_equal(values, np.round(values)):
        return True, "the target holds numbers that are not integers; --classification to change"
    distinct = len(np.unique(values))
    if distinct > MAX_INFERRED_CLASSES:
        return True, f"the target holds {distinct} distinct numbers; --classification to change"
    return False, f"the target holds {distinct} distinct integers; --regression to change"


def _record_spec(text):
    """A ``--record`` value, "w,2,1,1" or "b,2,1", as the tuple fit's parameterList takes."""
    parts = [part.strip() for part in text.split(",")]
    try:
        numbers = [int(part) for part in parts[1:]]
    except ValueError:
        numbers = None
    if parts[0] not in ("w", "b") or numbers is None or len(parts) != (4 if parts[0] == "w" else 3):
        raise CommandError(f"--record takes w,LAYER,J,I (a weight) or b,LAYER,J (a bias), 1-based with the input "
                           f"layer as layer 1, got {text!r}")
    return (parts[0], *numbers)


def _checked_specs(specs, texts, units):
    """The specs, checked against the network's layer sizes; the message names the --record value."""
    from dnn.engine.recording import parse_parameter_list

    for spec, text in zip(specs, texts):
        try:
            parse_parameter_list([spec], units)
        except ValueError as error:
            detail = str(error).split(": ", 1)[-1]  # drop the API's "parameterList entry (...)"
            raise CommandError(f"--record {text}: {detail}") from None
    return specs


def _print_choices(args, model, task, rows, mean, scale):
    """Print what training will do, with the options that change it."""
    layers = [f"{model.units[0]} inputs"] + [f"{units} {activation}" for units, activation
                                             in zip(model.units[1:], model.activations[1:])]
    print(f"task: {task}")
    print(f"network: {' -> '.join(layers)}{_given(args, 'normalization', 'max_norm')} (--hidden, --activation)")
    settings = f"{args.optimizer}, lr {args.lr:g}" + _given(args, "momentum", "weight_decay", "schedule",
                                                            "warmup_steps")
    print(f"training: {settings}, l2 {args.l2:g}{_given(args, 'l1', 'clip_norm', 'clip_value')}, batch size "
          f"{args.batch_size}, at most {args.epochs} epochs (--optimizer, --lr, --l2, --batch-size, --epochs)")
    print("features: " + ("standardized inside the model (--no-standardize to turn off)" if args.standardize
                          else "as they are (--standardize to scale them)"))
    if mean is not None:
        print(f"target: standardized for training (mean {mean:.6g}, standard deviation {scale:.6g}), folded back "
              f"into the output layer; losses are in standardized units (--no-scale-target to turn off)")
    if args.validation_split:
        held = f"{args.validation_split:.0%} of the {rows} rows held out for validation"
        held += ", stratified by class" if model.activations[-1] != "identity" else ""
    else:
        held = "none (--validation-split to hold out rows)"
    print(f"validation: {held}")
    if args.early_stopping is None:
        print("early stopping: none, all epochs run (--early-stopping PATIENCE to turn on)")
    else:
        watched = "validation loss" if args.validation_split else "training loss"
        kept = "the weights of the best epoch" if args.restore_best else "the last weights"
        print(f"early stopping: after {args.early_stopping} epochs without a lower {watched}, keeping {kept} "
              f"(--early-stopping PATIENCE, --no-early-stopping, --{'no-' if args.restore_best else ''}restore-best)")
    if args.record:
        print(f"recording: {', '.join(args.record)} every {args.record_every} (dnn plot MODEL convergence)")


def _given(args, *names):
    """", name value" for each of the options ``names`` given a value other than none (their default)."""
    values = [(name.replace("_", " "), getattr(args, name)) for name in names]
    return "".join(f", {name} {value:g}" if isinstance(value, float) else f", {name} {value}"
                   for name, value in values if value)


def _fold_target_scale(model, mean, scale):
    """Make the identity output predict ``mean + scale * output``: the target's own units, exactly.

    The weights are views of the model's parameter array: changed in place, so
    training state and file see the same numbers.
    """
    last = len(model.units)
    weights, biases = model.w[last], model.b[last]
    weights *= scale
    biases *= scale
    biases += mean


def _print_outcome(model, scaled):
    """Print how training ended and the metrics of the epoch whose weights the model keeps."""
    history = model.history
    trained = model.epochs
    kept = model.restoredEpoch or trained
    stopped = model.stoppedEarly
    ending = f"stopped early after epoch {stopped['epoch']}" if stopped else f"trained {trained} epochs"
    ending += f"; kept the weights of epoch {kept}" if model.restoredEpoch else ""
    keys = [key for key in ("loss", "accuracy", "val_loss", "val_accuracy") if key in history]
    metrics = ", ".join(f"{key} {history[key][kept - 1]:.4f}" for key in keys)
    units = " (losses in standardized target units)" if scaled else ""
    print(f"{ending}: {metrics}{units}")


def _positive(text, option):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise CommandError(f"{option} takes positive integers separated by commas, got {text!r}")
    return value
