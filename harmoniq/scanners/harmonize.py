"""One set of system limits that is valid on every target scanner at once.

Rasters combine by their least common multiple, computed exactly on integer nanoseconds
(a time on the common raster is then on every target's raster); dead and ringdown times
by their maximum; gradient strength, slew, ADC sample limit and frequency-offset limits by
their minimum (limits no target has stay None); ADC sample divisors by their least common
multiple; vendor rules switch on when any target needs them.

Nerve stimulation: with a GE target the slew rate is derated to :data:`GE_NERVE_SLEW`, so that
every shipped protocol stays at most 80 % of the nerve-stimulation threshold (the limit of pge2's
``private/checksegment.m``) on every GE coil model shipped in :mod:`harmoniq.scanners.pns`.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Iterable

from harmoniq.constants import PYPULSEQ_GAMMA_HZ_PER_T
from harmoniq.errors import HarmoniqError
from harmoniq.scanners.profiles import ScannerProfile, SystemLimits, load_profile


#: Slew rate (T/m/s) of the harmonized limits when a GE target is present. Chosen by measurement
#: (pge2's nerve model, default weights [1 1 1], harmonized 45 mT/m; peak over the six shipped
#: protocols): 200 T/m/s -> 121 % (HRMW), 100 -> 76 % (HRMW) / 89 % (XRM), 80 -> 66 % (HRMW) /
#: 74 % (XRM). The GE check fails any file above 80 %.
GE_NERVE_SLEW = 80.0


@dataclass(frozen=True)
class HarmonizedLimits:
    """System limits valid on every profile in ``targets``.

    ``fields_t``: the distinct nominal field strengths (T) of the targets, ascending.
    """

    targets: tuple[str, ...]
    limits: SystemLimits
    fields_t: tuple[float, ...]

    @property
    def name(self) -> str:
        return "harmonized(" + ", ".join(self.targets) + ")"

    def to_pypulseq_opts(self):
        """A ``pypulseq.Opts`` with the common limits, to build a sequence for all targets.

        The rasters go in as the declared raster times, so a file written with these
        options shows the common rasters (e.g. GradientRasterTime 2e-05) in [DEFINITIONS].
        Assumption, not verified on a scanner: the Siemens interpreter accepts a declared
        gradient raster of 20 us (an integer multiple of its native 10 us). The safe
        alternative, should it not, is to declare the Siemens rasters and keep every event
        time on the 20 us grid. ``B0`` is the highest target field strength (pypulseq uses
        it only to turn ppm frequency offsets into Hz).
        """
        import pypulseq as pp

        lim = self.limits
        return pp.Opts(
            max_grad=lim.max_grad * PYPULSEQ_GAMMA_HZ_PER_T,
            grad_unit="Hz/m",
            max_slew=lim.max_slew * PYPULSEQ_GAMMA_HZ_PER_T,
            slew_unit="Hz/m/s",
            grad_raster_time=lim.grad_raster_time,
            rf_raster_time=lim.rf_raster_time,
            adc_raster_time=lim.adc_raster_time,
            block_duration_raster=lim.block_duration_raster,
            rf_dead_time=lim.rf_dead_time,
            rf_ringdown_time=lim.rf_ringdown_time,
            adc_dead_time=lim.adc_dead_time,
            adc_samples_limit=lim.adc_samples_limit or 0,  # pypulseq: 0 = no limit
            adc_samples_divisor=lim.adc_samples_divisor,
            gamma=PYPULSEQ_GAMMA_HZ_PER_T,
            B0=max(self.fields_t),
        )

    def to_dict(self) -> dict:
        """JSON-ready description: targets, field strengths (T) and limits in file units."""
        return {"targets": list(self.targets), "field_strengths_T": list(self.fields_t), **self.limits.to_dict()}


def harmonize(profiles: Iterable[ScannerProfile | str | os.PathLike]) -> HarmonizedLimits:
    """Combine scanner profiles (objects, shipped names or TOML paths) into common limits."""
    loaded = [p if isinstance(p, ScannerProfile) else load_profile(p) for p in profiles]
    if not loaded:
        raise HarmoniqError("harmonize: profiles is empty; give at least one scanner profile")
    lims = [p.limits for p in loaded]
    ns = {name: math.lcm(*(lim.raster_ns()[name] for lim in lims)) for name in lims[0].raster_ns()}
    trid = any(lim.trid_segments for lim in lims)
    limits = SystemLimits(
        **{name: value / 1e9 for name, value in ns.items()},
        rf_dead_time=max(lim.rf_dead_time for lim in lims),
        rf_ringdown_time=max(lim.rf_ringdown_time for lim in lims),
        adc_dead_time=max(lim.adc_dead_time for lim in lims),
        max_grad=min(lim.max_grad for lim in lims),
        max_slew=min([lim.max_slew for lim in lims] + ([GE_NERVE_SLEW] if trid else [])),
        adc_samples_limit=_smallest(lim.adc_samples_limit for lim in lims),
        adc_samples_divisor=math.lcm(*(lim.adc_samples_divisor for lim in lims)),
        max_rf_freq_offset=_smallest(lim.max_rf_freq_offset for lim in lims),
        max_adc_freq_offset=_smallest(lim.max_adc_freq_offset for lim in lims),
        labels_must_be_initialised=any(lim.labels_must_be_initialised for lim in lims),
        trid_segments=trid,
    )
    return HarmonizedLimits(
        targets=tuple(p.name for p in loaded),
        limits=limits,
        fields_t=tuple(sorted({p.field_t for p in loaded})),
    )


def _smallest(values):
    """Smallest of the limits that exist (None: no target has the limit)."""
    given = [v for v in values if v is not None]
    return min(given) if given else None
