"""`harmoniq fit t1-ir|t1-vfa|t2-se|t2-mese|b1-dam|t2star IMAGE -o DIR`: quantitative maps."""

from __future__ import annotations

import click

from harmoniq.cli.options import device_option, echo_json, force_option, json_option, out_option


def _common(func):
    """Options every model shares."""
    func = click.option("--noise-sigma", type=float, default=None, help="Image noise SD for the uncertainty maps (default: from the residuals).")(func)
    func = device_option(func)
    func = click.option("--mask", type=click.Path(dir_okay=False), default=None, help="Mask NIfTI: fit where non-zero.")(func)
    func = json_option(force_option(func))
    func = out_option("Output folder of the maps (BIDS names) and their sidecars.", folder=True)(func)
    return click.argument("image", type=click.Path(dir_okay=False))(func)


def _run(model: str, image: str, out: str, force: bool, as_json: bool, **options):
    from harmoniq.fitting.bids import fit_files

    written = fit_files(model, image, out, **options)
    if as_json:
        echo_json({"model": model, "image": image, "maps": [str(path) for path in written]})
        return
    for path in written:
        click.echo(str(path))


@click.group("fit")
def command():
    """Fit T1, T2, T2* or B1 maps to a NIfTI series; parameters come from its JSON sidecar."""


OFFSET = click.option("--offset", is_flag=True, help="Fit a constant offset too.")

#: model -> (help, the options it adds to the common ones)
MODELS = {
    "t1-ir": ("Inversion-recovery T1 (InversionTime per volume).", []),
    "t1-vfa": ("Variable-flip-angle T1 (FlipAngle per volume, RepetitionTimeExcitation).", [
        click.option("--b1", type=click.Path(dir_okay=False), default=None, help="Relative (or percent) B1 map NIfTI."),
        click.option("--method", type=click.Choice(["linear", "nonlinear"]), default="nonlinear", show_default=True),
        click.option("--spoiling-correction", is_flag=True, help="Correct for imperfect RF spoiling (SpoilingRFPhaseIncrement)."),
        click.option("--spoiling-t2", "spoiling_t2_s", type=float, default=0.1, show_default=True,
                     help="T2 (s) assumed by the spoiling correction."),
    ]),
    "t2-se": ("Spin-echo T2, mono-exponential (EchoTime per volume).", [OFFSET]),
    "t2-mese": ("Multi-echo spin-echo T2 and refocusing B1 by EPG (EchoTime, RefocusingFlipAngle).", [
        click.option("--t1", "t1_s", type=float, default=1.0, show_default=True, help="Fixed T1 (s) of the EPG dictionary."),
        click.option("--seq", type=click.Path(dir_okay=False, exists=True), default=None,
                     help="The protocol's .seq file: the dictionary then averages over its pulses' slice profiles."),
    ]),
    "b1-dam": ("Double-angle B1 map (FlipAngle of the two volumes: a and 2a).", []),
    "t2star": ("Multi-echo gradient-echo T2* (EchoTime per volume).", [OFFSET]),
}


def _subcommand(model: str, help_text: str, options: list) -> None:
    def fit_model(image, out, force, as_json, **values):
        _run(model, image, out, force, as_json, **values)

    for option in reversed(options):
        fit_model = option(fit_model)
    command.command(model, help=help_text)(_common(fit_model))


for _model, (_help, _options) in MODELS.items():
    _subcommand(_model, _help, _options)
