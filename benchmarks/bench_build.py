"""Time to build every shipped protocol: builder, .seq bytes, and the six scanner checks.

Run: python benchmarks/bench_build.py   (prints a Markdown table for BENCHMARKS.md)
"""

from __future__ import annotations

import platform
import subprocess
import time
import warnings
from datetime import date

from harmoniq.protocols import list_protocols, load_protocol
from harmoniq.scanners import check, load_profile
from harmoniq.sequences.export import build, seq_bytes


def main() -> None:
    cpu = subprocess.run(["sh", "-c", "lscpu | sed -n 's/Model name: *//p'"], capture_output=True, text=True).stdout.strip()
    print(f"machine: {cpu or platform.processor()}, {platform.python_version()}, date {date.today()}\n")
    print("| protocol | blocks | scan time | load+validate (s) | build (s) | write (s) | 6 checks (s) |")
    print("|---|---|---|---|---|---|---|")
    total = 0.0
    warnings.simplefilter("ignore")
    for name in list_protocols():
        t0 = time.perf_counter()
        protocol = load_protocol(name)
        t1 = time.perf_counter()
        built = build(protocol)
        t2 = time.perf_counter()
        seq_bytes(built.seq)
        t3 = time.perf_counter()
        assert all(check(built.seq, load_profile(s)).ok for s in protocol.targets)
        t4 = time.perf_counter()
        total += t4 - t0
        print(f"| {name} | {len(built.seq.block_events)} | {built.info.duration_s / 60:.1f} min | "
              f"{t1 - t0:.2f} | {t2 - t1:.2f} | {t3 - t2:.2f} | {t4 - t3:.2f} |")
    print(f"\nall protocols, built, written and checked on six scanners: {total:.1f} s")


if __name__ == "__main__":
    main()
