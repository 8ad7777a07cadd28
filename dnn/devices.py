"""Where a model's arrays live, and the array functions that work on them.

The math and the engine never call numpy on the arrays they are given: they take the array module from the arrays,
``xp = namespace(a)`` (numpy for numpy arrays, CuPy for CuPy's), and write ``xp.matmul(a, w, out=z)``. numpy and CuPy
share that API, ``out=`` included, so there is one code path for the host and the GPU. New arrays are made by
``xp.empty``/``xp.zeros`` with ``xp`` taken from an array of the model (its parameter store).

A :class:`Device` is a name, an array module and the two moves between it and host memory. "cpu" is numpy; "cuda"
is CuPy, imported the first time it is asked for. :func:`register` adds others: the tests add one whose arrays refuse
every numpy function, which proves that the engine takes its functions from the arrays.
"""

import numpy as np

#: The name of the host device, whose arrays are numpy's.
CPU_NAME = "cpu"

#: The name of the NVIDIA GPU device, whose arrays are CuPy's.
CUDA_NAME = "cuda"


class Device:
    """An array library dnn can run on.

    Parameters
    ----------
    name : str
        What ``DNN(device=...)`` calls it.
    xp : module or module-like
        The array functions (numpy's names and signatures, ``out=`` included).
    array_type : type
        The type of its arrays.
    to_device, to_host : callable
        Copy a numpy array onto the device, and a device array into a new numpy array.
    """

    def __init__(self, name, xp, array_type, to_device, to_host):
        self.name, self.xp, self.array_type = name, xp, array_type
        self._to_device, self._to_host = to_device, to_host

    @property
    def is_host(self):
        """Whether its arrays are numpy arrays in this process's memory."""
        return self.xp is np

    def asarray(self, array, dtype=None):
        """``array`` (numpy, or of any registered device) on this device, in ``dtype``; no copy where none is needed."""
        if self.is_host:
            return np.asarray(to_numpy(array), dtype=dtype)
        if not isinstance(array, self.array_type):
            array = self._to_device(np.asarray(to_numpy(array), dtype=dtype))
        return array if dtype is None or array.dtype == dtype else array.astype(dtype)

    def to_numpy(self, array):
        """A numpy array holding the values of ``array``, one of this device's arrays."""
        return array if self.is_host else self._to_host(array)

    def copy_in(self, out, host_array):
        """Write ``host_array`` (numpy, any numeric dtype) into ``out``, one of this device's arrays, converted to
        its dtype as numpy's unsafe casting does."""
        if self.is_host:
            np.copyto(out, host_array, casting="unsafe")
        else:
            out[...] = self.asarray(host_array, out.dtype)

    def fill_random(self, rng, out):
        """Fill ``out`` with uniform numbers in [0, 1) from ``rng``, a numpy Generator: the same numbers on every
        device (drawn on the host, and copied off it)."""
        if self.is_host:
            rng.random(out=out, dtype=out.dtype)
        else:
            out[...] = self.asarray(rng.random(out.shape, dtype=out.dtype))

    def __repr__(self):
        return f"<Device {self.name}>"


CPU = Device(CPU_NAME, np, np.ndarray, np.asarray, np.asarray)

_DEVICES = {CPU_NAME: CPU}


def register(device):
    """Make ``device`` (a :class:`Device`) available as ``DNN(device=device.name)``; returns it."""
    if not isinstance(device, Device):
        raise TypeError(f"register takes a dnn.devices.Device, got {type(device).__name__}")
    if device.name == CPU_NAME:
        raise ValueError(f"the device name {CPU_NAME!r} is numpy's and cannot be replaced")
    _DEVICES[device.name] = device
    return device


def get_device(name):
    """The :class:`Device` called ``name``: "cpu", "cuda" (CuPy, imported now) or one :func:`register` added.

    Raises
    ------
    ValueError
        For a name no device has.
    ImportError
        For "cuda" without CuPy installed.
    RuntimeError
        For "cuda" where CuPy finds no usable CUDA GPU.
    """
    if isinstance(name, Device):
        return name
    if name == CUDA_NAME and CUDA_NAME not in _DEVICES:
        _DEVICES[CUDA_NAME] = _cuda_device()
    if not isinstance(name, str) or name not in _DEVICES:
        known = sorted(set(_DEVICES) | {CUDA_NAME})
        raise ValueError(f"device must be one of {known}, got {name!r}")
    return _DEVICES[name]


def device_of(array):
    """The :class:`Device` whose array ``array`` is (a Python or numpy number is the host's)."""
    if isinstance(array, (np.ndarray, np.generic, int, float)):
        return CPU
    for device in _DEVICES.values():
        if isinstance(array, device.array_type):
            return device
    if type(array).__module__.partition(".")[0] == "cupy":
        return get_device(CUDA_NAME)
    raise TypeError(f"expected a numpy or CuPy array, got {type(array).__name__}")


def namespace(array):
    """The array module for ``array``: numpy for numpy arrays, CuPy for CuPy's (see the module docstring)."""
    return np if isinstance(array, np.ndarray) else device_of(array).xp


def to_numpy(array):
    """``array`` as a numpy array: itself when it is one (or anything numpy converts), else copied from its device."""
    if isinstance(array, np.ndarray):
        return array
    try:
        device = device_of(array)
    except TypeError:
        return np.asarray(array)
    return device.to_numpy(array)


def is_array(value):
    """Whether ``value`` is an array of numpy or of a registered device (not a number, a name or None)."""
    if isinstance(value, (int, float, np.generic)):
        return False
    try:
        device_of(value)
    except TypeError:
        return False
    return True


def on_host(array):
    """Whether ``array`` lives in host memory (numpy, or anything that is not a registered device's array)."""
    try:
        return device_of(array).is_host
    except TypeError:
        return True


def take_rows(source, index, out):
    """Copy the rows ``index`` of ``source`` into ``out``, both on one device.

    On the host ``source`` may be any rows with numpy's ``take`` (sparse rows have one), and ``mode="clip"`` skips
    a bounds check that, with ``out=``, also forces a buffered copy; every index the engine passes is in range.
    """
    if isinstance(out, np.ndarray):
        return source.take(index, axis=0, out=out, mode="clip")
    return namespace(out).take(source, index, axis=0, out=out)


def _cuda_device():
    try:
        import cupy
    except ImportError as error:
        raise ImportError("device='cuda' needs CuPy, which is not installed: pip install cupy-cuda12x (or the "
                          "cupy package matching your CUDA version; see docs/guide/gpu.md)") from error
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as error:  # CuPy raises its own CUDARuntimeError, or an ImportError from a missing CUDA library
        raise RuntimeError(f"device='cuda' needs a CUDA GPU and its driver; CuPy found none: {error}") from error
    if count < 1:
        raise RuntimeError("device='cuda' needs a CUDA GPU; CuPy found none")
    return Device(CUDA_NAME, cupy, cupy.ndarray, cupy.asarray, cupy.asnumpy)
