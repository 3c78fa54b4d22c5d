"""Wall time of the README's main job and of a 20-dataset study batch with 1 and 2 Dask workers.

Run: python benchmarks/bench_pipeline.py   (about 8 minutes on 2 cores; prints Markdown)
"""

from __future__ import annotations

import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

SCANNERS = ["siemens-prisma-3t", "ge-premier-3t", "philips-ingenia-elition-3t"]


def study_file(folder: Path, n: int = 20) -> Path:
    rows = []
    for i in range(n):
        rows.append(f'[[dataset]]\nsite = "site-{i:02d}"\nsubject = "nist"\nprotocol = "gre-demo"\n'
                    f'scanner = "{SCANNERS[i % 3]}"\nseed = {i}\n')
    path = folder / "study.toml"
    path.write_text('name = "bench"\n' + "\n".join(rows))
    return path


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    cpu = subprocess.run(["sh", "-c", "lscpu | sed -n 's/Model name: *//p'"], capture_output=True, text=True).stdout.strip()
    print(f"machine: {cpu or platform.processor()}, {subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()} cores, "
          f"Python {platform.python_version()}, date {date.today()}\n")
    harmoniq = [sys.executable, "-m", "harmoniq.cli"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        main_job = timed([*harmoniq, "compare", "t1-irse,t2-se", "--scanners", "3t", "--no-ablation", "-o",
                          str(tmp / "compare")])
        again = timed([*harmoniq, "compare", "t1-irse,t2-se", "--scanners", "3t", "--no-ablation", "-o",
                       str(tmp / "compare")])
        study = study_file(tmp)
        one = timed([*harmoniq, "batch", str(study), "--workers", "1", "-o", str(tmp / "b1")])
        two = timed([*harmoniq, "batch", str(study), "--workers", "2", "-o", str(tmp / "b2")])
        shutil.rmtree(tmp / "b1")
    print("| job | wall time (s) |\n|---|---|")
    print(f"| README main job: `harmoniq compare t1-irse,t2-se --scanners 3t --no-ablation` (12 simulated runs, matrix 64) | {main_job:.1f} |")
    print(f"| the same again (every stage up to date) | {again:.1f} |")
    print(f"| 20-dataset batch (gre-demo on three 3 T models), 1 worker | {one:.1f} |")
    print(f"| the same, 2 workers | {two:.1f} (speed-up {one / two:.2f}x) |")


if __name__ == "__main__":
    main()
