"""Records of a .seq check: one Violation per offending block, grouped per rule for people.

Each rule has a stable id and a kind that says how its value compares with its limit:
``max`` (value must not exceed the limit), ``min`` (value must reach the limit), ``grid``
(value must be an integer multiple of the limit) and ``flag`` (a structural rule without a
number). Values and limits are SI (s, T/m, T/m/s, Hz) or counts.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

RULES: dict[str, tuple[str, str]] = {
    "declared_raster": ("grid", "a raster declared in [DEFINITIONS] is a multiple of the scanner's raster"),
    "block_raster": ("grid", "block durations lie on the block-duration raster"),
    "grad_raster": ("grid", "gradient delays, corners and waveform times lie on the gradient raster"),
    "rf_raster": ("grid", "RF delays and RF shape times lie on the RF raster"),
    "adc_dwell": ("grid", "the ADC dwell time is a multiple of the ADC raster"),
    "adc_delay_raster": ("grid", "ADC delays lie on the ADC delay raster"),
    "rf_dead_time": ("min", "the RF delay covers the RF dead time"),
    "rf_ringdown": ("min", "the time from RF end to block end covers the RF ringdown time"),
    "adc_dead_time": ("min", "the ADC dead time fits before the ADC and after it, inside the block"),
    "grad_amplitude": ("max", "gradient amplitude per axis within the scanner's maximum"),
    "grad_slew": ("max", "gradient slew rate per axis within the scanner's maximum"),
    "adc_samples_limit": ("max", "samples per ADC event within the scanner's limit"),
    "adc_samples_divisor": ("grid", "samples per ADC event divisible by the scanner's divisor"),
    "rf_freq_offset": ("max", "|RF frequency offset| within the scanner's limit"),
    "adc_freq_offset": ("max", "|ADC frequency offset| within the scanner's limit"),
    "ge_trid_first_block": ("flag", "the first block carries a TRID label (GE)"),
    "ge_segment_grad_edges": ("max", "gradients are zero at every segment start and end (GE)"),
    "ge_segment_instance": ("flag", "every segment instance has its first instance's blocks, durations and event timings (GE)"),
    "ge_played_kspace": ("max", "each readout's k-space position as GE plays it equals the file's within 0.01/FOV (GE)"),
    "ge_pns": ("max", "nerve stimulation at most 80 % of the threshold on every shipped GE coil model (GE, pge2)"),
    "ge_guard_overlap": ("min", "RF/ADC dead-time and ringdown intervals of different events do not overlap (GE, pge2)"),
    "ge_rf_ringdown_segment_end": ("max", "RF end + psd_rf_wait + ringdown lies inside the RF's segment instance (GE, pge2)"),
    "ge_variable_delay": ("flag", "a delay of variable duration starts outside every RF/ADC guard interval (GE, pge2)"),
    "ge_peak_b1": ("max", "RF peak amplitude within pge2's b1_max of 0.25 G (GE)"),
    "ge_safety_window": ("max", "no run of 40,000 blocks carries more RF or gradient power than the first (GE, pge2)"),
    "ge_pge_fields": ("max", "counts and ids the .pge file stores as int16 are at most 32,767 (GE, pge2)"),
    "label_uninitialised": ("flag", "every counter label is SET before it is INC-ed"),
}


@dataclass(frozen=True)
class Violation:
    """One broken rule. ``block``: 1-based block id as in the file (None for file-level
    rules); ``time_s``: start of that block in the sequence (s); ``value`` and ``limit`` in
    SI units or counts (None for flag rules); ``message``: one line for people."""

    rule: str
    block: int | None
    time_s: float | None
    value: float | None
    limit: float | None
    message: str


@dataclass(frozen=True)
class RuleSummary:
    """All violations of one rule: count, first offending blocks and the worst record."""

    rule: str
    count: int
    first_blocks: tuple[int, ...]
    worst: Violation

    def __str__(self) -> str:
        blocks = ", ".join(str(b) for b in self.first_blocks)
        more = ", ..." if self.count > len(self.first_blocks) else ""
        where = f" (blocks {blocks}{more})" if blocks else ""
        return f"{self.rule}: {self.count} x{where}; worst: {self.worst.message}"


@dataclass
class CheckReport:
    """Result of checking one sequence against one scanner profile (or harmonized limits)."""

    target: str
    source: str
    n_blocks: int
    duration_s: float
    violations: list[Violation] = field(default_factory=list)
    #: GE targets: segments, peak k-space error and played timing (``harmoniq.scanners.ge``).
    interpreter: dict | None = None

    @property
    def ok(self) -> bool:
        return not self.violations

    def summary(self, max_blocks: int = 5) -> list[RuleSummary]:
        """One entry per violated rule, in the order of :data:`RULES`."""
        by_rule: dict[str, list[Violation]] = {}
        for v in self.violations:
            by_rule.setdefault(v.rule, []).append(v)
        out = []
        for rule in sorted(by_rule, key=list(RULES).index):
            records = by_rule[rule]
            blocks = tuple(dict.fromkeys(v.block for v in records if v.block is not None))[:max_blocks]
            out.append(RuleSummary(rule, len(records), blocks, _worst(records)))
        return out

    def to_text(self, max_blocks: int = 5) -> str:
        """A short human-readable report: a verdict line, then one line per violated rule."""
        head = f"{self.source} on {self.target}: {self.n_blocks} blocks, {self.duration_s:.3f} s: "
        if self.ok:
            return head + "OK"
        lines = [head + f"{len(self.violations)} violation(s) of {len(self.summary())} rule(s)"]
        lines += [f"  {s}" for s in self.summary(max_blocks)]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """JSON-ready: verdict, per-rule summary and every violation record."""
        return {
            "target": self.target,
            "source": self.source,
            "ok": self.ok,
            "n_blocks": self.n_blocks,
            "duration_s": self.duration_s,
            "summary": [
                {"rule": s.rule, "count": s.count, "first_blocks": list(s.first_blocks), "worst": asdict(s.worst)}
                for s in self.summary()
            ],
            "violations": [asdict(v) for v in self.violations],
            **({"interpreter": self.interpreter} if self.interpreter is not None else {}),
        }


def _worst(records: list[Violation]) -> Violation:
    kind = RULES[records[0].rule][0]
    if kind == "max":
        return max(records, key=lambda v: v.value)
    if kind == "min":
        return min(records, key=lambda v: v.value)
    return records[0]
