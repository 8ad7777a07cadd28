"""The querying half of the DNN class: predictions, evaluation and figures.

A mixin of :class:`dnn.DNN`, kept in its own file so each file stays small;
what it uses of the network is declared by :class:`dnn.model.contract.Network`.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from dnn.checks import is_int
from dnn.data import preprocessing, targets
from dnn.devices import CPU_NAME, device_of, on_host, to_numpy
from dnn.engine.evaluation import evaluate_chunks, mean_loss, ranking_choice
from dnn.engine.inference import forward_chunks
from dnn.engine.stream_evaluation import collected, evaluate_stream, stream_outputs
from dnn.engine.streaming import ChunkReader, stream_task, survey
from dnn.engine.weighting import sample_weights
from dnn.model.contract import Part
from dnn.report import plots
from dnn.report.results import Evaluation
from dnn.report.text import metrics_table
from dnn.streams import as_stream
from dnn.threads import PREDICT_CHUNK, blas_threads, large_products, predict_threads

if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    from matplotlib.figure import Figure


def _same(outputs):
    return outputs


def _like(X, result):
    """``result`` (numpy) on the device of ``X`` when X is a GPU array: predictions stay where their input is.

    Labels that are not numbers (strings) stay numpy, as CuPy has no such arrays.
    """
    if on_host(X) or result.dtype.kind not in "biuf":
        return result
    return device_of(X).asarray(result)


class Querying(Part):
    """predict, predictProba, modelEvaluate and the draw* figures of :class:`dnn.DNN`."""

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Class labels (classifiers) or values (regression) for the rows of ``X``.

        Returns
        -------
        ndarray
            (n,) labels in the user's own label values, (n, k) 0/1 indicators
            for a multi-label model, (n,) values for one regression output or
            (n, k) for several.
        """
        self._require_network("predict")
        task, classes = self._task_and_classes()
        # Labels only need the output layer's pre-activations (see Task.predictions).
        rows, chunks = self._output_chunks(X, activate_output=False)
        return _like(X, collected(rows, chunks, lambda z: task.predictions(z, classes, self.activations[-1])))

    def predictProba(self, X: ArrayLike) -> np.ndarray:
        """Class probabilities, shape (n, k).

        For one sigmoid output the columns are P(classes[0]) and P(classes[1]);
        for several sigmoid outputs of a single-label model the outputs are
        normalized to sum to 1; for a multi-label model each column is the
        probability of its label.
        """
        self._require_network("predictProba")
        task, _ = self._task_and_classes()
        if not task.is_classifier:
            raise ValueError("predictProba is for classifiers; this model has an identity (regression) output")
        return _like(X, task.probabilities(self._outputs(X), self.activations[-1]))

    def predictLogProba(self, X: ArrayLike) -> np.ndarray:
        """Logarithms of :meth:`predictProba`, shape (n, k).

        Computed from the output layer's pre-activations (log-softmax,
        log-sigmoid), so probabilities too small for floating point keep a
        finite, exact logarithm instead of -inf.
        """
        self._require_network("predictLogProba")
        task, _ = self._task_and_classes()
        if not task.is_classifier:
            raise ValueError("predictLogProba is for classifiers; this model has an identity (regression) output")
        rows, chunks = self._output_chunks(X, activate_output=False)
        return _like(X, collected(rows, chunks, lambda z: task.log_probabilities(z, self.activations[-1])))

    def modelEvaluate(self, X: ArrayLike, y: ArrayLike | None = None, verbose: int = 1,
                      sampleWeight: ArrayLike | None = None, ranking: bool | None = None) -> Evaluation:
        """Loss and metrics of the model on ``X``, ``y``.

        ``X`` may be a stream of chunks (:mod:`dnn.streams`) that brings its
        own targets (``y`` None): it is read chunk by chunk, and gives what
        its rows loaded as arrays give.

        With ``sampleWeight`` (n,), the loss is the training loss with those
        weights, (1/n) sum_i w_i loss_i plus the L2 term (what ``fit`` reports
        with the same ``sampleWeight``), ``accuracy`` the weighted share
        sum_i w_i correct_i / sum_i w_i, and ``log_loss``, ``roc_auc`` and
        ``average_precision`` are scikit-learn's with ``sample_weight``; the
        per-class scores and the confusion matrix count rows unweighted.

        ``roc_auc`` and ``average_precision`` rank every score at once, so they
        keep the n x k probabilities (in the model's dtype; k = 1 for a binary
        model) and the true answers (a byte each), while the rest is computed
        chunk by chunk. With ``ranking=None`` they are computed up to
        ``dnn.engine.evaluation.RANKING_MAX_SCORES`` (2**23) scores, and left
        out beyond with a note; ``ranking=True`` computes them for any number,
        ``False`` never.

        Returns
        -------
        Evaluation
            A dict: ``loss`` (with the L2 penalty, as in training) and, for
            classifiers, ``accuracy``, per-class ``precision``, ``recall``,
            ``f1`` and ``support`` (dicts keyed by class label), their
            ``macro_*`` averages, the ``confusion_matrix`` (rows: true
            classes, in the order of ``model.classes``; single-label models),
            ``log_loss`` of the probabilities of ``predictProba`` (multi-label:
            the mean over labels of each label's), and the macro averages
            ``roc_auc`` and ``average_precision`` (one-vs-rest over classes,
            over labels, or of the one binary output); for regression ``mse``,
            ``mae`` and ``r2``. A class or label that leaves a ranking metric
            undefined (no samples of it in y) makes it NaN, and ``notes`` (a
            list of str, present only then) says why. With ``verbose`` these
            are printed as tables, and the dict's repr is one line
            (``<Evaluation: accuracy 0.9500, loss 0.1200 on 180 rows>``), so a
            REPL shows them once.
        """
        self._require_network("modelEvaluate")
        stream = as_stream(X)
        if stream is None:
            result, rows = self._evaluation(X, y, sampleWeight, ranking)
        else:
            result, rows = self._stream_evaluation(stream, y, sampleWeight, ranking)
        if verbose:
            print(metrics_table(result))
        return Evaluation(result, rows)

    def _evaluation(self, X, y, sampleWeight, ranking):
        """modelEvaluate's (result, rows) on arrays."""
        if y is None:
            raise ValueError("modelEvaluate needs y, the targets of X's rows (only a stream brings its own)")
        if self.task is None:  # not fitted: the classes are read off y as a whole
            target_matrix, task, classes = self._encode_targets(y)
            labels, encode = target_matrix, None
        else:  # y is encoded chunk by chunk beside the outputs: memory stays bounded for any number of rows
            task, classes = self.task, self.classes
            labels = targets.as_array(y)

            def encode(rows):
                return self._encode_targets(rows)[0]
        rows, chunks = self._output_chunks(X)
        if len(labels) != rows:
            raise ValueError(f"X has {rows} samples but y has {len(labels)}")
        weights = None
        if sampleWeight is not None:
            weights = sample_weights(labels, task, classes, sampleWeight, None, np.float64)
        scorer = task.scorer(classes)
        keep, notes = ranking_choice(ranking, rows * task.ranked_columns(classes) if task.is_classifier else 0)
        probabilities = task.probability_scorer(classes, rows, self.activations[-1], weights, keep, self.dtype)
        # without weights the scorer's accuracy is the share of correct rows: no need to count them twice
        loss_sum, weighted_hits = evaluate_chunks(chunks, labels, self.loss, task, encode=encode, weights=weights,
                                                  scorer=scorer, count_correct=weights is not None,
                                                  probabilities=probabilities)
        result = {"loss": mean_loss(loss_sum, rows, self._checked_parameters()[0], self.l2, self.l1)}
        result.update(scorer.result(classes))
        if weights is not None and task.is_classifier:
            result["accuracy"] = weighted_hits / float(weights.sum())
        if probabilities is not None:
            result.update(probabilities.result(classes))
            notes = result.pop("notes", []) + notes
        if notes:
            result["notes"] = notes
        return result, rows

    def _stream_evaluation(self, stream, y, sample_weight, ranking):
        """modelEvaluate's (result, rows) on a stream (see :func:`dnn.engine.stream_evaluation.evaluate_stream`)."""
        if y is not None:
            raise ValueError("y must be None when X is a stream: the targets come with its chunks")
        if sample_weight is not None:
            raise ValueError("sampleWeight is for arrays: a stream's rows have no weights")
        reader = ChunkReader(stream, self.units[0], self.feature_names, self.dtype)
        task, classes = self.task, self.classes
        reader.output = (self.activations[-1], self.units[-1], task, classes)
        if task is None:  # not fitted: the classes are read off the stream's labels
            task, classes = stream_task(survey(reader, 0.0, self.activations[-1] != "identity", False), reader)
            reader.output = (self.activations[-1], self.units[-1], task, classes)
        weights, biases = self._checked_parameters()
        with blas_threads(predict_threads(self.threads, PREDICT_CHUNK, self.units)):
            return evaluate_stream(self, reader, task, classes, ranking, weights, biases)

    def _outputs_and_targets(self, X, y):
        """Network outputs for X and the target matrix for y, with the task and classes."""
        if as_stream(X) is not None:
            raise ValueError("this takes arrays; for a stream, modelEvaluate(stream) gives the confusion matrix")
        target_matrix, task, classes = self._encode_targets(y)
        outputs = self._outputs(X)
        if len(target_matrix) != len(outputs):
            raise ValueError(f"X has {len(outputs)} samples but y has {len(target_matrix)}")
        return outputs, target_matrix, task, classes

    def _outputs(self, X):
        """Network output for every row of ``X``, shape (n, units of layer L)."""
        rows, chunks = self._output_chunks(X)
        return collected(rows, chunks, _same)

    def _output_chunks(self, X, activate_output=True):
        """The row count of ``X`` (None for a stream) and an iterator of ``(start, stop, outputs)`` over its chunks.

        Without ``activate_output`` the outputs are the output layer's pre-activations.
        """
        weights, biases = self._checked_parameters()
        activations = self.activations[1:] if activate_output else [*self.activations[1:-1], "identity"]
        stream = as_stream(X)
        if stream is not None:
            reader = ChunkReader(stream, self.units[0], self.feature_names, self.dtype)
            return None, self._with_blas_threads(None, stream_outputs(reader, weights, biases, activations, self))
        X, _ = preprocessing.feature_matrix(X, self.units[0], self.feature_names)
        chunks = forward_chunks(X, weights, biases, activations, self.units, self.dtype, self.feature_mean,
                                self.feature_scale, norms=self.state.params.normalizations())
        return len(X), self._with_blas_threads(len(X), chunks)

    def _with_blas_threads(self, rows, chunks):
        """``chunks`` computed with this model's BLAS thread count; the user's setting is back afterwards.

        Over several chunks of large products the count is chosen by timing the chunks, with the model's predict
        policy (which remembers from call to call): a single look at the machine's load had chosen 1 thread now
        and then on a quiet machine. A stream's chunks (``rows`` None) take the count for one chunk: their reading
        would be timed with them.
        """
        if self.device != CPU_NAME:  # BLAS threads are the host's
            yield from chunks
            return
        if rows is not None and self.threads is None and rows > PREDICT_CHUNK and large_products(rows, self.units):
            yield from self.thread_policy("predict").each(chunks, rows=lambda chunk: chunk[1] - chunk[0])
            return
        with blas_threads(predict_threads(self.threads, PREDICT_CHUNK if rows is None else rows, self.units)):
            yield from chunks

    # ------------------------------------------------------------------ figures

    def drawConvergenceCurve(self, path: str | os.PathLike[str] | None = None) -> Figure:
        """Plot every parameter recorded with fit(parameterList=...) against epoch (or batch).

        Returns the matplotlib Figure, shown once (see :mod:`dnn.report.plots`); with ``path``, also saves it as
        a PNG.
        """
        return plots.convergence_curve(self.parameterRecord, self.state.record_every, path)

    def drawHistory(self, path: str | os.PathLike[str] | None = None) -> Figure:
        """Plot loss and accuracy per epoch (training and validation) and the learning rate.

        Returns the matplotlib Figure, shown once (see :mod:`dnn.report.plots`); with ``path``, also saves it as
        a PNG.
        """
        return plots.history(self.history, path)

    def drawDigits(self, X_vector: ArrayLike, y_vector: ArrayLike | None = None,
                   path: str | os.PathLike[str] | None = None, predictions: bool | None = None) -> Figure:
        """Show image rows (8x8, 28x28: any square) with their label and the model's prediction.

        Parameters
        ----------
        X_vector : array-like, shape (n, side * side) or one row
        y_vector : array-like, optional
            Labels (n,) or one-hot rows (n, k), shown as the class they mark
            (in the model's own labels once it is fitted).
        path : str or path, optional
            Also save the figure as a PNG there (and close it in pyplot).
        predictions : bool, optional
            Show the model's predictions. By default they are shown once the
            model is complete and fitted (or loaded from a file), so that data
            can be looked at before any training; True shows them for a
            complete network with weights set by hand.

        Returns
        -------
        matplotlib.figure.Figure
            The figure, shown once (see :mod:`dnn.report.plots`).
        """
        images = np.asarray(X_vector.to_numpy() if hasattr(X_vector, "to_numpy") else X_vector)
        images = images.reshape(1, -1) if images.ndim == 1 else images
        labels = None if y_vector is None else self._shown_labels(y_vector, len(images))
        if predictions is None:
            predictions = self.loss is not None and self.task is not None
        return plots.digits(images, labels, self.predict(images) if predictions else None, path)

    def _shown_labels(self, y_vector, count):
        labels = targets.as_array(y_vector)
        if labels.ndim == 2 and labels.shape[1] > 1:
            # One-hot rows, as fit takes them: each row's class.
            fitted = self.classes is not None and len(self.classes) == labels.shape[1]
            labels = self.classes[labels.argmax(axis=1)] if fitted else labels.argmax(axis=1)
        labels = labels.reshape(-1)
        if len(labels) != count:
            raise ValueError(f"{count} images but {len(labels)} labels")
        return labels

    def drawWeights(self, layer: int = 2, path: str | os.PathLike[str] | None = None) -> Figure:
        """Each unit's incoming weights drawn as an image: the classic picture of what a layer learned.

        Parameters
        ----------
        layer : int
            A layer 2..L whose input size is a square (64 for 8x8 images,
            784 for 28x28); layer 2 reads the input images.
        path : str or path, optional
            Also save the figure as a PNG there (and close it in pyplot).

        Returns
        -------
        matplotlib.figure.Figure
            The figure, shown once (see :mod:`dnn.report.plots`): one image per
            unit (the first 100 for larger layers), blue negative, red positive,
            each on its own symmetric scale.
        """
        if not is_int(layer) or layer not in self.w:
            raise ValueError(f"layer must be one of the layers with weights, 2..{len(self.units)}, got {layer!r}")
        weights, _ = self._checked_parameters()
        return plots.weights(to_numpy(weights[layer - 2]), layer, path)

    def drawConfusionMatrix(self, X: ArrayLike, y: ArrayLike, path: str | os.PathLike[str] | None = None) -> Figure:
        """Plot the confusion matrix of the model on ``X``, ``y``, with counts.

        Returns the matplotlib Figure, shown once (see :mod:`dnn.report.plots`); with ``path``, also saves it as
        a PNG.
        """
        self._require_network("drawConfusionMatrix")
        outputs, target_matrix, task, classes = self._outputs_and_targets(X, y)
        if not task.single_label:
            raise ValueError(f"a confusion matrix needs a single-label classifier; this model's task is {task}")
        return plots.confusion_matrix(task.scores(outputs, target_matrix, classes)["confusion_matrix"], classes,
                                         path)
