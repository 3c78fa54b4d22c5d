"""Reader and reconstruction benchmarks; prints the Markdown section of BENCHMARKS.md.

(a) bulk ISMRMRD read vs a loop of ``ismrmrd.Dataset.read_acquisition``;
(b) ESPIRiT + SENSE vs BART ``ecalib`` + ``pics`` (2 threads) on a 256 x 256, 8-coil, R = 2
    Shepp-Logan dataset from the ISMRMRD reference generator: time and NRMSE against the
    phantom stored in the file (scaled, see :mod:`harmoniq.io.reference_tools`);
(c) GRAPPA time (and pygrappa's ``cgrappa`` when installed);
(d) non-Cartesian: a 2D radial scan (256 x 256, 8 birdcage coils, 402 full spokes of 512
    samples, readout oversampled twice; k-space by sigpy's NUFFT of a Shepp-Logan):
    density compensation (exact ring areas of the spokes), gridding (``nufft``) and iterative SENSE (20 CG
    iterations) end to end, and BART ``pics -t`` (20 CG iterations, our coil maps).

Run: ``OMP_NUM_THREADS=2 python benchmarks/bench_recon.py`` (needs ismrmrd-tools and bart).
"""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
import tempfile
import time
from pathlib import Path

import ismrmrd
import numpy as np
import sigpy
from sigpy.mri import birdcage_maps

from harmoniq.protocols import ReconOptions
from harmoniq.io.fourier import k_to_image
from harmoniq.io.header import AcquisitionHeader
from harmoniq.io.reader import read_ismrmrd, read_raw
from harmoniq.io.reference_tools import generate_shepp_logan, nrmse, read_cfl, stored_reference, write_cfl
from harmoniq.io.seq_sorting import NonCartesianKSpace
from harmoniq.recon import coils
from harmoniq.recon.calibration import acs, with_calibration_lines
from harmoniq.recon.grappa import grappa
from harmoniq.recon.iterative import reconstruct_frame
from harmoniq.recon.nufft import density_compensation, grid_coordinates
from harmoniq.recon.reconstruct import reconstruct

REPEATS = 5
THREADS = "2"


def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo (Linux), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def best_of(function, repeats=REPEATS):
    """Smallest wall time of ``repeats`` calls (s) and the last result."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return min(times), result


def bench_read(path: Path) -> dict:
    def loop():
        dataset = ismrmrd.Dataset(str(path), "dataset", create_if_needed=False)
        acquisitions = [dataset.read_acquisition(i) for i in range(dataset.number_of_acquisitions())]
        dataset.close()
        return acquisitions

    bulk, (_, heads, _) = best_of(lambda: read_raw(path))
    looped, _ = best_of(loop, repeats=2)
    sorted_time, _ = best_of(lambda: read_ismrmrd(path))
    return {"acquisitions": len(heads), "bulk_s": bulk, "loop_s": looped, "sorted_s": sorted_time}


def bench_sense(path: Path, workdir: Path) -> dict:
    reference, _ = stored_reference(path)
    kspace = with_calibration_lines(read_ismrmrd(path))
    frame = (0, 0, 0, 0, 0)
    k, mask = kspace.data[frame], kspace.mask[frame]
    measured = k * mask[None, :, :, None]

    def ours():
        maps = coils.espirit_maps(acs(kspace, frame[:4], 0), kspace.grid_shape)
        return reconstruct_frame(measured, maps, mask, "sense")

    reconstruct_frame(measured, np.ones_like(measured), mask, "sense", iterations=1)  # import/warm-up
    ours_s, image = best_of(ours)
    write_cfl(workdir / "k", measured)
    env = dict(os.environ, OMP_NUM_THREADS=THREADS)

    def bart():
        subprocess.run(["bart", "ecalib", "-m1", workdir / "k", workdir / "s"], check=True, capture_output=True,
                       env=env)
        subprocess.run(["bart", "pics", "-S", "-l2", "-r", "0.01", workdir / "k", workdir / "s", workdir / "x"],
                       check=True, capture_output=True, env=env)
        return read_cfl(workdir / "x").reshape(image.shape)

    bart_s, bart_image = best_of(bart)
    return {"ours_s": ours_s, "bart_s": bart_s, "ours_nrmse": nrmse(image, reference),
            "bart_nrmse": nrmse(bart_image, reference)}


def bench_grappa(path: Path) -> dict:
    reference, _ = stored_reference(path)
    kspace = with_calibration_lines(read_ismrmrd(path))
    frame = (0, 0, 0, 0, 0)
    k, mask, block = kspace.data[frame], kspace.mask[frame], acs(kspace, frame[:4], 0)
    ours_s, filled = best_of(lambda: grappa(k, mask, block, (1, 2)))
    out = {"ours_s": ours_s, "ours_nrmse_rss": nrmse(coils.rss(k_to_image(filled)), reference)}
    try:
        import pygrappa
    except ImportError:
        return out
    measured = (k[:, 0] * mask[0][None, :, None]).astype(np.complex128)
    calib = block[:, 0].astype(np.complex128)
    theirs_s, theirs = best_of(lambda: pygrappa.cgrappa(measured, calib, kernel_size=(5, 5), coil_axis=0))
    out.update(pygrappa_s=theirs_s, pygrappa_nrmse_rss=nrmse(coils.rss(k_to_image(theirs[:, None])), reference))
    return out


def radial_kspace(n: int = 256, spokes: int = 402, n_coils: int = 8):
    """(NonCartesianKSpace, phantom (y, x), coil maps): full spokes at angles pi i / spokes,
    2 n samples from k = -n/2 cells in steps of 1/2, FOV 0.25 m, Shepp-Logan inside the
    FOV's inscribed circle."""
    fov = 0.25
    radius = np.arange(-n, n) / 2
    angles = np.pi * np.arange(spokes) / spokes
    cells = np.stack([np.cos(angles)[:, None] * radius, np.sin(angles)[:, None] * radius,
                      np.zeros((spokes, 2 * n))], axis=-1)  # (spoke, sample, (x, y, z))
    phantom = np.pad(sigpy.shepp_logan((3 * n // 4, 3 * n // 4)), n // 8).astype(np.complex64)
    maps = birdcage_maps((n_coils, n, n)).astype(np.complex64)
    data = sigpy.nufft(maps * phantom, cells[..., 1::-1].astype(np.float32))
    header = AcquisitionHeader(encoded_matrix=(2 * n, n, 1), encoded_fov_m=(2 * fov, fov, 5e-3),
                               recon_matrix=(n, n, 1), recon_fov_m=(fov, fov, 5e-3), trajectory="radial")
    eye = np.eye(3)
    kspace = NonCartesianKSpace(data=data[None, None, None, None, None, :, None], header=header,
                                mask=np.ones((1, 1, 1, 1, 1, 1, spokes), bool), slice_position_m=np.zeros((1, 3)),
                                read_dir=eye[0], phase_dir=eye[1], slice_dir=eye[2],
                                k_per_m=(cells / fov)[None, None, None, None, None, None].astype(np.float32))
    return kspace, phantom, maps


def bench_nufft(workdir: Path) -> dict:
    kspace, phantom, maps = radial_kspace()
    reference = np.abs(phantom)
    coord = grid_coordinates(kspace)[0, 0, 0, 0, 0, 0]
    dcf_s, _ = best_of(lambda: density_compensation(coord, kspace.grid_shape[1:]), repeats=2)
    gridding_s, gridding = best_of(lambda: reconstruct(kspace, ReconOptions("nufft")), repeats=2)
    sense_s, sense = best_of(lambda: reconstruct(kspace, ReconOptions("sense")), repeats=2)
    write_cfl(workdir / "traj", np.stack([coord[..., 1], coord[..., 0], np.zeros_like(coord[..., 0])], axis=-1))
    write_cfl(workdir / "radial", kspace.data[0, 0, 0, 0, 0, :, 0, ..., None])
    write_cfl(workdir / "maps", maps[:, None])
    env = dict(os.environ, OMP_NUM_THREADS=THREADS)

    def bart():
        subprocess.run(["bart", "pics", "-i", "20", "-t", workdir / "traj", workdir / "radial", workdir / "maps",
                        workdir / "xr"], check=True, capture_output=True, env=env)
        return read_cfl(workdir / "xr").reshape(phantom.shape)

    bart_s, bart_image = best_of(bart, repeats=2)
    return {"samples": coord.shape[0] * coord.shape[1], "dcf_s": dcf_s, "gridding_s": gridding_s,
            "sense_s": sense_s, "bart_s": bart_s, "gridding_nrmse": nrmse(gridding.data[0, 0, 0, 0, 0], reference),
            "sense_nrmse": nrmse(sense.data[0, 0, 0, 0, 0], reference), "bart_nrmse": nrmse(bart_image, reference)}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        big = generate_shepp_logan(tmp / "read.h5", matrix=256, coils=8, repetitions=8)
        accel = generate_shepp_logan(tmp / "r2.h5", matrix=256, coils=8, acceleration=2, calibration_width=24,
                                     noise_scans=True)
        read = bench_read(big)
        sense = bench_sense(accel, tmp)
        grappa_result = bench_grappa(accel)
        radial = bench_nufft(tmp)
    lines = [
        "# Reader and reconstruction benchmarks",
        "",
        f"Date {datetime.date.today().isoformat()}; machine: {platform.machine()}, {os.cpu_count()} CPU cores visible "
        f"({cpu_name()}), Python {platform.python_version()}, NumPy {np.__version__}; "
        f"BART with OMP_NUM_THREADS={THREADS}; best of {REPEATS} runs. Data: "
        "`ismrmrd_generate_cartesian_shepp_logan` (ismrmrd-tools), 256 x 256, 8 coils, readout oversampling 2. "
        "NRMSE against the phantom stored in the file (times the coil-norm shading), least-squares scaled.",
        "",
        "## (a) Reading",
        "",
        f"{read['acquisitions']} acquisitions: bulk h5py read {read['bulk_s'] * 1e3:.1f} ms; loop of "
        f"`ismrmrd.Dataset.read_acquisition` {read['loop_s'] * 1e3:.0f} ms: **{read['loop_s'] / read['bulk_s']:.0f}x** "
        f"faster. Full `read_ismrmrd` (bulk read + sorting + oversampling removal): {read['sorted_s'] * 1e3:.0f} ms.",
        "",
        "## (b) ESPIRiT + SENSE vs BART ecalib + pics (R = 2, 24 calibration lines)",
        "",
        "| | time (s) | NRMSE |",
        "|---|---|---|",
        f"| harmoniq (ESPIRiT + sigpy CG-SENSE, 1 process) | {sense['ours_s']:.3f} | {sense['ours_nrmse']:.4f} |",
        f"| BART 0.8 `ecalib` + `pics -l2 -r 0.01` | {sense['bart_s']:.3f} | {sense['bart_nrmse']:.4f} |",
        "",
        f"Time ratio BART / harmoniq: **{sense['bart_s'] / sense['ours_s']:.2f}**.",
        "",
        "## (c) GRAPPA (R = 2, 24 calibration lines, 2 x 4 x 5 kernel)",
        "",
        f"harmoniq GRAPPA: {grappa_result['ours_s']:.3f} s, NRMSE (root-sum-of-squares) "
        f"{grappa_result['ours_nrmse_rss']:.4f}.",
    ]
    if "pygrappa_s" in grappa_result:
        lines.append(f"pygrappa 0.26.3 `cgrappa` (5 x 5 kernel): {grappa_result['pygrappa_s']:.3f} s, NRMSE "
                     f"{grappa_result['pygrappa_nrmse_rss']:.4f}.")
    lines += [
        "",
        f"## (d) Radial NUFFT (256 x 256, 8 coils, 402 spokes x 512 samples = {radial['samples']} samples)",
        "",
        "| | time (s) | NRMSE vs phantom |",
        "|---|---|---|",
        f"| density compensation (ring areas of the spokes) | {radial['dcf_s']:.2f} | |",
        f"| harmoniq `nufft` (DCF + ESPIRiT maps + gridding) | {radial['gridding_s']:.2f} | "
        f"{radial['gridding_nrmse']:.4f} |",
        f"| harmoniq `sense` (DCF + ESPIRiT maps + 20 CG iterations, sigpy) | {radial['sense_s']:.2f} | "
        f"{radial['sense_nrmse']:.4f} |",
        f"| BART `pics -t -i 20` (given the true coil maps) | {radial['bart_s']:.2f} | {radial['bart_nrmse']:.4f} |",
        "",
        "NRMSE is against the phantom itself: the k-space corners beyond the sampled disk are lost to every method.",
    ]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
