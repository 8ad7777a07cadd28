"""Test accuracy of the tabular recipe (normalization, AdamW, OneCycle) against the same network without them.

Two tables scikit-learn ships: breast cancer (569 rows, 30 features, 2 classes)
and wine (178 rows, 13 features, 3 classes). Each is split by scikit-learn's
``RepeatedStratifiedKFold`` (``--folds`` folds, ``--repeats`` repeats, the
repeats seeded 0, 1, ...): every configuration trains on the same training
folds and is scored on the same test folds, so every row is tested once per
repeat. The configurations:

- ``plain``: 64-32 relu hidden layers, Adam at a constant rate (``--lr``);
- ``recipe``: the same layers with ``normalization="batch"``, ``dropout``,
  ``AdamW(weight_decay=...)`` and a ``OneCycle`` rate per mini-batch up to
  ``--max-lr``;
- ``sklearn``: scikit-learn's ``MLPClassifier`` with the same layers, Adam at
  ``--lr``, the same batches and epochs (``alpha`` at its default 1e-4), after a
  ``StandardScaler``: an outside reference;
- on request, ablations: ``recipe-X`` is the recipe without part X and
  ``plain+X`` the plain network with only X, X one of ``norm``, ``dropout``,
  ``adamw`` (AdamW in place of Adam), ``onecycle`` (OneCycle in place of the
  constant rate), or several joined by ``+`` (``--configs plain,plain+norm,recipe-onecycle``).

Every configuration sees the same epochs and batch size, scales its features
by the training fold's mean and standard deviation (``standardize=True`` in
dnn), and keeps its last weights (no early stopping, no validation split).
dnn's models are seeded by the fold's number and pinned to one BLAS thread, so
a rerun prints the same table. The table gives the mean test accuracy and log
loss over the folds, with their standard deviations (over folds, not over
independent data sets: folds share rows, so read them as spreads), then the
differences from the first configuration fold by fold: the configurations
meet the same test rows, so a paired difference is the sharper comparison.

    python benchmarks/tabular_recipe.py [--quick] [--folds 5] [--repeats 10] [--epochs 60] [--batch 32]
        [--lr 0.001] [--max-lr 0.01] [--weight-decay 0.01] [--dropout 0.1] [--normalization batch]
        [--datasets breast_cancer,wine] [--configs plain,recipe,sklearn]
"""

import argparse
import math
import statistics
import time
import warnings

import numpy as np

DATASETS = ("breast_cancer", "wine")
CONFIGS = ("plain", "recipe", "sklearn")
PARTS = ("norm", "dropout", "adamw", "onecycle")
HIDDEN = [64, 32]


def load(name):
    from sklearn import datasets

    return getattr(datasets, f"load_{name}")(return_X_y=True)


def components(config):
    """The parts of the recipe that ``config`` uses: "recipe" all, "plain" none, "recipe-X" all but X, "plain+X"
    only X (X one of PARTS, or several joined by "+")."""
    if config in ("plain", "recipe"):
        return set() if config == "plain" else set(PARTS)
    base, sign, parts = config.partition("-" if config.startswith("recipe-") else "+")
    parts = set(parts.split("+"))
    if base not in ("plain", "recipe") or not sign or not parts <= set(PARTS):
        raise SystemExit(f"unknown configuration {config!r}: plain, recipe, sklearn, recipe-X or plain+X, "
                         f"X in {', '.join(PARTS)}")
    return set(PARTS) - parts if base == "recipe" else parts


def dnn_model(config, n_features, n_classes, steps_per_epoch, seed, args):
    """The network of ``config``, untrained: the plain one with the parts of the recipe it names."""
    from dnn import DNN
    from dnn.optimizers import AdamW
    from dnn.schedules import OneCycle

    parts = components(config)
    lr = (OneCycle(max_lr=args.max_lr, epochs=args.epochs, steps_per_epoch=steps_per_epoch)
          if "onecycle" in parts else args.lr)
    optimizer = AdamW(weight_decay=args.weight_decay) if "adamw" in parts else "adam"
    model = DNN(lr=lr, optimizer=optimizer, standardize=True, seed=seed, threads=1)
    model.addInputLayer([n_features])
    model.addHiddenLayer(HIDDEN, activation="relu", dropout=args.dropout if "dropout" in parts else 0.0,
                         normalization=args.normalization if "norm" in parts else None)
    model.addOutputLayer([n_classes], activation="softmax")
    return model


def probabilities(config, X_train, y_train, X_test, seed, args):
    """(test-row class probabilities, in the order of np.unique(y_train)), after training ``config``."""
    classes = np.unique(y_train)
    if config == "sklearn":
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPClassifier
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        # n_iter_no_change above max_iter: exactly --epochs epochs, as the dnn models train
        net = MLPClassifier(hidden_layer_sizes=HIDDEN, learning_rate_init=args.lr, batch_size=args.batch,
                            max_iter=args.epochs, n_iter_no_change=args.epochs + 1, random_state=seed)
        model = make_pipeline(StandardScaler(), net)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X_train, y_train)
        assert list(model.classes_) == list(classes)
        return model.predict_proba(X_test)
    steps_per_epoch = math.ceil(len(X_train) / args.batch)
    model = dnn_model(config, X_train.shape[1], len(classes), steps_per_epoch, seed, args)
    model.fit(X_train, y_train, epochs=args.epochs, batchSize=args.batch, verbose=0)
    assert list(model.classes) == list(classes)
    return model.predictProba(X_test)


def measure(name, configs, args):
    """{config: (accuracies, log losses, seconds)} over the folds of data set ``name``."""
    from sklearn.metrics import log_loss
    from sklearn.model_selection import RepeatedStratifiedKFold

    X, y = load(name)
    X = X.astype(np.float32)
    results = {config: ([], [], 0.0) for config in configs}
    folds = RepeatedStratifiedKFold(n_splits=args.folds, n_repeats=args.repeats, random_state=0).split(X, y)
    for fold, (train, test) in enumerate(folds):
        for config in configs:
            started = time.perf_counter()
            proba = probabilities(config, X[train], y[train], X[test], fold, args)
            accuracies, losses, seconds = results[config]
            accuracies.append(float(np.mean(np.unique(y[train])[proba.argmax(axis=1)] == y[test])))
            losses.append(float(log_loss(y[test], proba, labels=np.unique(y[train]))))
            results[config] = (accuracies, losses, seconds + time.perf_counter() - started)
    return results


def spread(values):
    return f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f}" if len(values) > 1 else f"{values[0]:.4f}"


def paired(values, reference, lower_is_better=False):
    """The mean fold-by-fold difference from ``reference`` ± its standard error, and the folds better / equal /
    worse."""
    differences = [a - b for a, b in zip(values, reference)]
    better = sum(d < 0 if lower_is_better else d > 0 for d in differences)
    worse = sum(d > 0 if lower_is_better else d < 0 for d in differences)
    error = statistics.stdev(differences) / math.sqrt(len(differences)) if len(differences) > 1 else 0.0
    return (f"{statistics.mean(differences):+.4f} ± {error:.4f}",
            f"{better} / {len(differences) - better - worse} / {worse}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: 2 folds, 1 repeat, 5 epochs")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.001, help="plain and sklearn: Adam's constant rate")
    parser.add_argument("--max-lr", type=float, default=0.01, help="recipe: OneCycle's peak rate")
    parser.add_argument("--weight-decay", type=float, default=0.01, help="recipe: AdamW's decoupled decay")
    parser.add_argument("--dropout", type=float, default=0.1, help="recipe: dropout of both hidden layers")
    parser.add_argument("--normalization", choices=["batch", "layer"], default="batch", help="recipe: which one")
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--configs", default=",".join(CONFIGS))
    args = parser.parse_args()
    if args.quick:
        args.folds, args.repeats, args.epochs = 2, 1, 5
    configs = args.configs.split(",")
    for config in configs:
        if config != "sklearn":
            components(config)  # a misspelt configuration stops here, not after the others have trained
    try:
        import sklearn
    except ImportError:
        raise SystemExit("this benchmark needs scikit-learn: pip install -e '.[sklearn]'") from None
    import dnn

    print(f"dnn {dnn.__version__}, scikit-learn {sklearn.__version__}, numpy {np.__version__}")
    print(f"RepeatedStratifiedKFold(n_splits={args.folds}, n_repeats={args.repeats}, random_state=0): "
          f"{args.folds * args.repeats} test folds per data set; model seeds 0..{args.folds * args.repeats - 1}")
    print(f"hidden {HIDDEN} relu, {args.epochs} epochs, batch {args.batch}; plain/sklearn: Adam lr {args.lr}; "
          f"recipe: {args.normalization} norm, dropout {args.dropout}, AdamW weight_decay {args.weight_decay}, "
          f"OneCycle max_lr {args.max_lr}")
    print()
    print("| data set | configuration | test accuracy | test log loss | seconds |")
    print("|---|---|---|---|---|")
    measured = {}
    for name in args.datasets.split(","):
        measured[name] = measure(name, configs, args)
        for config, (accuracies, losses, seconds) in measured[name].items():
            print(f"| {name} | {config} | {spread(accuracies)} | {spread(losses)} | {seconds:.2f} |", flush=True)
    if len(configs) < 2:
        return
    reference = configs[0]
    print()
    print(f"Paired by fold, against {reference} (difference ± standard error; folds better / equal / worse):")
    print()
    print("| data set | configuration | accuracy difference | folds | log loss difference | folds |")
    print("|---|---|---|---|---|---|")
    for name, results in measured.items():
        accuracies, losses, _ = results[reference]
        for config in configs[1:]:
            accuracy, accuracy_folds = paired(results[config][0], accuracies)
            loss, loss_folds = paired(results[config][1], losses, lower_is_better=True)
            print(f"| {name} | {config} | {accuracy} | {accuracy_folds} | {loss} | {loss_folds} |")


if __name__ == "__main__":
    main()
