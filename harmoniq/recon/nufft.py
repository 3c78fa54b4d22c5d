"""Non-Cartesian reconstruction (radial, spiral, ...) with sigpy's NUFFT.

The forward model of one coil is the non-uniform DFT ``y_j = N^(-1/2) sum_r x(r)
exp(-2i pi k_j . r)`` of the image ``x`` at the sample positions ``k_j``, in units of
cycles per field of view (k times FOV, so a Cartesian grid has integer positions in
``-n/2 .. n/2 - 1``); sigpy's ``nufft`` evaluates it (Kaiser-Bessel gridding, Fessler and
Sutton, IEEE Trans Signal Process 2003;51:560-574) with our FFT convention
(:mod:`harmoniq.io.fourier`). Two methods:

- ``nufft``: the density-compensated adjoint ``x = A^H (w * y)`` per coil, then coil
  combination. ``w_j`` is the k-space area around sample j in grid cells
  (:mod:`harmoniq.recon.density`: exact for straight spokes through k = 0 and for lines along
  one axis, Pipe-Menon otherwise), so the image keeps the scale of a Cartesian reconstruction.
- ``sense``: iterative SENSE, ``min_x || A S x - y ||^2`` by conjugate gradients, stopped
  after a fixed number of iterations (Pruessmann et al., Magn Reson Med 2001;46:638-651).

Coil maps come from ESPIRiT on the gridded k-space centre of the frame with the most
signal, and are used for every frame. Radial readouts should be oversampled twice (as
usual): at one sample per 1/FOV the density-compensated adjoint suffers from the
periodic overlap of the ramp-filtered projections.
"""

from __future__ import annotations

import numpy as np

from harmoniq.backend import get_array_module, to_numpy, xp_for_device
from harmoniq.errors import HarmoniqError
from harmoniq.io.fourier import image_to_k
from harmoniq.io.image_series import ImageSeries
from harmoniq.io.kspace import image_geometry
from harmoniq.io.seq_sorting import NonCartesianKSpace
from harmoniq.progress import counter
from harmoniq.recon import coils
from harmoniq.recon.density import density_compensation, density_rule

METHODS = ("nufft", "sense")
SENSE_ITERATIONS = 20
GRID_MARGIN = 0.5
"""Samples may lie this far (in grid cells) beyond the recon matrix edge ``n / 2``."""


def grid_coordinates(kspace: NonCartesianKSpace) -> np.ndarray:
    """sigpy coordinates (..., ndim): k times the recon FOV, ordered like the image axes
    ((z,) y, x); ``ndim`` is 3 for a 3D recon matrix, else 2."""
    fov_zyx = np.asarray(kspace.header.recon_fov_m[::-1], dtype=np.float64)
    coord = (kspace.k_per_m[..., ::-1] * fov_zyx).astype(np.float32)
    shape = kspace.grid_shape
    if shape[0] == 1:
        coord, shape = coord[..., 1:], shape[1:]
    reach = np.abs(coord).reshape(-1, coord.shape[-1]).max(axis=0)
    if np.any(reach > np.asarray(shape) / 2 + GRID_MARGIN):
        raise HarmoniqError(f"the trajectory reaches k * FOV = {np.round(reach, 1).tolist()} but the recon matrix "
                            f"{list(shape)} covers +-{[n / 2 for n in shape]}; fix the header's reconSpace matrix "
                            "(or the FOV definition of the .seq file)")
    return coord


def coil_images(k, coord, weights, shape):
    """Density-compensated adjoint NUFFT of each coil: (coil, ...) k-space -> (coil, *shape)."""
    import sigpy as sp

    return sp.nufft_adjoint(k * weights, coord, (k.shape[0], *shape))


def _centre_block(k_grid):
    """The central ESPIRiT calibration block (coil, c2, c1, c0) of gridded k-space."""
    slices = [slice(None)]
    for n in k_grid.shape[1:]:
        width = min(n, coils.ESPIRIT_CALIBRATION_SIZE)
        slices.append(slice(n // 2 - width // 2, n // 2 - width // 2 + width))
    return k_grid[tuple(slices)]


def _coil_maps(k, coord, weights, shape, combination: str, method: str):
    """Maps (coil, z, y, x) from one frame's k-space (coil, ...), or None for root-sum-of-squares."""
    n_coils = k.shape[0]
    if n_coils == 1:
        return get_array_module(k).ones((1, *shape), dtype=k.dtype) if method == "sense" else None
    if method == "nufft" and combination == "rss":
        return None
    images = coil_images(k, coord, weights, shape[-coord.shape[-1]:]).reshape(n_coils, *shape)
    if method == "sense" or combination == "espirit":
        return coils.espirit_maps(_centre_block(image_to_k(images)), shape)
    return coils.adaptive_maps(images)


def _sense(k, coord, maps, iterations: int):
    """Iterative SENSE image (*shape) from coil k-space (coil, ...) and maps (coil, *shape)."""
    import sigpy as sp
    from sigpy.mri.app import SenseRecon

    return SenseRecon(k, maps, coord=coord, max_iter=iterations, device=sp.get_device(k), show_pbar=False).run()


def reconstruct_along_trajectory(kspace: NonCartesianKSpace, method: str = "auto", *, combination: str = "auto",
                                 device: str = "cpu", coil_map_frame=(0, 0, 0, 0), progress: bool = False,
                                 iterations: int = SENSE_ITERATIONS) -> ImageSeries:
    """Reconstruct every frame and slice of non-Cartesian ``kspace`` by ``method`` ('auto'
    = 'nufft', or 'sense'); ``combination`` for 'nufft': 'rss', 'adaptive' or 'espirit'
    (default for several coils); ``coil_map_frame``: the (repetition, set, phase, contrast)
    frame whose gridded centre gives the coil maps."""
    chosen = "nufft" if method == "auto" else method
    if chosen not in METHODS:
        raise HarmoniqError(f"method {method!r} needs Cartesian k-space; for this non-Cartesian trajectory use "
                            f"auto, {' or '.join(METHODS)}")
    if combination == "auto":
        combination = "espirit" if kspace.n_coils > 1 else "rss"
    xp = xp_for_device(device)
    coordinates = grid_coordinates(kspace)
    shape = kspace.grid_shape
    image_shape = shape if coordinates.shape[-1] == 3 else shape[1:]
    n_slices, nz = kspace.data.shape[4], shape[0]
    images = np.zeros((*kspace.other_shape, n_slices * nz, *shape[1:]), np.complex64)
    frames = list(np.ndindex(*kspace.other_shape))
    affine, order = image_geometry(kspace)
    cache, rules = {}, set()

    def frame_data(frame, s):
        """(k (coil, readout, sample), coord, weights) of one frame and slice on the device."""
        coord = coordinates[(*frame, s, 0)]
        key = coord.tobytes()
        if key not in cache:
            cache.clear()
            device_coord = xp.asarray(coord)
            cache[key] = device_coord, density_compensation(device_coord, image_shape)
            rules.add(density_rule(coord))
        return (xp.asarray(kspace.data[(*frame, s)][:, 0]), *cache[key])

    steps = counter(progress, n_slices * len(frames), f"recon ({chosen})", "frame")
    for out_slice, s in enumerate(order):
        maps = _coil_maps(*frame_data(tuple(coil_map_frame), s), shape, combination, chosen)
        for frame in frames:
            k, coord, weights = frame_data(frame, s)
            if chosen == "sense":
                image = _sense(k, coord, maps.reshape(-1, *image_shape), iterations).reshape(shape)
            else:
                gridded = coil_images(k, coord, weights, image_shape).reshape(-1, *shape)
                image = coils.rss(gridded) if maps is None else coils.combine(gridded, maps)
            images[(*frame, slice(out_slice * nz, (out_slice + 1) * nz))] = to_numpy(image)
            steps.update()
    steps.close()
    record = {"method": chosen, "chosen_by_auto": method == "auto", "trajectory": "non-cartesian (.seq)",
              "coil_combination": "espirit" if chosen == "sense" else combination, "device": device,
              "density_compensation": sorted(rules),
              "coil_map_frame": list(coil_map_frame), "prewhitened": kspace.prewhitened}
    if chosen == "sense":
        record["iterations"] = iterations
    return ImageSeries(data=images, affine_lps_m=affine, header=kspace.header, recon=record)
