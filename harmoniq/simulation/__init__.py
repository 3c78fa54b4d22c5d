"""Simulated scanners running Pulseq files on numerical phantoms (isochromat Bloch engine).

>>> from harmoniq.simulation import simulate, list_scanner_models   # doctest: +SKIP
>>> raw = simulate("ir_se.seq", "nist", "ge-premier-3t", matrix=128)

Modules: ``scanner_model`` (imperfection models, TOML files in ``scanners/``), ``fields``
and ``coils`` (B0/B1 maps, receive sensitivities), ``timeline`` (.seq -> compiled events),
``spins`` (isochromat layout), ``rotation`` (RF pulses), ``engine`` (Bloch simulation),
``readout`` (signal sum), ``simulate`` (the whole run plus noise), ``epg`` (extended
phase graphs).
"""

from harmoniq.simulation.engine import EngineOptions
from harmoniq.simulation.scanner_model import ScannerModel, list_scanner_models, load_scanner_model
from harmoniq.simulation.simulate import SimulatedRaw, simulate
from harmoniq.simulation.spins import SpinSampling

__all__ = ["EngineOptions", "ScannerModel", "SimulatedRaw", "SpinSampling", "list_scanner_models",
           "load_scanner_model", "simulate"]
