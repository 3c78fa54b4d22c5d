"""Name tables shared by the API and the command line; this module imports nothing.

The command line builds its option choices from these tables without importing the
numerical stack, so ``harmoniq --help`` stays fast.
"""

DEVICES = ("cpu", "gpu")
"""Where array work runs: NumPy on the CPU, CuPy on a CUDA device."""

RECON_METHODS = ("auto", "fft", "grappa", "sense", "cs", "tv", "nufft")
"""Reconstruction methods of :func:`harmoniq.recon.reconstruct.reconstruct`."""

COMBINATIONS = ("auto", "rss", "adaptive", "espirit")
"""Coil combinations of :func:`harmoniq.recon.reconstruct.reconstruct`."""

FILTERS = ("none", "hamming", "hanning", "fermi")
"""k-space apodization windows of :mod:`harmoniq.recon.filters`."""
