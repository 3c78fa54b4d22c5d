"""Dask clients for work that runs in parallel: a local cluster of worker processes, or a running
``dask.distributed`` scheduler. Used by study batches (:mod:`harmoniq.batch`) and comparisons
(:mod:`harmoniq.experiments`)."""

from __future__ import annotations

import logging
import warnings
from contextlib import contextmanager

from harmoniq.errors import HarmoniqError


@contextmanager
def dask_client(workers: int = 2, scheduler: str | None = None):
    """A ``dask.distributed`` Client: ``workers`` single-threaded processes of a local cluster, or the
    scheduler at address ``scheduler``; closed (and the local cluster stopped) on exit."""
    import dask
    from dask.distributed import Client, LocalCluster

    if scheduler is None:
        if workers < 1:
            raise HarmoniqError(f"--workers={workers} must be at least 1")
        # dask starts its workers with MALLOC_TRIM_THRESHOLD_=65536: glibc then returns every freed array
        # to the system, and the simulator's per-event temporaries page-fault anew each time (t2-se at
        # matrix 64: 15 s per simulation on a worker against 4.6 s in one process). One BLAS/OpenMP
        # thread per worker (dask's other settings) stays.
        environ = {k: v for k, v in dask.config.get("distributed.nanny.pre-spawn-environ").items()
                   if k != "MALLOC_TRIM_THRESHOLD_"}
        with warnings.catch_warnings(), dask.config.set({"distributed.nanny.pre-spawn-environ": environ}):
            warnings.simplefilter("ignore")  # dask's own port and socket notices are not the user's concern
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                                   silence_logs=logging.CRITICAL)
            client = Client(cluster)
    else:
        cluster = None
        try:
            client = Client(scheduler, timeout="10s")
        except OSError as exc:
            raise HarmoniqError(f"--scheduler {scheduler}: no dask scheduler answers there ({exc})") from exc
    try:
        yield client
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            client.close()
            if cluster is not None:
                cluster.close()
