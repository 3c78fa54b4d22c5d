"""Simulate one .seq file on a voxel phantom with MRzero (phase distribution graphs).

Runs inside a separate virtual environment that holds ``mrzerocore`` and torch (harmoniq never
imports torch); ``bench_mrzero.py`` calls it through that environment's python:

    python mrzero_runner.py SEQ PHANTOM.npz OUT.npz [--threads 2] [--states 200 --min-state 1e-3
                            --min-emitted 1e-2 --min-latent 1e-2]

PHANTOM.npz holds arrays in MRzero's (x, y, z) order: ``pd``, ``t1_s``, ``t2_s``, ``t2prime_s``,
``b0_hz``, ``b1`` and ``coil_sens`` (coils, x, y, z), plus ``voxel_size_m`` (x, y, z). OUT.npz gets
``signal`` (all ADC samples in time order, coils) and ``timings_s``/``peak_rss_mib`` as JSON text.
The graph thresholds default to the values of MRzero's documentation (Endres et al., MRM 2024).
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import numpy as np


def simulate(seq_path: str, phantom_path: str, states: int, min_state: float, min_emitted: float,
             min_latent: float) -> tuple[np.ndarray, dict]:
    import MRzeroCore as mr0
    import torch

    timings = {}
    start = time.perf_counter()
    seq = mr0.Sequence.import_file(seq_path)
    timings["import_s"] = time.perf_counter() - start
    with np.load(phantom_path) as maps:
        voxel_mm = 1e3 * maps["voxel_size_m"]
        affine = torch.zeros(3, 4)
        affine[:3, :3] = torch.diag(torch.as_tensor(voxel_mm, dtype=torch.float32))
        phantom = mr0.VoxelGridPhantom(
            PD=torch.from_numpy(maps["pd"]), T1=torch.from_numpy(maps["t1_s"]), T2=torch.from_numpy(maps["t2_s"]),
            T2dash=torch.from_numpy(maps["t2prime_s"]), D=torch.zeros(maps["pd"].shape),
            B0=torch.from_numpy(maps["b0_hz"]), B1=torch.from_numpy(maps["b1"]),
            coil_sens=torch.from_numpy(maps["coil_sens"]), affine=affine)
    data = phantom.build()
    start = time.perf_counter()
    graph = mr0.compute_graph(seq, data, states, min_state)
    timings["graph_s"] = time.perf_counter() - start
    start = time.perf_counter()
    signal = mr0.execute_graph(graph, seq, data, min_emitted_signal=min_emitted, min_latent_signal=min_latent,
                               print_progress=False)
    timings["execute_s"] = time.perf_counter() - start
    timings["total_s"] = timings["import_s"] + timings["graph_s"] + timings["execute_s"]
    return signal.detach().cpu().numpy().astype(np.complex64), timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("seq")
    parser.add_argument("phantom")
    parser.add_argument("out")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--states", type=int, default=200)
    parser.add_argument("--min-state", type=float, default=1e-3)
    parser.add_argument("--min-emitted", type=float, default=1e-2)
    parser.add_argument("--min-latent", type=float, default=1e-2)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    signal, timings = simulate(args.seq, args.phantom, args.states, args.min_state, args.min_emitted,
                               args.min_latent)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    np.savez(args.out, signal=signal, timings_s=json.dumps(timings), peak_rss_mib=peak)


if __name__ == "__main__":
    main()
