"""Where one acquisition's files go in a BIDS dataset, and how a file collection is named.

One output folder ``ROOT`` is a BIDS raw dataset with a derivatives dataset inside it::

    ROOT/sub-<subject>/ses-<session>/<datatype>/sub-<s>_ses-<t>_acq-<a>[_<entity>-<k>]_<suffix>.nii.gz
    ROOT/sourcedata/sub-<subject>/ses-<session>/<protocol>/   the .seq, raw data and stage records
    ROOT/derivatives/harmoniq/sub-<subject>/ses-<session>/<datatype>/sub-<s>_ses-<t>_acq-<a>_<map>.nii.gz

A series of several contrasts is a BIDS file collection (BIDS 1.10, appendix "File
collections"): one file per value of its ``inv``, ``echo`` or ``flip`` entity, numbered from 1,
each sidecar with that file's scalar ``InversionTime``, ``EchoTime`` or ``FlipAngle``. The two
files of actual flip-angle imaging carry their index in the ``acq`` label instead, which BIDS
asks to begin with ``tr1`` or ``tr2`` (same appendix, "TB1AFI specific notes"):
``sub-<s>_ses-<t>_acq-tr1<a>_TB1AFI.nii.gz``.
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
ACQ_INDEX = "tr"
"""The collection ``entity`` whose index leads the ``acq`` label (``acq-tr1<a>``, TB1AFI)."""
#: ``..._acq-tr<index><a>[_<entity>-<label>...]_<suffix>.nii.gz``: one file of such a collection
_ACQ_INDEXED_FILE = re.compile(r"^(?P<head>.+_acq-)tr(?P<index>[0-9]+)(?P<rest>[0-9a-zA-Z]*(_[a-z]+-[0-9a-zA-Z]+)*)"
                               r"_(?P<suffix>TB1AFI)\.nii(\.gz)?$")


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
    """``<prefix>_<entity>-<index>_<suffix>.nii.gz`` (no entity for a single file); for
    ``entity`` :data:`ACQ_INDEX` the index leads the prefix's acq label (``acq-tr<index><a>``)."""
    if entity == ACQ_INDEX:
        head, acq, rest = prefix.partition("_acq-")
        return f"{head}_acq-tr{index}{rest}_{suffix}.nii.gz" if acq else f"{prefix}_acq-tr{index}_{suffix}.nii.gz"
    return f"{prefix}_{entity}-{index}_{suffix}.nii.gz" if entity else f"{prefix}_{suffix}.nii.gz"


def _collection_key(name: str) -> tuple[tuple, int, str, str] | None:
    """(what the files of its collection share, its index, their glob pattern, the shared stem)
    of a collection file's name; None for a file outside any collection."""
    match = _COLLECTION_FILE.match(name)
    if match:
        stem, entity, suffix = match["stem"], match["entity"], match["suffix"]
        return (stem, entity, suffix), int(match["index"]), f"{stem}_{entity}-*_{suffix}.nii*", stem
    match = _ACQ_INDEXED_FILE.match(name)
    if match:
        head, rest, suffix = match["head"], match["rest"], match["suffix"]
        stem = head + rest if rest and not rest.startswith("_") else head[: -len("_acq-")] + rest
        return (head, rest, suffix), int(match["index"]), f"{head}tr*{rest}_{suffix}.nii*", stem
    return None


def collection_files(path: str | Path) -> list[Path]:
    """Every file of the collection ``path`` belongs to, in index order (``[path]`` when it belongs to none)."""
    path = Path(path)
    key = _collection_key(path.name)
    if key is None:
        return [path]
    shared, _, pattern, _ = key
    found = {}
    for sibling in path.parent.glob(pattern):
        other = _collection_key(sibling.name)
        if other and other[0] == shared:
            if other[1] in found:
                raise HarmoniqError(f"{sibling}: index {other[1]} appears twice in the collection of {path.name}")
            found[other[1]] = sibling
    return [found[k] for k in sorted(found)]


def collection_stem(path: str | Path) -> str:
    """The entities a collection's files share (``sub-1_ses-a_acq-b``), else the name without ``.nii.gz``;
    a ``part`` entity is left out (the maps of a ``part-phase`` file belong to the acquisition)."""
    name = Path(path).name
    key = _collection_key(name)
    if key:
        return key[3]
    stem = name[: -len(".nii.gz")] if name.endswith(".nii.gz") else Path(name).stem
    bids = re.match(r"^(?P<stem>sub-[0-9a-zA-Z]+(_[a-z]+-[0-9a-zA-Z]+)*)_[A-Za-z0-9]+$", stem)
    return re.sub(r"_part-[0-9a-zA-Z]+", "", bids["stem"]) if bids else stem
