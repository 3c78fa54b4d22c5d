"""Offline reconstruction of Cartesian k-space: FFT, GRAPPA, SENSE, compressed sensing, coil combination.

``reconstruct(kspace, method="auto") -> ImageSeries`` (:mod:`harmoniq.recon.reconstruct`).
"""
