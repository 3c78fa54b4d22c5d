"""The wheel ships every package and the shipped data (protocols, scanner profiles)."""

import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_is_listed_in_pyproject():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for p in (ROOT / "harmoniq").rglob("__init__.py")
        if "__pycache__" not in p.parts
    }
    found.add("harmoniq.protocol_library")
    assert found == listed
