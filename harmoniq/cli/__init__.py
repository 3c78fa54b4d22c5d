"""Command line: a thin layer over the Python API.

Every command lives in a small module of this package and only parses options, calls the
API and prints. A :class:`harmoniq.HarmoniqError` becomes one line on stderr and exit
status 2; status 1 is kept for "checked, and found violations".
"""

from __future__ import annotations

import sys

import click

from harmoniq import __version__
from harmoniq.errors import HarmoniqError

EXIT_VIOLATIONS = 1
EXIT_USAGE = 2


class _Group(click.Group):
    """Click group that turns a HarmoniqError into one line and exit status 2."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except HarmoniqError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_USAGE)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="harmoniq")
def main():
    """harmoniq: vendor-neutral Pulseq protocols, simulation, reconstruction and T1/T2 mapping."""


def _register():
    from harmoniq.cli import catalog, seq

    main.add_command(catalog.protocols)
    main.add_command(catalog.scanners)
    main.add_command(seq.seq)
    for name in ("phantoms_cmd", "simulate_cmd", "recon_cmd", "fit_cmd", "run_cmd", "compare_cmd", "batch_cmd"):
        try:
            module = __import__(f"harmoniq.cli.{name}", fromlist=["command"])
        except ModuleNotFoundError as exc:
            if exc.name != f"harmoniq.cli.{name}":
                raise
            continue
        main.add_command(module.command)


_register()
