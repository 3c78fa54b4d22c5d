"""The multi-echo spin echo's T2 fit with the .seq file's slice profiles.

Echo trains come from :mod:`roundtrip_reference`: extended phase graphs over the played
train of the shipped t2-mese (its pulses' flip angles by spinor integration at 48 positions
across 2.4 slice thicknesses, its timing, ideal crushing), averaged over the slice. The
fitter's dictionary with :func:`cpmg_profile` (32 positions, its own EPG) recovers T2 within
0.5 %; the same fit with an ideal profile over-estimates it (Lebel and Wilman, MRM 2010).
"""

import numpy as np
import pypulseq as pp
import pytest
from roundtrip_reference import read_train, readout_signals

from harmoniq.errors import HarmoniqError
from harmoniq.fitting import fit_t2_mese
from harmoniq.protocols import load_protocol
from harmoniq.sequences.export import export
from harmoniq.sequences.slice_profile import cpmg_profile
from harmoniq.seqfile import read_seq

T1_S = 1.0  # the dictionary's fixed T1, so that only the slice profile differs


@pytest.mark.slow
def test_slice_profiles_from_the_seq_remove_the_t2_bias_of_an_ideal_profile(tmp_path):
    protocol = load_protocol("t2-mese").with_values(matrix=16)
    seq_path, _ = export(protocol, tmp_path)
    seq = read_seq(seq_path)
    thickness = float(seq.get_definition("SliceThickness"))
    rfs, adcs = read_train(seq, np.linspace(-1.2, 1.2, 48) * thickness)
    echoes = protocol.parameters.echoes
    first_train = [r for r in rfs if r.time_s < adcs[echoes - 1].time_s]
    t2 = np.array([0.015, 0.03, 0.06, 0.12, 0.24])
    train = np.abs(readout_signals(first_train, adcs[:echoes], "mese", np.full(t2.size, T1_S), t2).mean(axis=2))
    te = protocol.parameters.echo_spacing_s * np.arange(1, echoes + 1)
    with_profile = fit_t2_mese(train[:, :, None], te, t1_s=T1_S, slice_profile=cpmg_profile(seq_path))["T2"][:, 0]
    ideal = fit_t2_mese(train[:, :, None], te, t1_s=T1_S)["T2"][:, 0]
    np.testing.assert_allclose(with_profile, t2, rtol=0.005)  # measured: within 0.11 %
    assert np.all(ideal / t2 - 1 > 0.04), ideal / t2 - 1  # measured: +4 % (240 ms) to +29 % (15 ms)


def test_a_seq_without_the_acquisition_definitions_is_refused(tmp_path):
    seq = pp.Sequence()
    seq.add_block(pp.make_delay(1e-3))
    path = tmp_path / "bare.seq"
    seq.write(str(path))
    with pytest.raises(HarmoniqError, match="lacks the definition"):
        cpmg_profile(path)
