"""The command line: ``python -m dnn`` or ``dnn`` (train, evaluate, predict, summary, plot).

An adapter at the edge: the core never imports it. Every error a user can
cause (a missing file or column, a cell that is not a number, a file that is
not a model, bad settings) prints one line ``dnn: error: ...`` to stderr and
exits with status 1; argparse's own usage errors exit with status 2.

``dnn train``'s defaults are chosen to learn a small table well without
tuning: features standardized inside the model, a real-valued target
standardized for training and folded back into the output layer, Adam with
lr 0.01 and a little L2, and up to 1000 epochs stopped early on a 20 %
validation split, keeping the best epoch. Every choice is printed, and each
has an option that changes or turns it off.

The package: :mod:`.parser` (the options), :mod:`.reading` (CSV files, models,
the one-line errors), :mod:`.train` (``dnn train``: its defaults, choices and
outcome), :mod:`.settings` (schedules by name and weight decay, shared with
the scikit-learn estimators) and :mod:`.using` (evaluate, predict, summary,
plot).
"""

from __future__ import annotations

import sys

from dnn.adapters.cli.parser import build_parser
from dnn.adapters.cli.reading import CommandError
from dnn.adapters.cli.train import train
from dnn.adapters.cli.using import evaluate, plot, predict, summary

__all__ = ["COMMANDS", "CommandError", "build_parser", "main"]

COMMANDS = {"train": train, "evaluate": evaluate, "predict": predict, "summary": summary, "plot": plot}


def main(argv: list[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: sys.argv[1:]); returns the exit status."""
    from dnn.errors import NonFiniteOutputError, TrainingDivergedError

    args = build_parser().parse_args(argv)
    try:
        COMMANDS[args.command](args)
    # pandas' parser errors and ModelFileError are ValueErrors; a fit diverges from settings such as --lr, and
    # outputs overflow from a model file's weights
    except (CommandError, ValueError, OSError, TrainingDivergedError, NonFiniteOutputError) as error:
        print(f"dnn: error: {error}", file=sys.stderr)
        return 1
    return 0
