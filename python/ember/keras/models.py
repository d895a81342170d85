"""``Sequential``: a stack of layers with Keras's ``compile`` / ``fit`` / ``evaluate`` /
``predict`` workflow, built on ``ember.nn`` and ``ember.optim``.

``fit`` is an ordinary ember training loop, written out so it can be read::

    for epoch in epochs:
        for xb, yb in shuffled batches:
            optimizer.zero_grad()
            loss = loss_fn(yb, model(xb))     # (from the logits of a final softmax/sigmoid)
            loss.backward()
            optimizer.step()
        logs = {loss, metrics, val_loss, val_metrics}; callbacks see them; History keeps them

A ``Sequential`` is an ``ember.nn.Module``: ``parameters()``, ``state_dict()``,
``to('cuda')`` and hand-written PyTorch-style loops all work on it too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from .. import io as _io
from .. import nn
from ..autograd.grad_mode import no_grad
from ..creation import randperm, tensor, zeros
from ..progress import ProgressBar, is_terminal
from ..tensor import Tensor
from . import losses as _losses
from . import metrics as _metrics
from . import optimizers as _optimizers
from .callbacks import Callback, CallbackList, History
from .layers import Embedding, InputLayer, Lambda, Layer
from .layers.base import _assign, _snake

__all__ = ["Sequential"]

Verbose = int | str


def _to_numpy(data: Any, what: str) -> np.ndarray:
    """Arrays, lists and ember tensors -> a NumPy array (ragged lists are an error)."""
    if isinstance(data, Tensor):
        return data.detach().cpu().numpy()
    if isinstance(data, np.ndarray):
        return data
    try:
        arr = np.asarray(data)
    except ValueError as e:  # ragged nested lists
        raise ValueError(f"{what}: could not make an array from the data ({e}); sequences of "
                         "different lengths need padding first (ember.keras.preprocessing."
                         "sequence.pad_sequences)") from None
    if arr.dtype == object:
        raise ValueError(f"{what}: could not make a numeric array from the data; sequences of "
                         "different lengths need padding first (pad_sequences)")
    return arr


def _resolve_verbose(verbose: Verbose) -> int:
    if verbose == "auto":
        return 1 if is_terminal() else 2
    if verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 'auto', 0, 1 or 2, got {verbose!r}")
    return int(verbose)


class Sequential(nn.Module):
    """A linear stack of layers, trained with ``compile`` + ``fit`` (Keras's API).

    Args:
        layers: the layers, in order (``ember.keras.layers`` layers, an ``Input(shape)``
            first if you like, or any ``ember.nn.Module``).
        name: the model's name in ``summary()``.

    Example::

        model = Sequential([Dense(128, activation="relu", input_shape=(784,)),
                            Dense(10, activation="softmax")])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        history = model.fit(x_train, y_train, epochs=5, validation_split=0.1)
        loss, acc = model.evaluate(x_test, y_test)
    """

    def __init__(self, layers: Iterable[Any] | None = None, name: str | None = None) -> None:
        super().__init__()
        self.name = name or "sequential"
        self._batch_input_shape: tuple | None = None
        self.optimizer: _optimizers.Optimizer | None = None
        self.loss: _losses.Loss | None = None
        self.compiled_metrics: list[_metrics.Metric] = []
        self.stop_training = False
        self.history: History | None = None
        for layer in layers or ():
            self.add(layer)

    # ------------------------------------------------------------------ structure
    @property
    def layers(self) -> list[Layer]:
        """The layers in order (an ``Input`` is not a layer, as in Keras)."""
        return list(self._modules.values())

    def add(self, layer: Any) -> None:
        """Append a layer (or an ``ember.nn.Module``, wrapped as a ``Lambda`` layer). When the
        input shape is known (an ``input_shape`` or ``Input`` first) the layer is built at
        once, so ``summary()`` and ``parameters()`` work before any data is seen."""
        if isinstance(layer, InputLayer):
            if self._modules:
                raise ValueError("Sequential.add: an Input must come before every other layer")
            self._batch_input_shape = layer._batch_input_shape
            return
        if isinstance(layer, nn.Module) and not isinstance(layer, Layer):
            layer = Lambda(layer, name=_snake(type(layer).__name__))
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add: expected a layer or an ember.nn.Module, got "
                            f"{type(layer).__name__}")
        if not self._modules and layer._batch_input_shape is not None:
            self._batch_input_shape = layer._batch_input_shape
        if layer.name is None:
            base = _snake(type(layer).__name__)
            name, i = base, 0
            while name in self._modules:
                i += 1
                name = f"{base}_{i}"
            layer.name = name
        elif layer.name in self._modules:
            raise ValueError(f"Sequential.add: a layer named {layer.name!r} is already in the "
                             "model; layer names must be unique")
        self.add_module(layer.name, layer)
        if self._batch_input_shape is not None:  # known input shape: build now, as Keras
            try:
                self.build()
            except Exception:
                self._modules.pop(layer.name)
                raise

    def pop(self) -> Layer:
        """Remove and return the last layer."""
        if not self._modules:
            raise TypeError("Sequential.pop: there are no layers in the model")
        name = next(reversed(self._modules))
        return self._modules.pop(name)

    @property
    def built(self) -> bool:
        """Whether every layer has its weights (after ``build``, or a first batch)."""
        return bool(self._modules) and all(layer.built for layer in self.layers)

    def build(self, input_shape: Sequence[int | None] | None = None) -> None:
        """Create every layer's weights for inputs of ``input_shape`` (batch dimension
        first, e.g. ``(None, 784)``; default: the first layer's ``input_shape``)."""
        if not self._modules:
            raise ValueError("Sequential.build: the model has no layers")
        if input_shape is not None:
            self._batch_input_shape = tuple(input_shape)
        if self._batch_input_shape is None:
            raise ValueError(
                f"model {self.name!r} has not been built yet and does not know its input "
                "shape: give the first layer an input_shape (e.g. Dense(64, input_shape=(784,))"
                ", start with Input(shape=...), call build((None, ...)), or call fit/predict "
                "on data")
        sample = [1 if d is None else d for d in self._batch_input_shape[1:]]
        self._dummy_forward(sample)

    def _dummy_forward(self, sample_shape: Sequence[int]) -> None:
        """Run one zero sample through the model (eval mode, no grad) so lazy layers build
        and record their output shapes."""
        int_input = isinstance(self.layers[0], Embedding)
        x = zeros(1, *sample_shape, dtype="int64" if int_input else "float32",
                  device=self._device())
        was_training = self.training
        try:
            self.eval()
            with no_grad():
                self.forward(x)
        finally:
            self.train(was_training)

    def _ensure_built(self, what: str) -> None:
        if not self.built:
            try:
                self.build()
            except ValueError as e:
                raise ValueError(f"{what}: {e}") from None

    def _device(self) -> Any:
        for p in self.parameters():
            return p.device
        return "cpu"

    # ------------------------------------------------------------------ forward
    def forward(self, x: Any) -> Tensor:
        """Run the layers in order (passing Embedding(mask_zero=True)'s padding mask to the
        recurrent layers after it)."""
        y, _ = self._run(x, want_logits=None)
        return y

    def _run(self, x: Any, want_logits: str | None) -> tuple[Tensor, Tensor | None]:
        """The output, and the final layer's pre-activation when its activation is
        ``want_logits`` ('softmax'/'sigmoid'): what a from-logits loss needs."""
        if not isinstance(x, Tensor):
            x = tensor(np.asarray(x))
        layers = self.layers
        if not layers:
            raise ValueError(f"model {self.name!r} has no layers")
        mask = None
        logits = None
        for i, layer in enumerate(layers):
            if mask is not None and (x.ndim < 2 or tuple(mask.shape) != tuple(x.shape[:2])):
                mask = None
            last = i == len(layers) - 1
            if last and want_logits and layer.activation_name == want_logits and \
                    hasattr(layer, "pre_activation"):
                logits = layer.pre_activation(x)
                out = layer.activation(logits)
                layer.output_shape = (None,) + tuple(out.shape[1:])
            elif mask is not None and layer.accepts_mask:
                out = layer(x, mask)
            else:
                out = layer(x)
            if isinstance(layer, Embedding):
                mask = layer.compute_mask(x)
            elif not layer.keeps_mask:
                mask = None
            x = out
        return x, logits

    # ------------------------------------------------------------------ compile
    def compile(self, optimizer: str | _optimizers.Optimizer | Any = "rmsprop",
                loss: str | _losses.Loss | Callable | None = None,
                metrics: Sequence[str | _metrics.Metric | Callable] | None = None) -> None:
        """Choose the optimizer, the loss and the metrics to report.

        Args:
            optimizer: 'adam', 'sgd', 'rmsprop', 'adagrad', 'adamw' (Keras's defaults), an
                ``ember.keras.optimizers`` optimizer, or an ``ember.optim`` optimizer.
            loss: 'sparse_categorical_crossentropy', 'categorical_crossentropy',
                'binary_crossentropy', 'mse', 'mae', 'huber', a ``Loss``, or a function
                ``fn(y_true, y_pred) -> Tensor``. Cross-entropies take probabilities (the
                output of a softmax/sigmoid layer), as in Keras.
            metrics: e.g. ``['accuracy']`` (the accuracy that fits the loss), 'mae', 'mse'.
        """
        if loss is None:
            raise ValueError("compile: a loss is required, e.g. "
                             "loss='sparse_categorical_crossentropy'")
        self.optimizer = _optimizers.get(optimizer)
        self.loss = _losses.get(loss)
        if metrics is None:
            metrics = []
        elif isinstance(metrics, (str, _metrics.Metric)) or callable(metrics):
            metrics = [metrics]
        self.compiled_metrics = [_metrics.get(m, self.loss) for m in metrics]
        names = [m.name for m in self.compiled_metrics]
        if len(set(names)) != len(names) or "loss" in names:
            raise ValueError(f"compile: metric names must be unique and not 'loss', got "
                             f"{names}")
        if self.built:
            self.optimizer.build(self.parameters())

    @property
    def metrics_names(self) -> list[str]:
        """``['loss', *metric names]``: the order of ``evaluate``'s list."""
        return ["loss"] + [m.name for m in self.compiled_metrics]

    def _require_compiled(self, what: str) -> None:
        if self.loss is None or self.optimizer is None:
            raise RuntimeError(f"{what}: you must compile your model before training/testing. "
                               "Use `model.compile(optimizer, loss)`.")

    # ------------------------------------------------------------------ data
    def _prepare_x(self, x: Any, what: str) -> np.ndarray:
        arr = _to_numpy(x, what)
        if arr.ndim == 0 or len(arr) == 0:
            raise ValueError(f"{what}: x is empty")
        first = self.layers[0] if self._modules else None
        if isinstance(first, Embedding):
            if not np.issubdtype(arr.dtype, np.integer):
                if arr.size and not np.all(np.equal(np.mod(arr, 1), 0)):
                    raise ValueError(f"{what}: the model starts with an Embedding, so x must "
                                     "hold integer token ids")
            arr = arr.astype(np.int64)
            if arr.size and (arr.min() < 0 or arr.max() >= first.input_dim):
                bad = arr.min() if arr.min() < 0 else arr.max()
                raise ValueError(f"{what}: token id {int(bad)} is out of range for "
                                 f"Embedding(input_dim={first.input_dim}) (ids must be in "
                                 f"0..{first.input_dim - 1})")
        else:
            arr = arr.astype(np.float32, copy=False)
        expected = self._batch_input_shape
        if expected is not None:
            ok = len(expected) == arr.ndim and all(
                e is None or e == a for e, a in zip(expected[1:], arr.shape[1:]))
            if not ok:
                raise ValueError(f"{what}: the model expects inputs of shape {expected} "
                                 f"(None = any size), got x of shape {arr.shape}")
        return arr

    def _prepare_xy(self, x: Any, y: Any, what: str) -> tuple[np.ndarray, np.ndarray]:
        if x is None or y is None:
            raise ValueError(f"{what}: both x and y are required")
        xa = self._prepare_x(x, what)
        ya = _to_numpy(y, what)
        if ya.ndim == 0 or len(xa) != len(ya):
            raise ValueError(f"{what}: x and y must have the same number of samples, got "
                             f"{len(xa)} inputs and {len(ya) if ya.ndim else 'a scalar'} "
                             "targets")
        if not self.built:  # lazy layers learn their input size from the data
            self._dummy_forward(xa.shape[1:])
        out_shape = tuple(self.layers[-1].output_shape[1:])
        ya = self.loss.prepare_targets(ya, out_shape)
        return xa, ya

    def _batches(self, n: int, batch_size: int, order: np.ndarray | None = None
                 ) -> Iterable[np.ndarray]:
        idx = np.arange(n) if order is None else order
        for start in range(0, n, batch_size):
            yield idx[start:start + batch_size]

    def _tensor(self, arr: np.ndarray) -> Tensor:
        """A batch as a tensor on the model's device (floats in the model's dtype)."""
        t = tensor(np.ascontiguousarray(arr))
        param = next(self.parameters(), None)
        if param is None:
            return t
        if t.dtype.is_floating_point and t.dtype != param.dtype:
            t = t.to(param.dtype)
        return t if t.device == param.device else t.to(param.device)

    # ------------------------------------------------------------------ train / test steps
    def _loss(self, xb: Tensor, yb: Tensor) -> tuple[Tensor, Tensor]:
        loss_fn = self.loss
        want = None if getattr(loss_fn, "from_logits", False) else loss_fn.logits_activation
        y_pred, logits = self._run(xb, want)
        if logits is not None:  # exact log-softmax / softplus instead of log(clip(p))
            return loss_fn.from_logits_loss(yb, logits), y_pred
        return loss_fn(yb, y_pred), y_pred

    def _update_metrics(self, y_true: np.ndarray, y_pred: Tensor) -> None:
        if self.compiled_metrics:
            pred = y_pred.detach().cpu().numpy()
            for m in self.compiled_metrics:
                m.update_state(y_true, pred)

    def _reset_metrics(self) -> None:
        for m in self.compiled_metrics:
            m.reset_state()

    def _logs(self, loss_sum: float, count: int, prefix: str = "") -> dict[str, float]:
        logs = {prefix + "loss": loss_sum / max(count, 1)}
        for m in self.compiled_metrics:
            logs[prefix + m.name] = float(m.result())
        return logs

    def _train_batch(self, xb: np.ndarray, yb: np.ndarray) -> float:
        opt = self.optimizer
        opt.zero_grad()
        loss, y_pred = self._loss(self._tensor(xb), self._tensor(yb))
        loss.backward()
        opt.step()
        self._update_metrics(yb, y_pred)
        return float(loss.item())

    def _test_arrays(self, x: np.ndarray, y: np.ndarray, batch_size: int,
                     bar: ProgressBar | None = None) -> dict[str, float]:
        """Loss and metrics over (x, y) in evaluation mode."""
        self._reset_metrics()
        total, count = 0.0, 0
        was_training = self.training
        self.eval()
        try:
            with no_grad():
                for idx in self._batches(len(x), batch_size):
                    loss, y_pred = self._loss(self._tensor(x[idx]), self._tensor(y[idx]))
                    total += float(loss.item()) * len(idx)
                    count += len(idx)
                    self._update_metrics(y[idx], y_pred)
                    if bar is not None:
                        bar.update(1, **self._logs(total, count))
        finally:
            self.train(was_training)
        return self._logs(total, count)

    # ------------------------------------------------------------------ fit
    def fit(self, x: Any = None, y: Any = None, batch_size: int | None = None,
            epochs: int = 1, verbose: Verbose = "auto",
            callbacks: Sequence[Callback] | None = None, validation_split: float = 0.0,
            validation_data: tuple | None = None, shuffle: bool = True,
            initial_epoch: int = 0) -> History:
        """Train for ``epochs`` passes over (x, y) in shuffled mini-batches.

        Args:
            x, y: inputs and targets (NumPy arrays, lists or ember tensors), same length.
            batch_size: samples per step (default 32).
            epochs: the epoch to stop at (training runs ``initial_epoch .. epochs - 1``).
            verbose: 0 silent; 1 a live progress bar on a terminal (one line per epoch
                elsewhere); 2 one line per epoch; 'auto' = 1 on a terminal, else 2.
            callbacks: ``ember.keras.callbacks`` objects.
            validation_split: hold out this fraction of the data -- the *last* samples,
                taken before shuffling, as in Keras -- and report ``val_*`` numbers.
            validation_data: ``(x_val, y_val)``; overrides ``validation_split``.
            shuffle: reshuffle the training samples every epoch.
            initial_epoch: the epoch to start from (to resume training).

        Returns:
            the ``History``: ``history.history['loss']`` etc., one value per epoch.
        """
        self._require_compiled("fit")
        batch_size = 32 if batch_size is None else int(batch_size)
        if batch_size <= 0:
            raise ValueError(f"fit: batch_size must be positive, got {batch_size}")
        verbose = _resolve_verbose(verbose)
        if not 0.0 <= validation_split < 1.0:
            raise ValueError(f"fit: validation_split must be in [0, 1), got {validation_split}")
        xa, ya = self._prepare_xy(x, y, "fit")

        val = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise ValueError("fit: validation_data must be a tuple (x_val, y_val) "
                                 "(sample weights are not supported)")
            val = self._prepare_xy(validation_data[0], validation_data[1], "fit (validation)")
        elif validation_split > 0:
            split_at = int(len(xa) * (1.0 - validation_split))
            if split_at == 0 or split_at == len(xa):
                raise ValueError(f"fit: validation_split={validation_split} of {len(xa)} "
                                 "samples leaves no training or no validation samples")
            val = (xa[split_at:], ya[split_at:])
            xa, ya = xa[:split_at], ya[:split_at]

        self.optimizer.build(self.parameters())
        history = History()
        steps = -(-len(xa) // batch_size)
        cbs = CallbackList(list(callbacks or []) + [history], model=self,
                           params={"epochs": epochs, "steps": steps, "verbose": verbose})
        self.stop_training = False
        self.history = history
        was_training = self.training
        cbs.on_train_begin()
        try:
            for epoch in range(initial_epoch, epochs):
                cbs.on_epoch_begin(epoch)
                bar = ProgressBar(total=steps, desc=f"Epoch {epoch + 1}/{epochs}",
                                  enabled=verbose > 0, live=None if verbose == 1 else False,
                                  unit="steps")
                self.train()
                self._reset_metrics()
                total, count = 0.0, 0
                order = np.asarray(_randperm(len(xa))) if shuffle else None
                for step, idx in enumerate(self._batches(len(xa), batch_size, order)):
                    cbs.on_batch_begin(step)
                    loss = self._train_batch(xa[idx], ya[idx])
                    total += loss * len(idx)
                    count += len(idx)
                    logs = self._logs(total, count)
                    bar.update(1, **logs)
                    cbs.on_batch_end(step, logs)
                    if self.stop_training:
                        break
                logs = self._logs(total, count)
                if val is not None:
                    val_logs = self._test_arrays(val[0], val[1], batch_size)
                    logs.update({"val_" + k: v for k, v in val_logs.items()})
                cbs.on_epoch_end(epoch, logs)
                bar.close(**logs)
                if self.stop_training:
                    break
        finally:
            self.train(was_training)
        cbs.on_train_end()
        return history

    # ------------------------------------------------------------------ evaluate / predict
    def evaluate(self, x: Any = None, y: Any = None, batch_size: int | None = None,
                 verbose: Verbose = "auto", return_dict: bool = False
                 ) -> float | list[float] | dict[str, float]:
        """The loss (and metrics) on (x, y) in evaluation mode (dropout off, batch-norm
        moving statistics). Returns the loss alone when there are no metrics, else
        ``[loss, *metrics]`` in ``metrics_names`` order (a dict with ``return_dict``)."""
        self._require_compiled("evaluate")
        batch_size = 32 if batch_size is None else int(batch_size)
        verbose = _resolve_verbose(verbose)
        xa, ya = self._prepare_xy(x, y, "evaluate")
        steps = -(-len(xa) // batch_size)
        bar = ProgressBar(total=steps, desc="Evaluate", enabled=verbose > 0,
                          live=None if verbose == 1 else False, unit="steps")
        logs = self._test_arrays(xa, ya, batch_size, bar)
        bar.close(**logs)
        if return_dict:
            return logs
        values = [logs[k] for k in self.metrics_names]
        return values[0] if len(values) == 1 else values

    def predict(self, x: Any, batch_size: int | None = None, verbose: Verbose = 0
                ) -> np.ndarray:
        """The model's outputs for ``x`` as a NumPy array, computed in evaluation mode."""
        batch_size = 32 if batch_size is None else int(batch_size)
        verbose = _resolve_verbose(verbose)
        xa = self._prepare_x(x, "predict")
        if not self.built:
            self._dummy_forward(xa.shape[1:])
        steps = -(-len(xa) // batch_size)
        bar = ProgressBar(total=steps, desc="Predict", enabled=verbose > 0,
                          live=None if verbose == 1 else False, unit="steps")
        outs = []
        was_training = self.training
        self.eval()
        try:
            with no_grad():
                for idx in self._batches(len(xa), batch_size):
                    outs.append(self.forward(self._tensor(xa[idx])).cpu().numpy())
                    bar.update(1)
        finally:
            self.train(was_training)
        bar.close()
        return np.concatenate(outs, 0)

    def train_on_batch(self, x: Any, y: Any) -> float | list[float]:
        """One optimizer step on one batch; returns the loss (and metrics) of that batch."""
        self._require_compiled("train_on_batch")
        xa, ya = self._prepare_xy(x, y, "train_on_batch")
        self.optimizer.build(self.parameters())
        self._reset_metrics()
        was_training = self.training
        self.train()
        try:
            loss = self._train_batch(xa, ya)
        finally:
            self.train(was_training)
        values = [loss] + [float(m.result()) for m in self.compiled_metrics]
        return values[0] if len(values) == 1 else values

    def test_on_batch(self, x: Any, y: Any) -> float | list[float]:
        """The loss (and metrics) on one batch, without training."""
        return self.evaluate(x, y, batch_size=len(_to_numpy(x, "test_on_batch")), verbose=0)

    def predict_on_batch(self, x: Any) -> np.ndarray:
        """The outputs for one batch."""
        return self.predict(x, batch_size=len(_to_numpy(x, "predict_on_batch")))

    # ------------------------------------------------------------------ weights
    @property
    def weights(self) -> list[Tensor]:
        """Every layer's weights in order (parameters, then moving statistics)."""
        return [w for layer in self.layers for w in layer.weights]

    @property
    def trainable_weights(self) -> list[Tensor]:
        return [w for layer in self.layers for w in layer.trainable_weights]

    @property
    def non_trainable_weights(self) -> list[Tensor]:
        return [w for layer in self.layers for w in layer.non_trainable_weights]

    def count_params(self) -> int:
        """The number of scalars in ``weights`` (Keras's count: trainable + not)."""
        self._ensure_built("count_params")
        return sum(w.numel() for w in self.weights)

    def get_weights(self) -> list[np.ndarray]:
        """Copies of all weights as NumPy arrays (ember's layouts, e.g. a Dense kernel is
        (units, inputs))."""
        self._ensure_built("get_weights")
        return [w.detach().cpu().numpy().copy() for w in self.weights]

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Set all weights from NumPy arrays in ``get_weights`` order."""
        self._ensure_built("set_weights")
        _assign(self.weights, weights, f"{self.name}.set_weights")

    def save_weights(self, filepath: str) -> None:
        """Write the weights (the state dict) to ``filepath`` (safetensors, ``ember.save``)."""
        self._ensure_built("save_weights")
        _io.save(self.state_dict(), str(filepath))

    def save(self, filepath: str, include_optimizer: bool = True) -> None:
        """Save a checkpoint to ``filepath`` (safetensors, ``ember.save``):
        ``{'model': state_dict, 'optimizer': optimizer state dict}``. The architecture is
        the Python code that builds the model; ``load_weights`` reads the weights back."""

        self._ensure_built("save")
        ckpt: dict[str, Any] = {"model": self.state_dict()}
        if include_optimizer and self.optimizer is not None and self.optimizer.built:
            ckpt["optimizer"] = self.optimizer.optimizer.state_dict()
        _io.save(ckpt, str(filepath))

    def load_weights(self, filepath: str) -> None:
        """Load weights written by ``save_weights`` or ``save`` into this (same-shaped,
        built) model."""

        self._ensure_built("load_weights")
        state = _io.load(str(filepath), map_location="cpu")  # load_state_dict moves it
        if isinstance(state, dict) and isinstance(state.get("model"), dict):
            state = state["model"]  # a full checkpoint from save()
        self.load_state_dict(state)

    # ------------------------------------------------------------------ summary
    def summary(self, line_length: int | None = None,
                print_fn: Callable[[str], Any] | None = print) -> str:
        """Print (with ``print_fn``; None prints nothing) and return a table of the layers:
        name (type), output shape and parameter count, then the totals."""
        self._ensure_built("summary")
        if any(layer.output_shape is None for layer in self.layers):
            self.build()
        rows = [(f"{layer.name} ({type(layer).__name__})", str(layer.output_shape),
                 str(layer.count_params())) for layer in self.layers]
        w1 = max([29] + [len(r[0]) + 2 for r in rows])
        w2 = max([26] + [len(r[1]) + 2 for r in rows])
        w3 = max(10, (line_length or 0) - w1 - w2)
        width = w1 + w2 + w3

        def row(a: str, b: str, c: str) -> str:
            return (" " + a).ljust(w1) + b.ljust(w2) + c

        trainable = sum(w.numel() for w in self.trainable_weights)
        total = sum(w.numel() for w in self.weights)
        lines = [f'Model: "{self.name}"', "_" * width,
                 row("Layer (type)", "Output Shape", "Param #"), "=" * width]
        for i, r in enumerate(rows):
            lines.append(row(*r))
            if i < len(rows) - 1:
                lines.append("")
        lines += ["=" * width, f"Total params: {total:,}", f"Trainable params: {trainable:,}",
                  f"Non-trainable params: {total - trainable:,}", "_" * width]
        text = "\n".join(lines)
        if print_fn is not None:
            print_fn(text)
        return text

    def extra_repr(self) -> str:
        return f"name={self.name!r}"


def _randperm(n: int) -> Any:
    """A permutation from ember's generator, so ``ember.manual_seed`` fixes the shuffling."""
    return randperm(n).numpy()
