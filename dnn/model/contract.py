"""What the parts of the DNN class use of the network they are part of: a declared contract.

:class:`dnn.DNN` is assembled from six mixins, each in its own module: :class:`~dnn.model.building.Building`,
:class:`~dnn.model.querying.Querying`, :class:`~dnn.model.textbook.Textbook`, :class:`~dnn.model.interop.Interop`,
:class:`~dnn.model.lr_find.LrFinder` and :class:`~dnn.model.placement.Placement`. Each keeps the tutorial's public
methods of one concern, with their docstrings, where they are implemented; what they read and call of the network
besides their own methods is exactly :class:`Network`, and nothing else. A type checker holds them to it: each part
derives from :class:`Network` when type checking (and from ``object`` at run time, so the class and its speed are
unchanged), and :class:`dnn.DNN`, deriving from all six, must provide every member.

Mixins rather than collaborator objects (``self.query = Querying(self)``): the public methods would otherwise be
written twice, once as one-line forwarders on DNN with their docstrings and once where the work is done, and the
parts would still need this same list of what they use of the network.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    import numpy as np
    from numpy.typing import ArrayLike, DTypeLike

    from dnn.data.tasks import Task
    from dnn.engine.state import TrainingState
    from dnn.model.layer_arrays import LayerArrays
    from dnn.model.layers import Layer
    from dnn.optimizers import Optimizer
    from dnn.schedules import Schedule
    from dnn.threads import ThreadPolicy


@runtime_checkable
class Network(Protocol):
    """The members of :class:`dnn.DNN` that its parts use."""

    def __init__(self, **settings: Any) -> None: ...  # fromConfig builds a model with the settings of a config

    # The architecture: the layers (Building adds them) and what is read off them.
    _layers: list[Layer]
    loss: str | None = None  # with a value, so that a part assigning a str does not narrow it for type checkers

    @property
    def units(self) -> list[int]: ...

    @property
    def activations(self) -> list[str | None]: ...

    @property
    def dropout(self) -> list[float]: ...

    @property
    def w(self) -> LayerArrays: ...

    # The settings, as getConfig records them.
    lr: float | Schedule
    decay: float
    l2: float
    l1: float
    clipNorm: float | None  # noqa: N815 (the constructor's name)
    clipValue: float | None  # noqa: N815 (the constructor's name)
    seed: int | None
    dtype: np.dtype
    standardize: bool
    threads: int | None
    optimizer: Optimizer

    # Where it computes (dnn.model.placement): "cpu" or "cuda".
    @property
    def device(self) -> str: ...

    # What the first fit learns, and the training state (the parameter store is state.params).
    task: Task | None
    classes: np.ndarray | None
    feature_names: list[str] | None
    feature_mean: np.ndarray | None
    feature_scale: np.ndarray | None
    state: TrainingState
    history: dict
    parameterRecord: dict  # noqa: N815 (the tutorial's name)
    _cache: list[np.ndarray] | None  # the last forwardPropagation's layer outputs

    # The helpers of the network that the parts call.
    def _require_network(self, method: str) -> None: ...

    def _checked_parameters(self) -> tuple[list[np.ndarray], list[np.ndarray]]: ...

    def _encode_targets(self, y: ArrayLike, dtype: DTypeLike | None = None) -> tuple: ...

    def _task_and_classes(self) -> tuple[Task, np.ndarray | None]: ...

    def thread_policy(self, work: str = "fit") -> ThreadPolicy: ...

    def _host_twin(self) -> Network: ...



if TYPE_CHECKING:  # pragma: no cover - the parts are checked against the contract ...
    Part = Network
else:  # ... and are plain classes at run time, so the DNN class and its speed are as without it
    Part = object
