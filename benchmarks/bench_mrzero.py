"""harmoniq's simulator side by side with MRzero on the same .seq file and the same phantom.

Run from the repository root (MRzero lives in its own environment, default /tmp/bench):

    python benchmarks/bench_mrzero.py [--protocols gre-demo t1-irse] [--matrix 128]
                                      [--mrzero-python /tmp/bench/bin/python] [--workdir DIR]

For each protocol: a copy of its TOML at ``--matrix`` is built into a .seq file; the NIST
phantom (both plates, the protocol's field of view, 3 T values) and an ideal 3 T scanner
(no B0/B1 imperfections, no gradient delays, no noise) with an 8-loop receive ring give the same
PD/T1/T2/T2'/coil maps to both simulators (MRzero's copy in ``mrzero_phantom.npz``). Each
simulator runs in its own process (wall time of sequence import + simulation; peak RSS of the
process, imports included) with 2 threads. Compared:

- raw: NRMSE of MRzero's k-space against harmoniq's after one global complex scale;
- images: both k-spaces go through the same recon (centred 2D inverse FFT per coil, root sum of
  squares); NRMSE after one global scale inside the object, each against the other and against
  the expected images of ``tests/integration/roundtrip_reference.py`` (spinor slice profiles, EPG
  of the played RF train, transients line by line) and against the textbook closed form
  (spoiled GRE: Ernst signal; IR spin echo: |1 - 2 exp(-TI/T1) + exp(-TR/T1)| exp(-TE/T2)).
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from roundtrip_reference import SPINECHO_FAMILIES, expected_images, nrmse_after_scale, read_train  # noqa: E402

from harmoniq.phantoms import make_phantom  # noqa: E402
from harmoniq.protocols import load_protocol  # noqa: E402
from harmoniq.sequences.export import export  # noqa: E402
from harmoniq.simulation import load_scanner_model, simulate  # noqa: E402
from harmoniq.seqfile import read_seq  # noqa: E402

FIELD_T = 3.0
CHANNELS = 8
PROFILE_POINTS = 48  # positions across the slab for the reference's slice profile
SCANNER_TOML = f"""
name = "ideal-3t-8ch"
profile = "siemens-prisma-3t"
vendor = "Siemens"
model = "MAGNETOM Prisma"
field_strength_T = 3.0
raw_data_conjugated = false
[b1]
centre = 1.0
edge = 1.0
[receive]
channels = {CHANNELS}
rings = 1
array_radius_mm = 180
loop_radius_mm = 60
[noise]
std_at_100khz = 1.0
neighbour_correlation = 0.0
"""


def build_sequence(name: str, matrix: int, folder: Path) -> tuple[Path, str]:
    """Copy protocol ``name`` with ``matrix``, export it; return the .seq path and the family."""
    text = (ROOT / "protocols" / f"{name}.toml").read_text()
    (folder / f"{name}.toml").write_text(re.sub(r"(?m)^matrix = \d+", f"matrix = {matrix}", text))
    protocol = load_protocol(folder / f"{name}.toml")
    seq_path, _ = export(protocol, folder)
    return seq_path, protocol.family


def phantom_for(seq):
    """NIST plates side by side on the sequence's matrix and field of view."""
    fov = float(np.ravel(seq.get_definition("FOV"))[0])
    nx = int(np.ravel(seq.get_definition("Matrix"))[0])
    return make_phantom("nist", matrix=nx, field_t=FIELD_T, ndim=2, fov_m=fov, plate="both")


def write_mrzero_phantom(phantom, scanner, path: Path) -> None:
    """The phantom and the scanner's receive maps in MRzero's (x, y, z) order."""
    def xyz(a):
        return np.ascontiguousarray(np.asarray(a, np.float32).transpose(2, 1, 0))

    coils = scanner.coil_maps(phantom.positions_m())  # (coils, z, y, x)
    np.savez(path, pd=xyz(phantom.pd), t1_s=xyz(phantom.t1_s), t2_s=xyz(phantom.t2_s),
             t2prime_s=xyz(np.minimum(phantom.t2prime_s, 1e6)), b0_hz=xyz(phantom.offres_hz),
             b1=xyz(np.ones(phantom.shape))[None],
             coil_sens=np.ascontiguousarray(coils.transpose(0, 3, 2, 1)).astype(np.complex64),
             voxel_size_m=np.asarray(phantom.voxel_size_m[::-1], np.float32))


def harmoniq_worker(seq_path: str, scanner_path: str, out: str) -> None:
    """Simulate in this process (so its peak RSS is harmoniq's alone); save signal and timings."""
    start = time.perf_counter()
    seq = read_seq(seq_path)
    raw = simulate(seq, phantom_for(seq), load_scanner_model(scanner_path), noise=False)
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    np.savez(out, signal=np.stack(raw.signals), timings_s=json.dumps({"total_s": wall}), peak_rss_mib=peak)


def run_process(command: list[str]) -> dict:
    """Run one simulator process; its saved signal, timings and peak RSS, plus the process wall time."""
    start = time.perf_counter()
    subprocess.run(command, check=True)
    process_s = time.perf_counter() - start
    with np.load(command[-1]) as saved:  # every simulator process writes its .npz last
        return {"signal": saved["signal"], "timings": json.loads(str(saved["timings_s"])),
                "peak_mib": float(saved["peak_rss_mib"]), "process_s": process_s}


def reconstruct(kspace_lines: np.ndarray, adcs, contrast_label: str, ny: int) -> np.ndarray:
    """Magnitude images (contrasts, y, x): lines placed by LIN, centred inverse FFT, root sum of squares."""
    contrast = np.array([a.labels.get(contrast_label, 0) for a in adcs])
    lines = np.array([a.labels["LIN"] for a in adcs])
    n_coils, nx = kspace_lines.shape[1:]
    images = []
    for c in range(contrast.max() + 1):
        k = np.zeros((n_coils, ny, nx), np.complex128)
        k[:, lines[contrast == c]] = kspace_lines[contrast == c].transpose(1, 0, 2)
        coil_images = np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(k, axes=(1, 2))), axes=(1, 2))
        images.append(np.sqrt((np.abs(coil_images) ** 2).sum(axis=0)))
    return np.stack(images)


def closed_form_images(seq, family: str, phantom, coil_rss: np.ndarray) -> np.ndarray:
    """Textbook steady-state images (contrasts, y, x): Ernst spoiled GRE, or ideally spoiled IR spin echo."""
    t1, t2, pd = phantom.t1_s[0], phantom.t2_s[0], phantom.pd[0] * coil_rss
    tr, te = float(seq.get_definition("TR")), float(np.ravel(seq.get_definition("TE"))[0])
    safe_t1 = np.where(t1 > 0, t1, 1.0)
    if family in SPINECHO_FAMILIES:
        tis = np.ravel(seq.get_definition("TI"))
        return np.stack([pd * np.abs(1 - 2 * np.exp(-ti / safe_t1) + np.exp(-tr / safe_t1))
                         * np.exp(-te / np.where(t2 > 0, t2, 1.0)) for ti in tis])
    t2star = 1 / (1 / np.where(t2 > 0, t2, 1.0) + 1 / phantom.t2prime_s[0])
    e1 = np.exp(-tr / safe_t1)
    flips = np.radians(np.ravel(seq.get_definition("FlipAngle")))
    return np.stack([pd * np.sin(a) * (1 - e1) / (1 - np.cos(a) * e1) * np.exp(-te / t2star) for a in flips])


def raw_nrmse(signal: np.ndarray, reference: np.ndarray) -> float:
    """||s a - b|| / ||b|| with s the least-squares complex scale of a onto b."""
    a, b = signal.ravel().astype(np.complex128), reference.ravel().astype(np.complex128)
    scale = np.vdot(a, b) / np.vdot(a, a)
    return float(np.linalg.norm(scale * a - b) / np.linalg.norm(b))


def compare(name: str, matrix: int, folder: Path, mrzero_python: str) -> dict:
    """Both simulators on protocol ``name``; timings, memory and signal differences."""
    folder.mkdir(parents=True, exist_ok=True)
    seq_path, family = build_sequence(name, matrix, folder)
    seq = read_seq(seq_path)
    scanner_path = folder / "ideal-3t-8ch.toml"
    scanner_path.write_text(SCANNER_TOML)
    scanner = load_scanner_model(scanner_path)
    phantom = phantom_for(seq)
    write_mrzero_phantom(phantom, scanner, folder / "mrzero_phantom.npz")
    ours = run_process([sys.executable, __file__, "--worker", str(seq_path), str(scanner_path),
                        str(folder / "harmoniq_out.npz")])
    theirs = run_process([mrzero_python, str(Path(__file__).with_name("mrzero_runner.py")), str(seq_path),
                          str(folder / "mrzero_phantom.npz"), str(folder / "mrzero_out.npz")])
    h = ours["signal"]  # (adc, coil, samples)
    m = theirs["signal"].reshape(h.shape[0], h.shape[2], h.shape[1]).transpose(0, 2, 1)
    thickness = float(seq.get_definition("SliceThickness"))
    z = ((np.arange(PROFILE_POINTS) + 0.5) / PROFILE_POINTS - 0.5) * 2.4 * thickness
    rfs, adcs = read_train(seq, z)
    label = seq.get_definition("ContrastLabel") or "SET"
    coil_rss = np.sqrt((np.abs(scanner.coil_maps(phantom.positions_m())) ** 2).sum(axis=0))
    expected = expected_images(rfs, adcs, family, phantom, coil_rss, label, np.zeros(PROFILE_POINTS, int))[:, 0]
    closed = closed_form_images(seq, family, phantom, coil_rss[0])
    images = {"harmoniq": reconstruct(h, adcs, label, phantom.shape[1]),
              "mrzero": reconstruct(m, adcs, label, phantom.shape[1])}
    mask = phantom.pd[0] > 0

    def per_contrast(a, b):
        return [round(nrmse_after_scale(x, y, mask), 4) for x, y in zip(a, b)]

    return {
        "protocol": name, "matrix": matrix, "coils": CHANNELS, "readouts": int(h.shape[0]),
        "harmoniq": {"wall_s": ours["timings"], "process_s": ours["process_s"], "peak_mib": ours["peak_mib"]},
        "mrzero": {"wall_s": theirs["timings"], "process_s": theirs["process_s"], "peak_mib": theirs["peak_mib"]},
        "raw_nrmse_mrzero_vs_harmoniq": raw_nrmse(m, h),
        "raw_nrmse_conj_mrzero_vs_harmoniq": raw_nrmse(np.conj(m), h),
        "image_nrmse_mrzero_vs_harmoniq": per_contrast(images["mrzero"], images["harmoniq"]),
        "image_nrmse_vs_reference": {k: per_contrast(v, expected) for k, v in images.items()},
        "image_nrmse_vs_closed_form": {k: per_contrast(v, closed) for k, v in images.items()},
        "reference_nrmse_vs_closed_form": per_contrast(expected, closed),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--protocols", nargs="+", default=["gre-demo", "t1-irse"])
    parser.add_argument("--matrix", type=int, default=128)
    parser.add_argument("--mrzero-python", default="/tmp/bench/bin/python")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/bench_mrzero"))
    parser.add_argument("--worker", nargs=3, metavar=("SEQ", "SCANNER", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        harmoniq_worker(*args.worker)
        return
    for name in args.protocols:
        result = compare(name, args.matrix, args.workdir / name, args.mrzero_python)
        print(json.dumps(result, indent=1), flush=True)


if __name__ == "__main__":
    main()
