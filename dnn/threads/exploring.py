"""What a `ThreadPolicy` expects a try of another thread count to cost: the budget of its tries in steady state."""

# What a batch at a count whose threads find no free core is taken to cost before it is measured, in batches at the
# chosen count: the low end of what such batches cost (the benchmark results have the figures).
CLIFF_BATCHES = 30

# While the load hint keeps a count unmeasured, it is read again after this many seconds of steady batches, then
# after twice as many, and so on until the exploration budget's own looks take over. Looks a few batches apart agree,
# so the three taken while measuring can all fall in one burst of a thread this process cannot see (see
# `ThreadPolicy._room`).
ROOM_LOOK_SECONDS = 0.01


def try_cost(count, chosen, baseline, estimate, losses, cliff):
    """What one try of ``count`` is expected to cost, in seconds.

    Its excess over ``baseline``, the batch time of the ``chosen`` count, at least one batch, doubled for every try
    in a row that lost (``losses``, up to 32 times), so tries of a count that keeps losing thin out. ``estimate`` is
    the count's last measured or tried batch time, None for a count never measured: that one may fall off a cliff,
    and is taken to cost ``cliff`` seconds or `CLIFF_BATCHES` batches.
    """
    unknown = max(cliff, CLIFF_BATCHES * baseline)
    excess = max((unknown if estimate is None else estimate) - baseline, baseline)
    # Load that makes a smaller count the faster slows the chosen count's batches, which the drift watch sees:
    # tries of a smaller count are only a fallback, four times rarer.
    rarer = 4 if count < chosen else 1
    return rarer * excess * 2 ** min(losses, 5)
