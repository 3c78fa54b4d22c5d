"""`harmoniq phantoms list|show`: the numerical phantoms, their ROIs and maps."""

from __future__ import annotations

import click

from harmoniq.cli.options import echo_json, force_option, json_option, out_option


@click.group(name="phantoms")
def command():
    """Numerical phantoms: NIST system phantom, procedural brain, Shepp-Logan."""


@command.command(name="list")
@json_option
def list_cmd(as_json):
    """Names of the phantoms, one line each."""
    from harmoniq.phantoms import list_phantoms, summary

    if as_json:
        echo_json([{"name": name, "summary": summary(name)} for name in list_phantoms()])
        return
    for name in list_phantoms():
        click.echo(f"{name:<12} {summary(name)}")


def _number(value, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


@command.command(name="show")
@click.argument("name")
@click.option("--matrix", default=64, show_default=True, help="Voxels per axis.")
@click.option("--field", "field_t", default=3.0, show_default=True, help="Field strength in T: 1.5 or 3.")
@click.option("--ndim", default=2, show_default=True, help="2 (one slice) or 3 (volume).")
@out_option("PNG of the PD/T1/T2 maps with ROI outlines (optional).", folder=False, default=None)
@force_option
@json_option
def show_cmd(name, matrix, field_t, ndim, out, force, as_json):
    """Print the ROI table of phantom NAME (label, name, T1 ms, T2 ms, PD, voxels)."""
    from harmoniq.phantoms import make_phantom
    from harmoniq.phantoms.report import roi_table, save_maps_png

    phantom = make_phantom(name, matrix=matrix, field_t=field_t, ndim=ndim)
    if out:
        save_maps_png(phantom, out, force=force)
    voxel_mm = [round(v * 1e3, 3) for v in phantom.voxel_size_m]
    if as_json:
        echo_json({"name": name, "shape_zyx": list(phantom.shape), "voxel_mm": voxel_mm, "field_strength_T": phantom.field_t,
                   "rois": roi_table(phantom), "png": out})
        return
    click.echo(f"{name}: shape (z, y, x) {phantom.shape}, voxel {tuple(voxel_mm)} mm, {phantom.field_t:g} T")
    click.echo(f"{'label':>5}  {'name':<14} {'T1 ms':>10} {'T2 ms':>10} {'PD':>5} {'voxels':>7}")
    for row in roi_table(phantom):
        click.echo(
            f"{row['label']:>5}  {row['name']:<14} {_number(row['t1_ms'], '10.3f')} {_number(row['t2_ms'], '10.3f')} "
            f"{_number(row['pd'], '5.2f')} {row['voxels']:>7}"
        )
    if out:
        click.echo(f"wrote {out}")
