"""scikit-learn estimators around DNN: ``DNNClassifier`` and ``DNNRegressor``.

An adapter at the edge: the core never imports it, and scikit-learn is an
optional extra (``pip install "dnn-numpy[sklearn]"``). Every setting is a
constructor argument stored as given and checked at ``fit`` (scikit-learn's
convention, which ``clone`` and ``GridSearchCV`` rely on). The fitted network
is ``model_``, a plain :class:`dnn.DNN`: ``model_.drawHistory()``,
``model_.saveModel(path)`` and ``model_.toTorch()`` work on it.

``fit`` and ``partial_fit`` take ``sample_weight`` (DNN.fit's ``sampleWeight``:
each mini-batch's loss is (1/m) sum_i weight_i loss_i over its m rows), and
``score`` takes it as scikit-learn's mixins do. The classifier's
``class_weight`` (a dict or "balanced") is DNN.fit's ``classWeight``; with both,
a sample weighs their product.

>>> from sklearn.datasets import load_iris
>>> from dnn.adapters.sklearn import DNNClassifier
>>> X, y = load_iris(return_X_y=True)
>>> DNNClassifier(hidden_layer_sizes=(16,), epochs=100, random_state=0).fit(X, y).score(X, y) > 0.9
True
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from dnn.adapters.settings import named_schedule, optimizer_with_weight_decay, schedule_names, steps_per_epoch
from dnn.adapters.sklearn_compat import EXPECTED_FAILED_CHECKS, NOT_EQUIVALENT, validate_data
from dnn.data.tasks import get_task
from dnn.model.network import DNN
from dnn.schedules import Schedule


class _DNNEstimator(BaseEstimator):
    """What the classifier and the regressor share: the constructor and building the network."""

    def __init__(self, hidden_layer_sizes=(64,), activation="relu", output_activation=None, loss=None,
                 optimizer="adam", lr=0.001, decay=0.0, momentum=0.9, nesterov=False, beta1=0.9, beta2=0.999,
                 epsilon=None, l2=0.0, epochs=100, batch_size=32, validation_split=0.0, early_stopping=None,
                 min_delta=0.0, standardize=True, random_state=None, dtype="float32", dropout=0.0, threads=None,
                 callbacks=None, shuffle=True, verbose=0, restore_best=None, normalization=None, clip_norm=None,
                 clip_value=None, l1=0.0, max_norm=None, schedule=None, weight_decay=None, device="cpu"):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.output_activation = output_activation
        self.loss = loss
        self.optimizer = optimizer
        self.lr = lr
        self.decay = decay
        self.momentum = momentum
        self.nesterov = nesterov
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.l2 = l2
        self.epochs = epochs
        self.batch_size = batch_size
        self.validation_split = validation_split
        self.early_stopping = early_stopping
        self.min_delta = min_delta
        self.standardize = standardize
        self.random_state = random_state
        self.dtype = dtype
        self.dropout = dropout
        self.threads = threads
        self.callbacks = callbacks
        self.shuffle = shuffle
        self.verbose = verbose
        self.restore_best = restore_best
        self.normalization = normalization
        self.clip_norm = clip_norm
        self.clip_value = clip_value
        self.l1 = l1
        self.max_norm = max_norm
        self.schedule = schedule
        self.weight_decay = weight_decay
        self.device = device

    def _build(self, n_features, n_outputs, output_activation, group_sizes):
        """A new, untrained DNN with this estimator's settings; ``group_sizes`` are the rows of each class (of all
        the rows, for a regressor), which a schedule by name needs to count its steps."""
        seed = self.random_state
        if seed is not None and not isinstance(seed, (int, np.integer)):
            seed = int(check_random_state(seed).randint(np.iinfo(np.int32).max))
        lr, decay = self._rate(group_sizes)
        model = DNN(lr=lr, decay=decay, optimizer=self._optimizer(), momentum=self.momentum, nesterov=self.nesterov,
                    l2=self.l2, beta1=self.beta1, beta2=self.beta2, epsilon=self.epsilon, seed=seed, dtype=self.dtype,
                    standardize=self.standardize, threads=self.threads, l1=self.l1, clipNorm=self.clip_norm,
                    clipValue=self.clip_value, device=self.device)
        model.addInputLayer([n_features])
        sizes = self.hidden_layer_sizes
        sizes = [sizes] if isinstance(sizes, (int, np.integer)) else list(sizes)
        if sizes:
            # passed only when asked for: a model whose addHiddenLayer has no normalization builds as before
            extra = {} if self.normalization is None else {"normalization": self.normalization}
            model.addHiddenLayer([int(s) if isinstance(s, np.integer) else s for s in sizes],
                                 activation=self.activation, dropout=self.dropout, maxNorm=self.max_norm, **extra)
        else:
            for name in ("dropout", "max_norm", "normalization"):
                value = getattr(self, name)
                if value not in (None, 0, 0.0, (), []):
                    raise ValueError(f"{name}={value!r} needs hidden layers; hidden_layer_sizes is empty")
        model.addOutputLayer([n_outputs], activation=output_activation, loss=self.loss)
        return model

    def _rate(self, group_sizes):
        """DNN's ``lr`` and ``decay``: as given, or the ``schedule`` (an object, or one built by name)."""
        schedule = self.schedule
        if schedule is None:
            return self.lr, self.decay
        if isinstance(self.lr, Schedule):
            raise ValueError(f"give a learning-rate schedule as lr or as schedule, not both; got lr={self.lr!r} "
                             f"and schedule={schedule!r}")
        if isinstance(schedule, Schedule):
            return schedule, self.decay  # DNN refuses a decay beside a schedule
        if not isinstance(schedule, str):
            raise ValueError(f"schedule must be None, a name among {', '.join(schedule_names())} or a "
                             f"dnn.schedules.Schedule, got {schedule!r:.80}")
        steps = steps_per_epoch(group_sizes, self.validation_split, self.batch_size)
        return named_schedule(schedule, self.lr, self.epochs, steps, self.decay), 0.0

    def _optimizer(self):
        return optimizer_with_weight_decay(self.optimizer, self.weight_decay, "weight_decay", momentum=self.momentum,
                                           nesterov=self.nesterov, beta1=self.beta1, beta2=self.beta2,
                                           epsilon=self.epsilon)

    def _train(self, X, y, epochs, sample_weight, class_weight=None):
        """``epochs`` epochs of DNN.fit on the model; ``n_iter_`` becomes the model's epoch count."""
        batch_size = self.batch_size
        if isinstance(batch_size, (int, np.integer)) and batch_size > len(X):
            batch_size = len(X)  # small data sets (a cross-validation fold) are not worth DNN's warning
        try:
            self.model_.fit(X, y, epochs=epochs, batchSize=batch_size, verbose=self.verbose,
                            validationSplit=self.validation_split, earlyStopping=self.early_stopping,
                            minDelta=self.min_delta, restoreBest=self.restore_best, classWeight=class_weight,
                            sampleWeight=sample_weight, callbacks=self.callbacks, shuffle=self.shuffle)
        except ValueError:
            if self.model_.epochs == 0:  # a new network refused its first fit: the estimator is not fitted
                del self.model_
                self.__dict__.pop("n_iter_", None)
            raise
        self.n_iter_ = self.model_.epochs
        return self

    def _check_partial_fit(self):
        # partial_fit trains one epoch per call: a patience would never run out, a schedule by name would be sized
        # for one call's batches and end after it
        if self.early_stopping is not None:
            raise ValueError(f"early_stopping={self.early_stopping!r} cannot apply to partial_fit, which trains one "
                             f"epoch per call. Use fit, or early_stopping=None")
        if isinstance(self.schedule, str):
            raise ValueError(f"schedule={self.schedule!r} is sized from fit's epochs and batches; for partial_fit "
                             f"give a dnn.schedules.Schedule sized for all the calls, or use fit")

    def _features(self, X, reset):
        return validate_data(self, X, reset=reset, dtype=[np.float64, np.float32])

    def _more_tags(self):  # scikit-learn < 1.6
        # before 1.6 the zero-weight half of the equivalence was check_sample_weights_invariance(kind=zeros)
        return {"non_deterministic": self.random_state is None,
                "_xfail_checks": {**EXPECTED_FAILED_CHECKS, "check_sample_weights_invariance": NOT_EQUIVALENT}}

    def __sklearn_tags__(self):  # scikit-learn >= 1.6
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None
        return tags


class DNNClassifier(ClassifierMixin, _DNNEstimator):
    """A dnn network as a scikit-learn classifier.

    One sigmoid output unit for two classes, a softmax over the classes for
    more (``output_activation`` overrides). Labels are any values
    ``numpy.unique`` can sort: ``classes_`` keeps them, ``predict`` gives them
    back. Settings are those of :class:`dnn.DNN`, ``addHiddenLayer`` and
    ``DNN.fit`` under scikit-learn's names; ``epochs`` full passes per
    ``fit``, one per ``partial_fit``. Every setting is stored as given and
    checked at ``fit``.

    Early stopping watches the loss of the ``validation_split`` rows held out
    (stratified by class), or the training loss without a split, unweighted;
    ``n_iter_`` is the number of epochs trained.

    Parameters
    ----------
    hidden_layer_sizes : int or sequence of int
        Units of each hidden layer; ``()`` for none.
    activation : str or sequence of str
        Hidden activation, one for all or one per layer: any of
        :data:`dnn.activations.HIDDEN_ACTIVATIONS` (relu, tanh, sigmoid,
        leaky_relu, gelu, silu/swish, elu, selu, softplus...).
    output_activation : str, optional
        Overrides the output chosen from the classes (sigmoid or softmax).
    loss : str or dict, optional
        ``addOutputLayer``'s loss: a name, or a dict of its name and settings
        (``{"name": "focal", "gamma": 2.0}``, ``{"name": "crossentropy",
        "label_smoothing": 0.1}``).
    optimizer : str or dnn.optimizers.Optimizer
        A name of :data:`dnn.optimizers.OPTIMIZERS` (sgd, adam, rmsprop, adamw,
        nadam, adagrad), which takes the settings below that it has, or an
        instance such as ``dnn.optimizers.AdamW(weight_decay=0.05)``, which
        keeps its own (the model trains a copy; ``clone`` copies it too).
    lr, decay : float or dnn.schedules.Schedule, float
        Learning rate (or a schedule object) and the decay of lr / (1 +
        decay * epoch), the decay only with ``schedule`` None or "inverse_time".
    momentum, nesterov, beta1, beta2, epsilon : float, bool, float, float, float or None
        Settings of "sgd", of the Adam family, and of every optimizer but sgd
        (``epsilon`` None: the optimizer's own).
    weight_decay : float, optional
        Decoupled weight decay of an optimizer that has it ("adamw"), given by
        name; None keeps the optimizer's default (0.01 for adamw).
    schedule : None, str or dnn.schedules.Schedule
        A schedule object (as ``lr`` takes one), or a name built from ``lr``,
        ``epochs`` and the mini-batches per epoch (see
        :mod:`dnn.adapters.settings`): "one_cycle" (peak ``lr``, over all
        the epochs' mini-batches), "cosine", "step", "exponential",
        "inverse_time". None: ``lr`` and ``decay``.
    l2, l1 : float
        Penalties (l2 / 2) sum w^2 and l1 sum |w| added to the loss.
    clip_norm, clip_value : float, optional
        Clip the gradient to this global norm, and every entry to
        [-clip_value, clip_value], before each update (``DNN(clipNorm=...,
        clipValue=...)``).
    max_norm : float or sequence of float, optional
        Keep each hidden unit's incoming weight vector within this norm (one
        for all hidden layers or one per layer; ``addHiddenLayer(maxNorm=...)``).
    normalization : {"batch", "layer"} or sequence, optional
        Normalization of the hidden layers, one for all or one per layer
        (``addHiddenLayer(normalization=...)``); None adds none.
    dropout : float or sequence of float
        Dropout rate, one for all hidden layers or one per layer.
    epochs, batch_size, validation_split, early_stopping, min_delta, restore_best, callbacks, shuffle, verbose
        ``DNN.fit``'s ``epochs`` (per ``fit``), ``batchSize`` (clipped to the
        rows there are), ``validationSplit``, ``earlyStopping`` (the patience;
        None trains every epoch), ``minDelta``, ``restoreBest`` (default True
        with a patience: the best epoch's weights are kept), ``callbacks``,
        ``shuffle`` and ``verbose``.
    standardize, random_state, dtype, threads, device
        ``DNN``'s ``standardize``, ``seed`` (an int, a
        ``numpy.random.RandomState`` or None), ``dtype``, ``threads`` and
        ``device`` ("cpu", or "cuda" for a GPU through CuPy).
    class_weight : dict or "balanced", optional
        A dict {label: weight} or "balanced" (n / (classes * count of the
        class), as scikit-learn's ``compute_class_weight``); classes it leaves
        out weigh 1.
    """

    def __init__(self, hidden_layer_sizes=(64,), activation="relu", output_activation=None, loss=None,
                 optimizer="adam", lr=0.001, decay=0.0, momentum=0.9, nesterov=False, beta1=0.9, beta2=0.999,
                 epsilon=None, l2=0.0, epochs=100, batch_size=32, validation_split=0.0, early_stopping=None,
                 min_delta=0.0, standardize=True, random_state=None, dtype="float32", dropout=0.0, threads=None,
                 callbacks=None, shuffle=True, verbose=0, restore_best=None, normalization=None, clip_norm=None,
                 clip_value=None, l1=0.0, max_norm=None, schedule=None, weight_decay=None, class_weight=None,
                 device="cpu"):
        super().__init__(hidden_layer_sizes=hidden_layer_sizes, activation=activation,
                         output_activation=output_activation, loss=loss, optimizer=optimizer, lr=lr, decay=decay,
                         momentum=momentum, nesterov=nesterov, beta1=beta1, beta2=beta2, epsilon=epsilon, l2=l2,
                         epochs=epochs, batch_size=batch_size, validation_split=validation_split,
                         early_stopping=early_stopping, min_delta=min_delta, standardize=standardize,
                         random_state=random_state, dtype=dtype, dropout=dropout, threads=threads,
                         callbacks=callbacks, shuffle=shuffle, verbose=verbose, restore_best=restore_best,
                         normalization=normalization, clip_norm=clip_norm, clip_value=clip_value, l1=l1,
                         max_norm=max_norm, schedule=schedule, weight_decay=weight_decay, device=device)
        self.class_weight = class_weight

    def fit(self, X, y, sample_weight=None) -> DNNClassifier:
        """Train a new network on ``X`` (n, features), labels ``y`` (n,) and ``sample_weight`` (n,); returns self."""
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32])
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        self._start(X.shape[1], y)
        return self._train(X, self._labels(y), self.epochs, sample_weight, self._class_weight())

    def partial_fit(self, X, y, classes=None, sample_weight=None) -> DNNClassifier:
        """One pass over ``X``, ``y`` (and ``sample_weight``); the first call needs every class in ``classes``.

        Returns self. ``class_weight="balanced"`` would weigh the classes by
        their counts in each call's rows, which is why it is refused here:
        give a dict, such as ``dict(zip(classes, compute_class_weight("balanced",
        classes=classes, y=all_labels)))``.
        """
        self._check_partial_fit()
        first = not hasattr(self, "model_")
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32], reset=first)
        check_classification_targets(y)
        if first:
            if classes is None:
                raise ValueError("classes must be given at the first call to partial_fit: every label y may hold")
            self.classes_ = np.unique(classes)
            self._start(X.shape[1], y)
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(f"classes {np.unique(classes).tolist()} differ from those of the first partial_fit "
                             f"call, {self.classes_.tolist()}")
        return self._train(X, self._labels(y), 1, sample_weight, self._class_weight())

    def _check_partial_fit(self):
        super()._check_partial_fit()
        if isinstance(self.class_weight, str) and self.class_weight == "balanced":
            raise ValueError("class_weight='balanced' is not supported by partial_fit: it would weigh the classes by "
                             "their counts in each call's rows. Give a dict computed once on all the labels, e.g. "
                             "with sklearn.utils.class_weight.compute_class_weight")

    def _class_weight(self):
        """``class_weight`` for DNN.fit: a dict keyed by the model's classes (labels held as objects are strings)."""
        weight = self.class_weight
        if isinstance(weight, dict) and self.classes_.dtype.kind == "O":
            labels, names = self.classes_.tolist(), self._dnn_classes().tolist()
            weight = {names[labels.index(key)] if key in labels else key: value for key, value in weight.items()}
        return weight

    def _start(self, n_features, y):
        if len(self.classes_) < 2:
            raise ValueError(f"a classifier needs samples of at least 2 classes; got 1 class: {self.classes_.tolist()}")
        binary = len(self.classes_) == 2
        activation = self.output_activation or ("sigmoid" if binary else "softmax")
        units = 1 if binary and activation == "sigmoid" else len(self.classes_)
        self.model_ = self._build(n_features, units, activation, np.unique(y, return_counts=True)[1])
        # The classes are known before the first batch, so a batch lacking some of them still trains.
        self.model_.task = get_task("binary" if units == 1 else "multiclass")
        self.model_.classes = self._dnn_classes()

    def _dnn_classes(self):
        # A model file keeps numbers and strings: labels held as Python objects become numpy strings.
        return self.classes_.astype(str) if self.classes_.dtype.kind == "O" else self.classes_

    def _labels(self, y):
        return y.astype(str) if self.classes_.dtype.kind == "O" else y

    def predict(self, X) -> np.ndarray:
        """Labels (n,), among ``classes_``."""
        check_is_fitted(self, "model_")
        index = np.searchsorted(self.model_.classes, self.model_.predict(self._features(X, reset=False)))
        return self.classes_[index]

    def predict_proba(self, X) -> np.ndarray:
        """Probabilities (n, classes), columns in the order of ``classes_``."""
        check_is_fitted(self, "model_")
        return self.model_.predictProba(self._features(X, reset=False))

    def predict_log_proba(self, X) -> np.ndarray:
        """Logarithms of ``predict_proba``, from the pre-activations (finite where a probability rounds to 0)."""
        check_is_fitted(self, "model_")
        return self.model_.predictLogProba(self._features(X, reset=False))


class DNNRegressor(RegressorMixin, _DNNEstimator):
    """A dnn network as a scikit-learn regressor: an identity output with squared error.

    ``y`` may be (n,) or (n, outputs); ``predict`` returns the same shape.
    Parameters (all but ``class_weight``), early stopping and ``n_iter_`` as
    for :class:`DNNClassifier` (the validation rows are drawn at random, and
    their loss is not weighted; a ``loss`` may be "huber", "mae"...).
    """

    def fit(self, X, y, sample_weight=None) -> DNNRegressor:
        """Train a new network on ``X`` (n, features), targets ``y`` and ``sample_weight`` (n,); returns self."""
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True, dtype=[np.float64, np.float32])
        self._start(X.shape[1], y)
        return self._train(X, y, self.epochs, sample_weight)

    def partial_fit(self, X, y, sample_weight=None) -> DNNRegressor:
        """One pass over ``X``, ``y`` (and ``sample_weight``); returns self."""
        self._check_partial_fit()
        first = not hasattr(self, "model_")
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True, dtype=[np.float64, np.float32],
                              reset=first)
        if first:
            self._start(X.shape[1], y)
        return self._train(X, y, 1, sample_weight)

    def _start(self, n_features, y):
        self.n_outputs_ = 1 if y.ndim == 1 else y.shape[1]
        self._one_dimensional = y.ndim == 1
        self.model_ = self._build(n_features, self.n_outputs_, self.output_activation or "identity", [len(y)])

    def predict(self, X) -> np.ndarray:
        """Predictions in float64 (scikit-learn's convention), (n,) when fitted on a 1-D ``y``, else (n, outputs)."""
        check_is_fitted(self, "model_")
        predictions = self.model_.predict(self._features(X, reset=False)).astype(np.float64)
        return predictions if self._one_dimensional or predictions.ndim == 2 else predictions.reshape(-1, 1)

    def _more_tags(self):  # scikit-learn < 1.6
        return {**super()._more_tags(), "multioutput": True}

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
