"""Seconds per training epoch on an NVIDIA GPU: dnn (CuPy) against PyTorch on the same GPU and dnn on the same CPU.

The workloads: 784-256-128-10 (``mnist``) and 784-2048-2048-10 (``wide``), relu hidden layers, softmax +
cross-entropy, SGD with momentum 0.9 at rate 0.01, batches of 128 and 1024, float32, 60,000 MNIST-shaped rows of
random pixels. The systems:

- ``dnn-gpu``: ``DNN(lr=0.01, momentum=0.9, seed=0, device="cuda")``, ``fit(X, y, epochs=..., batchSize=...,
  verbose=0)`` on numpy arrays (fit copies the rows to the GPU once per call);
- ``torch``: the same network in PyTorch on "cuda", ``torch.optim.SGD(momentum=0.9)``, the rows already on the
  GPU, a ``torch.randperm`` order per epoch and index batches, the running loss and accuracy read every batch as
  dnn reads them;
- ``dnn-cpu``: dnn with ``device="cpu"`` (its automatic BLAS threads) on ``--cpu-rows`` rows, its time scaled to
  ``--rows`` rows (the output says so).

Every system runs in a fresh process, trains one warm-up epoch (CuPy compiles its kernels on first use), then
``--epochs`` epochs; a measurement is one epoch's training pass. dnn's is its history's epoch time (the epoch
ends with a check of the weights that reads a result back from the GPU); fit's setup (input checks, the copy of the
rows to the device) is printed apart, as PyTorch's copy of the rows to the GPU is not timed either. The GPU work is
synchronized before the clock is read (``cupy.cuda.Device().synchronize()``, ``torch.cuda.synchronize()``).
PyTorch's products are plain float32 (TF32 off, its default, set explicitly); CuPy's follow its ``CUPY_TF32``
setting, printed with the results. The systems alternate over rounds, their order rotating. Times are printed in
ms/epoch; next to the medians the minimum is printed too (the least disturbed run), and the ratios measured in this
run next to the issue's targets: within 1.5x of PyTorch per epoch at batch 1024 on both networks (torch/dnn-gpu at
least 0.67), and at least 10x faster than dnn on the same machine's CPU on the wide network (dnn-cpu/dnn-gpu at
least 10).

    python benchmarks/bench_gpu.py [--rounds 5] [--epochs 4] [--networks mnist,wide] [--batches 128,1024]
        [--rows 60000] [--cpu-rows 10000] [--systems dnn-gpu,torch,dnn-cpu]

Without CuPy or a CUDA GPU it prints one line saying what is missing and exits 0 (so CI can run it); without
PyTorch, or with a PyTorch that has no CUDA, it skips ``torch``. Run it from the repository with the dnn to measure
importable (``PYTHONPATH=.`` from a worktree); the workers inherit the environment.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import warnings

import numpy as np
from bench_fit import report  # beside this script
from common import mlp_trainer

NETWORKS = {"mnist": (784, 256, 128, 10), "wide": (784, 2048, 2048, 10)}
SYSTEMS = ["dnn-gpu", "torch", "dnn-cpu"]
ROWS, CPU_ROWS = 60_000, 10_000
LR, MOMENTUM = 0.01, 0.9
TORCH_DEVICE = "cuda"
# (numerator, denominator, networks, batches (None: all), least ratio, what the issue asks)
TARGETS = [("torch", "dnn-gpu", ("mnist", "wide"), (1024,), 1 / 1.5, "dnn on the GPU within 1.5x of PyTorch"),
           ("dnn-cpu", "dnn-gpu", ("wide",), None, 10.0, "dnn on the GPU 10x faster than on this CPU")]


def data(widths, rows):
    rng = np.random.default_rng(0)
    return rng.random((rows, widths[0]), dtype=np.float32), rng.integers(0, widths[-1], rows)


def synchronizer(device):
    """A function that waits for the work queued on ``device`` ("cuda": CuPy's current GPU; "cpu": nothing)."""
    if device == "cpu":
        return lambda: None
    import cupy

    return cupy.cuda.Device().synchronize


def dnn_epochs(widths, rows, batch, epochs, device):
    """Seconds of each epoch's training pass, and fit's time outside them, after a one-epoch warm-up fit."""
    from dnn import DNN, TrainingStalledWarning

    X, y = data(widths, rows)
    model = DNN(lr=LR, momentum=MOMENTUM, seed=0, device=device)
    model.addInputLayer([widths[0]])
    model.addHiddenLayer(list(widths[1:-1]), activation="relu")
    model.addOutputLayer([widths[-1]], activation="softmax")
    synchronize = synchronizer(device)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TrainingStalledWarning)  # random labels: nothing to learn
        model.fit(X, y, epochs=1, batchSize=batch, verbose=0)  # warm-up
        synchronize()
        started = time.perf_counter()
        model.fit(X, y, epochs=epochs, batchSize=batch, verbose=0)
        synchronize()
        total = time.perf_counter() - started
    per_epoch = model.history["time"][-epochs:]
    return per_epoch, total - sum(per_epoch)


def torch_epochs(widths, rows, batch, epochs):
    """Seconds of each of ``epochs`` epochs of PyTorch on the GPU, after a warm-up epoch; no setup is timed."""
    import torch

    torch.backends.cuda.matmul.allow_tf32 = False  # PyTorch's default, stated: float32 products, as CuPy's
    # its loss and correct count are read every batch, as dnn reads its own
    train = mlp_trainer(widths, *data(widths, rows), LR, MOMENTUM, device=TORCH_DEVICE)
    synchronize = torch.cuda.synchronize if TORCH_DEVICE == "cuda" else (lambda: None)
    train(rows, batch)  # warm-up
    times = []
    for _ in range(epochs):
        synchronize()
        started = time.perf_counter()
        train(rows, batch)
        synchronize()
        times.append(time.perf_counter() - started)
    return times, 0.0


def worker(system, network, batch, rows, epochs):
    widths = NETWORKS[network]
    if system == "torch":
        return torch_epochs(widths, rows, batch, epochs)
    return dnn_epochs(widths, rows, batch, epochs, "cuda" if system == "dnn-gpu" else "cpu")


def run_worker(system, network, batch, rows, epochs):
    """(seconds of each epoch, fit's setup seconds) of ``system`` in a fresh process; exits with its error."""
    command = [sys.executable, __file__, "--worker", system, "--networks", network, "--batches", str(batch),
               "--rows", str(rows), "--epochs", str(epochs)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode:
        sys.exit(f"{system} failed on {network} at batch {batch}:\n{result.stderr}")
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    return answer["seconds"], answer["setup"]


def missing_gpu():
    """Why dnn cannot train on a GPU here (no CuPy, no CUDA GPU), or None when it can."""
    from dnn.devices import get_device

    try:
        get_device("cuda")
    except (ImportError, RuntimeError) as error:
        return str(error)
    return None


def missing_torch_gpu():
    """Why PyTorch cannot train on the GPU here, or None when it can."""
    try:
        import torch
    except ImportError:
        return "PyTorch is not installed"
    if not torch.cuda.is_available():
        return f"this PyTorch ({torch.__version__}) has no CUDA or sees no GPU"
    return None


def machine():
    """One line naming the GPU, the CPUs and the libraries measured."""
    import cupy

    name = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)["name"]
    name = name.decode() if isinstance(name, bytes) else name
    return (f"GPU: {name}, CuPy {cupy.__version__} (CUPY_TF32={os.environ.get('CUPY_TF32', 'unset')}); "
            f"CPUs: {len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()}")


def measure(args, systems, workloads):
    """(times, setups): ``times[workload][system]`` a list of rounds, each a list of seconds per epoch (dnn-cpu's
    scaled to ``--rows`` rows); ``setups[workload][system]`` fit's seconds outside the epochs, one per round."""
    times = {workload: {system: [] for system in systems} for workload in workloads}
    setups = {workload: {system: [] for system in systems} for workload in workloads}
    cpu_rows = min(args.cpu_rows, args.rows)
    for round_number in range(args.rounds):
        shift = round_number % len(systems)
        for network, batch in workloads:
            for system in systems[shift:] + systems[:shift]:  # the order rotates from round to round
                rows = cpu_rows if system == "dnn-cpu" else args.rows
                seconds, setup = run_worker(system, network, batch, rows, args.epochs)
                times[network, batch][system].append([s * args.rows / rows for s in seconds])
                setups[network, batch][system].append(setup)
        print(f"round {round_number + 1} (ms/epoch): " + "; ".join(
            f"{network} b{batch} " + ", ".join(f"{s} {1000 * statistics.median(times[network, batch][s][-1]):.1f}"
                                                for s in systems)
            for network, batch in workloads), flush=True)
    return times, setups


def print_targets(times):
    """The ratios of medians measured in this run, next to the issue's targets."""
    print("\ntargets (ratios of medians in this run; at least the figure named):")
    for top, bottom, networks, batches, least, what in TARGETS:
        for (network, batch), found in times.items():
            if network not in networks or (batches is not None and batch not in batches):
                continue
            label = f"  {'-'.join(map(str, NETWORKS[network]))} batch {batch}: {top}/{bottom}"
            if top not in found or bottom not in found:
                print(f"{label} not measured in this run ({what}: at least {least:.2f})")
                continue
            ratio = (statistics.median(t for run in found[top] for t in run)
                     / statistics.median(t for run in found[bottom] for t in run))
            verdict = "met" if ratio >= least else "NOT met"
            print(f"{label} {ratio:.2f}, target at least {least:.2f} ({what}): {verdict}")


def print_results(args, times, setups):
    for (network, batch), found in times.items():
        print(f"\n{'-'.join(map(str, NETWORKS[network]))} ({network}), batch {batch}, {args.rows:,} rows")
        in_ms = {system: [[1000 * t for t in run] for run in runs] for system, runs in found.items()}
        report(in_ms, [("torch", "dnn-gpu"), ("dnn-cpu", "dnn-gpu")], unit="ms/epoch")
        found = [f"{system} {statistics.median(setups[network, batch][system]):.3f} s"
                 + (f" (on {min(args.cpu_rows, args.rows):,} rows)" if system == "dnn-cpu" else "")
                 for system in ("dnn-gpu", "dnn-cpu") if system in setups[network, batch]]
        print("fit's setup outside the epochs, in no ms/epoch (input checks; on the GPU also the copy of the rows): "
              + ", ".join(found))
    print_targets(times)


def names(text, valid):
    """The comma-separated ``text`` as a list, every entry one of ``valid``."""
    chosen = [name.strip() for name in text.split(",") if name.strip()]
    wrong = [name for name in chosen if name not in valid]
    if wrong or not chosen:
        raise argparse.ArgumentTypeError(f"expected some of {', '.join(valid)}, got {text!r}")
    return chosen


def positive(text):
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return int(text)


def arguments(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=positive, default=5)
    parser.add_argument("--epochs", type=positive, default=4, help="epochs timed in each run, after a warm-up one")
    parser.add_argument("--networks", type=lambda text: names(text, list(NETWORKS)),
                        default=list(NETWORKS), help="mnist (784-256-128-10), wide (784-2048-2048-10)")
    parser.add_argument("--batches", type=lambda text: [positive(b) for b in text.split(",")], default=[128, 1024])
    parser.add_argument("--rows", type=positive, default=ROWS)
    parser.add_argument("--cpu-rows", type=positive, default=CPU_ROWS,
                        help="rows dnn-cpu trains on; its s/epoch is scaled to --rows rows")
    parser.add_argument("--systems", type=lambda text: names(text, SYSTEMS), default=SYSTEMS)
    parser.add_argument("--worker", choices=SYSTEMS, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv=None):
    args = arguments(argv)
    if args.worker:
        seconds, setup = worker(args.worker, args.networks[0], args.batches[0], args.rows, args.epochs)
        print(json.dumps({"seconds": seconds, "setup": setup}))
        return
    missing = missing_gpu()
    if missing:
        print(f"bench_gpu: nothing measured, no GPU for dnn here: {missing}")
        return
    systems = list(args.systems)
    if "torch" in systems:
        torch_missing = missing_torch_gpu()
        if torch_missing:
            print(f"skipping torch: {torch_missing}")
            systems.remove("torch")
    if not systems:
        return
    print(machine())
    if "dnn-cpu" in systems and min(args.cpu_rows, args.rows) < args.rows:
        print(f"dnn-cpu trains on {min(args.cpu_rows, args.rows):,} rows; its s/epoch is scaled to "
              f"{args.rows:,} rows (x{args.rows / args.cpu_rows:g})")
    workloads = [(network, batch) for network in args.networks for batch in args.batches]
    times, setups = measure(args, systems, workloads)
    print_results(args, times, setups)


if __name__ == "__main__":
    main()
