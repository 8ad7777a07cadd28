"""Lesson 5: the object-oriented DNN class on MNIST, with the network's weights watched as it learns.

Build a 784-128-64-10 relu/softmax network, print its ``summary``, fit it with
mini-batches and a decaying learning rate while recording a few weights
that do move: the weights from the central pixel (row 14, column 14, input
neuron 407), which is ink in most digits (a corner pixel is always 0, so its
weights get no gradient and stay flat). Then draw the convergence curves and
the first layer's weights as 28x28 images, save the model, load it back and
evaluate it on held-out digits.

MNIST is the official test set in ``../shared/data/mnist`` (10,000 digits:
8,000 to train, 2,000 to test); the lesson is skipped with a message when it
is absent.

Run: ``python examples/mnist_class.py [--mnist DIR] [--out DIR]`` (``--quick``: fewer rows and epochs).
"""

import argparse
from pathlib import Path

import numpy as np

from dnn import DNN
from dnn.datasets import load_mnist

MNIST_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
CENTRE = 14 * 28 + 14 + 1   # 1-based input neuron of pixel (14, 14); neuron 1 is the always-blank corner
WATCHED = [("w", 2, 1, 1), ("w", 2, 1, CENTRE), ("w", 2, 2, CENTRE), ("w", 2, 3, CENTRE),
           ("w", 3, 1, 1), ("b", 2, 1), ("b", 4, 1)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 training rows, 2 epochs")
    parser.add_argument("--mnist", type=Path, default=MNIST_DIR, help="directory of the MNIST IDX test set")
    parser.add_argument("--out", type=Path, default=Path("lesson_output"), help="where figures and the model go")
    args = parser.parse_args(argv)
    if not (args.mnist / "t10k-images-idx3-ubyte.gz").exists():
        print(f"Lesson skipped: no t10k-images-idx3-ubyte.gz in {args.mnist} (pass --mnist DIR)")
        return
    X, y = load_mnist(args.mnist, normalize=True)
    X_train, y_train, X_test, y_test = X[:8000], y[:8000], X[8000:], y[8000:]
    epochs = 10
    if args.quick:
        X_train, y_train, epochs = X_train[:2000], y_train[:2000], 2
    args.out.mkdir(parents=True, exist_ok=True)

    model = DNN(lr=0.05, decay=0.05, momentum=0.9, seed=0)
    model.addInputLayer([784])
    model.addHiddenLayer([128, 64], activation="relu")
    model.addOutputLayer([10], activation="softmax")
    model.summary()
    model.fit(X_train, y_train, epochs=epochs, batchSize=64, verbose=0, parameterList=WATCHED)
    print(f"Trained {epochs} epochs on {len(X_train)} digits: loss {model.history['loss'][0]:.4f} -> "
          f"{model.history['loss'][-1]:.4f}, lr {model.history['lr'][0]:.4f} -> {model.history['lr'][-1]:.4f}")
    print("Recorded parameters, first value -> last (how far each moved):")
    for spec, values in model.parameterRecord.items():
        print(f"  {spec!s:22s} {values[0]:+.4f} -> {values[-1]:+.4f}  (moved {abs(values[-1] - values[0]):.4f})")

    model.drawConvergenceCurve(args.out / "mnist_convergence.png")
    model.drawWeights(2, path=args.out / "mnist_weights.png")
    path = args.out / "mnist_model.pkl"
    model.saveModel(path)
    loaded = DNN.importModel(path)
    same = np.array_equal(loaded.predict(X_test), model.predict(X_test))
    accuracy = loaded.modelEvaluate(X_test, y_test, verbose=0)["accuracy"]
    print(f"Wrote {args.out / 'mnist_convergence.png'}, {args.out / 'mnist_weights.png'} and {path}")
    print(f"Loaded back: predictions {'match' if same else 'DIFFER'}; "
          f"test accuracy on {len(X_test)} held-out digits {accuracy:.4f}")


if __name__ == "__main__":
    main()
