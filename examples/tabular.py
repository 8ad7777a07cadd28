"""Lesson 6: a table whose features have very different scales, with and without standardize=True.

scikit-learn's bundled breast-cancer (30 measurements, from fractions to
thousands) and wine (13, up to 1,680) tables, split 75/25 stratified, each
trained twice by the same 2-hidden-layer relu network: on the raw features
and with ``DNN(standardize=True)`` (each feature scaled by the mean and
standard deviation the model learns from its training rows, saved with it).
On the raw features the network often learns nothing, and dnn says so with
a ``TrainingStalledWarning``; standardized, it learns.

Given ``--csv PATH --target COLUMN`` (for example the phone-price table the
lesson uses, with ``--target price_range``), the same recipe runs on that
table: numeric feature columns, the target's distinct values as classes.

Run: ``python examples/tabular.py [--csv PATH --target COLUMN]`` (``--quick``: fewer epochs).
"""

import argparse
import warnings

import numpy as np
from sklearn.datasets import load_breast_cancer, load_wine
from sklearn.model_selection import train_test_split

from dnn import DNN, TrainingStalledWarning


def recipe(X, y, standardize, epochs, seed=0):
    """Test accuracy of the lesson's network on a stratified 75/25 split, and whether training stalled."""
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=seed, stratify=y)
    model = DNN(lr=0.01, momentum=0.9, seed=seed, standardize=standardize)
    model.addInputLayer([X.shape[1]])
    model.addHiddenLayer([32, 16], activation="relu")
    model.addOutputLayer([len(np.unique(y))], activation="softmax")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(X_train, y_train, epochs=epochs, batchSize=16, verbose=0)
    stalls = [str(w.message) for w in caught if issubclass(w.category, TrainingStalledWarning)]
    for w in caught:
        if not issubclass(w.category, TrainingStalledWarning):
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    return model.modelEvaluate(X_test, y_test, verbose=0)["accuracy"], stalls


def report(name, X, y, epochs):
    ranges = X.max(axis=0) - X.min(axis=0)
    print(f"{name}: {X.shape[0]} rows, {X.shape[1]} features ranging over {ranges.min():.3g} to {ranges.max():.4g}, "
          f"{len(np.unique(y))} classes")
    for standardize in (False, True):
        accuracy, stalls = recipe(X, y, standardize, epochs)
        label = "standardize=True " if standardize else "raw features     "
        print(f"  {label} test accuracy {accuracy:.4f}")
        for message in stalls:
            print(f"    TrainingStalledWarning: {message}")


def read_table(path, target):
    import pandas as pd

    table = pd.read_csv(path)
    if target not in table.columns:
        raise SystemExit(f"{path} has no column {target!r}; its columns: {', '.join(map(str, table.columns))}")
    features = table.drop(columns=[target]).select_dtypes("number")
    return features.to_numpy(np.float64), table[target].to_numpy()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 epochs instead of 100")
    parser.add_argument("--csv", help="a CSV table to run the recipe on")
    parser.add_argument("--target", help="its target column")
    args = parser.parse_args(argv)
    if (args.csv is None) != (args.target is None):
        parser.error("--csv and --target go together")
    epochs = 20 if args.quick else 100
    if args.csv:
        report(args.csv, *read_table(args.csv, args.target), epochs)
        return
    for name, load in (("breast cancer", load_breast_cancer), ("wine", load_wine)):
        data = load()
        report(name, data.data.astype(np.float64), data.target, epochs)


if __name__ == "__main__":
    main()
