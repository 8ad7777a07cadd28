"""Tries of other thread counts within a time budget: how a `ThreadPolicy` sees load leave, or a count it could
not measure find room. A mixin of `ThreadPolicy` (its steps 1 and 3), kept apart so that each file stays small."""

from .timings import median, milliseconds, thread_count

# What a batch at a count whose threads find no free core costs, in batches at one thread: 30 (784-256-128-10,
# batch 128) to 250 (64-256-128-10, batch 16) measured on 2 busy cores; the lower figure is the prior.
CLIFF_BATCHES = 30

# While the load hint keeps a count unmeasured, it is read again after this many seconds of steady batches, then
# after twice as many, and so on until the exploration budget's own looks take over (each look costs about 0.1 ms).
# Looks a few batches apart agree (measured), so the three taken while measuring can all fall in one burst of a
# thread that runs for a few milliseconds every 30 or so, outside this container's view (see `_room`).
ROOM_LOOK_SECONDS = 0.01


class Exploring:
    """`ThreadPolicy`'s tries of other counts in steady state, and its later looks for room for unmeasured ones."""

    def _explore_cost(self, count):
        """What one try of ``count`` is expected to cost: its excess over the chosen count, at least one batch,
        doubled for every try in a row that lost (up to 32 times), so tries of a count that keeps losing thin out."""
        # a count never measured may fall off a cliff: `cliff` seconds, or 30 batches (measured: 30 to 250)
        unknown = max(self.cliff, CLIFF_BATCHES * self._baseline)
        excess = max(self._estimates.get(count, unknown) - self._baseline, self._baseline)
        # Load that makes a smaller count the faster slows the chosen count's batches, which the drift watch sees:
        # tries of a smaller count are only a fallback, four times rarer (they had cost up to 5 % of a short run).
        rarer = 4 if count < self.chosen else 1
        return rarer * excess * 2 ** min(self._losses.get(count, 0), 5)

    def _maybe_explore(self):
        if self._unmeasured and self._steady_time >= self._next_room_look and self._found_room():
            return
        budget = self.explore_share * self._steady_time - self._explore_spent
        if budget < self._try_at or len(self._recent) < 3:
            return  # most batches end here, cheaply (the costs below were computed at nearly every batch before)
        costs = {c: self._explore_cost(c) for c in self._counts if c != self.chosen}
        count = min(costs, key=costs.get)
        cost = costs[count]
        if cost > budget:
            self._try_at = cost  # the costs change only with a try or a measurement
            return
        if count > self.chosen and cost * 4 > budget:
            # Reading the load costs about 0.1 ms: after a look that found no free core, look again only when the
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
        if self._room_gap * self.explore_share > self._explore_cost(count):
            self._unmeasured = []
        return False

    def _explored(self, seconds):
        count, reference = self._trying, median(self._recent)
        self._estimates[count] = seconds
        self._losses[count] = self._losses.get(count, 0) + 1
        # The planned cost is charged, not only what the try took: a count that keeps losing then waits for the
        # budget to grow by its doubled cost again (charging one batch let tries recur every 20 batches once the
        # budget had grown past the cap of 32, which cost 7 % at batch 16 on digits).
        self._explore_spent += max(seconds - reference, self._planned)
        self._mode, self._try_at, self._returning = "steady", self._baseline, True
        self._apply(self.chosen)
        # against the fastest recent batch, not their median: a single try beats the median by 10 % by chance
        # often enough (short batches jitter) to start a measurement every few hundred batches
        fastest = min(self._recent)
        if seconds * 1.1 < fastest:
            self._say(f"threads: a batch at {thread_count(count)} took {milliseconds(seconds)} against "
                      f"{milliseconds(fastest)} at best; measuring again")
            self._measure()
