"""End-to-end example: train a DNN on scikit-learn's 8x8 digits, evaluate, save, reload.

Run from the repository root: ``python demo.py``.
"""

from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from dnn import DNN
from dnn.datasets import load_digits

MODEL_PATH = Path(__file__).parent / "models" / "digits.pkl"
#: A few weights and biases to watch converge: ("w", l, j, i) is the weight from
#: neuron i of layer l-1 to neuron j of layer l, ("b", l, j) the bias of neuron j.
WATCHED = [("w", 2, 1, 20), ("w", 2, 7, 36), ("w", 3, 5, 100), ("w", 4, 3, 64), ("b", 2, 1), ("b", 4, 3)]


def train_digits_model(verbose=1):
    """The demo network, trained on the demo split; returns (model, X_test, y_test)."""
    X, y = load_digits()
    X_train, X_test, y_train, y_test = train_test_split(X / 16, y, test_size=0.1, random_state=0)
    model = DNN(lr=0.02, momentum=0.9, l2=1e-4, seed=1)
    model.addInputLayer([64])
    model.addHiddenLayer([256, 128], activation="relu")
    model.addOutputLayer([10], activation="softmax")
    if verbose:
        model.summary()
    model.fit(X_train, y_train, epochs=40, batchSize=16, verbose=verbose, parameterList=WATCHED)
    return model, X_test, y_test


def main():
    model, X_test, y_test = train_digits_model()
    print("\nTest set:")
    result = model.modelEvaluate(X_test, y_test)
    model.saveModel(MODEL_PATH)
    print(f"\nSaved to {MODEL_PATH}")
    loaded = DNN.importModel(MODEL_PATH)
    same = np.array_equal(loaded.predict(X_test), model.predict(X_test))
    print(f"Loaded it back: predictions {'match' if same else 'DIFFER'} on all {len(X_test)} test digits.")
    for name, draw in (("convergence", model.drawConvergenceCurve), ("history", model.drawHistory)):
        path = MODEL_PATH.with_name(f"digits_{name}.png")
        draw(path)
        print(f"Wrote {path}")
    path = MODEL_PATH.with_name("digits_confusion.png")
    model.drawConfusionMatrix(X_test, y_test, path)
    print(f"Wrote {path}")
    print(f"Test accuracy {result['accuracy']:.4f}")


if __name__ == "__main__":
    main()
