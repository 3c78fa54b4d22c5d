"""Tissue property sets (SI units) shared by the phantoms, resolved per field strength.

Brain tissues at 1.5 T (T1, T2, T2*, PD): the BrainWeb-derived defaults of KomaMRI and
brainweb-dl (CSF 2569/329/58 ms, PD 1.0; grey matter 833/83/69 ms, 0.86; white matter
500/70/61 ms, 0.77; fat 350/70/58 ms). At 3 T (T1, T2, PD): the defaults of MRzero (CSF
4160/1650 ms, 1.0; grey matter 1560/83 ms, 0.8; white matter 830/75 ms, 0.7); fat at 3 T:
subcutaneous fat T1 382 ms, T2 68 ms (de Bazelaire et al., Radiology 2004;230:652).
Assumption: fat proton density 1.0 (close to that of water) at both fields.

Reversible dephasing: T2' follows from 1/T2* = 1/T2 + 1/T2' with the 1.5 T values. At 3 T we
assume R2' = 1/T2' grows linearly with B0, as in the static-dephasing regime of susceptibility
gradients (Yablonskiy & Haacke, Magn Reson Med 1994;32:749), so T2'(3 T) = T2'(1.5 T) / 2.

Fat resonates at -3.4 ppm from water (main methylene peak at 1.3 ppm vs water at 4.7 ppm;
Hamilton et al., NMR Biomed 2011;24:784), i.e. an offset of -3.4e-6 * gamma/(2 pi) * B0
(-217 Hz at 1.5 T, -434 Hz at 3 T).
"""

from __future__ import annotations

from dataclasses import dataclass

from harmoniq.phantoms.nist_values import check_field

GAMMA_HZ_PER_T = 42.577478518e6
"""Proton gyromagnetic ratio over 2 pi (Hz/T), CODATA 2018."""

FAT_SHIFT_PPM = -3.4
"""Chemical shift of the main fat peak relative to water (ppm), Hamilton et al. 2011."""

_T2PRIME_SCALING_REFERENCE_T = 1.5


@dataclass(frozen=True)
class Tissue:
    """One compartment's properties at one field strength (SI units).

    t2prime_s is np.inf for no reversible dephasing; offres_hz is the chemical-shift offset.
    """

    name: str
    pd: float
    t1_s: float
    t2_s: float
    t2prime_s: float = float("inf")
    offres_hz: float = 0.0


BACKGROUND = Tissue("background", pd=0.0, t1_s=float("inf"), t2_s=float("inf"))
"""No signal: air outside the object, or bone (cortical bone's T2* is far below any TE here)."""

# name -> (T1 ms, T2 ms, T2* ms or None, PD) per field; 3 T T2* is derived, see module docstring.
_BRAIN_TABLE = {
    1.5: {
        "csf": (2569.0, 329.0, 58.0, 1.0),
        "gm": (833.0, 83.0, 69.0, 0.86),
        "wm": (500.0, 70.0, 61.0, 0.77),
        "fat": (350.0, 70.0, 58.0, 1.0),
    },
    3.0: {
        "csf": (4160.0, 1650.0, None, 1.0),
        "gm": (1560.0, 83.0, None, 0.8),
        "wm": (830.0, 75.0, None, 0.7),
        "fat": (382.0, 68.0, None, 1.0),
    },
}

TISSUE_NAMES = {"csf": "CSF", "gm": "grey matter", "wm": "white matter", "fat": "fat"}


def t2prime_from_t2star(t2_s: float, t2star_s: float) -> float:
    """T2' from 1/T2* = 1/T2 + 1/T2' (s)."""
    return 1.0 / (1.0 / t2star_s - 1.0 / t2_s)


def fat_offres_hz(field_t: float) -> float:
    """Fat off-resonance (Hz): -3.4 ppm * gamma/(2 pi) * B0."""
    return FAT_SHIFT_PPM * 1e-6 * GAMMA_HZ_PER_T * field_t


def brain_tissue(key: str, field_t: float) -> Tissue:
    """Tissue ``key`` ('csf', 'gm', 'wm' or 'fat') at ``field_t`` (1.5 or 3 T)."""
    field = check_field(field_t, "brain tissue")
    t1_ms, t2_ms, _, pd = _BRAIN_TABLE[field][key]
    ref_t2_ms, ref_t2star_ms = _BRAIN_TABLE[_T2PRIME_SCALING_REFERENCE_T][key][1:3]
    t2prime_s = t2prime_from_t2star(ref_t2_ms / 1e3, ref_t2star_ms / 1e3) * _T2PRIME_SCALING_REFERENCE_T / field
    offres = fat_offres_hz(field) if key == "fat" else 0.0
    return Tissue(TISSUE_NAMES[key], pd=pd, t1_s=t1_ms / 1e3, t2_s=t2_ms / 1e3, t2prime_s=t2prime_s, offres_hz=offres)
