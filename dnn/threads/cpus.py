"""How many CPUs this process may keep busy: its CPU affinity, bounded by a container's (cgroup) CPU quota.

A BLAS sees all the host's cores even where a container may use only a share of them; this is the bound dnn's
automatic thread count never exceeds. Both inputs can be faked: the file-system root and the affinity function.
"""

import math
import os


def _affinity_count():
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


def _read(path):
    try:
        with open(path) as handle:
            return handle.read().strip()
    except (OSError, UnicodeDecodeError):
        return None


def _quota(quota, period):
    """ceil(quota / period), at least 1, or None for no limit or text that is not a limit."""
    try:
        quota, period = int(quota), int(period)
    except (TypeError, ValueError):
        return None
    if quota <= 0 or period <= 0:
        return None
    return max(1, math.ceil(quota / period))


def _cgroup_dirs(mount, path):
    """The directory of the process's cgroup under ``mount`` and all its ancestors up to the mount itself.

    A limit anywhere up the hierarchy binds; inside a container the mount is usually the container's own cgroup and
    the path in /proc/self/cgroup the host's, which does not exist here, so the mount itself is always tried too.
    """
    parts = [p for p in (path or "").split("/") if p]
    dirs = [os.path.join(mount, *parts[:i]) for i in range(len(parts), 0, -1)]
    return [*dirs, mount]


def cgroup_cpu_quota(root="/"):
    """The CPU count a cgroup quota allows (v2 ``cpu.max`` or v1 ``cpu.cfs_quota_us``), or None without a quota.

    Parameters
    ----------
    root : str
        The file-system root under which ``proc/self/cgroup`` and ``sys/fs/cgroup`` are read (tests fake it).

    Returns
    -------
    int or None
        ceil(quota / period), at least 1, the smallest over every limited cgroup found; None when none is limited.
    """
    v2_path, v1_path, v1_names = "", "", ["cpu", "cpu,cpuacct", "cpuacct,cpu"]
    for line in (_read(os.path.join(root, "proc", "self", "cgroup")) or "").splitlines():
        fields = line.split(":", 2)
        if len(fields) != 3:
            continue
        if fields[0] == "0" and fields[1] == "":
            v2_path = fields[2]
        elif "cpu" in fields[1].split(","):
            v1_path = fields[2]
            v1_names.insert(0, fields[1])
    base = os.path.join(root, "sys", "fs", "cgroup")
    limits = []
    for directory in _cgroup_dirs(base, v2_path):
        text = _read(os.path.join(directory, "cpu.max"))
        if text and len(text.split()) == 2:
            limits.append(_quota(*text.split()))
    for name in dict.fromkeys(v1_names):
        for directory in _cgroup_dirs(os.path.join(base, name), v1_path):
            limits.append(_quota(_read(os.path.join(directory, "cpu.cfs_quota_us")),
                                 _read(os.path.join(directory, "cpu.cfs_period_us"))))
    limits = [n for n in limits if n is not None]
    return min(limits) if limits else None


def available_cpus(root="/", affinity=None):
    """The number of CPUs this process may keep busy: its affinity, bounded by a container's CPU quota.

    Parameters
    ----------
    root : str
        File-system root for the cgroup files (see `cgroup_cpu_quota`).
    affinity : callable, optional
        Returns the number of CPUs the process may run on; default ``len(os.sched_getaffinity(0))``, or
        ``os.cpu_count()`` where affinity is not available.

    Returns
    -------
    int
        At least 1.
    """
    cpus = (affinity or _affinity_count)()
    quota = cgroup_cpu_quota(root)
    if quota is not None:
        cpus = min(cpus, quota)
    return max(1, int(cpus))


def runnable_others(root="/"):
    """How many threads of other processes are ready to run right now (``/proc/loadavg``), or None if unknown.

    An instantaneous count, host-wide even in a container: a hint for whether more BLAS threads would find free
    cores, never a bound (the policy's measurements decide). This process's own runnable threads are left out: its
    BLAS workers keep spinning for a while after a product, and would otherwise look like someone else's load.
    """
    text = _read(os.path.join(root, "proc", "loadavg"))
    try:
        running = int(text.split()[3].split("/")[0])
    except (AttributeError, IndexError, ValueError):
        return None
    return max(0, running - _own_runnable(root))


def _own_runnable(root):
    """This process's threads that run or are ready to (state R), the caller included; 1 if unknown."""
    tasks = os.path.join(root, "proc", "self", "task")
    try:
        names = os.listdir(tasks)
    except OSError:
        return 1
    states = (_read(os.path.join(tasks, name, "stat")) for name in names)
    return max(1, sum(1 for text in states if text and text.rpartition(") ")[2][:1] == "R"))
