"""Every lesson in examples/ runs with --quick and prints the figures it is about."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("sklearn")
ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
MNIST = ROOT.parent / "shared" / "data" / "mnist" / "t10k-images-idx3-ubyte.gz"
needs_mnist = pytest.mark.skipif(not MNIST.exists(), reason=f"no MNIST test set at {MNIST.parent}")


def run_lesson(name, tmp_path, *args):
    """The lesson's output with --quick, after checking it exited with status 0."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), MPLBACKEND="Agg")
    done = subprocess.run([sys.executable, str(EXAMPLES / name), "--quick", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def number_after(text, label):
    return float(re.search(re.escape(label) + r"\s*([-+0-9.e]+)", text).group(1))


def test_neuron_and_gate(tmp_path):
    out = run_lesson("neuron_and_gate.py", tmp_path)
    assert "step    x1 x2 = 00 01 10 11 -> [0. 0. 0. 1.]" in out     # AND with weights -30, 20, 20
    for gate in ("AND", "OR", "NAND"):
        assert re.search(rf"{gate}\s+learned in 3/3 seeds", out)
    assert re.search(r"XOR\s+learned in 0/3 seeds \(stall warning in 3\)", out)
    assert "XOR with a hidden layer of 4 tanh units: learned in 3/3 seeds" in out


def test_forward_pass(tmp_path):
    out = run_lesson("forward_pass.py", tmp_path)
    assert "output [0.31682708 0.69627909]" in out                  # Deep Learning from Scratch, 3.4.3
    assert "softmax([0.3, 2.9, 4.0]) = [0.01821127 0.24519181 0.73659691]" in out
    if MNIST.exists():
        assert "one row at a time and batches of 100 give the same answers" in out
        assert number_after(out, "accuracy") > 0.7


def test_forward_pass_says_when_mnist_is_absent(tmp_path):
    out = run_lesson("forward_pass.py", tmp_path, "--mnist", str(tmp_path / "nothing"))
    assert "MNIST part skipped" in out and "[0.31682708 0.69627909]" in out


def test_digits_sigmoid(tmp_path):
    out = run_lesson("digits_sigmoid.py", tmp_path)
    assert number_after(out, "Mean test accuracy over 1 seed(s):") >= 0.939
    assert number_after(out, "correct chain rule vs dnn's backPropagation: relative difference") < 1e-10
    assert number_after(out, "tutorial's (no sigmoid derivative) vs dnn's:  relative difference") > 0.1
    assert number_after(out, "largest error") < 1e-6


def test_digit_strip(tmp_path):
    out = run_lesson("digit_strip.py", tmp_path, "--strip-png", str(tmp_path / "strip.png"))
    match = re.search(r"strip read 0 1 2 3 4, test accuracy ([0-9.]+) -> ([0-9.]+)", out)
    assert match, out
    before, after = map(float, match.groups())
    assert before >= 0.97 and after >= 0.96
    assert (tmp_path / "strip.png").exists() and (tmp_path / "strip_rows.png").exists()


@needs_mnist
def test_mnist_class(tmp_path):
    out = run_lesson("mnist_class.py", tmp_path, "--out", str(tmp_path / "out"))
    assert "Loaded back: predictions match" in out
    assert number_after(out, "held-out digits") > 0.75          # 2 epochs on 2,000 digits: 0.81
    moved = dict(re.findall(r"(\('w', 2, \d, \d+\)).*\(moved ([0-9.]+)\)", out))
    assert float(moved["('w', 2, 1, 1)"]) == 0.0                     # the blank corner never moves
    assert max(float(moved[f"('w', 2, {j}, 407)"]) for j in (1, 2, 3)) > 0.001   # the centre does
    for name in ("mnist_convergence.png", "mnist_weights.png", "mnist_model.pkl"):
        assert (tmp_path / "out" / name).exists()


def accuracies(out):
    return [float(a) for a in re.findall(r"test accuracy ([0-9.]+)", out)]


def test_tabular(tmp_path):
    out = run_lesson("tabular.py", tmp_path)
    raw_cancer, std_cancer, raw_wine, std_wine = accuracies(out)
    assert std_cancer >= 0.93 and std_wine >= 0.93
    assert raw_cancer < std_cancer and raw_wine < std_wine
    assert out.count("TrainingStalledWarning") >= 2


def test_tabular_on_a_csv(tmp_path):
    from sklearn.datasets import load_wine

    load_wine(as_frame=True).frame.rename(columns={"target": "kind"}).to_csv(tmp_path / "wine.csv", index=False)
    out = run_lesson("tabular.py", tmp_path, "--csv", "wine.csv", "--target", "kind")
    assert "178 rows, 13 features" in out and "3 classes" in out
    assert accuracies(out)[1] >= 0.93
