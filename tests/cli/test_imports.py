"""`harmoniq --help` and every `harmoniq CMD --help` load click and the name tables only."""

import json
import subprocess
import sys

HEAVY = ("numpy", "scipy", "pypulseq", "sigpy", "nibabel", "h5py", "matplotlib", "dask", "distributed", "ismrmrd",
         "tqdm", "cupy")

PROBE = """
import json, sys
from click.testing import CliRunner
from harmoniq.cli import main
helps = [[]] + [[name] for name in main.commands]
for group in ("protocols", "profiles", "scanners", "phantoms", "seq", "fit"):
    helps += [[group, sub] for sub in main.commands[group].commands]
codes = [CliRunner().invoke(main, [*args, "--help"]).exit_code for args in helps]
print(json.dumps({"codes": codes, "count": len(helps),
                  "loaded": sorted({m.split(".")[0] for m in sys.modules} & set(sys.argv[1:]))}))
"""


def test_import_loads_no_numerical_stack():
    out = subprocess.run([sys.executable, "-c", "import sys, harmoniq.cli; print(' '.join(sys.modules))"],
                         capture_output=True, text=True, check=True).stdout.split()
    assert sorted({m.split(".")[0] for m in out} & set(HEAVY)) == []


def test_every_help_page_loads_no_numerical_stack():
    result = json.loads(subprocess.run([sys.executable, "-c", PROBE, *HEAVY], capture_output=True, text=True,
                                       check=True).stdout)
    assert result["count"] == 32  # the top level, 11 commands and the 20 subcommands of the 6 groups
    assert set(result["codes"]) == {0}
    assert result["loaded"] == []
