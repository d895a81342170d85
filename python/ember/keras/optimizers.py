"""Keras-style optimizers: configuration now, an ``ember.optim`` optimizer later.

A Keras optimizer is made before the model has weights (``compile(optimizer=Adam(1e-3))``
with lazily built layers), while an ``ember.optim`` optimizer needs the parameters. So a
Keras optimizer here keeps its settings (Keras's names and defaults: ``learning_rate``,
``beta_1``, ``epsilon=1e-7``, ...) and ``build(params)`` creates the ember optimizer that
does the work. ``learning_rate`` reads and sets the ember optimizer's groups, so
callbacks can change it during training.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .. import optim
from ..tensor import Tensor

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "get"]


class Optimizer:
    """Base class: holds a learning rate and the settings of one ``ember.optim`` class.

    Args:
        learning_rate: the step size.
        **options: the ember optimizer's keyword arguments.
    """

    optim_class: type[optim.Optimizer] | None = None

    def __init__(self, learning_rate: float = 0.001, **options: Any) -> None:
        if not learning_rate >= 0:
            raise ValueError(f"{type(self).__name__}: learning_rate must be >= 0, got "
                             f"{learning_rate}")
        self._learning_rate = float(learning_rate)
        self.options = options
        self.optimizer: optim.Optimizer | None = None  # the ember optimizer, once built

    @classmethod
    def wrap(cls, optimizer: optim.Optimizer) -> Optimizer:
        """A Keras-style handle on an existing ``ember.optim`` optimizer."""
        obj = cls.__new__(cls)
        Optimizer.__init__(obj, optimizer.param_groups[0]["lr"])
        obj.optimizer = optimizer
        return obj

    @property
    def built(self) -> bool:
        return self.optimizer is not None

    def build(self, params: Iterable[Tensor]) -> optim.Optimizer:
        """Create the ember optimizer over the trainable ``params`` (once; again with the
        current settings if the model has gained parameters since)."""
        params = [p for p in params if p.requires_grad]
        if self.optimizer is not None:
            have = {id(p) for g in self.optimizer.param_groups for p in g["params"]}
            missing = sum(id(p) not in have for p in params)
            if not missing:
                return self.optimizer
            if self.optim_class is None:
                raise ValueError(f"the {type(self.optimizer).__name__} optimizer passed to "
                                 f"compile() does not hold {missing} of the model's trainable "
                                 "parameters (was it made before layers were added or "
                                 "built?); pass an optimizer name or an ember.keras optimizer "
                                 "instead, or make it from model.parameters() after building")
            self._learning_rate, self.optimizer = self.learning_rate, None
        if self.optim_class is None:
            raise TypeError(f"{type(self).__name__} has no ember optimizer class")
        self.optimizer = self.optim_class(params, lr=self._learning_rate, **self.options)
        return self.optimizer

    @property
    def learning_rate(self) -> float:
        """The current learning rate (of the first parameter group)."""
        if self.optimizer is not None:
            return float(self.optimizer.param_groups[0]["lr"])
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        self._learning_rate = float(value)
        if self.optimizer is not None:
            for group in self.optimizer.param_groups:
                group["lr"] = float(value)

    lr = learning_rate  # the Keras 2 alias

    def zero_grad(self) -> None:
        self._require_built().zero_grad()

    def step(self) -> None:
        self._require_built().step()

    def _require_built(self) -> optim.Optimizer:
        if self.optimizer is None:
            raise RuntimeError(f"{type(self).__name__} has not been built: the model "
                               "builds it when it knows its weights (compile or fit)")
        return self.optimizer

    def get_config(self) -> dict[str, Any]:
        return {"name": type(self).__name__, "learning_rate": self.learning_rate,
                **self.options}

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.options.items())
        return f"{type(self).__name__}(learning_rate={self.learning_rate}" + \
            (f", {opts})" if opts else ")")


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum."""

    optim_class = optim.SGD

    def __init__(self, learning_rate: float = 0.01, momentum: float = 0.0,
                 nesterov: bool = False, weight_decay: float = 0.0) -> None:
        super().__init__(learning_rate, momentum=momentum, nesterov=nesterov,
                         weight_decay=weight_decay)


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015) with Keras's defaults."""

    optim_class = optim.Adam

    def __init__(self, learning_rate: float = 0.001, beta_1: float = 0.9,
                 beta_2: float = 0.999, epsilon: float = 1e-7, amsgrad: bool = False) -> None:
        super().__init__(learning_rate, betas=(beta_1, beta_2), eps=epsilon, amsgrad=amsgrad)


class AdamW(Optimizer):
    """Adam with decoupled weight decay (Loshchilov & Hutter 2019), Keras's defaults."""

    optim_class = optim.AdamW

    def __init__(self, learning_rate: float = 0.001, weight_decay: float = 0.004,
                 beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-7,
                 amsgrad: bool = False) -> None:
        super().__init__(learning_rate, weight_decay=weight_decay, betas=(beta_1, beta_2),
                         eps=epsilon, amsgrad=amsgrad)


class RMSprop(Optimizer):
    """RMSprop: steps scaled by a running RMS of the gradients (Keras's ``rho`` is
    ember's/PyTorch's ``alpha``)."""

    optim_class = optim.RMSprop

    def __init__(self, learning_rate: float = 0.001, rho: float = 0.9, momentum: float = 0.0,
                 epsilon: float = 1e-7, centered: bool = False) -> None:
        super().__init__(learning_rate, alpha=rho, momentum=momentum, eps=epsilon,
                         centered=centered)


class Adagrad(Optimizer):
    """Adagrad: per-parameter steps scaled by the accumulated squared gradients."""

    optim_class = optim.Adagrad

    def __init__(self, learning_rate: float = 0.001, initial_accumulator_value: float = 0.1,
                 epsilon: float = 1e-7) -> None:
        super().__init__(learning_rate, initial_accumulator_value=initial_accumulator_value,
                         eps=epsilon)


_OPTIMIZERS: dict[str, type[Optimizer]] = {
    "sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop, "adagrad": Adagrad,
}


def get(identifier: str | Optimizer | optim.Optimizer) -> Optimizer:
    """A Keras optimizer from a name (``'adam'``, ``'sgd'``, ...; Keras's default settings),
    a Keras optimizer, or an ``ember.optim`` optimizer (wrapped)."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, optim.Optimizer):
        return Optimizer.wrap(identifier)
    if isinstance(identifier, str):
        key = identifier.lower()
        if key in _OPTIMIZERS:
            return _OPTIMIZERS[key]()
        raise ValueError(f"unknown optimizer {identifier!r}; known optimizers: "
                         f"{', '.join(sorted(_OPTIMIZERS))} (or pass an optimizer object)")
    raise TypeError(f"optimizer must be a name, an ember.keras.optimizers.Optimizer or an "
                    f"ember.optim.Optimizer, got {type(identifier).__name__}")
