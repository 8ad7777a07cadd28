"""fit(distributed=True) over 2 local processes (gloo): every rank ends with the same weights, and they are those
of one process with the same seed and global batch, to float rounding.

The tolerance, for float64: a rank's gradient of its half of a batch and the sum of the two halves reassociate the
sums of one process's products (32 rows: two sums of 16, then one addition), a difference of a few units of
float64 rounding (eps 1.1e-16) of the gradient per step. 2 epochs of 7 steps, carried through momentum or Adam's
averages, keep it within a few hundred eps of the weights (2e-14 relative measured); rtol 1e-10 leaves a thousand
times that, and would still catch a gradient scaled by the local instead of the global batch (a factor 2), a dropout
mask drawn for the wrong rows, or a penalty counted twice. The ranks are compared for bit equality: all of them
apply the same summed gradient.
"""

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import dnn
from dnn import DNN, TrainingDivergedError
from dnn.callbacks import Callback
from dnn.engine.distributed import is_main_process

ROWS, FEATURES, CLASSES = 200, 6, 3
#: name: (DNN settings, hidden-layer settings, fit settings); every one trains 2 epochs.
CONFIGS = {
    # 200 rows in global batches of 32: 6 batches of 32 and one of 8 (4 rows per rank)
    "sgd": ({"lr": 0.05, "momentum": 0.9, "l2": 0.01}, {"dropout": 0.25}, {"batchSize": 32, "verbose": 2}),
    "adam": ({"optimizer": "adam", "lr": 0.01, "l1": 0.001}, {"dropout": 0.25, "normalization": "layer"},
             {"batchSize": 32}),
    # 160 training rows in batches of 53: the last batch has 1 row, so rank 0 has none of it
    "split": ({"lr": 0.05, "clipNorm": 0.5, "standardize": True}, {"dropout": 0.1},
              {"batchSize": 53, "validationSplit": 0.2, "earlyStopping": 5, "metrics": ["f1"], "weighted": True}),
    "float32": ({"lr": 0.05, "momentum": 0.9, "dtype": "float32"}, {"dropout": 0.25}, {"batchSize": 32}),
}


def problem():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(ROWS, FEATURES)) * [1, 2, 3, 0.5, 1, 10]
    y = (X[:, 0] + X[:, 1] / 2 > 0).astype(int) + (X[:, 2] > 1)
    return X, y


def trained(name, seed=0, **fit_options):
    """The model of ``CONFIGS[name]`` with ``seed``, fit 2 epochs."""
    settings, hidden, options = CONFIGS[name]
    options = dict(options)
    model = DNN(seed=seed, threads=1, **{"dtype": "float64", **settings})
    model.addInputLayer([FEATURES])
    model.addHiddenLayer([16], activation="relu", **hidden)
    model.addOutputLayer([CLASSES], activation="softmax")
    X, y = problem()
    if options.pop("weighted", False):
        options["sampleWeight"] = np.where(y == 2, 2.0, 1.0)
    model.fit(X, y, epochs=2, **{"verbose": 0, **options, **fit_options})
    return model


class CtrlC(Callback):
    """Ctrl-C after batch 3 of the first epoch, on rank 1 only: the ranks agree on it with batch 4 and stop after it."""

    def on_batch_end(self, run, batch, logs):
        if batch == 2 and run.state.epochs == 0 and os.environ.get("RANK") == "1":
            os.kill(os.getpid(), signal.SIGINT)


class StopAfterBatch4(Callback):
    def on_batch_end(self, run, batch, logs):
        run.stop_training = batch == 3


def fitted(name, seed=0, distributed=False):
    """(model, what its fit raised) for a configuration or for "diverged" and "interrupted"."""
    if name in CONFIGS:
        return trained(name, seed, distributed=distributed), ""
    if name == "interrupted":
        return trained("sgd", seed, distributed=distributed, verbose=0,
                       callbacks=[CtrlC() if distributed else StopAfterBatch4()]), ""
    # A regression whose loss overflows in batch 7 of epoch 2: the model goes back to the start of epoch 2.
    model = DNN(lr=0.002, momentum=0.9, seed=seed, dtype="float64", threads=1)
    model.addInputLayer([FEATURES])
    model.addHiddenLayer([16], activation="relu")
    model.addOutputLayer([1], activation="identity")
    X, _ = problem()
    with pytest.raises(TrainingDivergedError) as raised:
        model.fit(X, X @ np.arange(1.0, 7.0), epochs=4, batchSize=32, verbose=0, distributed=distributed)
    return model, str(raised.value)


SCENARIOS = [*CONFIGS, "diverged", "interrupted"]


def worker(out):
    """One rank, as torchrun would start it: every scenario, with a seed of its own (rank 0's must win)."""
    import torch.distributed as dist

    signal.signal(signal.SIGINT, signal.default_int_handler)  # a shell may have started it with SIGINT ignored
    rank = int(os.environ["RANK"])
    for name in SCENARIOS:
        model, raised = fitted(name, seed=0 if rank == 0 else 100 + rank, distributed=True)
        np.save(out / f"{name}-{rank}.npy", model.state.params.flat)
        (out / f"{name}-{rank}.json").write_text(json.dumps({"history": dict(model.history), "raised": raised,
                                                             "steps": model.state.steps}))
    (out / f"main-{rank}.json").write_text(json.dumps(is_main_process()))
    dist.barrier()
    dist.destroy_process_group()


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    """Run 2 ranks on this machine; their output folder and what each printed."""
    pytest.importorskip("torch")
    out = tmp_path_factory.mktemp("ranks")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    root = str(Path(dnn.__file__).resolve().parents[1])
    base = {**os.environ, "PYTHONPATH": root, "WORLD_SIZE": "2", "LOCAL_WORLD_SIZE": "2",
            "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}
    processes = [subprocess.Popen([sys.executable, __file__, str(out)], env={**base, "RANK": str(rank),
                                                                            "LOCAL_RANK": str(rank)},
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for rank in range(2)]
    printed = []
    for process in processes:
        try:
            stdout, stderr = process.communicate(timeout=120)
        finally:
            for other in processes:
                if other.poll() is None and process.returncode is None:
                    other.kill()
        assert process.returncode == 0, stderr
        printed.append(stdout)
    return out, printed


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_rank_ends_with_the_weights_of_one_process(ranks, name):
    out, _ = ranks
    rank0, rank1 = (np.load(out / f"{name}-{rank}.npy") for rank in range(2))
    np.testing.assert_array_equal(rank0, rank1)
    alone, raised = fitted(name)
    float32 = alone.dtype == "float32"
    rtol, atol = (1e-4, 1e-6) if float32 else (1e-10, 1e-12)
    np.testing.assert_allclose(rank0, alone.state.params.flat, rtol=rtol, atol=atol)
    assert not np.array_equal(rank0, fitted(name, seed=1)[0].state.params.flat)  # the seed matters
    ends = [json.loads((out / f"{name}-{rank}.json").read_text()) for rank in range(2)]
    assert ends[0]["raised"] == ends[1]["raised"] == raised
    assert ends[0]["steps"] == ends[1]["steps"] == alone.state.steps
    histories = [{key: values for key, values in end["history"].items() if key != "time"} for end in ends]
    assert histories[0] == histories[1]
    assert histories[0].keys() | {"time"} == alone.history.keys() | {"time"}
    for key, values in histories[0].items():
        np.testing.assert_allclose(values, alone.history[key], rtol=1e-5 if float32 else 1e-10)


def test_the_scenarios_stop_where_they_should():
    assert "in epoch 2, batch 7" in fitted("diverged")[1]
    assert fitted("diverged")[0].epochs == 1
    interrupted = fitted("interrupted")[0]
    assert interrupted.epochs == 0 and interrupted.state.steps == 4


def test_a_batch_of_one_row_leaves_rank_0_without_rows():
    model = trained("split")
    assert (ROWS - len(model.state.validation_split["validation"])) % 53 == 1


def test_only_rank_0_prints_and_is_the_main_process(ranks):
    out, printed = ranks
    assert "Epoch 2/2" in printed[0] and printed[1] == ""
    assert [json.loads((out / f"main-{rank}.json").read_text()) for rank in range(2)] == [True, False]


def small_model(**layer):
    model = DNN(seed=0)
    model.addInputLayer([FEATURES])
    model.addHiddenLayer([4], activation="relu", **layer)
    model.addOutputLayer([CLASSES], activation="softmax")
    return model


def test_without_torchrun_the_error_says_so_and_the_model_is_unchanged(monkeypatch):
    pytest.importorskip("torch")
    for name in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    model = small_model()
    before = model.state.params.flat.copy()
    with pytest.raises(ValueError, match=r"not started by torchrun.*RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT"):
        model.fit(*problem(), distributed=True)
    np.testing.assert_array_equal(model.state.params.flat, before)
    assert model.epochs == 0 and model.task is None
    assert is_main_process()
    monkeypatch.setenv("RANK", "1")
    assert not is_main_process()


def test_without_torch_the_error_says_so(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.distributed", None)  # import torch.distributed raises ImportError
    with pytest.raises(ValueError, match="torch is not installed"):
        small_model().fit(*problem(), distributed=True)


def test_batch_normalization_and_non_booleans_are_refused():
    with pytest.raises(ValueError, match=r"batch normalization.*normalization='layer'"):
        small_model(normalization="batch").fit(*problem(), distributed=True)
    with pytest.raises(ValueError, match="distributed must be True or False, got 'yes'"):
        small_model().fit(*problem(), distributed="yes")


if __name__ == "__main__":
    worker(Path(sys.argv[1]))


class TwoRanks:
    """The part of a Communicator check_same_rows uses, for two ranks in one process: the other rank's values are
    given, and the maximum is taken as torch.distributed's all-reduce would."""

    def __init__(self, other_targets, other_weights=None):
        from dnn.engine.distributed import Communicator

        self.other = []
        Communicator.check_same_rows(self._recorder(), other_targets, other_weights)

    def _recorder(self):
        recorder = type("Recorder", (), {})()
        recorder.all_reduce_max = lambda array: self.other.append(array.copy())
        return recorder

    def all_reduce_max(self, array):
        np.maximum(array, self.other[0], out=array)


@pytest.mark.parametrize("change", ["rows in another order", "other labels"])
def test_ranks_with_different_targets_are_refused_before_training(change):
    from dnn.engine.distributed import Communicator

    targets = np.eye(3)[np.arange(12) % 3]
    other = targets[::-1] if change == "rows in another order" else np.eye(3)[(np.arange(12) + 1) % 3]
    with pytest.raises(ValueError, match="needs the same X, y and weights on every rank"):
        Communicator.check_same_rows(TwoRanks(other), targets, None)
    Communicator.check_same_rows(TwoRanks(targets.copy()), targets, None)  # the same rows pass
