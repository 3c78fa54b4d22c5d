"""Checks of harmoniq's files by torch-based peers (mrpro, qmrpy, MRzero).

They need the peer environment (``bash benchmarks/peers.sh``, default /tmp/bench) and run there:
``/tmp/bench/bin/pytest benchmarks/peers``. They are not part of the test command.
"""

import subprocess
import sys
from pathlib import Path

import pytest


def harmoniq(*args, cwd):
    """Run the harmoniq CLI of this environment; fail with its output."""
    result = subprocess.run([sys.executable, "-m", "harmoniq.cli", *map(str, args)], cwd=cwd,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture(scope="session")
def run_cli():
    return harmoniq


@pytest.fixture(scope="session")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("peers")
