"""The adaptive thread policy: a fit callback that measures batch times and keeps the fastest BLAS thread count."""

import time
from collections import deque
from contextlib import contextmanager

from .blas import candidate_counts, check_threads, get_blas_threads, set_blas_threads
from .cpus import available_cpus, runnable_others
from .exploring import ROOM_LOOK_SECONDS, try_cost
from .timings import median, milliseconds, thread_count

# A batch over this many times the best batch is taken for a count fallen off a cliff and ends its measurement or try
# at once, even the first after a change of count (untimed otherwise): above what waking threads or a preempted batch
# cost, below what a cliff costs.
CLIFF_RATIO = 5

# A batch this long is timed even right after a change of count: what waking the threads costs is a small part of it.
LONG_BATCH_SECONDS = 0.02

_END = object()


class ThreadPolicy:
    """Choose the BLAS thread count of a fit from measured batch times, and follow the machine's load.

    BLAS threads that find no free core spin-wait for each other, so the fastest count depends on the load, which
    changes while a fit runs (see :mod:`dnn.threads`). With ``threads`` an int the count is pinned; with None the
    policy measures every candidate count (1, powers of two, the available CPUs) over a few full batches and keeps
    the fastest, measures a larger count only while the load leaves it free cores (a count off a cliff can cost a
    hundred batches), measures again when batch times drift, tries other counts now and then within
    ``explore_share`` of the time to see load leave, and remembers its choice for the next fit. Counts change BLAS's
    rounding: pin ``threads`` for bit-identical reruns.

    A fit callback whose ``on_train_end``, called in a ``finally``, restores the user's BLAS setting; `session`,
    `batch` and `each` give the same over any loop of similar steps (predict's chunks).

    Parameters
    ----------
    threads : int or None
        A pinned count, or None to measure.
    max_threads : int or None
        An upper bound on the automatic choice (always bounded by `available_cpus`).
    probe_batches, probe_seconds, drift, patience, abort, explore_share, cliff : optional
        Batches (or seconds) that measure a count; the ratio to the measured time that ``patience`` batches in a
        row (or the recent ones on average) must pass to start a new measurement; the ratio to the best median that
        two batches must pass to drop a count; the share of time for tries; the batch time below which a larger
        count is measured only where the load leaves it free cores.
    clock, cpus, load : callable
        Seconds (``time.perf_counter``), the CPUs available (`available_cpus`), and how many other threads are
        ready to run or None (`runnable_others`); tests inject fakes.

    Attributes
    ----------
    current : int or None
        The count in use (None outside a fit).
    chosen : int or None
        The count the last measurement kept; the next fit measures it first.
    changes : list of (int, int)
        (batch number within this fit, count) each time the count in use for steady work changed.
    """

    def __init__(self, threads=None, max_threads=None, *, probe_batches=3, probe_seconds=0.05, drift=1.5, patience=5,
                 abort=1.5, explore_share=0.05, cliff=0.05, clock=time.perf_counter, cpus=available_cpus,
                 load=runnable_others):
        self.threads = check_threads(threads)
        self.max_threads = check_threads(max_threads, "max_threads")
        self.probe_batches, self.probe_seconds = probe_batches, probe_seconds
        self.drift, self.patience = drift, patience
        self.abort, self.explore_share, self.cliff = abort, explore_share, cliff
        self.clock, self.cpus, self.load = clock, cpus, load
        self.current = self.chosen = None
        self._settling = False
        self.changes, self._counts, self._estimates = [], None, {}
        self._previous = None

    # -- the callback interface ------------------------------------------------------------------------------------

    def on_train_begin(self, run):
        self.begin(getattr(run, "verbose", 0))

    def on_epoch_begin(self, run, epoch):
        pass

    def on_batch_begin(self, run, batch):
        self.batch_begin()

    def on_batch_end(self, run, batch, logs=None):
        self.batch_end((logs or {}).get("size"))

    def on_epoch_end(self, run, epoch, logs=None):
        pass

    def on_train_end(self, run):
        self.end()

    # -- the same outside a fit -----------------------------------------------------------------------------------

    @contextmanager
    def session(self, verbose=0):
        """``begin`` ... ``end`` around a block, ``end`` also when it raises."""
        self.begin(verbose)
        try:
            yield self
        finally:
            self.end()

    @contextmanager
    def batch(self, rows=None):
        """Time one step of the block's work (a step that raises is not timed); ``rows``: its row count, if any."""
        self.batch_begin()
        yield
        self.batch_end(rows)

    def each(self, steps, rows):
        """Yield the items of ``steps`` (an iterable of similar steps of work, such as predict's chunks) in a
        `session`, each step timed as a batch of ``rows(item)`` rows. Closing the generator early ends the session."""
        with self.session():
            steps = iter(steps)
            while True:
                self.batch_begin()
                item = next(steps, _END)
                if item is _END:
                    return
                self.batch_end(rows(item))
                yield item

    # -- the policy ------------------------------------------------------------------------------------------------

    def begin(self, verbose=0):
        """Remember the user's BLAS setting and apply the first count."""
        self.verbose = verbose
        self._previous = get_blas_threads()
        self.changes, self._batch, self._started, self._rows = [], 0, None, 0
        if self.threads is not None:
            self._counts = [self.threads]
            self._apply(self.threads)
            self._say(f"threads: {thread_count(self.threads)} (pinned)")
            return
        most = self.cpus()
        if self.max_threads is not None:
            most = min(most, self.max_threads)
        counts, self._cpus = candidate_counts(max(1, most)), most
        self._patience, self._redo = self.patience, False
        if len(counts) == 1:
            self._counts = counts
            self._apply(1)
            self._say("threads: 1 BLAS thread (one CPU available)")
            return
        self._say(f"threads: choosing among {', '.join(map(str, counts))} BLAS threads by timing batches")
        self._room_gap = ROOM_LOOK_SECONDS
        if counts == self._counts and self.chosen in counts:
            # A later fit of the same model: measure only the count kept last time (to know what it gives now); the
            # others keep their estimates and are tried within the exploration budget, which carries over too, so a
            # count that fell off a cliff last time is not paid for again at every fit.
            self._measure(only=self.chosen)
            return
        self._counts, self._estimates = counts, {}
        self._explore_spent = self._steady_time = 0.0
        self._measure()

    def batch_begin(self):
        if len(self._counts) == 1:
            return
        self._batch += 1
        if self._mode == "steady":
            self._maybe_explore()
        self._started = self.clock()

    def batch_end(self, rows=None):
        """End the step `batch_begin` started; ``rows``, if given, is its row count."""
        if len(self._counts) == 1 or self._started is None:
            return
        seconds, self._started = self.clock() - self._started, None
        if rows is not None:
            self._rows = max(self._rows, rows)
            if rows < self._rows:
                # An epoch's last batch is shorter, and takes less time at any count: measured at one count and
                # not the other it would make that count look faster. It is left out; a try in progress waits for
                # the next full batch.
                return
        if self._settling:
            self._settling = False
            if not self._decisive(seconds):
                # a try's cost includes its untimed first batch and the one back at the chosen count
                if self._mode == "explore" or self._returning:
                    self._explore_spent += max(seconds - median(self._recent), 0.0)
                self._returning = False
                return
        if self._mode == "measure":
            self._measured(seconds)
        elif self._mode == "explore":
            self._explored(seconds)
        else:
            self._steady(seconds)

    def end(self):
        """Restore the user's BLAS setting."""
        if self._previous is not None:
            set_blas_threads(self._previous)
        self._previous, self.current = None, None

    # -- internals ---------------------------------------------------------------------------------------------------

    def _apply(self, count):
        if count != self.current:
            set_blas_threads(count)
            self.current = count
            self._settling = True

    def _decisive(self, seconds):
        """Whether the first batch after a change of count is timed all the same.

        It pays for the new count's threads waking up and for cold caches, which on short batches make more
        threads look no faster than one. It is timed when it is long (`LONG_BATCH_SECONDS`), since that cost is
        then small and an untimed long batch of a slower count is not, or over `CLIFF_RATIO` times the best batch:
        a count fallen off a cliff, not worth another batch.
        """
        if seconds >= LONG_BATCH_SECONDS:
            return self._mode != "steady"
        if self._mode == "measure":
            best = self._best_measured()
            return best is not None and seconds > CLIFF_RATIO * best
        return self._mode == "explore" and seconds > CLIFF_RATIO * median(self._recent)

    def _say(self, text):
        if getattr(self, "verbose", 0) >= 2:
            print(text, flush=True)

    def _measure(self, only=None, seen=None):
        """Start measuring every candidate (or ``only`` one), the one kept last time first; ``seen``: a look at the
        load just taken, if any."""
        first = only or (self.chosen if self.chosen in self._counts else self._counts[0])
        self._queue = [first] if only else [first] + [c for c in self._counts if c != first]
        self._samples = {c: [] for c in self._counts}
        self._mode, self._losses, self._others = "measure", {}, [] if seen is None else [seen]
        self._returning = False
        self._apply(self._queue[0])

    def _measured(self, seconds):
        count = self._queue[0]
        samples = self._samples[count]
        samples.append(seconds)
        others = self.load()
        if others is not None:
            self._others.append(others)
        best = self._best_measured()
        done = len(samples) >= self.probe_batches or sum(samples) >= self.probe_seconds
        # Two slow batches, not one: a batch preempted by the scheduler takes several times the others and, alone,
        # would drop a faster count for the rest of the fit.
        slower = best is not None and (seconds > CLIFF_RATIO * best or
                                       (len(samples) >= 2 and min(samples) > self.abort * best))
        if done or slower:
            self._queue.pop(0)
            self._queue = [c for c in self._queue if self._worth_trying(c)]
            if self._queue:
                self._apply(self._queue[0])
                return
            self._estimates.update({c: median(s) for c, s in self._samples.items() if s})
            self._keep(min(self._estimates, key=self._estimates.get))

    def _best_measured(self):
        """The lowest median batch time among the counts whose measurement is over, or None before the first."""
        return min((median(s) for c, s in self._samples.items() if s and c not in self._queue), default=None)

    def _worth_trying(self, count):
        """Whether to measure ``count`` now rather than leave it to the exploration budget.

        A count whose threads find no free core can cost a hundred times a batch (they spin-wait for each other), so
        it is measured at once only when batches are long enough for that to matter little, or when the other
        threads ready to run leave it room.
        """
        smallest_measured = min((c for c, s in self._samples.items() if s), default=count)
        if count <= smallest_measured or self._best_measured() >= self.cliff:
            return True
        # The fewest seen, not the median: a process that keeps a core busy is ready to run at every look, while
        # on a quiet machine a look now and then catches a kernel thread or this process's own worker between two
        # reads, and the median of three looks would keep a larger count from ever being measured.
        return bool(self._others) and self._room(min(self._others), count)

    def _room(self, others, count):
        """Whether ``count`` threads can run beside ``others`` ready threads of other processes without a cliff.

        Only free cores count: beside a busy process, a batch at more threads than free cores can take up to a
        hundred times one thread's. The hint also counts threads this process cannot see, now and then, so it is
        read again later (`ROOM_LOOK_SECONDS`) before a count is left to the exploration budget.
        """
        return others + count <= self._cpus

    def _keep(self, count):
        changed = count != self.chosen
        # a new measurement that keeps the same count was a false alarm: wait longer before the next one
        self._patience = self.patience if changed else self._patience * 2 if self._redo else self._patience
        self.chosen, self._mode, self._redo = count, "steady", False
        self._baseline = self._estimates[count]
        self._recent, self._slow, self._fast, self._since = deque(maxlen=9), 0, 0, 0
        # The measurement is a comparison the other counts lost: their first tries cost twice their excess, so
        # that tries of a count measured slower do not take the whole exploration share from the start.
        self._losses = {c: 1 for c in self._estimates if c != count}
        self._try_at, self._returning = self._baseline, False
        # larger counts the load hint kept from being measured, to look again for room for
        self._unmeasured = [c for c in self._counts if c > count and c not in self._estimates]
        self._next_room_look = self._steady_time + self._room_gap
        self._apply(count)
        if changed or not self.changes:
            self.changes.append((self._batch, count))
            table = ", ".join(f"{c}: {milliseconds(t)}" for c, t in sorted(self._estimates.items()))
            self._say(f"threads: using {thread_count(count)} from batch {self._batch} (median batch {table})")

    def _steady(self, seconds):
        self._steady_time += seconds
        self._recent.append(seconds)
        self._since += 1
        self._slow = self._slow + 1 if seconds > self.drift * self._baseline else 0
        self._fast = self._fast + 1 if seconds * self.drift < self._baseline else 0
        # Load that leaves some batches alone and stalls others never slows ``patience`` batches in a row: the
        # mean of the recent ones catches it.
        slow_on_average = (self._since >= self._patience and
                           sum(self._recent) > self.drift * self._baseline * len(self._recent))
        if self._slow >= self._patience or self._fast >= self._patience or slow_on_average:
            ratio = median(self._recent) / self._baseline
            self._say(f"threads: batches take {ratio:.2g}x what {thread_count(self.chosen)} gave when measured; "
                      "measuring again")
            self._redo = True
            self._measure()

    # -- tries of other counts in steady state, within the exploration budget ------------------------------------

    def _try_cost(self, count):
        return try_cost(count, self.chosen, self._baseline, self._estimates.get(count), self._losses.get(count, 0),
                        self.cliff)

    def _maybe_explore(self):
        if self._unmeasured and self._steady_time >= self._next_room_look and self._found_room():
            return
        budget = self.explore_share * self._steady_time - self._explore_spent
        if budget < self._try_at or len(self._recent) < 3:
            return  # most batches end here, cheaply (the costs below were computed at nearly every batch before)
        costs = {c: self._try_cost(c) for c in self._counts if c != self.chosen}
        count = min(costs, key=costs.get)
        cost = costs[count]
        if cost > budget:
            self._try_at = cost  # the costs change only with a try or a measurement
            return
        if count > self.chosen and cost * 4 > budget:
            # Reading the load is not free: after a look that found no free core, look again only when the
            # budget has grown by another try's cost (or covers four tries, and the try goes ahead regardless).
            others = self.load()
            if others is not None and not self._room(others, count):
                self._try_at = budget + cost
                return
        self._trying, self._planned = count, cost
        self._mode = "explore"
        self._apply(count)

    def _found_room(self):
        """Look at the load again for the smallest count it kept unmeasured; measure every count if it has room now.

        Each look that finds none doubles the wait for the next, until the wait reaches what the exploration
        budget would take to cover a cliff: from then on, only the budget's tries (and their looks) remain.
        """
        count, others = self._unmeasured[0], self.load()
        if others is not None and self._room(others, count):
            self._say(f"threads: the load leaves room for {thread_count(count)} now; measuring again")
            self._measure(seen=others)
            return True
        self._room_gap *= 2
        self._next_room_look = self._steady_time + self._room_gap
        if self._room_gap * self.explore_share > self._try_cost(count):
            self._unmeasured = []
        return False

    def _explored(self, seconds):
        count, reference = self._trying, median(self._recent)
        self._estimates[count] = seconds
        self._losses[count] = self._losses.get(count, 0) + 1
        # The planned cost is charged, not only what the try took: a count that keeps losing then waits for the
        # budget to grow by its doubled cost again (charging one batch lets tries recur often once the budget has
        # grown past the cap of 32).
        self._explore_spent += max(seconds - reference, self._planned)
        self._mode, self._try_at, self._returning = "steady", self._baseline, True
        self._apply(self.chosen)
        # against the fastest recent batch, not their median: short batches jitter, and a single try beats the
        # median by 10 % by chance too often
        fastest = min(self._recent)
        if seconds * 1.1 < fastest:
            self._say(f"threads: a batch at {thread_count(count)} took {milliseconds(seconds)} against "
                      f"{milliseconds(fastest)} at best; measuring again")
            self._measure()
