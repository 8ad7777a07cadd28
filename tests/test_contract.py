"""The parts of DNN use exactly what dnn.model.contract.Network declares, and DNN provides all of it."""

import ast
import inspect

import pytest

from dnn import DNN
from dnn.model import building, interop, lr_find, querying, textbook
from dnn.model.contract import Network

PARTS = [(building, "Building"), (querying, "Querying"), (textbook, "Textbook"), (interop, "Interop"),
         (lr_find, "LrFinder")]


def declared():
    """The members Network declares (its annotations and its functions and properties), with __init__."""
    names = set(Network.__annotations__)
    names |= {name for name, value in vars(Network).items()
              if (inspect.isfunction(value) or isinstance(value, property)) and not name.startswith("__")}
    return names | {"__init__"}


def used_of_the_network(module, name):
    """What the part's methods read or call on self, cls or the model they build, other than its own members.

    ``cls(...)`` counts as using the constructor.
    """
    tree = ast.parse(inspect.getsource(module))
    part = next(node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == name)
    own = {node.name for node in part.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
    used = set()
    for node in ast.walk(part):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in ("self", "cls", "model")):
            used.add(node.attr)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "cls":
            used.add("__init__")
    return used - own


def test_the_parts_use_exactly_what_the_contract_declares():
    used = {name: used_of_the_network(module, name) for module, name in PARTS}
    for name, members in used.items():
        assert members <= declared(), f"{name} uses {sorted(members - declared())}, which Network does not declare"
    assert set().union(*used.values()) == declared()  # and nothing declared goes unused


@pytest.mark.parametrize("layers", [False, True])
def test_a_model_provides_the_contract(layers):
    model = DNN(seed=0)
    if layers:
        model.addInputLayer([3])
        model.addOutputLayer([2])
    assert isinstance(model, Network)
    assert not isinstance(object(), Network)
