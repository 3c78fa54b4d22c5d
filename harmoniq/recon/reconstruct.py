"""KSpace -> ImageSeries: pick a method, reconstruct every frame and slice, combine coils.

Methods: ``fft`` (zero-filled inverse FFT, partial Fourier by POCS), ``grappa`` (then
POCS), ``sense`` (ESPIRiT maps + CG-SENSE), ``cs`` (ESPIRiT maps + L1-wavelet), ``tv``
(ESPIRiT maps + total variation). ``auto`` picks from the sampling: fully sampled -> fft;
regular undersampling -> sense, or grappa when partial Fourier is also used; irregular
undersampling -> cs. The choice is recorded in ``ImageSeries.recon``. Non-Cartesian data
(:class:`~harmoniq.io.seq_sorting.NonCartesianKSpace`) go to :mod:`harmoniq.recon.nufft`:
``nufft`` (density-compensated gridding, what ``auto`` picks) or ``sense`` (iterative SENSE).

For quantitative series the coil weights must not change between contrasts (else the
combination biases the fit), so coil maps are computed once per slice, from the frame
with the most calibration energy, and used for every frame.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from harmoniq.backend import to_numpy, xp_for_device
from harmoniq.errors import HarmoniqError
from harmoniq.io.fourier import k_to_image
from harmoniq.io.image_series import ImageSeries
from harmoniq.io.kspace import KSpace, image_geometry
from harmoniq.io.seq_sorting import NonCartesianKSpace
from harmoniq.progress import counter
from harmoniq.protocols import ReconOptions
from harmoniq.recon import coils
from harmoniq.recon.calibration import acs, with_calibration_lines
from harmoniq.recon.filters import apply_filter
from harmoniq.recon.grappa import grappa
from harmoniq.recon.iterative import reconstruct_frame
from harmoniq.recon.nufft import reconstruct_along_trajectory
from harmoniq.recon.partial_fourier import pocs
from harmoniq.recon.sampling import acceleration, is_regular, partial_fourier_extent

MAP_METHODS = ("sense", "cs", "tv")


@dataclass(frozen=True)
class Sampling:
    """How a k-space grid is sampled.

    acceleration: (R2, R1) of the first frame; regular: equally spaced lines; extents: axis
    (-3 for k2, -2 for k1) -> sampled [first, stop) where partial Fourier leaves part out;
    fully_sampled: every frame has every line inside those extents.
    """

    acceleration: tuple[int, int]
    regular: bool
    extents: dict
    fully_sampled: bool

    @property
    def partial_fourier(self) -> dict:
        """Partial-Fourier extents by axis name, for the provenance record."""
        return {("k2" if a == -3 else "k1"): list(e) for a, e in self.extents.items()}


def describe_sampling(kspace: KSpace) -> Sampling:
    """Acceleration (R2, R1) and regularity (of the first frame), partial-Fourier extents and
    full sampling (of every frame; a missing k = -N/2 edge line still counts as full)."""
    union = kspace.mask.any(axis=(0, 1, 2, 3, 4))
    first = kspace.mask[0, 0, 0, 0, 0]
    n2, n1 = union.shape
    along1, along2 = first[n2 // 2], first[:, n1 // 2]
    factors = (acceleration(along2), acceleration(along1))
    extents = {axis: ext for axis, ext in ((-3, partial_fourier_extent(along2)), (-2, partial_fourier_extent(along1)))
               if ext is not None}
    inside = np.ones_like(kspace.mask)
    for axis, n in ((-2, n2), (-1, n1)):  # the k = -N/2 edge line: its +N/2 partner lies off the grid
        if n > 1 and n % 2 == 0:
            sl = [slice(None)] * inside.ndim
            sl[axis] = 0
            inside[tuple(sl)] = False
    for axis, (first, stop) in extents.items():
        sl = [slice(None)] * inside.ndim
        sl[axis + 1] = np.r_[0:first, stop:inside.shape[axis + 1]]  # the mask has no coil axis
        inside[tuple(sl)] = False
    return Sampling(factors, is_regular(along1) and is_regular(along2), extents, bool(kspace.mask[inside].all()))


def choose_method(kspace: KSpace, sampling: Sampling) -> str:
    """The method ``auto`` picks for these data (see the module docstring)."""
    if sampling.fully_sampled:
        return "fft"
    if kspace.n_coils == 1 or not sampling.regular:
        return "cs"
    return "grappa" if sampling.extents else "sense"


def _reference_frame(kspace: KSpace) -> tuple[int, int, int, int]:
    """The (repetition, set, phase, contrast) frame with the most k-space energy."""
    energy = np.sum(np.abs(kspace.data) ** 2, axis=(4, 5, 6, 7, 8))
    return tuple(int(i) for i in np.unravel_index(np.argmax(energy), energy.shape))


def _coil_maps(kspace, xp, slice_index, frame, combination, method, factors):
    """Maps (coil, z, y, x) for one slice, or None for root-sum-of-squares (one coil: a map of ones,
    which keeps the image's phase)."""
    if combination == "rss":
        return None
    shape = kspace.grid_shape
    if kspace.n_coils == 1:
        return xp.ones((1, *shape), dtype=xp.complex64)
    if combination == "espirit" or method in MAP_METHODS:
        return coils.espirit_maps(xp.asarray(acs(kspace, frame, slice_index)), shape)
    k = xp.asarray(kspace.data[(*frame, slice_index)])
    if method == "grappa":
        k = grappa(k, kspace.mask[(*frame, slice_index)], xp.asarray(acs(kspace, frame, slice_index)), factors)
    return coils.adaptive_maps(k_to_image(k))


def reconstruct(kspace: KSpace, options: ReconOptions = ReconOptions(), *, device: str = "cpu",
                progress=False) -> ImageSeries:
    """Reconstruct every frame and slice of ``kspace`` into an :class:`ImageSeries`.

    ``options.combination`` (fft and grappa only): 'rss', 'adaptive' or 'espirit' (default for
    several coils: its maps vanish outside the object, so background noise does not enter the
    image); the model-based methods always use ESPIRiT maps. ``options.filter`` apodizes
    Cartesian k-space first (:mod:`harmoniq.recon.filters`), as a vendor reconstruction would.
    """
    method, combination = options.method, options.combination
    if isinstance(kspace, NonCartesianKSpace):
        if options.filter != "none":
            raise HarmoniqError(f"recon filter {options.filter!r} applies to Cartesian data; use --filter none")
        return reconstruct_along_trajectory(kspace, method, combination=combination, device=device,
                                            coil_map_frame=_reference_frame(kspace), progress=progress)
    if method == "nufft":
        raise HarmoniqError("method 'nufft' needs a non-Cartesian trajectory; these data are Cartesian: use "
                            "--method auto, fft, grappa, sense, cs or tv")
    xp = xp_for_device(device)
    if options.filter != "none":
        kspace = dataclasses.replace(kspace, data=apply_filter(kspace.data, options.filter))
    kspace = with_calibration_lines(kspace)
    sampling = describe_sampling(kspace)
    chosen = choose_method(kspace, sampling) if method == "auto" else method
    if chosen == "fft" and not sampling.fully_sampled and sampling.acceleration != (1, 1):
        raise HarmoniqError(f"method 'fft' on data undersampled by {sampling.acceleration} (k2, k1) would alias; "
                            "use --method auto, grappa, sense or cs")
    if combination == "auto":  # one coil: its complex image, phase kept (Bloch-Siegert, signed MP2RAGE)
        combination = "espirit" if kspace.n_coils > 1 else "single coil"
    factors = tuple(max(h, m) for h, m in zip(kspace.header.acceleration_k2_k1, sampling.acceleration))
    frame0 = _reference_frame(kspace)
    n_slices = kspace.data.shape[4]
    n2, n1, n0 = kspace.grid_shape
    images = np.zeros((*kspace.other_shape, n_slices * n2, n1, n0), np.complex64)
    frames = list(np.ndindex(*kspace.other_shape))
    affine, order = image_geometry(kspace)
    steps = counter(progress, n_slices * len(frames), f"recon ({chosen})", "frame")
    for out_slice, s in enumerate(order):
        maps = _coil_maps(kspace, xp, int(s), frame0, combination, chosen, factors)
        for frame in frames:
            k = xp.asarray(kspace.data[(*frame, s)])
            mask = kspace.mask[(*frame, s)]
            if chosen in MAP_METHODS:
                image = reconstruct_frame(k * xp.asarray(mask)[None, :, :, None], maps, mask, chosen)
            else:
                if chosen == "grappa":
                    k = grappa(k, mask, xp.asarray(acs(kspace, frame, int(s))), factors)
                if sampling.extents:
                    k = pocs(k, sampling.extents)
                coil_images = k_to_image(k)
                image = coils.rss(coil_images) if maps is None else coils.combine(coil_images, maps)
            images[(*frame, slice(out_slice * n2, (out_slice + 1) * n2))] = to_numpy(image)
            steps.update()
    steps.close()
    record = {"method": chosen, "chosen_by_auto": method == "auto", "coil_combination": combination,
              "device": device, "acceleration_k2_k1": list(factors),
              "partial_fourier": sampling.partial_fourier, "coil_map_frame": list(frame0), "filter": options.filter,
              "prewhitened": kspace.prewhitened,
              "readout_oversampling_removed": kspace.readout_oversampling_removed}
    return ImageSeries(data=images, affine_lps_m=affine, header=kspace.header, recon=record)
