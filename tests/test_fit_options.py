"""DNN.fit hands every argument to FitOptions under its own name: built by keyword, none can shift."""

import dataclasses
import inspect
import re

import pytest

from dnn import DNN
from dnn.engine import fit_setup


def snake(name):
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), name)


def test_fit_options_takes_keywords_only():
    with pytest.raises(TypeError):
        fit_setup.FitOptions(5)
    assert fit_setup.FitOptions(epochs=5).epochs == 5


def test_every_fit_argument_reaches_the_field_of_its_name(monkeypatch):
    names = [name for name in inspect.signature(DNN.fit).parameters if name not in ("self", "X", "y")]
    assert {snake(name) for name in names} == {field.name for field in dataclasses.fields(fit_setup.FitOptions)}
    seen = {}

    class StopError(Exception):
        pass

    def capture(model, X, y, options):
        seen["options"] = options
        raise StopError

    monkeypatch.setattr(fit_setup, "prepare", capture)
    model = DNN()
    model.addInputLayer([2])
    model.addOutputLayer([2])
    values = {name: f"value of {name}" for name in names}  # a different value for each, to catch a swap
    with pytest.raises(StopError):
        model.fit([[0.0, 1.0]], [0], **values)
    assert {snake(name): value for name, value in values.items()} == dataclasses.asdict(seen["options"])
