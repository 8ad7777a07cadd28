"""Where the DNN class computes: its device (numpy on the CPU, CuPy on an NVIDIA GPU) and its BLAS threads.

A mixin of :class:`dnn.DNN`, kept in its own file so each file stays small; what it uses of the network is
declared by :class:`dnn.model.contract.Network`.

The device is where the parameter store and the optimizer's state live (see :mod:`dnn.devices`): a fit moves its
training rows there once and keeps them there across batches; predictions move each chunk there and bring their
outputs back to numpy. The thread policy only concerns numpy's BLAS: on a GPU it stays out of the way.
"""

from __future__ import annotations

import copy

from dnn import devices
from dnn.model.contract import Part
from dnn.threads import ThreadPolicy, check_threads


class Placement(Part):
    """The ``device``, ``threads`` and ``thread_policy`` of :class:`dnn.DNN`."""

    @property
    def device(self) -> str:
        """Where the model's arrays live and its computations run: "cpu" (numpy) or "cuda" (CuPy).

        Assigning moves the parameters and the optimizer's state there (``model.device = "cpu"`` brings a model
        trained on a GPU back to numpy). "cuda" without CuPy, or without a CUDA GPU, raises an error naming what is
        missing, and the model stays where it was.
        """
        return self._device

    @device.setter
    def device(self, name: str) -> None:
        device = devices.get_device(name)  # raises before anything moves
        params = self.state.params
        if params is not None:
            params.move_to(device)
        optimizer = self.state.optimizer
        optimizer.state = {key: device.asarray(value) if devices.is_array(value) else value
                           for key, value in optimizer.state.items()}
        self._device = device.name

    def _host_twin(self):
        """This model when it computes with numpy, else a copy of it on the CPU (what exports read)."""
        if self.device == devices.CPU_NAME:
            return self
        twin = copy.deepcopy(self)
        twin.device = devices.CPU_NAME
        return twin

    @property
    def threads(self) -> int | None:
        """BLAS threads for this model's training and predictions: an int, or None to choose by measuring."""
        return self._threads

    @threads.setter
    def threads(self, threads):
        self._threads = check_threads(threads)
        self._thread_policies = {}

    def thread_policy(self, work: str = "fit") -> ThreadPolicy:
        """The model's :class:`dnn.threads.ThreadPolicy` for ``work``: "fit" (timing training batches) or "predict"
        (timing the chunks of predict, predictProba and modelEvaluate). Each remembers what it measured from one
        call to the next."""
        if work not in ("fit", "predict"):
            raise ValueError(f'work must be "fit" or "predict", got {work!r}')
        if work not in self._thread_policies:
            self._thread_policies[work] = ThreadPolicy(self._threads)
        return self._thread_policies[work]
