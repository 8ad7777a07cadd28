"""Data larger than memory: one epoch from a CSV stream of about 2 GB, its memory and speed, and its accuracy.

A CSV of ``--rows`` rows (default 2,700,000: 2.0 GB) of 100 float features and a label of 10 classes (a linear teacher
with noise; features of different scales and offsets) is written to a temporary directory. In a fresh process,
``fit`` on ``dnn.streams.csv`` trains a 100-64-10 network one epoch, with ``standardize=True`` (so a first pass
reads the file once before the epoch) and ``validationSplit=0.05`` (read again after the epoch). Reported:

- the process's peak resident memory (``resource.getrusage``) beyond what it held before ``fit``, and the peak
  of what tracemalloc traces (Python's and numpy's allocations) during ``fit``, in a second fresh process;
- rows per second of the epoch (reading, parsing and training), of the whole ``fit``, and of a pass that only
  reads the stream as ``fit`` does (parsed, checked, converted to float32).

Then, on a file that fits in memory (``--check-rows``, default 200,000, and as many other rows to test on), the
test accuracy of 3 epochs from the stream against 3 epochs on the same rows loaded as arrays. The files are
removed at the end (``--keep`` keeps them).

    python benchmarks/bench_streams.py [--rows 2700000] [--check-rows 200000] [--dir /tmp] [--keep]
"""

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc

import numpy as np

FEATURES, CLASSES, HIDDEN = 100, 10, 64
CHUNK_ROWS, WINDOW, BATCH = 10_000, 4, 64
BLOCK = 50_000  # rows written at a time


def teacher():
    rng = np.random.default_rng(1234)
    return rng.normal(size=(FEATURES, CLASSES)), np.geomspace(0.01, 100, FEATURES), rng.normal(0, 10, FEATURES)


def block(rows, seed):
    """``rows`` rows as a DataFrame: features of different scales and offsets, a noisy teacher's label."""
    import pandas as pd

    weights, scales, offsets = teacher()
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(rows, FEATURES))
    labels = (z @ weights + rng.normal(0, 1.0, (rows, CLASSES))).argmax(axis=1)
    frame = pd.DataFrame(z * scales + offsets, columns=[f"x{i}" for i in range(FEATURES)])
    frame["label"] = labels
    return frame


def write_csv(path, rows, seed=0):
    """Write ``rows`` rows to ``path`` a block at a time; returns the seconds it took."""
    started = time.perf_counter()
    with open(path, "w", newline="") as file:
        for number, start in enumerate(range(0, rows, BLOCK)):
            part = block(min(BLOCK, rows - start), seed * 1_000_003 + number)
            part.to_csv(file, index=False, header=start == 0, float_format="%.5g")
    return time.perf_counter() - started


def network():
    from dnn import DNN

    model = DNN(lr=0.05, momentum=0.9, seed=0)
    model.addInputLayer([FEATURES])
    model.addHiddenLayer([HIDDEN], activation="relu")
    model.addOutputLayer([CLASSES], activation="softmax")
    return model


def resident():
    """(resident bytes now, peak resident bytes) of this process: Linux's VmRSS and VmHWM, else ru_maxrss twice."""
    try:
        with open("/proc/self/status") as status:
            fields = dict(line.split(":", 1) for line in status)
        return int(fields["VmRSS"].split()[0]) * 1024, int(fields["VmHWM"].split()[0]) * 1024
    except (OSError, KeyError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        return peak, peak


def reset_peak_resident():
    """Start the peak resident size (VmHWM) again from the present size, where Linux allows it."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        pass


def pass_timer():
    """A callback that times the epoch's training pass: from its start to its last batch (validation comes after)."""
    from dnn.callbacks import Callback

    class PassTimer(Callback):
        def on_epoch_begin(self, run, epoch):
            self.started = self.ended = time.perf_counter()

        def on_batch_end(self, run, batch, logs):
            self.ended = time.perf_counter()

    return PassTimer()


def train_one_epoch(path, traced):
    """In this (fresh) process: one epoch from the stream; prints a JSON line of what it measured."""
    import pandas as pd

    import dnn.streams

    pd.read_csv(path, nrows=2)  # the imports a first read makes, out of the measurement
    model = network()
    stream = dnn.streams.csv(path, target="label", chunk_rows=CHUNK_ROWS, window=WINDOW)
    reset_peak_resident()
    before = resident()[0]
    if traced:
        tracemalloc.start()
    started = time.perf_counter()
    timer = pass_timer()
    model.fit(stream, None, epochs=1, batchSize=BATCH, verbose=0, standardize=True, validationSplit=0.05,
              callbacks=[timer])
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] if traced else None
    history = model.history
    read_s = None if traced else reading_seconds(model, stream)
    print(json.dumps({"rows": stream.rows, "fit_s": seconds, "epoch_s": history["time"][0], "read_s": read_s,
                      "train_s": timer.ended - timer.started,
                      "rss_before": before, "rss_growth": resident()[1] - before, "traced_peak": peak,
                      "accuracy": history["accuracy"][0], "val_accuracy": history["val_accuracy"][0],
                      "model_bytes": int(model.state.params.flat.nbytes)}))


def reading_seconds(model, stream):
    """Seconds of one pass that reads the stream as fit does, without training."""
    from dnn.engine.streaming import ChunkReader

    reader = ChunkReader(stream, FEATURES, model.feature_names, np.dtype(model.dtype))
    reader.output = (model.activations[-1], CLASSES, model.task, model.classes)
    started = time.perf_counter()
    for _ in reader.chunks("encoded"):
        pass
    return time.perf_counter() - started


def measured(path, traced):
    command = [sys.executable, __file__, "--train", path] + (["--traced"] if traced else [])
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def accuracy_check(directory, rows):
    """Test accuracy of 3 epochs from a stream and from the same rows loaded as arrays."""
    import pandas as pd

    import dnn.streams

    path = os.path.join(directory, "check.csv")
    write_csv(path, rows, seed=7)
    test = block(rows // 4, seed=99)
    loaded = pd.read_csv(path)
    X, y = loaded.drop(columns="label"), loaded["label"]
    results = {}
    for name, arguments in (("arrays", (X, y)),
                            ("stream", (dnn.streams.csv(path, "label", chunk_rows=CHUNK_ROWS, window=WINDOW), None))):
        model = network()
        started = time.perf_counter()
        model.fit(*arguments, epochs=3, batchSize=BATCH, verbose=0, standardize=True)
        accuracy = float((model.predict(test.drop(columns="label")) == test["label"]).mean())
        results[name] = (accuracy, time.perf_counter() - started)
    return results


def mib(n):
    return f"{n / 2**20:.1f} MiB"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_700_000)
    parser.add_argument("--check-rows", type=int, default=200_000)
    parser.add_argument("--dir", default=None, help="where the files go (default: the system's temporary dir)")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--train", help=argparse.SUPPRESS)
    parser.add_argument("--traced", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.train:
        train_one_epoch(args.train, args.traced)
        return
    directory = tempfile.mkdtemp(prefix="dnn-streams-", dir=args.dir)
    try:
        path = os.path.join(directory, "big.csv")
        seconds = write_csv(path, args.rows)
        size = os.path.getsize(path)
        print(f"wrote {args.rows:,} rows x {FEATURES + 1} columns: {size / 1e9:.2f} GB in {seconds:.0f} s")
        plain, traced = measured(path, traced=False), measured(path, traced=True)
        print(f"fit (first pass, 1 epoch, validation pass): {plain['fit_s']:.1f} s; the epoch's training pass: "
              f"{plain['train_s']:.1f} s, {plain['rows'] * 0.95 / plain['train_s']:,.0f} training rows/s; its "
              f"validation pass: {plain['epoch_s'] - plain['train_s']:.1f} s; a pass that only reads the stream as "
              f"fit does: {plain['read_s']:.1f} s, {plain['rows'] / plain['read_s']:,.0f} rows/s")
        print(f"peak RSS beyond the process before fit: {mib(plain['rss_growth'])} (before: "
              f"{mib(plain['rss_before'])}); tracemalloc peak during fit: {mib(traced['traced_peak'])}; "
              f"the model's parameters: {plain['model_bytes'] / 1024:.0f} KiB; the rows as float32 arrays: "
              f"{mib(plain['rows'] * FEATURES * 4)}")
        print(f"1 epoch: accuracy {plain['accuracy']:.4f}, val_accuracy {plain['val_accuracy']:.4f}")
        results = accuracy_check(directory, args.check_rows)
        for name, (accuracy, seconds) in results.items():
            print(f"{args.check_rows:,} rows, 3 epochs from {name}: test accuracy {accuracy:.4f} ({seconds:.1f} s)")
    finally:
        if args.keep:
            print(f"files kept in {directory}")
        else:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
