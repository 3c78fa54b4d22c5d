"""`harmoniq simulate`: any .seq file works; bad input gets one clear error and leaves no file."""

import ismrmrd
import numpy as np
import pytest
from click.testing import CliRunner
from sim_sequences import example_gre, radial_gre

from harmoniq.cli import main
from harmoniq.errors import HarmoniqError
from harmoniq.simulation import simulate
from harmoniq.simulation.simulate import check_memory, check_readouts


@pytest.fixture(scope="module")
def seq_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("seq")
    files = {}
    for name, seq in (("gre", example_gre(n=16)), ("radial", radial_gre(n=16, spokes=8))):
        files[name] = folder / f"{name}.seq"
        seq.write(str(files[name]))
    return files


def _run(*args):
    return CliRunner().invoke(main, ["simulate", *map(str, args)])


@pytest.mark.parametrize("name", ["gre", "radial"])
def test_cli_simulates_example_style_and_non_cartesian_files(seq_files, tmp_path, name):
    out = tmp_path / f"{name}.h5"
    result = _run(seq_files[name], "--phantom", "shepp-logan", "--scanner", "siemens-prisma-3t", "--matrix", 16,
                  "--seed", 2, "-o", out)
    assert result.exit_code == 0, result.output
    with ismrmrd.Dataset(str(out), "dataset", create_if_needed=False) as file:
        n = file.number_of_acquisitions()
        last = file.read_acquisition(n - 1)
    assert n == 16 + (16 if name == "gre" else 8)
    assert last.data.shape == (20, 16) and np.isfinite(last.data).all() and np.abs(last.data).max() > 0


@pytest.mark.parametrize("args, message", [
    (["--phantom", "no-such-phantom", "--scanner", "ge-premier-3t"], "no-such-phantom"),
    (["--phantom", "shepp-logan", "--scanner", "no-such-scanner"], "no-such-scanner"),
    (["--phantom", "shepp-logan", "--scanner", "ge-premier-3t", "--matrix", 10_000_000], "--matrix"),
])
def test_bad_input_gives_one_line_and_no_file(seq_files, tmp_path, args, message):
    out = tmp_path / "out.h5"
    result = _run(seq_files["gre"], *args, "-o", out)
    assert result.exit_code == 2
    assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_unreadable_seq_file(tmp_path):
    bad = tmp_path / "bad.seq"
    bad.write_text("[VERSION]\nmajor 1\nminor 4\n[BLOCKS]\n1 1 2 3\n")
    out = tmp_path / "out.h5"
    result = _run(bad, "--phantom", "shepp-logan", "--scanner", "ge-premier-3t", "-o", out)
    assert result.exit_code == 2 and "bad.seq" in result.output
    assert not out.exists()
    with pytest.raises(HarmoniqError, match="no such .seq file"):
        simulate(tmp_path / "missing.seq", "shepp-logan", "ge-premier-3t")


def test_memory_check_names_the_matrix():
    with pytest.raises(HarmoniqError, match="smaller --matrix"):
        check_memory(10**12, 20)
    check_memory(64 * 64, 20)


def test_readouts_are_checked_before_the_sequence_is_compiled(monkeypatch):
    from harmoniq import memory
    from harmoniq.protocols import load_protocol
    from harmoniq.sequences.export import build

    seq = build(load_protocol("gre-demo")).seq  # 64 readouts of 64 samples
    check_readouts(seq, 16, "gre-demo")
    monkeypatch.setattr(memory, "available_bytes", lambda: 1_000_000)  # 0.5 MB usable < 4096 x (8 x 16 + 96) B
    with pytest.raises(HarmoniqError, match=r"^gre-demo: 4096 ADC samples needs about .* are available; use a sequence with fewer"):
        check_readouts(seq, 16, "gre-demo")
