"""``History``: the per-epoch record that ``fit`` returns."""

from __future__ import annotations

from typing import Any

from .callbacks import Callback

__all__ = ["History"]


class History(Callback):
    """Records every epoch's logs. ``fit`` adds one to its callbacks and returns it.

    Attributes:
        history: ``{'loss': [...], 'accuracy': [...], 'val_loss': [...], ...}``, one value
            per epoch.
        epoch: the (0-based) epoch numbers recorded.
        params: ``{'epochs', 'steps', 'verbose'}`` of the ``fit`` call.
    """

    def __init__(self) -> None:
        super().__init__()
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.history, self.epoch = {}, []

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)

    def plot(self, path: str | None = None, **kwargs: Any) -> Any:
        """Plot the loss and metric curves with ``ember.viz.plot_history`` (saved to
        ``path`` when given)."""
        from .. import viz  # imported here: plotting is optional

        return viz.plot_history(self, path, **kwargs)

    def __repr__(self) -> str:
        keys = ", ".join(self.history)
        return f"History(epochs={len(self.epoch)}, keys=[{keys}])"
