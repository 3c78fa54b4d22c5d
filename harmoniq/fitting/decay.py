"""The exponential basis B = [exp(-t R)] or [exp(-t R), 1] of the relaxation models.

Spin-echo T2, T2* (times t = TE) and inversion recovery (t = TI; a + b exp(-TI/T1)) are all
linear in their amplitudes and exponential in one rate R = 1/T. With e = exp(-t R),
de/dR = -t e and d^2e/dR^2 = t^2 e, so every moment :func:`harmoniq.fitting.varpro.maximise`
needs is a weighted sum over the samples of e^2, e y or e with weights 1, t, t^2 (three
products with a 3 x N matrix per iteration).
"""

from __future__ import annotations

from harmoniq.backend import get_array_module
from harmoniq.fitting.varpro import Grid, Moments, MomentsFunction


def decay_basis(t, rates, offset: bool):
    """B at each rate: (G, N, L) with columns exp(-t R) [and 1]; ``t`` (N,) s, ``rates`` (G,) 1/s."""
    xp = get_array_module(t, rates)
    e = xp.exp(-rates[:, None] * t[None, :])
    return xp.stack([e, xp.ones_like(e)] if offset else [e], axis=2)


def decay_grid(t, t_min: float, t_max: float, n: int, offset: bool) -> Grid:
    """A :class:`Grid` of ``n`` rates between 1/t_max and 1/t_min (s), log-spaced."""
    return Grid(1.0 / t_max, 1.0 / t_min, n, lambda rates: decay_basis(t, rates, offset), get_array_module(t))


def decay_moments(t, offset: bool) -> MomentsFunction:
    """Moments of B = [e] or [e, 1], e = exp(-t R), for data (N, V) at rates (V,)."""
    xp = get_array_module(t)
    weights = xp.stack([xp.ones_like(t), t, t * t])  # rows: sums of t^k x over the samples

    def weighted_sums(x):
        return xp.einsum("kn,nv->kv", weights, x)

    def moments(rate, data, aux) -> Moments:
        e = -t[:, None] * rate[None, :]
        xp.exp(e, out=e)
        s0, s1, s2 = weighted_sums(e * e)
        y0, y1, y2 = weighted_sums(e * data)
        if not offset:
            return Moments(gram=[[s0]], gram_d=[[-s1]], gram_dd=[[s2]], gram_d2=[[s2]], proj=[y0], proj_d=[-y1], proj_d2=[y2])
        u0, u1, u2 = weighted_sums(e)
        return Moments(
            gram=[[s0, u0], [u0, xp.full_like(u0, t.size)]],
            gram_d=[[-s1, -u1], [0.0, 0.0]],
            gram_dd=[[s2, 0.0], [0.0, 0.0]],
            gram_d2=[[s2, u2], [0.0, 0.0]],
            proj=[y0, data.sum(axis=0)],
            proj_d=[-y1, 0.0],
            proj_d2=[y2, 0.0],
        )

    return moments
