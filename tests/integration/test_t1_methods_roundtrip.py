"""MOLLI and MP2RAGE through every stage: the shipped protocol (small matrix) is exported, played
by the isochromat simulator on a phantom of four tubes in the ideal 3 T scanner (B1 = 1, no B0,
one coil, no noise), reconstructed, written as a BIDS file collection (the MP2RAGE one as signed
images phase-referenced to INV2) and fitted from the files; each tube's T1 is compared with the
value the phantom was given.

Pass (16 x 16, 4 partitions): MOLLI under-estimates, more for longer T1, within the FLASH
readout's bias (tests/sequences/test_molli_sequence.py: -4 to -11 % for 0.35-2 s with the
protocol's 32 lines before the centre; fewer lines here, so less); MP2RAGE within 1 % over its
lookup table's range (Marques et al., NeuroImage 2010;49:1271) with the tables at the .seq
inversion pulse's efficiency, and B1-corrected within 1 % on a scanner with B1 = 0.8 where the
uncorrected fit is off by more.
"""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from harmoniq.fitting.bids import fit_files
from harmoniq.fitting.maps import ParameterMaps
from harmoniq.io.ismrmrd_writer import write_ismrmrd
from harmoniq.io.nifti import write_collection
from harmoniq.io.reader import read_ismrmrd
from harmoniq.models import MODELS
from harmoniq.phantoms.base import ROI, Phantom
from harmoniq.pipeline import method_sidecar_keys
from harmoniq.protocols import load_protocol
from harmoniq.recon.phase import phase_referenced
from harmoniq.recon.reconstruct import reconstruct
from harmoniq.sequences.export import export
from harmoniq.simulation import load_scanner_model, simulate

T1_S = (0.4, 0.8, 1.2, 1.8)
MATRIX = 16
PARTITIONS = 4
# the ideal 3 T scanner (harmoniq/simulation/scanners/ideal-3t.toml) with a uniform transmit field of 0.8
LOW_B1_SCANNER = """
name = "low-b1-3t"
profile = "siemens-prisma-3t"
vendor = "Siemens"
model = "ideal"
field_strength_T = 3.0
raw_data_conjugated = true
[b1]
centre = 0.8
edge = 0.8
[receive]
channels = 1
rings = 1
array_radius_mm = 450.0
loop_radius_mm = 400.0
[noise]
std_at_100khz = 0.0
neighbour_correlation = 0.0
"""


def tubes(shape, voxel_size_m) -> Phantom:
    """Four 5 x 5 tubes along z (T1 ``T1_S``, T2 0.1 s, PD 1) in a 16 x 16 plane; labels on their
    inner 3 x 3 voxels."""
    pd, t1, t2, labels = (np.zeros(shape) for _ in range(4))
    t1[:], t2[:] = 1.0, 0.1
    rois = {}
    for k, value in enumerate(T1_S):
        y, x = 2 + 7 * (k // 2), 2 + 7 * (k % 2)
        pd[:, y:y + 5, x:x + 5], t1[:, y:y + 5, x:x + 5] = 1.0, value
        labels[:, y + 1:y + 4, x + 1:x + 4] = k + 1
        rois[k + 1] = ROI(k + 1, f"tube{k + 1}", value, 0.1, 1.0)
    return Phantom("tubes", 3.0, pd, t1, t2, np.full(shape, np.inf), np.zeros(shape), labels.astype(int), rois,
                   voxel_size_m)


def round_trip(tmp, protocol, scanner, fits):
    """Tube means of the fitted T1 (s) of ``protocol`` simulated in ``scanner``, one array per fit
    (keyword options of :func:`fit_files`; ``b1``: a uniform relative B1 map of that value)."""
    seq, _ = export(protocol, tmp)
    p = protocol.parameters
    inplane = p.fov_m / MATRIX
    if p.dimensions == 3:
        shape, voxel = (p.partitions, MATRIX, MATRIX), (p.slice_thickness_m / p.partitions, inplane, inplane)
    else:
        shape, voxel = (1, MATRIX, MATRIX), (p.slice_thickness_m, inplane, inplane)
    phantom = tubes(shape, voxel)
    write_ismrmrd(tmp / "raw.h5", simulate(seq, phantom, load_scanner_model(scanner), noise=False))
    series = reconstruct(read_ismrmrd(tmp / "raw.h5"))
    model = MODELS[protocol.model]
    if model.signed_images:
        series = phase_referenced(series)
    images = write_collection(series, tmp / "anat", "sub-1", model.method_suffix, model.volume_entity,
                              inputs={"raw": tmp / "raw.h5"}, extra=method_sidecar_keys(protocol.model, seq))
    results = []
    for k, options in enumerate(fits):
        options = {key: (seq if value == "seq" else value) for key, value in options.items()}
        if "b1" in options:
            template = nib.load(str(images[0]))
            options["b1"] = tmp / f"b1_{k}.nii.gz"
            nib.save(nib.Nifti1Image(np.full(template.shape, fits[k]["b1"], np.float32), template.affine),
                     str(options["b1"]))
        fit_files(protocol.model, images[0], tmp / f"maps{k}", **options)
        t1 = ParameterMaps.read(tmp / f"maps{k}", "sub-1", protocol.model)["T1"]
        results.append(np.array([np.mean(t1[phantom.labels == j + 1]) for j in range(len(T1_S))]))
    return results


@pytest.fixture(scope="module")
def molli(tmp_path_factory):
    protocol = load_protocol("t1-molli").with_values(matrix=MATRIX)
    return round_trip(tmp_path_factory.mktemp("molli"), protocol, "ideal-3t", [{}])[0]


def test_molli_underestimates_within_its_known_bias(molli):
    bias = molli / np.array(T1_S) - 1
    assert np.all(bias < 0) and np.all(bias > -0.11), bias
    assert bias[-1] < bias[0]


def mp2rage_protocol():
    return load_protocol("t1-mp2rage").with_values(matrix=MATRIX, partitions=PARTITIONS)


def test_mp2rage_recovers_t1_over_its_lookup_table(tmp_path):
    """With the tables at the .seq inversion pulse's own efficiency (0.9975) the tubes are within
    1 %; the default 0.96 (Marques 2010's pulse) over-estimates, more for longer T1."""
    own, default = round_trip(tmp_path, mp2rage_protocol(), "ideal-3t", [{"seq": "seq"}, {}])
    assert np.allclose(own, T1_S, rtol=0.01), own
    bias = default / np.array(T1_S) - 1
    assert np.all(bias > 0) and np.all(np.diff(bias) > 0) and bias[-1] < 0.06, bias


def test_mp2rage_b1_corrected_tables(tmp_path):
    """Transmit field 0.8 everywhere: the B1-corrected tables (Marques and Gruetter, PLoS One
    2013;8:e69294), with the pulse's efficiency at that B1 (0.973: the hyperbolic secant is no longer
    fully adiabatic), give T1 within 1 %, the uncorrected table is off by more."""
    scanner = tmp_path / "b1-low.toml"
    scanner.write_text(LOW_B1_SCANNER)
    corrected, uncorrected = round_trip(tmp_path, mp2rage_protocol(), scanner,
                                        [{"seq": "seq", "b1": 0.8}, {"seq": "seq"}])
    assert np.allclose(corrected, T1_S, rtol=0.01), corrected
    error = np.abs(np.array([corrected, uncorrected]) / np.array(T1_S) - 1)
    assert np.all(error[0] < error[1]) and error[1, -1] > 0.02, uncorrected
