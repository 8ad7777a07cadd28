"""Training speed under CPU load: dnn's automatic thread count against fixed counts, PyTorch and scikit-learn.

numpy's BLAS runs every product on all cores and its threads spin-wait for each other, so when other processes keep
the cores busy training can slow by 2 to over 100 times. This benchmark measures it over a matrix:

- networks: ``digits`` 64-256-128-10 on 1,797 rows, ``mnist`` 784-256-128-10 on 60,000 rows, ``wide``
  784-2048-2048-10 on 60,000 rows (random MNIST-shaped data; relu, softmax, SGD with momentum 0.9);
- batch sizes 1, 16, 128, 1024;
- busy processes 0, 1, 2: ``--busy 0,1,2`` runs the whole matrix once per level, with that many
  ``python -c "while True: pass"`` processes beside it, always stopped afterwards (also on Ctrl-C, an error or
  SIGTERM; on Linux they also die with this process);
- systems: dnn automatic (``dnn``), dnn with 1 thread (``dnn-1``) and with every available CPU (``dnn-all``), PyTorch
  with its default threads (``torch``) and with one (``torch-1``), scikit-learn's MLPClassifier (``sklearn``).
  Systems that are not installed are skipped.

Every measurement is one training run in a fresh process, after a short warm-up run in the same process, and the
systems alternate over rounds (their order rotating). A run trains on as many rows and epochs as fill ``--budget``
seconds by a rough cost model, and stops early at ``--cap`` seconds (a count that falls off a cliff under load would
otherwise take minutes); the figure is its whole time, setup and (for dnn) the thread policy's measurements
included, in milliseconds per 1,000 rows trained. dnn automatic trains one model in one fit, so its measurement
includes what it costs to find the count.

    python benchmarks/bench_threads.py [--networks digits,mnist,wide] [--batches 1,16,128,1024] [--busy 0,1,2]
        [--rounds 3] [--budget 1.0] [--cap 4.0] [--systems dnn,dnn-1,dnn-all,torch,torch-1,sklearn] [--json out.json]
    python benchmarks/bench_threads.py --task predict [--predict-rows 200000] [--networks ...] [--busy ...]

With ``--task predict`` the same systems predict class probabilities for 200,000 rows (dnn through
``model.predictProba``, which times its chunks to choose the count and remembers it from call to call), as often as
fill the budget.

Run it from the repository with the dnn to measure importable (``PYTHONPATH=.`` from a worktree); the workers
inherit the environment.
"""

import argparse
import atexit
import contextlib
import json
import math
import signal
import statistics
import subprocess
import sys
import time
import warnings

import numpy as np
from common import available, mlp_trainer  # beside this script; torch is imported inside

NETWORKS = {"digits": ((64, 256, 128, 10), 1_797), "mnist": ((784, 256, 128, 10), 60_000),
            "wide": ((784, 2048, 2048, 10), 60_000)}
SYSTEMS = ["dnn", "dnn-1", "dnn-all", "torch", "torch-1", "sklearn"]
REQUIRES = {"torch": "torch", "torch-1": "torch", "sklearn": "sklearn"}
LR, MOMENTUM = 0.01, 0.9
# The rough cost model that sizes a run: multiply-adds per second of one core (float32, measured on the 2-core
# development machine: 3e10 predicts dnn's one-thread time per row within 20 % on digits and mnist at batch 16 and
# 128), Python's cost per batch, and the cost per parameter per batch of writing gradients and updates (memory-bound:
# 3 ns per parameter at batch 1 on the wide network). A lower figure would make runs of large networks a few batches
# long, mostly the thread policy's start-up measurement.
MACS_PER_SECOND, SECONDS_PER_BATCH, SECONDS_PER_PARAMETER = 3e10, 100e-6, 3e-9


class DeadlineError(Exception):
    """Raised inside a training run that has used its time cap."""


def data(network, rows):
    widths, _ = NETWORKS[network]
    rng = np.random.default_rng(0)
    return rng.random((rows, widths[0]), dtype=np.float32), rng.integers(0, widths[-1], rows)


def run_size(network, batch, budget):
    """Rows and epochs that fill about ``budget`` seconds of training at one thread."""
    widths, rows = NETWORKS[network]
    parameters = sum(a * b for a, b in zip(widths[:-1], widths[1:]))
    per_row = 3 * parameters / MACS_PER_SECOND + (SECONDS_PER_BATCH + parameters * SECONDS_PER_PARAMETER) / batch
    rows = max(min(rows, int(budget / per_row)), min(rows, 8 * batch))
    epochs = max(1, min(100, round(budget / (rows * per_row))))
    return rows, epochs


# ----------------------------------------------------------------------------------------------------------------------
# Workers: each returns (seconds, rows trained, what dnn's policy chose)


# What the patched Trainer.step reports to: the run's meter (rows trained, and the time cap).
ACTIVE = {"meter": None}


def install_step_hook():
    """Count every training batch's rows into the active meter, and stop the run at its deadline.

    Patches ``dnn.engine.training.Trainer.step`` once per worker process; the benchmark only. The model's own thread
    policy (a fit callback) times the batches; the hook only counts and stops.
    """
    from dnn.engine import training

    step = training.Trainer.step
    if getattr(step, "hooked", False):
        return

    def hooked_step(self, data, index, lr):
        result = step(self, data, index, lr)
        meter = ACTIVE["meter"]
        if meter is not None:
            meter["rows"] += len(index)
            if time.perf_counter() > meter["deadline"]:
                raise DeadlineError
        return result

    hooked_step.hooked = True
    training.Trainer.step = hooked_step


def dnn_run(network, batch, rows, epochs, cap, threads):
    from dnn import DNN
    from dnn.threads import available_cpus

    threads = {"auto": None, "all": available_cpus()}.get(threads, threads)
    widths, _ = NETWORKS[network]
    X, y = data(network, rows)

    def model():
        m = DNN(lr=LR, momentum=MOMENTUM, seed=0, threads=threads)
        m.addInputLayer([widths[0]])
        m.addHiddenLayer(list(widths[1:-1]), activation="relu")
        m.addOutputLayer([widths[-1]], activation="softmax")
        return m

    warm = model()
    warm.fit(X[: 4 * batch], y[: 4 * batch], epochs=1, batchSize=batch, verbose=0)
    trained = model()
    install_step_hook()
    started = time.perf_counter()
    ACTIVE["meter"] = meter = {"rows": 0, "deadline": started + cap}
    with contextlib.suppress(DeadlineError):
        trained.fit(X, y, epochs=epochs, batchSize=batch, verbose=0)
    ACTIVE["meter"] = None
    return time.perf_counter() - started, meter["rows"], trained.thread_policy().changes


def torch_run(network, batch, rows, epochs, cap, threads):
    import torch

    if threads == 1:
        torch.set_num_threads(1)
    widths, _ = NETWORKS[network]
    epoch = mlp_trainer(widths, *data(network, rows), LR, MOMENTUM)

    def train(epochs, limit, deadline):
        done = 0
        for _ in range(epochs):
            done += epoch(limit, batch, deadline)
            if time.perf_counter() > deadline:
                break
        return done

    train(1, min(rows, 4 * batch), math.inf)  # warm-up
    started = time.perf_counter()
    done = train(epochs, rows, started + cap)
    return time.perf_counter() - started, done, None


def sklearn_run(network, batch, rows, epochs, cap, threads):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    widths, _ = NETWORKS[network]
    X, y = data(network, rows)
    classes = np.arange(widths[-1])

    def model():
        return MLPClassifier(hidden_layer_sizes=widths[1:-1], activation="relu", solver="sgd", alpha=0.0,
                             batch_size=batch, learning_rate_init=LR, momentum=MOMENTUM, nesterovs_momentum=False,
                             random_state=0)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model().partial_fit(X[: 4 * batch], y[: 4 * batch], classes=classes)  # warm-up
        started, done, trained = time.perf_counter(), 0, model()
        # one epoch per partial_fit, so that the cap can end the run between epochs
        for _ in range(epochs):
            trained.partial_fit(X, y, classes=classes)
            done += rows
            if time.perf_counter() > started + cap:
                break
    return time.perf_counter() - started, done, None


# ----------------------------------------------------------------------------------------------------------------------
# Predict: --task predict times predictProba over --predict-rows rows (the batch size plays no part)


def network_model(network):
    from dnn import DNN

    widths, _ = NETWORKS[network]
    model = DNN(seed=0)
    model.addInputLayer([widths[0]])
    model.addHiddenLayer(list(widths[1:-1]), activation="relu")
    model.addOutputLayer([widths[-1]], activation="softmax")
    return model


def repeat_until(run, repeats, cap):
    """Seconds and passes of ``run`` repeated ``repeats`` times or until ``cap`` seconds, after one warm-up pass."""
    run()
    started, passes = time.perf_counter(), 0
    while passes < repeats:
        run()
        passes += 1
        if time.perf_counter() > started + cap:
            break
    return time.perf_counter() - started, passes


def dnn_predict(network, rows, repeats, cap, threads):
    from dnn.threads import available_cpus

    threads = {"auto": None, "all": available_cpus()}.get(threads, threads)
    model, (X, _) = network_model(network), data(network, rows)
    model.threads = threads
    seconds, passes = repeat_until(lambda: model.predictProba(X), repeats, cap)
    # the count the automatic choice kept at the last call (it times the chunks, and remembers from call to call)
    return seconds, passes * rows, [(0, threads or model.thread_policy("predict").chosen)]


def torch_predict(network, rows, repeats, cap, threads):
    import torch

    if threads == 1:
        torch.set_num_threads(1)
    widths, _ = NETWORKS[network]
    X = torch.from_numpy(data(network, rows)[0])
    layers = []
    for a, b in zip(widths[:-2], widths[1:-1]):
        layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers, torch.nn.Linear(widths[-2], widths[-1]), torch.nn.Softmax(dim=1))

    def run():
        with torch.no_grad():
            model(X)

    seconds, passes = repeat_until(run, repeats, cap)
    return seconds, passes * rows, None


def sklearn_predict(network, rows, repeats, cap, threads):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    widths, _ = NETWORKS[network]
    X, y = data(network, rows)
    model = MLPClassifier(hidden_layer_sizes=widths[1:-1], max_iter=1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.partial_fit(X[:256], y[:256], classes=np.arange(widths[-1]))
    seconds, passes = repeat_until(lambda: model.predict_proba(X), repeats, cap)
    return seconds, passes * rows, None


PREDICT_WORKERS = {"dnn": (dnn_predict, "auto"), "dnn-1": (dnn_predict, 1), "dnn-all": (dnn_predict, "all"),
                   "torch": (torch_predict, None), "torch-1": (torch_predict, 1), "sklearn": (sklearn_predict, None)}
WORKERS = {"dnn": (dnn_run, "auto"), "dnn-1": (dnn_run, 1), "dnn-all": (dnn_run, "all"), "torch": (torch_run, None),
           "torch-1": (torch_run, 1), "sklearn": (sklearn_run, None)}


# ----------------------------------------------------------------------------------------------------------------------
# Busy processes


class BusyProcesses:
    """N processes spinning on a core each, stopped by `stop` (also at exit, and with this process on Linux)."""

    def __init__(self, n):
        self.processes = []
        atexit.register(self.stop)
        for _ in range(n):
            self.processes.append(subprocess.Popen([sys.executable, "-c", "while True: pass"],
                                                   preexec_fn=_die_with_parent))

    def stop(self):
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes = []

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.stop()
        return False


def _die_with_parent():
    """In the child before exec: ask Linux to kill it when this process ends, however that happens."""
    try:
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _terminate(signum, frame):
    # SIGTERM and SIGHUP become an exception, so that every finally (and the busy processes' stop) runs
    raise SystemExit(128 + signum)


# ----------------------------------------------------------------------------------------------------------------------
# The matrix


def run_worker(system, network, batch, budget, cap, task="fit", predict_rows=200_000):
    if task == "predict":
        widths, _ = NETWORKS[network]
        per_pass = predict_rows * sum(a * b for a, b in zip(widths[:-1], widths[1:])) / MACS_PER_SECOND
        rows, epochs = predict_rows, max(1, min(20, round(budget / per_pass)))
    else:
        rows, epochs = run_size(network, batch, budget)
    command = [sys.executable, __file__, "--worker", system, "--task", task, "--networks", network,
               "--batches", str(batch), "--rows", str(rows), "--epochs", str(epochs), "--cap", str(cap)]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def chosen_text(changes):
    return "->".join(str(count) for _, count in changes) if changes else "-"


def report(results, systems):
    """One line per cell: every system's median ms per 1,000 rows (min-max), then the ratios the issue targets."""
    print(f"\n{'busy':>4} {'network':>7} {'batch':>5} " + "".join(f"{s:>20}" for s in systems)
          + f"{'chose':>8}{'auto/best fixed':>17}{'torch/auto':>12}{'torch-1/auto':>13}{'sklearn/auto':>13}")
    for (busy, network, batch), cell in results.items():
        medians = {s: statistics.median(m["ms"] for m in cell[s]) for s in systems if cell.get(s)}
        line = f"{busy:>4} {network:>7} {batch:>5} "
        for s in systems:
            values = [m["ms"] for m in cell.get(s, [])]
            line += f"{statistics.median(values):9.3g} ({min(values):.3g}-{max(values):.3g})".rjust(20) if values \
                else f"{'-':>20}"
        choices = sorted({chosen_text(m["chosen"]) for m in cell.get("dnn", [])})
        line += f"{','.join(choices):>8}"

        def ratio(top, bottom):
            return f"{top / bottom:.2f}" if top and bottom else "-"

        fixed = min((medians[s] for s in ("dnn-1", "dnn-all") if s in medians), default=None)
        auto = medians.get("dnn")
        line += f"{ratio(auto, fixed):>17}{ratio(medians.get('torch'), auto):>12}"
        line += f"{ratio(medians.get('torch-1'), auto):>13}{ratio(medians.get('sklearn'), auto):>13}"
        print(line)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", default="digits,mnist,wide")
    parser.add_argument("--batches", default="1,16,128,1024")
    parser.add_argument("--busy", default="0", help="busy process counts, e.g. 0,1,2")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--budget", type=float, default=1.0, help="seconds one run should train (rough)")
    parser.add_argument("--cap", type=float, default=4.0, help="seconds after which a run stops")
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    parser.add_argument("--json", help="also write every measurement to this file")
    parser.add_argument("--task", choices=["fit", "predict"], default="fit",
                        help="predict: predictProba over --predict-rows rows, once per network (batches unused)")
    parser.add_argument("--predict-rows", type=int, default=200_000)
    parser.add_argument("--worker", choices=sorted(WORKERS))
    parser.add_argument("--rows", type=int)
    parser.add_argument("--epochs", type=int)
    args = parser.parse_args()
    if args.worker:
        if args.task == "predict":
            function, threads = PREDICT_WORKERS[args.worker]
            seconds, rows, changes = function(args.networks, args.rows, args.epochs, args.cap, threads)
        else:
            function, threads = WORKERS[args.worker]
            seconds, rows, changes = function(args.networks, int(args.batches), args.rows, args.epochs, args.cap,
                                              threads)
        print(json.dumps({"ms": 1000 * seconds / max(rows, 1) * 1000, "rows": rows, "chosen": changes}))
        return
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    systems = []
    for system in args.systems.split(","):
        if available(system, REQUIRES):
            systems.append(system)
        else:
            print(f"skipping {system}: not installed")
    batches = [0] if args.task == "predict" else [int(b) for b in args.batches.split(",")]
    cells = [(network, batch) for network in args.networks.split(",") for batch in batches]
    results = {}
    try:
        for busy in (int(b) for b in args.busy.split(",")):
            with BusyProcesses(busy):
                for network, batch in cells:
                    cell = results.setdefault((busy, network, batch), {s: [] for s in systems})
                    for round_number in range(args.rounds):
                        shift = round_number % len(systems)
                        for system in systems[shift:] + systems[:shift]:
                            cell[system].append(run_worker(system, network, batch, args.budget, args.cap,
                                                           args.task, args.predict_rows))
                        print(f"busy {busy} {network} batch {batch} round {round_number + 1}: "
                              + ", ".join(f"{s} {cell[s][-1]['ms']:.3g}" for s in systems), flush=True)
    finally:
        if results:
            what = "predicted" if args.task == "predict" else "trained"
            print(f"\nms per 1,000 rows {what}: median (min-max) over rounds; 'chose': dnn automatic's counts")
            report(results, systems)
            if args.json:
                with open(args.json, "w") as handle:
                    json.dump([{"busy": b, "network": n, "batch": s, "results": c} for (b, n, s), c in results.items()],
                              handle, indent=1)


if __name__ == "__main__":
    main()
