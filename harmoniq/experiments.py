"""Running comparisons: every protocol on every simulated scanner, harmonized and as site variants.

This module runs experiments (through :func:`harmoniq.pipeline.run`) and hands their maps to
the statistics (:func:`harmoniq.analysis.compare.compare`) as :class:`Measurement` objects; a
study batch (:mod:`harmoniq.batch`) collects its measurements with :func:`measurement`. An
ablation (:func:`run_ablation`) reruns a comparison noise-free with one modelled effect off at
a time (:mod:`harmoniq.simulation.effects`).
"""

from __future__ import annotations

import json
from pathlib import Path

from harmoniq.analysis.compare import ARMS, Measurement, comparable_model
from harmoniq.errors import HarmoniqError
from harmoniq.models import MODELS
from harmoniq.pipeline import RunResult, run
from harmoniq.protocols import ReconOptions, load_protocol
from harmoniq.provenance import sha256_file
from harmoniq.simulation.effects import EFFECTS, effect

#: where an ablation's runs go inside the comparison's dataset: one BIDS dataset per effect turned off
ABLATION_FOLDER = Path("sourcedata") / "ablation"
#: the effects an ablation turns off by default: every modelled one but noise (ablations run noise-free)
ABLATION_EFFECTS = tuple(name for name in EFFECTS if name != "noise")


def measurement(arm: str, rater: str, result: RunResult) -> Measurement:
    """The measurement of a finished simulated run; its provenance is the simulation stage's record
    (scanner, phantom, matrix, seed, noise)."""
    record = result.folder / ".simulate.stage.json"
    provenance = json.loads(record.read_text())["inputs"] if record.is_file() else {}
    return Measurement(arm, rater, result.protocol, result.maps, result.phantom, sha256_file(result.seq), provenance)


def comparable(result: RunResult) -> bool:
    """True when the run has maps the comparison measures (T1, T2 against the phantom, B1 against the
    scanner's field)."""
    return result.phantom is not None and result.maps is not None and comparable_model(result.protocol.model)


def run_comparison(protocols: list[str], scanners: list[str], outdir: str | Path, *, phantom: str = "nist",
                   arms: tuple[str, ...] = ARMS, matrix: int | None = 64, seed: int = 0, noise: bool = True,
                   device: str = "cpu", recon: ReconOptions = ReconOptions(),
                   progress=True, force: bool = False, effects_off: tuple[str, ...] = ()) -> list[Measurement]:
    """Run every protocol on every scanner in every arm (resumable) into the BIDS dataset ``outdir``:
    subject the phantom, session the scanner, acquisition protocol and arm (``acq-t1irsesite``).

    Scanner k gets noise seed ``seed + k`` in both arms (paired noise); ``noise=False`` leaves
    only the systematic differences between scanners and protocol variants. recon: the
    harmonized arm's reconstruction (the site arm uses each vendor's variant, unless
    ``effects_off`` names ``recon``); progress: see :func:`harmoniq.pipeline.run`; effects_off:
    modelled effects turned off (:mod:`harmoniq.simulation.effects`).
    """
    from harmoniq.simulation.scanner_model import load_scanner_model

    if not protocols:
        raise HarmoniqError("compare: no protocol given; name one or more, comma-separated (e.g. t1-irse,t2-se)")
    outdir = Path(outdir)
    loaded = [load_protocol(name) for name in protocols]  # every input is checked before anything runs
    for base in loaded:
        if not comparable_model(base.model):
            valid = ", ".join(m for m in MODELS if comparable_model(m))
            raise HarmoniqError(f"compare: protocol {base.name} has model {base.model!r}; compare takes T1/T2 "
                                f"and B1 protocols ({valid})")
    vendors = [load_scanner_model(s).vendor for s in scanners]
    simulated_off = tuple(name for name in effects_off if not effect(name).recon)
    vendor_recon = not any(effect(name).recon for name in effects_off)
    measurements = []
    for base in loaded:
        for arm in arms:
            for k, (scanner, vendor) in enumerate(zip(scanners, vendors)):
                variant = base.harmonized() if arm == "harmonized" else base.site_variant(vendor)
                options = variant.recon if arm != "harmonized" and vendor_recon else recon
                result = run(variant.protocol, outdir, phantom=phantom, scanner=scanner, matrix=matrix,
                             seed=seed + k, noise=noise, device=device, recon=options, progress=progress,
                             force=force, variant=arm, dataset_name="harmoniq comparison",
                             effects_off=simulated_off)
                measurements.append(measurement(arm, scanner, result))
    return measurements


def ablation_plan(protocols: list[str], arms: tuple[str, ...],
                  effects: tuple[str, ...] = ABLATION_EFFECTS) -> list[tuple[str, list[str], tuple[str, ...]]]:
    """(effect, protocols, arms) of each rerun an ablation makes: an effect is rerun only where it
    can act -- ``recon`` in the site arm, an effect with ``dimensions`` on protocols of those."""
    plan = []
    for name in effects:
        e = effect(name)
        if name == "noise":
            raise HarmoniqError("--ablation-effects: 'noise' is not rerun (ablation runs are noise-free; its row "
                                "compares the comparison as run with the noise-free one); choose from "
                                f"{', '.join(ABLATION_EFFECTS)}")
        chosen = [p for p in protocols if getattr(load_protocol(p).parameters, "dimensions", 2) in e.dimensions]
        arms_here = tuple(a for a in arms if a != "harmonized") if e.recon else arms
        if chosen and arms_here:
            plan.append((name, chosen, arms_here))
    return plan


def run_ablation(protocols: list[str], scanners: list[str], outdir: str | Path, *, arms: tuple[str, ...] = ARMS,
                 effects: tuple[str, ...] = ABLATION_EFFECTS, baseline: list[Measurement] | None = None,
                 **options) -> dict[str, list[Measurement]]:
    """The comparison rerun noise-free with each of ``effects`` off in turn (:func:`ablation_plan`),
    every rerun a resumable BIDS dataset in ``outdir/sourcedata/ablation/no-<effect>``.

    Returns effect name -> measurements, and ``""`` -> the noise-free comparison with every effect
    on: ``baseline`` when given (the comparison's own measurements, when they are noise-free),
    else run into ``.../all-effects``. options: those of :func:`run_comparison` but noise.
    """
    folder = Path(outdir) / ABLATION_FOLDER
    runs = {"": baseline if baseline is not None else
            run_comparison(protocols, scanners, folder / "all-effects", arms=arms, noise=False, **options)}
    for name, chosen, arms_here in ablation_plan(protocols, arms, effects):
        runs[name] = run_comparison(chosen, scanners, folder / f"no-{name}", arms=arms_here, noise=False,
                                    effects_off=(name,), **options)
    return runs
