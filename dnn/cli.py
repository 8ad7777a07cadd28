"""The command line: ``python -m dnn`` or ``dnn`` (train, evaluate, predict, summary, plot).

An adapter at the edge: the core never imports it. Every error a user can
cause (a missing file or column, a file that is not a model, bad settings)
prints one line ``dnn: error: ...`` to stderr and exits with status 1;
argparse's own usage errors exit with status 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

EXAMPLES = """\
examples:
  dnn train data.csv --target label --hidden 64,32 --epochs 30 --standardize --out model.pkl
  dnn train houses.csv --target price --regression --hidden 32 --lr 0.001 --optimizer adam --out price.pkl
  dnn evaluate model.pkl test.csv --target label
  dnn predict model.pkl new.csv --out predictions.csv          (read in chunks of --chunksize rows)
  dnn summary model.pkl
  dnn plot model.pkl history --out history.png
  dnn plot model.pkl confusion --data test.csv --target label --out confusion.png
"""


class CommandError(Exception):
    """An error to report in one line, without a traceback."""


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of every subcommand."""
    parser = argparse.ArgumentParser(prog="dnn", description="Train, evaluate and use dnn models on CSV files.",
                                     epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = commands.add_parser("train", help="train a model on a CSV file", epilog=EXAMPLES,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    train.add_argument("csv", help="CSV file with a header row; every column but the target is a feature")
    train.add_argument("--target", required=True, help="name of the column to predict")
    train.add_argument("--hidden", default="32", help="hidden layer sizes, comma-separated (default: 32; '' for none)")
    train.add_argument("--activation", default="relu", help="hidden activation, one name or one per layer, "
                                                            "comma-separated (default: relu)")
    train.add_argument("--regression", action="store_true",
                       help="predict real values (identity output); default: classes unless the target holds "
                            "non-integer numbers")
    train.add_argument("--epochs", type=int, default=20)
    train.add_argument("--batch-size", type=int, default=32)
    train.add_argument("--optimizer", default="adam", help="sgd or adam (default: adam)")
    train.add_argument("--lr", type=float, default=0.001, help="learning rate (default: 0.001)")
    train.add_argument("--momentum", type=float, default=0.0, help="momentum of sgd")
    train.add_argument("--l2", type=float, default=0.0)
    train.add_argument("--standardize", action="store_true", help="scale every feature inside the model")
    train.add_argument("--validation-split", type=float, default=0.0, metavar="FRACTION")
    train.add_argument("--early-stopping", type=int, default=None, metavar="PATIENCE")
    train.add_argument("--seed", type=int, default=None)
    train.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    train.add_argument("--out", default="model.pkl", help="model file to write (default: model.pkl)")
    train.add_argument("--quiet", action="store_true", help="no progress bar")

    evaluate = commands.add_parser("evaluate", help="print the metrics of a model on a CSV file")
    evaluate.add_argument("model")
    evaluate.add_argument("csv")
    evaluate.add_argument("--target", required=True)

    predict = commands.add_parser("predict", help="write the predictions of a model for a CSV file")
    predict.add_argument("model")
    predict.add_argument("csv")
    predict.add_argument("--out", required=True, help="CSV file to write: a 'prediction' column and, for "
                                                      "classifiers, one 'probability_<class>' column per class")
    predict.add_argument("--chunksize", type=int, default=100_000, help="rows read at a time (default: 100000)")

    summary = commands.add_parser("summary", help="print the layers of a model")
    summary.add_argument("model")

    plot = commands.add_parser("plot", help="draw a figure of a model to a PNG file")
    plot.add_argument("model")
    plot.add_argument("kind", choices=["history", "convergence", "confusion"])
    plot.add_argument("--out", required=True, help="PNG file to write")
    plot.add_argument("--data", help="CSV file (for confusion)")
    plot.add_argument("--target", help="target column of --data (for confusion)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: sys.argv[1:]); returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        COMMANDS[args.command](args)
    except CommandError as error:
        print(f"dnn: error: {error}", file=sys.stderr)
        return 1
    except (ValueError, OSError) as error:  # pandas' parser errors and ModelFileError are ValueErrors
        print(f"dnn: error: {error}", file=sys.stderr)
        return 1
    return 0


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
    if target not in frame.columns:
        raise CommandError(f"{path} has no column {target!r}; its columns are {list(map(str, frame.columns))}")
    return frame.drop(columns=[target]), frame[target]


def load_model(path):
    from dnn import DNN

    if not Path(path).is_file():
        raise CommandError(f"no such model file: {path}")
    return DNN.importModel(path)


def train(args):
    from dnn import DNN

    X, y = split_target(read_csv(args.csv), args.target, args.csv)
    sizes = [_positive(s, "--hidden") for s in args.hidden.split(",")] if args.hidden.strip() else []
    activations = args.activation.split(",")
    regression = args.regression or (y.dtype.kind == "f" and not np.array_equal(y, np.round(y)))
    model = DNN(lr=args.lr, optimizer=args.optimizer, momentum=args.momentum, l2=args.l2, seed=args.seed,
                dtype=args.dtype, standardize=args.standardize)
    model.addInputLayer([X.shape[1]])
    if sizes:
        model.addHiddenLayer(sizes, activation=activations[0] if len(activations) == 1 else activations)
    if regression:
        model.addOutputLayer([1], activation="identity")
    else:
        classes = y.nunique()
        if classes < 2:
            raise CommandError(f"the target column {args.target!r} holds a single class; a classifier needs two")
        if classes == 2:
            model.addOutputLayer([1], activation="sigmoid")
        else:
            model.addOutputLayer([classes], activation="softmax")
    model.fit(X, y, epochs=args.epochs, batchSize=args.batch_size, verbose=0 if args.quiet else 1,
              validationSplit=args.validation_split, earlyStopping=args.early_stopping)
    model.saveModel(args.out)
    last = {key: values[-1] for key, values in model.history.items() if key in ("loss", "accuracy", "val_loss",
                                                                                  "val_accuracy")}
    print(f"trained {model.epochs} epochs: " + ", ".join(f"{k} {v:.4f}" for k, v in last.items()))
    print(f"saved {args.out}")


def evaluate(args):
    model = load_model(args.model)
    X, y = split_target(read_csv(args.csv), args.target, args.csv)
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
                result = _predictions(model, _features(model, chunk, args.csv), classifier)
                result.to_csv(handle, header=number == 0, index=False)
                rows += len(result)
        temporary.replace(out)  # a run stopped midway leaves no half-written predictions under the real name
    finally:
        temporary.unlink(missing_ok=True)
    print(f"wrote {rows} predictions to {args.out}")


def _features(model, chunk, path):
    if model.feature_names is None:
        return chunk
    missing = [c for c in model.feature_names if c not in chunk.columns]
    if missing:
        raise CommandError(f"{path} lacks the feature columns {missing} the model was trained on")
    return chunk[model.feature_names]


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
            raise CommandError("this model has no recorded parameters (fit(..., parameterList=...) records them)")
        model.drawConvergenceCurve(args.out)
    else:
        if not args.data or not args.target:
            raise CommandError("plot confusion needs --data CSV and --target COLUMN")
        X, y = split_target(read_csv(args.data), args.target, args.data)
        model.drawConfusionMatrix(X, y, args.out)
    print(f"wrote {args.out}")


def _positive(text, option):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise CommandError(f"{option} takes positive integers separated by commas, got {text!r}")
    return value


COMMANDS = {"train": train, "evaluate": evaluate, "predict": predict, "summary": summary, "plot": plot}
