"""Unpickling that can only build plain data and numeric numpy arrays.

``pickle.load`` calls whatever global a file names, which makes a model file
as dangerous as a script. :func:`loads` first dry-runs the opcodes
(:mod:`dnn.files.pickle_scan`), refusing a file that would cost more memory or time
than its size allows, then resolves globals through a fixed
allow-list instead: the few names numpy's own pickles use for arrays and
dtypes (numpy 1.x and 2.x names, protocols 0 to 5). Any other global is
refused before anything is looked up, so no module is imported and no code
from the file runs.

The allowed names do not give the file real numpy objects to play with: they
build :class:`ArrayHolder` and dtype descriptions whose ``__setstate__``
checks every argument, and the array is made from the checked bytes in one
step. (A real ``np.dtype`` handed to a pickle could be re-typed to an object
dtype *after* an array was built on it, making numpy read the array's bytes
as pointers.) Callers take arrays out with :func:`array_of`. All the arrays of one file
together may hold at most about twice the file's size, so one bytes object
reused by many arrays is refused.

Messages say what was wrong without quoting the file's values, whose repr
could be huge.
"""

import contextvars
import io
import pickle

import numpy as np

from dnn.files.pickle_scan import TrailingDataError, UnsafePickleError, scan

__all__ = ["NUMERIC_KINDS", "TrailingDataError", "UnsafePickleError", "array_of", "loads"]

#: dtype kinds the loader builds: booleans, integers and floats.
NUMERIC_KINDS = frozenset("biuf")
_BYTE_ORDERS = ("<", ">", "|", "=")

# Bytes that the current load may still turn into arrays and byte strings.
_budget = contextvars.ContextVar("dnn_pickle_budget")


class _Sealed:
    """Base of every object the allow-list hands out: a file cannot modify them."""

    __slots__ = ()

    def __setattr__(self, name, value):
        raise UnsafePickleError("refused to modify a loader object")

    def __setstate__(self, state):
        raise UnsafePickleError("refused to modify a loader object")

    def __reduce__(self):
        raise TypeError(f"{type(self).__name__} is not picklable")


class _Call(_Sealed):
    """A checked callable standing for one allowed global."""

    __slots__ = ("_function",)

    def __init__(self, function):
        object.__setattr__(self, "_function", function)

    def __call__(self, *args):
        return self._function(*args)


class _Marker(_Sealed):
    """Stands for numpy.ndarray, which pickles only pass to _reconstruct."""

    __slots__ = ()


class DtypeSpec:
    """A numeric dtype described by a pickle; ``dtype`` is set once its state is checked."""

    __slots__ = ("_base", "dtype")

    def __init__(self, base):
        self._base = base
        self.dtype = base

    def __setstate__(self, state):
        if (not isinstance(state, tuple) or len(state) != 8 or state[0] != 3 or state[1] not in _BYTE_ORDERS
                or state[2:] != (None, None, None, -1, -1, 0) or self.dtype is not self._base):
            raise UnsafePickleError("refused an unusual dtype state")
        order = state[1]
        self.dtype = self._base.newbyteorder(order) if order in "<>" else self._base

    def __reduce__(self):
        raise TypeError("DtypeSpec is not picklable")


class ArrayHolder:
    """Where a pickle builds one numeric array; ``array`` is None until it is built."""

    __slots__ = ("array",)

    def __init__(self, array=None):
        self.array = array

    def __setstate__(self, state):
        # numpy's array state: (version, shape, dtype, is_fortran, raw bytes)
        if self.array is not None or not isinstance(state, tuple) or len(state) != 5 or state[0] != 1:
            raise UnsafePickleError("refused an unusual array state")
        _, shape, spec, fortran, data = state
        if not isinstance(fortran, bool):
            raise UnsafePickleError("refused an unusual array state")
        self.array = _array_from_bytes(data, spec, shape, "F" if fortran else "C")

    def __reduce__(self):
        raise TypeError("ArrayHolder is not picklable")


def _array_from_bytes(data, spec, shape, order):
    if not isinstance(spec, DtypeSpec) or not isinstance(data, (bytes, bytearray)):
        raise UnsafePickleError("refused array data")
    if not isinstance(shape, tuple) or len(shape) > 64 or not all(type(s) is int and s >= 0 for s in shape):
        raise UnsafePickleError("refused an array shape that is not a tuple of at most 64 sizes")
    if len(data) != _byte_count(shape, spec.dtype.itemsize, len(data)):
        raise UnsafePickleError(f"array data of {len(data)} bytes does not fit its {len(shape)}-dimensional "
                                f"shape of {spec.dtype}")
    _charge(len(data))
    return np.frombuffer(data, dtype=spec.dtype).reshape(shape, order=order).copy(order="C")


def _byte_count(shape, itemsize, limit):
    """``prod(shape) * itemsize``, or ``limit + 1`` as soon as it exceeds ``limit`` (no huge products)."""
    if 0 in shape:
        return 0
    count = itemsize
    for size in shape:
        count *= size
        if count > limit:
            return limit + 1
    return count


def _charge(nbytes):
    remaining = _budget.get(None)
    if remaining is None:
        return   # not inside loads
    if nbytes > remaining[0]:
        raise UnsafePickleError("refused: its arrays would hold more bytes than the file's size allows "
                                "(one byte string reused by several arrays)")
    remaining[0] -= nbytes


def _dtype(spec, align=False, copy=False):
    if not isinstance(spec, str) or type(align) is not bool or type(copy) is not bool:
        raise UnsafePickleError("refused dtype arguments")
    try:
        dtype = np.dtype(spec)
    except TypeError:
        raise UnsafePickleError(f"refused dtype {spec[:40]!r}") from None
    if dtype.kind not in NUMERIC_KINDS or dtype.fields is not None or dtype.subdtype is not None:
        raise UnsafePickleError(f"refused non-numeric dtype {spec[:40]!r}")
    return DtypeSpec(dtype)


def _reconstruct(subtype, shape, code):
    if subtype is not _NDARRAY or shape != (0,) or code not in (b"b", "b"):
        raise UnsafePickleError("refused an unusual call to numpy's _reconstruct")
    return ArrayHolder()


def _frombuffer(data, spec, shape, order):
    if order not in ("C", "F"):
        raise UnsafePickleError("refused an array order other than 'C' or 'F'")
    return ArrayHolder(_array_from_bytes(data, spec, shape, order))


def _latin1_bytes(text, encoding):
    # Protocols 0 to 2 spell bytes as _codecs.encode(text, "latin1").
    if not isinstance(text, str) or encoding != "latin1":
        raise UnsafePickleError("refused a call to _codecs.encode")
    _charge(len(text))
    return text.encode("latin-1")


_NDARRAY = _Marker()

ALLOWED_GLOBALS = {
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): _Call(_dtype),
    ("numpy.core.multiarray", "_reconstruct"): _Call(_reconstruct),
    ("numpy._core.multiarray", "_reconstruct"): _Call(_reconstruct),
    ("numpy.core.numeric", "_frombuffer"): _Call(_frombuffer),
    ("numpy._core.numeric", "_frombuffer"): _Call(_frombuffer),
    ("_codecs", "encode"): _Call(_latin1_bytes),
}


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except (KeyError, TypeError):
            raise UnsafePickleError(f"refused to load global '{_short(module)}.{_short(name)}'") from None

    def persistent_load(self, pid):
        raise UnsafePickleError("refused a persistent id")


def _short(text):
    return text[:60] + "..." if isinstance(text, str) and len(text) > 60 else text


def loads(data):
    """Unpickle ``data`` (bytes) with the allow-list, after checking what it would cost.

    Arrays come back as :class:`ArrayHolder`; use :func:`array_of`. Raises
    UnsafePickleError, TrailingDataError when bytes follow the end of the
    pickle (every byte of ``data`` must belong to it), or whatever a malformed
    pickle raises (UnpicklingError, EOFError, ValueError, TypeError, ...).
    """
    data = bytes(data)
    end = scan(data)
    if end < len(data):
        raise TrailingDataError(len(data) - end)
    # Array bytes appear once in the file (protocol 2 spells them as text, then encodes: twice).
    token = _budget.set([2 * len(data)])
    try:
        return _RestrictedUnpickler(io.BytesIO(data)).load()
    finally:
        _budget.reset(token)


def array_of(value):
    """The array inside an :class:`ArrayHolder`, or None if ``value`` is not a built array."""
    if type(value) is ArrayHolder and value.array is not None:
        return value.array
    return None
