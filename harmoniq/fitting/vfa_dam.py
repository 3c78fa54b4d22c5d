"""Variable-flip-angle T1 and double-angle B1 of finite TR, fitted jointly.

The double-angle ratio depends on T1 when TR is not >> T1 (saturation recovery,
:mod:`harmoniq.fitting.b1_dam`), and the DESPOT1 T1 depends on B1 (about T1 ~ B1^2,
:mod:`harmoniq.fitting.vfa`). Starting from B1 with TR >> T1, each round fits T1 with the current
B1, then B1 with that T1 (alternating fits, one unknown fixed at a time). A B1 error e gives a
T1 error of about 2e, which moves B1 by about 2e x TR/T1 x E1 / (1 - E1) x (relative
sensitivity of the ratio to E1), small for TR = 5 s: the error shrinks by a factor of about 0.2 per round at T1 = 2 s,
so the loop stops once the 99th percentile of the B1 change over the voxels with signal (S(a) above
``SIGNAL_FRACTION`` of its 99th percentile: background B1 is noise) is at most ``TOLERANCE``, or
after ``ROUNDS`` (the slowest, the long-T1 fill and edges of objects, shrink by about 0.45 per round on
the NIST phantom in ideal-3t: 6 to 7 rounds).
"""

from __future__ import annotations

import numpy as np

from harmoniq.backend import get_array_module
from harmoniq.fitting.b1_dam import fit_b1_dam
from harmoniq.fitting.maps import ParameterMaps
from harmoniq.fitting.vfa import fit_t1_vfa

ROUNDS = 8
TOLERANCE = 1e-3  # change of relative B1 between rounds (99th percentile over voxels with signal)
SIGNAL_FRACTION = 0.1


def fit_t1_vfa_with_dam(images, flip_rad, tr_s: float, dam_images, dam_flip_rad, dam_tr_s: float, *,
                        dam_profile=None, method: str = "nonlinear", spoiling=None, t2=None, mask=None,
                        noise_sigma=None) -> ParameterMaps:
    """T1 maps of :func:`fit_t1_vfa` plus ``B1``, the double-angle B1 fitted with that T1.

    images, flip_rad, tr_s: the VFA series (n_flip, *spatial), nominal flips (rad), TR (s);
    dam_images, dam_flip_rad, dam_tr_s: the double-angle series on the same grid (2, *spatial),
    its flips (a, 2a) and TR (s); dam_profile: its pulses' slice profiles
    (:func:`harmoniq.fitting.b1_dam.fit_b1_dam`); method, spoiling, t2, mask, noise_sigma: as
    :func:`fit_t1_vfa`. info gains ``joint_b1_rounds``.
    """
    xp = get_array_module(images)
    single = xp.abs(dam_images[int(np.argmin(dam_flip_rad))])
    signal = single > SIGNAL_FRACTION * float(xp.percentile(single, 99))
    b1 = fit_b1_dam(dam_images, dam_flip_rad, slice_profile=dam_profile)["B1"]
    for rounds in range(1, ROUNDS + 1):
        maps = fit_t1_vfa(images, flip_rad, tr_s, b1=b1, method=method, spoiling=spoiling, t2=t2, mask=mask,
                          noise_sigma=noise_sigma)
        updated = fit_b1_dam(dam_images, dam_flip_rad, slice_profile=dam_profile, tr_s=dam_tr_s, t1=maps["T1"])["B1"]
        change = xp.abs(updated - b1)[signal]
        b1 = updated
        change = change[xp.isfinite(change)]
        if change.size == 0 or float(xp.percentile(change, 99)) <= TOLERANCE:
            break
    maps = fit_t1_vfa(images, flip_rad, tr_s, b1=b1, method=method, spoiling=spoiling, t2=t2, mask=mask,
                      noise_sigma=noise_sigma)
    maps.maps["B1"] = xp.where(maps["mask"], b1, xp.nan)
    maps.units["B1"] = "1"
    maps.info["joint_b1_rounds"] = rounds
    maps.info["joint_b1_model"] = ("B1 from the double-angle series (finite-TR saturation recovery, "
                                   f"TR {dam_tr_s} s) with this T1, alternated with the T1 fit")
    return maps
