"""The files that make a folder a BIDS dataset: ``dataset_description.json``, ``README``,
``.bidsignore``, BIDS URIs for ``Sources``, and tables as TSV with a JSON data dictionary.

The raw dataset (``ROOT``) holds the reconstructed file collections; the derivatives dataset
(``ROOT/derivatives/harmoniq``) holds the maps and tables and links back to ``ROOT`` under the
name ``raw`` (``DatasetLinks``), so a map's ``Sources`` read ``bids:raw:sub-.../anat/...``
(BIDS 1.10, "Common principles > BIDS URI").
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from harmoniq import __version__
from harmoniq.atomic import write_text_atomic
from harmoniq.bids.layout import BIDS_VERSION, DERIVATIVES
from harmoniq.errors import HarmoniqError
from harmoniq.models import BS_SUFFIX, UNNAMED_MAP_SUFFIX

DESCRIPTION = "dataset_description.json"
RAW_LINK = "raw"
GENERATED_BY = {"Name": "harmoniq", "Version": __version__,
                "Description": "Pulseq sequences, simulated or site raw data, offline reconstruction and qMRI fits"}
#: what the raw dataset holds that BIDS has no name for: the comparison report and its plots, and the
#: Bloch-Siegert images (harmoniq.models.BS_SUFFIX)
RAW_IGNORED = ("/report.html", "/*.png", f"*_{BS_SUFFIX}.*")
#: what the derivatives dataset holds that BIDS has no name for: fit coefficients and residuals
#: without a qMRI suffix, and the study's ROI table (BIDS names no group-level table)
DERIVATIVE_IGNORED = (f"*_{UNNAMED_MAP_SUFFIX}.*", "/metrics.tsv", "/metrics.json")
_README = """This folder is a BIDS dataset written by harmoniq {version}.

sub-<subject>/ses-<session>/anat|fmap/: reconstructed images, one file per inversion time, echo time or flip
angle (BIDS qMRI file collections). sourcedata/: the Pulseq .seq files, ISMRMRD raw data and the record of each
pipeline stage. derivatives/harmoniq/: the fitted quantitative maps (a BIDS derivatives dataset) and the ROI table.
"""


def write_dataset_files(root: str | Path, name: str) -> None:
    """Write (or refresh) the description, README and .bidsignore of the raw dataset at ``root``
    and of its derivatives dataset."""
    root = Path(root)
    deriv = root / DERIVATIVES
    raw = {"Name": name, "BIDSVersion": BIDS_VERSION, "DatasetType": "raw", "GeneratedBy": [GENERATED_BY]}
    derived = {"Name": f"{name}: quantitative maps", "BIDSVersion": BIDS_VERSION, "DatasetType": "derivative",
               "GeneratedBy": [GENERATED_BY], "SourceDatasets": [{"URL": f"bids:{RAW_LINK}:"}],
               "DatasetLinks": {RAW_LINK: "../../"}}
    for folder, description, ignored in ((root, raw, RAW_IGNORED), (deriv, derived, DERIVATIVE_IGNORED)):
        folder.mkdir(parents=True, exist_ok=True)
        _write_if_changed(folder / DESCRIPTION, json.dumps(description, indent=2) + "\n")
        _write_if_changed(folder / "README", _README.format(version=__version__))
        _write_if_changed(folder / ".bidsignore", "\n".join(ignored) + "\n")


def _write_if_changed(path: Path, text: str) -> None:
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        write_text_atomic(path, text)


def dataset_root(path: str | Path) -> Path | None:
    """The nearest folder above ``path`` holding a ``dataset_description.json`` (None when there is none)."""
    for folder in Path(path).resolve().parents:
        if (folder / DESCRIPTION).is_file():
            return folder
    return None


def bids_uri(path: str | Path, dataset: Path) -> str | None:
    """The BIDS URI of ``path`` seen from the derivatives dataset ``dataset``: ``bids::...`` inside
    it, ``bids:raw:...`` inside the raw dataset it links to, None outside both."""
    path, dataset = Path(path).resolve(), Path(dataset).resolve()
    if dataset in path.parents:
        return f"bids::{path.relative_to(dataset).as_posix()}"
    raw = (dataset / "../..").resolve()
    if raw in path.parents and (raw / DESCRIPTION).is_file():
        return f"bids:{RAW_LINK}:{path.relative_to(raw).as_posix()}"
    return None


def write_table(path: str | Path, columns: dict[str, dict], rows: list[list]) -> tuple[Path, Path]:
    """A TSV table (``n/a`` for missing values) and its JSON data dictionary (BIDS 1.10, "Common
    principles > Tabular files"): ``columns`` maps each column to its ``Description`` (and ``Units``)."""
    path = Path(path)
    if path.suffix != ".tsv":
        raise HarmoniqError(f"{path}: a table is written as .tsv")
    text = io.StringIO()
    writer = csv.writer(text, delimiter="\t", lineterminator="\n")
    writer.writerow(list(columns))
    for row in rows:
        if len(row) != len(columns):
            raise HarmoniqError(f"{path}: a row has {len(row)} values for {len(columns)} columns")
        writer.writerow(["n/a" if v is None or v == "" else v for v in row])
    dictionary = path.with_suffix(".json")
    write_text_atomic(path, text.getvalue())
    write_text_atomic(dictionary, json.dumps(columns, indent=2) + "\n")
    return path, dictionary
