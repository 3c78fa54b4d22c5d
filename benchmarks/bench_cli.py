"""Start-up time of the command line: `harmoniq --help` and a few `harmoniq CMD --help`.

Each figure is the median wall time of N fresh processes (the installed `harmoniq` entry
point next to this Python). Run: python benchmarks/bench_cli.py [N]   (prints a Markdown table
for BENCHMARKS.md)
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

COMMANDS = ([], ["run"], ["recon"], ["seq", "build"], ["fit", "t1-ir"], ["compare"])
TARGET_S = 0.3  # `harmoniq --help` must answer within this on the project's machine


def median_wall_s(argv: list[str], runs: int) -> float:
    """Median wall time (s) of ``runs`` fresh processes ``argv``."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 21
    entry = Path(sys.executable).with_name("harmoniq")
    cpu = subprocess.run(["sh", "-c", "lscpu | sed -n 's/Model name: *//p'"], capture_output=True, text=True).stdout
    load = os.getloadavg()[0]
    print(f"machine: {cpu.strip() or platform.processor()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, date {date.today()}, load {load:.1f}; median of {runs} runs\n")
    print("| command | wall time (s) |")
    print("|---|---|")
    for args in COMMANDS:
        seconds = median_wall_s([str(entry), *args, "--help"], runs)
        print(f"| `harmoniq {' '.join([*args, '--help'])}` | {seconds:.3f} |")
    python_only = median_wall_s([sys.executable, "-c", "pass"], runs)
    print(f"\nPython itself (`python -c pass`): {python_only:.3f} s; target for `harmoniq --help`: < {TARGET_S} s")


if __name__ == "__main__":
    main()
