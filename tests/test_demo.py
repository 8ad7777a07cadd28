import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("sklearn")

DEMO = Path(__file__).resolve().parents[1] / "demo.py"


def load_demo():
    spec = importlib.util.spec_from_file_location("demo", DEMO)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_demo_network_reaches_97_percent_on_the_digits_test_split():
    model, X_test, y_test = load_demo().train_digits_model(verbose=0)
    assert model.modelEvaluate(X_test, y_test, verbose=0)["accuracy"] >= 0.97
