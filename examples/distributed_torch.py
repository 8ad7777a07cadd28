"""Train a dnn model further in PyTorch itself, with DistributedDataParallel, and bring it back.

To train a dnn model on several processes or machines, dnn itself does it:
``fit(..., distributed=True)`` under torchrun (``examples/distributed.py``).
This example is for PyTorch itself: it takes a dnn model into PyTorch with
``toTorch``, trains it with ``torch.distributed`` (DistributedDataParallel, the
gloo backend, 2 processes on this machine started by
``torch.multiprocessing.spawn``; across machines, start the same worker with
``torchrun --nnodes ...``), brings the weights back with ``DNN.fromTorch`` and
evaluates them with ``modelEvaluate``.

Run from the repository root::

    python examples/distributed_torch.py            # 30 epochs
    python examples/distributed_torch.py --quick    # a few seconds, for CI

Needs PyTorch and scikit-learn (for the digits): pip install "dnn-numpy[torch,sklearn]".
"""

import argparse
import os
import socket
import tempfile

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from dnn import DNN
from dnn.datasets import load_digits

WORLD_SIZE = 2


def worker(rank, sequential, X, y, epochs, port, out_path):
    """One training process: its shard of the data, gradients averaged with the others after every batch."""
    torch.set_num_threads(1)  # two processes on a small machine: one core each
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD_SIZE)
    # Train on the logits: CrossEntropyLoss applies the softmax (the last module) itself, stably.
    logits = sequential[:-1]
    model = DistributedDataParallel(logits)
    data = TensorDataset(torch.from_numpy(X), torch.from_numpy(y))
    sampler = DistributedSampler(data, num_replicas=WORLD_SIZE, rank=rank, shuffle=True, seed=0)
    loader = DataLoader(data, batch_size=32, sampler=sampler)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9)
    loss_function = torch.nn.CrossEntropyLoss()
    for epoch in range(epochs):
        sampler.set_epoch(epoch)
        for inputs, targets in loader:
            optimizer.zero_grad()
            loss_function(model(inputs), targets).backward()
            optimizer.step()
    if rank == 0:  # every replica holds the same weights; one writes them
        torch.save(sequential.state_dict(), out_path)
    # Both ranks leave together: one tearing gloo down while the other was still in it aborted the process once in
    # CI ("terminate called without an active exception").
    dist.barrier()
    dist.destroy_process_group()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few epochs, for CI")
    args = parser.parse_args()
    X, y = load_digits()
    X = (X / 16).astype(np.float32)
    X_train, X_test, y_train, y_test = X[:1500], X[1500:], y[:1500], y[1500:]

    model = DNN(lr=0.01, seed=0, standardize=True)
    model.addInputLayer([64])
    model.addHiddenLayer([64], activation="relu")
    model.addOutputLayer([10], activation="softmax")
    model.fit(X_train, y_train, epochs=1, batchSize=64, verbose=0)  # a short start on one machine
    before = model.modelEvaluate(X_test, y_test, verbose=0)["accuracy"]
    print(f"dnn model, 1 epoch on one machine: test accuracy {before:.4f}")

    sequential = model.toTorch()
    epochs = 3 if args.quick else 30
    with tempfile.TemporaryDirectory() as directory:
        out_path = os.path.join(directory, "weights.pt")
        mp.spawn(worker, args=(sequential, X_train, y_train.astype(np.int64), epochs, free_port(), out_path),
                 nprocs=WORLD_SIZE, join=True)
        sequential.load_state_dict(torch.load(out_path))
    trained = DNN.fromTorch(sequential)
    after = trained.modelEvaluate(X_test, y_test, verbose=0)["accuracy"]
    print(f"after {epochs} epochs of DistributedDataParallel ({WORLD_SIZE} processes, gloo): "
          f"test accuracy {after:.4f}")


if __name__ == "__main__":
    main()
