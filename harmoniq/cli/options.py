"""Options every command shares: one spelling and one meaning each.

``-o/--out`` names every output (file or folder); ``--json`` prints one JSON document on
stdout; ``--device`` picks where array work runs; ``--force`` lets a command replace files it
did not write itself; ``--method/--combination/--filter`` choose the reconstruction.
Hardware profiles (``harmoniq profiles``) are given with ``--profile(s)``, simulated scanner
models (``harmoniq scanners``) with ``--scanner(s)``. This module imports only click and
the name tables, so ``--help`` stays fast.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os

import click

from harmoniq.names import COIL_COMBINATIONS, DEVICES, RECON_FILTERS, RECON_METHODS


def out_option(help_text: str, *, folder: bool, default: str | None = None):
    """``-o/--out``: the command's output file (``folder=False``) or folder; required without a default."""
    return click.option("-o", "--out", "out", required=default is None, default=default,
                        show_default=default is not None, help=help_text,
                        type=click.Path(file_okay=not folder, dir_okay=folder))


json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout instead of text.")

device_option = click.option("--device", type=click.Choice(DEVICES), default="cpu", show_default=True,
                             help="Where array work runs: cpu (NumPy) or gpu (CuPy on a CUDA device).")

force_option = click.option("--force", is_flag=True,
                            help="Replace existing output files that this command did not write itself.")

method_option = click.option("--method", type=click.Choice(RECON_METHODS), default="auto", show_default=True,
                             help="Reconstruction method ('auto' picks from the sampling).")

combination_option = click.option("--combination", type=click.Choice(COIL_COMBINATIONS), default="auto",
                                  show_default=True, help="Coil combination for fft, grappa and nufft.")

filter_option = click.option("--filter", "kspace_filter", type=click.Choice(RECON_FILTERS), default="none",
                             show_default=True, help="k-space apodization window applied before reconstruction.")


def workers_option(default: int, what: str):
    """``--workers N``: how many worker processes of a local Dask cluster run ``what``."""
    return click.option("--workers", type=click.IntRange(min=1), default=default, show_default=True,
                        help=f"Worker processes (a local Dask cluster) that run {what}.")


def names(value: str) -> list[str]:
    """The non-empty items of a comma-separated list."""
    return [v.strip() for v in value.split(",") if v.strip()]


def plain(value):
    """``value`` as JSON types: paths as strings, arrays as lists, dataclasses and named tuples
    as objects, NaN and infinities as null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if hasattr(value, "tolist"):  # NumPy arrays and scalars
        return plain(value.tolist())
    if dataclasses.is_dataclass(value):
        return plain(dataclasses.asdict(value))
    if hasattr(value, "_asdict"):
        return plain(value._asdict())
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [plain(v) for v in value]
    return str(value)


def echo_json(document) -> None:
    """Print ``document`` (see :func:`plain`) as one JSON document on stdout."""
    click.echo(json.dumps(plain(document), indent=2, allow_nan=False))
