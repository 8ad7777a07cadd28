"""The building part of the DNN class: layers added one call at a time, the summary, and the config.

A mixin of :class:`dnn.DNN`, kept in its own file so each file stays small; what it uses of the network is
declared by :class:`dnn.model.contract.Network`. The layers themselves are :class:`dnn.model.layers.Layer`
objects; their weights and biases live in the model's one store, :class:`dnn.model.parameters.Parameters`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from dnn import devices, losses, schedules
from dnn.model.contract import Part
from dnn.model.layers import Layer
from dnn.model.parameters import Parameters
from dnn.optimizers import from_config as optimizer_from_config
from dnn.report.text import summary_table

if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    from typing_extensions import Self


class Building(Part):
    """addInputLayer, addHiddenLayer, addOutputLayer, summary, getConfig and fromConfig of :class:`dnn.DNN`."""

    def addInputLayer(self, units: int | Sequence[int]) -> None:
        """Add the input layer (layer 1): ``units`` is ``[n_features]``."""
        layer = Layer.input(units)
        if self._layers:
            raise ValueError("the input layer is already added; build a new DNN for another network")
        self._append_layers([layer])

    def addHiddenLayer(self, units: int | Sequence[int], activation: str | Sequence[str] = "relu",
                       dropout: float | Sequence[float] = 0.0, initializer: Any = None,
                       maxNorm: float | Sequence[float | None] | None = None,
                       normalization: str | Sequence[str | None] | None = None) -> None:
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
        the relu family and Glorot uniform otherwise. ``maxNorm`` (one for all
        or one per layer, in (0, 1e3]; None for none) constrains training:
        after every update, each unit's incoming weight vector (a column of
        ``w[l]``) longer than maxNorm is scaled back to norm maxNorm, as
        Keras's ``MaxNorm`` (without its 1e-7 in the divisor, so a vector
        within the bound is left exactly as it is). ``normalization`` (one for
        all or one per layer; None for none) normalizes each layer's weighted
        sums before its activation, then scales and shifts them by a learned
        gamma and beta: "batch" over the rows of each mini-batch in training
        and by running averages of those statistics in predictions, "layer"
        over the units of each row (see :mod:`dnn.normalization`; as
        PyTorch's ``BatchNorm1d`` and ``LayerNorm`` after a ``Linear``).
        """
        layers = Layer.hidden(units, activation, dropout, initializer, maxNorm, normalization)
        self._require_place("hidden layers go between the input and the output")
        self._append_layers(layers)

    def addOutputLayer(self, units: int | Sequence[int], activation: str = "softmax",
                       loss: str | dict | None = None, initializer: Any = None) -> None:
        """Add the output layer.

        ``activation`` is softmax, sigmoid, identity or step; ``loss`` defaults
        to categorical_crossentropy, binary_crossentropy, squared_error and
        squared_error respectively, and may name another compatible loss
        (aliases such as "mse", "crossentropy", "bce" are accepted): huber,
        absolute_error ("mae") and squared_error after any output; the
        cross-entropies, "focal" (categorical_focal after softmax, binary_focal
        after sigmoid) and poisson only after softmax or sigmoid. A loss with
        settings is a dict, as an initializer with settings is:
        ``{"name": "huber", "delta": 0.5}``, ``{"name": "focal", "gamma": 1.0,
        "alpha": 0.25}``, ``{"name": "crossentropy", "label_smoothing": 0.1}``
        (see :mod:`dnn.loss_settings`); a loss of your own is registered by
        :func:`dnn.losses.register` first. A step output is for weights set by
        hand: it cannot be trained. ``initializer`` as in addHiddenLayer.
        """
        layer = Layer.output(units, activation, initializer)
        loss = _output_loss(layer.activation, loss)
        self._require_place()
        self._append_layers([layer])
        self.loss = loss

    def _require_place(self, note: str = "") -> None:
        """Raise ValueError unless a layer can be added after the input: the input is there, the output is not."""
        if not self._layers:
            raise ValueError("add the input layer first: model.addInputLayer([n_features])")
        if self.loss is not None:
            raise ValueError("the output layer is already added" + (f"; {note}" if note else ""))

    def _append_layers(self, layers: list[Layer], draw: bool = True) -> None:
        """Add checked layers; their parameters join the store, drawn from the model's generator unless ``draw``
        is False (then they are missing until set).

        The input layer starts the store, in the model's dtype (fixed from then on). The store grows once for all
        the layers after it, so a network built from a config is allocated once.
        """
        if layers[0].kind == "input":
            self.state.params = Parameters(self.dtype, devices.get_device(self.device))
        arrays = []
        previous = self._layers[-1] if self._layers else None
        for layer in layers:
            if previous is not None:  # every layer after the input has parameters
                shapes = layer.parameter_shapes(previous.units)
                values = (layer.initial_parameters(previous.units, self.state.rng, self.dtype) if draw
                          else dict.fromkeys(shapes))
                arrays.append({name: (shape, values[name]) for name, shape in shapes.items()})
            previous = layer
        if arrays:
            self.state.params.add_layers(arrays)
        self._layers.extend(layers)

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
            ``dropout`` and ``initializer`` after the input), ``loss`` (a
            name, or a dict of its name and settings), ``optimizer`` (its
            config), ``lr`` (a number or a schedule's config), ``decay``,
            ``l2``, ``seed``, ``dtype``, ``standardize``, ``threads``, ``l1``,
            ``clipNorm`` and ``clipValue``.
        """
        return {
            "layers": [layer.config() for layer in self._layers],
            "loss": copy.deepcopy(self.loss),  # a dict of settings is the caller's to change, not the model's
            "optimizer": self.optimizer.config(),
            "lr": self.lr.config() if isinstance(self.lr, schedules.Schedule) else self.lr,
            "decay": self.decay,
            "l2": self.l2,
            "seed": self.seed,
            "dtype": str(self.dtype),
            "standardize": self.standardize,
            "threads": self.threads,
            "l1": self.l1,
            "clipNorm": self.clipNorm,
            "clipValue": self.clipValue,
        }

    @classmethod
    def fromConfig(cls, config: dict, initialize: bool = True) -> Self:
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
                    standardize=config.get("standardize", False), threads=config.get("threads"),
                    l1=config.get("l1", 0.0), clipNorm=config.get("clipNorm"), clipValue=config.get("clipValue"))
        layers = config["layers"]
        if not layers:
            return model
        model.addInputLayer([Layer.from_config(layers[0], "input").units])  # refuses what an input layer has not
        after = [Layer.from_config(entry, "hidden") for entry in layers[1:-1]]
        if len(layers) > 1:
            output = Layer.from_config(layers[-1], "output")
            loss = _output_loss(output.activation, config.get("loss"))
            model._append_layers([*after, output], draw=initialize)
            model.loss = loss
        return model


def _output_loss(activation: Any, loss: Any) -> str | dict:
    """The stored loss of an output layer with the (checked) ``activation``: ``loss``, or its default (a name, or a
    dict of a name and settings). Which losses follow which activation is decided in :func:`dnn.losses.output_loss`."""
    return losses.output_loss(activation, loss)
