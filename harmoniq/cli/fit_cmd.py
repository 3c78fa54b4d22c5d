"""`harmoniq fit t1-ir|t1-vfa|t2-se|t2-mese|b1-dam|t2star IMAGE -o DIR`: quantitative maps."""

from __future__ import annotations

import click

from harmoniq.backend import DEVICES


def _common(func):
    """Options every model shares."""
    func = click.option("--noise-sigma", type=float, default=None, help="Image noise SD for the uncertainty maps (default: from the residuals).")(func)
    func = click.option("--device", type=click.Choice(DEVICES), default="cpu", show_default=True)(func)
    func = click.option("--mask", type=click.Path(dir_okay=False), default=None, help="Mask NIfTI: fit where non-zero.")(func)
    func = click.option("-o", "--out", "out_dir", type=click.Path(file_okay=False), required=True, help="Output folder.")(func)
    return click.argument("image", type=click.Path(dir_okay=False))(func)


def _run(model: str, image: str, out_dir: str, **options):
    from harmoniq.fitting.bids import fit_files

    for path in fit_files(model, image, out_dir, **options):
        click.echo(str(path))


@click.group("fit")
def command():
    """Fit T1, T2, T2* or B1 maps to a NIfTI series; parameters come from its JSON sidecar."""


@command.command("t1-ir")
@_common
def t1_ir(image, out_dir, **options):
    """Inversion-recovery T1 (InversionTime per volume)."""
    _run("t1-ir", image, out_dir, **options)


@command.command("t1-vfa")
@_common
@click.option("--b1", type=click.Path(dir_okay=False), default=None, help="Relative (or percent) B1 map NIfTI.")
@click.option("--method", type=click.Choice(["linear", "nonlinear"]), default="nonlinear", show_default=True)
@click.option("--spoiling-correction", is_flag=True, help="Correct for imperfect RF spoiling (SpoilingRFPhaseIncrement).")
@click.option("--spoiling-t2", "spoiling_t2_s", type=float, default=0.1, show_default=True, help="T2 (s) assumed by the spoiling correction.")
def t1_vfa(image, out_dir, **options):
    """Variable-flip-angle T1 (FlipAngle per volume, RepetitionTimeExcitation)."""
    _run("t1-vfa", image, out_dir, **options)


@command.command("t2-se")
@_common
@click.option("--offset", is_flag=True, help="Fit a constant offset too.")
def t2_se(image, out_dir, **options):
    """Spin-echo T2, mono-exponential (EchoTime per volume)."""
    _run("t2-se", image, out_dir, **options)


@command.command("t2-mese")
@_common
@click.option("--t1", "t1_s", type=float, default=1.0, show_default=True, help="Fixed T1 (s) of the EPG dictionary.")
@click.option("--seq", type=click.Path(dir_okay=False, exists=True), default=None,
              help="The protocol's .seq file: the dictionary then averages over its pulses' slice profiles.")
def t2_mese(image, out_dir, **options):
    """Multi-echo spin-echo T2 and refocusing B1 by EPG (EchoTime, RefocusingFlipAngle)."""
    _run("t2-mese", image, out_dir, **options)


@command.command("b1-dam")
@_common
def b1_dam(image, out_dir, **options):
    """Double-angle B1 map (FlipAngle of the two volumes: a and 2a)."""
    _run("b1-dam", image, out_dir, **options)


@command.command("t2star")
@_common
@click.option("--offset", is_flag=True, help="Fit a constant offset too.")
def t2star(image, out_dir, **options):
    """Multi-echo gradient-echo T2* (EchoTime per volume)."""
    _run("t2star", image, out_dir, **options)
