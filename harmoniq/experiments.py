"""Running comparisons: every protocol on every simulated scanner, harmonized and as site variants.

This module runs experiments (through :func:`harmoniq.pipeline.run`) and hands their maps to
the statistics (:func:`harmoniq.analysis.compare.compare`) as :class:`Measurement` objects; a
study batch (:mod:`harmoniq.batch`) collects its measurements with :func:`measurement`.
"""

from __future__ import annotations

import json
from pathlib import Path

from harmoniq.analysis.compare import ARMS, Measurement
from harmoniq.errors import HarmoniqError
from harmoniq.models import MODELS
from harmoniq.pipeline import RunResult, run
from harmoniq.protocols import ReconOptions, load_protocol
from harmoniq.provenance import sha256_file


def measurement(arm: str, rater: str, result: RunResult) -> Measurement:
    """The measurement of a finished simulated run; its provenance is the simulation stage's record
    (scanner, phantom, matrix, seed, noise)."""
    record = result.folder / ".simulate.stage.json"
    provenance = json.loads(record.read_text())["inputs"] if record.is_file() else {}
    return Measurement(arm, rater, result.protocol, result.maps, result.phantom, sha256_file(result.seq), provenance)


def comparable(result: RunResult) -> bool:
    """True when the run has maps of a quantity with a phantom reference (T1, T2)."""
    return result.phantom is not None and result.maps is not None and MODELS[result.protocol.model].reference is not None


def run_comparison(protocols: list[str], scanners: list[str], outdir: str | Path, *, phantom: str = "nist",
                   arms: tuple[str, ...] = ARMS, matrix: int | None = 64, seed: int = 0, noise: bool = True,
                   device: str = "cpu", recon: ReconOptions = ReconOptions(),
                   progress=True, force: bool = False) -> list[Measurement]:
    """Run every protocol on every scanner in every arm (resumable) into the BIDS dataset ``outdir``:
    subject the phantom, session the scanner, acquisition protocol and arm (``acq-t1irsesite``).

    Scanner k gets noise seed ``seed + k`` in both arms (paired noise); ``noise=False`` leaves
    only the systematic differences between scanners and protocol variants. recon: the
    harmonized arm's reconstruction (the site arm uses each vendor's variant); progress: see
    :func:`harmoniq.pipeline.run`.
    """
    from harmoniq.simulation.scanner_model import load_scanner_model

    if not protocols:
        raise HarmoniqError("compare: no protocol given; name one or more, comma-separated (e.g. t1-irse,t2-se)")
    outdir = Path(outdir)
    loaded = [load_protocol(name) for name in protocols]  # every input is checked before anything runs
    for base in loaded:
        if base.model not in MODELS or MODELS[base.model].reference is None:
            valid = ", ".join(m.name for m in MODELS.values() if m.reference is not None)
            raise HarmoniqError(f"compare: protocol {base.name} has model {base.model!r}; compare takes T1/T2 "
                                f"protocols ({valid})")
    vendors = [load_scanner_model(s).vendor for s in scanners]
    measurements = []
    for base in loaded:
        for arm in arms:
            for k, (scanner, vendor) in enumerate(zip(scanners, vendors)):
                variant = base.harmonized() if arm == "harmonized" else base.site_variant(vendor)
                options = recon if arm == "harmonized" else variant.recon
                result = run(variant.protocol, outdir, phantom=phantom, scanner=scanner, matrix=matrix,
                             seed=seed + k, noise=noise, device=device, recon=options, progress=progress,
                             force=force, variant=arm, dataset_name="harmoniq comparison")
                measurements.append(measurement(arm, scanner, result))
    return measurements
