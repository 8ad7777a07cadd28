"""End-to-end example: train a DNN on the 8x8 digits, evaluate, save, reload, and compare with the shipped model.

Run from the repository root: ``python demo.py``. The model takes the digits as
``load_digits`` gives them (grey levels 0..16): it standardizes them itself.

Everything the demo writes goes to ``runs/`` (ignored by git): your model and
its figures. The shipped ``models/digits.pkl`` is the reference it compares
yours with, and is never written: another CPU's BLAS rounds the last bits
differently, so the same training gives slightly different weights on each
machine. ``python demo.py --ship`` (for maintainers) replaces the shipped model.
"""

import argparse
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from dnn import DNN
from dnn.datasets import load_digits

ROOT = Path(__file__).parent
SHIPPED = ROOT / "models" / "digits.pkl"
OUTPUT = ROOT / "runs"
#: A few weights and biases to watch converge: ("w", l, j, i) is the weight from
#: neuron i of layer l-1 to neuron j of layer l, ("b", l, j) the bias of neuron j.
WATCHED = [("w", 2, 1, 20), ("w", 2, 7, 36), ("w", 3, 5, 100), ("w", 4, 3, 64), ("b", 2, 1), ("b", 4, 3)]


def digits_split():
    """The raw digits split as the demo trains and tests: X_train, X_test, y_train, y_test."""
    X, y = load_digits()
    return train_test_split(X, y, test_size=0.1, random_state=0)


def train_digits_model(verbose=1):
    """The demo network, trained on the demo split of the raw digits; returns (model, X_test, y_test)."""
    X_train, X_test, y_train, y_test = digits_split()
    # one BLAS thread: a rerun on the same machine then gives the same weights, bit for bit
    model = DNN(lr=0.01, momentum=0.9, l2=1e-4, seed=1, standardize=True, threads=1)
    model.addInputLayer([64])
    model.addHiddenLayer([256, 128], activation="relu")
    model.addOutputLayer([10], activation="softmax")
    if verbose:
        model.summary()
    model.fit(X_train, y_train, epochs=40, batchSize=16, verbose=verbose, parameterList=WATCHED)
    return model, X_test, y_test


def compare(model, reference, X_test, y_test):
    """How ``model`` and ``reference`` agree on the test rows: a dict of accuracies, agreement and largest gap."""
    mine, theirs = model.predictProba(X_test), reference.predictProba(X_test)
    return {
        "accuracy": float(np.mean(model.predict(X_test) == y_test)),
        "reference_accuracy": float(np.mean(reference.predict(X_test) == y_test)),
        "agreement": float(np.mean(mine.argmax(axis=1) == theirs.argmax(axis=1))),
        "largest_probability_gap": float(np.abs(mine - theirs).max()),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description="Train the digits network, save it and compare it with the "
                                                 "shipped models/digits.pkl.")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="folder for your model and its figures "
                        "(default: runs/, ignored by git)")
    parser.add_argument("--ship", action="store_true", help="also replace the shipped models/digits.pkl "
                        "(maintainers, after a deliberate change of the training)")
    args = parser.parse_args(argv)
    model, X_test, y_test = train_digits_model()
    print("\nTest set:")
    model.modelEvaluate(X_test, y_test)
    path = args.output / "digits.pkl"
    model.saveModel(path)
    loaded = DNN.importModel(path)
    same = np.array_equal(loaded.predict(X_test), model.predict(X_test))
    print(f"\nSaved to {path}; loaded it back: predictions {'match' if same else 'DIFFER'} on all "
          f"{len(X_test)} test digits.")
    if SHIPPED.exists():
        result = compare(model, DNN.importModel(SHIPPED), X_test, y_test)
        gap = result["largest_probability_gap"]
        why = "the same bits" if gap == 0 else "another CPU's BLAS rounds differently"
        print(f"The shipped {SHIPPED.relative_to(ROOT)}: test accuracy {result['reference_accuracy']:.4f}, yours "
              f"{result['accuracy']:.4f}; the two agree on {result['agreement']:.1%} of the test digits (largest "
              f"probability gap {gap:.2g}: {why}).")
    for name, draw in (("convergence", model.drawConvergenceCurve), ("history", model.drawHistory)):
        draw(args.output / f"digits_{name}.png")
    model.drawConfusionMatrix(X_test, y_test, args.output / "digits_confusion.png")
    print(f"Wrote the convergence curves, the history and the confusion matrix to {args.output}/")
    if args.ship:
        model.saveModel(SHIPPED)
        print(f"Replaced {SHIPPED}")


if __name__ == "__main__":
    main()
