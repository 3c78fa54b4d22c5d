"""Quantitative maps (T1, T2, T2*, B1, M0) from image series, vectorised over voxels.

Every fitter takes an image series ``(n_measurements, *spatial)`` (NumPy or CuPy) with its
sequence parameters in SI units (s, rad) and returns :class:`ParameterMaps`: the parameter
maps, a residual map, Cramer-Rao uncertainty maps where the model allows, a mask of the
fitted voxels and a mask of voxels outside the protocol's valid range.
"""

from harmoniq.fitting.afi import fit_b1_afi
from harmoniq.fitting.b1_dam import fit_b1_dam
from harmoniq.fitting.bloch_siegert import fit_b1_bloch_siegert
from harmoniq.fitting.exponential import fit_t2_se, fit_t2star
from harmoniq.fitting.inversion_recovery import fit_t1_ir
from harmoniq.fitting.look_locker import fit_t1_molli
from harmoniq.fitting.maps import ParameterMaps
from harmoniq.fitting.mese import fit_t2_mese
from harmoniq.fitting.mp2rage import fit_t1_mp2rage
from harmoniq.fitting.vfa import fit_t1_vfa
from harmoniq.fitting.vfa_spoiling import Spoiling

__all__ = [
    "ParameterMaps",
    "Spoiling",
    "fit_b1_afi",
    "fit_b1_bloch_siegert",
    "fit_b1_dam",
    "fit_t1_ir",
    "fit_t1_molli",
    "fit_t1_mp2rage",
    "fit_t1_vfa",
    "fit_t2_mese",
    "fit_t2_se",
    "fit_t2star",
]
