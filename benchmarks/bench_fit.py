"""Seconds per training epoch: dnn against the GEMM floor, PyTorch (CPU) and scikit-learn.

The workload (by default): 784-256-128-10, relu hidden layers, softmax + cross-entropy, SGD
with momentum 0.9, batches of 128, float32, 60,000 MNIST-shaped rows of random
pixels. The GEMM floor times only the matrix products one epoch needs at these
shapes (forward, weight gradients, and the deltas of the hidden layers), at the
BLAS thread count dnn's automatic policy chose in the same round (dnn runs
first in every round; without dnn, at every available CPU).

Every system runs in a fresh process (PyTorch's worker threads keep spinning
after its calls and would slow whatever ran next), trains one warm-up epoch,
then trains ``--epochs`` epochs; each measurement is one epoch's share of that
whole training call (setup and input checks included). The systems alternate
over several rounds.
On a shared machine other tenants only ever slow a measurement down, so next
to the medians the minimum is printed too: the least disturbed run.

    python benchmarks/bench_fit.py [--rounds 8] [--epochs 4] [--systems floor,dnn,torch,sklearn]
        [--hidden 256,128] [--batch 128] [--rows 60000] [--activation relu] [--optimizer sgd]
    python benchmarks/bench_fit.py --breakdown [--threads N] [the workload's options]

``--hidden``, ``--batch`` and ``--rows`` change the workload (e.g. ``--hidden 2048,2048 --batch 16 --rows 4000``
for bench_threads' wide network), to find how close any system can come to the floor there; ``--activation``
(relu, sigmoid, tanh) sets the hidden layers' activation in every system, ``--optimizer adam`` trains with Adam
at rate 0.001 (no momentum) in place of SGD.

``--breakdown`` runs none of that: it trains dnn alone, in a fresh process, one warm-up epoch and then ``--epochs``
epochs with timers around the engine's functions (``breakdown.py``), at ``--threads`` BLAS threads or dnn's own
choice, and prints per batch the time in the matrix products, the optimizer's update, gathering the batch's rows,
the activations, the loss and output delta, fit's setup (its time outside the epochs) and the rest, with the GEMM
floor per batch at the same thread count.
"""

import argparse
import json
import math
import statistics
import subprocess
import sys
import time
import warnings

import numpy as np
from common import available, mlp_trainer  # beside this script; torch is imported inside

ROWS, FEATURES, CLASSES = 60_000, 784, 10
HIDDEN = (256, 128)
BATCH, MOMENTUM = 128, 0.9
ACTIVATION, OPTIMIZER = "relu", "sgd"
RATES = {"sgd": 0.01, "adam": 0.001}
SKLEARN_ACTIVATIONS = {"relu": "relu", "sigmoid": "logistic", "tanh": "tanh"}


def data():
    rng = np.random.default_rng(0)
    X = rng.random((ROWS, FEATURES), dtype=np.float32)
    y = rng.integers(0, CLASSES, ROWS)
    return X, y


def timed(run, epochs):
    """Seconds of each of ``epochs`` calls of ``run``, after one warm-up call."""
    run()
    times = []
    for _ in range(epochs):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return times


def floor_epochs(epochs, threads=None):
    """The matrix products of one epoch, into preallocated arrays, at ``threads`` BLAS threads."""
    from dnn.threads import available_cpus, blas_threads

    with blas_threads(threads or available_cpus()):
        return _floor_epochs(epochs)


def _floor_epochs(epochs):
    rng = np.random.default_rng(1)
    sizes = [FEATURES, *HIDDEN, CLASSES]
    weights = [rng.standard_normal((a, b), dtype=np.float32) for a, b in zip(sizes[:-1], sizes[1:])]
    x = rng.random((BATCH, FEATURES), dtype=np.float32)
    outputs = [rng.random((BATCH, s), dtype=np.float32) for s in sizes[1:]]
    deltas = [rng.random((BATCH, s), dtype=np.float32) for s in sizes[1:]]
    grads = [np.empty_like(w) for w in weights]
    batches = [min(BATCH, ROWS - start) for start in range(0, ROWS, BATCH)]

    def epoch():
        for m in batches:
            inputs = [x[:m]] + [a[:m] for a in outputs]
            for i, w in enumerate(weights):
                np.matmul(inputs[i], w, out=outputs[i][:m])
            for i in reversed(range(len(weights))):
                np.matmul(inputs[i].T, deltas[i][:m], out=grads[i])
                if i > 0:
                    np.matmul(deltas[i][:m], weights[i].T, out=deltas[i - 1][:m])

    return timed(epoch, epochs)


def dnn_model(threads=None):
    """The workload's network in dnn, at ``threads`` BLAS threads (None: dnn's automatic choice)."""
    from dnn import DNN

    momentum = {"momentum": MOMENTUM} if OPTIMIZER == "sgd" else {}
    model = DNN(lr=RATES[OPTIMIZER], optimizer=OPTIMIZER, seed=0, threads=threads, **momentum)
    model.addInputLayer([FEATURES])
    model.addHiddenLayer(list(HIDDEN), activation=ACTIVATION)
    model.addOutputLayer([CLASSES], activation="softmax")
    return model


def dnn_epochs(epochs, threads=None):
    X, y = data()
    model = dnn_model()
    model.fit(X, y, epochs=1, batchSize=BATCH, verbose=0)  # warm-up
    started = time.perf_counter()
    model.fit(X, y, epochs=epochs, batchSize=BATCH, verbose=0)
    total = time.perf_counter() - started
    # each epoch's own time, plus an equal share of fit's setup and checks
    per_epoch = model.history["time"][-epochs:]
    return [t + (total - sum(per_epoch)) / epochs for t in per_epoch], model.thread_policy().chosen


def dnn_breakdown(epochs, threads=None):
    """Print where dnn's time per batch goes in a fit of ``epochs`` epochs after a warm-up one (see breakdown.py)."""
    from breakdown import Breakdown, timer_cost  # beside this script

    from dnn import TrainingStalledWarning

    X, y = data()
    model = dnn_model(threads)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TrainingStalledWarning)  # random labels: nothing to learn
        model.fit(X, y, epochs=1, batchSize=BATCH, verbose=0)  # warm-up
        with Breakdown(model.optimizer) as breakdown:
            started = time.perf_counter()
            model.fit(X, y, epochs=epochs, batchSize=BATCH, verbose=0)
            seconds = time.perf_counter() - started
    per_epoch = math.ceil(ROWS / BATCH)
    batches = epochs * per_epoch
    policy = model.thread_policy()
    count = policy.threads or policy.chosen
    floor = 1e6 * statistics.median(floor_epochs(epochs, count)) / per_epoch
    # fit's checks and preparation: its time outside the epochs, spread over the batches
    setup = seconds - sum(model.history["time"][-epochs:])
    shown = breakdown.per_batch(seconds, batches, setup)
    total = 1e6 * seconds / batches
    calls = sum(breakdown.calls.values()) / batches
    print(f"dnn {'-'.join(map(str, (FEATURES, *HIDDEN, CLASSES)))} {ACTIVATION}, {OPTIMIZER}, batch {BATCH}, "
          f"{ROWS:,} rows, {epochs} epoch(s) after a warm-up one; BLAS threads: {count} "
          + ("(pinned)" if policy.threads else "(dnn's choice: " + ", then ".join(
              f"{used} from batch {batch}" for batch, used in policy.changes) + ")"))
    print(f"breakdown (us per batch, {batches} batches; each bucket includes its timers, {calls:.0f} calls a batch "
          f"at {timer_cost():.2f} us each): "
          + ", ".join(f"{bucket} {_us(value)} ({100 * value / total:.0f}%)" for bucket, value in shown.items())
          + f"; total {_us(total)} (fit {seconds:.6f} s)")
    print(f"GEMM floor: {_us(floor)} us per batch at {count} BLAS threads (the products of the forward and "
          f"backward passes alone, into preallocated arrays: compare with products)")
    if breakdown.missed:
        print(f"note: no call reached the timers of {', '.join(breakdown.missed)}: the engine no longer calls what "
              f"benchmarks/breakdown.py wraps, and that time is in the rest")


def _us(value):
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.1f}"


def torch_epochs(epochs, threads=None):
    train = mlp_trainer((FEATURES, *HIDDEN, CLASSES), *data(), RATES[OPTIMIZER], MOMENTUM, ACTIVATION, OPTIMIZER)
    return timed(lambda: train(ROWS, BATCH), epochs)


def sklearn_epochs(epochs, threads=None):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    X, y = data()

    def model(iterations):
        return MLPClassifier(hidden_layer_sizes=HIDDEN, activation=SKLEARN_ACTIVATIONS[ACTIVATION],
                             solver=OPTIMIZER, alpha=0.0, batch_size=BATCH, learning_rate_init=RATES[OPTIMIZER],
                             momentum=MOMENTUM, nesterovs_momentum=False,
                             max_iter=iterations, tol=0.0, n_iter_no_change=iterations + 1, random_state=0)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model(1).fit(X, y)  # warm-up
        started = time.perf_counter()
        model(epochs).fit(X, y)
    # scikit-learn does not time its epochs: each gets an equal share of the whole fit
    return [(time.perf_counter() - started) / epochs] * epochs


WORKERS = {"floor": floor_epochs, "dnn": dnn_epochs, "torch": torch_epochs, "sklearn": sklearn_epochs}
REQUIRES = {"torch": "torch", "sklearn": "sklearn"}


def worker_command(system, epochs, threads=None):
    """The command line of a fresh process that runs ``system`` on the workload."""
    command = [sys.executable, __file__, "--worker", system, "--epochs", str(epochs), "--rows", str(ROWS),
               "--batch", str(BATCH), "--hidden", ",".join(map(str, HIDDEN)), "--activation", ACTIVATION,
               "--optimizer", OPTIMIZER]
    if threads:
        command += ["--threads", str(threads)]
    return command


def run_worker(system, epochs, threads=None):
    """Seconds of each epoch, and the thread count dnn chose (None for the other systems)."""
    result = subprocess.run(worker_command(system, epochs, threads), capture_output=True, text=True, check=True)
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    return answer["seconds"], answer["threads"]


def report(times, ratio_pairs, unit="s/epoch"):
    """Print every system's median and minimum, then their ratios.

    ``times[system]`` is a list of rounds, each a list of measurements; the
    per-round ratios (of the rounds' medians) show the spread.
    """
    every = {system: [t for run in runs for t in run] for system, runs in times.items()}
    rounds = len(next(iter(times.values())))
    count = len(next(iter(every.values())))
    print(f"\n{'system':>10} {'median':>9} {'min':>8} {'max':>8}   ({unit}; {count} measurements in {rounds} rounds)")
    for system, values in every.items():
        print(f"{system:>10} {statistics.median(values):9.3f} {min(values):8.3f} {max(values):8.3f}")
    print(f"\n{'ratio':>16} {'of medians':>11} {'of minimums':>12}   per round")
    for top, bottom in ratio_pairs:
        if top in times and bottom in times:
            per_round = [statistics.median(a) / statistics.median(b) for a, b in zip(times[top], times[bottom])]
            medians = statistics.median(every[top]) / statistics.median(every[bottom])
            minimums = min(every[top]) / min(every[bottom])
            print(f"{top + '/' + bottom:>16} {medians:11.2f} {minimums:12.2f}   "
                  f"{min(per_round):.2f} .. {max(per_round):.2f}")


def main():
    global HIDDEN, BATCH, ROWS, ACTIVATION, OPTIMIZER  # the workload: the workers read them
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--systems", default="floor,dnn,torch,sklearn")
    parser.add_argument("--hidden", default=",".join(map(str, HIDDEN)), help="hidden layer widths")
    parser.add_argument("--batch", type=int, default=BATCH)
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--activation", choices=sorted(SKLEARN_ACTIVATIONS), default=ACTIVATION,
                        help="the hidden layers' activation")
    parser.add_argument("--optimizer", choices=sorted(RATES), default=OPTIMIZER,
                        help="sgd (rate 0.01, momentum 0.9) or adam (rate 0.001)")
    parser.add_argument("--breakdown", action="store_true",
                        help="print where dnn's time per batch goes, instead of comparing the systems")
    parser.add_argument("--worker", choices=sorted(WORKERS))
    parser.add_argument("--threads", type=int,
                        help="with --breakdown, dnn's BLAS threads (default: its own choice); in a worker, the floor's")
    args = parser.parse_args()
    HIDDEN, BATCH, ROWS = tuple(int(h) for h in args.hidden.split(",")), args.batch, args.rows
    ACTIVATION, OPTIMIZER = args.activation, args.optimizer
    if args.breakdown:
        if args.worker:
            dnn_breakdown(args.epochs, args.threads)
        else:  # in a fresh process, like every measurement here
            subprocess.run([*worker_command("dnn", args.epochs, args.threads), "--breakdown"], check=True)
        return
    if args.worker:
        seconds = WORKERS[args.worker](args.epochs, args.threads)
        threads = None
        if args.worker == "dnn":
            seconds, threads = seconds
        print(json.dumps({"seconds": seconds, "threads": threads}))
        return
    systems = []
    for system in args.systems.split(","):
        if available(system, REQUIRES):
            systems.append(system)
        else:
            print(f"skipping {system}: not installed")
    # dnn first in every round, so that the floor runs at the count dnn chose in that round
    systems.sort(key=lambda system: system != "dnn")
    times, chosen = {system: [] for system in systems}, []
    for round_number in range(args.rounds):
        for system in systems:
            seconds, threads = run_worker(system, args.epochs, chosen[-1] if chosen else None)
            times[system].append(seconds)
            if threads:
                chosen.append(threads)
        print(f"round {round_number + 1}: " + ", ".join(f"{s} {statistics.median(times[s][-1]):.3f}" for s in systems)
              + (f" (dnn chose {chosen[-1]} BLAS threads; the floor ran at that count)" if chosen else ""), flush=True)
    report(times, [("dnn", "floor"), ("torch", "dnn"), ("sklearn", "dnn")])


if __name__ == "__main__":
    main()
