"""The benchmark scripts compile: nothing else runs them in CI (they take minutes), and an error at compile time,
such as a name used before its ``global`` statement, would otherwise first show when someone measures."""

import pathlib

import pytest

SCRIPTS = sorted((pathlib.Path(__file__).resolve().parent.parent / "benchmarks").glob("*.py"))


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda path: path.name)
def test_benchmark_script_compiles(path):
    compile(path.read_text(encoding="utf-8"), str(path), "exec")


def test_the_benchmarks_are_found():
    assert {"bench_fit.py", "bench_threads.py", "bench_predict.py"} <= {path.name for path in SCRIPTS}
