"""The T2 the VFA spoiling correction assumes, on a finished simulated t1-vfa run: its fit as the
pipeline makes it (T2 = 0.1 s assumed) against the same fit given the phantom's T2 per voxel, as a
T2 map of the NIST T1 plate would give it. Prints per sphere of the designed range the bias of the
ROI mean (voxels not flagged out of range) and the joint double-angle B1.

    .venv/bin/harmoniq run t1-vfa --scanner ideal-3t --matrix 64 --no-noise -o run/
    .venv/bin/python benchmarks/effect_vfa_t2.py run/ ideal-3t [ACQUISITION_SUFFIX]

ACQUISITION_SUFFIX: the arm of a comparison's dataset (``harmonized`` or ``site``), none for
``harmoniq run``. Takes about 2 CPU-minutes at matrix 64 (two joint fits).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np

from harmoniq.bids.layout import label
from harmoniq.fitting.b1_dam import B1_GRID
from harmoniq.fitting.bids import per_volume
from harmoniq.fitting.vfa_dam import fit_t1_vfa_with_dam
from harmoniq.fitting.vfa_spoiling import WATER_20C_M2_S, Spoiling, spoiler_moment_rad_m
from harmoniq.io.nifti import read_image_series
from harmoniq.protocols import load_protocol
from harmoniq.sequences.slice_profile import excitation_profiles
from harmoniq.seqfile import read_seq
from harmoniq.simulation.scanner_model import load_scanner_model
from harmoniq.simulation.simulate import make_phantom_for


def main(root: Path, scanner: str, arm: str = "") -> None:
    session = f"ses-{label(scanner, 'session')}"
    suffix = f"-{arm}" if arm else ""
    work = root / "sourcedata" / "sub-nist" / session / f"t1-vfa{suffix}"
    acquisition = label(f"t1-vfa{arm}", "acquisition")
    series = read_image_series(next((root / "sub-nist" / session / "anat").glob(f"*_acq-{acquisition}_flip-1_*.nii.gz")))
    dam = read_image_series(next((work / "dam").glob("*_flip-1_*.nii.gz")))
    seq = work / "t1-vfa.seq"
    flips, tr = per_volume(series, "flip_deg", math.pi / 180), float(series.header.tr_s[0])
    increment = math.radians(float(series.header.user_parameters["RFSpoilingIncrement"]))
    spoiling = Spoiling(increment, 0.1, WATER_20C_M2_S, spoiler_moment_rad_m(seq))
    model = load_scanner_model(scanner)
    matrix = series.spatial_shape[-1]
    phantom = make_phantom_for("nist", read_seq(seq), model, matrix, fov_m=load_protocol("t1-vfa").parameters.fov_m,
                               plate="t1")
    t2 = np.where(phantom.t2_s > 0, phantom.t2_s, np.nan)
    dam_seq = root / "sourcedata" / "sub-nist" / session / f"b1-dam{suffix}" / "b1-dam.seq"
    dam_profile = excitation_profiles(dam_seq, B1_GRID, longitudinal=True)  # as the pipeline's fit
    fits = {}
    for name, t2_map in (("T2 0.1 s assumed", None), ("phantom T2", t2)):
        fits[name] = fit_t1_vfa_with_dam(
            np.abs(series.volumes()), flips, tr, np.abs(dam.volumes()), per_volume(dam, "flip_deg", math.pi / 180),
            float(dam.header.tr_s[0]), dam_profile=dam_profile, spoiling=spoiling, t2=t2_map)
    print(f"{scanner} {arm or 'run'}: flips {np.degrees(flips).round(2).tolist()} deg, TR {tr * 1e3:g} ms, "
          f"moment {spoiling.spoiler_rad_m:.0f} rad/m per TR")
    low, high = load_protocol("t1-vfa").valid_range["t1_ms"]
    for roi_label, roi in sorted(phantom.rois.items()):
        inside = phantom.labels == roi_label
        if not roi.name.startswith("T1-") or not low <= roi.t1_s * 1e3 <= high:
            continue
        line = f"{roi.name} T1 {roi.t1_s * 1e3:7.1f} ms T2 {roi.t2_s * 1e3:7.1f} ms"
        for name, maps in fits.items():
            kept = inside & ~np.asarray(maps["out_of_range"])
            bias = f"{100 * (np.mean(maps['T1'][kept]) / roi.t1_s - 1):+6.2f} %" if kept.any() else "all flagged"
            line += f" | {name}: {bias}, B1 {np.mean(maps['B1'][inside]):.4f}"
        print(line)


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2], *sys.argv[3:4])
