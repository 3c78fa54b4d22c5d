"""All-or-nothing file output: every writer of the package goes through :func:`output_files`.

The rule, for a group of target files written by one stage (``seq``, ``simulate``, ``recon``,
``fit``, ...):

1. Each target is first written to a hidden temporary file in its own folder, named
   ``.<target name>.hqtmp-<pid>-<random><format suffix>`` (the format suffix, e.g. ``.nii.gz``,
   lets writers such as nibabel pick the format from the name).
2. Only when the whole block succeeds are ALL targets committed, by rename. If anything fails
   (an exception, a full disk, a rename), every temporary file is removed and every target is
   left exactly as it was: the group is committed all or nothing.
3. Temporary files of the same targets left behind by a killed earlier run (their process id
   no longer runs on this machine) are removed when the next run starts; a target moved aside
   during a commit that was killed half-way is put back.
4. An existing target is replaced only when this stage wrote it: a JSON sidecar records the
   stage that wrote it under the key ``HarmoniqStage`` (see :func:`sidecar_text`); a data file
   is ours when its sidecar (same name, ``.json``) records the stage, or, for an ISMRMRD
   ``.h5`` file, when its header's user parameter ``HarmoniqStage`` does. Anything else (a
   user's file, another command's output) is replaced only with ``force=True``.
5. Every ``OSError`` while writing (no space left, read-only file system, no permission, ...)
   becomes one :class:`~harmoniq.errors.HarmoniqError` line naming the target and what would
   help.

>>> with output_files("out/a.nii.gz", "out/a.json", stage="recon") as (image, side):  # doctest: +SKIP
...     nib.save(img, image)
...     side.write_text(sidecar_text(meta, "recon"))
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

from harmoniq.errors import HarmoniqError

STAGE_KEY = "HarmoniqStage"
"""Sidecar (and ISMRMRD user parameter) key naming the stage that wrote a file."""

_TEMP_TAG = "hqtmp"
_ASIDE_TAG = "hqold"
_HINTS = {
    errno.ENOSPC: "free some space there or choose another output folder",
    errno.EDQUOT: "the disk quota is exhausted; free some space or choose another output folder",
    errno.EROFS: "the file system is read-only; choose a writable output folder",
    errno.EACCES: "you may not write there; choose a folder you can write to",
    errno.EPERM: "you may not write there; choose a folder you can write to",
    errno.EISDIR: "a folder has that name; give a file name",
    errno.ENOTDIR: "part of the path is a file, not a folder; choose another output path",
    errno.ENAMETOOLONG: "the name is too long; choose a shorter output path",
}


def format_suffix(path: Path) -> str:
    """The suffix a writer chooses the format from: ``.nii.gz`` or the last suffix."""
    return ".nii.gz" if path.name.endswith(".nii.gz") else path.suffix


def sidecar_of(path: Path) -> Path:
    """The JSON sidecar beside a data file (``x.nii.gz`` -> ``x.json``)."""
    path = Path(path)
    return path.with_name(path.name[: len(path.name) - len(format_suffix(path))] + ".json")


def sidecar_text(meta: dict, stage: str) -> str:
    """JSON text of a sidecar (sorted keys, LF) that records ``stage`` under :data:`STAGE_KEY`."""
    return json.dumps({**meta, STAGE_KEY: stage}, indent=2, sort_keys=True) + "\n"


def written_by(path: Path) -> str | None:
    """The stage recorded in ``path`` (a JSON sidecar), in its sidecar, or in its ISMRMRD header."""
    path = Path(path)
    if path.suffix == ".json":
        try:
            meta = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return meta.get(STAGE_KEY) if isinstance(meta, dict) else None
    side = sidecar_of(path)
    if side.is_file():
        return written_by(side)
    if path.suffix == ".h5":
        return _ismrmrd_stage(path)
    return None


def _ismrmrd_stage(path: Path) -> str | None:
    """The ``HarmoniqStage`` user parameter of an ISMRMRD file's header, if any."""
    import xml.etree.ElementTree as ET

    import h5py

    try:
        with h5py.File(path, "r") as file:
            headers = [file[name]["xml"][()] for name in file if isinstance(file[name], h5py.Group) and "xml" in file[name]]
        for raw in headers:
            raw = raw[0] if hasattr(raw, "shape") and raw.shape else raw
            root = ET.fromstring(raw.decode() if isinstance(raw, bytes) else str(raw))
            for param in root.iter():
                if param.tag.endswith("userParameterString"):
                    fields = {child.tag.split("}")[-1]: child.text for child in param}
                    if fields.get("name") == STAGE_KEY:
                        return fields.get("value")
    except (OSError, ValueError, KeyError, ET.ParseError):
        return None
    return None


def os_error(exc: OSError, target: Path) -> HarmoniqError:
    """One-line :class:`HarmoniqError` for an ``OSError`` met while writing ``target``."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    hint = _HINTS.get(exc.errno, "check the output folder")
    return HarmoniqError(f"cannot write {target}: {reason}; {hint}")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _leftovers(target: Path, tag: str) -> Iterator[Path]:
    """Hidden files ``.<target name>.<tag>-<pid>-...`` whose process no longer runs."""
    pattern = re.compile(re.escape(f".{target.name}.{tag}-") + r"(\d+)-[0-9a-f]+")
    try:
        names = os.listdir(target.parent)
    except OSError:
        return
    for name in names:
        match = pattern.match(name)
        if match and int(match.group(1)) != os.getpid() and not _pid_alive(int(match.group(1))):
            yield target.parent / name


def remove_stale(target: Path) -> None:
    """Remove temporary files of ``target`` left by a killed run; restore a target moved aside."""
    for aside in _leftovers(target, _ASIDE_TAG):
        if target.exists():
            aside.unlink()
        else:
            os.replace(aside, target)
    for temp in _leftovers(target, _TEMP_TAG):
        temp.unlink()


def _hidden_name(target: Path, tag: str) -> Path:
    return target.with_name(f".{target.name}.{tag}-{os.getpid()}-{secrets.token_hex(4)}{format_suffix(target)}")


def check_targets(*targets: str | os.PathLike, stage: str | None, force: bool = False) -> None:
    """Remove stale temps of ``targets``; raise :class:`HarmoniqError` if one may not be written.

    Call it before long work so that a refused output is reported first; :func:`output_files`
    calls it again.
    """
    for target in map(Path, targets):
        try:
            remove_stale(target)
        except OSError as exc:
            raise os_error(exc, target) from exc
        if target.is_dir():
            raise HarmoniqError(f"cannot write {target}: a folder has that name; give a file name")
        if force or stage is None or not target.exists():
            continue
        found = written_by(target)
        if found != stage:
            origin = "another file" if found is None else f"the output of '{found}'"
            raise HarmoniqError(
                f"{target} exists and is {origin}, not of '{stage}'; choose another output name or use --force to replace it"
            )


def _check_stamp(temp: Path, target: Path, stage: str | None) -> None:
    """A JSON target must record the stage that wrote it (rule 4); a writer forgetting it is a bug."""
    if stage is not None and target.suffix == ".json" and written_by(temp) != stage:
        raise RuntimeError(f"{target}: sidecar written without {STAGE_KEY}={stage!r}; use sidecar_text()")


def _commit(pairs: list[tuple[Path, Path]]) -> None:
    """Rename every temp onto its target; on a failure undo the renames already done."""
    done: list[tuple[Path, Path | None]] = []
    try:
        for temp, target in pairs:
            aside = None
            if target.exists():
                aside = _hidden_name(target, _ASIDE_TAG)
                os.replace(target, aside)
            done.append((target, aside))
            os.replace(temp, target)
    except BaseException:
        for target, aside in reversed(done):
            if aside is not None:
                os.replace(aside, target)
            elif target.exists():
                target.unlink()
        raise
    for _, aside in done:
        if aside is not None:
            aside.unlink()


@contextlib.contextmanager
def output_files(*targets: str | os.PathLike, stage: str | None, force: bool = False) -> Iterator[list[Path]]:
    """Yield one temporary path per target; commit them all by rename when the block succeeds.

    stage: the kind of command writing (``"seq"``, ``"simulate"``, ``"recon"``, ``"fit"``);
    an existing target is replaced only if that stage wrote it, or with ``force``.
    ``stage=None`` replaces any existing file (for reports and tables that carry no sidecar).
    Raises :class:`HarmoniqError` for every ``OSError`` and for a refused replacement; on any
    error no target is changed and no temporary file is left.
    """
    paths = [Path(t) for t in targets]
    if len(set(paths)) != len(paths):
        raise ValueError(f"output_files: the same target is given twice: {[str(p) for p in paths]}")
    temps: list[Path] = []
    current = paths[0] if paths else Path(".")
    try:
        check_targets(*paths, stage=stage, force=force)
        for target in paths:
            current = target
            target.parent.mkdir(parents=True, exist_ok=True)
        umask = os.umask(0)
        os.umask(umask)
        for target in paths:
            current = target
            temp = _hidden_name(target, _TEMP_TAG)
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666 & ~umask)
            os.close(fd)
            temps.append(temp)
        try:
            yield list(temps)
        except OSError as exc:
            raise os_error(exc, _target_of(exc, temps, paths)) from exc
        for temp, target in zip(temps, paths):
            _check_stamp(temp, target, stage)
        _commit(list(zip(temps, paths)))
    except OSError as exc:
        raise os_error(exc, _target_of(exc, temps, paths, current)) from exc
    finally:
        for temp in temps:
            with contextlib.suppress(OSError):
                temp.unlink()


def _target_of(exc: OSError, temps: list[Path], targets: list[Path], default: Path | None = None) -> Path:
    """The target an ``OSError`` concerns (by the file name it carries), else ``default``."""
    for name in (exc.filename, getattr(exc, "filename2", None)):
        if name is None:
            continue
        for temp, target in zip(temps, targets):
            if Path(name) == temp:
                return target
        for target in targets:
            if Path(name) == target:
                return target
    return default or (targets[0] if targets else Path(str(exc.filename or ".")))


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield one temporary path for ``target`` (no sidecar; any existing file is replaced).

    ``suffix`` is accepted for older callers and ignored: the temporary name always ends with
    the target's format suffix.
    """
    del suffix
    with output_files(target, stage=None) as (temp,):
        yield temp


def write_bytes_atomic(target: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``target`` atomically (any existing file is replaced)."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(target: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8, LF line endings) to ``target`` atomically (any existing file is replaced)."""
    write_bytes_atomic(target, text.encode("utf-8"))
