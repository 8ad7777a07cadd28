"""The commands that use a trained model: evaluate, predict, summary and plot."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dnn.adapters.cli.reading import CommandError, labelled, load_model, model_features, read_csv


def evaluate(args):
    model = load_model(args.model)
    X, y = labelled(model, args.csv, args.target)
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
                result = _predictions(model, model_features(model, chunk, args.csv, first_row=rows + 1), classifier)
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
        X, y = labelled(model, args.data, args.target)
        model.drawConfusionMatrix(X, y, args.out)
    print(f"wrote {args.out}")
