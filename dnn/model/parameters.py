"""The one store of a network's parameters: a flat array and its per-layer views.

Every layer after the input has weights ``w`` (units in, units) and biases ``b`` (units,); a normalized layer also
has its scale ``gamma`` and shift ``beta`` (units,), and a batch-normalized one its running mean and variance
(units,). The trainable arrays are views into :attr:`Parameters.flat`, grouped by kind: w_2, ..., w_L, b_2, ...,
b_L, then the gammas and the betas. One array makes an optimizer step three numpy calls whatever the depth, a
snapshot one copy, and the L2 penalty (on weights only) a prefix of the array. Gradients and optimizer state use
the same layout, through :meth:`Parameters.views`. The running statistics, which training updates but no
optimizer steps, are views into :attr:`Parameters.buffers`.

``model.w[l]``, ``model.b[l]``, ``model.gamma[l]``... read these views, and assigning them goes through
:meth:`Parameters.assign`, which checks the value and copies it in: there is no second copy of the weights to keep
in step.
"""

import warnings

import numpy as np

from dnn import devices
from dnn.normalization import Normalization

#: The names of the parameter kinds, as ``model.w`` and ``model.b`` call them.
WEIGHTS, BIASES = "w", "b"

#: The kinds of arrays in :attr:`Parameters.flat` (trained by the optimizer), in their order there.
TRAINABLE = (WEIGHTS, BIASES, "gamma", "beta")

#: The kinds of arrays in :attr:`Parameters.buffers` (updated by training, not by the optimizer).
BUFFERS = ("running_mean", "running_var")


def _size(shape):
    return 0 if shape is None else int(np.prod(shape))


class Parameters:
    """Flat storage for the layers' parameters, grown one layer at a time as the network is built.

    Parameters
    ----------
    dtype : numpy dtype
        The model's precision: every value assigned is converted to it.
    device : dnn.devices.Device
        Where the arrays live (numpy's by default); :meth:`move_to` moves them.

    Attributes
    ----------
    flat : ndarray, shape (parameters,)
        The trainable arrays (:data:`TRAINABLE`).
    buffers : ndarray
        The running statistics (:data:`BUFFERS`).
    weights : list of ndarray views of ``flat``, shapes (units of layer l-1, units of layer l) for l = 2..L
    biases : list of ndarray views of ``flat``, shapes (units of layer l,) for l = 2..L
    named : dict from kind to a list with one view (or None where the layer has no such array) per layer 2..L
    n_weights : int
        How many entries of ``flat`` are weights: they come first.
    missing : set of (name, layer)
        The arrays that hold no values yet (a model built by ``fromConfig(initialize=False)``).
    """

    def __init__(self, dtype, device=devices.CPU):
        self.shapes = {name: [] for name in TRAINABLE + BUFFERS}  # per layer 2..L: a shape, or None
        self.missing = set()
        self._allocate(np.dtype(dtype), device.xp)

    def _allocate(self, dtype, xp):
        """New ``flat`` and ``buffers`` for the current shapes, zeros, with their views."""
        self.n_weights = sum(_size(shape) for shape in self.shapes[WEIGHTS])
        self.flat = xp.zeros(sum(_size(s) for name in TRAINABLE for s in self.shapes[name]), dtype=dtype)
        self.buffers = xp.zeros(sum(_size(s) for name in BUFFERS for s in self.shapes[name]), dtype=dtype)
        self._make_views()

    @property
    def device(self):
        """The :class:`dnn.devices.Device` the arrays live on."""
        return devices.device_of(self.flat)

    def move_to(self, device):
        """Move every array to ``device`` (a :class:`dnn.devices.Device`): new arrays, new views."""
        self.flat, self.buffers = device.asarray(self.flat), device.asarray(self.buffers)
        self._make_views()

    def to_host(self):
        """This store when it is numpy's, else a numpy copy of it (what the textbook methods and files read)."""
        if self.device.is_host:
            return self
        twin = self._twin()
        twin.flat, twin.buffers = devices.to_numpy(self.flat), devices.to_numpy(self.buffers)
        twin._make_views()
        return twin

    def _make_views(self):
        self.named = {**self._layout(self.flat, TRAINABLE), **self._layout(self.buffers, BUFFERS)}
        self.weights, self.biases = self.named[WEIGHTS], self.named[BIASES]

    def _layout(self, array, names):
        views, start = {}, 0
        for name in names:
            views[name] = []
            for shape in self.shapes[name]:
                size = _size(shape)
                views[name].append(None if shape is None else array[start:start + size].reshape(shape))
                start += size
        return views

    @property
    def dtype(self):
        """The dtype of every parameter."""
        return self.flat.dtype

    def add_layers(self, layers):
        """Grow the store by layers, keeping the values of those it holds (in new arrays: new views).

        Parameters
        ----------
        layers : list of dict, one per new layer
            ``{name: (shape, value)}`` for every array the layer has (at least ``w`` and ``b``); value None for
            an array set later (it is ``missing``).
        """
        kept = {name: list(views) for name, views in self.named.items()}
        first = len(self.weights) + 2
        for arrays in layers:
            for name, shapes in self.shapes.items():
                shapes.append(tuple(arrays[name][0]) if name in arrays else None)
        self._allocate(self.dtype, devices.namespace(self.flat))
        for name, views in kept.items():
            for old, new in zip(views, self.named[name]):
                if old is not None:
                    new[...] = old
        for layer, arrays in enumerate(layers, start=first):
            for name, (_, value) in arrays.items():
                if value is None:
                    self.missing.add((name, layer))
                else:
                    self.assign(name, layer, value)

    def views(self, flat):
        """``{kind: per-layer views (None where a layer has no such array)}`` into ``flat``, an array of this
        layout (the trainable kinds)."""
        return self._layout(flat, TRAINABLE)

    def split(self, flat):
        """``flat`` as a list of per-parameter views, layer by layer: w_2, b_2 (gamma_2, beta_2), w_3, ..."""
        views = self.views(flat)
        return [views[name][i] for i in range(len(self.weights)) for name in TRAINABLE
                if views[name][i] is not None]

    def join(self, arrays):
        """The flat array holding per-parameter ``arrays`` given in the order of :meth:`split`."""
        flat = devices.namespace(self.flat).empty_like(self.flat)
        device = self.device
        for view, array in zip(self.split(flat), arrays):
            view[...] = device.asarray(array)
        return flat

    def astype(self, dtype):
        """A separate store of the same layout holding copies of every array in ``dtype`` (the gradient check's)."""
        twin = self._twin()
        twin.flat, twin.buffers = self.flat.astype(dtype), self.buffers.astype(dtype)
        twin._make_views()
        return twin

    def _twin(self):
        """A store of the same layout whose ``flat`` and ``buffers`` the caller sets (then makes the views)."""
        twin = object.__new__(Parameters)
        twin.__dict__.update(self.__getstate__())
        twin.shapes = {name: list(shapes) for name, shapes in self.shapes.items()}
        twin.missing = set(self.missing)
        return twin

    def normalizations(self):
        """Per layer 2..L, its :class:`dnn.normalization.Normalization` (views of the store), or None."""
        named = self.named
        return [None if scale is None else Normalization("layer" if mean is None else "batch", scale, shift, mean,
                                                         var)
                for scale, shift, mean, var in zip(named["gamma"], named["beta"], named["running_mean"],
                                                   named["running_var"])]

    def shape(self, name, layer):
        """The shape of ``model.{name}[layer]`` (None where the layer has no such array)."""
        return self.shapes[name][layer - 2]

    def arrays(self, name):
        """``{layer: view}`` of the arrays of kind ``name`` ("w", "b", "gamma"...), for the layers that have one;
        None for a missing array."""
        return {layer: None if (name, layer) in self.missing else view
                for layer, view in enumerate(self.named[name], start=2) if view is not None}

    def assign(self, name, layer, value):
        """Copy ``value`` into ``model.{name}[layer]``, once :meth:`checked`: a refused value changes nothing."""
        self.named[name][layer - 2][...] = self.device.asarray(self.checked(name, layer, value))
        self.missing.discard((name, layer))

    def checked(self, name, layer, value):
        """``value`` as an array of ``model.{name}[layer]``'s shape in the store's dtype; ValueError saying why not.

        A numeric array of that shape (or nested lists) whose values stay finite in the store's dtype: a float64
        1e300 is finite, and infinite in a float32 model. The result may be ``value`` itself: copy it in, never keep it.
        """
        shape, where = self.shape(name, layer), f"model.{name}[{layer}]"
        if value is None:
            raise ValueError(f"{where} must be an array of shape {shape}, got None")
        try:
            with warnings.catch_warnings():  # numpy < 1.24 makes ragged lists an object array, with a warning
                warnings.simplefilter("ignore")
                array = devices.to_numpy(value)  # checked on the host, whatever device it comes from
            if array.dtype == object and isinstance(value, (list, tuple)):
                raise ValueError("its rows differ in length")
        except (TypeError, ValueError) as error:  # ragged nested lists, for one
            raise ValueError(f"{where} must be an array of shape {shape}, got a {type(value).__name__} that is not "
                             f"one ({error})") from None
        if array.shape != shape:
            raise ValueError(f"{where} must have shape {shape}, got {array.shape}")
        if array.dtype.kind not in "biuf":
            raise ValueError(f"{where} must hold real numbers (an array of shape {shape}), got dtype {array.dtype}")
        with np.errstate(over="ignore", invalid="ignore"):
            converted = array.astype(self.dtype, copy=False)
        # The smallest and largest values are NaN or infinite exactly when some value is: no array of flags.
        if not (np.isfinite(converted.min()) and np.isfinite(converted.max())):
            problem = ("values beyond its range" if np.isfinite(array).all() else "NaN or infinite values")
            raise ValueError(f"{where} must hold finite numbers in the model's {self.dtype}, got {problem}")
        if name == "running_var" and converted.min() < 0:
            raise ValueError(f"{where} must hold variances, numbers >= 0, got {float(converted.min())!r}")
        return converted

    def complete_views(self):
        """``(weights, biases)``, the per-layer views, once every array holds values; ValueError naming the first
        that does not (weights before biases, before the others)."""
        if self.missing:
            order = TRAINABLE + BUFFERS
            name, layer = min(self.missing, key=lambda key: (order.index(key[0]), key[1]))
            raise ValueError(f"model.{name}[{layer}] is missing; it must be an array of shape "
                             f"{self.shape(name, layer)}")
        return self.weights, self.biases

    def __getstate__(self):
        # Views do not survive pickling or deep copies (they become separate arrays); keep the flat arrays alone
        # and make the views of the copy from them.
        state = self.__dict__.copy()
        del state["named"], state["weights"], state["biases"]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._make_views()
