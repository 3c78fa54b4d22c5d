"""Reference data and peers to check our reader and reconstruction against.

- ``ismrmrd_generate_cartesian_shepp_logan`` (Debian ``ismrmrd-tools``) writes Cartesian raw
  data of a modified Shepp-Logan phantom seen by birdcage coils, and stores the truth in the
  same file: ``<group>/phantom`` (z, y, x) and the coil maps ``<group>/csm`` (z, coil, y, x).
  A coil-combined image without a body-coil reference is ``|phantom| * sqrt(sum_c |csm_c|^2)``
  (the receive-field shading), which :func:`stored_reference` returns.
- BART reads and writes ``.cfl``/``.hdr`` pairs: complex64, column-major, dims listed
  fastest first, so our C-ordered (coil, k2, k1, k0) array is BART's (k0, k1, k2, coil).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import h5py
import numpy as np

from harmoniq.errors import HarmoniqError

SHEPP_LOGAN_TOOL = "ismrmrd_generate_cartesian_shepp_logan"


def have_tool(name: str) -> bool:
    """True when the executable ``name`` is on PATH."""
    return shutil.which(name) is not None


def generate_shepp_logan(path: str | Path, *, matrix: int = 64, coils: int = 4, oversampling: int = 2,
                         acceleration: int = 1, calibration_width: int = 0, repetitions: int = 1,
                         noise_level: float = 0.05, noise_scans: bool = False) -> Path:
    """Run the ISMRMRD reference generator; returns ``path``."""
    if not have_tool(SHEPP_LOGAN_TOOL):
        raise HarmoniqError(f"{SHEPP_LOGAN_TOOL} not found: install the Debian package ismrmrd-tools")
    path = Path(path)
    args = [SHEPP_LOGAN_TOOL, "-m", str(matrix), "-c", str(coils), "-O", str(oversampling), "-a", str(acceleration),
            "-w", str(calibration_width), "-r", str(repetitions), "-n", str(noise_level), "-o", str(path)]
    if noise_scans:
        args.append("-C")
    subprocess.run(args, check=True, capture_output=True)
    return path


def _complex(node) -> np.ndarray:
    values = node[...]
    return (values["real"] + 1j * values["imag"]).astype(np.complex64)


def stored_reference(path: str | Path, group: str = "dataset") -> tuple[np.ndarray, np.ndarray]:
    """(|phantom| * sqrt(sum |csm|^2) as (z, y, x), csm as (coil, z, y, x)) stored by the generator."""
    with h5py.File(path, "r") as handle:
        phantom = _complex(handle[group]["phantom"])
        csm = np.moveaxis(_complex(handle[group]["csm"]), 1, 0)
    return np.abs(phantom) * np.sqrt(np.sum(np.abs(csm) ** 2, axis=0)), csm


def nrmse(image: np.ndarray, reference: np.ndarray) -> float:
    """``||a |x| - r|| / ||r||`` with the least-squares scale ``a`` (images differ by a gain)."""
    magnitude = np.abs(np.asarray(image, dtype=np.complex128))
    reference = np.asarray(reference, dtype=np.float64)
    scale = np.sum(magnitude * reference) / np.sum(magnitude * magnitude)
    return float(np.linalg.norm(scale * magnitude - reference) / np.linalg.norm(reference))


def write_cfl(stem: str | Path, array: np.ndarray) -> None:
    """Write ``array`` (C order) as BART ``stem.cfl``/``stem.hdr`` (dims reversed)."""
    stem = Path(stem)
    data = np.ascontiguousarray(array, dtype=np.complex64)
    stem.with_suffix(".hdr").write_text("# Dimensions\n" + " ".join(str(n) for n in data.shape[::-1]) + "\n")
    data.tofile(stem.with_suffix(".cfl"))


def read_cfl(stem: str | Path) -> np.ndarray:
    """Read BART ``stem.cfl``/``stem.hdr`` into a C-ordered array (dims reversed)."""
    stem = Path(stem)
    dims = [int(n) for n in stem.with_suffix(".hdr").read_text().splitlines()[1].split()]
    return np.fromfile(stem.with_suffix(".cfl"), dtype=np.complex64).reshape(dims[::-1])
