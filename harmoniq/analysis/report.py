"""The comparison report: PNG plots, a self-contained report.html and a terminal summary."""

from __future__ import annotations

import base64
import html
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from harmoniq.analysis import metrics  # noqa: E402
from harmoniq.analysis.compare import ARMS, Comparison  # noqa: E402
from harmoniq.atomic import atomic_path, make_folder, write_text_atomic  # noqa: E402

#: Published cross-site figures the report quotes for context (see the protocol docs).
PUBLISHED = [
    "ISMRM 2020 T1 challenge (IR, 27 sites, 3 vendors, NIST phantom): inter-site CoV 6.1 %, intra-site 2.9 %.",
    "Bane et al. 2018 (multi-site phantom T1): inter-platform CoV at 3 T: VFA 22.9 %, IR 5.5 %.",
    "VENUS (Karakuzu et al., MRM 2022): vendor-neutral SPGR cut inter-vendor T1 differences from 8-19.4 % to 0.2-5 %.",
]


def _save(fig, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    plt.close(fig)
    return path


def _arms(comparison: Comparison) -> list[str]:
    """Arms present, harmonized and site first (a study batch has one arm: the study)."""
    present = list(dict.fromkeys(r.arm for r in comparison.rows))
    return sorted(present, key=lambda a: ARMS.index(a) if a in ARMS else len(ARMS))


def plot_measured_vs_reference(c: Comparison, protocol: str, path: Path) -> Path:
    arms = _arms(c)
    fig, axes = plt.subplots(1, len(arms), figsize=(5 * len(arms), 4.4), squeeze=False)
    quantity, _ = c.ranges[protocol]
    for ax, arm in zip(axes[0], arms):
        rois, scanners, values, refs = c.table(arm, protocol)
        for j, s in enumerate(scanners):
            ax.loglog(refs, values[:, j], "o", ms=5, alpha=0.8, label=s)
        lim = [refs.min() * 0.8, refs.max() * 1.25] if len(refs) else [1, 10]
        ax.plot(lim, lim, "k-", lw=0.8)
        ax.set(xlabel=f"reference {quantity} (ms)", ylabel=f"measured {quantity} (ms)", title=f"{protocol}: {arm}")
        ax.legend(fontsize=7)
    return _save(fig, path)


def plot_bland_altman(c: Comparison, protocol: str, path: Path) -> Path:
    arms = _arms(c)
    fig, axes = plt.subplots(1, len(arms), figsize=(5 * len(arms), 4.2), squeeze=False, sharey=True)
    quantity, _ = c.ranges[protocol]
    for ax, arm in zip(axes[0], arms):
        rois, scanners, values, refs = c.table(arm, protocol)
        rel = 100 * (values - refs[:, None]) / refs[:, None]
        for j, s in enumerate(scanners):
            ax.semilogx(refs, rel[:, j], "o", ms=5, alpha=0.8, label=s)
        if rel.size:
            bias, sd = np.nanmean(rel), np.nanstd(rel, ddof=1)
            for y, style in ((bias, "-"), (bias - 1.96 * sd, "--"), (bias + 1.96 * sd, "--")):
                ax.axhline(y, color="k", ls=style, lw=0.8)
        ax.set(xlabel=f"reference {quantity} (ms)", ylabel="measured - reference (%)", title=f"{protocol}: {arm}")
        ax.legend(fontsize=7)
    return _save(fig, path)


def plot_cov(c: Comparison, protocol: str, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(9, 3.8))
    arms = _arms(c)
    width = 0.8 / max(len(arms), 1)
    for i, arm in enumerate(arms):
        s = c.summary(arm, protocol)
        if not s:
            continue
        x = np.arange(len(s["rois"]))
        ax.bar(x + i * width, 100 * s["cov"], width, label=arm)
        if c.noise:
            bound = metrics.noise_only_cov_bound(len(s["scanners"])) * s["noise_cov"]
            ax.plot(x + i * width, 100 * bound, "k_", ms=12, label="noise alone, 97.5 %" if i == 0 else None)
        ax.set_xticks(x + width * (len(arms) - 1) / 2, s["rois"], rotation=60, fontsize=8)
    ax.set(ylabel="cross-scanner CoV (%)", title=f"{protocol}: cross-scanner CoV per ROI")
    ax.legend()
    return _save(fig, path)


def plot_maps(c: Comparison, protocol: str, path: Path) -> Path:
    keys = [k for k in c.maps if k[1] == protocol]
    arms = [a for a in _arms(c) if any(k[0] == a for k in keys)]
    scanners = sorted({k[2] for k in keys})
    fig, axes = plt.subplots(len(arms), len(scanners), figsize=(3.2 * len(scanners), 3.2 * len(arms)), squeeze=False)
    quantity, valid = c.ranges[protocol]
    vmax = (valid[1] if valid else 2000.0) / 1e3
    for i, arm in enumerate(arms):
        for j, s in enumerate(scanners):
            ax = axes[i, j]
            im = ax.imshow(np.nan_to_num(c.maps[(arm, protocol, s)]), cmap="magma", vmin=0, vmax=vmax, origin="lower")
            ax.set_title(f"{arm}\n{s}", fontsize=8)
            ax.axis("off")
    fig.colorbar(im, ax=axes, shrink=0.7, label=f"{quantity} (s)")
    return _save(fig, path)


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'


def summary_lines(c: Comparison) -> list[str]:
    """Plain-text summary, one line per protocol and arm."""
    lines = []
    for protocol, (quantity, valid) in c.ranges.items():
        rng = f"{valid[0]:g}-{valid[1]:g} ms" if valid else "all"
        for arm in _arms(c):
            s = c.summary(arm, protocol)
            if not s:
                continue
            lines.append(
                f"{protocol:8s} {arm:10s} {quantity} in {rng}: {len(s['rois'])} ROIs x {len(s['scanners'])} scanners | "
                f"CoV max {100 * s['cov'].max():.2f} % median {100 * np.median(s['cov']):.2f} % | "
                f"|bias| max {100 * np.nanmax(np.abs(s['bias'])):.2f} % | ICC(2,1) {s['icc']:.4f} | "
                f".seq files: {len(s['seq_sha256'])}"
            )
        lines += _site_vs_harmonized(c, protocol)
    return lines


def _site_vs_harmonized(c: Comparison, protocol: str) -> list[str]:
    """Per ROI: is the site arm's CoV larger, and where not, are both within noise alone?"""
    h, s = c.summary("harmonized", protocol), c.summary("site", protocol)
    if not h or not s:
        return []
    common = [r for r in h["rois"] if r in s["rois"]]
    cov = {arm: dict(zip(x["rois"], x["cov"])) for arm, x in (("harmonized", h), ("site", s))}
    bound = {arm: dict(zip(x["rois"], metrics.noise_only_cov_bound(len(x["scanners"])) * x["noise_cov"]))
             for arm, x in (("harmonized", h), ("site", s))}
    larger = [r for r in common if cov["site"][r] > cov["harmonized"][r]]
    rest = [r for r in common if r not in larger]
    line = f"{protocol:8s} site vs harmonized: site CoV larger in {len(larger)} of {len(common)} ROIs"
    if rest:
        line += f"; not in {', '.join(rest)}"
    if rest and c.noise:
        noisy = [r for r in rest if all(cov[a][r] <= bound[a][r] for a in cov)]
        line += f" ({', '.join(noisy) or 'none'} with both CoVs within noise alone)"
    return [line]


def _roi_table(c: Comparison, protocol: str) -> str:
    arms = _arms(c)
    s = {a: c.summary(a, protocol) for a in arms}
    rois = s[arms[0]].get("rois", [])
    refs = c.table(arms[0], protocol)[3]
    head = "".join(f"<th>CoV {a} (%)</th><th>CoV from noise alone (%)</th><th>mean bias {a} (%)</th>" for a in arms)
    body = []
    for roi, ref in zip(rois, refs):
        cells = ""
        for a in arms:
            if s[a] and roi in s[a]["rois"]:
                j = s[a]["rois"].index(roi)
                noise = f"{100 * s[a]['noise_cov'][j]:.2f}" if c.noise else ""
                cells += (f"<td>{100 * s[a]['cov'][j]:.2f}</td><td>{noise}</td>"
                          f"<td>{100 * np.mean(s[a]['bias'][j]):+.2f}</td>")
            else:
                cells += "<td></td><td></td><td></td>"
        body.append(f"<tr><td>{html.escape(roi)}</td><td>{ref:.1f}</td>{cells}</tr>")
    return f"<table><tr><th>ROI</th><th>reference (ms)</th>{head}</tr>{''.join(body)}</table>"


def _agreement_table(c: Comparison, protocol: str) -> str:
    rows = []
    for arm in _arms(c):
        s = c.summary(arm, protocol)
        if not s:
            continue
        for scanner in s["scanners"]:
            ba = s["bland_altman"][scanner]
            rows.append(f"<tr><td>{arm}</td><td>{html.escape(scanner)}</td><td>{s['ccc'][scanner]:.4f}</td>"
                        f"<td>{ba.bias:+.1f}</td><td>{ba.lower:+.1f} .. {ba.upper:+.1f}</td></tr>")
        shas = ", ".join(h[:16] + "…" for h in s["seq_sha256"])
        rows.append(f"<tr><td>{arm}</td><td colspan=4>ICC(2,1) = {s['icc']:.4f}; .seq sha256: {shas}</td></tr>")
    return ("<table><tr><th>arm</th><th>scanner</th><th>Lin's CCC vs reference</th><th>Bland-Altman bias (ms)</th>"
            f"<th>95 % limits (ms)</th></tr>{''.join(rows)}</table>")


def write_report(c: Comparison, outdir: Path) -> Path:
    """PNG plots and report.html (self-contained: images inlined) in ``outdir``."""
    make_folder(outdir)
    sections = []
    for protocol, (quantity, valid) in c.ranges.items():
        plots = [
            plot_measured_vs_reference(c, protocol, outdir / f"{protocol}_measured_vs_reference.png"),
            plot_bland_altman(c, protocol, outdir / f"{protocol}_bland_altman.png"),
            plot_cov(c, protocol, outdir / f"{protocol}_cov.png"),
            plot_maps(c, protocol, outdir / f"{protocol}_maps.png"),
        ]
        rng = f"{valid[0]:g}-{valid[1]:g} ms" if valid else "all values"
        sections.append(
            f"<h2>{html.escape(protocol)} ({quantity}; designed range {rng})</h2>"
            f"{_roi_table(c, protocol)}{_agreement_table(c, protocol)}" + "".join(_img(p) for p in plots)
        )
    lines = "".join(f"<li>{html.escape(line)}</li>" for line in summary_lines(c))
    published = "".join(f"<li>{html.escape(p)}</li>" for p in PUBLISHED)
    page = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>harmoniq cross-scanner comparison</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:auto;padding:1em}}
table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #bbb;padding:2px 8px;font-size:13px}}
img{{max-width:100%;display:block;margin:1em 0}}</style></head><body>
<h1>Cross-scanner comparison</h1>
<p>Harmonized: every scanner runs the identical .seq file, reconstruction and fit. Site: each scanner runs an
illustrative local variant of the protocol (not any vendor's product protocol). Simulated data; scanner models are
models, not measurements of any vendor's system. Only ROIs inside each protocol's designed range are summarised.</p>
<ul>{lines}</ul>
<p>Published cross-site variability for context:</p><ul>{published}</ul>
{''.join(sections)}
</body></html>
"""
    path = outdir / "report.html"
    write_text_atomic(path, page)
    return path
