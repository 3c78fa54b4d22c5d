"""Partial-volume rasterisation of an analytic scene onto a voxel grid.

A scene is a list of tissues (index 0: background, no ROI) and solids painted in order (a later
solid replaces an earlier one where they overlap). Each voxel is sampled on a regular
``s x s (x s)`` sub-grid (in-plane only for a 2D slice) wherever its 3^n neighbourhood of voxel
centres is not all one tissue; elsewhere the voxel is taken as pure. With f_k the fraction of
sub-samples in tissue k:

- PD = sum_k f_k PD_k, the magnetisation the voxel holds;
- T1, T2, T2' and the chemical-shift offset are those of the dominant tissue, the one with the
  largest f_k PD_k (a voxel in our Phantom has one T1; an average of T1s would create values
  that exist in no tissue). Voxels with no PD take the tissue with the largest f_k.

ROI masks hold pure voxels only (all sub-samples in one tissue), then eroded by
``roi_erosion_voxels`` voxels (face neighbours, within the slice for 2D): the ROI mean of a
property map then equals the tissue's reference value exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harmoniq.backend import to_numpy
from harmoniq.phantoms.base import ROI, Phantom
from harmoniq.phantoms.grid import Grid
from harmoniq.phantoms.tissues import Tissue

_POINTS_PER_CHUNK = 2**20


@dataclass(frozen=True)
class Scene:
    """Tissues (index = label, 0 = background) and (solid, tissue index) pairs painted in order."""

    tissues: tuple[Tissue, ...]
    solids: tuple[tuple[object, int], ...]
    roi_erosion_voxels: int = 0


def _index_range(axis: np.ndarray, lo: float, hi: float) -> slice:
    return slice(int(np.searchsorted(axis, lo, side="left")), int(np.searchsorted(axis, hi, side="right")))


def _centre_labels(scene: Scene, grid: Grid, xp):
    """Tissue index at each voxel centre, shape (z, y, x); each solid only inside its bounding box."""
    zs, ys, xs = grid.axes_m()
    label = xp.zeros(grid.shape, dtype=xp.int16)
    plane = grid.shape[1] * grid.shape[2]
    for solid, index in scene.solids:
        lo, hi = solid.bounding_box()
        sz, sy, sx = (_index_range(a, lo[i], hi[i]) for a, i in ((zs, 2), (ys, 1), (xs, 0)))
        if sz.start >= sz.stop or sy.start >= sy.stop or sx.start >= sx.stop:
            continue
        y = xp.asarray(ys[sy])[None, :, None]
        x = xp.asarray(xs[sx])[None, None, :]
        step = max(1, _POINTS_PER_CHUNK // plane)
        for z0 in range(sz.start, sz.stop, step):
            z1 = min(z0 + step, sz.stop)
            z = xp.asarray(zs[z0:z1])[:, None, None]
            block = label[z0:z1, sy, sx]
            block[solid.contains(x, y, z)] = index
    return label


def _neighbours(a, axis: int, mode: str, xp, fill=0):
    """The two face neighbours of every voxel along ``axis`` (before, after), padded with ``mode``."""
    width = [(0, 0)] * a.ndim
    width[axis] = (1, 1)
    padded = xp.pad(a, width, mode=mode) if mode == "edge" else xp.pad(a, width, mode=mode, constant_values=fill)
    n = a.shape[axis]
    take = lambda start: tuple(slice(start, start + n) if i == axis else slice(None) for i in range(a.ndim))  # noqa: E731
    return padded[take(0)], padded[take(2)]


def _mixed_neighbourhood(label, axes, xp):
    """True where the 3^n box of voxel centres around a voxel (edges replicated) holds two tissues."""
    lo, hi = label, label
    for axis in axes:
        before, after = _neighbours(lo, axis, "edge", xp)
        lo = xp.minimum(lo, xp.minimum(before, after))
        before, after = _neighbours(hi, axis, "edge", xp)
        hi = xp.maximum(hi, xp.maximum(before, after))
    return lo != hi


def _erode_same_tissue(keep, tissue, axes, iterations: int, xp):
    """Keep voxels whose face neighbours (within ``axes``) are kept and of the same tissue."""
    for _ in range(iterations):
        out = keep.copy()
        for axis in axes:
            for nb_keep, nb_tissue in zip(
                _neighbours(keep, axis, "constant", xp, False), _neighbours(tissue, axis, "constant", xp, -1)
            ):
                out &= nb_keep & (nb_tissue == tissue)
        keep = out
    return keep


def _subsample_offsets(grid: Grid, supersample: int) -> np.ndarray:
    """Sub-sample offsets (S, 3) as (x, y, z) in m from the voxel centre; z = 0 in 2D."""
    per_axis = [((np.arange(supersample) + 0.5) / supersample - 0.5) * d for d in grid.voxel_size_m]
    if grid.ndim == 2:
        per_axis[0] = np.zeros(1)
    oz, oy, ox = np.meshgrid(*per_axis, indexing="ij")
    return np.stack([ox.ravel(), oy.ravel(), oz.ravel()], axis=1)


def _tissue_counts(scene: Scene, grid: Grid, voxels, offsets: np.ndarray, xp):
    """Sub-sample counts per tissue, shape (K, n_tissues), of the voxels (iz, iy, ix) given."""
    axes = [xp.asarray(a) for a in grid.axes_m()]
    off = xp.asarray(offsets)
    points = [axes[2 - i][voxels[2 - i]][:, None] + off[None, :, i] for i in range(3)]  # x, y, z
    label = xp.zeros(points[0].shape, dtype=xp.int16)
    lo_chunk = np.array([float(p.min()) for p in points])
    hi_chunk = np.array([float(p.max()) for p in points])
    for solid, index in scene.solids:
        lo, hi = solid.bounding_box()
        if np.any(hi < lo_chunk) or np.any(lo > hi_chunk):
            continue
        near = (points[0] >= lo[0]) & (points[0] <= hi[0]) & (points[1] >= lo[1]) & (points[1] <= hi[1])
        near &= (points[2] >= lo[2]) & (points[2] <= hi[2])
        inside = solid.contains(points[0][near], points[1][near], points[2][near])
        sub = label[near]
        sub[inside] = index
        label[near] = sub
    n_tissues = len(scene.tissues)
    k = label.shape[0]
    flat = xp.arange(k)[:, None] * n_tissues + label
    return xp.bincount(flat.ravel(), minlength=k * n_tissues).reshape(k, n_tissues)


@dataclass
class Maps:
    """Rasterised property maps (z, y, x), NumPy, SI units; labels: ROI label per voxel (0: none)."""

    pd: np.ndarray
    t1_s: np.ndarray
    t2_s: np.ndarray
    t2prime_s: np.ndarray
    offres_hz: np.ndarray
    labels: np.ndarray


def rasterize(scene: Scene, grid: Grid, supersample: int = 4, xp=np) -> Maps:
    """Rasterise ``scene`` on ``grid`` with ``supersample`` sub-samples per in-plane (and, in 3D,
    through-plane) axis, computing with array module ``xp`` (NumPy or CuPy); see module docstring."""
    table = {f: xp.asarray([getattr(t, f) for t in scene.tissues]) for f in ("pd", "t1_s", "t2_s", "t2prime_s", "offres_hz")}
    tissue = _centre_labels(scene, grid, xp)
    pd = table["pd"][tissue]
    pure = xp.ones(grid.shape, dtype=bool)
    if supersample > 1:
        mixed = xp.nonzero(_mixed_neighbourhood(tissue, grid.spatial_axes, xp))
        offsets = _subsample_offsets(grid, supersample)
        per_chunk = max(1, _POINTS_PER_CHUNK // len(offsets))
        for start in range(0, int(mixed[0].shape[0]), per_chunk):
            voxels = tuple(v[start : start + per_chunk] for v in mixed)
            counts = _tissue_counts(scene, grid, voxels, offsets, xp)
            weight = counts * table["pd"][None, :]
            dominant = xp.where(weight.max(axis=1) > 0, weight.argmax(axis=1), counts.argmax(axis=1))
            is_pure = counts.max(axis=1) == len(offsets)
            tissue[voxels] = dominant.astype(xp.int16)
            pd[voxels] = xp.where(is_pure, table["pd"][dominant], weight.sum(axis=1) / len(offsets))
            pure[voxels] = is_pure
    roi = _erode_same_tissue(pure & (tissue > 0), tissue, grid.spatial_axes, scene.roi_erosion_voxels, xp)
    labels = xp.where(roi, tissue, 0).astype(xp.int16)
    return Maps(
        pd=to_numpy(pd),
        t1_s=to_numpy(table["t1_s"][tissue]),
        t2_s=to_numpy(table["t2_s"][tissue]),
        t2prime_s=to_numpy(table["t2prime_s"][tissue]),
        offres_hz=to_numpy(table["offres_hz"][tissue]),
        labels=to_numpy(labels),
    )


def build_phantom(name: str, field_t: float, scene: Scene, grid: Grid, supersample: int, xp, meta: dict) -> Phantom:
    """Rasterise ``scene`` and wrap it as a Phantom whose ROIs are the tissues with a non-empty mask."""
    maps = rasterize(scene, grid, supersample, xp)
    present = sorted(int(k) for k in np.unique(maps.labels) if k > 0)
    rois = {
        k: ROI(label=k, name=scene.tissues[k].name, t1_s=scene.tissues[k].t1_s, t2_s=scene.tissues[k].t2_s, pd=scene.tissues[k].pd)
        for k in present
    }
    meta = {"supersample": supersample, "roi_erosion_voxels": scene.roi_erosion_voxels, **meta}
    return Phantom(
        name=name,
        field_t=field_t,
        pd=maps.pd,
        t1_s=maps.t1_s,
        t2_s=maps.t2_s,
        t2prime_s=maps.t2prime_s,
        offres_hz=maps.offres_hz,
        labels=maps.labels,
        rois=rois,
        voxel_size_m=grid.voxel_size_m,
        meta=meta,
    )
