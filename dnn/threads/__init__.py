"""How many BLAS threads dnn's matrix products use: a bound, a pin, and a policy that measures.

numpy's BLAS runs every product on all the machine's cores and its threads spin-wait for each other, so when other
processes keep the cores busy a product waits for descheduled threads and training slows many times over.
This package bounds the thread count by what the process may really use (`available_cpus`: CPU affinity and a
container's CPU quota), sets it through `threadpoolctl` only around dnn's own work (`blas_threads`: the user's setting
comes back afterwards), and picks it during a fit, or over a predict's chunks, from measured times (`ThreadPolicy`),
so that it follows the machine's load as it changes.

It imports nothing from the rest of dnn but `dnn.checks`.
"""

from .blas import (
    PREDICT_CHUNK,
    SMALL_PRODUCT,
    blas_threads,
    candidate_counts,
    check_threads,
    get_blas_threads,
    large_products,
    predict_threads,
    set_blas_threads,
)
from .cpus import available_cpus, cgroup_cpu_quota, runnable_others
from .policy import ThreadPolicy

__all__ = ["PREDICT_CHUNK", "SMALL_PRODUCT", "ThreadPolicy", "available_cpus", "blas_threads", "candidate_counts",
           "cgroup_cpu_quota", "check_threads", "get_blas_threads", "large_products", "predict_threads",
           "runnable_others", "set_blas_threads"]
