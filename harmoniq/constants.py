"""Physical and file-format constants, defined once for the whole package."""

GAMMA_BAR_HZ_PER_T = 42.577478518e6
"""Proton gyromagnetic ratio / 2 pi, Hz/T (CODATA 2018): Larmor frequencies and field strengths."""

PYPULSEQ_GAMMA_HZ_PER_T = 42.576e6
"""The gamma / 2 pi pypulseq (1.5.0.post1, ``Opts.gamma``) uses to store gradients in Hz/m and
ppm offsets in .seq files: a file-format constant, used only to convert those values back."""
