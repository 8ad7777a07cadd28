"""The learning-rate finder of the DNN class: a short run that sweeps the rate, and what it found.

A mixin of :class:`dnn.DNN`, kept in its own file so each file stays small; what it uses of the network is declared
by :class:`dnn.model.contract.Network`.

The range test of Leslie Smith ("Cyclical Learning Rates for Training Neural Networks", 2017) as fastai's
``lr_find`` runs it: one mini-batch step per rate, the rate growing exponentially from ``startLr`` to ``endLr``,
the loss smoothed by an exponential moving average, and the sweep stopped once the smoothed loss passes 4 times
its lowest value. The sweep trains a copy of the model through ``fit``'s own steps (its optimizer, its state,
dropout, L2, weights), so the model itself is left exactly as it was.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import os
import warnings
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from dnn import schedules
from dnn.checks import check_number, check_setting, positive_int
from dnn.engine import fit_setup, training
from dnn.errors import TrainingDivergedError, TrainingStalledWarning
from dnn.model.contract import Part
from dnn.report import plots

if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    from matplotlib.figure import Figure

#: The suggestion ignores this share of the first rates (the moving average is still warming up) ...
SKIP_START = 0.1
#: ... and this many of the last (where a stopped sweep's loss takes off).
SKIP_END = 5
#: The slope of the smoothed loss at a point is taken this share of the points away on either side.
SPAN = 0.05


class LrFinder(Part):
    """lrFind of :class:`dnn.DNN`."""

    def lrFind(self, X: ArrayLike, y: ArrayLike, startLr: float = 1e-7, endLr: float = 10.0, steps: int = 100,
               batchSize: int | None = None, sampleWeight: ArrayLike | None = None,
               classWeight: dict | str | None = None, smoothing: float = 0.98,
               stopFactor: float | None = 4.0) -> LrFindResult:
        """Sweep the learning rate over a short run and suggest one (Leslie Smith's range test, as fastai's).

        Step k of the run trains one mini-batch at the rate
        ``startLr * (endLr / startLr) ** (k / (steps - 1))`` and records that
        batch's loss (computed before its update, as ``fit`` reports it, L2
        term included). Batches are drawn as ``fit`` draws them, a new
        shuffled pass over the rows whenever one is used up. The run stops
        early once the smoothed loss passes ``stopFactor`` times its lowest
        value, or the loss is no longer finite.

        The run trains a copy of the model (its optimizer and optimizer state,
        its generator, its scaling), so the model is left exactly as it was:
        weights, optimizer state, random generator, history, epochs, thread
        measurements; a fit after lrFind is bit for bit the fit without it.
        Ctrl-C ends the sweep early with what it has.

        Parameters
        ----------
        X, y : as for ``fit``
        startLr, endLr : float in (0, 1e3], startLr < endLr
            The first and the last rate.
        steps : int >= 2
            Rates (mini-batch steps) in the sweep.
        batchSize : int, optional
            Rows per step, as ``fit``'s (default 30).
        sampleWeight, classWeight : optional
            As for ``fit``.
        smoothing : float in [0, 1)
            The moving average's weight on the past: smoothed_k is the
            bias-corrected average a_k / (1 - smoothing**(k+1)) of
            a_k = smoothing a_{k-1} + (1 - smoothing) loss_k.
        stopFactor : float > 1, or None
            Stop when the smoothed loss exceeds this many times its lowest;
            None: only a loss that is no longer finite stops the sweep.

        Returns
        -------
        LrFindResult
            ``lrs`` and ``losses`` (float64 arrays, one per step run),
            ``smoothed``, ``suggestion`` (the rate where the smoothed loss falls
            fastest against log rate), ``lowest`` (the rate of the lowest
            smoothed loss; a tenth of it is fastai's other rule of thumb) and
            ``plot(path=None)``, the curve.
        """
        self._require_network("lrFind")
        sweep = Sweep(startLr, endLr, steps, smoothing, stopFactor)
        options = fit_setup.FitOptions(epochs=1, batch_size=batchSize, verbose=0, sample_weight=sampleWeight,
                                       class_weight=classWeight)
        return sweep.run(self, X, y, options)


class Sweep:
    """The checked settings of one lrFind call, and the run (see :meth:`LrFinder.lrFind`)."""

    def __init__(self, start, end, steps, smoothing, stop_factor):
        self.start, self.end = check_setting("lr", start, "startLr"), check_setting("lr", end, "endLr")
        if not self.start < self.end:
            raise ValueError(f"startLr must be below endLr, got startLr={start!r} and endLr={end!r}")
        self.steps = positive_int(steps, "steps")
        if self.steps < 2:
            raise ValueError(f"steps must be at least 2, got {steps!r}")
        self.smoothing = check_number(smoothing, "smoothing", low=0, high=1)
        self.stop_factor = None if stop_factor is None else check_number(stop_factor, "stopFactor", low=1,
                                                                         low_inclusive=False)

    def run(self, model, X, y, options):
        """Sweep on a copy of ``model``; returns an :class:`LrFindResult`."""
        twin = copy.deepcopy(model)
        plan = fit_setup.prepare(twin, X, y, options)  # the checks of fit, on the copy
        fit_setup.commit(twin, plan)
        lrs = np.geomspace(self.start, self.end, self.steps)
        losses, smoothed, self._average = [], [], 0.0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", TrainingStalledWarning)  # one-batch fits of a copy: nothing to report
            try:
                for lr, rows in zip(lrs, _batches(twin, plan)):
                    loss = _step(twin, plan, rows, lr)
                    if loss is None or not self._goes_on(loss, losses, smoothed):
                        break
            except KeyboardInterrupt:  # between two steps (within one, _step returns None)
                pass
        return LrFindResult(lrs[:len(losses)], losses, smoothed, self.steps)

    def _goes_on(self, loss, losses, smoothed):
        """Record a step's ``loss`` and its smoothed value; whether the sweep goes on after it."""
        losses.append(loss)
        if not math.isfinite(loss):
            smoothed.append(math.inf)
            return False
        beta = self.smoothing
        self._average = beta * self._average + (1 - beta) * loss
        smoothed.append(self._average / (1 - beta ** len(losses)))  # bias-corrected: the average starts at 0
        return self.stop_factor is None or smoothed[-1] <= self.stop_factor * min(smoothed)


def _batches(model, plan):
    """The rows of every mini-batch, pass after pass over the training rows as fit shuffles them."""
    while True:
        order = plan.data.epoch_order(model.state.rng, plan.batch_size, plan.shuffle)
        for start in range(0, len(order), plan.batch_size):
            yield order[start:start + plan.batch_size]


def _step(model, plan, rows, lr):
    """Train ``model`` one mini-batch (``rows``) at rate ``lr`` by fit's own loop; the batch's loss (inf if it
    diverged), or None when Ctrl-C stopped it."""
    batch = dataclasses.replace(plan, data=plan.data.with_rows(rows), epochs=1, batch_size=len(rows), shuffle=False,
                                validation=None, specs=[], patience=None, restore_best=False, callbacks=[])
    state = model.state
    state.schedule, state.lr_factor = schedules.make_schedule(float(lr)), 1.0
    trained = state.completed_epochs()
    try:
        training.train(model, batch)
    except TrainingDivergedError:
        return math.inf
    if state.completed_epochs() == trained:
        return None
    return float(state.history["loss"][-1])


class LrFindResult:
    """What :meth:`LrFinder.lrFind` found.

    Attributes
    ----------
    lrs : ndarray (steps run,)
        The rates, geometric: ``np.geomspace(startLr, endLr, steps)`` up to
        where the sweep stopped.
    losses : ndarray (steps run,)
        The loss of each step's mini-batch, before its update (inf where it
        diverged).
    smoothed : ndarray (steps run,)
        The bias-corrected moving average of the losses.
    suggestion : float
        The rate where the smoothed loss falls fastest against log rate
        (steepest descent), ignoring the first tenth of the steps and the
        last five; NaN if no finite point is left.
    lowest : float
        The rate of the lowest smoothed loss, over the same steps (one tenth
        of it is the other common choice, fastai's ``lr_min``).
    stopped : bool
        Whether the sweep stopped before its last rate.
    """

    def __init__(self, lrs, losses, smoothed, steps):
        self.lrs = np.asarray(lrs, dtype=np.float64)
        self.losses = np.asarray(losses, dtype=np.float64)
        self.smoothed = np.asarray(smoothed, dtype=np.float64)
        self.stopped = len(self.lrs) < steps
        self.suggestion = steepest(self.lrs, self.smoothed)
        self.lowest = lowest(self.lrs, self.smoothed)

    def plot(self, path: str | os.PathLike[str] | None = None) -> Figure:
        """The smoothed loss (and each step's loss, faint) against the rate, on a log scale, with the suggestion.

        Returns the matplotlib Figure, shown once (see :mod:`dnn.report.plots`); with ``path``, also saves it as
        a PNG.
        """
        # Drawn and shown as every figure of dnn is (plots' two helpers, private to it until they get public names).
        figure = plots.new_figure(figsize=(7, 4.5), dpi=plots.DPI, layout="constrained")
        axes = figure.add_subplot()
        finite = np.isfinite(self.losses)
        axes.plot(self.lrs[finite], self.losses[finite], color="tab:blue", alpha=0.3, linewidth=1, label="loss")
        axes.plot(self.lrs[finite], self.smoothed[finite], color="tab:blue", label="smoothed loss")
        if math.isfinite(self.suggestion):
            axes.axvline(self.suggestion, color="tab:red", linestyle="--",
                         label=f"suggestion {self.suggestion:.3g} (steepest descent)")
        axes.set_xscale("log")
        axes.set_xlabel("learning rate")
        axes.set_ylabel("loss")
        axes.set_title("Learning-rate finder")
        axes.grid(alpha=0.3)
        axes.legend(fontsize="small")
        return plots.finish(figure, path)

    def __repr__(self):
        end = " (stopped as the loss took off)" if self.stopped else ""
        shown = f"{len(self.lrs)} rates" + (f" from {self.lrs[0]:.3g} to {self.lrs[-1]:.3g}" if len(self.lrs) else "")
        return f"<LrFindResult: {shown}{end}, suggestion {self.suggestion:.3g}>"


def _window(lrs, smoothed, skip_start=SKIP_START, skip_end=SKIP_END):
    """The finite points between the first ``skip_start`` share of the points and the last ``skip_end`` (all
    points when fewer than 3 would be left)."""
    first, last = int(len(lrs) * skip_start), len(lrs) - skip_end
    if last - first < 3:
        first, last = 0, len(lrs)
    lrs, smoothed = lrs[first:last], smoothed[first:last]
    finite = np.isfinite(smoothed)
    return lrs[finite], smoothed[finite]


def steepest(lrs, smoothed):
    """The rate where ``smoothed`` falls fastest against log rate, in the :func:`_window`; NaN without 2 points.

    The slope at a point is taken over the points ``SPAN`` of the sweep's points away on either side (fewer at
    the ends): a slope between neighbours follows the batch-to-batch noise that the smoothing leaves.
    """
    lrs, smoothed = _window(lrs, smoothed)
    if len(lrs) < 2:
        return math.nan
    reach = max(1, round(len(lrs) * SPAN))
    index = np.arange(len(lrs))
    before, after = np.maximum(index - reach, 0), np.minimum(index + reach, len(lrs) - 1)
    slopes = (smoothed[after] - smoothed[before]) / np.log(lrs[after] / lrs[before])
    return float(lrs[np.argmin(slopes)])


def lowest(lrs, smoothed):
    """The rate of the lowest ``smoothed`` loss in the :func:`_window`; NaN without a point."""
    lrs, smoothed = _window(lrs, smoothed)
    return float(lrs[np.argmin(smoothed)]) if len(lrs) else math.nan
