"""dnn.registry.Registry: lookup in any spelling, the nearest name for a typo, and registration that checks."""

import pytest

from dnn import activations, initializers, losses, metrics, optimizers, schedules
from dnn.registry import Registry, compact, is_function, is_function_pair


def double(x):
    return 2 * x


def halve(x):
    return x / 2


def tiny():
    """A registry of its own, so no test changes one that dnn uses."""
    return Registry("shape", {"square_wave": (double, halve), "circle": (halve, double)}, "a pair of functions",
                    is_function_pair, aliases={"circle": ("round", "disc")}, note=" (or an ellipse)")


@pytest.mark.parametrize(("spelling", "expected"), [
    ("square_wave", "square_wave"), ("Square-Wave", "square_wave"), ("SQUARE WAVE", "square_wave"),
    ("squarewave", "square_wave"), (" circle ", "circle"), ("Round", "circle"), ("DISC", "circle"),
    ("triangle", None), ("", None), (3, None), (None, None), (["circle"], None),
])
def test_lookup_in_any_case_and_separator_and_by_alias(spelling, expected):
    assert tiny().lookup(spelling) == expected


def test_compact_drops_case_underscores_hyphens_and_spaces():
    assert compact("  Leaky_ReLU-x y ") == "leakyreluxy"


def test_get_returns_the_entry_of_any_spelling():
    registry = tiny()
    assert registry.get("circle") == (halve, double)
    assert registry.get("Round") is registry.entries["circle"]
    assert registry.names() == ("square_wave", "circle")


@pytest.mark.parametrize(("name", "message"), [
    ("squre_wave", r"^unknown shape 'squre_wave'; did you mean 'square_wave'\? valid names: square_wave, circle "
                   r"\(or an ellipse\)$"),
    ("rond", r"^unknown shape 'rond'; did you mean 'circle'\? "),          # nearest to an alias: its entry named
    ("xyzzy", r"^unknown shape 'xyzzy'; valid names: square_wave, circle"),
    (None, r"^unknown shape None; valid names"),
    (["circle"], r"^unknown shape \['circle'\]; valid names"),
])
def test_an_unknown_name_suggests_the_nearest_and_lists_the_valid_ones(name, message):
    with pytest.raises(ValueError, match=message):
        tiny().get(name)


def test_among_restricts_the_names_and_the_suggestions():
    registry = tiny()
    assert registry.canonical("Disc", among=("circle",)) == "circle"
    with pytest.raises(ValueError, match=r"^square_wave is not a valid round shape; valid names: circle$"):
        registry.canonical("squarewave", among=("circle",), kind="round shape")
    # the nearest name is outside the valid ones: no suggestion
    with pytest.raises(ValueError, match=r"^unknown round shape 'squre'; valid names: circle"):
        registry.canonical("squre", among=("circle",), kind="round shape")


def test_register_adds_an_entry_found_by_every_spelling():
    registry = tiny()
    assert registry.register("star", (double, double), aliases=("pentagram",)) == (double, double)
    assert registry.names() == ("square_wave", "circle", "star")
    assert registry.get("Pentagram") is registry.get("STAR") is registry.entries["star"]
    # a notebook cell run again replaces its own entry
    registry.register("star", (halve, halve))
    assert registry.get("star") == (halve, halve)
    with pytest.raises(ValueError, match=r"did you mean 'star'\?"):
        registry.get("starr")


def test_register_refuses_to_replace_a_built_in_or_take_another_entrys_spelling_unless_asked():
    registry = tiny()
    with pytest.raises(ValueError, match=r"'circle' is a built-in shape; pass replace=True to replace it"):
        registry.register("circle", (double, double))
    with pytest.raises(ValueError, match=r"'Round' already names the shape 'circle'"):
        registry.register("oval", (double, double), aliases=("Round",))
    with pytest.raises(ValueError, match=r"'squarewave' already names the shape 'square_wave'"):
        registry.register("squarewave", (double, double))
    assert registry.names() == ("square_wave", "circle") and registry.get("round") == (halve, double)
    registry.register("circle", (double, double), replace=True)
    registry.register("oval", (halve, halve), aliases=("Round",), replace=True)
    assert registry.get("circle") == (double, double) and registry.get("round") == (halve, halve)


@pytest.mark.parametrize("entry", [double, (double,), (double, halve, double), (double, "halve"), [double, halve]])
def test_register_checks_the_shape_of_the_entry(entry):
    registry = tiny()
    with pytest.raises(TypeError, match=r"a shape is registered as a pair of functions; 'star' was given"):
        registry.register("star", entry)
    assert "star" not in registry.entries


@pytest.mark.parametrize("name", ["", "  ", "-_", " star", None, 3])
def test_register_refuses_a_name_that_is_not_a_plain_string(name):
    with pytest.raises(ValueError, match="a shape name is a non-empty string without surrounding spaces"):
        tiny().register(name, (double, halve))


def test_the_built_ins_are_checked_and_aliases_must_name_an_entry():
    with pytest.raises(TypeError, match="'bad' was given"):
        Registry("shape", {"bad": double}, "a pair of functions", is_function_pair)
    with pytest.raises(ValueError, match=r"aliases \('o',\) name the shape 'oval', which is not registered"):
        Registry("shape", {"circle": double}, "a function", is_function, aliases={"oval": ("o",)})


def test_an_entry_put_into_the_table_directly_is_found_and_leaves_with_it(monkeypatch):
    registry = tiny()
    monkeypatch.setitem(registry.entries, "Hexagon", (double, halve))
    assert registry.lookup("hexagon") == "Hexagon" and registry.get("HEXAGON") == (double, halve)
    registry.register("hex", (double, halve), aliases=("six",))
    del registry.entries["hex"]
    assert registry.lookup("six") is None


@pytest.mark.parametrize(("module", "table", "kind"), [
    (activations, "ACTIVATIONS", "activation"), (losses, "LOSSES", "loss"),
    (initializers, "INITIALIZERS", "initializer"), (optimizers, "OPTIMIZERS", "optimizer"),
    (schedules, "SCHEDULES", "schedule"), (metrics, "METRICS", "metric"),
])
def test_every_component_module_keeps_its_table_in_a_registry(module, table, kind):
    registry = module.REGISTRY
    assert isinstance(registry, Registry) and registry.kind == kind
    assert registry.entries is getattr(module, table)     # one table: the registry's is the module's
    assert registry.builtins == set(registry.names())


@pytest.mark.parametrize(("registry", "other"), [(optimizers.REGISTRY, optimizers.SGD),
                                                 (schedules.REGISTRY, schedules.StepDecay)])
def test_a_class_is_registered_under_its_own_name_only(registry, other):
    # config() writes the class's name and from_config looks it up: a class under another name would not load back
    with pytest.raises(TypeError, match="whose name is the registered name; 'renamed' was given <class"):
        registry.register("renamed", other)
    with pytest.raises(TypeError, match="'renamed' was given <function"):
        registry.register("renamed", double)
    assert "renamed" not in registry.entries
