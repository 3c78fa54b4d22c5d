"""Running comparisons: every protocol on every simulated scanner, harmonized and as site variants.

This module runs experiments (through :func:`harmoniq.pipeline.run`) and hands their maps to
the statistics (:func:`harmoniq.analysis.compare.compare`) as :class:`Measurement` objects; a
study batch (:mod:`harmoniq.batch`) collects its measurements with :func:`measurement`. An
ablation (:func:`run_ablation`) reruns a comparison noise-free with one modelled effect off at
a time (:mod:`harmoniq.simulation.effects`).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from harmoniq.analysis.ablation import NotRerun
from harmoniq.analysis.compare import ARMS, Measurement, comparable_model
from harmoniq.errors import HarmoniqError
from harmoniq.models import MODELS
from harmoniq.pipeline import RunResult, pipeline_runs, run
from harmoniq.progress import Progress
from harmoniq.protocols import ReconOptions, load_protocol
from harmoniq.provenance import sha256_file
from harmoniq.simulation.effects import EFFECTS, effect

#: where an ablation's runs go inside the comparison's dataset: one BIDS dataset per effect turned off
ABLATION_FOLDER = Path("sourcedata") / "ablation"
#: effects an ablation does not rerun unless named (``--ablation-effects``), and why
NOT_RERUN_BY_DEFAULT = {
    "noise": "ablation runs are noise-free; the noise row compares the comparison as run with them",
    "gradient-delays": "every shipped protocol reads a Cartesian grid, where a delay shifts each line's echo "
                       "alike (a linear image phase): its CoV and |bias| changes were <= 0.01 % in both arms of "
                       "`harmoniq compare t2-se --scanners 3t --no-noise` at matrix 64",
    "diffusion": "without diffusion the 3D RF-spoiled steady state needs 256 spins per voxel instead of 28 "
                 "(harmoniq.simulation.spins: 8.4 M spins for t1-vfa at matrix 64, nine times the run time) "
                 "and still aliases configuration orders beyond 255",
}
#: the effects an ablation turns off by default
ABLATION_EFFECTS = tuple(name for name in EFFECTS if name not in NOT_RERUN_BY_DEFAULT)


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


@dataclass(frozen=True)
class ScannerRuns:
    """One scanner's runs of a comparison dataset in one arm, in protocol order (so a required run
    precedes its user): the unit of work of a parallel comparison. seed: the scanner's noise seed;
    recon: the harmonized arm's reconstruction; effects_off: modelled effects turned off."""

    outdir: Path
    protocols: tuple[str, ...]
    arm: str
    scanner: str
    seed: int
    noise: bool
    phantom: str
    matrix: int | None
    device: str
    recon: ReconOptions
    force: bool
    effects_off: tuple[str, ...]

    @property
    def runs(self) -> int:
        """Pipeline runs this takes, required runs included."""
        return sum(pipeline_runs(load_protocol(name)) for name in self.protocols)


def run_scanner(job: ScannerRuns, progress=False) -> list[Measurement]:
    """Run ``job``'s protocols (harmonized, or the scanner vendor's site variant) and measure them.
    The site arm reconstructs with each variant's own choices unless ``effects_off`` names recon."""
    from harmoniq.simulation.scanner_model import load_scanner_model

    vendor = load_scanner_model(job.scanner).vendor
    simulated_off = tuple(name for name in job.effects_off if not effect(name).recon)
    vendor_recon = not any(effect(name).recon for name in job.effects_off)
    measurements = []
    for name in job.protocols:
        base = load_protocol(name)
        variant = base.harmonized() if job.arm == "harmonized" else base.site_variant(vendor)
        options = variant.recon if job.arm != "harmonized" and vendor_recon else job.recon
        result = run(variant.protocol, job.outdir, phantom=job.phantom, scanner=job.scanner, matrix=job.matrix,
                     seed=job.seed, noise=job.noise, device=job.device, recon=options, progress=progress,
                     force=job.force, variant=job.arm, dataset_name="harmoniq comparison", effects_off=simulated_off)
        measurements.append(measurement(job.arm, job.scanner, result))
    return measurements


def comparison_jobs(protocols: list[str], scanners: list[str], outdir: str | Path, *, phantom: str = "nist",
                    arms: tuple[str, ...] = ARMS, matrix: int | None = 64, seed: int = 0, noise: bool = True,
                    device: str = "cpu", recon: ReconOptions = ReconOptions(), force: bool = False,
                    effects_off: tuple[str, ...] = ()) -> list[ScannerRuns]:
    """The work of :func:`run_comparison`, one :class:`ScannerRuns` per arm and scanner; every input is
    checked before anything runs."""
    from harmoniq.simulation.scanner_model import load_scanner_model

    if not protocols:
        raise HarmoniqError("compare: no protocol given; name one or more, comma-separated (e.g. t1-irse,t2-se)")
    for base in map(load_protocol, protocols):
        if not comparable_model(base.model):
            valid = ", ".join(m for m in MODELS if comparable_model(m))
            raise HarmoniqError(f"compare: protocol {base.name} has model {base.model!r}; compare takes T1/T2 "
                                f"and B1 protocols ({valid})")
    for name in effects_off:
        effect(name)
    for scanner in scanners:
        load_scanner_model(scanner)
    return [ScannerRuns(Path(outdir), tuple(protocols), arm, scanner, seed + k, noise, phantom, matrix, device, recon,
                        force, tuple(effects_off))
            for arm in arms for k, scanner in enumerate(scanners)]


def run_jobs(jobs: list[ScannerRuns], workers: int = 1, progress=True) -> list[list[Measurement]]:
    """Every job's measurements, in the order of ``jobs``: in this process (``workers`` = 1) or on a
    local Dask cluster of ``workers`` processes (:mod:`harmoniq.cluster`); progress: a
    :class:`harmoniq.progress.Progress` (or True/False, see :func:`harmoniq.pipeline.run`) counts
    each pipeline run. The first failing job raises its error; the other workers are then stopped
    (finished stages stay, so a rerun resumes)."""
    if workers == 1:
        return [run_scanner(job, progress) for job in jobs]
    from dask.distributed import as_completed

    from harmoniq.cluster import dask_client

    results: list = [None] * len(jobs)
    with dask_client(workers) as client:
        futures = {client.submit(run_scanner, job, key=f"harmoniq-{i}-{job.outdir.name}-{job.arm}-{job.scanner}",
                                 pure=False): i for i, job in enumerate(jobs)}
        for future in as_completed(futures):
            i = futures[future]
            results[i] = future.result()
            if isinstance(progress, Progress):
                for _ in range(jobs[i].runs):
                    progress.step(f"{jobs[i].scanner} {jobs[i].arm}")
    return results


def _in_protocol_order(jobs: list[ScannerRuns], results: list[list[Measurement]]) -> list[Measurement]:
    """Measurements ordered protocol, arm, scanner (the comparison's tables follow that order)."""
    return [m for p in range(len(jobs[0].protocols)) for m in (r[p] for r in results)] if jobs else []


def run_comparison(protocols: list[str], scanners: list[str], outdir: str | Path, *, workers: int = 1,
                   progress=True, **options) -> list[Measurement]:
    """Run every protocol on every scanner in every arm (resumable) into the BIDS dataset ``outdir``:
    subject the phantom, session the scanner, acquisition protocol and arm (``acq-t1irsesite``).

    Scanner k gets noise seed ``seed + k`` in both arms (paired noise); ``noise=False`` leaves
    only the systematic differences between scanners and protocol variants. options: those of
    :func:`comparison_jobs` (phantom, arms, matrix, seed, noise, device, recon: the harmonized
    arm's reconstruction, force, effects_off: modelled effects turned off,
    :mod:`harmoniq.simulation.effects`); workers and progress: see :func:`run_jobs`.
    """
    jobs = comparison_jobs(protocols, scanners, outdir, **options)
    return _in_protocol_order(jobs, run_jobs(jobs, workers, progress))


def ablation_plan(protocols: list[str], arms: tuple[str, ...], effects: tuple[str, ...] = ABLATION_EFFECTS
                  ) -> tuple[list[tuple[str, list[str], tuple[str, ...]]], list[tuple[str, str, str, str]]]:
    """The reruns an ablation makes, (effect, protocols, arms) each, and the (effect, protocol, arm,
    reason) it skips because turning the effect off cannot change them (:meth:`Effect.not_applicable`)."""
    plan, skipped = [], []
    for name in effects:
        e = effect(name)
        if name == "noise":
            raise HarmoniqError("--ablation-effects: 'noise' is not rerun (ablation runs are noise-free; its row "
                                "compares the comparison as run with the noise-free one); choose from "
                                f"{', '.join(n for n in EFFECTS if n != 'noise')}")
        chosen, rerun_arms = [], set()
        for p in protocols:
            loaded = load_protocol(p)
            plate = MODELS[loaded.model].plate if loaded.model in MODELS else None
            dimensions = getattr(loaded.parameters, "dimensions", 2)
            reasons = {arm: e.not_applicable(dimensions, plate, arm) for arm in arms}
            skipped += [(name, loaded.name, arm, reason) for arm, reason in reasons.items() if reason is not None]
            here = {arm for arm, reason in reasons.items() if reason is None}
            if here:
                chosen.append(p)
                rerun_arms |= here
        if chosen:
            plan.append((name, chosen, tuple(a for a in arms if a in rerun_arms)))
    return plan, skipped


def not_rerun(skipped: list[tuple[str, str, str, str]], effects: tuple[str, ...]) -> list[NotRerun]:
    """What an ablation of ``effects`` leaves out, and why: the effects not rerun by default that were not
    asked for (in every protocol), then the skipped (effect, protocol, arm, reason) of :func:`ablation_plan`."""
    left_out = [NotRerun(name, "", "", reason) for name, reason in NOT_RERUN_BY_DEFAULT.items()
                if name not in effects and name != "noise"]
    return left_out + [NotRerun(*item) for item in skipped]


def _reuse(source: Path, target: Path, stages: tuple[str, ...], arms: tuple[str, ...]) -> None:
    """Link the finished ``stages`` (manifest and outputs) of the runs in ``arms`` of dataset ``source``
    into dataset ``target``, where a rerun with the same inputs then resumes after them
    (:func:`harmoniq.pipeline.run`). Files already in ``target`` are kept."""
    for manifest in (source / "sourcedata").glob("sub-*/ses-*/*/.*.stage.json"):
        if manifest.name[1:-len(".stage.json")] not in stages or not manifest.parent.name.endswith(
                tuple(f"-{arm}" for arm in arms)):
            continue
        folder = manifest.parent
        outputs = [p for p, _ in json.loads(manifest.read_text())["outputs"]]
        extra = [Path(p).with_suffix(".pge").as_posix() for p in outputs if p.endswith(".seq")]
        for name in [*outputs, *(p for p in extra if (folder / p).is_file()), manifest.name]:
            destination = target / folder.relative_to(source) / name
            if destination.exists():
                continue
            destination.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(folder / name, destination)
            except OSError:  # another file system
                shutil.copy2(folder / name, destination)


def run_ablation(protocols: list[str], scanners: list[str], outdir: str | Path, *, arms: tuple[str, ...] = ARMS,
                 effects: tuple[str, ...] = ABLATION_EFFECTS, baseline: list[Measurement] | None = None,
                 workers: int = 1, progress=True, **options) -> dict[str, list[Measurement]]:
    """The comparison rerun noise-free with each of ``effects`` off in turn (:func:`ablation_plan`),
    every rerun a resumable BIDS dataset in ``outdir/sourcedata/ablation/no-<effect>``.

    Returns effect name -> measurements, and ``""`` -> the noise-free comparison with every effect
    on: ``baseline`` when given (the comparison's own measurements, when they are noise-free),
    else run into ``.../all-effects``. Every rerun takes the noise-free comparison's .seq files
    (no effect changes a sequence), and a reconstruction effect also its simulations (it changes
    only the reconstruction); the reruns of all effects share the ``workers``. options: those of
    :func:`comparison_jobs` but noise and effects_off.
    """
    folder = Path(outdir) / ABLATION_FOLDER
    source = Path(outdir) if baseline is not None else folder / "all-effects"
    runs = {"": baseline if baseline is not None else
            run_comparison(protocols, scanners, source, arms=arms, noise=False, workers=workers, progress=progress,
                           **options)}
    reruns = {}
    for name, chosen, arms_here in ablation_plan(protocols, arms, effects)[0]:
        _reuse(source, folder / f"no-{name}", ("seq", "simulate") if effect(name).recon else ("seq",), arms_here)
        reruns[name] = comparison_jobs(chosen, scanners, folder / f"no-{name}", arms=arms_here, noise=False,
                                       effects_off=(name,), **options)
    results = iter(run_jobs([job for jobs in reruns.values() for job in jobs], workers, progress))
    for name, jobs in reruns.items():
        runs[name] = _in_protocol_order(jobs, [next(results) for _ in jobs])
    return runs
