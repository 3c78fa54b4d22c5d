"""A HarmoniqError ends a command with one line on stderr and exit 2, nothing after it."""

import subprocess
import sys

# A command that leaves a file open (its ResourceWarning would print when the file is
# freed) and then fails; -W default shows every warning that is not silenced on purpose.
FAILING = """
import sys
import click
from harmoniq.cli import main
from harmoniq.errors import HarmoniqError

@main.command("leaky")
def leaky():
    handle = open(sys.argv[1], "rb")
    raise HarmoniqError(f"{handle.name}: not a valid input; give a .seq file")

main(["leaky"])
"""


def _run(*args, **kwargs):
    return subprocess.run([sys.executable, "-W", "default", *args], capture_output=True, text=True, timeout=120,
                          **kwargs)


def test_one_line_and_no_warning_after_it(tmp_path):
    target = tmp_path / "input.bin"
    target.write_bytes(b"x")
    result = _run("-c", FAILING, str(target))
    assert result.returncode == 2
    assert result.stderr == f"error: {target}: not a valid input; give a .seq file\n"
    assert result.stdout == ""


def test_an_unknown_protocol_is_one_line(tmp_path):
    result = _run("-m", "harmoniq.cli", "seq", "build", "no-such-protocol", "-o", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")
    assert "gre-demo" in result.stderr  # names what would be valid
    assert list(tmp_path.iterdir()) == []


def test_usage_errors_keep_exit_2():
    result = _run("-m", "harmoniq.cli", "recon", "raw.h5", "--method", "magic", "-o", "x.nii.gz")
    assert result.returncode == 2
    assert "Invalid value for '--method'" in result.stderr
