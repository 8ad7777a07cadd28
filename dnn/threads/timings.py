"""Small helpers of the thread policy: a median, and the words its verbose messages use."""


def median(values):
    """The median of a non-empty sequence of numbers."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def milliseconds(seconds):
    """``seconds`` as text in milliseconds, 3 significant digits."""
    return f"{seconds * 1e3:.3g} ms"


def thread_count(n):
    """"1 BLAS thread", "2 BLAS threads"."""
    return f"{n} BLAS thread{'s' if n != 1 else ''}"
