"""A name -> constructor registry for the vision models: ``get_model("resnet18",
num_classes=10)`` and ``list_models()``, as ``torchvision.models.get_model`` /
``list_models``."""

from __future__ import annotations

from collections.abc import Callable

from ..nn import Module
from .googlenet import googlenet
from .resnet import resnet18, resnet34, resnet50
from .vgg import vgg11, vgg11_bn, vgg16, vgg16_bn

_MODELS: dict[str, Callable[..., Module]] = {
    "resnet18": resnet18, "resnet34": resnet34, "resnet50": resnet50,
    "googlenet": googlenet,
    "vgg11": vgg11, "vgg11_bn": vgg11_bn, "vgg16": vgg16, "vgg16_bn": vgg16_bn,
}


def list_models() -> list[str]:
    """The names ``get_model`` knows, sorted."""
    return sorted(_MODELS)


def get_model(name: str, **kwargs) -> Module:
    """Build the model called ``name`` (freshly initialised); keyword arguments go to its
    constructor (``num_classes``, ``in_channels``, ``small_input``...)."""
    if not isinstance(name, str):
        raise TypeError(f"get_model: name must be a str, got {type(name).__name__}")
    key = name.lower()
    if key not in _MODELS:
        raise ValueError(f"get_model: unknown model {name!r}; known models: "
                         f"{', '.join(list_models())}")
    return _MODELS[key](**kwargs)
