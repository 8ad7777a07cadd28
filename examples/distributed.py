"""Train one dnn model on several processes, on one machine or several: ``fit(..., distributed=True)`` under torchrun.

torchrun starts this script once per process. Every process loads the same
data and builds the same model; ``fit(distributed=True)`` gives each process
its share of every global batch, sums their gradients with torch.distributed
(gloo) and makes the same update in all of them, so every process ends with
the same weights: those of one process trained with the same global batch, to
float rounding. Rank 0 alone prints, evaluates and saves.

The data: MNIST (8,000 of the official test set to train, 2,000 to test) when
``../shared/data/mnist`` holds it, else scikit-learn's 8x8 digits (1,500 to
train, 297 to test); ``--data`` chooses.

Run from the repository root::

    torchrun --nproc_per_node 2 examples/distributed.py            # 2 processes on this machine
    torchrun --nproc_per_node 2 examples/distributed.py --quick    # the digits, 5 epochs: CI runs it
    python examples/distributed.py                                  # one process, without torchrun

On two machines, run the same command on each (``--node_rank 0`` on the one
whose address every machine can reach, 1 on the other; the same data on both)::

    torchrun --nnodes 2 --nproc_per_node 2 --node_rank 0 --master_addr 10.0.0.1 --master_port 29500 \\
        examples/distributed.py
    torchrun --nnodes 2 --nproc_per_node 2 --node_rank 1 --master_addr 10.0.0.1 --master_port 29500 \\
        examples/distributed.py

Needs PyTorch (for torch.distributed) and, for the digits, scikit-learn: pip install -e ".[torch,sklearn]".
"""

import argparse
import os
from pathlib import Path

import numpy as np

from dnn import DNN
from dnn.datasets import load_digits, load_mnist
from dnn.engine.distributed import finish, is_main_process

MNIST_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


def data(choice, quick):
    """(X_train, y_train, X_test, y_test, hidden units, name) of the chosen data set."""
    if choice == "auto":
        choice = "mnist" if (MNIST_DIR / "t10k-images-idx3-ubyte.gz").exists() and not quick else "digits"
    if choice == "mnist":
        X, y = load_mnist(MNIST_DIR, normalize=True)
        return X[:8000], y[:8000], X[8000:], y[8000:], [128, 64], "MNIST"
    X, y = load_digits()
    X = X / 16
    return X[:1500], y[:1500], X[1500:], y[1500:], [64], "digits"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the digits, 5 epochs, for CI")
    parser.add_argument("--data", choices=["auto", "mnist", "digits"], default="auto")
    parser.add_argument("--epochs", type=int, default=None, help="default 10 (5 with --quick)")
    parser.add_argument("--batch", type=int, default=128, help="rows of every global batch, shared by the processes")
    parser.add_argument("--threads", type=int, default=None,
                        help="BLAS threads per process (default: chosen, at most the cores / processes on a machine)")
    parser.add_argument("--out", type=Path, default=None, help="save the trained model there (rank 0)")
    args = parser.parse_args(argv)
    distributed = "RANK" in os.environ  # started by torchrun
    X_train, y_train, X_test, y_test, hidden, name = data(args.data, args.quick)
    epochs = args.epochs or (5 if args.quick else 10)

    # The same seed everywhere is tidy, not needed: every process starts from rank 0's weights and generator.
    model = DNN(lr=0.1, momentum=0.9, seed=0, threads=args.threads)
    model.addInputLayer([X_train.shape[1]])
    model.addHiddenLayer(hidden, activation="relu", dropout=0.1)
    model.addOutputLayer([10], activation="softmax")
    model.fit(X_train, y_train, epochs=epochs, batchSize=args.batch, verbose=0, distributed=distributed)
    seconds = float(np.mean(model.history["time"]))  # the epochs alone, not the start of the process group

    if is_main_process():  # every process holds the same model: one evaluates and saves it
        processes = int(os.environ.get("WORLD_SIZE", "1"))
        accuracy = model.modelEvaluate(X_test, y_test, verbose=0)["accuracy"]
        print(f"{name}, {epochs} epochs in global batches of {args.batch} rows on {processes} "
              f"process{'es' if processes > 1 else ''}: test accuracy {accuracy:.4f}, {seconds:.3f} s/epoch")
        if args.out is not None:
            model.saveModel(args.out)
            print(f"saved to {args.out}")
    finish()  # every rank waits for rank 0, then the process group closes


if __name__ == "__main__":
    main()
