"""How much memory the machine has left, and one check before a large allocation."""

from __future__ import annotations

import os
from pathlib import Path

from harmoniq.errors import HarmoniqError

MEMORY_FRACTION = 0.5
"""Largest share of the available memory one planned allocation may take."""


def available_bytes() -> int:
    """MemAvailable from /proc/meminfo (Linux), else the physical memory, in bytes."""
    meminfo = Path("/proc/meminfo")
    lines = meminfo.read_text(encoding="ascii").splitlines() if meminfo.is_file() else []
    for line in lines:
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def check_fits(needed_bytes: float, what: str, hint: str) -> None:
    """Raise :class:`HarmoniqError` (``what`` needs X GiB ...; ``hint``) when ``needed_bytes``
    exceeds :data:`MEMORY_FRACTION` of the available memory."""
    available = available_bytes()
    if needed_bytes > MEMORY_FRACTION * available:
        raise HarmoniqError(f"{what} needs about {needed_bytes / 2**30:.3g} GiB but only {available / 2**30:.1f} GiB "
                            f"are available; {hint}")
