"""Numerical phantoms (NIST/ISMRM system phantom, procedural brain, Shepp-Logan) with labelled ROIs.

>>> from harmoniq.phantoms import make_phantom
>>> phantom = make_phantom("nist", matrix=128, field_t=3.0, plate="both")
"""

from harmoniq.phantoms.base import ROI, Phantom
from harmoniq.phantoms.registry import describe, list_phantoms, make_phantom, summary

__all__ = ["ROI", "Phantom", "describe", "list_phantoms", "make_phantom", "summary"]
