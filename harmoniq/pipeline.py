"""One protocol on one dataset: .seq -> raw data -> image -> maps, every stage on disk.

``outdir`` is a BIDS dataset (:mod:`harmoniq.bids.layout`); one run is one acquisition
``sub-<subject>_ses-<session>_acq-<protocol>``, so required protocols sit beside it::

    sourcedata/sub-S/ses-T/<protocol>/<protocol>.seq, .json   the exported sequence and its sidecar
    sourcedata/sub-S/ses-T/<protocol>/raw.h5             ISMRMRD raw data (simulated)
    sub-S/ses-T/anat|fmap/sub-S_ses-T_acq-A_inv-1_IRT1.nii.gz, .json, ...   the reconstruction, one
                                                         file per volume (BIDS qMRI file collection)
    derivatives/harmoniq/sub-S/ses-T/anat|fmap/sub-S_ses-T_acq-A_T1map.nii.gz, .json, ...   fitted maps

Each stage records its inputs (sha256 of files, parameters) and its outputs' sha256 in a
manifest ``sourcedata/.../<protocol>/.<stage>.stage.json``; a stage whose manifest matches is not recomputed, so an
interrupted run resumes where it stopped and a finished run costs nothing to repeat.
A protocol that requires another (``t1-vfa`` needs ``b1-dam``) runs it first, on the same
data source, and uses its map. A reconstructed series given as input (``image``, e.g. a file of
another BIDS dataset) replaces the seq, simulate and recon stages by ``import``. The stages hand over typed objects: :class:`Protocol` ->
``.seq`` -> ``KSpace`` -> ``ImageSeries`` -> :class:`ParameterMaps`, collected in :class:`RunResult`.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from harmoniq import __version__
from harmoniq.atomic import atomic_path, make_folder, write_text_atomic
from harmoniq.bids.dataset import write_dataset_files
from harmoniq.bids.layout import Acquisition, label
from harmoniq.errors import HarmoniqError
from harmoniq.fitting.maps import ParameterMaps, map_suffix
from harmoniq.models import MODELS, NO_MODEL, NO_MODEL_SUFFIX, datatype
from harmoniq.phantoms.base import Phantom
from harmoniq.progress import Progress, note, step
from harmoniq.protocols import Protocol, ReconOptions, load_protocol
from harmoniq.provenance import sha256_file

#: BIDS ``PulseSequenceType`` of each protocol family (a general description, as BIDS asks)
PULSE_SEQUENCE_TYPES = {"gre": "Spoiled gradient echo", "se": "Spin echo", "mese": "Multi-echo spin echo (CPMG)",
                        "dam": "Double-angle spin echo", "afi": "Actual flip-angle imaging (dual-TR spoiled gradient echo)",
                        "mp2rage": "MP2RAGE", "molli": "Modified Look-Locker inversion recovery (MOLLI)",
                        "bs": "Bloch-Siegert B1 mapping (spoiled gradient echo, off-resonant Fermi pulse at +-offset)"}


@dataclass
class RunResult:
    """Every stage's output of one run, and the names of the stages computed in this call.

    folder: the acquisition's work folder (``sourcedata/...``); image: the first file of the
    reconstructed collection (``images``: all of them); maps: the fitted maps (None for a
    protocol without a model); phantom: the simulated phantom (None for a site's raw data).
    """

    protocol: Protocol
    acquisition: Acquisition
    seq: Path | None  # None for an image given as input
    raw: Path | None
    images: list[Path]
    maps: ParameterMaps | None = None
    phantom: Phantom | None = None
    computed: list[str] = field(default_factory=list)

    @property
    def folder(self) -> Path:
        return self.acquisition.work_folder

    @property
    def image(self) -> Path:
        return self.images[0]

    @property
    def maps_folder(self) -> Path:
        """The session folder of the derivatives dataset (maps in its anat/ and fmap/ folders)."""
        return self.acquisition.derivatives_folder

    def map_path(self, name: str) -> Path:
        """The file of map ``name`` (``T1``, ``B1``, ...) of this run's model."""
        suffix = map_suffix(MODELS[self.protocol.model], name)
        return self.maps_folder / datatype(suffix) / f"{self.acquisition.prefix}_{suffix}.nii.gz"


def _stage(folder: Path, name: str, inputs: dict, compute: Callable[[], list[Path]],
           progress=None) -> tuple[list[Path], bool]:
    """Run ``compute`` unless the manifest shows the same inputs and intact outputs."""
    manifest = folder / f".{name}.stage.json"
    if manifest.is_file():
        record = json.loads(manifest.read_text())
        outputs = [Path(os.path.normpath(folder / p)) for p, _ in record["outputs"]]
        if record["inputs"] == inputs and all(
            p.is_file() and sha256_file(p) == h for p, (_, h) in zip(outputs, record["outputs"])
        ):
            return outputs, False
    note(progress, f"{folder.parent.name}/{folder.name}: {name}")
    outputs = compute()
    record = {"inputs": inputs, "outputs": [[Path(os.path.relpath(p, folder)).as_posix(), sha256_file(p)]
                                            for p in outputs],
              "harmoniq_version": __version__}
    write_text_atomic(manifest, json.dumps(record, indent=2, sort_keys=True) + "\n")
    return outputs, True


def input_problems(*, raw=None, scanner: str | None = None, phantom: str = "nist", seed: int = 0,
                   image=None) -> list[str]:
    """What would make a run fail before any work: a missing raw or image file, an unknown scanner or
    phantom, a bad seed."""
    from harmoniq.phantoms import list_phantoms
    from harmoniq.simulation.scanner_model import load_scanner_model

    problems = []
    if raw is not None and not Path(raw).is_file():
        problems.append(f"raw file {raw} does not exist; give an ISMRMRD .h5 raw data file")
    if image is not None and not Path(image).is_file():
        problems.append(f"image {image} does not exist; give a NIfTI series with its JSON sidecar (or a file of a "
                        "BIDS file collection)")
    if raw is None and image is None and scanner is not None:
        try:
            load_scanner_model(scanner)
        except HarmoniqError as exc:
            problems.append(str(exc))
        if phantom not in list_phantoms():
            problems.append(f"phantom {phantom!r} is not known; choose one of {', '.join(list_phantoms())}")
    if seed < 0:
        problems.append(f"seed={seed} must be a whole number >= 0")
    return problems


def pipeline_runs(protocol) -> int:
    """How many pipeline runs ``protocol`` takes: itself and, first, every protocol it requires."""
    return 1 + sum(pipeline_runs(load_protocol(name)) for name in protocol.requires)


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
    image: str | Path | None = None,
    subject: str | None = None,
    session: str | None = None,
    variant: str = "",
    dataset_name: str = "harmoniq",
    effects_off: tuple[str, ...] = (),
) -> RunResult:
    """Run ``protocol`` on simulated data (``phantom`` in ``scanner``), on a site's ``raw`` file or on a
    reconstructed ``image`` (a NIfTI + sidecar, or any file of a BIDS file collection: it is copied into
    the dataset as a collection and only fitted) into the BIDS dataset ``outdir`` (``dataset_name``).

    matrix: change the protocol's matrix (e.g. a smaller one for a quick simulation);
    seed/noise: simulation noise; recon: reconstruction method, coil combination and k-space
    filter (the harmonized pipeline uses the defaults); progress: a :class:`harmoniq.progress.Progress`
    counts this run (and each required one) as one step; force: replace existing outputs
    that no harmoniq stage wrote (:mod:`harmoniq.atomic`); subject, session: BIDS labels
    (default: the phantom and the scanner, ``01`` for a site's data); variant: appended to the
    acquisition label (``acq-t1irsesite``) so arms of a comparison sit side by side; effects_off:
    simulate with these modelled effects turned off (:mod:`harmoniq.simulation.effects`). Returns
    every stage's output.
    """
    from harmoniq.sequences.export import export

    protocol = protocol if isinstance(protocol, Protocol) else load_protocol(protocol)
    if matrix is not None and matrix != protocol.parameters.matrix:
        protocol = protocol.with_values(matrix=matrix)
    if raw is None and scanner is None and image is None:
        raise HarmoniqError("pipeline: give a simulated scanner (--scanner), a raw data file (--raw) or an image")
    problems = input_problems(raw=raw, scanner=scanner, phantom=phantom, seed=seed, image=image)
    if problems:  # before any stage writes
        raise HarmoniqError(problems[0])
    outdir = Path(outdir)
    simulated = raw is None and image is None
    subject = label(subject or (phantom if simulated else "01"), "subject")
    session = label(session or (scanner if simulated else "01"), "session")
    required = [] if image is not None else [
        run(r, outdir, phantom=phantom, scanner=scanner, raw=raw, matrix=matrix, seed=seed, noise=noise,
            device=device, recon=recon, progress=progress, force=force, subject=subject, session=session,
            variant=variant, dataset_name=dataset_name, effects_off=effects_off)
        for r in protocol.requires
    ]
    acquisition = Acquisition(outdir, subject, session, label(protocol.name + variant, "acquisition"),
                              "-".join(filter(None, (protocol.name, variant))))
    folder = acquisition.work_folder
    make_folder(folder)
    write_dataset_files(outdir, dataset_name)
    computed = []
    params = {"protocol_sha256": protocol.sha256, "parameters": protocol.values, "targets": list(protocol.targets)}

    model = MODELS.get(protocol.model)
    suffix = model.method_suffix if model else NO_MODEL_SUFFIX

    def collection(series, inputs):
        from harmoniq.atomic import sidecar_of

        keys = {"PulseSequenceType": PULSE_SEQUENCE_TYPES.get(protocol.family, protocol.family),
                **method_sidecar_keys(protocol.model, inputs.get("seq"), inputs.get("image"))}
        images = _write_images(series, model, acquisition, suffix, inputs, keys, force)
        return [*images, *map(sidecar_of, images)]

    phantom_obj = seq_path = raw_path = None
    if image is not None:
        from harmoniq.bids.layout import collection_files
        from harmoniq.io.nifti import read_image_series

        files = collection_files(image)
        outputs, done = _stage(folder, "import", {"image_sha256": [sha256_file(f) for f in files]},
                               lambda: collection(read_image_series(image), {"image": Path(image)}), progress)
        computed += ["import"] * done
    else:
        (seq_path, _), done = _stage(folder, "seq", params, lambda: list(export(protocol, folder, force=force)),
                                     progress)
        computed += ["seq"] * done
        if raw is None:
            raw_path, phantom_obj, done = _simulate(folder, protocol, seq_path, phantom, scanner, seed, noise, device,
                                                    force, progress, effects_off)
            computed += ["simulate"] * done
        else:
            raw_path = Path(raw)

        def reconstruct_stage():
            from harmoniq.io.reader import read_ismrmrd
            from harmoniq.recon.reconstruct import reconstruct

            series = reconstruct(read_ismrmrd(raw_path), recon, device=device, progress=progress)
            if model is not None and model.signed_images:
                from harmoniq.recon.phase import phase_referenced

                series = phase_referenced(series)
            return collection(series, {"raw": raw_path, "seq": seq_path})

        recon_inputs = {"raw_sha256": sha256_file(raw_path), "device": device, **asdict(recon)}
        outputs, done = _stage(folder, "recon", recon_inputs, reconstruct_stage, progress)
        computed += ["recon"] * done
    images = outputs[: len(outputs) // 2]

    result = RunResult(protocol, acquisition, seq_path, raw_path, images, None, phantom_obj, computed)
    if protocol.model != NO_MODEL:
        dam = next((r for r in required if r.protocol.model == "b1-dam" and "dam" in _fit_options(protocol)), None)
        b1 = None if dam else _required_b1(required)
        inputs = {"images_sha256": [sha256_file(p) for p in images], "model": protocol.model,
                  "b1_sha256": b1 and sha256_file(b1), "seq_sha256": seq_path and sha256_file(seq_path)}
        if dam:
            inputs["dam_sha256"] = [sha256_file(p) for p in (*dam.images, dam.seq) if p]
        t2 = _study_t2_map(protocol, acquisition, variant, simulated and phantom == "nist")
        if t2:
            inputs["t2_sha256"] = sha256_file(t2)
        _, done = _stage(folder, "fit", inputs,
                         lambda: _fit(protocol, result.image, folder, result.maps_folder, b1, device, seq_path, force,
                                      dam, t2),
                         progress)
        computed += ["fit"] * done
        result.maps = ParameterMaps.read(result.maps_folder, acquisition.prefix, protocol.model)
        if phantom_obj is not None and MODELS[protocol.model].quantity == "B1":
            path = folder / B1_ACCURACY
            write_text_atomic(path, json.dumps(b1_accuracy(result.maps["B1"], phantom_obj, scanner), indent=2) + "\n")
    step(progress, f"{folder.parent.name}/{folder.name}")
    return result


B1_ACCURACY = "b1_accuracy.json"
"""A simulated run's B1 map against the transmit field its scanner model applied (work folder)."""


def b1_accuracy(b1_map, phantom: Phantom, scanner: str) -> dict:
    """Per phantom ROI: the median relative B1 of the map, of the scanner model's transmit field at
    the voxel centres (the phantom's grid is the image's), and the median |map - model|."""
    import numpy as np

    from harmoniq.simulation.scanner_model import load_scanner_model

    b1 = np.asarray(b1_map, dtype=float)
    truth = load_scanner_model(scanner).b1_scale(phantom.positions_m())
    rois = {}
    for roi_label, roi in sorted(phantom.rois.items()):
        inside = (phantom.labels == roi_label) & np.isfinite(b1)
        if inside.any():
            rois[roi.name] = {"voxels": int(inside.sum()), "median_b1": float(np.median(b1[inside])),
                              "median_model_b1": float(np.median(truth[inside])),
                              "median_abs_error": float(np.median(np.abs(b1[inside] - truth[inside])))}
    return {"scanner": scanner, "reference": "the scanner model's relative transmit field at the voxel centres",
            "rois": rois}


def method_sidecar_keys(model: str, seq_path: Path | None, image: Path | None = None) -> dict:
    """Sidecar keys of ``model``'s method that the raw data's header does not carry: measured from the
    .seq that ran (:func:`harmoniq.fitting.bids_methods.acquisition_keys`), or for an imported ``image``
    (no .seq) copied from the sidecars of its collection (a list where its files differ)."""
    from harmoniq.fitting.bids_methods import METHOD_KEYS, acquisition_keys

    if seq_path is not None or image is None:
        return acquisition_keys(model, seq_path)
    from harmoniq.bids.layout import collection_files
    from harmoniq.io.nifti import read_sidecar

    sidecars = [read_sidecar(f, required=False) for f in collection_files(image)]
    keys = {}
    for key in METHOD_KEYS:
        values = [s[key] for s in sidecars if key in s]
        if len(values) == len(sidecars):
            keys[key] = values if any(v != values[0] for v in values) else values[0]
    return keys


def _write_images(series, model, acquisition: Acquisition, suffix: str, inputs: dict, keys: dict,
                  force: bool) -> list[Path]:
    """The reconstruction into the raw dataset: a BIDS file collection (one file per volume), or for a
    model that fits phase images one 4D file per ``part`` (phase first, the file the fit reads; suffix
    :data:`harmoniq.models.BS_SUFFIX`)."""
    from harmoniq.io.nifti import write_collection, write_image_series

    folder = acquisition.raw_folder(datatype(suffix))
    if model is None or not model.phase_images:
        return write_collection(series, folder, acquisition.prefix, suffix, model and model.volume_entity,
                                inputs=inputs, extra=keys, force=force)
    from harmoniq.recon.phase import image_parts

    units = {"phase": "rad", "mag": "arbitrary"}
    return [write_image_series(part, folder / f"{acquisition.prefix}_part-{name}_{suffix}.nii.gz", inputs=inputs,
                               extra={**keys, "Units": units[name]}, force=force)[0]
            for name, part in image_parts(series).items()]


def _simulate(folder, protocol, seq_path, phantom, scanner, seed, noise, device, force, progress, effects_off=()):
    """Simulation stage: the phantom on the protocol's FOV (the NIST plate its model measures), the
    effects ``effects_off`` turned off."""
    from harmoniq.io.ismrmrd_writer import write_ismrmrd
    from harmoniq.simulation.scanner_model import load_scanner_model
    from harmoniq.seqfile import read_seq
    from harmoniq.simulation.effects import phantom_without, scanner_without
    from harmoniq.simulation.simulate import make_phantom_for, simulate

    model = scanner_without(effects_off, load_scanner_model(scanner))
    sequence = read_seq(seq_path)  # read once: its dimensionality picks the phantom
    options = {"plate": MODELS[protocol.model].plate if protocol.model in MODELS else "t1"} if phantom == "nist" else {}
    ph = phantom_without(effects_off, make_phantom_for(phantom, sequence, model, protocol.parameters.matrix,
                                                       fov_m=protocol.parameters.fov_m, **options))
    raw_path = folder / "raw.h5"

    def compute():
        data = simulate(sequence, ph, model, seed=seed, noise=noise, device=device, progress=progress or None)
        write_ismrmrd(raw_path, data, force=force)
        return [raw_path]

    inputs = {"seq_sha256": sha256_file(seq_path), "phantom": phantom, "scanner": scanner, "seed": seed, "noise": noise,
              "matrix": protocol.parameters.matrix, "scanner_model": model.to_dict(),  # an edited model file reruns
              **({"effects_off": list(effects_off)} if effects_off else {})}
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


def _study_t2_map(protocol: Protocol, acquisition: Acquisition, variant: str, nist: bool) -> Path | None:
    """A T2 map fitted earlier in this session of the dataset (same phantom or subject, same scanner and
    variant) for the spoiling correction of ``protocol``, if it takes one; on the NIST phantom only a map
    of the plate ``protocol`` measures (the T2 protocols image the other plate). None: the fit assumes T2."""
    if "spoiling_t2_map" not in _fit_options(protocol):
        return None
    from harmoniq.io.nifti import read_sidecar

    tail = label(variant, "variant") if variant else ""
    for path in sorted(acquisition.derivatives_folder.glob("*/*_T2map.nii.gz")):
        entities = dict(part.split("-", 1) for part in path.name.split("_")[:-1] if "-" in part)
        model = MODELS.get(read_sidecar(path, required=False).get("Model", ""))
        if (model is not None and model.quantity == "T2" and "desc" not in entities
                and entities.get("acq", "").endswith(tail)
                and (not nist or model.plate == MODELS[protocol.model].plate)):
            return path
    return None


def _fit_options(protocol: Protocol) -> set[str]:
    return {o.name for o in MODELS[protocol.model].options}


def _fit(protocol: Protocol, image: Path, work: Path, out_dir: Path, b1: Path | None, device: str, seq: Path | None,
         force: bool, dam: RunResult | None = None, t2: Path | None = None) -> list[Path]:
    """Fit stage into the derivatives session folder ``out_dir``; a B1 map from another grid is
    resampled onto the image's grid first (kept in the work folder ``work``); the multi-echo spin
    echo's dictionary uses the slice profiles of the .seq it ran. A required double-angle run
    ``dam`` is resampled onto the image's grid too (``work/dam``) and fitted jointly with the
    variable-flip-angle T1 (:mod:`harmoniq.fitting.vfa_dam`), with its own .seq's slice profiles; a
    T2 map ``t2`` of the same session is resampled and used by the spoiling correction."""
    from harmoniq.fitting.bids import fit_files

    if b1 is not None:
        b1 = _resample_onto(b1, image, work / "b1_on_image_grid.nii.gz")
    options = {"seq": seq} if seq is not None and "seq" in _fit_options(protocol) else {}
    if dam is not None:
        make_folder(work / "dam")
        options["dam"] = [_resample_onto(p, image, work / "dam" / p.name) for p in dam.images][0]
        if dam.seq is not None:
            options["dam_seq"] = dam.seq
    if t2 is not None:
        options["spoiling_t2_map"] = _resample_onto(t2, image, work / "t2_on_image_grid.nii.gz")
    written = fit_files(protocol.model, image, out_dir, b1=b1, device=device, force=force, datatype_folders=True,
                        **options)
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
