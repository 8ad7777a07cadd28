"""The other-frameworks part of the DNN class: toTorch, fromTorch and exportONNX.

A mixin of :class:`dnn.DNN`, kept in its own file so each file stays small;
what it uses of the network is declared by :class:`dnn.model.contract.Network`.
The adapters themselves live at the edge (:mod:`dnn.adapters.torch_export`,
:mod:`dnn.adapters.onnx_export`): torch and onnx are imported only when these methods
are called, so importing dnn never needs them.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from dnn.model.contract import Part

if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    import torch

    from dnn.model.network import DNN


class Interop(Part):
    """toTorch, fromTorch and exportONNX of :class:`dnn.DNN`."""

    def toTorch(self) -> torch.nn.Sequential:
        """The network as a ``torch.nn.Sequential`` (needs PyTorch); see :mod:`dnn.adapters.torch_export`."""
        self._require_network("toTorch")
        self._checked_parameters()
        from dnn.adapters.torch_export import to_torch

        return to_torch(self._host_twin())

    @classmethod
    def fromTorch(cls, sequential: torch.nn.Sequential, **options: Any) -> DNN:
        """A model with the layers and weights of a ``torch.nn.Sequential``; see :mod:`dnn.adapters.torch_export`."""
        from dnn.adapters.torch_export import from_torch

        return from_torch(cls, sequential, **options)

    def exportONNX(self, path: str | os.PathLike[str]) -> None:
        """Write the network to ``path`` as an ONNX model (needs onnx); see :mod:`dnn.adapters.onnx_export`."""
        self._require_network("exportONNX")
        self._checked_parameters()
        from dnn.adapters.onnx_export import export_onnx

        export_onnx(self._host_twin(), path)
