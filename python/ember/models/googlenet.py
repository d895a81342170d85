"""GoogLeNet (Inception v1, Szegedy et al., 2014) in torchvision's layout, so its state
dicts load unchanged.

Names follow ``torchvision.models.googlenet``: ``conv1 conv2 conv3`` and every convolution
inside an Inception block are ``BasicConv2d`` (``.conv`` without bias, ``.bn`` with
eps=0.001, then ReLU); ``inception3a`` ... ``inception5b`` each hold ``branch1`` (1x1),
``branch2.0/1`` (1x1 reduce, 3x3), ``branch3.0/1`` (1x1 reduce, then a 3x3 where the paper
has a 5x5: torchvision's known deviation, kept so its checkpoints fit) and ``branch4.1``
(after a 3x3 stride-1 max pool); ``maxpool1..4`` (ceil mode), ``avgpool``, ``dropout``,
``fc``. The auxiliary classifiers ``aux1`` / ``aux2`` (``conv``, ``fc1``, ``fc2``) exist
only with ``aux_logits=True`` (off by default here; torchvision's ImageNet checkpoint has
them, so load it with ``aux_logits=True`` or ``strict=False``).
"""

from __future__ import annotations

from typing import NamedTuple

from .. import cat, nn
from ..nn import functional as F
from ..nn import init
from ..tensor import Tensor


class GoogLeNetOutputs(NamedTuple):
    """Training-mode output with ``aux_logits=True`` (torchvision's field order)."""

    logits: Tensor
    aux_logits2: Tensor
    aux_logits1: Tensor


class BasicConv2d(nn.Module):
    """``relu(bn(conv(x)))``: a bias-free convolution, BatchNorm with eps=0.001."""

    def __init__(self, in_channels: int, out_channels: int, **kwargs) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.bn(self.conv(x)))


class Inception(nn.Module):
    """Four parallel branches concatenated on channels: 1x1; 1x1 then 3x3; 1x1 then 3x3
    (torchvision's stand-in for 5x5); 3x3 max pool then 1x1. Output channels
    ``ch1x1 + ch3x3 + ch5x5 + pool_proj``."""

    def __init__(self, in_channels: int, ch1x1: int, ch3x3red: int, ch3x3: int,
                 ch5x5red: int, ch5x5: int, pool_proj: int) -> None:
        super().__init__()
        self.branch1 = BasicConv2d(in_channels, ch1x1, kernel_size=1)
        self.branch2 = nn.Sequential(BasicConv2d(in_channels, ch3x3red, kernel_size=1),
                                     BasicConv2d(ch3x3red, ch3x3, kernel_size=3, padding=1))
        self.branch3 = nn.Sequential(BasicConv2d(in_channels, ch5x5red, kernel_size=1),
                                     BasicConv2d(ch5x5red, ch5x5, kernel_size=3, padding=1))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True),
                                     BasicConv2d(in_channels, pool_proj, kernel_size=1))

    def forward(self, x: Tensor) -> Tensor:
        return cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class InceptionAux(nn.Module):
    """Auxiliary classifier: average pool to 4x4, 1x1 conv to 128 channels, Linear(2048,
    1024), ReLU, dropout, Linear(1024, num_classes)."""

    def __init__(self, in_channels: int, num_classes: int, dropout: float = 0.7) -> None:
        super().__init__()
        self.conv = BasicConv2d(in_channels, 128, kernel_size=1)
        self.fc1 = nn.Linear(2048, 1024)
        self.fc2 = nn.Linear(1024, num_classes)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv(F.adaptive_avg_pool2d(x, (4, 4))).flatten(1)
        return self.fc2(self.dropout(F.relu(self.fc1(x))))


class GoogLeNet(nn.Module):
    """Inception v1.

    Args:
        num_classes: outputs of ``fc`` (and of the auxiliary classifiers).
        aux_logits: build ``aux1`` / ``aux2``; in training mode the forward then returns
            ``GoogLeNetOutputs(logits, aux_logits2, aux_logits1)``, in eval mode the logits.
        transform_input: re-normalise inputs given with ImageNet's mean/std to the (x - 0.5)
            / 0.5 scaling torchvision's pretrained weights were trained on.
        dropout: before ``fc``; dropout_aux: inside the auxiliary classifiers.
    """

    def __init__(self, num_classes: int = 1000, aux_logits: bool = False,
                 transform_input: bool = False, dropout: float = 0.2,
                 dropout_aux: float = 0.7) -> None:
        super().__init__()
        if not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"GoogLeNet: num_classes must be a positive int, "
                             f"got {num_classes!r}")
        self.aux_logits = aux_logits
        self.transform_input = transform_input
        self.conv1 = BasicConv2d(3, 64, kernel_size=7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = BasicConv2d(64, 64, kernel_size=1)
        self.conv3 = BasicConv2d(64, 192, kernel_size=3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception3a = Inception(192, 64, 96, 128, 16, 32, 32)
        self.inception3b = Inception(256, 128, 128, 192, 32, 96, 64)
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception4a = Inception(480, 192, 96, 208, 16, 48, 64)
        self.inception4b = Inception(512, 160, 112, 224, 24, 64, 64)
        self.inception4c = Inception(512, 128, 128, 256, 24, 64, 64)
        self.inception4d = Inception(512, 112, 144, 288, 32, 64, 64)
        self.inception4e = Inception(528, 256, 160, 320, 32, 128, 128)
        self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        self.inception5a = Inception(832, 256, 160, 320, 32, 128, 128)
        self.inception5b = Inception(832, 384, 192, 384, 48, 128, 128)
        if aux_logits:
            self.aux1 = InceptionAux(512, num_classes, dropout_aux)
            self.aux2 = InceptionAux(528, num_classes, dropout_aux)
        else:
            self.aux1 = None
            self.aux2 = None
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(1024, num_classes)
        # torchvision's initialisation: weights N(0, 0.01) truncated to [-2, 2], BatchNorm 1 / 0
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                init.trunc_normal_(m.weight, mean=0.0, std=0.01, a=-2.0, b=2.0)
            elif isinstance(m, nn.BatchNorm2d):
                init.ones_(m.weight)
                init.zeros_(m.bias)

    def _transform(self, x: Tensor) -> Tensor:
        # x * std / 0.5 + (mean - 0.5) / 0.5, channel by channel
        chans = [x[:, i:i + 1] * (s / 0.5) + (m - 0.5) / 0.5 for i, (m, s) in
                 enumerate(((0.485, 0.229), (0.456, 0.224), (0.406, 0.225)))]
        return cat(chans, 1)

    def forward(self, x: Tensor) -> Tensor | GoogLeNetOutputs:
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"GoogLeNet: expected input (N, 3, H, W), got shape "
                             f"{tuple(x.shape)}")
        if self.transform_input:
            x = self._transform(x)
        x = self.maxpool1(self.conv1(x))
        x = self.maxpool2(self.conv3(self.conv2(x)))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        x = self.inception4a(x)
        aux = self.training and self.aux1 is not None
        aux1 = self.aux1(x) if aux else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        aux2 = self.aux2(x) if aux else None
        x = self.maxpool4(self.inception4e(x))
        x = self.inception5b(self.inception5a(x))
        x = self.fc(self.dropout(self.avgpool(x).flatten(1)))
        if aux:
            return GoogLeNetOutputs(x, aux2, aux1)
        return x


def googlenet(**kwargs) -> GoogLeNet:
    """GoogLeNet (Inception v1); keyword arguments go to ``GoogLeNet``."""
    return GoogLeNet(**kwargs)
