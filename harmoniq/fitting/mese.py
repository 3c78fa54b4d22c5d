"""Multi-echo spin-echo T2 with the refocusing B1 fitted jointly against an EPG dictionary.

With imperfect refocusing (B1 inhomogeneity, slice profile) a CPMG train mixes spin and
stimulated echoes and a mono-exponential fit over-estimates T2. As in StimFit (Lebel and
Wilman, MRM 2010;64:1005) and DECAES (Doucette et al., Z Med Phys 2020;30:271), the echo train
is matched to extended-phase-graph signals (:func:`harmoniq.simulation.epg.cpmg`) over a
grid of (T2, B1) for the protocol's ESP, echo train length, excitation and refocusing
angles, with T1 fixed (default 1 s; the echo amplitudes depend only weakly on T1).

Magnitude echoes with effective refocusing a and 360 deg - a are identical (exactly so for a
90 deg excitation), so the B1 grid ends where the effective refocusing reaches 180 deg.
Matching: normalised dictionary atoms, coarse grid then a fine window, then a quadratic fit
of the match score on the 3 x 3 neighbourhood for sub-grid (T2, B1). S0 is the amplitude of
the matched train (the magnetisation before excitation, in image units).

Valid range (ours): T2 in [2 ESP / 3, 2 TE_max] as for mono-exponential decay
(:func:`harmoniq.fitting.exponential.valid_decay_range`), and B1 above the lower end of
its grid; outside, the voxel is flagged.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from harmoniq.backend import get_array_module
from harmoniq.errors import HarmoniqError
from harmoniq.fitting.engine import assemble, map_chunks, rms_residual
from harmoniq.fitting.exponential import valid_decay_range
from harmoniq.fitting.smallmatrix import column_dot, normal_matrix
from harmoniq.fitting.maps import ParameterMaps, gather_voxels
from harmoniq.fitting.uncertainty import crlb_sd, noise_sigma_from_residuals
from harmoniq.simulation.epg import cpmg

MODEL = "t2-mese"
T2_STEP = 0.02  # relative step of the T2 grid
B1_STEP = 0.02
COARSE = 3  # coarse search on every COARSE-th grid point of each axis
REFINE_PASSES = 3
ATOM_BLOCK = 128


@functools.lru_cache(maxsize=8)
def epg_dictionary(etl, esp_s, refocus_rad, excite_rad, t1_s, t2_range, b1_range, slice_profile=()):
    """Echo magnitudes (n_T2, n_B1, etl) for unit M0 on log-T2 x linear-B1 grids (NumPy).

    ``slice_profile``: relative flip factors at positions across the slice, one row for both
    pulses or two rows (excitation, refocusing: :func:`harmoniq.sequences.slice_profile.cpmg_profile`);
    the echo is the complex mean over the positions; () for an ideal profile. Returns
    (t2_grid, b1_grid, atoms).
    """
    n_t2 = int(math.ceil(math.log(t2_range[1] / t2_range[0]) / math.log1p(T2_STEP))) + 1
    t2 = np.exp(np.linspace(math.log(t2_range[0]), math.log(t2_range[1]), n_t2))
    n_b1 = int(math.ceil((b1_range[1] - b1_range[0]) / B1_STEP)) + 1
    b1 = np.linspace(b1_range[0], b1_range[1], n_b1)
    profile = np.asarray(slice_profile or (1.0,), dtype=float)
    refocus = np.asarray(refocus_rad)
    if profile.ndim == 1:
        scale = b1[None, :, None] * profile[None, None, :]
        return t2, b1, np.abs(cpmg(etl, esp_s, t1_s, t2[:, None, None], refocus, excite_rad, b1=scale).mean(axis=2))
    # cpmg scales both pulses by b1: the excitation angle carries the ratio of the two profiles
    echoes = sum(cpmg(etl, esp_s, t1_s, t2[:, None], refocus, excite_rad * e / r, b1=b1[None, :] * r)
                 for e, r in zip(*profile) if r > 0 and e > 1e-3)  # no echo without both pulses
    return t2, b1, np.abs(echoes / profile.shape[1])


def _profile_key(slice_profile) -> tuple:
    """The profile as nested tuples (hashable, for the dictionary cache): one row or two."""
    rows = np.asarray(slice_profile, dtype=float)
    if rows.ndim == 1 or (rows.ndim == 2 and rows.shape[0] == 2):
        return tuple(rows.tolist()) if rows.ndim == 1 else tuple(tuple(r) for r in rows.tolist())
    raise HarmoniqError(f"t2-mese: slice_profile has shape {rows.shape}; give one row of flip factors, or two "
                        "(excitation, refocusing)")


def _check(te_s, refocus_rad):
    te = np.asarray(te_s, dtype=float).reshape(-1)
    esp = te[0] if te.size else np.nan
    if te.size < 3 or not np.all(np.isfinite(te)) or esp <= 0 or not np.allclose(te, esp * np.arange(1, te.size + 1), rtol=1e-6):
        raise HarmoniqError(
            f"t2-mese: echo times {te.tolist()} s are not an echo train; give at least 3 echoes at "
            "TE_n = n ESP (n = 1, 2, ...)"
        )
    refocus = np.asarray(refocus_rad, dtype=float).reshape(-1)
    if refocus.size not in (1, te.size) or np.any(refocus <= 0) or np.any(refocus > np.pi):
        raise HarmoniqError(
            f"t2-mese: refocusing angle(s) {np.degrees(refocus).round(3).tolist()} deg are not valid; give one "
            f"angle, or one per echo ({te.size}), in (0, 180] deg"
        )
    return te, refocus


def _score(atoms, data, it, ib):
    """Projection (d . atom)^2 of every voxel on its atom (it, ib); atoms normalised."""
    return column_dot(atoms[it, ib].T, data) ** 2


def _match(atoms, data):
    """Best (it, ib) per voxel: coarse search, then the fine window around it."""
    xp = get_array_module(data)
    n_t2, n_b1, etl = atoms.shape
    coarse = atoms[::COARSE, ::COARSE]
    flat = coarse.reshape(-1, etl)
    top = xp.full(data.shape[1], -1.0)
    best = xp.zeros(data.shape[1], dtype=int)
    for start in range(0, flat.shape[0], ATOM_BLOCK):  # bounded memory: ATOM_BLOCK x V scores
        score = (flat[start : start + ATOM_BLOCK] @ data) ** 2
        index = xp.argmax(score, axis=0)
        value = score[index, xp.arange(index.size)]
        take = value > top
        best, top = xp.where(take, index + start, best), xp.where(take, value, top)
    it0 = (best // coarse.shape[1]) * COARSE
    ib0 = (best % coarse.shape[1]) * COARSE
    it, ib = it0, ib0
    top = _score(atoms, data, it0, ib0)
    for dt in range(-COARSE + 1, COARSE):
        for db in range(-COARSE + 1, COARSE):
            jt = xp.clip(it0 + dt, 0, n_t2 - 1)
            jb = xp.clip(ib0 + db, 0, n_b1 - 1)
            s = _score(atoms, data, jt, jb)
            take = s > top
            it, ib, top = xp.where(take, jt, it), xp.where(take, jb, ib), xp.where(take, s, top)
    return it, ib, top


def _refine(atoms, data, it, ib):
    """Sub-grid offsets (in grid steps, within +-1) from a quadratic fit of the 3 x 3 scores."""
    xp = get_array_module(data)
    n_t2, n_b1, _ = atoms.shape
    ct = xp.clip(it, 1, n_t2 - 2)
    cb = xp.clip(ib, 1, n_b1 - 2)
    s = {(i, j): _score(atoms, data, ct + i, cb + j) for i in (-1, 0, 1) for j in (-1, 0, 1)}
    gt = (s[1, 0] - s[-1, 0]) / 2
    gb = (s[0, 1] - s[0, -1]) / 2
    htt = s[1, 0] - 2 * s[0, 0] + s[-1, 0]
    hbb = s[0, 1] - 2 * s[0, 0] + s[0, -1]
    htb = (s[1, 1] - s[1, -1] - s[-1, 1] + s[-1, -1]) / 4
    det = htt * hbb - htb**2
    with np.errstate(divide="ignore", invalid="ignore"):
        joint = (htt < 0) & (det > 0)
        dt = xp.where(joint, -(hbb * gt - htb * gb) / det, xp.where(htt < 0, -gt / htt, 0.0))
        db = xp.where(joint, -(htt * gb - htb * gt) / det, xp.where(hbb < 0, -gb / hbb, 0.0))
    return ct + xp.clip(xp.nan_to_num(dt), -1, 1), cb + xp.clip(xp.nan_to_num(db), -1, 1)


def _interp(grid, position):
    """Grid value at fractional index ``position`` (linear between neighbours)."""
    xp = get_array_module(position)
    lo = xp.clip(xp.floor(position).astype(int), 0, grid.size - 2)
    w = position - lo
    return (1 - w) * grid[lo] + w * grid[lo + 1]


def _fit_chunk(dictionary, d) -> dict:
    """Match, refine and take amplitude, residual and J^T J for the voxels ``d`` (N, V)."""
    xp = get_array_module(d)
    t2_grid, b1_grid, raw, norm, atoms = dictionary
    n_t2, n_b1, _ = atoms.shape
    it, ib, _ = _match(atoms, d)
    for _ in range(REFINE_PASSES):  # re-centre where the quadratic's vertex left the cell
        ft, fb = _refine(atoms, d, it, ib)
        it, ib = xp.rint(ft).astype(int), xp.rint(fb).astype(int)
    # amplitude and residual at the atom nearest to the refined point
    nt = xp.clip(it, 0, n_t2 - 1)
    nb = xp.clip(ib, 0, n_b1 - 1)
    proj = column_dot(atoms[nt, nb].T, d)
    s0 = proj / norm[nt, nb]
    # Jacobian columns of S0 * atom(T2, B1) by central differences on the grid
    ct, cb = xp.clip(nt, 1, n_t2 - 2), xp.clip(nb, 1, n_b1 - 2)
    d_t2 = (raw[ct + 1, nb] - raw[ct - 1, nb]) / (t2_grid[ct + 1] - t2_grid[ct - 1])[:, None]
    d_b1 = (raw[nt, cb + 1] - raw[nt, cb - 1]) / (b1_grid[cb + 1] - b1_grid[cb - 1])[:, None]
    jac = [raw[nt, nb].T, (s0[:, None] * d_t2).T, (s0[:, None] * d_b1).T]
    return {
        "T2": xp.exp(_interp(xp.log(t2_grid), ft)),
        "B1": _interp(b1_grid, fb),
        "S0": s0,
        "rss": xp.maximum(column_dot(d, d) - proj**2, 0.0),
        "edge": fb <= 0.5,
        "jtj": normal_matrix(jac),
    }


def fit_t2_mese(
    images,
    te_s,
    refocus_rad=math.pi,
    *,
    excite_rad: float = math.pi / 2,
    t1_s: float = 1.0,
    b1_min: float = 0.4,
    slice_profile=None,
    mask=None,
    noise_sigma=None,
) -> ParameterMaps:
    """Fit T2 (s), refocusing B1 (relative) and S0 to a CPMG echo train.

    images: (n_echo, *spatial), magnitude taken; te_s: echo times n ESP (s); refocus_rad:
    nominal refocusing angle (or one per echo); t1_s: fixed T1 of the dictionary;
    b1_min: lower end of the B1 grid; slice_profile: relative flip factors across the
    slice, one row for both pulses or two rows (excitation, refocusing), optional. Maps: T2, B1, S0, residual (RMS), T2_crlb, B1_crlb, S0_crlb,
    out_of_range, mask.
    """
    te, refocus = _check(te_s, refocus_rad)
    voxels = gather_voxels(images, te.size, MODEL, mask)
    xp = get_array_module(voxels.data)
    data = xp.abs(voxels.data).astype(xp.float64, copy=False)
    t_lo, t_hi = valid_decay_range(te)
    b1_max = float(math.pi / refocus.max())
    profile = () if slice_profile is None else _profile_key(slice_profile)
    t2_np, b1_np, raw_np = epg_dictionary(
        te.size, float(te[0]), tuple(refocus.tolist()) if refocus.size > 1 else float(refocus[0]),
        float(excite_rad), float(t1_s), (t_lo / 2, 2 * t_hi), (float(b1_min), b1_max), profile,
    )
    t2_grid, b1_grid, raw = xp.asarray(t2_np), xp.asarray(b1_np), xp.asarray(raw_np)
    norm = xp.sqrt((raw**2).sum(axis=2))
    dictionary = (t2_grid, b1_grid, raw, norm, raw / norm[..., None])
    parts = map_chunks(lambda part: _fit_chunk(dictionary, data[:, part]), data.shape[1], xp)
    t2, b1, s0, rss, edge = (xp.concatenate([p[k] for p in parts]) for k in ("T2", "B1", "S0", "rss", "edge"))
    jtj = [[xp.concatenate([p["jtj"][i][j] for p in parts]) for j in range(3)] for i in range(3)]
    sigma = float(noise_sigma) if noise_sigma is not None else noise_sigma_from_residuals(rss, te.size, 3)
    sd_s0, sd_t2, sd_b1 = crlb_sd(jtj, sigma)
    values = {"T2": t2, "B1": b1, "S0": s0, "residual": rms_residual(rss, te.size), "T2_crlb": sd_t2, "B1_crlb": sd_b1, "S0_crlb": sd_s0}
    units = {"T2": "s", "B1": "1", "S0": "a.u.", "residual": "a.u.", "T2_crlb": "s", "B1_crlb": "1", "S0_crlb": "a.u."}
    info = {
        "model": "CPMG echo magnitudes from extended phase graphs (Weigel, JMRI 2015;41:266), dictionary over (T2, B1)",
        "EchoTime": te.tolist(),
        "RefocusingFlipAngle": np.degrees(refocus).tolist(),
        "ExcitationFlipAngle": math.degrees(excite_rad),
        "fixed_T1_s": t1_s,
        "B1_grid": [float(b1_min), b1_max, B1_STEP],
        "T2_grid_relative_step": T2_STEP,
        "slice_profile": [list(r) if isinstance(r, tuple) else r for r in profile],
        "valid_T2_range_s": [t_lo, t_hi],
        "noise_sigma": sigma,
    }
    out_of_range = (t2 < t_lo) | (t2 > t_hi) | edge
    return assemble(MODEL, voxels, values, units, out_of_range, info)
