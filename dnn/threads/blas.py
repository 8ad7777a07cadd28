"""Reading and setting the BLAS thread count through threadpoolctl, and the static choice for predict."""

from contextlib import contextmanager

import numpy as np  # noqa: F401  (loads the BLAS that threadpoolctl must find)
from threadpoolctl import ThreadpoolController

from ..checks import is_int
from .cpus import available_cpus, runnable_others

# Below this many multiply-adds in the largest product of a chunk, threads only add their start-up cost.
SMALL_PRODUCT = 1 << 22
# Rows per predict chunk (dnn's predict works in chunks of this size).
PREDICT_CHUNK = 2048


_controller = None


def check_threads(value, name="threads"):
    """Return ``value`` if it is None (automatic) or a positive integer; raise ValueError naming it otherwise."""
    if value is None:
        return None
    if not is_int(value) or value < 1:
        raise ValueError(f"{name} must be None (automatic) or a positive integer, got {value!r}")
    return int(value)


def _blas():
    """threadpoolctl's controllers of the loaded BLAS libraries, found once: finding them is slow, a change is not."""
    global _controller
    if _controller is None:
        _controller = ThreadpoolController().select(user_api="blas")
    return _controller.lib_controllers


def get_blas_threads():
    """The thread count of each loaded BLAS library, as a list (what `set_blas_threads` restores)."""
    return [lib.get_num_threads() for lib in _blas()]


def set_blas_threads(threads):
    """Set every BLAS library to ``threads`` (an int), or each to its own count (a list from `get_blas_threads`).

    This is what ``threadpoolctl.threadpool_limits(limits=n, user_api="blas")`` does, without building a new
    controller every call, so that a change is cheap enough for a fit to switch between batches.
    """
    libraries = _blas()
    counts = threads if isinstance(threads, list) else [threads] * len(libraries)
    for lib, count in zip(libraries, counts):
        if count is not None:
            lib.set_num_threads(count)


@contextmanager
def blas_threads(n):
    """Limit BLAS to ``n`` threads inside the block (None: leave it alone); restore the previous counts on exit.

    The previous counts come back exactly, also when the block raises.
    """
    n = check_threads(n)
    if n is None:
        yield
        return
    previous = get_blas_threads()
    set_blas_threads(n)
    try:
        yield
    finally:
        set_blas_threads(previous)


def predict_threads(threads, rows, widths, cpus=None, load=runnable_others):
    """The BLAS thread count for a forward pass over ``rows`` rows of a network with layer ``widths``.

    Parameters
    ----------
    threads : int or None
        A pinned count (returned as given, even above the CPUs available) or None for the automatic choice.
    rows : int
        Rows predicted; dnn predicts in chunks of at most `PREDICT_CHUNK` rows.
    widths : sequence of int
        Units of every layer, input first, e.g. (784, 256, 128, 10).
    cpus : int, optional
        The CPUs available; default `available_cpus()`.
    load : callable
        Returns how many other threads are ready to run (or None); default `runnable_others`.

    Returns
    -------
    int
        1 when the largest product of a chunk has fewer than `SMALL_PRODUCT` multiply-adds (threads would only add
        their start-up cost), else the available CPUs less those other threads need (at least 1). A guess from a
        look at the machine, for a predict of one chunk: over several, dnn times the chunks (`ThreadPolicy.each`).
    """
    threads = check_threads(threads)
    if threads is not None:
        return threads
    if not large_products(rows, widths):
        return 1
    cpus = available_cpus() if cpus is None else max(1, int(cpus))
    # other processes' runnable threads (this process's own spinning workers left out): the fewest of three looks,
    # since a single look on a quiet machine catches a passing kernel thread now and then (see ThreadPolicy)
    others = min(load() or 0 for _ in range(3))
    return max(1, min(cpus, cpus - others))


def large_products(rows, widths):
    """Whether the largest product of a predict chunk over ``rows`` rows has `SMALL_PRODUCT` multiply-adds or more."""
    m = min(int(rows), PREDICT_CHUNK)
    return max((m * a * b for a, b in zip(widths[:-1], widths[1:])), default=0) >= SMALL_PRODUCT


def candidate_counts(most):
    """The counts a policy tries: 1, the powers of two below ``most``, and ``most``."""
    counts, n = [1], 2
    while n < most:
        counts.append(n)
        n *= 2
    if most > 1:
        counts.append(most)
    return counts


