"""Study batches on Dask: many datasets through the same pipeline, resumable, on a laptop or a cluster.

A study file lists datasets, real or simulated::

    name = "phantom-study"
    [[dataset]]                      # a site's raw data (path relative to the study file)
    site = "site-a"
    subject = "nist-001"
    protocol = "t1-irse"
    raw = "site-a/t1-irse.h5"
    [[dataset]]                      # a reconstructed series, e.g. from a BIDS dataset: only fitted
    site = "site-b"
    subject = "nist-001"
    protocol = "t1-irse"
    image = "bids/sub-nist001/ses-siteb/anat/sub-nist001_ses-siteb_inv-1_IRT1.nii.gz"
    [[dataset]]                      # a simulated run
    site = "sim-prisma"
    subject = "nist"
    protocol = "t2-mese"
    scanner = "siemens-prisma-3t"
    phantom = "nist"
    matrix = 64
    seed = 1

Every dataset runs :func:`harmoniq.pipeline.run` into the BIDS dataset ``OUT`` (subject
``sub-<subject>``, session ``ses-<site>``, labels without their other characters) on a Dask
worker (a local cluster by default, or the ``dask.distributed`` scheduler at an address).
Stages already finished with the same inputs are not recomputed, so a killed batch restarts
where it stopped. Every dataset is checked before any worker starts (raw files exist;
protocols, simulated scanners and phantoms are known); a dataset that fails on its worker is
reported in one line and the others go on.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from harmoniq.bids.layout import label
from harmoniq.errors import HarmoniqError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

_KEYS = {"site": str, "subject": str, "protocol": str, "raw": str, "image": str, "scanner": str, "phantom": str, "matrix": int, "seed": int}


@dataclass(frozen=True)
class Dataset:
    """One row of a study: where its data come from and where its outputs go."""

    site: str
    subject: str
    protocol: str
    raw: Path | None = None
    image: Path | None = None
    scanner: str | None = None
    phantom: str = "nist"
    matrix: int | None = None
    seed: int = 0

    @property
    def key(self) -> str:
        return f"{self.site}/{self.subject}/{self.protocol}"


@dataclass
class Study:
    name: str
    datasets: list[Dataset]


def load_study(path: str | Path) -> Study:
    """Read and check a study file; every dataset needs one of ``raw``, ``image`` or ``scanner``."""
    path = Path(path)
    if not path.is_file():
        raise HarmoniqError(f"study file {path} does not exist")
    try:
        data = tomllib.loads(path.read_text())
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise HarmoniqError(f"study {path.name}: not valid TOML ({exc})") from exc
    unknown = set(data) - {"name", "dataset"}
    if unknown:
        raise HarmoniqError(f"study {path.name}: unknown key {sorted(unknown)[0]!r}; valid keys are name, dataset")
    rows = data.get("dataset", [])
    if not isinstance(rows, list) or not rows:
        raise HarmoniqError(f"study {path.name}: no [[dataset]] entries")
    datasets = []
    for i, row in enumerate(rows, start=1):
        where = f"study {path.name}, dataset {i}"
        for key, value in row.items():
            if key not in _KEYS:
                raise HarmoniqError(f"{where}: unknown key {key!r}; valid keys are {', '.join(_KEYS)}")
            if not isinstance(value, _KEYS[key]) or isinstance(value, bool):
                raise HarmoniqError(f"{where}: {key}={value!r} must be a {_KEYS[key].__name__}")
        for key in ("site", "subject", "protocol"):
            if key not in row:
                raise HarmoniqError(f"{where}: key {key!r} is required")
        if sum(key in row for key in ("raw", "image", "scanner")) != 1:
            raise HarmoniqError(f"{where}: give exactly one of raw (a site's data), image (a reconstructed series, "
                                "e.g. a file of a BIDS file collection) or scanner (a simulated run)")
        files = {key: (path.parent / row[key]).resolve() for key in ("raw", "image") if key in row}
        datasets.append(Dataset(**{**row, **files}))
    keys = [d.key for d in datasets]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise HarmoniqError(f"study {path.name}: dataset {duplicates[0]} appears twice (site/subject/protocol must be unique)")
    labelled = [(label(d.site, "site"), label(d.subject, "subject"), d.protocol) for d in datasets]
    clashes = sorted({d.key for d, k in zip(datasets, labelled) if labelled.count(k) > 1})
    if clashes:
        raise HarmoniqError(f"study {path.name}: dataset {clashes[0]} has the BIDS labels of another dataset (a label "
                            "keeps only letters and digits); give sites and subjects that differ in those")
    problems = [f"study {path.name}, dataset {i} ({d.key}): {problem}"
                for i, d in enumerate(datasets, start=1) for problem in _problems(d)]
    if problems:
        more = f" (and {len(problems) - 1} more problem(s) in the study)" if len(problems) > 1 else ""
        raise HarmoniqError(problems[0] + more)
    return Study(data.get("name", path.stem), datasets)


def _problems(dataset: Dataset) -> list[str]:
    """What would make ``dataset`` fail before any work: missing files, unknown names, bad numbers."""
    from harmoniq.pipeline import input_problems
    from harmoniq.protocols import load_protocol

    problems = []
    try:
        load_protocol(dataset.protocol)
    except HarmoniqError as exc:
        problems.append(str(exc))
    if dataset.matrix is not None and dataset.matrix < 1:
        problems.append(f"matrix={dataset.matrix} must be a positive number of voxels")
    return problems + input_problems(raw=dataset.raw, scanner=dataset.scanner, phantom=dataset.phantom,
                                     seed=dataset.seed, image=dataset.image)


@dataclass
class BatchResult:
    """Finished runs by dataset key, failures with their one-line reason."""

    runs: dict = field(default_factory=dict)
    failed: dict = field(default_factory=dict)


def run_dataset(dataset: Dataset, outdir: str | Path, device: str = "cpu", force: bool = False,
                study: str = "harmoniq"):
    """Run one dataset of the study named ``study`` (this is what a Dask worker executes) on ``device``."""
    from harmoniq.pipeline import run

    return run(dataset.protocol, Path(outdir), phantom=dataset.phantom, scanner=dataset.scanner, raw=dataset.raw,
               image=dataset.image, matrix=dataset.matrix, seed=dataset.seed, device=device, force=force, subject=dataset.subject,
               session=dataset.site, dataset_name=study)


def run_batch(study: Study, outdir: str | Path, *, scheduler: str | None = None, workers: int = 2,
              device: str = "cpu", progress: bool = True, force: bool = False) -> BatchResult:
    """Run every dataset of ``study`` on Dask; a local cluster of ``workers`` processes unless
    ``scheduler`` gives the address of a running ``dask.distributed`` scheduler."""
    from dask.distributed import as_completed

    from harmoniq.cluster import dask_client

    result = BatchResult()
    with dask_client(workers, scheduler) as client:
        futures = {client.submit(run_dataset, d, str(outdir), device, force, study.name, key=f"harmoniq-{d.key}", pure=False): d for d in study.datasets}
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=len(futures), unit="dataset", desc=study.name)
        for future in as_completed(futures):
            dataset = futures[future]
            try:
                result.runs[dataset.key] = future.result()
            except Exception as exc:  # a failing dataset is reported, the others go on
                result.failed[dataset.key] = failure_reason(exc)
            if bar is not None:
                bar.update()
        if bar is not None:
            bar.close()
    return result


def failure_reason(exc: BaseException) -> str:
    """One line: a HarmoniqError's message, else the exception type and its first line."""
    text = str(exc) if isinstance(exc, HarmoniqError) else f"{type(exc).__name__}: {exc}"
    return (text.strip().splitlines() or [type(exc).__name__])[0]


def summary(study: Study, result: BatchResult):
    """The study's comparison: the maps of every simulated dataset, sites as raters."""
    from harmoniq.analysis.compare import compare
    from harmoniq.experiments import comparable, measurement

    runs = [(d, result.runs.get(d.key)) for d in study.datasets]
    return compare([measurement(study.name, d.site, r) for d, r in runs if r is not None and comparable(r)])
