"""GRAPPA for regular Cartesian undersampling along k1 and/or k2 (NumPy or CuPy).

Griswold et al., Magn Reson Med 2002;47:1202-1210. Each missing point of the R2 x R1
lattice cell at offset ``(d2, d1)`` is a linear combination of the acquired points of all
coils in a ``(b2 R2) x (b1 R1) x b0`` neighbourhood:

    k_c(t) = sum_{c', o} w_{c, c', o} k_{c'}(t + o)

The weights solve the Tikhonov-regularised least squares problem on the ACS block,
``W = T S^H (S S^H + lambda I)^-1`` with ``lambda = reg * trace(S S^H) / n_sources``.
Acquired points are kept as measured.
"""

from __future__ import annotations

import itertools

import numpy as np

from harmoniq.backend import get_array_module
from harmoniq.errors import HarmoniqError
from harmoniq.recon.sampling import lattice_origin

CHUNK_POINTS = 1 << 16


def _source_offsets(d2, d1, r2, r1, blocks, width0):
    """Offsets (o2, o1, o0) from a target at lattice offset (d2, d1) to its source points."""
    b2, b1 = blocks
    j2 = range(-(b2 // 2) + 1, b2 // 2 + 1) if r2 > 1 else [0]
    j1 = range(-(b1 // 2) + 1, b1 // 2 + 1) if r1 > 1 else [0]
    o0 = range(-(width0 // 2), width0 // 2 + 1)
    return [(r2 * a - d2 if r2 > 1 else 0, r1 * b - d1 if r1 > 1 else 0, c)
            for a, b, c in itertools.product(j2, j1, o0)]


def _gather(k, points, offsets):
    """Source matrix (coil * n_sources, n_points): k at each point + offset (0 outside)."""
    xp = get_array_module(k)
    shape = xp.asarray(k.shape[1:])
    rows = []
    for off in offsets:
        idx = points + xp.asarray(off)[:, None]
        inside = xp.all((idx >= 0) & (idx < shape[:, None]), axis=0)
        clipped = [xp.clip(idx[a], 0, k.shape[a + 1] - 1) for a in range(3)]
        rows.append(k[:, clipped[0], clipped[1], clipped[2]] * inside)
    return xp.concatenate(rows, axis=0)


def _weights(acs, offsets, reg):
    """Kernel (coil, coil * n_sources) fitted on every ACS position with all sources inside."""
    xp = get_array_module(acs)
    offs = np.asarray(offsets)
    lo, hi = np.minimum(offs.min(axis=0), 0), np.maximum(offs.max(axis=0), 0)
    ranges = [np.arange(-lo[a], acs.shape[a + 1] - hi[a]) for a in range(3)]
    if any(r.size == 0 for r in ranges):
        raise HarmoniqError(f"GRAPPA: the calibration block {acs.shape[1:]} (k2, k1, k0) is smaller than the kernel "
                            f"span {tuple(hi - lo + 1)}; acquire more ACS lines or use --method sense")
    grid = np.stack([g.ravel() for g in np.meshgrid(*ranges, indexing="ij")])
    points = xp.asarray(grid)
    sources = _gather(acs, points, offsets)
    targets = acs[:, points[0], points[1], points[2]]
    gram = sources @ sources.conj().T
    lam = reg * xp.real(xp.trace(gram)) / gram.shape[0]
    rhs = targets @ sources.conj().T
    return xp.linalg.solve((gram + lam * xp.eye(gram.shape[0], dtype=gram.dtype)).T, rhs.T).T


def grappa(k, mask, acs, factors, *, blocks=(2, 4), width0=5, reg=1e-3):
    """Fill the missing lines of ``k`` (coil, k2, k1, k0) sampled on a regular lattice.

    ``mask`` (k2, k1): acquired lines; ``acs`` (coil, c2, c1, k0): calibration block;
    ``factors`` (R2, R1); ``blocks``: source lattice rows used along (k2, k1).
    """
    xp = get_array_module(k)
    r2, r1 = factors
    mask_np = np.asarray(mask)
    o2 = lattice_origin(mask_np.any(axis=1), r2) if r2 > 1 else 0
    o1 = lattice_origin(mask_np.any(axis=0), r1) if r1 > 1 else 0
    measured = k * xp.asarray(mask_np)[None, :, :, None]
    out = measured.copy()
    n2, n1, n0 = k.shape[1:]
    for d2, d1 in itertools.product(range(r2), range(r1)):
        if d2 == 0 and d1 == 0:
            continue
        offsets = _source_offsets(d2, d1, r2, r1, blocks, width0)
        w = _weights(acs, offsets, reg)
        lines2 = np.arange((o2 + d2) % r2, n2, r2) if r2 > 1 else np.arange(n2)
        lines1 = np.arange((o1 + d1) % r1, n1, r1) if r1 > 1 else np.arange(n1)
        targets = np.stack([g.ravel() for g in np.meshgrid(lines2, lines1, np.arange(n0), indexing="ij")])
        keep = ~mask_np[targets[0], targets[1]]
        targets = targets[:, keep]
        for start in range(0, targets.shape[1], CHUNK_POINTS):
            chunk = xp.asarray(targets[:, start:start + CHUNK_POINTS])
            out[:, chunk[0], chunk[1], chunk[2]] = w @ _gather(measured, chunk, offsets)
    return out
