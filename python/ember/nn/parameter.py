"""``Parameter``: a tensor that a Module registers as trainable."""

from __future__ import annotations

from ..creation import tensor, zeros
from ..tensor import Tensor


class Parameter(Tensor):
    """A leaf tensor with ``requires_grad=True`` (by default) that, assigned as a Module
    attribute, shows up in ``module.parameters()``. It shares memory with ``data``."""

    __slots__ = ()

    def __init__(self, data: Tensor | None = None, requires_grad: bool = True) -> None:
        if data is None:
            data = zeros(0)
        if not isinstance(data, Tensor):
            raise TypeError(f"Parameter: expected a Tensor, got {type(data).__name__}")
        self._data = data.detach()._data
        self._shape = None
        self._device = data.device
        self._requires_grad = False
        self.grad = None
        self.grad_fn = None
        self._output_nr = 0
        self._version = data._version
        self._hooks = ()
        if requires_grad:
            self.requires_grad = True

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __reduce_ex__(self, protocol):
        return (Parameter, (tensor(self.detach().cpu().numpy()), self.requires_grad))
