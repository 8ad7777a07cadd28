"""The DNN class: build, train, query and keep a fully-connected network.

Layers are numbered from 1, the input layer, to L, the output layer.
``w[l]`` (units of layer l-1, units of layer l) and ``b[l]`` (units of layer
l,) hold the parameters of layer l = 2..L: views of the model's one parameter
store (:class:`dnn.model.parameters.Parameters`, kept in ``state.params``).
Assigning an array there sets weights by hand: it is checked and copied in.

The class holds the layers (:class:`dnn.model.layers.Layer`) and a
:class:`dnn.engine.state.TrainingState`, and orchestrates; the formulas live in
``activations``, ``losses``, ``backprop`` and ``optimizers``, the training loop
in ``training``. Its parts (building, querying, textbook, interop) are mixins
that use what :class:`dnn.model.contract.Network` declares.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from dnn import devices, schedules
from dnn.callbacks import Callback
from dnn.checks import check_setting
from dnn.data import targets
from dnn.engine import fit_setup, state, training
from dnn.engine.state import OptimizerSetting, Setting, StateField, TrainingState, checked_optimizer
from dnn.files import persistence
from dnn.model.building import Building
from dnn.model.interop import Interop
from dnn.model.layer_arrays import StoreArrays
from dnn.model.layers import Layer, LayerField
from dnn.model.lr_find import LrFinder
from dnn.model.placement import Placement
from dnn.model.querying import Querying
from dnn.model.textbook import Textbook
from dnn.optimizers import Optimizer, make_optimizer
from dnn.report.results import History


class DNN(Building, Querying, Textbook, Interop, LrFinder, Placement):
    """A fully-connected feed-forward neural network.

    Every setting is checked here and again whenever it is assigned later
    (``model.lr = 0.05``); a refused value leaves the model unchanged. The
    numeric ranges, and why they are what they are, are those of
    :func:`dnn.checks.check_setting`.

    Parameters
    ----------
    lr : float in (0, 1e3] or dnn.schedules.Schedule
        Learning rate, or a schedule giving it per epoch or per mini-batch
        (such as ``dnn.schedules.OneCycle``).
    decay : float in [0, 1e3]
        Shorthand for the schedule lr / (1 + decay * epoch).
    optimizer : {"sgd", "adam", "rmsprop", "adamw", "nadam", "adagrad"} or a dnn.optimizers.Optimizer
        A name (or one registered by :func:`dnn.optimizers.register`) takes the
        settings below that it has and its own defaults for the rest (give an
        instance such as ``AdamW(weight_decay=0.05)`` to set those); an instance is copied.
    momentum : float in [0, 1)
        Momentum of "sgd".
    nesterov : bool
        Nesterov momentum for "sgd".
    l2 : float in [0, 1e3]
        L2 penalty: (l2 / 2) * sum of squared weights is added to the loss.
    l1 : float in [0, 1e3]
        L1 penalty: l1 * sum of absolute weights is added to the loss.
    clipNorm, clipValue : float in (0, 1e6], optional
        Clip the gradient before every update: to this norm (all parameters
        together) and to [-clipValue, clipValue], as PyTorch's
        ``clip_grad_norm_`` and ``clip_grad_value_`` (see :mod:`dnn.engine.update`).
    beta1, beta2 : float in [0, 1)
        Settings of "adam", "adamw" and "nadam".
    epsilon : float in [1e-20, 1], optional
        Setting of every optimizer but "sgd"; by default the optimizer's own
        (1e-8, and 1e-10 for "adagrad", as in PyTorch).
    seed : int in [0, 2**128) or None
        Seeds the model's own random generator (initialization, shuffling,
        dropout): the same seed and data give bit-identical weights.
    dtype : {"float32", "float64"}
        Precision of weights and computations.
    standardize : bool
        Scale every feature by the mean and standard deviation learned from
        the training data at the first fit (see fit), inside the model.
    threads : int or None
        BLAS threads for this model's work; None chooses automatically.
    device : {"cpu", "cuda"}
        Where the parameters live and the model computes: numpy, or an NVIDIA GPU through CuPy (see
        :mod:`dnn.devices`; ``model.device`` moves a model).
    """

    momentum = OptimizerSetting()
    nesterov = OptimizerSetting()
    beta1 = OptimizerSetting()
    beta2 = OptimizerSetting()
    epsilon = OptimizerSetting()
    lr = Setting(state.check_lr)
    decay = Setting(state.check_decay)
    l2 = Setting(state.check_l2)
    l1 = Setting(state.check_l1)
    clipNorm = Setting(state.check_clip_norm)  # noqa: N815 (the constructor's name)
    clipValue = Setting(state.check_clip_value)  # noqa: N815 (the constructor's name)
    seed = Setting(state.check_seed)
    dtype = Setting(state.check_dtype)
    standardize = Setting(state.check_standardize)
    history = StateField("history")
    parameterRecord = StateField("parameter_record")  # noqa: N815 (the tutorial's name)
    epochs = StateField("epochs")
    stoppedEarly = StateField("stopped_early")  # noqa: N815 (the tutorial's name)
    restoredEpoch = StateField("restored_epoch")  # noqa: N815 (camelCase like stoppedEarly)
    units = LayerField("units")
    activations = LayerField("activation")
    dropout = LayerField("dropout")
    initializers = LayerField("initializer")

    def __init__(self, lr: float | schedules.Schedule = 0.01, decay: float = 0.0, optimizer: str | Optimizer = "sgd",
                 momentum: float = 0.0, nesterov: bool = False, l2: float = 0.0, beta1: float = 0.9,
                 beta2: float = 0.999, epsilon: float | None = None, seed: int | None = None,
                 dtype: DTypeLike = "float32", standardize: bool = False, threads: int | None = None,
                 l1: float = 0.0, clipNorm: float | None = None, clipValue: float | None = None,
                 device: str = "cpu") -> None:
        self._layers: list[Layer] = []
        self._device = devices.get_device(device).name  # the store follows it (see Placement)
        schedule = schedules.make_schedule(lr, decay)  # checks both, and that not both are given
        # The settings check what they are given (see dnn.engine.state): numbers are kept as floats, so a Fraction or
        # a Decimal never reaches an array.
        self.decay = decay
        self.lr = lr
        self.l2 = l2
        self.l1 = l1
        self.clipNorm = clipNorm
        self.clipValue = clipValue
        # every one checked, also those the chosen optimizer does not take: a bad value is a mistake either way
        settings = {key: check_setting(key, value) for key, value in
                    (("momentum", momentum), ("beta1", beta1), ("beta2", beta2), ("epsilon", epsilon))
                    if value is not None}
        optimizer = checked_optimizer(make_optimizer(optimizer, nesterov=nesterov, **settings))
        self.seed = seed
        self.dtype = dtype
        self.standardize = standardize
        self.threads = threads  # checked by the property
        self.state = TrainingState(optimizer, schedule, np.random.default_rng(seed))
        self.feature_names = None
        self.feature_mean = None
        self.feature_scale = None
        self.loss = None
        self.task = None
        self.classes = None
        self._cache = None

    @property
    def layers(self) -> tuple[Layer, ...]:
        """The layers, input first: :class:`dnn.model.layers.Layer` objects (kind, units, activation, dropout,
        initializer). Added by addInputLayer, addHiddenLayer and addOutputLayer; never changed afterwards."""
        return tuple(self._layers)

    w = StoreArrays("w", """The weights of layers 2..L, keyed by layer number: ``w[l]`` has shape (units of layer l-1,
        units of layer l).

        Each is a view of the model's parameter store: edits in place (``model.w[2][0, 0] = 1.5``) change the
        model. Assigning ``model.w[l] = array`` checks the array's shape and values (finite numbers, in the
        model's dtype) and copies it in; ``model.w = {2: ..., 3: ...}`` assigns every layer so. A refused array
        leaves the model as it was.""")
    b = StoreArrays("b", "The biases of layers 2..L, keyed by layer number: ``b[l]`` has shape (units of layer l,). "
                         "As ``w``.")
    gamma = StoreArrays("gamma", "The normalization scales of the normalized layers, keyed by layer number: "
                                 "``gamma[l]`` has shape (units of layer l,). As ``w``.")
    beta = StoreArrays("beta", "The normalization shifts of the normalized layers, as ``gamma``.")
    running_mean = StoreArrays("running_mean", "The running means of the batch-normalized layers, keyed by layer "
                                               "number (shape (units of layer l,)), used by predictions. As ``w``.")
    running_var = StoreArrays("running_var", "The running variances of the batch-normalized layers, as "
                                             "``running_mean`` (numbers >= 0).")

    @property
    def optimizer(self) -> Optimizer:
        """The :class:`dnn.optimizers.Optimizer` (its state included); assign a name or an instance to change it."""
        return self.state.optimizer

    @optimizer.setter
    def optimizer(self, optimizer: str | Optimizer) -> None:
        self.state.optimizer = checked_optimizer(make_optimizer(optimizer))

    # ------------------------------------------------------------------ training

    def fit(self, X: ArrayLike, y: ArrayLike | None = None, epochs: int = 20, batchSize: int | None = None,
            verbose: int = 1, parameterList: Sequence[tuple] | None = None, recordEvery: str = "epoch",
            validationData: tuple[ArrayLike, ArrayLike] | None = None, validationSplit: float = 0.0,
            earlyStopping: int | float | None = None, minDelta: float = 0.0, classWeight: dict | str | None = None,
            sampleWeight: ArrayLike | None = None, standardize: bool | None = None,
            callbacks: Sequence[Callback] | None = None, shuffle: bool = True, restoreBest: bool | None = None,
            task: str | None = None, classes: ArrayLike | None = None,
            metrics: Sequence[str] | None = None, distributed: bool = False) -> History:
        """Train with mini-batch gradient descent.

        Parameters
        ----------
        X : array-like, numpy.memmap or pandas DataFrame (n, features), or a stream of chunks (:mod:`dnn.streams`)
            A DataFrame's column names are remembered (later calls may give the columns in any order, but exactly
            those). A stream, read a few chunks at a time, brings y in its chunks (y None); see docs/guide/data.md.
        y : array-like or pandas Series (None with a stream)
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
        validationData : (X_validation, y_validation) or a stream, optional
            Evaluated after every epoch: history gains ``val_loss`` and
            ``val_accuracy``.
        validationSplit : float in [0, 1)
            Hold out this fraction of (X, y) for validation instead, shuffled with the model's seed and stratified
            by class for classifiers (of a stream: the rows :func:`dnn.streams.held_out` picks by row number).
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
        metrics : list of str, optional
            Computed on the validation rows after every epoch, as history keys
            ``val_<name>`` that callbacks can monitor: accuracy, error,
            precision, recall, f1 (macro), log_loss, roc_auc,
            average_precision for classifiers; mse, mae, r2 for regression.
        distributed : bool
            Train in every process torchrun starts, same X and y in each, sharing each batch (dnn.engine.distributed).

        Returns
        -------
        dnn.report.results.History
            ``model.history``, a dict of per-epoch lists ``loss``, ``accuracy``
            (classifiers), ``val_loss``/``val_accuracy`` (with validation), ``lr``
            and ``time``, whose repr is one line. Epochs are counted over the
            model's whole life: calling fit again continues training and the
            lists. Ctrl-C stops after the current mini-batch and returns the
            history so far.

        Raises
        ------
        ValueError
            For bad arguments, before anything in the model changes.
        TrainingDivergedError
            When the loss becomes infinite or NaN; the model keeps its last
            weights with a finite loss.
        """
        self._require_network("fit")
        schedule = schedules.make_schedule(self.lr, self.decay)
        self._checked_parameters()
        options = fit_setup.FitOptions(
            epochs=epochs, batch_size=batchSize, verbose=verbose, parameter_list=parameterList,
            record_every=recordEvery, validation_data=validationData, validation_split=validationSplit,
            early_stopping=earlyStopping, min_delta=minDelta, class_weight=classWeight, sample_weight=sampleWeight,
            standardize=standardize, callbacks=callbacks, shuffle=shuffle, restore_best=restoreBest, task=task,
            classes=classes, metrics=metrics, distributed=distributed)
        with fit_setup.quiet(distributed):  # ranks other than 0 of a distributed fit warn nothing
            plan = fit_setup.prepare(self, X, y, options)
            fit_setup.commit(self, plan)
            self.state.schedule = schedule
            fit_setup.warn_if_the_rate_is_zero(schedule, self.state, plan.epochs)
            return training.train(self, plan)

    # ------------------------------------------------------------------ files

    def saveModel(self, path: str | os.PathLike[str]) -> None:
        """Write the model to ``path``, atomically: the file holds the old model or the new one, never half.

        The file keeps everything needed to predict and to continue training
        exactly: layers, weights, optimizer state, random generator state,
        classes and history. Parent directories are created.

        Raises
        ------
        ValueError
            For a model whose file importModel could not read back: one with
            a learning-rate schedule or optimizer class of your own (until
            such classes can be registered by name). Nothing is written.
        TypeError, IsADirectoryError, NotADirectoryError
            For a path that is not a path, that is a folder, or that has a
            file where a folder should be. Nothing is written.
        """
        self._require_network("saveModel")
        persistence.save(self, path)

    @classmethod
    def importModel(cls, path: str | os.PathLike[str], maxBytes: int = persistence.DEFAULT_MAX_BYTES) -> DNN:
        """Read a model written by saveModel.

        Loading is safe for files from anywhere: only plain data and numeric
        arrays are accepted, no code from the file is run, and a file larger
        than ``maxBytes`` (default 1 GiB) is refused unread. The layers a file
        declares are checked against the arrays it holds before anything is
        built, so loading takes a few times the file's size in memory, never
        more; every byte of the file is checked, none may follow its end. Any
        problem with the file raises :class:`dnn.ModelFileError` saying what is wrong.
        """
        return persistence.load(cls, path, maxBytes)

    # ------------------------------------------------------------------ for the modules dnn delegates to

    def _require_network(self, method: str) -> None:
        """Raise ValueError unless the input and output layers are added."""
        if not self.units or self.loss is None:
            raise ValueError(f"{method} needs a complete network: add the input layer, any hidden layers and "
                             f"the output layer first (addInputLayer, addHiddenLayer, addOutputLayer)")

    def _checked_parameters(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """The weights and biases of layers 2..L: the views of the one store (see :mod:`dnn.model.parameters`).

        Raises ValueError naming an array that holds no values yet (a model
        built by ``fromConfig(initialize=False)`` whose arrays are not all set).
        """
        return self.state.params.complete_views()

    def _encode_targets(self, y: ArrayLike, dtype: DTypeLike | None = None) -> tuple:
        """Target matrix, task and classes for ``y`` (see :func:`dnn.data.targets.encode_targets`).

        A model not fitted yet reads its classes off y without keeping them;
        fit keeps them (see :func:`dnn.engine.fit_setup.commit`).
        """
        return targets.encode_targets(y, self.activations[-1], self.units[-1], dtype or self.dtype,
                                      self.task, self.classes)

    def _task_and_classes(self):
        if self.task is not None:
            return self.task, self.classes
        return targets.default_task(self.activations[-1], self.units[-1])

    def __getstate__(self):
        attributes = self.__dict__.copy()
        attributes["_thread_policies"] = {}  # what they measured belongs to this process's machine
        return attributes

    def __setstate__(self, attributes):
        attributes.pop("_thread_policy", None)  # pickled by dnn 0.2.0, which had one policy
        for name in ("lr", "decay", "seed", "dtype", "standardize"):  # plain attributes up to dnn 0.2.0
            if name in attributes:
                attributes["_" + name] = attributes.pop(name)
        attributes.setdefault("_thread_policies", {})
        attributes.setdefault("_device", devices.CPU_NAME)  # models from before dnn had devices
        for name, default in (("_l1", 0.0), ("_clipNorm", None), ("_clipValue", None)):  # settings added later
            attributes.setdefault(name, default)
        self.__dict__.update(attributes)

    def __repr__(self):
        layers = "-".join(str(u) for u in self.units) or "no layers"
        output = f" {self.activations[-1]}" if self.loss else ""
        return f"<DNN {layers}{output} {self.dtype}>"

