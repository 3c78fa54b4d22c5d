"""One progress bar per command, the running stage in its postfix; none when stderr is not a terminal."""

import fcntl
import io
import os
import pty
import re
import struct
import subprocess
import sys
import termios

import pytest

from harmoniq.progress import Progress, counter, step

RUN = ["-m", "harmoniq.cli", "run", "t2-se", "--phantom", "shepp-logan", "--scanner", "siemens-prisma-3t",
       "--matrix", "16", "--no-noise"]


def _on_terminal(args: list[str], cwd) -> str:
    """stderr of ``python args`` written to a pseudo-terminal (as a user sees it)."""
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))  # 50 rows, 200 columns
    process = subprocess.Popen([sys.executable, *args], stdout=subprocess.DEVNULL, stderr=terminal, cwd=cwd)
    os.close(terminal)
    chunks = []
    while True:
        try:
            data = os.read(controller, 65536)
        except OSError:  # the command closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    assert process.wait(timeout=300) == 0
    os.close(controller)
    return b"".join(chunks).decode()


def test_run_draws_one_bar_with_stage_detail(tmp_path):
    screen = _on_terminal([*RUN, "-o", "out"], tmp_path)
    states = [s.strip() for s in re.split(r"[\r\n]", re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", screen)) if s.strip()]
    assert states and all(s.startswith("run t2-se:") for s in states), states
    assert "1/1" in states[-1]
    for stage in ("t2-se: seq", "t2-se: simulate", "simulate ", "t2-se: recon, recon (fft)", "t2-se: fit"):
        assert any(stage in s for s in states), stage


def test_no_bar_when_stderr_is_not_a_terminal(tmp_path):
    result = subprocess.run([sys.executable, *RUN, "-o", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and result.stderr == ""


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_stage_counts_land_in_the_command_bar(monkeypatch):
    monkeypatch.setattr(sys, "stderr", _Terminal())
    progress = Progress(2, "demo")
    work = counter(progress, 200, "simulate", "event")
    work.update(100)
    assert progress.bar.postfix == "simulate 50 % of 200 event"
    progress.note("a: recon")
    work = counter(progress, 4, "recon (fft)", "frame")
    work.update(1)
    assert progress.bar.postfix == "a: recon, recon (fft) 25 % of 4 frame"
    step(progress, "a")
    assert progress.bar.n == 1 and progress.bar.postfix == "a done"
    progress.close()


@pytest.mark.parametrize("progress", [None, False])
def test_silent_counters(progress):
    work = counter(progress, 10, "recon", "frame")
    work.update(3)
    work.close()
    step(progress, "nothing to count")
