"""A dnn model as a ``torch.nn.Sequential`` and back.

An adapter at the edge: the core never imports it, and torch is imported only
inside these functions (``pip install "dnn-numpy[torch]"``).

The Sequential computes the network's output layer exactly as dnn does:

- a :class:`Standardize` module first when the model scales its inputs,
- per layer a ``Linear`` (weight = ``w[l].T``, bias = ``b[l]``), for a
  normalized hidden layer its normalization (below), the layer's activation:
  ``ReLU``, ``Sigmoid``, ``Tanh``, ``LeakyReLU(0.01)``, ``Identity``,
  ``GELU()`` (exact, approximate="none"), ``SiLU``, ``ELU(alpha=1.0)``,
  ``SELU``, ``Softplus()`` or ``Softmax(dim=1)``, then ``Dropout(p)`` for a
  hidden layer with dropout rate p > 0 (inverted dropout, as in dnn).
- batch normalization as ``BatchNorm1d(units, eps=1e-5, momentum=0.1)``:
  weight = ``gamma[l]``, bias = ``beta[l]``, ``running_mean`` and
  ``running_var`` the model's, ``num_batches_tracked`` the mini-batches the
  model has trained (torch reads it only when momentum is None); layer
  normalization as ``LayerNorm(units, eps=1e-5)``: weight = ``gamma[l]``,
  bias = ``beta[l]``.

Call ``.eval()`` before predicting with the Sequential, as with any torch
model: dropout is then off and ``BatchNorm1d`` uses the running averages, as
dnn's predictions do. In ``.train()`` mode (with dropout 0) it computes what
dnn's training steps compute: batch statistics, and the same updates of the
running averages.

A model with a step activation or one registered with
:func:`dnn.activations.register` cannot be exported: torch.nn has no module
for it.

So its output is ``predictProba`` for a softmax classifier, the probability of
``classes[1]`` (``predictProba[:, 1]``) for one sigmoid unit, the independent
label probabilities of a multi-label model and the values of ``predict`` (as
(n, k)) for regression.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: dnn activation name -> torch.nn class name (LeakyReLU with dnn's slope, ELU with its alpha).
TORCH_ACTIVATIONS = {"relu": "ReLU", "sigmoid": "Sigmoid", "tanh": "Tanh", "leaky_relu": "LeakyReLU",
                     "identity": "Identity", "softmax": "Softmax", "gelu": "GELU", "silu": "SiLU", "elu": "ELU",
                     "selu": "SELU", "softplus": "Softplus"}
#: torch.nn.Softplus returns z itself above beta * z > threshold: from 20 on, within e^-20 of log(1 + e^z).
SOFTPLUS_THRESHOLD = 20.0
TORCH_DTYPES = {"float32": "float32", "float64": "float64"}

_standardize_class = None


def _torch():
    try:
        import torch
    except ImportError:
        raise ImportError("PyTorch is needed for toTorch/fromTorch: pip install 'dnn-numpy[torch]'") from None
    return torch


def standardize_module_class():
    """The ``Standardize`` module class, created at first use so that importing dnn never imports torch."""
    global _standardize_class
    if _standardize_class is None:
        torch = _torch()

        class Standardize(torch.nn.Module):
            """(x - mean) / scale per feature: dnn's input standardization, as a torch module."""

            def __init__(self, mean, scale):
                super().__init__()
                self.register_buffer("mean", torch.as_tensor(mean))
                self.register_buffer("scale", torch.as_tensor(scale))

            def forward(self, x):
                return (x - self.mean) / self.scale

        # Named as a module attribute (see __getattr__ below) so pickled Sequentials find it again.
        Standardize.__module__ = __name__
        Standardize.__qualname__ = "Standardize"
        _standardize_class = Standardize
    return _standardize_class


def __getattr__(name):
    if name == "Standardize":
        return standardize_module_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def to_torch(model):
    """``torch.nn.Sequential`` computing ``model``'s output layer; see the module docstring."""
    _check_exportable(model)
    torch = _torch()
    nn = torch.nn
    dtype = getattr(torch, str(model.dtype))
    modules = []
    if model.feature_mean is not None:
        modules.append(standardize_module_class()(torch.tensor(np.asarray(model.feature_mean), dtype=dtype),
                                                  torch.tensor(np.asarray(model.feature_scale), dtype=dtype)))
    for layer in range(2, len(model.units) + 1):
        w = np.asarray(model.w[layer], dtype=model.dtype)
        linear = nn.Linear(w.shape[0], w.shape[1], dtype=dtype)
        _fill(torch, linear, weight=w.T, bias=model.b[layer])
        modules.append(linear)
        if model.layers[layer - 1].normalization is not None:
            modules.append(_normalization_module(torch, model, layer, dtype))
        modules.append(_activation_module(nn, model.activations[layer - 1]))
        if model.dropout[layer - 1] > 0:  # dnn drops a hidden layer's outputs, after its activation
            modules.append(nn.Dropout(model.dropout[layer - 1]))
    return nn.Sequential(*modules)


def _fill(torch, module, **arrays):
    """Copy each of ``arrays`` into the parameter or buffer of ``module`` of that name (copies, never views)."""
    with torch.no_grad():
        for name, array in arrays.items():
            getattr(module, name).copy_(torch.from_numpy(np.array(array)))


def _normalization_module(torch, model, layer, dtype):
    """``BatchNorm1d`` or ``LayerNorm`` holding the arrays of ``layer``'s normalization (see the module docstring)."""
    from dnn.normalization import EPSILON, MOMENTUM

    units = model.units[layer - 1]
    if model.layers[layer - 1].normalization == "layer":
        module = torch.nn.LayerNorm(units, eps=EPSILON, dtype=dtype)
        _fill(torch, module, weight=model.gamma[layer], bias=model.beta[layer])
        return module
    module = torch.nn.BatchNorm1d(units, eps=EPSILON, momentum=MOMENTUM, dtype=dtype)
    _fill(torch, module, weight=model.gamma[layer], bias=model.beta[layer], running_mean=model.running_mean[layer],
          running_var=model.running_var[layer], num_batches_tracked=np.int64(model.state.steps))
    return module


def _check_exportable(model):
    """ValueError naming the first layer whose activation torch.nn has no module for (step, the user's own)."""
    from dnn.activations import REGISTRY

    for layer, name in enumerate(model.activations[1:], start=2):
        if name not in TORCH_ACTIVATIONS:
            own = "" if name in REGISTRY.builtins else "it is an activation of your own (dnn.activations.register) and "
            raise ValueError(f"toTorch cannot export layer {layer}'s activation {name!r}: {own}torch.nn has no "
                             f"module for it")


def _activation_module(nn, name):
    from dnn.activation_kernels import ELU_ALPHA, LEAKY_RELU_SLOPE

    if name == "leaky_relu":
        return nn.LeakyReLU(LEAKY_RELU_SLOPE)
    if name == "elu":
        return nn.ELU(alpha=ELU_ALPHA)
    if name == "gelu":
        return nn.GELU(approximate="none")
    if name == "softmax":
        return nn.Softmax(dim=1)
    return getattr(nn, TORCH_ACTIVATIONS[name])()


def from_torch(cls, sequential, **options):
    """A dnn model (class ``cls``) with the layers and weights of ``sequential``.

    Parameters
    ----------
    sequential : torch.nn.Sequential
        An optional :class:`Standardize` first, then ``Linear`` layers, each
        followed by at most one ``BatchNorm1d`` or ``LayerNorm`` (hidden
        layers: directly after the Linear, with dnn's eps and momentum, see
        the module docstring), at most one supported activation (none means
        identity) and, for a hidden layer, at most one ``Dropout(p)``, whose
        ``p`` becomes that layer's dropout rate.
    **options
        Passed to the ``cls`` constructor (lr, optimizer, seed...), for
        training further in dnn. ``dtype`` comes from the Linear weights.

    Raises
    ------
    ValueError
        Naming the first module it cannot take, or a shape mismatch.
    """
    nn = _torch().nn
    if not isinstance(sequential, nn.Sequential):
        raise ValueError(f"fromTorch takes a torch.nn.Sequential, got {type(sequential).__name__}")
    modules = list(sequential.named_children())
    standardizer = None
    if modules and isinstance(modules[0][1], standardize_module_class()):
        standardizer, modules = modules[0][1], modules[1:]
    layers = _layers(nn, modules)
    dtype = str(layers[0].weight.dtype)
    if dtype not in TORCH_DTYPES:
        raise ValueError(f"the Linear weights must be float32 or float64, got {dtype}")
    model = cls(dtype=dtype, **options)
    model.addInputLayer([layers[0].weight.shape[0]])
    for found in layers[:-1]:
        model.addHiddenLayer([found.weight.shape[1]], activation=found.activation or "identity",
                             dropout=0.0 if found.dropout is None else found.dropout[1],
                             normalization=None if found.normalization is None else found.normalization[1])
    model.addOutputLayer([layers[-1].weight.shape[1]], activation=layers[-1].activation or "identity")
    for layer, found in enumerate(layers, start=2):
        model.w[layer], model.b[layer] = found.weight.astype(dtype), found.bias.astype(dtype)
        if found.normalization is not None:
            for name, array in found.normalization[2].items():
                getattr(model, name)[layer] = array.astype(dtype)
    if standardizer is not None:
        model.feature_mean = standardizer.mean.detach().cpu().numpy().astype(dtype)
        model.feature_scale = standardizer.scale.detach().cpu().numpy().astype(dtype)
        if model.feature_mean.shape != (model.units[0],) or model.feature_scale.shape != (model.units[0],):
            raise ValueError(f"the Standardize module's mean and scale must have shape ({model.units[0]},)")
        model.standardize = True
    return model


@dataclass
class _Found:
    """A Linear layer of a Sequential and what follows it.

    weight : (in, out) array; bias : (out,) array; normalization : (module index, "batch" or "layer",
    {"gamma": array, ...}) or None; activation : dnn name or None; dropout : (module index, rate) or None.
    """

    weight: np.ndarray
    bias: np.ndarray
    normalization: tuple | None = None
    activation: str | None = None
    dropout: tuple | None = None


def _linear(module):
    weight = module.weight.detach().cpu().numpy().T
    bias = np.zeros(weight.shape[1], weight.dtype) if module.bias is None else module.bias.detach().cpu().numpy()
    return _Found(weight, bias)


def _layers(nn, modules):
    """Every Linear layer of ``modules`` (named children after any Standardize) with what follows it.

    Returns a list of :class:`_Found`, one per Linear layer; ValueError naming the first module that does not fit.
    """
    layers = []
    for index, module in modules:
        kind = type(module).__name__
        if isinstance(module, nn.Linear):
            layers.append(_linear(module))
            if len(layers) > 1 and layers[-2].weight.shape[1] != layers[-1].weight.shape[0]:
                raise ValueError(f"module {index} (Linear) takes {layers[-1].weight.shape[0]} inputs but the layer "
                                 f"before it has {layers[-2].weight.shape[1]} outputs")
            continue
        if not layers:
            raise ValueError(f"module {index} ({kind}) comes before any Linear layer")
        found = layers[-1]
        if found.dropout is not None:
            raise ValueError(f"module {index} ({kind}) follows a Dropout; dnn drops a layer's outputs once, after "
                             f"its activation")
        if isinstance(module, (nn.BatchNorm1d, nn.LayerNorm)):
            if found.activation is not None:
                raise ValueError(f"module {index} ({kind}) follows an activation; dnn normalizes a layer's weighted "
                                 f"sums: put it directly after the Linear, before the activation")
            if found.normalization is not None:
                raise ValueError(f"module {index} ({kind}) is a second normalization after one Linear layer; dnn "
                                 f"has at most one per layer")
            found.normalization = _normalization(nn, module, index, found.weight.shape[1])
            continue
        if isinstance(module, nn.Dropout):
            found.dropout = (index, float(module.p))
            continue
        name = _activation_name(nn, module, index)
        if found.activation is not None:
            raise ValueError(f"module {index} ({kind}) is a second activation after one Linear layer; dnn has one "
                             f"activation per layer")
        found.activation = name
    _check_output_layer(layers)
    return layers


def _check_output_layer(layers):
    """ValueError when there is no Linear layer, or the last one has what only a hidden layer can have."""
    if not layers:
        raise ValueError("the Sequential has no Linear layer")
    if layers[-1].dropout is not None:
        raise ValueError(f"module {layers[-1].dropout[0]} (Dropout) follows the output layer; dnn has dropout on "
                         f"hidden layers only")
    if layers[-1].normalization is not None:
        raise ValueError(f"module {layers[-1].normalization[0]} normalizes the output layer; dnn normalizes "
                         f"hidden layers only")


def _normalization(nn, module, index, units):
    """``(index, kind, {name: array})`` of the BatchNorm1d or LayerNorm ``module``, module ``index``, after a Linear
    of ``units`` outputs; ValueError naming the module and the value dnn cannot represent."""
    from dnn.normalization import EPSILON, MOMENTUM

    batch = isinstance(module, nn.BatchNorm1d)
    problems = []
    if batch:
        if module.num_features != units:
            problems.append(f"BatchNorm1d({module.num_features}) after a Linear of {units} outputs")
        if not module.affine:
            problems.append("BatchNorm1d(affine=False); dnn's batch normalization learns a scale and a shift: "
                            "affine=True")
        if not module.track_running_stats:
            problems.append("BatchNorm1d(track_running_stats=False); dnn predicts with running averages: "
                            "track_running_stats=True")
        if module.momentum != MOMENTUM:
            problems.append(f"BatchNorm1d(momentum={module.momentum}); dnn's running averages have momentum "
                            f"{MOMENTUM}")
    else:
        if tuple(module.normalized_shape) != (units,):
            problems.append(f"LayerNorm({tuple(module.normalized_shape)}); dnn normalizes over the units of the "
                            f"Linear before it: LayerNorm({units})")
        if not module.elementwise_affine or module.bias is None:
            problems.append(f"LayerNorm(elementwise_affine={module.elementwise_affine}, "
                            f"bias={module.bias is not None}); dnn's layer normalization learns a scale and a shift")
    if module.eps != EPSILON:
        problems.append(f"{type(module).__name__}(eps={module.eps}); dnn normalizes with eps {EPSILON}")
    if problems:
        raise ValueError(f"module {index} is {problems[0]}")
    arrays = {"gamma": module.weight, "beta": module.bias}
    if batch:
        arrays.update(running_mean=module.running_mean, running_var=module.running_var)
    return index, "batch" if batch else "layer", {name: value.detach().cpu().numpy() for name, value in arrays.items()}


def _activation_name(nn, module, index):
    from dnn.activation_kernels import ELU_ALPHA, LEAKY_RELU_SLOPE

    kind = type(module).__name__
    if isinstance(module, nn.LeakyReLU) and module.negative_slope != LEAKY_RELU_SLOPE:
        raise ValueError(f"module {index} is LeakyReLU({module.negative_slope}); dnn's leaky_relu has slope "
                         f"{LEAKY_RELU_SLOPE}")
    if isinstance(module, nn.Softmax) and module.dim not in (1, -1):
        raise ValueError(f"module {index} is Softmax(dim={module.dim}); dnn takes the softmax over dim=1")
    if isinstance(module, nn.GELU) and module.approximate != "none":
        raise ValueError(f"module {index} is GELU(approximate={module.approximate!r}); dnn's gelu is the exact "
                         f"one, GELU(approximate='none')")
    if isinstance(module, nn.ELU) and module.alpha != ELU_ALPHA:
        raise ValueError(f"module {index} is ELU(alpha={module.alpha}); dnn's elu has alpha {ELU_ALPHA}")
    if isinstance(module, nn.Softplus) and (module.beta != 1 or module.threshold < SOFTPLUS_THRESHOLD):
        raise ValueError(f"module {index} is Softplus(beta={module.beta}, threshold={module.threshold}); dnn's "
                         f"softplus is log(1 + e^z): beta 1, and a threshold of at least {SOFTPLUS_THRESHOLD:g}")
    for name, torch_name in TORCH_ACTIVATIONS.items():
        if type(module) is getattr(nn, torch_name):
            return name
    supported = ("Linear, BatchNorm1d, LayerNorm, Dropout, " + ", ".join(TORCH_ACTIVATIONS.values())
                 + " and a leading Standardize")
    raise ValueError(f"module {index} ({kind}) is not supported by fromTorch; it takes {supported}")
