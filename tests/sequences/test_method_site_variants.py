"""The published site variants of the Bloch-Siegert and MOLLI protocols pass every target profile (the
export checks all six, GE's interpreter model included) and play what their sources describe, measured
from the written .seq: the conventional 6 ms Fermi pulse (Khalighi et al., MRM 2012;68:857), and the
original MOLLI 3(3)3(3)5 (Messroghli et al., MRM 2004;52:141): three inversions, 3 + 3 + 5 images."""

import numpy as np

from harmoniq.fitting.bloch_siegert import played_pulse
from harmoniq.protocols import load_protocol
from harmoniq.seqfile import read_seq
from harmoniq.sequences.export import export
from harmoniq.sequences.timing import measure_timing


def test_the_ge_bloch_siegert_variant_plays_a_6_ms_fermi_pulse_on_every_profile(tmp_path):
    variant = load_protocol("b1-bs").site_variant("GE").protocol
    seq, _ = export(variant, tmp_path)
    pulse = played_pulse(seq)
    assert len(variant.targets) == 6
    assert abs(len(pulse.signal_hz) * pulse.dt_s - 6e-3) < 1e-5 and pulse.offset_hz == 4000.0


def test_the_philips_molli_variant_plays_3_3_5_images_after_three_inversions_on_every_profile(tmp_path):
    variant = load_protocol("t1-molli").site_variant("Philips").protocol
    seq, _ = export(variant, tmp_path)
    timing = measure_timing(read_seq(seq))
    inversions = timing.rf_time[[u == "inversion" for u in timing.rf_use]]
    adc = timing.adc_centre
    n_lines = variant.parameters.matrix  # one single-shot image: one readout per line
    images = [int(np.sum((adc > t0) & (adc < t1))) // n_lines
              for t0, t1 in zip(inversions, [*inversions[1:], np.inf])]
    assert len(variant.targets) == 6 and images == [3, 3, 5]
