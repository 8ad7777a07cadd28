"""The building half of the DNN class: layers added one call at a time, the summary, and the config.

A mixin of :class:`dnn.DNN`, kept in its own file so each file stays small.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from dnn import initializers, losses, schedules
from dnn.activations import HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATIONS, canonical_name
from dnn.checks import check_setting, layer_sizes, per_layer
from dnn.losses import COMPATIBLE_LOSSES, DEFAULT_LOSS
from dnn.optimizers import from_config as optimizer_from_config
from dnn.report.text import summary_table

if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    from dnn.model.network import DNN


class Building:
    """addInputLayer, addHiddenLayer, addOutputLayer, summary, getConfig and fromConfig of :class:`dnn.DNN`."""

    def addInputLayer(self, units: int | Sequence[int]) -> None:
        """Add the input layer (layer 1): ``units`` is ``[n_features]``."""
        sizes = layer_sizes(units, "addInputLayer")
        if len(sizes) != 1:
            raise ValueError(f"the input layer has one size, such as [64]; got {list(sizes)}")
        if self.units:
            raise ValueError("the input layer is already added; build a new DNN for another network")
        self.units.append(sizes[0])
        self.activations.append(None)
        self.dropout.append(0.0)
        self.initializers.append(None)

    def addHiddenLayer(self, units: int | Sequence[int], activation: str | Sequence[str] = "relu",
                       dropout: float | Sequence[float] = 0.0, initializer: Any = None) -> None:
        """Add hidden layers, one per entry of ``units`` (for example ``[32, 16]``).

        ``activation`` is one name for all of them or a list with one name per
        layer: sigmoid, tanh, relu, leaky_relu, identity or step (step only
        for forward passes with weights set by hand: it cannot be trained).
        Case and common aliases are accepted ("ReLU", "logistic", "linear").
        ``dropout`` is one rate in [0, 1) or one per layer: during training
        each unit's output is zeroed with that probability and the rest scaled
        by 1 / (1 - rate) (inverted dropout); predictions use the whole
        network. ``initializer`` is one initializer or a list with one per
        layer (see :mod:`dnn.initializers`: "he_normal", "glorot_uniform",
        "torch", {"name": "normal", "std": 0.01}...); by default He normal for
        the relu family and Glorot uniform otherwise.
        """
        for layer in self._hidden_layers(units, activation, dropout, initializer):
            self._append_layer(*layer)

    def _hidden_layers(self, units, activation, dropout, initializer):
        """The checked (size, activation, dropout, initializer) of each hidden layer addHiddenLayer adds."""
        sizes = layer_sizes(units, "addHiddenLayer")
        names = [canonical_name(name, HIDDEN_ACTIVATIONS, "hidden activation")
                 for name in per_layer(activation, len(sizes), "activation")]
        rates = [check_setting("dropout", rate) for rate in per_layer(dropout, len(sizes), "dropout rate")]
        specs = _per_layer_initializers(initializer, len(sizes))
        if not self.units:
            raise ValueError("add the input layer first: model.addInputLayer([n_features])")
        if self.loss is not None:
            raise ValueError("the output layer is already added; hidden layers go between the input and the output")
        return list(zip(sizes, names, rates, specs))

    def addOutputLayer(self, units: int | Sequence[int], activation: str = "softmax", loss: str | None = None,
                       initializer: Any = None) -> None:
        """Add the output layer.

        ``activation`` is softmax, sigmoid, identity or step; ``loss`` defaults
        to categorical_crossentropy, binary_crossentropy, squared_error and
        squared_error respectively, and may name another compatible loss
        (aliases such as "mse", "crossentropy", "bce" are accepted). A step
        output is for weights set by hand: it cannot be trained.
        ``initializer`` as in addHiddenLayer.
        """
        size, activation, loss, spec = self._output_layer(units, activation, loss, initializer)
        self._append_layer(size, activation, 0.0, spec)
        self.loss = loss

    def _output_layer(self, units, activation, loss, initializer):
        """The checked size, activation, loss and initializer of the output layer addOutputLayer adds."""
        sizes = layer_sizes(units, "addOutputLayer")
        if len(sizes) != 1:
            raise ValueError(f"the output layer has one size, such as [10]; got {list(sizes)}")
        activation = canonical_name(activation, OUTPUT_ACTIVATIONS, "output activation")
        if activation == "softmax" and sizes[0] < 2:
            raise ValueError("a softmax output needs at least 2 units; use activation='sigmoid' for one unit")
        loss = DEFAULT_LOSS[activation] if loss is None else losses.canonical_name(loss)
        spec = initializers.canonical(initializer)
        if loss not in COMPATIBLE_LOSSES[activation]:
            raise ValueError(f"loss {loss!r} needs probabilities and cannot follow an {activation} output; "
                             f"use one of {', '.join(COMPATIBLE_LOSSES[activation])}")
        if not self.units:
            raise ValueError("add the input layer first: model.addInputLayer([n_features])")
        if self.loss is not None:
            raise ValueError("the output layer is already added")
        return sizes[0], activation, loss, spec

    def _append_layer(self, size, activation, dropout, initializer=None, draw=True):
        """Add a checked layer, with initial weights drawn from the model's generator unless ``draw`` is False."""
        layer = len(self.units) + 1
        spec = initializers.resolve(initializer, activation)
        w, b = initializers.draw(spec, self.units[-1], size, self.state.rng, self.dtype) if draw else (None, None)
        self.w.add_layer(layer, w)
        self.b.add_layer(layer, b)
        self.units.append(size)
        self.activations.append(activation)
        self.dropout.append(dropout)
        self.initializers.append(spec)

    def summary(self, printFn: Callable[[str], object] = print) -> None:
        """Print a table of the layers, with totals and the training settings.

        Returns None, like Keras' ``summary``, so that a REPL shows the table
        once instead of echoing it again as a string.

        Parameters
        ----------
        printFn : callable, default print
            Called once with the whole table as one string (no trailing
            newline): ``lines = []; model.summary(printFn=lines.append)``
            keeps the text, ``printFn=logger.info`` logs it.
        """
        if not callable(printFn):
            raise ValueError(f"printFn must be a callable such as print, got {printFn!r}")
        printFn(summary_table(self))

    def getConfig(self) -> dict:
        """The architecture and settings as plain data: everything needed to build an untrained twin.

        Returns
        -------
        dict
            ``layers`` (a dict per layer: ``units``, and ``activation``,
            ``dropout`` and ``initializer`` after the input), ``loss``, ``optimizer`` (its
            config), ``lr`` (a number or a schedule's config), ``decay``,
            ``l2``, ``seed``, ``dtype``, ``standardize`` and ``threads``.
        """
        layers = [{"units": self.units[0]}] if self.units else []
        layers += [{"units": u, "activation": a, "dropout": d, "initializer": copy.deepcopy(i)}
                   for u, a, d, i in zip(self.units[1:], self.activations[1:], self.dropout[1:],
                                         self.initializers[1:])]
        return {
            "layers": layers,
            "loss": self.loss,
            "optimizer": self.optimizer.config(),
            "lr": self.lr.config() if isinstance(self.lr, schedules.Schedule) else self.lr,
            "decay": self.decay,
            "l2": self.l2,
            "seed": self.seed,
            "dtype": str(self.dtype),
            "standardize": self.standardize,
            "threads": self.threads,
        }

    @classmethod
    def fromConfig(cls, config: dict, initialize: bool = True) -> DNN:
        """Build the untrained model that ``getConfig`` describes (same seed: same initial weights).

        Every setting is checked as the constructor and ``add*Layer`` check it.
        A layer without an ``initializer`` entry (configs from before
        initializers were recorded) gets the default one.

        Parameters
        ----------
        config : dict
            As :meth:`getConfig` returns it.
        initialize : bool, default True
            Draw the initial weights. False leaves every ``w[l]`` and ``b[l]``
            None, for a caller that sets them all (importModel does, so that
            loading never allocates more than the file holds).
        """
        if (not isinstance(config, dict) or not isinstance(config.get("layers"), list)
                or not all(isinstance(layer, dict) for layer in config["layers"])):
            raise ValueError("a DNN config is a dict with a 'layers' list of dicts, as getConfig returns")
        if not isinstance(initialize, bool):
            raise ValueError(f"initialize must be True or False, got {initialize!r:.80}")
        lr = config.get("lr", 0.01)
        model = cls(lr=schedules.from_config(lr) if isinstance(lr, dict) else lr, decay=config.get("decay", 0.0),
                    optimizer=optimizer_from_config(config.get("optimizer", {"name": "sgd"})),
                    l2=config.get("l2", 0.0), seed=config.get("seed"), dtype=config.get("dtype", "float32"),
                    standardize=config.get("standardize", False), threads=config.get("threads"))
        layers = config["layers"]
        if not layers:
            return model
        model.addInputLayer([layers[0].get("units")])
        for layer in layers[1:-1]:
            (hidden,) = model._hidden_layers([layer.get("units")], layer.get("activation"), layer.get("dropout", 0.0),
                                             [layer.get("initializer")])
            model._append_layer(*hidden, draw=initialize)
        if len(layers) > 1:
            size, activation, loss, spec = model._output_layer([layers[-1].get("units")],
                                                               layers[-1].get("activation"), config.get("loss"),
                                                               layers[-1].get("initializer"))
            model._append_layer(size, activation, 0.0, spec, draw=initialize)
            model.loss = loss
        return model


def _per_layer_initializers(initializer, count):
    """Canonical initializers, one per layer: a list gives one per layer, anything else one for all.

    Only a list is per layer: a tuple is one initializer, ``("normal", 0.05)``.
    """
    specs = list(initializer) if isinstance(initializer, list) else [initializer] * count
    if len(specs) != count:
        raise ValueError(f"give one initializer, or one per layer: {count} layers but {len(specs)} initializers")
    return [initializers.canonical(spec) for spec in specs]
