"""In-voxel B0 dephasing: ROI T2/T1 of the 2D spin-echo methods with K x K in-plane spins per voxel
(the scanner's B0 map sampled across each voxel) against one in-plane spin, with the scanner's B0
and with B0 turned off; the in-voxel B0 effect is the difference of the two changes (the control
removes what more in-plane spins change without B0: sampling of in-plane gradient moments).

    .venv/bin/python benchmarks/effect_in_voxel_b0.py [scanner] [matrix] [K] [protocols]

Noise-free runs on the NIST phantom; each run writes its own BIDS dataset in a temporary folder.
"""

from __future__ import annotations

import functools
import importlib
import sys
import tempfile
from pathlib import Path

import numpy as np

from harmoniq.analysis.compare import roi_rows
from harmoniq.experiments import measurement
from harmoniq.pipeline import run
from harmoniq.simulation import SpinSampling

simulate_module = importlib.import_module("harmoniq.simulation.simulate")  # the module, not the function


def roi_means(protocol: str, scanner: str, matrix: int, outdir: Path, k: int, effects_off: tuple) -> dict:
    """ROI name -> (reference, mean) in ms of the in-range ROIs of a noise-free run with k x k spins."""
    original = simulate_module.simulate
    if k > 1:
        simulate_module.simulate = functools.partial(original, sampling=SpinSampling(per_voxel=(1, k, k)))
    try:
        result = run(protocol, outdir, scanner=scanner, matrix=matrix, noise=False, effects_off=effects_off)
    finally:
        simulate_module.simulate = original
    rows, _ = roi_rows(measurement("effect", scanner, result))
    return {r.roi: (r.reference_ms, r.mean_ms) for r in rows if r.in_range}


def main(scanner: str = "ge-premier-3t", matrix: int = 64, k: int = 3, protocols: str = "t2-se,t1-irse") -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for protocol in protocols.split(","):
            change = {}
            for off in ((), ("b0",)):
                one = roi_means(protocol, scanner, matrix, Path(tmp) / f"one{len(off)}", 1, off)
                many = roi_means(protocol, scanner, matrix, Path(tmp) / f"many{len(off)}", k, off)
                change[off] = {roi: many[roi][1] / one[roi][1] - 1 for roi in one}
            b0 = {roi: change[()][roi] - change[("b0",)][roi] for roi in change[()]}
            for roi in b0:
                print(f"{protocol} {roi}: {k}x{k} vs 1 spin with B0 {100 * change[()][roi]:+.3f} %, without B0 "
                      f"{100 * change[('b0',)][roi]:+.3f} %, in-voxel B0 {100 * b0[roi]:+.3f} %")
            print(f"{protocol} on {scanner}, matrix {matrix}: in-voxel B0 max |effect| "
                  f"{100 * np.max(np.abs(list(b0.values()))):.3f} % over {len(b0)} spheres")


if __name__ == "__main__":
    args = sys.argv[1:]
    main(*(t(a) for t, a in zip((str, int, int, str), args)))
