"""The math the engine calls, on a device whose arrays refuse numpy (tests/fixtures/strict_device.py).

Every function runs twice, on numpy arrays and on copies of them on the strict device, whose arrays raise
TypeError on any numpy call and whose functions are numpy's underneath. The strict run must raise nothing, keep
its arrays on the device, and give bit for bit what numpy gives, in its results and in the arrays it changes in
place. That the numpy run itself is right is what the rest of the suite checks.
"""

import numpy as np
import pytest

from dnn import activation_kernels, activations, custom_activations, losses, normalization, optimizers, special
from dnn.engine import update
from dnn.loss_functions import LOSSES
from dnn.loss_settings import COMPATIBLE_LOSSES
from tests.fixtures.strict_device import StrictArray, strict_device, unwrap

DEVICE = strict_device()
DTYPES = (np.float32, np.float64)

#: The activations dnn ships (a test elsewhere may have registered its own by the time these run).
BUILT_IN = [name for name, (forward, _) in activations.ACTIVATIONS.items()
            if forward.__module__ == activation_kernels.__name__]


# ------------------------------------------------------------------ running twice


def mapped(value, leaf):
    """``value`` with ``leaf`` applied to every numpy array in it (in lists, tuples, named tuples and dicts)."""
    if isinstance(value, np.ndarray):
        return leaf(value)
    if isinstance(value, dict):
        return {key: mapped(item, leaf) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        items = [mapped(item, leaf) for item in value]
        return type(value)(*items) if hasattr(value, "_fields") else type(value)(items)
    return value


def on_device(value):
    """``value`` with a copy on the strict device of every numpy array in it."""
    return mapped(value, DEVICE.asarray)


def copied(value):
    """``value`` with a copy of every numpy array in it."""
    return mapped(value, np.copy)


def assert_same(host, device, where="result"):
    """``device`` (of the strict run) holds, bit for bit, what ``host`` (of the numpy run) holds, on the device."""
    if isinstance(host, np.ndarray):
        assert isinstance(device, StrictArray), f"{where}: a {type(device).__name__} where numpy gave an array"
        device = unwrap(device)
        assert (device.dtype, device.shape) == (host.dtype, host.shape), where
        assert device.tobytes() == host.tobytes(), f"{where}: {device!r} != {host!r}"
    elif isinstance(host, np.generic):  # a reduction: a 0-d array on a device
        device = np.asarray(unwrap(device))
        assert device.dtype == host.dtype and device.tobytes() == np.asarray(host).tobytes(), where
    elif isinstance(host, (list, tuple)):
        assert type(device) is type(host) and len(device) == len(host), where
        for i, (a, b) in enumerate(zip(host, device)):
            assert_same(a, b, f"{where}[{i}]")
    elif isinstance(host, dict):
        assert device.keys() == host.keys(), where
        for key in host:
            assert_same(host[key], device[key], f"{where}[{key!r}]")
    elif isinstance(host, float):
        assert type(device) is float and np.float64(device).tobytes() == np.float64(host).tobytes(), where
    else:
        assert device == host, where


def both(function, *args, **kwargs):
    """Run ``function`` on copies of the arguments and on the device; assert identical results and arguments."""
    host_args, host_kwargs = copied(args), copied(kwargs)
    device_args, device_kwargs = on_device(args), on_device(kwargs)
    expected = function(*host_args, **host_kwargs)
    got = function(*device_args, **device_kwargs)
    assert_same(expected, got)
    assert_same(host_args, device_args, "arguments")  # what it changed in place
    assert_same(host_kwargs, device_kwargs, "keyword arguments")
    return expected


def test_the_strict_device_refuses_numpy():
    """The premise: a numpy call on a strict array raises, so that passing here means none was made."""
    a = DEVICE.asarray(np.ones((2, 3)))
    for call in (np.exp, lambda b: np.multiply(b, 2.0, out=b), lambda b: b + np.ones((2, 3)), np.asarray):
        with pytest.raises(TypeError):
            call(a)


def test_the_run_twice_check_can_fail():
    with pytest.raises(AssertionError):
        both(lambda a: a + (2e-16 if isinstance(a, np.ndarray) else 0.0), np.ones(3))  # one ulp apart
    with pytest.raises(AssertionError):  # a host array out of a device run
        both(lambda a: np.zeros(3) if isinstance(a, StrictArray) else a, np.ones(3))


# ------------------------------------------------------------------ activations


def pre_activations(dtype, rows=6, units=7, seed=0):
    """(rows, units) values with both tails, 0, and numbers near it."""
    rng = np.random.default_rng(seed)
    z = rng.normal(scale=3.0, size=(rows, units))
    z[0] = [-60.0, -20.0, -1e-8, 0.0, 1e-8, 20.0, 60.0][:units]
    return z.astype(dtype)


def with_out(function, args, out):
    """``function`` and its arguments for a new result ("new"), a result into a new array ("given"), or into its
    last argument ("in_place": z for a forward step, grad for a backward one)."""
    if out == "new":
        return function, *args
    if out == "given":
        return (lambda *values: function(*values[:-1], out=values[-1])), *args, np.empty_like(args[-1])
    return (lambda *values: function(*values, out=values[-1])), *args


@pytest.mark.parametrize("out", ["new", "given", "in_place"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", BUILT_IN)
def test_activation_forward(name, dtype, out):
    both(*with_out(activations.ACTIVATIONS[name][0], (pre_activations(dtype),), out))


@pytest.mark.parametrize("out", ["new", "given", "in_place"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kernel", list(activation_kernels.HIDDEN_FORWARD.values()), ids=lambda f: f.__name__)
def test_hidden_forward_kernel(kernel, dtype, out):
    both(*with_out(kernel, (pre_activations(dtype),), out))


@pytest.mark.parametrize("out", ["new", "given", "in_place"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", BUILT_IN)
def test_activation_backward(name, dtype, out):
    forward, backward = activations.ACTIVATIONS[name]
    z = pre_activations(dtype)
    taken = z if name in activations.PRE_ACTIVATION else forward(z.copy())
    both(*with_out(backward, (taken, pre_activations(dtype, seed=1)), out))


@pytest.mark.parametrize("dtype", DTYPES)
def test_an_activation_of_the_users_own(dtype):
    """The adapters that give a user's functions the kernels' signature: written with operators, they run anywhere."""
    forward, backward = custom_activations.user_pair(
        "softsign_on_device", lambda z: z / (1 + abs(z)), lambda a, grad: grad * (1 - abs(a)) ** 2, "output")
    z, grad = pre_activations(dtype), pre_activations(dtype, seed=1)
    a = both(forward, z)
    for out in ("given", "in_place"):
        both(*with_out(forward, (z,), out))
        both(*with_out(backward, (a, grad), out))
    both(backward, a, grad)


@pytest.mark.parametrize("given", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("function", [special.erf, special.erfc, special.normal_cdf], ids=lambda f: f.__name__)
def test_special_functions(function, dtype, given):
    """Every branch (series, tail, both signs, underflow, inf, NaN), over more than one host block."""
    rng = np.random.default_rng(2)
    x = np.concatenate([np.linspace(-30, 30, 601), [-np.inf, np.inf, np.nan, -0.0, 1e-300, -1e-300],
                        rng.normal(scale=4.0, size=9000)]).astype(dtype)
    both(*with_out(function, (x,), "given" if given else "new"))


# ------------------------------------------------------------------ losses

#: The losses dnn ships.
BUILT_IN_LOSSES = [name for name, (loss, _) in LOSSES.items() if loss.__module__ == "dnn.loss_functions"]

#: Settings besides the defaults, per loss.
LOSS_VARIANTS = {
    "categorical_crossentropy": [{"label_smoothing": 0.1}],
    "binary_crossentropy": [{"label_smoothing": 0.2}],
    "huber": [{"delta": 0.3}],
    "binary_focal": [{"gamma": 1.5, "alpha": 0.25}, {"gamma": 0.0}],
    "categorical_focal": [{"gamma": 0.5, "alpha": 0.7}],
}


def loss_specs(names):
    """Each loss by name, then with each of its variants."""
    return [spec for name in names
            for spec in [name] + [{"name": name, **settings} for settings in LOSS_VARIANTS.get(name, [])]]


def spec_id(spec):
    return spec if isinstance(spec, str) else "-".join(f"{key}={value}" for key, value in spec.items())


def outputs_and_targets(activation, dtype, rows=8, k=4):
    """Outputs of ``activation`` with exact 0s and 1s among them, and targets it is trained towards."""
    rng = np.random.default_rng(3)
    z = rng.normal(scale=2.0, size=(rows, k))
    z[0] = [80.0, -80.0, 0.0, -80.0]
    p = activations.ACTIVATIONS[activation][0](z.astype(dtype))
    if activation == "softmax":
        y = np.eye(k)[rng.integers(0, k, rows)]
    elif activation == "sigmoid":
        y = rng.integers(0, 2, (rows, k)).astype(float)
    else:
        y = rng.normal(size=(rows, k))
    return p, y.astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("spec", loss_specs(BUILT_IN_LOSSES), ids=spec_id)
def test_losses_and_gradients(spec, dtype):
    """The per-sample pair, and the sums the training loop reduces, with and without sample weights."""
    p, y = outputs_and_targets("softmax", dtype)
    for function in losses.get_loss(spec):
        both(function, p, y)
    for weights in (None, np.linspace(0.5, 2.0, len(p)).astype(dtype)):
        both(losses.summed_loss, spec, p, y, weights)
        both(losses.mean_loss, spec, p, y, weights)


OUTPUT_PAIRS = [(activation, spec) for activation in ("softmax", "sigmoid", "identity", "step")
                for spec in loss_specs(name for name in COMPATIBLE_LOSSES[activation] if name in BUILT_IN_LOSSES)]


@pytest.mark.parametrize("out", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("activation", "spec"), OUTPUT_PAIRS, ids=lambda v: spec_id(v))
def test_output_delta(activation, spec, dtype, weighted, out):
    """Every pair an output layer takes, fused or through the chain rule, with the engine's scales and buffer."""
    p, y = outputs_and_targets(activation, dtype)
    scale = (np.linspace(0.5, 2.0, len(p))[:, None] / len(p)).astype(dtype) if weighted else 1.0 / len(p)
    both(losses.output_delta, activation, spec, p, y, scale, np.empty_like(p) if out else None)


@pytest.mark.parametrize("dtype", DTYPES)
def test_penalty_helpers(dtype):
    rng = np.random.default_rng(4)
    weights = [rng.normal(size=(4, 3)).astype(dtype), rng.normal(size=(3, 2)).astype(dtype)]
    weights[0][0, 0] = 0.0  # sign 0
    grads = [rng.normal(size=w.shape).astype(dtype) for w in weights]
    both(losses.l2_penalty, weights, 0.01)
    both(update.l1_penalty, weights, 0.01)
    p, y = outputs_and_targets("softmax", dtype)
    both(losses.objective, "categorical_crossentropy", p, y, weights, 0.01)
    for add in (losses.add_l2_gradient, losses.add_l1_gradient):
        both(add, grads, weights, 0.03)
        both(add, grads[:1], weights[:1], 0.03, np.empty_like(weights[0]))  # as UpdateRules: one array, scratch


# ------------------------------------------------------------------ normalization


def normalization_arrays(kind, dtype, units=5):
    """gamma, beta and (batch normalization) running averages away from their initial 1s and 0s."""
    rng = np.random.default_rng(5)
    arrays = [rng.normal(1.0, 0.2, units), rng.normal(0.0, 0.2, units), rng.normal(0.0, 0.5, units),
              rng.uniform(0.5, 2.0, units)]
    return normalization.Normalization(kind, *[a.astype(dtype) for a in arrays[:2 if kind == "layer" else 4]])


def normalized_step(norm, z, delta, mode, out, grads):
    """The forward step (into ``out`` or a new array), then the backward one (into ``grads`` or new arrays)."""
    y, kept = normalization.normalize(norm, z, out, mode)
    return y, kept, normalization.normalize_backward(norm, kept, delta, *grads)


@pytest.mark.parametrize("rows", [1, 6])  # one row: batch normalization leaves its running averages
@pytest.mark.parametrize("buffers", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", [normalization.TRAIN, normalization.BATCH_STATISTICS, normalization.INFERENCE])
@pytest.mark.parametrize("kind", normalization.KINDS)
def test_normalization_forward_and_backward(kind, mode, dtype, buffers, rows):
    """Both steps in every mode; the running averages (arguments) move in place in training."""
    norm = normalization_arrays(kind, dtype)
    rng = np.random.default_rng(6)
    z, delta = rng.normal(2.0, 3.0, (rows, 5)).astype(dtype), rng.normal(size=(rows, 5)).astype(dtype)
    out = np.empty_like(z) if buffers else None
    grads = (np.empty_like(norm.scale), np.empty_like(norm.shift)) if buffers else ()
    both(normalized_step, norm, z, delta, mode, out, grads)


# ------------------------------------------------------------------ optimizers

OPTIMIZERS = [("sgd", {}), ("sgd", {"momentum": 0.9}), ("sgd", {"momentum": 0.9, "nesterov": True}), ("adam", {}),
              ("adamw", {}), ("adamw", {"weight_decay": 0.0}), ("nadam", {}), ("rmsprop", {}),
              ("adagrad", {}), ("adagrad", {"initial_accumulator_value": 0.1})]


def test_every_built_in_function_is_covered():
    """The lists these tests run over hold every activation, loss and optimizer dnn ships."""
    assert set(BUILT_IN) == {"sigmoid", "tanh", "relu", "leaky_relu", "identity", "softmax", "step", "gelu", "silu",
                             "elu", "selu", "softplus"}
    assert len(BUILT_IN_LOSSES) == 8
    assert {name for _, spec in OUTPUT_PAIRS for name in [spec if isinstance(spec, str) else spec["name"]]} == set(
        BUILT_IN_LOSSES)
    built_in = {name for name, cls in optimizers.OPTIMIZERS.items() if cls.__module__ == optimizers.__name__}
    assert {name for name, _ in OPTIMIZERS} == built_in == {"sgd", "adam", "adamw", "nadam", "rmsprop", "adagrad"}


def optimizer_run(name, settings, param, grads):
    """Steps, a snapshot, more steps, the snapshot restored and the same steps again; every state on the way."""
    optimizer = optimizers.make_optimizer(name, **settings)
    optimizer.prepare(param)
    for i, grad in enumerate(grads[:3]):
        optimizer.update(param, grad.copy(), 0.01 * (i + 1))
    snapshot, saved = optimizer.snapshot(), param.copy()
    for grad in grads[3:]:
        optimizer.update(param, grad.copy(), 0.02)
    first = param.copy(), optimizer.snapshot()
    optimizer.restore(snapshot)
    param[...] = saved
    for grad in grads[3:]:
        optimizer.update(param, grad.copy(), 0.02)
    return first, (param.copy(), optimizer.snapshot()), snapshot


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("name", "settings"), OPTIMIZERS, ids=lambda v: v if isinstance(v, str) else spec_id(v))
def test_optimizer_steps_snapshot_and_restore(name, settings, dtype):
    rng = np.random.default_rng(8)
    param = rng.normal(size=30).astype(dtype)
    grads = [rng.normal(size=30).astype(dtype) for _ in range(6)]
    first, again, _ = both(optimizer_run, name, settings, param, grads)
    np.testing.assert_equal(again, first)  # restored, it took the same steps again (on the device as on the host)


def test_an_optimizer_follows_its_parameters_to_another_device():
    """Its scratch array is remade where its arguments are (a model moved to a device keeps its optimizer)."""
    rng = np.random.default_rng(9)
    param, grad = rng.normal(size=10), rng.normal(size=10)
    optimizer = optimizers.make_optimizer("rmsprop")
    optimizer.prepare(param)
    optimizer.update(param.copy(), grad.copy(), 0.01)  # its scratch array is made on the host

    def step(state, param, grad):  # on the host first, then (the same optimizer) on the device
        optimizer.state = state
        optimizer.update(param, grad, 0.01)
        return optimizer.state

    both(step, optimizer.state, param, grad)


# ------------------------------------------------------------------ update rules


class Store:
    """What UpdateRules reads of dnn.model.parameters.Parameters: the flat array, its weights first, as views."""

    SIZE = 4 * 3 + 3 * 2 + 3 + 2  # two layers' weights, then their biases

    def __init__(self, flat):
        self.flat, self.n_weights = flat, 4 * 3 + 3 * 2
        self.weights = [flat[:12].reshape(4, 3), flat[12:18].reshape(3, 2)]


RULES = [{"l2": 0.01}, {"l1": 0.02}, {"clip_norm": 0.5}, {"clip_value": 0.05}, {"max_norms": [0.9, None]},
         {"l2": 0.01, "l1": 0.02, "clip_norm": 0.5, "clip_value": 0.05, "max_norms": [0.9, 1.1]}]


def rules_run(optimizer_name, rule_settings, flat, grad, grads, rates):
    """The update rules over a few batches (a rate of 0 among them); the penalties and state on the way."""
    params = Store(flat)
    optimizer = optimizers.make_optimizer(optimizer_name, momentum=0.5)
    optimizer.prepare(flat)
    rules = update.UpdateRules.make(params, grad, optimizer, **rule_settings)
    penalties = []
    for batch, lr in zip(grads, rates):
        grad[...] = batch
        penalties.append(rules.penalty())
        rules.update(lr)
    return penalties, optimizer.state


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("optimizer_name", ["sgd", "adam"])
@pytest.mark.parametrize("rule_settings", RULES, ids=lambda v: spec_id(v))
def test_update_rules(rule_settings, optimizer_name, dtype):
    rng = np.random.default_rng(10)
    flat = rng.normal(scale=0.8, size=Store.SIZE).astype(dtype)
    grads = [rng.normal(scale=2.0, size=Store.SIZE).astype(dtype) for _ in range(4)]
    both(rules_run, optimizer_name, rule_settings, flat, np.empty_like(flat), grads, [0.1, 0.0, 0.05, 0.2])


@pytest.mark.parametrize("dtype", DTYPES)
def test_clipping_and_max_norms(dtype):
    rng = np.random.default_rng(11)
    grad = rng.normal(size=20).astype(dtype)
    both(update.clip_by_norm, grad, 0.5)
    both(update.clip_by_norm, grad, 0.5, 0.1)
    both(update.clip_by_norm, grad, 1e6)  # within the limit: unchanged
    huge = (grad * dtype(1e30)).astype(dtype)  # float32 squares overflow: the norm is taken again in float64
    with np.errstate(over="ignore"):
        both(update.clip_by_norm, huge, 1.0)
    w = rng.normal(size=(4, 5)).astype(dtype)
    w[:, 2] *= 0.01
    both(update.constrain_norms, w, 0.8)   # some columns over
    both(update.constrain_norms, w, 100.0)  # none over
