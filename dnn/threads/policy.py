"""The adaptive thread policy: a fit callback that measures batch times and keeps the fastest BLAS thread count."""

import time
from collections import deque
from contextlib import contextmanager

from .blas import candidate_counts, check_threads, get_blas_threads, set_blas_threads
from .cpus import available_cpus, runnable_others
from .exploring import ROOM_LOOK_SECONDS, Exploring
from .timings import median, milliseconds, thread_count

# A batch over this many times the best batch is taken for a count fallen off a cliff and ends its measurement or try
# at once, even the first after a change of count (untimed otherwise): waking threads made that one 1.7 times a
# 0.75 ms batch (digits, batch 128), a preempted batch 3 times; a cliff makes it 30 or more.
CLIFF_RATIO = 5

# A batch this long is timed even right after a change of count: waking the threads costs about 0.25 ms (a 128 x 784
# x 256 product took 700 us right after a change to 2 threads, 460 us later), a small part of it.
LONG_BATCH_SECONDS = 0.02

_END = object()


class ThreadPolicy(Exploring):
    """Choose the BLAS thread count of a fit from measured batch times, and follow the machine's load.

    A fit callback (hooks ``on_train_begin``, ``on_batch_begin``, ``on_batch_end``, ``on_train_end``); outside a fit,
    `session` and `batch` give the same behaviour over any loop of similar steps (predict's chunks).

    With ``threads`` an int, the count is pinned for the whole fit. With None:

    1. *Measure*: the first batch after any change of count (the fit's first too) is not timed, since it pays for
       waking threads and cold caches, unless it is long (`LONG_BATCH_SECONDS`) or over `CLIFF_RATIO` times the best
       batch. Every candidate count (1, powers of two, all available CPUs) runs ``probe_batches`` batches, or fewer
       that take ``probe_seconds`` together, starting with the count chosen last time. A candidate is dropped early
       when two of its batches take over ``abort`` times the best median so far, or one over `CLIFF_RATIO` times, so
       a count that falls off a cliff under load costs one batch, not several. Even one such batch can cost a hundred
       short ones, so while batches take under ``cliff`` seconds a larger count is measured at once only if the
       threads ready to run elsewhere (``load``, the fewest seen while measuring) leave it free cores. Otherwise the
       load is looked at again after 10 ms of steady batches, then 20, 40... (a measurement starts as soon as it
       leaves room), and past a second the count waits for the exploration budget (below).
    2. *Keep the fastest* by median batch time.
    3. *Watch*: when ``patience`` batches in a row take over ``drift`` times (or under 1/``drift`` of) what the
       chosen count gave when measured, or the recent batches do on average, the load has changed: measure again.
       Load that leaves while one thread is in use does not slow that thread, so now and then a batch tries another
       count (after an untimed one), spending at most ``explore_share`` of the time so far on such tries, the untimed
       batches and the one back included. A costly count, or one that keeps losing (the measurement counting as its
       first loss), is retried ever more rarely; a smaller count, which the drift watch covers, and a larger count
       while ``load`` leaves it no free core, four times more rarely. A try faster than the fastest recent batch by
       10 % starts a new measurement. A new measurement that keeps the same count doubles the patience, so noisy
       batch times do not buy one every few batches.
    4. *Remember*: a later fit with the same policy measures only the count it kept, and tries the others within
       the exploration budget, which carries over.

    Only full batches are timed: a batch with fewer rows than the largest so far (an epoch's last) is left out.

    The BLAS setting is changed only when the count changes (a change costs microseconds) and the user's setting is
    restored by ``on_train_end``, which the fit must call in a ``finally``.

    Thread counts change BLAS's rounding: with OpenBLAS 0.3.31 every product measured (float32, 16 to 2,048 rows,
    64 to 784 wide) differed between 1 and 2 threads in the last bit, and a fit's weights by up to 6e-8. A fit whose
    count is chosen by timing therefore matches a pinned fit only to rounding; pin ``threads`` for bit-identical reruns.

    Parameters
    ----------
    threads : int or None
        A pinned count, or None to measure.
    max_threads : int or None
        An upper bound on the automatic choice (it is always bounded by `available_cpus`).
    probe_batches, probe_seconds, drift, patience, abort, explore_share, cliff : optional
        The measurement's constants, described above.
    clock : callable
        Returns seconds; ``time.perf_counter`` (tests inject a fake).
    cpus : callable
        Returns the CPUs available; `available_cpus` (tests inject a fake).
    load : callable
        Returns how many other threads are ready to run, or None; `runnable_others` (tests inject a fake).

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
                # not the other it would make that count look faster (on 1,797 rows in batches of 1,024, every
                # other batch). It is left out; a try in progress waits for the next full batch.
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

        It pays for the new count's threads waking up and for cold caches, which on short batches made more
        threads look no faster than one (digits and mnist, quiet: 1 thread kept where 2 were 1.2-1.3 times faster).
        It is timed when it is long (`LONG_BATCH_SECONDS`), since that cost is then small and an untimed batch of
        the slower count cost 4 % of a 2-second run (784-2048-2048-10, batch 128), or over `CLIFF_RATIO` times the
        best batch: a count fallen off a cliff, not worth another batch.
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
        # Two slow batches, not one: a batch preempted by the scheduler took 3 times the others (2.03 against
        # 0.66 ms, digits, batch 128) and, alone, had dropped a count 1.3 times faster for the rest of the fit.
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
        # on a quiet machine one look in three or so catches a kernel thread or this process's own worker between
        # two reads (measured), and the median of three looks then kept two threads from ever being measured.
        return bool(self._others) and self._room(min(self._others), count)

    def _room(self, others, count):
        """Whether ``count`` threads can run beside ``others`` ready threads of other processes without a cliff.

        Only free cores count: on 2 cores, single batches at 2 threads beside 1 busy process took from 1 to over
        100 times one thread's (0.7 to 77 ms, digits, batch 128). The hint also counts threads this process cannot
        see: on the quiet development machine ``/proc/loadavg`` showed a third runnable thread, with no third
        thread in state R anywhere in ``/proc``, for 4 to 10 batches in every 30 to 40 (7 to 10 % of looks), so
        the load hint is read again later (`ROOM_LOOK_SECONDS`) before a count is left to the exploration budget.
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
        # that tries of a count measured slower do not take the whole exploration share from the start (at 2
        # threads on mnist, batch 16, tries of 1 had cost 5 % of a 2-second run).
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
        # Load that leaves some batches alone and stalls others (2 threads beside 1 busy process: 0.7 ms, then
        # 77 ms) never slows ``patience`` batches in a row: the mean of the recent ones catches it.
        slow_on_average = (self._since >= self._patience and
                           sum(self._recent) > self.drift * self._baseline * len(self._recent))
        if self._slow >= self._patience or self._fast >= self._patience or slow_on_average:
            ratio = median(self._recent) / self._baseline
            self._say(f"threads: batches take {ratio:.2g}x what {thread_count(self.chosen)} gave when measured; "
                      "measuring again")
            self._redo = True
            self._measure()
