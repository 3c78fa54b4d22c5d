"""Raw data and image files: ISMRMRD reading and sorting, k-space/image conventions, NIfTI output.

``read_ismrmrd(path) -> KSpace`` (:mod:`harmoniq.io.reader`); ``write_image_series(series, path, inputs=...)``, ``read_image_series(path)``
(:mod:`harmoniq.io.nifti`); the k-space <-> image convention lives in :mod:`harmoniq.io.fourier`.
"""
