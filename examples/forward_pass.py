"""Lesson 2: the activation functions by hand, a textbook forward pass, batch inference on MNIST.

1. step, sigmoid, relu and softmax called on numbers and vectors.
2. The 3-layer network of *Deep Learning from Scratch* (3.4.3) with its
   hand-set weights: the input (1.0, 0.5) gives (0.31682708, 0.69627909).
3. MNIST read from a CSV file (written here from the official IDX test set in
   ``../shared/data/mnist``), a 784-50-100-10 sigmoid network trained on part
   of it, and inference one row at a time and in batches of 100: the same
   answers either way, the batches much faster.

Run: ``python examples/forward_pass.py [--mnist DIR]`` (``--quick``: fewer rows).
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from dnn import DNN, activations
from dnn.datasets import load_mnist

MNIST_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


def by_hand():
    print("Activations by hand:")
    z = np.array([-1.0, 0.0, 2.0])
    print(f"  step({z.tolist()})    = {activations.step(z)}")
    print(f"  sigmoid({z.tolist()}) = {activations.sigmoid(z)}")
    print(f"  relu({z.tolist()})    = {activations.relu(z)}")
    print(f"  sigmoid(0.0) = {activations.sigmoid(0.0)}, its derivative {activations.sigmoid_derivative(0.0)}")
    a = np.array([0.3, 2.9, 4.0])
    print(f"  softmax({a.tolist()}) = {activations.softmax(a)} (sums to {activations.softmax(a).sum():.6f})")


def textbook_network():
    """The book's network: 2 -> 3 -> 2 sigmoid -> 2 identity, weights set by hand."""
    model = DNN(dtype="float64")
    model.addInputLayer([2])
    model.addHiddenLayer([3, 2], activation="sigmoid")
    model.addOutputLayer([2], activation="identity")
    model.w[2] = np.array([[0.1, 0.3, 0.5], [0.2, 0.4, 0.6]])
    model.b[2] = np.array([0.1, 0.2, 0.3])
    model.w[3] = np.array([[0.1, 0.4], [0.2, 0.5], [0.3, 0.6]])
    model.b[3] = np.array([0.1, 0.2])
    model.w[4] = np.array([[0.1, 0.3], [0.2, 0.4]])
    model.b[4] = np.array([0.1, 0.2])
    return model


def write_mnist_csv(images, labels, path):
    """A Kaggle-style CSV: a header, then label and 784 pixels per row."""
    header = "label," + ",".join(f"pixel{i}" for i in range(images.shape[1]))
    table = np.column_stack([labels, images]).astype(np.int64)
    np.savetxt(path, table, fmt="%d", delimiter=",", header=header, comments="")


def mnist_inference(mnist_dir, rows):
    if not (mnist_dir / "t10k-images-idx3-ubyte.gz").exists():
        print(f"\nMNIST part skipped: no t10k-images-idx3-ubyte.gz in {mnist_dir} (pass --mnist DIR)")
        return
    images, labels = load_mnist(mnist_dir)
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "mnist_test.csv"
        write_mnist_csv(images[:rows], labels[:rows], csv)
        X, y = load_mnist(csv, normalize=True)
        print(f"\nMNIST from CSV: {X.shape[0]} rows of {X.shape[1]} pixels read from {csv.name}")
    split = rows * 4 // 5
    model = DNN(lr=0.5, seed=0)
    model.addInputLayer([784])
    model.addHiddenLayer([50, 100], activation="sigmoid")
    model.addOutputLayer([10], activation="softmax")
    model.fit(X[:split], y[:split], epochs=5, batchSize=32, verbose=0)
    X_test, y_test = X[split:], y[split:]

    start = time.perf_counter()
    one_by_one = np.array([model.predict(X_test[i:i + 1])[0] for i in range(len(X_test))])
    single = time.perf_counter() - start
    start = time.perf_counter()
    batched = np.concatenate([model.predict(X_test[i:i + 100]) for i in range(0, len(X_test), 100)])
    batch = time.perf_counter() - start
    same = np.array_equal(one_by_one, batched)
    print(f"  trained on {split} rows; on the other {len(X_test)}: accuracy {np.mean(batched == y_test):.4f}")
    print(f"  one row at a time and batches of 100 give {'the same' if same else 'DIFFERENT'} answers "
          f"({single * 1e3:.0f} ms vs {batch * 1e3:.0f} ms)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 MNIST rows instead of 10,000")
    parser.add_argument("--mnist", type=Path, default=MNIST_DIR, help="directory of the MNIST IDX test set")
    args = parser.parse_args(argv)
    np.set_printoptions(precision=8)
    by_hand()
    model = textbook_network()
    out = model.forwardPropagation(np.array([[1.0, 0.5]]))
    print(f"\nTextbook network, input [1.0, 0.5]: output {out[0]}")
    print(f"  first hidden layer's output: {model.layerOutputs[2][0]}")
    mnist_inference(args.mnist, 2000 if args.quick else 10000)


if __name__ == "__main__":
    main()
