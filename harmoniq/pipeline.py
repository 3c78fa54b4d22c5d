"""One protocol on one dataset: .seq -> raw data -> image -> maps, every stage on disk.

Layout of ``outdir`` (one folder per protocol, so required protocols sit beside it)::

    <protocol>/<protocol>.seq, <protocol>.json   the exported sequence and its sidecar
    <protocol>/raw.h5                            ISMRMRD raw data (simulated, or a copy's path)
    <protocol>/image.nii.gz, image.json          reconstruction + BIDS sidecar
    <protocol>/maps/image_<suffix>.nii.gz        fitted maps + sidecars

Each stage records its inputs (sha256 of files, parameters) and its outputs' sha256 in a
manifest ``.<stage>.stage.json``; a stage whose manifest matches is not recomputed, so an
interrupted run resumes where it stopped and a finished run costs nothing to repeat.
A protocol that requires another (``t1-vfa`` needs ``b1-dam``) runs it first, on the same
data source, and uses its map. The stages hand over typed objects: :class:`Protocol` ->
``.seq`` -> ``KSpace`` -> ``ImageSeries`` -> :class:`ParameterMaps`, collected in :class:`RunResult`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from harmoniq import __version__
from harmoniq.atomic import atomic_path, make_folder, write_text_atomic
from harmoniq.errors import HarmoniqError
from harmoniq.fitting.maps import ParameterMaps, map_suffix
from harmoniq.models import MODELS, NO_MODEL
from harmoniq.phantoms.base import Phantom
from harmoniq.progress import Progress, note, step
from harmoniq.protocols import Protocol, ReconOptions, load_protocol
from harmoniq.provenance import sha256_file

IMAGE_STEM = "image"


@dataclass
class RunResult:
    """Every stage's output of one run, and the names of the stages computed in this call.

    maps: the fitted maps (None for a protocol without a model); phantom: the simulated
    phantom (None for a site's raw data).
    """

    protocol: Protocol
    folder: Path
    seq: Path
    raw: Path
    image: Path
    maps: ParameterMaps | None = None
    phantom: Phantom | None = None
    computed: list[str] = field(default_factory=list)

    @property
    def maps_folder(self) -> Path:
        return self.folder / "maps"

    def map_path(self, name: str) -> Path:
        """The file of map ``name`` (``T1``, ``B1``, ...) of this run's model."""
        return self.maps_folder / f"{IMAGE_STEM}_{map_suffix(MODELS[self.protocol.model], name)}.nii.gz"


def _stage(folder: Path, name: str, inputs: dict, compute: Callable[[], list[Path]],
           progress=None) -> tuple[list[Path], bool]:
    """Run ``compute`` unless the manifest shows the same inputs and intact outputs."""
    manifest = folder / f".{name}.stage.json"
    if manifest.is_file():
        record = json.loads(manifest.read_text())
        outputs = [folder / p for p, _ in record["outputs"]]
        if record["inputs"] == inputs and all(
            p.is_file() and sha256_file(p) == h for p, (_, h) in zip(outputs, record["outputs"])
        ):
            return outputs, False
    note(progress, f"{folder.parent.name}/{folder.name}: {name}")
    outputs = compute()
    record = {"inputs": inputs, "outputs": [[str(p.relative_to(folder)), sha256_file(p)] for p in outputs],
              "harmoniq_version": __version__}
    write_text_atomic(manifest, json.dumps(record, indent=2, sort_keys=True) + "\n")
    return outputs, True


def input_problems(*, raw=None, scanner: str | None = None, phantom: str = "nist", seed: int = 0) -> list[str]:
    """What would make a run fail before any work: a missing raw file, an unknown scanner or phantom, a bad seed."""
    from harmoniq.phantoms import list_phantoms
    from harmoniq.simulation.scanner_model import load_scanner_model

    problems = []
    if raw is not None and not Path(raw).is_file():
        problems.append(f"raw file {raw} does not exist; give an ISMRMRD .h5 raw data file")
    if raw is None and scanner is not None:
        try:
            load_scanner_model(scanner)
        except HarmoniqError as exc:
            problems.append(str(exc))
        if phantom not in list_phantoms():
            problems.append(f"phantom {phantom!r} is not known; choose one of {', '.join(list_phantoms())}")
    if seed < 0:
        problems.append(f"seed={seed} must be a whole number >= 0")
    return problems


def run(
    protocol: str | Protocol,
    outdir: str | Path,
    *,
    phantom: str = "nist",
    scanner: str | None = None,
    raw: str | Path | None = None,
    matrix: int | None = None,
    seed: int = 0,
    noise: bool = True,
    device: str = "cpu",
    recon: ReconOptions = ReconOptions(),
    progress: bool | Progress = False,
    force: bool = False,
) -> RunResult:
    """Run ``protocol`` on simulated data (``phantom`` in ``scanner``) or on a site's ``raw`` file.

    matrix: change the protocol's matrix (e.g. a smaller one for a quick simulation);
    seed/noise: simulation noise; recon: reconstruction method, coil combination and k-space
    filter (the harmonized pipeline uses the defaults); progress: a :class:`harmoniq.progress.Progress`
    counts this run (and each required one) as one step; force: replace existing outputs
    that no harmoniq stage wrote (:mod:`harmoniq.atomic`). Returns every stage's output.
    """
    from harmoniq.sequences.export import export

    protocol = protocol if isinstance(protocol, Protocol) else load_protocol(protocol)
    if matrix is not None and matrix != protocol.parameters.matrix:
        protocol = protocol.with_values(matrix=matrix)
    if raw is None and scanner is None:
        raise HarmoniqError("pipeline: give a simulated scanner (--scanner) or a raw data file (--raw)")
    problems = input_problems(raw=raw, scanner=scanner, phantom=phantom, seed=seed)
    if problems:  # before any stage writes
        raise HarmoniqError(problems[0])
    outdir = Path(outdir)
    required = [
        run(r, outdir, phantom=phantom, scanner=scanner, raw=raw, matrix=matrix, seed=seed, noise=noise,
            device=device, recon=recon, progress=progress, force=force)
        for r in protocol.requires
    ]
    folder = outdir / protocol.name
    make_folder(folder)
    computed = []
    params = {"protocol_sha256": protocol.sha256, "parameters": protocol.values, "targets": list(protocol.targets)}

    (seq_path, _), done = _stage(folder, "seq", params, lambda: list(export(protocol, folder, force=force)), progress)
    computed += ["seq"] * done

    phantom_obj = None
    if raw is None:
        raw_path, phantom_obj, done = _simulate(folder, protocol, seq_path, phantom, scanner, seed, noise, device, force,
                                                progress)
        computed += ["simulate"] * done
    else:
        raw_path = Path(raw)
        if not raw_path.is_file():
            raise HarmoniqError(f"--raw {raw_path}: no such file")

    def reconstruct_stage():
        from harmoniq.io.nifti import write_image_series
        from harmoniq.io.reader import read_ismrmrd
        from harmoniq.recon.reconstruct import reconstruct

        series = reconstruct(read_ismrmrd(raw_path), recon, device=device, progress=progress)
        return list(write_image_series(series, folder / f"{IMAGE_STEM}.nii.gz", inputs={"raw": raw_path, "seq": seq_path},
                                       force=force))

    recon_inputs = {"raw_sha256": sha256_file(raw_path), "device": device, **asdict(recon)}
    (image, _), done = _stage(folder, "recon", recon_inputs, reconstruct_stage, progress)
    computed += ["recon"] * done

    result = RunResult(protocol, folder, seq_path, raw_path, image, None, phantom_obj, computed)
    if protocol.model != NO_MODEL:
        b1 = _required_b1(required)
        inputs = {"image_sha256": sha256_file(image), "model": protocol.model, "b1_sha256": b1 and sha256_file(b1),
                  "seq_sha256": sha256_file(seq_path)}
        _, done = _stage(folder, "fit", inputs, lambda: _fit(protocol, image, result.maps_folder, b1, device, seq_path, force),
                         progress)
        computed += ["fit"] * done
        result.maps = ParameterMaps.read(result.maps_folder, IMAGE_STEM, protocol.model)
    step(progress, f"{folder.parent.name}/{folder.name}")
    return result


def _simulate(folder, protocol, seq_path, phantom, scanner, seed, noise, device, force, progress):
    """Simulation stage: the phantom on the protocol's FOV (the NIST plate its model measures)."""
    from harmoniq.io.ismrmrd_writer import write_ismrmrd
    from harmoniq.simulation.scanner_model import load_scanner_model
    from harmoniq.seqfile import read_seq
    from harmoniq.simulation.simulate import make_phantom_for, simulate

    model = load_scanner_model(scanner)
    sequence = read_seq(seq_path)  # read once: its dimensionality picks the phantom
    options = {"plate": MODELS[protocol.model].plate if protocol.model in MODELS else "t1"} if phantom == "nist" else {}
    ph = make_phantom_for(phantom, sequence, model, protocol.parameters.matrix, fov_m=protocol.parameters.fov_m,
                          **options)
    raw_path = folder / "raw.h5"

    def compute():
        data = simulate(sequence, ph, model, seed=seed, noise=noise, device=device, progress=progress or None)
        write_ismrmrd(raw_path, data, force=force)
        return [raw_path]

    inputs = {"seq_sha256": sha256_file(seq_path), "phantom": phantom, "scanner": scanner, "seed": seed, "noise": noise,
              "matrix": protocol.parameters.matrix}
    _, done = _stage(folder, "simulate", inputs, compute, progress)
    return raw_path, ph, done


def _required_b1(required: list[RunResult]) -> Path | None:
    """The relative-B1 map file of a required b1-dam run, if any."""
    for r in required:
        if r.protocol.model == "b1-dam":
            path = r.map_path("B1")
            if not path.is_file():
                raise HarmoniqError(f"pipeline: {r.protocol.name} produced no B1 map {path.name} in {r.maps_folder}")
            return path
    return None


def _fit(protocol: Protocol, image: Path, out_dir: Path, b1: Path | None, device: str, seq: Path,
         force: bool) -> list[Path]:
    """Fit stage; a B1 map from another grid is resampled onto the image's grid first; the
    multi-echo spin echo's dictionary uses the slice profiles of the .seq it ran."""
    from harmoniq.fitting.bids import fit_files

    make_folder(out_dir)
    if b1 is not None:
        b1 = _resample_onto(b1, image, out_dir / "b1_on_image_grid.nii.gz")
    options = {"seq": seq} if any(o.name == "seq" for o in MODELS[protocol.model].options) else {}
    written = fit_files(protocol.model, image, out_dir, b1=b1, device=device, force=force, **options)
    return [*written, *[p.with_name(p.name.replace(".nii.gz", ".json")) for p in written]]


def _resample_onto(source: Path, target: Path, out: Path) -> Path:
    """Resample a map onto another image's voxel grid (world coordinates, linear)."""
    import nibabel as nib
    from nibabel.processing import resample_from_to

    src, ref = nib.load(str(source)), nib.load(str(target))
    shape3 = ref.shape[:3]
    resampled = resample_from_to(src, (shape3, ref.affine), order=1, mode="nearest")
    with atomic_path(out) as tmp:
        nib.save(resampled, str(tmp))
    side = source.with_name(source.name.replace(".nii.gz", ".json"))
    if side.is_file():
        write_text_atomic(out.with_name(out.name.replace(".nii.gz", ".json")), side.read_text())
    return out
