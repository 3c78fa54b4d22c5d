"""`harmoniq phantoms list|show` and the catalogue functions behind them."""

from click.testing import CliRunner

from harmoniq.cli import main
from harmoniq.phantoms import describe, list_phantoms


def test_list_names_one_line_each():
    result = CliRunner().invoke(main, ["phantoms", "list"])
    assert result.exit_code == 0
    lines = result.output.strip().splitlines()
    assert [line.split()[0] for line in lines] == list_phantoms() == ["nist", "brain", "shepp-logan"]


def test_show_prints_roi_table_and_writes_png(tmp_path):
    png = tmp_path / "maps" / "nist.png"
    result = CliRunner().invoke(main, ["phantoms", "show", "nist", "--field", "1.5", "-o", str(png)])
    assert result.exit_code == 0, result.output
    rows = [line.split() for line in result.output.splitlines() if line.strip()[:1].isdigit()]
    assert len(rows) == 15  # 14 spheres of the T1 plate + water
    assert rows[0][:4] == ["1", "T1-01", "2033.000", "1669.000"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_show_3d_brain():
    result = CliRunner().invoke(main, ["phantoms", "show", "brain", "--matrix", "32", "--ndim", "3"])
    assert result.exit_code == 0, result.output
    assert "white matter" in result.output and "(32, 32, 32)" in result.output


def test_bad_input_is_one_line_and_status_2():
    for args in (["phantoms", "show", "nist", "--field", "7"], ["phantoms", "show", "skull"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2
        assert len(result.output.strip().splitlines()) == 1 and result.output.startswith("error: ")


def test_describe_documents_geometry_and_options():
    text = describe("nist")
    assert "ring of radius 60 mm" in text and "Options:" in text and "plate" in text
    assert "seed" in describe("brain")
