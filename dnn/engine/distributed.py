"""Training over several processes, on one machine or many: ``fit(..., distributed=True)`` under ``torchrun``.

Every process (a *rank*) holds the same model and the same rows. Each global
mini-batch of ``batchSize`` rows is cut into one contiguous share per rank;
every rank computes the gradient of its share with the output delta scaled by
1 / (rows of the whole batch), so that the sum over the ranks is the gradient
of the whole batch. ``torch.distributed`` sums the flat gradient in place
(gloo for numpy arrays, NCCL for CuPy's on a GPU: the array is handed over as
a tensor that shares its memory, nothing is copied), together with the batch's summed loss, correct
count and Ctrl-C request, and every rank applies the same update. The ranks
start from rank 0's weights, optimizer state and generator, so they draw the
same epoch orders and dropout masks and end with the same weights: those of a
one-process fit with the same global batch, to float rounding.

What follows for a script:

- give every rank the same X, y and weights (checked: their row counts and
  sums); a ``validationSplit`` is drawn alike on every rank;
- every decision is the same on every rank: the epoch loss and accuracy come
  from the summed values, validation is rank 0's evaluation sent to all, and
  the check for non-finite weights after an epoch covers every rank's rows, so
  callbacks, early stopping and the rollback after a divergence act alike; a
  Ctrl-C on any rank stops every rank after the same batch;
- rank 0 alone prints (the other ranks fit with verbose 0 and no warnings);
  every rank ends with the model, so save it once:
  ``if is_main_process(): model.saveModel(path)``; a callback that writes
  files should be given to rank 0 only;
- each rank's BLAS threads are chosen up to the machine's CPUs divided by the
  ranks on it (``LOCAL_WORLD_SIZE``), unless the model pins ``threads``;
- batch normalization is refused: its statistics are those of the whole batch;
- on GPUs (``device="cuda"``) the process group is NCCL's, one GPU per rank:
  select it before building the model
  (``cupy.cuda.Device(int(os.environ["LOCAL_RANK"])).use()``).

PyTorch is imported only here, and only when a fit asks for it.
"""

import contextlib
import functools
import os
import warnings

import numpy as np

from dnn.threads import ThreadPolicy, available_cpus

#: What ``torchrun`` sets in every process it starts, and ``init_process_group`` reads.
LAUNCH_VARIABLES = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")

#: The entries after the gradient in the array a batch reduces: summed loss, correct count, stop requests.
TAIL = 3


def is_main_process():
    """Whether this process is rank 0 of a ``torch.distributed`` run, or not part of one: the one that prints and saves.

    Reads the process group when one is running, else ``RANK`` as ``torchrun`` sets it; needs no PyTorch.
    """
    dist = _torch_distributed()
    if dist is not None and dist.is_available() and dist.is_initialized():
        return dist.get_rank() == 0
    return int(os.environ.get("RANK", "0")) == 0


def finish():
    """End a script run under ``torchrun``: wait for every rank, then close the process group (nothing otherwise).

    Its last line: a rank that exits while another still talks to it through gloo (rank 0 evaluating and saving)
    can abort in PyTorch's teardown ("terminate called without an active exception").
    """
    dist = _torch_distributed()
    if dist is not None and dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def _torch_distributed():
    try:
        import torch.distributed as dist
    except ImportError:
        return None
    return dist


def connect(device=None):
    """The :class:`Communicator` of this process; starts the default process group when none runs yet: gloo, or
    NCCL for a model on a GPU (``device``, a :class:`dnn.devices.Device`; the host's by default).

    Raises
    ------
    ValueError
        When PyTorch (with ``torch.distributed``) is missing, or the process was not started by ``torchrun`` (or
        another launcher that sets RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT) and no process group runs.
    """
    dist = _torch_distributed()
    if dist is None:
        raise ValueError("fit(distributed=True) needs PyTorch's torch.distributed, and torch is not installed: "
                         "pip install torch (or the extra: pip install -e \".[torch]\")")
    if not dist.is_available():
        raise ValueError("fit(distributed=True) needs torch.distributed, which this build of PyTorch lacks")
    if not dist.is_initialized():
        missing = [name for name in LAUNCH_VARIABLES if name not in os.environ]
        if missing:
            raise ValueError(f"fit(distributed=True) runs in processes started by torchrun, and this process was "
                             f"not started by torchrun: {', '.join(missing)} not set. Start the script with "
                             f"torchrun --nproc_per_node 2 script.py (see examples/distributed.py)")
        on_gpu = device is not None and not device.is_host
        if on_gpu:  # NCCL works on the GPU CuPy uses in this process
            import torch

            torch.cuda.set_device(device.xp.cuda.Device().id)
        dist.init_process_group("nccl" if on_gpu else "gloo")
    # A group for CUDA tensors alone (nccl) gets a gloo twin for dnn's numpy arrays.
    return Communicator(dist, None if "gloo" in str(dist.get_backend()) else _gloo_group())


@functools.cache
def _gloo_group():
    """A gloo group of every rank, made once per process (every rank makes it at its first distributed fit)."""
    import torch.distributed as dist

    return dist.new_group(backend="gloo")


@contextlib.contextmanager
def quiet(distributed):
    """A context in which ranks other than 0 of a distributed fit warn nothing (rank 0 speaks for all)."""
    if not distributed or is_main_process():
        yield
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


class Communicator:
    """What one rank of a distributed fit exchanges with the others, through ``torch.distributed``.

    Attributes
    ----------
    rank, world_size : int
    local_world_size : int
        Ranks on this machine (``LOCAL_WORLD_SIZE``, set by ``torchrun``; the world size otherwise).
    stop_agreed : bool
        Whether some rank had a Ctrl-C request at a batch every rank has reduced: then every rank stops after it.
    """

    def __init__(self, dist, group=None):
        import torch

        self.torch, self.dist, self.group = torch, dist, group
        self.rank, self.world_size = dist.get_rank(group), dist.get_world_size(group)
        self.local_world_size = int(os.environ.get("LOCAL_WORLD_SIZE", self.world_size))
        self.stop_agreed, self._local_stop = False, None

    def share(self, m):
        """(start, stop) of this rank's contiguous share of a batch of ``m`` rows; shares differ by 1 row at most."""
        return m * self.rank // self.world_size, m * (self.rank + 1) // self.world_size

    def all_reduce(self, array):
        """Sum ``array`` (C-contiguous, owned by dnn) over the ranks, in place: the tensor shares its memory."""
        tensor, group = self._tensor(array)
        self.dist.all_reduce(tensor, group=group)

    def broadcast(self, array):
        """Overwrite ``array`` with rank 0's, in place."""
        if array.size:
            tensor, group = self._tensor(array)
            self.dist.broadcast(tensor, src=self._source(group), group=group)

    def _tensor(self, array):
        """(a tensor sharing ``array``'s memory, the group that reduces it): numpy arrays go through the gloo
        group, a GPU's (CuPy's, by DLPack) through the default one."""
        if isinstance(array, np.ndarray):
            return self.torch.from_numpy(array), self.group
        return self.torch.from_dlpack(array), None

    def from_main(self, function, *args):
        """``function(*args)`` as rank 0 computes it, on every rank (the others wait)."""
        return self.broadcast_object(function(*args) if self.rank == 0 else None)

    def broadcast_object(self, value):
        """Rank 0's ``value`` (anything picklable), on every rank."""
        box = [value]
        self.dist.broadcast_object_list(box, src=self._source(self.group), group=self.group)
        return box[0]

    def _source(self, group):
        """Rank 0 of ``group``, as the global rank torch.distributed's calls take."""
        return 0 if group is None else self.dist.get_global_rank(group, 0)

    def all_true(self, flag):
        """Whether ``flag`` is true on every rank."""
        count = np.array([0.0 if flag else 1.0])
        self.all_reduce(count)
        return count[0] == 0

    def agreed_generator(self, rng, targets, weights):
        """A generator of ``rng``'s kind in rank 0's state (the same shuffles, splits and dropout on every rank),
        once :meth:`check_same_rows` has passed."""
        self.check_same_rows(targets, weights)
        copy = np.random.Generator(type(rng.bit_generator)())
        copy.bit_generator.state = self.broadcast_object(rng.bit_generator.state)
        return copy

    def check_same_rows(self, targets, weights):
        """ValueError on every rank unless every rank has as many rows, with the same targets and weights (sums).

        The targets are also summed weighted by row number, so rows shuffled differently on each rank (with the
        same labels) are caught too; the features are not compared (a pass over X, which may be a file).
        """
        matrix = np.asarray(targets, dtype=np.float64).reshape(len(targets), -1)
        # each column weighted by its number: one-hot rows of different classes sum differently
        labels = matrix @ np.arange(1, matrix.shape[1] + 1, dtype=np.float64)
        sums = [len(targets), float(np.sum(targets, dtype=np.float64)),
                0.0 if weights is None else float(np.sum(weights, dtype=np.float64)),
                float(labels.sum()), float(np.arange(1, len(labels) + 1, dtype=np.float64) @ labels)]
        both = np.array(sums + [-value for value in sums])  # max of the values, and minus their min
        self.all_reduce_max(both)
        low, high = -both[len(sums):], both[:len(sums)]
        if not np.array_equal(low, high):
            raise ValueError(f"fit(distributed=True) needs the same X, y and weights on every rank (each takes its "
                             f"share of every batch); the ranks have {int(low[0])} to {int(high[0])} rows, targets "
                             f"summing to {low[1]:g} to {high[1]:g}")

    def all_reduce_max(self, array):
        self.dist.all_reduce(self.torch.from_numpy(array), op=self.dist.ReduceOp.MAX, group=self.group)

    def share_start(self, state):
        """Rank 0's parameters, running statistics and optimizer state, on every rank."""
        self.broadcast(state.params.flat)
        self.broadcast(state.params.buffers)
        state.optimizer.restore(self.broadcast_object(state.optimizer.snapshot()))

    def thread_policy(self, threads):
        """The thread policy of one rank: ``threads`` when pinned, else measured up to the CPUs / local ranks."""
        return ThreadPolicy(threads, max_threads=max(1, available_cpus() // self.local_world_size))

    def agreed_interrupt(self, flag):
        """Reduce ``flag()`` (this rank's Ctrl-C request) with every batch; returns what the ranks agreed on."""
        self._local_stop = flag
        return self.interrupted

    def interrupted(self):
        return self.stop_agreed

    def reduce_batch(self, reduced, loss, correct):
        """Sum ``reduced`` (the gradient, then :data:`TAIL` entries) over the ranks; (loss, correct) of the batch."""
        tail = reduced[-TAIL:]
        tail[0], tail[1] = loss, correct
        tail[2] = 1.0 if self._local_stop is not None and self._local_stop() else 0.0
        self.all_reduce(reduced)
        self.stop_agreed = self.stop_agreed or bool(tail[2] > 0)
        return float(tail[0]), round(float(tail[1]))
