"""Data larger than memory: training from a stream holds a window of chunks, whatever the stream's length."""

import tracemalloc

import numpy as np
import pandas as pd

import dnn.streams
from dnn import DNN


def test_memory_holds_a_window_of_chunks_whatever_the_file(tmp_path):
    """One epoch over a 40 MB CSV, after the pass that finds its classes and scaling, with its validation rows.

    Bound: the window's rows (window x chunk_rows + a batch) as float32, plus eight chunks as pandas reads them
    (float64), plus 2 MiB: 6.7 MiB, where the rows loaded as float32 arrays would take 21 MiB. tracemalloc sees
    Python's and numpy's allocations (pandas' parser buffers are the process's, measured by the benchmark).
    """
    rows, features, chunk_rows, window = 180_000, 30, 2000, 4
    rng = np.random.default_rng(0)
    block = pd.DataFrame(rng.normal(size=(10_000, features)).round(4), columns=[f"f{i}" for i in range(features)])
    block["label"] = (block["f0"] + block["f1"] > 0).astype(int)
    text = block.to_csv(index=False)
    header, body = text.split("\n", 1)
    path = tmp_path / "big.csv"
    with open(path, "w") as file:
        file.write(header + "\n")
        for _ in range(rows // 10_000):
            file.write(body)
    model = DNN(lr=0.05, seed=0)
    model.addInputLayer([features])
    model.addHiddenLayer([32], activation="relu")
    model.addOutputLayer([2], activation="softmax")
    stream = dnn.streams.csv(path, target="label", chunk_rows=chunk_rows, window=window)
    pd.read_csv(path, nrows=2)  # what pandas imports at its first read, out of the measurement
    tracemalloc.start()
    try:
        model.fit(stream, None, epochs=1, batchSize=64, verbose=0, standardize=True, validationSplit=0.1)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    bound = (window * chunk_rows + 64) * features * 4 + 8 * chunk_rows * (features + 1) * 8 + (2 << 20)
    assert path.stat().st_size > 35e6 and stream.rows == rows
    assert peak < bound, f"peak {peak / 2**20:.1f} MiB, bound {bound / 2**20:.1f} MiB"
    assert model.history["accuracy"][-1] > 0.95
