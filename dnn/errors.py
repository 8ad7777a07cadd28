"""The exception types dnn raises beyond ValueError."""


class ModelFileError(ValueError):
    """A model file is missing, unreadable, corrupt, unsafe or of an unknown format."""


class TrainingStalledWarning(UserWarning):
    """Training goes on but the network has stopped learning (dead ReLUs, a loss at the no-information level)."""


class TrainingDivergedError(ArithmeticError):
    """Training produced a non-finite loss or weight; the model holds its last finite weights."""


class NonFiniteOutputError(ArithmeticError):
    """The network's outputs overflowed to infinity or NaN for finite inputs: its weights are too large."""
