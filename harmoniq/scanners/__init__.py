"""Scanner hardware profiles, harmonized system limits and per-vendor .seq checks.

>>> from harmoniq.scanners import load_profile, harmonize, check
>>> limits = harmonize(["siemens-prisma-3t", "ge-premier-3t"])   # doctest: +SKIP
>>> system = limits.to_pypulseq_opts()                            # doctest: +SKIP
>>> check("gre.seq", "ge-premier-3t").ok                          # doctest: +SKIP
"""

from harmoniq.scanners.check import check
from harmoniq.scanners.harmonize import HarmonizedLimits, harmonize
from harmoniq.scanners.profiles import ScannerProfile, SystemLimits, list_profiles, load_profile
from harmoniq.scanners.report import RULES, CheckReport, RuleSummary, Violation

__all__ = [
    "RULES",
    "CheckReport",
    "HarmonizedLimits",
    "RuleSummary",
    "ScannerProfile",
    "SystemLimits",
    "Violation",
    "check",
    "harmonize",
    "list_profiles",
    "load_profile",
]
