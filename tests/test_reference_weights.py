"""Training gives the weights it should: against another machine's run within rounding, and bit for bit on this one.

Three checks, each catching what the others cannot:

- **Another machine's weights** (reference_weights.npz, see tests/fixtures/reference_models.py): a BLAS kernel
  for another CPU sums the products of a step in another order, so the stored bits cannot be expected here.
  Tolerance: one step's products differ by at most K * eps relative per element (K terms summed in another order,
  eps the dtype's machine epsilon); over S steps of a run that does not amplify them (small rates, a few epochs)
  the differences add up at most linearly, so |w - w_ref| <= S * K * eps * max(1, |w_ref|). With K = 16 (the
  batch, the longest sum) and S = 36 steps, that is 9e-5 in float32 and 2e-13 in float64; measured across the
  OpenBLAS kernels Haswell, SkylakeX, Zen and Prescott, the largest difference was 2.4e-7 and 4.4e-16. A
  change of the formulas (a wrong factor, a missed term) moves weights by lr * gradient, about 1e-2 here.
- **The textbook arithmetic, bit for bit**: a plain numpy loop in this file, written from the documented formulas
  and operation order, runs on this machine's BLAS next to ``fit``; the two must agree in every bit. A change of
  the engine's arithmetic, even only a different summation order in one update, fails here on every machine.
- **Reruns on this machine** (one BLAS thread), in this process and in a fresh one: bit-identical.
"""

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from tests.fixtures.reference_models import BATCH, RECIPES, ROWS, all_weights, build, data, flat_weights

pytestmark = pytest.mark.filterwarnings("ignore::dnn.errors.TrainingStalledWarning")  # the sigmoid recipe stalls
FIXTURES = Path(__file__).resolve().parent / "fixtures"
REFERENCE = np.load(FIXTURES / "reference_weights.npz")


def cross_machine_tolerance(model, reference):
    """S * K * eps * max(1, |w_ref|): see the module docstring."""
    steps = model.epochs * math.ceil(ROWS / BATCH)   # every epoch of the model's life, all rows (an upper bound)
    eps = np.finfo(reference.dtype).eps
    return steps * BATCH * eps * max(1.0, float(np.abs(reference).max()))


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_weights_equal_another_machines_within_rounding(name):
    X, y = data()
    model = RECIPES[name](X, y)
    weights, expected = flat_weights(model), REFERENCE[name]
    assert weights.dtype == expected.dtype
    np.testing.assert_allclose(weights, expected, rtol=0, atol=cross_machine_tolerance(model, expected))


def test_the_tolerance_is_far_below_what_a_change_of_formula_moves():
    # A learning rate 1 % off is a real change of the arithmetic: it must move the weights past the tolerance.
    X, y = data()
    model = build(lr=0.0505, momentum=0.9)
    model.fit(X, y, epochs=6, batchSize=BATCH, verbose=0)
    moved = np.abs(flat_weights(model) - REFERENCE["momentum"]).max()
    assert moved > 10 * cross_machine_tolerance(model, REFERENCE["momentum"])


# ------------------------------------------------------------------ the textbook arithmetic, on this machine


def textbook_fit(X, y, weights, biases, activations, lr, epochs, optimizer, column_sums=None):
    """Mini-batch training written out from the formulas, in the order the engine documents.

    X (n, d) float32 rows visited in order (no shuffling); y integer labels; weights/biases float32 lists for
    layers 2..L (updated in place); activations of the hidden layers, "relu" or "tanh"; a softmax output with
    cross-entropy. SGD with momentum 0.9 folds the learning rate into the output delta: the gradients come out
    as steps, v <- 0.9 v - step, w <- w + v. Adam (0.9, 0.999, 1e-8) takes plain gradients, keeps
    m <- 0.9 (m - g) + g and v <- 0.999 v + 0.001 g^2, and steps by lr sqrt(1 - 0.999^t) / (1 - 0.9^t) *
    m / (sqrt(v) + 1e-8). ``column_sums(delta)`` replaces the engine's ``ones @ delta`` for the bias gradients.
    """
    dtype = X.dtype
    targets = np.eye(weights[-1].shape[1], dtype=dtype)[y]
    params = weights + biases
    state = [np.zeros_like(p) for p in params]                 # velocity, or Adam's m
    second = [np.zeros_like(p) for p in params]                # Adam's v
    step = 0
    for _ in range(epochs):
        for start in range(0, len(X), BATCH):
            x, t = X[start:start + BATCH], targets[start:start + BATCH]
            m = len(x)
            outputs = [x]
            for w, b, name in zip(weights, biases, [*activations, "softmax"]):
                z = outputs[-1] @ w
                z += b
                if name == "relu":
                    z = np.maximum(z, np.zeros(z.shape[-1:], dtype))
                elif name == "tanh":
                    z = np.tanh(z)
                else:
                    z -= z.max(axis=-1, keepdims=True)
                    z = np.exp(z)
                    z /= z @ np.ones((z.shape[-1], 1), dtype)    # row sums as one product
                outputs.append(z)
            delta = outputs[-1] - t
            delta *= (1.0 / m) * lr if optimizer == "sgd" else 1.0 / m
            grads_w, grads_b = [None] * len(weights), [None] * len(weights)
            for i in reversed(range(len(weights))):
                grads_w[i] = outputs[i].T @ delta
                # column sums as one product, as the engine computes them
                grads_b[i] = np.ones(m, dtype) @ delta if column_sums is None else column_sums(delta)
                if i > 0:
                    upstream = delta @ weights[i].T
                    a = outputs[i]
                    delta = upstream * (a > 0) if activations[i - 1] == "relu" else upstream * (1 - a * a)
            step += 1
            for p, g, s, v in zip(params, grads_w + grads_b, state, second):
                if optimizer == "sgd":
                    s *= 0.9
                    s -= g
                    p += s
                else:
                    s -= g
                    s *= 0.9
                    s += g
                    v *= 0.999
                    v += (g * g) * (1 - 0.999)
                    rate = lr * math.sqrt(1 - 0.999**step) / (1 - 0.9**step)
                    p -= (s / (np.sqrt(v) + 1e-8)) * rate


@pytest.mark.parametrize(("optimizer", "lr", "hidden"), [
    ("sgd", 0.05, ("relu", "tanh")),
    ("sgd", 0.05, ("tanh", "relu")),
    ("adam", 0.01, ("relu", "tanh")),
])
def test_fit_computes_the_textbook_arithmetic_bit_for_bit(optimizer, lr, hidden):
    X, y = data()
    momentum = {"momentum": 0.9} if optimizer == "sgd" else {}
    model = build(lr=lr, optimizer=optimizer, hidden_activation=hidden, **momentum)
    weights = [model.w[layer].copy() for layer in (2, 3, 4)]
    biases = [model.b[layer].copy() for layer in (2, 3, 4)]
    model.fit(X, y, epochs=3, batchSize=BATCH, verbose=0, shuffle=False)
    with threadpool_limits(1):
        textbook_fit(X.astype(np.float32), y, weights, biases, hidden, lr, 3, optimizer)
    for layer, w, b in zip((2, 3, 4), weights, biases):
        np.testing.assert_array_equal(model.w[layer], w)
        np.testing.assert_array_equal(model.b[layer], b)


def test_the_textbook_comparison_sees_a_change_of_summation_order():
    # The bias gradients summed row by row, first to last and last to first: two orders that round differently,
    # so at most one can be the order of this machine's kernel, and the comparison above must see the other.
    X, y = data()
    model = build(lr=0.05, momentum=0.9)
    start = [model.w[layer].copy() for layer in (2, 3, 4)], [model.b[layer].copy() for layer in (2, 3, 4)]
    model.fit(X, y, epochs=3, batchSize=BATCH, verbose=0, shuffle=False)
    trained = flat_weights(model)
    equal = []
    for column_sums in (lambda delta: delta.sum(axis=0), lambda delta: delta[::-1].sum(axis=0)):
        weights, biases = [w.copy() for w in start[0]], [b.copy() for b in start[1]]
        with threadpool_limits(1):
            textbook_fit(X.astype(np.float32), y, weights, biases, ("relu", "tanh"), 0.05, 3, "sgd", column_sums)
        textbook = np.concatenate([p.ravel() for p in weights + biases])
        np.testing.assert_allclose(textbook, trained, rtol=0, atol=1e-5)   # rounding apart, the same training
        equal.append(np.array_equal(textbook, trained))
    assert not all(equal)


# ------------------------------------------------------------------ reruns on this machine


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_a_rerun_in_this_process_is_bit_identical(name):
    X, y = data()
    np.testing.assert_array_equal(flat_weights(RECIPES[name](X, y)), flat_weights(RECIPES[name](X, y)))


def test_a_rerun_in_a_fresh_process_is_bit_identical(tmp_path):
    path = tmp_path / "weights.npz"
    subprocess.run([sys.executable, str(FIXTURES / "reference_models.py"), str(path)], check=True,
                   cwd=FIXTURES.parents[1], capture_output=True)
    fresh, here = np.load(path), all_weights()
    assert sorted(fresh.files) == sorted(here)
    for name, weights in here.items():
        np.testing.assert_array_equal(fresh[name], weights, err_msg=name)
