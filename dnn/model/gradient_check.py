"""Central-difference gradients, to check the analytic ones against."""

import numpy as np

#: Step of the central differences. The fourth-order formula's truncation
#: error grows like h^4 and its rounding error like eps / h: in float64 both
#: stay near 1e-12 here, where the two-point formula stalls near 1e-10.
STEP = 1e-4

#: Relative errors are taken against at least this magnitude. Rounding makes
#: the difference quotient wrong by up to ~1e-11 (eps * loss / h), which
#: would look like a large relative error on a gradient that is almost zero.
ZERO_GRADIENT = 1e-5


def numerical_gradient(objective, array, indices, step=None):
    """d objective / d array[i] for every flat index i in ``indices``.

    Fourth-order central differences:
    f'(x) = [f(x - 2h) - 8 f(x - h) + 8 f(x + h) - f(x + 2h)] / (12 h).

    ``objective()`` must read ``array`` when called; the entries are perturbed
    in place one at a time and restored exactly afterwards.
    """
    step = STEP if step is None else step
    flat = array.reshape(-1)
    gradient = np.empty(len(indices))
    for k, i in enumerate(indices):
        original = flat[i]
        values = []
        for offset in (-2, -1, 1, 2):
            flat[i] = original + offset * step
            values.append(objective())
        flat[i] = original
        gradient[k] = (values[0] - 8 * values[1] + 8 * values[2] - values[3]) / (12 * step)
    return gradient


def relative_error(analytic, numerical, floor=None):
    """max_i |a_i - n_i| / max(|a_i|, |n_i|, floor)."""
    analytic = np.asarray(analytic, dtype=np.float64)
    numerical = np.asarray(numerical, dtype=np.float64)
    floor = ZERO_GRADIENT if floor is None else floor
    scale = np.maximum(np.maximum(np.abs(analytic), np.abs(numerical)), floor)
    return float(np.max(np.abs(analytic - numerical) / scale)) if analytic.size else 0.0


def compare_gradients(objective, checked, entries=None, seed=0):
    """Largest relative error of the analytic gradients of every parameter array.

    Parameters
    ----------
    objective : callable
        The loss as a function of the current contents of the arrays (perturbed in place, one entry at a time).
    checked : list of (key, array, gradient)
        Every float64 array to check, under its key ("w2", "b2", "gamma2"...), with its analytic gradient.
    entries : int, optional
        Check this many randomly chosen entries of every array instead of all.
    seed : int
        Seeds the choice of entries.

    Returns
    -------
    dict
        ``{"w2": error, "b2": error, ...}``.
    """
    rng = np.random.default_rng(seed)
    errors = {}
    for key, array, gradient in checked:
        indices = np.arange(array.size)
        if entries is not None and entries < array.size:
            indices = rng.choice(array.size, size=entries, replace=False)
        numeric = numerical_gradient(objective, array, indices)
        errors[key] = relative_error(gradient.reshape(-1)[indices], numeric)
    return errors
