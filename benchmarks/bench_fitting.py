"""Fitting speed and accuracy: harmoniq against per-voxel scipy curve_fit and qmrpy (where qmrpy
has the model: not MP2RAGE, whose qmrpy model is a surrogate, nor MOLLI).

Run (one command):  python benchmarks/bench_fitting.py [--quick] [--qmrpy-python PATH]

Every model fits the same synthetic data (SNR 50, magnitude, known truth): harmoniq on
``--voxels`` voxels at once, curve_fit and qmrpy (a Python port of qMRLab, run in its own
virtual environment given by ``--qmrpy-python``, default /tmp/bench/bin/python) voxel by
voxel on the first ``--reference-voxels`` of them. Accuracy is the median |relative error|
of the main parameter on that common subset. A last case times a 256 x 256 x 64 IR volume
with 8 TIs. Output: a Markdown table on stdout.

The same file is the qmrpy worker (``--qmrpy-worker IN OUT``): it then imports only NumPy
and qmrpy, so it runs in qmrpy's environment.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

SNR = 50.0
TI = np.array([0.03, 0.06, 0.12, 0.25, 0.5, 1.0, 2.0, 3.0])
FLIPS_DEG = np.array([2.0, 5.0, 10.0, 15.0, 20.0])
TR = 0.015
TE = 0.01 * np.arange(1, 17)
MESE_ETL = 16
TE_GRE = 0.003 + 0.004 * np.arange(8)
DAM_DEG = 60.0
AFI_DEG, AFI_TR = 60.0, (0.02, 0.1)  # Yarnykh, MRM 2007;57:192
BS_PEAK_T = 1e-5  # nominal peak B1 of the 6 ms, 4 kHz Fermi pulse
MOLLI_TI = np.array([0.1, 1.1, 2.1, 3.1, 4.1, 0.18, 1.18, 2.18])  # 5(3)3 at 60 bpm (Messroghli et al. 2004)


def mp2rage_timing():
    """The 3 T MP2RAGE of Marques et al. 2010: TR_MP2RAGE 5 s, TI 0.7 / 2.5 s, flips 4 / 5 deg."""
    from harmoniq.fitting.mp2rage import Mp2rageTiming

    return Mp2rageTiming(5.0, 0.007, (0.7, 2.5), (math.radians(4), math.radians(5)), 160)


def bs_k():
    from harmoniq.fitting.bloch_siegert import FermiPulse

    return FermiPulse().k_bs()


# ---- data ---------------------------------------------------------------------------------------

def _noisy(clean, rng):
    sigma = 1.0 / SNR
    return np.abs(clean + sigma * (rng.standard_normal(clean.shape) + 1j * rng.standard_normal(clean.shape)))


def make_case(name, n, rng):
    """(images (N, n), truth (n,), extra per-voxel inputs) for one model."""
    if name == "t1-ir":
        t1 = rng.uniform(0.1, 2.5, n)
        return _noisy(1.0 - 1.95 * np.exp(-TI[:, None] / t1), rng), t1, {}
    if name == "t1-vfa":
        t1, b1 = rng.uniform(0.4, 2.5, n), rng.uniform(0.7, 1.3, n)
        a = np.radians(FLIPS_DEG)[:, None] * b1
        e1 = np.exp(-TR / t1)
        return _noisy(20 * np.sin(a) * (1 - e1) / (1 - e1 * np.cos(a)), rng), t1, {"b1": b1}
    if name == "t2-se":
        t2 = rng.uniform(0.03, 0.2, n)
        return _noisy(np.exp(-TE[:, None] / t2), rng), t2, {}
    if name == "t2star":
        t2s = rng.uniform(0.008, 0.05, n)
        return _noisy(np.exp(-TE_GRE[:, None] / t2s), rng), t2s, {}
    if name == "t2-mese":
        from harmoniq.simulation.epg import cpmg

        t2, b1 = rng.uniform(0.03, 0.2, n), rng.uniform(0.6, 1.0, n)
        train = np.abs(cpmg(MESE_ETL, TE[0], 1.0, t2, math.pi, b1=b1)).T
        return _noisy(train, rng), t2, {"b1": b1}
    if name == "b1-dam":
        b1 = rng.uniform(0.6, 1.3, n)
        return _noisy(np.sin(np.radians([DAM_DEG, 2 * DAM_DEG])[:, None] * b1) * 2, rng), b1, {}
    if name == "t1-mp2rage":  # signed real INV1, INV2 (phase-corrected), Gaussian noise
        from harmoniq.fitting.mp2rage import mp2rage_signals

        t1 = rng.uniform(0.4, 3.5, n)
        clean = 10 * np.stack(mp2rage_signals(t1, mp2rage_timing()))
        return clean + rng.standard_normal(clean.shape) / SNR, t1, {}
    if name == "b1-afi":
        b1 = rng.uniform(0.6, 1.3, n)
        a = np.radians(AFI_DEG) * b1
        ratio = AFI_TR[1] / AFI_TR[0]
        return _noisy(np.stack([np.sin(a), np.sin(a) * (1 + ratio * np.cos(a)) / (ratio + np.cos(a))]), rng), b1, {}
    if name == "b1-bs":  # phase images (rad) at +-offset
        b1 = rng.uniform(0.6, 1.3, n)
        phi = bs_k() * (BS_PEAK_T * b1) ** 2
        clean = np.exp(1j * np.stack([phi, -phi]))
        return np.angle(clean + (rng.standard_normal(clean.shape) + 1j * rng.standard_normal(clean.shape)) / SNR), b1, {}
    if name == "t1-molli":
        t1 = rng.uniform(0.3, 2.0, n)
        t1_star = t1 / 0.9  # A = 1, B = 1.9: T1 = T1* (B/A - 1)
        return _noisy(1.0 - 1.9 * np.exp(-MOLLI_TI[:, None] / t1_star), rng), t1, {}
    raise ValueError(name)


# ---- harmoniq -------------------------------------------------------------------------------------

def fit_harmoniq(name, images, extra):
    from harmoniq.fitting import fit_b1_dam, fit_t1_ir, fit_t1_vfa, fit_t2_mese, fit_t2_se, fit_t2star

    img = images[:, None, None, :]
    if name == "t1-ir":
        return fit_t1_ir(img, TI)["T1"].ravel()
    if name == "t1-vfa":
        return fit_t1_vfa(img, np.radians(FLIPS_DEG), TR, b1=extra["b1"][None, None, :])["T1"].ravel()
    if name == "t2-se":
        return fit_t2_se(img, TE)["T2"].ravel()
    if name == "t2star":
        return fit_t2star(img, TE_GRE)["T2star"].ravel()
    if name == "t2-mese":
        return fit_t2_mese(img, TE[:MESE_ETL])["T2"].ravel()
    if name == "b1-dam":
        return fit_b1_dam(img, np.radians([DAM_DEG, 2 * DAM_DEG]))["B1"].ravel()
    if name == "t1-mp2rage":
        from harmoniq.fitting import fit_t1_mp2rage

        return fit_t1_mp2rage(img, mp2rage_timing())["T1"].ravel()
    if name == "b1-afi":
        from harmoniq.fitting import fit_b1_afi

        return fit_b1_afi(img, math.radians(AFI_DEG), AFI_TR)["B1"].ravel()
    if name == "b1-bs":
        from harmoniq.fitting import fit_b1_bloch_siegert

        return fit_b1_bloch_siegert(img, BS_PEAK_T)["B1"].ravel()
    if name == "t1-molli":
        from harmoniq.fitting import fit_t1_molli

        return fit_t1_molli(img, MOLLI_TI)["T1"].ravel()
    raise ValueError(name)


# ---- scipy curve_fit, voxel by voxel --------------------------------------------------------------

def fit_curve_fit(name, images, truth, extra):
    """Per-voxel curve_fit estimates; NaN where it does not converge (a miss in median_error)."""
    out = np.full(images.shape[1], np.nan)
    for v in range(images.shape[1]):
        try:
            out[v] = _curve_fit_voxel(name, images[:, v], v, extra)
        except RuntimeError:  # no convergence within maxfev
            out[v] = np.nan
    return out


def _curve_fit_voxel(name, y, v, extra) -> float:
    """The main parameter of one voxel's curve_fit."""
    from scipy.optimize import curve_fit

    if name == "t1-ir":
        popt, _ = curve_fit(lambda t, a, b, t1: np.abs(a + b * np.exp(-t / t1)), TI, y, p0=(y[-1], -2 * y[-1], 1.0), maxfev=2000)
        return popt[2]
    if name == "t1-vfa":
        a = np.radians(FLIPS_DEG) * extra["b1"][v]
        f = lambda a_, m0, t1: m0 * np.sin(a_) * (1 - np.exp(-TR / t1)) / (1 - np.exp(-TR / t1) * np.cos(a_))  # noqa: E731
        return curve_fit(f, a, y, p0=(20.0, 1.0), maxfev=2000)[0][1]
    if name in ("t2-se", "t2star"):
        te = TE if name == "t2-se" else TE_GRE
        return curve_fit(lambda t, s0, t2: s0 * np.exp(-t / t2), te, y, p0=(y[0], te[-1] / 2), maxfev=2000)[0][1]
    if name == "t2-mese":
        from harmoniq.simulation.epg import cpmg

        f = lambda _, s0, t2, b1: s0 * np.abs(cpmg(MESE_ETL, TE[0], 1.0, t2, math.pi, b1=b1))  # noqa: E731
        return curve_fit(f, TE[:MESE_ETL], y, p0=(y[0], 0.1, 0.8), bounds=([0, 1e-3, 0.3], [np.inf, 5.0, 1.0]))[0][1]
    if name == "b1-dam":
        a = math.radians(DAM_DEG)
        f = lambda k, m0, b1: m0 * np.abs(np.sin(k * a * b1))  # noqa: E731
        return curve_fit(f, np.array([1.0, 2.0]), y, p0=(1.0, 1.0))[0][1]
    if name == "t1-mp2rage":
        from harmoniq.fitting.mp2rage import mp2rage_signals

        f = lambda k, m0, t1: m0 * np.stack(mp2rage_signals(np.array([t1]), mp2rage_timing()))[k.astype(int), 0]  # noqa: E731
        return curve_fit(f, np.array([0.0, 1.0]), y, p0=(10.0, 1.5), bounds=([0, 0.05], [np.inf, 5.0]))[0][1]
    if name == "b1-afi":
        ratio, a0 = AFI_TR[1] / AFI_TR[0], math.radians(AFI_DEG)
        f = lambda k, m0, b1: m0 * np.sin(a0 * b1) * np.where(  # noqa: E731
            k > 0, (1 + ratio * np.cos(a0 * b1)) / (ratio + np.cos(a0 * b1)), 1.0)
        return curve_fit(f, np.array([0.0, 1.0]), y, p0=(1.0, 1.0))[0][1]
    if name == "b1-bs":
        k_bs = bs_k()
        f = lambda k, phase0, b1: phase0 + np.where(k > 0, -1.0, 1.0) * k_bs * (BS_PEAK_T * b1) ** 2  # noqa: E731
        return abs(curve_fit(f, np.array([0.0, 1.0]), y, p0=(0.0, 1.0))[0][1])
    if name == "t1-molli":
        popt, _ = curve_fit(lambda t, a, b, ts: np.abs(a - b * np.exp(-t / ts)), MOLLI_TI, y,
                            p0=(y.max(), 2 * y.max(), 1.0), maxfev=2000)
        return popt[2] * (popt[1] / popt[0] - 1)
    raise ValueError(name)


# ---- qmrpy worker (runs in qmrpy's environment) ---------------------------------------------------

def qmrpy_worker(path_in, path_out):
    import qmrpy

    data = np.load(path_in)
    name = str(data["name"])
    images, extra_b1 = data["images"], data["b1"]
    out = np.full(images.shape[1], np.nan)
    start = time.perf_counter()
    for v in range(images.shape[1]):
        y = images[:, v]
        if name == "t1-ir":
            out[v] = qmrpy.fit_t1_inversion_recovery(y, ti_ms=TI * 1e3)["t1_ms"] / 1e3
        elif name == "t1-vfa":
            out[v] = qmrpy.fit_t1_vfa(y, flip_angle_deg=FLIPS_DEG, tr_ms=TR * 1e3, b1=float(extra_b1[v]))["t1_ms"] / 1e3
        elif name == "t2-se":
            out[v] = qmrpy.fit_t2_mono(y, te_ms=TE * 1e3)["t2_ms"] / 1e3
        elif name == "t2star":
            out[v] = qmrpy.fit_t2star_mono_r2(y, te_ms=TE_GRE * 1e3)["t2star_ms"] / 1e3
        elif name == "t2-mese":
            out[v] = qmrpy.fit_t2_epg(y, n_te=MESE_ETL, te_ms=TE[0] * 1e3, t1_ms=1000.0, estimate_b1=True)["t2_ms"] / 1e3
        elif name == "b1-dam":
            from qmrpy.models.b1.dam import B1DAM

            out[v] = B1DAM(alpha_deg=DAM_DEG).fit(y)["b1_raw"]
        elif name == "b1-afi":
            from qmrpy.models.b1.afi import B1AFI

            out[v] = B1AFI(nom_fa_deg=AFI_DEG, tr1_ms=AFI_TR[0] * 1e3, tr2_ms=AFI_TR[1] * 1e3).fit(y)["b1_raw"]
        elif name == "b1-bs":
            from qmrpy.models.b1.bloch_siegert import B1BlochSiegert

            out[v] = B1BlochSiegert(k_bs_rad_per_b1sq=float(data["k_bs"]) * BS_PEAK_T**2).fit(y)["b1_raw"]
        else:  # no qmrpy model: MP2RAGE (its T1MP2RAGE is a surrogate, not Marques's equations), MOLLI
            raise SystemExit(f"qmrpy has no {name} model")
    seconds = time.perf_counter() - start
    np.savez(path_out, estimate=out, seconds=seconds)


def fit_qmrpy(python, name, images, extra):
    """(estimates, seconds) from the qmrpy worker, or (None, reason)."""
    if not (python and os.path.exists(python)):
        return None, f"no qmrpy environment at {python}"
    with tempfile.TemporaryDirectory() as tmp:
        path_in, path_out = os.path.join(tmp, "in.npz"), os.path.join(tmp, "out.npz")
        np.savez(path_in, name=name, images=images, b1=extra.get("b1", np.ones(images.shape[1])),
                 k_bs=bs_k() if name == "b1-bs" else 0.0)
        done = subprocess.run([python, __file__, "--qmrpy-worker", path_in, path_out], capture_output=True, text=True)
        if done.returncode != 0:
            return None, done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "qmrpy worker failed"
        result = np.load(path_out)
        return result["estimate"], float(result["seconds"])


# ---- the run --------------------------------------------------------------------------------------

def median_error(estimate, truth):
    """Median |relative error|; a voxel without an estimate (NaN) counts as an infinite error."""
    error = np.abs(estimate / truth - 1)
    return float(np.median(np.where(np.isfinite(error), error, np.inf)))


def timed(func, *args):
    start = time.perf_counter()
    value = func(*args)
    return value, time.perf_counter() - start


def run_case(name, n, n_ref, qmrpy_python, rng):
    images, truth, extra = make_case(name, n, rng)
    # warm-up on a few voxels: imports, and the EPG dictionary that is built once per protocol
    _, setup_seconds = timed(fit_harmoniq, name, images[:, :8], {k: v[:8] for k, v in extra.items()})
    ours, seconds = timed(fit_harmoniq, name, images, extra)
    ref_images, ref_truth = images[:, :n_ref], truth[:n_ref]
    ref_extra = {k: v[:n_ref] for k, v in extra.items()}
    cf, cf_seconds = timed(fit_curve_fit, name, ref_images, ref_truth, ref_extra)
    qm, qm_seconds = fit_qmrpy(qmrpy_python, name, ref_images, ref_extra)
    row = {
        "model": name,
        "voxels": n,
        "setup_s": setup_seconds,
        "harmoniq_vox_per_s": n / seconds,
        "harmoniq_error": median_error(ours[:n_ref], ref_truth),
        "curve_fit_vox_per_s": n_ref / cf_seconds,
        "curve_fit_error": median_error(cf, ref_truth),
        "agreement_with_curve_fit": float(np.nanmedian(np.abs(ours[:n_ref] / cf - 1))),
    }
    if qm is None:
        row["qmrpy"] = qm_seconds
    else:
        row.update(qmrpy_vox_per_s=n_ref / qm_seconds, qmrpy_error=median_error(qm, ref_truth))
    return row


def big_ir_volume(rng):
    shape = (64, 256, 256)
    t1 = rng.uniform(0.1, 2.5, shape)
    images = np.abs(1.0 - 1.95 * np.exp(-TI[:, None, None, None] / t1)) + rng.normal(0, 1 / SNR, (TI.size, *shape))
    from harmoniq.fitting import fit_t1_ir

    maps, seconds = timed(fit_t1_ir, images, TI)
    return seconds, median_error(maps["T1"], t1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer voxels, no 256x256x64 volume")
    parser.add_argument("--voxels", type=int, default=200_000)
    parser.add_argument("--reference-voxels", type=int, default=300)
    parser.add_argument("--qmrpy-python", default=os.environ.get("HARMONIQ_QMRPY_PYTHON", "/tmp/bench/bin/python"))
    parser.add_argument("--qmrpy-worker", nargs=2, metavar=("IN", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.qmrpy_worker:
        qmrpy_worker(*args.qmrpy_worker)
        return
    n = 20_000 if args.quick else args.voxels
    n_ref = min(100 if args.quick else args.reference_voxels, n)
    rng = np.random.default_rng(0)
    rows = []
    for name in ("t1-ir", "t1-vfa", "t2-se", "t2star", "t2-mese", "b1-dam", "t1-mp2rage", "b1-afi", "b1-bs", "t1-molli"):
        count = n // 4 if name == "t2-mese" else n
        rows.append(run_case(name, count, n_ref, args.qmrpy_python, rng))
        print(json.dumps(rows[-1]), file=sys.stderr)
    print("| model | harmoniq vox/s | curve_fit vox/s | qmrpy vox/s | speed-up vs curve_fit | vs qmrpy | median error harmoniq / curve_fit / qmrpy | harmoniq vs curve_fit |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        qm_speed = f"{r['qmrpy_vox_per_s']:.0f}" if "qmrpy_vox_per_s" in r else "n/a"
        qm_ratio = f"{r['harmoniq_vox_per_s'] / r['qmrpy_vox_per_s']:.0f}x" if "qmrpy_vox_per_s" in r else r.get("qmrpy", "")
        qm_err = f"{r['qmrpy_error'] * 100:.2f} %" if "qmrpy_error" in r else "n/a"
        print(
            f"| {r['model']} | {r['harmoniq_vox_per_s']:.0f} | {r['curve_fit_vox_per_s']:.0f} | {qm_speed} | "
            f"{r['harmoniq_vox_per_s'] / r['curve_fit_vox_per_s']:.0f}x | {qm_ratio} | "
            f"{r['harmoniq_error'] * 100:.2f} % / {r['curve_fit_error'] * 100:.2f} % / {qm_err} | "
            f"{r['agreement_with_curve_fit'] * 100:.4f} % |"
        )
    print("\nOne-off setup (imports; for t2-mese the EPG dictionary of the protocol), not in the rates: "
          + ", ".join(f"{r['model']} {r['setup_s']:.2f} s" for r in rows))
    if not args.quick:
        seconds, error = big_ir_volume(rng)
        print(f"\n256 x 256 x 64 IR volume, 8 TIs (4.19 M voxels): {seconds:.1f} s, median |T1 error| {error * 100:.2f} %")


if __name__ == "__main__":
    main()
