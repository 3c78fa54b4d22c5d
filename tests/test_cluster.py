"""The local Dask workers run numpy code at the speed of one process: glibc keeps freed memory for reuse
(no MALLOC_TRIM_THRESHOLD_ from dask's defaults, which made each simulation about 3x slower on a
worker), and each worker keeps one BLAS/OpenMP thread."""

import os

from harmoniq.cluster import dask_client


def _environment():
    return {k: os.environ.get(k) for k in ("MALLOC_TRIM_THRESHOLD_", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")}


def test_local_workers_keep_freed_memory_and_one_thread():
    with dask_client(workers=1) as client:
        (environment,) = client.run(_environment).values()
    assert environment == {"MALLOC_TRIM_THRESHOLD_": None, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
