"""Command line: a thin layer over the Python API.

Every command lives in a small module of this package and only parses options, calls the
API and prints. Command modules import the numerical stack inside their functions, so
``harmoniq --help`` and ``harmoniq CMD --help`` load click and the name tables only.
A :class:`harmoniq.HarmoniqError` becomes one line ``error: ...`` on stderr and exit
status 2 (as click's usage errors); status 1 is kept for "checked, and found violations".
"""

from __future__ import annotations

import gc
import sys
import warnings

import click

from harmoniq import __version__
from harmoniq.cli import batch_cmd, catalog, compare_cmd, fit_cmd, phantoms_cmd, recon_cmd, run_cmd, seq
from harmoniq.cli import simulate_cmd
from harmoniq.errors import HarmoniqError

EXIT_VIOLATIONS = 1
EXIT_USAGE = 2


def fail(exc: HarmoniqError):
    """Print ``exc`` as one line on stderr and exit 2; warnings of objects freed on the way out stay silent."""
    warnings.simplefilter("ignore")
    gc.collect()  # unclosed files of the failed call are finalised now, silently, not after the line
    click.echo(f"error: {exc}", err=True)
    sys.exit(EXIT_USAGE)


def usage_fail(exc: click.UsageError):
    """Print a usage error (unknown option, bad value, missing argument) as one line and exit 2;
    a group called without a command shows its help, as click does."""
    if type(exc).__name__ == "NoArgsIsHelpError":
        exc.show()
        sys.exit(EXIT_USAGE)
    where = exc.ctx.command_path if exc.ctx is not None else "harmoniq"
    click.echo(f"error: {where}: {exc.format_message()}", err=True)
    sys.exit(EXIT_USAGE)


class _Group(click.Group):
    """Click group that turns a HarmoniqError or a usage error into one line and exit status 2."""

    def make_context(self, *args, **kwargs):
        try:
            return super().make_context(*args, **kwargs)
        except click.UsageError as exc:
            usage_fail(exc)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except HarmoniqError as exc:
            fail(exc)
        except click.UsageError as exc:
            usage_fail(exc)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="harmoniq")
def main():
    """harmoniq: vendor-neutral Pulseq protocols, simulation, reconstruction and T1/T2 mapping.

    Hardware profiles (`harmoniq profiles`) set the limits a .seq must meet (seq build
    --profiles, seq check --profile); simulated scanners (`harmoniq scanners`) run it on a
    phantom (simulate, run --scanner; compare --scanners).
    """


for _command in (catalog.protocols, catalog.profiles, catalog.scanners, phantoms_cmd.command, seq.seq,
                 simulate_cmd.command, recon_cmd.command, fit_cmd.command, run_cmd.command, compare_cmd.command,
                 batch_cmd.command):
    main.add_command(_command)
