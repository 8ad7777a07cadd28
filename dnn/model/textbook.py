"""The textbook half of the DNN class: forward and back propagation by hand, and the gradient check.

A mixin of :class:`dnn.DNN`, kept in its own file so each file stays small;
what it uses of the network is declared by :class:`dnn.model.contract.Network`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from dnn.backprop import backward_pass, forward_pass
from dnn.data import preprocessing, targets
from dnn.data.sparse_rows import SparseRows
from dnn.engine.update import l1_penalty
from dnn.losses import add_l1_gradient, add_l2_gradient, objective, output_delta
from dnn.model.contract import Part
from dnn.model.gradient_check import compare_gradients
from dnn.model.layer_arrays import LayerOutputs
from dnn.model.parameters import TRAINABLE
from dnn.normalization import BATCH_STATISTICS


class Textbook(Part):
    """forwardPropagation, layerOutputs, backPropagation, gradientCheck and dataFormatConversion of :class:`dnn.DNN`."""

    def forwardPropagation(self, X: ArrayLike) -> np.ndarray:
        """Output matrix (n, units of layer L) for ``X``; keeps every layer's output for backPropagation.

        As predictions compute it: without dropout, and batch normalization by its running averages.
        """
        self._require_network("forwardPropagation")
        self._checked_parameters()
        store = self.state.params.to_host()  # the textbook methods compute with numpy, on any device
        self._cache = forward_pass(self._model_inputs(X, self.dtype), store.weights, store.biases,
                                   self.activations[1:], norms=store.normalizations())
        return self._cache[-1]

    @property
    def layerOutputs(self) -> LayerOutputs:
        """Every layer's output from the last forwardPropagation, keyed by layer number like ``w``.

        ``layerOutputs[1]`` is the input as the first layer sees it (after
        the model's standardization, if any), ``layerOutputs[l]`` the output
        of layer l (n, units of layer l), ``layerOutputs[L]`` the network's
        output. Read-only: a new forwardPropagation replaces them.
        """
        outputs = {} if self._cache is None else dict(enumerate(self._cache, start=1))
        return LayerOutputs(outputs)

    def backPropagation(self, y: ArrayLike) -> tuple[dict, dict]:
        """Gradients of the loss (with the L2 and L1 terms) for the last forwardPropagation's input and targets ``y``.

        The gradients of the function forwardPropagation computed (batch normalization by its running averages).
        Those of the normalized layers' ``gamma`` and ``beta`` are checked by ``gradientCheck``, not returned here:
        the tutorial's method returns the weights' and biases'.

        Returns
        -------
        dW, db : dicts keyed by layer number 2..L, shaped like ``w`` and ``b``.
        """
        if self._cache is None:
            raise ValueError("call forwardPropagation(X) before backPropagation(y)")
        self._checked_parameters()
        store = self.state.params.to_host()
        target_matrix, _, _ = self._encode_targets(y)
        if len(target_matrix) != len(self._cache[-1]):
            raise ValueError(f"y has {len(target_matrix)} rows but the last forwardPropagation had "
                             f"{len(self._cache[-1])}")
        grads = self._objective_gradients(self._cache, target_matrix, store.weights, store.normalizations())
        layers = range(2, len(self.units) + 1)
        return dict(zip(layers, grads["w"])), dict(zip(layers, grads["b"]))

    def gradientCheck(self, X: ArrayLike, y: ArrayLike, entries: int | None = None, seed: int = 0) -> dict:
        """Compare backpropagation with central differences of the loss.

        Computed in float64 on copies of the parameters; the model is unchanged.
        Dropout is off in the check (it compares the deterministic network);
        batch normalization uses the statistics of the rows given, as in
        training (its running averages are left as they are). The loss
        includes the L2 and L1 terms.

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
            ``{"w2": error, "b2": error, ...}`` (and ``gamma2``, ``beta2``
            for a normalized layer 2): for every array the maximum
            relative error max |a - n| / max(|a|, |n|, 1e-5) between analytic
            gradients a and fourth-order central differences n.
        """
        self._require_network("gradientCheck")
        self._checked_parameters()
        store = self.state.params.to_host().astype(np.float64)
        weights, biases, norms = store.weights, store.biases, store.normalizations()
        X = self._model_inputs(X, np.float64)
        target_matrix, _, _ = self._encode_targets(y, dtype=np.float64)
        if len(target_matrix) != len(X):
            raise ValueError(f"X has {len(X)} samples but y has {len(target_matrix)}")
        if any(self.dropout):
            print("gradientCheck: dropout is off in the check; it compares the deterministic network.")
        activations = self.activations[1:]

        def current_loss():
            p = forward_pass(X, weights, biases, activations, norms=norms, mode=BATCH_STATISTICS)[-1]
            return objective(self.loss, p, target_matrix, weights, self.l2) + l1_penalty(weights, self.l1)

        cache = forward_pass(X, weights, biases, activations, norms=norms, mode=BATCH_STATISTICS)
        grads = self._objective_gradients(cache, target_matrix, weights, norms)
        checked = [(f"{name}{layer}", array, grads[name][layer - 2])
                   for layer in range(2, len(self.units) + 1) for name in TRAINABLE
                   if (array := store.named[name][layer - 2]) is not None]
        return compare_gradients(current_loss, checked, entries, seed)

    @classmethod
    def dataFormatConversion(cls, X_df: ArrayLike, y_df: ArrayLike, classNum: int) -> tuple[np.ndarray, np.ndarray]:
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
        return targets.data_format_conversion(X_df, y_df, classNum)

    def _model_inputs(self, X, dtype):
        """``X`` checked, in ``dtype`` and standardized as the model does it: what its first layer sees."""
        X, _ = preprocessing.checked_features(X, self.units[0], self.feature_names, dtype)
        if isinstance(X, SparseRows):
            # these methods keep whole matrices of the rows they are given, so a sparse X could not stay bounded
            raise ValueError("forwardPropagation, backPropagation and gradientCheck take dense X, got a scipy.sparse "
                             "matrix: pass the rows you want dense, e.g. X[:100].toarray() (fit, predict, "
                             "predictProba and modelEvaluate take sparse X)")
        if self.feature_mean is None:
            return X
        # A copy: the user's own array is never scaled in place.
        return preprocessing.standardize(np.array(X, dtype=dtype, copy=True), self.feature_mean.astype(dtype),
                                         self.feature_scale.astype(dtype))

    def _objective_gradients(self, cache, target_matrix, weights, norms):
        """Gradients of the mean loss plus the L2 and L1 terms for a forward pass's ``cache``, as a dict from kind
        ("w", "b", "gamma", "beta") to a list per layer (None where a layer has no such array)."""
        p = cache[-1]
        delta = output_delta(self.activations[-1], self.loss, p, target_matrix, 1.0 / len(p))
        scales, shifts = [None] * len(weights), [None] * len(weights)
        grad_w, grad_b = backward_pass(cache, delta, weights, self.activations[1:], norms=norms, grad_scale=scales,
                                       grad_shift=shifts)
        add_l2_gradient(grad_w, weights, self.l2)
        if self.l1:
            add_l1_gradient(grad_w, weights, self.l1)
        return {"w": grad_w, "b": grad_b, "gamma": scales, "beta": shifts}
