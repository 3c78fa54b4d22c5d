"""The t1-mp2rage .seq plays what the MP2RAGE fit models: a brute-force walk over its own RF
events (flip angles integrated from the pulse waveforms, the real event times, perfect spoiling,
ideal inversion) gives the INV1/INV2 signals of :func:`harmoniq.fitting.mp2rage.mp2rage_signals`
for the protocol's timing, at the centre partition of each block."""

import math

import numpy as np
from conftest import built

from harmoniq.fitting.mp2rage import Mp2rageTiming, mp2rage_signals
from harmoniq.seqfile import walk_blocks

T1 = np.array([0.3, 0.8, 1.35, 2.5])


def walk(seq, t1):
    """(index after the last inversion, Mz sin a) of every excitation: Mz relaxes between RF
    centres (amplitude-weighted pulse times), an inversion negates it, an excitation of flip a
    (2 pi x the integral of the waveform in Hz) keeps Mz cos a."""
    mz, now, signals, count = np.ones_like(t1), 0.0, [], 0
    for block in walk_blocks(seq):
        if block.rf is None:
            continue
        rf = block.rf
        centre = block.start_s + rf.delay + float(np.sum(np.abs(rf.signal) * np.gradient(rf.t) * rf.t) /
                                                  np.sum(np.abs(rf.signal) * np.gradient(rf.t)))
        mz = 1 - (1 - mz) * np.exp(-(centre - now) / t1)
        now = centre
        if getattr(rf, "use", "") == "inversion":
            mz = -mz
            count = 0
            continue
        flip = 2 * math.pi * abs(np.sum(rf.signal * np.gradient(rf.t)))
        signals.append((count, mz * math.sin(flip)))
        mz = mz * math.cos(flip)
        count += 1
    return signals


def test_sequence_signals_match_the_model():
    shipped = built("t1-mp2rage")
    p = shipped.protocol.parameters
    n = int(np.ravel(shipped.seq.get_definition("Matrix"))[2])
    signals = walk(shipped.seq, T1)
    last_shot = signals[-2 * n:]  # steady state: the last shot's excitations, in order
    s1, s2 = last_shot[n // 2][1], last_shot[n + n // 2][1]
    timing = Mp2rageTiming(p.tr_s, p.echo_spacing_s, tuple(p.ti_s), tuple(p.flip_rad), n, inversion_efficiency=1.0)
    model = mp2rage_signals(T1, timing)
    assert np.allclose(s1, model[0], rtol=2e-3, atol=1e-5) and np.allclose(s2, model[1], rtol=2e-3, atol=1e-5)
