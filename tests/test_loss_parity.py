"""The losses and their gradients equal PyTorch's, on random float64 inputs, reduced as dnn reduces.

dnn's loss is the mean over the n samples of per-sample sums over the k outputs: PyTorch's reduction="sum" divided
by n (its default reduction="mean" divides by n k). The per-sample gradient d loss_i / d p_i is the gradient of the
summed loss, since loss_i depends on p_i alone. Focal losses are written here from Lin et al.'s formula,
FL(p_t) = -alpha_t (1 - p_t)^gamma log p_t, in torch.
"""

import numpy as np
import pytest

from dnn.activations import get_activation
from dnn.losses import get_loss, mean_loss, output_delta

torch = pytest.importorskip("torch")
F = torch.nn.functional

N, K = 7, 4
RTOL, ATOL = 1e-6, 1e-12


def torch_loss_and_gradient(function, p, *args):
    """Per-sample losses (reduction "none" summed over the outputs) and the gradient of their sum w.r.t. p."""
    leaf = torch.tensor(p, dtype=torch.float64, requires_grad=True)
    per_sample = function(leaf, *args).sum(dim=1)
    per_sample.sum().backward()
    return per_sample.detach().numpy(), leaf.grad.numpy()


def assert_matches(spec, p, y, function, *args):
    """dnn's per-sample losses, mean loss and gradient for ``spec`` equal those of ``function`` in torch."""
    loss, gradient = get_loss(spec)
    expected_losses, expected_gradient = torch_loss_and_gradient(function, p, *args)
    np.testing.assert_allclose(loss(p, y), expected_losses, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(mean_loss(spec, p, y), expected_losses.sum() / len(p), rtol=RTOL)
    np.testing.assert_allclose(gradient(p, y), expected_gradient, rtol=RTOL, atol=ATOL)


def tensor(array):
    return torch.tensor(array, dtype=torch.float64)


@pytest.fixture
def regression(rng):
    """Outputs and targets whose differences fall on both sides of the Huber deltas used."""
    return rng.normal(0, 2, (N, K)), rng.normal(0, 2, (N, K))


@pytest.mark.parametrize("delta", [1.0, 0.5, 2.5])
def test_huber(regression, delta):
    p, y = regression
    residuals = np.abs(p - y)
    assert (residuals < delta).any() and (residuals > delta).any()
    spec = {"name": "huber", "delta": delta}
    assert_matches(spec, p, y, lambda q, t: F.huber_loss(q, t, reduction="none", delta=delta), tensor(y))
    # torch's default reduction averages over the n k entries; dnn's over the n samples
    torch_mean = float(F.huber_loss(tensor(p), tensor(y), delta=delta))
    assert mean_loss(spec, p, y) == pytest.approx(K * torch_mean, rel=RTOL)


def test_absolute_error(regression):
    p, y = regression
    assert_matches("mae", p, y, lambda q, t: F.l1_loss(q, t, reduction="none"), tensor(y))
    assert mean_loss("mae", p, y) == pytest.approx(K * float(F.l1_loss(tensor(p), tensor(y))), rel=RTOL)


def test_squared_error_is_half_the_sum_over_the_outputs(regression):
    p, y = regression
    assert_matches("mse", p, y, lambda q, t: 0.5 * F.mse_loss(q, t, reduction="none"), tensor(y))
    assert mean_loss("mse", p, y) == pytest.approx(0.5 * K * float(F.mse_loss(tensor(p), tensor(y))), rel=RTOL)


def test_poisson(rng):
    p = rng.uniform(0.0, 4.0, (N, K))
    p[0, 0] = 0.0  # a rate of 0: log(0 + eps) with torch's eps
    y = rng.poisson(2.0, (N, K)).astype(np.float64)
    assert_matches("poisson", p, y,
                   lambda q, t: F.poisson_nll_loss(q, t, log_input=False, full=False, eps=1e-8, reduction="none"),
                   tensor(y))
    torch_mean = float(F.poisson_nll_loss(tensor(p), tensor(y), log_input=False))
    assert mean_loss("poisson", p, y) == pytest.approx(K * torch_mean, rel=RTOL)


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.35])
def test_categorical_crossentropy_with_label_smoothing(rng, smoothing):
    z = rng.normal(0, 2, (N, K))
    labels = rng.integers(0, K, N)
    y = np.eye(K)[labels]
    p = get_activation("softmax")[0](z.copy())
    spec = {"name": "categorical_crossentropy", "label_smoothing": smoothing}
    logits = torch.tensor(z, requires_grad=True)
    per_sample = F.cross_entropy(logits, torch.tensor(labels), label_smoothing=smoothing, reduction="none")
    (per_sample.sum() / N).backward()
    np.testing.assert_allclose(get_loss(spec)[0](p, y), per_sample.detach().numpy(), rtol=RTOL)
    assert mean_loss(spec, p, y) == pytest.approx(float(per_sample.detach().sum()) / N, rel=RTOL)
    # the fused delta at the logits is torch's gradient of the mean loss
    np.testing.assert_allclose(output_delta("softmax", spec, p, y, 1.0 / N), logits.grad.numpy(), rtol=RTOL,
                               atol=ATOL)
    # d/dp: torch's cross-entropy of the logits log p is -sum_k y'_k (log p_k - log sum_j p_j), whose gradient
    # adds 1 / sum_j p_j = 1 to every entry of dnn's -y' / p
    leaf = torch.tensor(p, requires_grad=True)
    F.cross_entropy(torch.log(leaf), torch.tensor(labels), label_smoothing=smoothing, reduction="sum").backward()
    np.testing.assert_allclose(get_loss(spec)[1](p, y), leaf.grad.numpy() - 1.0 / p.sum(axis=1, keepdims=True),
                               rtol=RTOL, atol=1e-10)


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.35])
def test_binary_crossentropy_with_smoothed_targets(rng, smoothing):
    z = rng.normal(0, 2, (N, K))
    y = (rng.uniform(size=(N, K)) > 0.5).astype(np.float64)
    p = get_activation("sigmoid")[0](z.copy())
    spec = {"name": "binary_crossentropy", "label_smoothing": smoothing}
    smoothed = tensor(y * (1 - smoothing) + 0.5 * smoothing)  # Keras's smoothing of binary targets
    assert_matches(spec, p, y, lambda q, t: F.binary_cross_entropy(q, t, reduction="none"), smoothed)
    logits = torch.tensor(z, requires_grad=True)
    (F.binary_cross_entropy_with_logits(logits, smoothed, reduction="sum") / N).backward()
    np.testing.assert_allclose(output_delta("sigmoid", spec, p, y, 1.0 / N), logits.grad.numpy(), rtol=RTOL,
                               atol=ATOL)


def paper_binary_focal(p, t, gamma, alpha):
    """Lin et al.: -alpha_t (1 - p_t)^gamma log p_t for every output, with hard targets t."""
    p_t = torch.where(t == 1, p, 1 - p)
    alpha_t = 1.0 if alpha is None else torch.where(t == 1, alpha, 1 - alpha)
    return -alpha_t * (1 - p_t) ** gamma * torch.log(p_t)


def paper_categorical_focal(p, t, gamma, alpha):
    """The multiclass form: -alpha (1 - p_t)^gamma log p_t, p_t the probability of the true class, as (n, 1)."""
    p_t = (p * t).sum(dim=1, keepdim=True)
    return -(1.0 if alpha is None else alpha) * (1 - p_t) ** gamma * torch.log(p_t)


FOCAL_SETTINGS = [(2.0, None), (2.0, 0.25), (0.5, 0.75), (0.0, None), (3.5, 0.1)]


@pytest.mark.parametrize(("gamma", "alpha"), FOCAL_SETTINGS)
def test_binary_focal(rng, gamma, alpha):
    z = rng.normal(0, 2, (N, K))
    y = (rng.uniform(size=(N, K)) > 0.5).astype(np.float64)
    p = get_activation("sigmoid")[0](z.copy())
    spec = {"name": "focal", "gamma": gamma, "alpha": alpha}
    assert_matches(spec, p, y, paper_binary_focal, tensor(y), gamma, alpha)
    logits = torch.tensor(z, requires_grad=True)
    (paper_binary_focal(torch.sigmoid(logits), tensor(y), gamma, alpha).sum() / N).backward()
    np.testing.assert_allclose(output_delta("sigmoid", spec, p, y, 1.0 / N), logits.grad.numpy(), rtol=RTOL,
                               atol=ATOL)


@pytest.mark.parametrize(("gamma", "alpha"), FOCAL_SETTINGS)
def test_categorical_focal(rng, gamma, alpha):
    z = rng.normal(0, 2, (N, K))
    y = np.eye(K)[rng.integers(0, K, N)]
    p = get_activation("softmax")[0](z.copy())
    spec = {"name": "categorical_focal", "gamma": gamma, "alpha": alpha}
    assert_matches(spec, p, y, paper_categorical_focal, tensor(y), gamma, alpha)
    logits = torch.tensor(z, requires_grad=True)
    (paper_categorical_focal(torch.softmax(logits, dim=1), tensor(y), gamma, alpha).sum() / N).backward()
    np.testing.assert_allclose(output_delta("softmax", spec, p, y, 1.0 / N), logits.grad.numpy(), rtol=RTOL,
                               atol=ATOL)
