"""The benchmark scripts compile: nothing else runs them in CI (they take minutes), and an error at compile time,
such as a name used before its ``global`` statement, would otherwise first show when someone measures; and
``bench_fit.py --breakdown`` (on a tiny workload) prints parts that add up, with timers that change nothing."""

import importlib.util
import pathlib
import re
import subprocess
import sys
import time

import numpy as np
import pytest

SCRIPTS = sorted((pathlib.Path(__file__).resolve().parent.parent / "benchmarks").glob("*.py"))


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda path: path.name)
def test_benchmark_script_compiles(path):
    compile(path.read_text(encoding="utf-8"), str(path), "exec")


def test_the_benchmarks_are_found():
    assert {"bench_fit.py", "bench_threads.py", "bench_predict.py"} <= {path.name for path in SCRIPTS}


def _load_breakdown():
    """benchmarks/breakdown.py as a module (benchmarks/ is not a package)."""
    path = SCRIPTS[0].parent / "breakdown.py"
    spec = importlib.util.spec_from_file_location("bench_breakdown", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _decimals(number):
    return len(number.partition(".")[2])


def test_bench_fit_breakdown_adds_up():
    # 600 rows in batches of 32: 19 batches, the last of 24 rows
    command = [sys.executable, str(SCRIPTS[0].parent / "bench_fit.py"), "--breakdown", "--rows", "600", "--hidden",
               "16", "--batch", "32", "--epochs", "1", "--threads", "1"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=True)
    line = next(line for line in result.stdout.splitlines() if line.startswith("breakdown"))
    assert "(us per batch, 19 batches;" in line
    buckets = re.findall(r"([a-z+]+) (-?[\d.]+) \((-?\d+)%\)", line.partition("):")[2])
    total, seconds = re.search(r"; total ([\d.]+) \(fit ([\d.]+) s\)$", line).groups()
    values = {name: float(value) for name, value, _ in buckets}
    assert list(values) == ["products", "update", "gather", "activations", "loss+delta", "setup", "rest"]
    # each bucket reached by its timers, and none counted twice (that would leave a negative rest)
    assert all(value > 0 for name, value in values.items() if name != "rest")
    assert values["rest"] >= 0
    # the printed parts add up to the printed total within their rounding, and the total is the fit's time per batch
    rounding = sum(0.5 * 10.0 ** -_decimals(value) for _, value, _ in buckets) + 0.5 * 10.0 ** -_decimals(total)
    assert abs(sum(values.values()) - float(total)) <= rounding
    assert float(total) == pytest.approx(1e6 * float(seconds) / 19, abs=0.5 * 10.0 ** -_decimals(total) + 0.06)
    for _, value, share in buckets:
        assert abs(int(share) - 100 * float(value) / float(total)) <= 0.5 + 100 * rounding / float(total)
    assert re.search(r"^GEMM floor: [\d.]+ us per batch at 1 BLAS threads", result.stdout, re.MULTILINE)
    assert "note:" not in result.stdout


def test_breakdown_timers_change_no_result_and_are_removed():
    breakdown = _load_breakdown()
    import dnn.backprop
    from dnn import DNN
    from dnn.engine.batches import TrainingData
    from dnn.optimizers import SGD

    rng = np.random.default_rng(0)
    X = rng.standard_normal((96, 6)).astype(np.float32)
    y = X[:, :3].argmax(axis=1)  # a rule to learn, so that no stall warning is raised

    def trained(timed):
        # sigmoid: hidden layers run HIDDEN_FORWARD's kernel, the output layer not; l2: UpdateRules around SGD
        model = DNN(lr=0.1, momentum=0.9, l2=1e-3, seed=0, threads=1)
        model.addInputLayer([6])
        model.addHiddenLayer([8, 5], activation="sigmoid", normalization=[None, "batch"])
        model.addOutputLayer([3], activation="softmax")
        if not timed:
            model.fit(X, y, epochs=3, batchSize=16, verbose=0)
            return model, None
        with breakdown.Breakdown(model.optimizer) as timers:
            model.fit(X, y, epochs=3, batchSize=16, verbose=0)
        return model, timers

    originals = (dnn.backprop.namespace, dnn.backprop.get_activation, dnn.backprop.HIDDEN_FORWARD, TrainingData.gather)
    plain, _ = trained(timed=False)
    timed, timers = trained(timed=True)
    assert np.array_equal(plain.state.params.flat, timed.state.params.flat)
    assert timers.missed == [] and timers.calls["normalization"] > 0
    assert (dnn.backprop.namespace, dnn.backprop.get_activation, dnn.backprop.HIDDEN_FORWARD,
            TrainingData.gather) == originals
    assert "update" not in vars(SGD) or vars(SGD)["update"].__name__ == "update"


def test_breakdown_counts_a_timed_call_inside_another_once():
    timers = _load_breakdown().Breakdown(None)
    inner = timers.timed(lambda: time.sleep(0.01), "products")
    outer = timers.timed(lambda: inner(), "update")
    started = time.perf_counter()
    outer()
    wall = time.perf_counter() - started
    assert timers.seconds["products"] >= 0.01
    # the outer bucket holds only its own time: the two together are at most the call's whole time
    assert timers.seconds["products"] + timers.seconds["update"] <= wall
    assert timers.calls["products"] == timers.calls["update"] == 1


def _bench_gpu(*arguments):
    command = [sys.executable, str(SCRIPTS[0].parent / "bench_gpu.py"), *arguments]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_bench_gpu_without_cupy_says_so_in_one_line_and_succeeds():
    if importlib.util.find_spec("cupy") is not None:
        pytest.skip("CuPy is installed: bench_gpu.py would measure")
    result = _bench_gpu("--rounds", "1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [result.stdout.strip()]
    assert result.stdout.startswith("bench_gpu: nothing measured, no GPU for dnn here: ")
    assert "CuPy" in result.stdout and "pip install cupy-cuda12x" in result.stdout


def test_bench_gpu_refuses_unknown_names_before_looking_for_a_gpu():
    result = _bench_gpu("--networks", "mnist,huge")
    assert result.returncode == 2
    assert "expected some of mnist, wide, got 'mnist,huge'" in result.stderr
    result = _bench_gpu("--systems", "dnn-gpu,jax", "--batches", "1024")
    assert result.returncode == 2
    assert "expected some of dnn-gpu, torch, dnn-cpu, got 'dnn-gpu,jax'" in result.stderr
    result = _bench_gpu("--batches", "128,0")
    assert result.returncode == 2
    assert "expected a positive integer, got '0'" in result.stderr
