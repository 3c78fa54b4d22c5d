"""The modelled effects of a simulated exam, by name, each of which can be turned off.

An ablation study (:mod:`harmoniq.experiments`) reruns a comparison with one effect off at a
time; the change of the cross-scanner CoV and of the bias against the reference is that
effect's contribution. Each :class:`Effect` turns itself off on the scanner model
(``ScannerModel -> ScannerModel``), on the simulated phantom (``Phantom -> Phantom``) or, for
``recon``, on the site arm's reconstruction (each vendor variant then reconstructs like the
harmonized arm); the others leave that part as it is. "Off" means the ideal value: B1 = 1,
a calibrated transmitter, the phantom at 20 degC, no B0 offset, no gradient delay, no noise, no diffusion, one large receive loop (the
``ideal-3t`` model's body-coil-like loop).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

from harmoniq.errors import HarmoniqError
from harmoniq.phantoms.base import Phantom
from harmoniq.phantoms.nist_temperature import REFERENCE_C
from harmoniq.simulation.coils import LoopArray
from harmoniq.simulation.fields import B0Model, B1Model
from harmoniq.simulation.scanner_model import NoiseModel, ScannerModel

#: one receive loop of 400 mm radius on a 450 mm cylinder: a slowly varying, body-coil-like field
#: (the ``ideal-3t`` model's receive coil)
SINGLE_LOOP = LoopArray(channels=1, rings=1, array_radius_m=0.45, loop_radius_m=0.40, ring_spacing_m=0.0,
                        rotation_rad=0.0)


def _same(x):
    return x


@dataclass(frozen=True)
class Effect:
    """One modelled effect: its name, what it stands for, and how to turn it off."""

    name: str
    description: str
    scanner_off: Callable[[ScannerModel], ScannerModel] = _same
    phantom_off: Callable[[Phantom], Phantom] = _same
    recon: bool = False  # True: turned off in the reconstruction (site arm), not the simulation
    dimensions: tuple[int, ...] = (2, 3)  # protocols (2D, 3D) in which the simulator models it
    plates: tuple[str, ...] = ("t1", "t2")  # NIST plates it changes in a 2D protocol (3D holds both)

    def not_applicable(self, dimensions: int, plate: str | None, arm: str) -> str | None:
        """Why turning this effect off cannot change the maps of a ``dimensions``-D protocol imaging NIST
        plate ``plate`` (None: another phantom) in ``arm``; None where it can (the rerun is then made)."""
        if dimensions not in self.dimensions:
            return f"the simulator models it in {'/'.join(f'{d}D' for d in self.dimensions)} protocols only"
        if dimensions == 2 and plate is not None and plate not in self.plates:
            return f"in 2D it changes the {'/'.join(self.plates)} plate only, and this protocol images the {plate} plate"
        if self.recon and arm == "harmonized":
            return "the harmonized arm reconstructs every scanner alike"
        return None


EFFECTS = {e.name: e for e in (
    Effect("b1", "transmit B1 pattern (relative flip angle map)",
           scanner_off=lambda s: replace(s, b1=B1Model())),
    Effect("transmit-calibration", "per-exam transmit calibration error (a flip-angle scale)",
           scanner_off=lambda s: replace(s, transmit_calibration=1.0)),
    # the T1 plate's T1 and the water diffusivity (3D only) follow the temperature, the T2 plate's values
    # do not (harmoniq.phantoms.nist: _plate_values_s)
    Effect("temperature", "site phantom temperature (the spheres' true T1; each site's reference follows it)",
           scanner_off=lambda s: replace(s, phantom_temperature_c=REFERENCE_C), plates=("t1",)),
    # in spin echoes B0 is also the only dephasing of coherences that outlive a TR (one spin per voxel
    # in-plane, no diffusion in 2D): turning it off leaves them, as a half-FOV ghost in t2-se at TR 2.5 s
    Effect("b0", "residual B0 after shimming (off-resonance)",
           scanner_off=lambda s: replace(s, b0=B0Model(reference_radius_m=s.b0.reference_radius_m))),
    Effect("coils", "receive array sensitivities and their combination",
           scanner_off=lambda s: replace(s, coils=SINGLE_LOOP)),
    Effect("gradient-delays", "gradient delays against RF and ADC",
           scanner_off=lambda s: replace(s, gradient_delays_s=(0.0, 0.0, 0.0))),
    Effect("noise", "thermal noise and its channel correlation",
           scanner_off=lambda s: replace(s, noise=NoiseModel(0.0, 0.0, 0.0))),
    Effect("diffusion", "isotropic diffusion of the phantom's water (3D simulations)",
           phantom_off=lambda p: replace(p, diffusivity_m2_s=None), dimensions=(3,)),
    Effect("recon", "vendor k-space filter and coil combination of the site variants", recon=True),
)}


def effect(name: str) -> Effect:
    """The effect called ``name``; a HarmoniqError names the valid ones."""
    if name not in EFFECTS:
        raise HarmoniqError(f"effect {name!r} is not modelled; choose one of {', '.join(EFFECTS)}")
    return EFFECTS[name]


def scanner_without(names, scanner: ScannerModel) -> ScannerModel:
    """``scanner`` with the effects ``names`` turned off."""
    for name in names:
        scanner = effect(name).scanner_off(scanner)
    return scanner


def phantom_without(names, phantom: Phantom) -> Phantom:
    """``phantom`` with the effects ``names`` turned off."""
    for name in names:
        phantom = effect(name).phantom_off(phantom)
    return phantom
