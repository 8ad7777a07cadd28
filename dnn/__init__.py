"""dnn: a configurable fully-connected neural network in numpy.

>>> from dnn import DNN
>>> model = DNN(lr=0.1, seed=0)
>>> model.addInputLayer([64])
>>> model.addHiddenLayer([32], activation="relu")
>>> model.addOutputLayer([10], activation="softmax")
"""

from dnn.errors import ModelFileError, NonFiniteOutputError, TrainingDivergedError, TrainingStalledWarning
from dnn.model.network import DNN
from dnn.version import __version__

__all__ = [
    "DNN", "ModelFileError", "NonFiniteOutputError", "TrainingDivergedError", "TrainingStalledWarning", "__version__",
]
