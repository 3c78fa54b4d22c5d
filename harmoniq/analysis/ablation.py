"""The ablation table: each modelled effect's contribution to cross-scanner CoV and bias.

For each effect, protocol (per field strength) and arm the comparison is rerun noise-free with
that effect off (:func:`harmoniq.experiments.run_ablation`); its contribution is the statistic
with every effect on minus the statistic without it. The statistics are those of the summary
lines: the largest cross-scanner CoV over the in-range ROIs and the largest |bias| against the
reference over ROIs and scanners. Noise is the exception: its row compares the comparison as
run (with noise) with the noise-free one. Effects that were not rerun are listed with the reason
(:class:`NotRerun`): where turning them off cannot change the maps, or where the rerun is not
made unless asked.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harmoniq.analysis.compare import Comparison


@dataclass(frozen=True)
class AblationRow:
    """One effect in one protocol and arm: statistics (fractions) with every effect on and without it."""

    effect: str
    protocol: str
    arm: str
    cov_all: float
    cov_without: float
    bias_all: float
    bias_without: float

    @property
    def cov_change(self) -> float:
        return self.cov_all - self.cov_without

    @property
    def bias_change(self) -> float:
        return self.bias_all - self.bias_without


@dataclass(frozen=True)
class NotRerun:
    """An effect the ablation did not rerun: where (``protocol`` and ``arm``, "" for every one) and why."""

    effect: str
    protocol: str
    arm: str
    reason: str

    @property
    def where(self) -> str:
        return " ".join(filter(None, (self.protocol, self.arm))) or "every protocol"


def statistics(c: Comparison, arm: str, protocol: str) -> tuple[float, float] | None:
    """(largest CoV over ROIs, largest |bias| over ROIs and scanners) of one arm and protocol;
    None without two ROIs and two scanners."""
    s = c.summary(arm, protocol)
    if not s:
        return None
    return float(np.max(s["cov"])), float(np.nanmax(np.abs(s["bias"])))


def ablation_rows(runs: dict[str, Comparison], measured: Comparison | None = None) -> list[AblationRow]:
    """Rows of the ablation table. runs: ``""`` -> the noise-free comparison with every effect on,
    effect name -> the comparison with that effect off; measured: the comparison as run, when it
    had noise (its row is ``noise``)."""
    baseline = runs[""]
    without = dict(runs)
    del without[""]
    if measured is not None and measured.noise:
        without = {"noise": baseline, **without}
    rows = []
    for name, c in without.items():
        reference = measured if name == "noise" else baseline
        for protocol in c.ranges:
            for arm in sorted({r.arm for r in c.rows if r.protocol == protocol}):
                on, off = statistics(reference, arm, protocol), statistics(c, arm, protocol)
                if on is not None and off is not None:
                    rows.append(AblationRow(name, protocol, arm, on[0], off[0], on[1], off[1]))
    return rows


CAPTION = ("each effect turned off in turn, noise-free simulations at the comparison's matrix (every rerun takes "
           "the .seq files, and for recon also the simulations, of the noise-free comparison with every effect on); "
           "CoV: largest cross-scanner CoV over in-range ROIs; |bias|: largest |bias| against each scanner's "
           "reference; change = with - without (positive: the effect adds it); noise: as run vs noise-free")


def ablation_lines(rows: list[AblationRow], not_rerun: list[NotRerun] = ()) -> list[str]:
    """The table as text: a caption line, a header, one line per row (values in %), then one line per
    effect not rerun, with the reason."""
    if not rows and not not_rerun:
        return []
    lines = [f"ablation ({CAPTION}):",
             f"{'protocol':12s} {'arm':10s} {'effect':20s} {'CoV all':>8s} {'without':>8s} {'change':>8s} "
             f"{'|bias| all':>10s} {'without':>8s} {'change':>8s}"]
    for r in sorted(rows, key=lambda r: (r.protocol, r.arm)):
        lines.append(f"{r.protocol:12s} {r.arm:10s} {r.effect:20s} {100 * r.cov_all:8.2f} {100 * r.cov_without:8.2f} "
                     f"{100 * r.cov_change:+8.2f} {100 * r.bias_all:10.2f} {100 * r.bias_without:8.2f} "
                     f"{100 * r.bias_change:+8.2f}")
    lines += [f"not rerun: {n.effect} in {n.where}: {n.reason}" for n in not_rerun]
    return lines
