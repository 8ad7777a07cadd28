"""The examples that train across processes, in their quick form: examples/distributed.py under torchrun (2 local
processes, fit(distributed=True)), and examples/distributed_torch.py (DDP over 2 processes improves the exported
model)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import dnn
from dnn import DNN
from dnn.datasets import load_digits

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "distributed_torch.py"
DISTRIBUTED = EXAMPLE.with_name("distributed.py")

#: What a process prints when gloo's teardown aborts it: a race inside PyTorch's C++ threads at exit (a std::thread
#: destroyed while still joinable), seen now and then in CI on a loaded 2-core machine after DistributedDataParallel
#: has trained and saved, although every rank waits and closes the group. dnn's own example ends with
#: dnn.engine.distributed.finish(), which removed it there, and runs once.
GLOO_TEARDOWN_ABORT = "terminate called without an active exception"


def run_example(command, env):
    """Run ``command``; once more if gloo's teardown aborted it (see GLOO_TEARDOWN_ABORT), and only then."""
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    if done.returncode != 0 and GLOO_TEARDOWN_ABORT in done.stderr:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    return done


def test_distributed_example_trains_on_two_processes_and_rank_0_alone_reports_and_saves(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    if not DISTRIBUTED.exists():
        pytest.skip("examples/ is not beside the tests (an installed package without the repository)")
    env = {**os.environ, "PYTHONPATH": str(Path(dnn.__file__).resolve().parents[1])}
    saved = tmp_path / "model.pkl"
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           str(DISTRIBUTED), "--quick", "--out", str(saved)], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    (accuracy,) = (float(a) for a in re.findall(r"test accuracy (\d\.\d+)", done.stdout))  # printed once: rank 0
    assert "digits, 5 epochs in global batches of 128 rows on 2 processes" in done.stdout
    assert accuracy > 0.85
    X, y = load_digits()
    assert round(DNN.importModel(saved).modelEvaluate(X[1500:] / 16, y[1500:], verbose=0)["accuracy"], 4) == accuracy


def test_distributed_example_trains_the_exported_model_further():
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    if not EXAMPLE.exists():
        pytest.skip("examples/ is not beside the tests (an installed package without the repository)")
    env = {**os.environ, "PYTHONPATH": str(Path(dnn.__file__).resolve().parents[1])}
    done = run_example([sys.executable, str(EXAMPLE), "--quick"], env)
    assert done.returncode == 0, done.stderr
    before, after = (float(a) for a in re.findall(r"test accuracy (\d\.\d+)", done.stdout))
    assert "2 processes, gloo" in done.stdout
    assert before < 0.5 and after > 0.85
