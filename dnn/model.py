"""The DNN class: build, train, query and keep a fully-connected network.

Layers are numbered from 1, the input layer, to L, the output layer.
``w[l]`` (units of layer l-1, units of layer l) and ``b[l]`` (units of layer
l,) hold the parameters of layer l = 2..L; assigning arrays of those shapes
there sets weights by hand, and the model checks them before using them.

The class holds state and orchestrates; the formulas live in
``activations``, ``losses``, ``backprop`` and ``optimizers``.
"""


import numpy as np

from dnn import fitting, metrics, persistence, plotting, preprocessing, targets
from dnn.activations import HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATIONS
from dnn.backprop import backward_pass, forward_pass
from dnn.checks import check_number, is_int
from dnn.gradient_check import numerical_gradient, relative_error
from dnn.initializers import initial_weights
from dnn.losses import COMPATIBLE_LOSSES, DEFAULT_LOSS, LOSSES, add_l2_gradient, objective, output_delta
from dnn.optimizers import OPTIMIZERS
from dnn.parameters import Parameters
from dnn.reporting import metrics_table, summary_table

DTYPES = ("float32", "float64")


class DNN:
    """A fully-connected feed-forward neural network.

    Parameters
    ----------
    lr : float
        Learning rate.
    decay : float
        Learning-rate decay per epoch: lr_epoch = lr / (1 + decay * epoch).
    optimizer : {"sgd", "adam"}
    momentum : float in [0, 1)
        Momentum of "sgd".
    nesterov : bool
        Nesterov momentum for "sgd".
    l2 : float
        L2 penalty: (l2 / 2) * sum of squared weights is added to the loss.
    beta1, beta2, epsilon : float
        Parameters of "adam".
    seed : int or None
        Seeds the model's own random generator (initialization, shuffling):
        the same seed and data give bit-identical weights.
    dtype : {"float32", "float64"}
        Precision of weights and computations.
    standardize : bool
        Scale every feature by the mean and standard deviation learned from
        the training data at the first fit (see fit), inside the model.
    """

    def __init__(self, lr=0.01, decay=0.0, optimizer="sgd", momentum=0.0, nesterov=False, l2=0.0,
                 beta1=0.9, beta2=0.999, epsilon=1e-8, seed=None, dtype="float32", standardize=False):
        self.lr, self.decay, self.optimizer = lr, decay, optimizer
        self.momentum, self.nesterov, self.l2 = momentum, nesterov, l2
        self.beta1, self.beta2, self.epsilon = beta1, beta2, epsilon
        self._check_hyperparameters()
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
        self.seed = seed
        self.dtype = np.dtype(dtype)
        self.standardize = standardize
        self.feature_names = None
        self.feature_mean = None
        self.feature_scale = None
        self.stoppedEarly = None
        self._rng = np.random.default_rng(seed)
        self.units = []
        self.activations = []
        self.loss = None
        self.w = {}
        self.b = {}
        self._params = None
        self._optimizer_state = {}
        self.history = {}
        self.parameterRecord = {}
        self._record_every = "epoch"
        self.task = None
        self.classes = None
        self.epochs = 0
        self._cache = None

    # ------------------------------------------------------------------ building

    def addInputLayer(self, units):
        """Add the input layer (layer 1): ``units`` is ``[n_features]``."""
        sizes = _layer_sizes(units, "addInputLayer")
        if len(sizes) != 1:
            raise ValueError(f"the input layer has one size, such as [64]; got {list(sizes)}")
        if self.units:
            raise ValueError("the input layer is already added; build a new DNN for another network")
        self.units.append(sizes[0])
        self.activations.append(None)

    def addHiddenLayer(self, units, activation="relu"):
        """Add hidden layers, one per entry of ``units`` (for example ``[32, 16]``).

        ``activation`` is one name for all of them or a list with one name per
        layer: sigmoid, tanh, relu, leaky_relu or identity.
        """
        sizes = _layer_sizes(units, "addHiddenLayer")
        names = _per_layer(activation, len(sizes))
        for name in names:
            if name == "softmax":
                raise ValueError("softmax is only available in the output layer; hidden layers take "
                                 f"one of {', '.join(HIDDEN_ACTIVATIONS)}")
            if name not in HIDDEN_ACTIVATIONS:
                raise ValueError(f"unknown hidden activation {name!r}; valid names: {', '.join(HIDDEN_ACTIVATIONS)}")
        if not self.units:
            raise ValueError("add the input layer first: model.addInputLayer([n_features])")
        if self.loss is not None:
            raise ValueError("the output layer is already added; hidden layers go between the input and the output")
        for size, name in zip(sizes, names):
            self._append_layer(size, name)

    def addOutputLayer(self, units, activation="softmax", loss=None):
        """Add the output layer.

        ``activation`` is softmax, sigmoid or identity; ``loss`` defaults to
        categorical_crossentropy, binary_crossentropy and squared_error
        respectively, and may name another compatible loss.
        """
        sizes = _layer_sizes(units, "addOutputLayer")
        if len(sizes) != 1:
            raise ValueError(f"the output layer has one size, such as [10]; got {list(sizes)}")
        if activation not in OUTPUT_ACTIVATIONS:
            raise ValueError(f"unknown output activation {activation!r}; valid names: {', '.join(OUTPUT_ACTIVATIONS)}")
        if activation == "softmax" and sizes[0] < 2:
            raise ValueError("a softmax output needs at least 2 units; use activation='sigmoid' for one unit")
        loss = DEFAULT_LOSS[activation] if loss is None else loss
        if loss not in LOSSES:
            raise ValueError(f"unknown loss {loss!r}; valid names: {', '.join(LOSSES)}")
        if loss not in COMPATIBLE_LOSSES[activation]:
            raise ValueError(f"loss {loss!r} needs probabilities and cannot follow an {activation} output; "
                             f"use one of {', '.join(COMPATIBLE_LOSSES[activation])}")
        if not self.units:
            raise ValueError("add the input layer first: model.addInputLayer([n_features])")
        if self.loss is not None:
            raise ValueError("the output layer is already added")
        self._append_layer(sizes[0], activation)
        self.loss = loss

    def _append_layer(self, size, activation):
        layer = len(self.units) + 1
        w, b = initial_weights(activation, self.units[-1], size, self._rng, self.dtype)
        self.w[layer], self.b[layer] = w, b
        self.units.append(size)
        self.activations.append(activation)

    def summary(self):
        """Print a table of the layers and return it as text."""
        text = summary_table(self)
        print(text)
        return text

    # ------------------------------------------------------------------ training

    def fit(self, X, y, epochs=20, batchSize=30, verbose=1, parameterList=None, recordEvery="epoch",
            validationData=None, validationSplit=0.0, earlyStopping=None, minDelta=0.0, classWeight=None,
            sampleWeight=None, standardize=None):
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
        batchSize : int
            Rows per mini-batch; the last batch of an epoch may be smaller.
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
        earlyStopping : int, optional
            Patience: stop when the validation loss (the training loss without
            validation) has not improved by more than ``minDelta`` for this many
            epochs, and restore the best weights. ``model.stoppedEarly`` says when.
        minDelta : float
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
        options = fitting.FitOptions(epochs, batchSize, verbose, parameterList, recordEvery, validationData,
                                     validationSplit, earlyStopping, minDelta, classWeight, sampleWeight, standardize)
        return fitting.fit(self, X, y, options)

    # ------------------------------------------------------------------ querying

    def predict(self, X):
        """Class labels (classifiers) or values (regression) for the rows of ``X``.

        Returns
        -------
        ndarray
            (n,) labels in the user's own label values, (n, k) 0/1 indicators
            for a multi-label model, (n,) values for one regression output or
            (n, k) for several.
        """
        self._require_network("predict")
        task, classes = self._task_and_classes()
        # Labels only need the output layer's pre-activations z: softmax and
        # sigmoid keep the order of z, and sigmoid(z) >= 0.5 exactly when z >= 0.
        rows, chunks = self._output_chunks(X, activate_output=False)
        result = None
        for start, stop, z in chunks:
            if task == "regression":
                part = z[:, 0] if z.shape[1] == 1 else z
            elif task == "multilabel":
                part = (z >= 0).astype(np.int64)
            elif task == "binary":
                part = classes[(z[:, 0] >= 0).astype(np.intp)]
            else:
                part = classes[z.argmax(axis=1)]
            if result is None:
                result = np.empty((rows, *part.shape[1:]), dtype=part.dtype)
            result[start:stop] = part
        return result

    def predictProba(self, X):
        """Class probabilities, shape (n, k).

        For one sigmoid output the columns are P(classes[0]) and P(classes[1]);
        for several sigmoid outputs of a single-label model the outputs are
        normalized to sum to 1; for a multi-label model each column is the
        probability of its label.
        """
        self._require_network("predictProba")
        task, _ = self._task_and_classes()
        if task == "regression":
            raise ValueError("predictProba is for classifiers; this model has an identity (regression) output")
        outputs = self._outputs(X)
        if task == "binary":
            return np.hstack([1 - outputs, outputs])
        if task == "multiclass" and self.activations[-1] == "sigmoid":
            outputs /= np.maximum(outputs.sum(axis=1, keepdims=True), np.finfo(self.dtype).tiny)
        return outputs

    def modelEvaluate(self, X, y, verbose=1):
        """Loss and metrics of the model on ``X``, ``y``.

        Returns
        -------
        dict
            ``loss`` (with the L2 penalty, as in training) and, for
            classifiers, ``accuracy``, per-class ``precision``, ``recall``,
            ``f1`` and ``support`` (dicts keyed by class label), their
            ``macro_*`` averages and the ``confusion_matrix`` (rows: true
            classes, in the order of ``model.classes``); for regression
            ``mse``, ``mae`` and ``r2``. With ``verbose`` tables are printed.
        """
        self._require_network("modelEvaluate")
        outputs, target_matrix, task, classes = self._outputs_and_targets(X, y)
        result = {"loss": objective(self.loss, outputs, target_matrix, self._parameters()[0], self.l2)}
        if task == "regression":
            result.update(metrics.regression_scores(outputs, target_matrix))
        else:
            result.update(metrics.classification_scores(task, outputs, target_matrix, classes))
        if verbose:
            print(metrics_table(result))
        return result

    def _outputs_and_targets(self, X, y):
        """Network outputs for X and the target matrix for y, with the task and classes."""
        target_matrix, task, classes = self._encode_targets(y)
        outputs = self._outputs(X)
        if len(target_matrix) != len(outputs):
            raise ValueError(f"X has {len(outputs)} samples but y has {len(target_matrix)}")
        return outputs, target_matrix, task, classes

    def _outputs(self, X):
        """Network output for every row of ``X``, shape (n, units of layer L)."""
        rows, chunks = self._output_chunks(X)
        result = np.empty((rows, self.units[-1]), dtype=self.dtype)
        for start, stop, outputs in chunks:
            result[start:stop] = outputs
        return result

    def _output_chunks(self, X, activate_output=True):
        """The row count of ``X`` and an iterator of ``(start, stop, outputs)`` over its chunks.

        Nothing is cached: ``outputs`` lives in a buffer reused for the next
        chunk. Each chunk is checked for NaN and infinity just before its
        matrix products, while it is still in cache, instead of in a separate
        pass over ``X``. Without ``activate_output`` the outputs are the output
        layer's pre-activations.
        """
        weights, biases = self._parameters()
        X, _ = preprocessing.feature_matrix(X, self.units[0], self.feature_names)
        activations = self.activations[1:] if activate_output else [*self.activations[1:-1], "identity"]
        return len(X), self._forward_chunks(X, weights, biases, activations)

    def _forward_chunks(self, X, weights, biases, activations, rows=None):
        """Yield ``(start, stop, outputs)`` over X (its ``rows``, when given), standardized as the model does."""
        buffers = None
        for start, stop, chunk in preprocessing.model_chunks(X, self.dtype, self.feature_mean, self.feature_scale,
                                                             rows):
            preprocessing.check_finite(chunk, first_row=start)
            if buffers is None:
                buffers = [np.empty((len(chunk), u), self.dtype) for u in self.units[1:]]
            outputs = [a[: stop - start] for a in buffers]
            yield start, stop, forward_pass(chunk, weights, biases, activations, outputs)[-1]

    # ------------------------------------------------------------------ figures

    def drawConvergenceCurve(self, path=None):
        """Plot every parameter recorded with fit(parameterList=...) against epoch (or batch).

        Returns the matplotlib Figure; with ``path``, also saves it as a PNG.
        """
        return plotting.convergence_curve(self.parameterRecord, self._record_every, path)

    def drawHistory(self, path=None):
        """Plot loss and accuracy per epoch (training and validation) and the learning rate.

        Returns the matplotlib Figure; with ``path``, also saves it as a PNG.
        """
        return plotting.history(self.history, path)

    def drawDigits(self, X_vector, y_vector=None, path=None):
        """Show image rows (8x8, 28x28: any square) with their label and the model's prediction.

        Returns the matplotlib Figure; with ``path``, also saves it as a PNG.
        """
        images = np.asarray(X_vector.to_numpy() if hasattr(X_vector, "to_numpy") else X_vector)
        images = images.reshape(1, -1) if images.ndim == 1 else images
        labels = None
        if y_vector is not None:
            labels = np.asarray(y_vector).reshape(-1)
            if len(labels) != len(images):
                raise ValueError(f"{len(images)} images but {len(labels)} labels")
        return plotting.digits(images, labels, self.predict(images), path)

    def drawConfusionMatrix(self, X, y, path=None):
        """Plot the confusion matrix of the model on ``X``, ``y``, with counts.

        Returns the matplotlib Figure; with ``path``, also saves it as a PNG.
        """
        self._require_network("drawConfusionMatrix")
        outputs, target_matrix, task, classes = self._outputs_and_targets(X, y)
        if task not in ("multiclass", "binary"):
            raise ValueError(f"a confusion matrix needs a single-label classifier; this model's task is {task}")
        counts = metrics.confusion_matrix(metrics.class_indices(task, target_matrix),
                                          metrics.class_indices(task, outputs), len(classes))
        return plotting.confusion_matrix(counts, classes, path)

    # ------------------------------------------------------------------ textbook level

    def forwardPropagation(self, X):
        """Output matrix (n, units of layer L) for ``X``; keeps every layer's output for backPropagation."""
        self._require_network("forwardPropagation")
        weights, biases = self._parameters()
        self._cache = forward_pass(self._model_inputs(X, self.dtype), weights, biases, self.activations[1:])
        return self._cache[-1]

    def backPropagation(self, y):
        """Gradients of the loss for the last forwardPropagation's input and targets ``y``.

        Returns
        -------
        dW, db : dicts keyed by layer number 2..L, shaped like ``w`` and ``b``.
        """
        if self._cache is None:
            raise ValueError("call forwardPropagation(X) before backPropagation(y)")
        weights, _ = self._parameters()
        target_matrix, _, _ = self._encode_targets(y)
        if len(target_matrix) != len(self._cache[-1]):
            raise ValueError(f"y has {len(target_matrix)} rows but the last forwardPropagation had "
                             f"{len(self._cache[-1])}")
        grad_w, grad_b = self._objective_gradients(self._cache, target_matrix, weights)
        layers = range(2, len(self.units) + 1)
        return dict(zip(layers, grad_w)), dict(zip(layers, grad_b))

    def gradientCheck(self, X, y, entries=None, seed=0):
        """Compare backpropagation with central differences of the loss.

        Computed in float64 on copies of the parameters; the model is unchanged.

        Parameters
        ----------
        X, y : as for fit.
        entries : int, optional
            Check this many randomly chosen entries of every array instead of
            all of them (each entry costs four forward passes).
        seed : int
            Seeds the choice of entries.

        Returns
        -------
        dict
            ``{"w2": error, "b2": error, ...}``: for every array the maximum
            relative error max |a - n| / max(|a|, |n|, 1e-5) between analytic
            gradients a and fourth-order central differences n.
        """
        self._require_network("gradientCheck")
        weights, biases = self._parameters()
        weights = [w.astype(np.float64) for w in weights]
        biases = [b.astype(np.float64) for b in biases]
        X = self._model_inputs(X, np.float64)
        target_matrix, _, _ = self._encode_targets(y, dtype=np.float64)
        if len(target_matrix) != len(X):
            raise ValueError(f"X has {len(X)} samples but y has {len(target_matrix)}")
        activations = self.activations[1:]

        def current_loss():
            p = forward_pass(X, weights, biases, activations)[-1]
            return objective(self.loss, p, target_matrix, weights, self.l2)

        grad_w, grad_b = self._objective_gradients(forward_pass(X, weights, biases, activations), target_matrix,
                                                   weights)
        rng = np.random.default_rng(seed)
        errors = {}
        for layer, (w, b, gw, gb) in enumerate(zip(weights, biases, grad_w, grad_b), start=2):
            for name, array, gradient in (("w", w, gw), ("b", b, gb)):
                indices = np.arange(array.size)
                if entries is not None and entries < array.size:
                    indices = rng.choice(array.size, size=entries, replace=False)
                numeric = numerical_gradient(current_loss, array, indices)
                errors[f"{name}{layer}"] = relative_error(gradient.reshape(-1)[indices], numeric)
        return errors

    @classmethod
    def dataFormatConversion(cls, X_df, y_df, classNum):
        """The tutorial's conversion of tables: a float feature matrix and a one-hot label matrix.

        Parameters
        ----------
        X_df : pandas DataFrame or array-like, shape (n, features), numeric
        y_df : pandas Series, one-column DataFrame or array-like of n labels
            Integer labels 0..classNum-1, or classNum distinct labels of any
            kind (their columns in sorted order).
        classNum : int
            Number of classes, at least 2.

        Returns
        -------
        X : ndarray of float64, shape (n, features)
        Y : ndarray of float64, shape (n, classNum), one-hot rows
        """
        if not is_int(classNum) or classNum < 2:
            raise ValueError(f"classNum must be an integer of at least 2, got {classNum!r}")
        X, _ = preprocessing.feature_matrix(X_df, None)
        X = np.array(X, dtype=np.float64)
        preprocessing.check_finite(X)
        Y, _, _ = targets.encode_targets(y_df, "softmax", int(classNum), np.float64)
        if len(Y) != len(X):
            raise ValueError(f"X has {len(X)} rows but y has {len(Y)}")
        return X, Y

    # ------------------------------------------------------------------ files

    def saveModel(self, path):
        """Write the model to ``path``, atomically: the file holds the old model or the new one, never half.

        The file keeps everything needed to predict and to continue training
        exactly: layers, weights, optimizer state, random generator state,
        classes and history. Parent directories are created.
        """
        self._require_network("saveModel")
        persistence.save(self, path)

    @classmethod
    def importModel(cls, path, maxBytes=persistence.DEFAULT_MAX_BYTES):
        """Read a model written by saveModel.

        Loading is safe for files from anywhere: only plain data and numeric
        arrays are accepted, no code from the file is run, and a file larger
        than ``maxBytes`` (default 1 GiB) is refused unread. Any problem with
        the file raises :class:`dnn.ModelFileError` saying what is wrong.
        """
        return persistence.load(cls, path, maxBytes)

    # ------------------------------------------------------------------ internals

    def _check_hyperparameters(self):
        check_number(self.lr, "lr", low=0, low_inclusive=False)
        check_number(self.decay, "decay", low=0)
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; valid names: {', '.join(OPTIMIZERS)}")
        check_number(self.momentum, "momentum", low=0, high=1)
        if not isinstance(self.nesterov, (bool, np.bool_)):
            raise ValueError(f"nesterov must be True or False, got {self.nesterov!r}")
        check_number(self.l2, "l2", low=0)
        check_number(self.beta1, "beta1", low=0, high=1)
        check_number(self.beta2, "beta2", low=0, high=1)
        check_number(self.epsilon, "epsilon", low=0, low_inclusive=False)

    def _require_network(self, method):
        if not self.units or self.loss is None:
            raise ValueError(f"{method} needs a complete network: add the input layer, any hidden layers and "
                             f"the output layer first (addInputLayer, addHiddenLayer, addOutputLayer)")

    def _parameters(self):
        """The weights and biases as lists, after checking arrays assigned by hand.

        They are views into one flat array (see :mod:`dnn.parameters`). An
        array the user put into ``w`` or ``b`` is checked for shape and
        finiteness and its values are copied in, so training never writes into
        the user's own array.
        """
        layers = range(2, len(self.units) + 1)
        params = self._params
        current_w = [self.w.get(layer) for layer in layers]
        current_b = [self.b.get(layer) for layer in layers]
        if params is not None and params.matches(current_w, current_b):
            return params.weights, params.biases
        owned = set() if params is None else {id(a) for a in params.weights + params.biases}
        weights = [self._checked("w", layer, (self.units[layer - 2], self.units[layer - 1]), value, owned)
                   for layer, value in zip(layers, current_w)]
        biases = [self._checked("b", layer, (self.units[layer - 1],), value, owned)
                  for layer, value in zip(layers, current_b)]
        if params is None:
            params = self._params = Parameters(weights, biases, self.dtype)
        else:
            for view, value in zip(params.weights + params.biases, weights + biases):
                if view is not value:
                    view[...] = value
        for layer, w, b in zip(layers, params.weights, params.biases):
            self.w[layer], self.b[layer] = w, b
        return params.weights, params.biases

    def _checked(self, name, layer, shape, value, owned):
        if id(value) in owned:
            return value
        if value is None:
            raise ValueError(f"model.{name}[{layer}] is missing; it must be an array of shape {shape}")
        array = np.asarray(value)
        if array.shape != shape:
            raise ValueError(f"model.{name}[{layer}] must have shape {shape}, got {array.shape}")
        if array.dtype.kind not in "biuf" or not np.isfinite(array).all():
            raise ValueError(f"model.{name}[{layer}] must hold finite numbers")
        return array

    def _model_inputs(self, X, dtype):
        """``X`` checked, in ``dtype`` and standardized as the model does it: what its first layer sees."""
        X, _ = preprocessing.checked_features(X, self.units[0], self.feature_names, dtype)
        if self.feature_mean is None:
            return X
        # A copy: the user's own array is never scaled in place.
        return preprocessing.standardize(np.array(X, dtype=dtype, copy=True), self.feature_mean.astype(dtype),
                                         self.feature_scale.astype(dtype))

    def _objective_gradients(self, cache, target_matrix, weights):
        """Gradients of the mean loss plus the L2 term for a forward pass's ``cache``: (grad_w, grad_b)."""
        p = cache[-1]
        delta = output_delta(self.activations[-1], self.loss, p, target_matrix, 1.0 / len(p))
        grad_w, grad_b = backward_pass(cache, delta, weights, self.activations[1:])
        add_l2_gradient(grad_w, weights, self.l2)
        return grad_w, grad_b

    def _task_and_classes(self):
        if self.task is not None:
            return self.task, self.classes
        return targets.default_task(self.activations[-1], self.units[-1])

    def _encode_targets(self, y, dtype=None):
        """Target matrix, task and classes for y.

        A model not fitted yet reads its classes off y without keeping them;
        fit keeps them (see fitting.commit).
        """
        return targets.encode_targets(y, self.activations[-1], self.units[-1], dtype or self.dtype,
                                      self.task, self.classes)

    def __repr__(self):
        layers = "-".join(str(u) for u in self.units) or "no layers"
        output = f" {self.activations[-1]}" if self.loss else ""
        return f"<DNN {layers}{output} {self.dtype}>"


def _layer_sizes(units, method):
    sizes = [units] if is_int(units) else units
    if not isinstance(sizes, (list, tuple)) or not sizes:
        raise ValueError(f"{method} takes a list of layer sizes such as [32]; got {units!r}")
    for size in sizes:
        if not is_int(size) or size < 1:
            raise ValueError(f"{method}: units must be positive integers, got {size!r}")
    return [int(s) for s in sizes]


def _per_layer(activation, count):
    names = [activation] * count if isinstance(activation, str) else list(activation)
    if len(names) != count:
        raise ValueError(f"give one activation, or one per layer: {count} layers but {len(names)} activations")
    return names
