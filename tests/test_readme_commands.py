"""The README's tour runs as written: every `harmoniq ...` line of its ```bash blocks, in order.

The commands run in one temporary folder, in README order, so each finds the files the earlier
ones wrote; the folder holds a link to the checkout's ``examples/`` (the tour runs from a
checkout). ``--matrix N`` above ``HARMONIQ_README_MATRIX`` (default 64, the smallest matrix
on which the NIST spheres keep non-empty ROIs) is lowered to it, so the tour runs in minutes;
set the variable to a larger value to run the tour at the README's own matrices. The
install line at the top (the README's main job, ``compare`` at full size) is not part of the tour.
"""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]
MATRIX = int(os.environ.get("HARMONIQ_README_MATRIX", "64"))


def readme_commands(text: str) -> list[list[str]]:
    """Argument lists of the lines of ```bash blocks that start with `harmoniq `, comments removed."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            if line.startswith("harmoniq "):
                commands.append(shlex.split(line, comments=True))
    return commands


def at_test_matrix(args: list[str]) -> list[str]:
    """``args`` with a ``--matrix`` above MATRIX lowered to it."""
    out = list(args)
    for i, arg in enumerate(out[:-1]):
        if arg == "--matrix" and int(out[i + 1]) > MATRIX:
            out[i + 1] = str(MATRIX)
    return out


def test_the_parser_finds_the_tour():
    commands = readme_commands((ROOT / "README.md").read_text())
    assert [c[1] for c in commands[:2]] == ["protocols", "profiles"]
    assert {c[1] for c in commands} >= {"seq", "simulate", "recon", "fit", "run", "compare", "batch"}
    assert at_test_matrix(["simulate", "--matrix", "128"]) == ["simulate", "--matrix", str(min(128, MATRIX))]


def test_every_tour_command_exits_0(tmp_path):
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    for args in readme_commands((ROOT / "README.md").read_text()):
        result = subprocess.run([sys.executable, "-m", "harmoniq.cli", *at_test_matrix(args[1:])], cwd=tmp_path,
                                capture_output=True, text=True, timeout=1200)
        assert result.returncode == 0, f"{shlex.join(args)}\n{result.stderr[-2000:]}"
    assert (tmp_path / "maps" / "t2-se_T2map.nii.gz").is_file()
    assert (tmp_path / "run" / "derivatives" / "harmoniq" / "sub-nist" / "ses-siemensprisma3t" / "fmap"
            / "sub-nist_ses-siemensprisma3t_acq-b1dam_TB1map.nii.gz").is_file()
    assert (tmp_path / "compare" / "report.html").is_file()
    assert (tmp_path / "study" / "derivatives" / "harmoniq" / "metrics.tsv").is_file()
