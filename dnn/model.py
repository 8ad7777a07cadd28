"""The DNN class: build, train, query and keep a fully-connected network.

Layers are numbered from 1, the input layer, to L, the output layer.
``w[l]`` (units of layer l-1, units of layer l) and ``b[l]`` (units of layer
l,) hold the parameters of layer l = 2..L; assigning arrays of those shapes
there sets weights by hand, and the model checks them before using them.

The class holds the architecture and a :class:`dnn.state.TrainingState`, and
orchestrates; the formulas live in ``activations``, ``losses``, ``backprop``
and ``optimizers``, the training loop in ``training``.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from dnn import fit_setup, initializers, losses, persistence, schedules, targets, training
from dnn.activations import HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATIONS, canonical_name
from dnn.callbacks import Callback
from dnn.checks import check_number, is_int, layer_sizes, per_layer
from dnn.interop import Interop
from dnn.layer_arrays import LayerArrays
from dnn.losses import COMPATIBLE_LOSSES, DEFAULT_LOSS
from dnn.optimizers import Optimizer, make_optimizer
from dnn.optimizers import from_config as optimizer_from_config
from dnn.parameters import Parameters, checked_array
from dnn.querying import Querying
from dnn.reporting import summary_table
from dnn.state import OptimizerSetting, StateField, TrainingState
from dnn.textbook import Textbook
from dnn.threads import ThreadPolicy, check_threads

DTYPES = ("float32", "float64")


class DNN(Querying, Textbook, Interop):
    """A fully-connected feed-forward neural network.

    Parameters
    ----------
    lr : float or dnn.schedules.Schedule
        Learning rate, or a schedule giving it per epoch.
    decay : float
        Shorthand for the schedule lr / (1 + decay * epoch).
    optimizer : {"sgd", "adam"} or a dnn.optimizers.Optimizer
        A name takes its settings from the arguments below; an instance is copied.
    momentum : float in [0, 1)
        Momentum of "sgd".
    nesterov : bool
        Nesterov momentum for "sgd".
    l2 : float
        L2 penalty: (l2 / 2) * sum of squared weights is added to the loss.
    beta1, beta2, epsilon : float
        Settings of "adam" (epsilon also of "rmsprop").
    seed : int or None
        Seeds the model's own random generator (initialization, shuffling,
        dropout): the same seed and data give bit-identical weights.
    dtype : {"float32", "float64"}
        Precision of weights and computations.
    standardize : bool
        Scale every feature by the mean and standard deviation learned from
        the training data at the first fit (see fit), inside the model.
    threads : int or None
        BLAS threads for this model's work; None chooses automatically.
    """

    momentum = OptimizerSetting()
    nesterov = OptimizerSetting()
    beta1 = OptimizerSetting()
    beta2 = OptimizerSetting()
    epsilon = OptimizerSetting()
    history = StateField("history")
    parameterRecord = StateField("parameter_record")  # noqa: N815 (the tutorial's name)
    epochs = StateField("epochs")
    stoppedEarly = StateField("stopped_early")  # noqa: N815 (the tutorial's name)
    restoredEpoch = StateField("restored_epoch")  # noqa: N815 (camelCase like stoppedEarly)

    def __init__(self, lr: float | schedules.Schedule = 0.01, decay: float = 0.0, optimizer: str | Optimizer = "sgd",
                 momentum: float = 0.0, nesterov: bool = False, l2: float = 0.0, beta1: float = 0.9,
                 beta2: float = 0.999, epsilon: float = 1e-8, seed: int | None = None, dtype: DTypeLike = "float32",
                 standardize: bool = False, threads: int | None = None) -> None:
        schedule = schedules.make_schedule(lr, decay)
        l2 = check_number(l2, "l2", low=0)
        optimizer = make_optimizer(optimizer, momentum=momentum, nesterov=nesterov, beta1=beta1, beta2=beta2,
                                   epsilon=epsilon)
        if seed is not None and (not is_int(seed) or seed < 0):
            raise ValueError(f"seed must be a non-negative integer or None, got {seed!r}")
        try:
            known = str(np.dtype(dtype)) in DTYPES
        except TypeError:
            known = False
        if not known:
            raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
        if not isinstance(standardize, bool):
            raise ValueError(f"standardize must be True or False, got {standardize!r}")
        # Numbers are kept as the floats the schedule checked (a Fraction or Decimal never reaches an array).
        self.lr = lr if isinstance(lr, schedules.Schedule) else schedule.lr
        self.decay = decay if isinstance(lr, schedules.Schedule) else schedule.decay
        self.l2 = l2
        self.seed = seed
        self.dtype = np.dtype(dtype)
        self.standardize = standardize
        self.threads = threads  # checked by the property
        self.state = TrainingState(optimizer, schedule, np.random.default_rng(seed))
        self.feature_names = None
        self.feature_mean = None
        self.feature_scale = None
        self.units = []
        self.activations = []
        self.dropout = []
        self.loss = None
        self.w = LayerArrays("w", what="weights")
        self.b = LayerArrays("b", what="biases")
        self.initializers = []
        self.task = None
        self.classes = None
        self._cache = None

    @property
    def threads(self) -> int | None:
        """BLAS threads for this model's training and predictions: an int, or None to choose by measuring."""
        return self._threads

    @threads.setter
    def threads(self, threads):
        self._threads = check_threads(threads)
        self._thread_policy = None

    def thread_policy(self) -> ThreadPolicy:
        """The model's :class:`dnn.threads.ThreadPolicy`; it remembers what it measured from one fit to the next."""
        if self._thread_policy is None:
            self._thread_policy = ThreadPolicy(self._threads)
        return self._thread_policy

    @property
    def l2(self) -> float:
        """The L2 penalty (a float); assigning checks it and converts it to float."""
        return self._l2

    @l2.setter
    def l2(self, value):
        self._l2 = check_number(value, "l2", low=0)

    @property
    def optimizer(self) -> Optimizer:
        """The :class:`dnn.optimizers.Optimizer` (its state included); assign a name or an instance to change it."""
        return self.state.optimizer

    @optimizer.setter
    def optimizer(self, optimizer: str | Optimizer) -> None:
        self.state.optimizer = make_optimizer(optimizer)

    # ------------------------------------------------------------------ building

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
        sizes = layer_sizes(units, "addHiddenLayer")
        names = [canonical_name(name, HIDDEN_ACTIVATIONS, "hidden activation")
                 for name in per_layer(activation, len(sizes), "activation")]
        rates = per_layer(dropout, len(sizes), "dropout rate")
        specs = _per_layer_initializers(initializer, len(sizes))
        for rate in rates:
            check_number(rate, "dropout", low=0, high=1)
        if not self.units:
            raise ValueError("add the input layer first: model.addInputLayer([n_features])")
        if self.loss is not None:
            raise ValueError("the output layer is already added; hidden layers go between the input and the output")
        for size, name, rate, spec in zip(sizes, names, rates, specs):
            self._append_layer(size, name, float(rate), spec)

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
        self._append_layer(sizes[0], activation, 0.0, spec)
        self.loss = loss

    def _append_layer(self, size, activation, dropout, initializer=None):
        layer = len(self.units) + 1
        spec = initializers.resolve(initializer, activation)
        w, b = initializers.draw(spec, self.units[-1], size, self.state.rng, self.dtype)
        self.w.add_layer(layer, w)
        self.b.add_layer(layer, b)
        self.units.append(size)
        self.activations.append(activation)
        self.dropout.append(dropout)
        self.initializers.append(spec)

    def summary(self) -> str:
        """Print a table of the layers and return it as text."""
        text = summary_table(self)
        print(text)
        return text

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
    def fromConfig(cls, config: dict) -> DNN:
        """Build the untrained model that ``getConfig`` describes (same seed: same initial weights).

        A layer without an ``initializer`` entry (configs from before
        initializers were recorded) gets the default one.
        """
        if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
            raise ValueError("a DNN config is a dict with a 'layers' list, as getConfig returns")
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
            model.addHiddenLayer([layer.get("units")], activation=layer.get("activation"),
                                 dropout=layer.get("dropout", 0.0), initializer=[layer.get("initializer")])
        if len(layers) > 1:
            model.addOutputLayer([layers[-1].get("units")], activation=layers[-1].get("activation"),
                                 loss=config.get("loss"), initializer=layers[-1].get("initializer"))
        return model

    # ------------------------------------------------------------------ training

    def fit(self, X: ArrayLike, y: ArrayLike, epochs: int = 20, batchSize: int | None = None, verbose: int = 1,
            parameterList: Sequence[tuple] | None = None, recordEvery: str = "epoch",
            validationData: tuple[ArrayLike, ArrayLike] | None = None, validationSplit: float = 0.0,
            earlyStopping: int | float | None = None, minDelta: float = 0.0, classWeight: dict | str | None = None,
            sampleWeight: ArrayLike | None = None, standardize: bool | None = None,
            callbacks: Sequence[Callback] | None = None, shuffle: bool = True, restoreBest: bool | None = None,
            task: str | None = None, classes: ArrayLike | None = None) -> dict:
        """Train with mini-batch gradient descent.

        Parameters
        ----------
        X : array-like, numpy.memmap or pandas DataFrame, shape (n, features)
            A DataFrame's column names are remembered: later calls may give the
            columns in any order, but must give exactly those columns.
        y : array-like or pandas Series
            Integer labels (n,), other class labels (strings...), one-hot rows
            (n, k) or real targets, as the output layer calls for.
        epochs : int
        batchSize : int, optional
            Rows per mini-batch; the last batch of an epoch may be smaller.
            Default 30, or all training rows when there are fewer (a batchSize
            you give that is larger than the data is clipped with a warning).
        verbose : {0, 1, 2}
            0 silent, 1 a progress bar per epoch, 2 one line per epoch.
        parameterList : list of specs, optional
            Weights and biases to record in ``parameterRecord`` while training:
            ``("w", l, j, i)`` is the weight from neuron i of layer l-1 to
            neuron j of layer l (``w[l][i-1, j-1]``), ``("b", l, j)`` the bias of
            neuron j of layer l; all 1-based, the input layer is layer 1.
        recordEvery : {"epoch", "batch"}
            Record after every epoch or after every mini-batch (values are also
            recorded once before the first update).
        validationData : (X_validation, y_validation), optional
            Evaluated after every epoch: history gains ``val_loss`` and
            ``val_accuracy``.
        validationSplit : float in [0, 1)
            Hold out this fraction of (X, y) for validation instead, shuffled
            with the model's seed and stratified by class for classifiers.
        earlyStopping : int or math.inf, optional
            Patience: stop when the validation loss (the training loss without
            validation) has not improved by more than ``minDelta`` for this many
            epochs (``math.inf``: never stop). ``model.stoppedEarly`` says when.
        minDelta : float
            What counts as progress for the patience. The best epoch is always
            the one with the lowest monitored loss.
        classWeight : dict {class: weight} or "balanced", optional
            Weighs every sample of a class, for imbalanced classes.
        sampleWeight : array-like of shape (n,), optional
            A weight per sample (multiplied with classWeight when both are given).
            The loss becomes (1/n) sum_i weight_i loss_i.
        standardize : bool, optional
            Learn every feature's mean and standard deviation from the training
            rows at the first fit and scale by them in training, predict,
            evaluate and gradientCheck (and in the model file). Default: the
            model's own ``standardize`` setting.
        callbacks : list of dnn.callbacks.Callback, optional
            Hooks around training, epochs and batches (see :mod:`dnn.callbacks`).
        shuffle : bool
            Visit the rows in a new random order every epoch; False visits them in order.
        restoreBest : bool, optional
            Put back the weights of the best epoch when training ends (by the
            patience or because the epochs ran out); default True with
            ``earlyStopping``. ``model.restoredEpoch`` says which epoch was kept.
        task : {"multiclass", "binary", "multilabel", "regression"}, optional
            At the first fit: the task, instead of the one inferred from y
            (``summary`` shows which one the model has).
        classes : sequence of labels, optional
            At the first fit: every class the model will know, when y does not
            hold them all yet (training in increments).

        Returns
        -------
        dict
            ``model.history``: per-epoch lists ``loss``, ``accuracy`` (classifiers),
            ``val_loss``/``val_accuracy`` (with validation), ``lr`` and ``time``.
            Calling fit again continues training and the lists. Ctrl-C stops
            after the current mini-batch and returns the history so far.

        Raises
        ------
        ValueError
            For bad arguments, before anything in the model changes.
        TrainingDivergedError
            When the loss becomes infinite or NaN; the model keeps its last
            weights with a finite loss.
        """
        self.require_network("fit")
        schedule = schedules.make_schedule(self.lr, self.decay)
        self.checked_parameters()
        options = fit_setup.FitOptions(epochs, batchSize, verbose, parameterList, recordEvery, validationData,
                                       validationSplit, earlyStopping, minDelta, classWeight, sampleWeight,
                                       standardize, callbacks, shuffle, restoreBest, task, classes)
        plan = fit_setup.prepare(self, X, y, options)
        fit_setup.commit(self, plan)
        self.state.schedule = schedule
        return training.train(self, plan)

    # ------------------------------------------------------------------ files

    def saveModel(self, path: str | os.PathLike[str]) -> None:
        """Write the model to ``path``, atomically: the file holds the old model or the new one, never half.

        The file keeps everything needed to predict and to continue training
        exactly: layers, weights, optimizer state, random generator state,
        classes and history. Parent directories are created.
        """
        self.require_network("saveModel")
        persistence.save(self, path)

    @classmethod
    def importModel(cls, path: str | os.PathLike[str], maxBytes: int = persistence.DEFAULT_MAX_BYTES) -> DNN:
        """Read a model written by saveModel.

        Loading is safe for files from anywhere: only plain data and numeric
        arrays are accepted, no code from the file is run, and a file larger
        than ``maxBytes`` (default 1 GiB) is refused unread. Any problem with
        the file raises :class:`dnn.ModelFileError` saying what is wrong.
        """
        return persistence.load(cls, path, maxBytes)

    # ------------------------------------------------------------------ for the modules dnn delegates to

    def require_network(self, method: str) -> None:
        """Raise ValueError unless the input and output layers are added."""
        if not self.units or self.loss is None:
            raise ValueError(f"{method} needs a complete network: add the input layer, any hidden layers and "
                             f"the output layer first (addInputLayer, addHiddenLayer, addOutputLayer)")

    def checked_parameters(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """The weights and biases as lists (layers 2..L), after checking arrays assigned by hand.

        They are views into one flat array (see :mod:`dnn.parameters`), kept
        in ``state.params``. An array the user put into ``w`` or ``b`` is
        checked for shape and finiteness and its values are copied in, so
        training never writes into the user's own array.
        """
        layers = range(2, len(self.units) + 1)
        params = self.state.params
        current_w = [self.w.get(layer) for layer in layers]
        current_b = [self.b.get(layer) for layer in layers]
        if params is not None and params.matches(current_w, current_b):
            return params.weights, params.biases
        owned = set() if params is None else {id(a) for a in params.weights + params.biases}
        weights = [checked_array("w", layer, (self.units[layer - 2], self.units[layer - 1]), value, owned)
                   for layer, value in zip(layers, current_w)]
        biases = [checked_array("b", layer, (self.units[layer - 1],), value, owned)
                  for layer, value in zip(layers, current_b)]
        if params is None:
            params = self.state.params = Parameters(weights, biases, self.dtype)
        else:
            for view, value in zip(params.weights + params.biases, weights + biases):
                if view is not value:
                    view[...] = value
        self._link_parameters()
        return params.weights, params.biases

    def _link_parameters(self):
        params = self.state.params
        for layer, w, b in zip(range(2, len(self.units) + 1), params.weights, params.biases):
            self.w[layer], self.b[layer] = w, b

    def encode_targets(self, y: ArrayLike, dtype: DTypeLike | None = None) -> tuple:
        """Target matrix, task and classes for ``y`` (see :func:`dnn.targets.encode_targets`).

        A model not fitted yet reads its classes off y without keeping them;
        fit keeps them (see :func:`dnn.fit_setup.commit`).
        """
        return targets.encode_targets(y, self.activations[-1], self.units[-1], dtype or self.dtype,
                                      self.task, self.classes)

    def _task_and_classes(self):
        if self.task is not None:
            return self.task, self.classes
        return targets.default_task(self.activations[-1], self.units[-1])

    def __getstate__(self):
        # The arrays in w and b that are views of the flat parameters would come
        # back as separate copies that training no longer updates: keep None
        # there and point them at the restored views again.
        attributes = self.__dict__.copy()
        attributes["_thread_policy"] = None  # what it measured belongs to this process's machine
        params = self.state.params
        if params is not None:
            views = {id(a) for a in params.weights + params.biases}
            for name in ("w", "b"):
                store = attributes[name] = copy.copy(attributes[name])  # a LayerArrays of its own
                for layer, value in store.items():
                    if id(value) in views:
                        store.add_layer(layer, None)
        return attributes

    def __setstate__(self, attributes):
        self.__dict__.update(attributes)
        params = self.state.params
        if params is not None:
            for layer, (w, b) in enumerate(zip(params.weights, params.biases), start=2):
                if self.w.get(layer, w) is None:
                    self.w[layer] = w
                if self.b.get(layer, b) is None:
                    self.b[layer] = b

    def __repr__(self):
        layers = "-".join(str(u) for u in self.units) or "no layers"
        output = f" {self.activations[-1]}" if self.loss else ""
        return f"<DNN {layers}{output} {self.dtype}>"


def _per_layer_initializers(initializer, count):
    """Canonical initializers, one per layer: a list gives one per layer, anything else one for all.

    Only a list is per layer: a tuple is one initializer, ``("normal", 0.05)``.
    """
    specs = list(initializer) if isinstance(initializer, list) else [initializer] * count
    if len(specs) != count:
        raise ValueError(f"give one initializer, or one per layer: {count} layers but {len(specs)} initializers")
    return [initializers.canonical(spec) for spec in specs]
