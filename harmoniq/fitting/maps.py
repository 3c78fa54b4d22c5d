"""The result of every fit: named parameter maps with units, and the voxel bookkeeping.

Images come in as ``(n_measurements, *spatial)`` (the measurement axis first, as in the
``(volume, z, y, x)`` arrays of the reconstruction); a fit works on the ``(N, V)`` matrix of
the V voxels inside the mask (finite, not all zero) and scatters its results back to
``spatial`` shape with NaN outside.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from harmoniq import __version__
from harmoniq.backend import get_array_module, to_numpy
from harmoniq.errors import HarmoniqError
from harmoniq.models import MODELS, UNNAMED_MAP_SUFFIX, QuantitativeModel, datatype


@dataclass
class ParameterMaps:
    """Named maps of one fit, all of the image's spatial shape.

    maps: name -> array (float, NaN outside ``mask``; booleans for ``mask`` and
    ``out_of_range``); units: name -> unit string ("s", "1", "a.u.", ...);
    model: the fitted model's name; info: the model's fixed parameters and valid range
    (plain JSON-able values, SI units).
    """

    model: str
    maps: dict
    units: dict
    info: dict = field(default_factory=dict)
    affine_lps_m: np.ndarray | None = None  # voxel -> LPS (m) of the maps' grid, set when read back

    def __getitem__(self, name: str):
        return self.maps[name]

    def __contains__(self, name: str) -> bool:
        return name in self.maps

    def to_numpy(self) -> ParameterMaps:
        """A copy whose maps are NumPy arrays (from CuPy, for writing files)."""
        return ParameterMaps(self.model, {k: to_numpy(v) for k, v in self.maps.items()}, dict(self.units),
                             dict(self.info), self.affine_lps_m)

    def write(self, out_dir: Path, stem: str, series, inputs: dict, force: bool = False,
              datatype_folders: bool = False) -> list[Path]:
        """Write every map as ``<stem>_<BIDS suffix>.nii.gz`` + sidecar, on ``series``' grid, all
        or none; with ``datatype_folders`` into ``out_dir/anat`` or ``out_dir/fmap`` (a BIDS session folder).

        Relative B1 is written in percent (BIDS TB1map); each sidecar names the model, its
        parameters, the map's name, the inputs' SHA-256 by file name and, inside a BIDS
        derivatives dataset, the inputs as BIDS URIs (``Sources``).
        """
        from harmoniq.bids.dataset import bids_uri, dataset_root
        from harmoniq.io.nifti import scanner_keys, write_maps

        spec = MODELS[self.model]
        out_dir = Path(out_dir)
        provenance = {"sha256": {Path(p).name: h for p, h in inputs.items()}, "method": self.model,
                      "version": __version__}
        root = dataset_root(out_dir / stem)
        sources = [uri for uri in (bids_uri(p, root) for p in inputs) if uri] if root else []
        common = {**scanner_keys(series.header), "SkullStripped": False, **({"Sources": sources} if sources else {})}
        written = []
        for name, data in self.maps.items():
            suffix = map_suffix(spec, name)
            units = self.units.get(name, "a.u.")
            if suffix.endswith("TB1map") and units == "1":
                data, units = data * 100.0, "percent"
            sidecar = dict(common, Description=f"{name} from the {self.model} fit", Model=self.model,
                           ModelParameters=self.info, HarmoniqProvenance={**provenance, "map": name})
            folder = out_dir / datatype(suffix) if datatype_folders else out_dir
            written.append((folder / f"{stem}_{suffix}.nii.gz", data, sidecar, units))
        write_maps(written, series.affine_lps_m, force=force)
        return [path for path, *_ in written]

    @classmethod
    def read(cls, out_dir: Path, stem: str, model: str) -> "ParameterMaps":
        """Read back the maps :meth:`write` wrote for ``stem`` in ``out_dir`` or its datatype folders (each map's
        name from its sidecar)."""
        from harmoniq.io.nifti import load_nifti, lps_affine, read_sidecar

        maps, units, info, affine = {}, {}, {}, None
        found = [*Path(out_dir).glob(f"{stem}_*.nii.gz"), *Path(out_dir).glob(f"*/{stem}_*.nii.gz")]
        for path in sorted(found):
            sidecar = read_sidecar(path, required=False)
            record = sidecar.get("HarmoniqProvenance", {})
            if sidecar.get("Model") != model or "map" not in record:
                continue
            data, nifti = load_nifti(path)
            values = np.asarray(data, dtype=float).T
            unit = sidecar.get("Units", "a.u.")
            if unit == "percent":
                values, unit = values / 100.0, "1"
            name = record["map"]
            maps[name] = values.astype(bool) if name in ("mask", "out_of_range") else values
            units[name], info, affine = unit, sidecar.get("ModelParameters", {}), lps_affine(nifti)
        if not maps:
            raise HarmoniqError(f"{out_dir}: no {model} maps of {stem}; fit the image first (harmoniq fit {model})")
        return cls(model, maps, units, info, affine)


def map_suffix(spec: QuantitativeModel, name: str) -> str:
    """BIDS suffix of map ``name`` of model ``spec``; a map BIDS has no suffix for (a coefficient, the
    residual) is ``desc-<name>_fitparam``, which the derivatives dataset's .bidsignore lists."""
    if name in spec.maps:
        return spec.maps[name]
    if name == "mask":
        return "desc-fitted_mask"
    if name == "out_of_range":
        return "desc-outofrange_mask"
    return f"desc-{name.replace('_', '')}_{UNNAMED_MAP_SUFFIX}"


@dataclass
class Voxels:
    """The fitted voxels of an image series: ``data`` (N, V) and where they came from.

    ``index``: flat indices of the fitted voxels in ``spatial_shape``, None when every voxel
    is fitted (then ``data`` is a view of the images and no copy is made either way).
    """

    data: object
    index: object
    spatial_shape: tuple

    @property
    def count(self) -> int:
        return int(self.data.shape[1])

    def scatter(self, values, fill=np.nan):
        """Put per-voxel ``values`` (V,) back into an array of the spatial shape (a view of
        ``values`` when every voxel is fitted)."""
        if self.index is None:
            return values.reshape(self.spatial_shape)
        xp = get_array_module(values)
        out = xp.full(int(np.prod(self.spatial_shape)), fill, dtype=values.dtype)
        out[self.index] = values
        return out.reshape(self.spatial_shape)

    def take(self, spatial_values):
        """The fitted voxels' entries (V,) of an array of the spatial shape."""
        flat = spatial_values.reshape(-1)
        return flat if self.index is None else flat[self.index]

    def mask(self):
        """Boolean map of the fitted voxels."""
        xp = get_array_module(self.data)
        return self.scatter(xp.ones(self.count, dtype=bool), fill=False)


def gather_voxels(images, n_expected: int, what: str, mask=None) -> Voxels:
    """Check an image series ``(n_expected, *spatial)`` and take the voxels to fit.

    A voxel is fitted where ``mask`` (spatial shape, optional) is true, every sample is
    finite and not all samples are zero. Raises HarmoniqError for a wrong number of
    measurements, a mismatched mask, or nothing left to fit.
    """
    xp = get_array_module(images)
    images = xp.asarray(images)
    if images.ndim < 2 or images.shape[0] != n_expected:
        raise HarmoniqError(
            f"{what}: images have shape {tuple(images.shape)}, expected ({n_expected}, *spatial) "
            f"with one volume per sequence parameter value ({n_expected} given)"
        )
    spatial = tuple(images.shape[1:])
    flat = images.reshape(n_expected, -1)
    keep = xp.isfinite(flat).all(axis=0) & (flat != 0).any(axis=0)
    if mask is not None:
        mask = xp.asarray(mask)
        if tuple(mask.shape) != spatial:
            raise HarmoniqError(f"{what}: mask has shape {tuple(mask.shape)}, expected the image's spatial shape {spatial}")
        keep &= mask.reshape(-1).astype(bool)
    if bool(keep.all()):
        return Voxels(data=flat, index=None, spatial_shape=spatial)
    index = xp.nonzero(keep)[0]
    if index.size == 0:
        raise HarmoniqError(
            f"{what}: no voxel to fit: the images are all zero or non-finite inside the mask; "
            "give images with signal (and a mask that covers it)"
        )
    return Voxels(data=flat[:, index], index=index, spatial_shape=spatial)


def per_voxel_map(values, voxels: Voxels, name: str):
    """A spatial map from a per-voxel array or a spatial-shape map (e.g. a B1 map), as (V,)."""
    xp = get_array_module(voxels.data)
    values = xp.asarray(values, dtype=xp.float64)
    if values.ndim == 0:
        return xp.full(voxels.count, float(values))
    if tuple(values.shape) != voxels.spatial_shape:
        raise HarmoniqError(f"{name} has shape {tuple(values.shape)}, expected the image's spatial shape {voxels.spatial_shape}")
    return voxels.take(values)


def chunks(n: int, size: int):
    """Slices covering range(n) in pieces of ``size``."""
    return [slice(i, min(i + size, n)) for i in range(0, n, size)]
