"""Where one acquisition's files go in a BIDS dataset, and how a file collection is named.

One output folder ``ROOT`` is a BIDS raw dataset with a derivatives dataset inside it::

    ROOT/sub-<subject>/ses-<session>/<datatype>/sub-<s>_ses-<t>_acq-<a>[_<entity>-<k>]_<suffix>.nii.gz
    ROOT/sourcedata/sub-<subject>/ses-<session>/<protocol>/   the .seq, raw data and stage records
    ROOT/derivatives/harmoniq/sub-<subject>/ses-<session>/<datatype>/sub-<s>_ses-<t>_acq-<a>_<map>.nii.gz

A series of several contrasts is a BIDS file collection (BIDS 1.10, appendix "File
collections"): one file per value of its ``inv``, ``echo`` or ``flip`` entity, numbered from 1,
each sidecar with that file's scalar ``InversionTime``, ``EchoTime`` or ``FlipAngle``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from harmoniq.errors import HarmoniqError

BIDS_VERSION = "1.10.0"
DERIVATIVES = Path("derivatives") / "harmoniq"
SOURCEDATA = "sourcedata"
#: ``..._<entity>-<index>_<suffix>.nii.gz``: one file of a collection (entity and index, suffix)
_COLLECTION_FILE = re.compile(r"^(?P<stem>.+)_(?P<entity>inv|echo|flip)-(?P<index>[0-9]+)_(?P<suffix>[A-Za-z0-9]+)"
                              r"\.nii(\.gz)?$")


def label(text: str, what: str = "label") -> str:
    """A BIDS label from ``text``: its letters and digits (``siemens-prisma-3t`` -> ``siemensprisma3t``)."""
    out = re.sub(r"[^0-9a-zA-Z]", "", str(text))
    if not out:
        raise HarmoniqError(f"{what} {text!r} has no letter or digit; a BIDS label needs at least one")
    return out


@dataclass(frozen=True)
class Acquisition:
    """One acquisition of one subject in one session of the dataset at ``root`` (labels as given);
    ``work`` names its folder in ``sourcedata/`` (the protocol's name; the label when empty)."""

    root: Path
    subject: str
    session: str
    acquisition: str
    work: str = ""

    @property
    def prefix(self) -> str:
        """``sub-<s>_ses-<t>_acq-<a>``: the start of every file name of this acquisition."""
        return f"sub-{self.subject}_ses-{self.session}_acq-{self.acquisition}"

    @property
    def session_path(self) -> Path:
        return Path(f"sub-{self.subject}") / f"ses-{self.session}"

    def raw_folder(self, datatype: str) -> Path:
        return self.root / self.session_path / datatype

    @property
    def derivatives_root(self) -> Path:
        return self.root / DERIVATIVES

    @property
    def derivatives_folder(self) -> Path:
        """The session folder of the derivatives dataset (maps go into its datatype folders)."""
        return self.derivatives_root / self.session_path

    @property
    def work_folder(self) -> Path:
        """The acquisition's .seq, raw data and stage records (``sourcedata/``, not validated)."""
        return self.root / SOURCEDATA / self.session_path / (self.work or f"acq-{self.acquisition}")


def collection_name(prefix: str, entity: str | None, index: int, suffix: str) -> str:
    """``<prefix>_<entity>-<index>_<suffix>.nii.gz`` (no entity for a single file)."""
    return f"{prefix}_{entity}-{index}_{suffix}.nii.gz" if entity else f"{prefix}_{suffix}.nii.gz"


def collection_files(path: str | Path) -> list[Path]:
    """Every file of the collection ``path`` belongs to, in index order (``[path]`` when it belongs to none)."""
    path = Path(path)
    match = _COLLECTION_FILE.match(path.name)
    if not match:
        return [path]
    stem, entity, suffix = match["stem"], match["entity"], match["suffix"]
    found = {}
    for sibling in path.parent.glob(f"{stem}_{entity}-*_{suffix}.nii*"):
        other = _COLLECTION_FILE.match(sibling.name)
        if other and (other["stem"], other["entity"], other["suffix"]) == (stem, entity, suffix):
            index = int(other["index"])
            if index in found:
                raise HarmoniqError(f"{sibling}: {entity}-{index} appears twice in the collection of {path.name}")
            found[index] = sibling
    return [found[k] for k in sorted(found)]


def collection_stem(path: str | Path) -> str:
    """The entities a collection's files share (``sub-1_ses-a_acq-b``), else the name without ``.nii.gz``."""
    name = Path(path).name
    match = _COLLECTION_FILE.match(name)
    if match:
        return match["stem"]
    stem = name[: -len(".nii.gz")] if name.endswith(".nii.gz") else Path(name).stem
    bids = re.match(r"^(?P<stem>sub-[0-9a-zA-Z]+(_[a-z]+-[0-9a-zA-Z]+)*)_[A-Za-z0-9]+$", stem)
    return bids["stem"] if bids else stem
