"""The comparison report: PNG plots, a self-contained report.html and a terminal summary."""

from __future__ import annotations

import base64
import html
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import patheffects  # noqa: E402
import numpy as np  # noqa: E402

from harmoniq.analysis import metrics  # noqa: E402
from harmoniq.analysis.compare import ARMS, Comparison, unit  # noqa: E402
from harmoniq.atomic import atomic_path, make_folder, write_text_atomic  # noqa: E402
from harmoniq.errors import HarmoniqError  # noqa: E402

_HALO = [patheffects.withStroke(linewidth=2, foreground="white")]  # dark text readable on any colour


def _save(fig, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    plt.close(fig)
    return path


def _arms(comparison: Comparison) -> list[str]:
    """Arms present, harmonized and site first (a study batch has one arm: the study)."""
    present = list(dict.fromkeys(r.arm for r in comparison.rows))
    return sorted(present, key=lambda a: ARMS.index(a) if a in ARMS else len(ARMS))


def _logarithmic(refs: np.ndarray) -> bool:
    """Log axes for references spanning more than a factor of 3 (T1 over 50-3000 ms); linear for a narrow
    spread (a B1 map's references, the scanner's field, all near 1)."""
    finite = refs[np.isfinite(refs) & (refs > 0)]
    return finite.size > 0 and finite.max() > 3 * finite.min()


def plot_measured_vs_reference(c: Comparison, protocol: str, path: Path) -> Path:
    arms = _arms(c)
    fig, axes = plt.subplots(1, len(arms), figsize=(5 * len(arms), 4.4), squeeze=False)
    quantity, _ = c.ranges[protocol]
    u = unit(quantity)
    for ax, arm in zip(axes[0], arms):
        rois, scanners, values, refs = c.table(arm, protocol)
        values, refs = u.factor * values, u.factor * refs
        for j, s in enumerate(scanners):
            ax.plot(refs[:, j], values[:, j], "o", ms=5, alpha=0.8, label=s)
        if _logarithmic(refs):
            ax.set(xscale="log", yscale="log")
        lim = [refs.min() * 0.8, refs.max() * 1.25] if refs.size else [1, 10]
        ax.plot(lim, lim, "k-", lw=0.8)
        ax.set(xlabel=f"reference {quantity} ({u.label})", ylabel=f"measured {quantity} ({u.label})",
               title=f"{protocol}: {arm}")
        ax.legend(fontsize=7)
    return _save(fig, path)


def plot_bland_altman(c: Comparison, protocol: str, path: Path) -> Path:
    arms = _arms(c)
    fig, axes = plt.subplots(1, len(arms), figsize=(5 * len(arms), 4.2), squeeze=False, sharey=True)
    quantity, _ = c.ranges[protocol]
    u = unit(quantity)
    for ax, arm in zip(axes[0], arms):
        rois, scanners, values, refs = c.table(arm, protocol)
        values, refs = u.factor * values, u.factor * refs
        diff = values - refs  # each scanner against its own reference, as in the tables
        for j, s in enumerate(scanners):
            ax.plot(refs[:, j], diff[:, j], "o", ms=5, alpha=0.8, label=s)
        if _logarithmic(refs):
            ax.set_xscale("log")
        if diff.size > 1:
            bias, sd = np.nanmean(diff), np.nanstd(diff, ddof=1)
            for y, style in ((bias, "-"), (bias - 1.96 * sd, "--"), (bias + 1.96 * sd, "--")):
                ax.axhline(y, color="k", ls=style, lw=0.8)
        ax.set(xlabel=f"reference {quantity} ({u.label})", ylabel=f"measured - reference ({u.label})",
               title=f"{protocol}: {arm}")
        ax.legend(fontsize=7)
    return _save(fig, path)


def _roi_key(c: Comparison, protocol: str):
    """Sort key of an ROI name: its smallest reference, then its name (a B1 map's ROIs all have reference 1)."""
    refs = {}
    for r in c.rows:
        if r.protocol == protocol:
            refs[r.roi] = min(refs.get(r.roi, np.inf), r.reference_ms)
    return lambda name: (refs.get(name, np.inf), name)


def plot_cov(c: Comparison, protocol: str, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(9, 3.8))
    arms = _arms(c)
    width = 0.8 / max(len(arms), 1)
    key = _roi_key(c, protocol)
    for i, arm in enumerate(arms):
        s = c.summary(arm, protocol)
        if not s:
            continue
        order = sorted(range(len(s["rois"])), key=lambda j: key(s["rois"][j]))
        x = np.arange(len(order))
        ax.bar(x + i * width, 100 * s["cov"][order], width, label=arm)
        if c.noise and np.isfinite(s["noise_cov"]).any():
            bound = metrics.noise_only_cov_bound(len(s["scanners"])) * s["noise_cov"][order]
            ax.plot(x + i * width, 100 * bound, "k_", ms=12, label="noise alone, 97.5 %" if i == 0 else None)
        ax.set_xticks(x + width * (len(arms) - 1) / 2, [s["rois"][j] for j in order], rotation=60, fontsize=8)
    ax.set(ylabel="cross-scanner CoV (%)", title=f"{protocol}: cross-scanner CoV per ROI")
    ax.legend()
    return _save(fig, path)


def draw_maps(c: Comparison, protocol: str):
    """The maps of ``protocol`` (one row per arm) and their difference to the phantom reference (%; each
    scanner's own: its phantom temperature), one column per scanner, every ROI labelled with its name at its centre.

    One mask for every panel (voxels finite in every map); the maps' colour scale is logarithmic
    from 0.8 x the smallest to 1.25 x the largest reference of the ROIs in the protocol's designed
    range; the differences' is +-1.5 x the largest ROI-mean difference (1 % at least), with
    the object outside the ROIs in dark grey. Returns the matplotlib figure.
    """
    from matplotlib.colors import LogNorm

    keys = [k for k in c.maps if k[1] == protocol]
    arms = [a for a in _arms(c) if any(k[0] == a for k in keys)]
    scanners = sorted({k[2] for k in keys})
    quantity, _ = c.ranges[protocol]
    label = f"{quantity} ({unit(quantity).map_label})"
    measurement = c.measurements.get(keys[0]) if keys else None
    shown = np.all([np.isfinite(c.maps[k]) for k in keys], axis=0) if keys else None
    labels, names, reference = _reference_slice(measurement, shown)
    rows = [r for r in c.rows if r.protocol == protocol]
    refs = [r.reference_ms / 1e3 for r in rows if r.in_range] or [r.reference_ms / 1e3 for r in rows] or [1.0]
    norm = LogNorm(vmin=0.8 * min(refs), vmax=1.25 * max(refs))
    dmax = min(50.0, max([1.0] + [1.5 * abs(100 * r.bias) for r in rows if r.in_range]))
    inside = shown & (reference > 0) if shown is not None else None
    fig, axes = plt.subplots(2 * len(arms), len(scanners), figsize=(3.6 * len(scanners), 3.4 * 2 * len(arms)),
                             squeeze=False)
    for i, arm in enumerate(arms):
        for j, scanner in enumerate(scanners):
            key = (arm, protocol, scanner)
            top, bottom = axes[2 * i, j], axes[2 * i + 1, j]
            im = top.imshow(np.where(shown & (c.maps[key] > 0), c.maps[key], np.nan), cmap="magma", norm=norm,
                            origin="lower")
            bottom.imshow(np.where(shown, 0.45, np.nan), cmap="gray", vmin=0, vmax=1, origin="lower")
            own = _reference_slice(c.measurements[key], shown)[2] if key in c.measurements else reference
            diff = np.where(inside, 100 * (c.maps[key] / np.where(own > 0, own, 1) - 1), np.nan)  # its own reference
            dm = bottom.imshow(diff, cmap="RdBu_r", vmin=-dmax, vmax=dmax, origin="lower")
            top.set_title(f"{arm}: {scanner}\n{label}", fontsize=8)
            bottom.set_title(f"{arm}: {scanner}\n{quantity} - reference (%)", fontsize=8)
            for ax in (top, bottom):
                _annotate(ax, labels, names, measurement)
            fig.colorbar(im, ax=top, shrink=0.8, label=label)
            fig.colorbar(dm, ax=bottom, shrink=0.8, label="difference to reference (%)")
    return fig


def _reference_slice(measurement, shown):
    """(ROI labels, label -> ROI name, reference value map in s) of the maps' slice (empty without a phantom)."""
    if measurement is None or shown is None:
        return None, {}, np.zeros(1)
    from harmoniq.models import MODELS

    phantom = measurement.phantom
    labels = phantom.labels[phantom.labels.shape[0] // 2]
    attribute = MODELS[measurement.protocol.model].reference
    names = {k: roi.name for k, roi in phantom.rois.items() if roi.name != "water" and np.any(labels == k)}
    reference = np.zeros(labels.shape)
    for k in names:  # a B1 map is shown as its ratio to the scanner's field: reference 1 (analysis.b1_reference)
        value = getattr(phantom.rois[k], attribute) if attribute else 1.0
        if value is not None and np.isfinite(value):
            reference[labels == k] = value
    return labels, names, reference


def _annotate(ax, labels, names, measurement) -> None:
    """ROI names at the ROIs' centres, patient directions (LPS arrays: +x left, +y posterior) and a 50 mm bar."""
    ax.set_xticks([])
    ax.set_yticks([])
    for k, name in names.items():
        y, x = np.nonzero(labels == k)
        ax.text(x.mean(), y.mean(), name, ha="center", va="center", fontsize=5.5,
                color="black", path_effects=_HALO, gid=f"roi:{name}")
    for text, xy in (("R", (0.03, 0.5)), ("L", (0.97, 0.5)), ("A", (0.5, 0.03)), ("P", (0.5, 0.97))):
        ax.text(*xy, text, transform=ax.transAxes, ha="center", va="center", fontsize=7, color="black",
                path_effects=_HALO)
    if measurement is not None:
        n = 50.0 / (measurement.phantom.voxel_size_m[2] * 1e3)
        ax.plot([2, 2 + n], [2, 2], color="black", lw=2, path_effects=_HALO)
        ax.text(2 + n / 2, 3, "50 mm", color="black", fontsize=6, ha="center", va="bottom", path_effects=_HALO)


def plot_maps(c: Comparison, protocol: str, path: Path) -> Path:
    return _save(draw_maps(c, protocol), path)


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'


def _range(valid) -> str:
    """A designed range (:class:`harmoniq.analysis.compare.DesignedRange`) as text: ``T1 50-3000 ms``."""
    return f"{valid.quantity} {valid.low:g}-{valid.high:g} ms"


def _quantity(quantity: str, valid) -> str:
    """The quantity with its designed range (of itself, or a B1 map's of the spheres' T1) or, without one, its unit."""
    if valid and valid.quantity == quantity:
        return f"{quantity} in {valid.low:g}-{valid.high:g} ms"
    return f"{quantity} ({unit(quantity).label})" + (f", {_range(valid)}" if valid else "")


def summary_lines(c: Comparison) -> list[str]:
    """Plain-text summary, one line per protocol and arm."""
    lines = []
    for protocol, (quantity, valid) in c.ranges.items():
        for arm in _arms(c):
            s = c.summary(arm, protocol)
            if not s:
                continue
            lines.append(
                f"{protocol:8s} {arm:10s} {_quantity(quantity, valid)}: {len(s['rois'])} ROIs x {len(s['scanners'])} "
                "scanners | "
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


def _references(c: Comparison, protocol: str) -> tuple[list[str], dict]:
    """Column headers and (roi, header) -> reference (the ``_ms`` column): one column when every scanner has
    the same reference, else one per scanner with its phantom temperature (each bias is against its own)."""
    rows = [r for r in c.rows if r.protocol == protocol]
    scanners = sorted({r.scanner for r in rows})
    values = {(r.roi, r.scanner): r.reference_ms for r in rows}
    label = f" ({unit(c.ranges[protocol][0]).label})"
    if all(len({v for (roi, _), v in values.items() if roi == name}) == 1 for name in {r.roi for r in rows}):
        return [f"reference{label}"], {(roi, f"reference{label}"): v for (roi, _), v in values.items()}
    heads = {}
    for scanner in scanners:
        m = next((m for (_, p, s), m in c.measurements.items() if p == protocol and s == scanner), None)
        temperature = m.phantom.meta.get("temperature_c") if m is not None else None
        at = f" at {temperature:g} degC" if temperature is not None else ""
        heads[scanner] = f"reference {scanner}{at}{label}"
    return list(heads.values()), {(roi, heads[scanner]): v for (roi, scanner), v in values.items()}


def _roi_table(c: Comparison, protocol: str) -> str:
    """Per ROI (the names on the maps): the reference each scanner's bias is against, each scanner's mean
    (in the quantity's unit); the cross-scanner CoV, its noise-only level and the mean bias where an arm has
    two scanners or more."""
    u = unit(c.ranges[protocol][0])
    arms = _arms(c)
    tables = {a: c.table(a, protocol) for a in arms}
    summaries = {a: c.summary(a, protocol) for a in arms}
    rois = sorted({r for a in arms for r in tables[a][0]}, key=_roi_key(c, protocol))
    ref_heads, refs = _references(c, protocol)
    head = "".join(f"<th>{html.escape(h)}</th>" for h in ref_heads)
    for a in arms:
        head += "".join(f"<th>{html.escape(a)}: {html.escape(s)} ({u.label})</th>" for s in tables[a][1])
        if summaries[a]:
            head += f"<th>CoV {a} (%)</th><th>CoV from noise alone (%)</th><th>mean bias {a} (%)</th>"
    body = []
    for roi in rois:
        cells = "".join(f"<td>{u.format(refs[(roi, h)])}</td>" if (roi, h) in refs else "<td></td>" for h in ref_heads)
        for a in arms:
            names, scanners, values, _ = tables[a]
            k = names.index(roi) if roi in names else None
            cells += "".join(f"<td>{u.format(values[k, j])}</td>" if k is not None else "<td></td>"
                             for j in range(len(scanners)))
            s = summaries[a]
            if s and roi in s["rois"]:
                j = s["rois"].index(roi)
                floor = s["noise_cov"][j]
                noise = ("n/a" if not np.isfinite(floor) else f"{100 * floor:.2f}") if c.noise else ""
                cells += (f"<td>{100 * s['cov'][j]:.2f}</td><td>{noise}</td>"
                          f"<td>{100 * np.mean(s['bias'][j]):+.2f}</td>")
            elif s:
                cells += "<td></td><td></td><td></td>"
        body.append(f'<tr class="roi"><td>{html.escape(roi)}</td>{cells}</tr>')
    return f"<table><tr><th>ROI</th>{head}</tr>{''.join(body)}</table>"


def _agreement_table(c: Comparison, protocol: str) -> str:
    u = unit(c.ranges[protocol][0])
    rows = []
    for arm in _arms(c):
        s = c.summary(arm, protocol)
        if not s:
            continue
        refs = c.table(arm, protocol)[3]
        for j, scanner in enumerate(s["scanners"]):
            ba = s["bland_altman"][scanner]
            # Lin's CCC against a reference without spread (a B1 map's 1) is 0 whatever the map: not shown
            ccc = f"{s['ccc'][scanner]:.4f}" if np.ptp(refs[:, j]) > 0 else "n/a (one reference value)"
            rows.append(f"<tr><td>{arm}</td><td>{html.escape(scanner)}</td><td>{ccc}</td>"
                        f"<td>{u.format(ba.bias, True)}</td>"
                        f"<td>{u.format(ba.lower, True)} .. {u.format(ba.upper, True)}</td></tr>")
        rows.append(f"<tr><td>{arm}</td><td colspan=4>ICC(2,1) = {s['icc']:.4f}</td></tr>")
    if not rows:
        return ("<p>Cross-scanner statistics (CoV, ICC, Lin's CCC, Bland-Altman) need two scanners or more in an "
                "arm; this comparison has one, so the table above lists its ROI values against the reference.</p>")
    return ("<table><tr><th>arm</th><th>scanner</th><th>Lin's CCC vs reference</th>"
            f"<th>Bland-Altman bias ({u.label})</th><th>95 % limits ({u.label})</th></tr>{''.join(rows)}</table>")


def _parameter_table(c: Comparison, protocol: str) -> str:
    """What each scanner ran: the protocol parameters that differ between them, and the .seq's sha256."""
    items = sorted((k, m) for k, m in c.measurements.items() if k[1] == protocol)
    if not items:
        return ""
    values = [m.protocol.values for _, m in items]
    keys = sorted({key for v in values for key in v})
    differ = [key for key in keys if any(v.get(key) != values[0].get(key) for v in values)]
    head = "".join(f"<th>{html.escape(key)}</th>" for key in differ)
    rows = "".join(
        f"<tr><td>{html.escape(arm)}</td><td>{html.escape(scanner)}</td>"
        + "".join(f"<td>{html.escape(str(m.protocol.values.get(key, '')))}</td>" for key in differ)
        + f"<td><code>{m.seq_sha256}</code></td></tr>" for (arm, _, scanner), m in items)
    note = "" if differ else "<p>Every scanner ran the same protocol parameters.</p>"
    return (f"{note}<table><tr><th>arm</th><th>scanner</th>{head}<th>.seq sha256</th></tr>{rows}</table>")


def _provenance(c: Comparison) -> str:
    """Version, simulation settings, phantom and the source of its reference values."""
    from harmoniq import __version__

    facts = {"harmoniq version": __version__, "noise": "on" if c.noise else "off (systematic differences only)"}
    settings = {}
    for m in c.measurements.values():
        for key in ("matrix", "seed", "phantom"):
            if key in m.provenance:
                settings.setdefault(key, set()).add(str(m.provenance[key]))
        meta = m.phantom.meta
        for key, name in (("version", "phantom version"), ("temperature_c", "phantom temperature (degC)"),
                          ("reference", "reference values from")):
            if key in meta:
                settings.setdefault(name, set()).add(str(meta[key]))
        settings.setdefault("field strength (T)", set()).add(f"{m.phantom.field_t:g}")
    facts.update({k: ", ".join(sorted(v)) for k, v in settings.items()})
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in facts.items())
    return f'<h2>Provenance</h2><table class="provenance">{rows}</table>'


def _ablation_table(rows, not_rerun=()) -> str:
    """The ablation table (:mod:`harmoniq.analysis.ablation`) with its caption and the effects not rerun;
    empty without either."""
    from harmoniq.analysis.ablation import CAPTION

    if not rows and not not_rerun:
        return ""
    body = "".join(
        f"<tr><td>{html.escape(r.protocol)}</td><td>{html.escape(r.arm)}</td><td>{html.escape(r.effect)}</td>"
        f"<td>{100 * r.cov_all:.2f}</td><td>{100 * r.cov_without:.2f}</td><td>{100 * r.cov_change:+.2f}</td>"
        f"<td>{100 * r.bias_all:.2f}</td><td>{100 * r.bias_without:.2f}</td><td>{100 * r.bias_change:+.2f}</td></tr>"
        for r in sorted(rows, key=lambda r: (r.protocol, r.arm)))
    skipped = "".join(f"<li>{html.escape(n.effect)} in {html.escape(n.where)}: {html.escape(n.reason)}</li>"
                      for n in not_rerun)
    return (f'<h2>Ablation: what each modelled effect contributes</h2><p>{html.escape(CAPTION)}.</p>'
            '<table class="ablation"><tr><th>protocol</th><th>arm</th><th>effect off</th><th>CoV all (%)</th>'
            '<th>CoV without (%)</th><th>CoV change (%)</th><th>|bias| all (%)</th><th>|bias| without (%)</th>'
            f'<th>|bias| change (%)</th></tr>{body}</table>'
            + (f"<p>Not rerun:</p><ul>{skipped}</ul>" if skipped else ""))


def _published_table(rows) -> str:
    """Simulated CoV beside the published multi-site figures (:mod:`harmoniq.analysis.published`)."""
    from harmoniq.analysis.published import NONE_FOUND

    def cov(v):
        return f"median {100 * v[0]:.2f}, max {100 * v[1]:.2f}" if v is not None else ""

    body = []
    for r in rows:
        published = "<br>".join(html.escape(p.figure) for p in r.published) or html.escape(NONE_FOUND)
        sources = "<br>".join(html.escape(p.source) for p in r.published)
        body.append(f'<tr class="published"><td>{html.escape(r.protocol)} ({html.escape(r.model)})</td>'
                    f"<td>{cov(r.harmonized)}</td><td>{cov(r.site)}</td><td>{published}</td><td>{sources}</td>"
                    f"<td>{html.escape(r.note)}</td></tr>")
    return ("<h2>Simulated beside published multi-site figures</h2><table><tr><th>method</th>"
            "<th>simulated harmonized CoV (%)</th><th>simulated site CoV (%)</th><th>published</th><th>source</th>"
            f"<th>note</th></tr>{''.join(body)}</table>")


def write_report(c: Comparison, outdir: Path, ablation=(), published=(), not_rerun=()) -> Path:
    """PNG plots and report.html (self-contained: images inlined) in ``outdir``, with the ablation
    rows, the effects it did not rerun and the published figures (:mod:`harmoniq.analysis.ablation`,
    :mod:`harmoniq.analysis.published`; the latter computed from ``c`` when not given)."""
    from harmoniq.analysis.published import published_rows

    for protocol in c.ranges:
        if not any(r.protocol == protocol for r in c.rows):
            raise HarmoniqError(
                f"compare: {protocol} has no phantom ROI in its maps (a sphere's ROI keeps the voxels whose "
                "neighbours lie in it too, so a 3D slab needs 3 or more partitions inside the spheres); give the "
                "protocol thinner partitions")
    make_folder(outdir)
    sections = []
    for protocol, (quantity, valid) in c.ranges.items():
        several = any(c.summary(arm, protocol) for arm in _arms(c))
        plots = [
            plot_maps(c, protocol, outdir / f"{protocol}_maps.png"),
            plot_measured_vs_reference(c, protocol, outdir / f"{protocol}_measured_vs_reference.png"),
            plot_bland_altman(c, protocol, outdir / f"{protocol}_bland_altman.png"),
            *([plot_cov(c, protocol, outdir / f"{protocol}_cov.png")] if several else []),
        ]
        rng = f"designed range {_range(valid)}" if valid else f"in {unit(quantity).label}, all values"
        sections.append(
            f"<h2>{html.escape(protocol)} ({quantity}; {rng})</h2>"
            f"{_roi_table(c, protocol)}{_agreement_table(c, protocol)}"
            f"<h3>What each scanner ran</h3>{_parameter_table(c, protocol)}" + "".join(_img(p) for p in plots)
        )
    lines = "".join(f"<li>{html.escape(line)}</li>" for line in summary_lines(c))
    published = _published_table(published or published_rows(c))
    page = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>harmoniq cross-scanner comparison</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:auto;padding:1em}}
table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #bbb;padding:2px 8px;font-size:13px}}
img{{max-width:100%;display:block;margin:1em 0}}</style></head><body>
<h1>Cross-scanner comparison</h1>
<p>Harmonized: every scanner runs the identical .seq file, reconstruction and fit. Site: each scanner runs an
illustrative local variant of the protocol (not any vendor's product protocol). Simulated data; scanner models are
models, not measurements of any vendor's system. Only ROIs inside each protocol's designed range are summarised.
T1 and T2 are in ms (the maps in s); a B1 map is shown as its ratio to the transmit field of the scanner model
that simulated it (unitless, reference 1). The maps show each ROI's name, the same name as in the tables.</p>
<ul>{lines}</ul>
{published}
{_ablation_table(ablation, not_rerun)}
{''.join(sections)}
{_provenance(c)}
</body></html>
"""
    path = outdir / "report.html"
    write_text_atomic(path, page)
    return path
