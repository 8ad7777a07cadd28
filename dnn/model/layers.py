"""One object per layer: its kind (input, hidden, output), size, activation, dropout, initializer and normalization.

A model is a list of them (``model.layers``). ``model.units``, ``model.activations``, ``model.dropout`` and
``model.initializers`` are read off them (:class:`LayerField`), ``getConfig``'s layer dicts are their
:meth:`Layer.config`, and ``fromConfig`` and model files rebuild them with :meth:`Layer.from_config`. A layer
option is a field of :class:`Layer`, with its check (in :meth:`Layer.hidden` or :meth:`Layer.output`) and its
config entry, all in this class; the parameters a layer has are the shapes :meth:`Layer.parameter_shapes` declares.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np

from dnn import initializers
from dnn.activations import HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATIONS, canonical_name
from dnn.checks import check_setting, layer_sizes, per_layer
from dnn.normalization import KINDS

#: The arrays a normalized layer has beyond its weights and biases, by normalization.
NORMALIZATION_ARRAYS = {"batch": ("gamma", "beta", "running_mean", "running_var"), "layer": ("gamma", "beta")}


@dataclass(frozen=True)
class Layer:
    """One layer of a fully-connected network, checked when made.

    Make layers with :meth:`input`, :meth:`hidden`, :meth:`output` or :meth:`from_config`, which check every option
    (the dataclass constructor takes values as they are). Frozen: a model's layers change only by being added.

    Attributes
    ----------
    kind : {"input", "hidden", "output"}
    units : int
    activation : str or None
        The registry name of the activation (None for the input layer).
    dropout : float in [0, 1)
        Rate of inverted dropout on the layer's output in training (hidden layers only).
    initializer : str, dict or None
        The canonical initializer of the layer's weights (None for the input layer): the one given, or the
        activation's default.
    max_norm : float or None
        After every update, each unit's incoming weight vector (a column of ``w[l]``) longer than this is scaled
        back to this norm (hidden layers only; None: no constraint).
    normalization : {"batch", "layer"} or None
        Normalization of the layer's weighted sums before its activation (hidden layers only; see
        :mod:`dnn.normalization`).
    """

    kind: str
    units: int
    activation: str | None = None
    dropout: float = 0.0
    initializer: Any = None
    max_norm: float | None = None
    normalization: str | None = None

    @classmethod
    def input(cls, units: Any) -> Layer:
        """The input layer, from ``[n_features]`` (as ``addInputLayer`` takes it)."""
        sizes = layer_sizes(units, "addInputLayer")
        if len(sizes) != 1:
            raise ValueError(f"the input layer has one size, such as [64]; got {list(sizes)}")
        return cls("input", sizes[0])

    @classmethod
    def hidden(cls, units: Any, activation: Any = "relu", dropout: Any = 0.0, initializer: Any = None,
               max_norm: Any = None, normalization: Any = None) -> list[Layer]:
        """Hidden layers, one per entry of ``units``, each option one for all or a list of one per layer.

        Only a list gives one initializer per layer: a tuple is one initializer, ``("normal", 0.05)``.
        """
        sizes = layer_sizes(units, "addHiddenLayer")
        names = [canonical_name(name, HIDDEN_ACTIVATIONS, "hidden activation")
                 for name in per_layer(activation, len(sizes), "activation")]
        rates = [check_setting("dropout", rate) for rate in per_layer(dropout, len(sizes), "dropout rate")]
        norms = [None if limit is None else check_setting("maxNorm", limit)
                 for limit in per_layer(max_norm, len(sizes), "maxNorm")]
        kinds = [_normalization(kind) for kind in per_layer(normalization, len(sizes), "normalization")]
        specs = list(initializer) if isinstance(initializer, list) else [initializer] * len(sizes)
        if len(specs) != len(sizes):
            raise ValueError(f"give one initializer, or one per layer: {len(sizes)} layers but {len(specs)} "
                             f"initializers")
        specs = [initializers.canonical(spec) for spec in specs]
        return [cls("hidden", size, name, rate, initializers.resolve(spec, name), limit, kind)
                for size, name, rate, spec, limit, kind in zip(sizes, names, rates, specs, norms, kinds)]

    @classmethod
    def output(cls, units: Any, activation: Any = "softmax", initializer: Any = None) -> Layer:
        """The output layer, from ``[n_outputs]`` (as ``addOutputLayer`` takes it); no dropout."""
        sizes = layer_sizes(units, "addOutputLayer")
        if len(sizes) != 1:
            raise ValueError(f"the output layer has one size, such as [10]; got {list(sizes)}")
        activation = canonical_name(activation, OUTPUT_ACTIVATIONS, "output activation")
        if activation == "softmax" and sizes[0] < 2:
            raise ValueError("a softmax output needs at least 2 units; use activation='sigmoid' for one unit")
        spec = initializers.canonical(initializer)
        return cls("output", sizes[0], activation, 0.0, initializers.resolve(spec, activation))

    @classmethod
    def from_config(cls, entry: dict, kind: str) -> Layer:
        """The layer of kind ``kind`` that a dict of ``getConfig()["layers"]`` describes, checked as ``add*Layer``
        checks it. A missing ``initializer`` (configs from before initializers were recorded) gets the default."""
        if kind != "hidden" and entry.get("normalization") is not None:
            raise ValueError(f"normalization is for hidden layers only; the {kind} layer's config has "
                             f"{entry['normalization']!r:.40}")
        if kind == "input":
            return cls.input([entry.get("units")])
        if kind == "output":
            return cls.output([entry.get("units")], entry.get("activation"), entry.get("initializer"))
        (layer,) = cls.hidden([entry.get("units")], entry.get("activation"), entry.get("dropout", 0.0),
                              [entry.get("initializer")], entry.get("maxNorm"), entry.get("normalization"))
        return layer

    def config(self) -> dict:
        """The layer as plain data, a dict of ``getConfig()["layers"]``: ``units``, and after the input
        ``activation``, ``dropout``, ``initializer`` and, where set, ``maxNorm`` and ``normalization``."""
        if self.kind == "input":
            return {"units": self.units}
        config = {"units": self.units, "activation": self.activation, "dropout": self.dropout,
                  "initializer": copy.deepcopy(self.initializer)}
        if self.max_norm is not None:
            config["maxNorm"] = self.max_norm
        if self.normalization is not None:
            config["normalization"] = self.normalization
        return config

    def parameter_shapes(self, fan_in: int) -> dict:
        """``{name: shape}`` of the layer's arrays after a layer of ``fan_in`` units: weights ``w`` (fan_in, units),
        biases ``b`` (units,), and with a normalization its ``gamma`` and ``beta`` (units,), with batch
        normalization its ``running_mean`` and ``running_var`` (units,)."""
        shapes = {"w": (fan_in, self.units), "b": (self.units,)}
        shapes.update((name, (self.units,)) for name in NORMALIZATION_ARRAYS.get(self.normalization, ()))
        return shapes

    def initial_parameters(self, fan_in, rng, dtype) -> dict:
        """``{name: initial array}`` for :meth:`parameter_shapes`: weights and biases drawn from ``rng`` by the
        layer's initializer; gamma and the running variance ones, beta and the running mean zeros."""
        w, b = initializers.draw(self.initializer, fan_in, self.units, rng, dtype)
        values = {"w": w, "b": b}
        for name in self.parameter_shapes(fan_in).keys() - values.keys():
            values[name] = (np.ones if name in ("gamma", "running_var") else np.zeros)(self.units, dtype)
        return values


def _normalization(kind: Any) -> str | None:
    """A layer's checked normalization: None, "batch" or "layer"."""
    if kind is None or (isinstance(kind, str) and kind in KINDS):
        return kind
    raise ValueError(f"normalization must be None, 'batch' or 'layer', got {kind!r:.80}")


class LayerField:
    """``model.units``, ``model.activations``, ``model.dropout``, ``model.initializers``: one field of every layer.

    A new list on every read, from ``model.layers``; assigning one is refused: the layers are built by
    ``addInputLayer``, ``addHiddenLayer`` and ``addOutputLayer`` (or ``DNN.fromConfig``).
    """

    def __init__(self, field: str) -> None:
        self.field = field
        self.__doc__ = f"The {field} of every layer, input first: a list read off ``model.layers``."

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, model, owner=None):
        if model is None:
            return self
        return [getattr(layer, self.field) for layer in model.layers]

    def __set__(self, model, value):
        raise AttributeError(f"model.{self.name} is read off model.layers and cannot be assigned; build the network "
                             f"with addInputLayer, addHiddenLayer and addOutputLayer, or DNN.fromConfig")
