"""VGG (Simonyan & Zisserman, 2014) in torchvision's layout, so its state dicts load
unchanged.

Names follow ``torchvision.models.vgg``: ``features.N`` is one flat ``Sequential`` of 3x3
convolutions (padding 1), ReLUs, max pools and, for the ``_bn`` variants, a BatchNorm after
each convolution, so the indices N shift with BatchNorm exactly as in torchvision (vgg11's
first convolution is ``features.0``, its second ``features.3``; vgg11_bn's second is
``features.4``). Then ``avgpool`` (adaptive, to 7x7, which makes any input of at least
32x32 legal) and ``classifier.0/3/6``: Linear(512*7*7, 4096), ReLU, Dropout,
Linear(4096, 4096), ReLU, Dropout, Linear(4096, num_classes).
"""

from __future__ import annotations

from .. import nn
from ..nn import init
from ..tensor import Tensor

# channel counts of the convolutions, "M" a 2x2 stride-2 max pool (torchvision's cfgs)
_CFGS: dict[str, list] = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],  # VGG-11
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
          512, 512, 512, "M"],  # VGG-16
}


def make_layers(cfg: list, batch_norm: bool = False, in_channels: int = 3) -> nn.Sequential:
    """The ``features`` stack for a configuration list (ints: 3x3 conv channels, "M": pool)."""
    layers: list[nn.Module] = []
    c = in_channels
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(2, stride=2))
            continue
        layers.append(nn.Conv2d(c, v, 3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(v))
        layers.append(nn.ReLU())
        c = v
    return nn.Sequential(*layers)


class VGG(nn.Module):
    """A VGG network: ``features``, ``avgpool`` to 7x7, three-layer ``classifier``.

    Args:
        features: the convolutional stack (``make_layers``).
        num_classes: outputs of the last Linear.
        dropout: the classifier's dropout probability (torchvision's 0.5).
    """

    def __init__(self, features: nn.Module, num_classes: int = 1000,
                 dropout: float = 0.5) -> None:
        super().__init__()
        if not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"VGG: num_classes must be a positive int, got {num_classes!r}")
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(4096, num_classes),
        )
        # torchvision's initialisation: He-normal (fan_out) convolutions, BatchNorm 1 / 0,
        # Linear weights N(0, 0.01), every bias 0
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                init.ones_(m.weight)
                init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                init.normal_(m.weight, 0.0, 0.01)
                init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        c = self.features[0].in_channels
        if x.ndim != 4 or x.shape[1] != c:
            raise ValueError(f"VGG: expected input (N, {c}, H, W), got shape {tuple(x.shape)}")
        x = self.avgpool(self.features(x))
        return self.classifier(x.flatten(1))


def _vgg(cfg: str, batch_norm: bool, in_channels: int = 3, **kwargs) -> VGG:
    return VGG(make_layers(_CFGS[cfg], batch_norm, in_channels), **kwargs)


def vgg11(**kwargs) -> VGG:
    """VGG-11 (configuration "A"); keyword arguments: ``num_classes``, ``dropout``,
    ``in_channels``."""
    return _vgg("A", False, **kwargs)


def vgg11_bn(**kwargs) -> VGG:
    """VGG-11 with BatchNorm after each convolution."""
    return _vgg("A", True, **kwargs)


def vgg16(**kwargs) -> VGG:
    """VGG-16 (configuration "D"); keyword arguments as ``vgg11``."""
    return _vgg("D", False, **kwargs)


def vgg16_bn(**kwargs) -> VGG:
    """VGG-16 with BatchNorm after each convolution."""
    return _vgg("D", True, **kwargs)
