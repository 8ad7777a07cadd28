"""The command line: ``python -m dnn`` or ``dnn`` (train, evaluate, predict, summary, plot).

An adapter at the edge: the core never imports it. Every error a user can
cause (a missing file or column, a cell that is not a number, a file that is
not a model, bad settings) prints one line ``dnn: error: ...`` to stderr and
exits with status 1; argparse's own usage errors exit with status 2.

``dnn train``'s defaults are chosen to learn a small table well without
tuning: features standardized inside the model, a real-valued target
standardized for training and folded back into the output layer, Adam with
lr 0.01 and a little L2, and up to 1000 epochs stopped early on a 20 %
validation split, keeping the best epoch. Every choice is printed, and each
has an option that changes or turns it off.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np

EXAMPLES = """\
examples:
  dnn train data.csv --target label                      (the defaults: standardized, early stopping)
  dnn train data.csv --target label --hidden 64,32 --epochs 30 --no-early-stopping --validation-split 0
  dnn train houses.csv --target price --regression --hidden 32 --lr 0.001 --optimizer sgd --momentum 0.9
  dnn train data.csv --target label --record w,2,1,1 --record b,2,1 --out model.pkl
  dnn evaluate model.pkl test.csv --target label
  dnn predict model.pkl new.csv --out predictions.csv          (read in chunks of --chunksize rows)
  dnn summary model.pkl
  dnn plot model.pkl history --out history.png
  dnn plot model.pkl convergence --out convergence.png        (a model trained with --record)
  dnn plot model.pkl confusion --data test.csv --target label --out confusion.png
"""

#: A numeric target with more distinct values than this is taken for a real-valued one (a regression).
MAX_INFERRED_CLASSES = 20

#: How messages count rows: pandas skips blank lines, so a data row is not always the file's line number minus one.
ROWS = "(data rows counted from 1 after the header)"

#: Where a cell that is not a number looks like a decimal comma, the message says so.
DECIMAL_COMMA = re.compile(r"^\s*[-+]?\d+,\d+\s*$")


class CommandError(Exception):
    """An error to report in one line, without a traceback."""


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Every option's default after its help, and the examples kept as written."""

    def _get_help_string(self, action):
        if action.required:  # a required option has no default to show: "(default: None)" would mislead
            return action.help
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of every subcommand.

    The optimizer names are read from :data:`dnn.optimizers.OPTIMIZERS` when
    the parser is built, so a new optimizer shows up in ``--help`` and is
    accepted without a change here.
    """
    from dnn.optimizers import OPTIMIZERS

    optimizers = list(OPTIMIZERS)
    description = (f"Train, evaluate and use dnn models on CSV files.\n\noptimizers (dnn train --optimizer): "
                   f"{', '.join(optimizers)}\n'dnn COMMAND --help' lists the options of a command with their "
                   f"defaults.")
    parser = argparse.ArgumentParser(prog="dnn", description=description, epilog=EXAMPLES,
                                     formatter_class=HelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_train(commands, optimizers)

    evaluate = commands.add_parser("evaluate", help="print the metrics of a model on a CSV file",
                                   formatter_class=HelpFormatter)
    evaluate.add_argument("model", help="model file written by dnn train")
    evaluate.add_argument("csv", help="CSV file with the model's feature columns and the target column")
    evaluate.add_argument("--target", required=True, help="name of the target column")

    predict = commands.add_parser("predict", help="write the predictions of a model for a CSV file",
                                  formatter_class=HelpFormatter)
    predict.add_argument("model", help="model file written by dnn train")
    predict.add_argument("csv", help="CSV file with the model's feature columns (other columns are ignored)")
    predict.add_argument("--out", required=True, help="CSV file to write: a 'prediction' column and, for "
                                                      "classifiers, one 'probability_<class>' column per class")
    predict.add_argument("--chunksize", type=int, default=100_000, help="rows read at a time")

    summary = commands.add_parser("summary", help="print the layers of a model", formatter_class=HelpFormatter)
    summary.add_argument("model", help="model file")

    plot = commands.add_parser("plot", help="draw a figure of a model to a PNG file", formatter_class=HelpFormatter)
    plot.add_argument("model", help="model file")
    plot.add_argument("kind", choices=["history", "convergence", "confusion"],
                      help="loss and accuracy per epoch; the parameters recorded with dnn train --record; "
                           "the confusion matrix on --data")
    plot.add_argument("--out", required=True, help="PNG file to write")
    plot.add_argument("--data", help="CSV file (for confusion)")
    plot.add_argument("--target", help="target column of --data (for confusion)")
    return parser


def _add_train(commands, optimizers):
    train = commands.add_parser("train", help="train a model on a CSV file", epilog=EXAMPLES,
                                formatter_class=HelpFormatter)
    train.add_argument("csv", help="CSV file with a header row; every column but the target is a feature")
    train.add_argument("--target", required=True, help="name of the column to predict")
    task = train.add_mutually_exclusive_group()
    task.add_argument("--regression", action="store_true",
                      help="predict real values (identity output). Without --regression or --classification: "
                           f"a regression when the target holds numbers that are not all integers or more than "
                           f"{MAX_INFERRED_CLASSES} distinct numbers, else classes")
    task.add_argument("--classification", action="store_true", help="predict classes, whatever the target holds")
    train.add_argument("--hidden", default="32", help="hidden layer sizes, comma-separated ('' for none)")
    train.add_argument("--activation", default="relu", help="hidden activation, one name or one per layer, "
                                                            "comma-separated")
    train.add_argument("--epochs", type=int, default=1000, help="most epochs to train (early stopping usually "
                                                                "ends sooner)")
    train.add_argument("--batch-size", type=int, default=32, help="rows per mini-batch")
    train.add_argument("--optimizer", default="adam", choices=optimizers, help="update rule")
    train.add_argument("--lr", type=float, default=0.01, help="learning rate")
    train.add_argument("--momentum", type=float, default=0.0, help="momentum of sgd")
    train.add_argument("--l2", type=float, default=0.01, help="L2 penalty: (l2 / 2) * sum of squared weights "
                                                              "is added to the loss")
    train.add_argument("--standardize", action=argparse.BooleanOptionalAction, default=True,
                       help="scale every feature by its mean and standard deviation, inside the model")
    train.add_argument("--scale-target", action=argparse.BooleanOptionalAction, default=True,
                       help="for a regression, train on the standardized target and fold its mean and standard "
                            "deviation into the output layer (the model predicts in the target's units; the "
                            "losses in the history, and values --record'ed in the output layer, are in "
                            "standardized units)")
    train.add_argument("--validation-split", type=float, default=0.2, metavar="FRACTION",
                       help="fraction of the rows held out to watch for overfitting (stratified by class); "
                            "0 trains on every row")
    stopping = train.add_mutually_exclusive_group()
    stopping.add_argument("--early-stopping", type=int, default=20, metavar="PATIENCE",
                          help="stop when the validation loss (the training loss with --validation-split 0) has "
                               "not improved for this many epochs")
    # SUPPRESS: the default of the shared destination is --early-stopping's, and help shows no "(default: None)".
    stopping.add_argument("--no-early-stopping", dest="early_stopping", action="store_const", const=None,
                          default=argparse.SUPPRESS, help="train all --epochs")
    train.add_argument("--restore-best", action=argparse.BooleanOptionalAction, default=True,
                       help="with early stopping, end with the weights of the epoch of lowest validation loss")
    train.add_argument("--record", action="append", default=[], metavar="SPEC",
                       help="record a parameter while training, for 'dnn plot MODEL convergence': w,L,J,I is the "
                            "weight from neuron I of layer L-1 to neuron J of layer L, b,L,J the bias of neuron J "
                            "of layer L; all 1-based, the input layer is layer 1. Repeat for more")
    train.add_argument("--record-every", choices=["epoch", "batch"], default="epoch",
                       help="record after every epoch or every mini-batch")
    train.add_argument("--seed", type=int, default=None, help="seed of the model's random generator "
                                                              "(None: a different run every time)")
    train.add_argument("--dtype", default="float32", choices=["float32", "float64"], help="precision")
    train.add_argument("--out", default="model.pkl", help="model file to write")
    train.add_argument("--quiet", action="store_true", help="no progress bar")


def main(argv: list[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: sys.argv[1:]); returns the exit status."""
    from dnn.errors import NonFiniteOutputError, TrainingDivergedError

    args = build_parser().parse_args(argv)
    try:
        COMMANDS[args.command](args)
    # pandas' parser errors and ModelFileError are ValueErrors; a fit diverges from settings such as --lr, and
    # outputs overflow from a model file's weights
    except (CommandError, ValueError, OSError, TrainingDivergedError, NonFiniteOutputError) as error:
        print(f"dnn: error: {error}", file=sys.stderr)
        return 1
    return 0


# ---------------------------------------------------------------------- reading CSV files


def read_csv(path, **options):
    """pandas.read_csv with the errors users make turned into one-line messages."""
    import pandas as pd

    if not Path(path).is_file():
        raise CommandError(f"no such file: {path}")
    try:
        return pd.read_csv(path, **options)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise CommandError(f"{path} is not a readable CSV file: {error}") from None


def split_target(frame, target, path):
    """(features, target) of ``frame``; CommandError naming ``path`` when it has no column ``target``."""
    if target not in frame.columns:
        raise CommandError(f"{path} has no column {target!r}; its columns are {list(map(str, frame.columns))}")
    return frame.drop(columns=[target]), frame[target]


def numeric(frame, path, first_row=1):
    """``frame`` with every column as numbers; CommandError naming the first cell that is not a finite number.

    Parameters
    ----------
    frame : pandas.DataFrame
        Columns read from ``path`` (a chunk of it when read in chunks).
    path : str
        The file, for the message.
    first_row : int
        Data row number of the frame's first row (see :data:`ROWS`).
    """
    import pandas as pd

    converted = {}
    for column in frame.columns:
        values = frame[column]
        if values.dtype.kind not in "biuf":
            numbers = pd.to_numeric(values, errors="coerce")
            bad = np.flatnonzero(numbers.isna().to_numpy() & values.notna().to_numpy())
            if len(bad):
                cell = values.iloc[bad[0]]
                hint = ("; it looks like a decimal comma: dnn reads decimal points" if DECIMAL_COMMA.match(str(cell))
                        else "; fix the cell, or encode a text column as numbers")
                raise CommandError(f"{path}: column {str(column)!r} must hold numbers, but data row "
                                   f"{first_row + bad[0]} holds {cell!r} {ROWS}{hint}")
            values = numbers
        _check_cells(values, column, path, first_row)
        converted[column] = values
    return pd.DataFrame(converted, index=frame.index)


def _check_cells(values, column, path, first_row):
    """CommandError naming the first empty or infinite cell of a numeric column."""
    if values.dtype.kind == "b":
        return
    array = values.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = np.flatnonzero(~np.isfinite(array))
    if len(bad):
        what = "is empty" if np.isnan(array[bad[0]]) else f"holds {array[bad[0]]}"
        raise CommandError(f"{path}: column {str(column)!r} {what} in data row {first_row + bad[0]} {ROWS}; dnn "
                           f"needs a finite number in every cell")


def _no_empty_cells(values, column, path):
    """CommandError naming the first empty cell of a column that may hold labels (a target)."""
    bad = np.flatnonzero(values.isna().to_numpy())
    if len(bad):
        raise CommandError(f"{path}: column {column!r} is empty in data row {1 + bad[0]} {ROWS}")


def _features(model, frame, path, first_row=1):
    """The model's feature columns of ``frame``, in the model's order, as numbers (other columns are ignored)."""
    if model.feature_names is None:
        if frame.shape[1] != model.units[0]:
            raise CommandError(f"{path} has {frame.shape[1]} feature columns but the model takes {model.units[0]}")
        return numeric(frame, path, first_row)
    missing = [c for c in model.feature_names if c not in frame.columns]
    if missing:
        raise CommandError(f"{path} lacks the feature columns {missing} the model was trained on; its columns are "
                           f"{list(map(str, frame.columns))}")
    return numeric(frame[model.feature_names], path, first_row)


def _labelled(model, path, target):
    """Features and target of the CSV file ``path`` for a trained model."""
    frame = read_csv(path)
    X, y = split_target(frame, target, path)
    _no_empty_cells(y, target, path)
    if model.task == "regression":
        y = numeric(y.to_frame(), path)[target]
    # A model that knows its columns picks them by name, so a message about them lists all the file's columns.
    return _features(model, frame if model.feature_names is not None else X, path), y


def load_model(path):
    from dnn import DNN

    if not Path(path).is_file():
        raise CommandError(f"no such model file: {path}")
    return DNN.importModel(path)


# ---------------------------------------------------------------------- train


def train(args):
    frame = read_csv(args.csv)
    X, y = split_target(frame, args.target, args.csv)
    X = numeric(X, args.csv)
    _no_empty_cells(y, args.target, args.csv)
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
    activations = args.activation.split(",")
    model = DNN(lr=args.lr, optimizer=args.optimizer, momentum=args.momentum, l2=args.l2, seed=args.seed,
                dtype=args.dtype, standardize=args.standardize)
    model.addInputLayer([features])
    if sizes:
        model.addHiddenLayer(sizes, activation=activations[0] if len(activations) == 1 else activations)
    if regression:
        model.addOutputLayer([1], activation="identity")
        return model, "regression"
    classes = y.nunique()
    if classes < 2:
        raise CommandError(f"the target column {args.target!r} holds a single class; a classifier needs two")
    model.addOutputLayer([1] if classes == 2 else [classes], activation="sigmoid" if classes == 2 else "softmax")
    return model, f"classification into {classes} classes"


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
    print(f"network: {' -> '.join(layers)} (--hidden, --activation)")
    settings = f"{args.optimizer}, lr {args.lr:g}" + (f", momentum {args.momentum:g}" if args.momentum else "")
    print(f"training: {settings}, l2 {args.l2:g}, batch size {args.batch_size}, at most {args.epochs} epochs "
          f"(--optimizer, --lr, --l2, --batch-size, --epochs)")
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


# ---------------------------------------------------------------------- using a model


def evaluate(args):
    model = load_model(args.model)
    X, y = _labelled(model, args.csv, args.target)
    model.modelEvaluate(X, y, verbose=1)


def predict(args):
    model = load_model(args.model)
    if args.chunksize < 1:
        raise CommandError(f"--chunksize must be a positive number of rows, got {args.chunksize}")
    classifier = (model.task or "") != "regression" and model.activations[-1] != "identity"
    out = Path(args.out)
    temporary = out.with_name(f".{out.name}.tmp")
    rows = 0
    try:
        with open(temporary, "w", newline="") as handle:
            for number, chunk in enumerate(read_csv(args.csv, chunksize=args.chunksize)):
                result = _predictions(model, _features(model, chunk, args.csv, first_row=rows + 1), classifier)
                result.to_csv(handle, header=number == 0, index=False)
                rows += len(result)
        temporary.replace(out)  # a run stopped midway leaves no half-written predictions under the real name
    finally:
        temporary.unlink(missing_ok=True)
    print(f"wrote {rows} predictions to {args.out}")


def _predictions(model, X, classifier):
    import pandas as pd

    predictions = model.predict(X)
    if predictions.ndim == 2:  # several regression outputs or labels
        frame = pd.DataFrame(predictions, columns=[f"prediction_{i}" for i in range(predictions.shape[1])])
    else:
        frame = pd.DataFrame({"prediction": predictions})
    if classifier and model.task != "multilabel":
        probabilities = model.predictProba(X)
        classes = model.classes if model.classes is not None else np.arange(probabilities.shape[1])
        for column, label in enumerate(classes):
            frame[f"probability_{label}"] = probabilities[:, column]
    return frame


def summary(args):
    load_model(args.model).summary()


def plot(args):
    import matplotlib

    matplotlib.use("Agg")
    model = load_model(args.model)
    if args.kind == "history":
        model.drawHistory(args.out)
    elif args.kind == "convergence":
        if not model.parameterRecord:
            raise CommandError(f"{args.model} has no recorded parameters: train it with --record, such as "
                               f"'dnn train data.csv --target label --record w,2,1,1 --record b,2,1'")
        model.drawConvergenceCurve(args.out)
    else:
        if not args.data or not args.target:
            raise CommandError("plot confusion needs --data CSV and --target COLUMN")
        X, y = _labelled(model, args.data, args.target)
        model.drawConfusionMatrix(X, y, args.out)
    print(f"wrote {args.out}")


COMMANDS = {"train": train, "evaluate": evaluate, "predict": predict, "summary": summary, "plot": plot}
