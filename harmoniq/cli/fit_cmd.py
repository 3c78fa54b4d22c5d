"""`harmoniq fit t1-ir|t1-vfa|t2-se|t2-mese|b1-dam|t2star IMAGE -o DIR`: quantitative maps."""

from __future__ import annotations

import click

from harmoniq.cli.options import device_option, echo_json, force_option, json_option, out_option
from harmoniq.models import MODELS, FitOption, QuantitativeModel


def _common(func):
    """Options every model shares."""
    func = click.option("--noise-sigma", type=float, default=None, help="Image noise SD for the uncertainty maps (default: from the residuals).")(func)
    func = device_option(func)
    func = click.option("--mask", type=click.Path(dir_okay=False), default=None, help="Mask NIfTI: fit where non-zero.")(func)
    func = json_option(force_option(func))
    func = out_option("Output folder of the maps (BIDS names) and their sidecars.", folder=True)(func)
    return click.argument("image", type=click.Path(dir_okay=False))(func)


def _run(model: str, image: str, out: str, as_json: bool, **options):
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


def _option(option: FitOption):
    """The click option of a registry fit option."""
    flag = "--" + option.name.replace("_", "-").removesuffix("-s")
    if option.flag:
        return click.option(flag, option.name, is_flag=True, help=option.help)
    kind = click.Choice(option.choices) if option.choices else (click.Path(dir_okay=False) if option.kind is str
                                                                else option.kind)
    return click.option(flag, option.name, type=kind, default=option.default, show_default=option.default is not None,
                        help=option.help)


def _subcommand(model: QuantitativeModel) -> None:
    def fit_model(image, out, as_json, **values):
        _run(model.name, image, out, as_json, **values)

    for option in reversed(model.options):
        fit_model = _option(option)(fit_model)
    command.command(model.name, help=model.help)(_common(fit_model))


for _model in MODELS.values():
    _subcommand(_model)
