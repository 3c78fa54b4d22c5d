"""One progress bar per command: the command's overall count, each stage's detail in its postfix.

A command creates one :class:`Progress` (total = the steps it will take, e.g. one per
pipeline run) and passes it down as the stages' ``progress`` argument. The stages count
their own work (simulated events, reconstructed frames) with :func:`counter`, mark what
runs now with :func:`note` and finished steps with :func:`step`; all three also accept
``progress=True`` (a bar of the stage's own, for calls from Python) and ``False``/``None``
(silent). Bars are drawn only when stderr is a terminal, so logs and pipes get no bar lines,
and a bar is erased when its command fails, so the error line stands alone.
"""

from __future__ import annotations


class Progress:
    """The one bar of a command: ``total`` steps; the running stage is shown after the count."""

    def __init__(self, total: int, desc: str, *, unit: str = "step"):
        from tqdm import tqdm

        self.bar = tqdm(total=total, desc=desc, unit=unit, disable=None, dynamic_ncols=True)
        self.stage = ""

    def step(self, label: str) -> None:
        """One step done; ``label`` names it."""
        self.stage = ""
        self.bar.set_postfix_str(f"{label} done", refresh=False)
        self.bar.update(1)

    def note(self, text: str) -> None:
        """Show ``text`` as the running stage."""
        self.stage = text
        self.bar.set_postfix_str(text)

    def detail(self, text: str) -> None:
        """Show ``text`` after the running stage."""
        self.bar.set_postfix_str(f"{self.stage}, {text}" if self.stage else text)

    def close(self) -> None:
        self.bar.close()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, kind, value, traceback) -> None:
        if kind is not None:
            self.bar.leave = False  # erase the bar: the error line follows alone
        self.close()


class _Detail:
    """Counts one stage's work into the postfix of the command's bar, in percent of its total."""

    def __init__(self, progress: Progress, total: int, desc: str, unit: str):
        self.progress, self.total, self.desc, self.unit = progress, total, desc, unit
        self.done = 0
        self.shown = 0
        progress.detail(f"{desc} 0 % of {total} {unit}")

    def update(self, n: int = 1) -> None:
        self.done += n
        percent = 100 * self.done // max(self.total, 1)
        if percent != self.shown:  # redraw once per percent, not once per event
            self.shown = percent
            self.progress.detail(f"{self.desc} {percent} % of {self.total} {self.unit}")

    def close(self) -> None:
        """Nothing to release: the command's bar outlives the stage."""


class _Silent:
    """Counter of a stage that reports nowhere."""

    def update(self, n: int = 1) -> None:
        """Count nothing."""

    def close(self) -> None:
        """Nothing to release."""


def counter(progress, total: int, desc: str, unit: str):
    """What a stage counts ``total`` units of work with (``update(n)``, ``close()``).

    progress: a :class:`Progress` (detail in the command's bar), True (a tqdm bar of the
    stage's own) or False/None (silent).
    """
    if isinstance(progress, Progress):
        return _Detail(progress, total, desc, unit)
    if progress is True:
        from tqdm import tqdm

        return tqdm(total=total, desc=desc, unit=unit, disable=None)
    return _Silent()


def note(progress, text: str) -> None:
    """Show ``text`` as the running stage when ``progress`` is a :class:`Progress`."""
    if isinstance(progress, Progress):
        progress.note(text)


def step(progress, label: str) -> None:
    """Count one step of the command when ``progress`` is a :class:`Progress`."""
    if isinstance(progress, Progress):
        progress.step(label)
