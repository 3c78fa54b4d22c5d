"""The engine on CuPy gives the NumPy result."""

import numpy as np
import pytest
from sim_sequences import example_gre

from harmoniq.backend import gpu_available
from harmoniq.simulation import simulate


@pytest.mark.gpu
@pytest.mark.skipif(not gpu_available(), reason="needs CuPy and a CUDA device")
def test_gpu_matches_cpu():
    seq = example_gre(n=16)
    cpu = simulate(seq, "shepp-logan", "ge-premier-3t", matrix=16, noise=False, device="cpu")
    gpu = simulate(seq, "shepp-logan", "ge-premier-3t", matrix=16, noise=False, device="gpu")
    scale = max(np.abs(s).max() for s in cpu.signals)
    for a, b in zip(cpu.signals, gpu.signals):
        assert np.abs(a - b).max() < 1e-4 * scale
