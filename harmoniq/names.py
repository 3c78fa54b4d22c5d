"""The vocabulary every stage shares, in one dependency-free place.

Protocol files, site variants, the CLI and the stages check names against these tables; the
stages that implement a name (recon filters, coil combinations, ...) import them from here.
"""

from __future__ import annotations

from importlib import resources

VENDORS = ("siemens", "ge", "philips")
"""Vendors a site variant can be given for (a scanner's vendor, lower case)."""

DEVICES = ("cpu", "gpu")
"""Where array work runs: NumPy, or CuPy on a CUDA device."""

RECON_METHODS = ("auto", "fft", "grappa", "sense", "cs", "tv", "nufft")
"""Reconstruction methods (``harmoniq.recon.reconstruct``)."""

COIL_COMBINATIONS = ("auto", "rss", "adaptive", "espirit")
"""Coil combinations for fft, grappa and nufft reconstructions."""

RECON_FILTERS = ("none", "hamming", "hanning", "fermi")
"""k-space apodization filters (``harmoniq.recon.filters``)."""

CONTRAST_DIMENSIONS = ("inversion_time", "echo_time", "flip_angle", "none")
"""What the volumes of a contrast series vary."""


def profile_names() -> list[str]:
    """Names of the shipped scanner hardware profiles (``harmoniq/scanners/profiles/*.toml``)."""
    folder = resources.files("harmoniq") / "scanners" / "profiles"
    return sorted(p.name[: -len(".toml")] for p in folder.iterdir() if p.name.endswith(".toml"))


def scanner_model_names() -> list[str]:
    """Names of the shipped simulated scanner models (``harmoniq/simulation/scanners/*.toml``)."""
    folder = resources.files("harmoniq") / "simulation" / "scanners"
    return sorted(p.name[: -len(".toml")] for p in folder.iterdir() if p.name.endswith(".toml"))
