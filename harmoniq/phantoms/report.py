"""What a person looks at: the ROI table and a PNG of the PD, T1 and T2 maps with ROI outlines."""

from __future__ import annotations

import os

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LogNorm, Normalize
from matplotlib.figure import Figure

from harmoniq.atomic import output_files
from harmoniq.phantoms.base import Phantom


def roi_table(phantom: Phantom) -> list[dict]:
    """One row per ROI: label, name, t1_ms, t2_ms, pd, voxels (None where not defined)."""
    counts = np.bincount(phantom.labels.ravel().astype(np.int64), minlength=max(phantom.rois, default=0) + 1)
    ms = lambda s: None if s is None else s * 1e3  # noqa: E731
    return [
        {"label": k, "name": r.name, "t1_ms": ms(r.t1_s), "t2_ms": ms(r.t2_s), "pd": r.pd, "voxels": int(counts[k])}
        for k, r in sorted(phantom.rois.items())
    ]


def save_maps_png(phantom: Phantom, path: str | os.PathLike, force: bool = False) -> None:
    """Write the middle slice's PD, T1 (ms) and T2 (ms) maps with ROI outlines to ``path`` (PNG).

    T1 and T2 use logarithmic colour scales: the NIST spheres span two decades.
    """
    z = phantom.shape[0] // 2
    signal = phantom.pd[z] > 0
    labels = phantom.labels[z]
    panels = (
        ("PD (a.u.)", phantom.pd[z], "gray", Normalize(0.0, max(float(phantom.pd.max()), 1e-12))),
        ("T1 (ms)", np.where(signal, phantom.t1_s[z] * 1e3, np.nan), "viridis", None),
        ("T2 (ms)", np.where(signal, phantom.t2_s[z] * 1e3, np.nan), "magma", None),
    )
    fig = Figure(figsize=(13, 4.4), layout="constrained")
    FigureCanvasAgg(fig)
    fov = phantom.fov_m
    extent = [-fov[2] / 2 * 1e3, fov[2] / 2 * 1e3, -fov[1] / 2 * 1e3, fov[1] / 2 * 1e3]
    for ax, (title, image, cmap, norm) in zip(fig.subplots(1, 3), panels):
        if norm is None:
            finite = image[np.isfinite(image)]
            norm = LogNorm(finite.min(), finite.max()) if finite.size else None
        shown = ax.imshow(image, cmap=cmap, norm=norm, origin="lower", extent=extent, interpolation="nearest")
        for k in np.unique(labels[labels > 0]):
            ax.contour(labels == k, levels=[0.5], colors="red", linewidths=0.6, origin="lower", extent=extent)
        ax.set_title(title)
        ax.set_xlabel("x (mm)")
        ax.set_ylabel("y (mm)")
        fig.colorbar(shown, ax=ax, shrink=0.85)
    fig.suptitle(f"{phantom.name} phantom, {phantom.field_t:g} T, slice {z} of {phantom.shape[0]}")
    with output_files(path, stage="phantoms", force=force) as (tmp,):  # an existing PNG is replaced only with force
        fig.savefig(tmp, format="png", dpi=100)
