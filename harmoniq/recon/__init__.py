"""Offline reconstruction of Cartesian k-space: FFT, GRAPPA, SENSE, compressed sensing, coil combination.

``reconstruct(kspace, ReconOptions()) -> ImageSeries`` (:mod:`harmoniq.recon.reconstruct`).
"""
