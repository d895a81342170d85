"""Progress reporting that does not flood logs.

On a terminal you get a live bar (tqdm's when it is installed, a plain ``\\r`` bar
otherwise) with the running loss/metrics as a postfix. Anywhere else (a CI log, a file, a
notebook capture, pytest's capsys) a bar is written as **one line when it finishes**, so
an epoch is one line of log, not hundreds. Used by ``ember.keras``'s ``fit`` and by the
PyTorch-style examples::

    for epoch in range(epochs):
        bar = ember.progress.progress(loader, desc=f"epoch {epoch + 1}/{epochs}")
        for x, y in bar:
            loss = train_step(x, y)
            bar.set_postfix(loss=loss)
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Iterable, Iterator
from typing import IO, Any

try:  # optional dependency: a nicer live bar
    import tqdm as _tqdm
except ImportError:  # pragma: no cover - exercised only without tqdm
    _tqdm = None

__all__ = ["ProgressBar", "progress", "is_terminal", "format_metrics"]


def is_terminal(file: IO | None = None) -> bool:
    """Whether ``file`` (default: the current ``sys.stdout``) is an interactive terminal."""
    file = sys.stdout if file is None else file
    try:
        return bool(file.isatty())
    except (AttributeError, ValueError):
        return False


def _has_width() -> bool:
    """False on pseudo-terminals that report 0 columns (tqdm would draw empty lines)."""
    return shutil.get_terminal_size((80, 24)).columns > 0


def _fmt_value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}" if (abs(v) >= 1e4 or (v != 0 and abs(v) < 1e-3)) else f"{v:.4f}"
    return str(v)


def format_metrics(metrics: dict[str, Any], sep: str = " - ", kv: str = ": ") -> str:
    """``{'loss': 0.1234567, 'acc': 0.9}`` -> ``'loss: 0.1235 - acc: 0.9000'``."""
    return sep.join(f"{k}{kv}{_fmt_value(v)}" for k, v in metrics.items())


def _fmt_time(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    m, s = divmod(int(seconds), 60)
    return f"{m}m{s:02d}s"


class ProgressBar:
    """A progress bar over ``total`` steps.

    Args:
        total: the number of steps (None when unknown).
        desc: a label written before the bar.
        enabled: False makes every method a no-op (e.g. ``verbose=0``).
        live: True for a live bar, False for one summary line at ``close()``; default: live
            exactly when ``file`` is a terminal.
        file: where to write; default the current ``sys.stdout`` (looked up when the bar
            is made, so pytest's ``capsys`` and redirections see it).
        unit: the name of a step, shown in the summary line.
        use_tqdm: draw the live bar with tqdm when it is installed (else a plain one).

    ``update(n, **postfix)`` advances the bar; ``set_postfix(**values)`` replaces the values
    shown after it; ``close(**postfix)`` finishes it (writing the one line when not live).
    Also a context manager.
    """

    def __init__(self, total: int | None = None, desc: str = "", enabled: bool = True,
                 live: bool | None = None, file: IO | None = None, unit: str = "it",
                 use_tqdm: bool = True) -> None:
        self.total, self.desc, self.enabled, self.unit = total, desc, enabled, unit
        self.file = sys.stdout if file is None else file
        self.live = is_terminal(self.file) if live is None else live
        self.n = 0
        self.postfix: dict[str, Any] = {}
        self.closed = False
        self._start = time.perf_counter()
        self._last_draw = 0.0
        self._drawn = 0  # length of the last live line, to blank it on redraw
        self._tqdm = None
        if self.enabled and self.live and use_tqdm and _tqdm is not None and _has_width():
            # leave=False: the live bar (truncated to the terminal's width) is replaced at
            # close() by one full summary line, so no metric is ever cut off.
            self._tqdm = _tqdm.tqdm(total=total, desc=desc or None, file=self.file,
                                    leave=False, dynamic_ncols=True, unit=unit)

    # -------------------------------------------------------------------- updates
    def update(self, n: int = 1, **postfix: Any) -> None:
        """Advance by ``n`` steps; keyword arguments update the postfix values."""
        if not self.enabled or self.closed:
            return
        self.n += n
        if postfix:
            self.postfix.update(postfix)
        if self._tqdm is not None:
            if postfix:
                self._tqdm.set_postfix_str(format_metrics(self.postfix, ", ", "="),
                                           refresh=False)
            self._tqdm.update(n)
        elif self.live:
            now = time.perf_counter()
            if now - self._last_draw > 0.1 or (self.total and self.n >= self.total):
                self._last_draw = now
                self.file.write("\r" + self._padded(self._line(bar=True)))
                self.file.flush()

    def set_postfix(self, **values: Any) -> None:
        """Replace the values shown after the bar (e.g. ``loss=0.12``)."""
        if not self.enabled or self.closed:
            return
        self.postfix = dict(values)
        if self._tqdm is not None:
            self._tqdm.set_postfix_str(format_metrics(self.postfix, ", ", "="))

    def close(self, **postfix: Any) -> None:
        """Finish the bar; when not live this writes its single summary line."""
        if not self.enabled or self.closed:
            return
        self.closed = True
        if postfix:
            self.postfix.update(postfix)
        if self._tqdm is not None:
            self._tqdm.close()
            self.file.write(self._line(bar=False) + "\n")
            self.file.flush()
            return
        line = self._line(bar=self.live)
        self.file.write(("\r" + self._padded(line) if self.live else line) + "\n")
        self.file.flush()

    @property
    def elapsed(self) -> float:
        """Seconds since the bar was created."""
        return time.perf_counter() - self._start

    # -------------------------------------------------------------------- text
    def _padded(self, line: str) -> str:
        """``line`` padded with spaces to cover a longer line drawn before it."""
        width, self._drawn = max(len(line), self._drawn), len(line)
        return line.ljust(width)

    def _line(self, bar: bool) -> str:
        parts = [self.desc] if self.desc else []
        count = f"{self.n}/{self.total}" if self.total else f"{self.n}"
        if bar and self.total:
            width = 30
            filled = min(width, int(width * self.n / self.total))
            count += " [" + "=" * filled + "." * (width - filled) + "]"
        else:
            count += f" {self.unit}" if self.unit else ""
        parts.append(count)
        parts.append(_fmt_time(self.elapsed))
        if self.postfix:
            parts.append(format_metrics(self.postfix))
        return " - ".join(parts)

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class _IterProgress(ProgressBar):
    """A ``ProgressBar`` that is also an iterable over the wrapped items."""

    def __init__(self, iterable: Iterable, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._iterable = iterable

    def __iter__(self) -> Iterator:
        try:
            for item in self._iterable:
                yield item
                self.update(1)
        finally:
            self.close()

    def __len__(self) -> int:
        return len(self._iterable)  # type: ignore[arg-type]


def progress(iterable: Iterable, total: int | None = None, desc: str = "",
             enabled: bool = True, live: bool | None = None, file: IO | None = None,
             unit: str = "it") -> _IterProgress:
    """Iterate over ``iterable`` with a progress bar (``tqdm``-like).

    The returned object yields the items and has ``set_postfix(**values)`` to show running
    numbers. ``total`` defaults to ``len(iterable)`` when it has one. ``enabled=False``
    shows nothing. See ``ProgressBar`` for ``live``/``file``.
    """
    if total is None:
        try:
            total = len(iterable)  # type: ignore[arg-type]
        except TypeError:
            total = None
    return _IterProgress(iterable, total=total, desc=desc, enabled=enabled, live=live,
                         file=file, unit=unit)
