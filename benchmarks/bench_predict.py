"""Prediction: dnn's throughput against its GEMM floor, and its memory on a memmap.

Throughput: ``predict`` on 200,000 in-memory float32 rows of 784 features for
the 784-256-128-10 network, against the time of only its three matrix
products over the same rows (the faster of one product per layer over all rows
and products over chunks of the size dnn uses). Each measurement runs in a
fresh process; the two alternate over several rounds.

Memory: peak extra memory (tracemalloc, numpy's allocations included) while
predicting 1,000,000 rows read from a numpy memmap, beyond the returned labels.
The memmap file (3 GB) is written to a temporary directory and removed.

    python benchmarks/bench_predict.py [--rounds 5] [--memory-rows 1000000]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import tracemalloc

import numpy as np
from bench_fit import CLASSES, FEATURES, HIDDEN, report, timed

ROWS = 200_000
REPEATS = 4


def network():
    from dnn import DNN

    model = DNN(seed=0)
    model.addInputLayer([FEATURES])
    model.addHiddenLayer(list(HIDDEN), activation="relu")
    model.addOutputLayer([CLASSES], activation="softmax")
    return model


def rows(n, seed=0):
    return np.random.default_rng(seed).random((n, FEATURES), dtype=np.float32)


def floor_seconds():
    """The three matrix products over all rows, best of the two ways to batch them."""
    from dnn.data.preprocessing import CHUNK_ROWS

    X = rows(ROWS)
    weights = [w for _, w in sorted(network().w.items())]
    whole = [np.empty((ROWS, w.shape[1]), np.float32) for w in weights]
    chunked = [np.empty((CHUNK_ROWS, w.shape[1]), np.float32) for w in weights]

    def all_rows():
        a = X
        for w, out in zip(weights, whole):
            a = np.matmul(a, w, out=out)

    def in_chunks():
        for start in range(0, ROWS, CHUNK_ROWS):
            a = X[start:start + CHUNK_ROWS]
            for w, out in zip(weights, chunked):
                a = np.matmul(a, w, out=out[: len(a)])

    whole, chunked = timed(all_rows, REPEATS), timed(in_chunks, REPEATS)
    return whole if statistics.median(whole) < statistics.median(chunked) else chunked


def dnn_seconds():
    model = network()
    X = rows(ROWS)
    return timed(lambda: model.predict(X), REPEATS)


def memory(n_rows):
    """Peak extra bytes while predicting ``n_rows`` memmap rows, beyond the result."""
    model = network()
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "rows.f32")
        data = np.memmap(path, dtype=np.float32, mode="w+", shape=(n_rows, FEATURES))
        for start in range(0, n_rows, 50_000):
            data[start:start + 50_000] = rows(min(50_000, n_rows - start), seed=start)
        data.flush()
        del data
        X = np.memmap(path, dtype=np.float32, mode="r", shape=(n_rows, FEATURES))
        tracemalloc.start()
        labels = model.predict(X)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        del X
    return peak - labels.nbytes, labels.nbytes, n_rows * FEATURES * 4


WORKERS = {"floor": floor_seconds, "dnn": dnn_seconds}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--memory-rows", type=int, default=1_000_000)
    parser.add_argument("--worker", choices=sorted(WORKERS))
    args = parser.parse_args()
    if args.worker:
        print(json.dumps({"seconds": WORKERS[args.worker]()}))
        return
    times = {system: [] for system in WORKERS}
    for round_number in range(args.rounds):
        for system in WORKERS:
            result = subprocess.run([sys.executable, __file__, "--worker", system],
                                    capture_output=True, text=True, check=True)
            times[system].append(json.loads(result.stdout.strip().splitlines()[-1])["seconds"])
        print(f"round {round_number + 1}: " + ", ".join(f"{s} {statistics.median(times[s][-1]):.3f}" for s in times),
              flush=True)
    report(times, [("dnn", "floor")], unit=f"s per {ROWS:,} rows")
    print(f"\ndnn throughput: {ROWS / statistics.median(t for run in times['dnn'] for t in run):,.0f} rows/s")
    extra, result_bytes, data_bytes = memory(args.memory_rows)
    print(f"predict on a {data_bytes / 2**30:.1f} GiB memmap of {args.memory_rows:,} rows: peak extra memory "
          f"{extra / 2**20:.1f} MiB beyond the {result_bytes / 2**20:.1f} MiB of returned labels")


if __name__ == "__main__":
    main()
