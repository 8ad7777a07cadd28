"""The thread policy: CPU bounds from faked affinity and cgroups, BLAS settings restored, choices from fake clocks.

No test is timed: the policy's clock is injected, and the BLAS setting is read back with threadpoolctl.
"""

from types import SimpleNamespace

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from dnn.threads import (
    ThreadPolicy,
    available_cpus,
    blas_threads,
    candidate_counts,
    cgroup_cpu_quota,
    check_threads,
    predict_threads,
    runnable_others,
)
from dnn.threads import policy as policy_module


def blas_now():
    """Every loaded BLAS library's thread count, as threadpoolctl reads it from the library itself."""
    return [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]


def quiet():
    """A fake load: no other thread ready to run."""
    return 0


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


# ----------------------------------------------------------------------------------------------------------------------
# CPU bounds


def fake_v2(root, path, limits):
    """cgroup v2: the process in ``path``; ``limits`` maps a cgroup (relative to the mount) to its cpu.max text."""
    write(root / "proc/self/cgroup", f"0::{path}\n")
    for cgroup, text in limits.items():
        write(root / "sys/fs/cgroup" / cgroup / "cpu.max", text + "\n")


def fake_v1(root, line, mount, quota, period):
    write(root / "proc/self/cgroup", f"{line}\n2:memory:/x\n")
    write(root / "sys/fs/cgroup" / mount / "cpu.cfs_quota_us", f"{quota}\n")
    write(root / "sys/fs/cgroup" / mount / "cpu.cfs_period_us", f"{period}\n")


@pytest.mark.parametrize(("text", "expected"), [("150000 100000", 2), ("200000 100000", 2), ("10000 100000", 1),
                                                ("max 100000", None), ("garbage", None)])
def test_cgroup_v2_quota_is_ceil_of_quota_over_period(tmp_path, text, expected):
    fake_v2(tmp_path, "/job", {"job": text})
    assert cgroup_cpu_quota(tmp_path) == expected


def test_cgroup_v2_a_parent_limit_binds_too(tmp_path):
    fake_v2(tmp_path, "/user.slice/job", {"user.slice/job": "max 100000", "user.slice": "300000 100000"})
    assert cgroup_cpu_quota(tmp_path) == 3
    fake_v2(tmp_path, "/user.slice/job", {"user.slice/job": "100000 100000", "user.slice": "300000 100000"})
    assert cgroup_cpu_quota(tmp_path) == 1


def test_cgroup_v2_inside_a_container_reads_the_mount_itself(tmp_path):
    # /proc/self/cgroup names the host's path, which the container does not see
    fake_v2(tmp_path, "/kubepods/pod1/abc", {"": "250000 100000"})
    assert cgroup_cpu_quota(tmp_path) == 3


@pytest.mark.parametrize(("line", "mount"), [("4:cpu,cpuacct:/docker/abc", "cpu,cpuacct"), ("3:cpu:/", "cpu")])
def test_cgroup_v1_quota(tmp_path, line, mount):
    fake_v1(tmp_path, line, mount, 250000, 100000)
    assert cgroup_cpu_quota(tmp_path) == 3
    fake_v1(tmp_path, line, mount, -1, 100000)
    assert cgroup_cpu_quota(tmp_path) is None


def test_no_cgroup_files_means_no_quota(tmp_path):
    assert cgroup_cpu_quota(tmp_path) is None
    assert available_cpus(tmp_path, affinity=lambda: 6) == 6


@pytest.mark.parametrize(("affinity", "quota", "expected"), [(8, "300000 100000", 3), (2, "300000 100000", 2),
                                                             (64, "50000 100000", 1), (4, "max 100000", 4)])
def test_available_cpus_is_the_smaller_of_affinity_and_quota(tmp_path, affinity, quota, expected):
    fake_v2(tmp_path, "/", {"": quota})
    assert available_cpus(tmp_path, affinity=lambda: affinity) == expected


def test_available_cpus_on_this_machine_is_within_its_affinity():
    import os

    cpus = available_cpus()
    assert 1 <= cpus <= len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cpus >= 1


# ----------------------------------------------------------------------------------------------------------------------
# Values and BLAS settings


@pytest.mark.parametrize(("value", "expected"), [(None, None), (1, 1), (3, 3), (np.int64(2), 2)])
def test_check_threads_accepts_none_and_positive_integers(value, expected):
    assert check_threads(value) == expected


@pytest.mark.parametrize("value", [0, -1, 1.5, True, "2", [2]])
def test_check_threads_names_bad_values(value):
    with pytest.raises(ValueError, match="threads") as raised:
        check_threads(value)
    assert repr(value) in str(raised.value)


def test_candidate_counts():
    assert candidate_counts(1) == [1]
    assert candidate_counts(2) == [1, 2]
    assert candidate_counts(6) == [1, 2, 4, 6]
    assert candidate_counts(8) == [1, 2, 4, 8]


@pytest.mark.parametrize("outer", [1, 2])
def test_blas_threads_sets_and_restores_exactly(outer):
    with threadpool_limits(limits=outer, user_api="blas"):
        before = blas_now()
        inner = 3 - outer
        with blas_threads(inner):
            assert blas_now() == [inner] * len(before)
        assert blas_now() == before
        with pytest.raises(RuntimeError), blas_threads(inner):
            raise RuntimeError("inside")
        assert blas_now() == before
        with blas_threads(None):
            assert blas_now() == before


def test_blas_threads_refuses_bad_counts_without_changing_anything():
    before = blas_now()
    with pytest.raises(ValueError, match="0"), blas_threads(0):
        pass
    assert blas_now() == before


def test_predict_threads():
    assert predict_threads(7, 10, (64, 10), cpus=2) == 7  # pinned: as given, even above the CPUs
    assert predict_threads(None, 16, (64, 256, 128, 10), cpus=2, load=quiet) == 1  # 16*64*256 multiply-adds
    assert predict_threads(None, 200_000, (784, 256, 128, 10), cpus=2, load=quiet) == 2  # 2048*784*256 a chunk
    assert predict_threads(None, 200_000, (784, 256, 128, 10), cpus=1, load=quiet) == 1
    # rows beyond one chunk do not make a chunk's products larger
    assert predict_threads(None, 10**6, (64, 16, 10), cpus=2, load=quiet) == 1
    # other threads ready to run take their cores first
    with blas_threads(1):  # no BLAS workers of this process among the runnable threads
        assert predict_threads(None, 200_000, (784, 256, 128, 10), cpus=8, load=lambda: 3) == 5
        assert predict_threads(None, 200_000, (784, 256, 128, 10), cpus=2, load=lambda: 2) == 1
    assert predict_threads(None, 200_000, (784, 256, 128, 10), cpus=2, load=lambda: None) == 2
    # a passing thread seen at one look of three is not load (the fewest of the looks counts)
    looks = iter([1, 0, 1])
    assert predict_threads(None, 200_000, (784, 256, 128, 10), cpus=2, load=lambda: next(looks)) == 2
    with pytest.raises(ValueError, match="threads"):
        predict_threads(0, 10, (64, 10))


def test_runnable_others_reads_proc_loadavg(tmp_path):
    write(tmp_path / "proc/loadavg", "3.91 2.08 0.91 5/100 9563\n")
    assert runnable_others(tmp_path) == 4
    write(tmp_path / "proc/loadavg", "0.00 0.00 0.00 1/100 9563\n")
    assert runnable_others(tmp_path) == 0
    write(tmp_path / "proc/loadavg", "nonsense\n")
    assert runnable_others(tmp_path) is None
    assert runnable_others(tmp_path / "missing") is None


# ----------------------------------------------------------------------------------------------------------------------
# The policy, driven by a tiny training loop with a fake clock


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def train(policy, clock, seconds, batches, first=0, fail_at=None, verbose=0, check_blas=False):
    """The loop a fit runs, with the policy as its callback; batch ``first + b`` takes ``seconds(count, first + b)``.

    Returns the count in use at every batch.
    """
    run = SimpleNamespace(verbose=verbose)
    used = []
    policy.on_train_begin(run)
    try:
        policy.on_epoch_begin(run, 0)
        for b in range(batches):
            policy.on_batch_begin(run, b)
            used.append(policy.current)
            if check_blas:
                assert blas_now() == [policy.current] * len(blas_now())
            clock.now += seconds(policy.current, first + b)
            if b == fail_at:
                raise RuntimeError("diverged")
            policy.on_batch_end(run, b, {})
        policy.on_epoch_end(run, 0, {})
    finally:
        policy.on_train_end(run)
    return used


@pytest.fixture
def recorded(monkeypatch):
    """Record the counts the policy sets instead of setting them (for fake CPU counts above this machine's)."""
    settings = []
    monkeypatch.setattr(policy_module, "set_blas_threads", settings.append)
    monkeypatch.setattr(policy_module, "get_blas_threads", lambda: ["user"])
    return settings


@pytest.mark.parametrize(("times", "best"), [({1: 0.010, 2: 0.004}, 2), ({1: 0.004, 2: 0.010}, 1)])
def test_policy_keeps_the_faster_count_and_restores_blas(times, best):
    clock = Clock()
    policy = ThreadPolicy(clock=clock, cpus=lambda: 2, load=quiet)
    with threadpool_limits(limits=2, user_api="blas"):
        before = blas_now()
        used = train(policy, clock, lambda count, b: times[count], 30, check_blas=True)
        assert blas_now() == before
    assert policy.chosen == best
    assert used[-10:] == [best] * 10
    assert policy.current is None


def test_a_count_that_falls_off_a_cliff_costs_one_batch():
    clock = Clock()
    policy = ThreadPolicy(clock=clock, cpus=lambda: 2, load=quiet)
    used = train(policy, clock, lambda count, b: {1: 0.001, 2: 0.200}[count], 200)
    # one warm-up and three measured batches at 1 thread, then a single batch at 2, and 1 from then on
    assert used[:6] == [1, 1, 1, 1, 2, 1]
    assert used.count(2) == 1
    # a later fit of the same model does not pay the cliff again before its exploration budget allows
    used = train(policy, clock, lambda count, b: {1: 0.001, 2: 0.200}[count], 200)
    assert used.count(2) == 0


def test_under_load_short_batches_leave_more_threads_to_the_exploration_budget():
    # two other threads ready to run on two CPUs: a second BLAS thread would find no free core
    clock = Clock()
    policy = ThreadPolicy(clock=clock, cpus=lambda: 2, load=lambda: 2)
    used = train(policy, clock, lambda count, b: {1: 0.001, 2: 0.200}[count], 6000)
    assert used[:300] == [1] * 300
    # tried only once the budget (5 % of the time so far) covers four times the expected cost of a cliff (0.05 s,
    # less a batch at 1 thread), since the load leaves no free core; then rarer still
    assert used.count(2) == 1 and policy.chosen == 1
    assert used.index(2) >= 4 * (0.05 - 0.001) / 0.05 / 0.001


def test_under_load_the_budget_still_finds_a_faster_count():
    clock = Clock()
    policy = ThreadPolicy(clock=clock, cpus=lambda: 2, load=lambda: 2)
    used = train(policy, clock, lambda count, b: {1: 0.002, 2: 0.001}[count], 3000)
    assert policy.chosen == 2 and used[-100:].count(2) >= 95


def test_under_load_long_batches_measure_every_count_at_once():
    clock = Clock()
    policy = ThreadPolicy(clock=clock, cpus=lambda: 2, load=lambda: 2)
    train(policy, clock, lambda count, b: {1: 0.08, 2: 0.05}[count], 10)
    # a warm-up and 3 batches at 1, a batch at 2 that the change of count leaves untimed, 3 at 2
    assert policy.changes[0][1] == 2 and policy.changes[0][0] <= 8


def test_a_thread_passing_at_some_looks_does_not_keep_more_threads_unmeasured():
    # a quiet machine: one look in three or so catches a kernel thread (or this process's worker between two reads)
    clock, looks = Clock(), iter([0, 1, 1] * 100)
    policy = ThreadPolicy(clock=clock, cpus=lambda: 2, load=lambda: next(looks))
    used = train(policy, clock, lambda count, b: {1: 0.002, 2: 0.0012}[count], 20)
    assert used[:8] == [1, 1, 1, 1, 2, 2, 2, 2]
    assert policy.chosen == 2


def test_a_burst_in_the_load_hint_delays_measuring_more_threads_only_briefly():
    # quiet, but the three looks while measuring one thread fall in a burst of a thread this process cannot see
    # (4 to 10 batches in every 30 to 40 on the development machine): the hint is read again 10 ms later
    clock, looks = Clock(), iter([1, 1, 1] + [0] * 100)
    policy = ThreadPolicy(clock=clock, cpus=lambda: 2, load=lambda: next(looks))
    used = train(policy, clock, lambda count, b: {1: 0.002, 2: 0.0012}[count], 40)
    # 4 batches measuring 1, 5 steady (10 ms), then 3 more at 1 and 4 at 2 (the first untimed)
    assert used.index(2) == 12 and policy.chosen == 2 and used[-20:].count(2) >= 18  # a try of 1 at most


def test_a_single_lucky_try_does_not_start_a_measurement():
    # after the first measurement both counts take the same time, with 10 % jitter: a try at 2 that beats the median
    # of recent batches by 10 % is chance, not a faster count
    clock = Clock()
    policy = ThreadPolicy(clock=clock, cpus=lambda: 2, load=quiet)
    jitter = np.random.default_rng(0).uniform(0.9, 1.1, 20_000)

    def seconds(count, b):
        return 0.002 if count == 2 and b < 8 else 0.001 * jitter[b]

    used = train(policy, clock, seconds, 20_000)
    assert used.count(2) >= 30  # tried, often enough for lucky tries to be among them
    # measured once (1 wins), then only tries of 2 (an untimed batch after the change, and the try): no new
    # measurement, which would run 4 batches in a row at 2
    assert policy.chosen == 1 and len(policy.changes) == 1
    assert "2, 2, 2" not in ", ".join(map(str, used[10:]))


def test_an_epochs_shorter_last_batch_is_left_out_of_the_measurement():
    # 1,797 rows in batches of 1,024: every other batch has 773 rows. Two threads are 1.25 times faster per row; timed
    # batch by batch, one thread's samples (773, 1,024, 773 rows) would beat two's (1,024, 773, 1,024).
    clock = Clock()
    policy = ThreadPolicy(clock=clock, cpus=lambda: 2, load=quiet)
    run = SimpleNamespace(verbose=0)
    policy.on_train_begin(run)
    for b in range(40):
        rows = 1024 if b % 2 == 0 else 773
        policy.on_batch_begin(run, b)
        clock.now += rows * {1: 5e-6, 2: 4e-6}[policy.current]
        policy.on_batch_end(run, b, {"loss": 0.0, "size": rows})
    policy.on_train_end(run)
    assert policy.changes[0][1] == 2 and len(policy.changes) == 1


def test_a_count_that_keeps_losing_is_tried_ever_more_rarely():
    # one try costs its planned share of the budget (one batch, doubled per loss, at most 32 batches): 5 % of 20,000
    # one-millisecond batches pays for 1 + 2 + 4 + 8 + 16 and then 30 tries of 32
    clock = Clock()
    policy = ThreadPolicy(clock=clock, cpus=lambda: 2, load=quiet)
    used = train(policy, clock, lambda count, b: {1: 0.001, 2: 0.0013}[count], 20_000)
    tries = sum(1 for a, b in zip(used[10:], used[11:]) if (a, b) == (1, 2))  # after the first measurement
    assert policy.chosen == 1 and 30 <= tries <= 40


def test_the_load_is_read_rarely_while_it_keeps_a_larger_count_waiting():
    # reading it costs about 0.1 ms: not at every batch while the budget grows from one try's cost to four
    clock, looks = Clock(), []
    policy = ThreadPolicy(clock=clock, cpus=lambda: 2, load=lambda: looks.append(1) or 2)
    used = train(policy, clock, lambda count, b: {1: 0.001, 2: 0.200}[count], 6000)
    assert used.count(2) == 1
    # three while measuring, seven more 10 ms to 1.28 s of steady batches apart (the wait doubling), then about one
    # per try's worth of budget
    assert len(looks) <= 3 + 7 + 6


def test_waking_threads_do_not_drop_a_faster_count():
    # the first batch after a change to 2 threads takes 1.7 times one thread's (its threads wake up, measured on
    # digits at batch 128), the next ones 0.8 times: 2 must win, not be dropped as fallen off a cliff
    clock, previous = Clock(), [None]

    def seconds(count, b):
        woke, previous[0] = count == 2 and previous[0] != 2, count
        return 0.001 * (1.7 if woke else 0.8 if count == 2 else 1.0)

    policy = ThreadPolicy(clock=clock, cpus=lambda: 2, load=quiet)
    train(policy, clock, seconds, 20)
    assert policy.changes[0][1] == 2


def test_long_batches_are_measured_once_each():
    # a batch of half a second times reliably: the warm-up counts, and one batch per count decides
    clock = Clock()
    policy = ThreadPolicy(clock=clock, cpus=lambda: 2, load=quiet)
    used = train(policy, clock, lambda count, b: {1: 0.9, 2: 0.5}[count], 6)
    assert used == [1, 2, 2, 2, 2, 2]
    assert policy.changes == [(2, 2)]


def test_a_long_first_batch_after_a_change_of_count_is_timed():
    # 30 ms and 26 ms batches: waking threads is a small part of them, so no batch is left untimed and 50 ms of
    # batches measure a count
    clock = Clock()
    policy = ThreadPolicy(clock=clock, cpus=lambda: 2, load=quiet)
    used = train(policy, clock, lambda count, b: {1: 0.030, 2: 0.026}[count], 10)
    assert used[:5] == [1, 1, 2, 2, 2] and policy.changes == [(4, 2)]


def test_tries_with_their_untimed_batches_cost_at_most_the_exploration_share():
    # 2 threads lose by 1 ms a batch, and waking 1 thread again after a try costs another 2 ms: the tries, their
    # untimed batches and the batch back together take at most 5 % of the time
    clock = Clock()
    policy = ThreadPolicy(clock=clock, cpus=lambda: 2, load=quiet)
    previous = [None]

    def seconds(count, b):
        waking = 0.002 if count == 1 and previous[0] == 2 and b > 8 else 0.0
        previous[0] = count
        return {1: 0.001, 2: 0.002}[count] + waking

    used = train(policy, clock, seconds, 20_000)
    assert policy.chosen == 1
    # first try only once the budget covers twice the excess (the measurement was its first loss): 40 batches
    assert used.index(2, 8) >= 8 + 40
    extra = clock.now - 20_000 * 0.001
    assert extra <= 0.05 * clock.now


def test_load_that_stalls_some_batches_is_seen_on_average():
    # 2 threads win until batch 100; then every third batch at 2 threads stalls 50 times over (beside a busy
    # process) and the others stay fast: never 5 slow batches in a row, but 17 times slower on average
    clock = Clock()
    policy = ThreadPolicy(clock=clock, cpus=lambda: 2, load=quiet)

    def seconds(count, b):
        if count == 1:
            return 0.002
        return 0.05 if b >= 100 and b % 3 == 0 else 0.001

    used = train(policy, clock, seconds, 400)
    assert used[90:100] == [2] * 10
    assert policy.chosen == 1 and used[-100:].count(1) >= 95


def test_tries_of_a_smaller_count_are_four_times_rarer():
    # the drift watch sees load that would make a smaller count faster: its tries are a fallback
    clock = Clock()
    policy = ThreadPolicy(clock=clock, cpus=lambda: 2, load=quiet)
    used = train(policy, clock, lambda count, b: {1: 0.002, 2: 0.001}[count], 2000)
    # the first try waits until 5 % of the time covers four times twice the excess (the measurement was one
    # loss): 4 * 2 * 0.001 s / 0.05 / 0.001 s = 160 batches
    assert policy.chosen == 2 and used.index(1, 8) >= 8 + 160


def test_policy_measures_again_when_batches_drift(recorded):
    clock = Clock()
    policy = ThreadPolicy(clock=clock, cpus=lambda: 4, load=quiet)

    def seconds(count, batch):  # 1 thread wins, until load arrives at batch 50 and 4 threads win
        quiet = {1: 0.002, 2: 0.003, 4: 0.004}
        loaded = {1: 0.008, 2: 0.005, 4: 0.001}
        return (quiet if batch < 50 else loaded)[count]

    used = train(policy, clock, seconds, 100)
    assert used[13:50].count(1) >= 35  # at most a try or two of another count
    # 1 warm-up, 3 batches at 1, 1 untimed and 3 at 2 (not over 1.5 times 1), 1 untimed (2 times 1: waking
    # threads, perhaps) and 2 at 4 (over 1.5 times, twice: dropped without a third)
    assert policy.changes[0] == (11, 1)
    batch, count = policy.changes[1]
    # patience, 3 batches at each count, an untimed batch after each change of count (to 2, to 4), and a try of
    # another count that may fall in between (an untimed batch and a timed one, and the untimed batch back)
    assert count == 4 and batch <= 50 + policy.patience + 3 * 3 + 2 + 3
    assert used[-20:] == [4] * 20
    assert set(recorded[:-1]) <= {1, 2, 4} and recorded[-1] == ["user"]


def test_one_slow_batch_does_not_drop_a_faster_count():
    # a batch preempted by the scheduler (3 times the others) while measuring 2 threads: their median still wins
    clock = Clock()
    policy = ThreadPolicy(clock=clock, cpus=lambda: 2, load=quiet)
    used = train(policy, clock, lambda count, b: 0.0021 if b == 5 else {1: 0.0009, 2: 0.0007}[count], 40)
    assert used[:9] == [1, 1, 1, 1, 2, 2, 2, 2, 2] and policy.changes == [(8, 2)]


def test_policy_tries_other_counts_when_load_leaves(recorded):
    # while one thread runs, load that leaves does not slow it: only a try of another count can tell
    clock = Clock()
    policy = ThreadPolicy(clock=clock, cpus=lambda: 2, load=quiet)

    def seconds(count, batch):
        return 0.004 if count == 1 else (0.020 if batch < 100 else 0.002)

    used = train(policy, clock, seconds, 2000)
    assert policy.chosen == 2 and used[-100:].count(2) >= 95
    # the tries of the slow count cost at most the exploration share of the time, plus the measurement's three
    # batches at 2 (the untimed first, 5 times one thread's: not yet a cliff; then two over 1.5 times: dropped)
    batches_at_2_before = used[:100].count(2)
    assert batches_at_2_before * 0.016 <= 0.05 * 100 * 0.004 + 3 * 0.016


def test_pinned_count_is_honoured_whatever_the_timings():
    clock = Clock()
    for pinned in (1, 2):
        policy = ThreadPolicy(threads=pinned, clock=clock, cpus=lambda: 2)
        with threadpool_limits(limits=3 - pinned, user_api="blas"):
            before = blas_now()
            # timings that would make the automatic choice the other count
            times = {1: {1: 0.002, 2: 0.001}, 2: {1: 0.001, 2: 0.002}}[pinned]
            used = train(policy, clock, lambda count, b, times=times: times[count], 40, check_blas=True)
            assert blas_now() == before
        assert used == [pinned] * 40


def test_pinned_count_above_the_cpus_is_honoured(recorded):
    clock = Clock()
    policy = ThreadPolicy(threads=8, clock=clock, cpus=lambda: 2)
    assert train(policy, clock, lambda count, b: 0.001, 5) == [8] * 5
    assert recorded == [8, ["user"]]


@pytest.mark.parametrize(("affinity", "quota", "limit"), [(64, "200000 100000", 2), (2, "max 100000", 2),
                                                          (64, "50000 100000", 1)])
def test_policy_never_exceeds_affinity_or_quota(tmp_path, recorded, affinity, quota, limit):
    fake_v2(tmp_path, "/", {"": quota})
    clock = Clock()
    policy = ThreadPolicy(clock=clock, cpus=lambda: available_cpus(tmp_path, affinity=lambda: affinity), load=quiet)
    # more threads always look faster: the policy would take as many as it may
    used = train(policy, clock, lambda count, b: 0.01 / count, 300)
    assert max(used) == limit and used[-1] == limit
    assert max(r for r in recorded if r != ["user"]) == limit


def test_max_threads_bounds_the_choice(recorded):
    clock = Clock()
    policy = ThreadPolicy(max_threads=4, clock=clock, cpus=lambda: 16, load=quiet)
    used = train(policy, clock, lambda count, b: 0.01 / count, 100)
    assert max(used) == 4


def test_blas_is_restored_after_an_exception_inside_the_fit():
    clock = Clock()
    for policy in (ThreadPolicy(clock=clock, cpus=lambda: 2, load=quiet), ThreadPolicy(threads=1, clock=clock)):
        with threadpool_limits(limits=2, user_api="blas"):
            with pytest.raises(RuntimeError, match="diverged"):
                train(policy, clock, lambda count, b: 0.001 * count, 20, fail_at=7)
            assert blas_now() == [2] * len(blas_now())


def test_session_and_batch_outside_a_fit():
    # predict's chunks: the same policy over a loop of similar steps, restored when the loop ends
    clock = Clock()
    policy = ThreadPolicy(clock=clock, cpus=lambda: 2, load=quiet)
    with threadpool_limits(limits=2, user_api="blas"):
        with policy.session():
            for _ in range(20):
                with policy.batch():
                    clock.now += {1: 0.001, 2: 0.003}[policy.current]
        assert blas_now() == [2] * len(blas_now())
    assert policy.chosen == 1


def test_each_times_every_step_and_restores_blas_when_closed_early(recorded):
    clock = Clock()
    policy = ThreadPolicy(clock=clock, cpus=lambda: 2, load=quiet)

    def steps():  # chunks of 100 rows, the last shorter; each "takes" its count's time while it is produced
        for start in range(0, 2050, 100):
            clock.now += {1: 0.003, 2: 0.001}[policy.current]
            yield start, min(start + 100, 2050)

    rows = [stop - start for start, stop in policy.each(steps(), rows=lambda step: step[1] - step[0])]
    assert sum(rows) == 2050 and policy.chosen == 2 and recorded[-1] == ["user"]
    taken = policy.each(steps(), rows=lambda step: step[1] - step[0])
    next(taken)
    assert policy.current == 2
    taken.close()  # a consumer that stops early (or raises) ends the session
    assert policy.current is None and recorded[-1] == ["user"]


def test_verbose_2_says_the_count_and_its_changes(capsys, recorded):
    clock = Clock()
    policy = ThreadPolicy(clock=clock, cpus=lambda: 2, load=quiet)
    train(policy, clock, lambda count, b: {1: 0.002, 2: 0.001}[count] * (1 if b < 30 else 10 ** (count - 1)), 60,
          verbose=2)
    out = capsys.readouterr().out
    assert "using 2 BLAS threads from batch 8" in out
    assert "measuring again" in out
    assert "using 1 BLAS thread from batch" in out
    train(ThreadPolicy(threads=1, clock=clock), clock, lambda count, b: 0.001, 3, verbose=1)
    assert capsys.readouterr().out == ""


def test_bad_constructor_values_are_named():
    with pytest.raises(ValueError, match="max_threads"):
        ThreadPolicy(max_threads=0)
    with pytest.raises(ValueError, match="threads"):
        ThreadPolicy(threads=-2)
