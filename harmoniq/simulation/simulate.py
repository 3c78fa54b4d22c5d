"""Run a .seq file on a phantom inside a simulated scanner: noise-free signal plus noise.

>>> from harmoniq.simulation import simulate                     # doctest: +SKIP
>>> raw = simulate("gre.seq", "nist", "ge-premier-3t", matrix=64, seed=1)
>>> from harmoniq.simulation.prescription import Prescription
>>> tilted = Prescription.from_angles(offset_mm=(15, -10, 20), angles_deg=(20, 10, 0))
>>> oblique = simulate("gre.seq", "nist", "ge-premier-3t", prescription=tilted)
>>> write_ismrmrd("gre.h5", raw)                                   # harmoniq.io.ismrmrd_writer
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from harmoniq.backend import xp_for_device
from harmoniq.errors import HarmoniqError
from harmoniq.memory import check_fits
from harmoniq.progress import Progress, counter
from harmoniq.seqfile import read_seq
from harmoniq.simulation.engine import EngineOptions, run, total_events
from harmoniq.simulation.prescription import Prescription, echo_k, encoded_ndim, encoding_axes, physical_timeline
from harmoniq.simulation.scanner_model import ScannerModel, load_scanner_model
from harmoniq.simulation.spins import SpinModel, SpinSampling
from harmoniq.simulation.timeline import CompiledSequence, compile_sequence

NOISE_SCANS = 16
NOISE_SAMPLES = 2048
"""16 x 2048 noise samples estimate a 20-channel covariance to about 2.5 % (Frobenius norm)."""
MAX_ADC_SAMPLES = 65535
"""Most samples one readout may have: ISMRMRD stores ``number_of_samples`` as uint16."""
TIMELINE_BYTES_PER_SAMPLE = 96
"""Timeline arrays per ADC sample (time, k-space, phase, float64), beside 8 bytes per channel."""


@dataclass
class SimulatedRaw:
    """Simulated raw data: one (coils, samples) complex64 array per ADC event, noise scans first.

    ``noise_scans`` is empty for noise-free data; ``noise_covariance`` is the model's channel covariance at ``noise_dwell_s``;
    ``conjugated`` says the data follow the scanner vendor's conjugated convention;
    ``nominal_trajectory`` is the k-space (J, 3) per readout the scanner believes it played
    (logical read/phase/slice axes, without its gradient delays), what a scanner writes into
    its raw data; ``prescription`` places the logical axes in the patient (LPS), and
    ``timeline`` is what was played in physical axes.
    """

    signals: list[np.ndarray]
    noise_scans: list[np.ndarray]
    noise_dwell_s: float
    noise_covariance: np.ndarray
    timeline: CompiledSequence
    scanner: ScannerModel
    phantom_name: str
    phantom_fov_m: tuple[float, float, float]
    phantom_shape: tuple[int, int, int]
    definitions: dict = field(default_factory=dict)
    seed: int | None = None
    conjugated: bool = False
    nominal_trajectory: list = field(default_factory=list)
    prescription: Prescription = field(default_factory=Prescription)


def sequence_ndim(seq, field_t: float = 3.0) -> int:
    """3 when the .seq definitions give a matrix with more than one partition, else 2; without a
    ``Matrix`` definition, 3 when its readouts are phase encoded along two axes
    (:func:`~harmoniq.simulation.prescription.encoded_ndim`, the reader's rule), with one
    warning line saying so. ``field_t`` only turns ppm offsets into Hz."""
    import warnings

    matrix = seq.definitions.get("Matrix") if hasattr(seq, "definitions") else None
    if matrix is not None:
        try:
            return 3 if int(np.ravel(matrix)[2]) > 1 else 2
        except (IndexError, TypeError, ValueError):
            return 2
    trajectory = compile_sequence(seq, field_t).trajectory
    if not trajectory:
        return 2
    k_echo = np.array([echo_k(k) for k in trajectory])
    ndim = encoded_ndim(k_echo)
    axes = " and ".join("xyz"[a] for a in encoding_axes(k_echo)) or "no axis"
    warnings.warn(f"no Matrix definition; phase encoded along {axes}, so it is simulated in {ndim}D",
                  stacklevel=2)
    return ndim


def check_memory(n_voxels: int, n_coils: int, source: str = "simulation") -> None:
    """Raise before allocating when the voxel-level arrays would not fit in memory."""
    check_fits(n_voxels * (16 * n_coils + 160), f"{source}: {n_voxels} voxels", "choose a smaller --matrix")


def check_readouts(sequence, n_coils: int, source: str) -> None:
    """Raise before compiling when a readout is longer than ISMRMRD allows or all readouts
    (timeline plus ``n_coils`` complex64 signals per sample) would not fit in memory."""
    adc_samples = {adc_id: int(values[0]) for adc_id, values in sequence.adc_library.data.items()}
    total = 0
    for block_id, events in sequence.block_events.items():
        count = adc_samples.get(int(events[5]), 0)
        if count > MAX_ADC_SAMPLES:
            raise HarmoniqError(f"{source}: block {int(block_id)} has an ADC of {count} samples; a readout may have "
                                f"at most {MAX_ADC_SAMPLES} (ISMRMRD's limit)")
        total += count
    check_fits(total * (8 * n_coils + TIMELINE_BYTES_PER_SAMPLE), f"{source}: {total} ADC samples",
               "use a sequence with fewer or shorter readouts")


def make_phantom_for(name: str, seq, scanner: ScannerModel, matrix: int, prescription: Prescription = Prescription(),
                     fov_m: float | None = None, **options):
    """Phantom ``name`` on a ``matrix`` grid for ``scanner``'s field, 2D or 3D like ``seq``;
    3D whenever the prescription tilts the slice away from z. fov_m: the protocol's field of
    view (m; None: the phantom's own); options: phantom options (e.g. the NIST ``plate``). The NIST
    phantom lies at the scanner's site temperature (``scanner.phantom_temperature_c``) unless
    ``options`` give ``temperature_c``."""
    from harmoniq.phantoms import make_phantom

    ndim = 3 if not prescription.keeps_slice_axis() else sequence_ndim(seq, scanner.field_t)
    if matrix < 1:
        raise HarmoniqError(f"--matrix={matrix} must be a positive number of voxels")
    check_memory(matrix**ndim, scanner.coils.channels, f"phantom {name!r} at matrix {matrix} ({ndim}D)")
    definitions = getattr(seq, "definitions", {})
    if ndim == 3 and prescription.keeps_slice_axis() and fov_m is not None and "FOV" in definitions:
        # the image grid of a 3D slab: partitions across the slab, so ROIs and maps align
        partitions, slab_m = int(np.ravel(definitions["Matrix"])[2]), float(np.ravel(definitions["FOV"])[2])
        matrix, fov_m = (partitions, matrix, matrix), (slab_m, fov_m, fov_m)
    if name == "nist":
        options = {"temperature_c": scanner.phantom_temperature_c, **options}
    return make_phantom(name, matrix=matrix, field_t=scanner.field_t, ndim=ndim, fov_m=fov_m, **options)


def simulate(seq, phantom, scanner, *, matrix: int = 64, seed: int | None = 0, noise: bool = True,
             device: str = "cpu", sampling: SpinSampling = SpinSampling(),
             options: EngineOptions = EngineOptions(), prescription: Prescription = Prescription(),
             progress=None) -> SimulatedRaw:
    """Simulate ``seq`` (path or pypulseq Sequence) on ``phantom`` (Phantom or name) in ``scanner``.

    matrix: phantom grid when ``phantom`` is a name; seed: noise seed (same seed, same data);
    prescription: where the sequence's slice or slab lies in the patient (default: axial,
    centred; see :mod:`harmoniq.simulation.prescription`); progress: True for a tqdm bar, a
    :class:`harmoniq.progress.Progress`, or a callable receiving event counts.
    """
    xp = xp_for_device(device)
    scanner = scanner if isinstance(scanner, ScannerModel) else load_scanner_model(scanner)
    sequence = read_seq(seq)
    check_readouts(sequence, scanner.coils.channels, str(seq) if not hasattr(seq, "block_events") else "sequence")
    if isinstance(phantom, str):
        phantom = make_phantom_for(phantom, sequence, scanner, matrix, prescription)
    if phantom.shape[0] == 1 and not prescription.keeps_slice_axis():
        raise HarmoniqError(f"phantom {phantom.name!r} is 2D (uniform along z), so the prescription's slice "
                            f"direction must be +-z, not {prescription.slice_dir.round(4).tolist()}; use a 3D phantom")
    check_memory(int(np.prod(phantom.shape)), scanner.coils.channels, f"phantom {phantom.name!r}")
    nominal = compile_sequence(sequence, scanner.field_t)
    timeline = physical_timeline(sequence, scanner.field_t, scanner.gradient_delays_s, prescription, nominal)
    spins = SpinModel(phantom, scanner, timeline, sampling)
    coil_maps = scanner.coil_maps(spins.voxel_positions())
    bar = None
    if progress is True or isinstance(progress, Progress):
        bar = counter(progress, total_events(timeline, spins, options), "simulate", "event")
        progress = bar.update
    try:
        signals = run(timeline, spins, coil_maps, xp=xp, options=options, progress=progress)
    finally:
        if bar is not None:
            bar.close()
    dwell = timeline.readouts[0].dwell_s if timeline.readouts else 1e-5
    covariance = scanner.noise_covariance(dwell)
    noise_scans = []  # noise-free data carry no noise scans: there is nothing to prewhiten
    if noise and scanner.noise.std > 0:
        rng = np.random.default_rng(seed)
        noise_scans = [_noise(rng, covariance, NOISE_SAMPLES) for _ in range(NOISE_SCANS)]
        signals = [s + _noise(rng, scanner.noise_covariance(r.dwell_s), s.shape[1])
                   for s, r in zip(signals, timeline.readouts)]
    if scanner.raw_data_conjugated:
        signals = [np.conj(s) for s in signals]
        noise_scans = [np.conj(s) for s in noise_scans]
    return SimulatedRaw(signals=signals, noise_scans=noise_scans, noise_dwell_s=dwell, noise_covariance=covariance,
                        timeline=timeline, scanner=scanner, phantom_name=phantom.name, phantom_fov_m=phantom.fov_m,
                        phantom_shape=phantom.shape, definitions=dict(sequence.definitions), seed=seed,
                        conjugated=scanner.raw_data_conjugated, nominal_trajectory=nominal.trajectory,
                        prescription=prescription)


def _noise(rng, covariance: np.ndarray, n_samples: int) -> np.ndarray:
    """Complex Gaussian noise (coils, n_samples) with E[n n^H] = covariance per sample."""
    white = rng.standard_normal((2, covariance.shape[0], n_samples))
    white = (white[0] + 1j * white[1]) / np.sqrt(2)
    return (np.linalg.cholesky(covariance) @ white).astype(np.complex64)
