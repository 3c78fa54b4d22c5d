"""One spelling per meaning across every command (walks the click tree, so new commands are covered)."""

import subprocess
import sys

import click
import pytest

from harmoniq.cli import main

#: commands that write files, and those that report (all take --json)
WRITERS = {"seq build", "phantoms show", "simulate", "recon", "run", "compare", "batch"} | {
    f"fit {m}" for m in main.commands["fit"].commands}
REPORTERS = WRITERS | {"protocols list", "protocols show", "profiles list", "profiles show", "scanners list",
                       "scanners show", "phantoms list", "seq check"}
COMPUTE = {"simulate", "recon", "run", "compare", "batch"} | {f"fit {m}" for m in main.commands["fit"].commands}


def _leaves(group: click.Group, prefix: str = ""):
    for name, command in group.commands.items():
        path = f"{prefix}{name}"
        if isinstance(command, click.Group):
            yield from _leaves(command, f"{path} ")
        else:
            yield path, command


LEAVES = dict(_leaves(main))


def _option(command: click.Command, long_name: str):
    return next((p for p in command.params if isinstance(p, click.Option) and long_name in p.opts), None)


def test_the_tables_name_real_commands():
    assert REPORTERS <= set(LEAVES)


@pytest.mark.parametrize("path", sorted(LEAVES))
def test_outputs_are_dash_o_out_only(path):
    command = LEAVES[path]
    spelled = {opt for p in command.params if isinstance(p, click.Option) for opt in p.opts}
    assert not spelled & {"--output", "--outdir", "--png", "--out-dir"}
    out = _option(command, "--out")
    assert (out is not None) == (path in WRITERS)
    if out is not None:
        assert out.opts == ["-o", "--out"]
        assert "--force" in {o for p in command.params for o in getattr(p, "opts", [])}


@pytest.mark.parametrize("path", sorted(LEAVES))
def test_json_and_device_where_they_belong(path):
    command = LEAVES[path]
    assert (_option(command, "--json") is not None) == (path in REPORTERS)
    device = _option(command, "--device")
    assert (device is not None) == (path in COMPUTE)
    if device is not None:
        assert list(device.type.choices) == ["cpu", "gpu"]


@pytest.mark.parametrize("path", ["recon", "run", "compare"])
def test_recon_options(path):
    names = {"--combination", "--filter"} | ({"--method"} if path == "recon" else set())
    for name in names:
        assert _option(LEAVES[path], name) is not None, name


def test_profiles_and_scanners_keep_one_meaning_each():
    """--profile(s) only where hardware limits are meant, --scanner(s) only for simulated scanner models."""
    profile_users = {path for path, c in LEAVES.items() if _option(c, "--profile") or _option(c, "--profiles")}
    scanner_users = {path for path, c in LEAVES.items() if _option(c, "--scanner") or _option(c, "--scanners")}
    assert profile_users == {"seq build", "seq check"}
    assert scanner_users == {"simulate", "run", "compare"}
    for path in scanner_users:
        option = _option(LEAVES[path], "--scanner") or _option(LEAVES[path], "--scanners")
        assert "harmoniq scanners list" in option.help


@pytest.mark.parametrize("args, words", [
    (["nosuch"], "No such command 'nosuch'."),
    (["seq", "check"], "seq check: Missing argument 'SEQFILE'."),
    (["recon", "raw.h5", "--seq", "missing.seq", "-o", "x.nii.gz"], "recon: Invalid value for '--seq'"),
])
def test_a_usage_error_is_one_line_and_exit_2(args, words):
    result = subprocess.run([sys.executable, "-m", "harmoniq.cli", *args], capture_output=True, text=True)
    line = result.stderr
    assert result.returncode == 2 and line.count("\n") == 1 and line.startswith("error: ") and words in line, line


def test_field_strengths_and_all_name_the_site_scanners_not_the_ideal_reference():
    from harmoniq.cli.compare_cmd import scanner_names

    assert scanner_names("3t") == ["ge-premier-3t", "philips-ingenia-elition-3t", "siemens-prisma-3t"]
    assert "ideal-3t" not in scanner_names("all") and len(scanner_names("all")) == 6
    assert scanner_names("ideal-3t,siemens-prisma-3t") == ["ideal-3t", "siemens-prisma-3t"]
