"""Our one k-space <-> image convention (every reader, simulator and recon uses it).

An image is the centred, unitary inverse DFT of its k-space:

    image = ifftshift(ifftn(ifftshift(k))) * sqrt(N)

so the k-space centre sits at index ``n // 2`` of each axis and image voxel ``n // 2`` is
the isocentre (as in :meth:`harmoniq.phantoms.base.Phantom.positions_m`). The forward
model is ``k = fftshift(fftn(fftshift(image))) / sqrt(N)`` with the usual exp(-i k x)
kernel, the convention of the ISMRMRD reference tools and of BART. Raw data from Siemens
scanners are conjugated relative to it; :func:`harmoniq.io.reader.read_ismrmrd` undoes that.
"""

from __future__ import annotations

from harmoniq.backend import get_array_module


def k_to_image(k, axes=(-3, -2, -1)):
    """Centred unitary inverse FFT over ``axes`` (k-space -> image)."""
    xp = get_array_module(k)
    shifted = xp.fft.ifftshift(k, axes=axes)
    return xp.fft.fftshift(xp.fft.ifftn(shifted, axes=axes, norm="ortho"), axes=axes)


def image_to_k(image, axes=(-3, -2, -1)):
    """Centred unitary forward FFT over ``axes`` (image -> k-space)."""
    xp = get_array_module(image)
    shifted = xp.fft.ifftshift(image, axes=axes)
    return xp.fft.fftshift(xp.fft.fftn(shifted, axes=axes, norm="ortho"), axes=axes)
