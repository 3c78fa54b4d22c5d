"""harmoniq: one protocol, one Pulseq file, one reconstruction and one fit for every site.

Stages (each usable alone): protocols -> sequences (+ scanners checks) -> simulation ->
io -> recon -> fitting -> analysis. See README.md for the command line.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("harmoniq")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

from harmoniq.errors import HarmoniqError

__all__ = ["HarmoniqError", "__version__"]
