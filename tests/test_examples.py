"""examples/distributed_torch.py in its quick form: DDP over 2 processes improves the exported model."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import dnn

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "distributed_torch.py"


def test_distributed_example_trains_the_exported_model_further():
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    if not EXAMPLE.exists():
        pytest.skip("examples/ is not beside the tests (an installed package without the repository)")
    env = {**os.environ, "PYTHONPATH": str(Path(dnn.__file__).resolve().parents[1])}
    done = subprocess.run([sys.executable, str(EXAMPLE), "--quick"], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    before, after = (float(a) for a in re.findall(r"test accuracy (\d\.\d+)", done.stdout))
    assert "2 processes, gloo" in done.stdout
    assert before < 0.5 and after > 0.85
