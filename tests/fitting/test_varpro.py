"""The one-rate variable-projection solver against scipy's least_squares run to machine
precision, its grid bracket, and the small per-voxel linear algebra against numpy.linalg."""

import numpy as np
import pytest
from scipy.optimize import least_squares

from harmoniq.fitting import fit_t1_ir, fit_t1_vfa, fit_t2_se
from harmoniq.fitting.decay import decay_grid, decay_moments
from harmoniq.fitting.smallmatrix import inverse_diagonal, ldl, ldl_solve
from harmoniq.fitting.varpro import maximise

TE = 0.01 * np.arange(1, 11)
TI = np.array([0.03, 0.06, 0.12, 0.25, 0.5, 1.0, 2.0, 3.0])
FLIPS = np.radians([2.0, 5.0, 10.0, 15.0, 20.0])
TR = 0.015
AGREEMENT = 1e-5  # the solver's relative error in R is about 2e-6 at most (varpro docstring)


def reference(model, y, x, p0):
    """Per voxel nonlinear least squares to machine precision (Levenberg-Marquardt, MINPACK)."""
    return least_squares(lambda p: model(x, *p) - y, p0, method="lm", xtol=1e-15, ftol=1e-15, gtol=1e-15).x


def test_t2_with_and_without_offset_matches_least_squares_to_1e5():
    rng = np.random.default_rng(21)
    t2 = rng.uniform(0.02, 0.12, 60)
    for offset in (False, True):
        clean = np.exp(-TE[:, None] / t2) + (0.05 if offset else 0.0)
        noisy = np.abs(clean + rng.normal(0, 0.02, clean.shape))
        maps = fit_t2_se(noisy[:, None, None, :], TE, offset=offset)
        fitted, flagged = maps["T2"][0, 0], maps["out_of_range"][0, 0]
        assert flagged.mean() < 0.2  # the offset model leaves long T2 poorly determined: flagged
        for v in np.flatnonzero(~flagged):
            p = reference(lambda te, s0, t, *c: s0 * np.exp(-te / t) + (c[0] if c else 0.0), noisy[:, v], TE, (1.0, t2[v]) + ((0.05,) if offset else ()))
            assert fitted[v] == pytest.approx(p[1], rel=AGREEMENT)


def test_signed_inversion_recovery_matches_least_squares_to_1e5():
    rng = np.random.default_rng(22)
    t1 = rng.uniform(0.1, 2.5, 60)
    signed = 1.0 - 1.9 * np.exp(-TI[:, None] / t1) + rng.normal(0, 0.02, (TI.size, t1.size))
    maps = fit_t1_ir((signed * np.exp(0.4j))[:, None, None, :], TI)
    fitted = maps["T1"][0, 0]
    assert not maps["out_of_range"].any()
    for v in range(t1.size):
        p = reference(lambda ti, a, b, t: a + b * np.exp(-ti / t), signed[:, v], TI, (1.0, -1.9, t1[v]))
        assert fitted[v] == pytest.approx(p[2], rel=AGREEMENT)


def test_vfa_with_a_b1_map_matches_least_squares_to_1e5():
    rng = np.random.default_rng(23)
    t1, b1 = rng.uniform(0.3, 2.5, 60), rng.uniform(0.7, 1.3, 60)
    a = FLIPS[:, None] * b1
    e1 = np.exp(-TR / t1)
    noisy = np.abs(np.sin(a) * (1 - e1) / (1 - e1 * np.cos(a)) + rng.normal(0, 0.001, a.shape))
    maps = fit_t1_vfa(noisy[:, None, None, :], FLIPS, TR, b1=b1[None, None, :])
    fitted = maps["T1"][0, 0]
    assert not maps["out_of_range"].any()

    def spgr(flip, m0, t):
        e = np.exp(-TR / t)
        return m0 * np.sin(flip) * (1 - e) / (1 - e * np.cos(flip))

    for v in range(t1.size):
        p = reference(spgr, noisy[:, v], a[:, v], (1.0, t1[v]))
        assert fitted[v] == pytest.approx(p[1], rel=AGREEMENT)


def test_grid_brackets_the_maximum_and_newton_converges_in_a_few_steps():
    rng = np.random.default_rng(24)
    t1 = rng.uniform(0.1, 2.5, 2000)
    signed = 1.0 - 1.95 * np.exp(-TI[:, None] / t1) + rng.normal(0, 0.02, (TI.size, t1.size))
    grid = decay_grid(TI, TI.min() / 10, 10 * TI.max(), 32, offset=True)
    moments = decay_moments(TI, offset=True)
    start, low, high = grid.start(signed)
    rate, _, converged = maximise(moments, signed, {}, (start, low, high))
    assert converged.all()
    assert np.all((rate >= low) & (rate <= high))
    few, _, few_converged = maximise(moments, signed, {}, (start, low, high), max_iter=3)
    assert few_converged.mean() > 0.99  # quadratic convergence from the parabolic start
    assert np.allclose(few[few_converged], rate[few_converged], rtol=1e-12)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_ldl_solve_and_inverse_diagonal_match_numpy(n):
    rng = np.random.default_rng(n)
    m = rng.standard_normal((50, n, n))
    a = m @ m.transpose(0, 2, 1) + 0.1 * np.eye(n)
    b = rng.standard_normal((50, n))
    nested = [[a[:, i, j] for j in range(n)] for i in range(n)]
    x = np.stack(ldl_solve(ldl(nested), [b[:, i] for i in range(n)]), axis=1)
    assert np.allclose(x, np.linalg.solve(a, b[..., None])[..., 0], rtol=1e-10, atol=1e-12)
    assert np.allclose(np.stack(inverse_diagonal(nested), axis=1), np.diagonal(np.linalg.inv(a), axis1=1, axis2=2), rtol=1e-10)
    singular = [[np.zeros(1) for _ in range(n)] for _ in range(n)]
    assert np.all(np.isnan(inverse_diagonal(singular)))
