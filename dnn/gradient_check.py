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
