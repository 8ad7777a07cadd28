"""End-to-end example: train a DNN on scikit-learn's 8x8 digits, evaluate, save, reload.

Run from the repository root: ``python demo.py``. The model takes the digits
as ``load_digits`` gives them (grey levels 0..16): it standardizes them itself.
``models/digits.pkl`` is rewritten only when the new model differs from it in
more than its timing history, so rerunning the demo leaves the checkout clean.
"""

from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from dnn import DNN, ModelFileError
from dnn.datasets import load_digits
from dnn.persistence import to_payload

MODEL_PATH = Path(__file__).parent / "models" / "digits.pkl"
#: A few weights and biases to watch converge: ("w", l, j, i) is the weight from
#: neuron i of layer l-1 to neuron j of layer l, ("b", l, j) the bias of neuron j.
WATCHED = [("w", 2, 1, 20), ("w", 2, 7, 36), ("w", 3, 5, 100), ("w", 4, 3, 64), ("b", 2, 1), ("b", 4, 3)]


def train_digits_model(verbose=1):
    """The demo network, trained on the demo split of the raw digits; returns (model, X_test, y_test)."""
    X, y = load_digits()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.1, random_state=0)
    # one BLAS thread: different thread counts round differently in the last bit, and
    # a rerun must give the same weights for the file to stay as it is
    model = DNN(lr=0.01, momentum=0.9, l2=1e-4, seed=1, standardize=True, threads=1)
    model.addInputLayer([64])
    model.addHiddenLayer([256, 128], activation="relu")
    model.addOutputLayer([10], activation="softmax")
    if verbose:
        model.summary()
    model.fit(X_train, y_train, epochs=40, batchSize=16, verbose=verbose, parameterList=WATCHED)
    return model, X_test, y_test


def same_but_timing(model, path):
    """Whether the model file at ``path`` holds ``model`` exactly, apart from the history's times."""
    try:
        saved = DNN.importModel(path)
    except (ModelFileError, OSError):
        return False
    return _equal(_untimed(to_payload(model)), _untimed(to_payload(saved)))


def _untimed(payload):
    payload["history"] = {key: values for key, values in payload["history"].items() if key != "time"}
    return payload


def _equal(a, b):
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[key], b[key]) for key in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(a, b) and np.asarray(a).dtype == np.asarray(b).dtype
    return type(a) is type(b) and a == b


def save_if_changed(model, path):
    """Save ``model`` to ``path`` unless the file already holds it; returns whether it wrote."""
    if same_but_timing(model, path):
        return False
    model.saveModel(path)
    return True


def main():
    model, X_test, y_test = train_digits_model()
    print("\nTest set:")
    result = model.modelEvaluate(X_test, y_test)
    if save_if_changed(model, MODEL_PATH):
        print(f"\nSaved to {MODEL_PATH}")
    else:
        print(f"\n{MODEL_PATH} already holds this model (only the timing differs): left as it is")
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
