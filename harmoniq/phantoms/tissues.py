"""Tissue property sets (SI units) shared by the phantoms, resolved per field strength.

Brain T1 follows the field-dependence fit of Rooney et al., Magn Reson Med 2007;57:308
(doi:10.1002/mrm.21122): T1 = A * (gamma/(2 pi) * B0)^beta with the Larmor frequency in Hz,
white matter A = 0.71 ms, beta = 0.382; cortical grey matter A = 1.16 ms, beta = 0.376; CSF T1
independent of field, 4.47 s at 3 T (the same study's value as tabulated in FSL-MRS
``fsl_mrs/utils/constants.py``, STANDARD_T1 of the versions that have it; 4.43 s at 7 T).
From 1.5 to 3 T this gives x1.30 (WM) and x1.30 (GM) instead of the x1.66 and x1.87 of
unrelated default sets.

Brain T2: Stanisz et al., Magn Reson Med 2005;54:507 (doi:10.1002/mrm.20605), Table 1, 3 T
rows "white matter" 69 +- 3 ms and "gray matter" 99 +- 7 ms; the same group found T2 at 3 T
"similar to those at 1.5 T" (Stanisz et al., ISMRM 2006 #2494), so both fields take these.
CSF T2 at 3 T: 2030 ms (Spijkerman et al., MAGMA 2018, doi:10.1007/s10334-017-0659-3, as
tabulated in FSL-MRS STANDARD_T2). Assumption (range 2030-2300 ms, the 3 T value up to the top
of the approximate 2100-2300 ms CSF T2 of the "Common relaxation time constants in human tissues"
table of Wikipedia's "Relaxation (NMR)" article): CSF T2 at 1.5 T equals the 3 T value.

T2* at 1.5 T, PD and fat at 1.5 T (T1, T2, T2*, PD): the BrainWeb-derived defaults of KomaMRI
and brainweb-dl (CSF T2* 58 ms, PD 1.0; grey matter 69 ms, 0.86; white matter 61 ms, 0.77;
fat 350/70/58 ms). PD at 3 T: the defaults of MRzero (CSF 1.0, grey matter 0.8, white matter
0.7). Fat at 3 T: subcutaneous fat T1 382 ms, T2 68 ms (de Bazelaire et al., Radiology
2004;230:652). Assumption: fat proton density 1.0 (close to that of water) at both fields.

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

ROONEY_T1_FIT = {"wm": (0.71e-3, 0.382), "gm": (1.16e-3, 0.376)}
"""(A in s, beta) of T1 = A * (Larmor frequency in Hz)^beta, Rooney et al. 2007."""

CSF_T1_S = 4.47
"""CSF T1 (s), independent of field (Rooney et al. 2007; 4.47 s at 3 T, 4.43 s at 7 T)."""

# name -> (T1 ms or None for the Rooney fit, T2 ms, T2* ms or None, PD) per field; sources above.
_BRAIN_TABLE = {
    1.5: {
        "csf": (CSF_T1_S * 1e3, 2030.0, 58.0, 1.0),
        "gm": (None, 99.0, 69.0, 0.86),
        "wm": (None, 69.0, 61.0, 0.77),
        "fat": (350.0, 70.0, 58.0, 1.0),
    },
    3.0: {
        "csf": (CSF_T1_S * 1e3, 2030.0, None, 1.0),
        "gm": (None, 99.0, None, 0.8),
        "wm": (None, 69.0, None, 0.7),
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


def rooney_t1_s(key: str, field_t: float) -> float:
    """T1 (s) of white ('wm') or grey ('gm') matter: A * (gamma/(2 pi) * B0 in Hz)^beta."""
    a_s, beta = ROONEY_T1_FIT[key]
    return a_s * (GAMMA_HZ_PER_T * field_t) ** beta


def brain_tissue(key: str, field_t: float) -> Tissue:
    """Tissue ``key`` ('csf', 'gm', 'wm' or 'fat') at ``field_t`` (1.5 or 3 T)."""
    field = check_field(field_t, "brain tissue")
    t1_ms, t2_ms, _, pd = _BRAIN_TABLE[field][key]
    t1_s = rooney_t1_s(key, field) if t1_ms is None else t1_ms / 1e3
    ref_t2_ms, ref_t2star_ms = _BRAIN_TABLE[_T2PRIME_SCALING_REFERENCE_T][key][1:3]
    t2prime_s = t2prime_from_t2star(ref_t2_ms / 1e3, ref_t2star_ms / 1e3) * _T2PRIME_SCALING_REFERENCE_T / field
    offres = fat_offres_hz(field) if key == "fat" else 0.0
    return Tissue(TISSUE_NAMES[key], pd=pd, t1_s=t1_s, t2_s=t2_ms / 1e3, t2prime_s=t2prime_s, offres_hz=offres)
