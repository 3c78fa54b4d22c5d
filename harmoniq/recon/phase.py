"""Real images from complex ones for fits that need more than the magnitude: signed images (the
sign of the magnetisation) and phase images.

Each volume k is projected on the phase of a reference volume r (the one whose magnetisation is
positive everywhere, e.g. MP2RAGE's INV2):

    S_k -> Re(S_k conj(S_r)) / |S_r|,

which removes the phase every volume shares (receive coil, B0 at equal TE) and keeps the sign.
For MP2RAGE, Re(S1 conj(S2)) is unchanged, so UNI = S1 S2 / (S1^2 + S2^2) of the signed images
equals Re(S1* S2) / (|S1|^2 + |S2|^2) where S1 and S2 share their phase up to the sign
(Marques et al., NeuroImage 2010;49:1271).

A fit of phase differences (Bloch-Siegert) reads arg S_k (rad) of each volume, written as the BIDS
``part-phase`` image beside the ``part-mag`` one (BIDS 1.10, entity ``part``).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from harmoniq.errors import HarmoniqError
from harmoniq.io.image_series import ImageSeries


def phase_referenced(series: ImageSeries, reference: int = -1) -> ImageSeries:
    """The series as signed real images (float32), phase-referenced to volume ``reference``."""
    if not np.iscomplexobj(series.data):
        raise HarmoniqError("recon: a phase-referenced series needs complex images; the reconstruction gave "
                            "magnitudes (use a coil combination that keeps the phase: espirit or adaptive)")
    volumes = series.volumes()
    ref = volumes[reference]
    with np.errstate(divide="ignore", invalid="ignore"):
        unit = np.where(np.abs(ref) > 0, np.conj(ref) / np.abs(ref), 0)
    signed = np.real(volumes * unit).astype(np.float32).reshape(series.data.shape)
    return dataclasses.replace(series, data=signed)


def image_parts(series: ImageSeries) -> dict[str, ImageSeries]:
    """The BIDS ``part`` images of a series for a fit that reads the phase: ``phase`` (arg S, rad, float32)
    and ``mag`` (|S|) of complex images; a real series (phase images given as input) is ``phase`` alone."""
    if not np.iscomplexobj(series.data):
        return {"phase": series}
    return {"phase": dataclasses.replace(series, data=np.angle(series.data).astype(np.float32)),
            "mag": dataclasses.replace(series, data=np.abs(series.data).astype(np.float32))}
