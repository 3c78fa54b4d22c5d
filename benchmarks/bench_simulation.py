"""Simulator benchmarks: speed of a full IR spin echo, and how many spins crushers need.

Run from the repository root:  python benchmarks/bench_simulation.py
Results (with machine and date) go to BENCHMARKS.md by hand.

1. The shipped t1-irse protocol as built (128 x 128, 7 inversion times x 128 lines, TR 4.5 s) on
   the NIST phantom in the 20-channel simulated siemens-prisma-3t, with the automatic spin rule:
   wall time and peak memory (``ru_maxrss``).
2. The shipped t1-vfa protocol (3D, 8 partitions) at 64 x 64 on the NIST phantom in
   ``ideal-3t``, with diffusion (water at 20 degC) and without: wall time and spins per voxel.
   (t1-irse is a 2D slab sequence, which the engine simulates without diffusion.)
3. CPMG with imperfect refocusing (B1 0.75) and one crusher cycle per voxel on each side of
   every 180: largest deviation from the EPG engine against the number of spins per voxel
   along the crusher axis (EPG is the limit of infinitely many spins).
"""

from __future__ import annotations

import math
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "simulation"))

from sim_sequences import cpmg, echo_signals, ideal_scanner, uniform_phantom  # noqa: E402

from harmoniq.protocols import load_protocol  # noqa: E402
from harmoniq.sequences.export import export  # noqa: E402
from harmoniq.simulation import SpinSampling, epg, simulate  # noqa: E402


def bench_t1_irse() -> dict:
    with tempfile.TemporaryDirectory() as folder:
        seq_path, _ = export(load_protocol("t1-irse"), folder)
        start = time.perf_counter()
        raw = simulate(str(seq_path), "nist", "siemens-prisma-3t", matrix=128, seed=1)
        wall = time.perf_counter() - start
    return {"wall_s": wall, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "readouts": len(raw.signals), "coils": raw.signals[0].shape[0]}


def bench_t1_vfa_diffusion(matrix: int = 64) -> dict:
    from harmoniq.seqfile import read_seq
    from harmoniq.simulation.scanner_model import load_scanner_model
    from harmoniq.simulation.simulate import make_phantom_for

    out = {}
    with tempfile.TemporaryDirectory() as folder:
        protocol = load_protocol("t1-vfa").with_values(matrix=matrix)
        seq_path, _ = export(protocol, folder)
        sequence, scanner = read_seq(seq_path), load_scanner_model("ideal-3t")
        for label in ("diffusion", "no diffusion"):
            phantom = make_phantom_for("nist", sequence, scanner, matrix, fov_m=protocol.parameters.fov_m, plate="t1")
            if label == "no diffusion":
                phantom.diffusivity_m2_s = None
            start = time.perf_counter()
            simulate(sequence, phantom, scanner, noise=False)
            out[label] = {"wall_s": round(time.perf_counter() - start, 1)}
    return out


def bench_crusher_spins(counts=(4, 8, 16, 32, 64)) -> dict:
    t1, t2, esp, echoes, b1 = 1.0, 0.1, 10e-3, 8, 0.75
    reference = np.abs(epg.cpmg(echoes, esp, t1, t2, math.pi, b1=b1))
    out = {}
    for n in counts:
        iso = np.abs(echo_signals(cpmg(esp, echoes, crusher_area=1e3), uniform_phantom(t1=t1, t2=t2),
                                  ideal_scanner(b1=b1), SpinSampling(per_voxel=(n, 1, 1))))
        out[n] = float(np.abs(iso / reference - 1).max())
    return out


if __name__ == "__main__":
    print(f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}")
    print("t1-irse, 128 x 128, siemens-prisma-3t:", bench_t1_irse())
    print(f"t1-vfa 3D, 64 x 64 x 8, ideal-3t: {bench_t1_vfa_diffusion()}")
    print("CPMG vs EPG, max relative deviation by spins per crusher cycle:", bench_crusher_spins())
