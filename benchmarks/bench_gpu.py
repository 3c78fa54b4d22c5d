"""CPU against GPU (CuPy) in one run: simulation, reconstruction and fitting, as ratios.

Run on a machine with CuPy and a CUDA device:  python benchmarks/bench_gpu.py [--out FILE.json]
(``--devices cpu`` runs the CPU half alone, ``--small`` shrinks every case for a quick try.)

1. simulation: the shipped t1-irse protocol (128 x 128, 7 TIs x 128 lines, TR 4.5 s) on the NIST
   phantom in the 20-channel siemens-prisma-3t, noise off; agreement = max |cpu - gpu| over the
   largest |cpu| sample of every readout;
2. reconstruction: the 2D radial scan of ``bench_recon.py`` (256 x 256, 8 coils, 402 spokes of
   512 samples): gridding (``nufft``) and iterative SENSE (20 CG iterations); NRMSE of each
   device's image against the phantom, and between the two devices;
3. fitting: ``--voxels`` synthetic voxels (IR T1 with 8 TIs, VFA T1 with 5 flips, MESE T2 with
   16 echoes), NumPy arrays against CuPy arrays; agreement = largest relative difference.

Every GPU time is the best of two runs after one warm-up (CUDA compilation and plan caches are
excluded, as they are paid once per process); the CPU uses the engine's default threads.
Prints a Markdown table and writes the numbers as JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import tempfile
import importlib.util
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_recon import radial_kspace  # noqa: E402

from harmoniq.fitting import fit_t1_ir, fit_t1_vfa, fit_t2_mese  # noqa: E402
from harmoniq.io.reference_tools import nrmse  # noqa: E402
from harmoniq.protocols import ReconOptions, load_protocol  # noqa: E402
from harmoniq.recon.reconstruct import reconstruct  # noqa: E402
from harmoniq.sequences.export import export  # noqa: E402
from harmoniq.simulation import simulate  # noqa: E402
from harmoniq.simulation.epg import cpmg  # noqa: E402


def _sync():
    """Wait for the GPU's queued work; without CuPy nothing is queued."""
    if importlib.util.find_spec("cupy") is not None:
        import cupy

        cupy.cuda.Device().synchronize()


def timed(function, repeats: int):
    """(best wall time in s over ``repeats`` runs, last result); the GPU is synchronised."""
    best, result = math.inf, None
    for _ in range(repeats):
        _sync()
        start = time.perf_counter()
        result = function()
        _sync()
        best = min(best, time.perf_counter() - start)
    return best, result


def bench_simulation(devices, matrix: int) -> dict:
    out = {}
    with tempfile.TemporaryDirectory() as folder:
        seq_path, _ = export(load_protocol("t1-irse"), folder)
        signals = {}
        for device in devices:
            run = lambda: simulate(str(seq_path), "nist", "siemens-prisma-3t", matrix=matrix, noise=False,
                                   device=device)
            seconds, raw = timed(run, 1)
            out[f"{device}_s"] = seconds
            signals[device] = raw.signals
    if len(signals) == 2:
        out["max_rel_diff"] = max(float(np.abs(a - b).max() / np.abs(a).max())
                                  for a, b in zip(signals["cpu"], signals["gpu"]))
    return out


def bench_recon(devices, n: int) -> dict:
    kspace, phantom, _ = radial_kspace(n=n, spokes=int(round(n * math.pi / 2)))
    reference = np.abs(phantom)
    out, images = {}, {}
    for method in ("nufft", "sense"):
        for device in devices:
            repeats = 1 if device == "cpu" else 2
            if device == "gpu":
                reconstruct(kspace, ReconOptions(method), device=device)  # warm-up
            seconds, image = timed(lambda: reconstruct(kspace, ReconOptions(method), device=device), repeats)
            data = np.asarray(image.data[0, 0, 0, 0, 0])
            out[f"{method}_{device}_s"] = seconds
            out[f"{method}_{device}_nrmse"] = nrmse(data, reference)
            images[method, device] = data
        if len(devices) == 2:
            cpu, gpu = images[method, "cpu"], images[method, "gpu"]
            out[f"{method}_cpu_gpu_rel_diff"] = float(np.linalg.norm(gpu - cpu) / np.linalg.norm(cpu))
    return out


def fitting_cases(voxels: int, rng):
    t1 = rng.uniform(0.2, 3.0, voxels)
    t2 = rng.uniform(0.02, 0.3, voxels)
    ti = np.array([0.03, 0.06, 0.12, 0.25, 0.5, 1.0, 2.0, 3.0])
    flips, tr = np.radians([2.0, 5.0, 10.0, 15.0, 20.0]), 0.015
    te = 0.01 * np.arange(1, 17)
    noise = lambda x: np.abs(x + rng.normal(0, 0.02, x.shape))
    e1 = np.exp(-tr / t1)
    return {
        "t1-ir": (fit_t1_ir, noise(1 - 2 * np.exp(-ti[:, None] / t1)), (ti,), "T1"),
        "t1-vfa": (fit_t1_vfa, noise(np.sin(flips)[:, None] * (1 - e1) / (1 - e1 * np.cos(flips)[:, None])),
                   (flips, tr), "T1"),
        "t2-mese": (fit_t2_mese, noise(np.moveaxis(np.abs(cpmg(16, 0.01, 1.0, t2, math.radians(180))), -1, 0)),
                    (te,), "T2"),
    }


def bench_fitting(devices, voxels: int) -> dict:
    out = {}
    for name, (fit, images, args, key) in fitting_cases(voxels, np.random.default_rng(0)).items():
        images = images[:, None, None, :]
        results = {}
        for device in devices:
            if device == "gpu":
                import cupy

                data = cupy.asarray(images)
                fit(data[..., :1000], *args)  # warm-up: kernels compiled once
                seconds, result = timed(lambda: fit(data, *args)[key], 2)
                results[device] = cupy.asnumpy(result).ravel()
            else:
                seconds, result = timed(lambda: fit(images, *args)[key], 1)
                results[device] = np.asarray(result).ravel()
            out[f"{name}_{device}_s"] = seconds
        if len(devices) == 2:
            ok = np.isfinite(results["cpu"]) & np.isfinite(results["gpu"])
            out[f"{name}_max_rel_diff"] = float(np.max(np.abs(results["gpu"][ok] / results["cpu"][ok] - 1)))
            out[f"{name}_nan_mismatch"] = int(np.sum(np.isfinite(results["cpu"]) != np.isfinite(results["gpu"])))
    return out


def table(results: dict, devices) -> str:
    columns = ["case", *(f"{d} (s)" for d in devices), "cpu/gpu", "agreement"]
    rows = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    cases = [("simulation t1-irse", results.get("simulation", {}), "", "max_rel_diff")]
    cases += [(f"recon {m}", results.get("recon", {}), f"{m}_", f"{m}_cpu_gpu_rel_diff") for m in ("nufft", "sense")]
    cases += [(f"fit {n}", results.get("fitting", {}), f"{n}_", f"{n}_max_rel_diff") for n in ("t1-ir", "t1-vfa", "t2-mese")]
    for label, numbers, prefix, agreement in cases:
        times = [numbers.get(f"{prefix}{d}_s", math.nan) for d in devices]
        ratio = times[0] / times[1] if len(times) == 2 else math.nan
        rows.append(f"| {label} | " + " | ".join(f"{t:.3f}" for t in times)
                    + f" | {ratio:.1f} | {numbers.get(agreement, math.nan):.1e} |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", nargs="+", default=["cpu", "gpu"], choices=["cpu", "gpu"])
    parser.add_argument("--small", action="store_true", help="matrix 48, radial 64, 20,000 voxels")
    parser.add_argument("--voxels", type=int, default=1_000_000)
    parser.add_argument("--cases", nargs="+", default=["fitting", "recon", "simulation"],
                        choices=["fitting", "recon", "simulation"])
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    matrix, n, voxels = (48, 64, 20_000) if args.small else (128, 256, args.voxels)
    results = {"machine": f"{platform.node()} {platform.processor() or platform.machine()}, {os.cpu_count()} cores",
               "python": platform.python_version(), "numpy": np.__version__,
               "date": time.strftime("%Y-%m-%d"), "devices": args.devices}
    if "gpu" in args.devices:
        import cupy

        results["cupy"] = cupy.__version__
        results["gpu"] = cupy.cuda.runtime.getDeviceProperties(0)["name"].decode()
    for name, bench, size in (("fitting", bench_fitting, voxels), ("recon", bench_recon, n),
                              ("simulation", bench_simulation, matrix)):
        if name not in args.cases:
            continue
        results[name] = bench(args.devices, size)
        print(name, json.dumps(results[name]), flush=True)
        if args.out:
            args.out.write_text(json.dumps(results, indent=1))
    print(table(results, args.devices))


if __name__ == "__main__":
    main()
