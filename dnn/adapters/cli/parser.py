"""The argparse parser of ``dnn``: every subcommand, its options and their defaults."""

from __future__ import annotations

import argparse

from dnn.adapters.cli.train import MAX_INFERRED_CLASSES
from dnn.adapters.settings import schedule_names

EXAMPLES = """\
examples:
  dnn train data.csv --target label                      (the defaults: standardized, early stopping)
  dnn train data.csv --target label --hidden 64,32 --epochs 30 --no-early-stopping --validation-split 0
  dnn train houses.csv --target price --regression --hidden 32 --lr 0.001 --optimizer sgd --momentum 0.9
  dnn train data.csv --target label --optimizer adamw --weight-decay 0.01 --clip-norm 1 --schedule one_cycle
  dnn train data.csv --target label --record w,2,1,1 --record b,2,1 --out model.pkl
  dnn evaluate model.pkl test.csv --target label
  dnn predict model.pkl new.csv --out predictions.csv          (read in chunks of --chunksize rows)
  dnn summary model.pkl
  dnn plot model.pkl history --out history.png
  dnn plot model.pkl convergence --out convergence.png        (a model trained with --record)
  dnn plot model.pkl confusion --data test.csv --target label --out confusion.png
"""


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Every option's default after its help, and the examples kept as written."""

    def _get_help_string(self, action):
        if action.required:  # a required option has no default to show: "(default: None)" would mislead
            return action.help
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of every subcommand.

    The optimizer names are read from :data:`dnn.optimizers.OPTIMIZERS` and
    the schedule names from :data:`dnn.schedules.REGISTRY` (see
    :func:`dnn.adapters.settings.schedule_names`) when the parser is
    built, so a new one shows up in ``--help`` and is accepted without a
    change here.
    """
    from dnn.optimizers import OPTIMIZERS

    optimizers = list(OPTIMIZERS)
    description = (f"Train, evaluate and use dnn models on CSV files.\n\noptimizers (dnn train --optimizer): "
                   f"{', '.join(optimizers)}\n'dnn COMMAND --help' lists the options of a command with their "
                   f"defaults.")
    parser = argparse.ArgumentParser(prog="dnn", description=description, epilog=EXAMPLES,
                                     formatter_class=HelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_train(commands, optimizers)

    evaluate = commands.add_parser("evaluate", help="print the metrics of a model on a CSV file",
                                   formatter_class=HelpFormatter)
    evaluate.add_argument("model", help="model file written by dnn train")
    evaluate.add_argument("csv", help="CSV file with the model's feature columns and the target column")
    evaluate.add_argument("--target", required=True, help="name of the target column")

    predict = commands.add_parser("predict", help="write the predictions of a model for a CSV file",
                                  formatter_class=HelpFormatter)
    predict.add_argument("model", help="model file written by dnn train")
    predict.add_argument("csv", help="CSV file with the model's feature columns (other columns are ignored)")
    predict.add_argument("--out", required=True, help="CSV file to write: a 'prediction' column and, for "
                                                      "classifiers, one 'probability_<class>' column per class")
    predict.add_argument("--chunksize", type=int, default=100_000, help="rows read at a time")

    summary = commands.add_parser("summary", help="print the layers of a model", formatter_class=HelpFormatter)
    summary.add_argument("model", help="model file")

    plot = commands.add_parser("plot", help="draw a figure of a model to a PNG file", formatter_class=HelpFormatter)
    plot.add_argument("model", help="model file")
    plot.add_argument("kind", choices=["history", "convergence", "confusion"],
                      help="loss and accuracy per epoch; the parameters recorded with dnn train --record; "
                           "the confusion matrix on --data")
    plot.add_argument("--out", required=True, help="PNG file to write")
    plot.add_argument("--data", help="CSV file (for confusion)")
    plot.add_argument("--target", help="target column of --data (for confusion)")
    return parser


def _add_train(commands, optimizers):
    train = commands.add_parser("train", help="train a model on a CSV file", epilog=EXAMPLES,
                                formatter_class=HelpFormatter)
    train.add_argument("csv", help="CSV file with a header row; every column but the target is a feature")
    train.add_argument("--target", required=True, help="name of the column to predict")
    task = train.add_mutually_exclusive_group()
    task.add_argument("--regression", action="store_true",
                      help="predict real values (identity output). Without --regression or --classification: "
                           f"a regression when the target holds numbers that are not all integers or more than "
                           f"{MAX_INFERRED_CLASSES} distinct numbers, else classes")
    task.add_argument("--classification", action="store_true", help="predict classes, whatever the target holds")
    _add_network(train)
    _add_training(train, optimizers)
    train.add_argument("--standardize", action=argparse.BooleanOptionalAction, default=True,
                       help="scale every feature by its mean and standard deviation, inside the model")
    train.add_argument("--scale-target", action=argparse.BooleanOptionalAction, default=True,
                       help="for a regression, train on the standardized target and fold its mean and standard "
                            "deviation into the output layer (the model predicts in the target's units; the "
                            "losses in the history, and values --record'ed in the output layer, are in "
                            "standardized units)")
    _add_stopping(train)
    train.add_argument("--record", action="append", default=[], metavar="SPEC",
                       help="record a parameter while training, for 'dnn plot MODEL convergence': w,L,J,I is the "
                            "weight from neuron I of layer L-1 to neuron J of layer L, b,L,J the bias of neuron J "
                            "of layer L; all 1-based, the input layer is layer 1. Repeat for more")
    train.add_argument("--record-every", choices=["epoch", "batch"], default="epoch",
                       help="record after every epoch or every mini-batch")
    train.add_argument("--seed", type=int, default=None, help="seed of the model's random generator "
                                                              "(None: a different run every time)")
    train.add_argument("--dtype", default="float32", choices=["float32", "float64"], help="precision")
    train.add_argument("--device", default="cpu", choices=["cpu", "cuda"],
                       help="where to train: numpy on the CPU, or an NVIDIA GPU through CuPy (the file holds numpy "
                            "arrays either way)")
    train.add_argument("--out", default="model.pkl", help="model file to write")
    train.add_argument("--quiet", action="store_true", help="no progress bar")


def _add_network(train):
    """The options of the hidden layers."""
    train.add_argument("--hidden", default="32", help="hidden layer sizes, comma-separated ('' for none)")
    train.add_argument("--activation", default="relu", help="hidden activation, one name or one per layer, "
                                                            "comma-separated")
    train.add_argument("--normalization", default=None, metavar="KIND",
                       help="normalize the weighted sums of the hidden layers before their activation: batch or "
                            "layer, one for all or one per layer, comma-separated ('none' for a layer without; "
                            "None: no normalization)")
    train.add_argument("--max-norm", default=None, metavar="NORM",
                       help="after every update, scale each hidden unit's incoming weight vector back to this "
                            "norm when longer: one number for all hidden layers or one per layer, comma-separated "
                            "('none' for a layer without; None: no constraint)")


def _add_training(train, optimizers):
    """The options of the update: optimizer, rate, schedule, penalties and clipping."""
    from dnn.optimizers import OPTIMIZERS

    train.add_argument("--epochs", type=int, default=1000, help="most epochs to train (early stopping usually "
                                                                "ends sooner)")
    train.add_argument("--batch-size", type=int, default=32, help="rows per mini-batch")
    train.add_argument("--optimizer", default="adam", choices=optimizers, help="update rule")
    train.add_argument("--lr", type=float, default=0.01, help="learning rate (the peak of --schedule one_cycle)")
    train.add_argument("--momentum", type=float, default=0.0, help="momentum of sgd")
    decaying = " or ".join(name for name in optimizers if "weight_decay" in OPTIMIZERS[name].settings)
    train.add_argument("--weight-decay", type=float, default=None, help=f"decoupled weight decay of --optimizer "
                                                                        f"{decaying} (None: the optimizer's own)")
    names = schedule_names()
    train.add_argument("--schedule", type=_schedule_name, default=None, metavar="{" + ",".join(names) + "}",
                       help="learning-rate schedule from --lr and --epochs: one_cycle rises to --lr and anneals "
                            "over every mini-batch of --epochs epochs, cosine decays to 0 over --epochs, step "
                            "halves the rate every 10 epochs, exponential multiplies it by 0.96 every epoch "
                            "(see dnn.schedules; None: a constant --lr)")
    train.add_argument("--warmup-steps", type=int, default=0, metavar="STEPS",
                       help="raise the rate linearly over the first STEPS mini-batches, in front of --schedule "
                            "(dnn.schedules.Warmup; 0: no warm-up)")
    train.add_argument("--l2", type=float, default=0.01, help="L2 penalty: (l2 / 2) * sum of squared weights "
                                                              "is added to the loss")
    train.add_argument("--l1", type=float, default=0.0, help="L1 penalty: l1 * sum of absolute weights is added "
                                                             "to the loss")
    train.add_argument("--clip-norm", type=float, default=None, metavar="NORM",
                       help="before every update, scale the gradient (all parameters together) down to this norm "
                            "when longer (None: no clipping)")
    train.add_argument("--clip-value", type=float, default=None, metavar="VALUE",
                       help="before every update, clip every gradient entry to [-VALUE, VALUE] (None: no clipping)")


def _schedule_name(text):
    """A --schedule value as its registered name: any spelling the registry takes ("onecycle", "One-Cycle")."""
    from dnn.schedules import REGISTRY

    try:
        return REGISTRY.canonical(text, among=schedule_names(), kind="schedule by name")
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _add_stopping(train):
    """The options of the validation split and early stopping."""
    train.add_argument("--validation-split", type=float, default=0.2, metavar="FRACTION",
                       help="fraction of the rows held out to watch for overfitting (stratified by class); "
                            "0 trains on every row")
    stopping = train.add_mutually_exclusive_group()
    stopping.add_argument("--early-stopping", type=int, default=20, metavar="PATIENCE",
                          help="stop when the validation loss (the training loss with --validation-split 0) has "
                               "not improved for this many epochs")
    # SUPPRESS: the default of the shared destination is --early-stopping's, and help shows no "(default: None)".
    stopping.add_argument("--no-early-stopping", dest="early_stopping", action="store_const", const=None,
                          default=argparse.SUPPRESS, help="train all --epochs")
    train.add_argument("--restore-best", action=argparse.BooleanOptionalAction, default=True,
                       help="with early stopping, end with the weights of the epoch of lowest validation loss")
