"""The one store of a network's weights and biases: a flat array and its per-layer views.

``weights[i]`` and ``biases[i]`` (layer i + 2) are views into :attr:`Parameters.flat`, laid out as w_2, ..., w_L,
b_2, ..., b_L. One array makes an optimizer step three numpy calls whatever the depth, a snapshot one copy, and the
L2 penalty (on weights only) a prefix of the array. Gradients and optimizer state use the same layout, through
:meth:`Parameters.views`.

``model.w[l]`` and ``model.b[l]`` read these views, and assigning them goes through :meth:`Parameters.assign`,
which checks the value and copies it in: there is no second copy of the weights to keep in step.
"""

import warnings

import numpy as np

#: The names of the parameter kinds, as ``model.w`` and ``model.b`` call them.
WEIGHTS, BIASES = "w", "b"


class Parameters:
    """Flat storage for the layers' weights and biases, grown one layer at a time as the network is built.

    Parameters
    ----------
    dtype : numpy dtype
        The model's precision: every value assigned is converted to it.

    Attributes
    ----------
    flat : ndarray, shape (parameters,)
    weights : list of ndarray views of ``flat``, shapes (units of layer l-1, units of layer l) for l = 2..L
    biases : list of ndarray views of ``flat``, shapes (units of layer l,) for l = 2..L
    n_weights : int
        How many entries of ``flat`` are weights: they come first.
    missing : set of (name, layer)
        The arrays that hold no values yet (a model built by ``fromConfig(initialize=False)``).
    """

    def __init__(self, dtype):
        self.weight_shapes, self.bias_shapes = [], []
        self.missing = set()
        self._allocate(np.dtype(dtype))

    def _allocate(self, dtype):
        """A new ``flat`` for the current shapes, zeros, with its views."""
        self.n_weights = sum(int(np.prod(shape)) for shape in self.weight_shapes)
        self.flat = np.zeros(self.n_weights + sum(shape[0] for shape in self.bias_shapes), dtype=dtype)
        self.weights, self.biases = self.views(self.flat)

    @property
    def dtype(self):
        """The dtype of every parameter."""
        return self.flat.dtype

    def add_layers(self, shapes, values):
        """Grow the store by layers, keeping the values of those it holds (in a new flat array: new views).

        Parameters
        ----------
        shapes : list of (weight shape, bias shape), one per new layer
        values : list of (weights, biases), one per new layer; None for arrays set later (they are ``missing``)
        """
        kept = list(zip(self.weights, self.biases))
        first = len(kept) + 2
        for weight_shape, bias_shape in shapes:
            self.weight_shapes.append(tuple(weight_shape))
            self.bias_shapes.append(tuple(bias_shape))
        self._allocate(self.dtype)
        for w, b, (old_w, old_b) in zip(self.weights, self.biases, kept):
            w[...], b[...] = old_w, old_b
        for layer, pair in enumerate(values, start=first):
            for name, value in zip((WEIGHTS, BIASES), pair):
                if value is None:
                    self.missing.add((name, layer))
                else:
                    self.assign(name, layer, value)

    def views(self, flat):
        """Per-layer views (weights, biases) into ``flat``, an array of this layout."""
        views, start = [], 0
        for shape in self.weight_shapes + self.bias_shapes:
            size = int(np.prod(shape))
            views.append(flat[start:start + size].reshape(shape))
            start += size
        layers = len(self.weight_shapes)
        return views[:layers], views[layers:]

    def split(self, flat):
        """``flat`` as a list of per-parameter views in the order w_2, b_2, w_3, b_3, ..."""
        weights, biases = self.views(flat)
        return [a for pair in zip(weights, biases) for a in pair]

    def join(self, arrays):
        """The flat array holding per-parameter ``arrays`` given in the order w_2, b_2, w_3, b_3, ..."""
        flat = np.empty_like(self.flat)
        for view, array in zip(self.split(flat), arrays):
            view[...] = array
        return flat

    def shape(self, name, layer):
        """The shape of ``model.{name}[layer]``."""
        return (self.weight_shapes if name == WEIGHTS else self.bias_shapes)[layer - 2]

    def arrays(self, name):
        """``{layer: view}`` of the weights (``name`` "w") or biases ("b"); None for a missing array."""
        views = self.weights if name == WEIGHTS else self.biases
        return {layer: None if (name, layer) in self.missing else view
                for layer, view in enumerate(views, start=2)}

    def assign(self, name, layer, value):
        """Copy ``value`` into ``model.{name}[layer]``, once :meth:`checked`: a refused value changes nothing."""
        views = self.weights if name == WEIGHTS else self.biases
        views[layer - 2][...] = self.checked(name, layer, value)
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
                array = np.asarray(value)
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
        return converted

    def complete_views(self):
        """``(weights, biases)``, the per-layer views; ValueError naming the first array that holds no values yet
        (weights before biases)."""
        if self.missing:
            name, layer = min(self.missing, key=lambda key: (key[0] != WEIGHTS, key[1]))
            raise ValueError(f"model.{name}[{layer}] is missing; it must be an array of shape "
                             f"{self.shape(name, layer)}")
        return self.weights, self.biases

    def __getstate__(self):
        # Views do not survive pickling or deep copies (they become separate arrays); keep the flat array alone
        # and make the views of the copy from it.
        state = self.__dict__.copy()
        del state["weights"], state["biases"]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.weights, self.biases = self.views(self.flat)
