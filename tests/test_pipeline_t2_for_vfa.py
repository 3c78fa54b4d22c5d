"""Which T2 map of a session the pipeline hands to the VFA spoiling correction."""

import json

from harmoniq.bids.layout import Acquisition
from harmoniq.pipeline import _study_t2_map
from harmoniq.protocols import load_protocol


def _map(folder, name, model):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.nii.gz").write_bytes(b"")
    (folder / f"{name}.json").write_text(json.dumps({"Model": model}))
    return folder / f"{name}.nii.gz"


def test_a_t2_map_of_the_session_is_used_unless_it_images_another_nist_plate(tmp_path):
    acquisition = Acquisition(tmp_path, "brain", "ideal3t", "t1vfa", "t1-vfa")
    anat = acquisition.derivatives_folder / "anat"
    vfa = load_protocol("t1-vfa")
    assert _study_t2_map(vfa, acquisition, "", nist=False) is None  # none fitted yet
    _map(anat, "sub-brain_ses-ideal3t_acq-t2se_desc-crlb_T2map", "t2-se")  # an uncertainty, not a T2
    _map(anat, "sub-brain_ses-ideal3t_acq-t1vfa_T1map", "t1-vfa")
    assert _study_t2_map(vfa, acquisition, "", nist=False) is None
    t2 = _map(anat, "sub-brain_ses-ideal3t_acq-t2se_T2map", "t2-se")
    assert _study_t2_map(vfa, acquisition, "", nist=False) == t2
    assert _study_t2_map(vfa, acquisition, "site", nist=False) is None  # another arm's map
    assert _study_t2_map(vfa, acquisition, "", nist=True) is None  # t2-se measures the NIST T2 plate
    assert _study_t2_map(load_protocol("t1-irse"), acquisition, "", nist=False) is None  # no spoiling correction
