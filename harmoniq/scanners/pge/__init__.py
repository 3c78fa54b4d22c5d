"""GE's ``.pge`` file, the binary the pge2 interpreter plays: written from a ``.seq`` and read back.

Format: HarmonizedMRI/pge2 ``matlab/+pge2/serialize.m`` (commit 9832606, April 2026; line
numbers below), which serializes the PulSeg object of HarmonizedMRI/pulseg
``matlab/+pulseg/fromSeq.m`` (TRID -> segments -> parent blocks -> loop) with the loop
columns of ``private/getdynamics.m``. Written from those rules; no code is taken over.

Byte order: serialize.m:47 opens the file with ``fopen(fn, 'wb')``; ``b`` is the binary-mode
letter of the permission, so the machine format stays the native one (MATLAB/Octave ``fopen``
documentation), little-endian on every platform MATLAB runs on, whatever the line's comment
says. The int16 47 written first (serialize.m:49) lets a reader tell: we write little-endian
and read either order. Types: i16 = int16, i32 = int32, f32 = IEEE float32; units SI (s, Hz,
Hz/m, rad) as in the ``.seq``.

    i16 47                                                              (49)
    i16 parent blocks; per parent block p = 1, 2, ... (52-55, 124-147):
        i32 p; f32 block duration (s); RF; Gx; Gy; Gz; ADC; i16 trigger type (0: 144 forces it)
        RF (149-186, 286-322): i16 0 none | 1 regular raster | 2 corner points; unless 0:
            i16 1 (complex); i32 n; f32 raster t[1]-t[0] (s); [2 only: f32 t[n] (s)];
            f32 |signal|/max|signal| [n]; f32 angle(signal) [n] (rad); f32 shape duration (s);
            f32 delay (s); f32 energy sum(mag[:-1]^2 diff(t)) (s)
        gradient (189-238): i16 0 none | 1 trapezoid | 2 regular raster | 3 corner points;
            1: f32 delay, rise, flat, fall (s);  2: f32 delay; i32 n; f32 raster; f32 w/max|w| [n];
            3: f32 delay; i32 n; f32 0; f32 t[n] (s); f32 w/max|w| [n]
        ADC (240-251): i16 0 | 1; 1: i32 samples; f32 dwell (s); f32 delay (s)
    i16 segments; per segment (262-284): i16 id (1, 2, ... in increasing TRID); i16 blocks;
        i16 parent block per block (0: constant pure delay, -1: variable pure delay);
        i32 first row (1-based) of the instance with the largest gradient energy; i16 has gradients
    i32 rows (= blocks); i16 columns (23); f32 loop[rows][columns], row-major  (64-68)
    f32 1 (RF power, unused); f32 max B1 (Hz); f32 max gradient (Hz/m); f32 max slew (Hz/m/s);
    f32 duration (s); i32 readouts; i32 readouts that set the receive gain (1);
    i32 rows in the gradient-heating window of at most 40,000 blocks             (86-107)

Loop columns (getdynamics.m), 1-based: 1 segment, 2 parent block, 3 RF amplitude (Hz),
4 RF phase (rad), 5 frequency offset (Hz; the ADC's in a block with an ADC), 6/8/10 gradient
x/y/z amplitude (Hz/m), 7/9/11 gradient energy ((Hz/m)^2 s: A^2 (rise/3 + flat + fall/3) for a
trapezoid), 12 ADC phase (rad), 13 block duration (s), 14 physiological trigger, 15-23
rotation matrix (row-major; identity: harmoniq writes no rotations). Played waveform of a block
= its parent block's normalized shape x the row's amplitude (pge2 ``getsegmentinstance.m``).

Segments (fromSeq.m): an instance starts at each TRID label; segment ids follow increasing
TRID; a block without RF, gradient or ADC events is a pure delay (0; -1 where its duration
changes between instances), other blocks become parent blocks in order of first appearance.
Checked against pulseg's own output for pge2's 2D GRE example (``tests/ge/test_pge_file.py``).

Where harmoniq departs from the MATLAB path, on purpose: every instance's events must have the
timing and shapes of the segment's first instance (else pge2 plays other gradients than the
file's, issue 11); parent blocks are shared only by blocks with equal timing and shapes; a
segment's "largest energy" row sums the three gradient energies (columns 7, 9, 11) as
serialize.m:267 documents (fromSeq.m sums columns 11-13: z energy, ADC phase, duration). The
max slew is the largest slew of the piecewise-linear waveforms; pge2.check samples them every
4 us, which gives the same value for trapezoid ramps of 8 us or longer. Only trapezoid
gradients are written (all harmoniq builds); the reader decodes every gradient type.
"""

from harmoniq.scanners.pge.model import ParentBlock, PgeADC, PgeFile, PgeGradient, PgeRF, PgeSegment
from harmoniq.scanners.pge.read import check_pge, decode_pge, read_pge
from harmoniq.scanners.pge.write import pge_bytes, write_pge

__all__ = ["ParentBlock", "PgeADC", "PgeFile", "PgeGradient", "PgeRF", "PgeSegment", "check_pge", "decode_pge",
           "pge_bytes", "read_pge", "write_pge"]
